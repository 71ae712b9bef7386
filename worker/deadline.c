/* Slow-client deadlines: request body reads and sends to the client.
 *
 * Body. nginx's client_body_timeout bounds the time between two reads,
 * which a client dribbling one byte per interval never trips; Apache's
 * mod_reqtimeout adds a minimum rate ("body=20,MinRate=500": 20 s, plus
 * one second per 500 bytes received). We keep both: the next body byte is
 * due within client_body_timeout of the last read, and the whole body
 * within client_body_timeout + received / client_body_min_rate of its
 * start. Time the gateway itself stopped reading (the upstream was not
 * taking the body) is not held against the client.
 *
 * Send. nginx's send_timeout: between two successive writes to the client,
 * not for the whole response. A send completes as soon as the kernel took
 * any bytes, so each completion is progress and re-arms; a send that stays
 * in flight for send_timeout means the client stopped reading (slow read),
 * and the connection is closed. No response is possible: it could not be
 * sent. */
#include "worker/deadline.h"

#include "lib/log.h"
#include "worker/client.h"
#include "worker/pipeline.h"

static uint64_t rate_deadline(const struct worker *w, const struct exchange *ex)
{
	uint64_t rate = w->cfg->client_body_min_rate;
	uint64_t got = ex->req_body.total;

	if (!rate)
		return UINT64_MAX;
	/* got * 1000 cannot overflow: bodies are far below 2^54 bytes. */
	return ex->body_t0_ms + w->cfg->client_body_timeout_ms + got * 1000u / rate;
}

void deadline_body(struct worker *w, struct exchange *ex)
{
	struct conn *c = ex->client;
	uint64_t idle = w->now_ms + w->cfg->client_body_timeout_ms, rate;

	if (!ex->body_t0_ms)
		ex->body_t0_ms = w->now_ms;
	rate = rate_deadline(w, ex);
	timer_arm(&w->timers, &c->timer, rate < idle ? rate : idle);
}

bool deadline_body_expired(struct worker *w, struct exchange *ex)
{
	struct conn *c = ex->client;
	uint64_t rate = w->cfg->client_body_min_rate;

	if (!c->recv_paused)
		return true;
	/* Restart the rate window so that the body received so far is owed
	 * nothing: the deadline is again client_body_timeout away. */
	ex->body_t0_ms = w->now_ms - (rate ? ex->req_body.total * 1000u / rate : 0);
	timer_arm(&w->timers, &c->timer, w->now_ms + w->cfg->client_body_timeout_ms);
	return false;
}

static void send_timeout_fire(struct timer *t, void *arg)
{
	struct worker *w = arg;
	struct conn *c = (struct conn *)((char *)t - offsetof(struct conn, send_timer));

	if (c->kind != CONN_CLIENT || c->closing || !c->send_busy)
		return;
	log_debug("client %s: send_timeout, %zu bytes unsent; closing", c->client.peer_ip,
		  conn_pending_out(c));
	wtab_count(w->stats, WTAB_CLIENT_TIMEOUTS, 1);
	client_close(w, c);
}

void deadline_send_init(struct conn *c)
{
	c->send_timer = (struct timer){ .fire = send_timeout_fire };
}

void deadline_send_cancel(struct worker *w, struct conn *c)
{
	timer_cancel(&w->timers, &c->send_timer);
}

void deadline_send(struct worker *w, struct conn *c)
{
	if (c->kind == CONN_CLIENT)
		timer_arm(&w->timers, &c->send_timer, w->now_ms + w->cfg->send_timeout_ms);
}
