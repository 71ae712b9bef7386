/* The request pipeline: one exchange (request and its response) moving
 * through the stages listed, in order, in pipeline.c.
 *
 * Each stage has one signature and returns:
 *   STAGE_CONTINUE  go on to the next stage;
 *   STAGE_RESPOND   the gateway answers now with ex->status and ex->error
 *                   (the JSON error shape), then logs;
 *   STAGE_SUSPEND   waiting on I/O; the I/O code calls pipeline_resume()
 *                   when it completes and this same stage runs again, so a
 *                   stage that suspends checks its progress in ex first. */
#ifndef GW_WORKER_PIPELINE_H
#define GW_WORKER_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/http1.h"
#include "worker/core.h"

enum stage_result {
	STAGE_CONTINUE = 0,
	STAGE_RESPOND,
	STAGE_SUSPEND,
};

#define REQUEST_ID_MAX 64
#define LOG_TARGET_MAX 512

struct exchange {
	struct conn *client;		/* owner; never NULL */
	struct conn *up;		/* upstream carrying the request, or NULL */
	unsigned stage;			/* index into the stage table */

	/* Request. Spans in req point into client->in starting at its read
	 * offset, and are valid only until the transform stage consumes the
	 * head; later stages use the copies below. */
	struct http_parser parser;
	struct http_request req;
	enum http_method method;
	uint8_t client_minor;		/* client's HTTP/1.x minor version */
	struct http_body req_body;
	bool req_body_done;
	bool req_started;		/* some byte of this request arrived */
	uint64_t body_t0_ms;		/* when the body's minimum rate is counted from;
					 * 0 = no body byte awaited yet (worker/deadline.c) */
	bool head_parsed;		/* the head is valid and still in client->in */
	bool counted;			/* in the worker's WTAB_INFLIGHT gauge */

	/* The client's address: the peer's, or (from the acl stage on) the
	 * one X-Forwarded-For names when the peer is a trusted proxy. Access
	 * lists, rate limits by=ip, hash:ip, X-Forwarded-For and the access
	 * log all use it (worker/access.c). */
	struct cidr client_addr;
	char client_ip[INET6_ADDRSTRLEN];	/* client_addr as text */

	/* Routing and balancing. */
	int route;			/* index into cfg->routes, or -1 */
	uint32_t service;
	char hash_key[256];		/* hash:header's value (a prefix when longer) */
	uint16_t hash_key_len;		/* 0 = none: round robin */
	struct winst inst;		/* the instance picked (a copy); valid if picked */
	bool picked;			/* counted in flight on inst.slot */
	enum brk_ticket ticket;		/* what its breaker granted (BRK_PROBE holds a slot) */

	/* Retries (worker/retry.c). */
	uint8_t attempts;		/* attempts made, the current one included */
	uint32_t tried[GW_RETRY_MAX + 1];	/* slots already tried */
	bool retrying;			/* counted in WTAB_RETRIES_INFLIGHT */
	struct timer wait;		/* backoff before the next attempt, and BUSY retries */

	/* The most restrictive rate-limit rule that admitted the request, for
	 * the RateLimit headers of its response (worker/ratelimit.c). */
	struct {
		bool set;
		uint16_t rule;		/* index in the route's rate_limits */
		uint64_t remaining;
		uint64_t reset_s;
		uint64_t retry_after_s;	/* 429 only */
	} rl;

	/* Authentication (worker/auth.c): the verified token's claims from
	 * the authn stage to the end of the exchange (released with it), and
	 * why the gateway refused it, for the WWW-Authenticate header. */
	struct json_t *claims;		/* owned reference; NULL = none */
	uint8_t auth_fail;		/* enum auth_fail (worker/stages.h) */
	uint8_t jwt_err;		/* enum jwt_err, with AUTH_FAIL_INVALID */
	/* API keys (worker/apikey.c): what the key came to, and the consumer
	 * of the key that authenticated the request ("" = none). */
	uint8_t apikey;			/* enum apikey_outcome (worker/apikey.h) */
	char consumer[APIKEYS_CONSUMER_MAX + 1];
	/* Held after an unknown kid until the key set is refreshed
	 * (worker/jwtkeys.c); reset by auth_release(). */
	uint64_t jwks_until_ms;		/* give up waiting then; 0 = not waiting */
	uint64_t jwks_gen;		/* the section's key generation when it began */
	uint64_t jwks_attempts;		/* the master's fetch attempts then */
	bool jwks_waited;		/* waited once: the next unknown kid is final */

	/* The upstream request head, kept to replay it once on a fresh
	 * connection when a pooled one turns out to be closed. */
	struct buf up_head;
	bool up_retried;

	/* Response. */
	struct http_parser rparser;
	struct http_response resp;
	enum http_body_mode resp_mode;
	bool dechunk;			/* chunked upstream body to an HTTP/1.0 client */
	struct http_body resp_body;
	bool resp_head_done;		/* final (non-1xx) head parsed */
	bool resp_head_sent;		/* the client got a status line */
	bool resp_done;
	bool resp_started;		/* some byte of the response arrived */

	/* Outcome. */
	uint16_t status;
	const char *error;		/* message of a gateway-made response */
	bool keep_alive;		/* the client connection stays open after */

	/* For the access log. */
	char request_id[REQUEST_ID_MAX + 1];
	char method_name[16];
	char target[LOG_TARGET_MAX + 1];
	uint64_t t_start_ns;
	uint64_t t_up_start_ns;
	uint64_t t_up_end_ns;
	uint64_t bytes_in;
	uint64_t bytes_out;
};

/* Run the pipeline from ex->stage until it suspends or the exchange ends. */
void pipeline_resume(struct worker *w, struct exchange *ex);

/* An I/O failure after the pipeline passed the gateway's decision stages:
 * answer <status> with <error> if the client has not seen a status line
 * yet (then finish normally), else cut the client connection. */
void pipeline_fail(struct worker *w, struct exchange *ex, uint16_t status, const char *error);

/* Run the pipeline again from the pick stage: a retry after its backoff
 * (worker/retry.c). */
void pipeline_retry(struct worker *w, struct exchange *ex);

/* Stop counting the picked instance: its in-flight count, and a probe
 * ticket not reported (given back to the breaker). */
void pipeline_release_pick(struct worker *w, struct exchange *ex);

/* Reset <ex> for the next request on its client connection. */
void pipeline_reset(struct worker *w, struct exchange *ex);

/* The exchange's client is going away: release everything it holds
 * upstream and log it (status 499 when no response was complete). */
void pipeline_abort(struct worker *w, struct exchange *ex);

#endif
