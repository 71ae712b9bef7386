#include "worker/conn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/log.h"
#include "worker/client.h"
#include "worker/deadline.h"
#include "worker/tlsconn.h"
#include "worker/upstream.h"

struct conn *conn_alloc(struct worker *w, enum conn_kind kind, int fd)
{
	if (w->n_free == 0)
		return NULL;
	struct conn *c = &w->conns[w->free_conns[--w->n_free]];

	c->kind = kind;
	c->fd = fd;
	c->inflight = 0;
	c->recv_armed = c->recv_paused = c->send_busy = false;
	c->closing = c->shut_wr = c->peer_eof = false;
	c->tls_fin = c->tls_dead = false;
	c->tls = NULL;
	buf_reset(&c->in);
	c->fill = 0;
	memset(&c->timer, 0, sizeof(c->timer));
	deadline_send_init(c);
	c->ip_counted = false;
	memset(&c->client, 0, sizeof(c->client) > sizeof(c->up) ? sizeof(c->client) : sizeof(c->up));
	return c;
}

struct conn *conn_lookup(struct worker *w, uint32_t index, uint32_t gen)
{
	if (index >= w->n_conns)
		return NULL;
	struct conn *c = &w->conns[index];
	return c->gen == gen && c->kind != CONN_FREE ? c : NULL;
}

/* Large buffers go back to the allocator so an idle slot does not pin the
 * memory of the biggest message it ever carried. */
static void trim_buf(struct buf *b)
{
	if (b->cap > (64u << 10))
		buf_free(b);
	else
		buf_reset(b);
}

static void release_slot(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = wk_sqe(w);

	io_uring_prep_close(sqe, c->fd);
	io_uring_sqe_set_data64(sqe, ud_make(OP_CLOSE, 0, 0));
	trim_buf(&c->in);
	/* No send is in flight now: held receive buffers can go back. */
	outq_drop(&c->out[0], &w->bufs);
	outq_drop(&c->out[1], &w->bufs);
	tlsconn_free(c);
	c->fd = -1;
	c->kind = CONN_FREE;
	c->gen++;
	w->free_conns[w->n_free++] = c->index;
}

static void maybe_release(struct worker *w, struct conn *c)
{
	if (c->closing && c->inflight == 0)
		release_slot(w, c);
}

void conn_arm_recv(struct worker *w, struct conn *c)
{
	if (c->recv_armed || c->recv_paused || c->closing || c->peer_eof)
		return;
	struct io_uring_sqe *sqe = wk_sqe(w);
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (__u16)w->bufs.bgid;
	io_uring_sqe_set_data64(sqe, ud_make(OP_RECV, c->index, c->gen));
	c->recv_armed = true;
	c->inflight++;
}

void conn_pause_recv(struct worker *w, struct conn *c)
{
	if (c->recv_paused)
		return;
	c->recv_paused = true;
	if (!c->recv_armed)
		return;
	struct io_uring_sqe *sqe = wk_sqe(w);
	io_uring_prep_cancel64(sqe, ud_make(OP_RECV, c->index, c->gen), 0);
	io_uring_sqe_set_data64(sqe, ud_make(OP_CANCEL, 0, 0));
}

void conn_resume_recv(struct worker *w, struct conn *c)
{
	if (!c->recv_paused)
		return;
	c->recv_paused = false;
	conn_arm_recv(w, c);
}

int conn_queue(struct conn *c, const void *data, size_t len)
{
	return outq_append(&c->out[c->fill], data, len, CONN_OUT_CAP);
}

bool conn_queue_held(struct worker *w, struct conn *c, unsigned bid, const char *p, size_t len)
{
	if (!bufring_hold(&w->bufs))
		return false;
	if (outq_hold(&c->out[c->fill], (int)bid, p, len))
		return true;
	w->bufs.held--;	/* not taken after all: the caller recycles it */
	return false;
}

struct buf *conn_out_begin(struct conn *c)
{
	return outq_bytes(&c->out[c->fill]);
}

void conn_out_end(struct conn *c, size_t before)
{
	outq_commit(&c->out[c->fill], before);
}

static void submit_send(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = wk_sqe(w);

	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = (size_t)outq_iov(&c->out[c->fill ^ 1], c->iov);
	io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud_make(OP_SEND, c->index, c->gen));
	c->send_busy = true;
	c->inflight++;
	deadline_send(w, c);
}

/* TLS: the plaintext queue stays out[fill]; what is sent is its
 * ciphertext, sealed into out[fill ^ 1] (tlsconn.h). A failed seal ends the
 * connection once whatever alert it left is out. */
static void flush_tls(struct worker *w, struct conn *c)
{
	int err = tlsconn_seal(w, c);

	if (err) {
		c->tls_dead = true;
		if (err == -ENOBUFS)
			log_warn("connection %u: TLS output over %u bytes, closing", c->index,
				 CONN_OUT_CAP);
	}
	if (c->out[c->fill ^ 1].total > 0) {
		submit_send(w, c);
		return;
	}
	if (c->tls_dead) {
		/* Nothing left to say: end both directions, and the recv's
		 * completion closes the connection through the usual path. */
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	if (c->tls_fin) {
		/* The close_notify is out: now the FIN (see conn_shutdown_write). */
		c->tls_fin = false;
		shutdown(c->fd, SHUT_WR);
	}
}

void conn_flush(struct worker *w, struct conn *c)
{
	if (c->send_busy || c->closing)
		return;
	if (c->tls) {
		flush_tls(w, c);
		return;
	}
	if (c->out[c->fill].total == 0)
		return;
	/* The filling queue goes out; the spent one takes new bytes. Nothing
	 * is copied. */
	c->fill ^= 1;
	submit_send(w, c);
}

void conn_shutdown_write(struct worker *w, struct conn *c)
{
	if (c->shut_wr || c->closing)
		return;
	/* A direct call, not IORING_OP_SHUTDOWN: the ring always hands that op
	 * to an io-wq thread (a wakeup and a context switch per connection),
	 * while shutdown(2) of a TCP write side only queues a FIN and never
	 * blocks. ENOTCONN (the peer reset first) changes nothing for us. */
	c->shut_wr = true;
	if (c->tls && !c->tls_dead) {
		/* close_notify first (RFC 8446 §6.1), then the FIN once it is
		 * sent: a client must be able to tell our close from a
		 * truncation attack. */
		tlsconn_close_notify(c);
		c->tls_fin = true;
		conn_flush(w, c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
}

void conn_close(struct worker *w, struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	timer_cancel(&w->timers, &c->timer);
	deadline_send_cancel(w, c);
	if (c->inflight > 0) {
		struct io_uring_sqe *sqe = wk_sqe(w);
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, ud_make(OP_CANCEL, 0, 0));
	}
	maybe_release(w, c);
}

void conn_recycle_buffer(struct worker *w, unsigned bid)
{
	bufring_put(&w->bufs, bid);
}

/* Hand fresh bytes to the kind's fast path before they are copied. */
static size_t offer(struct worker *w, struct conn *c, unsigned bid, const char *data, size_t len,
		    bool *held)
{
	struct rx rx = { bid, data, len, held };

	if (c->kind == CONN_CLIENT)
		return client_offer(w, c, &rx);
	return upstream_offer(w, c, &rx);
}

static void deliver_data(struct worker *w, struct conn *c)
{
	if (c->kind == CONN_CLIENT)
		client_on_data(w, c);
	else
		upstream_on_data(w, c);
}

static void deliver_eof(struct worker *w, struct conn *c, int err)
{
	if (c->kind == CONN_CLIENT)
		client_on_eof(w, c, err);
	else
		upstream_on_eof(w, c, err);
}

/* Take a completed recv's bytes: first offered to the kind's fast path,
 * the rest appended to ->in. Returns the bytes appended, or -errno when
 * ->in would pass its cap. The buffer goes back to the ring either way. */
static ssize_t take_bytes(struct worker *w, struct conn *c, unsigned bid, size_t len)
{
	const char *data = bufring_data(&w->bufs, bid);
	bool held = false;

	if (c->tls) {
		ssize_t fresh = tlsconn_input(c, data, len);

		conn_recycle_buffer(w, bid);
		return fresh;
	}
	size_t used = buf_avail(&c->in) == 0 ? offer(w, c, bid, data, len, &held) : 0;
	int err = 0;

	/* A held buffer stays valid until its send completes, so copying the
	 * rest of it now is safe either way. */
	if (used < len && !c->closing)
		err = buf_append(&c->in, data + used, len - used, CONN_IN_CAP);
	if (!held)
		conn_recycle_buffer(w, bid);
	return err ? err : (ssize_t)(len - used);
}

/* After ciphertext was taken: send what the handshake produced, deliver
 * the plaintext, and end the connection on the peer's close_notify or a
 * failure. True when the recv's completion needs nothing more. */
static bool on_tls_input(struct worker *w, struct conn *c, ssize_t fresh)
{
	if (fresh == -EPROTO) {
		/* Send the alert, then close (conn_on_send). */
		c->tls_dead = true;
		conn_pause_recv(w, c);
		conn_flush(w, c);
		if (!c->send_busy)
			deliver_eof(w, c, -EPROTO);
		return true;
	}
	if (fresh < 0)
		return false;
	if (!c->send_busy)
		conn_flush(w, c);	/* handshake bytes, session tickets */
	if (fresh > 0)
		deliver_data(w, c);
	if (!c->closing && tlsconn_peer_closed(c)) {
		c->peer_eof = true;
		deliver_eof(w, c, 0);
		return true;
	}
	if (!c->closing && !c->recv_armed)
		conn_arm_recv(w, c);
	return true;
}

void conn_on_recv(struct worker *w, struct conn *c, const struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;
	ssize_t fresh = 0;

	if (res > 0 && !c->closing)
		fresh = take_bytes(w, c, cqe->flags >> IORING_CQE_BUFFER_SHIFT, (size_t)res);
	else if (cqe->flags & IORING_CQE_F_BUFFER)
		conn_recycle_buffer(w, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	if (!more) {
		c->recv_armed = false;
		c->inflight--;
	}
	if (c->closing) {
		maybe_release(w, c);
		return;
	}
	if (c->tls && res > 0 && on_tls_input(w, c, fresh))
		return;
	if (fresh < 0) {
		log_warn("connection %u: more than %u bytes unread, closing", c->index, CONN_IN_CAP);
		deliver_eof(w, c, (int)fresh);
	} else if (res > 0) {
		if (!more)
			conn_arm_recv(w, c);	/* e.g. the CQ overflowed: keep reading */
		if (fresh > 0)
			deliver_data(w, c);
	} else if (res == -ENOBUFS || res == -ECANCELED) {
		/* ENOBUFS: the buffer ring ran dry for a moment; buffers come
		 * back as soon as this turn's data is copied out. ECANCELED: we
		 * paused reading, and may have resumed since. Either way read
		 * again unless paused. */
		conn_arm_recv(w, c);
	} else if (res == 0) {
		c->peer_eof = true;
		deliver_eof(w, c, 0);
	} else {
		deliver_eof(w, c, res);
	}
}

void conn_on_send(struct worker *w, struct conn *c, int res)
{
	c->send_busy = false;
	c->inflight--;
	if (c->closing) {
		maybe_release(w, c);
		return;
	}
	if (res < 0) {
		deliver_eof(w, c, res);
		return;
	}
	if (outq_advance(&c->out[c->fill ^ 1], (size_t)res, &w->bufs) > 0) {
		submit_send(w, c);	/* a partial send: the rest of the same queue */
	} else if (c->tls_dead) {
		deliver_eof(w, c, -EPROTO);	/* the TLS alert is out */
		return;
	} else {
		conn_flush(w, c);
	}
	if (!c->send_busy)
		deadline_send_cancel(w, c);	/* else submit_send() re-armed it */
	if (c->kind == CONN_CLIENT)
		client_on_sent(w, c);
	else
		upstream_on_sent(w, c);
}

void conn_on_connect(struct worker *w, struct conn *c, int res)
{
	c->inflight--;
	if (c->closing) {
		maybe_release(w, c);
		return;
	}
	upstream_on_connect(w, c, res);
}
