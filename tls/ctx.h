/* TLS server contexts: the certificates a listener offers and how a
 * handshake picks one (SNI), with the protocol floor and ALPN.
 *
 * The master builds a struct tls_server when it loads a configuration, so a
 * bad certificate, a key that does not match it, or a key readable by
 * others fails the load (or the reload) with a clear error; workers inherit
 * it through fork and only create per-connection SSL objects from it. One
 * SSL_CTX per certificate: the first is the default, and the servername
 * callback switches a handshake to the context whose certificate names the
 * requested host (exact, or "*.example.com" for one label). */
#ifndef GW_TLS_CTX_H
#define GW_TLS_CTX_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* One certificate chain (PEM, leaf first) and its private key (PEM). */
struct tls_cert_conf {
	const char *cert_path;
	const char *key_path;
};

enum tls_client_cert {
	TLS_CLIENT_CERT_OFF = 0,		/* no certificate asked for */
	TLS_CLIENT_CERT_ASK,			/* asked for, never fails the handshake:
						 * the caller decides (tlsio_peer()) */
};

struct tls_server_conf {
	const struct tls_cert_conf *certs;	/* at least one; the first is the default */
	size_t n_certs;
	int min_version;			/* TLS1_2_VERSION or TLS1_3_VERSION */
	const char *client_ca;			/* PEM bundle for client certificates, or NULL */
	enum tls_client_cert client_cert;
};

struct tls_server;
struct tickets;

/* Build the contexts. On failure returns -EINVAL (or -ENOMEM) with one
 * line in <err>: "FILE: what is wrong", and *failed_cert set to the index
 * of the certificate at fault (n_certs when it is the client CA). A
 * private key readable by group or others is refused. */
int tls_server_new(const struct tls_server_conf *conf, struct tls_server **out,
		   size_t *failed_cert, char *err, size_t errlen);
void tls_server_free(struct tls_server *s);

/* Issue and accept session tickets with the shared keys of <t> (shm), so
 * a session resumes on any worker and across reloads. Without it OpenSSL
 * uses keys of its own, made when the contexts were built. Call in each
 * process before its first handshake; <t> must outlive <s>. */
void tls_server_use_tickets(struct tls_server *s, const struct tickets *t);

/* A server-side SSL for one connection (default context; SNI may switch
 * it during the handshake). NULL on ENOMEM. */
SSL *tls_server_ssl(struct tls_server *s);

/* How many certificates, and the names the <i>-th one covers (for logs
 * and tests): DNS subjectAltNames, or the subject CN when it has none. */
size_t tls_server_n_certs(const struct tls_server *s);
const char *const *tls_server_names(const struct tls_server *s, size_t i, size_t *n);

/* Does <pattern> ("api.example.com" or "*.example.com") cover <host>?
 * Case-insensitive; a wildcard covers exactly one leftmost label. */
bool tls_name_matches(const char *pattern, const char *host);

#endif
