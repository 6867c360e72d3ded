/* frame.h - RFC 6455 section 5 framing: an incremental parser for frames that a peer sends,
 * and writers for the frames we send. Pure functions over caller-owned buffers: no sockets,
 * no allocation. The parser also enforces the message-level rules that need no payload:
 * continuation without a started message, a new data frame inside a fragmented message,
 * RSV1 anywhere but on the first frame of a data message, control frame size and FIN. */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WS_FRAME_OP_CONT   0x0
#define WS_FRAME_OP_TEXT   0x1
#define WS_FRAME_OP_BINARY 0x2
#define WS_FRAME_OP_CLOSE  0x8
#define WS_FRAME_OP_PING   0x9
#define WS_FRAME_OP_PONG   0xA

#define WS_FRAME_MAX_HEADER  14 /* 2 + 8 (64-bit length) + 4 (mask) */
#define WS_FRAME_MAX_CONTROL 125

/* Close codes (RFC 6455 7.4.1 and the IANA registry). */
#define WS_CLOSE_NORMAL          1000
#define WS_CLOSE_GOING_AWAY      1001
#define WS_CLOSE_PROTOCOL_ERROR  1002
#define WS_CLOSE_UNSUPPORTED     1003
#define WS_CLOSE_NO_STATUS       1005 /* never sent: "the close frame had no code" */
#define WS_CLOSE_ABNORMAL        1006 /* never sent: "no close frame at all" */
#define WS_CLOSE_INVALID_DATA    1007
#define WS_CLOSE_POLICY          1008
#define WS_CLOSE_TOO_BIG         1009
#define WS_CLOSE_EXTENSION       1010
#define WS_CLOSE_INTERNAL_ERROR  1011
#define WS_CLOSE_SERVICE_RESTART 1012 /* a reload: reconnect */
#define WS_CLOSE_TRY_AGAIN       1013 /* overloaded: the receive budget is spent */

/* Parser state. Set the configuration fields, zero the rest (zero is the initial state). */
typedef struct ws_frame_parser {
	/* configuration */
	uint64_t max_frame_bytes; /* payload limit per frame; 0 means no limit */
	bool require_mask;        /* true on a server: unmasked client frames fail with 1002 */
	bool allow_rsv1;          /* true when an extension (permessage-deflate) defined RSV1 */
	bool defer_unmask;        /* data payloads are handed out still masked (see mask below) */
	/* state: private */
	uint8_t in_frame;   /* header consumed, payload bytes remain */
	uint8_t in_message; /* a fragmented data message is open */
	uint8_t opcode;     /* of the current frame */
	uint8_t fin;        /* of the current frame */
	uint8_t rsv1;       /* of the current frame */
	uint8_t masked;     /* of the current frame */
	uint8_t mask[4];    /* of the current frame */
	uint64_t frame_len; /* payload length of the current frame */
	uint64_t remaining; /* payload bytes of the current frame not yet returned */
	/* result of a failure */
	uint16_t close_code; /* 1002 or 1009 after WS_EPROTO / WS_ETOOBIG */
} ws_frame_parser;

/* One piece of one frame's payload, returned by ws_frame_parse. */
typedef struct ws_frame_chunk {
	uint8_t opcode;     /* the frame's opcode (WS_FRAME_OP_CONT for continuations) */
	bool fin;           /* the frame's FIN bit */
	bool rsv1;          /* the frame's RSV1 bit */
	bool first;         /* this chunk starts the frame (its header was just consumed) */
	bool last;          /* this chunk ends the frame (all payload returned) */
	uint64_t frame_len; /* the frame's whole payload length */
	uint8_t *data;      /* payload bytes; points into the caller's `in` */
	size_t len;         /* may be 0 (empty frame, or header without payload yet) */
	/* Zero, unless defer_unmask left a data frame's bytes masked: then the key that applies
	 * to data[0], for ws_frame_unmask_copy(dst, data, len, mask, 0). */
	uint8_t mask[4];
} ws_frame_chunk;

/* Parses as much of one frame as `len` allows and unmasks its payload bytes in place (with
 * defer_unmask, those of control frames only: a caller that copies data payloads anyway
 * unmasks them in the same pass, so the bytes are touched once instead of twice).
 * Returns bytes consumed (> 0) and fills *out; WS_EAGAIN, consuming nothing, while the 2-14
 * header bytes are incomplete (or len is 0); or WS_EPROTO / WS_ETOOBIG with p->close_code set
 * (1002, 1009) for the caller to send. After an error the parser must not be used again.
 * Never keeps a pointer into `in` beyond the call. Call again with the rest of the input. */
ssize_t ws_frame_parse(ws_frame_parser *p, uint8_t *in, size_t len, ws_frame_chunk *out);

/* Writes an unmasked (server) frame header for a payload of `len` bytes into out, which has
 * room for WS_FRAME_MAX_HEADER bytes. Returns the header length (2, 4 or 10). */
size_t ws_frame_write_header(uint8_t *out, uint8_t opcode, bool fin, bool rsv1, uint64_t len);

/* Same, for a client: sets the MASK bit and appends the 4 mask bytes (header 6, 8 or 14). */
size_t ws_frame_write_header_masked(uint8_t *out, uint8_t opcode, bool fin, bool rsv1, uint64_t len,
                                    const uint8_t mask[4]);

/* XORs data with the mask in place, as if `data` started `offset` bytes into the payload.
 * Works 64 bytes at a time with 16-byte vectors where the compiler has them (SSE2, NEON). */
void ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* Writes src XOR mask to dst (which must not overlap src), as ws_frame_mask does in place. */
void ws_frame_unmask_copy(uint8_t *restrict dst, const uint8_t *restrict src, size_t len,
                          const uint8_t mask[4], uint64_t offset);

/* Checks a Close frame's payload (RFC 6455 5.5.1, 7.4). On success sets *code (1005 when the
 * payload is empty) and the reason view, and returns 0. Returns WS_EPROTO for a 1-byte payload
 * or a code that may not be sent (below 1000, 1004-1006, 1015-2999, 5000 and above), and
 * WS_EUTF8 when the reason is not valid UTF-8 (the caller closes with 1007). */
int ws_frame_close_parse(const uint8_t *payload, size_t len, uint16_t *code, const uint8_t **reason,
                         size_t *reason_len);

/* True for a close code an endpoint may put on the wire. */
bool ws_frame_close_code_valid(unsigned code);

#endif
