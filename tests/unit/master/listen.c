/* master_listen_open(): one SO_REUSEPORT socket per slot per address.
 *
 * Binds two slots on 127.0.0.1:0 and [::1]:0 and checks that the slots of
 * an address share the port the kernel picked, that each slot's socket
 * really takes a share of the connections, the socket options, the
 * "listening on" log line tests rely on, and that a bind failure leaves
 * no descriptor behind. IPv6 parts are skipped when ::1 is unavailable. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/log.h"
#include "master/master.h"
#include "tests/unit/check.h"

#define N_SLOTS 2
#define N_CONNS 64	/* P(one slot gets none) = 2^-63 under a fair hash */

static char logged[4096];

/* Keep every log line, so the test can look for "listening on". */
static void record_log(const char *line, size_t len, void *arg)
{
	size_t used = strlen(logged);

	if (used + len < sizeof(logged)) {
		memcpy(logged + used, line, len);
		logged[used + len] = '\0';
	}
}

/* The listen line "<text>" ("127.0.0.1:0", "[::1]:0"), parsed as the
 * config loader does; exits when it does not parse. */
static struct gw_listen_conf listen_conf(const char *text)
{
	struct gw_listen_conf lc = { .line = 1 };

	if (conf_parse_addr(text, false, &lc.addr) < 0) {
		fprintf(stderr, "conf_parse_addr(\"%s\") failed\n", text);
		exit(T_EXIT_FAIL);
	}
	return lc;
}

static bool ipv6_loopback_works(void)
{
	struct gw_listen_conf lc = listen_conf("[::1]:0");
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&lc.addr.ss, lc.addr.len) == 0;
	close(fd);
	return ok;
}

static unsigned bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int sockopt(int fd, int level, int name)
{
	int val = -1;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, level, name, &val, &len) < 0)
		return -1;
	return val;
}

static void check_options(int fd, int family)
{
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK_INT(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
	CHECK_INT(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 1);
	CHECK_INT(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), 1);
	CHECK_INT(sockopt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
	if (family == AF_INET6)
		CHECK_INT(sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
}

/* Open N_CONNS connections to <lc>'s address at <port>, then accept them
 * from the slots' sockets: every connection lands in exactly one slot,
 * and each slot takes some. */
static void check_spread(const struct master_listeners *ls, size_t i,
			 const struct gw_listen_conf *lc, unsigned port)
{
	struct sockaddr_storage ss = lc->addr.ss;
	int clients[N_CONNS], got[N_SLOTS] = { 0 }, total = 0;

	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	for (int c = 0; c < N_CONNS; c++) {
		clients[c] = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK_INT(connect(clients[c], (struct sockaddr *)&ss, lc->addr.len), 0);
	}
	for (unsigned slot = 0; slot < N_SLOTS; slot++) {
		int fd, lfd = master_listen_slot_fds(ls, slot)[i];

		while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			/* Accepted sockets inherit TCP_NODELAY from the listener. */
			CHECK_INT(sockopt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
			close(fd);
			got[slot]++;
		}
		CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
		total += got[slot];
		CHECK(got[slot] > 0);
	}
	CHECK_INT(total, N_CONNS);
	for (int c = 0; c < N_CONNS; c++)
		close(clients[c]);
}

static void check_logged_port(const char *host_text, unsigned port)
{
	char want[128], *hit;

	snprintf(want, sizeof(want), "listening on %s:%u\n", host_text, port);
	hit = strstr(logged, want);
	CHECK(hit != NULL);
	if (hit)
		CHECK(strstr(hit + 1, want) == NULL);	/* once per address, not per slot */
	if (!hit)
		fprintf(stderr, "log was:\n%s", logged);
}

static void test_two_slots(bool v6)
{
	struct gw_listen_conf lcs[2] = {
		listen_conf("127.0.0.1:0"),
		listen_conf("[::1]:0"),
	};
	struct master_listeners ls = { 0 };
	size_t n = v6 ? 2 : 1;

	logged[0] = '\0';
	CHECK_INT(master_listen_open(&ls, lcs, n, N_SLOTS), 0);
	if (!ls.fds)
		return;
	CHECK_INT(ls.n_slots, N_SLOTS);
	CHECK_INT(ls.n_listens, n);
	for (size_t i = 0; i < n; i++) {
		int family = lcs[i].addr.ss.ss_family;
		unsigned port = bound_port(master_listen_slot_fds(&ls, 0)[i]);

		CHECK(port != 0);
		for (unsigned slot = 0; slot < N_SLOTS; slot++) {
			int fd = master_listen_slot_fds(&ls, slot)[i];

			CHECK_INT(bound_port(fd), port);
			check_options(fd, family);
		}
		check_logged_port(family == AF_INET6 ? "[::1]" : "127.0.0.1", port);
		check_spread(&ls, i, &lcs[i], port);
	}
	master_listen_close(&ls);
	CHECK(ls.fds == NULL);
	master_listen_close(&ls);	/* twice is fine */
}

/* "[::]" must not take IPv4 too, whatever net.ipv6.bindv6only says: a
 * separate "0.0.0.0" listen line would collide with it. (Binding "::1"
 * alone proves nothing: the kernel sets V6ONLY for specific addresses.) */
static void test_v6_any_is_v6_only(void)
{
	struct gw_listen_conf lc = listen_conf("[::]:0");
	struct gw_listen_conf v4 = listen_conf("127.0.0.1:0");
	struct master_listeners ls = { 0 };
	unsigned port;
	int fd;

	CHECK_INT(master_listen_open(&ls, &lc, 1, N_SLOTS), 0);
	if (!ls.fds)
		return;
	for (unsigned slot = 0; slot < N_SLOTS; slot++)
		check_options(master_listen_slot_fds(&ls, slot)[0], AF_INET6);
	port = bound_port(master_listen_slot_fds(&ls, 0)[0]);
	((struct sockaddr_in *)&v4.addr.ss)->sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_INT(connect(fd, (struct sockaddr *)&v4.addr.ss, v4.addr.len), -1);
	CHECK_INT(errno, ECONNREFUSED);
	close(fd);
	master_listen_close(&ls);
}

/* The lowest free descriptor number: equal before and after means no leak. */
static int next_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

/* A port held without SO_REUSEPORT cannot be joined: the error names the
 * call and address, and sockets already opened for earlier addresses and
 * slots are closed. */
static void test_bind_failure(void)
{
	struct gw_listen_conf lcs[2] = {
		listen_conf("127.0.0.1:0"),
		listen_conf("127.0.0.1:0"),
	};
	struct master_listeners ls = { 0 };
	int holder, fd_before;
	unsigned port;
	char want[64], text[32];

	holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* SO_REUSEPORT, as another gatewayd's socket would have: joining its
	 * group silently must not happen either. */
	CHECK_INT(setsockopt(holder, SOL_SOCKET, SO_REUSEPORT, &(int){ 1 }, sizeof(int)), 0);
	CHECK_INT(bind(holder, (struct sockaddr *)&lcs[0].addr.ss, lcs[0].addr.len), 0);
	CHECK_INT(listen(holder, 1), 0);
	port = bound_port(holder);
	snprintf(text, sizeof(text), "127.0.0.1:%u", port);
	lcs[1] = listen_conf(text);

	fd_before = next_fd();
	logged[0] = '\0';
	CHECK_INT(master_listen_open(&ls, lcs, 2, N_SLOTS), -EADDRINUSE);
	CHECK(ls.fds == NULL);
	CHECK_INT(next_fd(), fd_before);
	snprintf(want, sizeof(want), "bind 127.0.0.1:%u: %s", port, strerror(EADDRINUSE));
	CHECK(strstr(logged, want) != NULL);
	close(holder);
}

int main(void)
{
	bool v6 = ipv6_loopback_works();

	log_set_sink(record_log, NULL);
	if (!v6)
		fprintf(stderr, "note: ::1 unavailable, IPv6 checks skipped\n");
	test_two_slots(v6);
	if (v6)
		test_v6_any_is_v6_only();
	test_bind_failure();
	return CHECK_EXIT();
}
