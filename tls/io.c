/* One TLS connection over memory BIOs (see io.h).
 *
 * States: HANDSHAKE -> OPEN -> CLOSED (peer's close_notify), or FAILED from
 * any of them on a fatal error. SSL_read and SSL_write drive the handshake
 * themselves (SSL_set_accept_state/connect_state was called by whoever made
 * the SSL); WANT_READ means "feed me ciphertext", and since the output BIO
 * never refuses a write, WANT_WRITE cannot happen. */
#include "tls/io.h"

#include <errno.h>
#include <limits.h>

#include <openssl/err.h>
#include <openssl/x509.h>

int tlsio_init(struct tlsio *t, SSL *ssl)
{
	t->ssl = ssl;
	t->state = TLSIO_HANDSHAKE;
	t->error = NULL;
	t->in = BIO_new(BIO_s_mem());
	t->out = BIO_new(BIO_s_mem());
	if (!t->in || !t->out) {
		BIO_free(t->in);
		BIO_free(t->out);
		SSL_free(ssl);
		t->ssl = NULL;
		return -ENOMEM;
	}
	/* An empty input BIO says "retry", not "end of file". */
	BIO_set_mem_eof_return(t->in, -1);
	SSL_set_bio(ssl, t->in, t->out);	/* the SSL owns both from here */
	return 0;
}

void tlsio_free(struct tlsio *t)
{
	SSL_free(t->ssl);	/* frees the BIOs too */
	t->ssl = NULL;
	t->in = t->out = NULL;
}

int tlsio_feed(struct tlsio *t, const void *data, size_t len)
{
	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;
		int n = BIO_write(t->in, data, chunk);

		if (n <= 0)
			return -ENOMEM;
		data = (const char *)data + n;
		len -= (size_t)n;
	}
	return 0;
}

/* Classify what SSL_read/SSL_write returned <ret>: 0 to retry later, or
 * -EPROTO after moving to FAILED (CLOSED for a clean close_notify). */
static int settle(struct tlsio *t, int ret)
{
	switch (SSL_get_error(t->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		t->state = TLSIO_CLOSED;
		return 0;
	default:
		t->error = t->state == TLSIO_HANDSHAKE ? "TLS handshake failed" : "TLS error";
		if (ERR_peek_error() && ERR_reason_error_string(ERR_peek_error()))
			t->error = ERR_reason_error_string(ERR_peek_error());
		t->state = TLSIO_FAILED;
		ERR_clear_error();
		return -EPROTO;
	}
}

static void note_open(struct tlsio *t)
{
	if (t->state == TLSIO_HANDSHAKE && SSL_is_init_finished(t->ssl))
		t->state = TLSIO_OPEN;
}

ssize_t tlsio_read(struct tlsio *t, void *dst, size_t cap)
{
	int n;

	if (t->state == TLSIO_FAILED)
		return -EPROTO;
	if (t->state == TLSIO_CLOSED || cap == 0)
		return 0;
	n = SSL_read(t->ssl, dst, cap > INT_MAX ? INT_MAX : (int)cap);
	note_open(t);
	if (n > 0)
		return n;
	return settle(t, n);
}

ssize_t tlsio_write(struct tlsio *t, const void *src, size_t len)
{
	size_t done = 0;

	if (t->state == TLSIO_FAILED)
		return -EPROTO;
	if (t->state == TLSIO_HANDSHAKE) {
		/* Finish the handshake first if it can be; plaintext waits. */
		int ret = SSL_do_handshake(t->ssl);

		note_open(t);
		if (t->state != TLSIO_OPEN)
			return ret == 1 ? 0 : settle(t, ret) < 0 ? -EPROTO : 0;
	}
	while (done < len) {
		size_t want = len - done;
		int n = SSL_write(t->ssl, (const char *)src + done, want > INT_MAX ? INT_MAX : (int)want);

		if (n <= 0)
			return settle(t, n) < 0 ? -EPROTO : (ssize_t)done;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

void tlsio_close(struct tlsio *t)
{
	if (t->state == TLSIO_OPEN || t->state == TLSIO_CLOSED)
		SSL_shutdown(t->ssl);
}

size_t tlsio_pending(const struct tlsio *t)
{
	return BIO_ctrl_pending(t->out);
}

size_t tlsio_take(struct tlsio *t, void *dst, size_t cap)
{
	int n = BIO_read(t->out, dst, cap > INT_MAX ? INT_MAX : (int)cap);

	return n > 0 ? (size_t)n : 0;
}

const char *tlsio_version(const struct tlsio *t)
{
	return SSL_get_version(t->ssl);
}

bool tlsio_resumed(const struct tlsio *t)
{
	return SSL_session_reused(t->ssl) == 1;
}

enum tlsio_peer tlsio_peer(const struct tlsio *t, char *subject, size_t cap)
{
	X509 *x = SSL_get0_peer_certificate(t->ssl);
	BIO *mem;
	int n;

	if (subject && cap)
		subject[0] = '\0';
	if (!x)
		return TLSIO_PEER_NONE;
	if (SSL_get_verify_result(t->ssl) != X509_V_OK)
		return TLSIO_PEER_INVALID;
	if (!subject || cap == 0)
		return TLSIO_PEER_VALID;
	mem = BIO_new(BIO_s_mem());
	if (mem && X509_NAME_print_ex(mem, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_read(mem, subject, (int)(cap - 1 > INT_MAX ? INT_MAX : cap - 1));
		subject[n > 0 ? n : 0] = '\0';
	}
	BIO_free(mem);
	return TLSIO_PEER_VALID;
}
