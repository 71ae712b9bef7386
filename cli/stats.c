/* gatewayctl stats and stats --watch.
 *
 * The master passes a read-only fd of the segment (["segment"]); we map it
 * with PROT_READ, so nothing here can disturb the workers, and sum the
 * per-worker counters with shm/workers.h's readers. Totals are sums of
 * relaxed loads: a frame may be a few increments behind, never torn in a
 * way that matters for display.
 *
 * --watch waits in sigtimedwait() with SIGINT and SIGTERM blocked, so a
 * Ctrl-C ends the wait at once and the loop stops cleanly (exit 0) with
 * no signal handler. Deadlines are absolute on CLOCK_MONOTONIC, so the
 * frames do not drift by the time printing takes. */
#include "cli/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/print.h"
#include "cli/table.h"
#include "lib/clock.h"
#include "shm/segment.h"
#include "shm/tables.h"

#define NS_PER_MS	UINT64_C(1000000)
#define CLEAR_SCREEN	"\033[H\033[2J"

void stats_sample(const struct wtab *w, uint64_t now_ns, struct stats_sample *out)
{
	out->at_ns = now_ns;
	for (unsigned c = 0; c < WTAB_N_COUNTERS; c++)
		out->counters[c] = wtab_counter_total(w, (enum wtab_counter)c);
	for (unsigned g = 0; g < WTAB_N_GAUGES; g++)
		out->gauges[g] = wtab_gauge_sum(w, (enum wtab_gauge)g);
}

/* The per-second rate of counter <c> between <prev> and <cur>. Totals
 * never go down; a racing reader could see them do so, hence the guard. */
static double rate(const struct stats_sample *cur, const struct stats_sample *prev, unsigned c)
{
	uint64_t dt = cur->at_ns - prev->at_ns;

	if (!dt || cur->counters[c] < prev->counters[c])
		return 0;
	return (double)(cur->counters[c] - prev->counters[c]) * 1e9 / (double)dt;
}

static int print_counters(const struct stats_sample *cur, const struct stats_sample *prev,
			  bool watch, FILE *out)
{
	static const struct tbl_col cols[] = {
		{ "COUNTER", TBL_LEFT, false },
		{ "TOTAL", TBL_RIGHT, false },
		{ "PER_S", TBL_RIGHT, true },
	};
	struct tbl *t = tbl_new(cols, 3);
	int ret;

	if (!t)
		return -ENOMEM;
	for (unsigned c = 0; c < WTAB_N_COUNTERS; c++) {
		tbl_row(t);
		tbl_cell(t, wtab_counter_name((enum wtab_counter)c));
		tbl_cellf(t, "%" PRIu64, cur->counters[c]);
		if (prev)
			tbl_cellf(t, "%.1f", rate(cur, prev, c));
		else
			tbl_cell(t, watch ? "-" : "");
	}
	ret = tbl_print(t, out, "");
	tbl_free(t);
	return ret;
}

static int print_gauges(const struct stats_sample *cur, FILE *out)
{
	static const struct tbl_col cols[] = {
		{ "GAUGE", TBL_LEFT, false },
		{ "VALUE", TBL_RIGHT, false },
	};
	struct tbl *t = tbl_new(cols, 2);
	int ret;

	if (!t)
		return -ENOMEM;
	for (unsigned g = 0; g < WTAB_N_GAUGES; g++) {
		tbl_row(t);
		tbl_cell(t, wtab_gauge_name((enum wtab_gauge)g));
		tbl_cellf(t, "%" PRIu64, cur->gauges[g]);
	}
	ret = tbl_print(t, out, "");
	tbl_free(t);
	return ret;
}

int stats_print_table(const struct stats_sample *cur, const struct stats_sample *prev,
		      bool watch, FILE *out)
{
	int ret = print_counters(cur, prev, watch, out);

	if (ret < 0)
		return ret;
	fputc('\n', out);
	return print_gauges(cur, out);
}

/* An object of <n> names (from <name>) to values. NULL on ENOMEM. */
static json_t *json_totals(const uint64_t *v, unsigned n, const char *(*name)(unsigned))
{
	json_t *o = json_object();

	for (unsigned i = 0; o && i < n; i++) {
		if (json_object_set_new(o, name(i), json_integer((json_int_t)v[i])) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

static const char *counter_name(unsigned c)
{
	return wtab_counter_name((enum wtab_counter)c);
}

static const char *gauge_name(unsigned g)
{
	return wtab_gauge_name((enum wtab_gauge)g);
}

int stats_print_json(const struct stats_sample *cur, FILE *out)
{
	json_t *o = json_object();
	int ret = -ENOMEM;

	if (!o || json_object_set_new(o, "counters", json_totals(cur->counters, WTAB_N_COUNTERS,
								   counter_name)) < 0 ||
	    json_object_set_new(o, "gauges", json_totals(cur->gauges, WTAB_N_GAUGES,
							 gauge_name)) < 0)
		goto out_free;
	if (json_dumpf(o, out, JSON_COMPACT) < 0 || fputc('\n', out) == EOF)
		ret = -EIO;
	else
		ret = 0;
out_free:
	json_decref(o);
	return ret;
}

/* "every 0.5s, 14:03:22": which frame this is, for people. */
static void watch_title(uint32_t ms, FILE *out)
{
	char interval[32], hms[16] = "";
	time_t now = time(NULL);
	struct tm tm;

	print_ms(interval, sizeof(interval), ms);
	if (localtime_r(&now, &tm))
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	fprintf(out, "every %s, %s\n\n", interval, hms);
}

/* One frame: JSON line, or tables (a cleared screen on a terminal, else
 * frames separated by a blank line). */
static int stats_frame(const struct cli_request *req, const struct stats_sample *cur,
		       const struct stats_sample *prev, bool tty, unsigned frame)
{
	int ret;

	if (req->json) {
		ret = stats_print_json(cur, stdout);
	} else {
		if (req->watch_ms && tty)
			fputs(CLEAR_SCREEN, stdout);
		else if (frame)
			fputc('\n', stdout);
		if (req->watch_ms)
			watch_title(req->watch_ms, stdout);
		ret = stats_print_table(cur, prev, req->watch_ms != 0, stdout);
	}
	if (fflush(stdout) == EOF && !ret)
		ret = -EIO;
	return ret;
}

/* Sleep until monotonic <deadline_ns>. Returns true when SIGINT or
 * SIGTERM (blocked by the caller) arrived instead. */
static bool wait_until(const sigset_t *sigs, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = clock_mono_ns();
		struct timespec ts;

		if (now >= deadline_ns)
			return false;
		ts.tv_sec = (time_t)((deadline_ns - now) / 1000000000u);
		ts.tv_nsec = (long)((deadline_ns - now) % 1000000000u);
		if (sigtimedwait(sigs, NULL, &ts) >= 0)
			return true;
		if (errno != EINTR && errno != EAGAIN)
			return true;
	}
}

static int stats_loop(const struct cli_request *req, const struct wtab *w)
{
	struct stats_sample s[2];
	bool tty = isatty(STDOUT_FILENO);
	uint64_t next = clock_mono_ns();
	sigset_t sigs;
	unsigned frame = 0;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	for (;;) {
		struct stats_sample *cur = &s[frame % 2], *prev = frame ? &s[(frame + 1) % 2] : NULL;

		stats_sample(w, clock_mono_ns(), cur);
		if (stats_frame(req, cur, prev, tty, frame) < 0) {
			fprintf(stderr, "gatewayctl: writing the statistics failed\n");
			return CLI_EXIT_FAILED;
		}
		frame++;
		if (!req->watch_ms || (req->count && frame >= req->count))
			return CLI_EXIT_OK;
		next += req->watch_ms * NS_PER_MS;
		if (wait_until(&sigs, next))
			return CLI_EXIT_OK;
	}
}

/* Map the fd (taken over) and attach; prints why on failure. */
static int stats_map(int fd, struct shm_segment *seg, struct shm_tables *t)
{
	int ret = shm_map_fd(seg, fd, false);

	if (ret == 0) {
		ret = shm_tables_attach(t, seg, -1);
		if (ret < 0)
			shm_unmap(seg);
	}
	if (ret == -EPROTO)
		fprintf(stderr, "gatewayctl: shared segment layout mismatch (gatewayd and "
			"gatewayctl are different versions)\n");
	else if (ret < 0)
		fprintf(stderr, "gatewayctl: mapping the shared segment failed: %s\n",
			strerror(-ret));
	return ret < 0 ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

int stats_run(const struct cli_request *req)
{
	struct shm_segment seg;
	struct shm_tables t;
	struct cli_answer ans;
	int ret = client_call(req, &ans);

	if (ret != CLI_EXIT_OK)
		goto out_free_ans;
	ret = client_status(ans.json);
	if (ret != CLI_EXIT_OK) {
		if (req->json)
			printf("%s\n", ans.raw);
		else
			print_failure(ans.json, stderr);
		goto out_free_ans;
	}
	if (ans.fd < 0) {
		fprintf(stderr, "gatewayctl: gatewayd sent no descriptor for the segment\n");
		ret = CLI_EXIT_FAILED;
		goto out_free_ans;
	}
	ret = stats_map(ans.fd, &seg, &t);
	ans.fd = -1;		/* shm_map_fd() took it over, even on failure */
	if (ret != CLI_EXIT_OK)
		goto out_free_ans;
	ret = stats_loop(req, &t.workers);
	shm_unmap(&seg);
out_free_ans:
	client_answer_free(&ans);
	return ret;
}
