/* tls.c - see tls.h. One SSL_CTX per server; one SSL per connection, in accept state, so the
 * handshake runs inside the first reads. Memory: SSL_MODE_RELEASE_BUFFERS gives the record
 * buffers back whenever a connection is idle, and read-ahead lets one recv() bring in several
 * records. Output: the queue's frames are gathered into one scratch buffer per context, so
 * many small frames become one record and one send() instead of one each. The context is
 * reference-counted by OpenSSL: freeing it (a certificate reload) leaves live sessions intact. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tls.h"
#include "alloc.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/ssl.h>

#define RECORD_MAX      16384 /* plaintext bytes in one TLS record */
#define TLS_HANDSHAKE   0x16  /* the content type every ClientHello starts with */
#define SESSION_CONTEXT "ext-websocket"

/* Gathers small frames into one record. One per process: a loop writes one session at a time,
 * and OpenSSL keeps its own copy of a record it could not send. */
static uint8_t scratch[RECORD_MAX];

struct ws_tls_ctx {
	SSL_CTX *ctx;
};

struct ws_tls {
	SSL *ssl;
	int fd;
	bool checked;          /* the first byte was looked at */
	bool plain_http;       /* ... and it was the start of an HTTP request */
	bool eof;              /* close_notify or EOF arrived */
	bool failed;           /* a fatal error: the session must not be used again */
	bool read_wants_write; /* see tls.h */
	bool write_wants_read;
};

/* ---- the context ---- */

/* Without this, OpenSSL would prompt on the terminal for an encrypted key's passphrase. */
static int passphrase_cb(char *buf, int size, int rwflag, void *arg)
{
	(void)rwflag;
	const char *pass = arg;
	if (!pass)
		return 0;
	size_t n = strlen(pass);
	if (n > (size_t)size)
		return 0;
	memcpy(buf, pass, n);
	return (int)n;
}

/* Speaks HTTP/1.1 whatever else a client offers: a WebSocket upgrade is an HTTP/1.1 request. */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
		if (in[i] == 8 && i + 9 <= inlen && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/* The reason OpenSSL gave first for the last failure ("no start line" says more than the
 * "PEM lib" that follows it), and the queue cleared for the next one. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, len, "%s", reason ? reason : "unknown error");
	ERR_clear_error();
	return buf;
}

static int readable(const char *what, const char *file, ws_err *err)
{
	if (access(file, R_OK) == 0)
		return 0;
	return ws_err_set(err, WS_EINVAL, errno, "tls: cannot read the %s file '%s': %s", what, file,
	                  strerror(errno));
}

static int load_files(SSL_CTX *ctx, const ws_tls_config *cfg, ws_err *err)
{
	char why[160];
	const char *key = cfg->key ? cfg->key : cfg->cert;
	if (readable("certificate", cfg->cert, err) < 0 || readable("key", key, err) < 0)
		return WS_EINVAL;
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1)
		return ws_err_set(err, WS_EINVAL, 0, "tls: '%s' holds no usable PEM certificate: %s",
		                  cfg->cert, ssl_reason(why, sizeof(why)));
	SSL_CTX_set_default_passwd_cb(ctx, passphrase_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)cfg->passphrase);
	int ok = SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL); /* the caller's string goes away */
	int reason = ok == 1 ? 0 : ERR_GET_REASON(ERR_peek_error());
	if (ok == 1 && SSL_CTX_check_private_key(ctx) != 1)
		reason = X509_R_KEY_VALUES_MISMATCH;
	if (reason == X509_R_KEY_VALUES_MISMATCH) {
		ERR_clear_error();
		return ws_err_set(err, WS_EINVAL, 0,
		                  "tls: the private key in '%s' does not match the certificate in '%s'",
		                  key, cfg->cert);
	}
	if (ok != 1) {
		/* OpenSSL 3 tries several decoders, and which of them reports first varies from one
		 * process to the next ("unsupported" may come before "bad password read"): a locked
		 * key is recognised anywhere in the queue, and its reason is the one shown. */
		bool locked = false;
		unsigned long e, shown = ERR_peek_error();
		while ((e = ERR_get_error()) != 0) {
			int r = ERR_GET_REASON(e);
			if (!locked && (r == PEM_R_BAD_DECRYPT || r == EVP_R_BAD_DECRYPT ||
			                r == PEM_R_BAD_PASSWORD_READ || r == PEM_R_PROBLEMS_GETTING_PASSWORD)) {
				locked = true;
				shown = e;
			}
		}
		const char *r = shown ? ERR_reason_error_string(shown) : NULL;
		snprintf(why, sizeof(why), "%s", r ? r : "unknown error");
		return ws_err_set(err, WS_EINVAL, 0, "tls: cannot load the private key from '%s': %s%s",
		                  key, why,
		                  !locked           ? " (is it a PEM private key?)"
		                  : cfg->passphrase ? " (is the passphrase right?)"
		                                    : " (the key is encrypted: set its passphrase)");
	}
	if (cfg->ca) {
		if (readable("CA", cfg->ca, err) < 0)
			return WS_EINVAL;
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca);
		if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1 || !names) {
			if (names)
				sk_X509_NAME_pop_free(names, X509_NAME_free);
			return ws_err_set(err, WS_EINVAL, 0, "tls: '%s' holds no usable CA certificate: %s",
			                  cfg->ca, ssl_reason(why, sizeof(why)));
		}
		SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
	} else if (cfg->verify_peer && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		return ws_err_set(err, WS_EINVAL, 0, "tls: cannot load the system's CA certificates: %s",
		                  ssl_reason(why, sizeof(why)));
	}
	return 0;
}

ws_tls_ctx *ws_tls_ctx_new(const ws_tls_config *cfg, ws_err *err)
{
	char why[160];
	if (!cfg->cert) {
		ws_err_set(err, WS_EINVAL, 0, "tls: a certificate file is required");
		return NULL;
	}
	ws_tls_ctx *t = ws_calloc(1, sizeof(*t));
	SSL_CTX *ctx = t ? SSL_CTX_new(TLS_server_method()) : NULL;
	if (!ctx) {
		ws_err_set(err, WS_ENOMEM, 0, "tls: cannot create a context: %s",
		           ssl_reason(why, sizeof(why)));
		ws_free(t);
		return NULL;
	}
	t->ctx = ctx;
	SSL_CTX_set_min_proto_version(ctx, cfg->min_version >= 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
#ifdef SSL_OP_NO_RENEGOTIATION
	options |= SSL_OP_NO_RENEGOTIATION;
#endif
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* A client that drops TCP without close_notify ends the stream like any EOF: the
	 * WebSocket layer already reports it as 1006. */
	options |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
	SSL_CTX_set_options(ctx, options);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)SESSION_CONTEXT,
	                               sizeof(SESSION_CONTEXT) - 1);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	if (cfg->ciphers && SSL_CTX_set_cipher_list(ctx, cfg->ciphers) != 1) {
		ws_err_set(err, WS_EINVAL, 0, "tls: no usable cipher in '%s': %s", cfg->ciphers,
		           ssl_reason(why, sizeof(why)));
		ws_tls_ctx_free(t);
		return NULL;
	}
	if (load_files(ctx, cfg, err) < 0) {
		ws_tls_ctx_free(t);
		return NULL;
	}
	if (cfg->verify_peer)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return t;
}

void ws_tls_ctx_free(ws_tls_ctx *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	ws_free(t);
}

/* ---- sessions ---- */

ws_tls *ws_tls_new(ws_tls_ctx *ctx, int fd)
{
	ws_tls *t = ws_calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = fd;
	t->ssl = SSL_new(ctx->ctx);
	if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
		ERR_clear_error();
		ws_tls_free(t);
		return NULL;
	}
	SSL_set_accept_state(t->ssl);
	return t;
}

void ws_tls_free(ws_tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	ws_free(t);
}

/* Looks at the first byte without taking it: a TLS client starts with a handshake record, a
 * plain HTTP client with a method name, which deserves an answer it can read. */
static int check_first_byte(ws_tls *t)
{
	uint8_t b;
	ssize_t n;
	do
		n = recv(t->fd, &b, 1, MSG_PEEK);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? WS_EAGAIN : WS_ESYS;
	t->checked = true;
	if (b == TLS_HANDSHAKE)
		return 1;
	t->plain_http = b >= 'A' && b <= 'Z';
	t->failed = true;
	return WS_EPROTO;
}

/* Classifies a failed SSL call; WS_EAGAIN for the two "try again" cases. */
static int failure(ws_tls *t, int rc)
{
	switch (SSL_get_error(t->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return WS_EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		t->eof = true;
		return 0;
	case SSL_ERROR_SYSCALL:
		t->failed = true;
		ERR_clear_error();
		return errno ? WS_ESYS : 0; /* errno 0: EOF in the middle of a record */
	default:
		t->failed = true;
		ERR_clear_error();
		return WS_EPROTO;
	}
}

ssize_t ws_tls_read(ws_tls *t, void *buf, size_t len)
{
	t->read_wants_write = false;
	if (t->eof)
		return 0;
	if (t->failed)
		return WS_EPROTO;
	if (!t->checked) {
		int rc = check_first_byte(t);
		if (rc <= 0)
			return rc;
	}
	size_t got = 0;
	int rc = WS_EAGAIN;
	while (got < len) {
		int want = len - got > INT_MAX ? INT_MAX : (int)(len - got);
		ERR_clear_error();
		errno = 0;
		int n = SSL_read(t->ssl, (uint8_t *)buf + got, want);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		rc = failure(t, n);
		if (rc == WS_EAGAIN && SSL_get_error(t->ssl, n) == SSL_ERROR_WANT_WRITE)
			t->read_wants_write = true;
		break;
	}
	/* What was decrypted before an EOF or an error is delivered first; the next call reports
	 * the end. */
	return got ? (ssize_t)got : rc;
}

ssize_t ws_tls_writev(ws_tls *t, const struct iovec *iov, int iovcnt)
{
	t->write_wants_read = false;
	if (t->failed || t->eof)
		return WS_ESYS;
	size_t done = 0;
	int i = 0;
	size_t off = 0;
	while (i < iovcnt) {
		size_t rest = iov[i].iov_len - off;
		if (!rest) {
			i++;
			off = 0;
			continue;
		}
		const uint8_t *p;
		size_t len;
		if (rest >= RECORD_MAX) {
			/* Large enough for full records on its own: encrypt it where it is. */
			p = (const uint8_t *)iov[i].iov_base + off;
			len = rest > INT_MAX ? INT_MAX : rest;
		} else {
			/* The same bytes are gathered again after a WS_EAGAIN, as OpenSSL requires. */
			len = 0;
			for (int j = i; j < iovcnt && len < RECORD_MAX; j++) {
				size_t skip = j == i ? off : 0;
				size_t n = iov[j].iov_len - skip;
				if (n > RECORD_MAX - len)
					n = RECORD_MAX - len;
				memcpy(scratch + len, (const uint8_t *)iov[j].iov_base + skip, n);
				len += n;
			}
			p = scratch;
		}
		ERR_clear_error();
		errno = 0;
		int w = SSL_write(t->ssl, p, (int)len);
		if (w <= 0) {
			int e = SSL_get_error(t->ssl, w);
			int rc = failure(t, w);
			if (rc == WS_EAGAIN) {
				t->write_wants_read = e == SSL_ERROR_WANT_READ;
				return done ? (ssize_t)done : WS_EAGAIN;
			}
			return done ? (ssize_t)done : WS_ESYS;
		}
		done += (size_t)w;
		for (size_t left = (size_t)w; left;) {
			size_t n = iov[i].iov_len - off;
			if (left < n) {
				off += left;
				break;
			}
			left -= n;
			i++;
			off = 0;
		}
	}
	return (ssize_t)done;
}

bool ws_tls_pending(const ws_tls *t)
{
	return !t->failed && !t->eof && SSL_has_pending(t->ssl);
}

bool ws_tls_read_wants_write(const ws_tls *t)
{
	return t->read_wants_write;
}

bool ws_tls_write_wants_read(const ws_tls *t)
{
	return t->write_wants_read;
}

bool ws_tls_plain_http(const ws_tls *t)
{
	return t->plain_http;
}

void ws_tls_shutdown(ws_tls *t)
{
	if (t->failed || !SSL_is_init_finished(t->ssl))
		return;
	ERR_clear_error();
	SSL_shutdown(t->ssl);
	ERR_clear_error();
}
