/* conn_int.h - the connection itself, and what the files of the connection module
 * (src/conn_*.c: conn_life.c life and deadlines, conn_in.c input, conn_out.c output,
 * conn_upgrade.c the opening handshake, conn_save.c save and restore) share: their helpers
 * across files, named ws__conn_*. Included by those files only (tests/lint.sh checks it). */
#ifndef WS_CONN_INT_H
#define WS_CONN_INT_H

#include "conn.h"
#include "utf8.h"

struct ws_conn {
	ws_conn_node node; /* the server's, never read here; first (see ws_conn_node_of) */
	ws_io io;
	ws_conn_env *env;
	uint64_t id;
	ws_conn_state state;
	ws_conn_role role;
	bool opened;               /* on_open was reported */
	bool close_sent;           /* our Close frame is queued */
	bool close_received;       /* the peer's Close frame arrived */
	bool shutdown_after_flush; /* shut down writing once the queue is empty */
	bool flush_asked;          /* env->want_flush was called; no flush has run since */
	bool read_paused;          /* input ignored (after failing the connection) */
	bool needs_drain; /* the kernel refused output: report on_drain when the queue empties */
	bool overflowed;  /* on_overflow is due */
	bool ping_sent;   /* a keep-alive ping is unanswered */
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
	 * with idle_timeout_ms or ping_interval_ms) or the parking of idle codecs (codec_idle_ms),
	 * CLOSING the close timeout (see close_progress_ms), LINGER the wait for the peer's EOF. */
	ws_wheel_node timer;
	ws_tls *tls; /* wss://: the session, or NULL for plain TCP */
	ws_buf in;   /* unparsed input carried between reads (partial heads/headers) */
	ws_http_parser http;
	ws_frame_parser frames; /* configured by ws__conn_configure_parser */
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
	char *subprotocol; /* negotiated, NUL-terminated, or NULL */
	void *user;        /* the binding's object */
	char remote_ip[WS_NET_ADDR_MAX];
	int remote_port;
	/* CLOSING: the kernel's unsent bytes (ws_net_unsent) at the last look. */
	uint32_t close_unsent;
	/* The loop time (32 bits, as last_read_ms) our own codecs last handled a message. */
	uint32_t codec_used_ms;
};

_Static_assert(offsetof(struct ws_conn, node) == 0,
               "ws_conn_node_of needs the node at the start of the connection");

/* conn_life.c */
/* A zeroed connection of `role` reading fd, not yet in any state's deadline. NULL on failure
 * (the caller closes fd). */
ws_conn *ws__conn_create(ws_conn_env *env, int fd, uint64_t id, ws_conn_role role);
/* Sets the frame parser's configuration from the role, the limits and deflate_on. */
void ws__conn_configure_parser(ws_conn *c);
/* Frees what a connection that never reached env->done holds (a failed restore). */
void ws__conn_destroy(ws_conn *c);
void ws__conn_set_timer(ws_conn *c, uint32_t ms); /* 0 stops it; firing finishes c */
void ws__conn_finish(ws_conn *c);                 /* DONE now: close, report, free later */
void ws__conn_start_closing(ws_conn *c);          /* CLOSING now; starts the close deadline */
void ws__conn_want_flush(ws_conn *c);             /* asks the server for a flush, once */
/* Called after a message went through c's codecs: those that keep a context between messages
 * (its own deflater, an inflater with client context takeover) are parked once idle for
 * limits->codec_idle_ms (the open connection's deadline takes care of it); nothing otherwise. */
void ws__conn_codec_used(ws_conn *c);

/* conn_in.c */
void ws__conn_on_io(ws_loop *loop, ws_io *io, unsigned events); /* the socket's callback */
void ws__conn_release_message(ws_conn *c); /* frees the message being received, if any */
/* Resizes the message being received to cap bytes; `held` storage counts against the receive
 * budget. False when the budget or the allocator refuses. */
bool ws__conn_message_storage(ws_conn *c, size_t cap, bool held);

/* conn_out.c */
int ws__conn_queue(ws_conn *c, ws_chunk *chunk); /* takes the caller's reference; WS_ENOMEM */
/* Queues one frame (copied); small ones share a chunk. Returns 0 or WS_ENOMEM. */
int ws__conn_queue_frame(ws_conn *c, uint8_t opcode, const uint8_t *data, size_t len);
/* Queues our Close frame (1005: one without a code) and notes it was sent. */
int ws__conn_queue_close(ws_conn *c, uint16_t code, const char *reason, size_t reason_len);
/* The output limit before an application frame or a Pong: 0, WS_ECLOSED or WS_ETOOBIG. */
int ws__conn_admit(ws_conn *c);
void ws__conn_drop_output(ws_conn *c); /* unrefs every queued chunk */
/* Makes room in the output ring for n more chunks. Returns 0 or WS_ENOMEM. */
int ws__conn_reserve_out(ws_conn *c, uint32_t n);

/* conn_upgrade.c: parses the request head at the start of buf[0, len) (every byte received so
 * far) and answers it. Returns the bytes consumed: 0 while the head is incomplete, the head's
 * length, or everything after a failure. */
size_t ws__conn_upgrade(ws_conn *c, const uint8_t *buf, size_t len);

#endif
