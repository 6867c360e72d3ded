/* websocket.c - module entry: registers the classes declared in websocket.stub.php, hands
 * them to src/php for their object handlers, and describes the build in phpinfo(). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "php.h"
#include "ext/standard/info.h"
#include "zend_attributes.h"
#include "zend_exceptions.h"
#include "php_websocket.h"
#include "src/php/php_ws.h"
#include "websocket_arginfo.h"

#include <openssl/opensslv.h>
#include <zlib.h>

zend_class_entry *ws_server_ce;
zend_class_entry *ws_connection_ce;
zend_class_entry *ws_exception_ce;

static PHP_MINIT_FUNCTION(websocket)
{
	ws_exception_ce = register_class_WebsocketException(zend_ce_exception);
	ws_server_ce = register_class_WebsocketServer();
	ws_connection_ce = register_class_WebsocketConnection();
	php_ws_server_setup(ws_server_ce);
	php_ws_connection_setup(ws_connection_ce);
	return SUCCESS;
}

static PHP_MINFO_FUNCTION(websocket)
{
	php_info_print_table_start();
	php_info_print_table_header(2, "WebSocket server support", "enabled");
	php_info_print_table_row(2, "Version", PHP_WEBSOCKET_VERSION);
	php_info_print_table_row(2, "RFC 6455 (WebSocket protocol)", "yes");
	php_info_print_table_row(2, "Event loop", ws_server_loop_backend());
	php_info_print_table_row(2, "Multi-process workers", "yes");
	php_info_print_table_row(2, "TLS (wss://)", "yes");
	php_info_print_table_row(2, "permessage-deflate (RFC 7692)", "yes");
	php_info_print_table_row(2, "OpenSSL headers", OPENSSL_VERSION_TEXT);
	php_info_print_table_row(2, "zlib headers", ZLIB_VERSION);
	php_info_print_table_end();
}

zend_module_entry websocket_module_entry = {
    STANDARD_MODULE_HEADER,
    "websocket",
    NULL,
    PHP_MINIT(websocket),
    NULL,
    NULL,
    NULL,
    PHP_MINFO(websocket),
    PHP_WEBSOCKET_VERSION,
    STANDARD_MODULE_PROPERTIES,
};

#ifdef COMPILE_DL_WEBSOCKET
ZEND_DLEXPORT zend_module_entry *get_module(void);
ZEND_GET_MODULE(websocket)
#endif
