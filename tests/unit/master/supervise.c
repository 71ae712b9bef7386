/* master_run() with a stand-in worker: forking, pinning, respawn with
 * backoff, signal forwarding, the stop deadline, and death with the master.
 *
 * This file defines its own worker_run(), so the test links the master's
 * objects without the data plane. Each case forks a master over a config
 * built in memory, reads its stderr (where the master and the stand-in
 * workers log) and waits for lines, never for time. The test process is a
 * child subreaper, so workers orphaned by a killed master come back to it
 * and can be reaped and inspected. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/master.h"
#include "tests/unit/check.h"
#include "worker/worker.h"

#define EXPECT_TIMEOUT_MS 5000

/* How the stand-in workers behave; set before forking the master. */
static struct {
	unsigned crash_slot1_times;	/* slot 1 exits 3 at start this many times */
	bool ignore_term;		/* SIGTERM is not a reason to exit */
} mode;

/* Shared by the master and every worker it forks (MAP_SHARED, set up
 * before the fork), so the count survives respawns. */
static atomic_uint *slot1_crashes;

static void __attribute__((format(printf, 1, 2))) worker_say(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	/* One write per line: under PIPE_BUF, so lines never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		_exit(99);
}

/* The signals the master promised to block before forking us. */
static bool worker_mask_ok(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD };
	sigset_t cur;

	sigprocmask(SIG_BLOCK, NULL, &cur);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (!sigismember(&cur, sigs[i]))
			return false;
	}
	return true;
}

static long worker_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0 || CPU_COUNT(&set) != 1)
		return -1;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &set))
			return cpu;
	}
	return -1;
}

static void worker_answer(int lfd, unsigned slot)
{
	char reply[32];
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	int n;

	if (fd < 0)
		return;
	n = snprintf(reply, sizeof(reply), "worker %u\n", slot);
	if (write(fd, reply, (size_t)n) < 0)
		_exit(98);
	close(fd);
}

/* Returns the exit status for <signo>, or -1 to keep serving. */
static int worker_on_signal(unsigned slot, uint32_t signo)
{
	if (signo == SIGUSR1) {
		worker_say("worker %u got SIGUSR1\n", slot);
		return -1;
	}
	if (signo == SIGTERM)
		return mode.ignore_term ? -1 : 7;
	return signo == SIGINT ? 8 : -1;
}

int worker_run(const struct worker_args *a)
{
	const struct gw_config *cfg = a->cfg;
	unsigned slot = a->slot;
	const int *listen_fds = a->listen_fds;
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	sigset_t set;
	int ret;

	/* Relaxed: a plain counter; the master's fork orders it anyway. */
	if (slot == 1 && atomic_fetch_add_explicit(slot1_crashes, 1, memory_order_relaxed) <
			 mode.crash_slot1_times)
		return 3;
	if (!worker_mask_ok())
		worker_say("worker %u bad mask\n", slot);
	worker_say("worker %u up pid %ld\n", slot, (long)getpid());
	worker_say("worker %u cpu %ld\n", slot, cfg->pin_workers ? worker_cpu() : -2);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pfd[0] = (struct pollfd){ .fd = listen_fds[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = signalfd(-1, &set, SFD_CLOEXEC), .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[0].revents)
			worker_answer(pfd[0].fd, slot);
		if (pfd[1].revents && read(pfd[1].fd, &si, sizeof(si)) == sizeof(si)) {
			ret = worker_on_signal(slot, si.ssi_signo);
			if (ret >= 0)
				return ret;
		}
	}
}

/* One forked master and everything it and its workers logged. */
struct run {
	pid_t pid;
	int out;			/* read end of the master's stderr */
	char text[65536];		/* all output so far, NUL-terminated */
	size_t len;
	size_t mark;			/* expect() searches from here */
	struct gw_listen_conf listen;
	struct gw_config cfg;
};

static void run_start(struct run *r, unsigned workers, bool pin, uint64_t drain_ms)
{
	int pipefd[2];

	memset(r, 0, sizeof(*r));
	r->listen.addr.ss.ss_family = AF_INET;
	((struct sockaddr_in *)&r->listen.addr.ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->listen.addr.len = sizeof(struct sockaddr_in);
	snprintf(r->listen.addr.text, sizeof(r->listen.addr.text), "127.0.0.1:0");
	r->cfg.listens = &r->listen;
	r->cfg.n_listens = 1;
	r->cfg.workers = workers;
	r->cfg.pin_workers = pin;
	r->cfg.drain_timeout_ms = drain_ms;
	r->cfg.log_level = LOG_INFO;
	atomic_store_explicit(slot1_crashes, 0, memory_order_relaxed);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		abort();
	r->pid = fork();
	r->cfg.shm_size = 16u << 20;
	if (r->pid == 0) {
		/* master_run() owns and frees its config: hand it heap copies. */
		struct gw_config *cfg = malloc(sizeof(*cfg));
		struct gw_listen_conf *listen = malloc(sizeof(*listen));

		if (!cfg || !listen)
			_exit(98);
		*cfg = r->cfg;
		*listen = r->listen;
		cfg->listens = listen;
		dup2(pipefd[1], STDERR_FILENO);
		log_set_ident("master");
		_exit(master_run("/nonexistent/gatewayd.ini", cfg));
	}
	close(pipefd[1]);
	r->out = pipefd[0];
}

static size_t count_from(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Wait until <needle> occurs <times> times after the mark. Returns the
 * first occurrence, or NULL after logging the output on timeout. */
static const char *expect_n(struct run *r, const char *needle, size_t times)
{
	uint64_t deadline = clock_mono_ms() + EXPECT_TIMEOUT_MS;

	while (count_from(r->text + r->mark, needle) < times) {
		struct pollfd pfd = { .fd = r->out, .events = POLLIN };
		uint64_t now = clock_mono_ms();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0 ||
		    (n = read(r->out, r->text + r->len, sizeof(r->text) - 1 - r->len)) <= 0) {
			fprintf(stderr, "timed out waiting for %zu x \"%s\"; output:\n%s\n", times,
				needle, r->text);
			check_failures++;
			return NULL;
		}
		r->len += (size_t)n;
		r->text[r->len] = '\0';
	}
	return strstr(r->text + r->mark, needle);
}

static const char *expect(struct run *r, const char *needle)
{
	return expect_n(r, needle, 1);
}

/* Later expect()s only look at output from now on. */
static void run_mark(struct run *r)
{
	r->mark = r->len;
}

/* Wait for the master to exit; its status, or -1 on timeout (killed). */
static int run_wait(struct run *r)
{
	uint64_t deadline = clock_mono_ms() + EXPECT_TIMEOUT_MS;
	int status;

	while (waitpid(r->pid, &status, WNOHANG) == 0) {
		if (clock_mono_ms() >= deadline) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &status, 0);
			close(r->out);
			return -1;
		}
		usleep(10000);
	}
	close(r->out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static unsigned run_port(struct run *r)
{
	const char *line = expect(r, "listening on 127.0.0.1:");
	unsigned port = 0;

	if (line)
		sscanf(strstr(line, "127.0.0.1:") + strlen("127.0.0.1:"), "%u", &port);
	return port;
}

/* Connect once and return which slot answered, or -1. */
static int ask(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char reply[32] = { 0 };
	unsigned slot;
	int fd, ret = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    read(fd, reply, sizeof(reply) - 1) > 0 && sscanf(reply, "worker %u", &slot) == 1)
		ret = (int)slot;
	close(fd);
	return ret;
}

/* Slot 1 dies three times at once: waits of 100, 200, 400 ms, then it
 * serves beside slot 0. SIGUSR1 and SIGHUP are handled, SIGTERM drains. */
static void test_respawn_forward_drain(void)
{
	bool seen[2] = { false, false };
	struct run r;
	unsigned port;

	mode.crash_slot1_times = 3;
	mode.ignore_term = false;
	run_start(&r, 2, false, 30000);
	port = run_port(&r);
	expect(&r, "ready: 2 workers");
	expect_n(&r, "exited with status 3", 3);
	expect(&r, "worker 1 keeps dying; respawning in 100ms");
	expect(&r, "worker 1 keeps dying; respawning in 200ms");
	expect(&r, "worker 1 keeps dying; respawning in 400ms");
	expect(&r, "worker 1 up pid");
	CHECK(strstr(r.text, "respawning in 800ms") == NULL);
	/* 64 connections spread over both slots' sockets by the port hash. */
	for (int i = 0; i < 64; i++) {
		int slot = ask(port);

		CHECK(slot == 0 || slot == 1);
		if (slot >= 0)
			seen[slot] = true;
	}
	CHECK(seen[0] && seen[1]);

	run_mark(&r);
	kill(r.pid, SIGUSR1);
	expect(&r, "worker 0 got SIGUSR1");
	expect(&r, "worker 1 got SIGUSR1");
	kill(r.pid, SIGHUP);
	expect(&r, "reload: /nonexistent/gatewayd.ini: configuration invalid");

	run_mark(&r);
	kill(r.pid, SIGTERM);
	expect(&r, "SIGTERM: draining 2 workers");
	expect_n(&r, "exited with status 7", 2);
	expect(&r, "all workers stopped; exiting");
	CHECK_INT(run_wait(&r), 0);
	CHECK(strstr(r.text, "bad mask") == NULL);
}

/* A worker that ignores SIGTERM gets SIGKILL at drain_timeout + 1 s. */
static void test_drain_deadline(void)
{
	struct run r;
	uint64_t start, took;

	mode.crash_slot1_times = 0;
	mode.ignore_term = true;
	run_start(&r, 1, false, 100);
	expect(&r, "worker 0 up pid");
	start = clock_mono_ms();
	kill(r.pid, SIGTERM);
	expect(&r, "still running at the stop deadline; sending SIGKILL");
	expect(&r, "killed by signal 9");
	CHECK_INT(run_wait(&r), 0);
	took = clock_mono_ms() - start;
	CHECK(took >= 1100 && took < 4000);
	if (took < 1100 || took >= 4000)
		fprintf(stderr, "drain deadline took %llu ms\n", (unsigned long long)took);
}

/* SIGINT reaches every worker; pinned workers sit on their own CPU. */
static void test_sigint_and_pinning(void)
{
	cpu_set_t mask;
	struct run r;
	char want[64];

	mode.crash_slot1_times = 0;
	mode.ignore_term = false;
	CHECK_INT(sched_getaffinity(0, sizeof(mask), &mask), 0);
	run_start(&r, 2, true, 30000);
	expect(&r, "ready: 2 workers");
	for (unsigned slot = 0; slot < 2; slot++) {
		snprintf(want, sizeof(want), "worker %u cpu %d\n", slot, master_cpu_pick(&mask, slot));
		expect(&r, want);
	}
	run_mark(&r);
	kill(r.pid, SIGINT);
	expect(&r, "SIGINT: stopping 2 workers");
	expect_n(&r, "exited with status 8", 2);
	CHECK_INT(run_wait(&r), 0);
}

/* A master killed outright takes its worker with it (PR_SET_PDEATHSIG);
 * the orphan comes back to us as the subreaper. */
static void test_master_death(void)
{
	uint64_t deadline;
	const char *line;
	struct run r;
	int status = 0;
	long wpid = 0;
	pid_t got = 0;

	mode.crash_slot1_times = 0;
	mode.ignore_term = false;
	run_start(&r, 1, false, 30000);
	line = expect(&r, "worker 0 up pid ");
	if (!line)
		return;
	sscanf(line + strlen("worker 0 up pid "), "%ld", &wpid);
	kill(r.pid, SIGKILL);
	CHECK_INT(run_wait(&r), 128 + SIGKILL);
	deadline = clock_mono_ms() + EXPECT_TIMEOUT_MS;
	while ((got = waitpid((pid_t)wpid, &status, WNOHANG)) == 0 && clock_mono_ms() < deadline)
		usleep(10000);
	CHECK_INT(got, wpid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	if (got == 0)
		kill((pid_t)wpid, SIGKILL);
}

int main(void)
{
	slot1_crashes = mmap(NULL, sizeof(*slot1_crashes), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slot1_crashes == MAP_FAILED)
		return T_EXIT_FAIL;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		/* Linux has had it since 3.4: failing here is a broken test
		 * machine, and skipping would hide it. */
		perror("prctl(PR_SET_CHILD_SUBREAPER)");
		return T_EXIT_FAIL;
	}
	test_respawn_forward_drain();
	test_drain_deadline();
	test_sigint_and_pinning();
	test_master_death();
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return CHECK_EXIT();
}
