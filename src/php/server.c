/* server.c - WebsocketServer: configuration, event registration, start/stop, control,
 * sending to ids, broadcasting, rooms and connection lookup (timers are in timers.c). The
 * event loop runs inside start(); every PHP callback is made from there through callbacks.c. */
#include "php_ws.h"
#include "zend_exceptions.h"
#include "../alloc.h"
#include "../control.h"
#if PHP_VERSION_ID >= 80200
#include "ext/random/php_random.h"
#else
#include "ext/standard/php_mt_rand.h"
#include "ext/standard/php_rand.h"
#endif

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
	srv->worker_id = -1;
	zend_hash_init(&srv->timers, 8, NULL, NULL, 0);
	return &srv->std;
}

static void server_free_object(zend_object *obj)
{
	php_ws_server *srv = php_ws_server_from_obj(obj);
	php_ws_timers_release(srv);
	zend_hash_destroy(&srv->timers);
	ws_server_free(srv->core);
	ws_stats_free(srv->worker_stats);
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

php_ws_server *php_ws_server_this(zval *this_zv)
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
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
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
	ZVAL_LONG(&arg, srv->worker_id);
	php_ws_call(srv, &srv->events[ev], NULL, NULL, 1, &arg);
}

/* ---- pid file ---- */

static bool write_pid_file(php_ws_server *srv)
{
	ws_err err = {0};
	if (ws_control_write_pid_file(srv->pid_file, &err) < 0) {
		zend_throw_exception(ws_exception_ce, err.msg, 0);
		return false;
	}
	srv->pid_file_written = true;
	return true;
}

static void remove_pid_file(php_ws_server *srv)
{
	if (srv->pid_file_written)
		ws_control_remove_pid_file(srv->pid_file);
	srv->pid_file_written = false;
}

/* ---- start ---- */

/* Runs this process's server: the single process, or one worker. */
static int serve(php_ws_server *srv, ws_err *err)
{
	srv->running = true;
	resolve_events(srv);
	/* Keep $this alive for the whole run even if user code drops every other reference. */
	GC_ADDREF(&srv->std);
	call_worker_event(srv, PHP_WS_EV_WORKER_START);
	int rc = srv->exiting ? 0 : ws_server_run(srv->core, err);
	call_worker_event(srv, PHP_WS_EV_WORKER_STOP);
	srv->running = false;
	php_ws_timers_release(srv);
	if (EG(exception) && !srv->exiting)
		php_ws_handle_exception(srv, NULL);
	OBJ_RELEASE(&srv->std);
	return rc;
}

/* In a forked worker: serve, then end the process the way exit() does, so the engine runs
 * its shutdown (destructors, shutdown functions) and user code after start() never runs
 * here. */
static void run_worker(php_ws_server *srv, ws_worker_env *env)
{
	srv->pid_file_written = false; /* the master's */
	/* A generator seeded before the fork would give every worker the same numbers. */
	php_mt_srand((uint32_t)GENERATE_SEED());
	srv->worker_id = (int)env->index;
	srv->worker_stats = env->stats;
	ws_err err = {0};
	int rc = ws_server_set_worker(srv->core, env, &err);
	if (rc == 0)
		rc = serve(srv, &err);
	if (rc < 0 && !EG(exception))
		fprintf(stderr, "websocket: worker %u: %s\n", env->index, err.msg);
	if (EG(exception) && !zend_is_unwind_exit(EG(exception)))
		zend_clear_exception();
	if (!EG(exception)) {
		EG(exit_status) = rc < 0 ? 1 : 0;
		zend_throw_unwind_exit();
	}
}

/* In the master, as a reload begins: the new workers inherit certificates renewed on disk. */
static void reload_certificates(void *arg)
{
	php_ws_server *srv = arg;
	ws_err err = {0};
	if (ws_server_tls_reload(srv->core, &err) < 0)
		fprintf(stderr, "websocket: reload: keeping the loaded certificate: %s\n", err.msg);
}

static void run_master(php_ws_server *srv)
{
	const ws_server_config *cfg = &srv->cfg;
	ws_master_config mc = {
	    .host = cfg->host,
	    .port = cfg->port,
	    .tls_port = cfg->tls ? cfg->tls_port : -1,
	    .backlog = cfg->backlog,
	    .workers = srv->workers,
	    .bus_max = srv->bus_max,
	    .shutdown_timeout_ms = cfg->shutdown_timeout_ms,
	    .reload_timeout_ms = srv->reload_timeout_ms,
	    .max_connections = cfg->max_connections,
	    .before_reload = cfg->tls ? reload_certificates : NULL,
	    .arg = srv,
	};
	ws_err err = {0};
	ws_master *m = ws_master_new(&mc, &err);
	if (!m) {
		php_ws_throw(&err);
		return;
	}
	srv->master_port = ws_master_port(m);
	srv->master_tls_port = ws_master_tls_port(m);
	ws_worker_env env;
	int rc = ws_master_run(m, &env, &err);
	if (rc == 1) {
		run_worker(srv, &env);
		return;
	}
	ws_master_free(m);
	if (rc < 0)
		php_ws_throw(&err);
}

/* public function start(): void */
ZEND_METHOD(WebsocketServer, start)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (srv->started) {
		zend_throw_exception(ws_exception_ce,
		                     srv->running ? "the server is already running"
		                                  : "a server can be started only once",
		                     0);
		RETURN_THROWS();
	}
	if (srv->pid_file && !write_pid_file(srv))
		RETURN_THROWS();
	srv->started = true;
	if (srv->workers > 1) {
		run_master(srv);
		remove_pid_file(srv);
		if (EG(exception))
			RETURN_THROWS();
		return;
	}
	ws_err err = {0};
	if (ws_server_listen(srv->core, &err) < 0) {
		remove_pid_file(srv);
		php_ws_throw(&err);
		RETURN_THROWS();
	}
	srv->worker_id = 0;
	int rc = serve(srv, &err);
	remove_pid_file(srv);
	if (EG(exception))
		RETURN_THROWS(); /* exit() in a callback: let the engine unwind */
	if (rc < 0)
		php_ws_throw(&err);
}

/* public function stop(): void */
ZEND_METHOD(WebsocketServer, stop)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
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
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!binary && !php_ws_check_text(data, 2))
		RETURN_THROWS();
	RETURN_BOOL(id > 0 && ws_server_send(srv->core, (uint64_t)id, (const uint8_t *)ZSTR_VAL(data),
	                                     ZSTR_LEN(data), binary, php_ws_string_release,
	                                     zend_string_copy(data)) == 0);
}

/* The connection ids of an exceptIds argument (emalloc'ed, or NULL when empty); throws a
 * TypeError for anything but ints. */
static uint64_t *except_ids(HashTable *except, uint32_t arg_num, uint32_t *n)
{
	*n = 0;
	uint32_t count = except ? zend_hash_num_elements(except) : 0;
	if (!count)
		return NULL;
	uint64_t *ids = safe_emalloc(count, sizeof(*ids), 0);
	zval *v;
	ZEND_HASH_FOREACH_VAL(except, v) {
		ZVAL_DEREF(v);
		if (Z_TYPE_P(v) != IS_LONG) {
			efree(ids);
			zend_argument_type_error(arg_num, "must contain only int connection ids, %s found",
			                         zend_zval_type_name(v));
			return NULL;
		}
		ids[(*n)++] = (uint64_t)Z_LVAL_P(v);
	}
	ZEND_HASH_FOREACH_END();
	return ids;
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
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!binary && !php_ws_check_text(data, 1))
		RETURN_THROWS();
	uint32_t n;
	uint64_t *ids = except_ids(except, 3, &n);
	if (EG(exception))
		RETURN_THROWS();
	ssize_t count = ws_server_broadcast(srv->core, (const uint8_t *)ZSTR_VAL(data), ZSTR_LEN(data),
	                                    binary, ids, n);
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
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	array_init_size(return_value, (uint32_t)ws_server_count(srv->core));
	for (ws_conn *c = ws_server_first(srv->core); c; c = ws_server_next(c)) {
		zend_object *obj = ws_conn_is_open(c) ? php_ws_connection_object(srv, c) : NULL;
		if (!obj)
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
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
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
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	ws_conn *c = id > 0 ? ws_server_find(srv->core, (uint64_t)id) : NULL;
	if (!c || !ws_conn_user(c) || ws_conn_state_of(c) == WS_CONN_HANDSHAKE ||
	    ws_conn_state_of(c) == WS_CONN_DONE)
		RETURN_NULL();
	RETURN_OBJ_COPY(php_ws_connection_object(srv, c));
}

/* ---- rooms, closes, figures ---- */

/* public function publish(string $room, string $data, bool $binary = false,
 *                         array $exceptIds = []): int */
ZEND_METHOD(WebsocketServer, publish)
{
	zend_string *room, *data;
	bool binary = false;
	HashTable *except = NULL;
	ZEND_PARSE_PARAMETERS_START(2, 4)
	Z_PARAM_STR(room)
	Z_PARAM_STR(data)
	Z_PARAM_OPTIONAL
	Z_PARAM_BOOL(binary)
	Z_PARAM_ARRAY_HT(except)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!php_ws_check_room(room, 1) || (!binary && !php_ws_check_text(data, 2)))
		RETURN_THROWS();
	uint32_t n;
	uint64_t *ids = except_ids(except, 4, &n);
	if (EG(exception))
		RETURN_THROWS();
	ssize_t count =
	    ws_server_publish(srv->core, ZSTR_VAL(room), ZSTR_LEN(room),
	                      (const uint8_t *)ZSTR_VAL(data), ZSTR_LEN(data), binary, ids, n);
	if (ids)
		efree(ids);
	if (count < 0) {
		zend_throw_exception(ws_exception_ce, "out of memory encoding the published frame", 0);
		RETURN_THROWS();
	}
	RETURN_LONG((zend_long)count);
}

static void join_or_leave(INTERNAL_FUNCTION_PARAMETERS, bool join)
{
	zend_long id;
	zend_string *room;
	ZEND_PARSE_PARAMETERS_START(2, 2)
	Z_PARAM_LONG(id)
	Z_PARAM_STR(room)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!php_ws_check_room(room, 2))
		RETURN_THROWS();
	if (id <= 0)
		RETURN_FALSE;
	uint64_t target = (uint64_t)id;
	int rc = join ? ws_server_join(srv->core, target, ZSTR_VAL(room), ZSTR_LEN(room))
	              : ws_server_leave(srv->core, target, ZSTR_VAL(room), ZSTR_LEN(room));
	if (rc == WS_ENOMEM) {
		zend_throw_exception(ws_exception_ce, "out of memory changing a room", 0);
		RETURN_THROWS();
	}
	/* A remote connection: true once the change is on its way to the owner. */
	bool remote = ws_server_worker(srv->core) != (unsigned)(target >> 40) && srv->workers > 1;
	RETURN_BOOL(rc == 1 || (remote && rc == 0));
}

/* public function join(int $id, string $room): bool */
ZEND_METHOD(WebsocketServer, join)
{
	join_or_leave(INTERNAL_FUNCTION_PARAM_PASSTHRU, true);
}

/* public function leave(int $id, string $room): bool */
ZEND_METHOD(WebsocketServer, leave)
{
	join_or_leave(INTERNAL_FUNCTION_PARAM_PASSTHRU, false);
}

/* public function roomSize(string $room): int */
ZEND_METHOD(WebsocketServer, roomSize)
{
	zend_string *room;
	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_STR(room)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!php_ws_check_room(room, 1))
		RETURN_THROWS();
	RETURN_LONG((zend_long)ws_server_room_size(srv->core, ZSTR_VAL(room), ZSTR_LEN(room)));
}

/* public function close(int $id, int $code = 1000, string $reason = ""): bool */
ZEND_METHOD(WebsocketServer, close)
{
	zend_long id, code = WS_CLOSE_NORMAL;
	zend_string *reason = NULL;
	ZEND_PARSE_PARAMETERS_START(1, 3)
	Z_PARAM_LONG(id)
	Z_PARAM_OPTIONAL
	Z_PARAM_LONG(code)
	Z_PARAM_STR(reason)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!php_ws_check_close(code, reason, 2))
		RETURN_THROWS();
	RETURN_BOOL(id > 0 && ws_server_close_id(srv->core, (uint64_t)id, (uint16_t)code,
	                                         reason ? ZSTR_VAL(reason) : "",
	                                         reason ? ZSTR_LEN(reason) : 0) == 0);
}

static void add_figures(zval *to, const ws_worker_stats *w)
{
	add_assoc_long(to, "connections", (zend_long)ws_stat_get(&w->connections));
	add_assoc_long(to, "messages_in", (zend_long)ws_stat_get(&w->messages_in));
	add_assoc_long(to, "messages_out", (zend_long)ws_stat_get(&w->messages_out));
	add_assoc_long(to, "bytes_in", (zend_long)ws_stat_get(&w->bytes_in));
	add_assoc_long(to, "bytes_out", (zend_long)ws_stat_get(&w->bytes_out));
}

/* public function stats(): array */
ZEND_METHOD(WebsocketServer, stats)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	const ws_stats *st = ws_server_stats(srv->core);
	zval workers;
	array_init_size(&workers, st->workers);
	uint64_t sum[8] = {0};
	for (unsigned i = 0; i < st->workers; i++) {
		const ws_worker_stats *w = &st->w[i];
		zval one;
		array_init(&one);
		add_assoc_long(&one, "worker", i);
		add_assoc_long(&one, "pid", (zend_long)ws_stat_get(&w->pid));
		add_figures(&one, w);
		uint64_t dropped = ws_stat_get(&w->bus_dropped) + ws_stat_get(&w->master_dropped);
		add_assoc_long(&one, "bus_queue",
		               (zend_long)(ws_stat_get(&w->bus_queue) + ws_stat_get(&w->master_queue)));
		add_assoc_long(&one, "bus_dropped", (zend_long)dropped);
		add_assoc_long(&one, "receiving", (zend_long)ws_stat_get(&w->receiving));
		add_assoc_long(&one, "receive_refused", (zend_long)ws_stat_get(&w->receive_refused));
		add_assoc_long(&one, "restarts", (zend_long)ws_stat_get(&w->restarts));
		add_assoc_double(&one, "started", (double)ws_stat_get(&w->started_ms) / 1000.0);
		add_next_index_zval(&workers, &one);
		sum[0] += ws_stat_get(&w->connections);
		sum[1] += ws_stat_get(&w->messages_in);
		sum[2] += ws_stat_get(&w->messages_out);
		sum[3] += ws_stat_get(&w->bytes_in);
		sum[4] += ws_stat_get(&w->bytes_out);
		sum[5] += dropped;
		sum[6] += ws_stat_get(&w->receiving);
		sum[7] += ws_stat_get(&w->receive_refused);
	}
	array_init(return_value);
	static const char *const names[] = {"connections", "messages_in",    "messages_out",
	                                    "bytes_in",    "bytes_out",      "bus_dropped",
	                                    "receiving",   "receive_refused"};
	for (int i = 0; i < 8; i++)
		add_assoc_long(return_value, names[i], (zend_long)sum[i]);
	add_assoc_zval(return_value, "workers", &workers);
}

/* public function workerId(): int */
ZEND_METHOD(WebsocketServer, workerId)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	RETURN_LONG(srv->worker_id);
}

/* public function control(string $command): int */
ZEND_METHOD(WebsocketServer, control)
{
	zend_string *command;
	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_STR(command)
	ZEND_PARSE_PARAMETERS_END();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	ws_control_cmd cmd;
	if (zend_string_equals_literal(command, "stop"))
		cmd = WS_CONTROL_STOP;
	else if (zend_string_equals_literal(command, "reload"))
		cmd = WS_CONTROL_RELOAD;
	else if (zend_string_equals_literal(command, "status"))
		cmd = WS_CONTROL_STATUS;
	else {
		zend_argument_value_error(1, "must be \"stop\", \"reload\" or \"status\", \"%s\" given",
		                          ZSTR_VAL(command));
		RETURN_THROWS();
	}
	if (!srv->pid_file) {
		zend_throw_exception(ws_exception_ce,
		                     "control() needs the pid_file of the running server in the config", 0);
		RETURN_THROWS();
	}
	/* A stop waits for the grace period, then a margin for the workers' exit. */
	uint64_t wait_ms = (uint64_t)srv->cfg.shutdown_timeout_ms + 5000;
	char line[256];
	int status = ws_control_command(srv->pid_file, cmd,
	                                wait_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)wait_ms, line,
	                                sizeof(line));
	php_printf("%s\n", line);
	RETURN_LONG(status);
}

/* public function getPort(): int */
ZEND_METHOD(WebsocketServer, getPort)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	int port = ws_server_port(srv->core);
	RETURN_LONG(port > 0 ? port : srv->master_port);
}

/* public function getTlsPort(): ?int (like getPort: 0 before start()) */
ZEND_METHOD(WebsocketServer, getTlsPort)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	if (!srv->cfg.tls)
		RETURN_NULL();
	int port = ws_server_tls_port(srv->core);
	if (port <= 0) /* not listening here: the master's, or nothing yet */
		port = srv->cfg.tls_port < 0 ? srv->master_port : srv->master_tls_port;
	RETURN_LONG(port > 0 ? port : 0);
}

/* public function getConfig(): array */
ZEND_METHOD(WebsocketServer, getConfig)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
	if (!srv)
		RETURN_THROWS();
	RETURN_COPY(&srv->config);
}
