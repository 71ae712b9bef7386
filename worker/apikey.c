/* The API-key half of the authn stage (see apikey.h).
 *
 * The key travels in one request header ([apikeys] header, X-Api-Key by
 * default). A worker hashes it with the store's key and looks the hash up
 * in the shared table (apikeys_verify(): keyed BLAKE2b, a constant-time
 * compare), so a key added or revoked by gatewayctl counts from the next
 * request on, in every worker, without a reload. A revoked key is simply
 * absent: it is refused like one never issued.
 *
 * Refusals (the gateway's JSON error shape):
 *   no key header                  401, WWW-Authenticate: ApiKey realm="gatewayd"
 *                                  (plus the Bearer challenge when the route
 *                                  also takes tokens, and then only if no
 *                                  token was sent either)
 *   a key no live record matches   401, ... error="invalid_key"
 *   a key without a route scope    403, ... error="insufficient_scope", scope="..."
 *   the table kept changing        503 (fail closed; see shm/apikeys.c)
 * A presented key that fails is refused even on a route that also takes
 * tokens: a bad credential is never silently replaced by another.
 *
 * Upstream, the consumer goes in X-Consumer; the key header and any
 * client-sent X-Consumer are dropped. */
#include "worker/apikey.h"

#include <errno.h>
#include <string.h>

#include "auth/scopes.h"
#include "worker/conn.h"
#include "worker/stages.h"

#define APIKEY_REALM "gatewayd"
#define APIKEY_TEXT_MAX 256u	/* longer than any key we issue: refused unhashed */

bool apikey_route(const struct worker *w, const struct exchange *ex)
{
	return ex->route >= 0 && w->cfg->routes[ex->route].auth_apikey;
}

bool apikey_refused(const struct exchange *ex)
{
	return ex->apikey == APIKEY_INVALID || ex->apikey == APIKEY_SCOPE;
}

static enum stage_result refuse(struct exchange *ex, enum apikey_outcome why, uint16_t status,
				const char *error)
{
	ex->apikey = (uint8_t)why;
	ex->auth_fail = (uint8_t)(why == APIKEY_SCOPE ? AUTH_FAIL_SCOPE :
				  why == APIKEY_NONE ? AUTH_FAIL_NONE :
				  why == APIKEY_MISSING ? AUTH_FAIL_MISSING : AUTH_FAIL_INVALID);
	ex->status = status;
	ex->error = error;
	return STAGE_RESPOND;
}

enum stage_result apikey_authn(struct worker *w, struct exchange *ex)
{
	const struct gw_route_conf *r = &w->cfg->routes[ex->route];
	const char *buf = buf_head(&ex->client->in);
	int i = http_field_find(buf, &ex->req.h, w->cfg->apikeys.header_lower);
	struct apikey_record rec;
	size_t len;
	int ret;

	if (i < 0 || ex->req.h.fields[i].value.len == 0) {
		ex->apikey = APIKEY_MISSING;
		if (r->auth_name)
			return STAGE_CONTINUE;	/* a token may do */
		return refuse(ex, APIKEY_MISSING, 401, "missing API key");
	}
	len = ex->req.h.fields[i].value.len;
	if (len > APIKEY_TEXT_MAX)
		return refuse(ex, APIKEY_INVALID, 401, "invalid API key");
	ret = apikeys_verify(&w->shm.apikeys, buf + ex->req.h.fields[i].value.off, len, &rec);
	if (ret == -EAGAIN)
		return refuse(ex, APIKEY_NONE, 503, "API keys unavailable, try again");
	if (ret < 0)
		return refuse(ex, APIKEY_INVALID, 401, "invalid API key");
	if (!scopes_all_in(r->scopes, rec.scopes))
		return refuse(ex, APIKEY_SCOPE, 403, "insufficient scope");
	ex->apikey = APIKEY_OK;
	memcpy(ex->consumer, rec.consumer, sizeof(ex->consumer));
	ex->consumer[sizeof(ex->consumer) - 1] = '\0';
	return STAGE_CONTINUE;
}

int apikey_challenge(const struct worker *w, const struct exchange *ex, struct buf *out,
		     size_t cap)
{
	const struct gw_route_conf *r;

	if (ex->auth_fail == AUTH_FAIL_NONE || !apikey_route(w, ex))
		return 0;
	switch ((enum apikey_outcome)ex->apikey) {
	case APIKEY_INVALID:
		return buf_printf(out, cap, "WWW-Authenticate: ApiKey realm=\"" APIKEY_REALM "\", "
				  "error=\"invalid_key\"\r\n");
	case APIKEY_SCOPE:
		/* Route scopes were checked at load to hold no '"' or '\'. */
		r = &w->cfg->routes[ex->route];
		return buf_printf(out, cap, "WWW-Authenticate: ApiKey realm=\"" APIKEY_REALM "\", "
				  "error=\"insufficient_scope\", scope=\"%s\"\r\n", r->scopes);
	case APIKEY_MISSING:
		/* No key, and the token (if the route takes one) was refused:
		 * a 403 for the token's scopes needs no key challenge. */
		if (ex->status != 401)
			return 0;
		return buf_printf(out, cap, "WWW-Authenticate: ApiKey realm=\"" APIKEY_REALM "\"\r\n");
	case APIKEY_NONE:
	case APIKEY_OK:
		break;
	}
	return 0;
}

bool apikey_dropped_field(const struct worker *w, const char *buf, struct http_span name)
{
	const struct gw_apikeys_conf *a = &w->cfg->apikeys;

	return a->line && (http_span_ieq(buf, name, "x-consumer") ||
			   http_span_ieq(buf, name, a->header_lower));
}

int apikey_put_consumer(const struct exchange *ex, struct buf *out, size_t limit)
{
	/* Safe in a header value: consumers are [A-Za-z0-9._@-] (auth/keystore.h). */
	if (ex->apikey != APIKEY_OK)
		return 0;
	return buf_printf(out, limit, "X-Consumer: %s\r\n", ex->consumer);
}
