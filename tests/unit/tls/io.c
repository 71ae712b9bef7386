/* Unit test of tls/io.c: two tlsio endpoints (a server from tls/ctx.h and a
 * plain OpenSSL client) with the test carrying ciphertext between them, in
 * chunks of every size from 1 byte to "all of it", the way partial recvs
 * would deliver it.
 *
 * Checked: the handshake completes whatever the chunking; plaintext written
 * before it is done waits (tlsio_write returns 0) and goes once it is;
 * 1 MiB each way arrives intact; a close_notify ends the reader with state
 * CLOSED; a flipped ciphertext byte is a fatal error with an alert queued;
 * garbage instead of a ClientHello fails the handshake. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tests/unit/check.h"
#include "tls/ctx.h"
#include "tls/io.h"

static char dir[] = "/tmp/gw-tlsio-test-XXXXXX";
static char cert_path[300], key_path[300];

static void make_cert(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	FILE *f;

	if (!key || !x)
		abort();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"io.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (!X509_sign(x, key, EVP_sha256()))
		abort();
	snprintf(cert_path, sizeof(cert_path), "%s/c.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/c.key", dir);
	if (!(f = fopen(cert_path, "w")) || !PEM_write_X509(f, x))
		abort();
	fclose(f);
	if (!(f = fopen(key_path, "w")) || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		abort();
	fclose(f);
	chmod(key_path, 0600);
	X509_free(x);
	EVP_PKEY_free(key);
}

struct pair {
	struct tls_server *srv_ctx;
	SSL_CTX *cli_ctx;
	struct tlsio srv, cli;
};

static void pair_open(struct pair *p)
{
	struct tls_cert_conf cert = { cert_path, key_path };
	struct tls_server_conf conf = { .certs = &cert, .n_certs = 1, .min_version = TLS1_2_VERSION };
	char err[256];
	size_t failed;
	SSL *s, *c;

	if (tls_server_new(&conf, &p->srv_ctx, &failed, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(T_EXIT_FAIL);
	}
	p->cli_ctx = SSL_CTX_new(TLS_client_method());
	s = tls_server_ssl(p->srv_ctx);
	c = SSL_new(p->cli_ctx);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (tlsio_init(&p->srv, s) || tlsio_init(&p->cli, c))
		exit(T_EXIT_FAIL);
}

static void pair_close(struct pair *p)
{
	tlsio_free(&p->srv);
	tlsio_free(&p->cli);
	SSL_CTX_free(p->cli_ctx);
	tls_server_free(p->srv_ctx);
}

/* Carry what <from> has for <to>, <chunk> bytes per feed. */
static size_t carry(struct tlsio *from, struct tlsio *to, size_t chunk)
{
	char buf[4096];
	size_t moved = 0, n;

	while ((n = tlsio_take(from, buf, chunk < sizeof(buf) ? chunk : sizeof(buf))) > 0) {
		CHECK_INT(tlsio_feed(to, buf, n), 0);
		moved += n;
	}
	return moved;
}

/* Move bytes both ways and read into <sink_*> until nothing moves. */
static void pump(struct pair *p, size_t chunk, char *sink_s, size_t *got_s, char *sink_c,
		 size_t *got_c, size_t cap)
{
	for (int round = 0; round < 100000; round++) {
		size_t moved = carry(&p->cli, &p->srv, chunk) + carry(&p->srv, &p->cli, chunk);
		ssize_t n;

		while ((n = tlsio_read(&p->srv, sink_s + *got_s, cap - *got_s)) > 0)
			*got_s += (size_t)n, moved += (size_t)n;
		while ((n = tlsio_read(&p->cli, sink_c + *got_c, cap - *got_c)) > 0)
			*got_c += (size_t)n, moved += (size_t)n;
		if (!moved && !tlsio_pending(&p->srv) && !tlsio_pending(&p->cli))
			return;
	}
	CHECK(!"pump did not settle");
}

static void test_chunked_exchange(size_t chunk)
{
	static char tx_c[1 << 20], tx_s[1 << 20], rx_s[1 << 20], rx_c[1 << 20];
	size_t got_s = 0, got_c = 0;
	struct pair p;

	for (size_t i = 0; i < sizeof(tx_c); i++) {
		tx_c[i] = (char)(i * 7 + chunk);
		tx_s[i] = (char)(i * 13 + 1);
	}
	pair_open(&p);
	/* Before the handshake the server cannot send: the bytes wait. */
	CHECK_INT(tlsio_write(&p.srv, "early", 5), 0);
	pump(&p, chunk, rx_s, &got_s, rx_c, &got_c, sizeof(rx_s));
	CHECK_INT(p.srv.state, TLSIO_OPEN);
	CHECK_INT(p.cli.state, TLSIO_OPEN);
	CHECK_INT(tlsio_write(&p.cli, tx_c, sizeof(tx_c)), (long long)sizeof(tx_c));
	CHECK_INT(tlsio_write(&p.srv, tx_s, sizeof(tx_s)), (long long)sizeof(tx_s));
	pump(&p, chunk, rx_s, &got_s, rx_c, &got_c, sizeof(rx_s));
	CHECK_INT(got_s, sizeof(tx_c));
	CHECK_INT(got_c, sizeof(tx_s));
	CHECK(memcmp(rx_s, tx_c, sizeof(tx_c)) == 0);
	CHECK(memcmp(rx_c, tx_s, sizeof(tx_s)) == 0);

	/* close_notify: the server reads 0 and knows the client is done. */
	tlsio_close(&p.cli);
	carry(&p.cli, &p.srv, chunk);
	CHECK_INT(tlsio_read(&p.srv, rx_s, sizeof(rx_s)), 0);
	CHECK_INT(p.srv.state, TLSIO_CLOSED);
	CHECK(strncmp(tlsio_version(&p.srv), "TLSv1.", 6) == 0);
	pair_close(&p);
}

static void test_tampered_record(void)
{
	char buf[4096], rx[64];
	size_t got_s = 0, got_c = 0, n;
	struct pair p;

	pair_open(&p);
	pump(&p, 4096, rx, &got_s, rx, &got_c, sizeof(rx));
	CHECK_INT(tlsio_write(&p.cli, "hello", 5), 5);
	n = tlsio_take(&p.cli, buf, sizeof(buf));
	CHECK(n > 5);
	buf[n - 1] ^= 1;	/* in the AEAD tag */
	tlsio_feed(&p.srv, buf, n);
	CHECK_INT(tlsio_read(&p.srv, rx, sizeof(rx)), -EPROTO);
	CHECK_INT(p.srv.state, TLSIO_FAILED);
	CHECK(p.srv.error != NULL);
	CHECK(tlsio_pending(&p.srv) > 0);	/* the alert for the peer */
	CHECK_INT(tlsio_write(&p.srv, "x", 1), -EPROTO);
	pair_close(&p);
}

static void test_not_tls(void)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct pair p;
	char rx[64];

	pair_open(&p);
	tlsio_feed(&p.srv, http, sizeof(http) - 1);
	CHECK_INT(tlsio_read(&p.srv, rx, sizeof(rx)), -EPROTO);
	CHECK_INT(p.srv.state, TLSIO_FAILED);
	pair_close(&p);
}

int main(void)
{
	if (!mkdtemp(dir))
		return T_EXIT_FAIL;
	make_cert();
	for (size_t chunk = 1; chunk <= 4096; chunk *= 4)
		test_chunked_exchange(chunk);
	test_tampered_record();
	test_not_tls();
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
	return CHECK_EXIT();
}
