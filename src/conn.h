/* conn.h - one client connection: the HTTP upgrade, RFC 6455 framing, message reassembly with
 * UTF-8 validation, the output queue, and the closing handshake. A connection reads from its
 * socket, feeds the protocol modules, and reports what happened through ws_server_hooks.
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

/* The answer of the handshake and request hooks. Zero-initialised means "the default":
 * for an upgrade accept with the subprotocol chosen from the configured list; for a plain
 * request answer 426. Pointers are borrowed until the hook's caller has written the response,
 * which happens before the hook's caller returns. */
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
	void *server;
	void (*want_flush)(void *server, ws_conn *c); /* c has queued output */
	void (*done)(void *server, ws_conn *c);       /* c reached DONE: unlink, free later */
	void (*opened)(void *server, ws_conn *c);     /* c completed the handshake */
} ws_conn_env;

typedef enum ws_conn_state {
	WS_CONN_HANDSHAKE = 0,
	WS_CONN_OPEN,
	WS_CONN_CLOSING,
	WS_CONN_LINGER,
	WS_CONN_DONE,
} ws_conn_state;

/* Private to conn.c and server.c; the binding uses the functions below. */
struct ws_conn {
	ws_io io;
	ws_conn_env *env;
	uint64_t id;
	ws_conn_state state;
	bool opened;               /* on_open was reported */
	bool close_sent;           /* our Close frame is queued */
	bool close_received;       /* the peer's Close frame arrived */
	bool shutdown_after_flush; /* shut down writing once the queue is empty */
	bool pending;              /* on the server's flush list */
	bool read_paused;          /* input ignored (after failing the connection) */
	bool needs_drain; /* the kernel refused output: report on_drain when the queue empties */
	bool overflowed;  /* on_overflow is due */
	bool ping_sent;   /* a keep-alive ping is unanswered */
	bool ip_counted;  /* counted in the server's per-address table */
	bool input_held;  /* not reading the socket (a stop or a handoff is under way) */
	bool handed_over; /* another process serves it now: finish without on_close */
	/* Loop times in 32 bits (they wrap after 49 days; only differences of at most twice the
	 * keep-alive settings are taken): the last bytes received, and the unanswered ping. */
	uint32_t last_read_ms;
	uint32_t ping_sent_ms;
	uint16_t close_code; /* reported to on_close (see there); 0 means 1006 */
	uint8_t reason_len;
	uint8_t ctrl_len;
	ws_utf8 utf8;       /* of the text message being received */
	char *close_reason; /* the peer's Close reason, when it gave one */
	/* The one deadline, by state: HANDSHAKE its timeout, OPEN the next keep-alive check (only
	 * with idle_timeout_ms or ping_interval_ms), CLOSING the close timeout (see
	 * close_progress_ms), LINGER the wait for the peer's EOF. */
	ws_wheel_node timer;
	ws_tls *tls; /* wss://: the session, or NULL for plain TCP */
	ws_buf in;   /* unparsed input carried between reads (partial heads/headers) */
	ws_http_parser http;
	ws_frame_parser frames;
	/* message being assembled (while compressed: its compressed bytes, inflated at the end) */
	void *msg;
	uint8_t *msg_data;
	size_t msg_len, msg_cap;
	bool msg_binary;
	bool msg_compressed;
	/* permessage-deflate, when negotiated */
	bool deflate_on;
	ws_deflate_params deflate;
	ws_deflater *deflater; /* own compressor (server context takeover), else the env's */
	ws_inflater *inflater; /* created with the first compressed message */
	/* a control frame whose payload arrives in pieces (WS_FRAME_MAX_CONTROL bytes, allocated
	 * for it); one that arrives whole is handled where it lies */
	uint8_t *ctrl;
	/* output queue: a ring of chunk references; the first is written from out_off */
	ws_chunk **out;
	uint32_t out_head, out_count, out_cap;
	/* CLOSING: the loop time (32 bits, as last_read_ms) the peer was last seen taking bytes
	 * (a flush wrote some, or the kernel's unsent count changed), or CLOSING began. */
	uint32_t close_progress_ms;
	size_t out_off;
	size_t out_bytes;
	/* links */
	ws_conn *prev, *next;  /* the server's list of connections */
	ws_conn *pending_next; /* the server's flush list */
	ws_room_set rooms;     /* the rooms this connection is a member of */
	char *subprotocol;     /* negotiated, NUL-terminated, or NULL */
	void *user;            /* the binding's object */
	char remote_ip[WS_NET_ADDR_MAX];
	int remote_port;
	/* CLOSING: the kernel's unsent bytes (ws_net_unsent) at the last look. Here, in what was
	 * padding: the struct keeps its size. */
	uint32_t close_unsent;
};

/* Creates a connection for an accepted socket and starts reading; with tls, the TLS handshake
 * comes first (within the handshake timeout). Returns NULL on failure (the caller closes fd). */
ws_conn *ws_conn_new(ws_conn_env *env, int fd, uint64_t id, const struct sockaddr_storage *addr,
                     ws_tls_ctx *tls);

/* Creates a connection in `state` (HANDSHAKE, or OPEN for a socket handed over by a
 * predecessor worker) that reads fd; a handshake is bounded by its timeout. ws_conn_new
 * uses it; after a handoff the caller restores the rest of the state. */
ws_conn *ws_conn_adopt(ws_conn_env *env, int fd, uint64_t id, ws_conn_state state);

/* Sets the message being received to a copy of data[0, len) (a partial message carried over
 * by a handoff), within the receive budget. Returns 0 or WS_ENOMEM. */
int ws_conn_restore_message(ws_conn *c, const uint8_t *data, size_t len);

/* Queues bytes that are already frames (output carried over by a handoff). Takes a reference. */
int ws_conn_queue_raw(ws_conn *c, ws_chunk *chunk);

/* Frees a DONE connection; calls on_release first when c->user is set. */
void ws_conn_free(ws_conn *c);

/* Writes as much queued output as the socket takes (one writev per call, more only if the
 * first was complete and more is queued). Called by the server before the loop waits. */
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
 * when the payload was copied: shorter than WS_SEND_BORROW_MIN, or compressed). */
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

/* Arms the keep-alive deadline of an open connection from last_read_ms and its ping state
 * (after a handoff restored them; opening the connection does it by itself): silent for
 * idle_timeout_ms, it gets Close 1001 "idle timeout"; silent for ping_interval_ms, it gets a
 * Ping, and is dropped if still silent ping_interval_ms after it. Receiving bytes only notes
 * the time; the deadline, when it comes, looks at that time and waits on if it moved. */
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

/* Encodes one unmasked frame into a new chunk (one reference). NULL on failure. */
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
 * ws_conn_send. */
int ws_conn_send_frames(ws_conn *c, ws_frames *f);
void ws_frames_release(ws_frames *f);

/* Served over TLS. */
static inline bool ws_conn_is_secure(const ws_conn *c)
{
	return c->tls != NULL;
}

static inline bool ws_conn_is_open(const ws_conn *c)
{
	return c->state == WS_CONN_OPEN;
}

static inline uint64_t ws_conn_id(const ws_conn *c)
{
	return c->id;
}

/* Bytes queued and not yet accepted by the kernel (WebSocket's bufferedAmount). */
static inline size_t ws_conn_buffered(const ws_conn *c)
{
	return c->out_bytes;
}

static inline const char *ws_conn_remote_ip(const ws_conn *c)
{
	return c->remote_ip;
}

static inline int ws_conn_remote_port(const ws_conn *c)
{
	return c->remote_port;
}

/* The negotiated subprotocol, or NULL. */
static inline const char *ws_conn_subprotocol(const ws_conn *c)
{
	return c->subprotocol;
}

/* The binding's object for this connection (borrowed by the core; see on_release). */
static inline void *ws_conn_user(const ws_conn *c)
{
	return c->user;
}

static inline void ws_conn_set_user(ws_conn *c, void *user)
{
	c->user = user;
}

#endif
