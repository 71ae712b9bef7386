/* Unit test for the policy keys through conf_load(): [gateway] shm_size,
 * control, admin_listen and admin_token; [service] breaker, breaker_on,
 * retry, retry_non_idempotent and health; [route] rate_limit, retry and
 * retry_non_idempotent (conf/policy.c, health.c, rate_limit.c and their
 * callers). Every default, good values, every message with its line, the
 * canonical rate_limit spec, and how a route's retry replaces its
 * service's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "tests/unit/check.h"
#include "tests/unit/conf/load_helpers.h"

#define ALL_KINDS (GW_FAIL_CONNECT | GW_FAIL_TIMEOUT | GW_FAIL_RESET | GW_FAIL_5XX)

/* Load <ini>, which must be clean; NULL (after a failed check) if not. */
static struct loaded load_ok(const char *ini)
{
	struct loaded l = load(ini);

	if (l.rc != 0 || *l.diag)
		fprintf(stderr, "--- for:\n%s--- got %d:\n%s", ini, l.rc, l.diag);
	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	return l;
}

/* The codes 500..599 <set> holds on its own (not through 5xx), as a
 * comma list, for compact checks. */
static const char *codes(const struct gw_fail_set *set)
{
	static char buf[512];
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned c = 500; c <= 599; c++) {
		if ((set->status[(c - 500) / 64] >> ((c - 500) % 64)) & 1u)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%u", n ? "," : "", c);
	}
	return buf;
}

static void test_defaults(void)
{
	struct loaded l = load_ok(GW SVC RT);
	const struct gw_config *c = l.cfg;
	const struct gw_service_conf *s;
	const struct gw_route_conf *r;

	if (!c)
		return;
	CHECK_INT(c->shm_size, 64 << 20);
	CHECK_STR(c->control_path, "/run/gatewayd.sock");
	CHECK(c->admin_enabled);
	CHECK_STR(c->admin_addr.text, "127.0.0.1:9901");
	CHECK(c->admin_token == NULL);

	s = &c->services[0];
	CHECK_INT(s->breaker.mode, GW_BRK_OFF);
	CHECK_INT(s->breaker.line, 0);
	CHECK_INT(s->breaker.on_line, 0);
	CHECK_INT(s->breaker.min_requests, 20);
	CHECK_INT(s->breaker.window_ms, 10000);
	CHECK_INT(s->breaker.open_ms, 30000);
	CHECK_INT(s->breaker.max_open_ms, 300000);
	CHECK_INT(s->breaker.probes, 1);
	CHECK_INT(s->breaker.on.kinds, ALL_KINDS);
	CHECK_STR(codes(&s->breaker.on), "");

	CHECK_INT(s->retry.attempts, 0);
	CHECK_INT(s->retry.line, 0);
	CHECK_INT(s->retry.on.kinds, GW_FAIL_CONNECT | GW_FAIL_RESET | GW_FAIL_TIMEOUT);
	CHECK_STR(codes(&s->retry.on), "502,503,504");
	CHECK(gw_fail_set_has(&s->retry.on, 0, 503));
	CHECK(!gw_fail_set_has(&s->retry.on, 0, 500));
	CHECK(!gw_fail_set_has(&s->retry.on, 0, 200));
	CHECK_INT(s->retry.backoff_min_ms, 25);
	CHECK_INT(s->retry.backoff_max_ms, 250);
	CHECK_INT(s->retry.budget_pct, 20);
	CHECK_INT(s->retry.min_concurrency, 3);
	CHECK(!s->retry.non_idempotent);
	CHECK_INT(s->retry.non_idempotent_line, 0);

	CHECK(s->health.path == NULL);
	CHECK_INT(s->health.interval_ms, 2000);
	CHECK_INT(s->health.timeout_ms, 1000);
	CHECK_INT(s->health.rise, 2);
	CHECK_INT(s->health.fall, 3);
	CHECK_INT(s->health.line, 0);

	r = &c->routes[0];
	CHECK_INT(r->n_rate_limits, 0);
	CHECK(r->rate_limits == NULL);
	CHECK_INT(r->retry.line, 0);
	CHECK_INT(r->retry.non_idempotent_line, 0);
	loaded_free(&l);
}

static void test_gateway(void)
{
	struct loaded l = load_ok("[gateway]\n"
				  "listen = 127.0.0.1:8080\n"
				  "shm_size = 16M\n"
				  "control = run/gw.sock\n"
				  "admin_listen = [::1]:0\n"
				  "admin_token = abcdefghijklmnop\n" SVC RT);

	if (l.cfg) {
		CHECK_INT(l.cfg->shm_size, 16 << 20);
		CHECK_STR(l.cfg->control_path, "run/gw.sock");
		CHECK(l.cfg->admin_enabled);
		CHECK_STR(l.cfg->admin_addr.text, "[::1]:0");
		CHECK_STR(l.cfg->admin_token, "abcdefghijklmnop");
	}
	loaded_free(&l);

	l = load_ok(GW "shm_size = 4g\ncontrol = off\nadmin_listen = off\n" SVC RT);
	if (l.cfg) {
		CHECK_INT(l.cfg->shm_size, 4ull << 30);
		CHECK(l.cfg->control_path == NULL);
		CHECK(!l.cfg->admin_enabled);
	}
	loaded_free(&l);

	/* The longest path sun_path takes here: 106 bytes. */
	char ini[512], path[107];

	memset(path, 'p', 106);
	path[0] = '/';
	path[106] = '\0';
	snprintf(ini, sizeof(ini), GW "control = %s\n" SVC RT, path);
	l = load_ok(ini);
	if (l.cfg)
		CHECK_STR(l.cfg->control_path, path);
	loaded_free(&l);

	/* Loopback in any spelling, or a token (before or after), is quiet. */
	static const char *const quiet[] = {
		GW "admin_listen = 127.0.0.2:9901\n" SVC RT,
		GW "admin_listen = [::ffff:127.0.0.1]:9901\n" SVC RT,
		GW "admin_listen = 0.0.0.0:9901\nadmin_token = 0123456789abcdef~!\n" SVC RT,
		GW "admin_token = 0123456789abcdef\nadmin_listen = *:9901\n" SVC RT,
		GW "listen = 127.0.0.1:0\nadmin_listen = 127.0.0.1:0\n" SVC RT,
		GW "listen = 0.0.0.0:9901\nadmin_listen = off\n" SVC RT,
		GW "admin_listen = [::1]:8080\n" SVC RT,
	};
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
		l = load_ok(quiet[i]);
		loaded_free(&l);
	}

	l = load(GW "admin_listen = 10.1.2.3:9901\n" SVC RT);
	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "x.ini:3: warning: admin_listen on a non-loopback address: protect it "
			  "with admin_token and a firewall\n");
	loaded_free(&l);
	l = load(GW "admin_listen = [::]:9901\n" SVC RT);
	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "x.ini:3: warning: admin_listen on a non-loopback address: protect it "
			  "with admin_token and a firewall\n");
	loaded_free(&l);
}

static void test_breaker(void)
{
	struct loaded l = load_ok(GW
		"[service f]\n"						/* 3 */
		"instance = 127.0.0.1:9001\n"
		"breaker = failures=5 window=10s open=30s probes=1\n"	/* 5 */
		"[service g]\n"
		"instance = 127.0.0.1:9001\n"
		"breaker_on = 503, 504,connect ,RESET\n"		/* 8 */
		"breaker = probes=63 max_open=1h ratio=50% min_requests=1023 window=250ms open=10m\n"
		"[service h]\n"
		"instance = 127.0.0.1:9001\n"
		"breaker = ratio=100 open=10m\n"			/* 12 */
		"breaker_on = 5xx,500\n"
		"[service i]\n"
		"instance = 127.0.0.1:9001\n"
		"breaker = failures=1023 max_open=30s\n"		/* 16 */
		"[route r]\npath = /\nservice = f\n");
	const struct gw_breaker_conf *b;

	if (!l.cfg)
		return;
	b = &l.cfg->services[0].breaker;
	CHECK_INT(b->mode, GW_BRK_FAILURES);
	CHECK_INT(b->failures, 5);
	CHECK_INT(b->window_ms, 10000);
	CHECK_INT(b->open_ms, 30000);
	CHECK_INT(b->max_open_ms, 300000);
	CHECK_INT(b->probes, 1);
	CHECK_INT(b->on.kinds, ALL_KINDS);
	CHECK_INT(b->line, 5);
	CHECK_INT(b->on_line, 0);

	b = &l.cfg->services[1].breaker;
	CHECK_INT(b->mode, GW_BRK_RATIO);
	CHECK_INT(b->ratio_pct, 50);
	CHECK_INT(b->min_requests, 1023);
	CHECK_INT(b->window_ms, 250);
	CHECK_INT(b->open_ms, 600000);
	CHECK_INT(b->max_open_ms, 3600000);
	CHECK_INT(b->probes, 63);
	CHECK_INT(b->on.kinds, GW_FAIL_CONNECT | GW_FAIL_RESET);
	CHECK_STR(codes(&b->on), "503,504");
	CHECK(gw_fail_set_has(&b->on, GW_FAIL_RESET, 0));
	CHECK(!gw_fail_set_has(&b->on, GW_FAIL_TIMEOUT, 0));
	CHECK(gw_fail_set_has(&b->on, 0, 504));
	CHECK(!gw_fail_set_has(&b->on, 0, 502));
	CHECK_INT(b->on_line, 8);
	CHECK_INT(b->line, 9);

	b = &l.cfg->services[2].breaker;
	CHECK_INT(b->mode, GW_BRK_RATIO);
	CHECK_INT(b->ratio_pct, 100);
	CHECK_INT(b->min_requests, 20);
	CHECK_INT(b->max_open_ms, 600000);	/* max(5m, open) */
	CHECK_INT(b->on.kinds, GW_FAIL_5XX);
	CHECK(gw_fail_set_has(&b->on, 0, 599));

	b = &l.cfg->services[3].breaker;
	CHECK_INT(b->failures, 1023);
	CHECK_INT(b->max_open_ms, 30000);	/* == open is fine */
	loaded_free(&l);

	/* The longest periods shared memory takes. */
	l = load_ok(GW SVC "breaker = failures=1 window=1073741824ms open=1073741824ms\n" RT);
	if (l.cfg) {
		CHECK_INT(l.cfg->services[0].breaker.window_ms, GW_BRK_PERIOD_MAX_MS);
		CHECK_INT(l.cfg->services[0].breaker.max_open_ms, GW_BRK_PERIOD_MAX_MS);
	}
	loaded_free(&l);

	/* off: no breaker, so breaker_on is pointless wherever it stands. */
	l = load(GW SVC "breaker_on = connect\n\nbreaker = off\n" RT
		 "[service b]\ninstance = 127.0.0.1:9001\nbreaker_on = timeout\n");
	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "x.ini:5: warning: breaker_on has no effect without breaker\n"
			  "x.ini:13: warning: breaker_on has no effect without breaker\n");
	if (l.cfg) {
		CHECK_INT(l.cfg->services[0].breaker.mode, GW_BRK_OFF);
		CHECK_INT(l.cfg->services[0].breaker.line, 7);
		CHECK_INT(l.cfg->services[0].breaker.on.kinds, GW_FAIL_CONNECT);
	}
	loaded_free(&l);
}

static void test_retry(void)
{
	struct loaded l = load_ok(GW
		"[service s]\n"
		"instance = 127.0.0.1:9001\n"				/* one instance: fine */
		"retry_non_idempotent = yes\n"				/* 5 */
		"retry = 10 on=connect,timeout,502,503,504 backoff=10ms..1s budget=100% "
		"min_concurrency=1000\n"				/* 6 */
		"[service t]\n"
		"instance = 127.0.0.1:9001\n"
		"retry = 2 backoff=100ms budget=1 min_concurrency=0\n"	/* 9 */
		"retry_non_idempotent = no\n"
		"[service u]\n"
		"instance = 127.0.0.1:9001\n"
		"retry = off\n"						/* 13 */
		"[service v]\n"
		"instance = 127.0.0.1:9001\n"
		"retry = 0 on=5xx\n"					/* 16 */
		"[route r]\npath = /\nservice = s\n");
	const struct gw_retry_conf *r;

	if (!l.cfg)
		return;
	r = &l.cfg->services[0].retry;
	CHECK_INT(r->attempts, 10);
	CHECK_INT(r->on.kinds, GW_FAIL_CONNECT | GW_FAIL_TIMEOUT);
	CHECK_STR(codes(&r->on), "502,503,504");
	CHECK_INT(r->backoff_min_ms, 10);
	CHECK_INT(r->backoff_max_ms, 1000);
	CHECK_INT(r->budget_pct, 100);
	CHECK_INT(r->min_concurrency, 1000);
	CHECK(r->non_idempotent);		/* kept though set before retry */
	CHECK_INT(r->non_idempotent_line, 5);
	CHECK_INT(r->line, 6);

	r = &l.cfg->services[1].retry;
	CHECK_INT(r->attempts, 2);
	CHECK_INT(r->on.kinds, GW_FAIL_CONNECT | GW_FAIL_RESET | GW_FAIL_TIMEOUT);
	CHECK_INT(r->backoff_min_ms, 100);
	CHECK_INT(r->backoff_max_ms, 100);
	CHECK_INT(r->budget_pct, 1);
	CHECK_INT(r->min_concurrency, 0);
	CHECK(!r->non_idempotent);
	CHECK_INT(r->non_idempotent_line, 10);

	r = &l.cfg->services[2].retry;
	CHECK_INT(r->attempts, 0);
	CHECK_INT(r->line, 13);
	CHECK_INT(r->budget_pct, 20);

	r = &l.cfg->services[3].retry;
	CHECK_INT(r->attempts, 0);
	CHECK_INT(r->on.kinds, GW_FAIL_5XX);
	CHECK_STR(codes(&r->on), "");
	loaded_free(&l);
}

/* A route's retry replaces the service's whole policy; a route with only
 * retry_non_idempotent takes the service's and changes just that. */
static void test_route_retry(void)
{
	struct loaded l = load_ok(GW
		"[service s]\n"
		"instance = 127.0.0.1:9001\n"
		"instance = 127.0.0.1:9002\n"
		"retry = 3 on=reset backoff=1s..2s budget=50%\n"	/* 6 */
		"retry_non_idempotent = yes\n"
		"[route inherit]\n"					/* 8 */
		"path = /a\n"
		"service = s\n"
		"[route own]\n"						/* 11 */
		"path = /b\n"
		"service = s\n"
		"retry = 1\n"						/* 14 */
		"[route idem]\n"					/* 15 */
		"path = /c\n"
		"retry_non_idempotent = no\n"				/* 17 */
		"service = s\n"
		"[route both]\n"					/* 19 */
		"path = /d\n"
		"service = s\n"
		"retry_non_idempotent = yes\n"				/* 22 */
		"retry = off\n");					/* 23 */
	const struct gw_route_conf *r;

	if (!l.cfg)
		return;
	r = &l.cfg->routes[0];
	CHECK_INT(r->retry.line, 0);			/* the service's applies */

	r = &l.cfg->routes[1];
	CHECK_INT(r->retry.line, 14);
	CHECK_INT(r->retry.attempts, 1);
	CHECK_INT(r->retry.on.kinds, GW_FAIL_CONNECT | GW_FAIL_RESET | GW_FAIL_TIMEOUT);
	CHECK_STR(codes(&r->retry.on), "502,503,504");
	CHECK_INT(r->retry.backoff_min_ms, 25);
	CHECK_INT(r->retry.budget_pct, 20);
	CHECK(!r->retry.non_idempotent);		/* not the service's yes */

	r = &l.cfg->routes[2];
	CHECK_INT(r->retry.line, 17);
	CHECK_INT(r->retry.non_idempotent_line, 17);
	CHECK_INT(r->retry.attempts, 3);
	CHECK_INT(r->retry.on.kinds, GW_FAIL_RESET);
	CHECK_STR(codes(&r->retry.on), "");
	CHECK_INT(r->retry.backoff_min_ms, 1000);
	CHECK_INT(r->retry.backoff_max_ms, 2000);
	CHECK_INT(r->retry.budget_pct, 50);
	CHECK(!r->retry.non_idempotent);

	r = &l.cfg->routes[3];
	CHECK_INT(r->retry.line, 23);
	CHECK_INT(r->retry.attempts, 0);
	CHECK(r->retry.non_idempotent);
	CHECK_INT(r->retry.non_idempotent_line, 22);
	loaded_free(&l);
}

static void test_health(void)
{
	struct loaded l = load_ok(GW
		"[service s]\n"
		"instance = 127.0.0.1:9001\n"
		"health = /healthz?full=1 interval=100ms timeout=100ms rise=100 fall=1\n"
		"[service t]\n"
		"instance = 127.0.0.1:9001\n"
		"health = /\n"
		"[service u]\n"
		"instance = 127.0.0.1:9001\n"
		"health = off\n"
		"[route r]\npath = /\nservice = s\n");
	const struct gw_health_conf *h;

	if (!l.cfg)
		return;
	h = &l.cfg->services[0].health;
	CHECK_STR(h->path, "/healthz?full=1");
	CHECK_INT(h->interval_ms, 100);
	CHECK_INT(h->timeout_ms, 100);
	CHECK_INT(h->rise, 100);
	CHECK_INT(h->fall, 1);
	CHECK_INT(h->line, 5);

	h = &l.cfg->services[1].health;
	CHECK_STR(h->path, "/");
	CHECK_INT(h->interval_ms, 2000);
	CHECK_INT(h->timeout_ms, 1000);
	CHECK_INT(h->rise, 2);
	CHECK_INT(h->fall, 3);

	h = &l.cfg->services[2].health;
	CHECK(h->path == NULL);
	CHECK_INT(h->line, 11);
	loaded_free(&l);
}

/* Equivalent lines give one spec, each in a route of its own. */
static void test_rate_limit_specs(void)
{
	static const struct {
		const char *lines[6];
		const char *spec;
	} cases[] = {
		{ { "10/min", "10/60s", "10/1m", "10/minute", "10/60000ms burst=10",
		    "10/m by=ip burst=10" }, "10/60000ms burst=10 by=ip" },
		{ { "5/d", "5/day", "5/1d", "5/24h", "5/1440m", "5/86400" },
		  "5/86400000ms burst=5 by=ip" },
		{ { "1/s", "1/sec", "1/second", "1/1s", "1/1000ms", "1/1" }, "1/1000ms burst=1 by=ip" },
		{ { "100/h burst=20 by=header:X-User", "100/hour by=header:x-user burst=20",
		    "100/60m by=header:X-USER burst=20", "100/3600s burst=20 by=header:x-User",
		    "100/1h burst=20 by=header:X-user", "100/3600000ms by=header:x-user burst=20" },
		  "100/3600000ms burst=20 by=header:x-user" },
		{ { "10/30s by=route", "10/30 by=route", "10/30000ms burst=10 by=route",
		    "10/30s burst=10 by=route", "10/30s by=route burst=10", "10/30s  by=route" },
		  "10/30000ms burst=10 by=route" },
		{ { "1000000/s", "1000000/1s burst=1000000", "1000000/sec", "1000000/1000ms",
		    "1000000/second", "1000000/1" }, "1000000/1000ms burst=1000000 by=ip" },
	};
	char ini[2048];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = snprintf(ini, sizeof(ini), GW SVC);

		for (size_t j = 0; j < 6; j++)
			n += snprintf(ini + n, sizeof(ini) - (size_t)n,
				      "[route r%zu]\npath = /%zu\nservice = a\nrate_limit = %s\n",
				      j, j, cases[i].lines[j]);
		struct loaded l = load_ok(ini);

		for (size_t j = 0; l.cfg && j < 6; j++) {
			const struct gw_route_conf *r = &l.cfg->routes[j];

			CHECK_INT(r->n_rate_limits, 1);
			if (r->n_rate_limits)
				CHECK_STR(r->rate_limits[0].spec, cases[i].spec);
		}
		loaded_free(&l);
	}
}

static void test_rate_limit_fields(void)
{
	struct loaded l = load_ok(GW SVC RT
		"rate_limit = 10/min burst=5 by=ip\n"			/* 8 */
		"rate_limit = 1000/h by=header:X-Api-Key\n"
		"rate_limit = 100/10s burst=1000000 by=route\n"		/* 10 */
		"rate_limit = 10/min burst=6\n"
		"rate_limit = 1/d burst=50\n");			/* 12: 50 days to refill */
	const struct gw_rate_limit_conf *rl;

	if (!l.cfg)
		return;
	CHECK_INT(l.cfg->routes[0].n_rate_limits, 5);
	if (l.cfg->routes[0].n_rate_limits != 5)
		goto out;
	rl = l.cfg->routes[0].rate_limits;
	CHECK_INT(rl[0].count, 10);
	CHECK_INT(rl[0].period_ms, 60000);
	CHECK_INT(rl[0].burst, 5);
	CHECK_INT(rl[0].by, GW_RL_BY_IP);
	CHECK(rl[0].header == NULL);
	CHECK_INT(rl[0].line, 8);
	CHECK_STR(rl[0].spec, "10/60000ms burst=5 by=ip");
	CHECK_INT(rl[1].count, 1000);
	CHECK_INT(rl[1].period_ms, 3600000);
	CHECK_INT(rl[1].burst, 1000);
	CHECK_INT(rl[1].by, GW_RL_BY_HEADER);
	CHECK_STR(rl[1].header, "x-api-key");
	CHECK_STR(rl[1].spec, "1000/3600000ms burst=1000 by=header:x-api-key");
	CHECK_INT(rl[2].by, GW_RL_BY_ROUTE);
	CHECK_INT(rl[2].burst, 1000000);
	CHECK(rl[2].header == NULL);
	CHECK_STR(rl[2].spec, "100/10000ms burst=1000000 by=route");
	CHECK_STR(rl[3].spec, "10/60000ms burst=6 by=ip");
	CHECK_INT(rl[3].line, 11);
	CHECK_STR(rl[4].spec, "1/86400000ms burst=50 by=ip");
out:
	loaded_free(&l);
}

/* Each file and exactly the messages it must produce. */
static const struct {
	const char *ini;
	const char *diag;
} error_cases[] = {
	/* [gateway] */
	{ GW "shm_size = 1M\n" SVC RT,
	  "x.ini:3: 'shm_size' must be 16777216..4294967296 bytes, not 1M\n" },
	{ GW "shm_size = 5G\n" SVC RT,
	  "x.ini:3: 'shm_size' must be 16777216..4294967296 bytes, not 5G\n" },
	{ GW "shm_size = lots\n" SVC RT, "x.ini:3: bad size 'lots' for 'shm_size'\n" },
	{ GW "control =\n" SVC RT, "x.ini:3: empty value for 'control' (want a socket path or off)\n" },
	{ GW "control = /" "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "012345678901234567890123456789012345\n" SVC RT,
	  "x.ini:3: 'control' path is 107 bytes long (max 106 for a Unix socket)\n" },
	{ GW "control = /run/gw\x01.sock\n" SVC RT, "x.ini:3: control character in 'control' path\n" },
	{ GW "admin_listen = 127.0.0.1\n" SVC RT,
	  "x.ini:3: bad address '127.0.0.1' for 'admin_listen' (want IP:PORT, [IPv6]:PORT or "
	  "HOST:PORT)\n" },
	{ GW "admin_listen = 127.0.0.1:8080\n" SVC RT,
	  "x.ini:3: admin_listen 127.0.0.1:8080 clashes with listen 127.0.0.1:8080 (line 2)\n" },
	{ GW "listen = *:9000\nadmin_listen = 127.0.0.1:9000\n" SVC RT,
	  "x.ini:4: admin_listen 127.0.0.1:9000 clashes with listen 0.0.0.0:9000 (line 3)\n" },
	{ GW "listen = *:9901\n" SVC RT,
	  "x.ini:3: listen 0.0.0.0:9901 clashes with the default admin_listen 127.0.0.1:9901 "
	  "(set admin_listen to another address, or off)\n" },
	{ GW "admin_token = 0123456789abcde\n" SVC RT,
	  "x.ini:3: 'admin_token' is 15 characters long (want at least 16)\n" },
	{ GW "admin_token = 01234567 89abcdefgh\n" SVC RT,
	  "x.ini:3: 'admin_token' may only hold printable ASCII without spaces\n" },
	{ GW "admin_token = 0123456789abcdef\xc3\xa9\n" SVC RT,
	  "x.ini:3: 'admin_token' may only hold printable ASCII without spaces\n" },
	{ GW "admin_token =\n" SVC RT, "x.ini:3: 'admin_token' is 0 characters long (want at least 16)\n" },
	{ GW "control = off\ncontrol = /x\n" SVC RT,
	  "x.ini:4: duplicate key 'control' in [gateway] (first at line 3)\n" },
	/* breaker, breaker_on */
	{ GW SVC "breaker = window=10s\n" RT, "x.ini:5: 'breaker' needs failures=N or ratio=P%\n" },
	{ GW SVC "breaker =\n" RT, "x.ini:5: 'breaker' needs failures=N or ratio=P%\n" },
	{ GW SVC "breaker = failures=5 ratio=50%\n" RT,
	  "x.ini:5: 'breaker' takes failures= or ratio=, not both\n" },
	{ GW SVC "breaker = failures=5 min_requests=10\n" RT,
	  "x.ini:5: min_requests= in 'breaker' needs ratio=, not failures=\n" },
	{ GW SVC "breaker = failures=0 window=0 probes=64\n" RT,
	  "x.ini:5: bad value '0' for failures= in 'breaker' (want 1..1023)\n"
	  "x.ini:5: window= in 'breaker' must be more than 0\n"
	  "x.ini:5: bad value '64' for probes= in 'breaker' (want 1..63)\n" },
	{ GW SVC "breaker = failures=1024\n" RT,
	  "x.ini:5: bad value '1024' for failures= in 'breaker' (want 1..1023)\n" },
	{ GW SVC "breaker = ratio=0%\n" RT,
	  "x.ini:5: bad value '0%' for ratio= in 'breaker' (want 1%..100%)\n" },
	{ GW SVC "breaker = ratio=101\n" RT,
	  "x.ini:5: bad value '101' for ratio= in 'breaker' (want 1%..100%)\n" },
	{ GW SVC "breaker = ratio=50%% min_requests=0\n" RT,
	  "x.ini:5: bad value '50%%' for ratio= in 'breaker' (want 1%..100%)\n"
	  "x.ini:5: bad value '0' for min_requests= in 'breaker' (want 1..1023)\n" },
	{ GW SVC "breaker = ratio=5 min_requests=1024\n" RT,
	  "x.ini:5: bad value '1024' for min_requests= in 'breaker' (want 1..1023)\n" },
	{ GW SVC "breaker = failures=5 open=10q\n" RT,
	  "x.ini:5: bad duration '10q' for open= in 'breaker'\n" },
	{ GW SVC "breaker = failures=5 open=0s\n" RT,
	  "x.ini:5: open= in 'breaker' must be more than 0\n" },
	{ GW SVC "breaker = failures=5 probes=0\n" RT,
	  "x.ini:5: bad value '0' for probes= in 'breaker' (want 1..63)\n" },
	{ GW SVC "breaker = failures=5 window=299h\n" RT,
	  "x.ini:5: window= in 'breaker' must be at most 1073741824ms (about 12 days)\n" },
	{ GW SVC "breaker = failures=5 max_open=1073741825ms\n" RT,
	  "x.ini:5: max_open= in 'breaker' must be at most 1073741824ms (about 12 days)\n" },
	{ GW SVC "breaker = ratio=5 open=99999999999999999999s\n" RT,
	  "x.ini:5: bad duration '99999999999999999999s' for open= in 'breaker'\n" },
	{ GW SVC "breaker = failures=5 open=1m max_open=30s\n" RT,
	  "x.ini:5: max_open= in 'breaker' (30000ms) is shorter than open= (60000ms)\n" },
	{ GW SVC "breaker = failures=5 open=10m max_open=5m\n" RT,
	  "x.ini:5: max_open= in 'breaker' (300000ms) is shorter than open= (600000ms)\n" },
	{ GW SVC "breaker = failures=5 windw=1s\n" RT,
	  "x.ini:5: unknown option 'windw=1s' for 'breaker' (want failures=, ratio=, "
	  "min_requests=, window=, open=, max_open=, probes=)\n" },
	{ GW SVC "breaker = failures=5 half_open\n" RT,
	  "x.ini:5: unknown option 'half_open' for 'breaker' (want failures=, ratio=, "
	  "min_requests=, window=, open=, max_open=, probes=)\n" },
	{ GW SVC "breaker = failures=5 failures=6\n" RT,
	  "x.ini:5: option failures= given twice in 'breaker'\n" },
	{ GW SVC "breaker = off failures=5\n" RT, "x.ini:5: 'breaker = off' takes no options\n" },
	{ GW SVC "breaker_on = connect,503,teapot\n" RT,
	  "x.ini:5: bad outcome 'teapot' for 'breaker_on' (want connect, timeout, reset, 5xx or "
	  "a status 500..599)\n" },
	{ GW SVC "breaker_on = 404\n" RT,
	  "x.ini:5: bad outcome '404' for 'breaker_on' (want connect, timeout, reset, 5xx or "
	  "a status 500..599)\n" },
	{ GW SVC "breaker_on = 600\n" RT,
	  "x.ini:5: bad outcome '600' for 'breaker_on' (want connect, timeout, reset, 5xx or "
	  "a status 500..599)\n" },
	{ GW SVC "breaker_on = connect,,5xx\n" RT,
	  "x.ini:5: empty outcome in 'connect,,5xx' for 'breaker_on'\n" },
	{ GW SVC "breaker_on = connect,\n" RT, "x.ini:5: empty outcome in 'connect,' for 'breaker_on'\n" },
	{ GW SVC "breaker_on =\n" RT, "x.ini:5: empty outcome in '' for 'breaker_on'\n" },
	/* retry, retry_non_idempotent */
	{ GW SVC "retry = 11\n" RT, "x.ini:5: bad retry count '11' for 'retry' (want 0..10 or off)\n" },
	{ GW SVC "retry = on=5xx\n" RT,
	  "x.ini:5: bad retry count 'on=5xx' for 'retry' (want 0..10 or off)\n" },
	{ GW SVC "retry =\n" RT,
	  "x.ini:5: empty value for 'retry' (want a count 0..10 and options, or off)\n" },
	{ GW SVC "retry = off budget=5\n" RT, "x.ini:5: 'retry = off' takes no options\n" },
	{ GW SVC "retry = 2 on=connect,418\n" RT,
	  "x.ini:5: bad outcome '418' for on= in 'retry' (want connect, timeout, reset, 5xx or "
	  "a status 500..599)\n" },
	{ GW SVC "retry = 2 on=\n" RT, "x.ini:5: empty outcome in '' for on= in 'retry'\n" },
	{ GW SVC "retry = 2 backoff=0ms..1s\n" RT,
	  "x.ini:5: backoff= in 'retry' must be more than 0\n" },
	{ GW SVC "retry = 2 backoff=0\n" RT, "x.ini:5: backoff= in 'retry' must be more than 0\n" },
	{ GW SVC "retry = 2 backoff=1s..250ms\n" RT,
	  "x.ini:5: bad value '1s..250ms' for backoff= in 'retry' (want MIN..MAX with MAX >= MIN)\n" },
	{ GW SVC "retry = 2 backoff=25ms..\n" RT, "x.ini:5: bad duration '' for backoff= in 'retry'\n" },
	{ GW SVC "retry = 2 backoff=fast..slow\n" RT,
	  "x.ini:5: bad duration 'fast' for backoff= in 'retry'\n"
	  "x.ini:5: bad duration 'slow' for backoff= in 'retry'\n" },
	{ GW SVC "retry = 2 backoff=25ms..1194h\n" RT,
	  "x.ini:5: backoff= in 'retry' must be at most 4294967295ms (about 49 days)\n" },
	{ GW SVC "retry = 2 budget=0%\n" RT,
	  "x.ini:5: bad value '0%' for budget= in 'retry' (want 1%..100%)\n" },
	{ GW SVC "retry = 2 budget=101%\n" RT,
	  "x.ini:5: bad value '101%' for budget= in 'retry' (want 1%..100%)\n" },
	{ GW SVC "retry = 2 min_concurrency=1001\n" RT,
	  "x.ini:5: bad value '1001' for min_concurrency= in 'retry' (want 0..1000)\n" },
	{ GW SVC "retry = 2 tries=3\n" RT,
	  "x.ini:5: unknown option 'tries=3' for 'retry' (want on=, backoff=, budget=, "
	  "min_concurrency=)\n" },
	{ GW SVC "retry = 2 budget=5 budget=6\n" RT, "x.ini:5: option budget= given twice in 'retry'\n" },
	{ GW SVC "retry_non_idempotent = sometimes\n" RT,
	  "x.ini:5: bad value 'sometimes' for 'retry_non_idempotent' (want yes or no)\n" },
	/* health */
	{ GW SVC "health = healthz\n" RT,
	  "x.ini:5: bad path 'healthz' for 'health' (want an origin-form path such as /healthz, "
	  "or off)\n" },
	{ GW SVC "health = /a#b\n" RT,
	  "x.ini:5: bad path '/a#b' for 'health' (want an origin-form path such as /healthz, "
	  "or off)\n" },
	{ GW SVC "health = /caf\xc3\xa9\n" RT,
	  "x.ini:5: bad path '/caf\xc3\xa9' for 'health' (want an origin-form path such as "
	  "/healthz, or off)\n" },
	{ GW SVC "health =\n" RT, "x.ini:5: empty value for 'health' (want /PATH and options, or off)\n" },
	{ GW SVC "health = off interval=1s\n" RT, "x.ini:5: 'health = off' takes no options\n" },
	{ GW SVC "health = /h interval=99ms timeout=50ms\n" RT,
	  "x.ini:5: interval= in 'health' must be at least 100ms\n" },
	{ GW SVC "health = /h interval=500ms\n" RT,
	  "x.ini:5: 'health' timeout (1000ms) must not be longer than its interval (500ms)\n" },
	{ GW SVC "health = /h interval=2s timeout=3s\n" RT,
	  "x.ini:5: 'health' timeout (3000ms) must not be longer than its interval (2000ms)\n" },
	{ GW SVC "health = /h timeout=0\n" RT, "x.ini:5: timeout= in 'health' must be more than 0\n" },
	{ GW SVC "health = /h rise=0 fall=101\n" RT,
	  "x.ini:5: bad value '0' for rise= in 'health' (want 1..100)\n"
	  "x.ini:5: bad value '101' for fall= in 'health' (want 1..100)\n" },
	{ GW SVC "health = /h every=1s\n" RT,
	  "x.ini:5: unknown option 'every=1s' for 'health' (want interval=, timeout=, rise=, "
	  "fall=)\n" },
	/* rate_limit */
	{ GW SVC RT "rate_limit = 10\n",
	  "x.ini:8: bad rate '10' for 'rate_limit' (want COUNT/PERIOD such as 10/min)\n" },
	{ GW SVC RT "rate_limit = /min\n",
	  "x.ini:8: bad rate '/min' for 'rate_limit' (want COUNT/PERIOD such as 10/min)\n" },
	{ GW SVC RT "rate_limit = 10/\n",
	  "x.ini:8: bad rate '10/' for 'rate_limit' (want COUNT/PERIOD such as 10/min)\n" },
	{ GW SVC RT "rate_limit =\n",
	  "x.ini:8: empty value for 'rate_limit' (want COUNT/PERIOD and options)\n" },
	{ GW SVC RT "rate_limit = 0/s\n",
	  "x.ini:8: bad count '0' in rate '0/s' for 'rate_limit' (want 1..1000000)\n" },
	{ GW SVC RT "rate_limit = 1000001/min\n",
	  "x.ini:8: bad count '1000001' in rate '1000001/min' for 'rate_limit' (want 1..1000000)\n" },
	{ GW SVC RT "rate_limit = 99999999999999999999/s\n",
	  "x.ini:8: bad count '99999999999999999999' in rate '99999999999999999999/s' for "
	  "'rate_limit' (want 1..1000000)\n" },
	{ GW SVC RT "rate_limit = 10/fortnight\n",
	  "x.ini:8: bad period 'fortnight' in rate '10/fortnight' for 'rate_limit' (want s, min, "
	  "h, d or a duration such as 30s)\n" },
	{ GW SVC RT "rate_limit = x/y\n",
	  "x.ini:8: bad count 'x' in rate 'x/y' for 'rate_limit' (want 1..1000000)\n"
	  "x.ini:8: bad period 'y' in rate 'x/y' for 'rate_limit' (want s, min, h, d or a "
	  "duration such as 30s)\n" },
	{ GW SVC RT "rate_limit = 10/500ms\n",
	  "x.ini:8: period '500ms' in rate '10/500ms' for 'rate_limit' must be 1s..1d\n" },
	{ GW SVC RT "rate_limit = 10/2d\n",
	  "x.ini:8: period '2d' in rate '10/2d' for 'rate_limit' must be 1s..1d\n" },
	{ GW SVC RT "rate_limit = 10/0d\n",
	  "x.ini:8: period '0d' in rate '10/0d' for 'rate_limit' must be 1s..1d\n" },
	{ GW SVC RT "rate_limit = 10/25h\n",
	  "x.ini:8: period '25h' in rate '10/25h' for 'rate_limit' must be 1s..1d\n" },
	{ GW SVC RT "rate_limit = 10/min burst=0\n",
	  "x.ini:8: bad value '0' for burst= in 'rate_limit' (want 1..1000000)\n" },
	{ GW SVC RT "rate_limit = 10/min burst=1000001\n",
	  "x.ini:8: bad value '1000001' for burst= in 'rate_limit' (want 1..1000000)\n" },
	{ GW SVC RT "rate_limit = 1/d burst=51\n",
	  "x.ini:8: 'rate_limit' burst=51 at 1 per 86400000ms takes over 50 days to refill (want "
	  "burst * period / count <= 4398046511104us)\n" },
	{ GW SVC RT "rate_limit = 10/min by=user\n",
	  "x.ini:8: bad value 'user' for by= in 'rate_limit' (want ip, route, consumer, "
	  "header:NAME or jwt:CLAIM)\n" },
	{ GW SVC RT "rate_limit = 10/min by=jwt:\n",
	  "x.ini:8: bad claim name '' for by= in 'rate_limit'\n" },
	{ GW SVC RT "rate_limit = 10/min by=jwt:sub\n",
	  "x.ini:8: route 'r': rate_limit by=jwt:sub needs auth\n" },
	{ GW SVC RT "rate_limit = 10/min by=header:\n",
	  "x.ini:8: bad header name '' for by= in 'rate_limit'\n" },
	{ GW SVC RT "rate_limit = 10/min by=header:X(User)\n",
	  "x.ini:8: bad header name 'X(User)' for by= in 'rate_limit'\n" },
	{ GW SVC RT "rate_limit = 10/min per=ip\n",
	  "x.ini:8: unknown option 'per=ip' for 'rate_limit' (want burst=, by=)\n" },
	{ GW SVC RT "rate_limit = 10/min by=ip by=route\n",
	  "x.ini:8: option by= given twice in 'rate_limit'\n" },
	{ GW SVC RT "rate_limit = 10/min\nrate_limit = 10/60s burst=10 by=ip\n",
	  "x.ini:9: duplicate rate_limit '10/60000ms burst=10 by=ip' in route 'r' (first at "
	  "line 8)\n" },
	{ GW SVC RT "rate_limit = 5/s by=header:A\nrate_limit = 1/s\nrate_limit = 5/1s by=header:a\n",
	  "x.ini:10: duplicate rate_limit '5/1000ms burst=5 by=header:a' in route 'r' (first at "
	  "line 8)\n" },
	/* route retry */
	{ GW SVC RT "retry = 2 backoff=5s..1s\n",
	  "x.ini:8: bad value '5s..1s' for backoff= in 'retry' (want MIN..MAX with MAX >= MIN)\n" },
	{ GW SVC RT "retry = 1\nretry = 2\n", "x.ini:9: duplicate key 'retry' in [route r] (first at line 8)\n" },
	{ GW SVC RT "retry_non_idempotent = 2\n",
	  "x.ini:8: bad value '2' for 'retry_non_idempotent' (want yes or no)\n" },
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		struct loaded l = load(error_cases[i].ini);

		CHECK_INT(l.rc, -EINVAL);
		CHECK(l.cfg == NULL);
		if (strcmp(l.diag, error_cases[i].diag) != 0)
			fprintf(stderr, "--- for:\n%s--- got:\n%s--- want:\n%s\n", error_cases[i].ini,
				l.diag, error_cases[i].diag);
		CHECK_STR(l.diag, error_cases[i].diag);
		loaded_free(&l);
	}
}

/* Errors on several policy lines of one file, each at its line, then the
 * whole-file checks. */
static void test_many_errors(void)
{
	struct loaded l = load(
		"[gateway]\n"				/* 1 */
		"listen = 127.0.0.1:8080\n"		/* 2 */
		"admin_listen = 0.0.0.0:8080\n"		/* 3 */
		"[service a]\n"				/* 4 */
		"instance = 127.0.0.1:9001\n"		/* 5 */
		"breaker_on = 5xx\n"			/* 6 */
		"retry = 20\n"				/* 7 */
		"health = /h fall=0\n"			/* 8 */
		"[route r]\n"				/* 9 */
		"path = /\n"				/* 10 */
		"service = a\n"				/* 11 */
		"rate_limit = 10/min burst=0\n"		/* 12 */
		"rate_limit = 10/min\n"			/* 13 */
		"rate_limit = 10/1m\n");		/* 14 */

	CHECK_INT(l.rc, -EINVAL);
	CHECK_STR(l.diag,
		  "x.ini:7: bad retry count '20' for 'retry' (want 0..10 or off)\n"
		  "x.ini:8: bad value '0' for fall= in 'health' (want 1..100)\n"
		  "x.ini:12: bad value '0' for burst= in 'rate_limit' (want 1..1000000)\n"
		  "x.ini:14: duplicate rate_limit '10/60000ms burst=10 by=ip' in route 'r' (first at "
		  "line 13)\n"
		  "x.ini:3: admin_listen 0.0.0.0:8080 clashes with listen 127.0.0.1:8080 (line 2)\n"
		  "x.ini:3: warning: admin_listen on a non-loopback address: protect it with "
		  "admin_token and a firewall\n"
		  "x.ini:6: warning: breaker_on has no effect without breaker\n");
	loaded_free(&l);
}

int main(void)
{
	test_defaults();
	test_gateway();
	test_breaker();
	test_retry();
	test_route_retry();
	test_health();
	test_rate_limit_specs();
	test_rate_limit_fields();
	test_errors();
	test_many_errors();
	return CHECK_EXIT();
}
