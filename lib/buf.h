/* Growable byte buffers with a read offset.
 *
 * A buf holds bytes [off, len) that are not consumed yet; data before off is
 * dead and reclaimed by buf_compact(). Capacity grows by doubling up to the
 * limit the caller passes, so a peer can never make us allocate without bound.
 * Parsers keep offsets into a buf, never pointers, because growing moves it. */
#ifndef GW_LIB_BUF_H
#define GW_LIB_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;	/* NULL until the first append */
	size_t off;	/* first unconsumed byte */
	size_t len;	/* end of valid bytes */
	size_t cap;	/* allocated bytes */
};

/* Bytes not yet consumed. */
static inline size_t buf_avail(const struct buf *b) { return b->len - b->off; }
static inline char *buf_head(const struct buf *b) { return b->data + b->off; }

/* Make room for at least <want> more bytes after len, so long as the
 * unconsumed bytes then number at most <limit>. Returns 0, -ENOBUFS (over
 * the limit) or -ENOMEM. */
int buf_reserve(struct buf *b, size_t want, size_t limit);

/* Append <n> bytes; 0 or -errno as buf_reserve(). */
int buf_append(struct buf *b, const void *src, size_t n, size_t limit);

/* Append <v> in decimal (no printf on the per-request path); 0 or -errno. */
int buf_append_u64(struct buf *b, uint64_t v, size_t limit);

/* Append a NUL-free formatted string; 0 or -errno. */
int buf_printf(struct buf *b, size_t limit, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Mark <n> bytes consumed; resets to empty when everything is consumed. */
void buf_consume(struct buf *b, size_t n);

/* Move unconsumed bytes to the front. Invalidates pointers, not offsets
 * relative to off. */
void buf_compact(struct buf *b);

/* Drop contents, keep the allocation. */
static inline void buf_reset(struct buf *b) { b->off = b->len = 0; }

/* Free the allocation. */
void buf_free(struct buf *b);

#endif
