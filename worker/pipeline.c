/* The request pipeline, in execution order. Reading this table is reading
 * what the gateway does with a request:
 *
 *   parse      strict HTTP/1.1 head, size limits, request id
 *   tls        plain listeners with redirect_http: 308 to https; TLS
 *              listeners asking for client certificates: a missing
 *              (required) or unverifiable one is refused (400 or 403)
 *   acl        the client's address (the peer, or what X-Forwarded-For
 *              names when the peer is a trusted proxy), then the [access]
 *              allow/deny list, longest prefix wins (403 when denied)
 *   route      host/path/method/header/query match (404 when none)
 *   route_acl  the route's own allow/deny list, after the global one
 *              (403 when denied)
 *   authn      routes with auth = jwt:NAME: the Authorization: Bearer
 *              token verified against the [jwt] section's keys (401 with
 *              WWW-Authenticate; the claims are kept until the exchange
 *              ends); routes with auth = apikey: the key header looked up
 *              in the shared key table (401, or 403 for a key's scopes)
 *   authz      the route's scopes and claims all granted by the token
 *              (403 insufficient_scope)
 *   ratelimit  every rate_limit rule of the route admits, in the GCRA table
 *              all workers share (429 with Retry-After and RateLimit headers)
 *   transform  upstream request head: target rewrite, hop-by-hop removal,
 *              X-Forwarded-*, X-Request-Id, forward_claims headers,
 *              X-Consumer and the client certificate's subject
 *              (replacing the client's copies; the API-key header is not
 *              forwarded) (it does not depend on the instance, so a retry
 *              reuses it)
 *   pick       an instance of the route's service that is up, not draining,
 *              not tried yet, and whose breaker admits, by the service's
 *              balancer (503 at once when there is none)
 *   upstream   pooled or new connection, request head and streamed body
 *              out, response head in (502 on failure, 504 on timeout); a
 *              failed attempt is reported to the breaker and may be retried
 *              (worker/retry.c), which runs the pipeline again from pick
 *   respond    response head to the client, body streamed through
 *   log        access log line, counters
 *
 * Stage bodies live in the files named in stages.h. */
#include "worker/pipeline.h"

#include <string.h>

#include "worker/retry.h"
#include "worker/client.h"
#include "worker/stages.h"
#include "worker/upstream.h"

struct stage {
	const char *name;
	enum stage_result (*run)(struct worker *w, struct exchange *ex);
};

/* The order, named: a retry re-enters at ST_PICK and a gateway-made
 * response jumps to ST_LOG, whatever is inserted before them. */
enum stage_index {
	ST_PARSE = 0,
	ST_TLS,
	ST_ACL,
	ST_ROUTE,
	ST_ROUTE_ACL,
	ST_AUTHN,
	ST_AUTHZ,
	ST_RATELIMIT,
	ST_TRANSFORM,
	ST_PICK,
	ST_UPSTREAM,
	ST_RESPOND,
	ST_LOG,
	N_STAGES,
};

static const struct stage stages[N_STAGES] = {
	[ST_PARSE] = { "parse", stage_parse },
	[ST_TLS] = { "tls", stage_tls },
	[ST_ACL] = { "acl", stage_acl },
	[ST_ROUTE] = { "route", stage_route },
	[ST_ROUTE_ACL] = { "route_acl", stage_route_acl },
	[ST_AUTHN] = { "authn", stage_authn },
	[ST_AUTHZ] = { "authz", stage_authz },
	[ST_RATELIMIT] = { "ratelimit", stage_ratelimit },
	[ST_TRANSFORM] = { "transform", stage_transform },
	[ST_PICK] = { "pick", stage_pick },
	[ST_UPSTREAM] = { "upstream", stage_upstream },
	[ST_RESPOND] = { "respond", stage_respond },
	[ST_LOG] = { "log", stage_log },
};

/* Answer with the gateway's own response, dropping any upstream. */
static void respond_now(struct worker *w, struct exchange *ex)
{
	if (ex->up)
		upstream_abort(w, ex);
	/* The next request on the connection starts after this one. */
	request_consume_head(ex);
	respond_error(w, ex);
	ex->stage = ST_LOG;
}

void pipeline_release_pick(struct worker *w, struct exchange *ex)
{
	if (!ex->picked)
		return;
	inst_inflight_add(&w->shm.inst, w->id, ex->inst.slot, -1);
	if (ex->ticket == BRK_PROBE) {
		/* Never reported (the client left first): free the probe slot. */
		brk_cancel(inst_breaker(&w->shm.inst, ex->inst.slot), ex->ticket);
		inst_probe_add(&w->shm.inst, w->id, ex->inst.slot, -1);
	}
	ex->ticket = BRK_DENIED;
	ex->picked = false;
}

/* The exchange is over: nothing of it stays counted anywhere. */
static void release_all(struct worker *w, struct exchange *ex)
{
	pipeline_release_pick(w, ex);
	retry_end(w, ex);
	auth_release(ex);
	if (ex->counted) {
		ex->counted = false;
		wtab_gauge_add(w->stats, WTAB_INFLIGHT, -1);
	}
}

void pipeline_resume(struct worker *w, struct exchange *ex)
{
	for (;;) {
		while (ex->stage < N_STAGES) {
			enum stage_result r = stages[ex->stage].run(w, ex);
			if (r == STAGE_SUSPEND)
				return;
			if (r == STAGE_RESPOND)
				respond_now(w, ex);
			else
				ex->stage++;
		}
		release_all(w, ex);
		/* Pipelined requests are served in a loop, not by recursion. */
		if (!client_next_request(w, ex->client))
			return;
	}
}

void pipeline_fail(struct worker *w, struct exchange *ex, uint16_t status, const char *error)
{
	if (ex->resp_head_sent) {
		/* Too late for an error response: the client has a status line
		 * already. Cutting the connection is the only honest signal. */
		ex->keep_alive = false;
		pipeline_abort(w, ex);
		client_close(w, ex->client);
		return;
	}
	ex->status = status;
	ex->error = error;
	respond_now(w, ex);
	pipeline_resume(w, ex);
}

void pipeline_abort(struct worker *w, struct exchange *ex)
{
	if (ex->up)
		upstream_abort(w, ex);
	release_all(w, ex);
	if (ex->req_started && ex->stage < N_STAGES) {
		if (!ex->resp_done)
			ex->status = 499;	/* nginx's "client closed request" */
		stage_log(w, ex);
	}
	ex->stage = N_STAGES;
}

void pipeline_retry(struct worker *w, struct exchange *ex)
{
	ex->stage = ST_PICK;
	pipeline_resume(w, ex);
}

void pipeline_reset(struct worker *w, struct exchange *ex)
{
	struct conn *client = ex->client;
	struct buf up_head = ex->up_head;

	buf_reset(&up_head);
	auth_release(ex);
	/* The structs are large; clear only what a new request needs. */
	memset(ex, 0, offsetof(struct exchange, req));
	ex->client = client;
	ex->up_head = up_head;
	ex->route = -1;
	ex->picked = false;
	ex->ticket = BRK_DENIED;
	ex->attempts = 0;
	ex->retrying = false;
	ex->wait.fire = NULL;
	ex->rl.set = false;
	ex->auth_fail = AUTH_FAIL_NONE;
	ex->apikey = 0;
	ex->consumer[0] = '\0';
	ex->req_started = false;
	ex->body_t0_ms = 0;
	ex->head_parsed = false;
	ex->req_body_done = false;
	ex->up_retried = false;
	ex->resp_head_done = ex->resp_head_sent = ex->resp_done = ex->resp_started = false;
	ex->dechunk = false;
	ex->status = 0;
	ex->error = NULL;
	ex->keep_alive = false;
	ex->request_id[0] = ex->target[0] = ex->method_name[0] = '\0';
	ex->client_addr = client->client.peer_addr;
	memcpy(ex->client_ip, client->client.peer_ip, sizeof(ex->client_ip));
	ex->bytes_in = ex->bytes_out = 0;
	ex->t_start_ns = ex->t_up_start_ns = ex->t_up_end_ns = 0;
	http_parser_init(&ex->parser, (uint32_t)w->cfg->max_header_bytes);
	http_parser_limits(&ex->parser, w->cfg->max_headers, (uint32_t)w->cfg->max_request_line);
}
