/* conn_int.h - what the files of the connection module (src/conn_*.c) share about a
 * connection: their helpers across files, named ws__conn_*. Private to those files. */
#ifndef WS_CONN_INT_H
#define WS_CONN_INT_H

#include "conn.h"

/* conn.c */
void ws__conn_set_timer(ws_conn *c, uint32_t ms); /* 0 stops it; firing finishes c */
void ws__conn_finish(ws_conn *c);                 /* DONE now: close, report, free later */
void ws__conn_start_closing(ws_conn *c);          /* CLOSING now; starts the close deadline */

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

/* conn_upgrade.c: parses the request head at the start of buf[0, len) (every byte received so
 * far) and answers it. Returns the bytes consumed: 0 while the head is incomplete, the head's
 * length, or everything after a failure. */
size_t ws__conn_upgrade(ws_conn *c, const uint8_t *buf, size_t len);

#endif
