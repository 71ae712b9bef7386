#include "lib/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(struct buf *b, size_t want, size_t limit)
{
	size_t need = b->len + want;

	/* The limit bounds the bytes held, whatever was allocated before. */
	if (b->len - b->off + want > limit)
		return -ENOBUFS;
	if (need <= b->cap)
		return 0;
	if (b->off > 0 && need - b->off <= b->cap) {
		buf_compact(b);
		return 0;
	}
	need -= b->off;
	if (need > limit)
		return -ENOBUFS;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	buf_compact(b);
	char *data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *src, size_t n, size_t limit)
{
	int err = buf_reserve(b, n, limit);

	if (err || n == 0)
		return err;
	memcpy(b->data + b->len, src, n);
	b->len += n;
	return 0;
}

int buf_append_u64(struct buf *b, uint64_t v, size_t limit)
{
	char digits[20];
	size_t n = sizeof(digits);

	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return buf_append(b, digits + n, sizeof(digits) - n, limit);
}

int buf_printf(struct buf *b, size_t limit, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->cap - b->len;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (b->len - b->off + (size_t)n > limit)
		return -ENOBUFS;	/* nothing counted: len is unchanged */
	if ((size_t)n >= room) {
		int err = buf_reserve(b, (size_t)n + 1, limit);
		if (err)
			return err;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void buf_compact(struct buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->data, b->data + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}
