/* exception.c - the one place core errors become PHP exceptions. */
#include "php_ws.h"
#include "zend_exceptions.h"

/* Throws a WebsocketException carrying the core's message and, as its code, the errno of a
 * failed system call (0 otherwise), so `$e->getCode() === SOCKET_EADDRINUSE` works. */
void php_ws_throw(const ws_err *err)
{
	zend_throw_exception(ws_exception_ce, err->msg, err->sys);
}
