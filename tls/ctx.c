/* TLS server contexts (see ctx.h). */
#include "tls/ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#define TLS_MAX_NAMES 64u	/* names kept per certificate for SNI */

struct tls_cert {
	SSL_CTX *ctx;
	char *names[TLS_MAX_NAMES];
	size_t n_names;
};

struct tls_server {
	struct tls_cert *certs;
	size_t n_certs;
};

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

/* The last OpenSSL error as text, or <fallback>. */
static const char *ssl_reason(const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : fallback;
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

static SSL_CTX *ctx_new(int min_version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, min_version) ||
	    !SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL")) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return ctx;
}

static int cert_load(struct tls_cert *c, const struct tls_cert_conf *conf, int min_version,
		     char *err, size_t errlen)
{
	int ret = check_key_mode(conf->key_path, err, errlen);

	if (ret)
		return ret;
	c->ctx = ctx_new(min_version);
	if (!c->ctx) {
		snprintf(err, errlen, "%s: %s", conf->cert_path, ssl_reason("cannot create a TLS context"));
		return -ENOMEM;
	}
	if (SSL_CTX_use_certificate_chain_file(c->ctx, conf->cert_path) != 1) {
		snprintf(err, errlen, "%s: %s", conf->cert_path, ssl_reason("bad certificate"));
		return -EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ctx, conf->key_path, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL checks the pair while loading; say it in our words. */
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(err, errlen, "%s: the key does not match the certificate %s",
				 conf->key_path, conf->cert_path);
		} else {
			snprintf(err, errlen, "%s: %s", conf->key_path, ssl_reason("bad private key"));
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

int tls_server_new(const struct tls_server_conf *conf, struct tls_server **out, char *err,
		   size_t errlen)
{
	struct tls_server *s = calloc(1, sizeof(*s));
	int ret = -ENOMEM;

	*out = NULL;
	if (!s || !conf->n_certs || !(s->certs = calloc(conf->n_certs, sizeof(*s->certs)))) {
		snprintf(err, errlen, conf->n_certs ? "out of memory" : "no certificate");
		ret = conf->n_certs ? -ENOMEM : -EINVAL;
		goto err_free;
	}
	s->n_certs = conf->n_certs;
	for (size_t i = 0; i < conf->n_certs; i++) {
		ret = cert_load(&s->certs[i], &conf->certs[i], conf->min_version, err, errlen);
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
