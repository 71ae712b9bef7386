/* Unit test of worker/route.c through worker/route.h.
 *
 * Configs are built by hand (regexes compiled here, route_order filled in
 * precedence order) and requests are spans over a hand-written buffer, so
 * neither the config loader nor the HTTP parser is needed. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "worker/route.h"

/* Config strings are char * because conf owns heap copies; the matcher only
 * reads them, so literals stand in for them here. */
#define CS(lit) ((char *)(lit))

/* A request head and the spans a parser would have produced over it. */
struct treq {
	char buf[2048];
	size_t len;
	struct http_request req;
};

static struct http_span treq_put(struct treq *t, const char *s)
{
	struct http_span sp = { (uint32_t)t->len, (uint32_t)strlen(s) };

	if (t->len + sp.len >= sizeof(t->buf)) {
		fprintf(stderr, "treq: buffer too small\n");
		exit(T_EXIT_FAIL);
	}
	memcpy(t->buf + t->len, s, sp.len);
	t->len += sp.len;
	return sp;
}

static enum http_method treq_method(const char *name)
{
	static const char *const names[HTTP_M__COUNT] = {
		[HTTP_M_GET] = "GET", [HTTP_M_HEAD] = "HEAD", [HTTP_M_POST] = "POST",
		[HTTP_M_PUT] = "PUT", [HTTP_M_DELETE] = "DELETE", [HTTP_M_CONNECT] = "CONNECT",
		[HTTP_M_OPTIONS] = "OPTIONS", [HTTP_M_TRACE] = "TRACE", [HTTP_M_PATCH] = "PATCH",
	};

	for (int i = 1; i < HTTP_M__COUNT; i++) {
		if (strcmp(names[i], name) == 0)
			return (enum http_method)i;
	}
	return HTTP_M_OTHER;
}

static void treq_field(struct treq *t, const char *name, const char *value)
{
	struct http_field *f = &t->req.h.fields[t->req.h.n_fields++];

	f->name = treq_put(t, name);
	treq_put(t, ": ");
	f->value = treq_put(t, value);
	treq_put(t, "\r\n");
}

/* Start "<method> <target> HTTP/1.1" with a Host field unless <host> is NULL. */
static void treq_init(struct treq *t, const char *method, const char *target, const char *host)
{
	const char *q = strchr(target, '?');

	memset(t, 0, sizeof(*t));
	t->req.method = treq_method(method);
	t->req.method_name = treq_put(t, method);
	treq_put(t, " ");
	t->req.target = treq_put(t, target);
	t->req.path = t->req.target;
	if (q) {
		t->req.path.len = (uint32_t)(q - target);
		t->req.query.off = t->req.target.off + t->req.path.len + 1;
		t->req.query.len = t->req.target.len - t->req.path.len - 1;
	}
	treq_put(t, " HTTP/1.1\r\n");
	t->req.h.version_minor = 1;
	t->req.h.content_length = -1;
	if (host) {
		treq_field(t, "Host", host);
		t->req.host = t->req.h.fields[0].value;
	}
}

static struct pcre2_real_code_8 *re(const char *src)
{
	PCRE2_SIZE where;
	int err;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, 0, &err, &where,
					 NULL);

	if (!code) {
		fprintf(stderr, "pcre2_compile(%s) failed at %zu\n", src, (size_t)where);
		exit(T_EXIT_FAIL);
	}
	return (struct pcre2_real_code_8 *)code;
}

static void re_free(struct gw_route_conf *routes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pcre2_code_free((pcre2_code *)routes[i].path_re);
		pcre2_code_free((pcre2_code *)routes[i].rewrite_re);
	}
}

/* A config over <routes> whose precedence is <order> (NULL = array order). */
static void cfg_init(struct gw_config *c, struct gw_route_conf *routes, size_t n,
		     size_t *order, const size_t *given)
{
	memset(c, 0, sizeof(*c));
	c->routes = routes;
	c->n_routes = n;
	c->route_order = order;
	for (size_t i = 0; i < n; i++)
		order[i] = given ? given[i] : i;
}

static struct gw_route_conf prefix(const char *path)
{
	return (struct gw_route_conf){ .name = (char *)path, .path_kind = GW_PATH_PREFIX,
				       .path = (char *)path };
}

static int match(struct route_matcher *m, const char *method, const char *target,
		 const char *host)
{
	struct treq t;

	treq_init(&t, method, target, host);
	return route_match(m, t.buf, &t.req);
}

static void test_precedence(void)
{
	struct gw_route_conf routes[3] = {
		prefix("/api"),
		{ .path_kind = GW_PATH_EXACT, .path = CS("/api/status") },
		{ .path_kind = GW_PATH_REGEX, .path = CS("^/api/v[0-9]+/items$") },
	};
	const size_t conf_order[3] = { 1, 2, 0 };	/* exact, regex, prefix */
	const size_t file_order[3] = { 0, 1, 2 };
	size_t order[3];
	struct gw_config cfg;
	struct route_matcher *m;

	routes[2].path_re = re(routes[2].path);
	cfg_init(&cfg, routes, 3, order, conf_order);
	m = route_matcher_new(&cfg);
	CHECK(m != NULL);
	CHECK_INT(match(m, "GET", "/api/status", "h"), 1);
	CHECK_INT(match(m, "GET", "/api/status?x=1", "h"), 1);
	CHECK_INT(match(m, "GET", "/api/status/", "h"), 0);
	CHECK_INT(match(m, "GET", "/api/v2/items", "h"), 2);
	CHECK_INT(match(m, "GET", "/api/v2/items/3", "h"), 0);
	CHECK_INT(match(m, "GET", "/api/other", "h"), 0);
	CHECK_INT(match(m, "GET", "/apix", "h"), -1);
	CHECK_INT(match(m, "GET", "/", "h"), -1);
	route_matcher_free(m);

	/* The same routes in file order: the prefix shadows the others. */
	cfg_init(&cfg, routes, 3, order, file_order);
	m = route_matcher_new(&cfg);
	CHECK_INT(match(m, "GET", "/api/status", "h"), 0);
	CHECK_INT(match(m, "GET", "/api/v2/items", "h"), 0);
	route_matcher_free(m);
	re_free(routes, 3);
}

static void test_unanchored_regex(void)
{
	struct gw_route_conf routes[1] = {
		{ .path_kind = GW_PATH_REGEX, .path = CS("\\.php$") },
	};
	size_t order[1];
	struct gw_config cfg;
	struct route_matcher *m;

	routes[0].path_re = re(routes[0].path);
	cfg_init(&cfg, routes, 1, order, NULL);
	m = route_matcher_new(&cfg);
	CHECK_INT(match(m, "GET", "/a/b/index.php", "h"), 0);
	CHECK_INT(match(m, "GET", "/a/b/index.php?x=.php", "h"), 0);
	CHECK_INT(match(m, "GET", "/index.phpx", "h"), -1);
	/* Only the path is the subject, never the query. */
	CHECK_INT(match(m, "GET", "/index?f=x.php", "h"), -1);
	route_matcher_free(m);
	re_free(routes, 1);
}

static void test_segment_boundary(void)
{
	struct gw_route_conf routes[3] = { prefix("/v1/users"), prefix("/static/"), prefix("/") };
	size_t order[3];
	struct gw_config cfg;
	struct route_matcher *m;

	cfg_init(&cfg, routes, 3, order, NULL);
	m = route_matcher_new(&cfg);
	CHECK_INT(match(m, "GET", "/v1/users", "h"), 0);
	CHECK_INT(match(m, "GET", "/v1/users/", "h"), 0);
	CHECK_INT(match(m, "GET", "/v1/users/42", "h"), 0);
	CHECK_INT(match(m, "GET", "/v1/users?active=1", "h"), 0);
	CHECK_INT(match(m, "GET", "/v1/usersx", "h"), 2);
	CHECK_INT(match(m, "GET", "/v1/user", "h"), 2);
	CHECK_INT(match(m, "GET", "/v1", "h"), 2);
	CHECK_INT(match(m, "GET", "/static/app.js", "h"), 1);
	CHECK_INT(match(m, "GET", "/static/", "h"), 1);
	CHECK_INT(match(m, "GET", "/static", "h"), 2);
	CHECK_INT(match(m, "GET", "/", "h"), 2);
	CHECK_INT(match(m, "GET", "/anything/at/all", "h"), 2);
	CHECK_INT(match(m, "OPTIONS", "*", "h"), 2);
	route_matcher_free(m);
}

static void test_methods(void)
{
	char *purge[] = { CS("PURGE"), CS("LINK"), NULL };
	struct gw_route_conf routes[3] = { prefix("/m"), prefix("/m"), prefix("/m") };
	size_t order[3];
	struct gw_config cfg;
	struct route_matcher *m;

	routes[0].methods = (1u << HTTP_M_GET) | (1u << HTTP_M_POST);
	routes[1].method_names = purge;
	cfg_init(&cfg, routes, 3, order, NULL);
	m = route_matcher_new(&cfg);
	CHECK_INT(match(m, "GET", "/m", "h"), 0);
	CHECK_INT(match(m, "POST", "/m/x", "h"), 0);
	CHECK_INT(match(m, "HEAD", "/m", "h"), 2);
	CHECK_INT(match(m, "DELETE", "/m", "h"), 2);
	CHECK_INT(match(m, "PURGE", "/m", "h"), 1);
	CHECK_INT(match(m, "LINK", "/m", "h"), 1);
	CHECK_INT(match(m, "PURGEX", "/m", "h"), 2);
	CHECK_INT(match(m, "PURG", "/m", "h"), 2);
	CHECK_INT(match(m, "purge", "/m", "h"), 2);	/* method names are case-sensitive */
	route_matcher_free(m);
}

static void test_hosts(void)
{
	struct gw_route_conf routes[5] = {
		prefix("/"), prefix("/"), prefix("/v6"), prefix("/v6b"), prefix("/"),
	};
	size_t order[5];
	struct gw_config cfg;
	struct route_matcher *m;

	routes[0].host = CS("api.example.com");
	routes[1].host = CS("*.example.com");
	routes[2].host = CS("[::1]");
	routes[3].host = CS("::1");
	cfg_init(&cfg, routes, 5, order, NULL);
	m = route_matcher_new(&cfg);
	CHECK_INT(match(m, "GET", "/", "api.example.com"), 0);
	CHECK_INT(match(m, "GET", "/", "API.Example.COM"), 0);
	CHECK_INT(match(m, "GET", "/", "API.Example.COM:8080"), 0);
	CHECK_INT(match(m, "GET", "/", "api.example.com."), 0);
	CHECK_INT(match(m, "GET", "/", "api.example.com.:443"), 0);
	CHECK_INT(match(m, "GET", "/", "api.example.co"), 4);
	CHECK_INT(match(m, "GET", "/", "api.example.com.evil"), 4);
	CHECK_INT(match(m, "GET", "/", "www.example.com"), 1);
	CHECK_INT(match(m, "GET", "/", "A.B.Example.com:80"), 1);
	CHECK_INT(match(m, "GET", "/", "x.example.com"), 1);
	CHECK_INT(match(m, "GET", "/", "example.com"), 4);
	CHECK_INT(match(m, "GET", "/", ".example.com"), 4);
	CHECK_INT(match(m, "GET", "/", "evilexample.com"), 4);
	CHECK_INT(match(m, "GET", "/", NULL), 4);
	CHECK_INT(match(m, "GET", "/v6", "[::1]:8080"), 2);
	CHECK_INT(match(m, "GET", "/v6", "[::1]"), 2);
	CHECK_INT(match(m, "GET", "/v6", "[::2]:8080"), 4);
	CHECK_INT(match(m, "GET", "/v6b", "[::1]:80"), 3);
	CHECK_INT(match(m, "GET", "/v6b", "[::1]"), 3);
	CHECK_INT(match(m, "GET", "/v6b", "[::1:80"), 4);	/* unclosed: compared whole */
	route_matcher_free(m);
}

static int match_hdrs(struct route_matcher *m, const char *path, const char *const *kv)
{
	struct treq t;

	treq_init(&t, "GET", path, "h");
	for (; kv && kv[0]; kv += 2)
		treq_field(&t, kv[0], kv[1]);
	return route_match(m, t.buf, &t.req);
}

static void test_headers(void)
{
	struct gw_header_match need[2] = { { CS("x-a"), CS("1") }, { CS("x-b"), CS("two") } };
	struct gw_route_conf routes[2] = { prefix("/h"), prefix("/h") };
	size_t order[2];
	struct gw_config cfg;
	struct route_matcher *m;

	routes[0].headers = need;
	routes[0].n_headers = 2;
	cfg_init(&cfg, routes, 2, order, NULL);
	m = route_matcher_new(&cfg);
	CHECK_INT(match_hdrs(m, "/h", (const char *const[]){ "x-a", "1", "x-b", "two", NULL }), 0);
	CHECK_INT(match_hdrs(m, "/h", (const char *const[]){ "X-B", "two", "X-A", "1", NULL }), 0);
	CHECK_INT(match_hdrs(m, "/h", (const char *const[]){ "x-a", "1", NULL }), 1);
	CHECK_INT(match_hdrs(m, "/h", (const char *const[]){ "x-b", "two", NULL }), 1);
	CHECK_INT(match_hdrs(m, "/h", (const char *const[]){ "x-a", "1", "x-b", "Two", NULL }), 1);
	CHECK_INT(match_hdrs(m, "/h", (const char *const[]){ "x-a", "11", "x-b", "two", NULL }), 1);
	CHECK_INT(match_hdrs(m, "/h", (const char *const[]){ "x-aa", "1", "x-b", "two", NULL }), 1);
	/* A repeated field: any one of them may satisfy the condition. */
	CHECK_INT(match_hdrs(m, "/h",
			     (const char *const[]){ "x-a", "0", "x-b", "two", "x-a", "1", NULL }), 0);
	CHECK_INT(match_hdrs(m, "/h", NULL), 1);
	route_matcher_free(m);
}

static void test_query(void)
{
	struct gw_route_conf routes[3] = { prefix("/q"), prefix("/q"), prefix("/q") };
	size_t order[3];
	struct gw_config cfg;
	struct route_matcher *m;

	routes[0].query_name = CS("version");
	routes[0].query_value = CS("1");
	routes[1].query_name = CS("flag");
	routes[1].query_value = CS("");
	cfg_init(&cfg, routes, 3, order, NULL);
	m = route_matcher_new(&cfg);
	CHECK_INT(match(m, "GET", "/q?version=1", "h"), 0);
	CHECK_INT(match(m, "GET", "/q/x?a=b&version=1&c", "h"), 0);
	CHECK_INT(match(m, "GET", "/q?version=1&", "h"), 0);
	CHECK_INT(match(m, "GET", "/q?version=10", "h"), 2);
	CHECK_INT(match(m, "GET", "/q?version=", "h"), 2);
	CHECK_INT(match(m, "GET", "/q?version", "h"), 2);
	CHECK_INT(match(m, "GET", "/q?xversion=1", "h"), 2);
	CHECK_INT(match(m, "GET", "/q?Version=1", "h"), 2);
	CHECK_INT(match(m, "GET", "/q?flag", "h"), 1);
	CHECK_INT(match(m, "GET", "/q?flag=", "h"), 1);
	CHECK_INT(match(m, "GET", "/q?a=1&flag", "h"), 1);
	CHECK_INT(match(m, "GET", "/q?flag=x", "h"), 2);
	CHECK_INT(match(m, "GET", "/q?flags", "h"), 2);
	CHECK_INT(match(m, "GET", "/q", "h"), 2);
	CHECK_INT(match(m, "GET", "/q?", "h"), 2);
	route_matcher_free(m);
}

/* Same path, two services: Accept-Version: 2 selects v2, anything else v1.
 * conf orders the route with more conditions first. */
static void test_header_versioning(void)
{
	struct gw_header_match v2[1] = { { CS("accept-version"), CS("2") } };
	struct gw_route_conf routes[2] = { prefix("/api"), prefix("/api") };
	const size_t conf_order[2] = { 1, 0 };
	size_t order[2];
	struct gw_config cfg;
	struct route_matcher *m;

	routes[0].service = 0;
	routes[1].headers = v2;
	routes[1].n_headers = 1;
	routes[1].service = 1;
	cfg_init(&cfg, routes, 2, order, conf_order);
	m = route_matcher_new(&cfg);
	CHECK_INT(match_hdrs(m, "/api/users", (const char *const[]){ "Accept-Version", "2", NULL }), 1);
	CHECK_INT(match_hdrs(m, "/api/users", (const char *const[]){ "accept-version", "2", NULL }), 1);
	CHECK_INT(match_hdrs(m, "/api/users", (const char *const[]){ "Accept-Version", "1", NULL }), 0);
	CHECK_INT(match_hdrs(m, "/api/users", (const char *const[]){ "Accept-Version", "22", NULL }), 0);
	CHECK_INT(match_hdrs(m, "/api/users", NULL), 0);
	route_matcher_free(m);
}

/* route_upstream_target() for <target> on <route>, as a C string. */
static const char *target(struct route_matcher *m, size_t route, const char *tgt)
{
	static char out[1024];
	struct buf b = { 0 };
	struct treq t;
	int err;

	treq_init(&t, "GET", tgt, "h");
	err = route_upstream_target(m, route, t.buf, &t.req, &b, 4096);
	if (err) {
		snprintf(out, sizeof(out), "error %d", err);
	} else {
		snprintf(out, sizeof(out), "%.*s", (int)buf_avail(&b), buf_head(&b));
	}
	buf_free(&b);
	return out;
}

static void test_strip_prefix(void)
{
	struct gw_route_conf routes[3] = { prefix("/api"), prefix("/api/"), prefix("/") };
	size_t order[3];
	struct gw_config cfg;
	struct route_matcher *m;

	routes[0].strip_prefix = CS("/api");
	routes[1].strip_prefix = CS("/api/");
	cfg_init(&cfg, routes, 3, order, NULL);
	m = route_matcher_new(&cfg);
	CHECK_STR(target(m, 0, "/api/users"), "/users");
	CHECK_STR(target(m, 0, "/api/users/42?x=1&y"), "/users/42?x=1&y");
	CHECK_STR(target(m, 0, "/api"), "/");
	CHECK_STR(target(m, 0, "/api/"), "/");
	CHECK_STR(target(m, 0, "/api?q=1"), "/?q=1");
	CHECK_STR(target(m, 0, "/apix/users"), "/apix/users");	/* not on a boundary */
	CHECK_STR(target(m, 1, "/api/users"), "/users");
	CHECK_STR(target(m, 1, "/api/"), "/");
	CHECK_STR(target(m, 1, "/api"), "/api");
	CHECK_STR(target(m, 2, "/any/path?k=v"), "/any/path?k=v");
	route_matcher_free(m);
}

static void test_rewrite(void)
{
	struct gw_route_conf routes[6] = {
		{ .rewrite_src = CS("^/old/([^/]+)/(.*)$"), .rewrite_to = CS("/new/$2/$1") },
		{ .rewrite_src = CS("items"), .rewrite_to = CS("things") },
		{ .rewrite_src = CS("^/v([0-9]+)/(.*)"), .rewrite_to = CS("/api/$2/v${1}"),
		  .strip_prefix = CS("/svc") },
		{ .rewrite_src = CS("^/p/(.*)"), .rewrite_to = CS("/cost/$$${1}x$") },
		{ .rewrite_src = CS("^/u(/x)?(.*)$"), .rewrite_to = CS("/r$1|$2|$7") },
		{ .rewrite_src = CS("^/gone.*"), .rewrite_to = CS("") },
	};
	size_t order[6];
	struct gw_config cfg;
	struct route_matcher *m;

	for (size_t i = 0; i < 6; i++) {
		routes[i].path_kind = GW_PATH_PREFIX;
		routes[i].path = CS("/");
		routes[i].rewrite_re = re(routes[i].rewrite_src);
	}
	cfg_init(&cfg, routes, 6, order, NULL);
	m = route_matcher_new(&cfg);
	CHECK_STR(target(m, 0, "/old/a/b/c"), "/new/b/c/a");
	CHECK_STR(target(m, 0, "/old/a/b/c?keep=1"), "/new/b/c/a?keep=1");
	CHECK_STR(target(m, 0, "/older/a/b"), "/older/a/b");	/* no match: unchanged */
	CHECK_STR(target(m, 1, "/v1/items/7"), "/v1/things/7");	/* unmatched text kept */
	CHECK_STR(target(m, 2, "/svc/v3/orders/9?x=y"), "/api/orders/9/v3?x=y");
	CHECK_STR(target(m, 2, "/svc"), "/");
	CHECK_STR(target(m, 3, "/p/5"), "/cost/$5x$");
	CHECK_STR(target(m, 4, "/uabc"), "/r|abc|");	/* unset and missing groups: empty */
	CHECK_STR(target(m, 4, "/u/xabc"), "/r/x|abc|");
	CHECK_STR(target(m, 5, "/gone/forever?z"), "/?z");	/* never an empty path */
	route_matcher_free(m);
	re_free(routes, 6);
}

static void test_target_buffer(void)
{
	struct gw_route_conf routes[1] = { prefix("/api") };
	size_t order[1];
	struct gw_config cfg;
	struct route_matcher *m;
	struct buf b = { 0 };
	struct treq t;

	routes[0].strip_prefix = CS("/api");
	cfg_init(&cfg, routes, 1, order, NULL);
	m = route_matcher_new(&cfg);
	treq_init(&t, "GET", "/api/users?page=2", "h");

	/* Appends after what is already there, such as the request line start. */
	CHECK_INT(buf_append(&b, "GET ", 4, 64), 0);
	CHECK_INT(route_upstream_target(m, 0, t.buf, &t.req, &b, 64), 0);
	CHECK_INT(buf_avail(&b), strlen("GET /users?page=2"));
	CHECK(memcmp(buf_head(&b), "GET /users?page=2", buf_avail(&b)) == 0);

	/* Over the limit: -ENOBUFS and the buffer is left as it was. */
	buf_reset(&b);
	CHECK_INT(buf_append(&b, "GET ", 4, 12), 0);
	CHECK_INT(route_upstream_target(m, 0, t.buf, &t.req, &b, 12), -ENOBUFS);
	CHECK_INT(buf_avail(&b), 4);
	CHECK_INT(route_upstream_target(m, 1, t.buf, &t.req, &b, 64), -EINVAL);
	buf_free(&b);
	route_matcher_free(m);
}

static void test_empty_config(void)
{
	struct gw_config cfg;
	struct route_matcher *m;

	memset(&cfg, 0, sizeof(cfg));
	m = route_matcher_new(&cfg);
	CHECK(m != NULL);
	CHECK_INT(match(m, "GET", "/", "h"), -1);
	route_matcher_free(m);
	route_matcher_free(NULL);
}

int main(void)
{
	test_precedence();
	test_unanchored_regex();
	test_segment_boundary();
	test_methods();
	test_hosts();
	test_headers();
	test_query();
	test_header_versioning();
	test_strip_prefix();
	test_rewrite();
	test_target_buffer();
	test_empty_config();
	return CHECK_EXIT();
}
