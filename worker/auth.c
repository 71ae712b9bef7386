/* The authn and authz stages: bearer tokens (RFC 6750) verified against
 * the key set of the route's [jwt] section (auth/jwt.h), then the route's
 * required scopes and claims; and the forward_claims headers the transform
 * stage writes into the upstream request.
 *
 * Refusals (RFC 6750 §3):
 *   no "Authorization: Bearer TOKEN" (absent, another scheme, empty)
 *       401, WWW-Authenticate: Bearer realm="gatewayd" (no error code:
 *       the client sent no credentials);
 *   a token jwt_verify() refuses
 *       401, ... error="invalid_token", error_description="<jwt_err_name>";
 *   a scope or claim the route requires and the token does not grant
 *       403, ... error="insufficient_scope", scope="<the route's scopes>".
 * The Authorization header itself is passed to the upstream unchanged.
 *
 * Time is the loop turn's wall clock (w->now_s): verifying never reads a
 * clock. The claims stay referenced by the exchange until it ends
 * (auth_release() from pipeline.c), so forward_claims can read them when
 * the transform stage runs. */
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "auth/jwt.h"
#include "lib/log.h"
#include "worker/apikey.h"
#include "worker/conn.h"
#include "worker/stages.h"

#define AUTH_REALM "gatewayd"

static const struct gw_jwt_conf *route_jwt(const struct worker *w, const struct exchange *ex)
{
	const struct gw_route_conf *r;

	if (ex->route < 0)
		return NULL;
	r = &w->cfg->routes[ex->route];
	return r->auth_name ? &w->cfg->jwts[r->jwt] : NULL;
}

/* The token of "Authorization: Bearer TOKEN" in the client's head: its
 * offset in <buf> and length, or false when there is none. The scheme is
 * case-insensitive (RFC 9110 §11.1); one or more spaces follow it. */
static bool bearer_token(const struct exchange *ex, const char *buf, size_t *off, size_t *len)
{
	int i = http_field_find(buf, &ex->req.h, "authorization");
	const char *v;
	size_t n, a = 6;

	if (i < 0)
		return false;
	v = buf + ex->req.h.fields[i].value.off;
	n = ex->req.h.fields[i].value.len;
	if (n <= a || strncasecmp(v, "bearer", 6) != 0 || v[a] != ' ')
		return false;
	while (a < n && v[a] == ' ')
		a++;
	while (n > a && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (a == n)
		return false;
	*off = ex->req.h.fields[i].value.off + a;
	*len = n - a;
	return true;
}

static enum stage_result refuse(struct exchange *ex, enum auth_fail why, uint16_t status,
				const char *error)
{
	ex->auth_fail = (uint8_t)why;
	ex->status = status;
	ex->error = error;
	return STAGE_RESPOND;
}

enum stage_result stage_authn(struct worker *w, struct exchange *ex)
{
	const struct gw_jwt_conf *j = route_jwt(w, ex);
	const char *buf = buf_head(&ex->client->in);
	struct jwt_policy pol;
	struct jwt_result res;
	size_t off, len;
	int rc;

	/* API keys first (worker/apikey.c); with none sent, a token may do. */
	if (apikey_route(w, ex)) {
		enum stage_result kr = apikey_authn(w, ex);

		if (kr != STAGE_CONTINUE || ex->apikey == APIKEY_OK)
			return kr;
	}
	if (!j)
		return STAGE_CONTINUE;
	if (!bearer_token(ex, buf, &off, &len))
		return refuse(ex, AUTH_FAIL_MISSING, 401, "missing bearer token");
	jwt_policy_init(&pol);
	pol.algs = j->algs;
	pol.issuer = j->issuer;
	pol.audience = j->audience;
	pol.leeway_s = j->leeway_s;
	rc = jwt_verify(j->keys, &pol, buf + off, len, w->now_s, &res);
	if (rc == 0) {
		ex->claims = res.claims;
		res.claims = NULL;	/* the exchange owns the reference now */
		jwt_result_free(&res);
		return STAGE_CONTINUE;
	}
	ex->jwt_err = (uint8_t)res.err;
	jwt_result_free(&res);
	if (rc == -ENOMEM) {
		log_error("jwt_verify() failed: %s", strerror(ENOMEM));
		return refuse(ex, AUTH_FAIL_NONE, 500, "out of memory");
	}
	return refuse(ex, AUTH_FAIL_INVALID, 401, "invalid token");
}

enum stage_result stage_authz(struct worker *w, struct exchange *ex)
{
	const struct gw_route_conf *r;

	/* A key's scopes were checked in authn (worker/apikey.c). */
	if (!route_jwt(w, ex) || ex->apikey == APIKEY_OK)
		return STAGE_CONTINUE;
	r = &w->cfg->routes[ex->route];
	if (!jwt_scopes_ok(ex->claims, r->scopes))
		return refuse(ex, AUTH_FAIL_SCOPE, 403, "insufficient scope");
	for (size_t i = 0; i < r->n_claims; i++) {
		if (!jwt_claim_equals(ex->claims, r->claims[i].name, r->claims[i].value))
			return refuse(ex, AUTH_FAIL_SCOPE, 403, "insufficient scope");
	}
	return STAGE_CONTINUE;
}

int auth_headers(const struct worker *w, const struct exchange *ex, struct buf *out, size_t cap)
{
	const struct gw_route_conf *r;
	int err = apikey_challenge(w, ex, out, cap);

	if (err || !route_jwt(w, ex))
		return err;
	/* A refused key decided alone: offer the token scheme, no error. */
	if (apikey_refused(ex))
		return ex->status == 401 ? buf_printf(out, cap, "WWW-Authenticate: Bearer realm=\""
						      AUTH_REALM "\"\r\n") : 0;
	switch ((enum auth_fail)ex->auth_fail) {
	case AUTH_FAIL_NONE:
		break;
	case AUTH_FAIL_MISSING:
		return buf_printf(out, cap, "WWW-Authenticate: Bearer realm=\"" AUTH_REALM "\"\r\n");
	case AUTH_FAIL_INVALID:
		return buf_printf(out, cap, "WWW-Authenticate: Bearer realm=\"" AUTH_REALM "\", "
				  "error=\"invalid_token\", error_description=\"%s\"\r\n",
				  jwt_err_name((enum jwt_err)ex->jwt_err));
	case AUTH_FAIL_SCOPE:
		/* Route scopes were checked at load to hold no '"' or '\'. */
		r = &w->cfg->routes[ex->route];
		return buf_printf(out, cap, "WWW-Authenticate: Bearer realm=\"" AUTH_REALM "\", "
				  "error=\"insufficient_scope\"%s%s%s\r\n",
				  r->scopes ? ", scope=\"" : "", r->scopes ? r->scopes : "",
				  r->scopes ? "\"" : "");
	}
	return 0;
}

void auth_release(struct exchange *ex)
{
	json_decref(ex->claims);
	ex->claims = NULL;
}

bool auth_forwarded_field(const struct worker *w, const struct exchange *ex, const char *buf,
			  struct http_span name)
{
	const struct gw_jwt_conf *j = route_jwt(w, ex);

	for (size_t i = 0; j && i < j->n_forward; i++) {
		if (http_span_ieq(buf, name, j->forward[i].header_lower))
			return true;
	}
	return false;
}

int auth_put_claims(const struct worker *w, const struct exchange *ex, struct buf *out,
		    size_t limit)
{
	const struct gw_jwt_conf *j = route_jwt(w, ex);
	int err = 0;

	for (size_t i = 0; j && ex->claims && i < j->n_forward && !err; i++) {
		/* Safe in a header value: no control character (auth/jwt.h). */
		const char *v = jwt_claim_string(ex->claims, j->forward[i].claim);

		if (v)
			err = buf_printf(out, limit, "%s: %s\r\n", j->forward[i].header, v);
	}
	return err;
}
