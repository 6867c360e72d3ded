/* server.c - WebsocketServer: configuration, event registration, start/stop, sending to ids,
 * broadcasting, connection lookup and timers. The event loop runs inside start(); every PHP
 * callback is made from there through callbacks.c. */
#include "php_ws.h"
#include "zend_exceptions.h"

static zend_object_handlers server_handlers;

static const struct {
	const char *name;   /* for on() */
	const char *method; /* lower-case method name of a subclass */
} event_names[PHP_WS_EV_COUNT] = {
    [PHP_WS_EV_OPEN] = {"open", "onopen"},
    [PHP_WS_EV_MESSAGE] = {"message", "onmessage"},
    [PHP_WS_EV_CLOSE] = {"close", "onclose"},
    [PHP_WS_EV_ERROR] = {"error", "onerror"},
    [PHP_WS_EV_HANDSHAKE] = {"handshake", "onhandshake"},
    [PHP_WS_EV_REQUEST] = {"request", "onrequest"},
    [PHP_WS_EV_WORKER_START] = {"workerStart", "onworkerstart"},
    [PHP_WS_EV_WORKER_STOP] = {"workerStop", "onworkerstop"},
    [PHP_WS_EV_DRAIN] = {"drain", "ondrain"},
};

/* ---- object life ---- */

static zend_object *server_create_object(zend_class_entry *ce)
{
	php_ws_server *srv = zend_object_alloc(sizeof(php_ws_server), ce);
	zend_object_std_init(&srv->std, ce);
	object_properties_init(&srv->std, ce);
	srv->std.handlers = &server_handlers;
	ZVAL_UNDEF(&srv->config);
	ZVAL_UNDEF(&srv->reply);
	zend_hash_init(&srv->timers, 8, NULL, NULL, 0);
	return &srv->std;
}

static void timer_free(php_ws_timer *t)
{
	php_ws_callback_release(&t->cb);
	efree(t);
}

static void php_ws_timers_release(php_ws_server *srv)
{
	php_ws_timer *t;
	ZEND_HASH_FOREACH_PTR(&srv->timers, t) {
		if (srv->core && t->timer)
			ws_server_timer_stop(srv->core, t->timer);
		timer_free(t);
	}
	ZEND_HASH_FOREACH_END();
	zend_hash_clean(&srv->timers);
}

static void server_free_object(zend_object *obj)
{
	php_ws_server *srv = php_ws_server_from_obj(obj);
	php_ws_timers_release(srv);
	zend_hash_destroy(&srv->timers);
	ws_server_free(srv->core);
	for (int i = 0; i < PHP_WS_EV_COUNT; i++) {
		php_ws_callback_release(&srv->on[i]);
		php_ws_callback_release(&srv->events[i]);
	}
	if (Z_TYPE(srv->config) != IS_UNDEF)
		php_ws_config_release(srv);
	zval_ptr_dtor(&srv->reply);
	smart_str_free(&srv->reply_headers);
	zend_object_std_dtor(obj);
}

/* Reports the callables and timers the server holds, so closures that capture the server
 * itself ($server->on('message', fn() => $server->broadcast(...))) can be collected. */
static HashTable *server_get_gc(zend_object *obj, zval **table, int *n)
{
	php_ws_server *srv = php_ws_server_from_obj(obj);
	zend_get_gc_buffer *buf = zend_get_gc_buffer_create();
	for (int i = 0; i < PHP_WS_EV_COUNT; i++) {
		if (srv->on[i].set)
			zend_get_gc_buffer_add_zval(buf, &srv->on[i].fn);
		if (srv->events[i].set)
			zend_get_gc_buffer_add_zval(buf, &srv->events[i].fn);
	}
	php_ws_timer *t;
	ZEND_HASH_FOREACH_PTR(&srv->timers, t) {
		zend_get_gc_buffer_add_zval(buf, &t->cb.fn);
	}
	ZEND_HASH_FOREACH_END();
	zend_get_gc_buffer_add_zval(buf, &srv->reply);
	zend_get_gc_buffer_use(buf, table, n);
	return zend_std_get_properties(obj);
}

void php_ws_server_setup(zend_class_entry *ce)
{
	ce->create_object = server_create_object;
	memcpy(&server_handlers, zend_get_std_object_handlers(), sizeof(server_handlers));
	server_handlers.offset = XtOffsetOf(php_ws_server, std);
	server_handlers.free_obj = server_free_object;
	server_handlers.get_gc = server_get_gc;
	server_handlers.clone_obj = NULL;
}

/* Returns the server of $this, or throws when the constructor did not run. */
static php_ws_server *this_server(zval *this_zv)
{
	php_ws_server *srv = Z_WS_SERVER_P(this_zv);
	if (!srv->core) {
		zend_throw_error(NULL, "WebsocketServer::__construct() was not called");
		return NULL;
	}
	return srv;
}

/* ---- methods ---- */

/* public function __construct(array $config = []) */
ZEND_METHOD(WebsocketServer, __construct)
{
	HashTable *config = NULL;
	ZEND_PARSE_PARAMETERS_START(0, 1)
	Z_PARAM_OPTIONAL
	Z_PARAM_ARRAY_HT(config)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = Z_WS_SERVER_P(ZEND_THIS);
	if (srv->core) {
		zend_throw_error(NULL, "WebsocketServer::__construct() may be called only once");
		RETURN_THROWS();
	}
	HashTable empty;
	zend_hash_init(&empty, 0, NULL, NULL, 0);
	zend_result ok = php_ws_config_parse(srv, config ? config : &empty);
	zend_hash_destroy(&empty);
	if (ok == FAILURE)
		RETURN_THROWS();
	ws_err err = {0};
	srv->core = ws_server_new(&srv->cfg, &php_ws_hooks, srv, &err);
	if (!srv->core) {
		php_ws_throw(&err);
		RETURN_THROWS();
	}
}

/* public function on(string $event, callable $callback): static */
ZEND_METHOD(WebsocketServer, on)
{
	zend_string *event;
	zend_fcall_info fci;
	zend_fcall_info_cache fcc;
	ZEND_PARSE_PARAMETERS_START(2, 2)
	Z_PARAM_STR(event)
	Z_PARAM_FUNC(fci, fcc)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	for (int i = 0; i < PHP_WS_EV_COUNT; i++) {
		if (strcasecmp(ZSTR_VAL(event), event_names[i].name) != 0)
			continue;
		php_ws_callback_set(&srv->on[i], &fci.function_name, &fcc);
		if (srv->started)
			php_ws_callback_set(&srv->events[i], &fci.function_name, &fcc);
		RETURN_OBJ_COPY(Z_OBJ_P(ZEND_THIS));
	}
	zend_argument_value_error(1,
	                          "must be one of open, message, close, error, handshake, "
	                          "request, drain, workerStart or workerStop, \"%s\" given",
	                          ZSTR_VAL(event));
	RETURN_THROWS();
}

/* Picks, for each event, the callable given to on() or else a method of the subclass. */
static void resolve_events(php_ws_server *srv)
{
	zend_class_entry *ce = srv->std.ce;
	for (int i = 0; i < PHP_WS_EV_COUNT; i++) {
		if (srv->on[i].set) {
			php_ws_callback_set(&srv->events[i], &srv->on[i].fn, &srv->on[i].fcc);
			continue;
		}
		zend_function *fn = zend_hash_str_find_ptr(&ce->function_table, event_names[i].method,
		                                           strlen(event_names[i].method));
		if (!fn)
			continue;
		zend_fcall_info_cache fcc = {0};
		fcc.function_handler = fn;
		fcc.called_scope = ce;
		fcc.object = (fn->common.fn_flags & ZEND_ACC_STATIC) ? NULL : &srv->std;
		php_ws_callback_set(&srv->events[i], NULL, &fcc);
	}
}

static void call_worker_event(php_ws_server *srv, php_ws_event ev)
{
	zval arg;
	ZVAL_LONG(&arg, 0);
	php_ws_call(srv, &srv->events[ev], NULL, NULL, 1, &arg);
}

/* public function start(): void */
ZEND_METHOD(WebsocketServer, start)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (srv->started) {
		zend_throw_exception(ws_exception_ce,
		                     srv->running ? "the server is already running"
		                                  : "a server can be started only once",
		                     0);
		RETURN_THROWS();
	}
	ws_err err = {0};
	if (ws_server_listen(srv->core, &err) < 0) {
		php_ws_throw(&err);
		RETURN_THROWS();
	}
	srv->started = srv->running = true;
	resolve_events(srv);
	/* Keep $this alive for the whole run even if user code drops every other reference. */
	GC_ADDREF(&srv->std);
	call_worker_event(srv, PHP_WS_EV_WORKER_START);
	int rc = srv->exiting ? 0 : ws_server_run(srv->core, &err);
	call_worker_event(srv, PHP_WS_EV_WORKER_STOP);
	srv->running = false;
	php_ws_timers_release(srv);
	if (EG(exception) && !srv->exiting)
		php_ws_handle_exception(srv, NULL);
	OBJ_RELEASE(&srv->std);
	if (EG(exception))
		RETURN_THROWS(); /* exit() in a callback: let the engine unwind */
	if (rc < 0)
		php_ws_throw(&err);
}

/* public function stop(): void */
ZEND_METHOD(WebsocketServer, stop)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	ws_server_stop(srv->core);
}

/* public function send(int $id, string $data, bool $binary = false): bool */
ZEND_METHOD(WebsocketServer, send)
{
	zend_long id;
	zend_string *data;
	bool binary = false;
	ZEND_PARSE_PARAMETERS_START(2, 3)
	Z_PARAM_LONG(id)
	Z_PARAM_STR(data)
	Z_PARAM_OPTIONAL
	Z_PARAM_BOOL(binary)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!binary && !php_ws_check_text(data, 2))
		RETURN_THROWS();
	ws_conn *c = id > 0 ? ws_server_find(srv->core, (uint64_t)id) : NULL;
	RETURN_BOOL(c && ws_conn_send(c, (const uint8_t *)ZSTR_VAL(data), ZSTR_LEN(data), binary) == 0);
}

/* public function broadcast(string $data, bool $binary = false, array $exceptIds = []): int */
ZEND_METHOD(WebsocketServer, broadcast)
{
	zend_string *data;
	bool binary = false;
	HashTable *except = NULL;
	ZEND_PARSE_PARAMETERS_START(1, 3)
	Z_PARAM_STR(data)
	Z_PARAM_OPTIONAL
	Z_PARAM_BOOL(binary)
	Z_PARAM_ARRAY_HT(except)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!binary && !php_ws_check_text(data, 1))
		RETURN_THROWS();
	uint32_t n = except ? zend_hash_num_elements(except) : 0;
	uint64_t *ids = n ? safe_emalloc(n, sizeof(*ids), 0) : NULL;
	uint32_t i = 0;
	if (n) {
		zval *v;
		ZEND_HASH_FOREACH_VAL(except, v) {
			ZVAL_DEREF(v);
			if (Z_TYPE_P(v) != IS_LONG) {
				efree(ids);
				zend_argument_type_error(3, "must contain only int connection ids, %s found",
				                         zend_zval_type_name(v));
				RETURN_THROWS();
			}
			ids[i++] = (uint64_t)Z_LVAL_P(v);
		}
		ZEND_HASH_FOREACH_END();
	}
	ssize_t count = ws_server_broadcast(srv->core, (const uint8_t *)ZSTR_VAL(data), ZSTR_LEN(data),
	                                    binary, ids, i);
	if (ids)
		efree(ids);
	if (count < 0) {
		zend_throw_exception(ws_exception_ce, "out of memory encoding the broadcast frame", 0);
		RETURN_THROWS();
	}
	RETURN_LONG((zend_long)count);
}

/* public function connections(): array */
ZEND_METHOD(WebsocketServer, connections)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	array_init_size(return_value, (uint32_t)ws_server_count(srv->core));
	for (ws_conn *c = ws_server_first(srv->core); c; c = ws_server_next(c)) {
		zend_object *obj = ws_conn_user(c);
		if (!obj || !ws_conn_is_open(c))
			continue;
		GC_ADDREF(obj);
		zval v;
		ZVAL_OBJ(&v, obj);
		zend_hash_index_add_new(Z_ARRVAL_P(return_value), (zend_ulong)ws_conn_id(c), &v);
	}
}

/* public function connectionCount(): int */
ZEND_METHOD(WebsocketServer, connectionCount)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	RETURN_LONG((zend_long)ws_server_count(srv->core));
}

/* public function getConnection(int $id): ?WebsocketConnection */
ZEND_METHOD(WebsocketServer, getConnection)
{
	zend_long id;
	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_LONG(id)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	ws_conn *c = id > 0 ? ws_server_find(srv->core, (uint64_t)id) : NULL;
	if (!c || !ws_conn_user(c) || c->state == WS_CONN_HANDSHAKE || c->state == WS_CONN_DONE)
		RETURN_NULL();
	RETURN_OBJ_COPY((zend_object *)ws_conn_user(c));
}

/* ---- timers ---- */

static void timer_fire(ws_loop *loop, ws_timer *timer, void *arg)
{
	(void)loop;
	(void)timer;
	php_ws_timer *t = arg;
	php_ws_server *srv = t->server;
	zval id;
	ZVAL_LONG(&id, t->id);
	t->running = true;
	php_ws_call(srv, &t->cb, NULL, NULL, 1, &id);
	t->running = false;
	if (t->repeat && !t->cancelled)
		return;
	/* One-shot timers are freed by the loop after this callback; cancelled repeating ones
	 * were stopped by clearTimer (the loop frees them too, since they were firing). */
	t->timer = NULL;
	zend_hash_index_del(&srv->timers, (zend_ulong)t->id);
	timer_free(t);
	if (EG(exception)) /* a destructor of what the callable captured */
		php_ws_handle_exception(srv, NULL);
}

/* public function addTimer(float $seconds, callable $callback, bool $repeat = false): int */
ZEND_METHOD(WebsocketServer, addTimer)
{
	double seconds;
	zend_fcall_info fci;
	zend_fcall_info_cache fcc;
	bool repeat = false;
	ZEND_PARSE_PARAMETERS_START(2, 3)
	Z_PARAM_DOUBLE(seconds)
	Z_PARAM_FUNC(fci, fcc)
	Z_PARAM_OPTIONAL
	Z_PARAM_BOOL(repeat)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!(seconds >= 0 && seconds <= 86400.0 * 365) || (repeat && seconds < 0.001)) {
		zend_argument_value_error(1, "must be between %s and one year", repeat ? "0.001" : "0");
		RETURN_THROWS();
	}
	uint64_t ms = (uint64_t)(seconds * 1000.0 + 0.5);
	if (repeat && ms == 0)
		ms = 1;
	php_ws_timer *t = ecalloc(1, sizeof(*t));
	t->id = ++srv->next_timer_id;
	t->server = srv;
	t->repeat = repeat;
	php_ws_callback_set(&t->cb, &fci.function_name, &fcc);
	t->timer = ws_server_timer_start(srv->core, ms, repeat ? ms : 0, timer_fire, t);
	if (!t->timer) {
		timer_free(t);
		zend_throw_exception(ws_exception_ce, "out of memory adding a timer", 0);
		RETURN_THROWS();
	}
	zend_hash_index_add_new_ptr(&srv->timers, (zend_ulong)t->id, t);
	RETURN_LONG(t->id);
}

/* public function clearTimer(int $timerId): bool */
ZEND_METHOD(WebsocketServer, clearTimer)
{
	zend_long id;
	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_LONG(id)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	php_ws_timer *t = zend_hash_index_find_ptr(&srv->timers, (zend_ulong)id);
	if (!t || t->cancelled)
		RETURN_FALSE;
	ws_server_timer_stop(srv->core, t->timer);
	if (t->running) {
		t->cancelled = true; /* timer_fire frees it when the callback returns */
		RETURN_TRUE;
	}
	zend_hash_index_del(&srv->timers, (zend_ulong)id);
	timer_free(t);
	RETURN_TRUE;
}

/* public function getPort(): int */
ZEND_METHOD(WebsocketServer, getPort)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	int port = ws_server_port(srv->core);
	RETURN_LONG(port > 0 ? port : 0);
}

/* public function getConfig(): array */
ZEND_METHOD(WebsocketServer, getConfig)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = this_server(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	RETURN_COPY(&srv->config);
}
