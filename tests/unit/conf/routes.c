/* Unit test for conf/routes.c and conf/order.c through conf_load(): route
 * keys, precedence order on a mixed set, and never-matched warnings (and
 * their absence where a route can still match). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf/config.h"
#include "lib/http1.h"
#include "tests/unit/check.h"
#include "tests/unit/conf/load_helpers.h"

/* Lines 1-6: HEAD and a service "t". */
#define HEAD_ST HEAD "[service t]\ninstance = 127.0.0.1:9002\n"

static bool re_matches(const struct pcre2_real_code_8 *re, const char *subject)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);

	pcre2_match_data_free(md);
	return rc > 0;
}

static void test_keys(void)
{
	struct loaded l = load(HEAD_ST
		"[route full]\n"			/* 7 */
		"path = /v1/users\n"
		"methods = GET  POST\tPURGE GET\n"
		"host = API.Example.com\n"		/* 10 */
		"header = X-Api-Version: 1\n"
		"header = Accept-Version:\n"
		"query = version=\n"
		"service = t\n"
		"strip_prefix = /v1\n"			/* 15 */
		"rewrite = ^/users/(.*)$ /people/$1\n"
		"[route exact]\n"			/* 17 */
		"path = =/health\n"
		"service = s\n"
		"host = *.example.com\n"		/* 20 */
		"[route rx]\n"
		"path = ~   ^/items/[0-9]+$\n"
		"service = s\n");
	const struct gw_route_conf *r;

	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	if (!l.cfg)
		return;
	CHECK_INT(l.cfg->n_routes, 3);
	r = &l.cfg->routes[0];
	CHECK_STR(r->name, "full");
	CHECK_INT(r->line, 7);
	CHECK_INT(r->path_kind, GW_PATH_PREFIX);
	CHECK_STR(r->path, "/v1/users");
	CHECK(r->path_re == NULL);
	CHECK_INT(r->methods, (1u << HTTP_M_GET) | (1u << HTTP_M_POST));
	CHECK(r->method_names && r->method_names[0] && !r->method_names[1]);
	CHECK_STR(r->method_names ? r->method_names[0] : NULL, "PURGE");
	CHECK_STR(r->host, "api.example.com");
	CHECK_INT(r->n_headers, 2);
	CHECK_STR(r->headers[0].name, "x-api-version");
	CHECK_STR(r->headers[0].value, "1");
	CHECK_STR(r->headers[1].name, "accept-version");
	CHECK_STR(r->headers[1].value, "");
	CHECK_STR(r->query_name, "version");
	CHECK_STR(r->query_value, "");
	CHECK_STR(r->service_name, "t");
	CHECK_INT(r->service, 1);
	CHECK_INT(r->service_line, 14);
	CHECK_STR(r->strip_prefix, "/v1");
	CHECK_STR(r->rewrite_src, "^/users/(.*)$");
	CHECK_STR(r->rewrite_to, "/people/$1");
	CHECK(r->rewrite_re && re_matches(r->rewrite_re, "/users/7"));
	CHECK(r->rewrite_re && !re_matches(r->rewrite_re, "/people/7"));
	CHECK_INT(r->n_conditions, 5);

	r = &l.cfg->routes[1];
	CHECK_INT(r->path_kind, GW_PATH_EXACT);
	CHECK_STR(r->path, "/health");
	CHECK_STR(r->host, "*.example.com");
	CHECK_INT(r->methods, 0);
	CHECK(r->method_names == NULL);
	CHECK(r->strip_prefix == NULL && r->rewrite_re == NULL && r->query_name == NULL);
	CHECK_INT(r->n_conditions, 1);
	CHECK_INT(r->service, 0);

	r = &l.cfg->routes[2];
	CHECK_INT(r->path_kind, GW_PATH_REGEX);
	CHECK_STR(r->path, "^/items/[0-9]+$");
	CHECK(r->path_re && re_matches(r->path_re, "/items/42"));
	CHECK(r->path_re && !re_matches(r->path_re, "/items/x"));
	CHECK_INT(r->n_conditions, 0);
	loaded_free(&l);
}

static void test_order(void)
{
	static const char *const want[] = {
		"ex2", "ex1", "rx2", "rx1", "plong_get", "plong", "pitems", "papi_3", "papi", "root",
	};
	struct loaded l = load(HEAD_ST
		"[route papi]\npath = /api\nservice = s\n"
		"[route plong]\npath = /api/users\nservice = s\n"
		"[route rx1]\npath = ~ ^/api/v[0-9]+/\nservice = s\n"
		"[route ex1]\npath = = /api/health\nservice = s\n"
		"[route plong_get]\npath = /api/users\nmethods = GET\nservice = s\n"
		"[route rx2]\npath = ~ ^/x\nhost = x.com\nheader = X-A: 1\nservice = s\n"
		"[route ex2]\npath = = /api/health\nheader = X-A: 1\nservice = s\n"
		"[route root]\npath = /\nservice = s\n"
		"[route papi_3]\npath = /api\nmethods = GET\nhost = h\nquery = q=1\nservice = s\n"
		"[route pitems]\npath = /api/items\nservice = t\n");

	CHECK_INT(l.rc, 0);
	/* Nothing here is hidden: no warnings at all. */
	CHECK_STR(l.diag, "");
	if (!l.cfg)
		return;
	CHECK_INT(l.cfg->n_routes, 10);
	for (size_t i = 0; i < 10 && i < l.cfg->n_routes; i++) {
		const char *got = l.cfg->routes[l.cfg->route_order[i]].name;

		if (strcmp(got, want[i]) != 0)
			fprintf(stderr, "route_order[%zu] is %s, want %s\n", i, got, want[i]);
		CHECK_STR(got, want[i]);
	}
	loaded_free(&l);
}

/* <routes> after HEAD_ST (route lines start at 7), and the exact diag. */
static const struct {
	const char *routes;
	const char *diag;
} shadow_cases[] = {
	{ "[route a]\npath = /x\nservice = s\n[route b]\npath = /x\nservice = t\n",
	  "x.ini:10: warning: route 'b' is never matched: route 'a' (line 7) always matches first\n" },
	{ "[route a]\npath = /x\nmethods = GET POST\nservice = s\n"
	  "[route b]\npath = /x\nmethods = GET\nservice = t\n",
	  "x.ini:11: warning: route 'b' is never matched: route 'a' (line 7) always matches first\n" },
	{ "[route a]\npath = /x\nmethods = GET\nservice = s\n"
	  "[route b]\npath = /x\nmethods = GET POST\nservice = t\n", "" },
	{ "[route a]\npath = /x\nmethods = PURGE GET\nservice = s\n"
	  "[route b]\npath = /x\nmethods = PURGE\nservice = t\n",
	  "x.ini:11: warning: route 'b' is never matched: route 'a' (line 7) always matches first\n" },
	{ "[route a]\npath = /x\nmethods = GET\nservice = s\n"
	  "[route b]\npath = /x\nmethods = PURGE\nservice = t\n", "" },
	{ "[route a]\npath = /x\nservice = s\n"
	  "[route b]\npath = /x\nmethods = GET\nservice = t\n", "" },
	{ "[route a]\npath = /x\nhost = A.com\nservice = s\n"
	  "[route b]\npath = /x\nhost = a.com\nservice = t\n",
	  "x.ini:11: warning: route 'b' is never matched: route 'a' (line 7) always matches first\n" },
	{ "[route a]\npath = /x\nhost = a.com\nservice = s\n"
	  "[route b]\npath = /x\nhost = b.com\nservice = t\n", "" },
	{ "[route a]\npath = /x\nhost = *.a.com\nservice = s\n"
	  "[route b]\npath = /x\nhost = b.a.com\nservice = t\n", "" },
	/* b has more conditions, so it sorts first; a still matches others. */
	{ "[route a]\npath = /x\nheader = X-A: 1\nservice = s\n"
	  "[route b]\npath = /x\nheader = X-A: 1\nquery = q=1\nservice = t\n", "" },
	{ "[route a]\npath = /x\nheader = X-A: 1\nservice = s\n"
	  "[route b]\npath = /x\nheader = x-a: 1\nservice = t\n",
	  "x.ini:11: warning: route 'b' is never matched: route 'a' (line 7) always matches first\n" },
	{ "[route a]\npath = /x\nheader = X-A: 1\nservice = s\n"
	  "[route b]\npath = /x\nheader = X-A: 2\nservice = t\n", "" },
	{ "[route a]\npath = /x\nquery = q=1\nservice = s\n"
	  "[route b]\npath = /x\nquery = q=1\nservice = t\n",
	  "x.ini:11: warning: route 'b' is never matched: route 'a' (line 7) always matches first\n" },
	{ "[route a]\npath = /x\nquery = q=1\nservice = s\n"
	  "[route b]\npath = /x\nquery = q=2\nservice = t\n", "" },
	{ "[route a]\npath = /x\nquery = q=1\nservice = s\n"
	  "[route b]\npath = /x\nhost = h\nservice = t\n", "" },
	{ "[route a]\npath = /x\nservice = s\n[route b]\npath = = /x\nservice = t\n", "" },
	{ "[route a]\npath = /x\nservice = s\n[route b]\npath = /x/\nservice = t\n", "" },
	{ "[route a]\npath = ~ ^/x\nservice = s\n[route b]\npath = ~^/x\nservice = t\n",
	  "x.ini:10: warning: route 'b' is never matched: route 'a' (line 7) always matches first\n" },
	/* One warning per hidden route, naming the first route that hides it. */
	{ "[route a]\npath = = /x\nservice = s\n[route b]\npath = = /x\nservice = s\n"
	  "[route c]\npath = = /x\nservice = s\n",
	  "x.ini:10: warning: route 'b' is never matched: route 'a' (line 7) always matches first\n"
	  "x.ini:13: warning: route 'c' is never matched: route 'a' (line 7) always matches first\n" },
	/* Other warnings. */
	{ "[route a]\npath = /x\nmethods = get\nservice = s\n",
	  "x.ini:9: warning: method 'get' is not 'GET': methods are case-sensitive\n" },
	{ "[route a]\npath = /v1/products\nstrip_prefix = /v2\nservice = s\n",
	  "x.ini:7: warning: route 'a': strip_prefix '/v2' is not a prefix of its path '/v1/products'\n" },
	{ "[route a]\npath = /v1\nstrip_prefix = /v\nservice = s\n",
	  "x.ini:7: warning: route 'a': strip_prefix '/v' is not a prefix of its path '/v1'\n" },
	{ "[route a]\npath = /v1/products\nstrip_prefix = /v1\nservice = s\n"
	  "[route b]\npath = = /v1/\nstrip_prefix = /v1/\nservice = s\n"
	  "[route c]\npath = ~ ^/v2\nstrip_prefix = /v3\nservice = s\n", "" },
};

static void test_shadow(void)
{
	char ini[1024];

	for (size_t i = 0; i < sizeof(shadow_cases) / sizeof(shadow_cases[0]); i++) {
		snprintf(ini, sizeof(ini), HEAD_ST "%s", shadow_cases[i].routes);
		struct loaded l = load(ini);

		/* Warnings never fail a load. */
		CHECK_INT(l.rc, 0);
		if (strcmp(l.diag, shadow_cases[i].diag) != 0)
			fprintf(stderr, "--- for:\n%s--- got:\n%s--- want:\n%s\n", ini, l.diag,
				shadow_cases[i].diag);
		CHECK_STR(l.diag, shadow_cases[i].diag);
		loaded_free(&l);
	}
}

int main(void)
{
	test_keys();
	test_order();
	test_shadow();
	return CHECK_EXIT();
}
