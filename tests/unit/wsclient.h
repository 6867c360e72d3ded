/* wsclient.h - a raw WebSocket client over a non-blocking descriptor, for tests that drive a
 * real connection (test_server.c over TCP, test_conn.c over a socketpair): it writes the
 * upgrade request and masked frames, reads what arrived without blocking, and takes the HTTP
 * response and unmasked server frames off the front of what it read. It knows nothing of the
 * server: callers step it from timers or between loop turns. Header-only. */
#ifndef WS_WSCLIENT_H
#define WS_WSCLIENT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WSC_IN_CAP (1u << 20)

typedef struct wsc {
	int fd;
	uint8_t *in; /* WSC_IN_CAP bytes, malloc'ed */
	size_t len;
	bool eof;        /* the server closed (or reset) the stream */
	bool upgraded;   /* the 101 response was taken */
	bool close_sent; /* wsc_send_close was called */
	int status;      /* of the HTTP response, once one arrived */
} wsc;

/* One frame taken off the input; payload points into a copy owned by the frame. */
typedef struct wsc_frame {
	bool fin;
	uint8_t rsv;
	uint8_t opcode;
	size_t len;
	uint8_t payload[65536 + 16];
} wsc_frame;

static const char wsc_request[] = "GET /chat?room=1 HTTP/1.1\r\n"
                                  "Host: localhost\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "\r\n";

static inline void wsc_init(wsc *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->in = malloc(WSC_IN_CAP);
}

static inline void wsc_release(wsc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	c->in = NULL;
	c->fd = -1;
}

/* Writes all of data, waiting briefly when the socket is full. Returns false on failure. */
static inline bool wsc_write(wsc *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (int spins = 0; len && spins < 100000; spins++) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return false;
		} else {
			usleep(100);
		}
	}
	return len == 0;
}

/* Reads what has arrived, without blocking. */
static inline void wsc_pump(wsc *c)
{
	if (c->fd < 0) {
		c->eof = true;
		return;
	}
	while (c->len < WSC_IN_CAP) {
		ssize_t n = recv(c->fd, c->in + c->len, WSC_IN_CAP - c->len, MSG_DONTWAIT);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			c->eof = true;
		return;
	}
}

static inline void wsc_drop(wsc *c, size_t n)
{
	memmove(c->in, c->in + n, c->len - n);
	c->len -= n;
}

/* Takes the HTTP response off the input once it is complete; sets status (and upgraded for
 * 101). Returns false while incomplete. */
static inline bool wsc_response(wsc *c)
{
	wsc_pump(c);
	for (size_t i = 0; i + 4 <= c->len; i++) {
		if (memcmp(c->in + i, "\r\n\r\n", 4) != 0)
			continue;
		c->status = c->len >= 12 ? atoi((const char *)c->in + 9) : 0;
		c->upgraded = c->status == 101;
		wsc_drop(c, i + 4);
		return true;
	}
	return false;
}

/* Encodes one masked frame into out (room for len + 14); returns its length. */
static inline size_t wsc_encode(uint8_t *out, bool fin, uint8_t rsv, uint8_t opcode,
                                const void *payload, size_t len)
{
	static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t h = 0;
	out[h++] = (uint8_t)((fin ? 0x80 : 0) | (rsv << 4) | opcode);
	if (len < 126) {
		out[h++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(out + h, mask, 4);
	h += 4;
	const uint8_t *p = payload;
	for (size_t i = 0; i < len; i++)
		out[h + i] = p[i] ^ mask[i & 3];
	return h + len;
}

static inline bool wsc_send_frame(wsc *c, bool fin, uint8_t opcode, const void *payload, size_t len)
{
	uint8_t *buf = malloc(len + 14);
	size_t n = wsc_encode(buf, fin, 0, opcode, payload, len);
	bool ok = wsc_write(c, buf, n);
	free(buf);
	return ok;
}

/* Sends a Close frame with a code (0: none) and a reason. */
static inline bool wsc_send_close(wsc *c, uint16_t code, const char *reason)
{
	c->close_sent = true;
	uint8_t p[125];
	size_t n = 0;
	if (code) {
		p[n++] = (uint8_t)(code >> 8);
		p[n++] = (uint8_t)code;
		size_t r = strlen(reason);
		memcpy(p + n, reason, r);
		n += r;
	}
	return wsc_send_frame(c, true, 0x8, p, n);
}

/* Takes one complete unmasked frame (payload up to 64 KiB) off the input. Returns false while
 * none is complete. */
static inline bool wsc_frame_take(wsc *c, wsc_frame *f)
{
	wsc_pump(c);
	if (c->len < 2)
		return false;
	size_t h = 2;
	uint64_t len = c->in[1] & 0x7f;
	if (len == 126) {
		if (c->len < 4)
			return false;
		len = (uint64_t)c->in[2] << 8 | c->in[3];
		h = 4;
	} else if (len == 127) {
		if (c->len < 10)
			return false;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | c->in[2 + i];
		h = 10;
	}
	if (len > sizeof(f->payload) || c->len < h + len)
		return false;
	f->fin = (c->in[0] & 0x80) != 0;
	f->rsv = (c->in[0] >> 4) & 7;
	f->opcode = c->in[0] & 0x0f;
	f->len = (size_t)len;
	memcpy(f->payload, c->in + h, (size_t)len);
	wsc_drop(c, h + (size_t)len);
	return true;
}

/* The code of a Close frame's payload, or 1005 when it has none. */
static inline uint16_t wsc_close_code(const wsc_frame *f)
{
	return f->len >= 2 ? (uint16_t)(f->payload[0] << 8 | f->payload[1]) : 1005;
}

#endif
