/* This is a generated file, edit the .stub.php file instead.
 * Stub hash: b04cbe6ef37af3c0ad11cf1122952496e5b97e3d */

ZEND_BEGIN_ARG_INFO_EX(arginfo_class_WebsocketServer___construct, 0, 0, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, config, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_start, 0, 0, IS_VOID, 0)
ZEND_END_ARG_INFO()

#define arginfo_class_WebsocketServer_stop arginfo_class_WebsocketServer_start

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_on, 0, 2, IS_STATIC, 0)
	ZEND_ARG_TYPE_INFO(0, event, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_send, 0, 2, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO(0, id, IS_LONG, 0)
	ZEND_ARG_TYPE_INFO(0, data, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, binary, _IS_BOOL, 0, "false")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_broadcast, 0, 1, IS_LONG, 0)
	ZEND_ARG_TYPE_INFO(0, data, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, binary, _IS_BOOL, 0, "false")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, exceptIds, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_publish, 0, 2, IS_LONG, 0)
	ZEND_ARG_TYPE_INFO(0, room, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, data, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, binary, _IS_BOOL, 0, "false")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, exceptIds, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_join, 0, 2, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO(0, id, IS_LONG, 0)
	ZEND_ARG_TYPE_INFO(0, room, IS_STRING, 0)
ZEND_END_ARG_INFO()

#define arginfo_class_WebsocketServer_leave arginfo_class_WebsocketServer_join

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_roomSize, 0, 1, IS_LONG, 0)
	ZEND_ARG_TYPE_INFO(0, room, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_close, 0, 1, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO(0, id, IS_LONG, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, code, IS_LONG, 0, "1000")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, reason, IS_STRING, 0, "\"\"")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_stats, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_workerId, 0, 0, IS_LONG, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_control, 0, 1, IS_LONG, 0)
	ZEND_ARG_TYPE_INFO(0, command, IS_STRING, 0)
ZEND_END_ARG_INFO()

#define arginfo_class_WebsocketServer_connections arginfo_class_WebsocketServer_stats

#define arginfo_class_WebsocketServer_connectionCount arginfo_class_WebsocketServer_workerId

ZEND_BEGIN_ARG_WITH_RETURN_OBJ_INFO_EX(arginfo_class_WebsocketServer_getConnection, 0, 1, WebsocketConnection, 1)
	ZEND_ARG_TYPE_INFO(0, id, IS_LONG, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_addTimer, 0, 2, IS_LONG, 0)
	ZEND_ARG_TYPE_INFO(0, seconds, IS_DOUBLE, 0)
	ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, repeat, _IS_BOOL, 0, "false")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_clearTimer, 0, 1, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO(0, timerId, IS_LONG, 0)
ZEND_END_ARG_INFO()

#define arginfo_class_WebsocketServer_getPort arginfo_class_WebsocketServer_workerId

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketServer_getTlsPort, 0, 0, IS_LONG, 1)
ZEND_END_ARG_INFO()

#define arginfo_class_WebsocketServer_getConfig arginfo_class_WebsocketServer_stats

ZEND_BEGIN_ARG_INFO_EX(arginfo_class_WebsocketConnection___construct, 0, 0, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketConnection_send, 0, 1, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO(0, data, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, binary, _IS_BOOL, 0, "false")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketConnection_ping, 0, 0, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, payload, IS_STRING, 0, "\"\"")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketConnection_close, 0, 0, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, code, IS_LONG, 0, "1000")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, reason, IS_STRING, 0, "\"\"")
ZEND_END_ARG_INFO()

#define arginfo_class_WebsocketConnection_bufferedAmount arginfo_class_WebsocketServer_workerId

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketConnection_isOpen, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_WebsocketConnection_join, 0, 1, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO(0, room, IS_STRING, 0)
ZEND_END_ARG_INFO()

#define arginfo_class_WebsocketConnection_leave arginfo_class_WebsocketConnection_join

#define arginfo_class_WebsocketConnection_rooms arginfo_class_WebsocketServer_stats


ZEND_METHOD(WebsocketServer, __construct);
ZEND_METHOD(WebsocketServer, start);
ZEND_METHOD(WebsocketServer, stop);
ZEND_METHOD(WebsocketServer, on);
ZEND_METHOD(WebsocketServer, send);
ZEND_METHOD(WebsocketServer, broadcast);
ZEND_METHOD(WebsocketServer, publish);
ZEND_METHOD(WebsocketServer, join);
ZEND_METHOD(WebsocketServer, leave);
ZEND_METHOD(WebsocketServer, roomSize);
ZEND_METHOD(WebsocketServer, close);
ZEND_METHOD(WebsocketServer, stats);
ZEND_METHOD(WebsocketServer, workerId);
ZEND_METHOD(WebsocketServer, control);
ZEND_METHOD(WebsocketServer, connections);
ZEND_METHOD(WebsocketServer, connectionCount);
ZEND_METHOD(WebsocketServer, getConnection);
ZEND_METHOD(WebsocketServer, addTimer);
ZEND_METHOD(WebsocketServer, clearTimer);
ZEND_METHOD(WebsocketServer, getPort);
ZEND_METHOD(WebsocketServer, getTlsPort);
ZEND_METHOD(WebsocketServer, getConfig);
ZEND_METHOD(WebsocketConnection, __construct);
ZEND_METHOD(WebsocketConnection, send);
ZEND_METHOD(WebsocketConnection, ping);
ZEND_METHOD(WebsocketConnection, close);
ZEND_METHOD(WebsocketConnection, bufferedAmount);
ZEND_METHOD(WebsocketConnection, isOpen);
ZEND_METHOD(WebsocketConnection, join);
ZEND_METHOD(WebsocketConnection, leave);
ZEND_METHOD(WebsocketConnection, rooms);


static const zend_function_entry class_WebsocketException_methods[] = {
	ZEND_FE_END
};


static const zend_function_entry class_WebsocketServer_methods[] = {
	ZEND_ME(WebsocketServer, __construct, arginfo_class_WebsocketServer___construct, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, start, arginfo_class_WebsocketServer_start, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, stop, arginfo_class_WebsocketServer_stop, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, on, arginfo_class_WebsocketServer_on, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, send, arginfo_class_WebsocketServer_send, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, broadcast, arginfo_class_WebsocketServer_broadcast, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, publish, arginfo_class_WebsocketServer_publish, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, join, arginfo_class_WebsocketServer_join, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, leave, arginfo_class_WebsocketServer_leave, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, roomSize, arginfo_class_WebsocketServer_roomSize, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, close, arginfo_class_WebsocketServer_close, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, stats, arginfo_class_WebsocketServer_stats, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, workerId, arginfo_class_WebsocketServer_workerId, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, control, arginfo_class_WebsocketServer_control, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, connections, arginfo_class_WebsocketServer_connections, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, connectionCount, arginfo_class_WebsocketServer_connectionCount, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, getConnection, arginfo_class_WebsocketServer_getConnection, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, addTimer, arginfo_class_WebsocketServer_addTimer, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, clearTimer, arginfo_class_WebsocketServer_clearTimer, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, getPort, arginfo_class_WebsocketServer_getPort, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, getTlsPort, arginfo_class_WebsocketServer_getTlsPort, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketServer, getConfig, arginfo_class_WebsocketServer_getConfig, ZEND_ACC_PUBLIC)
	ZEND_FE_END
};


static const zend_function_entry class_WebsocketConnection_methods[] = {
	ZEND_ME(WebsocketConnection, __construct, arginfo_class_WebsocketConnection___construct, ZEND_ACC_PRIVATE)
	ZEND_ME(WebsocketConnection, send, arginfo_class_WebsocketConnection_send, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketConnection, ping, arginfo_class_WebsocketConnection_ping, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketConnection, close, arginfo_class_WebsocketConnection_close, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketConnection, bufferedAmount, arginfo_class_WebsocketConnection_bufferedAmount, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketConnection, isOpen, arginfo_class_WebsocketConnection_isOpen, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketConnection, join, arginfo_class_WebsocketConnection_join, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketConnection, leave, arginfo_class_WebsocketConnection_leave, ZEND_ACC_PUBLIC)
	ZEND_ME(WebsocketConnection, rooms, arginfo_class_WebsocketConnection_rooms, ZEND_ACC_PUBLIC)
	ZEND_FE_END
};

static zend_class_entry *register_class_WebsocketException(zend_class_entry *class_entry_Exception)
{
	zend_class_entry ce, *class_entry;

	INIT_CLASS_ENTRY(ce, "WebsocketException", class_WebsocketException_methods);
	class_entry = zend_register_internal_class_ex(&ce, class_entry_Exception);

	return class_entry;
}

static zend_class_entry *register_class_WebsocketServer(void)
{
	zend_class_entry ce, *class_entry;

	INIT_CLASS_ENTRY(ce, "WebsocketServer", class_WebsocketServer_methods);
	class_entry = zend_register_internal_class_ex(&ce, NULL);
	class_entry->ce_flags |= ZEND_ACC_NOT_SERIALIZABLE;

	return class_entry;
}

static zend_class_entry *register_class_WebsocketConnection(void)
{
	zend_class_entry ce, *class_entry;

	INIT_CLASS_ENTRY(ce, "WebsocketConnection", class_WebsocketConnection_methods);
	class_entry = zend_register_internal_class_ex(&ce, NULL);
#if (PHP_VERSION_ID >= 80200)
	class_entry->ce_flags |= ZEND_ACC_FINAL|ZEND_ACC_NOT_SERIALIZABLE|ZEND_ACC_ALLOW_DYNAMIC_PROPERTIES;
#elif (PHP_VERSION_ID >= 80100)
	class_entry->ce_flags |= ZEND_ACC_FINAL|ZEND_ACC_NOT_SERIALIZABLE;
#endif

	zval property_id_default_value;
	ZVAL_UNDEF(&property_id_default_value);
	zend_string *property_id_name = zend_string_init("id", sizeof("id") - 1, 1);
	zend_declare_typed_property(class_entry, property_id_name, &property_id_default_value, ZEND_ACC_PUBLIC|ZEND_ACC_READONLY, NULL, (zend_type) ZEND_TYPE_INIT_MASK(MAY_BE_LONG));
	zend_string_release(property_id_name);

	zval property_remoteAddress_default_value;
	ZVAL_UNDEF(&property_remoteAddress_default_value);
	zend_string *property_remoteAddress_name = zend_string_init("remoteAddress", sizeof("remoteAddress") - 1, 1);
	zend_declare_typed_property(class_entry, property_remoteAddress_name, &property_remoteAddress_default_value, ZEND_ACC_PUBLIC|ZEND_ACC_READONLY, NULL, (zend_type) ZEND_TYPE_INIT_MASK(MAY_BE_STRING));
	zend_string_release(property_remoteAddress_name);

	zval property_remotePort_default_value;
	ZVAL_UNDEF(&property_remotePort_default_value);
	zend_string *property_remotePort_name = zend_string_init("remotePort", sizeof("remotePort") - 1, 1);
	zend_declare_typed_property(class_entry, property_remotePort_name, &property_remotePort_default_value, ZEND_ACC_PUBLIC|ZEND_ACC_READONLY, NULL, (zend_type) ZEND_TYPE_INIT_MASK(MAY_BE_LONG));
	zend_string_release(property_remotePort_name);

	zval property_method_default_value;
	ZVAL_UNDEF(&property_method_default_value);
	zend_string *property_method_name = zend_string_init("method", sizeof("method") - 1, 1);
	zend_declare_typed_property(class_entry, property_method_name, &property_method_default_value, ZEND_ACC_PUBLIC|ZEND_ACC_READONLY, NULL, (zend_type) ZEND_TYPE_INIT_MASK(MAY_BE_STRING));
	zend_string_release(property_method_name);

	zval property_path_default_value;
	ZVAL_UNDEF(&property_path_default_value);
	zend_string *property_path_name = zend_string_init("path", sizeof("path") - 1, 1);
	zend_declare_typed_property(class_entry, property_path_name, &property_path_default_value, ZEND_ACC_PUBLIC|ZEND_ACC_READONLY, NULL, (zend_type) ZEND_TYPE_INIT_MASK(MAY_BE_STRING));
	zend_string_release(property_path_name);

	zval property_query_default_value;
	ZVAL_UNDEF(&property_query_default_value);
	zend_string *property_query_name = zend_string_init("query", sizeof("query") - 1, 1);
	zend_declare_typed_property(class_entry, property_query_name, &property_query_default_value, ZEND_ACC_PUBLIC|ZEND_ACC_READONLY, NULL, (zend_type) ZEND_TYPE_INIT_MASK(MAY_BE_STRING));
	zend_string_release(property_query_name);

	zval property_headers_default_value;
	ZVAL_UNDEF(&property_headers_default_value);
	zend_string *property_headers_name = zend_string_init("headers", sizeof("headers") - 1, 1);
	zend_declare_typed_property(class_entry, property_headers_name, &property_headers_default_value, ZEND_ACC_PUBLIC|ZEND_ACC_READONLY, NULL, (zend_type) ZEND_TYPE_INIT_MASK(MAY_BE_ARRAY));
	zend_string_release(property_headers_name);

	zval property_subprotocol_default_value;
	ZVAL_UNDEF(&property_subprotocol_default_value);
	zend_string *property_subprotocol_name = zend_string_init("subprotocol", sizeof("subprotocol") - 1, 1);
	zend_declare_typed_property(class_entry, property_subprotocol_name, &property_subprotocol_default_value, ZEND_ACC_PUBLIC|ZEND_ACC_READONLY, NULL, (zend_type) ZEND_TYPE_INIT_MASK(MAY_BE_STRING));
	zend_string_release(property_subprotocol_name);

	zval property_data_default_value;
	ZVAL_NULL(&property_data_default_value);
	zend_string *property_data_name = zend_string_init("data", sizeof("data") - 1, 1);
	zend_declare_typed_property(class_entry, property_data_name, &property_data_default_value, ZEND_ACC_PUBLIC, NULL, (zend_type) ZEND_TYPE_INIT_MASK(MAY_BE_ANY));
	zend_string_release(property_data_name);

#if (PHP_VERSION_ID >= 80200)
	zend_string *attribute_name_AllowDynamicProperties_class_WebsocketConnection = zend_string_init_interned("AllowDynamicProperties", sizeof("AllowDynamicProperties") - 1, 1);
	zend_add_class_attribute(class_entry, attribute_name_AllowDynamicProperties_class_WebsocketConnection, 0);
	zend_string_release(attribute_name_AllowDynamicProperties_class_WebsocketConnection);
#endif

	return class_entry;
}
