/* gw-echo: a small, fast HTTP/1.1 backend for the demo, the end-to-end
 * tests and the benchmarks.
 *
 *   gw-echo [-l ADDR:PORT]... [-t THREADS] [-q]
 *
 * ADDR is IPv4 ("127.0.0.1:8080", "*:8080") or bracketed IPv6
 * ("[::1]:8080"); a bare PORT means 127.0.0.1:PORT; port 0 picks a free
 * one. The default is 127.0.0.1:8080. Once every thread is ready, one line
 * "listening ADDR:PORT" per -l (actual port) goes to stdout, in -l order,
 * so that a test can wait for readiness and learn the ports. SIGTERM and
 * SIGINT stop it cleanly (exit 0). -q logs errors only.
 *
 * The main thread only sets up: it binds every address once per thread
 * (SO_REUSEPORT; port 0 is resolved by the first bind and reused by the
 * others), starts the threads, then waits for a signal in sigwait(). All
 * signals stay blocked in the worker threads, whose loops never see EINTR.
 * What a request can ask for is described in echo_reply.c. */
#include "bench/echo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

#define ECHO_MAX_THREADS	64
#define ECHO_MAX_ADDRS		64
#define ECHO_BACKLOG		4096

struct echo_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct echo_main {
	struct echo_addr addrs[ECHO_MAX_ADDRS];
	unsigned n_addrs;
	unsigned n_threads;
	struct echo_thread *threads;
	struct echo_listener *lst;	/* n_threads * n_addrs, by thread */
	sem_t ready;		/* each thread posts once after setup */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: gw-echo [-l ADDR:PORT]... [-t THREADS] [-q]\n"
		   "  -l  listen address, IPv4 or [IPv6], repeatable (default 127.0.0.1:8080)\n"
		   "  -t  threads, each with its own io_uring and sockets (default 1)\n"
		   "  -q  log errors only\n");
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int parse_addr6(const char *arg, struct echo_addr *a)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	const char *close = strchr(arg, ']');
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	size_t n;

	if (!close || close[1] != ':')
		return -EINVAL;
	n = (size_t)(close - arg - 1);
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, arg + 1, n);
	host[n] = '\0';
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1 || parse_port(close + 2, &port))
		return -EINVAL;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	a->len = sizeof(*s6);
	return 0;
}

/* "[v6]:port", "v4:port", "*:port" or "port" into <a>; 0 or -EINVAL. */
static int parse_addr(const char *arg, struct echo_addr *a)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	const char *colon = strrchr(arg, ':');
	char host[INET_ADDRSTRLEN] = "127.0.0.1";
	uint16_t port;

	memset(a, 0, sizeof(*a));
	if (arg[0] == '[')
		return parse_addr6(arg, a);
	if (colon) {
		size_t n = (size_t)(colon - arg);

		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, arg, n);
		host[n] = '\0';
		if (strcmp(host, "*") == 0)
			strcpy(host, "0.0.0.0");
	}
	if (parse_port(colon ? colon + 1 : arg, &port) ||
	    inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -EINVAL;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	a->len = sizeof(*s4);
	return 0;
}

static uint16_t addr_port(const struct echo_addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

static void addr_set_port(struct echo_addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
}

static void addr_print(const struct echo_addr *a)
{
	char host[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
			  host, sizeof(host));
		printf("listening [%s]:%u\n", host, addr_port(a));
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr,
			  host, sizeof(host));
		printf("listening %s:%u\n", host, addr_port(a));
	}
}

/* A listening socket on <a>; 0 or -errno. Fills l->port with the port the
 * kernel chose when <a> says 0. */
static int listen_open(const struct echo_addr *a, struct echo_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int one = 1, err;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto err_close;
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, ECHO_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto err_close;
	l->fd = fd;
	l->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;

err_close:
	err = -errno;
	close(fd);
	return err;
}

/* Bind every address once per thread. Thread 0's bind resolves port 0;
 * the others join that port through SO_REUSEPORT. */
static int listen_all(struct echo_main *m)
{
	for (unsigned a = 0; a < m->n_addrs; a++) {
		for (unsigned t = 0; t < m->n_threads; t++) {
			struct echo_listener *l = &m->lst[t * m->n_addrs + a];
			int err = listen_open(&m->addrs[a], l);

			if (err) {
				log_error("bind/listen on port %u failed: %s",
					  addr_port(&m->addrs[a]), strerror(-err));
				return err;
			}
			addr_set_port(&m->addrs[a], l->port);
		}
	}
	return 0;
}

static void listen_close_all(struct echo_main *m)
{
	for (unsigned i = 0; i < m->n_threads * m->n_addrs; i++)
		if (m->lst[i].fd >= 0)
			close(m->lst[i].fd);
}

static int parse_args(int argc, char **argv, struct echo_main *m)
{
	int opt;

	m->n_threads = 1;
	while ((opt = getopt(argc, argv, "l:t:qh")) != -1) {
		switch (opt) {
		case 'l':
			if (m->n_addrs == ECHO_MAX_ADDRS || parse_addr(optarg, &m->addrs[m->n_addrs])) {
				fprintf(stderr, "gw-echo: bad or too many -l: %s\n", optarg);
				return -EINVAL;
			}
			m->n_addrs++;
			break;
		case 't':
			m->n_threads = (unsigned)atoi(optarg);
			if (m->n_threads < 1 || m->n_threads > ECHO_MAX_THREADS) {
				fprintf(stderr, "gw-echo: -t wants 1..%d\n", ECHO_MAX_THREADS);
				return -EINVAL;
			}
			break;
		case 'q':
			log_set_level(LOG_ERROR);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (!m->n_addrs)
		parse_addr("127.0.0.1:8080", &m->addrs[m->n_addrs++]);
	return 0;
}

/* Start every thread; on failure the started ones are told to stop. */
static int threads_start(struct echo_main *m, unsigned *started)
{
	for (unsigned i = 0; i < m->n_threads; i++) {
		struct echo_thread *t = &m->threads[i];
		int err;

		t->id = i;
		t->lst = &m->lst[i * m->n_addrs];
		t->n_lst = m->n_addrs;
		t->ready = &m->ready;
		t->wake_fd = eventfd(0, EFD_CLOEXEC);
		if (t->wake_fd < 0)
			return -errno;
		err = pthread_create(&t->tid, NULL, echo_thread_main, t);
		if (err)
			return -err;
		(*started)++;
	}
	return 0;
}

static void threads_stop(struct echo_main *m, unsigned started)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < started; i++)
		if (write(m->threads[i].wake_fd, &one, sizeof(one)) < 0)
			log_error("write(eventfd) failed: %s", strerror(errno));
	for (unsigned i = 0; i < started; i++)
		pthread_join(m->threads[i].tid, NULL);
	for (unsigned i = 0; i < m->n_threads; i++)
		if (m->threads[i].wake_fd >= 0)
			close(m->threads[i].wake_fd);
}

static int threads_failed(const struct echo_main *m)
{
	for (unsigned i = 0; i < m->n_threads; i++)
		if (m->threads[i].err)
			return m->threads[i].err;
	return 0;
}

/* Threads are ready (or failed): report readiness, wait for a signal. */
static int serve(struct echo_main *m, const sigset_t *sigs)
{
	int sig, err = threads_failed(m);

	if (err) {
		log_error("thread setup failed: %s", strerror(-err));
		return err;
	}
	for (unsigned a = 0; a < m->n_addrs; a++)
		addr_print(&m->addrs[a]);
	fflush(stdout);
	sigwait(sigs, &sig);
	return threads_failed(m);
}

static int echo_run(struct echo_main *m, const sigset_t *sigs)
{
	unsigned started = 0;
	int err;

	err = listen_all(m);
	if (err)
		return err;
	if (sem_init(&m->ready, 0, 0) < 0)
		return -errno;
	err = threads_start(m, &started);
	for (unsigned i = 0; i < started; i++)
		while (sem_wait(&m->ready) < 0 && errno == EINTR)
			;
	if (err)
		log_error("thread start failed: %s", strerror(-err));
	else
		err = serve(m, sigs);
	threads_stop(m, started);
	sem_destroy(&m->ready);
	return err;
}

int main(int argc, char **argv)
{
	struct echo_main m;
	sigset_t sigs;
	int err;

	memset(&m, 0, sizeof(m));
	log_set_ident("gw-echo");
	if (parse_args(argc, argv, &m))
		return 2;
	m.threads = calloc(m.n_threads, sizeof(*m.threads));
	m.lst = calloc((size_t)m.n_threads * m.n_addrs, sizeof(*m.lst));
	if (!m.threads || !m.lst) {
		log_error("out of memory");
		return 1;
	}
	for (unsigned i = 0; i < m.n_threads * m.n_addrs; i++)
		m.lst[i].fd = -1;
	for (unsigned i = 0; i < m.n_threads; i++)
		m.threads[i].wake_fd = -1;
	/* Blocked before any thread starts, so that they inherit the mask and
	 * only sigwait() in this thread ever takes these signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	echo_pattern_init();

	err = echo_run(&m, &sigs);
	listen_close_all(&m);
	free(m.lst);
	free(m.threads);
	return err ? 1 : 0;
}
