/* c_server.c - the Zend-free core (src/ without the binding) as a benchmark peer: the echo and
 * chat of peers/ext.php with the PHP binding taken away, so the difference between the two is
 * what the binding costs (a zend_string per message, a method call per event).
 *
 *   c_server echo|chat PORT [--idle-timeout=S] [--ping-interval=S]
 *
 * Listens on 127.0.0.1, prints one "listening on ws://127.0.0.1:PORT/" line when ready, and
 * stops gracefully on SIGINT or SIGTERM. Limits are the extension's defaults except
 * max_connections, raised as in ext.php; --idle-timeout and --ping-interval (seconds, 0 is off)
 * set the keep-alive as the 'idle_timeout' and 'ping_interval' keys do. */
#include "server.h"
#include "alloc.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The hooks' owner: the server, which does not exist yet when ws_server_new takes the owner. */
static ws_server *server;

static void echo_message(void *owner, ws_conn *c, void *msg, size_t len, bool binary)
{
	(void)owner;
	/* Without msg_alloc hooks the message is a ws_malloc'ed buffer that is now ours: it is
	 * sent from where it lies (copied when short) and freed once written, as the extension
	 * does with a PHP string. */
	ws_conn_send_borrowed(c, msg, len, binary, ws_free, msg);
}

static void chat_message(void *owner, ws_conn *c, void *msg, size_t len, bool binary)
{
	(void)owner;
	(void)c;
	ws_server_broadcast(server, msg, len, binary, NULL, 0);
	ws_free(msg);
}

int main(int argc, char **argv)
{
	const char *usage = "usage: c_server echo|chat PORT [--idle-timeout=S] [--ping-interval=S]\n";
	if (argc < 3 || (strcmp(argv[1], "echo") != 0 && strcmp(argv[1], "chat") != 0)) {
		fputs(usage, stderr);
		return 2;
	}
	double idle_s = 0, ping_s = 30;
	for (int i = 3; i < argc; i++) {
		if (strncmp(argv[i], "--idle-timeout=", 15) == 0) {
			idle_s = atof(argv[i] + 15);
		} else if (strncmp(argv[i], "--ping-interval=", 16) == 0) {
			ping_s = atof(argv[i] + 16);
		} else {
			fputs(usage, stderr);
			return 2;
		}
	}
	/* The extension takes message buffers from Zend's allocator, which keeps its pages. Here
	 * they come from glibc, which trims and unmaps freed 64 KiB+ buffers and faults them in
	 * again on the next message (-40% at 64 KiB): keep them, to measure the core, not glibc. */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);

	/* Zero-initialised first: members added later (TLS) stay off. */
	ws_server_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = "127.0.0.1";
	cfg.port = atoi(argv[2]);
	cfg.backlog = 511;
	cfg.max_header_bytes = 8192;
	cfg.max_frame_bytes = 16u * 1024 * 1024;
	cfg.max_message_bytes = 16u * 1024 * 1024;
	cfg.handshake_timeout_ms = 10000;
	cfg.close_timeout_ms = 5000;
	cfg.shutdown_timeout_ms = 5000;
	cfg.idle_timeout_ms = (uint32_t)(idle_s * 1000 + 0.5);
	cfg.ping_interval_ms = (uint32_t)(ping_s * 1000 + 0.5);
	cfg.max_connections = 100000;
	cfg.max_output_bytes = 8u * 1024 * 1024;

	ws_server_hooks hooks;
	memset(&hooks, 0, sizeof(hooks));
	hooks.on_message = strcmp(argv[1], "echo") == 0 ? echo_message : chat_message;

	ws_err err;
	memset(&err, 0, sizeof(err));
	server = ws_server_new(&cfg, &hooks, NULL, &err);
	if (!server || ws_server_listen(server, &err) < 0) {
		fprintf(stderr, "c_server: %s\n", err.msg);
		return 1;
	}
	printf("listening on ws://127.0.0.1:%d/\n", ws_server_port(server));
	fflush(stdout);
	int rc = ws_server_run(server, &err);
	if (rc < 0)
		fprintf(stderr, "c_server: %s\n", err.msg);
	ws_server_free(server);
	return rc < 0 ? 1 : 0;
}
