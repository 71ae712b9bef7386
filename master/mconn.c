/* Request/answer connections of the master (see mconn.h). */
#include "master/mconn.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"

static void conn_close(struct mconn_server *s, struct mconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->pass_fd >= 0)
		close(c->pass_fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->pass_fd = -1;
	c->tag = ++s->tag_seq;	/* any tag not in flight for this index */
}

/* The poll armed on <c> holds a reference to its socket: cancel it first,
 * or closing our fd would not close the connection. */
static void conn_abort(struct master *m, struct mconn_server *s, struct mconn *c)
{
	mio_cancel(m, s->owner, mconn_index(s, c) + 1, c->tag);
	conn_close(s, c);
}

static void arm_listener(struct master *m, struct mconn_server *s)
{
	if (mio_poll(m, s->owner, 0, 0, s->lfd, POLLIN) < 0)
		log_error("master ring full: a listener poll is lost");
}

static void arm(struct master *m, struct mconn_server *s, struct mconn *c, unsigned events)
{
	if (mio_poll(m, s->owner, mconn_index(s, c) + 1, c->tag, c->fd, events) < 0) {
		log_error("master ring full: closing a connection");
		conn_close(s, c);
	}
}

uint32_t mconn_index(const struct mconn_server *s, const struct mconn *c)
{
	return (uint32_t)(c - s->conns);
}

struct mconn *mconn_running(struct mconn_server *s, uint32_t index)
{
	if (index >= MCONN_MAX || s->conns[index].state != MCONN_RUNNING)
		return NULL;
	return &s->conns[index];
}

void mconn_start(struct master *m, struct mconn_server *s, enum mio_owner owner, int lfd,
		 const struct mconn_ops *ops, size_t max_in, uint64_t read_ms)
{
	memset(s, 0, sizeof(*s));
	s->owner = owner;
	s->lfd = lfd;
	s->ops = ops;
	s->max_in = max_in;
	s->read_ms = read_ms;
	for (unsigned i = 0; i < MCONN_MAX; i++) {
		s->conns[i].fd = -1;
		s->conns[i].pass_fd = -1;
	}
	arm_listener(m, s);
}

void mconn_stop(struct master *m, struct mconn_server *s)
{
	for (unsigned i = 0; i < MCONN_MAX; i++) {
		if (s->conns[i].state != MCONN_FREE)
			conn_abort(m, s, &s->conns[i]);
	}
	if (s->lfd >= 0) {
		mio_cancel(m, s->owner, 0, 0);
		close(s->lfd);
	}
	s->lfd = -1;
}

void mconn_send(struct master *m, struct mconn_server *s, struct mconn *c, const char *text,
		size_t len, int pass_fd)
{
	c->out = malloc(len ? len : 1);
	if (!c->out) {
		if (pass_fd >= 0)
			close(pass_fd);
		conn_close(s, c);
		return;
	}
	memcpy(c->out, text, len);
	c->out_len = len;
	c->pass_fd = pass_fd;
	c->state = MCONN_WRITING;
	arm(m, s, c, POLLOUT);
}

static void accept_all(struct master *m, struct mconn_server *s)
{
	for (;;) {
		struct mconn *c = NULL;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_error("accept failed: %s", strerror(errno));
			break;
		}
		for (unsigned i = 0; i < MCONN_MAX && !c; i++)
			c = s->conns[i].state == MCONN_FREE ? &s->conns[i] : NULL;
		if (!c) {
			close(fd);	/* busy: the client sees EOF and says so */
			continue;
		}
		c->fd = fd;
		c->state = MCONN_READING;
		c->read_deadline_ms = clock_mono_ms() + s->read_ms;
		if (s->ops->accepted(m, s, c))
			arm(m, s, c, POLLIN);
	}
	arm_listener(m, s);
}

static void conn_read(struct master *m, struct mconn_server *s, struct mconn *c)
{
	char buf[4096];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	char *in;

	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		arm(m, s, c, POLLIN);
		return;
	}
	if (n <= 0 || c->in_len + (size_t)n > s->max_in) {
		conn_close(s, c);
		return;
	}
	in = realloc(c->in, c->in_len + (size_t)n + 1);
	if (!in) {
		conn_close(s, c);
		return;
	}
	memcpy(in + c->in_len, buf, (size_t)n);
	c->in = in;
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (s->ops->complete(c) > 0) {
		c->state = MCONN_RUNNING;
		s->ops->request(m, s, c);
	} else {
		arm(m, s, c, POLLIN);
	}
}

/* Send the answer; the fd to pass, if any, rides on the first byte. */
static ssize_t conn_sendmsg(struct mconn *c)
{
	struct iovec iov = { c->out + c->out_off, c->out_len - c->out_off };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (c->pass_fd >= 0) {
		struct cmsghdr *cm;

		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &c->pass_fd, sizeof(int));
	}
	n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	if (n > 0 && c->pass_fd >= 0) {
		close(c->pass_fd);
		c->pass_fd = -1;
	}
	return n;
}

static void conn_write(struct master *m, struct mconn_server *s, struct mconn *c)
{
	ssize_t n = conn_sendmsg(c);

	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		arm(m, s, c, POLLOUT);
		return;
	}
	if (n <= 0) {
		conn_close(s, c);
		return;
	}
	c->out_off += (size_t)n;
	if (c->out_off < c->out_len)
		arm(m, s, c, POLLOUT);
	else
		conn_close(s, c);
}

void mconn_on_poll(struct master *m, struct mconn_server *s, uint32_t index, uint32_t tag,
		   int res)
{
	struct mconn *c;

	if (index == 0) {
		if (s->lfd >= 0 && res != -ECANCELED)
			accept_all(m, s);
		return;
	}
	if (index > MCONN_MAX)
		return;
	c = &s->conns[index - 1];
	if (c->tag != tag || c->state == MCONN_FREE)
		return;	/* closed since: a stale completion */
	if (res < 0) {
		conn_close(s, c);
		return;
	}
	if (c->state == MCONN_READING)
		conn_read(m, s, c);
	else if (c->state == MCONN_WRITING)
		conn_write(m, s, c);
}

void mconn_tick(struct master *m, struct mconn_server *s, uint64_t now_ms)
{
	for (unsigned i = 0; i < MCONN_MAX; i++) {
		struct mconn *c = &s->conns[i];

		if (c->state == MCONN_READING && now_ms >= c->read_deadline_ms)
			conn_abort(m, s, c);
	}
}

uint64_t mconn_next_deadline(const struct mconn_server *s)
{
	uint64_t next = UINT64_MAX;

	for (unsigned i = 0; i < MCONN_MAX; i++) {
		if (s->conns[i].state == MCONN_READING && s->conns[i].read_deadline_ms < next)
			next = s->conns[i].read_deadline_ms;
	}
	return next;
}
