/* timers.c - WebsocketServer::addTimer() and clearTimer(): PHP callables run by the server's
 * loop after a delay, once or repeatedly, each known by an id in srv->timers. A timer is
 * freed when a one-shot has fired, when it is cleared (at once, or when its running callback
 * returns), or when the server stops or is freed (php_ws_timers_release). */
#include "php_ws.h"
#include "zend_exceptions.h"

static void timer_free(php_ws_timer *t)
{
	php_ws_callback_release(&t->cb);
	efree(t);
}

void php_ws_timers_release(php_ws_server *srv)
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
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
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
	php_ws_server *srv = php_ws_server_this(ZEND_THIS);
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
