/* Unit test for worker/outq.c over a real provided-buffer ring: owned and
 * held segments come out in order as iovecs, owned bytes coalesce, partial
 * sends resume mid-segment, held buffers go back to the ring exactly once
 * (when fully sent, or when dropped), and a segment is always left for
 * owned bytes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/check.h"
#include "worker/outq.h"

/* Concatenate what outq_iov() says is left to send. */
static size_t gather(const struct outq *q, char *out)
{
	struct iovec iov[OUTQ_SEGS];
	int n = outq_iov(q, iov);
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return len;
}

static void test_order_and_partial(struct bufring *br)
{
	struct outq q;
	char got[256];

	memset(&q, 0, sizeof(q));
	memcpy(bufring_data(br, 3), "HELD-BYTES", 10);
	CHECK_INT(outq_append(&q, "head:", 5, 1 << 20), 0);
	CHECK_INT(outq_append(&q, "more;", 5, 1 << 20), 0);
	CHECK_INT(q.n, 1);	/* contiguous owned bytes share a segment */
	CHECK(bufring_hold(br));
	CHECK(outq_hold(&q, 3, bufring_data(br, 3), 10));
	struct buf *b = outq_bytes(&q);
	size_t before = b->len;
	buf_printf(b, 1 << 20, "|tail %d", 42);
	outq_commit(&q, before);
	CHECK_INT(q.n, 3);
	CHECK_INT(q.total, 5 + 5 + 10 + 8);
	size_t len = gather(&q, got);
	CHECK_INT(len, 28);
	CHECK(memcmp(got, "head:more;HELD-BYTES|tail 42", 28) == 0);

	/* A partial send ends inside the held segment. */
	CHECK_INT(outq_advance(&q, 13, br), 15);
	CHECK_INT(br->held, 1);
	len = gather(&q, got);
	CHECK_INT(len, 15);
	CHECK(memcmp(got, "D-BYTES|tail 42", 15) == 0);
	/* The held buffer goes back once it is fully sent. */
	CHECK_INT(outq_advance(&q, 7, br), 8);
	CHECK_INT(br->held, 0);
	CHECK_INT(outq_advance(&q, 8, br), 0);
	CHECK_INT(q.n, 0);	/* reset for reuse */
	outq_free(&q);
}

static void test_drop_and_limits(struct bufring *br)
{
	struct outq q;
	unsigned taken = 0;

	memset(&q, 0, sizeof(q));
	for (unsigned bid = 0; bid < OUTQ_SEGS + 4; bid++) {
		if (!bufring_hold(br))
			break;
		if (outq_hold(&q, (int)bid, bufring_data(br, bid), 100)) {
			taken++;
		} else {
			br->held--;
			break;
		}
	}
	/* One segment is kept for owned bytes. */
	CHECK_INT(taken, OUTQ_SEGS - 1);
	CHECK_INT(outq_append(&q, "x", 1, 1 << 20), 0);
	CHECK_INT(outq_append(&q, "y", 1, 1 << 20), 0);
	CHECK_INT(q.n, OUTQ_SEGS);
	CHECK_INT(outq_append(&q, "zzz", 3, 4), -ENOBUFS);	/* 2 + 3 > 4 */
	CHECK_INT(q.total, (OUTQ_SEGS - 1) * 100 + 2);
	CHECK_INT(br->held, OUTQ_SEGS - 1);
	outq_drop(&q, br);
	CHECK_INT(br->held, 0);
	CHECK_INT(q.total, 0);
	outq_free(&q);
}

static void test_ring_guard(struct bufring *br)
{
	unsigned n = 0;

	while (bufring_hold(br))
		n++;
	CHECK_INT(n, br->entries / 2);	/* half the ring stays for receives */
	br->held = 0;
}

int main(void)
{
	struct io_uring ring;
	struct bufring br;

	if (io_uring_queue_init(8, &ring, 0) != 0) {
		fprintf(stderr, "io_uring unavailable\n");
		return T_EXIT_FAIL;
	}
	CHECK_INT(bufring_init(&br, &ring, 64, 256, 0), 0);
	test_order_and_partial(&br);
	test_drop_and_limits(&br);
	test_ring_guard(&br);
	bufring_free(&br, &ring);
	io_uring_queue_exit(&ring);
	return CHECK_EXIT();
}
