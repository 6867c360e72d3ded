/* connection.c - WebsocketConnection: one client as PHP sees it. The object is created when
 * a request arrives (so onHandshake/onRequest can inspect it), its request properties are
 * read-only, and it stays usable after the connection ends: methods then report failure. */
#include "php_ws.h"
#include "zend_exceptions.h"
#include "ext/standard/php_string.h"
#include "ext/standard/php_var.h"
#include "../alloc.h"

static zend_object_handlers connection_handlers;

static zend_object *connection_create_object(zend_class_entry *ce)
{
	php_ws_connection *c = zend_object_alloc(sizeof(php_ws_connection), ce);
	zend_object_std_init(&c->std, ce);
	object_properties_init(&c->std, ce);
	c->std.handlers = &connection_handlers;
	return &c->std;
}

/* Header names and values that nearly every upgrade request carries, interned once for the
 * process: each connection's headers array then shares them instead of holding its own copies
 * (a few hundred bytes per idle connection). A fixed list, so a client inventing names cannot
 * grow it. */
static const char *const common_names[] = {
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "origin",
    "user-agent",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "pragma",
    "cookie",
    "authorization",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-real-ip",
    "referer",
    "accept",
};
static const char *const common_values[] = {
    "websocket",
    "Upgrade",
    "upgrade",
    "13",
    "GET",
    "no-cache",
    "gzip, deflate, br",
    "gzip, deflate",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate",
    "keep-alive, Upgrade",
    "Upgrade, keep-alive",
};
#define NUM_NAMES  (sizeof(common_names) / sizeof(common_names[0]))
#define NUM_VALUES (sizeof(common_values) / sizeof(common_values[0]))
static zend_string *interned_names[NUM_NAMES];
static zend_string *interned_values[NUM_VALUES];

static zend_string *common(zend_string *const *table, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (ZSTR_LEN(table[i]) == len && memcmp(ZSTR_VAL(table[i]), s, len) == 0)
			return table[i];
	return NULL;
}

/* A string for a property or header value: a shared one when it is common. */
static void value_zval(zval *v, const char *s, size_t len)
{
	zend_string *known = common(interned_values, NUM_VALUES, s, len);
	if (known)
		ZVAL_INTERNED_STR(v, known);
	else
		ZVAL_STRINGL_FAST(v, s, len);
}

void php_ws_connection_setup(zend_class_entry *ce)
{
	for (size_t i = 0; i < NUM_NAMES; i++)
		interned_names[i] = zend_string_init_interned(common_names[i], strlen(common_names[i]), 1);
	for (size_t i = 0; i < NUM_VALUES; i++)
		interned_values[i] =
		    zend_string_init_interned(common_values[i], strlen(common_values[i]), 1);
	ce->create_object = connection_create_object;
	memcpy(&connection_handlers, zend_get_std_object_handlers(), sizeof(connection_handlers));
	connection_handlers.offset = XtOffsetOf(php_ws_connection, std);
	connection_handlers.clone_obj = NULL;
}

/* Initialises a declared (typed, read-only) property slot from C, which is how an internal
 * class sets read-only state before user code sees the object. */
static void set_prop(zend_object *obj, int slot, zval *value)
{
	zval *p = OBJ_PROP_NUM(obj, slot);
	zval_ptr_dtor(p);
	ZVAL_COPY_VALUE(p, value);
	Z_PROP_FLAG_P(p) = 0;
}

static void set_prop_str(zend_object *obj, int slot, const char *s, size_t len)
{
	zval v;
	value_zval(&v, s, len);
	set_prop(obj, slot, &v);
}

static void set_prop_long(zend_object *obj, int slot, zend_long n)
{
	zval v;
	ZVAL_LONG(&v, n);
	set_prop(obj, slot, &v);
}

/* Headers as an array of lower-case name => value; repeated headers are joined with ", " as
 * RFC 9110 5.3 allows for list-valued fields. */
static void headers_array(zval *out, const ws_http_request *req)
{
	array_init_size(out, (uint32_t)req->num_headers);
	for (size_t i = 0; i < req->num_headers; i++) {
		const ws_http_header *h = &req->headers[i];
		char lower[32];
		zend_string *name = NULL;
		if (h->name_len < sizeof(lower)) { /* room for the NUL it writes */
			zend_str_tolower_copy(lower, h->name, h->name_len);
			name = common(interned_names, NUM_NAMES, lower, h->name_len);
		}
		if (!name) {
			name = zend_string_init(h->name, h->name_len, 0);
			zend_str_tolower(ZSTR_VAL(name), ZSTR_LEN(name));
		}
		zval *prev = zend_hash_find(Z_ARRVAL_P(out), name);
		if (prev) {
			zend_string *joined = zend_string_concat3(Z_STRVAL_P(prev), Z_STRLEN_P(prev), ", ", 2,
			                                          h->value, h->value_len);
			zval_ptr_dtor(prev);
			ZVAL_STR(prev, joined);
		} else {
			zval v;
			value_zval(&v, h->value, h->value_len);
			zend_hash_add_new(Z_ARRVAL_P(out), name, &v);
		}
		zend_string_release(name);
	}
}

/* A new object for c with what the core knows: id, address, port. */
static zend_object *connection_for(php_ws_server *srv, ws_conn *c)
{
	zend_object *obj = connection_create_object(ws_connection_ce);
	php_ws_connection *pc = php_ws_connection_from_obj(obj);
	pc->conn = c;
	pc->server = srv;
	set_prop_long(obj, PHP_WS_PROP_ID, (zend_long)ws_conn_id(c));
	set_prop_str(obj, PHP_WS_PROP_REMOTE_ADDRESS, ws_conn_remote_ip(c),
	             strlen(ws_conn_remote_ip(c)));
	set_prop_long(obj, PHP_WS_PROP_REMOTE_PORT, ws_conn_remote_port(c));
	return obj;
}

zend_object *php_ws_connection_create(php_ws_server *srv, ws_conn *c, const ws_http_request *req)
{
	zend_object *obj = connection_for(srv, c);
	set_prop_str(obj, PHP_WS_PROP_METHOD, req->method, req->method_len);
	set_prop_str(obj, PHP_WS_PROP_PATH, req->path, req->path_len);
	set_prop_str(obj, PHP_WS_PROP_QUERY, req->query ? req->query : "", req->query_len);
	zval headers;
	headers_array(&headers, req);
	set_prop(obj, PHP_WS_PROP_HEADERS, &headers);
	set_prop_str(obj, PHP_WS_PROP_SUBPROTOCOL, "", 0);
	return obj;
}

void php_ws_connection_set_subprotocol(zend_object *obj, const char *protocol)
{
	set_prop_str(obj, PHP_WS_PROP_SUBPROTOCOL, protocol, strlen(protocol));
}

/* ---- a request kept until PHP needs the object ----
 * Without onHandshake and onOpen, nothing looks at a connection before its first message, and
 * many connections stay silent for hours. Those keep only their request, packed into one
 * block (about 150 bytes for a plain client), instead of an object with its properties and
 * headers array (about 600); the object is made from it the first time PHP needs it. The low
 * bit of the core's user pointer tells a packed request (1) from an object (0). */

#define PACKED_TAG ((uintptr_t)1)

/* Appends len, then the bytes. */
static char *pack(char *p, const char *s, size_t len)
{
	uint32_t l32 = (uint32_t)len;
	memcpy(p, &l32, 4);
	memcpy(p + 4, s, len);
	return p + 4 + len;
}

static const char *unpack(const char *p, const char **s, size_t *len)
{
	uint32_t l32;
	memcpy(&l32, p, 4);
	*s = p + 4;
	*len = l32;
	return p + 4 + l32;
}

void php_ws_connection_defer(ws_conn *c, const ws_http_request *req)
{
	size_t size = 4 + 3 * 4 + req->method_len + req->path_len + req->query_len;
	for (size_t i = 0; i < req->num_headers; i++)
		size += 8 + req->headers[i].name_len + req->headers[i].value_len;
	char *block = emalloc(size); /* emalloc's alignment leaves the low bit free */
	uint32_t n = (uint32_t)req->num_headers;
	memcpy(block, &n, 4);
	char *p = pack(block + 4, req->method, req->method_len);
	p = pack(p, req->path, req->path_len);
	p = pack(p, req->query ? req->query : "", req->query_len);
	for (size_t i = 0; i < req->num_headers; i++) {
		p = pack(p, req->headers[i].name, req->headers[i].name_len);
		p = pack(p, req->headers[i].value, req->headers[i].value_len);
	}
	ws_conn_set_user(c, (void *)((uintptr_t)block | PACKED_TAG));
}

zend_object *php_ws_connection_object(php_ws_server *srv, ws_conn *c)
{
	void *user = ws_conn_user(c);
	if (!php_ws_connection_is_packed(user))
		return user;
	const char *block = (const char *)((uintptr_t)user & ~PACKED_TAG);
	ws_http_request *req = emalloc(sizeof(*req)); /* 3 KiB: not on the stack of a callback */
	uint32_t n;
	memcpy(&n, block, 4);
	const char *p = unpack(block + 4, &req->method, &req->method_len);
	p = unpack(p, &req->path, &req->path_len);
	p = unpack(p, &req->query, &req->query_len);
	req->num_headers = n;
	for (uint32_t i = 0; i < n; i++) {
		ws_http_header *h = &req->headers[i];
		p = unpack(p, &h->name, &h->name_len);
		p = unpack(p, &h->value, &h->value_len);
	}
	zend_object *obj = php_ws_connection_create(srv, c, req);
	if (ws_conn_subprotocol(c))
		php_ws_connection_set_subprotocol(obj, ws_conn_subprotocol(c));
	efree(req);
	efree((void *)block);
	ws_conn_set_user(c, obj);
	return obj;
}

bool php_ws_connection_drop_packed(ws_conn *c)
{
	void *user = ws_conn_user(c);
	if (!php_ws_connection_is_packed(user))
		return false;
	efree((void *)((uintptr_t)user & ~PACKED_TAG));
	ws_conn_set_user(c, NULL);
	return true;
}

/* ---- reload handoff ---- */

enum { SAVED_METHOD, SAVED_PATH, SAVED_QUERY, SAVED_HEADERS, SAVED_DATA, SAVED_DYNAMIC };

/* Fills `out` with [method, path, query, headers, data, [dynamic properties]]; with_user
 * false leaves out data and the dynamic properties. */
static void saved_state(zend_object *obj, zval *out, bool with_user)
{
	array_init_size(out, 6);
	static const int slots[] = {PHP_WS_PROP_METHOD, PHP_WS_PROP_PATH, PHP_WS_PROP_QUERY,
	                            PHP_WS_PROP_HEADERS};
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		add_next_index_zval(out, OBJ_PROP_NUM(obj, slots[i]));
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		Z_TRY_ADDREF_P(OBJ_PROP_NUM(obj, slots[i]));
	zval dynamic;
	array_init(&dynamic);
	if (with_user) {
		zval *data = OBJ_PROP_NUM(obj, PHP_WS_PROP_DATA);
		Z_TRY_ADDREF_P(data);
		add_next_index_zval(out, data);
		if (obj->properties) {
			zend_string *name;
			zval *v;
			ZEND_HASH_FOREACH_STR_KEY_VAL_IND(obj->properties, name, v)
			{
				if (!name || zend_hash_exists(&obj->ce->properties_info, name))
					continue;
				Z_TRY_ADDREF_P(v);
				zend_hash_update(Z_ARRVAL(dynamic), name, v);
			}
			ZEND_HASH_FOREACH_END();
		}
	} else {
		add_next_index_null(out);
	}
	add_next_index_zval(out, &dynamic);
}

static zend_string *serialize_state(zval *state)
{
	smart_str buf = {0};
	php_serialize_data_t vars;
	PHP_VAR_SERIALIZE_INIT(vars);
	php_var_serialize(&buf, state, &vars);
	PHP_VAR_SERIALIZE_DESTROY(vars);
	if (EG(exception)) {
		smart_str_free(&buf);
		return NULL;
	}
	return smart_str_extract(&buf);
}

uint8_t *php_ws_connection_save(php_ws_server *srv, zend_object *obj, size_t *len)
{
	zval state;
	saved_state(obj, &state, true);
	zend_string *ser = serialize_state(&state);
	zval_ptr_dtor(&state);
	if (!ser) {
		/* A Closure or a resource in $conn->data cannot travel: say so, send the rest. */
		zend_string *why = zend_strpprintf(
		    0,
		    "connection " ZEND_LONG_FMT "'s data could not be serialized for the reload (%s); "
		    "it continues without it",
		    Z_LVAL_P(OBJ_PROP_NUM(obj, PHP_WS_PROP_ID)), ZSTR_VAL(EG(exception)->ce->name));
		zend_clear_exception();
		php_ws_report(srv, obj, why);
		zend_string_release(why);
		saved_state(obj, &state, false);
		ser = serialize_state(&state);
		zval_ptr_dtor(&state);
		if (!ser) {
			zend_clear_exception();
			return NULL;
		}
	}
	uint8_t *blob = ws_malloc(ZSTR_LEN(ser) ? ZSTR_LEN(ser) : 1);
	if (blob) {
		memcpy(blob, ZSTR_VAL(ser), ZSTR_LEN(ser));
		*len = ZSTR_LEN(ser);
	}
	zend_string_release(ser);
	return blob;
}

void php_ws_connection_restore(php_ws_server *srv, ws_conn *c, const uint8_t *blob, size_t len)
{
	zend_object *obj = connection_for(srv, c);
	const char *proto = ws_conn_subprotocol(c);
	set_prop_str(obj, PHP_WS_PROP_SUBPROTOCOL, proto ? proto : "", proto ? strlen(proto) : 0);
	zval state;
	ZVAL_UNDEF(&state);
	if (blob) {
		const unsigned char *p = blob;
		php_unserialize_data_t vars;
		PHP_VAR_UNSERIALIZE_INIT(vars);
		if (!php_var_unserialize(&state, &p, p + len, &vars))
			ZVAL_UNDEF(&state);
		PHP_VAR_UNSERIALIZE_DESTROY(vars);
		if (EG(exception))
			php_ws_handle_exception(srv, obj);
	}
	static const int slots[] = {PHP_WS_PROP_METHOD, PHP_WS_PROP_PATH, PHP_WS_PROP_QUERY,
	                            PHP_WS_PROP_HEADERS};
	HashTable *a = Z_TYPE(state) == IS_ARRAY ? Z_ARRVAL(state) : NULL;
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		zval *v = a ? zend_hash_index_find(a, i) : NULL;
		zval copy;
		if (v && Z_TYPE_P(v) == (slots[i] == PHP_WS_PROP_HEADERS ? IS_ARRAY : IS_STRING))
			ZVAL_COPY(&copy, v);
		else if (slots[i] == PHP_WS_PROP_HEADERS)
			array_init(&copy);
		else
			ZVAL_EMPTY_STRING(&copy);
		set_prop(obj, slots[i], &copy);
	}
	zval *data = a ? zend_hash_index_find(a, SAVED_DATA) : NULL;
	if (data) {
		zval *slot = OBJ_PROP_NUM(obj, PHP_WS_PROP_DATA);
		zval_ptr_dtor(slot);
		ZVAL_COPY(slot, data);
	}
	zval *dynamic = a ? zend_hash_index_find(a, SAVED_DYNAMIC) : NULL;
	if (dynamic && Z_TYPE_P(dynamic) == IS_ARRAY) {
		zend_string *name;
		zval *v;
		ZEND_HASH_FOREACH_STR_KEY_VAL(Z_ARRVAL_P(dynamic), name, v) {
			if (name)
				zend_update_property_ex(ws_connection_ce, obj, name, v);
		}
		ZEND_HASH_FOREACH_END();
	}
	zval_ptr_dtor(&state);
	ws_conn_set_user(c, obj);
}

/* ---- rooms ---- */

bool php_ws_check_room(zend_string *room, uint32_t arg_num)
{
	if (ZSTR_LEN(room) >= 1 && ZSTR_LEN(room) <= WS_ROOM_NAME_MAX)
		return true;
	zend_argument_value_error(arg_num, "must be between 1 and %d bytes long, %zu given",
	                          WS_ROOM_NAME_MAX, ZSTR_LEN(room));
	return false;
}

/* join() and leave(): the same checks for both. A connection that is no longer open (isOpen()
 * is false) changes nothing and gives false, as WebsocketServer::leave() does for an id that
 * is gone; a closing connection leaves its rooms when it ends. */
static void join_or_leave(INTERNAL_FUNCTION_PARAMETERS, bool join)
{
	zend_string *room;
	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_STR(room)
	ZEND_PARSE_PARAMETERS_END();
	if (!php_ws_check_room(room, 1))
		RETURN_THROWS();
	php_ws_connection *pc = Z_WS_CONNECTION_P(ZEND_THIS);
	if (!pc->conn || !ws_conn_is_open(pc->conn))
		RETURN_FALSE;
	ws_server *core = pc->server->core;
	int rc = join ? ws_server_conn_join(core, pc->conn, ZSTR_VAL(room), ZSTR_LEN(room))
	              : ws_server_conn_leave(core, pc->conn, ZSTR_VAL(room), ZSTR_LEN(room));
	if (rc == WS_ENOMEM) {
		zend_throw_exception(ws_exception_ce, "out of memory joining a room", 0);
		RETURN_THROWS();
	}
	RETURN_BOOL(rc == 1);
}

/* public function join(string $room): bool */
ZEND_METHOD(WebsocketConnection, join)
{
	join_or_leave(INTERNAL_FUNCTION_PARAM_PASSTHRU, true);
}

/* public function leave(string $room): bool */
ZEND_METHOD(WebsocketConnection, leave)
{
	join_or_leave(INTERNAL_FUNCTION_PARAM_PASSTHRU, false);
}

/* public function rooms(): array */
ZEND_METHOD(WebsocketConnection, rooms)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_connection *pc = Z_WS_CONNECTION_P(ZEND_THIS);
	size_t n = pc->conn ? ws_server_conn_rooms(pc->conn) : 0;
	array_init_size(return_value, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *name = ws_server_conn_room(pc->conn, i, &len);
		add_next_index_stringl(return_value, name, len);
	}
}

/* Text frames must carry UTF-8 (RFC 6455 5.6): refuse to put anything else on the wire. */
bool php_ws_check_text(zend_string *data, uint32_t arg_num)
{
	if (ws_server_text_valid((const uint8_t *)ZSTR_VAL(data), ZSTR_LEN(data)))
		return true;
	zend_argument_value_error(arg_num, "must be valid UTF-8 for a text message; pass $binary = "
	                                   "true to send bytes");
	return false;
}

void php_ws_string_release(void *arg)
{
	zend_string_release((zend_string *)arg);
}

/* private function __construct() */
ZEND_METHOD(WebsocketConnection, __construct)
{
	ZEND_PARSE_PARAMETERS_NONE();
}

/* public function send(string $data, bool $binary = false): bool */
ZEND_METHOD(WebsocketConnection, send)
{
	zend_string *data;
	bool binary = false;
	ZEND_PARSE_PARAMETERS_START(1, 2)
	Z_PARAM_STR(data)
	Z_PARAM_OPTIONAL
	Z_PARAM_BOOL(binary)
	ZEND_PARSE_PARAMETERS_END();
	if (!binary && !php_ws_check_text(data, 1))
		RETURN_THROWS();
	php_ws_connection *pc = Z_WS_CONNECTION_P(ZEND_THIS);
	if (!pc->conn)
		RETURN_FALSE;
	RETURN_BOOL(ws_conn_send_borrowed(pc->conn, (const uint8_t *)ZSTR_VAL(data), ZSTR_LEN(data),
	                                  binary, php_ws_string_release, zend_string_copy(data)) == 0);
}

/* public function ping(string $payload = ""): bool */
ZEND_METHOD(WebsocketConnection, ping)
{
	zend_string *payload = NULL;
	ZEND_PARSE_PARAMETERS_START(0, 1)
	Z_PARAM_OPTIONAL
	Z_PARAM_STR(payload)
	ZEND_PARSE_PARAMETERS_END();
	size_t len = payload ? ZSTR_LEN(payload) : 0;
	if (len > WS_FRAME_MAX_CONTROL) {
		zend_argument_value_error(1, "must be at most 125 bytes (a control frame), %zu given", len);
		RETURN_THROWS();
	}
	php_ws_connection *pc = Z_WS_CONNECTION_P(ZEND_THIS);
	if (!pc->conn)
		RETURN_FALSE;
	RETURN_BOOL(ws_conn_ping(pc->conn, payload ? (const uint8_t *)ZSTR_VAL(payload) : NULL, len) ==
	            0);
}

bool php_ws_check_close(zend_long code, zend_string *reason, uint32_t reason_arg)
{
	if (code < 0 || code > 65535 || !ws_server_close_code_valid((unsigned)code)) {
		zend_argument_value_error(reason_arg - 1,
		                          "must be a close code that may be sent (1000-1003, "
		                          "1007-1014 or 3000-4999), " ZEND_LONG_FMT " given",
		                          code);
		return false;
	}
	size_t len = reason ? ZSTR_LEN(reason) : 0;
	if (len > WS_FRAME_MAX_CONTROL - 2) {
		zend_argument_value_error(reason_arg, "must be at most 123 bytes, %zu given", len);
		return false;
	}
	if (reason && !ws_server_text_valid((const uint8_t *)ZSTR_VAL(reason), len)) {
		zend_argument_value_error(reason_arg, "must be valid UTF-8");
		return false;
	}
	return true;
}

/* public function close(int $code = 1000, string $reason = ""): bool */
ZEND_METHOD(WebsocketConnection, close)
{
	zend_long code = WS_CLOSE_NORMAL;
	zend_string *reason = NULL;
	ZEND_PARSE_PARAMETERS_START(0, 2)
	Z_PARAM_OPTIONAL
	Z_PARAM_LONG(code)
	Z_PARAM_STR(reason)
	ZEND_PARSE_PARAMETERS_END();
	if (!php_ws_check_close(code, reason, 2))
		RETURN_THROWS();
	size_t len = reason ? ZSTR_LEN(reason) : 0;
	php_ws_connection *pc = Z_WS_CONNECTION_P(ZEND_THIS);
	if (!pc->conn)
		RETURN_FALSE;
	RETURN_BOOL(ws_conn_close(pc->conn, (uint16_t)code, reason ? ZSTR_VAL(reason) : "", len) == 0);
}

/* public function bufferedAmount(): int */
ZEND_METHOD(WebsocketConnection, bufferedAmount)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_connection *pc = Z_WS_CONNECTION_P(ZEND_THIS);
	RETURN_LONG(pc->conn ? (zend_long)ws_conn_buffered(pc->conn) : 0);
}

/* public function isOpen(): bool */
ZEND_METHOD(WebsocketConnection, isOpen)
{
	ZEND_PARSE_PARAMETERS_NONE();
	php_ws_connection *pc = Z_WS_CONNECTION_P(ZEND_THIS);
	RETURN_BOOL(pc->conn && ws_conn_is_open(pc->conn));
}
