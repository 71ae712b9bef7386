/* Unit test for worker/appender.c over a real io_uring and a pipe: lines
 * come out whole and in order, a partial write keeps the rest in front of
 * newer lines, and a stalled destination drops (and counts) instead of
 * growing without bound. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "worker/appender.h"

/* Submit one write if wanted and wait for its completion. */
static int write_once(struct io_uring *ring, struct appender *a)
{
	struct io_uring_cqe *cqe;

	if (!appender_want_write(a))
		return 0;
	appender_prep_write(a, io_uring_get_sqe(ring));
	io_uring_submit(ring);
	if (io_uring_wait_cqe(ring, &cqe) != 0)
		return -1;
	int res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	appender_complete(a, res);
	return res;
}

static size_t drain_pipe(int fd, char *out, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap && (n = read(fd, out + got, cap - got)) > 0)
		got += (size_t)n;
	return got;
}

static void test_order(struct io_uring *ring)
{
	struct appender a;
	int fds[2];
	char out[4096];

	CHECK_INT(pipe2(fds, O_NONBLOCK), 0);
	CHECK_INT(appender_init(&a, "stderr"), 0);
	a.fd = fds[1];	/* the pipe stands in for stderr */
	appender_push(&a, "one\n", 4);
	appender_push(&a, "two\n", 4);
	CHECK(appender_want_write(&a));
	CHECK_INT(write_once(ring, &a), 8);
	CHECK(!appender_want_write(&a));
	appender_push(&a, "three\n", 6);
	CHECK_INT(write_once(ring, &a), 6);
	size_t n = drain_pipe(fds[0], out, sizeof(out));
	CHECK_INT(n, 14);
	CHECK(memcmp(out, "one\ntwo\nthree\n", 14) == 0);
	a.fd = -1;	/* the pipe is ours to close, not the appender's */
	appender_close(&a);
	close(fds[0]);
	close(fds[1]);
}

/* A pipe holding 4 KiB takes part of a bigger write; the rest must go out
 * before lines queued meanwhile. */
static void test_partial(struct io_uring *ring)
{
	static char big[12000], out[20000];
	struct appender a;
	int fds[2];

	CHECK_INT(pipe2(fds, O_NONBLOCK), 0);
	CHECK(fcntl(fds[1], F_SETPIPE_SZ, 4096) >= 4096);
	CHECK_INT(appender_init(&a, "stderr"), 0);
	a.fd = fds[1];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	appender_push(&a, big, sizeof(big));
	int first = write_once(ring, &a);
	CHECK(first > 0 && first < (int)sizeof(big));
	appender_push(&a, "tail\n", 5);
	size_t got = drain_pipe(fds[0], out, sizeof(out));
	for (int i = 0; i < 20 && appender_want_write(&a); i++) {
		write_once(ring, &a);
		got += drain_pipe(fds[0], out + got, sizeof(out) - got);
	}
	CHECK_INT(got, sizeof(big) + 5);
	CHECK(memcmp(out, big, sizeof(big)) == 0);
	CHECK(memcmp(out + sizeof(big), "tail\n", 5) == 0);
	a.fd = -1;
	appender_close(&a);
	close(fds[0]);
	close(fds[1]);
}

static void test_cap(void)
{
	static char line[1024];
	struct appender a;
	int fds[2];

	CHECK_INT(pipe2(fds, O_NONBLOCK), 0);
	CHECK_INT(appender_init(&a, "stderr"), 0);
	a.fd = fds[1];
	memset(line, 'x', sizeof(line));
	unsigned fits = APPENDER_QUEUE_CAP / sizeof(line);
	for (unsigned i = 0; i < fits + 10; i++)
		appender_push(&a, line, sizeof(line));
	CHECK_INT(a.dropped, 10);
	CHECK_INT(buf_avail(&a.queue), (size_t)fits * sizeof(line));
	a.fd = -1;
	appender_close(&a);
	close(fds[0]);
	close(fds[1]);
}

static void test_file(struct io_uring *ring)
{
	char path[] = "/tmp/gw-appender-XXXXXX", out[64];
	int fd = mkstemp(path);
	struct appender a;

	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(appender_init(&a, path), 0);
	appender_push(&a, "a\n", 2);
	CHECK_INT(write_once(ring, &a), 2);
	CHECK_INT(rename(path, "/tmp/gw-appender-rotated"), 0);
	CHECK_INT(appender_reopen(&a), 0);	/* log rotation: a new file */
	appender_push(&a, "b\n", 2);
	CHECK_INT(write_once(ring, &a), 2);
	appender_close(&a);
	fd = open(path, O_RDONLY);
	CHECK_INT(read(fd, out, sizeof(out)), 2);
	CHECK(memcmp(out, "b\n", 2) == 0);
	close(fd);
	fd = open("/tmp/gw-appender-rotated", O_RDONLY);
	CHECK_INT(read(fd, out, sizeof(out)), 2);
	CHECK(memcmp(out, "a\n", 2) == 0);
	close(fd);
	unlink(path);
	unlink("/tmp/gw-appender-rotated");
}

int main(void)
{
	struct io_uring ring;

	if (io_uring_queue_init(8, &ring, 0) != 0) {
		/* The gateway cannot run without io_uring: that is a failure. */
		fprintf(stderr, "io_uring unavailable\n");
		return T_EXIT_FAIL;
	}
	test_order(&ring);
	test_partial(&ring);
	test_cap();
	test_file(&ring);
	io_uring_queue_exit(&ring);
	return CHECK_EXIT();
}
