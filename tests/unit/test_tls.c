/* test_tls.c - unit tests for src/tls.c over a socketpair, with an OpenSSL client in the same
 * thread: every setup error names its file and reason (missing, not PEM, a key that does not
 * match, an encrypted key without or with a wrong passphrase, a bad cipher list, a bad CA
 * file); the handshake and data both ways; output of many small pieces and of large ones
 * through a tiny socket buffer, re-presented after every partial write as a connection's
 * queue does; records left inside the session (ws_tls_pending); plain HTTP and garbage
 * instead of a ClientHello; close_notify both ways; and an EOF in the middle of the handshake.
 * The certificates are made here, with OpenSSL, in a temporary directory. */
#include "unit.h"

#include "err.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

static char dir[64];
static char cert_file[128], key_file[128], key2_file[128], enc_file[128], junk_file[128];

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	if (!c || EVP_PKEY_keygen_init(c) <= 0 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1) <= 0 ||
	    EVP_PKEY_keygen(c, &k) <= 0)
		k = NULL;
	EVP_PKEY_CTX_free(c);
	return k;
}

static void write_key(const char *file, EVP_PKEY *k, const char *pass)
{
	FILE *f = fopen(file, "w");
	const EVP_CIPHER *cipher = pass ? EVP_aes_256_cbc() : NULL;
	if (!f || !PEM_write_PrivateKey(f, k, cipher, (unsigned char *)pass,
	                                pass ? (int)strlen(pass) : 0, NULL, NULL)) {
		perror(file);
		exit(2);
	}
	fclose(f);
}

/* A self-signed certificate for key.pem, key2.pem that does not match it, enc.pem holding
 * key.pem encrypted with "secret", and junk.pem that is not PEM at all. */
static void make_files(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ws-unit-tls-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(cert_file, sizeof(cert_file), "%s/cert.pem", dir);
	snprintf(key_file, sizeof(key_file), "%s/key.pem", dir);
	snprintf(key2_file, sizeof(key2_file), "%s/key2.pem", dir);
	snprintf(enc_file, sizeof(enc_file), "%s/enc.pem", dir);
	snprintf(junk_file, sizeof(junk_file), "%s/junk.pem", dir);
	EVP_PKEY *k = new_key(), *k2 = new_key();
	X509 *x = X509_new();
	if (!k || !k2 || !x) {
		fprintf(stderr, "cannot make keys\n");
		exit(2);
	}
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
	                           0);
	X509_set_issuer_name(x, name);
	X509_sign(x, k, EVP_sha256());
	FILE *f = fopen(cert_file, "w");
	if (!f || !PEM_write_X509(f, x)) {
		perror(cert_file);
		exit(2);
	}
	fclose(f);
	write_key(key_file, k, NULL);
	write_key(key2_file, k2, NULL);
	write_key(enc_file, k, "secret");
	f = fopen(junk_file, "w");
	fputs("this is not a certificate\n", f);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}

static void remove_files(void)
{
	const char *files[] = {cert_file, key_file, key2_file, enc_file, junk_file};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	rmdir(dir);
}

/* ---- setup errors ---- */

static void expect_error(const ws_tls_config *cfg, const char *part1, const char *part2)
{
	ws_err err = {0};
	ws_tls_ctx *ctx = ws_tls_ctx_new(cfg, &err);
	UNIT_CHECK(ctx == NULL, "accepted (expected \"%s\")", part1);
	UNIT_CHECK(strstr(err.msg, part1) != NULL, "\"%s\" lacks \"%s\"", err.msg, part1);
	UNIT_CHECK(!part2 || strstr(err.msg, part2) != NULL, "\"%s\" lacks \"%s\"", err.msg, part2);
	ws_tls_ctx_free(ctx);
}

static void test_setup_errors(void)
{
	expect_error(&(ws_tls_config){0}, "certificate file is required", NULL);
	expect_error(&(ws_tls_config){.cert = "/nonexistent/cert.pem"}, "/nonexistent/cert.pem",
	             "No such file");
	expect_error(&(ws_tls_config){.cert = junk_file, .key = key_file}, junk_file, "no start line");
	expect_error(&(ws_tls_config){.cert = cert_file}, cert_file, "PEM private key");
	expect_error(&(ws_tls_config){.cert = cert_file, .key = key2_file}, "does not match",
	             key2_file);
	expect_error(&(ws_tls_config){.cert = cert_file, .key = enc_file}, enc_file,
	             "set its passphrase");
	expect_error(&(ws_tls_config){.cert = cert_file, .key = enc_file, .passphrase = "wrong"},
	             enc_file, "is the passphrase right");
	expect_error(&(ws_tls_config){.cert = cert_file, .key = key_file, .ciphers = "NO-SUCH"},
	             "no usable cipher", "NO-SUCH");
	expect_error(&(ws_tls_config){.cert = cert_file, .key = key_file, .ca = junk_file},
	             "no usable CA", junk_file);

	ws_err err = {0};
	ws_tls_ctx *ctx = ws_tls_ctx_new(
	    &(ws_tls_config){.cert = cert_file, .key = enc_file, .passphrase = "secret"}, &err);
	UNIT_CHECK(ctx != NULL, "the right passphrase: %s", err.msg);
	ws_tls_ctx_free(ctx);
	ctx = ws_tls_ctx_new(&(ws_tls_config){.cert = cert_file, .key = key_file, .min_version = 13},
	                     &err);
	UNIT_CHECK(ctx != NULL, "TLS 1.3 only: %s", err.msg);
	ws_tls_ctx_free(ctx);
}

/* ---- a session over a socketpair ---- */

typedef struct pair {
	ws_tls_ctx *ctx;
	ws_tls *server;
	SSL_CTX *client_ctx;
	SSL *client;
	int sfd, cfd;
} pair;

static void set_nonblocking(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Both ends non-blocking, with small kernel buffers when `tiny`, so writes stop often. */
static void pair_open(pair *p, bool tiny)
{
	memset(p, 0, sizeof(*p));
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		perror("socketpair");
		exit(2);
	}
	p->sfd = sv[0];
	p->cfd = sv[1];
	if (tiny) {
		int n = 4096;
		for (int i = 0; i < 2; i++) {
			setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
			setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &n, sizeof(n));
		}
	}
	set_nonblocking(p->sfd);
	set_nonblocking(p->cfd);
	ws_err err = {0};
	p->ctx = ws_tls_ctx_new(&(ws_tls_config){.cert = cert_file, .key = key_file}, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p->ctx);
	p->server = ws_tls_new(p->ctx, p->sfd);
	p->client_ctx = SSL_CTX_new(TLS_client_method());
	p->client = SSL_new(p->client_ctx);
	SSL_set_fd(p->client, p->cfd);
	SSL_set_connect_state(p->client);
}

static void pair_close(pair *p)
{
	ws_tls_free(p->server);
	ws_tls_ctx_free(p->ctx);
	SSL_free(p->client);
	SSL_CTX_free(p->client_ctx);
	close(p->sfd);
	close(p->cfd);
}

/* Runs the handshake by turns; true once both sides are done. */
static bool pair_handshake(pair *p)
{
	uint8_t scratch[64];
	for (int i = 0; i < 100; i++) {
		int rc = SSL_do_handshake(p->client);
		ssize_t n = ws_tls_read(p->server, scratch, sizeof(scratch));
		if (n != WS_EAGAIN && n != 0)
			return false;
		if (rc == 1 && SSL_is_init_finished(p->client)) {
			/* The server finishes with the client's last flight. */
			n = ws_tls_read(p->server, scratch, sizeof(scratch));
			return n == WS_EAGAIN;
		}
	}
	return false;
}

/* The client reads whatever is there into out (at out_len), without blocking. */
static void client_drain(pair *p, uint8_t *out, size_t cap, size_t *out_len)
{
	for (;;) {
		if (*out_len >= cap)
			return;
		int n = SSL_read(p->client, out + *out_len, (int)(cap - *out_len));
		if (n <= 0)
			return;
		*out_len += (size_t)n;
	}
}

static void test_round_trip(void)
{
	pair p;
	pair_open(&p, false);
	UNIT_CHECK(pair_handshake(&p), "handshake");
	static const char hello[] = "GET / HTTP/1.1\r\n\r\n";
	UNIT_CHECK(SSL_write(p.client, hello, sizeof(hello) - 1) == (int)sizeof(hello) - 1, "write");
	uint8_t buf[256];
	ssize_t n = ws_tls_read(p.server, buf, sizeof(buf));
	UNIT_CHECK(n == (ssize_t)sizeof(hello) - 1 && memcmp(buf, hello, (size_t)n) == 0, "read %zd",
	           n);
	UNIT_CHECK(ws_tls_read(p.server, buf, sizeof(buf)) == WS_EAGAIN, "nothing more");
	struct iovec iov[3] = {{(void *)"ab", 2}, {(void *)"", 0}, {(void *)"cde", 3}};
	UNIT_CHECK(ws_tls_writev(p.server, iov, 3) == 5, "writev");
	size_t got = 0;
	client_drain(&p, buf, sizeof(buf), &got);
	UNIT_CHECK(got == 5 && memcmp(buf, "abcde", 5) == 0, "client got %zu", got);
	pair_close(&p);
}

/* The queue as conn_out.c keeps it: pieces still unsent, re-presented from where the last write
 * stopped. */
typedef struct queue {
	struct iovec iov[4096];
	int count, head;
	size_t off;
} queue;

static int queue_view(queue *q, struct iovec *out, int max)
{
	int n = 0;
	for (int i = q->head; i < q->count && n < max; i++, n++) {
		size_t skip = i == q->head ? q->off : 0;
		out[n].iov_base = (uint8_t *)q->iov[i].iov_base + skip;
		out[n].iov_len = q->iov[i].iov_len - skip;
	}
	return n;
}

static void queue_advance(queue *q, size_t done)
{
	while (done) {
		size_t rest = q->iov[q->head].iov_len - q->off;
		if (done < rest) {
			q->off += done;
			return;
		}
		done -= rest;
		q->head++;
		q->off = 0;
	}
}

static void output(bool tiny)
{
	pair p;
	pair_open(&p, tiny);
	UNIT_CHECK(pair_handshake(&p), "handshake");
	/* 1,500 pieces of 1 to 40 bytes, then 3 MiB in one piece, then more small ones. */
	size_t total = 3 * 1024 * 1024 + 64 * 1024;
	uint8_t *data = malloc(total), *seen = malloc(total);
	for (size_t i = 0; i < total; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	queue q = {0};
	size_t at = 0;
	for (int i = 0; i < 1500; i++) {
		size_t len = 1 + (size_t)(i * 7) % 40;
		q.iov[q.count++] = (struct iovec){data + at, len};
		at += len;
	}
	q.iov[q.count++] = (struct iovec){data + at, 3 * 1024 * 1024};
	at += 3 * 1024 * 1024;
	while (at < total) {
		size_t len = total - at < 33 ? total - at : 33;
		q.iov[q.count++] = (struct iovec){data + at, len};
		at += len;
	}
	size_t got = 0;
	int blocked = 0, rounds = 0;
	while ((q.head < q.count || got < total) && rounds++ < 200000) {
		struct iovec view[64];
		int n = queue_view(&q, view, 64);
		if (n) {
			ssize_t w = ws_tls_writev(p.server, view, n);
			UNIT_CHECK(w >= 0 || w == WS_EAGAIN, "writev failed: %zd", w);
			if (w < 0 && w != WS_EAGAIN)
				break;
			if (w == WS_EAGAIN)
				blocked++;
			else
				queue_advance(&q, (size_t)w);
		}
		client_drain(&p, seen, total, &got);
	}
	UNIT_CHECK(got == total, "client got %zu of %zu", got, total);
	UNIT_CHECK(memcmp(seen, data, total) == 0, "bytes differ");
	UNIT_CHECK(!tiny || blocked > 10, "the socket buffer never filled (%d)", blocked);
	free(data);
	free(seen);
	pair_close(&p);
}

static void test_output(void)
{
	output(false); /* records end inside pieces, and the next one starts there */
	output(true);  /* writes stop often and are re-presented */
}

static void test_pending_records(void)
{
	pair p;
	pair_open(&p, false);
	UNIT_CHECK(pair_handshake(&p), "handshake");
	static uint8_t out[48 * 1024], in[48 * 1024];
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)i;
	for (size_t at = 0; at < sizeof(out); at += 16384)
		UNIT_CHECK(SSL_write(p.client, out + at, 16384) == 16384, "client write");
	/* Small reads: what does not fit stays decrypted (or read ahead) inside the session. */
	size_t got = 0;
	ssize_t n = ws_tls_read(p.server, in, 1000);
	UNIT_CHECK(n == 1000, "first read %zd", n);
	got += (size_t)n;
	UNIT_CHECK(ws_tls_pending(p.server), "pending after a short read");
	while (got < sizeof(in) && (n = ws_tls_read(p.server, in + got, 3000)) > 0)
		got += (size_t)n;
	UNIT_CHECK(got == sizeof(in) && memcmp(in, out, sizeof(in)) == 0, "got %zu", got);
	UNIT_CHECK(!ws_tls_pending(p.server), "nothing left");
	pair_close(&p);
}

static void test_not_tls(void)
{
	static const struct {
		const char *bytes;
		bool http;
	} cases[] = {{"GET / HTTP/1.1\r\n", true}, {"\x00\x01\x02", false}, {"hello", false}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pair p;
		pair_open(&p, false);
		UNIT_CHECK(write(p.cfd, cases[i].bytes, strlen(cases[i].bytes) + (i == 1)) > 0, "write");
		uint8_t buf[64];
		UNIT_CHECK(ws_tls_read(p.server, buf, sizeof(buf)) == WS_EPROTO, "case %zu", i);
		UNIT_CHECK(ws_tls_plain_http(p.server) == cases[i].http, "case %zu", i);
		UNIT_CHECK(ws_tls_read(p.server, buf, sizeof(buf)) == WS_EPROTO, "stays failed");
		ws_tls_shutdown(p.server); /* must not touch a failed session */
		pair_close(&p);
	}
}

static void test_close_notify(void)
{
	pair p;
	pair_open(&p, false);
	UNIT_CHECK(pair_handshake(&p), "handshake");
	ws_tls_shutdown(p.server);
	uint8_t buf[16];
	int n = SSL_read(p.client, buf, sizeof(buf));
	UNIT_CHECK(n <= 0 && SSL_get_error(p.client, n) == SSL_ERROR_ZERO_RETURN, "client saw %d / %d",
	           n, SSL_get_error(p.client, n));
	pair_close(&p);

	pair_open(&p, false);
	UNIT_CHECK(pair_handshake(&p), "handshake");
	SSL_write(p.client, "xy", 2);
	SSL_shutdown(p.client);
	UNIT_CHECK(ws_tls_read(p.server, buf, sizeof(buf)) == 2, "data before the end");
	UNIT_CHECK(ws_tls_read(p.server, buf, sizeof(buf)) == 0, "close_notify is the end");
	UNIT_CHECK(ws_tls_read(p.server, buf, sizeof(buf)) == 0, "and stays so");
	struct iovec iov = {(void *)"z", 1};
	UNIT_CHECK(ws_tls_writev(p.server, &iov, 1) < 0, "no writes after the end");
	pair_close(&p);
}

static void test_eof_in_handshake(void)
{
	pair p;
	pair_open(&p, false);
	SSL_do_handshake(p.client); /* sends the ClientHello */
	uint8_t buf[64];
	UNIT_CHECK(ws_tls_read(p.server, buf, sizeof(buf)) == WS_EAGAIN, "waiting");
	shutdown(p.cfd, SHUT_RDWR);
	ssize_t n = ws_tls_read(p.server, buf, sizeof(buf));
	UNIT_CHECK(n == 0 || n == WS_ESYS || n == WS_EPROTO, "got %zd", n);
	pair_close(&p);

	/* Half a ClientHello, then EOF. */
	pair_open(&p, false);
	UNIT_CHECK(write(p.cfd, "\x16\x03\x01\x02\x00\x01", 6) == 6, "write");
	UNIT_CHECK(ws_tls_read(p.server, buf, sizeof(buf)) == WS_EAGAIN, "waiting for the rest");
	shutdown(p.cfd, SHUT_WR);
	n = ws_tls_read(p.server, buf, sizeof(buf));
	UNIT_CHECK(n == 0 || n == WS_ESYS || n == WS_EPROTO, "got %zd", n);
	pair_close(&p);
}

static const CU_TestInfo tests[] = {
    {"setup errors name the file and the reason", test_setup_errors},
    {"handshake and a round trip", test_round_trip},
    {"output: pieces gathered, large ones in place, re-presented", test_output},
    {"records pending inside the session", test_pending_records},
    {"plain HTTP and garbage instead of TLS", test_not_tls},
    {"close_notify both ways", test_close_notify},
    {"EOF during the handshake", test_eof_in_handshake},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	make_files();
	int rc = unit_main("tls", tests);
	remove_files();
	return rc;
}
