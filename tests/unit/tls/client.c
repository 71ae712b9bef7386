/* Unit test of tls/client.c against a tls/ctx.h server, in memory: a CA
 * and a server certificate for "up.test" made by the test.
 *
 * Checked: the handshake verifies the server by its SNI name and by its IP
 * address; a name or address the certificate does not carry, or a CA that
 * did not sign it, fails the handshake; tls_verify = no accepts it anyway;
 * a session the server issues lands in the caller's cell and the next
 * connection resumes it; a forgotten cell means a full handshake. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tests/unit/check.h"
#include "tls/client.h"
#include "tls/ctx.h"
#include "tls/io.h"

static char dir[] = "/tmp/gw-tlsclient-test-XXXXXX";
static char ca_path[300], other_ca_path[300], cert_path[300], key_path[300];

static EVP_PKEY *write_key(const char *path)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	FILE *f = fopen(path, "w");

	if (!key || !f || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		abort();
	fclose(f);
	chmod(path, 0600);
	return key;
}

static X509 *make_x509(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
		       const char *san)
{
	X509 *x = X509_new();
	X509V3_CTX v3;

	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)random());
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	if (san) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	} else {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
							 "critical,CA:TRUE");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
		abort();
	return x;
}

static void write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");

	if (!f || !PEM_write_X509(f, x))
		abort();
	fclose(f);
}

static void make_certs(void)
{
	char path[300];
	EVP_PKEY *ca_key, *other_key, *key;
	X509 *ca, *other, *leaf;

	snprintf(path, sizeof(path), "%s/ca.key", dir);
	ca_key = write_key(path);
	snprintf(path, sizeof(path), "%s/other.key", dir);
	other_key = write_key(path);
	snprintf(key_path, sizeof(key_path), "%s/up.key", dir);
	key = write_key(key_path);
	ca = make_x509("test CA", ca_key, NULL, NULL, NULL);
	other = make_x509("other CA", other_key, NULL, NULL, NULL);
	leaf = make_x509("up.test", key, ca, ca_key, "DNS:up.test,IP:10.0.0.7");
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
	snprintf(other_ca_path, sizeof(other_ca_path), "%s/other.pem", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/up.pem", dir);
	write_cert(ca_path, ca);
	write_cert(other_ca_path, other);
	write_cert(cert_path, leaf);
	X509_free(ca);
	X509_free(other);
	X509_free(leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(key);
}

static struct tls_server *server(void)
{
	struct tls_cert_conf cert = { cert_path, key_path };
	struct tls_server_conf conf = { .certs = &cert, .n_certs = 1,
					.min_version = TLS1_2_VERSION };
	struct tls_server *s;
	size_t failed;
	char err[256];

	if (tls_server_new(&conf, &s, &failed, err, sizeof(err)) != 0) {
		fprintf(stderr, "tls_server_new: %s\n", err);
		exit(T_EXIT_FAIL);
	}
	return s;
}

static struct tls_client *client(const char *ca, bool verify)
{
	struct tls_client *c;
	char err[256];

	if (tls_client_new(ca, verify, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "tls_client_new: %s\n", err);
		exit(T_EXIT_FAIL);
	}
	return c;
}

static void carry(struct tlsio *from, struct tlsio *to)
{
	char buf[4096];
	size_t n;

	while ((n = tlsio_take(from, buf, sizeof(buf))) > 0)
		CHECK_INT(tlsio_feed(to, buf, n), 0);
}

/* One connection: handshake, "ping" each way (the client's read takes the
 * session ticket too), close. Returns the client's final state, with
 * *resumed telling whether the handshake resumed a session. */
static enum tlsio_state connect_once(struct tls_server *srv, struct tls_client *cli,
				     const char *sni, const char *ip, SSL_SESSION **cell,
				     bool *resumed)
{
	struct tlsio s, c;
	char buf[64];
	SSL *ssl_s = tls_server_ssl(srv), *ssl_c = tls_client_ssl(cli, sni, ip, cell);
	enum tlsio_state state;

	CHECK(ssl_s && ssl_c);
	SSL_set_accept_state(ssl_s);
	CHECK_INT(tlsio_init(&s, ssl_s), 0);
	CHECK_INT(tlsio_init(&c, ssl_c), 0);
	CHECK(tlsio_write(&c, NULL, 0) == 0);	/* the ClientHello */
	for (int round = 0; round < 20; round++) {
		carry(&c, &s);
		if (tlsio_read(&s, buf, sizeof(buf)) < 0)
			break;
		if (s.state == TLSIO_OPEN && round > 0)
			tlsio_write(&s, "ping", 4);
		carry(&s, &c);
		if (tlsio_read(&c, buf, sizeof(buf)) < 0)
			break;
		if (c.state == TLSIO_OPEN && s.state == TLSIO_OPEN && round > 2)
			break;
	}
	state = c.state;
	*resumed = tlsio_resumed(&c);
	tlsio_free(&s);
	tlsio_free(&c);
	return state;
}

static void test_verification(void)
{
	struct tls_server *srv = server();
	struct tls_client *good = client(ca_path, true), *wrong_ca = client(other_ca_path, true);
	struct tls_client *lax = client(other_ca_path, false);
	bool resumed;

	CHECK_INT(connect_once(srv, good, "up.test", "10.0.0.7", NULL, &resumed), TLSIO_OPEN);
	CHECK_INT(connect_once(srv, good, NULL, "10.0.0.7", NULL, &resumed), TLSIO_OPEN);
	CHECK_INT(connect_once(srv, good, "other.test", "10.0.0.7", NULL, &resumed), TLSIO_FAILED);
	CHECK_INT(connect_once(srv, good, NULL, "10.0.0.8", NULL, &resumed), TLSIO_FAILED);
	CHECK_INT(connect_once(srv, wrong_ca, "up.test", "10.0.0.7", NULL, &resumed),
		  TLSIO_FAILED);
	CHECK_INT(connect_once(srv, lax, "other.test", "10.0.0.8", NULL, &resumed), TLSIO_OPEN);
	tls_client_free(good);
	tls_client_free(wrong_ca);
	tls_client_free(lax);
	tls_server_free(srv);
}

static void test_resumption(void)
{
	struct tls_server *srv = server();
	struct tls_client *cli = client(ca_path, true);
	SSL_SESSION *cell = NULL;
	bool resumed = true;

	CHECK_INT(connect_once(srv, cli, "up.test", "10.0.0.7", &cell, &resumed), TLSIO_OPEN);
	CHECK(!resumed);
	CHECK(cell != NULL);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(connect_once(srv, cli, "up.test", "10.0.0.7", &cell, &resumed),
			  TLSIO_OPEN);
		CHECK(resumed);
	}
	tls_client_forget(&cell);
	CHECK(cell == NULL);
	CHECK_INT(connect_once(srv, cli, "up.test", "10.0.0.7", &cell, &resumed), TLSIO_OPEN);
	CHECK(!resumed);
	tls_client_forget(&cell);
	tls_client_free(cli);
	tls_server_free(srv);
}

static void test_bad_ca_file(void)
{
	struct tls_client *c = (struct tls_client *)1;
	char err[256] = "";

	CHECK_INT(tls_client_new("/nonexistent/ca.pem", true, &c, err, sizeof(err)), -EINVAL);
	CHECK(c == NULL);
	CHECK(strcmp(err, "/nonexistent/ca.pem: No such file or directory") == 0);
	CHECK_INT(tls_client_new(key_path, true, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, key_path) == err);
}

int main(void)
{
	char cmd[400];

	if (!mkdtemp(dir))
		return T_EXIT_FAIL;
	make_certs();
	test_verification();
	test_resumption();
	test_bad_ca_file();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return T_EXIT_FAIL;
	return CHECK_EXIT();
}
