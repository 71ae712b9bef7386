/* TLS client contexts, for upstream connections of a service with
 * "tls = yes": TLS 1.2+, the peer verified by default (against the system
 * store or the service's tls_ca) and its name checked against the SNI name
 * (or its IP address when there is none), ALPN http/1.1.
 *
 * Built by the master at load like the server contexts (tls/ctx.h), so a
 * bad CA file fails the load at its line; workers make one SSL per
 * connection from it. */
#ifndef GW_TLS_CLIENT_H
#define GW_TLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct tls_client;

/* <ca_path> NULL: the system's default store. <verify> false accepts any
 * certificate (tls_verify = no). -EINVAL with "FILE: reason" in <err>, or
 * -ENOMEM. */
int tls_client_new(const char *ca_path, bool verify, struct tls_client **out, char *err,
		   size_t errlen);
void tls_client_free(struct tls_client *c);

/* A client-side SSL for one connection: <sni> is sent as the server name
 * and verified against the certificate; without it the certificate must
 * name <ip> (text form, e.g. "10.0.0.7"). <resume> (or NULL) is the
 * peer's session cell: the session in it is offered for resumption, and a
 * session the server issues on this connection replaces it (the cell must
 * outlive the SSL). NULL on ENOMEM. */
SSL *tls_client_ssl(struct tls_client *c, const char *sni, const char *ip,
		    SSL_SESSION **resume);

/* Drop the session in a cell (the peer is gone). */
void tls_client_forget(SSL_SESSION **cell);

#endif
