/* gw-echo's per-thread event loop: one io_uring, one dispatch switch.
 *
 * Flow: multishot accept -> multishot recv into the thread's provided
 * buffers -> bytes copied to the connection's ->in -> echo_conn_advance()
 * formats answers into ->out -> one send at a time from ->out. Every SQE
 * prepared while reaping a batch of completions goes to the kernel in the
 * single io_uring_submit_and_wait() of the next turn.
 *
 * Connection life cycle: a slot is taken on accept and holds one reference
 * per in-flight op (the multishot recv until its final CQE, a send, a
 * timer). echo_conn_close() cancels them; the slot is recycled, and the fd
 * closed, only when the last reference completes, because until then the
 * kernel may still read ->out or post completions naming the slot. The
 * generation in user_data catches any completion that outlives its slot. */
#include "bench/echo.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/uring_compat.h"

#define LOOP_SQ_ENTRIES	2048
#define LOOP_CQ_ENTRIES	16384
#define LOOP_BR_ENTRIES	256		/* provided buffers per thread, power of two */
#define LOOP_BR_SIZE	(16u << 10)	/* bytes per provided buffer */
#define LOOP_BGID	0
#define LOOP_MAX_CONNS	20000		/* ulimit -n on these machines */

enum loop_op {
	OP_ACCEPT = 1,	/* idx: listener */
	OP_RECV,	/* idx: connection, multishot */
	OP_SEND,
	OP_TIMER,	/* ?delay or linger */
	OP_WAKE,	/* eventfd read: stop */
	OP_IGNORE,	/* cancel, timeout removal, close */
};

/* user_data: op in bits 0-7, slot in 8-31, generation in 32-63. */
static inline uint64_t ud_make(enum loop_op op, uint32_t idx, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)(idx & 0xffffff) << 8 | op;
}

static inline enum loop_op ud_op(uint64_t ud) { return (enum loop_op)(ud & 0xff); }
static inline uint32_t ud_idx(uint64_t ud) { return (uint32_t)(ud >> 8) & 0xffffff; }
static inline uint32_t ud_gen(uint64_t ud) { return (uint32_t)(ud >> 32); }

/* An SQE, submitting what is queued if the SQ is full. Never NULL: after a
 * submit the SQ has room again, and running out of SQEs mid-turn must not
 * lose an operation. */
struct io_uring_sqe *echo_sqe(struct echo_thread *t)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&t->ring)))
		io_uring_submit(&t->ring);
	return sqe;
}

static void loop_arm_accept(struct echo_thread *t, unsigned li)
{
	struct io_uring_sqe *sqe = echo_sqe(t);

	io_uring_prep_multishot_accept(sqe, t->lst[li].fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud_make(OP_ACCEPT, li, 0));
}

static void loop_arm_wake(struct echo_thread *t)
{
	struct io_uring_sqe *sqe = echo_sqe(t);

	io_uring_prep_read(sqe, t->wake_fd, &t->wake_val, sizeof(t->wake_val), 0);
	io_uring_sqe_set_data64(sqe, ud_make(OP_WAKE, 0, 0));
}

static void conn_arm_recv(struct echo_thread *t, struct echo_conn *c)
{
	struct io_uring_sqe *sqe = echo_sqe(t);

	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = LOOP_BGID;
	io_uring_sqe_set_data64(sqe, ud_make(OP_RECV, c->idx, c->gen));
	c->recv_armed = true;
	c->refs++;
}

void echo_conn_arm_timer(struct echo_thread *t, struct echo_conn *c, uint32_t ms)
{
	struct io_uring_sqe *sqe = echo_sqe(t);

	c->ts.tv_sec = ms / 1000;
	c->ts.tv_nsec = (long long)(ms % 1000) * 1000000;
	io_uring_prep_timeout(sqe, &c->ts, 0, 0);
	io_uring_sqe_set_data64(sqe, ud_make(OP_TIMER, c->idx, c->gen));
	c->timer_armed = true;
	c->refs++;
}

/* Send what ->out holds unless a send is already in flight; ->out stays
 * frozen until its completion. */
void echo_conn_flush(struct echo_thread *t, struct echo_conn *c)
{
	struct io_uring_sqe *sqe;
	size_t n = buf_avail(&c->out);

	if (c->send_busy || !n || c->phase == PH_CLOSING)
		return;
	sqe = echo_sqe(t);
	io_uring_prep_send(sqe, c->fd, buf_head(&c->out), n, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud_make(OP_SEND, c->idx, c->gen));
	c->sending = (uint32_t)n;
	c->send_busy = true;
	c->refs++;
}

/* Keep big buffers from one ?echo=body or ?size request from pinning
 * memory for the rest of a long keep-alive connection. */
static void conn_trim(struct echo_conn *c)
{
	if (c->in.cap > (1u << 20))
		buf_free(&c->in);
	else
		buf_reset(&c->in);
	if (c->out.cap > (1u << 20))
		buf_free(&c->out);
	else
		buf_reset(&c->out);
}

/* Recycle the slot once nothing in flight refers to it. Safe to call
 * again on a slot already recycled in the same completion (fd is -1). */
static void conn_maybe_free(struct echo_thread *t, struct echo_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->refs || c->fd < 0)
		return;
	sqe = echo_sqe(t);
	io_uring_prep_close(sqe, c->fd);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, ud_make(OP_IGNORE, 0, 0));
	c->fd = -1;
	conn_trim(c);
	t->free_slots[t->n_free++] = c->idx;
}

/* Start closing <c>. With <rst>, SO_LINGER 0 makes the close send RST
 * instead of FIN (?reset=1, and connections we give up on). */
void echo_conn_close(struct echo_thread *t, struct echo_conn *c, bool rst)
{
	struct io_uring_sqe *sqe;

	if (c->phase == PH_CLOSING)
		return;
	c->phase = PH_CLOSING;
	if (rst) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	/* A pending recv holds a reference to the socket, so close() alone
	 * would neither end it nor release the socket: cancel first. */
	if (c->recv_armed || c->send_busy) {
		sqe = echo_sqe(t);
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, ud_make(OP_IGNORE, 0, 0));
	}
	if (c->timer_armed) {
		sqe = echo_sqe(t);
		io_uring_prep_timeout_remove(sqe, ud_make(OP_TIMER, c->idx, c->gen), 0);
		io_uring_sqe_set_data64(sqe, ud_make(OP_IGNORE, 0, 0));
	}
	conn_maybe_free(t, c);
}

static struct echo_conn *conn_open(struct echo_thread *t, int fd, uint16_t port)
{
	struct echo_conn *c;
	uint32_t idx;
	int one = 1;

	if (!t->n_free)
		return NULL;
	idx = t->free_slots[t->n_free - 1];
	c = t->conns[idx];
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->idx = idx;
		t->conns[idx] = c;
	}
	t->n_free--;
	c->fd = fd;
	c->gen++;
	c->port = port;
	c->refs = 0;
	c->recv_armed = c->send_busy = c->timer_armed = false;
	c->close_after = c->peer_eof = false;
	echo_conn_reset_request(c);
	/* Answers often leave in two sends (head, then body pieces): do not
	 * let Nagle hold the second one back for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

static void on_accept(struct echo_thread *t, unsigned li, const struct io_uring_cqe *cqe)
{
	struct echo_conn *c;

	if (!(cqe->flags & IORING_CQE_F_MORE) && !t->stop)
		loop_arm_accept(t, li);
	if (cqe->res < 0) {
		log_debug("accept failed: %s", strerror(-cqe->res));
		return;
	}
	c = conn_open(t, cqe->res, t->lst[li].port);
	if (!c) {
		log_warn("no connection slot free, closing fd %d", cqe->res);
		close(cqe->res);
		return;
	}
	conn_arm_recv(t, c);
}

/* Hand a provided buffer back; the kernel sees it at the end of the turn. */
static void loop_return_buf(struct echo_thread *t, unsigned bid)
{
	bufring_put(&t->bufs, bid);
}

static void conn_input(struct echo_thread *t, struct echo_conn *c, const char *data, size_t n)
{
	/* Nothing more will be answered: drop what arrives. */
	if (c->phase >= PH_FINAL)
		return;
	if (buf_append(&c->in, data, n, ECHO_IN_LIMIT) < 0) {
		log_debug("conn %u: input over %u bytes, closing", c->idx, ECHO_IN_LIMIT);
		echo_conn_close(t, c, true);
		return;
	}
	echo_conn_advance(t, c);
}

static void conn_eof(struct echo_thread *t, struct echo_conn *c)
{
	c->peer_eof = true;
	if (c->phase == PH_HANG || c->phase == PH_LINGER)
		echo_conn_close(t, c, false);
	else
		echo_conn_advance(t, c);
}

static void on_recv(struct echo_thread *t, struct echo_conn *c, const struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;

	if (!more) {
		c->recv_armed = false;
		c->refs--;
	}
	if (res > 0) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		conn_input(t, c, bufring_data(&t->bufs, bid), (size_t)res);
		loop_return_buf(t, bid);
	}
	if (c->phase == PH_CLOSING) {
		conn_maybe_free(t, c);
		return;
	}
	if (res == 0) {
		conn_eof(t, c);
	} else if (res > 0 || res == -ENOBUFS) {
		/* Out of provided buffers, or the kernel ended the multishot:
		 * the buffers come back at the end of this turn, re-arm. */
		if (!more)
			conn_arm_recv(t, c);
	} else {
		log_debug("conn %u: recv: %s", c->idx, strerror(-res));
		echo_conn_close(t, c, true);
	}
}

static void on_send(struct echo_thread *t, struct echo_conn *c, int res)
{
	c->send_busy = false;
	c->refs--;
	if (c->phase == PH_CLOSING) {
		conn_maybe_free(t, c);
		return;
	}
	if (res < 0) {
		log_debug("conn %u: send: %s", c->idx, strerror(-res));
		echo_conn_close(t, c, true);
		return;
	}
	buf_consume(&c->out, (size_t)res);
	echo_conn_advance(t, c);
}

static void on_timer(struct echo_thread *t, struct echo_conn *c, int res)
{
	c->timer_armed = false;
	c->refs--;
	if (c->phase == PH_CLOSING) {
		conn_maybe_free(t, c);
		return;
	}
	if (res != -ETIME)
		return;
	if (c->phase == PH_LINGER) {
		echo_conn_close(t, c, false);
	} else if (c->phase == PH_DELAY) {
		c->phase = PH_REPLY;
		echo_conn_advance(t, c);
	}
}

static void loop_dispatch(struct echo_thread *t, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	struct echo_conn *c;

	switch (ud_op(ud)) {
	case OP_ACCEPT:
		on_accept(t, ud_idx(ud), cqe);
		return;
	case OP_WAKE:
		t->stop = true;
		return;
	case OP_IGNORE:
		return;
	default:
		break;
	}
	c = ud_idx(ud) < t->n_slots ? t->conns[ud_idx(ud)] : NULL;
	if (!c || c->gen != ud_gen(ud) || c->fd < 0) {
		/* Cannot happen: slots live until their last completion. */
		log_error("stray completion op %u slot %u", ud_op(ud), ud_idx(ud));
		return;
	}
	switch (ud_op(ud)) {
	case OP_RECV:
		on_recv(t, c, cqe);
		break;
	case OP_SEND:
		on_send(t, c, cqe->res);
		break;
	case OP_TIMER:
		on_timer(t, c, cqe->res);
		break;
	default:
		break;
	}
}

/* One loop turn: submit everything prepared since the last turn and wait
 * for at least one completion, reap all completions, then hand the
 * provided buffers they used back to the kernel in one step. */
static int loop_turn(struct echo_thread *t)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	int ret;

	ret = io_uring_submit_and_wait(&t->ring, 1);
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
		log_error("io_uring_submit_and_wait() failed: %s", strerror(-ret));
		return ret;
	}
	io_uring_for_each_cqe(&t->ring, head, cqe) {
		loop_dispatch(t, cqe);
		n++;
	}
	io_uring_cq_advance(&t->ring, n);
	bufring_publish(&t->bufs);
	return 0;
}

static int loop_ring_init(struct echo_thread *t)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
	p.cq_entries = LOOP_CQ_ENTRIES;
	ret = io_uring_queue_init_params(LOOP_SQ_ENTRIES, &t->ring, &p);
	if (ret == -EINVAL) {
		/* Older kernel: no DEFER_TASKRUN; still correct, a bit slower. */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = LOOP_CQ_ENTRIES;
		ret = io_uring_queue_init_params(LOOP_SQ_ENTRIES, &t->ring, &p);
	}
	if (ret < 0) {
		log_error("io_uring_queue_init_params() failed: %s", strerror(-ret));
		return ret;
	}
	/* Saves the ring fd lookup on every io_uring_enter(); optional. */
	io_uring_register_ring_fd(&t->ring);
	return 0;
}

static int loop_bufs_init(struct echo_thread *t)
{
	int err = bufring_init(&t->bufs, &t->ring, LOOP_BR_ENTRIES, LOOP_BR_SIZE, LOOP_BGID);

	if (err)
		log_error("receive buffers: %s", strerror(-err));
	return err;
}

static int loop_table_init(struct echo_thread *t)
{
	t->n_slots = LOOP_MAX_CONNS;
	t->conns = calloc(t->n_slots, sizeof(*t->conns));
	t->free_slots = malloc(t->n_slots * sizeof(*t->free_slots));
	if (!t->conns || !t->free_slots)
		return -ENOMEM;
	/* Low slots on top of the stack, so a small test touches few. */
	for (uint32_t i = 0; i < t->n_slots; i++)
		t->free_slots[i] = t->n_slots - 1 - i;
	t->n_free = t->n_slots;
	return 0;
}

static void loop_table_free(struct echo_thread *t)
{
	for (uint32_t i = 0; t->conns && i < t->n_slots; i++) {
		struct echo_conn *c = t->conns[i];

		if (!c)
			continue;
		if (c->fd >= 0)
			close(c->fd);
		buf_free(&c->in);
		buf_free(&c->out);
		free(c);
	}
	free(t->conns);
	free(t->free_slots);
	t->conns = NULL;
	t->free_slots = NULL;
}

static int loop_setup(struct echo_thread *t)
{
	int err;

	err = loop_ring_init(t);
	if (err)
		return err;
	err = loop_bufs_init(t);
	if (err)
		goto err_ring;
	err = loop_table_init(t);
	if (err)
		goto err_table;
	for (unsigned i = 0; i < t->n_lst; i++)
		loop_arm_accept(t, i);
	loop_arm_wake(t);
	return 0;

err_table:
	loop_table_free(t);
	bufring_free(&t->bufs, &t->ring);
err_ring:
	io_uring_queue_exit(&t->ring);
	return err;
}

static void loop_teardown(struct echo_thread *t)
{
	bufring_free(&t->bufs, &t->ring);
	/* Exiting the ring cancels every op, so the memory they name can go. */
	io_uring_queue_exit(&t->ring);
	loop_table_free(t);
	buf_free(&t->scratch);
}

/* Thread entry: <arg> is the struct echo_thread, with lst, n_lst, wake_fd
 * and ready filled in. Sets ->err, then posts ->ready either way so the
 * main thread learns whether setup worked before it reports readiness. */
void *echo_thread_main(void *arg)
{
	struct echo_thread *t = arg;

	t->err = loop_setup(t);
	sem_post(t->ready);
	if (t->err)
		return NULL;
	while (!t->stop) {
		t->err = loop_turn(t);
		if (t->err) {
			/* The main thread sits in sigwait(): wake it. */
			kill(getpid(), SIGTERM);
			break;
		}
	}
	loop_teardown(t);
	return NULL;
}
