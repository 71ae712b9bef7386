/* TLS on a connection, client or upstream: the socket
 * carries ciphertext, the rest of the worker sees plaintext.
 *
 * Receiving: a recv's ciphertext is fed to the connection's tlsio and the
 * plaintext it yields is appended to ->in, where the parser finds it as on
 * a plain connection (the zero-copy offer of a receive buffer is skipped:
 * those bytes are ciphertext). Sending: plaintext is queued in out[fill]
 * as usual, and tlsconn_seal() encrypts it into out[fill ^ 1], which is
 * then what a send carries. So a TLS connection never swaps its queues:
 * out[fill] is plaintext, out[fill ^ 1] ciphertext, and held receive
 * buffers (relayed body bytes) go back to the ring once encrypted, not
 * once sent. */
#ifndef GW_WORKER_TLSCONN_H
#define GW_WORKER_TLSCONN_H

#include <sys/types.h>

#include "worker/core.h"

struct tls_server;
struct tls_client;

/* Make <c> a TLS server connection of <srv>. 0 or -ENOMEM. */
int tlsconn_accept(struct conn *c, struct tls_server *srv);

/* Make upstream connection <c> a TLS client of <cli>, for <sni> (or NULL)
 * at address <ip>, resuming the session in <resume> (tls/client.h); the
 * handshake starts with the first flush after the connect, and queued
 * plaintext waits for it. 0 or -ENOMEM. */
int tlsconn_connect(struct conn *c, struct tls_client *cli, const char *sni, const char *ip,
		    struct ssl_session_st **resume);

/* Free <c>'s TLS state (at slot release). NULL state is fine. */
void tlsconn_free(struct conn *c);

/* Ciphertext received: decrypt what it completes into ->in. Returns the
 * plaintext bytes appended (0 while a handshake or a record is
 * incomplete), -EPROTO on a TLS failure (an alert may be pending:
 * tlsconn_seal() takes it), or -ENOBUFS past CONN_IN_CAP. */
ssize_t tlsconn_input(struct conn *c, const char *data, size_t len);

/* Encrypt queued plaintext (some of it, when there is a lot) and move
 * every pending TLS byte (handshake, records, alerts) into the send
 * queue. Only while no send is in flight. 0, -EPROTO or -ENOBUFS. */
int tlsconn_seal(struct worker *w, struct conn *c);

/* Queue a close_notify (sent by the next seal). */
void tlsconn_close_notify(struct conn *c);

/* The peer sent close_notify / the connection failed. */
bool tlsconn_peer_closed(const struct conn *c);
bool tlsconn_failed(const struct conn *c);
/* Why it failed (a short static text), for logs. */
const char *tlsconn_error(const struct conn *c);

#endif
