/* php_ws.h - private declarations shared by the binding layer (src/php): the object
 * structs of WebsocketServer and WebsocketConnection, event slots, and the helpers each file
 * exports to the others. Only src/php and websocket.c include Zend headers. */
#ifndef PHP_WS_H
#define PHP_WS_H

#include "php.h"
#include "zend_smart_str.h"
#include "../../php_websocket.h"
#include "../server.h"
#include "../master.h"

typedef enum php_ws_event {
	PHP_WS_EV_OPEN = 0,
	PHP_WS_EV_MESSAGE,
	PHP_WS_EV_CLOSE,
	PHP_WS_EV_ERROR,
	PHP_WS_EV_HANDSHAKE,
	PHP_WS_EV_REQUEST,
	PHP_WS_EV_WORKER_START,
	PHP_WS_EV_WORKER_STOP,
	PHP_WS_EV_DRAIN,
	PHP_WS_EV_COUNT
} php_ws_event;

/* A callable ready to be called: the zval keeps it alive, fcc makes calls cheap. */
typedef struct php_ws_callback {
	zval fn;
	zend_fcall_info_cache fcc;
	bool set;
} php_ws_callback;

typedef struct php_ws_timer {
	zend_long id;
	ws_timer *timer;
	php_ws_callback cb;
	struct php_ws_server *server;
	bool repeat;
	bool running;   /* its callback is executing */
	bool cancelled; /* cleared while running: freed when the callback returns */
} php_ws_timer;

typedef struct php_ws_server {
	ws_server *core;
	ws_server_config cfg;
	zval config;                             /* the effective configuration, for getConfig() */
	php_ws_callback on[PHP_WS_EV_COUNT];     /* registered with on() */
	php_ws_callback events[PHP_WS_EV_COUNT]; /* what start() resolved: on() or a method */
	HashTable timers;                        /* id => php_ws_timer* */
	zend_long next_timer_id;
	ws_deflate_config deflate; /* 'compression', when on (cfg.deflate points here) */
	ws_tls_config tls;         /* 'tls', when set (cfg.tls points here; strings borrowed) */
	unsigned workers;          /* from the config */
	size_t bus_max;
	uint32_t reload_timeout_ms;
	const char *pid_file;   /* borrowed from config, or NULL */
	ws_stats *worker_stats; /* in a worker process: the shared area (see ws_master_run) */
	int worker_id;          /* -1 before start() */
	int master_port;        /* with workers > 1: the port the master bound */
	int master_tls_port;    /* ... and its extra TLS port, or -1 */
	bool pid_file_written;
	zval reply;              /* the last handshake/request answer, kept alive */
	smart_str reply_headers; /* its headers as "Name: value\r\n" lines */
	bool running;
	bool started;
	bool exiting; /* exit() was called in a callback: unwind without calling PHP again */
	zend_object std;
} php_ws_server;

typedef struct php_ws_connection {
	ws_conn *conn; /* NULL once the core released the connection */
	php_ws_server *server;
	zend_object std;
} php_ws_connection;

/* Declared property slots of WebsocketConnection, in stub order. */
enum {
	PHP_WS_PROP_ID = 0,
	PHP_WS_PROP_REMOTE_ADDRESS,
	PHP_WS_PROP_REMOTE_PORT,
	PHP_WS_PROP_METHOD,
	PHP_WS_PROP_PATH,
	PHP_WS_PROP_QUERY,
	PHP_WS_PROP_HEADERS,
	PHP_WS_PROP_SUBPROTOCOL,
	PHP_WS_PROP_DATA,
};

static inline php_ws_server *php_ws_server_from_obj(zend_object *obj)
{
	return (php_ws_server *)((char *)obj - XtOffsetOf(php_ws_server, std));
}
#define Z_WS_SERVER_P(zv) php_ws_server_from_obj(Z_OBJ_P(zv))

static inline php_ws_connection *php_ws_connection_from_obj(zend_object *obj)
{
	return (php_ws_connection *)((char *)obj - XtOffsetOf(php_ws_connection, std));
}
#define Z_WS_CONNECTION_P(zv) php_ws_connection_from_obj(Z_OBJ_P(zv))

/* exception.c */
void php_ws_throw(const ws_err *err);

/* config.c: fills srv->cfg and srv->config from the user's array; throws and returns FAILURE
 * on an unknown key, a wrong type or a value out of range. */
zend_result php_ws_config_parse(php_ws_server *srv, HashTable *user);
void php_ws_config_release(php_ws_server *srv);

/* connection.c: installs the object handlers on the class registered by websocket.c */
void php_ws_connection_setup(zend_class_entry *ce);
zend_object *php_ws_connection_create(php_ws_server *srv, ws_conn *c, const ws_http_request *req);
void php_ws_connection_set_subprotocol(zend_object *obj, const char *protocol);
/* Keeps c's request packed instead of making its object now (see connection.c); the core's
 * user pointer then has its low bit set. */
static inline bool php_ws_connection_is_packed(const void *user)
{
	return ((uintptr_t)user & 1) != 0;
}
void php_ws_connection_defer(ws_conn *c, const ws_http_request *req);
/* c's object, made now from its packed request if need be; NULL when it has none. */
zend_object *php_ws_connection_object(php_ws_server *srv, ws_conn *c);
/* Frees a packed request (true), or does nothing for an object (false). */
bool php_ws_connection_drop_packed(ws_conn *c);
/* Reload handoff: the connection's request properties, data and dynamic properties as a
 * serialized blob (allocated with ws_malloc), and the object rebuilt from it in the
 * successor (set as c's user object). */
uint8_t *php_ws_connection_save(php_ws_server *srv, zend_object *obj, size_t *len);
void php_ws_connection_restore(php_ws_server *srv, ws_conn *c, const uint8_t *blob, size_t len);
/* Throws a ValueError unless code may be sent in a Close frame (argument reason_arg - 1) and
 * reason fits one and is UTF-8 (argument reason_arg). */
bool php_ws_check_close(zend_long code, zend_string *reason, uint32_t reason_arg);
/* Throws a ValueError for argument arg_num unless room is 1 to WS_ROOM_NAME_MAX bytes. */
bool php_ws_check_room(zend_string *room, uint32_t arg_num);
/* Throws a ValueError for argument arg_num and returns false unless data is valid UTF-8. */
bool php_ws_check_text(zend_string *data, uint32_t arg_num);
/* The release function of a PHP string lent to a send (ws_conn_send_borrowed, ws_server_send)
 * with zend_string_copy(): the queue holds that reference until the bytes are written, and PHP
 * separates a string with two references before anyone changes it. */
void php_ws_string_release(void *arg);

/* callbacks.c */
void php_ws_callback_set(php_ws_callback *cb, zval *fn, zend_fcall_info_cache *fcc);
void php_ws_callback_release(php_ws_callback *cb);
/* Calls cb; an exception it throws is routed to the error event (conn may be NULL). Returns
 * true when the call completed without an exception. retval may be NULL. */
bool php_ws_call(php_ws_server *srv, php_ws_callback *cb, zend_object *conn, zval *retval,
                 uint32_t argc, zval *argv);
/* Routes the pending exception (EG(exception)) to the error event or stderr. */
void php_ws_handle_exception(php_ws_server *srv, zend_object *conn);
/* Reports a server-side problem as a WebsocketException to the error event or stderr. */
void php_ws_report(php_ws_server *srv, zend_object *conn, zend_string *message);
extern const ws_server_hooks php_ws_hooks;

/* server.c: installs the object handlers on the class registered by websocket.c */
void php_ws_server_setup(zend_class_entry *ce);
/* The server of $this in a method, or NULL with an Error thrown when its constructor did not
 * run. */
php_ws_server *php_ws_server_this(zval *this_zv);

/* timers.c: stops and frees every timer of srv (when it stops running, and when it is freed). */
void php_ws_timers_release(php_ws_server *srv);

#endif
