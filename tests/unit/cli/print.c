/* Unit test for cli/print.c: canned master answers (the shapes of
 * docs/control-protocol.md) through the printers, compared as exact text
 * on stdout and stderr; missing fields; failures and their exit status;
 * the duration and size formats. */
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/print.h"
#include "tests/unit/check.h"

struct output {
	char *out;
	char *err;
	int ret;
};

/* Run <fn> on the JSON text <answer>, capturing both streams. */
static struct output run(int (*fn)(const json_t *, FILE *, FILE *), const char *answer)
{
	struct output o = { NULL, NULL, -1 };
	size_t n1 = 0, n2 = 0;
	FILE *out = open_memstream(&o.out, &n1), *err = open_memstream(&o.err, &n2);
	json_error_t jerr;
	json_t *a = json_loads(answer, 0, &jerr);

	if (!a) {
		fprintf(stderr, "bad canned JSON: %s (line %d)\n", jerr.text, jerr.line);
		check_failures++;
	}
	o.ret = fn(a, out, err);
	fclose(out);
	fclose(err);
	json_decref(a);
	return o;
}

static void output_free(struct output *o)
{
	free(o->out);
	free(o->err);
}

#define CHECK_RUN(fn, answer, want_out, want_err) do { \
	struct output o_ = run((fn), (answer)); \
	CHECK_INT(o_.ret, 0); \
	CHECK_STR(o_.out, (want_out)); \
	CHECK_STR(o_.err, (want_err)); \
	output_free(&o_); \
} while (0)

static void test_formats(void)
{
	char b[64];

	print_uptime(b, sizeof(b), 0);
	CHECK_STR(b, "0s");
	print_uptime(b, sizeof(b), 59);
	CHECK_STR(b, "59s");
	print_uptime(b, sizeof(b), 65);
	CHECK_STR(b, "1m 5s");
	print_uptime(b, sizeof(b), 2 * 3600 + 3 * 60 + 4);
	CHECK_STR(b, "2h 3m 4s");
	print_uptime(b, sizeof(b), 7200);
	CHECK_STR(b, "2h 0m 0s");
	print_uptime(b, sizeof(b), 86400 + 5);
	CHECK_STR(b, "1d 0h 0m 5s");
	print_ms(b, sizeof(b), 0);
	CHECK_STR(b, "0ms");
	print_ms(b, sizeof(b), 999);
	CHECK_STR(b, "999ms");
	print_ms(b, sizeof(b), 4250);
	CHECK_STR(b, "4.2s");
	print_ms(b, sizeof(b), 200000);
	CHECK_STR(b, "3m 20s");
	print_bytes(b, sizeof(b), 512);
	CHECK_STR(b, "512 B");
	print_bytes(b, sizeof(b), 40960);
	CHECK_STR(b, "40.0 KiB");
	print_bytes(b, sizeof(b), 64ull << 20);
	CHECK_STR(b, "64.0 MiB");
	print_bytes(b, sizeof(b), 3ull << 40);
	CHECK_STR(b, "3.0 TiB");
}

static void test_status(void)
{
	CHECK_RUN(print_status,
		  "{\"ok\":true,\"version\":\"0.1.0\",\"pid\":4242,\"uptime_s\":7384,"
		  "\"generation\":3,\"config\":\"/etc/gatewayd/gatewayd.ini\",\"workers\":4,"
		  "\"draining\":1,\"shm\":{\"size\":67108864,\"regions\":["
		  "{\"name\":\"workers\",\"offset\":4096,\"size\":14464},"
		  "{\"name\":\"ratelimit\",\"offset\":4812800,\"size\":33554432}]},"
		  "\"rate_limit\":{\"keys\":12,\"capacity\":524288,\"evictions\":0,\"busy\":2},"
		  "\"registry\":{\"generation\":5}}",
		  "version:    0.1.0\n"
		  "pid:        4242\n"
		  "uptime:     2h 3m 4s\n"
		  "generation: 3\n"
		  "config:     /etc/gatewayd/gatewayd.ini\n"
		  "workers:    4 ready, 1 draining\n"
		  "registry:   generation 5\n"
		  "rate limit: 12 keys of 524288, 0 evictions, 2 busy\n"
		  "shm:        64.0 MiB\n"
		  "  REGION      OFFSET      SIZE\n"
		  "  workers       4096  14.1 KiB\n"
		  "  ratelimit  4812800  32.0 MiB\n",
		  "");
}

static void test_workers(void)
{
	CHECK_RUN(print_workers,
		  "{\"ok\":true,\"workers\":["
		  "{\"id\":0,\"slot\":0,\"pid\":4250,\"cpu\":0,\"generation\":3,\"state\":\"ready\","
		  "\"connections\":12,\"inflight\":3,\"requests\":120345},"
		  "{\"id\":4,\"slot\":1,\"pid\":4190,\"cpu\":-1,\"generation\":2,"
		  "\"state\":\"draining\",\"connections\":1,\"inflight\":1,\"requests\":5531}]}",
		  "ID  SLOT   PID  CPU  GEN  STATE     CONNS  INFLIGHT  REQUESTS\n"
		  " 0     0  4250    0    3  ready        12         3    120345\n"
		  " 4     1  4190    -    2  draining      1         1      5531\n",
		  "");
	CHECK_RUN(print_workers, "{\"ok\":true,\"workers\":[]}", "no workers\n", "");
}

static void test_services(void)
{
	CHECK_RUN(print_services,
		  "{\"ok\":true,\"generation\":5,\"services\":[{\"name\":\"payments\","
		  "\"balance\":\"round_robin\",\"instances\":["
		  "{\"slot\":0,\"address\":\"127.0.0.1:9001\",\"host\":\"127.0.0.1:9001\","
		  "\"weight\":2,\"state\":\"up\",\"dynamic\":false,\"ttl_ms\":null,"
		  "\"health\":{\"up\":true,\"checked\":true,\"last_status\":200},"
		  "\"breaker\":{\"state\":\"closed\",\"failures\":0,\"requests\":10,\"probes\":0,"
		  "\"open_for_ms\":5000,\"remaining_ms\":0},"
		  "\"inflight\":1,\"attempts\":1520,\"failures\":3},"
		  "{\"slot\":1,\"address\":\"10.0.0.7:9001\",\"host\":\"pay-2.internal:9001\","
		  "\"weight\":1,\"state\":\"draining\",\"dynamic\":true,\"ttl_ms\":59000,"
		  "\"health\":{\"up\":false,\"checked\":true,\"last_status\":503},"
		  "\"breaker\":{\"state\":\"open\",\"failures\":0,\"requests\":0,\"probes\":0,"
		  "\"open_for_ms\":5000,\"remaining_ms\":4200},"
		  "\"inflight\":0,\"attempts\":40,\"failures\":40},"
		  "{\"slot\":2,\"address\":\"127.0.0.1:9002\",\"weight\":1,\"state\":\"up\","
		  "\"health\":{\"up\":true,\"checked\":false},\"breaker\":{\"state\":\"half-open\"},"
		  "\"inflight\":0,\"attempts\":0,\"failures\":0}]},"
		  "{\"name\":\"search\",\"balance\":\"least_conn\",\"instances\":[]}]}",
		  "generation 5\n"
		  "\n"
		  "service payments (round_robin, 3 instances)\n"
		  "  ADDRESS                              WEIGHT  STATE     HEALTH     BREAKER    "
		  "INFLIGHT  FAILURES/ATTEMPTS  NOTE\n"
		  "  127.0.0.1:9001                            2  up        up 200     closed     "
		  "       1             3/1520\n"
		  "  pay-2.internal:9001 (10.0.0.7:9001)       1  draining  down 503   open 4.2s  "
		  "       0              40/40  dynamic, ttl 59.0s\n"
		  "  127.0.0.1:9002                            1  up        unchecked  half-open  "
		  "       0                0/0\n"
		  "\n"
		  "service search (least_conn, 0 instances)\n",
		  "");
}

static void test_breakers_limits(void)
{
	CHECK_RUN(print_breakers,
		  "{\"ok\":true,\"breakers\":["
		  "{\"service\":\"payments\",\"instance\":\"127.0.0.1:9001\",\"slot\":0,"
		  "\"state\":\"closed\",\"failures\":2,\"requests\":10,\"probes\":0,"
		  "\"open_for_ms\":5000,\"remaining_ms\":0},"
		  "{\"service\":\"payments\",\"instance\":\"10.0.0.7:9001\",\"slot\":1,"
		  "\"state\":\"open\",\"failures\":0,\"requests\":0,\"probes\":1,"
		  "\"open_for_ms\":5000,\"remaining_ms\":4200}]}",
		  "SERVICE   INSTANCE        STATE   FAILURES  REQUESTS  PROBES  REMAINING\n"
		  "payments  127.0.0.1:9001  closed         2        10       0          -\n"
		  "payments  10.0.0.7:9001   open           0         0       1       4.2s\n",
		  "");
	/* The master's shape: the rule's spec, its burst as the limit. */
	CHECK_RUN(print_limits,
		  "{\"ok\":true,\"route\":\"api\",\"key\":\"203.0.113.9\",\"rules\":["
		  "{\"rule\":\"100/60000ms burst=20 by=ip\",\"limit\":20,\"remaining\":0,"
		  "\"reset_ms\":2900,\"retry_after_ms\":2900,\"present\":true},"
		  "{\"rule\":\"1000/3600000ms burst=1000 by=ip\",\"limit\":1000,"
		  "\"remaining\":1000,\"reset_ms\":0,\"retry_after_ms\":0,\"present\":false}]}",
		  "route api, key 203.0.113.9\n"
		  "RULE                             LIMIT  REMAINING  RESET  RETRY_AFTER  NOTE\n"
		  "100/60000ms burst=20 by=ip          20          0   2.9s         2.9s\n"
		  "1000/3600000ms burst=1000 by=ip   1000       1000    0ms               no state yet\n",
		  "");
	CHECK_RUN(print_limits,
		  "{\"ok\":true,\"route\":\"api\",\"key\":\"k\",\"rules\":["
		  "{\"rule\":\"10/s\",\"limit\":10,\"remaining\":9,\"reset_ms\":100,"
		  "\"retry_after_ms\":0,\"present\":true}]}",
		  "route api, key k\n"
		  "RULE  LIMIT  REMAINING  RESET\n"
		  "10/s     10          9  100ms\n",
		  "");
	CHECK_RUN(print_limits, "{\"ok\":true,\"route\":\"r\",\"key\":\"k\",\"rules\":[]}",
		  "route r, key k\nno rate limits on this route\n", "");
}

static void test_keys(void)
{
	/* The key alone on stdout; the note on stderr. */
	CHECK_RUN(print_keys_add,
		  "{\"ok\":true,\"id\":3,\"consumer\":\"alice\",\"scopes\":[\"a\",\"b\"],"
		  "\"key\":\"gwk_abc\"}",
		  "gwk_abc\n",
		  "added key 3 for consumer alice (scopes: a b); this is the only time the key is "
		  "shown: store it now\n");
	CHECK_RUN(print_keys_list,
		  "{\"ok\":true,\"file\":\"/k.db\",\"live\":1,\"keys\":["
		  "{\"id\":1,\"consumer\":\"alice\",\"scopes\":[\"a\",\"b\"],"
		  "\"created\":1700000000,\"state\":\"live\"},"
		  "{\"id\":12,\"consumer\":\"bob\",\"scopes\":[],\"created\":1700000061,"
		  "\"state\":\"revoked\"}]}",
		  "ID  CONSUMER  STATE    CREATED               SCOPES\n"
		  " 1  alice     live     2023-11-14 22:13:20Z  a b\n"
		  "12  bob       revoked  2023-11-14 22:14:21Z  -\n",
		  "");
	CHECK_RUN(print_keys_list, "{\"ok\":true,\"keys\":[]}", "no keys\n", "");
	CHECK_RUN(print_keys_revoke, "{\"ok\":true,\"id\":3,\"consumer\":\"alice\"}",
		  "revoked key 3 of consumer alice\n", "");
}

static void test_small_answers(void)
{
	CHECK_RUN(print_reload,
		  "{\"ok\":true,\"generation\":4,\"workers\":8,\"warnings\":"
		  "[\"/etc/g.ini:12: route 'old' is never matched\"]}",
		  "reloaded: generation 4 (8 workers)\n",
		  "/etc/g.ini:12: route 'old' is never matched\n");
	CHECK_RUN(print_config_check,
		  "{\"ok\":true,\"file\":\"/etc/g.ini\",\"errors\":[],\"warnings\":[]}",
		  "/etc/g.ini: ok\n", "");
	CHECK_RUN(print_config_check,
		  "{\"ok\":true,\"file\":\"/etc/g.ini\",\"errors\":[],\"warnings\":[\"w1\",\"w2\"]}",
		  "/etc/g.ini: ok, 2 warnings\n", "w1\nw2\n");
	CHECK_RUN(print_instance_add,
		  "{\"ok\":true,\"service\":\"payments\",\"instance\":\"127.0.0.1:9003\","
		  "\"slot\":7,\"note\":\"lasts until the next reload or restart\"}",
		  "added 127.0.0.1:9003 to payments (slot 7)\n"
		  "note: lasts until the next reload or restart\n", "");
	CHECK_RUN(print_instance_remove,
		  "{\"ok\":true,\"service\":\"payments\",\"instance\":\"127.0.0.1:9003\"}",
		  "removed 127.0.0.1:9003 from payments\n", "");
	CHECK_RUN(print_breakers_reset, "{\"ok\":true,\"reset\":1}", "reset 1 breaker\n", "");
	CHECK_RUN(print_limits_reset, "{\"ok\":true,\"reset\":3}", "reset 3 keys\n", "");
	CHECK_RUN(print_limits_reset, "{\"ok\":true,\"reset\":\"all\"}", "reset every key\n", "");
	CHECK_RUN(print_breakers_open, "{\"ok\":true,\"opened\":1}", "opened 1 breaker\n", "");
	CHECK_RUN(print_breakers_open, "{\"ok\":true}", "ok\n", "");
}

/* Fields missing or of the wrong type print as "-", never crash. */
static void test_missing_fields(void)
{
	CHECK_RUN(print_status, "{\"ok\":true,\"shm\":5,\"rate_limit\":[]}",
		  "version:    -\n"
		  "pid:        -\n"
		  "uptime:     -\n"
		  "generation: -\n"
		  "config:     -\n"
		  "workers:    - ready, - draining\n"
		  "registry:   generation -\n"
		  "rate limit: - keys of -, - evictions, - busy\n"
		  "shm:        -\n",
		  "");
	CHECK_RUN(print_workers, "{\"ok\":true,\"workers\":[{\"id\":1},7]}",
		  "ID  SLOT  PID  CPU  GEN  STATE  CONNS  INFLIGHT  REQUESTS\n"
		  " 1     -    -    -    -  -          -         -         -\n"
		  " -     -    -    -    -  -          -         -         -\n",
		  "");
	CHECK_RUN(print_services, "{\"ok\":true}", "generation -\nno services\n", "");
}

static void test_failure(void)
{
	json_t *a = json_loads("{\"ok\":false,\"code\":\"invalid\",\"error\":\"2 errors\","
			       "\"errors\":[\"/x.ini:3: unknown key 'lisen'\","
			       "\"/x.ini:9: bad rate '10/fortnight'\"]}", 0, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	print_failure(a, f);
	fclose(f);
	CHECK_STR(text, "gatewayctl: 2 errors\n"
		  "/x.ini:3: unknown key 'lisen'\n"
		  "/x.ini:9: bad rate '10/fortnight'\n");
	CHECK_INT(client_status(a), CLI_EXIT_FAILED);
	json_decref(a);
	free(text);

	a = json_loads("{\"ok\":false,\"code\":\"permission\",\"error\":\"uid 1000 refused\"}", 0,
		       NULL);
	CHECK_INT(client_status(a), CLI_EXIT_PERMISSION);
	json_decref(a);
	a = json_loads("{\"ok\":true,\"code\":\"permission\"}", 0, NULL);
	CHECK_INT(client_status(a), CLI_EXIT_OK);
	json_decref(a);
}

int main(void)
{
	test_formats();
	test_status();
	test_workers();
	test_services();
	test_breakers_limits();
	test_keys();
	test_small_answers();
	test_missing_fields();
	test_failure();
	return CHECK_EXIT();
}
