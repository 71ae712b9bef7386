#include "worker/outq.h"

#include <errno.h>

static void reset(struct outq *q)
{
	if (q->bytes.cap > (64u << 10))
		buf_free(&q->bytes);	/* do not pin the largest burst's memory */
	else
		buf_reset(&q->bytes);
	q->n = q->done = q->done_off = 0;
	q->total = 0;
}

/* Extend the last segment when it is owned and ends where new bytes start. */
static void add_owned(struct outq *q, size_t off, size_t len)
{
	struct outseg *last = q->n ? &q->seg[q->n - 1] : NULL;

	if (last && last->bid < 0 && last->off + last->len == off) {
		last->len += (uint32_t)len;
	} else {
		/* outq_hold() leaves a segment free, and once it is used the
		 * last segment is owned and contiguous, so this never overflows. */
		q->seg[q->n++] = (struct outseg){ NULL, (uint32_t)off, (uint32_t)len, -1 };
	}
	q->total += len;
}

int outq_append(struct outq *q, const void *data, size_t len, size_t limit)
{
	size_t off = q->bytes.len;
	int err;

	if (len == 0)
		return 0;
	err = buf_append(&q->bytes, data, len, limit);
	if (err)
		return err;
	add_owned(q, off, len);
	return 0;
}

void outq_commit(struct outq *q, size_t before)
{
	if (q->bytes.len > before)
		add_owned(q, before, q->bytes.len - before);
}

bool outq_hold(struct outq *q, int bid, const char *p, size_t len)
{
	if (q->n >= OUTQ_SEGS - 1 || len == 0)
		return false;
	q->seg[q->n++] = (struct outseg){ p, 0, (uint32_t)len, bid };
	q->total += len;
	return true;
}

int outq_iov(const struct outq *q, struct iovec *iov)
{
	int k = 0;

	for (uint32_t i = q->done; i < q->n; i++, k++) {
		const struct outseg *s = &q->seg[i];
		size_t skip = i == q->done ? q->done_off : 0;
		const char *base = s->bid >= 0 ? s->p : q->bytes.data + s->off;
		iov[k].iov_base = (void *)(base + skip);
		iov[k].iov_len = s->len - skip;
	}
	return k;
}

static void release(struct outseg *s, struct bufring *br)
{
	if (s->bid >= 0) {
		bufring_put_held(br, (unsigned)s->bid);
		s->bid = -1;
	}
}

size_t outq_advance(struct outq *q, size_t n, struct bufring *br)
{
	q->total -= n;
	while (n > 0 && q->done < q->n) {
		struct outseg *s = &q->seg[q->done];
		size_t left = s->len - q->done_off;
		if (n < left) {
			q->done_off += (uint32_t)n;
			break;
		}
		n -= left;
		release(s, br);
		q->done++;
		q->done_off = 0;
	}
	if (q->total == 0)
		reset(q);
	return q->total;
}

void outq_drop(struct outq *q, struct bufring *br)
{
	for (uint32_t i = q->done; i < q->n; i++)
		release(&q->seg[i], br);
	reset(q);
}

void outq_free(struct outq *q)
{
	buf_free(&q->bytes);
}
