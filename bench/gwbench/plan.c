/* The run's plan: everything decided once before the threads start.
 *
 * Requests are formatted here, one per URL, so that the data path only
 * ever points a send at bytes that already exist. The host is resolved
 * once; when it has several addresses (localhost: ::1 and 127.0.0.1) the
 * first one that accepts a connection is used, because a server listening
 * on one family only would otherwise see nothing but refused connects. */
#include "bench/gwbench/gwbench.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAN_MAX_FILE		(256u << 20)	/* bytes of --urls or --body-file */
#define PLAN_PROBE_MS		1000		/* per address, when there are several */

__attribute__((format(printf, 4, 5)))
static int fail(int ret, char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return ret;
}

/* Whole file into a NUL-terminated malloc'd buffer. 0 or -errno. */
static int read_file(const char *path, char **out, size_t *len)
{
	struct stat sb;
	size_t got = 0;
	char *data;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		err = -errno;
		goto err_close;
	}
	if ((uint64_t)sb.st_size > PLAN_MAX_FILE) {
		err = -EFBIG;
		goto err_close;
	}
	data = malloc((size_t)sb.st_size + 1);
	if (!data) {
		err = -ENOMEM;
		goto err_close;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, data + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			free(data);
			goto err_close;
		}
		got += (size_t)n;
	}
	data[got] = '\0';
	*out = data;
	*len = got;
err_close:
	close(fd);
	return err;
}

/* URLs from argv, then from the --urls file (one per line; blank lines and
 * lines starting with '#' skipped), as an array of pointers. */
static int collect_urls(struct gwb_plan *p, const char ***urls, uint32_t *n,
			char *err, size_t err_len)
{
	const struct gwb_args *a = p->args;
	size_t len = 0, cap = a->n_urls;
	const char **list;
	char *line;
	int ret;

	if (a->urls_file) {
		ret = read_file(a->urls_file, &p->urls_text, &len);
		if (ret)
			return fail(-EINVAL, err, err_len, "--urls %s: %s", a->urls_file,
				    strerror(-ret));
		for (size_t i = 0; i < len; i++)
			cap += p->urls_text[i] == '\n';
		cap++;
	}
	list = calloc(cap + 1, sizeof(*list));
	if (!list)
		return fail(-ENOMEM, err, err_len, "out of memory");
	*n = 0;
	for (uint32_t i = 0; i < a->n_urls; i++)
		list[(*n)++] = a->urls[i];
	for (line = p->urls_text; line && *line; ) {
		char *nl = strchr(line, '\n'), *next = nl ? nl + 1 : line + strlen(line);
		char *end = nl ? nl : next;

		while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line && *line != '#')
			list[(*n)++] = line;
		line = next;
	}
	*urls = list;
	if (!*n)
		return fail(-EINVAL, err, err_len, "--urls %s: no URL in the file", a->urls_file);
	return 0;
}

/* True when the user's -H list has a field named <name>. */
static bool has_header(const struct gwb_args *a, const char *name)
{
	size_t n = strlen(name);

	for (uint32_t i = 0; i < a->n_headers; i++)
		if (strncasecmp(a->headers[i], name, n) == 0 && a->headers[i][n] == ':')
			return true;
	return false;
}

/* "Host: h", "Host: h:port", "Host: [v6]:port" as the URL spelled it. */
static int format_host(struct buf *b, size_t limit, const struct url *u)
{
	const char *l = u->ipv6 ? "[" : "", *r = u->ipv6 ? "]" : "";

	if (u->has_port)
		return buf_printf(b, limit, "Host: %s%s%s:%u\r\n", l, u->host, r, u->port);
	return buf_printf(b, limit, "Host: %s%s%s\r\n", l, u->host, r);
}

/* The request for <u>: request line, Host (unless -H gives one), the -H
 * fields, Content-Length with a body, Connection: close with
 * --no-keepalive (so that the server closes first and keeps the
 * TIME_WAIT), then the body. */
static int format_request(const struct gwb_plan *p, const struct url *u, struct gwb_target *tg)
{
	const struct gwb_args *a = p->args;
	const char *body = a->body ? a->body : p->body;
	size_t body_len = a->body ? strlen(a->body) : p->body_len;
	struct buf b = { 0 };
	size_t limit = PLAN_MAX_FILE + (64u << 10);
	int err;

	err = buf_printf(&b, limit, "%s %.*s HTTP/1.1\r\n", a->method, (int)u->target_len,
			 u->target);
	if (!err && !has_header(a, "host"))
		err = format_host(&b, limit, u);
	for (uint32_t i = 0; !err && i < a->n_headers; i++)
		err = buf_printf(&b, limit, "%s\r\n", a->headers[i]);
	if (!err && body && !has_header(a, "content-length"))
		err = buf_printf(&b, limit, "Content-Length: %zu\r\n", body_len);
	if (!err && !a->keepalive && !has_header(a, "connection"))
		err = buf_printf(&b, limit, "Connection: close\r\n");
	if (!err)
		err = buf_append(&b, "\r\n", 2, limit);
	if (!err && body)
		err = buf_append(&b, body, body_len, limit);
	if (err) {
		buf_free(&b);
		return err;
	}
	tg->req = b.data;
	tg->req_len = (uint32_t)b.len;
	return 0;
}

/* Connect to <ai> with a bounded wait; true when it accepted. */
static bool probe(const struct addrinfo *ai)
{
	struct pollfd pfd;
	int fd, soerr = 0;
	socklen_t len = sizeof(soerr);
	bool ok = false;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		ok = true;
	} else if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, PLAN_PROBE_MS) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
			ok = true;
	}
	close(fd);
	return ok;
}

static int resolve(struct gwb_plan *p, const struct url *u, char *err, size_t err_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *pick;
	char port[8];
	int ret;

	snprintf(port, sizeof(port), "%u", u->port);
	ret = getaddrinfo(u->host, port, &hints, &res);
	if (ret)
		return fail(-EHOSTUNREACH, err, err_len, "cannot resolve '%s': %s", u->host,
			    gai_strerror(ret));
	pick = res;
	if (res->ai_next) {
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			if (probe(ai)) {
				pick = ai;
				break;
			}
		}
	}
	memcpy(&p->addr, pick->ai_addr, pick->ai_addrlen);
	p->addr_len = pick->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Parse every URL, check they share one origin, format their requests. */
static int build_targets(struct gwb_plan *p, const char **urls, uint32_t n,
			 char *err, size_t err_len)
{
	struct url first, u;
	int ret;

	p->targets = calloc(n, sizeof(*p->targets));
	if (!p->targets)
		return fail(-ENOMEM, err, err_len, "out of memory");
	p->n_targets = n;
	for (uint32_t i = 0; i < n; i++) {
		ret = url_parse(urls[i], i ? &u : &first, err, err_len);
		if (ret)
			return ret;
		if (i && !url_same_origin(&first, &u))
			return fail(-EINVAL, err, err_len,
				    "all URLs must share host:port in this version: '%s' and '%s' "
				    "differ", urls[0], urls[i]);
		p->targets[i].text = urls[i];
		ret = format_request(p, i ? &u : &first, &p->targets[i]);
		if (ret)
			return fail(ret, err, err_len, "formatting the request for '%s': %s",
				    urls[i], strerror(-ret));
	}
	url_origin(&first, p->origin, sizeof(p->origin));
	return resolve(p, &first, err, err_len);
}

int plan_build(struct gwb_plan *p, const struct gwb_args *a, char *err, size_t err_len)
{
	const char **urls = NULL;
	uint32_t n = 0;
	int ret;

	memset(p, 0, sizeof(*p));
	p->args = a;
	p->method = http_method_lookup(a->method, strlen(a->method));
	if (a->body_file) {
		ret = read_file(a->body_file, &p->body, &p->body_len);
		if (ret)
			return fail(-EINVAL, err, err_len, "--body-file %s: %s", a->body_file,
				    strerror(-ret));
	}
	ret = collect_urls(p, &urls, &n, err, err_len);
	if (!ret)
		ret = build_targets(p, urls, n, err, err_len);
	free(urls);
	if (ret)
		plan_free(p);
	return ret;
}

void plan_free(struct gwb_plan *p)
{
	for (uint32_t i = 0; p->targets && i < p->n_targets; i++)
		free(p->targets[i].req);
	free(p->targets);
	free(p->urls_text);
	free(p->body);
	p->targets = NULL;
	p->urls_text = NULL;
	p->body = NULL;
}
