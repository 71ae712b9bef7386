/* The pipeline's stage functions. pipeline.c's table is the only place
 * that orders them; each body lives in the file of its topic. */
#ifndef GW_WORKER_STAGES_H
#define GW_WORKER_STAGES_H

#include "worker/pipeline.h"

/* worker/request.c: read and check the request head, set limits. */
enum stage_result stage_parse(struct worker *w, struct exchange *ex);
/* worker/request.c: drop the parsed head from the client's input; after
 * this the spans in ex->req are gone. Does nothing if already done. */
void request_consume_head(struct exchange *ex);

/* A fresh random request id (32 hex digits) into <out> (REQUEST_ID_MAX + 1). */
void request_id_new(struct worker *w, char *out);
/* worker/access.c: resolve the client's address (X-Forwarded-For from
 * trusted proxies) and check the [access] list; check the route's list. */
enum stage_result stage_acl(struct worker *w, struct exchange *ex);
enum stage_result stage_route_acl(struct worker *w, struct exchange *ex);
/* worker/access.c: the lists' lookup sets, at worker start and exit.
 * 0 or -ENOMEM. */
int access_setup(struct worker *w);
void access_free(struct worker *w);
/* worker/tlsedge.c: redirect plain requests to https (redirect_http);
 * check the client certificate on TLS listeners (client_cert). */
enum stage_result stage_tls(struct worker *w, struct exchange *ex);
/* worker/tlsedge.c: learn the TLS port redirects name, at worker start. */
void tls_edge_setup(struct worker *w);
/* worker/tlsedge.c: Location of a redirect, Strict-Transport-Security on
 * TLS connections; 0 or -ENOSPC. */
int tls_response_headers(const struct worker *w, const struct exchange *ex, struct buf *out,
			 size_t cap);
/* worker/tlsedge.c: an upstream response field our own replaces (its
 * Strict-Transport-Security when hsts is set). */
bool tls_replaced_response_field(const struct worker *w, const struct exchange *ex,
				 const char *buf, struct http_span name);
/* worker/tlsedge.c: the client-sent copy of client_subject_header is
 * dropped; the verified subject is written instead. 0 or -ENOSPC. */
bool tls_forwarded_field(const struct worker *w, const char *buf, struct http_span name);
int tls_put_subject(const struct worker *w, const struct exchange *ex, struct buf *out,
		    size_t limit);
/* worker/decide.c: match a route; pick an instance. */
enum stage_result stage_route(struct worker *w, struct exchange *ex);
enum stage_result stage_pick(struct worker *w, struct exchange *ex);
/* worker/auth.c: verify the route's bearer token (401); check its scopes
 * and claims (403). */
enum stage_result stage_authn(struct worker *w, struct exchange *ex);
enum stage_result stage_authz(struct worker *w, struct exchange *ex);
/* Why authn/authz refused a request (ex->auth_fail). */
enum auth_fail {
	AUTH_FAIL_NONE = 0,
	AUTH_FAIL_MISSING,	/* no "Authorization: Bearer" credentials: 401, realm only */
	AUTH_FAIL_INVALID,	/* the token was refused: 401 invalid_token */
	AUTH_FAIL_SCOPE,	/* scopes or claims not granted: 403 insufficient_scope */
};
/* worker/auth.c: the WWW-Authenticate line of a refusal, if any; 0 or
 * -ENOSPC. */
int auth_headers(const struct worker *w, const struct exchange *ex, struct buf *out, size_t cap);
/* worker/auth.c: drop the exchange's claims. */
void auth_release(struct exchange *ex);
/* worker/auth.c: the route's forward_claims headers for the upstream
 * head: whether the client's field <name> is one of them (and so
 * dropped), and writing the claim values. 0 or -ENOSPC. */
bool auth_forwarded_field(const struct worker *w, const struct exchange *ex, const char *buf,
			  struct http_span name);
int auth_put_claims(const struct worker *w, const struct exchange *ex, struct buf *out,
		    size_t limit);
/* worker/ratelimit.c: every rate_limit rule of the route must admit. */
enum stage_result stage_ratelimit(struct worker *w, struct exchange *ex);
/* worker/ratelimit.c: the headers' constant parts, at worker start and
 * exit. 0 or -ENOMEM. */
int ratelimit_setup(struct worker *w);
void ratelimit_free(struct worker *w);
/* worker/ratelimit.c: Retry-After (429 only) and RateLimit-Policy /
 * RateLimit lines for ex's response, if a rule applied; 0 or -ENOSPC. */
int ratelimit_headers(const struct worker *w, const struct exchange *ex, struct buf *out,
		      size_t cap);
/* worker/transform.c: build the upstream request head. */
enum stage_result stage_transform(struct worker *w, struct exchange *ex);
/* worker/upstream.c: get a connection, send, wait for the response head. */
enum stage_result stage_upstream(struct worker *w, struct exchange *ex);
/* worker/respond.c: forward the response head, wait for the body to pass. */
enum stage_result stage_respond(struct worker *w, struct exchange *ex);
/* worker/accesslog.c: one JSON line per exchange. */
enum stage_result stage_log(struct worker *w, struct exchange *ex);

/* worker/respond.c: write the gateway's own JSON error response for
 * ex->status / ex->error to the client. */
void respond_error(struct worker *w, struct exchange *ex);

#endif
