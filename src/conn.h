/* conn.h - one WebSocket connection: the opening handshake, RFC 6455 framing, message
 * reassembly with UTF-8 validation, permessage-deflate, the output queue, and the closing
 * handshake. A connection reads from its socket, feeds the protocol modules, and reports what
 * happened through ws_server_hooks.
 *
 * The connection is opaque: only the connection module's own files (src/conn_*.c, sharing
 * conn_int.h) see its fields; everyone else uses the functions below. The one exception is
 * ws_conn_node, the server's own bookkeeping, which the server reaches with ws_conn_node_of.
 *
 * Roles: a connection is the server's end (WS_CONN_SERVER: it requires masked frames from the
 * peer, sends unmasked ones and answers the opening handshake) or a client's end
 * (WS_CONN_CLIENT: it requires unmasked frames and masks what it sends with a fresh random key
 * per frame). Only the server side of the opening handshake exists, so every connection made
 * today is WS_CONN_SERVER; the client side of the handshake is not written yet.
 *
 * Life of a connection: HANDSHAKE -> OPEN -> CLOSING (a Close was sent or received) ->
 * LINGER (our side shut down for writing; draining the peer until EOF or timeout) -> DONE.
 * A connection that reaches DONE is reported once to on_close (only if on_open was reported)
 * and is freed by the server after every callback of the current loop turn has returned, so
 * a pointer that PHP code received stays valid for the whole callback. */
#ifndef WS_CONN_H
#define WS_CONN_H

#include "buf.h"
#include "deflate.h"
#include "err.h"
#include "frame.h"
#include "http.h"
#include "loop.h"
#include "net.h"
#include "rooms.h"
#include "stats.h"
#include "tls.h"
#include "utf8.h"
#include "wheel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ws_conn ws_conn;

typedef struct ws_reply {
	int status;           /* 0 default; 101 accept an upgrade; anything else: that response */
	const char *protocol; /* accepted subprotocol; NULL keeps the configured choice */
	size_t protocol_len;
	const char *headers; /* extra response lines, each "Name: value\r\n" */
	size_t headers_len;
	const char *body; /* response body for a non-101 status */
	size_t body_len;
} ws_reply;

/* How a connection reports upward. Every member may be NULL. `owner` is what the layer above
 * passed to ws_server_new. Hooks may call any ws_conn_* / ws_server_* function, including
 * closing this or another connection and stopping the server. */
typedef struct ws_server_hooks {
	/* A valid upgrade request arrived. req (and its strings) is valid during the call. */
	void (*on_handshake)(void *owner, ws_conn *c, const ws_http_request *req, ws_reply *reply);
	/* A plain HTTP request (no Upgrade: websocket) arrived; the connection closes after the
	 * response. */
	void (*on_request)(void *owner, ws_conn *c, const ws_http_request *req, ws_reply *reply);
	void (*on_open)(void *owner, ws_conn *c);
	/* Message storage: alloc returns an opaque message and a pointer to room for cap bytes;
	 * grow enlarges it (realloc semantics). Without them, the core uses ws_malloc. Both may
	 * return NULL (memory is short): only the connection that asked fails, with 1013. The
	 * core asks for storage as bytes arrive, never for what a frame header announces. */
	void *(*msg_alloc)(void *owner, size_t cap, uint8_t **data);
	void *(*msg_grow)(void *owner, void *msg, size_t cap, uint8_t **data);
	void (*msg_free)(void *owner, void *msg);
	/* A whole message: the first `len` bytes of msg. Ownership of msg passes to the hook. */
	void (*on_message)(void *owner, ws_conn *c, void *msg, size_t len, bool binary);
	/* The connection is finished (only after on_open). code and reason are those of the peer's
	 * Close frame (1005 if it had no code); the code we failed the connection with (1002,
	 * 1007, 1009) after a protocol violation; otherwise 1006, also when we started a closing
	 * handshake that the peer never answered (RFC 6455 7.1.5). */
	void (*on_close)(void *owner, ws_conn *c, uint16_t code, const char *reason, size_t reason_len);
	/* Last call for c, for every connection whose user pointer is set, just before it is freed. */
	void (*on_release)(void *owner, ws_conn *c);
	/* The output queue emptied after the kernel had refused part of it (backpressure is over). */
	void (*on_drain)(void *owner, ws_conn *c);
	/* A send found `queued` bytes already waiting (>= max_output_bytes) and the overflow
	 * policy is to close: c is closing with 1008. Reported once, from the loop, not from
	 * inside the send. */
	void (*on_overflow)(void *owner, ws_conn *c, size_t queued);
	/* As one worker of several: messages for other workers were dropped because the queue to
	 * the master was full (`dropped` since the last report; reported at most once a second). */
	void (*on_bus_overflow)(void *owner, uint64_t dropped);
	/* Reload handoff. save describes c's user object as a ws_malloc'ed blob of *len bytes
	 * (NULL: nothing to carry); restore, in the successor, sets c's user object from it
	 * (blob NULL when there was none). */
	uint8_t *(*handoff_save)(void *owner, ws_conn *c, size_t *len);
	void (*handoff_restore)(void *owner, ws_conn *c, const uint8_t *blob, size_t len);
} ws_server_hooks;

/* Limits and policies shared by all connections of a server. */
typedef struct ws_conn_limits {
	size_t max_header_bytes;
	uint64_t max_frame_bytes;
	uint64_t max_message_bytes;
	uint32_t handshake_timeout_ms;
	uint32_t close_timeout_ms;
	uint32_t idle_timeout_ms;  /* an open connection silent this long gets Close 1001; 0: off */
	uint32_t ping_interval_ms; /* ... this long gets a Ping, and is dropped if silent as long
	                              again; 0: off */
	size_t max_output_bytes;   /* queued bytes at which a send overflows; 0: no limit */
	size_t max_receive_bytes;  /* what every message still being received may hold together
	                              (the receive budget of the process); 0: no limit */
	bool overflow_rejects;     /* overflow refuses the send instead of closing with 1008 */
	const char *const *subprotocols;
	size_t num_subprotocols;
	const char *const *allowed_origins; /* none: any Origin */
	size_t num_allowed_origins;
	const ws_deflate_config *deflate; /* permessage-deflate offered to clients, or NULL */
	size_t deflate_min_bytes;         /* shorter messages go out uncompressed */
	uint32_t codec_idle_ms; /* a connection's own zlib streams (context takeover) are parked
	                           after this long without a compressed message; 0: never */
} ws_conn_limits;

/* What a connection shares with its server (owned by the server, borrowed by conns). */
typedef struct ws_conn_env {
	ws_loop *loop;
	ws_wheel *wheel; /* every connection's deadline; its callback is ws_conn_expire */
	const ws_conn_limits *limits;
	const ws_server_hooks *hooks;
	void *owner;
	uint8_t *rbuf; /* one receive buffer for every connection of the loop */
	size_t rbuf_cap;
	ws_worker_stats *stats; /* this process's counters */
	size_t receiving;       /* bytes held by the storage of messages still being received */
	/* compressors without context takeover, shared by every connection, by window bits */
	ws_deflater *deflaters[16];
	/* Codecs were parked since the last ws_conn_trim, which last ran at trimmed_ms. */
	bool trim_due;
	bool trim_waiting; /* a one-shot timer will call ws_conn_trim */
	uint64_t trimmed_ms;
	void *server;
	/* c has output to flush. Called once until ws_conn_flush runs, and possibly again while c
	 * is still on the server's flush list (after a flush from the loop's write event). */
	void (*want_flush)(void *server, ws_conn *c);
	void (*done)(void *server, ws_conn *c);   /* c reached DONE: unlink, free later */
	void (*opened)(void *server, ws_conn *c); /* c completed the handshake */
} ws_conn_env;

typedef enum ws_conn_state {
	WS_CONN_HANDSHAKE = 0,
	WS_CONN_OPEN,
	WS_CONN_CLOSING,
	WS_CONN_LINGER,
	WS_CONN_DONE,
} ws_conn_state;

typedef enum ws_conn_role {
	WS_CONN_SERVER = 0,
	WS_CONN_CLIENT,
} ws_conn_role;

/* The server's bookkeeping of one connection, owned by the server; the connection never reads
 * it (it zeroes it when created). It is the first member of every connection, so reaching it
 * costs nothing: the server's list links, its flush list, the rooms the connection is in, and
 * whether the server counted it by remote address. */
typedef struct ws_conn_node {
	ws_conn *prev, *next;  /* the server's list of connections */
	ws_conn *pending_next; /* the server's flush list */
	ws_room_set rooms;     /* the rooms this connection is a member of */
	bool pending;          /* on the flush list */
	bool ip_counted;       /* counted in the server's per-address table */
} ws_conn_node;

static inline ws_conn_node *ws_conn_node_of(ws_conn *c)
{
	return (ws_conn_node *)(void *)c;
}

static inline const ws_conn_node *ws_conn_node_of_const(const ws_conn *c)
{
	return (const ws_conn_node *)(const void *)c;
}

/* Creates a server-role connection for an accepted socket and starts reading; with tls, the TLS
 * handshake comes first (within the handshake timeout). Returns NULL on failure (the caller
 * closes fd). */
ws_conn *ws_conn_new(ws_conn_env *env, int fd, uint64_t id, const struct sockaddr_storage *addr,
                     ws_tls_ctx *tls);

/* Creates a server-role connection in `state` (HANDSHAKE, or OPEN) that reads fd; a handshake
 * is bounded by its timeout, an open connection gets its keep-alive deadline. ws_conn_new uses
 * it. Returns NULL on failure (the caller closes fd). */
ws_conn *ws_conn_adopt(ws_conn_env *env, int fd, uint64_t id, ws_conn_state state);

/* Frees a DONE connection; calls on_release first when its user pointer is set. */
void ws_conn_free(ws_conn *c);

/* Writes as much queued output as the socket takes (one writev per call, more only if the
 * first was complete and more is queued). Called by the server before the loop waits, for
 * every connection that asked for it (env->want_flush). Reports a due on_overflow first. */
void ws_conn_flush(ws_conn *c);

/* Queues a data message (one frame). Returns 0; WS_ECLOSED when the connection is not open
 * (or is closing); WS_ETOOBIG when max_output_bytes were already queued (the overflow policy
 * then either refused the message or started closing with 1008); or WS_ENOMEM. data is
 * copied. */
int ws_conn_send(ws_conn *c, const uint8_t *data, size_t len, bool binary);

/* Below this many bytes a borrowed payload is copied: a second chunk would cost more. */
#define WS_SEND_BORROW_MIN 4096

/* Same as ws_conn_send, but the payload is written from where it lies: data[0, len) must stay
 * unchanged until release(arg), which is called exactly once, whatever the result (at once
 * when the payload was copied: shorter than WS_SEND_BORROW_MIN, compressed, or masked by a
 * client-role connection). */
int ws_conn_send_borrowed(ws_conn *c, const uint8_t *data, size_t len, bool binary,
                          ws_chunk_release_fn release, void *arg);

/* Queues a ping with up to 125 bytes of payload. Same results, or WS_EINVAL. */
int ws_conn_ping(ws_conn *c, const uint8_t *data, size_t len);

/* Answers the request of a connection that must not be served (a connection limit) with
 * `status` and `body`, then closes it. */
void ws_conn_reject(ws_conn *c, int status, const char *body, size_t body_len);

/* Stops (or resumes) reading the socket; what the peer sends waits in the kernel. */
void ws_conn_hold_input(ws_conn *c, bool hold);

/* Reads and processes what the peer has already sent, up to max_bytes, even while input is
 * held; calls the hooks as usual. For a stop that must not leave received messages behind. */
void ws_conn_read_pending(ws_conn *c, size_t max_bytes);

/* Once a loop turn: when idle codecs were parked (see ws_conn_keepalive), hands the memory
 * they freed back to the system, at most once a second. The streams are blocks of 8 to 64 KiB
 * that malloc keeps in its heap, between other allocations, where only a trim releases
 * their pages. */
void ws_conn_trim(ws_conn_env *env);

/* Arms the keep-alive deadline of an open connection from the time bytes last arrived and its
 * ping state (opening or resuming the connection does it by itself): silent for
 * idle_timeout_ms, it gets Close 1001 "idle timeout"; silent for ping_interval_ms, it gets a
 * Ping, and is dropped if still silent ping_interval_ms after it. The same deadline parks its
 * own zlib streams once no compressed message has passed for codec_idle_ms. Receiving bytes
 * only notes the time; the deadline, when it comes, looks at that time and waits on if it
 * moved. */
void ws_conn_keepalive(ws_conn *c);
/* The wheel's callback (env->wheel): the deadline of the connection that embeds n came. May
 * finish or close the connection; calls the hooks. */
void ws_conn_expire(ws_wheel *w, ws_wheel_node *n, void *arg);

/* Starts the closing handshake with a code (a valid close code) and a reason of at most 123
 * bytes. Data queued before stays ahead of the Close frame. Before the handshake completed,
 * it simply drops the connection. Returns 0 or WS_ECLOSED when already closing. */
int ws_conn_close(ws_conn *c, uint16_t code, const char *reason, size_t reason_len);

/* True when the request offered `protocol` (len bytes) in any Sec-WebSocket-Protocol line. */
bool ws_conn_protocol_offered(const ws_http_request *req, const char *protocol, size_t len);

/* Ends the connection now, without a closing handshake (reported as 1006). */
void ws_conn_abort(ws_conn *c);

/* Drops this process's hold on a connection that another process now serves (a handoff):
 * closes our descriptor, reports nothing, frees c after the turn. */
void ws_conn_forget(ws_conn *c);

/* Encodes one unmasked frame (as a server sends it) into a new chunk (one reference). NULL on
 * failure. */
ws_chunk *ws_conn_frame(uint8_t opcode, const uint8_t *data, size_t len);

/* The frames one message becomes, built once for many connections (a broadcast): plain,
 * and compressed once per window size for connections without context takeover.
 * Zero-initialised is empty; release with ws_frames_release. */
typedef struct ws_frames {
	const uint8_t *data;
	size_t len;
	bool binary;
	ws_chunk *plain;
	ws_chunk *deflated[16];
} ws_frames;

/* Queues the message of `f` to c as c needs it (compressed or not). Same results as
 * ws_conn_send. A client-role connection masks its own frame and shares none. */
int ws_conn_send_frames(ws_conn *c, ws_frames *f);
void ws_frames_release(ws_frames *f);

/* ---- save and restore (the reload handoff) ----
 * A connection moves to another process as its socket plus a record. The order is:
 *   sender:   ws_conn_save(c, &buf); send the descriptor and buf; ws_conn_forget(c)
 *   receiver: update the loop's clock (times in the record are re-based on it);
 *             c = ws_conn_restore(env, fd, rec, len)   c is unlinked and has reported nothing
 *             link c into the server's list and id table (and count it by address)
 *             ws_conn_resume(c)                        counts c as opened (env->opened) if it
 *                                                      was, arms its deadline, asks for a flush
 *             then the server's own state (rooms) and the user object (handoff_restore).
 * Linking comes before resume because env->opened moves c within the server's list, and
 * anything that finishes c from then on (env->done) unlinks it. */

/* Appends to out a versioned record of everything the connection module holds for c: state,
 * role, id, times, parser and UTF-8 state, the message being received, unparsed input, unsent
 * output, a control frame in pieces, subprotocol, remote address, and the compression
 * parameters and histories. Not the server's node (rooms) nor the user object. Only a
 * connection in HANDSHAKE or OPEN without TLS can be saved (a TLS session's keys cannot move).
 * Returns 0; WS_EINVAL for a connection that cannot be saved; WS_ENOMEM (out may then hold
 * part of a record: the caller truncates it). c is unchanged either way. */
int ws_conn_save(ws_conn *c, ws_buf *out);

/* Rebuilds a connection from rec[0, len) (a record of ws_conn_save, possibly from another
 * process of the same build) and starts reading fd. The record is input: every length and
 * value in it is checked against len and the limits, and a bad one fails cleanly. The
 * message being received counts against the receive budget at once. Returns the connection,
 * not yet linked by the server and without a deadline (see ws_conn_resume), or NULL (bad
 * record, budget, memory; nothing leaks and the caller closes fd). */
ws_conn *ws_conn_restore(ws_conn_env *env, int fd, const uint8_t *rec, size_t len);

/* Completes ws_conn_restore once the server has linked c: env->opened for a connection that
 * had opened, its deadline (the handshake timeout anew, or the keep-alive from the restored
 * times), and env->want_flush when output was restored. */
void ws_conn_resume(ws_conn *c);

/* ---- accessors ---- */

uint64_t ws_conn_id(const ws_conn *c);
ws_conn_state ws_conn_state_of(const ws_conn *c);
ws_conn_role ws_conn_role_of(const ws_conn *c);

/* Open: handshake completed, not closing. */
bool ws_conn_is_open(const ws_conn *c);

/* The handshake completed at some point (on_open was reported), whatever the state now. */
bool ws_conn_was_opened(const ws_conn *c);

/* The loop time the connection was accepted; meaningful in HANDSHAKE only. */
uint64_t ws_conn_accepted_ms(const ws_conn *c);

/* Served over TLS. */
bool ws_conn_is_secure(const ws_conn *c);

/* The socket's descriptor (borrowed: the connection closes it when it finishes). */
int ws_conn_fd(const ws_conn *c);

/* Not reading its socket (ws_conn_hold_input). */
bool ws_conn_input_held(const ws_conn *c);

/* Bytes queued and not yet accepted by the kernel (WebSocket's bufferedAmount). */
size_t ws_conn_buffered(const ws_conn *c);

/* The peer's address (NUL-terminated, borrowed for c's life) and port. */
const char *ws_conn_remote_ip(const ws_conn *c);
int ws_conn_remote_port(const ws_conn *c);

/* The negotiated subprotocol, or NULL. */
const char *ws_conn_subprotocol(const ws_conn *c);

/* The binding's object for this connection (borrowed by the core; see on_release). */
void *ws_conn_user(const ws_conn *c);
void ws_conn_set_user(ws_conn *c, void *user);

#endif
