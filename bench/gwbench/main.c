/* gwbench: an HTTP/1.1 load generator on io_uring (gwbench.h has the map).
 *
 *   gwbench [options] URL [URL...]      (gwbench --help for the options)
 *
 * Exit status: 0 after a run (errors or not, unless --max-errors), 1 when
 * nothing could connect, when errors exceed --max-errors, or on a failure
 * to set up; 2 on a usage error. SIGINT/SIGTERM end the run early and the
 * results so far are still printed; a second one kills. */
#include "bench/gwbench/gwbench.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAIN_SPARE_FDS	64	/* rings, stdio, probes */

static struct gwb_run *main_run;	/* for the signal handler only */

static void on_signal(int sig)
{
	(void)sig;
	/* Relaxed: the threads poll it once per turn; lock-free atomics are
	 * async-signal-safe. */
	atomic_store_explicit(&main_run->stop, true, memory_order_relaxed);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;	/* the second ^C kills */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Every connection is a descriptor: raise the soft limit to what -c needs
 * (up to the hard limit), or say why the run cannot happen. */
static int check_fd_limit(const struct gwb_args *a)
{
	rlim_t need = (rlim_t)a->connections + MAIN_SPARE_FDS;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max >= need) {
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return 0;
	}
	fprintf(stderr, "gwbench: -c %u needs %llu file descriptors, RLIMIT_NOFILE allows %llu\n",
		a->connections, (unsigned long long)need, (unsigned long long)rl.rlim_max);
	return -EMFILE;
}

/* The exit status the results call for, with the reason on stderr. */
static int verdict(const struct gwb_plan *p, const struct gwb_stats *s)
{
	const struct gwb_args *a = p->args;

	if (!s->connects) {
		fprintf(stderr, "gwbench: could not connect to %s: %s\n", p->origin,
			s->connect_err ? strerror(-s->connect_err) : "no attempt finished");
		return 1;
	}
	if (a->has_max_errors && gwb_errors(s) > a->max_errors) {
		fprintf(stderr, "gwbench: %llu errors, more than --max-errors %llu\n",
			(unsigned long long)gwb_errors(s), (unsigned long long)a->max_errors);
		return 1;
	}
	return 0;
}

static int run_and_report(struct gwb_plan *plan)
{
	struct gwb_run run = { .plan = plan };
	struct gwb_result res = { .plan = plan };
	struct gwb_stats *total;
	uint64_t elapsed = 0;
	int err, status;

	total = calloc(1, sizeof(*total));
	if (!total) {
		fprintf(stderr, "gwbench: out of memory\n");
		return 1;
	}
	hist_init(&total->latency);
	run.progress = isatty(STDERR_FILENO);
	atomic_init(&run.stop, false);
	main_run = &run;
	install_signals();
	if (!plan->args->json)
		gwb_report_banner(plan);
	err = gwb_run_all(&run, total, &elapsed);
	if (err) {
		fprintf(stderr, "gwbench: the run failed: %s\n", strerror(-err));
		free(total);
		return 1;
	}
	res.st = total;
	res.duration_s = (double)elapsed / 1e9;
	if (plan->args->json)
		gwb_report_json(&res);
	else
		gwb_report_human(&res);
	status = verdict(plan, total);
	free(total);
	return status;
}

int main(int argc, char **argv)
{
	struct gwb_args args;
	struct gwb_plan plan;
	char err[1024];
	int ret, status;

	ret = args_parse(&args, argc, argv, err, sizeof(err));
	if (ret == ARGS_HELP) {
		fputs(args_usage, stdout);
		args_free(&args);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "gwbench: %s\n", ret == -ENOMEM ? "out of memory" : err);
		fprintf(stderr, "Try 'gwbench --help' for the options.\n");
		return ret == -ENOMEM ? 1 : 2;
	}
	ret = plan_build(&plan, &args, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "gwbench: %s\n", err);
		args_free(&args);
		return ret == -EINVAL ? 2 : 1;
	}
	status = check_fd_limit(&args) ? 2 : run_and_report(&plan);
	plan_free(&plan);
	args_free(&args);
	return status;
}
