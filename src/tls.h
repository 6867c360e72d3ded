/* tls.h - wss:// for the transport layer: a server context built from certificate files, and
 * non-blocking OpenSSL sessions over accepted sockets. Reads and writes follow net.h's
 * conventions (a count, 0 at end of stream, WS_EAGAIN, WS_ESYS). A session remembers when
 * OpenSSL needs the other direction (a read that must write during a handshake, a write that
 * must read first), so the connection can poll for it. Renegotiation is off; the one
 * certificate is served whatever name the client asks for. Plain C, no Zend. */
#ifndef WS_TLS_H
#define WS_TLS_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct ws_tls_config {
	const char *cert;       /* PEM file: the certificate, then any intermediates */
	const char *key;        /* PEM file with the private key; NULL: the cert file holds it */
	const char *passphrase; /* of an encrypted key, or NULL */
	const char *ca;         /* PEM file of CAs for client certificates, or NULL */
	const char *ciphers;    /* OpenSSL cipher list for TLS 1.2, or NULL for OpenSSL's */
	bool verify_peer;       /* require a client certificate signed by `ca` */
	int min_version;        /* 12 (TLS 1.2) or 13 (TLS 1.3) */
} ws_tls_config;

typedef struct ws_tls_ctx ws_tls_ctx;
typedef struct ws_tls ws_tls;

/* Loads the certificate, the key (checking that they match), the CA list and the settings.
 * Returns NULL with err saying which file or setting failed and why. */
ws_tls_ctx *ws_tls_ctx_new(const ws_tls_config *cfg, ws_err *err);
void ws_tls_ctx_free(ws_tls_ctx *ctx);

/* A server session over fd (not owned). NULL when out of memory. */
ws_tls *ws_tls_new(ws_tls_ctx *ctx, int fd);
void ws_tls_free(ws_tls *t);

/* Decrypts into buf, as many records as are there and fit (the handshake runs inside).
 * Returns the count, 0 at the end of the stream (close_notify or EOF), WS_EAGAIN, WS_ESYS
 * (reset), or WS_EPROTO (a TLS failure; see ws_tls_plain_http). */
ssize_t ws_tls_read(ws_tls *t, void *buf, size_t len);

/* Encrypts from iov: small pieces are gathered into full records, large ones are written in
 * place. Returns the bytes taken (>= 0), WS_EAGAIN or WS_ESYS. After a partial result or
 * WS_EAGAIN, the next call must present the same bytes again first (an output queue does). */
ssize_t ws_tls_writev(ws_tls *t, const struct iovec *iov, int iovcnt);

/* Decrypted bytes wait inside the session: read again without waiting for the socket. */
bool ws_tls_pending(const ws_tls *t);

/* The last read stopped because OpenSSL must write (wait for writability, then read), or the
 * last write stopped because it must read (wait for readability, then write). */
bool ws_tls_read_wants_write(const ws_tls *t);
bool ws_tls_write_wants_read(const ws_tls *t);

/* The read failed because the client spoke plain HTTP to the TLS port. */
bool ws_tls_plain_http(const ws_tls *t);

/* Sends close_notify if the handshake completed (best effort, never blocks). */
void ws_tls_shutdown(ws_tls *t);

#endif
