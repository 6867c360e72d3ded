/* config.c - the configuration array of WebsocketServer. Every key is checked at construction:
 * an unknown key (with the closest known key suggested), a wrong type or an out-of-range value
 * throws an error that names the key, so nothing fails later because of a typo. */
#include "php_ws.h"
#include "zend_exceptions.h"

typedef enum {
	KEY_STRING,
	KEY_PATH, /* a non-empty string, or null */
	KEY_INT,
	KEY_SECONDS,
	KEY_BOOL,
	KEY_CHOICE,      /* a string among `choices` */
	KEY_TOKENS,      /* a list of HTTP tokens */
	KEY_ORIGINS,     /* a list of "scheme://host[:port]" */
	KEY_COMPRESSION, /* false, true, or an array of compression_keys */
	KEY_TLS,         /* null, or an array of tls_keys */
} key_type;

typedef struct config_key {
	const char *name;
	key_type type;
	double min, max; /* for KEY_INT and KEY_SECONDS */
	const char *doc_default;
	const char *choices; /* for KEY_CHOICE: "a|b" */
} config_key;

#define MIB (1024.0 * 1024.0)

static const config_key keys[] = {
    {"host", KEY_STRING, 0, 0, "0.0.0.0", NULL},
    {"port", KEY_INT, 0, 65535, "8000", NULL},
    {"workers", KEY_INT, 1, 256, "1", NULL},
    {"pid_file", KEY_PATH, 0, 0, "null", NULL},
    {"bus_buffer_size", KEY_INT, 64 * 1024, 1024 * MIB, "16777216", NULL},
    {"reload_timeout", KEY_SECONDS, 0.1, 3600, "30", NULL},
    {"backlog", KEY_INT, 1, 65535, "511", NULL},
    {"reuse_port", KEY_BOOL, 0, 0, "false", NULL},
    {"max_header_size", KEY_INT, 1024, 1 * MIB, "8192", NULL},
    {"max_frame_size", KEY_INT, 1, 2048 * MIB, "16777216", NULL},
    {"max_message_size", KEY_INT, 1, 2048 * MIB, "16777216", NULL},
    {"handshake_timeout", KEY_SECONDS, 0.001, 3600, "10", NULL},
    {"close_timeout", KEY_SECONDS, 0.001, 3600, "5", NULL},
    {"shutdown_timeout", KEY_SECONDS, 0.001, 3600, "5", NULL},
    {"idle_timeout", KEY_SECONDS, 0, 86400, "0", NULL},
    {"ping_interval", KEY_SECONDS, 0, 86400, "30", NULL},
    {"max_connections", KEY_INT, 1, 10000000, "10000", NULL},
    {"max_connections_per_ip", KEY_INT, 0, 10000000, "0", NULL},
    {"max_handshakes", KEY_INT, 0, 10000000, "1024", NULL},
    {"max_handshakes_per_ip", KEY_INT, 0, 10000000, "0", NULL},
    {"max_output_buffer", KEY_INT, 1024, 1024 * 1024 * MIB, "8388608", NULL},
    {"max_receive_memory", KEY_INT, 0, 1024 * 1024 * MIB, "0", NULL},
    {"output_overflow", KEY_CHOICE, 0, 0, "close", "close|reject"},
    {"subprotocols", KEY_TOKENS, 0, 0, "[]", NULL},
    {"allowed_origins", KEY_ORIGINS, 0, 0, "[]", NULL},
    {"compression", KEY_COMPRESSION, 0, 0, "false", NULL},
    {"tls", KEY_TLS, 0, 0, "null", NULL},
};

/* The keys of a 'compression' array (permessage-deflate) and of a 'tls' array, named as errors
 * name them. */
static const config_key compression_keys[] = {
    {"compression.server_max_window_bits", KEY_INT, 9, 15, "15", NULL},
    {"compression.client_max_window_bits", KEY_INT, 8, 15, "15", NULL},
    {"compression.server_context_takeover", KEY_BOOL, 0, 0, "false", NULL},
    {"compression.client_context_takeover", KEY_BOOL, 0, 0, "false", NULL},
    {"compression.memory_level", KEY_INT, 1, 9, "8", NULL},
    {"compression.level", KEY_INT, 0, 9, "1", NULL},
    {"compression.min_size", KEY_INT, 0, 2048 * MIB, "64", NULL},
    {"compression.idle_release", KEY_INT, 0, 86400, "30", NULL},
};
#define NUM_COMPRESSION_KEYS (sizeof(compression_keys) / sizeof(compression_keys[0]))

/* No default for cert; port's null means `port` itself speaks TLS. */
static const config_key tls_keys[] = {
    {"tls.cert", KEY_STRING, 0, 0, NULL, NULL},
    {"tls.key", KEY_PATH, 0, 0, "null", NULL},
    {"tls.passphrase", KEY_PATH, 0, 0, "null", NULL},
    {"tls.ca", KEY_PATH, 0, 0, "null", NULL},
    {"tls.verify_peer", KEY_BOOL, 0, 0, "false", NULL},
    {"tls.min_version", KEY_CHOICE, 0, 0, "TLSv1.2", "TLSv1.2|TLSv1.3"},
    {"tls.ciphers", KEY_PATH, 0, 0, "null", NULL},
    {"tls.port", KEY_INT, 0, 65535, "null", NULL},
};
#define NUM_TLS_KEYS (sizeof(tls_keys) / sizeof(tls_keys[0]))
/* Positions in tls_keys, in its order. */
enum {
	TLS_CERT,
	TLS_KEY,
	TLS_PASSPHRASE,
	TLS_CA,
	TLS_VERIFY_PEER,
	TLS_MIN_VERSION,
	TLS_CIPHERS,
	TLS_PORT
};

/* A key whose value may be an array of sub-keys. */
typedef struct key_group {
	const char *name;
	const config_key *keys;
	size_t n;
} key_group;

static const key_group compression_group = {"compression", compression_keys, NUM_COMPRESSION_KEYS};
static const key_group tls_group = {"tls", tls_keys, NUM_TLS_KEYS};

/* "server_max_window_bits" of "compression.server_max_window_bits" */
static const char *short_name(const config_key *k)
{
	return strchr(k->name, '.') + 1;
}

static const config_key *find_sub_key(const key_group *g, zend_string *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (zend_string_equals_cstr(name, short_name(&g->keys[i]), strlen(short_name(&g->keys[i]))))
			return &g->keys[i];
	return NULL;
}

static zend_result check_value(const config_key *k, zval *v);
static zend_result type_error(const config_key *k, const char *expected, zval *v);

static zend_result check_group(const key_group *g, zval *v)
{
	zend_string *name;
	zval *item;
	ZEND_HASH_FOREACH_STR_KEY_VAL(Z_ARRVAL_P(v), name, item) {
		const config_key *sub = name ? find_sub_key(g, name) : NULL;
		if (!sub) {
			zend_argument_value_error(1, "key \"%s\" contains unknown key \"%s\"", g->name,
			                          name ? ZSTR_VAL(name) : "(an integer)");
			return FAILURE;
		}
		ZVAL_DEREF(item);
		if (check_value(sub, item) == FAILURE)
			return FAILURE;
	}
	ZEND_HASH_FOREACH_END();
	return SUCCESS;
}

static zend_result check_compression(const config_key *k, zval *v)
{
	if (Z_TYPE_P(v) == IS_TRUE || Z_TYPE_P(v) == IS_FALSE)
		return SUCCESS;
	if (Z_TYPE_P(v) != IS_ARRAY)
		return type_error(k, "bool|array", v);
	return check_group(&compression_group, v);
}

static zend_result check_tls(const config_key *k, zval *v)
{
	if (Z_TYPE_P(v) == IS_NULL)
		return SUCCESS;
	if (Z_TYPE_P(v) != IS_ARRAY)
		return type_error(k, "?array", v);
	if (check_group(&tls_group, v) == FAILURE)
		return FAILURE;
	if (!zend_hash_str_exists(Z_ARRVAL_P(v), "cert", 4)) {
		zend_argument_value_error(1, "key \"tls\" needs \"cert\", the certificate file (PEM)");
		return FAILURE;
	}
	return SUCCESS;
}

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
		const char *s = Z_STRVAL_P(item);
		size_t n = Z_STRLEN_P(item);
		bool ok = n > 0 && n <= 255;
		/* Subprotocol names are HTTP tokens (RFC 6455 4.1, RFC 9110 5.6.2); an origin is
		 * compared whole with the Origin header, so it must look like one (RFC 6454 6.1). */
		const char *bad = k->type == KEY_TOKENS ? "()<>@,;:\\\"/[]?={}" : "\"\\ ";
		for (size_t i = 0; ok && i < n; i++)
			ok = s[i] > 0x20 && s[i] < 0x7f && !strchr(bad, s[i]);
		if (ok && k->type == KEY_ORIGINS)
			ok = strstr(s, "://") != NULL && s[n - 1] != '/';
		if (!ok) {
			zend_argument_value_error(
			    1, "key \"%s\" contains \"%s\", which is not a valid %s", k->name, s,
			    k->type == KEY_TOKENS ? "token" : "origin (scheme://host[:port])");
			return FAILURE;
		}
	}
	ZEND_HASH_FOREACH_END();
	return SUCCESS;
}

static zend_result check_value(const config_key *k, zval *v)
{
	switch (k->type) {
	case KEY_PATH:
		if (Z_TYPE_P(v) == IS_NULL)
			return SUCCESS;
		if (Z_TYPE_P(v) != IS_STRING)
			return type_error(k, "?string", v);
		ZEND_FALLTHROUGH;
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
	case KEY_CHOICE: {
		if (Z_TYPE_P(v) != IS_STRING)
			return type_error(k, "string", v);
		size_t n = Z_STRLEN_P(v);
		for (const char *c = k->choices; *c;) {
			size_t len = strcspn(c, "|");
			if (len == n && memcmp(c, Z_STRVAL_P(v), n) == 0)
				return SUCCESS;
			c += len + (c[len] == '|');
		}
		zend_argument_value_error(1, "key \"%s\" must be one of %s, \"%s\" given", k->name,
		                          k->choices, Z_STRVAL_P(v));
		return FAILURE;
	}
	case KEY_TOKENS:
	case KEY_ORIGINS:
		return check_list(k, v);
	case KEY_COMPRESSION:
		return check_compression(k, v);
	case KEY_TLS:
		return check_tls(k, v);
	}
	return FAILURE;
}

static void set_default(zval *config, const config_key *k)
{
	zval v;
	switch (k->type) {
	case KEY_PATH:
	case KEY_TLS:
		ZVAL_NULL(&v);
		break;
	case KEY_STRING:
	case KEY_CHOICE:
		ZVAL_STRING(&v, k->doc_default);
		break;
	case KEY_BOOL:
	case KEY_COMPRESSION:
		ZVAL_BOOL(&v, strcmp(k->doc_default, "true") == 0);
		break;
	case KEY_INT:
		ZVAL_LONG(&v, ZEND_STRTOL(k->doc_default, NULL, 10));
		break;
	case KEY_SECONDS:
		ZVAL_DOUBLE(&v, zend_strtod(k->doc_default, NULL));
		break;
	case KEY_TOKENS:
	case KEY_ORIGINS:
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

/* Borrows the strings of a validated list into an array for the core (which copies them). */
static const char *const *string_list(zval *list, size_t *n)
{
	*n = zend_hash_num_elements(Z_ARRVAL_P(list));
	if (!*n)
		return NULL;
	const char **out = safe_emalloc(*n, sizeof(*out), 0);
	size_t i = 0;
	zval *v;
	ZEND_HASH_FOREACH_VAL(Z_ARRVAL_P(list), v) {
		out[i++] = Z_STRVAL_P(v);
	}
	ZEND_HASH_FOREACH_END();
	return out;
}

/* Turns 'compression' into its effective form (false, or an array with every key) and fills
 * the core's deflate configuration from it. */
static void set_compression(php_ws_server *srv)
{
	zval *given = get(srv, "compression");
	srv->cfg.deflate = NULL;
	if (Z_TYPE_P(given) == IS_FALSE)
		return;
	zval effective;
	array_init(&effective);
	zend_long values[NUM_COMPRESSION_KEYS];
	for (size_t i = 0; i < NUM_COMPRESSION_KEYS; i++) {
		const config_key *k = &compression_keys[i];
		const char *name = short_name(k);
		zval *v = Z_TYPE_P(given) == IS_ARRAY
		              ? zend_hash_str_find_deref(Z_ARRVAL_P(given), name, strlen(name))
		              : NULL;
		zval value;
		if (v)
			ZVAL_COPY(&value, v);
		else if (k->type == KEY_BOOL)
			ZVAL_BOOL(&value, strcmp(k->doc_default, "true") == 0);
		else
			ZVAL_LONG(&value, ZEND_STRTOL(k->doc_default, NULL, 10));
		values[i] = k->type == KEY_BOOL ? Z_TYPE(value) == IS_TRUE : Z_LVAL(value);
		zend_hash_str_update(Z_ARRVAL(effective), name, strlen(name), &value);
	}
	zend_hash_str_update(Z_ARRVAL(srv->config), "compression", sizeof("compression") - 1,
	                     &effective);
	srv->deflate = (ws_deflate_config){
	    .server_max_window_bits = (uint8_t)values[0],
	    .client_max_window_bits = (uint8_t)values[1],
	    .server_context_takeover = values[2] != 0,
	    .client_context_takeover = values[3] != 0,
	    .mem_level = (uint8_t)values[4],
	    .level = (int8_t)values[5],
	};
	srv->cfg.deflate = &srv->deflate;
	srv->cfg.deflate_min_bytes = (size_t)values[6];
	srv->cfg.deflate_idle_ms = (uint32_t)values[7] * 1000;
}

/* Turns 'tls' into its effective form (null, or an array with every key; a passphrase shows
 * as "(set)", so that dumping the configuration never prints it) and fills the core's TLS
 * configuration, borrowing the strings of the user's array (the core copies them). */
static void set_tls(php_ws_server *srv, HashTable *user)
{
	srv->cfg.tls = NULL;
	srv->cfg.tls_port = -1;
	zval *given = zend_hash_str_find_deref(user, "tls", 3);
	if (!given || Z_TYPE_P(given) != IS_ARRAY)
		return;
	zval effective;
	array_init(&effective);
	const char *strs[NUM_TLS_KEYS] = {0};
	for (size_t i = 0; i < NUM_TLS_KEYS; i++) {
		const config_key *k = &tls_keys[i];
		const char *name = short_name(k);
		zval *v = zend_hash_str_find_deref(Z_ARRVAL_P(given), name, strlen(name));
		zval value;
		if (v && Z_TYPE_P(v) == IS_STRING)
			strs[i] = Z_STRVAL_P(v);
		if (v && i == TLS_PASSPHRASE && Z_TYPE_P(v) == IS_STRING)
			ZVAL_STRING(&value, "(set)");
		else if (v)
			ZVAL_COPY(&value, v);
		else if (k->type == KEY_BOOL)
			ZVAL_FALSE(&value);
		else if (k->type == KEY_CHOICE)
			ZVAL_STRING(&value, k->doc_default);
		else
			ZVAL_NULL(&value);
		if (i == TLS_VERIFY_PEER)
			srv->tls.verify_peer = Z_TYPE(value) == IS_TRUE;
		else if (i == TLS_MIN_VERSION)
			srv->tls.min_version = zend_string_equals_literal(Z_STR(value), "TLSv1.3") ? 13 : 12;
		else if (i == TLS_PORT && Z_TYPE(value) == IS_LONG)
			srv->cfg.tls_port = (int)Z_LVAL(value);
		zend_hash_str_update(Z_ARRVAL(effective), name, strlen(name), &value);
	}
	zend_hash_str_update(Z_ARRVAL(srv->config), "tls", 3, &effective);
	srv->tls.cert = strs[TLS_CERT];
	srv->tls.key = strs[TLS_KEY];
	srv->tls.passphrase = strs[TLS_PASSPHRASE];
	srv->tls.ca = strs[TLS_CA];
	srv->tls.ciphers = strs[TLS_CIPHERS];
	srv->cfg.tls = &srv->tls;
}

/* Both listeners bind with SO_REUSEPORT under workers, so the same number twice would not
 * fail to bind: the kernel would split clients between plain and TLS at random. */
static zend_result check_ports(HashTable *user)
{
	zval *tls = zend_hash_str_find_deref(user, "tls", 3);
	zval *tls_port = tls && Z_TYPE_P(tls) == IS_ARRAY
	                     ? zend_hash_str_find_deref(Z_ARRVAL_P(tls), "port", 4)
	                     : NULL;
	zval *port = zend_hash_str_find_deref(user, "port", 4);
	zend_string *name = zend_string_init("port", 4, 0);
	zend_long plain = port ? Z_LVAL_P(port) : ZEND_STRTOL(find_key(name)->doc_default, NULL, 10);
	zend_string_release(name);
	if (tls_port && Z_LVAL_P(tls_port) != 0 && Z_LVAL_P(tls_port) == plain) {
		zend_argument_value_error(1,
		                          "key \"tls.port\" must differ from \"port\" (" ZEND_LONG_FMT
		                          "); leave it out to make \"port\" itself speak TLS",
		                          plain);
		return FAILURE;
	}
	return SUCCESS;
}

/* 'max_receive_memory': what the messages still being received may hold together in one
 * process. 0 (the default) derives it from memory_limit: half of it, so that the rest of the
 * application keeps room, or without a memory_limit a quarter of the machine's memory per
 * worker, at most 1 GiB. getConfig() shows the number in force. */
static size_t receive_budget(php_ws_server *srv)
{
	zend_long given = Z_LVAL_P(get(srv, "max_receive_memory"));
	if (given > 0)
		return (size_t)given;
	uint64_t budget;
	if (PG(memory_limit) > 0) {
		budget = (uint64_t)PG(memory_limit) / 2;
	} else {
		long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
		uint64_t ram = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 4 * (uint64_t)MIB;
		budget = ram / 4 / Z_LVAL_P(get(srv, "workers"));
		if (budget > 1024 * (uint64_t)MIB)
			budget = 1024 * (uint64_t)MIB;
	}
	if (budget < 1024 * 1024)
		budget = 1024 * 1024;
	zval v;
	ZVAL_LONG(&v, (zend_long)budget);
	zend_hash_str_update(Z_ARRVAL(srv->config), "max_receive_memory",
	                     sizeof("max_receive_memory") - 1, &v);
	return (size_t)budget;
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
	if (check_ports(user) == FAILURE)
		return FAILURE;

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
	cfg->idle_timeout_ms = ms(get(srv, "idle_timeout"));
	cfg->ping_interval_ms = ms(get(srv, "ping_interval"));
	cfg->max_connections = (size_t)Z_LVAL_P(get(srv, "max_connections"));
	cfg->max_connections_per_ip = (size_t)Z_LVAL_P(get(srv, "max_connections_per_ip"));
	cfg->max_handshakes = (size_t)Z_LVAL_P(get(srv, "max_handshakes"));
	cfg->max_handshakes_per_ip = (size_t)Z_LVAL_P(get(srv, "max_handshakes_per_ip"));
	cfg->max_output_bytes = (size_t)Z_LVAL_P(get(srv, "max_output_buffer"));
	cfg->max_receive_bytes = receive_budget(srv);
	cfg->overflow_rejects =
	    zend_string_equals_literal(Z_STR_P(get(srv, "output_overflow")), "reject");
	cfg->subprotocols = string_list(get(srv, "subprotocols"), &cfg->num_subprotocols);
	cfg->allowed_origins = string_list(get(srv, "allowed_origins"), &cfg->num_allowed_origins);
	set_compression(srv);
	set_tls(srv, user);
	srv->workers = (unsigned)Z_LVAL_P(get(srv, "workers"));
	srv->bus_max = (size_t)Z_LVAL_P(get(srv, "bus_buffer_size"));
	srv->reload_timeout_ms = ms(get(srv, "reload_timeout"));
	zval *pid_file = get(srv, "pid_file");
	srv->pid_file = Z_TYPE_P(pid_file) == IS_STRING ? Z_STRVAL_P(pid_file) : NULL;
	return SUCCESS;
}

void php_ws_config_release(php_ws_server *srv)
{
	if (srv->cfg.subprotocols)
		efree((void *)srv->cfg.subprotocols);
	if (srv->cfg.allowed_origins)
		efree((void *)srv->cfg.allowed_origins);
	srv->cfg.subprotocols = srv->cfg.allowed_origins = NULL;
	zval_ptr_dtor(&srv->config);
	ZVAL_UNDEF(&srv->config);
}
