/* TLS client contexts (see client.h). */
#include "tls/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/internal.h"

struct tls_client {
	SSL_CTX *ctx;
	bool verify;
};

/* A server sent a session (a TLS 1.3 ticket arrives after the handshake):
 * a copy replaces the one in the connection's cell. A copy, because the
 * connection's own session is marked not resumable when the connection is
 * freed without a close_notify, which is how a pooled connection usually
 * ends, while the ticket stays good. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	SSL_SESSION **cell = SSL_get_app_data(ssl);
	SSL_SESSION *copy;

	if (!cell || !(copy = SSL_SESSION_dup(sess)))
		return 0;
	SSL_SESSION_free(*cell);
	*cell = copy;
	return 0;	/* OpenSSL keeps its reference */
}

int tls_client_new(const char *ca_path, bool verify, struct tls_client **out, char *err,
		   size_t errlen)
{
	static const unsigned char http11[] = "\x08http/1.1";
	struct tls_client *c = calloc(1, sizeof(*c));
	int ret = -ENOMEM;

	*out = NULL;
	if (!c || !(c->ctx = SSL_CTX_new(TLS_client_method()))) {
		snprintf(err, errlen, "out of memory");
		goto err_free;
	}
	c->verify = verify;
	ret = -EINVAL;
	if (!SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) ||
	    SSL_CTX_set_alpn_protos(c->ctx, http11, sizeof(http11) - 1) != 0) {
		snprintf(err, errlen, "%s", tls__reason("cannot set up a TLS client"));
		goto err_free;
	}
	if (ca_path && access(ca_path, R_OK) != 0) {
		snprintf(err, errlen, "%s: %s", ca_path, strerror(errno));
		goto err_free;
	}
	if (ca_path && SSL_CTX_load_verify_locations(c->ctx, ca_path, NULL) != 1) {
		snprintf(err, errlen, "%s: %s", ca_path, tls__reason("bad CA bundle"));
		goto err_free;
	}
	if (!ca_path && SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		snprintf(err, errlen, "the system CA store: %s", tls__reason("cannot load"));
		goto err_free;
	}
	SSL_CTX_set_verify(c->ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Sessions are kept by the caller, one per upstream instance (its
	 * cell), not in OpenSSL's cache. */
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT |
					       SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c->ctx, on_new_session);
	*out = c;
	return 0;

err_free:
	tls_client_free(c);
	return ret;
}

void tls_client_free(struct tls_client *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ctx);
	free(c);
}

SSL *tls_client_ssl(struct tls_client *c, const char *sni, const char *ip,
		    SSL_SESSION **resume)
{
	SSL *ssl = SSL_new(c->ctx);
	int ok = 1;

	if (!ssl)
		return NULL;
	SSL_set_connect_state(ssl);
	SSL_set_app_data(ssl, resume);
	if (resume && *resume) {
		/* A copy again: the cell's own session must not be marked
		 * unresumable when this connection ends without a close_notify. */
		SSL_SESSION *copy = SSL_SESSION_dup(*resume);

		ok = copy && SSL_set_session(ssl, copy) == 1;
		SSL_SESSION_free(copy);
	}
	if (sni)
		ok = SSL_set_tlsext_host_name(ssl, sni) == 1;
	if (ok && c->verify) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		ok = sni ? SSL_set1_host(ssl, sni) == 1
			 : X509_VERIFY_PARAM_set1_ip_asc(vp, ip) == 1;
	}
	if (!ok) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

void tls_client_forget(SSL_SESSION **cell)
{
	SSL_SESSION_free(*cell);
	*cell = NULL;
}
