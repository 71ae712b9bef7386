/* TLS server contexts (see ctx.h). */
#include "tls/ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls/internal.h"

#include "shm/tickets.h"

#define TLS_MAX_NAMES 64u	/* names kept per certificate for SNI */

struct tls_cert {
	SSL_CTX *ctx;
	char *names[TLS_MAX_NAMES];
	size_t n_names;
};

struct tls_server {
	struct tls_cert *certs;
	size_t n_certs;
	const struct tickets *tickets;	/* shared ticket keys; NULL = OpenSSL's own */
};

/* Every context of a server names it (app data), for the callbacks. */
static const struct tls_server *ssl_server(SSL *ssl)
{
	return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

bool tls_name_matches(const char *pattern, const char *host)
{
	const char *dot;

	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, host) == 0;
	/* "*.example.com" covers "api.example.com", not "example.com" nor
	 * "a.b.example.com" (RFC 6125 §6.4.3: one label). */
	dot = strchr(host, '.');
	return dot && dot != host && strcasecmp(pattern + 1, dot) == 0;
}

/* A private key others can read is a key others may have copied. */
static int check_key_mode(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: private key is accessible by group or others "
			 "(mode %04o); chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		return -EINVAL;
	}
	return 0;
}

static int add_name(struct tls_cert *c, const char *name, size_t len)
{
	if (c->n_names == TLS_MAX_NAMES || len == 0 || memchr(name, '\0', len))
		return 0;	/* extra or malformed names are not offered for SNI */
	c->names[c->n_names] = strndup(name, len);
	if (!c->names[c->n_names])
		return -ENOMEM;
	c->n_names++;
	return 0;
}

/* DNS subjectAltNames, or the subject's CN when there are none. */
static int collect_names(struct tls_cert *c, X509 *x)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int ret = 0;

	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !ret; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

		if (gn->type == GEN_DNS)
			ret = add_name(c, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
				       (size_t)ASN1_STRING_length(gn->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	if (!ret && c->n_names == 0) {
		char cn[256];
		int len = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
						    cn, sizeof(cn));

		if (len > 0)
			ret = add_name(c, cn, (size_t)len);
	}
	return ret;
}

/* Modern defaults: TLS 1.2+ with AEAD suites only (TLS 1.3's are all
 * AEAD), server preference, no renegotiation, ALPN http/1.1. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";

	if (SSL_select_next_proto((unsigned char **)out, outlen, http11, sizeof(http11) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;	/* RFC 7301: no common protocol */
	return SSL_TLSEXT_ERR_OK;
}

/* Session tickets (RFC 5077 format, OpenSSL's): issued under the shared
 * current key, accepted under the current or the previous one; a ticket
 * under the previous key is accepted and renewed (return 2). No key
 * readable (the master is rotating it this instant) means no ticket: a
 * full handshake, never a failure. */
static int on_ticket_key(SSL *ssl, unsigned char name[16], unsigned char *iv,
			 EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int encrypt)
{
	const struct tls_server *s = ssl_server(ssl);
	struct ticket_key k;
	bool current = true;
	OSSL_PARAM params[3];
	int ret = 1;

	_Static_assert(TICKETS_NAME_BYTES == 16, "RFC 5077 key_name is 16 bytes");
	if (encrypt) {
		if (tickets_current(s->tickets, &k) < 0 ||
		    RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
			return 0;
		memcpy(name, k.name, TICKETS_NAME_BYTES);
		if (!EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, k.aes, iv))
			ret = -1;
	} else {
		if (tickets_find(s->tickets, name, &k, &current) < 0)
			return 0;	/* unknown or too old: a full handshake */
		if (!EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, k.aes, iv))
			ret = -1;
		else if (!current)
			ret = 2;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac,
						      TICKETS_HMAC_BYTES);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (ret > 0 && !EVP_MAC_CTX_set_params(mac, params))
		ret = -1;
	OPENSSL_cleanse(&k, sizeof(k));
	return ret;
}

/* The client certificate's verdict is read after the handshake
 * (tlsio_peer()), so the route can answer in HTTP rather than with an
 * alert the client cannot explain. */
static int accept_any_peer(int preverify_ok, X509_STORE_CTX *x509)
{
	(void)preverify_ok;
	(void)x509;
	return 1;
}

static SSL_CTX *ctx_new(struct tls_server *s, const struct tls_server_conf *conf)
{
	static const unsigned char sid_ctx[] = "gatewayd";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, conf->min_version) ||
	    !SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL") ||
	    !SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	SSL_CTX_set_app_data(ctx, s);
	/* Resumption by ticket only: a session cache would be per worker
	 * (connections land on any), tickets are shared (shm/tickets.h). One
	 * ticket per handshake is enough for a client that reconnects. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	if (conf->client_cert == TLS_CLIENT_CERT_ASK)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_peer);
	return ctx;
}

/* The CA bundle client certificates are checked against, and the names
 * the server sends in its CertificateRequest. */
static int client_ca_load(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	STACK_OF(X509_NAME) *names;

	if (access(path, R_OK) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
		snprintf(err, errlen, "%s: %s", path, tls__reason("bad CA bundle"));
		return -EINVAL;
	}
	names = SSL_load_client_CA_file(path);
	if (!names) {
		snprintf(err, errlen, "%s: %s", path, tls__reason("no CA certificate in it"));
		return -EINVAL;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	return 0;
}

static int cert_load(struct tls_server *s, struct tls_cert *c, const struct tls_cert_conf *conf,
		     const struct tls_server_conf *sconf, char *err, size_t errlen)
{
	int ret = check_key_mode(conf->key_path, err, errlen);

	if (ret)
		return ret;
	c->ctx = ctx_new(s, sconf);
	if (!c->ctx) {
		snprintf(err, errlen, "%s: %s", conf->cert_path, tls__reason("cannot create a TLS context"));
		return -ENOMEM;
	}
	if (SSL_CTX_use_certificate_chain_file(c->ctx, conf->cert_path) != 1) {
		snprintf(err, errlen, "%s: %s", conf->cert_path, tls__reason("bad certificate"));
		return -EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ctx, conf->key_path, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL checks the pair while loading; say it in our words. */
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(err, errlen, "%s: the key does not match the certificate %s",
				 conf->key_path, conf->cert_path);
		} else {
			snprintf(err, errlen, "%s: %s", conf->key_path, tls__reason("bad private key"));
		}
		return -EINVAL;
	}
	if (SSL_CTX_check_private_key(c->ctx) != 1) {
		snprintf(err, errlen, "%s: the key does not match the certificate %s",
			 conf->key_path, conf->cert_path);
		return -EINVAL;
	}
	if (collect_names(c, SSL_CTX_get0_certificate(c->ctx)) < 0) {
		snprintf(err, errlen, "%s: out of memory", conf->cert_path);
		return -ENOMEM;
	}
	return 0;
}

/* SNI: move the handshake to the certificate that names the host. No
 * match keeps the default one (as nginx does) rather than failing. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	const struct tls_server *s = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (!host)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < s->n_certs; i++) {
		for (size_t k = 0; k < s->certs[i].n_names; k++) {
			if (tls_name_matches(s->certs[i].names[k], host)) {
				SSL_set_SSL_CTX(ssl, s->certs[i].ctx);
				return SSL_TLSEXT_ERR_OK;
			}
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

int tls_server_new(const struct tls_server_conf *conf, struct tls_server **out,
		   size_t *failed_cert, char *err, size_t errlen)
{
	struct tls_server *s = calloc(1, sizeof(*s));
	int ret = -ENOMEM;

	*out = NULL;
	*failed_cert = 0;
	if (!s || !conf->n_certs || !(s->certs = calloc(conf->n_certs, sizeof(*s->certs)))) {
		snprintf(err, errlen, conf->n_certs ? "out of memory" : "no certificate");
		ret = conf->n_certs ? -ENOMEM : -EINVAL;
		goto err_free;
	}
	s->n_certs = conf->n_certs;
	for (size_t i = 0; i < conf->n_certs; i++) {
		*failed_cert = i;
		ret = cert_load(s, &s->certs[i], &conf->certs[i], conf, err, errlen);
		if (ret)
			goto err_free;
	}
	*failed_cert = conf->n_certs;
	for (size_t i = 0; conf->client_ca && i < conf->n_certs; i++) {
		ret = client_ca_load(s->certs[i].ctx, conf->client_ca, err, errlen);
		if (ret)
			goto err_free;
	}
	/* Only the default context sees the ClientHello's server name. */
	SSL_CTX_set_tlsext_servername_callback(s->certs[0].ctx, on_servername);
	SSL_CTX_set_tlsext_servername_arg(s->certs[0].ctx, s);
	*out = s;
	return 0;

err_free:
	tls_server_free(s);
	return ret;
}

void tls_server_free(struct tls_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->certs && i < s->n_certs; i++) {
		SSL_CTX_free(s->certs[i].ctx);
		for (size_t k = 0; k < s->certs[i].n_names; k++)
			free(s->certs[i].names[k]);
	}
	free(s->certs);
	free(s);
}

void tls_server_use_tickets(struct tls_server *s, const struct tickets *t)
{
	s->tickets = t;
	for (size_t i = 0; i < s->n_certs; i++)
		SSL_CTX_set_tlsext_ticket_key_evp_cb(s->certs[i].ctx, t ? on_ticket_key : NULL);
}

SSL *tls_server_ssl(struct tls_server *s)
{
	return SSL_new(s->certs[0].ctx);
}

size_t tls_server_n_certs(const struct tls_server *s)
{
	return s->n_certs;
}

const char *const *tls_server_names(const struct tls_server *s, size_t i, size_t *n)
{
	*n = s->certs[i].n_names;
	return (const char *const *)s->certs[i].names;
}
