/* The listening sockets: one per listen address per worker slot.
 *
 * Each slot gets its own socket in a SO_REUSEPORT group rather than one
 * shared socket, so the kernel spreads new connections over the workers
 * and no two workers contend on one accept queue. The master opens them
 * all before the first fork and keeps them until it exits: a worker that
 * dies loses no queued connection of its slot (they wait in the master's
 * copy until the respawn accepts them), and a reload can fork new workers
 * onto the same sockets. */
#include "master/master.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

/* The kernel clamps this to net.core.somaxconn (4096 by default since 5.4). */
#define MASTER_LISTEN_BACKLOG 4096

/* "127.0.0.1:8080" or "[::1]:8080", from the address itself so that a port
 * picked by the kernel shows up as the real number. */
void master_addr_text(const struct sockaddr_storage *ss, socklen_t len, char *out,
		      size_t size)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, size, "(address family %d)", ss->ss_family);
		return;
	}
	if (ss->ss_family == AF_INET6)
		snprintf(out, size, "[%s]:%s", host, port);
	else
		snprintf(out, size, "%s:%s", host, port);
}

static int listen_setopt(int fd, int level, int name, const char *name_text,
			 const char *addr)
{
	int one = 1;

	if (setsockopt(fd, level, name, &one, sizeof(one)) < 0) {
		int err = errno;

		log_error("setsockopt(%s) %s: %s", name_text, addr, strerror(err));
		return -err;
	}
	return 0;
}

static int listen_set_options(int fd, int family, const char *addr)
{
	int ret;

	ret = listen_setopt(fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", addr);
	if (!ret)
		ret = listen_setopt(fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", addr);
	/* Explicit, whatever net.ipv6.bindv6only says: "[::]:80" and
	 * "0.0.0.0:80" are separate listen lines that must not collide. */
	if (!ret && family == AF_INET6)
		ret = listen_setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", addr);
	if (!ret)
		ret = listen_setopt(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", addr);
	return ret;
}

/* Open, bind and listen one socket on <ss>; the fd or -errno (logged). */
static int listen_socket(const struct sockaddr_storage *ss, socklen_t len)
{
	char addr[NI_MAXHOST + NI_MAXSERV + 4];
	int fd, err;

	master_addr_text(ss, len, addr, sizeof(addr));
	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6) {
		log_error("listen %s: not an IPv4 or IPv6 address", addr);
		return -EAFNOSUPPORT;
	}
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		log_error("socket %s: %s", addr, strerror(-err));
		return err;
	}
	err = listen_set_options(fd, ss->ss_family, addr);
	if (err)
		goto err_close;
	if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
		err = -errno;
		log_error("bind %s: %s", addr, strerror(-err));
		goto err_close;
	}
	if (listen(fd, MASTER_LISTEN_BACKLOG) < 0) {
		err = -errno;
		log_error("listen %s: %s", addr, strerror(-err));
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return err;
}

static bool listen_port_is_zero(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_port == 0;
	if (ss->ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)ss)->sin6_port == 0;
	return false;
}

/* SO_REUSEPORT would let a second gatewayd (same user) join our group on
 * a busy port and silently take half its connections. A plain bind, which
 * no reuseport group admits, tells us first that somebody holds the port.
 * Returns 0 or -EADDRINUSE (logged). */
static int listen_port_free(const struct gw_addr *conf)
{
	int one = 1, fd, ret = 0;

	fd = socket(conf->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;	/* the real bind reports what is wrong */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (conf->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&conf->ss, conf->len) < 0 && errno == EADDRINUSE) {
		log_error("bind %s: %s (another gatewayd?)", conf->text, strerror(EADDRINUSE));
		ret = -EADDRINUSE;
	}
	close(fd);
	return ret;
}

/* Bind address <i> for every slot. With port 0 the first slot's socket
 * picks the port and the others join its group on that port. */
static int listen_address(struct master_listeners *ls, size_t i, const struct gw_addr *conf)
{
	struct sockaddr_storage ss = conf->ss;
	socklen_t len = conf->len;
	char text[NI_MAXHOST + NI_MAXSERV + 4];

	if (!listen_port_is_zero(&ss) && listen_port_free(conf) < 0)
		return -EADDRINUSE;

	for (unsigned slot = 0; slot < ls->n_slots; slot++) {
		int fd = listen_socket(&ss, len);

		if (fd < 0)
			return fd;
		ls->fds[(size_t)slot * ls->n_listens + i] = fd;
		if (slot == 0 && listen_port_is_zero(&ss)) {
			len = sizeof(ss);
			if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
				int err = errno;

				log_error("getsockname %s: %s", conf->text, strerror(err));
				return -err;
			}
		}
	}
	master_addr_text(&ss, len, text, sizeof(text));
	log_info("listening on %s", text);
	return 0;
}

int master_listen_open(struct master_listeners *ls, const struct gw_listen_conf *listens,
		       size_t n_listens, unsigned n_slots)
{
	size_t n = (size_t)n_slots * n_listens;
	int ret;

	ls->fds = malloc((n ? n : 1) * sizeof(*ls->fds));
	if (!ls->fds) {
		log_error("listen: out of memory for %zu sockets", n);
		return -ENOMEM;
	}
	for (size_t j = 0; j < n; j++)
		ls->fds[j] = -1;
	ls->n_slots = n_slots;
	ls->n_listens = n_listens;
	for (size_t i = 0; i < n_listens; i++) {
		ret = listen_address(ls, i, &listens[i].addr);
		if (ret)
			goto err_close;
	}
	return 0;

err_close:
	master_listen_close(ls);
	return ret;
}

void master_listen_close(struct master_listeners *ls)
{
	if (ls->fds) {
		for (size_t j = 0; j < (size_t)ls->n_slots * ls->n_listens; j++) {
			if (ls->fds[j] >= 0)
				close(ls->fds[j]);
		}
	}
	free(ls->fds);
	ls->fds = NULL;
	ls->n_slots = 0;
	ls->n_listens = 0;
}

int master_listen_grow(struct master_listeners *ls, unsigned n_slots)
{
	size_t n = (size_t)n_slots * ls->n_listens;
	int *fds;

	if (n_slots <= ls->n_slots)
		return 0;
	fds = realloc(ls->fds, n * sizeof(*fds));
	if (!fds) {
		log_error("listen: out of memory for %zu sockets", n);
		return -ENOMEM;
	}
	ls->fds = fds;
	for (unsigned slot = ls->n_slots; slot < n_slots; slot++) {
		for (size_t i = 0; i < ls->n_listens; i++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			int fd;

			/* The first slot's socket has the real port (port 0 was
			 * resolved when it was bound). */
			if (getsockname(ls->fds[i], (struct sockaddr *)&ss, &len) < 0)
				return -errno;
			fd = listen_socket(&ss, len);
			if (fd < 0)
				return fd;	/* the slots bound so far stay usable */
			ls->fds[(size_t)slot * ls->n_listens + i] = fd;
		}
		ls->n_slots = slot + 1;
	}
	return 0;
}
