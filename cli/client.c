/* The control-socket client: connect, send the line, read everything the
 * master sends until it closes (keeping a passed fd), then decode.
 *
 * Reading goes through recvmsg() with a control buffer on every call, not
 * only the first: the kernel delivers SCM_RIGHTS with whichever read takes
 * the first byte of the message that carried it, and the master may split
 * its answer. Only the first fd is kept; any others are closed at once. */
#include "cli/client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENT_MAX_FDS	4		/* per message; more is a protocol error */
#define CLIENT_CHUNK	(64u << 10)

void client_answer_free(struct cli_answer *ans)
{
	json_decref(ans->json);
	free(ans->raw);
	if (ans->fd >= 0)
		close(ans->fd);
	ans->json = NULL;
	ans->raw = NULL;
	ans->raw_len = 0;
	ans->fd = -1;
}

int client_status(const json_t *answer)
{
	const char *code = json_string_value(json_object_get(answer, "code"));

	if (json_is_true(json_object_get(answer, "ok")))
		return CLI_EXIT_OK;
	return code && strcmp(code, "permission") == 0 ? CLI_EXIT_PERMISSION : CLI_EXIT_FAILED;
}

/* Map a failed connect() to the message and exit status users see. */
static int connect_failed(const char *path, int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ECONNREFUSED:
		fprintf(stderr, "gatewayctl: gatewayd is not running (no control socket at %s)\n",
			path);
		return CLI_EXIT_NOT_RUNNING;
	case EACCES:
	case EPERM:
		fprintf(stderr, "gatewayctl: permission denied on %s (run as root or as gatewayd's "
			"user)\n", path);
		return CLI_EXIT_PERMISSION;
	default:
		fprintf(stderr, "gatewayctl: connect(%s) failed: %s\n", path, strerror(err));
		return CLI_EXIT_FAILED;
	}
}

static int client_connect(const char *path, int *fd_out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	int fd, err;

	/* cli_parse() checked the length. */
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "gatewayctl: socket(AF_UNIX) failed: %s\n", strerror(errno));
		return CLI_EXIT_FAILED;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = errno;
		close(fd);
		return connect_failed(path, err);
	}
	/* Best effort: without the timeout a wedged master only makes us
	 * wait for Ctrl-C. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*fd_out = fd;
	return CLI_EXIT_OK;
}

/* Returns 0 or -errno; the caller decides what a failure means. */
static int client_send(int fd, const char *line, size_t len)
{
	while (len) {
		ssize_t n = send(fd, line, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		line += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Keep the first fd passed to us and close the rest. */
static void take_fds(struct msghdr *msg, struct cli_answer *ans)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n;
		int fds[CLIENT_MAX_FDS];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), n * sizeof(int));
		for (size_t i = 0; i < n; i++) {
			if (ans->fd < 0)
				ans->fd = fds[i];
			else
				close(fds[i]);
		}
	}
}

/* One recvmsg() into <buf> of <cap>. Returns bytes read, 0 at EOF, or
 * -errno. */
static ssize_t recv_some(int fd, char *buf, size_t cap, struct cli_answer *ans)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CLIENT_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;

	do {
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	take_fds(&msg, ans);
	if (msg.msg_flags & MSG_CTRUNC)
		return -EPROTO;
	return n;
}

static int recv_failed(int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK)
		fprintf(stderr, "gatewayctl: no answer from gatewayd within %d s\n",
			CLIENT_TIMEOUT_S);
	else if (err == EPROTO)
		fprintf(stderr, "gatewayctl: gatewayd passed more descriptors than expected\n");
	else
		fprintf(stderr, "gatewayctl: reading the answer failed: %s\n", strerror(err));
	return CLI_EXIT_FAILED;
}

/* Read until EOF into ans->raw (NUL-terminated). */
static int client_recv(int fd, struct cli_answer *ans)
{
	size_t cap = 0, len = 0;
	char *buf = NULL, *grown;
	ssize_t n;

	for (;;) {
		if (cap - len < CLIENT_CHUNK / 2) {
			/* Room for one byte too many, to tell "too long". */
			cap = cap ? cap * 2 : CLIENT_CHUNK;
			cap = cap > CLIENT_MAX_ANSWER + 1 ? CLIENT_MAX_ANSWER + 1 : cap;
			grown = realloc(buf, cap + 1);
			if (!grown) {
				fprintf(stderr, "gatewayctl: out of memory reading the answer\n");
				goto err_free;
			}
			buf = grown;
		}
		n = recv_some(fd, buf + len, cap - len, ans);
		/* A peer that closes with our line unread resets the socket
		 * once its answer is drained: that is its end of the answer. */
		if (n == -ECONNRESET && len)
			break;
		if (n < 0) {
			recv_failed((int)-n);
			goto err_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CLIENT_MAX_ANSWER) {
			fprintf(stderr, "gatewayctl: the answer is larger than %u MiB\n",
				CLIENT_MAX_ANSWER >> 20);
			goto err_free;
		}
	}
	buf[len] = '\0';
	ans->raw = buf;
	ans->raw_len = len;
	return CLI_EXIT_OK;

err_free:
	free(buf);
	return CLI_EXIT_FAILED;
}

/* Parse ans->raw into ans->json: one object with a boolean "ok". */
static int client_decode(struct cli_answer *ans)
{
	json_error_t jerr;

	while (ans->raw_len && (ans->raw[ans->raw_len - 1] == '\n' ||
				ans->raw[ans->raw_len - 1] == '\r'))
		ans->raw[--ans->raw_len] = '\0';
	if (!ans->raw_len) {
		fprintf(stderr, "gatewayctl: gatewayd closed the connection without answering\n");
		return CLI_EXIT_FAILED;
	}
	ans->json = json_loadb(ans->raw, ans->raw_len, 0, &jerr);
	if (!ans->json) {
		fprintf(stderr, "gatewayctl: gatewayd's answer is not JSON (%s at byte %d)\n",
			jerr.text, jerr.position);
		return CLI_EXIT_FAILED;
	}
	if (!json_is_boolean(json_object_get(ans->json, "ok"))) {
		fprintf(stderr, "gatewayctl: gatewayd's answer has no \"ok\"\n");
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

int client_call(const struct cli_request *req, struct cli_answer *ans)
{
	int fd = -1, ret, err;

	memset(ans, 0, sizeof(*ans));
	ans->fd = -1;
	ret = client_connect(req->socket, &fd);
	if (ret != CLI_EXIT_OK)
		return ret;
	/* A master that refuses us (SO_PEERCRED) answers and closes before
	 * reading the line, so a broken pipe still leaves its answer to read. */
	err = client_send(fd, req->line, req->line_len);
	if (err < 0 && err != -EPIPE && err != -ECONNRESET) {
		fprintf(stderr, "gatewayctl: sending the command failed: %s\n", strerror(-err));
		ret = CLI_EXIT_FAILED;
		goto out_close;
	}
	ret = client_recv(fd, ans);
	if (ret != CLI_EXIT_OK)
		goto out_close;
	if (err < 0 && !ans->raw_len) {
		fprintf(stderr, "gatewayctl: gatewayd closed the connection before reading the "
			"command\n");
		ret = CLI_EXIT_FAILED;
		goto out_close;
	}
	ret = client_decode(ans);
out_close:
	close(fd);
	return ret;
}
