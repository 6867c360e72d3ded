/* fuzz_conn.c - libFuzzer target for a whole connection (src/conn.h and everything under it):
 * the fuzzer's bytes are what a client sends, the upgrade request and then frames, written
 * over a socketpair in pieces while the real loop runs (tests/fuzz/conn_drive.h); whatever
 * the connection answers is read and discarded.
 * Input: byte 0 picks the piece size (1..256); byte 1 the settings: bit 0 offers
 * permessage-deflate (context takeover, windows 15), bit 1 a small message limit (1000
 * bytes), bit 2 a small output limit with the refusing policy, bit 3 echoes every message,
 * bit 4 closes the connection from the server after the first message. The rest is the
 * stream.
 * Checks: a delivered text message is valid UTF-8 (tests/unit/utf8_ref.h), within the
 * message limit; every byte the core allocated is freed once the connection is (counted by
 * tests/unit/failalloc.h); and ASan/UBSan find nothing. */
#include "fuzz.h"
#include "conn_drive.h"
#include "../unit/failalloc.h"
#include "../unit/utf8_ref.h"

#include <signal.h>

typedef struct seen {
	uint64_t max_message;
	bool echo;
	bool close_after_first;
	int messages;
} seen;

static void on_message(void *owner, ws_conn *c, void *msg, size_t len, bool binary)
{
	seen *s = owner;
	bool complete;
	REQUIRE(len <= s->max_message);
	if (!binary)
		REQUIRE(utf8_ref_first_bad(msg, len, &complete) == len && complete);
	if (s->echo)
		ws_conn_send(c, msg, len, binary);
	ws_free(msg);
	if (s->close_after_first && s->messages == 0)
		ws_conn_close(c, 4000, "enough", 6);
	s->messages++;
}

static void on_close(void *owner, ws_conn *c, uint16_t code, const char *reason, size_t reason_len)
{
	(void)owner;
	(void)c;
	bool complete;
	REQUIRE(code >= 1000 && code < 5000);
	REQUIRE(reason_len <= 123);
	REQUIRE(utf8_ref_first_bad((const uint8_t *)reason, reason_len, &complete) == reason_len);
}

static const ws_server_hooks hooks = {.on_message = on_message, .on_close = on_close};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	if (!once) {
		signal(SIGPIPE, SIG_IGN);
		once = true;
	}
	if (size < 2)
		return 0;
	size_t piece = (size_t)data[0] + 1;
	uint8_t flags = data[1];
	static const ws_deflate_config deflate = {15, 15, true, true, 8, 6};
	ws_conn_limits limits = connenv_limits();
	if (flags & 1)
		limits.deflate = &deflate;
	if (flags & 2)
		limits.max_message_bytes = limits.max_frame_bytes = 1000;
	if (flags & 4) {
		limits.max_output_bytes = 4096;
		limits.overflow_rejects = true;
	}
	seen s = {.max_message = limits.max_message_bytes,
	          .echo = (flags & 8) != 0,
	          .close_after_first = (flags & 16) != 0};

	failalloc_install();
	connenv e;
	int peer = -1;
	ws_conn *c = NULL;
	if (connenv_init(&e, &hooks, &s, &limits))
		c = connenv_conn(&e, 1, &peer);
	if (c)
		drive_run(&e, peer, data + 2, size - 2, piece);
	connenv_release(&e);
	if (peer >= 0)
		close(peer);
	REQUIRE(failalloc.live == 0);
	ws_alloc_set(NULL);
	return 0;
}
