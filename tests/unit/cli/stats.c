/* Unit test for cli/stats.c: a real segment made by shm_create_master(),
 * two workers' counters and a retired one, then read back through a
 * second, read-only mapping of the same memfd (as gatewayctl maps the fd
 * it receives); totals, rates and both output formats as exact text. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/stats.h"
#include "shm/segment.h"
#include "shm/tables.h"
#include "tests/unit/check.h"

#define S UINT64_C(1000000000)

static char *render_table(const struct stats_sample *cur, const struct stats_sample *prev,
			  bool watch)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CHECK_INT(stats_print_table(cur, prev, watch, f), 0);
	fclose(f);
	return text;
}

/* Master side: two live workers and one reaped, with known counts. */
static void fill(struct shm_tables *t)
{
	int a = wtab_claim_master(&t->workers, 0, 0, 1);
	int b = wtab_claim_master(&t->workers, 1, 1, 1);
	int c = wtab_claim_master(&t->workers, 2, 2, 1);

	CHECK(a >= 0 && b >= 0 && c >= 0);
	wtab_count(wtab_entry(&t->workers, (unsigned)a), WTAB_REQUESTS, 1000);
	wtab_count(wtab_entry(&t->workers, (unsigned)b), WTAB_REQUESTS, 234);
	wtab_count(wtab_entry(&t->workers, (unsigned)c), WTAB_REQUESTS, 6);
	wtab_count(wtab_entry(&t->workers, (unsigned)a), WTAB_BYTES_OUT, 1 << 20);
	wtab_gauge_add(wtab_entry(&t->workers, (unsigned)a), WTAB_CONNECTIONS, 7);
	wtab_gauge_add(wtab_entry(&t->workers, (unsigned)b), WTAB_CONNECTIONS, 5);
	wtab_gauge_add(wtab_entry(&t->workers, (unsigned)c), WTAB_CONNECTIONS, 1);
	/* Reaped: its requests stay in the totals, its gauges leave. */
	wtab_release_master(&t->workers, (unsigned)c);
}

static void test_segment(void)
{
	struct shm_segment master, ro;
	struct shm_tables tm, tr;
	struct stats_sample s1, s2;
	char *text;
	int fd;

	CHECK_INT(shm_create_master(&master, SHM_MIN_SIZE), 0);
	CHECK_INT(shm_tables_attach(&tm, &master, -1), 0);
	fill(&tm);
	fd = fcntl(master.fd, F_DUPFD_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK_INT(shm_map_fd(&ro, fd, false), 0);
	CHECK(!ro.writable);
	CHECK_INT(shm_tables_attach(&tr, &ro, -1), 0);

	stats_sample(&tr.workers, 10 * S, &s1);
	CHECK_INT(s1.counters[WTAB_REQUESTS], 1240);
	CHECK_INT(s1.counters[WTAB_BYTES_OUT], 1 << 20);
	CHECK_INT(s1.gauges[WTAB_CONNECTIONS], 12);

	text = render_table(&s1, NULL, false);
	CHECK_STR(text,
		  "COUNTER              TOTAL\n"
		  "accepted                 0\n"
		  "requests              1240\n"
		  "responses_1xx            0\n"
		  "responses_2xx            0\n"
		  "responses_3xx            0\n"
		  "responses_4xx            0\n"
		  "responses_5xx            0\n"
		  "rate_limited             0\n"
		  "unavailable              0\n"
		  "upstream_failures        0\n"
		  "retries                  0\n"
		  "retries_denied           0\n"
		  "breaker_trips            0\n"
		  "bytes_in                 0\n"
		  "bytes_out          1048576\n"
		  "jwt_cache_hits           0\n"
		  "jwt_cache_misses         0\n"
		  "connlimit_refused        0\n"
		  "client_timeouts          0\n"
		  "\n"
		  "GAUGE             VALUE\n"
		  "connections          12\n"
		  "inflight              0\n"
		  "retries_inflight      0\n");
	free(text);

	/* Two seconds later, 300 more requests: 150/s. */
	wtab_count(wtab_entry(&tm.workers, 0), WTAB_REQUESTS, 300);
	stats_sample(&tr.workers, 12 * S, &s2);
	text = render_table(&s2, &s1, true);
	CHECK(strstr(text, "COUNTER              TOTAL  PER_S\n") == text);
	CHECK(strstr(text, "\nrequests              1540  150.0\n") != NULL);
	CHECK(strstr(text, "\nbytes_out          1048576    0.0\n") != NULL);
	free(text);
	text = render_table(&s2, NULL, true);
	CHECK(strstr(text, "\nrequests              1540      -\n") != NULL);
	free(text);

	shm_unmap(&ro);
	shm_unmap(&master);
}

static void test_json(void)
{
	struct stats_sample s = { .at_ns = 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	s.counters[WTAB_ACCEPTED] = 3;
	s.counters[WTAB_BYTES_OUT] = 123456789012ull;
	s.gauges[WTAB_INFLIGHT] = 2;
	CHECK_INT(stats_print_json(&s, f), 0);
	fclose(f);
	CHECK_STR(text,
		  "{\"counters\":{\"accepted\":3,\"requests\":0,\"responses_1xx\":0,"
		  "\"responses_2xx\":0,\"responses_3xx\":0,\"responses_4xx\":0,\"responses_5xx\":0,"
		  "\"rate_limited\":0,\"unavailable\":0,\"upstream_failures\":0,\"retries\":0,"
		  "\"retries_denied\":0,\"breaker_trips\":0,\"bytes_in\":0,"
		  "\"bytes_out\":123456789012,\"jwt_cache_hits\":0,\"jwt_cache_misses\":0,"
		  "\"connlimit_refused\":0,\"client_timeouts\":0},"
		  "\"gauges\":{\"connections\":0,\"inflight\":2,\"retries_inflight\":0}}\n");
	free(text);
}

/* A descriptor that is no segment of ours is refused with -EPROTO, the
 * error gatewayctl turns into "layout mismatch". */
static void test_not_a_segment(void)
{
	struct shm_segment seg;
	int fd = memfd_create("not-a-segment", MFD_CLOEXEC);

	CHECK(fd >= 0);
	CHECK_INT(ftruncate(fd, 1 << 20), 0);
	CHECK_INT(shm_map_fd(&seg, fd, false), -EPROTO);
}

int main(void)
{
	test_segment();
	test_json();
	test_not_a_segment();
	return CHECK_EXIT();
}
