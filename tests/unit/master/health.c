/* master/health.c: active checks on a real ring, a real segment and real
 * backends. A backend is a forked child serving one connection at a time
 * on 127.0.0.1, answering as the test's current mode says; a bound socket
 * that never listens gives "connection refused". The test drives the loop
 * itself (tick, submit and wait, reap) and counts completed checks through
 * the health word alone: every check stores it, and two checks never store
 * the same word (last_ms or streak differ). Bounds are loop-turn counts;
 * alarm() fails the test if the whole run hangs. */
#include "master/health.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/master.h"
#include "master/mio.h"
#include "tests/unit/check.h"

#define MAX_TURNS	1000	/* loop turns allowed per awaited event */

/* Backend modes: an HTTP status to answer with, or one of these. */
enum {
	MODE_CLOSE = 0,			/* read the request, close without a word */
	MODE_SILENT = -1,		/* read the request, never answer, wait for EOF */
	MODE_SPLIT = -2,		/* "HTTP/1.1 204 ..." in three pieces */
	MODE_GARBAGE = -3,		/* a line that is not an HTTP status line */
	MODE_HOLD = -4,			/* read the request, answer once the mode changes */
	MODE_ZERO = -5,			/* "HTTP/1.1 000 ..." */
	MODE_LONG = -6,			/* a 200 whose status line outgrows any buffer */
};

/* Shared between the test and one backend child. */
struct backend_sh {
	_Atomic int mode;
	_Atomic unsigned accepted;	/* connections accepted */
	_Atomic unsigned done;		/* connections finished and closed */
	_Atomic unsigned eofs;		/* silent connections the checker closed */
	_Atomic int holding;		/* 1 while a MODE_HOLD answer waits */
	_Atomic unsigned req_len;	/* of req, stored with release */
	char req[512];			/* the last complete request */
};

struct backend {
	struct backend_sh *sh;
	pid_t pid;
	unsigned short port;
};

/* One slot's health word as last seen, how many checks it showed, and
 * how many of those the test has verified. */
struct watch {
	unsigned slot;
	struct inst_health h;
	unsigned results;
	unsigned verified;
	uint64_t sched_iv;		/* when set: starts must be this far apart */
	uint64_t next_start;		/* health_next_deadline() at the last result */
};

static struct master m;
static struct watch *watches[8];
static size_t n_watches;
static unsigned turn_sleep_us;		/* makes every tick late by this much */
static char logbuf[1 << 16];
static size_t loglen;

/* Generous times: a backend's answer must never miss its timeout, even on
 * a loaded machine; only the silent backend ever waits one out. */
#define IV	200	/* interval, ms */
#define TO	150	/* timeout, ms */

static char path_healthz[] = "/healthz";	/* conf paths are char * */
static char path_ready[] = "/ready?x=1";

static const struct gw_health_conf conf_rf = {
	.path = path_healthz, .interval_ms = IV, .timeout_ms = TO, .rise = 2, .fall = 3,
};
/* A silent backend checked this way always has a check in flight. */
static const struct gw_health_conf conf_busy = {
	.path = path_healthz, .interval_ms = IV, .timeout_ms = IV, .rise = 2, .fall = 3,
};
/* The check the set_targets test holds open across the call has time to
 * spare, and still ends well before the next one starts. */
static const struct gw_health_conf conf_slow = {
	.path = path_healthz, .interval_ms = 3 * IV, .timeout_ms = 3 * IV - 100, .rise = 2, .fall = 3,
};
static const struct gw_health_conf conf_one = {
	.path = path_ready, .interval_ms = IV, .timeout_ms = TO, .rise = 1, .fall = 1,
};

static void on_alarm(int sig)
{
	static const char msg[] = "health test: alarm: the run hung\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(T_EXIT_FAIL);
	_exit(T_EXIT_FAIL);
}

static void log_capture(const char *line, size_t len, void *arg)
{
	(void)arg;
	if (len < sizeof(logbuf) - 1 - loglen) {
		memcpy(logbuf + loglen, line, len);
		loglen += len;
		logbuf[loglen] = '\0';
	}
}

static unsigned log_count(const char *needle)
{
	unsigned n = 0;

	for (const char *p = logbuf; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* --- backends --- */

static void backend_reply(struct backend_sh *sh, int c)
{
	int mode = atomic_load_explicit(&sh->mode, memory_order_relaxed);
	char buf[256];
	int n;

	if (mode == MODE_HOLD) {
		atomic_store(&sh->holding, 1);
		while ((mode = atomic_load(&sh->mode)) == MODE_HOLD)
			usleep(500);
		atomic_store(&sh->holding, 0);
	}
	if (mode >= 100) {
		n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d Whatever\r\nContent-Length: 0\r\n\r\n", mode);
		(void)!write(c, buf, (size_t)n);
	} else if (mode == MODE_SPLIT) {
		(void)!write(c, "HTTP/1.1 2", 10);
		usleep(2000);
		(void)!write(c, "04 No Con", 9);
		usleep(2000);
		(void)!write(c, "tent\r\n\r\n", 8);
	} else if (mode == MODE_GARBAGE) {
		(void)!write(c, "SSH-2.0-OpenSSH_9.2\r\n", 21);
	} else if (mode == MODE_ZERO) {
		(void)!write(c, "HTTP/1.1 000 Zero\r\n\r\n", 21);
	} else if (mode == MODE_LONG) {
		n = snprintf(buf, sizeof(buf), "HTTP/1.1 200 %0200d", 0);
		(void)!write(c, buf, (size_t)n);
		(void)!write(c, buf, (size_t)n);
		(void)!write(c, "\r\n\r\n", 4);
	} else if (mode == MODE_SILENT) {
		while (read(c, buf, sizeof(buf)) > 0)
			;
		atomic_fetch_add_explicit(&sh->eofs, 1, memory_order_release);
	}
}

/* Read one request head; keep it in sh->req. */
static void backend_read_request(struct backend_sh *sh, int c)
{
	char req[sizeof(sh->req)];
	size_t got = 0;
	ssize_t r;

	while (got < sizeof(req) - 1 && (r = read(c, req + got, sizeof(req) - 1 - got)) > 0) {
		got += (size_t)r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n")) {
			memcpy(sh->req, req, got + 1);
			/* Release: the test reads req after an acquire of req_len. */
			atomic_store_explicit(&sh->req_len, (unsigned)got, memory_order_release);
			return;
		}
	}
}

static void backend_serve(struct backend_sh *sh, int lfd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);	/* it may answer a check that was abandoned */
	for (;;) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			continue;
		atomic_fetch_add_explicit(&sh->accepted, 1, memory_order_release);
		backend_read_request(sh, c);
		backend_reply(sh, c);
		close(c);
		atomic_fetch_add_explicit(&sh->done, 1, memory_order_release);
	}
}

/* A bound 127.0.0.1 TCP socket on a kernel-chosen port. */
static int bind_loopback(unsigned short *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("bind_loopback");
		exit(T_EXIT_FAIL);
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static void backend_start(struct backend *b, int mode)
{
	int lfd = bind_loopback(&b->port);

	b->sh = mmap(NULL, sizeof(*b->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (b->sh == MAP_FAILED || listen(lfd, 16) < 0) {
		perror("backend_start");
		exit(T_EXIT_FAIL);
	}
	atomic_store(&b->sh->mode, mode);
	b->pid = fork();
	if (b->pid < 0) {
		perror("fork");
		exit(T_EXIT_FAIL);
	}
	if (b->pid == 0)
		backend_serve(b->sh, lfd);
	close(lfd);
}

static void backend_stop(struct backend *b)
{
	kill(b->pid, SIGKILL);
	waitpid(b->pid, NULL, 0);
	munmap(b->sh, sizeof(*b->sh));
}

static void set_mode(struct backend *b, int mode)
{
	atomic_store_explicit(&b->sh->mode, mode, memory_order_relaxed);
}

static unsigned accepted(const struct backend *b)
{
	return atomic_load_explicit(&b->sh->accepted, memory_order_acquire);
}

static unsigned open_conns(const struct backend *b)
{
	return accepted(b) - atomic_load_explicit(&b->sh->done, memory_order_acquire);
}

/* --- the loop --- */

static struct health_target target(unsigned slot, unsigned short port,
				   const struct gw_health_conf *conf)
{
	struct health_target t = { .slot = slot, .conf = conf };
	struct sockaddr_in *a = (struct sockaddr_in *)&t.addr;

	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t.addr_len = sizeof(*a);
	snprintf(t.text, sizeof(t.text), "127.0.0.1:%u", port);
	snprintf(t.service, sizeof(t.service), "api");
	snprintf(t.host, sizeof(t.host), "backend.test");
	return t;
}

static void watch_add(struct watch *w, unsigned slot)
{
	w->slot = slot;
	w->results = w->verified = 0;
	w->sched_iv = w->next_start = 0;
	inst_health_load(&m.tables.inst, slot, &w->h);
	watches[n_watches++] = w;
}

/* Field by field: the struct has padding. */
static bool same_health(const struct inst_health *a, const struct inst_health *b)
{
	return a->up == b->up && a->checked == b->checked && a->streak == b->streak &&
	       a->last_ok == b->last_ok && a->last_status == b->last_status &&
	       a->last_ms == b->last_ms;
}

/* With a single target, idle after its result, the next deadline is its
 * next start: always exactly one interval after the previous one, however
 * late the ticks that started them. */
static void schedule_step(struct watch *w)
{
	uint64_t next = health_next_deadline(&m);

	if (w->sched_iv && w->next_start && next - w->next_start != w->sched_iv) {
		fprintf(stderr, "slot %u: next start %" PRIu64 " ms after the previous one, want %"
			PRIu64 "\n", w->slot, next - w->next_start, w->sched_iv);
		check_failures++;
	}
	w->next_start = next;
}

static void observe(void)
{
	for (size_t i = 0; i < n_watches; i++) {
		struct watch *w = watches[i];
		struct inst_health h;

		inst_health_load(&m.tables.inst, w->slot, &h);
		if (!same_health(&h, &w->h)) {
			w->results++;
			w->h = h;
			schedule_step(w);
		}
	}
}

/* One master loop turn, observing after the tick and after the reap. */
static void turn(void)
{
	uint64_t now = clock_mono_ms(), dl, wait_ms;
	struct __kernel_timespec ts = { 0 };
	struct io_uring_cqe *cqe;

	if (turn_sleep_us) {
		usleep(turn_sleep_us);
		now = clock_mono_ms();
	}
	health_tick(&m, now);
	observe();
	dl = health_next_deadline(&m);
	wait_ms = dl <= now ? 0 : dl - now > 20 ? 20 : dl - now;
	ts.tv_nsec = (long long)wait_ms * 1000000;
	io_uring_submit_and_wait_timeout(&m.ring, &cqe, 1, &ts, NULL);
	mio_reap(&m);
	observe();
}

static bool run_until_results(struct watch *w, unsigned results)
{
	for (int t = 0; t < MAX_TURNS && w->results < results; t++)
		turn();
	return w->results >= results;
}

static bool run_until_open(const struct backend *b)
{
	for (int t = 0; t < MAX_TURNS && !open_conns(b); t++)
		turn();
	return open_conns(b) != 0;
}

static bool run_until_closed(const struct backend *b)
{
	for (int t = 0; t < MAX_TURNS && open_conns(b); t++)
		turn();
	return open_conns(b) == 0;
}

/* The next strlen(ups) checks of <w> not yet verified each fail or succeed
 * as <ok> says, with <status>; the k-th has streak first + k and up as
 * ups[k] ('U'/'D'). Each must be seen on its own: when a later check
 * overwrote the word before this one was verified, that is a failure. */
static void expect_checks(int line, struct watch *w, const char *ups, bool ok,
			  unsigned status, unsigned first)
{
	for (unsigned k = 0; ups[k]; k++) {
		unsigned want = ++w->verified;

		if (!run_until_results(w, want)) {
			fprintf(stderr, "line %d: check %u of slot %u never completed\n", line, k, w->slot);
			check_failures++;
			return;
		}
		if (w->results != want || w->h.last_ok != ok || w->h.last_status != status ||
		    w->h.streak != first + k || w->h.up != (ups[k] == 'U') || !w->h.checked) {
			fprintf(stderr, "line %d: slot %u check %u: results %u (want %u) ok %d status %u "
				"streak %u (want %u) up %d (want %c)\n", line, w->slot, k, w->results,
				want, w->h.last_ok, w->h.last_status, w->h.streak, first + k, w->h.up, ups[k]);
			check_failures++;
		}
	}
}

#define EXPECT(w, ups, ok, status, first) expect_checks(__LINE__, w, ups, ok, status, first)

/* --- the tests --- */

/* fall failures in a row take an up instance down, rise successes bring
 * it back, each transition is logged once, and the request is the one the
 * contract spells. */
static void test_rise_fall(struct backend *a, struct watch *w)
{
	struct health_target t = target(1, a->port, &conf_rf);
	char want_down[160], want_up[160];
	unsigned len;

	CHECK_INT(health_set_targets(&m, &t, 1), 0);
	watch_add(w, 1);
	w->sched_iv = conf_rf.interval_ms;
	turn_sleep_us = 3000;
	set_mode(a, 200);
	EXPECT(w, "UU", true, 200, 1);
	len = atomic_load_explicit(&a->sh->req_len, memory_order_acquire);
	CHECK_INT(len, strlen(a->sh->req));
	CHECK_STR(a->sh->req, "GET /healthz HTTP/1.1\r\nHost: backend.test\r\n"
		  "User-Agent: gatewayd-health\r\nAccept: */*\r\nConnection: close\r\n\r\n");
	set_mode(a, 503);
	EXPECT(w, "UUDD", false, 503, 1);
	set_mode(a, 200);
	EXPECT(w, "DUU", true, 200, 1);
	turn_sleep_us = 0;
	w->sched_iv = 0;

	snprintf(want_down, sizeof(want_down), "health: service api instance 127.0.0.1:%u is down "
		 "(3 failures in a row; last: status 503)\n", a->port);
	snprintf(want_up, sizeof(want_up), "health: service api instance 127.0.0.1:%u is up again "
		 "(2 successes in a row)\n", a->port);
	CHECK_INT(log_count(want_down), 1);
	CHECK_INT(log_count(want_up), 1);
	CHECK_INT(log_count("health: "), 2);
}

/* With rise = fall = 1 every kind of failure flips the instance: 503, a
 * close without an answer, a silent backend (timeout), garbage. 3xx and a
 * status line split over several reads are successes. */
static void test_failure_kinds(struct backend *a, struct watch *w1, struct watch *w)
{
	static const struct {
		int mode;
		bool ok;
		unsigned status;
		const char *last;
	} steps[] = {
		{ 503, false, 503, "status 503" },
		{ 302, true, 302, NULL },
		{ MODE_CLOSE, false, 0, "connection closed before a status line" },
		{ MODE_SPLIT, true, 204, NULL },
		{ MODE_SILENT, false, 0, "timeout" },
		{ 200, true, 200, NULL },
		{ MODE_GARBAGE, false, 0, "malformed status line" },
		{ 299, true, 299, NULL },
		{ MODE_ZERO, false, 0, "malformed status line" },
		{ 399, true, 399, NULL },
		{ 600, false, 0, "malformed status line" },
		{ 200, true, 200, NULL },
		{ MODE_LONG, false, 0, "malformed status line" },
		{ 200, true, 200, NULL },
		{ 404, false, 404, "status 404" },
	};
	struct health_target t = target(2, a->port, &conf_one);
	struct inst_health h1 = w1->h;
	char line[200];

	CHECK_INT(health_set_targets(&m, &t, 1), 0);
	watch_add(w, 2);
	set_mode(a, 200);
	EXPECT(w, "U", true, 200, 1);
	CHECK(strstr(a->sh->req, "GET /ready?x=1 HTTP/1.1\r\n") == a->sh->req);
	loglen = 0;
	logbuf[0] = '\0';
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		unsigned before = 0;

		if (steps[i].last) {
			snprintf(line, sizeof(line), "instance 127.0.0.1:%u is down (1 failure in a row; "
				 "last: %s)\n", a->port, steps[i].last);
			before = log_count(line);
		}
		set_mode(a, steps[i].mode);
		EXPECT(w, steps[i].ok ? "U" : "D", steps[i].ok, steps[i].status, 1);
		if (steps[i].last)
			CHECK_INT(log_count(line), before + 1);
	}
	/* The backend serves one connection at a time, so the step after the
	 * silent one could pass only because the timed-out socket was really
	 * closed (a poll left armed would have kept it open). */
	CHECK_INT(atomic_load(&a->sh->eofs), 1);
	CHECK_INT(log_count("is down (1 failure in a row"), 8);
	CHECK_INT(log_count("is up again (1 success in a row)"), 7);
	CHECK_INT(log_count("last: malformed status line)"), 4);
	/* Slot 1 left the list in the first set_targets(): never checked since. */
	observe();
	CHECK_INT(w1->results, 9);
	CHECK(same_health(&w1->h, &h1));
}

/* Run until <a> holds a check's answer and <s> has a check connection.
 * With <wa>, the held check must not have ended yet (the backend cannot
 * tell). */
static bool run_until_held(struct backend *a, struct backend *s, const struct watch *wa)
{
	for (int t = 0; t < MAX_TURNS; t++) {
		if (atomic_load(&a->sh->holding) && open_conns(s) == 1 &&
		    (!wa || wa->results == wa->verified))
			return true;
		turn();
	}
	return false;
}

/* health_set_targets(): an unchanged slot keeps its progress and its
 * running check, even when its index moves (the check is held open by
 * the backend across the call and must still see the answer); a removed
 * slot's running check is closed and never recorded; a new slot starts
 * fresh; a slot whose address changed starts a new streak and its old
 * check is abandoned. */
static void test_set_targets(struct backend *a, struct backend *s, unsigned short refused,
			     struct watch *wa, struct watch *ws, struct watch *wc)
{
	struct health_target t1[2] = { target(5, s->port, &conf_busy), target(6, a->port, &conf_slow) };
	struct health_target t2[2] = { target(6, a->port, &conf_slow), target(7, refused, &conf_rf) };
	struct health_target t3 = target(6, refused, &conf_rf);
	unsigned a_acc, s_acc, s_results;
	char line[200];

	loglen = 0;
	logbuf[0] = '\0';
	CHECK_INT(health_set_targets(&m, t1, 2), 0);
	watch_add(ws, 5);
	watch_add(wa, 6);
	set_mode(a, 503);
	EXPECT(wa, "UU", false, 503, 1);
	set_mode(a, MODE_HOLD);
	CHECK(run_until_held(a, s, wa));
	a_acc = accepted(a);
	s_acc = accepted(s);
	s_results = ws->results;

	/* Slot 6 moves from index 1 to 0 with its check waiting for the
	 * answer; the answer then completes it: the third failure. */
	CHECK_INT(health_set_targets(&m, t2, 2), 0);
	watch_add(wc, 7);
	set_mode(a, 503);
	EXPECT(wa, "D", false, 503, 3);
	CHECK_INT(accepted(a), a_acc);	/* the same check, not a new one */
	snprintf(line, sizeof(line), "instance 127.0.0.1:%u is down (3 failures in a row; "
		 "last: status 503)\n", a->port);
	CHECK_INT(log_count(line), 1);

	/* Slot 7 is new: refused three times in a row, then down. */
	EXPECT(wc, "UUDD", false, 0, 1);
	snprintf(line, sizeof(line), "instance 127.0.0.1:%u is down (3 failures in a row; "
		 "last: connection refused)\n", refused);
	CHECK_INT(log_count(line), 1);

	/* Slot 5 was dropped four intervals ago: its connection was closed,
	 * its word did not move, and no check started since (the backend may
	 * accept late the one connection open at the call, from its backlog;
	 * a live target would have opened one per interval). */
	CHECK(run_until_closed(s));
	CHECK(accepted(s) <= s_acc + 1);
	CHECK_INT(ws->results, s_results);

	/* Slot 6 now points elsewhere: a fresh streak on the old verdict, and
	 * the check it held at the old address is abandoned. Its 503s went on
	 * meanwhile; they are not the subject. */
	set_mode(a, MODE_HOLD);
	CHECK(run_until_held(a, a, NULL));
	CHECK(wa->h.streak == 3 + wa->results - wa->verified);
	wa->verified = wa->results;
	CHECK_INT(health_set_targets(&m, &t3, 1), 0);
	set_mode(a, 200);
	EXPECT(wa, "DD", false, 0, 1);
	CHECK(run_until_closed(a));
	CHECK_INT(log_count("is up again"), 0);
}

int main(void)
{
	struct backend a, s;
	struct watch w1, w2, wa, ws, wc;
	struct health_target tf;
	unsigned short refused;
	int refused_fd, fds_before, ret;

	signal(SIGALRM, on_alarm);
	alarm(60);
	log_set_level(LOG_INFO);
	log_set_sink(log_capture, NULL);
	ret = io_uring_queue_init(256, &m.ring, 0);
	if (ret < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		return T_EXIT_FAIL;
	}
	if (shm_create_master(&m.seg, 16u << 20) < 0 ||
	    shm_tables_attach(&m.tables, &m.seg, -1) < 0) {
		fprintf(stderr, "segment setup failed\n");
		return T_EXIT_FAIL;
	}
	mio_set_handler(MIO_HEALTH, health_on_poll);
	backend_start(&a, 200);
	backend_start(&s, MODE_SILENT);
	refused_fd = bind_loopback(&refused);	/* bound, never listening */

	fds_before = count_fds();
	m.health = health_new();
	CHECK(m.health != NULL);
	CHECK_INT(health_next_deadline(&m), UINT64_MAX);
	test_rise_fall(&a, &w1);
	test_failure_kinds(&a, &w1, &w2);
	test_set_targets(&a, &s, refused, &wa, &ws, &wc);

	/* health_free() with a check in flight (its timeout is its interval)
	 * closes its socket; the late completions find no checker. */
	tf = target(8, s.port, &conf_busy);
	CHECK_INT(health_set_targets(&m, &tf, 1), 0);
	CHECK(run_until_open(&s));
	CHECK(count_fds() > fds_before);
	health_free(&m);
	CHECK(m.health == NULL);
	CHECK_INT(count_fds(), fds_before);
	CHECK(run_until_closed(&s));
	CHECK_INT(health_next_deadline(&m), UINT64_MAX);

	close(refused_fd);
	backend_stop(&a);
	backend_stop(&s);
	shm_unmap(&m.seg);
	io_uring_queue_exit(&m.ring);
	if (check_failures)
		fputs(logbuf, stderr);
	return CHECK_EXIT();
}
