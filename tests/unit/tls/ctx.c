/* Unit test of tls/ctx.c through tls/ctx.h: real handshakes in memory (a
 * BIO pair between a client SSL and a server SSL) against certificates made
 * here, so the test needs no files from elsewhere and no network.
 *
 * Checked: SNI picks the certificate naming the host (exact and one-label
 * wildcard), an unknown name gets the default; TLS 1.1 is refused with
 * min_version TLS 1.2; ALPN settles on http/1.1 and a client offering only
 * h2 is refused; a key readable by others, a key that does not match its
 * certificate and a missing file each fail with a message naming the file. */
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

static char dir[] = "/tmp/gw-tls-test-XXXXXX";

/* A self-signed EC P-256 certificate for <cn> with DNS SANs <sans>
 * ("DNS:a,DNS:b" or NULL), written as DIR/<name>.pem and DIR/<name>.key
 * (mode 0600). Aborts on failure: the fixture, not the code under test. */
static void make_cert(const char *name, const char *cn, const char *sans)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	char path[256];
	FILE *f;

	if (!key || !x)
		abort();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (sans) {
		X509V3_CTX v3;
		X509_EXTENSION *ext;

		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, sans);
		if (!ext || !X509_add_ext(x, ext, -1))
			abort();
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, key, EVP_sha256()))
		abort();
	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	if (!(f = fopen(path, "w")) || !PEM_write_X509(f, x))
		abort();
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if (!(f = fopen(path, "w")) || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		abort();
	fclose(f);
	chmod(path, 0600);
	X509_free(x);
	EVP_PKEY_free(key);
}

static char *path_of(const char *name, const char *ext)
{
	static char bufs[8][256];
	static unsigned next;
	char *p = bufs[next++ % 8];

	snprintf(p, 256, "%s/%s.%s", dir, name, ext);
	return p;
}

struct hs {
	bool ok;
	char cn[128];			/* subject CN of the certificate the server sent */
	char alpn[32];
};

/* One handshake in memory: <sni> may be NULL, <max_version> 0 for none,
 * <alpn> a wire-format list or NULL. */
static struct hs handshake(struct tls_server *s, const char *sni, int max_version,
			   const unsigned char *alpn, unsigned alpn_len)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *srv = tls_server_ssl(s), *cli;
	BIO *sb, *cb;
	struct hs r = { 0 };
	int done_c = 0, done_s = 0;

	if (!cctx || !srv || !BIO_new_bio_pair(&sb, 0, &cb, 0))
		abort();
	SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
	SSL_CTX_set_security_level(cctx, 0);	/* let the client offer TLS 1.1 */
	if (max_version)
		SSL_CTX_set_max_proto_version(cctx, max_version);
	cli = SSL_new(cctx);
	if (sni)
		SSL_set_tlsext_host_name(cli, sni);
	if (alpn)
		SSL_set_alpn_protos(cli, alpn, alpn_len);
	SSL_set_bio(srv, sb, sb);
	SSL_set_bio(cli, cb, cb);
	SSL_set_connect_state(cli);
	SSL_set_accept_state(srv);
	for (int i = 0; i < 50 && !(done_c == 1 && done_s == 1); i++) {
		if (done_c != 1)
			done_c = SSL_do_handshake(cli);
		if (done_s != 1)
			done_s = SSL_do_handshake(srv);
		if ((done_c <= 0 && SSL_get_error(cli, done_c) == SSL_ERROR_SSL) ||
		    (done_s <= 0 && SSL_get_error(srv, done_s) == SSL_ERROR_SSL))
			break;
	}
	r.ok = done_c == 1 && done_s == 1;
	if (r.ok) {
		X509 *peer = SSL_get1_peer_certificate(cli);
		const unsigned char *proto;
		unsigned len;

		X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, r.cn,
					  sizeof(r.cn));
		X509_free(peer);
		SSL_get0_alpn_selected(cli, &proto, &len);
		snprintf(r.alpn, sizeof(r.alpn), "%.*s", (int)len, proto);
	}
	ERR_clear_error();
	SSL_free(cli);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	return r;
}

static struct tls_server *server(const char *const *names, size_t n)
{
	struct tls_cert_conf certs[4];
	struct tls_server_conf conf = { .certs = certs, .n_certs = n, .min_version = TLS1_2_VERSION };
	struct tls_server *s;
	char err[256];
	size_t failed;

	for (size_t i = 0; i < n; i++)
		certs[i] = (struct tls_cert_conf){ path_of(names[i], "pem"), path_of(names[i], "key") };
	if (tls_server_new(&conf, &s, &failed, err, sizeof(err)) != 0) {
		fprintf(stderr, "tls_server_new: %s\n", err);
		exit(T_EXIT_FAIL);
	}
	return s;
}

static void test_names(void)
{
	CHECK(tls_name_matches("api.example.com", "API.example.com"));
	CHECK(!tls_name_matches("api.example.com", "api.example.org"));
	CHECK(tls_name_matches("*.example.com", "x.example.com"));
	CHECK(!tls_name_matches("*.example.com", "example.com"));
	CHECK(!tls_name_matches("*.example.com", "a.b.example.com"));
	CHECK(!tls_name_matches("*.example.com", ".example.com"));
}

static void test_sni(void)
{
	static const char *const names[] = { "a", "b" };
	struct tls_server *s = server(names, 2);
	struct hs r;
	size_t n;

	CHECK_INT(tls_server_n_certs(s), 2);
	CHECK_STR(tls_server_names(s, 1, &n)[0], "*.b.example.com");
	CHECK_INT(n, 2);
	r = handshake(s, "a.example.com", 0, NULL, 0);
	CHECK(r.ok);
	CHECK_STR(r.cn, "cert-a");
	r = handshake(s, "x.b.example.com", 0, NULL, 0);
	CHECK(r.ok);
	CHECK_STR(r.cn, "cert-b");
	r = handshake(s, "b.example.com", 0, NULL, 0);	/* the second SAN, exact */
	CHECK_STR(r.cn, "cert-b");
	r = handshake(s, "unknown.example.org", 0, NULL, 0);
	CHECK(r.ok);
	CHECK_STR(r.cn, "cert-a");	/* the default */
	r = handshake(s, NULL, 0, NULL, 0);
	CHECK_STR(r.cn, "cert-a");
	tls_server_free(s);
}

static void test_versions_and_alpn(void)
{
	static const char *const names[] = { "a" };
	static const unsigned char both[] = "\x02h2\x08http/1.1", h2[] = "\x02h2";
	struct tls_server *s = server(names, 1);
	struct hs r;

	CHECK(!handshake(s, "a.example.com", TLS1_1_VERSION, NULL, 0).ok);
	CHECK(handshake(s, "a.example.com", TLS1_2_VERSION, NULL, 0).ok);
	r = handshake(s, "a.example.com", 0, both, sizeof(both) - 1);
	CHECK(r.ok);
	CHECK_STR(r.alpn, "http/1.1");
	CHECK(!handshake(s, "a.example.com", 0, h2, sizeof(h2) - 1).ok);
	tls_server_free(s);
}

static void expect_error(const char *cert, const char *key, const char *want)
{
	struct tls_cert_conf c = { cert, key };
	struct tls_server_conf conf = { .certs = &c, .n_certs = 1, .min_version = TLS1_2_VERSION };
	struct tls_server *s = (struct tls_server *)1;
	char err[512] = "";
	size_t failed;

	CHECK_INT(tls_server_new(&conf, &s, &failed, err, sizeof(err)), -EINVAL);
	CHECK(s == NULL);
	if (!strstr(err, want)) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
		check_failures++;
	}
}

static void test_errors(void)
{
	char msg[300];

	chmod(path_of("a", "key"), 0644);
	snprintf(msg, sizeof(msg), "%s: private key is accessible by group or others (mode 0644)",
		 path_of("a", "key"));
	expect_error(path_of("a", "pem"), path_of("a", "key"), msg);
	chmod(path_of("a", "key"), 0600);
	expect_error(path_of("a", "pem"), path_of("b", "key"), "the key does not match");
	expect_error(path_of("nope", "pem"), path_of("a", "key"), path_of("nope", "pem"));
	expect_error(path_of("a", "pem"), path_of("nope", "key"), "No such file");
}

int main(void)
{
	if (!mkdtemp(dir))
		return T_EXIT_FAIL;
	make_cert("a", "cert-a", "DNS:a.example.com");
	make_cert("b", "cert-b", "DNS:*.b.example.com,DNS:b.example.com");
	test_names();
	test_sni();
	test_versions_and_alpn();
	test_errors();
	for (const char *const *f = (const char *const[]){ "a.pem", "a.key", "b.pem", "b.key", NULL };
	     *f; f++) {
		char p[300];

		snprintf(p, sizeof(p), "%s/%s", dir, *f);
		unlink(p);
	}
	rmdir(dir);
	return CHECK_EXIT();
}
