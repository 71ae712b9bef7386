/* The admin HTTP listener (see admin.h): one request per connection over
 * master/mconn.c, parsed with the gateway's own HTTP/1.1 parser, answered
 * with JSON and Connection: close. */
#include "master/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "lib/http1.h"
#include "lib/log.h"
#include "master/commands.h"
#include "master/master.h"
#include "master/mconn.h"
#include "master/mreg.h"

#define ADMIN_MAX_REQUEST	(64u << 10)
#define ADMIN_READ_MS		5000u
#define ADMIN_DEFAULT_TTL_MS	30000u
#define ADMIN_MAX_TTL_MS	3600000u

struct admin {
	struct mconn_server server;
};

/* A parsed request, spans resolved to C strings. */
struct admin_req {
	enum http_method method;
	char path[512];
	char query[512];
	char auth[512];			/* Authorization value, "" if none */
};

static void send_status(struct master *m, struct mconn *c, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	char *resp = NULL;
	int len;

	json_decref(body);
	len = asprintf(&resp, "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
		       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n", status,
		       http_status_reason(status), text ? strlen(text) + 1 : 1, text ? text : "");
	free(text);
	if (len < 0)
		return;	/* the connection closes at its deadline */
	mconn_send(m, &m->admin->server, c, resp, (size_t)len, -1);
	free(resp);
}

static void send_error(struct master *m, struct mconn *c, unsigned status, const char *text)
{
	send_status(m, c, status, json_pack("{s:b, s:s}", "ok", 0, "error", text));
}

static bool admin_accepted(struct master *m, struct mconn_server *s, struct mconn *c)
{
	return true;
}

/* Whole when the head is in and so is a Content-Length body. */
static int admin_complete(const struct mconn *c)
{
	struct http_parser p;
	struct http_request req;

	http_parser_init(&p, ADMIN_MAX_REQUEST);
	switch (http_parse_request(&p, c->in, c->in_len, &req)) {
	case HTTP_AGAIN:
		return 0;
	case HTTP_ERROR:
		return 1;	/* answered 400 */
	case HTTP_DONE:
		break;
	}
	if (req.h.content_length > 0 &&
	    c->in_len - req.h.head_len < (uint64_t)req.h.content_length)
		return 0;
	return 1;
}

static void span_copy(char *out, size_t size, const char *buf, struct http_span s)
{
	size_t n = s.len < size - 1 ? s.len : size - 1;

	memcpy(out, buf + s.off, n);
	out[n] = '\0';
}

static int admin_parse(const struct mconn *c, struct admin_req *r)
{
	struct http_parser p;
	struct http_request req;
	int i;

	http_parser_init(&p, ADMIN_MAX_REQUEST);
	if (http_parse_request(&p, c->in, c->in_len, &req) != HTTP_DONE || req.h.chunked)
		return -EINVAL;
	r->method = req.method;
	span_copy(r->path, sizeof(r->path), c->in, req.path);
	span_copy(r->query, sizeof(r->query), c->in, req.query);
	i = http_field_find(c->in, &req.h, "authorization");
	r->auth[0] = '\0';
	if (i >= 0)
		span_copy(r->auth, sizeof(r->auth), c->in, req.h.fields[i].value);
	return 0;
}

/* "name=value" of <query>, copied to <out>; false when absent. */
static bool query_get(const char *query, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name);

	for (const char *q = query; *q;) {
		size_t len = strcspn(q, "&");

		if (len > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
			snprintf(out, size, "%.*s", (int)(len - nlen - 1), q + nlen + 1);
			return true;
		}
		q += len + (q[len] == '&');
	}
	return false;
}

static bool authorized(struct master *m, const char *auth)
{
	const char *token = m->cfg->admin_token;
	size_t len;

	if (strncmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	len = strlen(token);
	/* Constant time in the token's bytes; its length is no secret. */
	return strlen(auth) == len && sodium_memcmp(auth, token, len) == 0;
}

/* The TTL and weight of a registration from its query. */
static int registration_params(const char *query, uint64_t *ttl_ms, unsigned *weight)
{
	char text[64];
	uint64_t w;

	*ttl_ms = ADMIN_DEFAULT_TTL_MS;
	*weight = 0;	/* unsaid: 1 for a new instance, unchanged on renewal */
	if (query_get(query, "ttl", text, sizeof(text)) &&
	    (conf_parse_duration_ms(text, ttl_ms) < 0 || *ttl_ms < 1000 || *ttl_ms > ADMIN_MAX_TTL_MS))
		return -EINVAL;
	if (query_get(query, "weight", text, sizeof(text))) {
		char *end;

		w = strtoull(text, &end, 10);
		if (*end || end == text || w < 1 || w > 1000)
			return -EINVAL;
		*weight = (unsigned)w;
	}
	return 0;
}

static unsigned errno_status(int err)
{
	return err == -ENOENT ? 404 : err == -EEXIST ? 409 : err == -ENOSPC ? 507 : 400;
}

/* PUT or DELETE /registry/SERVICE/HOST:PORT */
static void registry_write(struct master *m, struct mconn *c, const struct admin_req *r,
			   char *service, char *addr)
{
	char err[256] = "";
	uint64_t ttl;
	unsigned weight;
	int ret;

	if (!m->cfg->admin_token) {
		send_error(m, c, 403, "registry writes are disabled: admin_token is not set");
		return;
	}
	if (!authorized(m, r->auth)) {
		send_error(m, c, 401, "missing or wrong bearer token");
		return;
	}
	if (r->method == HTTP_M_DELETE) {
		const struct mreg_instance *in = mreg_find(m, service, addr);

		if (in && !in->dynamic) {
			send_error(m, c, 409, "the instance comes from the configuration file");
			return;
		}
		ret = mreg_remove(m, service, addr, err, sizeof(err));
		if (ret < 0)
			send_error(m, c, errno_status(ret), err);
		else
			send_status(m, c, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	if (registration_params(r->query, &ttl, &weight) < 0) {
		send_error(m, c, 400, "bad ttl (1s..1h) or weight (1..1000)");
		return;
	}
	ret = mreg_heartbeat(m, service, addr, weight, ttl, err, sizeof(err));
	if (ret < 0)
		send_error(m, c, errno_status(ret), err);
	else
		send_status(m, c, ret ? 201 : 200, json_pack("{s:b, s:s, s:s, s:I}", "ok", 1,
			    "service", service, "instance", addr, "ttl_ms", (json_int_t)ttl));
}

static bool all_ready(const struct master *m)
{
	for (unsigned i = 0; i < m->n_slots; i++) {
		int id = m->slots[i].id;

		if (id < 0 || wtab_get_state(&m->tables.workers, (unsigned)id) != WTAB_READY)
			return false;
	}
	return true;
}

static void admin_route(struct master *m, struct mconn *c, struct admin_req *r)
{
	bool get = r->method == HTTP_M_GET || r->method == HTTP_M_HEAD;
	char *service, *addr;

	if (strcmp(r->path, "/healthz") == 0 && get)
		send_status(m, c, 200, json_pack("{s:b}", "ok", 1));
	else if (strcmp(r->path, "/readyz") == 0 && get)
		send_status(m, c, all_ready(m) ? 200 : 503, json_pack("{s:b}", "ok", all_ready(m)));
	else if (strcmp(r->path, "/registry") == 0 && get)
		send_status(m, c, 200, cmd_services(m));
	else if (strncmp(r->path, "/registry/", 10) != 0)
		send_error(m, c, 404, "not found");
	else if (r->method != HTTP_M_PUT && r->method != HTTP_M_DELETE)
		send_error(m, c, 405, "use PUT to register or renew, DELETE to deregister");
	else if (!(service = r->path + 10, addr = strchr(service, '/')) || strchr(addr + 1, '/'))
		send_error(m, c, 404, "want /registry/SERVICE/HOST:PORT");
	else {
		*addr++ = '\0';
		registry_write(m, c, r, service, addr);
	}
}

static void admin_request(struct master *m, struct mconn_server *s, struct mconn *c)
{
	struct admin_req r;

	if (admin_parse(c, &r) < 0) {
		send_error(m, c, 400, "malformed request");
		return;
	}
	admin_route(m, c, &r);
}

static const struct mconn_ops admin_ops = {
	.accepted = admin_accepted,
	.complete = admin_complete,
	.request = admin_request,
};

static int admin_socket(const struct gw_addr *a)
{
	int one = 1, fd, ret;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char text[80];

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	master_addr_text(&ss, len, text, sizeof(text));
	log_info("admin listening on %s", text);
	return fd;
}

int admin_open(struct master *m)
{
	struct admin *a;
	int fd;

	if (!m->cfg->admin_enabled)
		return 0;
	fd = admin_socket(&m->cfg->admin_addr);
	if (fd < 0) {
		log_error("admin_listen %s: %s", m->cfg->admin_addr.text, strerror(-fd));
		return fd;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		close(fd);
		return -ENOMEM;
	}
	m->admin = a;
	mconn_start(m, &a->server, MIO_ADMIN, fd, &admin_ops, ADMIN_MAX_REQUEST, ADMIN_READ_MS);
	return 0;
}

void admin_close(struct master *m)
{
	if (!m->admin)
		return;
	mconn_stop(m, &m->admin->server);
	free(m->admin);
	m->admin = NULL;
}

void admin_on_poll(struct master *m, uint32_t index, uint32_t tag, int res)
{
	if (m->admin)
		mconn_on_poll(m, &m->admin->server, index, tag, res);
}

void admin_tick(struct master *m, uint64_t now_ms)
{
	if (m->admin)
		mconn_tick(m, &m->admin->server, now_ms);
}

uint64_t admin_next_deadline(const struct master *m)
{
	return m->admin ? mconn_next_deadline(&m->admin->server) : UINT64_MAX;
}
