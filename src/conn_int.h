/* conn_int.h - what conn.c (framing, messages, output, closing) and upgrade.c (the opening
 * handshake) share about a connection. Private to those two files. */
#ifndef WS_CONN_INT_H
#define WS_CONN_INT_H

#include "conn.h"

/* conn.c */
int ws_conn_queue(ws_conn *c, ws_chunk *chunk);  /* takes the caller's reference; WS_ENOMEM */
void ws_conn_set_timer(ws_conn *c, uint32_t ms); /* 0 stops it; firing finishes c */
void ws_conn_finish(ws_conn *c);                 /* DONE now: close, report, free later */
void ws_conn_start_closing(ws_conn *c);          /* CLOSING now; starts the close deadline */

/* upgrade.c: parses the request head at the start of buf[0, len) (every byte received so far)
 * and answers it. Returns the bytes consumed: 0 while the head is incomplete, the head's
 * length, or everything after a failure. */
size_t ws_conn_upgrade(ws_conn *c, const uint8_t *buf, size_t len);

#endif
