/* What gwbench prints: a banner and wrk-like results for people, one JSON
 * object for tools (--json; its schema is a contract, see
 * tests/e2e/test_gwbench.py), and a progress line per second on a terminal.
 * Latencies are recorded in ns and printed in µs. */
#include "bench/gwbench/gwbench.h"

#include <stdio.h>

#include "lib/json.h"

static const struct { const char *name; double pct; } pcts[] = {
	{ "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p99.9", 99.9 }, { "p99.99", 99.99 },
};

#define N_PCTS (sizeof(pcts) / sizeof(pcts[0]))

/* <us> with a unit that keeps 3 or 4 significant digits. */
static void fmt_us(char *dst, size_t cap, double us)
{
	if (us < 1000)
		snprintf(dst, cap, "%.2fus", us);
	else if (us < 1e6)
		snprintf(dst, cap, "%.2fms", us / 1e3);
	else
		snprintf(dst, cap, "%.2fs", us / 1e6);
}

static void fmt_bytes(char *dst, size_t cap, double b)
{
	static const char *units[] = { "B", "KB", "MB", "GB", "TB" };
	unsigned u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(dst, cap, "%.2f%s", b, units[u]);
}

void gwb_report_banner(const struct gwb_plan *p)
{
	const struct gwb_args *a = p->args;
	char d[32];

	if (a->requests)
		printf("Running %llu requests @ %s\n", (unsigned long long)a->requests,
		       p->targets[0].text);
	else {
		fmt_us(d, sizeof(d), (double)a->duration_ns / 1e3);
		printf("Running %s test @ %s\n", d, p->targets[0].text);
	}
	printf("  %u thread%s and %u connection%s, ", a->threads, a->threads == 1 ? "" : "s",
	       a->connections, a->connections == 1 ? "" : "s");
	if (a->rate)
		printf("open loop at %.0f req/s", a->rate);
	else
		printf("closed loop");
	printf(", pipeline %u, %u URL%s%s\n", a->pipeline, p->n_targets,
	       p->n_targets == 1 ? "" : "s", a->keepalive ? "" : ", no keep-alive");
	fflush(stdout);
}

static void human_latency(const struct hist *h)
{
	char v[32];

	printf("  Latency  %10s%10s", "min", "mean");
	for (size_t i = 0; i < N_PCTS; i++)
		printf("%10s", pcts[i].name);
	printf("%10s\n           ", "max");
	fmt_us(v, sizeof(v), (double)(h->count ? h->min : 0) / 1e3);
	printf("%10s", v);
	fmt_us(v, sizeof(v), hist_mean(h) / 1e3);
	printf("%10s", v);
	for (size_t i = 0; i < N_PCTS; i++) {
		fmt_us(v, sizeof(v), (double)hist_percentile(h, pcts[i].pct) / 1e3);
		printf("%10s", v);
	}
	fmt_us(v, sizeof(v), (double)h->max / 1e3);
	printf("%10s\n", v);
}

static void human_errors(const struct gwb_stats *s)
{
	uint64_t total = gwb_errors(s);

	if (!total) {
		printf("  Errors: none\n");
		return;
	}
	printf("  Errors: %llu (connect %llu, timeout %llu, read %llu, parse %llu, status %llu)\n",
	       (unsigned long long)total, (unsigned long long)s->err_connect,
	       (unsigned long long)s->err_timeout, (unsigned long long)s->err_read,
	       (unsigned long long)s->err_parse, (unsigned long long)s->err_status);
	for (unsigned i = 0; i < GWB_STATUS_CODES; i++)
		if (s->status[i])
			printf("    status %03u: %llu\n", i, (unsigned long long)s->status[i]);
}

void gwb_report_human(const struct gwb_result *r)
{
	const struct gwb_stats *s = r->st;
	double d = r->duration_s > 0 ? r->duration_s : 1e-9;
	char b[32];

	human_latency(&s->latency);
	fmt_bytes(b, sizeof(b), (double)s->bytes);
	printf("  %llu requests in %.2fs, %s read\n", (unsigned long long)s->requests,
	       r->duration_s, b);
	human_errors(s);
	printf("Requests/sec: %10.2f\n", (double)s->requests / d);
	fmt_bytes(b, sizeof(b), (double)s->bytes / d);
	printf("Transfer/sec: %10s\n", b);
	fflush(stdout);
}

static void json_latency(const struct hist *h)
{
	printf("\"latency_us\": {\"min\": %.3f, \"mean\": %.3f",
	       (double)(h->count ? h->min : 0) / 1e3, hist_mean(h) / 1e3);
	for (size_t i = 0; i < N_PCTS; i++)
		printf(", \"%s\": %.3f", pcts[i].name, (double)hist_percentile(h, pcts[i].pct) / 1e3);
	printf(", \"max\": %.3f}", (double)h->max / 1e3);
}

static void json_errors(const struct gwb_stats *s)
{
	const char *sep = "";

	printf("\"errors\": {\"connect\": %llu, \"timeout\": %llu, \"read\": %llu, "
	       "\"parse\": %llu, \"status\": {", (unsigned long long)s->err_connect,
	       (unsigned long long)s->err_timeout, (unsigned long long)s->err_read,
	       (unsigned long long)s->err_parse);
	for (unsigned i = 0; i < GWB_STATUS_CODES; i++) {
		if (!s->status[i])
			continue;
		printf("%s\"%03u\": %llu", sep, i, (unsigned long long)s->status[i]);
		sep = ", ";
	}
	printf("}, \"total\": %llu}", (unsigned long long)gwb_errors(s));
}

void gwb_report_json(const struct gwb_result *r)
{
	const struct gwb_plan *p = r->plan;
	const struct gwb_args *a = p->args;
	const struct gwb_stats *s = r->st;
	double d = r->duration_s > 0 ? r->duration_s : 1e-9;
	char url[4096];

	json_escape(url, sizeof(url), p->targets[0].text);
	printf("{\"url\": \"%s\", \"urls\": %u, \"connections\": %u, \"threads\": %u, ",
	       url, p->n_targets, a->connections, a->threads);
	if (a->rate)
		printf("\"rate\": %.3f, ", a->rate);
	else
		printf("\"rate\": null, ");
	printf("\"duration_s\": %.6f, \"requests\": %llu, \"rps\": %.3f, \"bytes\": %llu, "
	       "\"bytes_per_s\": %.3f, ", r->duration_s, (unsigned long long)s->requests,
	       (double)s->requests / d, (unsigned long long)s->bytes, (double)s->bytes / d);
	json_errors(s);
	printf(", ");
	json_latency(&s->latency);
	printf("}\n");
	fflush(stdout);
}

void gwb_report_progress(double elapsed_s, uint64_t requests, uint64_t last_requests,
			 double interval_s, uint64_t errors)
{
	fprintf(stderr, "gwbench: %6.1fs %12llu requests %10.0f req/s %8llu errors\n",
		elapsed_s, (unsigned long long)requests,
		(double)(requests - last_requests) / interval_s, (unsigned long long)errors);
}
