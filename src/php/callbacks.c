/* callbacks.c - the core's hooks, turned into calls of the user's PHP callbacks.
 * Every call goes through php_ws_call: an exception thrown by a callback is caught at this
 * boundary and routed to the error event (or printed to stderr with its trace), so one
 * failing handler never takes the server or other clients down. exit() in a callback is the
 * exception to that rule: it drops every connection and unwinds out of start(). */
#include "php_ws.h"
#include "zend_exceptions.h"
#include "zend_interfaces.h"

void php_ws_callback_set(php_ws_callback *cb, zval *fn, zend_fcall_info_cache *fcc)
{
	php_ws_callback_release(cb);
	if (fn)
		ZVAL_COPY(&cb->fn, fn);
	else
		ZVAL_UNDEF(&cb->fn);
	cb->fcc = *fcc;
	cb->set = true;
}

void php_ws_callback_release(php_ws_callback *cb)
{
	if (cb->set)
		zval_ptr_dtor(&cb->fn);
	ZVAL_UNDEF(&cb->fn);
	cb->set = false;
}

static void print_uncaught(zend_object *ex, const char *where)
{
	zval str;
	ZVAL_UNDEF(&str);
	zend_call_known_instance_method_with_0_params(ex->ce->__tostring, ex, &str);
	if (EG(exception))
		zend_clear_exception();
	/* where is "in a callback" or the like; NULL for errors the server itself reports. */
	if (where)
		fprintf(stderr, "WebsocketServer: uncaught %s %s:\n%s\n", ZSTR_VAL(ex->ce->name), where,
		        Z_TYPE(str) == IS_STRING ? Z_STRVAL(str) : "(no description)");
	else
		fprintf(stderr, "WebsocketServer: %s\n",
		        Z_TYPE(str) == IS_STRING ? Z_STRVAL(str) : ZSTR_VAL(ex->ce->name));
	fflush(stderr);
	zval_ptr_dtor(&str);
}

/* exit() inside a callback: stop calling PHP, drop every connection, let the engine unwind. */
static void begin_exit(php_ws_server *srv)
{
	if (srv->exiting)
		return;
	srv->exiting = true;
	if (!srv->core)
		return;
	ws_server_stop_here(srv->core); /* a worker only: the master restarts it */
	ws_conn *c;
	while ((c = ws_server_first(srv->core)) != NULL)
		ws_conn_abort(c);
}

/* Hands ex (borrowed) to the error event, or prints it to stderr (see print_uncaught). */
static void route_error(php_ws_server *srv, zend_object *conn, zend_object *ex, const char *what)
{
	php_ws_callback *handler = &srv->events[PHP_WS_EV_ERROR];
	if (!handler->set || srv->exiting) {
		print_uncaught(ex, what);
		return;
	}
	zval args[2], rv;
	if (conn)
		ZVAL_OBJ(&args[0], conn);
	else
		ZVAL_NULL(&args[0]);
	ZVAL_OBJ(&args[1], ex);
	zend_call_known_function(handler->fcc.function_handler, handler->fcc.object,
	                         handler->fcc.called_scope, &rv, 2, args, NULL);
	zval_ptr_dtor(&rv);
	zend_object *again = EG(exception);
	if (again && zend_is_unwind_exit(again)) {
		begin_exit(srv);
	} else if (again) {
		/* The error handler itself failed: report both rather than loop. */
		GC_ADDREF(again);
		zend_clear_exception();
		print_uncaught(ex, what);
		print_uncaught(again, "in the error handler");
		OBJ_RELEASE(again);
	}
}

void php_ws_handle_exception(php_ws_server *srv, zend_object *conn)
{
	zend_object *ex = EG(exception);
	if (!ex)
		return;
	if (zend_is_unwind_exit(ex)) {
		begin_exit(srv);
		return;
	}
	GC_ADDREF(ex);
	zend_clear_exception();
	route_error(srv, conn, ex, "in a callback");
	OBJ_RELEASE(ex);
}

void php_ws_report(php_ws_server *srv, zend_object *conn, zend_string *message)
{
	zval ex;
	object_init_ex(&ex, ws_exception_ce);
	zend_update_property_str(zend_ce_exception, Z_OBJ(ex), "message", sizeof("message") - 1,
	                         message);
	route_error(srv, conn, Z_OBJ(ex), NULL);
	zval_ptr_dtor(&ex);
}

bool php_ws_call(php_ws_server *srv, php_ws_callback *cb, zend_object *conn, zval *retval,
                 uint32_t argc, zval *argv)
{
	zval rv;
	zval *out = retval ? retval : &rv;
	ZVAL_UNDEF(out);
	if (srv->exiting || !cb->set)
		return false;
	zend_call_known_function(cb->fcc.function_handler, cb->fcc.object, cb->fcc.called_scope, out,
	                         argc, argv, NULL);
	if (EG(exception)) {
		zval_ptr_dtor(out);
		ZVAL_UNDEF(out);
		php_ws_handle_exception(srv, conn);
		return false;
	}
	if (!retval)
		zval_ptr_dtor(&rv);
	return true;
}

/* ---- handshake and request answers ---- */

static bool header_ok(const char *s, size_t n, bool name)
{
	if (name && n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (name ? (ch <= 0x20 || ch >= 0x7f || ch == ':') : (ch == '\r' || ch == '\n' || !ch))
			return false;
	}
	return true;
}

static bool add_headers(php_ws_server *srv, zval *headers)
{
	if (Z_TYPE_P(headers) != IS_ARRAY) {
		zend_type_error("the \"headers\" entry of the answer must be of type array, %s given",
		                zend_zval_type_name(headers));
		return false;
	}
	zend_string *name;
	zval *value;
	ZEND_HASH_FOREACH_STR_KEY_VAL(Z_ARRVAL_P(headers), name, value) {
		if (!name || Z_TYPE_P(value) != IS_STRING) {
			zend_type_error("answer headers must be an array of string => string");
			return false;
		}
		/* Refuse CR/LF so that no value can smuggle a header or a second response. */
		if (!header_ok(ZSTR_VAL(name), ZSTR_LEN(name), true) ||
		    !header_ok(Z_STRVAL_P(value), Z_STRLEN_P(value), false)) {
			zend_value_error("answer header \"%s\" has an invalid name or value", ZSTR_VAL(name));
			return false;
		}
		smart_str_append(&srv->reply_headers, name);
		smart_str_appendl(&srv->reply_headers, ": ", 2);
		smart_str_append(&srv->reply_headers, Z_STR_P(value));
		smart_str_appendl(&srv->reply_headers, "\r\n", 2);
	}
	ZEND_HASH_FOREACH_END();
	return true;
}

static bool status_ok(zend_long status)
{
	if (status >= 100 && status <= 599)
		return true;
	zend_value_error(
	    "the answer's HTTP status must be between 100 and 599, " ZEND_LONG_FMT " given", status);
	return false;
}

/* Reads an answer array: status, headers, body, and (upgrades only) protocol. */
static bool answer_from_array(php_ws_server *srv, HashTable *a, ws_reply *reply,
                              const ws_http_request *req)
{
	bool upgrade = req != NULL;
	zval *v;
	zend_string *key;
	ZEND_HASH_FOREACH_STR_KEY(a, key) {
		if (!key || (!zend_string_equals_literal(key, "status") &&
		             !zend_string_equals_literal(key, "headers") &&
		             !zend_string_equals_literal(key, "body") &&
		             !(upgrade && zend_string_equals_literal(key, "protocol")))) {
			zend_value_error("unknown key \"%s\" in the answer; use status, headers, body%s",
			                 key ? ZSTR_VAL(key) : "(integer)", upgrade ? ", protocol" : "");
			return false;
		}
	}
	ZEND_HASH_FOREACH_END();
	reply->status = upgrade ? 101 : 200;
	if ((v = zend_hash_str_find_deref(a, "status", 6)) != NULL) {
		if (Z_TYPE_P(v) != IS_LONG) {
			zend_type_error("the answer's \"status\" must be of type int, %s given",
			                zend_zval_type_name(v));
			return false;
		}
		if (!status_ok(Z_LVAL_P(v)))
			return false;
		reply->status = (int)Z_LVAL_P(v);
	}
	if ((v = zend_hash_str_find_deref(a, "headers", 7)) != NULL && !add_headers(srv, v))
		return false;
	if ((v = zend_hash_str_find_deref(a, "body", 4)) != NULL) {
		if (Z_TYPE_P(v) != IS_STRING) {
			zend_type_error("the answer's \"body\" must be of type string, %s given",
			                zend_zval_type_name(v));
			return false;
		}
		reply->body = Z_STRVAL_P(v);
		reply->body_len = Z_STRLEN_P(v);
	}
	if (upgrade && (v = zend_hash_str_find_deref(a, "protocol", 8)) != NULL) {
		if (Z_TYPE_P(v) != IS_STRING) {
			zend_type_error("the answer's \"protocol\" must be of type string, %s given",
			                zend_zval_type_name(v));
			return false;
		}
		/* Only a protocol the client offered may be chosen (RFC 6455 4.2.2), which also keeps
		 * CR and LF out of the response. */
		if (Z_STRLEN_P(v) && !ws_conn_protocol_offered(req, Z_STRVAL_P(v), Z_STRLEN_P(v))) {
			zend_value_error("the answer's \"protocol\" must be one that the client offered in "
			                 "Sec-WebSocket-Protocol");
			return false;
		}
		reply->protocol = Z_STRVAL_P(v);
		reply->protocol_len = Z_STRLEN_P(v);
	}
	return true;
}

/* Turns what onHandshake (req set) or onRequest (req NULL) returned into a reply. The zval is
 * kept in srv->reply so the strings it holds outlive the hook. Returns false with an exception
 * pending. */
static bool answer(php_ws_server *srv, zval *ret, ws_reply *reply, const ws_http_request *req)
{
	bool upgrade = req != NULL;
	zval_ptr_dtor(&srv->reply);
	ZVAL_UNDEF(&srv->reply);
	if (EG(exception)) /* the previous answer's destructor threw */
		php_ws_handle_exception(srv, NULL);
	ZVAL_COPY(&srv->reply, ret);
	smart_str_free(&srv->reply_headers);
	ret = &srv->reply;
	ZVAL_DEREF(ret);
	switch (Z_TYPE_P(ret)) {
	case IS_NULL:
	case IS_TRUE:
		return true;
	case IS_FALSE:
		reply->status = 403;
		return true;
	case IS_LONG:
		if (!status_ok(Z_LVAL_P(ret)))
			return false;
		reply->status = (int)Z_LVAL_P(ret);
		return true;
	case IS_STRING:
		if (upgrade)
			goto wrong_type;
		reply->status = 200;
		reply->body = Z_STRVAL_P(ret);
		reply->body_len = Z_STRLEN_P(ret);
		smart_str_appends(&srv->reply_headers, "Content-Type: text/html; charset=utf-8\r\n");
		break;
	case IS_ARRAY:
		if (!answer_from_array(srv, Z_ARRVAL_P(ret), reply, req))
			return false;
		break;
	default:
		goto wrong_type;
	}
	smart_str_0(&srv->reply_headers);
	if (srv->reply_headers.s) {
		reply->headers = ZSTR_VAL(srv->reply_headers.s);
		reply->headers_len = ZSTR_LEN(srv->reply_headers.s);
	}
	return true;

wrong_type:
	zend_type_error("%s must return %s, %s returned", upgrade ? "onHandshake" : "onRequest",
	                upgrade ? "null, bool, int or array" : "null, string, int or array",
	                zend_zval_type_name(ret));
	return false;
}

static void ask_user(php_ws_server *srv, php_ws_event ev, ws_conn *c, ws_reply *reply,
                     const ws_http_request *req)
{
	zend_object *obj = ws_conn_user(c);
	zval arg, ret;
	ZVAL_OBJ(&arg, obj);
	if (!php_ws_call(srv, &srv->events[ev], obj, &ret, 1, &arg)) {
		reply->status = 500;
		return;
	}
	if (!answer(srv, &ret, reply, req)) {
		php_ws_handle_exception(srv, obj);
		memset(reply, 0, sizeof(*reply));
		reply->status = 500;
	}
	zval_ptr_dtor(&ret);
}

static void hook_handshake(void *owner, ws_conn *c, const ws_http_request *req, ws_reply *reply)
{
	php_ws_server *srv = owner;
	if (srv->exiting) {
		reply->status = 503;
		return;
	}
	/* Nothing will look at the connection before its first message: no object yet. */
	if (!srv->events[PHP_WS_EV_HANDSHAKE].set && !srv->events[PHP_WS_EV_OPEN].set) {
		php_ws_connection_defer(c, req);
		return;
	}
	/* The core holds this reference until on_release. */
	ws_conn_set_user(c, php_ws_connection_create(srv, c, req));
	if (srv->events[PHP_WS_EV_HANDSHAKE].set)
		ask_user(srv, PHP_WS_EV_HANDSHAKE, c, reply, req);
}

static void hook_request(void *owner, ws_conn *c, const ws_http_request *req, ws_reply *reply)
{
	php_ws_server *srv = owner;
	if (srv->exiting || !srv->events[PHP_WS_EV_REQUEST].set)
		return;
	ws_conn_set_user(c, php_ws_connection_create(srv, c, req));
	ask_user(srv, PHP_WS_EV_REQUEST, c, reply, NULL);
}

static void hook_open(void *owner, ws_conn *c)
{
	php_ws_server *srv = owner;
	void *user = ws_conn_user(c);
	if (!user || (php_ws_connection_is_packed(user) && !srv->events[PHP_WS_EV_OPEN].set))
		return; /* a packed request gets its subprotocol when its object is made */
	zend_object *obj = php_ws_connection_object(srv, c);
	if (ws_conn_subprotocol(c))
		php_ws_connection_set_subprotocol(obj, ws_conn_subprotocol(c));
	zval arg;
	ZVAL_OBJ(&arg, obj);
	php_ws_call(srv, &srv->events[PHP_WS_EV_OPEN], obj, NULL, 1, &arg);
}

/* Messages are assembled straight into a zend_string of their final size (or grown in place
 * for fragmented ones), so the bytes are copied once from the socket buffer into PHP.
 * Zend ends the process with a fatal error when an allocation would pass memory_limit, which
 * would drop every client for the sake of one: storage that would come within a chunk (2 MiB)
 * of the limit is refused here instead, and the core closes only that connection (1013). */
static bool memory_allows(size_t cap)
{
	zend_long limit = PG(memory_limit);
	if (limit <= 0)
		return true;
	size_t used = zend_memory_usage(true);
	size_t headroom = 2 * 1024 * 1024;
	return used < (size_t)limit && cap < (size_t)limit - used &&
	       headroom <= (size_t)limit - used - cap;
}

static void *msg_alloc(void *owner, size_t cap, uint8_t **data)
{
	(void)owner;
	if (!memory_allows(cap))
		return NULL;
	zend_string *s = zend_string_alloc(cap, 0);
	*data = (uint8_t *)ZSTR_VAL(s);
	return s;
}

static void *msg_grow(void *owner, void *msg, size_t cap, uint8_t **data)
{
	(void)owner;
	if (!memory_allows(cap))
		return NULL;
	zend_string *s = zend_string_realloc(msg, cap, 0);
	*data = (uint8_t *)ZSTR_VAL(s);
	return s;
}

static void msg_free(void *owner, void *msg)
{
	(void)owner;
	zend_string_efree(msg);
}

static void hook_message(void *owner, ws_conn *c, void *msg, size_t len, bool binary)
{
	php_ws_server *srv = owner;
	zend_string *s = msg;
	zend_object *obj = srv->events[PHP_WS_EV_MESSAGE].set ? php_ws_connection_object(srv, c) : NULL;
	if (len != ZSTR_LEN(s))
		s = zend_string_truncate(s, len, 0);
	ZSTR_VAL(s)[len] = '\0';
	if (obj && srv->events[PHP_WS_EV_MESSAGE].set) {
		zval args[3];
		ZVAL_OBJ(&args[0], obj);
		ZVAL_STR(&args[1], s);
		ZVAL_BOOL(&args[2], binary);
		php_ws_call(srv, &srv->events[PHP_WS_EV_MESSAGE], obj, NULL, 3, args);
	}
	zend_string_release(s);
}

static void hook_close(void *owner, ws_conn *c, uint16_t code, const char *reason,
                       size_t reason_len)
{
	php_ws_server *srv = owner;
	if (!ws_conn_user(c) || !srv->events[PHP_WS_EV_CLOSE].set)
		return;
	zend_object *obj = php_ws_connection_object(srv, c);
	zval args[3];
	ZVAL_OBJ(&args[0], obj);
	ZVAL_LONG(&args[1], code);
	ZVAL_STRINGL(&args[2], reason, reason_len);
	php_ws_call(srv, &srv->events[PHP_WS_EV_CLOSE], obj, NULL, 3, args);
	zval_ptr_dtor(&args[2]);
}

static void hook_release(void *owner, ws_conn *c)
{
	if (php_ws_connection_drop_packed(c))
		return;
	zend_object *obj = ws_conn_user(c);
	php_ws_connection_from_obj(obj)->conn = NULL;
	ws_conn_set_user(c, NULL);
	/* The last reference may run user destructors ($conn->data): route what they throw. */
	OBJ_RELEASE(obj);
	if (EG(exception))
		php_ws_handle_exception(owner, NULL);
}

static void hook_drain(void *owner, ws_conn *c)
{
	php_ws_server *srv = owner;
	if (!ws_conn_user(c) || !srv->events[PHP_WS_EV_DRAIN].set)
		return;
	zend_object *obj = php_ws_connection_object(srv, c);
	zval arg;
	ZVAL_OBJ(&arg, obj);
	php_ws_call(srv, &srv->events[PHP_WS_EV_DRAIN], obj, NULL, 1, &arg);
}

static void hook_overflow(void *owner, ws_conn *c, size_t queued)
{
	php_ws_server *srv = owner;
	if (srv->exiting)
		return;
	zend_string *msg =
	    zend_strpprintf(0,
	                    "connection " ZEND_LONG_FMT " does not read: %zu bytes "
	                    "were queued (max_output_buffer %zu); closing it with "
	                    "1008",
	                    (zend_long)ws_conn_id(c), queued, (size_t)srv->cfg.max_output_bytes);
	php_ws_report(srv, php_ws_connection_object(srv, c), msg);
	zend_string_release(msg);
}

static void hook_bus_overflow(void *owner, uint64_t dropped)
{
	php_ws_server *srv = owner;
	if (srv->exiting)
		return;
	zend_string *msg = zend_strpprintf(0,
	                                   "the bus to the other workers is full (bus_buffer_size "
	                                   "%zu): %" PRIu64 " messages for them were dropped",
	                                   srv->bus_max, dropped);
	php_ws_report(srv, NULL, msg);
	zend_string_release(msg);
}

static uint8_t *hook_handoff_save(void *owner, ws_conn *c, size_t *len)
{
	zend_object *obj = php_ws_connection_object(owner, c);
	return obj ? php_ws_connection_save(owner, obj, len) : NULL;
}

static void hook_handoff_restore(void *owner, ws_conn *c, const uint8_t *blob, size_t len)
{
	php_ws_connection_restore(owner, c, blob, len);
}

const ws_server_hooks php_ws_hooks = {
    .on_handshake = hook_handshake,
    .on_request = hook_request,
    .on_open = hook_open,
    .msg_alloc = msg_alloc,
    .msg_grow = msg_grow,
    .msg_free = msg_free,
    .on_message = hook_message,
    .on_close = hook_close,
    .on_release = hook_release,
    .on_drain = hook_drain,
    .on_overflow = hook_overflow,
    .on_bus_overflow = hook_bus_overflow,
    .handoff_save = hook_handoff_save,
    .handoff_restore = hook_handoff_restore,
};
