/* bus.h - messages between the processes of one server (the master and its workers), and the
 * channel that carries them over a socketpair.
 *
 * Wire format of one message (host byte order: every process is a fork of one binary):
 *   u32 size      bytes that follow this field (the header rest, ids, room and payload)
 *   u8  type      WS_BUS_*
 *   u8  flags     WS_BUS_F_*
 *   u16 code      close code (WS_BUS_CLOSE) or 0
 *   u32 origin    worker index of the sender
 *   u32 zero      padding (written as 0, ignored), so that target and the ids are aligned
 *   u64 target    connection id (SEND, CLOSE, JOIN, LEAVE) or a control argument
 *   u32 n_except  connection ids to skip (BROADCAST, PUBLISH)
 *   u32 room_len  bytes of room name (PUBLISH, JOIN, LEAVE)
 *   n_except * u64 ids, then room_len bytes, then the payload (the rest of `size`).
 * The header is WS_BUS_HEADER bytes (including `size`); ids stay 8-byte aligned in a chunk.
 *
 * A message is encoded once into a ws_chunk, so the master forwards one chunk to several
 * workers by reference. The channel batches queued chunks into one writev per flush, bounds
 * its queue, and can carry one descriptor with a chunk (SCM_RIGHTS). Plain C, no Zend. */
#ifndef WS_BUS_H
#define WS_BUS_H

#include "buf.h"
#include "err.h"
#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WS_BUS_HEADER      32
#define WS_BUS_MAX_MESSAGE (256u * 1024 * 1024) /* a larger `size` is a protocol error */

typedef enum ws_bus_type {
	/* data, relayed by the master to the worker(s) that own the targets */
	WS_BUS_SEND = 1,  /* target: connection id; payload: the message */
	WS_BUS_BROADCAST, /* to every connection of every worker but the except ids */
	WS_BUS_PUBLISH,   /* to every member of room, but the except ids */
	WS_BUS_CLOSE,     /* target: connection id; code; payload: reason */
	WS_BUS_JOIN,      /* target: connection id joins room */
	WS_BUS_LEAVE,     /* target: connection id leaves room */
	/* control, between the master and one worker */
	WS_BUS_READY,    /* worker -> master: started (workerStart done), serving */
	WS_BUS_STOP,     /* master -> worker: stop accepting and reading clients, then QUIESCED */
	WS_BUS_QUIESCED, /* worker -> master: nothing more will come from me */
	WS_BUS_FLUSH,    /* master -> worker: every relayed message is ahead; close and exit */
	WS_BUS_HANDOFF,  /* master -> worker, carries a descriptor: hand connections over it */
	WS_BUS_HANDED,   /* worker -> master: handoff complete; target: connections handed */
	WS_BUS_STOP_ALL, /* worker -> master: stop the whole server gracefully, as SIGTERM does */
	WS_BUS_TYPE_MAX
} ws_bus_type;

#define WS_BUS_F_BINARY 1u /* the payload is a binary message (else text) */

/* A decoded message; pointers point into the buffer that was parsed and are valid as long
 * as it is. `except` may be unaligned: read it with ws_bus_except(). */
typedef struct ws_bus_msg {
	uint8_t type;
	uint8_t flags;
	uint16_t code;
	uint32_t origin;
	uint64_t target;
	uint32_t n_except;
	const uint8_t *except;
	const char *room;
	uint32_t room_len;
	const uint8_t *data;
	size_t len;
} ws_bus_msg;

/* Encodes m (except read as n_except host-order u64 values from m->except, which may be
 * unaligned) into a new chunk with one reference. NULL when out of memory, too large, or the
 * type is not a WS_BUS_* value. */
ws_chunk *ws_bus_encode(const ws_bus_msg *m);

/* Same, taking the except ids as an array. */
ws_chunk *ws_bus_encode_ids(uint8_t type, uint8_t flags, uint16_t code, uint32_t origin,
                            uint64_t target, const uint64_t *except, uint32_t n_except,
                            const char *room, uint32_t room_len, const uint8_t *data, size_t len);

/* Decodes the message at the start of p[0, n). Returns its total length (> 0) and fills *m;
 * 0 when more bytes are needed; WS_EPROTO when the header is inconsistent (size below the
 * header, above WS_BUS_MAX_MESSAGE, ids and room longer than size, unknown type). */
ssize_t ws_bus_parse(const uint8_t *p, size_t n, ws_bus_msg *m);

/* The i-th except id of m. */
uint64_t ws_bus_except(const ws_bus_msg *m, uint32_t i);

/* ---- channel ---- */

typedef struct ws_bus_chan ws_bus_chan;

/* Called for each complete message received, in order; m is valid during the call. The
 * callback may pause, close or free the channel (then no further message is delivered). */
typedef void (*ws_bus_msg_cb)(ws_bus_chan *ch, const ws_bus_msg *m, void *arg);
/* The peer closed its end (or the socket failed, or sent garbage: err says which). Called
 * once; the channel stops watching its fd but is not freed, and drops its queued output.
 * err: 0 end of stream after a whole message; WS_EPROTO garbage, or a message cut short;
 * WS_ECLOSED a write found the peer gone while the channel was paused (a reading channel
 * first delivers what the peer sent, then reports its end of stream); WS_ESYS with errno
 * from the failed call; WS_ENOMEM. The callback may free the channel. */
typedef void (*ws_bus_eof_cb)(ws_bus_chan *ch, int err, void *arg);

typedef struct ws_bus_out {
	ws_chunk *chunk;
	int fd; /* sent with the chunk's first byte (SCM_RIGHTS), or -1; owned until sent */
} ws_bus_out;

struct ws_bus_chan {
	ws_io io; /* first member */
	ws_loop *loop;
	ws_bus_msg_cb on_msg;
	ws_bus_eof_cb on_eof;
	void *arg;
	ws_buf in;
	ws_bus_out *out; /* ring of queued chunks; the first is written from out_off */
	uint32_t out_head, out_count, out_cap;
	size_t out_off;
	size_t out_bytes; /* queued and not yet written */
	size_t max_out;   /* ws_bus_chan_queue refuses once out_bytes >= max_out; 0: no limit */
	int fds[8];       /* descriptors received and not yet taken, oldest first */
	unsigned n_fds;
	bool paused;      /* not reading */
	bool eof;         /* on_eof was called */
	bool dispatching; /* inside on_msg */
	bool freed;       /* ws_bus_chan_free was called during dispatch */
};

/* Starts a channel on a connected, non-blocking AF_UNIX stream socket (the channel owns fd
 * from now on). Returns a new channel, or NULL (fd is closed then). */
ws_bus_chan *ws_bus_chan_new(ws_loop *loop, int fd, size_t max_out, ws_bus_msg_cb on_msg,
                             ws_bus_eof_cb on_eof, void *arg);

/* Stops watching, closes the fd and every descriptor still held, drops queued chunks. */
void ws_bus_chan_free(ws_bus_chan *ch);

/* In a child process after fork(): frees the parent's channel (its fd, held and queued
 * descriptors, memory) without touching the loop's readiness set, which the two processes
 * share. */
void ws_bus_chan_free_forked(ws_bus_chan *ch);

/* Queues a chunk (takes a new reference on success). Returns 0; WS_ETOOBIG when max_out bytes
 * are already queued; WS_ECLOSED after EOF; WS_ENOMEM. Nothing is written until flush. */
int ws_bus_chan_queue(ws_bus_chan *ch, ws_chunk *chunk);

/* Queues a chunk with a descriptor that travels with it. The channel owns fd from the call
 * on, whatever the result (it is closed on failure and after it was sent). Not bounded by
 * max_out, so it also queues a chunk that must not be refused (fd -1: no descriptor). */
int ws_bus_chan_queue_fd(ws_bus_chan *ch, ws_chunk *chunk, int fd);

/* Writes as much as the socket takes: one gathered write for plain chunks, a sendmsg of its
 * own for a chunk with a descriptor; watches for writability while something remains. Call
 * once per loop turn, before the loop waits. May call on_eof (see ws_bus_eof_cb), which may
 * free the channel. */
void ws_bus_chan_flush(ws_bus_chan *ch);

/* Writes everything queued, blocking (poll) up to timeout_ms. Returns 0, or WS_EAGAIN on
 * timeout, or WS_ECLOSED when the peer is gone or the socket failed (the output is dropped
 * then). Calls nothing back. For a process about to exit. */
int ws_bus_chan_flush_all(ws_bus_chan *ch, int timeout_ms);

/* Stops or resumes reading; a paused channel keeps its unread bytes in the kernel. Resuming
 * also delivers complete messages already buffered, before it returns (unless called from
 * on_msg: the running dispatch goes on with them), so it may call back like a read. */
void ws_bus_chan_pause(ws_bus_chan *ch, bool paused);

/* Takes the oldest descriptor received (the caller owns it), or -1 if none. */
int ws_bus_chan_take_fd(ws_bus_chan *ch);

/* ---- blocking descriptor transfer (the reload handoff) ---- */

/* Sends len bytes from data, with fd (if >= 0) attached to the first byte, over a blocking
 * AF_UNIX stream socket (len must then be at least 1). fd stays the caller's. Returns 0 or
 * WS_ESYS (errno says why). */
int ws_bus_send_fd(int sock, const void *data, size_t len, int fd);

/* Receives exactly len bytes into data over a blocking AF_UNIX stream socket; a descriptor
 * attached to any of them is stored in *fd (else *fd is -1). Returns 0, WS_ECLOSED on EOF
 * before len bytes, or WS_ESYS (*fd is -1 after a failure). Extra descriptors are closed. */
int ws_bus_recv_fd(int sock, void *data, size_t len, int *fd);

#endif
