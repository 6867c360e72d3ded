/* err.h - result codes shared by every core module, and the setup-error record.
 * Core functions return 0, a count, or one of the negative WS_E* codes below.
 * Peer mistakes are not errors of the caller: a parser that returns WS_EPROTO also
 * says which close code (or HTTP status) the peer must be sent. */
#ifndef WS_ERR_H
#define WS_ERR_H

#define WS_OK      0
#define WS_EAGAIN  (-1) /* need more input (or the socket would block): normal flow */
#define WS_EPROTO  (-2) /* the peer broke the protocol */
#define WS_ETOOBIG (-3) /* a configured limit was exceeded */
#define WS_EUTF8   (-4) /* invalid UTF-8 where text is required */
#define WS_ENOMEM  (-5) /* allocation failed */
#define WS_EINVAL  (-6) /* invalid argument or configuration */
#define WS_ESYS    (-7) /* a system call failed; errno is kept in ws_err.sys */
#define WS_ECLOSED (-8) /* the connection is closing or closed */

/* Filled by setup functions (listen, config) for the caller to report. */
typedef struct ws_err {
	int code;      /* WS_E* */
	int sys;       /* errno for WS_ESYS, else 0 */
	char msg[256]; /* short, complete sentence naming what failed */
} ws_err;

/* Sets err (may be NULL) and returns code, for `return ws_err_set(...)`. */
int ws_err_set(ws_err *err, int code, int sys, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
