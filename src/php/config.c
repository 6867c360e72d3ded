/* config.c - the configuration array of WebsocketServer. Every key is checked at construction:
 * an unknown key (with the closest known key suggested), a wrong type or an out-of-range value
 * throws an error that names the key, so nothing fails later because of a typo. */
#include "php_ws.h"
#include "zend_exceptions.h"

typedef enum { KEY_STRING, KEY_INT, KEY_SECONDS, KEY_BOOL, KEY_LIST } key_type;

typedef struct config_key {
	const char *name;
	key_type type;
	double min, max; /* for KEY_INT and KEY_SECONDS */
	const char *doc_default;
} config_key;

#define MIB (1024.0 * 1024.0)

static const config_key keys[] = {
    {"host", KEY_STRING, 0, 0, "0.0.0.0"},
    {"port", KEY_INT, 0, 65535, "8000"},
    {"workers", KEY_INT, 1, 1, "1"},
    {"backlog", KEY_INT, 1, 65535, "511"},
    {"reuse_port", KEY_BOOL, 0, 0, "false"},
    {"max_header_size", KEY_INT, 1024, 1 * MIB, "8192"},
    {"max_frame_size", KEY_INT, 1, 2048 * MIB, "16777216"},
    {"max_message_size", KEY_INT, 1, 2048 * MIB, "16777216"},
    {"handshake_timeout", KEY_SECONDS, 0.001, 3600, "10"},
    {"close_timeout", KEY_SECONDS, 0.001, 3600, "5"},
    {"shutdown_timeout", KEY_SECONDS, 0.001, 3600, "5"},
    {"subprotocols", KEY_LIST, 0, 0, "[]"},
};

static const config_key *find_key(zend_string *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, ZSTR_VAL(name)) == 0 && strlen(keys[i].name) == ZSTR_LEN(name))
			return &keys[i];
	return NULL;
}

/* Levenshtein distance, bounded by the short key names, for "did you mean". */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t row[64];
	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static void unknown_key(zend_string *name)
{
	const char *best = NULL;
	size_t best_d = 4;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t d = distance(ZSTR_VAL(name), ZSTR_LEN(name), keys[i].name, strlen(keys[i].name));
		if (d < best_d) {
			best_d = d;
			best = keys[i].name;
		}
	}
	if (best)
		zend_argument_value_error(1, "contains unknown key \"%s\"; did you mean \"%s\"?",
		                          ZSTR_VAL(name), best);
	else
		zend_argument_value_error(1, "contains unknown key \"%s\"", ZSTR_VAL(name));
}

static zend_result type_error(const config_key *k, const char *expected, zval *v)
{
	zend_argument_type_error(1, "key \"%s\" must be of type %s, %s given", k->name, expected,
	                         zend_zval_type_name(v));
	return FAILURE;
}

static zend_result check_list(const config_key *k, zval *v)
{
	if (Z_TYPE_P(v) != IS_ARRAY)
		return type_error(k, "array", v);
	zval *item;
	ZEND_HASH_FOREACH_VAL(Z_ARRVAL_P(v), item) {
		if (Z_TYPE_P(item) != IS_STRING) {
			zend_argument_type_error(1, "key \"%s\" must contain only strings, %s found", k->name,
			                         zend_zval_type_name(item));
			return FAILURE;
		}
		/* Subprotocol names are HTTP tokens (RFC 6455 4.1, RFC 9110 5.6.2). */
		const char *s = Z_STRVAL_P(item);
		size_t n = Z_STRLEN_P(item);
		bool ok = n > 0 && n <= 255;
		for (size_t i = 0; ok && i < n; i++)
			ok = s[i] > 0x20 && s[i] < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", s[i]);
		if (!ok) {
			zend_argument_value_error(1, "key \"%s\" contains \"%s\", which is not a valid token",
			                          k->name, s);
			return FAILURE;
		}
	}
	ZEND_HASH_FOREACH_END();
	return SUCCESS;
}

static zend_result check_value(const config_key *k, zval *v)
{
	switch (k->type) {
	case KEY_STRING:
		if (Z_TYPE_P(v) != IS_STRING)
			return type_error(k, "string", v);
		if (Z_STRLEN_P(v) == 0 || Z_STRLEN_P(v) != strlen(Z_STRVAL_P(v))) {
			zend_argument_value_error(1, "key \"%s\" must be a non-empty string without NUL bytes",
			                          k->name);
			return FAILURE;
		}
		return SUCCESS;
	case KEY_BOOL:
		return Z_TYPE_P(v) == IS_TRUE || Z_TYPE_P(v) == IS_FALSE ? SUCCESS
		                                                         : type_error(k, "bool", v);
	case KEY_INT:
		if (Z_TYPE_P(v) != IS_LONG)
			return type_error(k, "int", v);
		if ((double)Z_LVAL_P(v) < k->min || (double)Z_LVAL_P(v) > k->max) {
			if (k->min == k->max)
				zend_argument_value_error(
				    1, "key \"%s\" must be %.0f in this build, " ZEND_LONG_FMT " given", k->name,
				    k->min, Z_LVAL_P(v));
			else
				zend_argument_value_error(
				    1, "key \"%s\" must be between %.0f and %.0f, " ZEND_LONG_FMT " given", k->name,
				    k->min, k->max, Z_LVAL_P(v));
			return FAILURE;
		}
		return SUCCESS;
	case KEY_SECONDS: {
		double d;
		if (Z_TYPE_P(v) == IS_LONG)
			d = (double)Z_LVAL_P(v);
		else if (Z_TYPE_P(v) == IS_DOUBLE)
			d = Z_DVAL_P(v);
		else
			return type_error(k, "int|float (seconds)", v);
		if (!(d >= k->min && d <= k->max)) {
			zend_argument_value_error(1, "key \"%s\" must be between %g and %g seconds, %g given",
			                          k->name, k->min, k->max, d);
			return FAILURE;
		}
		return SUCCESS;
	}
	case KEY_LIST:
		return check_list(k, v);
	}
	return FAILURE;
}

static void set_default(zval *config, const config_key *k)
{
	zval v;
	switch (k->type) {
	case KEY_STRING:
		ZVAL_STRING(&v, k->doc_default);
		break;
	case KEY_BOOL:
		ZVAL_BOOL(&v, strcmp(k->doc_default, "true") == 0);
		break;
	case KEY_INT:
		ZVAL_LONG(&v, ZEND_STRTOL(k->doc_default, NULL, 10));
		break;
	case KEY_SECONDS:
		ZVAL_DOUBLE(&v, zend_strtod(k->doc_default, NULL));
		break;
	case KEY_LIST:
		ZVAL_EMPTY_ARRAY(&v);
		break;
	}
	zend_hash_str_update(Z_ARRVAL_P(config), k->name, strlen(k->name), &v);
}

static zval *get(php_ws_server *srv, const char *name)
{
	return zend_hash_str_find(Z_ARRVAL(srv->config), name, strlen(name));
}

static uint32_t ms(zval *v)
{
	return (uint32_t)(Z_DVAL_P(v) * 1000.0 + 0.5);
}

zend_result php_ws_config_parse(php_ws_server *srv, HashTable *user)
{
	zend_string *name;
	zval *v;
	ZEND_HASH_FOREACH_STR_KEY_VAL(user, name, v) {
		if (!name) {
			zend_argument_value_error(1, "must be an array with string keys");
			return FAILURE;
		}
		const config_key *k = find_key(name);
		if (!k) {
			unknown_key(name);
			return FAILURE;
		}
		ZVAL_DEREF(v);
		if (check_value(k, v) == FAILURE)
			return FAILURE;
	}
	ZEND_HASH_FOREACH_END();

	array_init(&srv->config);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		zval *given = zend_hash_str_find_deref(user, keys[i].name, strlen(keys[i].name));
		if (given && keys[i].type == KEY_SECONDS) {
			/* Report seconds as float whether given as 2 or 2.0, like the defaults. */
			zval seconds;
			ZVAL_DOUBLE(&seconds, zval_get_double(given));
			zend_hash_str_update(Z_ARRVAL(srv->config), keys[i].name, strlen(keys[i].name),
			                     &seconds);
		} else if (given) {
			Z_TRY_ADDREF_P(given);
			zend_hash_str_update(Z_ARRVAL(srv->config), keys[i].name, strlen(keys[i].name), given);
		} else {
			set_default(&srv->config, &keys[i]);
		}
	}

	ws_server_config *cfg = &srv->cfg;
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = Z_STRVAL_P(get(srv, "host"));
	cfg->port = (int)Z_LVAL_P(get(srv, "port"));
	cfg->backlog = (int)Z_LVAL_P(get(srv, "backlog"));
	cfg->reuse_port = Z_TYPE_P(get(srv, "reuse_port")) == IS_TRUE;
	cfg->max_header_bytes = (size_t)Z_LVAL_P(get(srv, "max_header_size"));
	cfg->max_frame_bytes = (uint64_t)Z_LVAL_P(get(srv, "max_frame_size"));
	cfg->max_message_bytes = (uint64_t)Z_LVAL_P(get(srv, "max_message_size"));
	cfg->handshake_timeout_ms = ms(get(srv, "handshake_timeout"));
	cfg->close_timeout_ms = ms(get(srv, "close_timeout"));
	cfg->shutdown_timeout_ms = ms(get(srv, "shutdown_timeout"));
	HashTable *protocols = Z_ARRVAL_P(get(srv, "subprotocols"));
	cfg->num_subprotocols = zend_hash_num_elements(protocols);
	if (cfg->num_subprotocols) {
		const char **list = emalloc(cfg->num_subprotocols * sizeof(*list));
		size_t i = 0;
		ZEND_HASH_FOREACH_VAL(protocols, v) {
			list[i++] = Z_STRVAL_P(v);
		}
		ZEND_HASH_FOREACH_END();
		cfg->subprotocols = list;
	}
	return SUCCESS;
}

void php_ws_config_release(php_ws_server *srv)
{
	if (srv->cfg.subprotocols)
		efree((void *)srv->cfg.subprotocols);
	srv->cfg.subprotocols = NULL;
	zval_ptr_dtor(&srv->config);
	ZVAL_UNDEF(&srv->config);
}
