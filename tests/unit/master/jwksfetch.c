/* master/jwksfetch.c: the schedule's pure decisions (backoff, the kid
 * refresh rate limit), slots kept by name across config changes, and a
 * failing fetch driven through a real ring and a real segment: the
 * fetcher child reports the failure through its pipe, the attempt is
 * counted for waiting workers, nothing is published, the retry waits the
 * backoff, and a worker's request does not start a fetch while there are
 * no keys (the backoff schedule owns retries then). No descriptor leaks.
 * Successful fetches, rotation and the rate limit against a real HTTPS
 * server are tests/e2e/test_jwks_url.py's. */
#include "master/jwksfetch.h"

#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/master.h"
#include "master/mio.h"
#include "shm/jwks.h"
#include "tests/unit/check.h"

static struct master m;
static char logbuf[1 << 14];
static size_t loglen;

static void log_capture(const char *line, size_t len, void *arg)
{
	if (loglen + len < sizeof(logbuf)) {
		memcpy(logbuf + loglen, line, len);
		loglen += len;
		logbuf[loglen] = '\0';
	}
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void test_backoff(void)
{
	CHECK_INT(mjwks_backoff_ms(1, 600000), 1000);
	CHECK_INT(mjwks_backoff_ms(2, 600000), 2000);
	CHECK_INT(mjwks_backoff_ms(3, 600000), 4000);
	CHECK_INT(mjwks_backoff_ms(6, 600000), 32000);
	CHECK_INT(mjwks_backoff_ms(7, 600000), 60000);
	CHECK_INT(mjwks_backoff_ms(1000, 600000), 60000);
	/* Never later than the refresh period itself. */
	CHECK_INT(mjwks_backoff_ms(5, 5000), 5000);
	CHECK_INT(mjwks_backoff_ms(1, 1000), 1000);
}

static void test_rate_limit(void)
{
	CHECK(mjwks_kid_refresh_ok(5, 0, 30000));	/* never refreshed */
	CHECK(!mjwks_kid_refresh_ok(10000, 5000, 30000));
	CHECK(!mjwks_kid_refresh_ok(34999, 5000, 30000));
	CHECK(mjwks_kid_refresh_ok(35000, 5000, 30000));
	CHECK(mjwks_kid_refresh_ok(99999, 5000, 30000));
}

static void section(struct gw_jwt_conf *j, const char *name, const char *url)
{
	memset(j, 0, sizeof(*j));
	j->name = (char *)name;
	j->jwks_url = (char *)url;
	j->jwks_refresh_ms = 600000;
	j->jwks_refresh_min_ms = 30000;
	j->jwks_timeout_ms = 2000;
}

static void test_slots(void)
{
	struct gw_jwt_conf js[JWKSR_SLOTS + 1];
	struct gw_config cfg = { .jwts = js };

	section(&js[0], "a", "https://127.0.0.1:1/a");
	section(&js[1], "file", NULL);		/* jwks = FILE: no slot */
	section(&js[2], "b", "https://127.0.0.1:1/b");
	cfg.n_jwts = 3;
	CHECK_INT(mjwks_apply_config(&m, &cfg), 0);
	CHECK_INT(js[0].jwks_slot, 0);
	CHECK_INT(js[2].jwks_slot, 1);
	/* A reload without a: b keeps its slot; a new c takes an unused one,
	 * not a's, so a's keys stay for draining workers. */
	section(&js[0], "b", "https://127.0.0.1:1/b");
	section(&js[1], "c", "https://127.0.0.1:1/c");
	cfg.n_jwts = 2;
	CHECK_INT(mjwks_apply_config(&m, &cfg), 0);
	CHECK_INT(js[0].jwks_slot, 1);
	CHECK_INT(js[1].jwks_slot, 2);
	/* Every slot: a's is reused only now, for the last name. */
	static const char *names[] = { "b", "c", "d", "e", "f", "g", "h", "i" };
	for (unsigned i = 0; i < JWKSR_SLOTS; i++)
		section(&js[i], names[i], "https://127.0.0.1:1/x");
	cfg.n_jwts = JWKSR_SLOTS;
	CHECK_INT(mjwks_apply_config(&m, &cfg), 0);
	CHECK_INT(js[0].jwks_slot, 1);
	CHECK_INT(js[1].jwks_slot, 2);
	CHECK_INT(js[JWKSR_SLOTS - 1].jwks_slot, 0);
	cfg.n_jwts = 0;
	CHECK_INT(mjwks_apply_config(&m, &cfg), 0);
}

static void turn(void)
{
	struct __kernel_timespec ts = { .tv_nsec = 20 * 1000000 };
	struct io_uring_cqe *cqe;

	mjwks_tick(&m, clock_mono_ms());
	io_uring_submit_and_wait_timeout(&m.ring, &cqe, 1, &ts, NULL);
	mio_reap(&m);
}

/* A fetch from a port nobody listens on fails; the worker-facing side
 * learns it through the attempt counter. */
static void test_failing_fetch(unsigned short port)
{
	struct gw_jwt_conf j;
	struct gw_config cfg = { .jwts = &j, .n_jwts = 1 };
	char url[64];
	uint64_t start, next;
	int fds = count_fds();

	snprintf(url, sizeof(url), "https://127.0.0.1:%u/jwks.json", port);
	section(&j, "corp", url);
	CHECK_INT(mjwks_apply_config(&m, &cfg), 0);
	CHECK_INT(jwksr_attempts(&m.tables.jwks, j.jwks_slot), 0);
	for (int t = 0; t < 500 && jwksr_attempts(&m.tables.jwks, j.jwks_slot) == 0; t++)
		turn();
	CHECK_INT(jwksr_attempts(&m.tables.jwks, j.jwks_slot), 1);
	CHECK_INT(jwksr_gen(&m.tables.jwks, j.jwks_slot), 0);
	CHECK(strstr(logbuf, "jwt corp: fetching https://127.0.0.1:") != NULL);
	CHECK(strstr(logbuf, "no keys yet: tokens are refused; retrying in 1000 ms") != NULL);
	/* The retry waits its backoff; a worker's request does not hurry it. */
	start = clock_mono_ms();
	jwksr_request(&m.tables.jwks, j.jwks_slot);
	turn();
	CHECK_INT(jwksr_attempts(&m.tables.jwks, j.jwks_slot), 1);
	CHECK(!jwksr_take_request_master(&m.tables.jwks, j.jwks_slot));
	next = mjwks_next_deadline(&m);
	CHECK(next <= start + 1000 && next >= start);
	/* It comes, fails again, and waits twice as long. */
	for (int t = 0; t < 500 && jwksr_attempts(&m.tables.jwks, j.jwks_slot) < 2; t++)
		turn();
	CHECK_INT(jwksr_attempts(&m.tables.jwks, j.jwks_slot), 2);
	CHECK(strstr(logbuf, "retrying in 2000 ms") != NULL);
	CHECK(clock_mono_ms() >= start + 900);
	CHECK_INT(count_fds(), fds);
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd, ret, fds;

	alarm(60);
	log_set_level(LOG_DEBUG);
	log_set_sink(log_capture, NULL);
	test_backoff();
	test_rate_limit();
	ret = io_uring_queue_init(64, &m.ring, 0);
	if (ret < 0 || shm_create_master(&m.seg, 16u << 20) < 0 ||
	    shm_tables_attach(&m.tables, &m.seg, -1) < 0) {
		fprintf(stderr, "setup failed\n");
		return T_EXIT_FAIL;
	}
	mio_set_handler(MIO_JWKS, mjwks_on_poll);
	/* Bound, never listening: connections to it are refused. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		return T_EXIT_FAIL;
	fds = count_fds();
	m.jwks = mjwks_new();
	CHECK(m.jwks != NULL);
	CHECK_INT(mjwks_next_deadline(&m), UINT64_MAX);
	test_slots();
	test_failing_fetch(ntohs(a.sin_port));
	mjwks_free(&m);
	CHECK_INT(count_fds(), fds);
	close(fd);
	shm_unmap(&m.seg);
	io_uring_queue_exit(&m.ring);
	return CHECK_EXIT();
}
