dnl config.m4 for ext-websocket: a native WebSocket server for PHP.

PHP_ARG_ENABLE([websocket],
  [whether to enable the websocket extension],
  [AS_HELP_STRING([--enable-websocket], [Enable the WebSocket server extension])],
  [no])

PHP_ARG_ENABLE([websocket-dev],
  [whether to build websocket with strict developer warnings],
  [AS_HELP_STRING([--enable-websocket-dev], [websocket: add -std=c11 -Werror and strict warnings])],
  [no],
  [no])

if test "$PHP_WEBSOCKET" != "no"; then
  PKG_PROG_PKG_CONFIG
  if test -z "$PKG_CONFIG"; then
    AC_MSG_ERROR([websocket needs pkg-config to find OpenSSL and zlib (Debian: apt-get install pkg-config)])
  fi

  dnl libcrypto computes SHA-1 for Sec-WebSocket-Accept; libssl carries wss:// (src/tls.c).
  PKG_CHECK_MODULES([WEBSOCKET_OPENSSL], [openssl >= 1.1.1], [],
    [AC_MSG_ERROR([websocket needs OpenSSL >= 1.1.1 development files (Debian: apt-get install libssl-dev)])])
  PHP_EVAL_INCLINE($WEBSOCKET_OPENSSL_CFLAGS)
  PHP_EVAL_LIBLINE($WEBSOCKET_OPENSSL_LIBS, WEBSOCKET_SHARED_LIBADD)

  dnl zlib carries permessage-deflate (RFC 7692); 1.2.9 reads a compressor's window back, which a
  dnl reload hands to the new worker (context takeover).
  PKG_CHECK_MODULES([WEBSOCKET_ZLIB], [zlib >= 1.2.9], [],
    [AC_MSG_ERROR([websocket needs zlib development files (Debian: apt-get install zlib1g-dev)])])
  PHP_EVAL_INCLINE($WEBSOCKET_ZLIB_CFLAGS)
  PHP_EVAL_LIBLINE($WEBSOCKET_ZLIB_LIBS, WEBSOCKET_SHARED_LIBADD)

  if test "$PHP_WEBSOCKET_DEV" != "no"; then
    WEBSOCKET_CORE_CFLAGS="-std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2"
    dnl Zend's method macros declare parameters a body may not use, and the methods' prototypes
    dnl live in the generated arginfo, which only websocket.c includes.
    WEBSOCKET_PHP_CFLAGS="$WEBSOCKET_CORE_CFLAGS -Wno-unused-parameter -Wno-missing-prototypes"
  else
    WEBSOCKET_CORE_CFLAGS="-Wall -Wextra"
    WEBSOCKET_PHP_CFLAGS="-Wall -Wextra -Wno-unused-parameter"
  fi

  WEBSOCKET_CORE_SOURCES="src/alloc.c src/buf.c src/loop.c src/wheel.c src/net.c src/http.c src/handshake.c src/frame.c src/utf8.c src/deflate_offer.c src/deflate.c src/tls.c src/conn_life.c src/conn_in.c src/conn_out.c src/conn_upgrade.c src/conn_save.c src/rooms.c src/stats.c src/bus.c src/server.c src/server_conns.c src/server_route.c src/worker.c src/master.c src/control.c"
  WEBSOCKET_PHP_SOURCES="websocket.c src/php/callbacks.c src/php/config.c src/php/connection.c src/php/exception.c src/php/server.c src/php/timers.c"

  PHP_NEW_EXTENSION(websocket, $WEBSOCKET_CORE_SOURCES, $ext_shared,, $WEBSOCKET_CORE_CFLAGS)
  PHP_ADD_SOURCES_X(PHP_EXT_DIR(websocket), $WEBSOCKET_PHP_SOURCES, $WEBSOCKET_PHP_CFLAGS, shared_objects_websocket, yes)
  PHP_ADD_BUILD_DIR($ext_builddir/src)
  PHP_ADD_BUILD_DIR($ext_builddir/src/php)
  PHP_SUBST(WEBSOCKET_SHARED_LIBADD)
fi
