/* One connection's life: open, assign requests, send them, close, reopen.
 *
 * States (enum gwb_conn_state): IDLE -> CONNECTING -> OPEN [-> DRAIN] ->
 * CLOSING -> IDLE. A connection holds one reference per op in flight
 * (connect, the multishot recv until its last CQE, a send); closing
 * cancels them, and only when the last one has completed is the fd closed
 * and the slot reopened, because until then the kernel may still read the
 * iovecs or post completions naming the slot.
 *
 * Requests: assigned to a connection's FIFO (gwb_conn_fill), handed to the
 * kernel in one send per batch (gwb_conn_flush), answered in order. A
 * request leaves the FIFO exactly once, through resp.c (a response) or
 * gwb_conn_fail_head (an error class). Requests that were sent but not
 * answered when the connection ends without an error of their own (the
 * server closed after an earlier response, or after a timeout of the
 * head) are sent again on the next connection, keeping their due time. */
#include "bench/gwbench/gwbench.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

static uint32_t pipeline(const struct gwb_thread *t)
{
	return t->plan->args->pipeline;
}

/* Append a request due at <due> (0: closed loop) to the FIFO. */
static void conn_push(struct gwb_thread *t, struct gwb_conn *c, uint64_t due, bool counted)
{
	uint32_t i = c->q_head + c->n_q;
	struct gwb_req *r;

	if (i >= pipeline(t))
		i -= pipeline(t);
	r = &c->q[i];
	r->due_ns = due;
	r->sent_ns = t->now;
	r->target = t->next_target;
	r->counted = counted;
	if (++t->next_target == t->plan->n_targets)
		t->next_target = 0;
	c->n_q++;
	t->outstanding++;
}

void gwb_conn_pop_head(struct gwb_thread *t, struct gwb_conn *c)
{
	if (++c->q_head == pipeline(t))
		c->q_head = 0;
	c->n_q--;
	if (c->n_handed)
		c->n_handed--;
	t->outstanding--;
}

void gwb_conn_fail_head(struct gwb_thread *t, struct gwb_conn *c, enum gwb_err_class cls)
{
	if (gwb_conn_head(c)->counted) {
		switch (cls) {
		case GWB_ERR_CONNECT:
			t->st.err_connect++;
			break;
		case GWB_ERR_TIMEOUT:
			t->st.err_timeout++;
			break;
		case GWB_ERR_READ:
			t->st.err_read++;
			break;
		case GWB_ERR_PARSE:
			t->st.err_parse++;
			break;
		}
	}
	gwb_conn_pop_head(t, c);
}

/* Closed loop: keep the FIFO full while the budget lasts (unbounded
 * during warmup, whose requests are not counted). */
static void fill_closed(struct gwb_thread *t, struct gwb_conn *c)
{
	while (c->n_q < pipeline(t)) {
		bool counted = gwb_measuring(t);

		if (counted) {
			if (!t->budget)
				return;
			t->budget--;
		}
		conn_push(t, c, 0, counted);
	}
}

/* Open loop: assign this connection's requests that are due by now, as
 * many as the pipeline allows; the rest stay due and go out as soon as a
 * response frees a place, still measured from their due time. */
static void fill_scheduled(struct gwb_thread *t, struct gwb_conn *c)
{
	while (c->n_q < pipeline(t) && c->next_j < t->j_end) {
		uint64_t due = gwb_sched(t, c->next_j);
		bool counted = c->next_j >= t->j_first;

		if (due > t->now)
			return;
		if (counted) {
			if (!t->budget)
				return;
			t->budget--;
		}
		conn_push(t, c, due, counted);
		c->next_j += t->n_conns;
	}
}

void gwb_conn_fill(struct gwb_thread *t, struct gwb_conn *c)
{
	if (t->stop)
		return;
	if (t->open_loop)
		fill_scheduled(t, c);
	else
		fill_closed(t, c);
}

/* (Re)submit what is left of the batch in snd_iov. */
static void conn_send(struct gwb_thread *t, struct gwb_conn *c)
{
	struct io_uring_sqe *sqe = gwb_sqe(t);
	struct iovec *v = &c->snd_iov[c->snd_first];

	if (c->snd_n - c->snd_first == 1) {
		io_uring_prep_send(sqe, c->fd, v->iov_base, v->iov_len, MSG_NOSIGNAL);
	} else {
		memset(&c->snd_msg, 0, sizeof(c->snd_msg));
		c->snd_msg.msg_iov = v;
		c->snd_msg.msg_iovlen = c->snd_n - c->snd_first;
		io_uring_prep_sendmsg(sqe, c->fd, &c->snd_msg, MSG_NOSIGNAL);
	}
	io_uring_sqe_set_data64(sqe, gwb_ud(OP_SEND, c->idx, c->gen));
	c->send_busy = true;
	c->refs++;
}

/* Hand every assigned but unsent request to the kernel in one send: one
 * SQE per batch, pointing at the preformatted bytes (no copy). The send
 * time is stamped again just before the submit that carries it. */
void gwb_conn_flush(struct gwb_thread *t, struct gwb_conn *c)
{
	uint32_t i, n;

	if (c->state != CS_OPEN || c->send_busy || c->n_handed == c->n_q)
		return;
	n = c->n_q - c->n_handed;
	i = c->q_head + c->n_handed;
	if (i >= pipeline(t))
		i -= pipeline(t);
	c->stamp_first = i;
	c->stamp_cnt = n;
	for (uint32_t k = 0; k < n; k++) {
		struct gwb_req *r = &c->q[i];
		const struct gwb_target *tg = &t->plan->targets[r->target];

		c->snd_iov[k].iov_base = tg->req;
		c->snd_iov[k].iov_len = tg->req_len;
		r->sent_ns = t->now;
		if (++i == pipeline(t))
			i = 0;
	}
	c->snd_first = 0;
	c->snd_n = n;
	c->n_handed = c->n_q;
	if (!c->stamp_pending) {
		c->stamp_pending = true;
		t->stamps[t->n_stamps++] = c->idx;
	}
	conn_send(t, c);
}

void gwb_conn_arm_recv(struct gwb_thread *t, struct gwb_conn *c)
{
	struct io_uring_sqe *sqe = gwb_sqe(t);

	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, gwb_ud(OP_RECV, c->idx, c->gen));
	c->refs++;
}

/* Close the fd and go IDLE once nothing in flight refers to the slot. */
static void conn_maybe_free(struct gwb_thread *t, struct gwb_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->refs || c->state != CS_CLOSING)
		return;
	sqe = gwb_sqe(t);
	io_uring_prep_close(sqe, c->fd);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, gwb_ud(OP_IGNORE, 0, 0));
	c->fd = -1;
	c->state = CS_IDLE;
	c->since = c->retry_at;
	/* Sent but unanswered: they go again on the next connection. */
	c->n_handed = 0;
	gwb_resp_reset(c);
	/* Reopened after this turn's completions, never from inside one of
	 * them, so a handler never sees its connection change under it. */
	if (c->since <= t->now && !c->reopen_pending) {
		c->reopen_pending = true;
		t->reopen[t->n_reopen++] = c->idx;
	}
}

void gwb_conn_close(struct gwb_thread *t, struct gwb_conn *c, uint64_t retry_ns)
{
	struct io_uring_sqe *sqe;

	if (c->state == CS_CLOSING)
		return;
	if (c->state == CS_IDLE) {
		c->since = t->now + retry_ns;
		return;
	}
	c->state = CS_CLOSING;
	c->retry_at = t->now + retry_ns;
	/* A pending recv or connect holds the socket: close() alone would
	 * end neither, so cancel everything on the fd first. */
	if (c->refs) {
		sqe = gwb_sqe(t);
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, gwb_ud(OP_IGNORE, 0, 0));
	}
	conn_maybe_free(t, c);
}

/* The connect (or socket()) failed with <err>: every assigned request is
 * lost to it, and at least one error is counted per failed attempt. */
static void conn_connect_failed(struct gwb_thread *t, struct gwb_conn *c, int err)
{
	t->st.connect_err = err;
	if (!c->n_q && gwb_measuring(t))
		t->st.err_connect++;
	while (c->n_q)
		gwb_conn_fail_head(t, c, GWB_ERR_CONNECT);
	gwb_conn_close(t, c, GWB_RETRY_NS);
}

void gwb_conn_open(struct gwb_thread *t, struct gwb_conn *c)
{
	const struct gwb_plan *p = t->plan;
	struct io_uring_sqe *sqe;
	int fd, one = 1;

	if (t->stop || c->state != CS_IDLE)
		return;
	gwb_conn_fill(t, c);
	/* Closed loop with the budget spent: nothing will ever be sent. */
	if (!t->open_loop && !c->n_q)
		return;
	fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_connect_failed(t, c, -errno);
		return;
	}
	/* Pipelined batches and bodies leave in several segments: do not
	 * let Nagle hold one back for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->gen++;
	c->state = CS_CONNECTING;
	c->since = t->now;
	c->n_handed = 0;
	gwb_resp_reset(c);
	sqe = gwb_sqe(t);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&p->addr, p->addr_len);
	io_uring_sqe_set_data64(sqe, gwb_ud(OP_CONNECT, c->idx, c->gen));
	c->refs++;
}

void gwb_conn_on_connect(struct gwb_thread *t, struct gwb_conn *c, int res)
{
	c->refs--;
	if (c->state == CS_CLOSING) {
		conn_maybe_free(t, c);
		return;
	}
	if (res < 0) {
		conn_connect_failed(t, c, res);
		return;
	}
	c->state = CS_OPEN;
	t->st.connects++;
	gwb_conn_arm_recv(t, c);
	gwb_conn_fill(t, c);
	gwb_conn_flush(t, c);
}

/* Move the batch past <done> bytes the kernel accepted. */
static void snd_advance(struct gwb_conn *c, size_t done)
{
	while (c->snd_first < c->snd_n && done >= c->snd_iov[c->snd_first].iov_len)
		done -= c->snd_iov[c->snd_first++].iov_len;
	if (c->snd_first < c->snd_n) {
		c->snd_iov[c->snd_first].iov_base = (char *)c->snd_iov[c->snd_first].iov_base + done;
		c->snd_iov[c->snd_first].iov_len -= done;
	}
}

void gwb_conn_on_send(struct gwb_thread *t, struct gwb_conn *c, int res)
{
	c->send_busy = false;
	c->refs--;
	if (c->state == CS_CLOSING) {
		conn_maybe_free(t, c);
		return;
	}
	if (c->state != CS_OPEN)
		return;		/* DRAIN: the server is closing; nothing more goes out */
	if (res <= 0) {
		/* Reset or closed under us: the request being answered is lost. */
		if (c->n_handed)
			gwb_conn_fail_head(t, c, GWB_ERR_READ);
		gwb_conn_close(t, c, 0);
		return;
	}
	snd_advance(c, (size_t)res);
	if (c->snd_first < c->snd_n)
		conn_send(t, c);
	else
		gwb_conn_flush(t, c);
}

void gwb_conn_on_recv(struct gwb_thread *t, struct gwb_conn *c, const struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;

	if (!more)
		c->refs--;
	if (res > 0) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (gwb_measuring(t))
			t->st.bytes += (uint64_t)res;
		if (c->state == CS_OPEN)
			gwb_resp_input(t, c, bufring_data(&t->bufs, bid), (size_t)res);
		bufring_put(&t->bufs, bid);
	}
	if (c->state == CS_CLOSING) {
		conn_maybe_free(t, c);
		return;
	}
	if (c->state != CS_OPEN && c->state != CS_DRAIN)
		return;
	if (res == 0 || (res < 0 && res != -ENOBUFS)) {
		gwb_resp_eof(t, c, res);
		return;
	}
	/* Out of provided buffers, or the kernel ended the multishot: the
	 * buffers come back at the end of this turn, so re-arm now. */
	if (!more)
		gwb_conn_arm_recv(t, c);
	gwb_conn_fill(t, c);
	gwb_conn_flush(t, c);
}

/* Deadlines, checked every t->sweep_ns: connect and request timeouts,
 * the wait for a closing server's FIN, and reopening after a failure. */
void gwb_conn_sweep(struct gwb_thread *t, struct gwb_conn *c)
{
	uint64_t timeout = t->plan->args->timeout_ns;

	switch (c->state) {
	case CS_IDLE:
		if (t->now >= c->since)
			gwb_conn_open(t, c);
		break;
	case CS_CONNECTING:
		if (t->now - c->since >= timeout)
			conn_connect_failed(t, c, -ETIMEDOUT);
		break;
	case CS_OPEN:
		if (c->n_handed && t->now - gwb_conn_head(c)->sent_ns >= timeout) {
			gwb_conn_fail_head(t, c, GWB_ERR_TIMEOUT);
			gwb_conn_close(t, c, 0);
		}
		break;
	case CS_DRAIN:
		if (t->now - c->since >= timeout)
			gwb_conn_close(t, c, 0);
		break;
	case CS_CLOSING:
		break;
	}
}
