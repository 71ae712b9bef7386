/* The log stage: one JSON object per exchange, on one line, queued on the
 * worker's access-log appender (written through the ring, never blocking).
 *
 * {"time":"2026-11-28T20:37:12.345Z","request_id":"...","client":"127.0.0.1",
 *  "method":"GET","path":"/v1/users?x=1","status":200,"bytes_in":78,
 *  "bytes_out":512,"route":"users","upstream":"127.0.0.1:9001","attempts":1,
 *  "duration_ms":1.234,"upstream_ms":0.987,"tls":"TLSv1.3","tls_resumed":false,
 *  "consumer":"acme"}
 *
 * "client" is the client's address as the acl stage resolved it: the
 * peer, or what a trusted proxy's X-Forwarded-For names (worker/access.c).
 * "upstream" is the instance of the last attempt; "attempts" counts them
 * (more than one after retries, 0 when no instance was picked).
 * "consumer" is the API key's consumer when a key authenticated the
 * request ("" otherwise).
 * The stage also counts the response in the worker's shared counters. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/json.h"
#include "tls/io.h"
#include "worker/stages.h"

static void iso_time(char *out, size_t cap)
{
	uint64_t us = clock_wall_us();
	time_t sec = (time_t)(us / 1000000u);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(us % 1000000u / 1000u));
}

static void count_response(struct worker *w, const struct exchange *ex)
{
	unsigned class = ex->status / 100;

	if (class >= 1 && class <= 5)
		wtab_count(w->stats, (enum wtab_counter)(WTAB_RESP_1XX + class - 1), 1);
	wtab_count(w->stats, WTAB_BYTES_IN, ex->bytes_in);
	wtab_count(w->stats, WTAB_BYTES_OUT, ex->bytes_out);
}

enum stage_result stage_log(struct worker *w, struct exchange *ex)
{
	char line[4096], when[48], method[64], target[3 * LOG_TARGET_MAX], route[160];
	char consumer[2 * sizeof(ex->consumer)];
	const struct gw_config *cfg = w->cfg;
	uint64_t now = clock_mono_ns();
	const struct tlsio *tls = ex->client->tls;
	const char *upstream = "";
	double up_ms = 0;

	count_response(w, ex);
	if (!w->access_log_on)
		return STAGE_CONTINUE;
	iso_time(when, sizeof(when));
	json_escape(method, sizeof(method), ex->method_name);
	json_escape(target, sizeof(target), ex->target);
	json_escape(route, sizeof(route), ex->route >= 0 ? cfg->routes[ex->route].name : "");
	json_escape(consumer, sizeof(consumer), ex->consumer);
	if (ex->t_up_start_ns) {
		upstream = ex->inst.text;
		uint64_t end = ex->t_up_end_ns ? ex->t_up_end_ns : now;
		up_ms = (double)(end - ex->t_up_start_ns) / 1e6;
	}
	int n = snprintf(line, sizeof(line),
		"{\"time\":\"%s\",\"request_id\":\"%s\",\"client\":\"%s\",\"method\":\"%s\","
		"\"path\":\"%s\",\"status\":%u,\"bytes_in\":%llu,\"bytes_out\":%llu,"
		"\"route\":\"%s\",\"upstream\":\"%s\",\"attempts\":%u,\"duration_ms\":%.3f,"
		"\"upstream_ms\":%.3f,\"tls\":\"%s\",\"tls_resumed\":%s,\"consumer\":\"%s\"}\n",
		when, ex->request_id, ex->client_ip, method, target, ex->status,
		(unsigned long long)ex->bytes_in, (unsigned long long)ex->bytes_out, route, upstream,
		(unsigned)ex->attempts, ex->t_start_ns ? (double)(now - ex->t_start_ns) / 1e6 : 0.0, up_ms,
		tls ? tlsio_version(tls) : "", tls && tlsio_resumed(tls) ? "true" : "false", consumer);
	if (n > 0 && (size_t)n < sizeof(line))
		appender_push(&w->access_log, line, (size_t)n);
	return STAGE_CONTINUE;
}
