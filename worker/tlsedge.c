/* The tls stage and what TLS adds to heads ([tls] in conf/tls.c):
 *
 *   on a plain listener with redirect_http, every request is answered 308
 *   with Location: https://HOST[:PORT]TARGET (the first TLS listener's
 *   port; 443 is left out), like nginx's "return 308 https://...";
 *   on a TLS listener asking for client certificates, a missing one
 *   (client_cert = require) or one that failed verification (either mode)
 *   is answered client_cert_status (400 by default, as nginx does: the
 *   handshake completes so the client gets a reason, not an alert);
 *   a verified client's subject goes upstream in client_subject_header,
 *   and a client-sent copy of that header is always dropped, on every
 *   listener, so no one can claim a subject over plain HTTP;
 *   responses on TLS connections carry Strict-Transport-Security when
 *   hsts is set (replacing the upstream's own).
 *
 * The redirect's port is read from our first TLS listening socket at
 * start (tls_edge_setup()), so "listen = *:0" redirects to the port the
 * kernel chose.
 *
 * A redirect's Location is built into ex->up_head: no upstream request is
 * made for that exchange, and the spans of the head it needs are gone by
 * the time respond_error() writes the response. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "tls/io.h"
#include "worker/conn.h"
#include "worker/stages.h"

/* "host" of "host:port" or "[v6]:port" (the Host field was checked by the
 * parser: no spaces or control bytes). */
static size_t host_without_port(const char *host, size_t len)
{
	if (len > 0 && host[0] == '[') {
		const char *end = memchr(host, ']', len);

		return end ? (size_t)(end - host) + 1 : len;
	}
	for (size_t i = 0; i < len; i++) {
		if (host[i] == ':')
			return i;
	}
	return len;
}

static enum stage_result redirect(struct worker *w, struct exchange *ex)
{
	const char *buf = buf_head(&ex->client->in);
	const struct http_span *host = &ex->req.host;
	struct buf *loc = &ex->up_head;
	int err;

	if (host->len == 0) {
		ex->status = 400;
		ex->error = "this port takes HTTPS only; the request has no Host to redirect to";
		return STAGE_RESPOND;
	}
	buf_reset(loc);
	err = buf_append(loc, "Location: https://", 18, 2 * w->cfg->max_header_bytes);
	err = err ?: buf_append(loc, buf + host->off, host_without_port(buf + host->off, host->len),
				2 * w->cfg->max_header_bytes);
	if (w->tls_port != 443 && w->tls_port != 0)
		err = err ?: buf_printf(loc, 2 * w->cfg->max_header_bytes, ":%u",
					(unsigned)w->tls_port);
	/* An absolute-form target's path is what goes after the authority. */
	err = err ?: buf_append(loc, buf + ex->req.path.off, ex->req.path.len,
				2 * w->cfg->max_header_bytes);
	if (ex->req.query.len)
		err = err ?: buf_printf(loc, 2 * w->cfg->max_header_bytes, "?%.*s",
					(int)ex->req.query.len, buf + ex->req.query.off);
	err = err ?: buf_append(loc, "\r\n", 2, 2 * w->cfg->max_header_bytes);
	if (err) {
		buf_reset(loc);
		ex->status = 431;
		ex->error = "request target too large to redirect";
		return STAGE_RESPOND;
	}
	ex->status = 308;
	ex->error = "this port takes HTTPS only";
	return STAGE_RESPOND;
}

enum stage_result stage_tls(struct worker *w, struct exchange *ex)
{
	const struct gw_tls_conf *t = &w->cfg->tls;
	struct conn *c = ex->client;

	if (!c->tls)
		return t->redirect_http ? redirect(w, ex) : STAGE_CONTINUE;
	if (t->client_cert == GW_CLIENT_CERT_OFF)
		return STAGE_CONTINUE;
	switch (tlsio_peer(c->tls, NULL, 0)) {
	case TLSIO_PEER_VALID:
		return STAGE_CONTINUE;
	case TLSIO_PEER_NONE:
		if (t->client_cert == GW_CLIENT_CERT_OPTIONAL)
			return STAGE_CONTINUE;
		ex->error = "a client certificate is required";
		break;
	case TLSIO_PEER_INVALID:
		ex->error = "the client certificate could not be verified";
		break;
	}
	ex->status = (uint16_t)t->client_cert_status;
	return STAGE_RESPOND;
}

int tls_response_headers(const struct worker *w, const struct exchange *ex, struct buf *out,
			 size_t cap)
{
	const struct gw_tls_conf *t = &w->cfg->tls;
	int err = 0;

	if (ex->status == 308 && !ex->client->tls && t->redirect_http)
		err = buf_append(out, buf_head(&ex->up_head), buf_avail(&ex->up_head), cap);
	if (ex->client->tls && t->hsts)
		err = err ?: buf_printf(out, cap, "Strict-Transport-Security: %s\r\n", t->hsts);
	return err;
}

bool tls_replaced_response_field(const struct worker *w, const struct exchange *ex,
				 const char *buf, struct http_span name)
{
	return ex->client->tls && w->cfg->tls.hsts &&
	       http_span_ieq(buf, name, "strict-transport-security");
}

bool tls_forwarded_field(const struct worker *w, const char *buf, struct http_span name)
{
	const struct gw_tls_conf *t = &w->cfg->tls;

	return t->client_cert != GW_CLIENT_CERT_OFF &&
	       http_span_ieq(buf, name, t->client_subject_lower);
}

int tls_put_subject(const struct worker *w, const struct exchange *ex, struct buf *out,
		    size_t limit)
{
	const struct gw_tls_conf *t = &w->cfg->tls;
	char subject[1024];

	if (!ex->client->tls || t->client_cert == GW_CLIENT_CERT_OFF ||
	    tlsio_peer(ex->client->tls, subject, sizeof(subject)) != TLSIO_PEER_VALID)
		return 0;
	return buf_printf(out, limit, "%s: %s\r\n", t->client_subject_header, subject);
}

void tls_edge_setup(struct worker *w)
{
	for (size_t i = 0; i < w->n_listen_fds; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (!w->cfg->listens[i % w->cfg->n_listens].tls ||
		    getsockname(w->listen_fds[i], (struct sockaddr *)&ss, &len) != 0)
			continue;
		w->tls_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
						       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
		return;
	}
}
