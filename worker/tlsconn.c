/* TLS on a connection (see tlsconn.h). */
#include "worker/tlsconn.h"

#include <errno.h>
#include <stdlib.h>

#include "lib/log.h"
#include "tls/client.h"
#include "tls/ctx.h"
#include "tls/io.h"
#include "worker/conn.h"

/* Plaintext encrypted per seal: a send then carries at most about this
 * much, and the next seal runs when it completes, so a large response does
 * not turn into one large ciphertext copy. */
#define SEAL_CHUNK (256u << 10)
/* Room asked for per SSL_read: one full TLS record. */
#define RECORD_MAX (16u << 10)

/* Give <c> a tlsio over <ssl> (taken, freed on failure). */
static int attach(struct conn *c, SSL *ssl)
{
	c->tls = calloc(1, sizeof(*c->tls));
	if (!ssl || !c->tls)
		goto err_free;
	if (tlsio_init(c->tls, ssl) < 0)
		goto err_tls;	/* it freed ssl */
	return 0;

err_free:
	SSL_free(ssl);
err_tls:
	free(c->tls);
	c->tls = NULL;
	return -ENOMEM;
}

int tlsconn_accept(struct conn *c, struct tls_server *srv)
{
	SSL *ssl = tls_server_ssl(srv);

	if (ssl)
		SSL_set_accept_state(ssl);
	return attach(c, ssl);
}

int tlsconn_connect(struct conn *c, struct tls_client *cli, const char *sni, const char *ip,
		    SSL_SESSION **resume)
{
	return attach(c, tls_client_ssl(cli, sni, ip, resume));
}

void tlsconn_free(struct conn *c)
{
	if (!c->tls)
		return;
	tlsio_free(c->tls);
	free(c->tls);
	c->tls = NULL;
}

ssize_t tlsconn_input(struct conn *c, const char *data, size_t len)
{
	struct tlsio *t = c->tls;
	size_t fresh = 0;
	ssize_t n;
	int err;

	if (tlsio_feed(t, data, len) < 0)
		return -ENOMEM;
	for (;;) {
		err = buf_reserve(&c->in, RECORD_MAX, CONN_IN_CAP);
		if (err)
			return err;
		n = tlsio_read(t, c->in.data + c->in.len, RECORD_MAX);
		if (n <= 0)
			break;
		c->in.len += (size_t)n;
		fresh += (size_t)n;
	}
	if (n < 0) {
		log_debug("TLS: %s", t->error);
		return -EPROTO;
	}
	return (ssize_t)fresh;
}

int tlsconn_seal(struct worker *w, struct conn *c)
{
	struct outq *plain = &c->out[c->fill], *wire = &c->out[c->fill ^ 1];
	struct tlsio *t = c->tls;
	size_t done = 0, pending;

	/* A client's first flush writes its ClientHello; a server's does
	 * nothing until the peer's arrives. */
	if (t->state == TLSIO_HANDSHAKE && tlsio_write(t, NULL, 0) < 0)
		return -EPROTO;
	if (t->state == TLSIO_OPEN && plain->total > 0) {
		struct iovec iov[OUTQ_SEGS];
		int n = outq_iov(plain, iov);

		for (int i = 0; i < n && done < SEAL_CHUNK; i++) {
			ssize_t k = tlsio_write(t, iov[i].iov_base, iov[i].iov_len);

			if (k < 0)
				return -EPROTO;
			done += (size_t)k;
			if ((size_t)k < iov[i].iov_len)
				break;
		}
		outq_advance(plain, done, &w->bufs);
	}
	pending = tlsio_pending(t);
	if (pending > 0) {
		struct buf *b = outq_bytes(wire);
		size_t before = b->len;
		int err = buf_reserve(b, pending, CONN_OUT_CAP + SEAL_CHUNK);

		if (err)
			return err;
		b->len += tlsio_take(t, b->data + b->len, pending);
		outq_commit(wire, before);
	}
	return 0;
}

void tlsconn_close_notify(struct conn *c)
{
	tlsio_close(c->tls);
}

bool tlsconn_peer_closed(const struct conn *c)
{
	return c->tls->state == TLSIO_CLOSED;
}

bool tlsconn_failed(const struct conn *c)
{
	return c->tls->state == TLSIO_FAILED;
}

const char *tlsconn_error(const struct conn *c)
{
	return c->tls->error ? c->tls->error : "TLS error";
}
