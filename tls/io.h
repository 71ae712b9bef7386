/* One TLS connection over memory BIOs, for a socket driven by io_uring.
 *
 * The ring does the socket I/O; OpenSSL only sees bytes: ciphertext the
 * ring received is fed in (tlsio_feed), plaintext comes out (tlsio_read),
 * plaintext to send goes in (tlsio_write), and the ciphertext it produced
 * is taken out for the ring to send (tlsio_take). The
 * handshake happens inside tlsio_read and tlsio_write as bytes allow; a
 * caller loops "feed what arrived, read, send what is pending" and never
 * blocks. Output is copied out (tlsio_take) rather than sent in place: a
 * send in flight must not see OpenSSL's buffer move under it. Kernel TLS is
 * not used: this kernel has none (PLATFORM.md). */
#ifndef GW_TLS_IO_H
#define GW_TLS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

enum tlsio_state {
	TLSIO_HANDSHAKE = 0,		/* not yet established */
	TLSIO_OPEN,			/* application data flows */
	TLSIO_CLOSED,			/* the peer sent close_notify */
	TLSIO_FAILED,			/* a fatal error; only pending output (an alert) is left */
};

struct tlsio {
	SSL *ssl;
	BIO *in;			/* ciphertext from the peer, read by OpenSSL */
	BIO *out;			/* ciphertext for the peer, written by OpenSSL */
	enum tlsio_state state;
	const char *error;		/* TLSIO_FAILED: a short static reason */
};

/* Take over <ssl> (server or client mode already set) and give it memory
 * BIOs. 0 or -ENOMEM (then <ssl> is freed too). */
int tlsio_init(struct tlsio *t, SSL *ssl);
void tlsio_free(struct tlsio *t);

/* Ciphertext received from the socket. 0 or -ENOMEM. */
int tlsio_feed(struct tlsio *t, const void *data, size_t len);

/* Decrypt into <dst> (at most <cap> bytes), advancing the handshake first.
 * Returns the plaintext bytes (> 0), 0 when more ciphertext is needed (or
 * the peer closed: see t->state), or -EPROTO on a fatal error (t->error
 * says which; an alert may be pending in the output). */
ssize_t tlsio_read(struct tlsio *t, void *dst, size_t cap);

/* Encrypt <len> bytes of plaintext (all of them, or none before the
 * handshake is done: then 0 and the caller retries after more input).
 * Returns <len>, 0, or -EPROTO. */
ssize_t tlsio_write(struct tlsio *t, const void *src, size_t len);

/* Queue a close_notify. */
void tlsio_close(struct tlsio *t);

/* Ciphertext waiting to be sent, and taking up to <cap> bytes of it. */
size_t tlsio_pending(const struct tlsio *t);
size_t tlsio_take(struct tlsio *t, void *dst, size_t cap);

/* The client certificate a server connection got, after the handshake. */
enum tlsio_peer {
	TLSIO_PEER_NONE = 0,		/* none was sent (or none was asked for) */
	TLSIO_PEER_VALID,		/* it chains to the configured CA and is in date */
	TLSIO_PEER_INVALID,		/* sent, but verification failed */
};

/* What the peer's certificate is; with <subject> (may be NULL) its subject
 * as an RFC 2253 string (non-ASCII and control bytes escaped, so it fits a
 * header), truncated to <cap>. */
enum tlsio_peer tlsio_peer(const struct tlsio *t, char *subject, size_t cap);

/* Negotiated protocol version text and ALPN, for logs ("TLSv1.3", "h2"). */
const char *tlsio_version(const struct tlsio *t);
bool tlsio_resumed(const struct tlsio *t);

#endif
