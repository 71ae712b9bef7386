/* The control socket (see control.h): a Unix listener whose connections
 * (master/mconn.c) each carry one JSON line in and one JSON line out. */
#include "master/control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/log.h"
#include "master/commands.h"
#include "master/master.h"
#include "master/mconn.h"

#define CONTROL_MAX_LINE	(64u << 10)
#define CONTROL_READ_MS		5000u

struct control {
	struct mconn_server server;
	char *path;
};

/* Another process answers on <sun>: a second gatewayd with the same
 * control socket. */
static bool socket_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

static int bind_path(int fd, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int ret = 0;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (socket_alive(&sun)) {
		log_error("control socket %s: another gatewayd is running there", path);
		return -EADDRINUSE;
	}
	unlink(path);	/* a stale socket from a gatewayd that died */
	/* The umask makes the socket 0600 from birth: no window in which
	 * another user could connect before a chmod. */
	old_mask = umask(0177);
	if (bind(fd, (const struct sockaddr *)&sun, sizeof(sun)) < 0)
		ret = -errno;
	umask(old_mask);
	if (ret < 0)
		log_error("bind(control socket %s) failed: %s", path, strerror(-ret));
	return ret;
}

/* Queue <answer> (stolen) as one line. */
static void send_json(struct master *m, struct mconn *c, json_t *answer, int pass_fd)
{
	char *text = json_dumps(answer, JSON_COMPACT);
	size_t len;

	json_decref(answer);
	if (!text) {
		text = strdup("{\"ok\":false,\"code\":\"failed\",\"error\":\"out of memory\"}");
		if (!text)
			return;	/* the connection closes when its deadline passes */
	}
	len = strlen(text);
	text[len] = '\n';	/* json_dumps's NUL becomes the line's end */
	mconn_send(m, &m->control->server, c, text, len + 1, pass_fd);
	free(text);
}

/* Root or our own user may steer the gateway; nobody else. */
static bool control_accepted(struct master *m, struct mconn_server *s, struct mconn *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    (cred.uid == 0 || cred.uid == geteuid()))
		return true;
	log_warn("control: refused a client that is neither root nor our user");
	send_json(m, c, cmd_error("permission", "permission denied"), -1);
	return false;
}

static int control_complete(const struct mconn *c)
{
	return memchr(c->in, '\n', c->in_len) != NULL;
}

static void control_request(struct master *m, struct mconn_server *s, struct mconn *c)
{
	struct cmd_effects fx = { .pass_fd = -1 };
	size_t line = (size_t)((char *)memchr(c->in, '\n', c->in_len) - c->in);
	json_error_t jerr;
	json_t *argv, *answer;

	argv = json_loadb(c->in, line, 0, &jerr);
	if (!argv || !json_is_array(argv)) {
		json_decref(argv);
		send_json(m, c, cmd_error("usage", "the request is not a JSON array of words"), -1);
		return;
	}
	answer = cmd_run(m, mconn_index(s, c), argv, &fx);
	json_decref(argv);
	if (!fx.deferred)
		send_json(m, c, answer, fx.pass_fd);
}

static const struct mconn_ops control_ops = {
	.accepted = control_accepted,
	.complete = control_complete,
	.request = control_request,
};

int control_open(struct master *m)
{
	const char *path = m->cfg->control_path;
	struct control *c;
	int fd, ret;

	if (!path)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return -ENOMEM;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		log_error("socket(AF_UNIX) failed: %s", strerror(-ret));
		goto err_free;
	}
	ret = bind_path(fd, path);
	if (ret < 0)
		goto err_close;
	if (listen(fd, 64) < 0) {
		ret = -errno;
		log_error("listen(control socket %s) failed: %s", path, strerror(-ret));
		goto err_unlink;
	}
	m->control = c;
	mconn_start(m, &c->server, MIO_CONTROL, fd, &control_ops, CONTROL_MAX_LINE,
		    CONTROL_READ_MS);
	log_info("control socket %s", path);
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(fd);
err_free:
	free(c->path);
	free(c);
	return ret;
}

void control_close(struct master *m)
{
	struct control *c = m->control;

	if (!c)
		return;
	mconn_stop(m, &c->server);
	unlink(c->path);
	free(c->path);
	free(c);
	m->control = NULL;
}

void control_on_poll(struct master *m, uint32_t index, uint32_t tag, int res)
{
	if (m->control)
		mconn_on_poll(m, &m->control->server, index, tag, res);
}

void control_answer(struct master *m, uint32_t client, json_t *answer)
{
	struct mconn *c = m->control ? mconn_running(&m->control->server, client) : NULL;

	if (!c) {
		json_decref(answer);
		return;
	}
	send_json(m, c, answer, -1);
}

void control_tick(struct master *m, uint64_t now_ms)
{
	if (m->control)
		mconn_tick(m, &m->control->server, now_ms);
}

uint64_t control_next_deadline(const struct master *m)
{
	return m->control ? mconn_next_deadline(&m->control->server) : UINT64_MAX;
}
