#include "worker/appender.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int appender_init(struct appender *a, const char *dest)
{
	memset(a, 0, sizeof(*a));
	if (strcmp(dest, "stderr") == 0) {
		a->fd = STDERR_FILENO;
		return 0;
	}
	a->path = strdup(dest);
	if (!a->path)
		return -ENOMEM;
	a->fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (a->fd < 0) {
		int err = -errno;
		free(a->path);
		a->path = NULL;
		return err;
	}
	return 0;
}

void appender_push(struct appender *a, const char *line, size_t len)
{
	if (a->fd < 0)
		return;
	if (buf_append(&a->queue, line, len, APPENDER_QUEUE_CAP) != 0)
		a->dropped++;
}

bool appender_want_write(const struct appender *a)
{
	return a->fd >= 0 && !a->busy && buf_avail(&a->queue) > 0;
}

void appender_prep_write(struct appender *a, struct io_uring_sqe *sqe)
{
	struct buf tmp = a->writing;

	/* Swap: the queue becomes the write in flight, the drained write
	 * buffer becomes the new queue, so no bytes are copied. */
	a->writing = a->queue;
	a->queue = tmp;
	buf_reset(&a->queue);
	/* Offset -1: the file position, which O_APPEND puts at the end. */
	io_uring_prep_write(sqe, a->fd, buf_head(&a->writing), (unsigned)buf_avail(&a->writing),
			    (__u64)-1);
	a->busy = true;
}

void appender_complete(struct appender *a, int res)
{
	a->busy = false;
	if (res > 0)
		buf_consume(&a->writing, (size_t)res);
	if (res <= 0 && res != -EAGAIN && res != -EINTR)
		buf_reset(&a->writing);	/* the output is broken: lose these lines */
	if (buf_avail(&a->writing) == 0)
		return;
	/* A partial write: put the rest in front of what queued meanwhile. */
	struct buf rest = a->writing;
	memset(&a->writing, 0, sizeof(a->writing));
	if (buf_append(&rest, buf_head(&a->queue), buf_avail(&a->queue), APPENDER_QUEUE_CAP) != 0)
		a->dropped++;
	buf_free(&a->queue);
	a->queue = rest;
}

int appender_reopen(struct appender *a)
{
	if (!a->path)
		return 0;
	int fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
	if (fd < 0)
		return -errno;
	/* A write may still be in flight on the old fd; the kernel holds its
	 * own reference, so closing it now is safe. */
	close(a->fd);
	a->fd = fd;
	return 0;
}

void appender_close(struct appender *a)
{
	if (a->fd >= 0) {
		const char *p = buf_head(&a->queue);
		size_t left = buf_avail(&a->queue);
		while (left > 0) {
			ssize_t n = write(a->fd, p, left);
			if (n <= 0)
				break;
			p += n;
			left -= (size_t)n;
		}
		if (a->path)
			close(a->fd);
	}
	buf_free(&a->queue);
	buf_free(&a->writing);
	free(a->path);
	a->path = NULL;
	a->fd = -1;
}
