/* loadgen.c - load generator of the benchmark suite: the client side of RFC 6455 (every frame
 * masked with a fresh random key), single-threaded on epoll, libc (and OpenSSL and zlib for
 * --tls and --deflate). Every byte that comes
 * back is checked: an echo against what was sent, byte for byte; a broadcast by the sender's
 * sequence number (each receiver gets every message exactly once, in order) and its content.
 * The handshake is checked too (101 and Sec-WebSocket-Accept, with the SHA-1 below).
 * --tls speaks wss:// through OpenSSL (handshake driven in the same epoll loop, certificate not
 * verified: a local self-signed server is benchmarked); --deflate offers permessage-deflate and
 * inflates compressed replies with zlib (frames are sent uncompressed, as RFC 7692 allows).
 *
 *   loadgen echo      --port P [--conns 100] [--size 32] [--inflight 1] [--binary] [--json]
 *   loadgen broadcast --port P [--conns 1000] [--size 64] [--window 32]
 *   loadgen hold      --port P [--conns 10000] [--rate 5000] [--hold 2] [--src-count 1]
 *   loadgen wait      --port P [--timeout 10]     TCP connect until it succeeds
 *   loadgen rss       --pid P [--children]        prints the summed VmRSS
 *   loadgen quiet     [--max 10] [--timeout 60]   waits until the machine is idle
 * common: --host 127.0.0.1 --duration 10 --warmup 1 --pid P[,P...] [--children] --smoke --quiet
 *         --tls --deflate
 *
 * Prints human-readable lines and one machine-readable "RESULT mode=... key=value ..." line.
 * Exits 0, 1 on any verification failure, 2 on a usage or setup error. Figures are the
 * measurement window only (after --warmup); nothing here asserts a timing. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define SCRATCH_BYTES (256 * 1024)
#define MAX_HEAD      8192
#define HDR_LEN       24 /* "wwwwwwww:ssssssssssssss:" at the start of every payload */
#define PAT_SPAN      4096
#define SENDER_ID     0xffffffffu
#define MAX_PIDS      16
#define MAX_REPORTS   10
#define MAX_INFLATED  (64u * 1024 * 1024) /* a reply inflating past this is an error */

enum { M_ECHO, M_BROADCAST, M_HOLD, M_WAIT, M_RSS, M_QUIET };
enum { S_IDLE, S_CONNECTING, S_TLS, S_HANDSHAKE, S_OPEN, S_CLOSING, S_DONE };
enum { P_CONNECT, P_WARMUP, P_MEASURE, P_DRAIN, P_HOLD, P_CLOSE, P_END };

typedef struct buf {
	uint8_t *p;
	size_t len, off, cap; /* bytes [off, len) are live */
} buf;

typedef struct conn {
	int fd;
	uint32_t id;
	uint8_t state;
	bool want_out; /* EPOLLOUT requested */
	bool dirty;    /* on the flush list */
	bool in_msg;   /* a fragmented message is being reassembled */
	bool close_sent, close_recv;
	uint8_t msg_op;
	bool msg_rsv1;   /* the message being reassembled is compressed */
	bool pmd;        /* permessage-deflate was negotiated */
	bool pmd_reset;  /* server_no_context_takeover: a fresh inflate stream per message */
	SSL *ssl;        /* --tls */
	z_stream *zs;    /* --deflate: the inflate stream, made at the first compressed reply */
	char accept[29]; /* expected Sec-WebSocket-Accept */
	buf in, out, msg;
	struct conn *dirty_next;
	uint64_t sent, recvd; /* echo: sequence numbers; broadcast: next expected */
	uint64_t *ts;         /* echo: send times of the messages in flight, by seq % inflight */
} conn;

typedef struct hist {
	uint64_t b[2048];
	uint64_t n, max;
} hist;

static struct opts {
	int mode;
	const char *host;
	int port;
	long conns, size, inflight, window, max_pending, src_count;
	double duration, warmup, hold, rate, timeout, max_busy;
	bool binary, smoke, quiet, children, size_mix, tls, deflate, json;
	int pids[MAX_PIDS], npids;
} O = {
    .host = "127.0.0.1",
    .conns = -1,
    .size = -1,
    .inflight = 1,
    .window = 32,
    .max_pending = 64,
    .src_count = 1,
    .duration = -1,
    .warmup = -1,
    .hold = -1,
    .rate = 5000,
    .timeout = 10,
    .max_busy = 10,
};

static struct state {
	int ep;
	conn *c;
	size_t n; /* connections (broadcast: receivers + the sender, last) */
	uint8_t *scratch;
	uint8_t *pat; /* payload pattern */
	size_t pat_len;
	uint64_t rng;
	conn *dirty;
	int phase;
	uint64_t now, t_start, t0, t1, phase_at;
	size_t started, opened, finished, pending;
	uint64_t errors, reports;
	struct sockaddr_in dst;
	/* echo and broadcast, within the window */
	uint64_t done_in_window, bytes_in_window, deliveries_in_window;
	hist lat;
	/* broadcast */
	uint64_t *bcount, *bts;
	uint64_t b_sent, b_done, sender_got;
	bool sending;
	/* cpu */
	uint64_t srv_ticks0, gen_us0, busy_ticks0;
	double srv_cpu, gen_cpu, other_cpu;
	/* hold */
	uint64_t closes_answered, closes_sent;
	/* --tls, --deflate */
	SSL_CTX *tls;
	buf inflated;
	uint64_t compressed_in_window;
} G;

static volatile sig_atomic_t g_signal;

/* ---- small tools ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void)
{
	/* xorshift64*: masks need to be unpredictable to intermediaries, not cryptographic here */
	G.rng ^= G.rng >> 12;
	G.rng ^= G.rng << 25;
	G.rng ^= G.rng >> 27;
	return G.rng * 0x2545F4914F6CDD1Dull;
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void say(const char *fmt, ...)
{
	if (O.quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void close_conn(conn *c);

/* A verification failure: counted, the first few reported, the connection dropped. */
static void fail(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(conn *c, const char *fmt, ...)
{
	G.errors++;
	if (G.reports++ < MAX_REPORTS) {
		va_list ap;
		va_start(ap, fmt);
		if (c)
			fprintf(stderr, "loadgen: error: conn %" PRIu32 ": ", c->id);
		else
			fprintf(stderr, "loadgen: error: ");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	if (c)
		close_conn(c);
}

static void buf_reserve(buf *b, size_t more)
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + more <= b->cap)
		return;
	if (b->off) { /* compact before growing */
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + more <= b->cap)
			return;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		die("out of memory");
	b->p = p;
	b->cap = cap;
}

static void buf_append(buf *b, const void *p, size_t len)
{
	buf_reserve(b, len);
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void buf_free(buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- latency histogram: 32 sub-buckets per power of two, about 3% resolution ---- */

static void hist_add(hist *h, uint64_t v)
{
	size_t i;
	if (v < 64) {
		i = (size_t)v;
	} else {
		int msb = 63 - __builtin_clzll(v);
		int shift = msb - 5;
		i = (size_t)(shift + 1) * 32 + ((v >> shift) & 31);
	}
	if (i >= 2048)
		i = 2047;
	h->b[i]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* The upper bound of the bucket holding quantile q (never above the maximum seen). */
static uint64_t hist_q(const hist *h, double q)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	uint64_t seen = 0;
	for (size_t i = 0; i < 2048; i++) {
		seen += h->b[i];
		if (seen > want) {
			uint64_t hi;
			if (i < 64) {
				hi = i;
			} else {
				int shift = (int)(i / 32) - 1;
				hi = ((32 + (i % 32) + 1) << shift) - 1;
			}
			return hi < h->max ? hi : h->max;
		}
	}
	return h->max;
}

/* ---- SHA-1 and base64, for Sec-WebSocket-Accept ---- */

static uint32_t rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1(const uint8_t *data, size_t len, uint8_t out[20])
{
	uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
	size_t total = ((len + 8) / 64 + 1) * 64;
	uint8_t msg[256];
	if (total > sizeof(msg))
		die("sha1 input too long");
	memset(msg, 0, total);
	memcpy(msg, data, len);
	msg[len] = 0x80;
	uint64_t bits = (uint64_t)len * 8;
	for (int i = 0; i < 8; i++)
		msg[total - 1 - i] = (uint8_t)(bits >> (8 * i));
	for (size_t off = 0; off < total; off += 64) {
		uint32_t w[80];
		for (int i = 0; i < 16; i++)
			w[i] = (uint32_t)msg[off + 4 * i] << 24 | (uint32_t)msg[off + 4 * i + 1] << 16 |
			       (uint32_t)msg[off + 4 * i + 2] << 8 | msg[off + 4 * i + 3];
		for (int i = 16; i < 80; i++)
			w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
		for (int i = 0; i < 80; i++) {
			uint32_t f, k;
			if (i < 20) {
				f = (b & c) | (~b & d);
				k = 0x5A827999;
			} else if (i < 40) {
				f = b ^ c ^ d;
				k = 0x6ED9EBA1;
			} else if (i < 60) {
				f = (b & c) | (b & d) | (c & d);
				k = 0x8F1BBCDC;
			} else {
				f = b ^ c ^ d;
				k = 0xCA62C1D6;
			}
			uint32_t t = rol(a, 5) + f + e + k + w[i];
			e = d;
			d = c;
			c = rol(b, 30);
			b = a;
			a = t;
		}
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
	}
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static void base64(const uint8_t *in, size_t len, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = t[(v >> 18) & 63];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = i + 1 < len ? t[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? t[v & 63] : '=';
	}
	out[o] = 0;
}

/* ---- /proc: server CPU and memory ---- */

static int pid_list(int *out, int max)
{
	int n = 0;
	for (int i = 0; i < O.npids && n < max; i++)
		out[n++] = O.pids[i];
	if (!O.children)
		return n;
	/* Children (a master's workers) by their parent pid; /proc/PID/task/PID/children needs a
	 * kernel option, this does not. */
	DIR *d = opendir("/proc");
	if (!d)
		return n;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char path[64], line[512];
		int pid = atoi(e->d_name);
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t got = fread(line, 1, sizeof(line) - 1, f);
		fclose(f);
		line[got] = 0;
		char *rp = strrchr(line, ')');
		int ppid;
		if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1)
			continue;
		for (int i = 0; i < O.npids; i++)
			if (ppid == O.pids[i] && n < max) {
				out[n++] = pid;
				break;
			}
	}
	closedir(d);
	return n;
}

static uint64_t proc_ticks(void)
{
	int pids[MAX_PIDS * 4];
	int n = pid_list(pids, MAX_PIDS * 4);
	uint64_t sum = 0;
	for (int i = 0; i < n; i++) {
		char path[64], line[1024];
		snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t got = fread(line, 1, sizeof(line) - 1, f);
		fclose(f);
		line[got] = 0;
		char *rp = strrchr(line, ')');
		unsigned long long ut, st;
		if (rp &&
		    sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
			sum += ut + st;
	}
	return sum;
}

/* Summed VmRSS in kB of the given pids (and their children), or -1 without pids. */
static long proc_rss_kb(void)
{
	if (!O.npids)
		return -1;
	int pids[MAX_PIDS * 4];
	int n = pid_list(pids, MAX_PIDS * 4);
	long sum = 0;
	for (int i = 0; i < n; i++) {
		char path[64], line[256];
		snprintf(path, sizeof(path), "/proc/%d/status", pids[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			long kb;
			if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
				sum += kb;
		}
		fclose(f);
	}
	return sum;
}

/* Busy ticks of the whole machine (every CPU), to tell how much else ran during the window. */
static uint64_t machine_busy_ticks(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return 0;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	               &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 5)
		return 0;
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* all but idle and iowait */
}

static uint64_t self_cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* ---- payloads: a header naming (conn, seq), then a slice of the pattern ---- */

static size_t msg_len(uint32_t who, uint64_t seq)
{
	/* The smoke mix crosses every length encoding boundary (7, 16 and 64 bits) both ways. */
	static const size_t mix[] = {0, 1, 24, 125, 126, 127, 1000, 65535, 65536, 100000};
	if (O.size_mix)
		return mix[(seq + who) % (sizeof(mix) / sizeof(mix[0]))];
	return (size_t)O.size;
}

static size_t pat_off(uint32_t who, uint64_t seq)
{
	return (size_t)((seq * 131 + who * 7) % PAT_SPAN);
}

/* "wwwwwwww:ssssssssssssss:" by hand: snprintf here was a fifth of the generator's time. */
static void head_put(uint8_t h[HDR_LEN], uint32_t who, uint64_t seq)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 7; i >= 0; i--, who >>= 4)
		h[i] = (uint8_t)hex[who & 15];
	h[8] = ':';
	for (int i = 22; i >= 9; i--, seq >>= 4)
		h[i] = (uint8_t)hex[seq & 15];
	h[23] = ':';
}

static bool payload_ok(const uint8_t *p, size_t len, uint32_t who, uint64_t seq)
{
	uint8_t head[HDR_LEN];
	head_put(head, who, seq);
	size_t h = len < HDR_LEN ? len : HDR_LEN;
	if (memcmp(p, head, h) != 0)
		return false;
	return len == h || memcmp(p + h, G.pat + pat_off(who, seq), len - h) == 0;
}

/* The sequence number a payload claims, for reporting what went wrong; -1 if unreadable. */
static long long payload_seq(const uint8_t *p, size_t len)
{
	if (len < HDR_LEN || p[8] != ':' || p[23] != ':')
		return -1;
	char tmp[15];
	memcpy(tmp, p + 9, 14);
	tmp[14] = 0;
	return strtoll(tmp, NULL, 16);
}

/* ---- connections ---- */

static void set_events(conn *c, bool out)
{
	if (c->want_out == out || c->fd < 0)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(G.ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = out;
}

static void mark_dirty(conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		c->dirty_next = G.dirty;
		G.dirty = c;
	}
}

static void close_conn(conn *c)
{
	if (c->fd < 0)
		return;
	if (c->state == S_CONNECTING || c->state == S_TLS || c->state == S_HANDSHAKE)
		G.pending--;
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->zs) {
		inflateEnd(c->zs);
		free(c->zs);
		c->zs = NULL;
	}
	close(c->fd);
	c->fd = -1;
	c->state = S_DONE;
	G.finished++;
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->msg);
}

/* dst = src ^ key (repeated), in place when dst == src. 32 bytes a step: at 64 KiB messages a
 * byte or word loop here was the first thing to saturate the generator's core. */
static void mask_copy(uint8_t *dst, const uint8_t *src, size_t len, uint32_t key)
{
	typedef uint64_t v4 __attribute__((vector_size(32)));
	uint8_t k[4];
	memcpy(k, &key, 4);
	uint64_t k8 = (uint64_t)key | (uint64_t)key << 32;
	v4 kv = {k8, k8, k8, k8};
	size_t i = 0;
	for (; i + 32 <= len; i += 32) {
		v4 v;
		memcpy(&v, src + i, 32);
		v ^= kv;
		memcpy(dst + i, &v, 32);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ k[i % 4];
}

/* Appends a masked frame header for len payload bytes; returns where the payload goes. The
 * caller writes the payload there and masks it with *key. */
static uint8_t *frame_put(conn *c, uint8_t op, size_t len, uint32_t *key)
{
	buf_reserve(&c->out, len + 14);
	uint8_t *p = c->out.p + c->out.len;
	size_t h = 0;
	p[h++] = 0x80 | op;
	if (len < 126) {
		p[h++] = 0x80 | (uint8_t)len;
	} else if (len < 65536) {
		p[h++] = 0x80 | 126;
		p[h++] = (uint8_t)(len >> 8);
		p[h++] = (uint8_t)len;
	} else {
		p[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			p[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	*key = (uint32_t)rnd();
	memcpy(p + h, key, 4);
	h += 4;
	c->out.len += h + len;
	mark_dirty(c);
	return p + h;
}

static void send_frame(conn *c, uint8_t op, const uint8_t *data, size_t len)
{
	uint32_t key;
	uint8_t *p = frame_put(c, op, len, &key);
	mask_copy(p, data, len, key);
}

/* The payload of (who, seq), written masked in one pass: the header, then the pattern. */
static void send_payload(conn *c, uint8_t op, uint32_t who, uint64_t seq)
{
	size_t len = msg_len(who, seq);
	uint32_t key;
	uint8_t *p = frame_put(c, op, len, &key);
	uint8_t head[HDR_LEN];
	head_put(head, who, seq);
	size_t h = len < HDR_LEN ? len : HDR_LEN;
	mask_copy(p, head, h, key);
	/* HDR_LEN is a multiple of 4, so the pattern continues with the same key rotation. */
	if (len > h)
		mask_copy(p + h, G.pat + pat_off(who, seq), len - h, key);
}

static void send_close(conn *c, uint16_t code)
{
	uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	send_frame(c, 0x8, b, code ? 2 : 0);
	c->close_sent = true;
}

/* An OpenSSL result as a send()/recv() one: > 0 bytes, 0 at the end, -1 with errno (EAGAIN
 * when OpenSSL must wait for the socket; EPOLLOUT is asked for when it waits to write). */
static ssize_t tls_result(conn *c, int n)
{
	if (n > 0)
		return n;
	int e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (e == SSL_ERROR_WANT_WRITE)
			set_events(c, true);
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e == SSL_ERROR_SYSCALL && errno == 0)
		return 0; /* EOF without close_notify */
	unsigned long err = ERR_get_error();
	ERR_clear_error();
	if (e != SSL_ERROR_SYSCALL || !errno)
		errno = EPROTO;
	if (err && !O.quiet && G.reports < MAX_REPORTS)
		fprintf(stderr, "loadgen: conn %" PRIu32 ": TLS: %s\n", c->id, ERR_error_string(err, NULL));
	return -1;
}

static ssize_t conn_send(conn *c, const uint8_t *p, size_t len)
{
	if (!c->ssl)
		return send(c->fd, p, len, MSG_NOSIGNAL);
	ERR_clear_error();
	errno = 0;
	return tls_result(c, SSL_write(c->ssl, p, len > INT_MAX ? INT_MAX : (int)len));
}

static ssize_t conn_recv(conn *c, uint8_t *p, size_t len)
{
	if (!c->ssl)
		return recv(c->fd, p, len, 0);
	ERR_clear_error();
	errno = 0;
	return tls_result(c, SSL_read(c->ssl, p, len > INT_MAX ? INT_MAX : (int)len));
}

static void flush_conn(conn *c)
{
	while (c->fd >= 0 && c->out.len > c->out.off) {
		ssize_t n = conn_send(c, c->out.p + c->out.off, c->out.len - c->out.off);
		if (n > 0) {
			c->out.off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(c, true);
			return;
		}
		if (G.phase >= P_CLOSE || c->close_recv)
			close_conn(c);
		else
			fail(c, "send: %s", strerror(errno));
		return;
	}
	if (c->fd < 0)
		return;
	c->out.off = c->out.len = 0;
	if (O.mode == M_HOLD)
		buf_free(&c->out); /* idle connections keep no buffers */
	if (c->state != S_CONNECTING && c->state != S_TLS)
		set_events(c, false);
	if (c->state == S_CLOSING && c->close_sent && c->close_recv)
		close_conn(c);
}

static void flush_dirty(void)
{
	conn *c = G.dirty;
	G.dirty = NULL;
	while (c) {
		conn *next = c->dirty_next;
		c->dirty = false;
		flush_conn(c);
		c = next;
	}
}

static void resolve_dst(void)
{
	memset(&G.dst, 0, sizeof(G.dst));
	G.dst.sin_family = AF_INET;
	G.dst.sin_port = htons((uint16_t)O.port);
	if (inet_pton(AF_INET, O.host, &G.dst.sin_addr) != 1)
		die("--host must be an IPv4 address, \"%s\" given", O.host);
}

static void start_conn(conn *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail(NULL, "socket: %s", strerror(errno));
		c->state = S_DONE;
		G.finished++;
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (O.src_count > 1) {
		/* Spread over 127.0.0.1..127.0.0.x so more than one port range of connections fits;
		 * the port is then chosen at connect() against the whole 4-tuple. Keep each address
		 * under ~10,000: Linux tries every even port before an odd one, so connect() crawls
		 * once the even half of the range (~14,000) is taken. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(c->id % (uint32_t)O.src_count));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			close(fd);
			fail(NULL, "bind: %s", strerror(errno));
			c->state = S_DONE;
			G.finished++;
			return;
		}
	}
	c->fd = fd;
	c->state = S_CONNECTING;
	G.pending++;
	G.started++;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	c->want_out = true;
	epoll_ctl(G.ep, EPOLL_CTL_ADD, fd, &ev);
	if (connect(fd, (struct sockaddr *)&G.dst, sizeof(G.dst)) < 0 && errno != EINPROGRESS)
		fail(c, "connect: %s", strerror(errno));
}

static void send_request(conn *c)
{
	uint8_t key[16], digest[20];
	for (int i = 0; i < 16; i += 8) {
		uint64_t r = rnd();
		memcpy(key + i, &r, 8);
	}
	char key64[25], cat[64], req[512];
	base64(key, 16, key64);
	int n = snprintf(cat, sizeof(cat), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key64);
	sha1((const uint8_t *)cat, (size_t)n, digest);
	base64(digest, 20, c->accept);
	n = snprintf(req, sizeof(req),
	             "GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
	             O.host, O.port, key64,
	             O.deflate
	                 ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
	                 : "");
	buf_append(&c->out, req, (size_t)n);
	mark_dirty(c);
}

static void on_open(conn *c);
static void on_message(conn *c, uint8_t op, const uint8_t *p, size_t len);
static bool in_window(void);

/* Checks the 101 response. Returns bytes consumed, 0 while incomplete, -1 after failing c. */
static ssize_t parse_response(conn *c, const uint8_t *p, size_t len)
{
	const uint8_t *end = memmem(p, len, "\r\n\r\n", 4);
	if (!end) {
		if (len > MAX_HEAD) {
			fail(c, "response head longer than %d bytes", MAX_HEAD);
			return -1;
		}
		return 0;
	}
	size_t head = (size_t)(end - p) + 4;
	if (len < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
		const uint8_t *eol = memchr(p, '\r', len);
		fail(c, "handshake refused: %.*s", (int)(eol ? eol - p : 40), p);
		return -1;
	}
	bool accepted = false, pmd = false, pmd_reset = false;
	const char *line = (const char *)p;
	const char *stop = (const char *)p + head;
	while (line < stop) {
		const char *eol = memchr(line, '\r', (size_t)(stop - line));
		if (!eol)
			break;
		static const char name[] = "sec-websocket-accept:";
		if ((size_t)(eol - line) > sizeof(name) - 1 &&
		    strncasecmp(line, name, sizeof(name) - 1) == 0) {
			const char *v = line + sizeof(name) - 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			accepted = (size_t)(ve - v) == 28 && memcmp(v, c->accept, 28) == 0;
			if (!accepted) {
				fail(c, "wrong Sec-WebSocket-Accept \"%.*s\", expected \"%s\"", (int)(ve - v), v,
				     c->accept);
				return -1;
			}
		}
		static const char ext[] = "sec-websocket-extensions:";
		if ((size_t)(eol - line) > sizeof(ext) - 1 &&
		    strncasecmp(line, ext, sizeof(ext) - 1) == 0) {
			/* We offered one extension: its name, then parameters separated by ';'. */
			char v[256];
			size_t vl = (size_t)(eol - line) - (sizeof(ext) - 1);
			if (vl >= sizeof(v))
				vl = sizeof(v) - 1;
			memcpy(v, line + sizeof(ext) - 1, vl);
			v[vl] = 0;
			for (char *save = NULL, *tok = strtok_r(v, ";", &save); tok;
			     tok = strtok_r(NULL, ";", &save)) {
				while (*tok == ' ' || *tok == '\t')
					tok++;
				size_t tl = strcspn(tok, " \t=");
				if (tl == 18 && !strncasecmp(tok, "permessage-deflate", tl))
					pmd = true;
				else if (tl == 26 && !strncasecmp(tok, "server_no_context_takeover", tl))
					pmd_reset = true;
			}
			if (!pmd || !O.deflate) {
				fail(c, "unexpected Sec-WebSocket-Extensions \"%.*s\"",
				     (int)(eol - line - (long)sizeof(ext) + 1), line + sizeof(ext) - 1);
				return -1;
			}
		}
		line = eol + 2;
	}
	if (!accepted) {
		fail(c, "101 without Sec-WebSocket-Accept");
		return -1;
	}
	if (O.deflate && !pmd) {
		fail(c, "the server declined permessage-deflate (is compression on?)");
		return -1;
	}
	c->pmd = pmd;
	c->pmd_reset = pmd_reset;
	c->state = S_OPEN;
	G.pending--;
	G.opened++;
	on_open(c);
	return (ssize_t)head;
}

static void on_control(conn *c, uint8_t op, const uint8_t *p, size_t len)
{
	if (op == 0x9) { /* ping: a pong with the same payload (servers keep idle clients alive) */
		if (!c->close_sent)
			send_frame(c, 0xA, p, len);
		return;
	}
	if (op == 0xA)
		return;
	/* Close */
	uint16_t code = len >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 1005;
	c->close_recv = true;
	if (!c->close_sent) {
		if (G.phase < P_CLOSE) {
			fail(c, "server sent Close %u \"%.*s\"", code, len > 2 ? (int)len - 2 : 0, p + 2);
			return;
		}
		send_close(c, len >= 2 ? code : 0);
	} else {
		G.closes_answered++;
	}
	c->state = S_CLOSING;
	mark_dirty(c); /* flush_conn closes once our Close is out */
}

/* Feeds len bytes to c's inflate stream, appending the output to G.inflated. */
static bool inflate_some(conn *c, const uint8_t *p, size_t len)
{
	z_stream *z = c->zs;
	z->next_in = (Bytef *)(uintptr_t)p;
	z->avail_in = (uInt)len;
	do {
		buf_reserve(&G.inflated, 16384);
		z->next_out = G.inflated.p + G.inflated.len;
		z->avail_out = (uInt)(G.inflated.cap - G.inflated.len);
		int r = inflate(z, Z_SYNC_FLUSH);
		G.inflated.len = G.inflated.cap - z->avail_out;
		if (r == Z_STREAM_END) {
			inflateReset(z); /* a final block: the next message starts a new stream */
		} else if (r == Z_BUF_ERROR) {
			break; /* no progress possible: everything given is consumed */
		} else if (r != Z_OK) {
			fail(c, "permessage-deflate: inflate: %s", z->msg ? z->msg : "error");
			return false;
		}
		if (G.inflated.len > MAX_INFLATED) {
			fail(c, "permessage-deflate: a reply inflates past %u bytes", MAX_INFLATED);
			return false;
		}
	} while (z->avail_in > 0 || z->avail_out == 0);
	return true;
}

/* A whole data message: inflated first when RSV1 says it is compressed (RFC 7692 7.2.2: the
 * payload, then 00 00 ff ff, through a raw inflate). */
static void data_message(conn *c, uint8_t op, bool rsv1, const uint8_t *p, size_t len)
{
	if (!rsv1) {
		on_message(c, op, p, len);
		return;
	}
	if (!c->zs) {
		c->zs = calloc(1, sizeof(z_stream));
		if (!c->zs || inflateInit2(c->zs, -15) != Z_OK)
			die("inflateInit2 failed");
	}
	static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
	G.inflated.len = G.inflated.off = 0;
	if (!inflate_some(c, p, len) || !inflate_some(c, tail, 4))
		return;
	if (c->pmd_reset)
		inflateReset(c->zs);
	if (in_window())
		G.compressed_in_window++;
	on_message(c, op, G.inflated.p, G.inflated.len);
}

/* Parses server frames from p; returns bytes consumed (a trailing partial frame is left). */
static size_t parse_frames(conn *c, const uint8_t *p, size_t len)
{
	size_t off = 0;
	while (c->fd >= 0 && len - off >= 2) {
		uint8_t b0 = p[off], b1 = p[off + 1];
		if (b1 & 0x80) {
			fail(c, "masked frame from the server");
			return off;
		}
		if (b0 & (c->pmd ? 0x30 : 0x70)) {
			fail(c, "RSV bits set without an extension");
			return off;
		}
		uint64_t plen = b1 & 0x7f;
		size_t hl = 2;
		if (plen == 126) {
			if (len - off < 4)
				break;
			plen = (uint64_t)p[off + 2] << 8 | p[off + 3];
			hl = 4;
			if (plen < 126) {
				fail(c, "16-bit length %" PRIu64 " is not minimal", plen);
				return off;
			}
		} else if (plen == 127) {
			if (len - off < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | p[off + 2 + i];
			hl = 10;
			if (plen < 65536 || plen >> 63) {
				fail(c, "64-bit length %" PRIu64 " is not minimal or valid", plen);
				return off;
			}
		}
		if (len - off - hl < plen)
			break;
		const uint8_t *pl = p + off + hl;
		bool fin = b0 & 0x80;
		uint8_t op = b0 & 0x0f;
		off += hl + (size_t)plen;
		bool rsv1 = b0 & 0x40;
		if (rsv1 && (op == 0x0 || op >= 0x8)) {
			fail(c, "RSV1 on a %s frame", op ? "control" : "continuation");
			return off;
		}
		if (op >= 0x8) {
			if (!fin || plen > 125) {
				fail(c, "control frame fragmented or longer than 125 bytes");
				return off;
			}
			on_control(c, op, pl, (size_t)plen);
		} else if (op == 0x1 || op == 0x2) {
			if (c->in_msg) {
				fail(c, "new message inside a fragmented one");
				return off;
			}
			if (fin) {
				data_message(c, op, rsv1, pl, (size_t)plen);
			} else {
				c->in_msg = true;
				c->msg_op = op;
				c->msg_rsv1 = rsv1;
				c->msg.len = c->msg.off = 0;
				buf_append(&c->msg, pl, (size_t)plen);
			}
		} else if (op == 0x0) {
			if (!c->in_msg) {
				fail(c, "continuation frame without a message");
				return off;
			}
			buf_append(&c->msg, pl, (size_t)plen);
			if (fin) {
				c->in_msg = false;
				data_message(c, c->msg_op, c->msg_rsv1, c->msg.p, c->msg.len);
				c->msg.len = 0;
			}
		} else {
			fail(c, "reserved opcode %u", op);
			return off;
		}
	}
	return off;
}

static size_t parse_input(conn *c, const uint8_t *p, size_t len)
{
	size_t off = 0;
	if (c->state == S_HANDSHAKE) {
		ssize_t n = parse_response(c, p, len);
		if (n <= 0)
			return 0;
		off = (size_t)n;
	}
	if (c->fd >= 0 && c->state >= S_OPEN)
		off += parse_frames(c, p + off, len - off);
	return off;
}

static void on_readable(conn *c)
{
	/* The rest of a partial frame is read straight behind it (one copy less for large
	 * messages); anything else goes to the shared buffer first. */
	uint8_t *to = G.scratch;
	if (c->in.len > c->in.off) {
		buf_reserve(&c->in, SCRATCH_BYTES);
		to = c->in.p + c->in.len;
	}
	ssize_t n = conn_recv(c, to, SCRATCH_BYTES);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		if (G.phase >= P_CLOSE && c->close_sent)
			close_conn(c);
		else
			fail(c, "recv: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		if (c->close_recv || (G.phase >= P_CLOSE && c->close_sent))
			close_conn(c);
		else
			fail(c, "the server closed the connection without a Close frame%s",
			     c->state == S_HANDSHAKE ? " (during the handshake)" : "");
		return;
	}
	if (c->in.len == c->in.off) {
		/* Whole frames are parsed straight from the shared buffer; only a trailing partial
		 * frame is copied, so idle and small-message connections hold no input buffer. */
		size_t used = parse_input(c, G.scratch, (size_t)n);
		if (c->fd >= 0 && used < (size_t)n)
			buf_append(&c->in, G.scratch + used, (size_t)n - used);
	} else {
		c->in.len += (size_t)n; /* read straight behind the partial frame */
		size_t used = parse_input(c, c->in.p + c->in.off, c->in.len - c->in.off);
		if (c->fd >= 0) {
			c->in.off += used;
			if (c->in.off == c->in.len) {
				c->in.off = c->in.len = 0;
				if (c->in.cap > 4 * SCRATCH_BYTES || O.mode == M_HOLD)
					buf_free(&c->in);
			}
		}
	}
}

/* Drives the TLS handshake; once done, sends the upgrade request. */
static void tls_step(conn *c)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		set_events(c, false);
		c->state = S_HANDSHAKE;
		send_request(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		set_events(c, false);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		set_events(c, true);
		return;
	}
	unsigned long err = ERR_get_error();
	fail(c, "TLS handshake: %s",
	     err ? ERR_error_string(err, NULL)
	         : (errno ? strerror(errno) : "the server closed the connection"));
}

static void on_event(conn *c, uint32_t ev)
{
	if (c->fd < 0)
		return;
	if (c->state == S_TLS) {
		tls_step(c);
		return;
	}
	if (c->state == S_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			fail(c, "connect: %s", strerror(err));
			return;
		}
		if (O.tls) {
			c->ssl = SSL_new(G.tls);
			if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
				die("SSL_new failed");
			SSL_set_connect_state(c->ssl);
			SSL_set_tlsext_host_name(c->ssl, "localhost");
			c->state = S_TLS;
			tls_step(c);
			return;
		}
		c->state = S_HANDSHAKE;
		send_request(c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		on_readable(c);
		/* OpenSSL may hold decrypted bytes that epoll cannot announce. */
		while (c->fd >= 0 && c->ssl && SSL_has_pending(c->ssl))
			on_readable(c);
	}
	if (c->fd >= 0 && (ev & EPOLLOUT))
		flush_conn(c);
}

/* ---- modes ---- */

static bool sending_allowed(void)
{
	return G.phase == P_WARMUP || G.phase == P_MEASURE;
}

static bool in_window(void)
{
	return G.phase == P_MEASURE;
}

static uint8_t data_op(void)
{
	return O.binary ? 0x2 : 0x1;
}

static void echo_fill(conn *c)
{
	while (sending_allowed() && c->state == S_OPEN && c->sent - c->recvd < (uint64_t)O.inflight) {
		c->ts[c->sent % (uint64_t)O.inflight] = G.now;
		send_payload(c, data_op(), c->id, c->sent);
		c->sent++;
	}
}

static void bcast_fill(void)
{
	conn *s = &G.c[G.n - 1];
	while (G.sending && sending_allowed() && s->state == S_OPEN &&
	       G.b_sent - G.b_done < (uint64_t)O.window) {
		G.bts[G.b_sent % (uint64_t)O.window] = G.now;
		G.bcount[G.b_sent % (uint64_t)O.window] = 0;
		send_payload(s, 0x1, SENDER_ID, G.b_sent);
		G.b_sent++;
	}
}

static void on_open(conn *c)
{
	(void)c;
}

static void echo_message(conn *c, uint8_t op, const uint8_t *p, size_t len)
{
	if (c->recvd == c->sent) {
		fail(c, "unexpected message of %zu bytes (nothing in flight)", len);
		return;
	}
	uint64_t seq = c->recvd;
	size_t want = msg_len(c->id, seq);
	if (op != data_op()) {
		fail(c, "message %" PRIu64 " came back as opcode %u, sent as %u", seq, op, data_op());
		return;
	}
	if (len != want || !payload_ok(p, len, c->id, seq)) {
		long long got = payload_seq(p, len);
		fail(c, "message %" PRIu64 " came back altered: %zu bytes (sent %zu), seq %lld", seq, len,
		     want, got);
		return;
	}
	c->recvd++;
	if (in_window()) {
		hist_add(&G.lat, G.now - c->ts[seq % (uint64_t)O.inflight]);
		G.done_in_window++;
		G.bytes_in_window += len;
	}
	echo_fill(c);
}

static void bcast_message(conn *c, uint8_t op, const uint8_t *p, size_t len)
{
	bool sender = c == &G.c[G.n - 1];
	uint64_t *next = sender ? &G.sender_got : &c->recvd;
	uint64_t seq = *next;
	if (op != 0x1) {
		fail(c, "broadcast arrived as opcode %u, sent as text", op);
		return;
	}
	if (seq >= G.b_sent || len != msg_len(SENDER_ID, seq) || !payload_ok(p, len, SENDER_ID, seq)) {
		long long got = payload_seq(p, len);
		if (got >= 0 && (uint64_t)got < seq)
			fail(c, "message %lld again (expected %" PRIu64 "): duplicate", got, seq);
		else if (got >= 0 && (uint64_t)got > seq && (uint64_t)got < G.b_sent)
			fail(c, "message %lld before %" PRIu64 ": lost or reordered", got, seq);
		else
			fail(c, "broadcast %" PRIu64 " altered (%zu bytes, claims seq %lld)", seq, len, got);
		return;
	}
	(*next)++;
	if (sender)
		return;
	if (in_window())
		G.deliveries_in_window++;
	uint64_t slot = seq % (uint64_t)O.window;
	if (++G.bcount[slot] == G.n - 1) {
		/* Every receiver got it. Each receiver gets messages in order, so seq completes
		 * only after seq - 1 did. */
		if (seq != G.b_done) {
			fail(NULL, "message %" PRIu64 " completed before %" PRIu64, seq, G.b_done);
			return;
		}
		G.b_done++;
		if (in_window()) {
			hist_add(&G.lat, G.now - G.bts[slot]);
			G.done_in_window++;
		}
		bcast_fill();
	}
}

static void on_message(conn *c, uint8_t op, const uint8_t *p, size_t len)
{
	if (O.mode == M_ECHO)
		echo_message(c, op, p, len);
	else if (O.mode == M_BROADCAST)
		bcast_message(c, op, p, len);
	else
		fail(c, "unexpected message of %zu bytes on an idle connection", len);
}

/* ---- the run ---- */

static void on_signal(int sig)
{
	g_signal = sig;
}

static void set_phase(int p)
{
	G.phase = p;
	G.phase_at = G.now;
}

static size_t open_count(void)
{
	size_t n = 0;
	for (size_t i = 0; i < G.n; i++)
		n += G.c[i].state == S_OPEN;
	return n;
}

static void begin_close(void)
{
	set_phase(P_CLOSE);
	for (size_t i = 0; i < G.n; i++) {
		conn *c = &G.c[i];
		if (c->fd < 0)
			continue;
		if (c->state == S_OPEN) {
			send_close(c, 1000);
			c->state = S_CLOSING;
			G.closes_sent++;
		} else if (c->state != S_CLOSING) {
			close_conn(c);
		}
	}
}

static void start_window(void)
{
	set_phase(P_MEASURE);
	G.t0 = G.now;
	G.srv_ticks0 = proc_ticks();
	G.gen_us0 = self_cpu_us();
	G.busy_ticks0 = machine_busy_ticks();
}

static void end_window(void)
{
	G.t1 = G.now;
	double secs = (double)(G.t1 - G.t0) / 1e9;
	long hz = sysconf(_SC_CLK_TCK);
	G.srv_cpu = O.npids ? 100.0 * (double)(proc_ticks() - G.srv_ticks0) / (double)hz / secs : -1;
	G.gen_cpu = 100.0 * (double)(self_cpu_us() - G.gen_us0) / 1e6 / secs;
	/* Whatever else kept the machine busy (other processes, interrupts not charged to us),
	 * in percent of one core: a disturbed run shows here. */
	double busy = 100.0 * (double)(machine_busy_ticks() - G.busy_ticks0) / (double)hz / secs;
	G.other_cpu = O.npids ? busy - G.srv_cpu - G.gen_cpu : -1;
	if (G.other_cpu < 0 && O.npids)
		G.other_cpu = 0;
	set_phase(P_DRAIN);
}

static bool drained(void)
{
	if (O.mode == M_BROADCAST) {
		if (G.c[G.n - 1].fd < 0)
			return true;
		/* A server that echoes to the sender too is waited for; one that does not has sent
		 * the sender nothing within 0.3 s of the last delivery. */
		return G.b_done == G.b_sent &&
		       (G.sender_got == G.b_sent || (G.sender_got == 0 && G.now - G.phase_at > 300000000u));
	}
	for (size_t i = 0; i < G.n; i++)
		if (G.c[i].fd >= 0 && G.c[i].sent != G.c[i].recvd)
			return false;
	return true;
}

static long rss_before = -1, rss_after = -1;
static double open_secs;

static void tick(void)
{
	double since = (double)(G.now - G.phase_at) / 1e9;
	switch (G.phase) {
	case P_CONNECT: {
		/* Open at a bounded rate with a bounded number of handshakes in flight, so the
		 * server's accept backlog never overflows into SYN retries. */
		double elapsed = (double)(G.now - G.t_start) / 1e9;
		while (G.started < G.n && G.pending < (size_t)O.max_pending &&
		       (double)G.started < O.rate * elapsed + 1)
			start_conn(&G.c[G.started]);
		if (G.started == G.n && G.pending == 0) {
			open_secs = elapsed;
			if (G.errors) {
				begin_close();
				break;
			}
			if (O.mode == M_HOLD) {
				say("opened %zu connections in %.2f s\n", G.opened, open_secs);
				printf("HELD n=%zu\n", G.opened);
				fflush(stdout);
				set_phase(P_HOLD);
				break;
			}
			set_phase(P_WARMUP);
			if (O.warmup <= 0)
				start_window();
			for (size_t i = 0; i < G.n; i++) /* echo: all start together */
				if (O.mode == M_ECHO)
					echo_fill(&G.c[i]);
			G.sending = O.mode == M_BROADCAST;
			bcast_fill();
		} else if (elapsed > (double)G.n / O.rate + O.timeout) {
			for (size_t i = 0; i < G.n; i++)
				if (G.c[i].state == S_CONNECTING || G.c[i].state == S_TLS ||
				    G.c[i].state == S_HANDSHAKE)
					fail(&G.c[i], "no handshake after %.0f s", elapsed);
		}
		break;
	}
	case P_WARMUP:
		if (since >= O.warmup || g_signal)
			start_window();
		break;
	case P_MEASURE:
		if ((double)(G.now - G.t0) / 1e9 >= O.duration || g_signal)
			end_window();
		break;
	case P_DRAIN:
		if (drained()) {
			begin_close();
		} else if (since > O.timeout) {
			if (O.mode == M_BROADCAST) {
				size_t got = 0;
				for (size_t i = 0; i + 1 < G.n; i++)
					got += G.c[i].recvd > G.b_done;
				fail(NULL, "message %" PRIu64 " reached %zu of %zu receivers in %.0f s", G.b_done,
				     got, G.n - 1, since);
			} else {
				for (size_t i = 0; i < G.n; i++)
					if (G.c[i].fd >= 0 && G.c[i].sent != G.c[i].recvd)
						fail(&G.c[i], "%" PRIu64 " messages never came back",
						     G.c[i].sent - G.c[i].recvd);
			}
			begin_close();
		}
		break;
	case P_HOLD:
		/* The RSS is read after a second's settle (the smoke's short hold reads it at once). */
		if (O.npids && rss_after < 0 && (since >= 1.0 || since >= O.hold)) {
			rss_after = proc_rss_kb();
			say("server RSS %ld kB with %zu connections held\n", rss_after, open_count());
		}
		if ((since >= O.hold && (!O.npids || rss_after >= 0)) || g_signal) {
			size_t held = open_count();
			if (held != G.opened)
				fail(NULL, "%zu of %zu connections ended while held", G.opened - held, G.opened);
			begin_close();
		}
		break;
	case P_CLOSE: {
		bool all = true;
		for (size_t i = 0; i < G.n && all; i++)
			all = G.c[i].fd < 0;
		if (all || since > 3.0) {
			for (size_t i = 0; i < G.n; i++)
				close_conn(&G.c[i]);
			set_phase(P_END);
		}
		break;
	}
	}
}

static void run(void)
{
	G.ep = epoll_create1(EPOLL_CLOEXEC);
	if (G.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	G.scratch = malloc(SCRATCH_BYTES);
	G.c = calloc(G.n, sizeof(conn));
	if (!G.scratch || !G.c)
		die("out of memory");
	for (size_t i = 0; i < G.n; i++) {
		G.c[i].fd = -1;
		G.c[i].id = (uint32_t)i;
		if (O.mode == M_ECHO && !(G.c[i].ts = calloc((size_t)O.inflight, sizeof(uint64_t))))
			die("out of memory");
	}
	struct epoll_event evs[1024];
	G.now = G.t_start = now_ns();
	set_phase(P_CONNECT);
	while (G.phase != P_END) {
		int n = epoll_wait(G.ep, evs, 1024, 5);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		G.now = now_ns();
		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		flush_dirty();
		tick();
		flush_dirty();
	}
}

/* ---- command line ---- */

static void usage(void)
{
	fprintf(stderr,
	        "usage: loadgen echo|broadcast|hold|wait|rss|quiet [options]\n"
	        "  --host A (127.0.0.1) --port P  --conns N  --size B  --inflight K (echo)\n"
	        "  --window W (broadcast)  --binary (echo)  --duration S  --warmup S\n"
	        "  --rate R (connections/s)  --max-pending N  --timeout S\n"
	        "  --hold S  --src-count X (bind 127.0.0.1..127.0.0.X)  --pid P[,P..] --children\n"
	        "  --max P (quiet: busy percent of one core)\n"
	        "  --size-mix (echo: sizes across every length encoding)  --smoke  --quiet\n"
	        "  --json (echo: compressible JSON-like text)  --tls (wss://, not verified)\n"
	        "  --deflate (offer permessage-deflate; inflate the replies)\n");
	exit(2);
}

static double num(const char *opt, const char *v, double min)
{
	char *end;
	double d = v ? strtod(v, &end) : 0;
	if (!v || *end || d < min)
		die("%s needs a number >= %g", opt, min);
	return d;
}

/* The command line, as tables: a mode is a word, a flag sets a bool, a number goes to a long
 * or a double with a lower bound. */
static const char *const mode_names[] = {
    [M_ECHO] = "echo", [M_BROADCAST] = "broadcast", [M_HOLD] = "hold", [M_WAIT] = "wait",
    [M_RSS] = "rss",   [M_QUIET] = "quiet"};

static const struct {
	const char *name;
	bool *to;
} flag_opts[] = {
    {"--binary", &O.binary},     {"--smoke", &O.smoke},       {"--quiet", &O.quiet},
    {"--children", &O.children}, {"--size-mix", &O.size_mix}, {"--tls", &O.tls},
    {"--deflate", &O.deflate},   {"--json", &O.json},
};

static const struct {
	const char *name;
	double min;
	long *to_long; /* one of the two */
	double *to_real;
} num_opts[] = {
    {"--conns", 1, &O.conns, NULL},
    {"--size", 0, &O.size, NULL},
    {"--inflight", 1, &O.inflight, NULL},
    {"--window", 1, &O.window, NULL},
    {"--max-pending", 1, &O.max_pending, NULL},
    {"--src-count", 1, &O.src_count, NULL},
    {"--duration", 0.01, NULL, &O.duration},
    {"--warmup", 0, NULL, &O.warmup},
    {"--hold", 0, NULL, &O.hold},
    {"--rate", 1, NULL, &O.rate},
    {"--timeout", 0.1, NULL, &O.timeout},
    {"--max", 0, NULL, &O.max_busy},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Takes argv[i] (and its value, then *i moves past it); false when it is no option. */
static bool parse_opt(int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	for (size_t k = 0; k < COUNT(flag_opts); k++)
		if (!strcmp(a, flag_opts[k].name))
			return *flag_opts[k].to = true;
	(*i)++;
	for (size_t k = 0; k < COUNT(num_opts); k++) {
		if (strcmp(a, num_opts[k].name))
			continue;
		double d = num(a, v, num_opts[k].min);
		if (num_opts[k].to_long)
			*num_opts[k].to_long = (long)d;
		else
			*num_opts[k].to_real = d;
		return true;
	}
	if (!strcmp(a, "--host"))
		O.host = v ? v : (die("--host needs a value"), "");
	else if (!strcmp(a, "--port"))
		O.port = (int)num(a, v, 1);
	else if (!strcmp(a, "--pid")) {
		if (!v)
			die("--pid needs a value");
		for (const char *s = v; *s && O.npids < MAX_PIDS;) {
			O.pids[O.npids++] = atoi(s);
			const char *comma = strchr(s, ',');
			s = comma ? comma + 1 : s + strlen(s);
		}
	} else {
		(*i)--; /* for the caller's message */
		return false;
	}
	return true;
}

static void parse_args(int argc, char **argv)
{
	if (argc < 2)
		usage();
	O.mode = -1;
	for (size_t k = 0; k < COUNT(mode_names); k++)
		if (!strcmp(argv[1], mode_names[k]))
			O.mode = (int)k;
	if (O.mode < 0)
		usage();
	for (int i = 2; i < argc; i++) {
		if (!parse_opt(argc, argv, &i)) {
			fprintf(stderr, "loadgen: unknown option %s\n", argv[i]);
			usage();
		}
	}
	if (O.mode != M_RSS && O.mode != M_QUIET && !O.port)
		die("--port is required");
	/* --smoke: a second of each mode with few connections, for correctness only */
	if (O.conns < 0 && O.mode == M_HOLD)
		O.conns = O.smoke ? 300 : 10000;
	else if (O.conns < 0 && O.mode == M_BROADCAST)
		O.conns = O.smoke ? 20 : 1000;
	else if (O.conns < 0)
		O.conns = O.smoke ? 4 : 100;
	if (O.size < 0)
		O.size = O.mode == M_BROADCAST ? 64 : 32;
	if (O.duration < 0)
		O.duration = O.smoke ? 1 : 10;
	if (O.warmup < 0)
		O.warmup = O.smoke ? 0 : 1;
	if (O.hold < 0)
		O.hold = O.smoke ? 0.5 : 2;
	if (O.mode == M_BROADCAST && O.size < HDR_LEN)
		die("broadcast needs --size >= %d (the sequence header)", HDR_LEN);
	if (O.mode == M_BROADCAST && O.binary)
		die("broadcast sends text (chat servers relay text)");
	if (O.json && O.binary)
		die("--json is text");
}

static void pattern_init(void)
{
	size_t max = O.size_mix ? 100000 : (size_t)O.size;
	G.pat_len = max + PAT_SPAN;
	G.pat = malloc(G.pat_len);
	if (!G.pat)
		die("out of memory");
	if (O.json) {
		/* JSON-like text: the same keys over and over, the numbers varying, as chat or
		 * telemetry messages are; it compresses about as such messages do. Every slice of it
		 * is a payload, so no message repeats another. */
		size_t n = 0;
		while (n < G.pat_len) {
			char rec[160];
			uint64_t r = rnd();
			int l =
			    snprintf(rec, sizeof(rec),
			             "{\"id\":%u,\"user\":\"user%u\",\"room\":\"room-%u\",\"score\":%u.%02u,"
			             "\"online\":%s,\"tags\":[\"a\",\"b\"]},",
			             (unsigned)(r % 1000000), (unsigned)(r >> 20) % 10000,
			             (unsigned)(r >> 34) % 50, (unsigned)(r >> 40) % 1000,
			             (unsigned)(r >> 50) % 100, (r >> 63) ? "true" : "false");
			size_t take = (size_t)l < G.pat_len - n ? (size_t)l : G.pat_len - n;
			memcpy(G.pat + n, rec, take);
			n += take;
		}
		return;
	}
	for (size_t i = 0; i < G.pat_len; i++) {
		uint64_t r = rnd();
		/* Text must be UTF-8: ASCII letters. Binary gets every byte value. */
		G.pat[i] = O.binary ? (uint8_t)(r >> 24) : (uint8_t)('a' + (r >> 24) % 26);
	}
}

static void raise_nofile(size_t need)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (need + 16 > rl.rlim_cur)
		die("%zu connections need %zu descriptors but this process may open %llu (split the "
		    "count over several loadgen processes)",
		    need, need + 16, (unsigned long long)rl.rlim_cur);
}

static int wait_port(void)
{
	resolve_dst();
	uint64_t end = now_ns() + (uint64_t)(O.timeout * 1e9);
	do {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&G.dst, sizeof(G.dst)) == 0) {
			close(fd);
			return 0;
		}
		if (fd >= 0)
			close(fd);
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	} while (now_ns() < end);
	fprintf(stderr, "loadgen: nothing listens on %s:%d after %.0f s\n", O.host, O.port, O.timeout);
	return 2;
}

/* Waits until, over half a second, the machine was busy for less than max_busy percent of one
 * core: on a shared machine, a measurement started while something else runs is worthless. */
static int wait_quiet(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t end = now_ns() + (uint64_t)(O.timeout * 1e9);
	double busy;
	do {
		uint64_t b0 = machine_busy_ticks();
		struct timespec ts = {0, 500 * 1000000};
		nanosleep(&ts, NULL);
		busy = 100.0 * (double)(machine_busy_ticks() - b0) / (double)hz / 0.5;
		if (busy < O.max_busy)
			return 0;
	} while (now_ns() < end);
	printf("busy=%.0f\n", busy);
	return 1;
}

static void report(void)
{
	const char *verdict = G.errors ? "FAILED" : "ok";
	double secs = G.t1 > G.t0 ? (double)(G.t1 - G.t0) / 1e9 : 0;
	uint64_t p50 = hist_q(&G.lat, 0.50) / 1000, p99 = hist_q(&G.lat, 0.99) / 1000,
	         mx = G.lat.max / 1000;
	char cpu[96];
	snprintf(cpu, sizeof(cpu), "srv_cpu=%.0f gen_cpu=%.0f other_cpu=%.0f", G.srv_cpu, G.gen_cpu,
	         G.other_cpu);
	if (O.mode == M_ECHO) {
		double rtps = secs > 0 ? (double)G.done_in_window / secs : 0;
		double mbps = secs > 0 ? (double)G.bytes_in_window / secs / 1e6 : 0;
		say("echo: %ld conns x %s%ld B x %ld in flight, %s%s%s, %.2f s measured\n", O.conns,
		    O.size_mix ? "mixed " : "", O.size, O.inflight,
		    O.binary ? "binary"
		    : O.json ? "JSON text"
		             : "text",
		    O.tls ? ", TLS" : "", O.deflate ? ", permessage-deflate" : "", secs);
		say("  %.0f round trips/s, %.2f MB/s of payload each way (MB = 10^6 B)\n", rtps, mbps);
		say("  latency us: p50 %" PRIu64 " p99 %" PRIu64 " max %" PRIu64 " (%" PRIu64 " samples)\n",
		    p50, p99, mx, G.lat.n);
		say("  cpu: server %.0f%% loadgen %.0f%% others %.0f%%; verification %s, %" PRIu64
		    " errors\n",
		    G.srv_cpu, G.gen_cpu, G.other_cpu, verdict, G.errors);
		if (O.deflate)
			say("  permessage-deflate: %" PRIu64 " of %" PRIu64 " replies came compressed\n",
			    G.compressed_in_window, G.done_in_window);
		printf("RESULT mode=echo conns=%ld size=%ld inflight=%ld binary=%d json=%d tls=%d "
		       "deflate=%d compressed=%" PRIu64 " secs=%.2f rtps=%.0f "
		       "mbps=%.2f p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64
		       " %s errors=%" PRIu64 "\n",
		       O.conns, O.size, O.inflight, O.binary, O.json, O.tls, O.deflate,
		       G.compressed_in_window, secs, rtps, mbps, p50, p99, mx, cpu, G.errors);
	} else if (O.mode == M_BROADCAST) {
		double msgps = secs > 0 ? (double)G.done_in_window / secs : 0;
		double dps = secs > 0 ? (double)G.deliveries_in_window / secs : 0;
		size_t receivers = G.n - 1, complete = 0;
		for (size_t i = 0; i < receivers; i++)
			complete += G.c[i].recvd == G.b_sent;
		const char *echo = G.sender_got == 0 ? "excluded" : "included";
		say("broadcast: %zu receivers, %ld B, window %ld, %.2f s measured; sender %s\n", receivers,
		    O.size, O.window, secs, echo);
		say("  %.0f deliveries/s (%.0f messages/s, each to every receiver)\n", dps, msgps);
		say("  completion latency us (sent -> last receiver): p50 %" PRIu64 " p99 %" PRIu64
		    " max %" PRIu64 "\n",
		    p50, p99, mx);
		say("  %zu of %zu receivers got all %" PRIu64 " messages once, in order\n", complete,
		    receivers, G.b_sent);
		say("  cpu: server %.0f%% loadgen %.0f%% others %.0f%%; verification %s, %" PRIu64
		    " errors\n",
		    G.srv_cpu, G.gen_cpu, G.other_cpu, verdict, G.errors);
		printf("RESULT mode=broadcast receivers=%zu size=%ld window=%ld secs=%.2f dps=%.0f "
		       "msgps=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64 " max_us=%" PRIu64 " sent=%" PRIu64
		       " complete=%d sender=%s %s errors=%" PRIu64 "\n",
		       receivers, O.size, O.window, secs, dps, msgps, p50, p99, mx, G.b_sent,
		       complete == receivers && !G.errors, echo, cpu, G.errors);
	} else {
		long per = rss_before >= 0 && rss_after >= 0 && G.opened
		               ? (long)((double)(rss_after - rss_before) * 1024.0 / (double)G.opened)
		               : -1;
		say("hold: %zu of %ld connections held (opened in %.2f s)\n", G.opened, O.conns, open_secs);
		if (per >= 0)
			say("  server RSS %ld kB -> %ld kB: %ld bytes per connection\n", rss_before, rss_after,
			    per);
		say("  verification %s, %" PRIu64 " errors\n", verdict, G.errors);
		printf("RESULT mode=hold conns=%ld held=%zu open_s=%.2f rss_before_kb=%ld "
		       "rss_after_kb=%ld bytes_per_conn=%ld errors=%" PRIu64 "\n",
		       O.conns, G.opened, open_secs, rss_before, rss_after, per, G.errors);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	if (O.mode == M_WAIT)
		return wait_port();
	if (O.mode == M_QUIET)
		return wait_quiet();
	if (O.mode == M_RSS) {
		if (!O.npids)
			die("rss needs --pid");
		printf("RSS kb=%ld\n", proc_rss_kb());
		return 0;
	}
	if (getrandom(&G.rng, sizeof(G.rng), 0) != sizeof(G.rng) || !G.rng)
		G.rng = now_ns() | 1;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	resolve_dst();
	if (O.tls) {
		G.tls = SSL_CTX_new(TLS_client_method());
		if (!G.tls)
			die("SSL_CTX_new failed");
		/* A benchmark of a local self-signed server: the certificate is not verified. */
		SSL_CTX_set_verify(G.tls, SSL_VERIFY_NONE, NULL);
		/* The output buffer moves (realloc) between a short write and its retry. */
		SSL_CTX_set_mode(G.tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
		                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	}
	G.n = (size_t)O.conns + (O.mode == M_BROADCAST);
	raise_nofile(G.n);
	pattern_init();
	if (O.mode == M_BROADCAST) {
		G.bcount = calloc((size_t)O.window, sizeof(uint64_t));
		G.bts = calloc((size_t)O.window, sizeof(uint64_t));
		if (!G.bcount || !G.bts)
			die("out of memory");
	}
	if (O.mode == M_HOLD) {
		rss_before = proc_rss_kb();
		if (rss_before >= 0)
			say("server RSS %ld kB before\n", rss_before);
	}
	run();
	/* Correctness, not timing: a run that moved nothing verified nothing. */
	if (O.mode == M_ECHO && !G.errors && G.lat.n == 0)
		fail(NULL, "no round trip completed in the measurement window");
	if (O.mode == M_BROADCAST && !G.errors) {
		if (G.done_in_window == 0)
			fail(NULL, "no broadcast completed in the measurement window");
		for (size_t i = 0; i + 1 < G.n; i++)
			if (G.c[i].recvd != G.b_sent) {
				fail(NULL, "receiver %zu got %" PRIu64 " of %" PRIu64 " messages", i, G.c[i].recvd,
				     G.b_sent);
				break;
			}
		if (G.sender_got != 0 && G.sender_got != G.b_sent)
			fail(NULL, "the sender got %" PRIu64 " of its %" PRIu64 " messages back", G.sender_got,
			     G.b_sent);
	}
	if (O.mode == M_HOLD && !G.errors && G.opened != (size_t)O.conns)
		fail(NULL, "held %zu of %ld connections", G.opened, O.conns);
	report();
	return G.errors ? 1 : 0;
}
