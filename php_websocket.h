/* php_websocket.h - module entry, version, and the class entries other extensions may use. */
#ifndef PHP_WEBSOCKET_H
#define PHP_WEBSOCKET_H

#include "php.h"

#define PHP_WEBSOCKET_VERSION "0.1.0"

extern zend_module_entry websocket_module_entry;
#define phpext_websocket_ptr &websocket_module_entry

extern zend_class_entry *ws_server_ce;
extern zend_class_entry *ws_connection_ce;
extern zend_class_entry *ws_exception_ce;

#endif
