/* Unit test for conf/load.c, gateway.c, service.c and validate.c through
 * conf_load(): defaults, every value, every error message with its exact
 * line, several errors in one load, and line counting across comments,
 * blank lines, CRLF, a byte order mark and long lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "tests/unit/check.h"
#include "tests/unit/conf/load_helpers.h"

static void test_defaults(void)
{
	struct loaded l = load(GW SVC RT);
	const struct gw_config *c = l.cfg;

	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	if (!c)
		return;
	CHECK_INT(c->n_listens, 1);
	CHECK_STR(c->listens[0].addr.text, "127.0.0.1:8080");
	CHECK_INT(c->listens[0].line, 2);
	CHECK_INT(c->workers, 0);
	CHECK(c->pin_workers);
	CHECK(c->access_log == NULL);
	CHECK_INT(c->log_level, LOG_INFO);
	CHECK_INT(c->drain_timeout_ms, 30000);
	CHECK_INT(c->header_timeout_ms, 10000);
	CHECK_INT(c->idle_timeout_ms, 60000);
	CHECK_INT(c->max_header_bytes, 16384);
	CHECK_INT(c->max_body_bytes, 8 << 20);
	CHECK_INT(c->n_services, 1);
	CHECK_STR(c->services[0].name, "a");
	CHECK_INT(c->services[0].line, 3);
	CHECK_INT(c->services[0].n_instances, 1);
	CHECK_INT(c->services[0].instances[0].weight, 1);
	CHECK_INT(c->services[0].instances[0].line, 4);
	CHECK_STR(c->services[0].instances[0].host, "127.0.0.1:9001");
	CHECK_STR(c->services[0].instances[0].addr.text, "127.0.0.1:9001");
	CHECK_INT(c->services[0].balance, GW_BAL_ROUND_ROBIN);
	CHECK(c->services[0].hash_header == NULL);
	CHECK_INT(c->services[0].connect_timeout_ms, 1000);
	CHECK_INT(c->services[0].timeout_ms, 30000);
	CHECK_INT(c->services[0].keepalive, 32);
	CHECK_INT(c->n_routes, 1);
	CHECK_STR(c->routes[0].name, "r");
	CHECK_INT(c->routes[0].line, 5);
	CHECK_INT(c->routes[0].path_kind, GW_PATH_PREFIX);
	CHECK_STR(c->routes[0].path, "/");
	CHECK_INT(c->routes[0].service, 0);
	CHECK_INT(c->routes[0].n_conditions, 0);
	CHECK_INT(c->route_order[0], 0);
	CHECK(strstr(c->path, "/tmp/gw-conf-test-") == c->path);
	loaded_free(&l);
}

static void test_values(void)
{
	struct loaded l = load(
		"[gateway]\n"
		"listen = 127.0.0.1:8080\n"
		"listen = [::1]:8081\n"
		"listen = *:0\n"
		"listen = *:0\n"
		"workers = 4\n"
		"pin_workers = off\n"
		"access_log = /var/log/gw.log\n"
		"log_level = debug\n"
		"drain_timeout = 0\n"
		"header_timeout = 250ms\n"
		"idle_timeout = 5m\n"
		"max_header_bytes = 32k\n"
		"max_body_bytes = 0\n"
		"[service s]\n"
		"instance = 127.0.0.1:9001\n"
		"instance = localhost:9002 weight=3\n"
		"instance = [::1]:9003 weight=1000\n"
		"balance = hash:header:X-User\n"
		"connect_timeout = 2s\n"
		"timeout = 1h\n"
		"keepalive = 0\n"
		"[service t]\n"
		"instance = 10.0.0.1:80\n"
		"balance = p2c\n"
		"keepalive = 10000\n"
		"[route r]\n"
		"path = /\n"
		"service = t\n");
	const struct gw_config *c = l.cfg;

	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	if (!c)
		return;
	CHECK_INT(c->n_listens, 4);
	CHECK_STR(c->listens[1].addr.text, "[::1]:8081");
	CHECK_STR(c->listens[2].addr.text, "0.0.0.0:0");
	CHECK_INT(c->listens[3].line, 5);
	CHECK_INT(c->workers, 4);
	CHECK(!c->pin_workers);
	CHECK_STR(c->access_log, "/var/log/gw.log");
	CHECK_INT(c->log_level, LOG_DEBUG);
	CHECK_INT(c->drain_timeout_ms, 0);
	CHECK_INT(c->header_timeout_ms, 250);
	CHECK_INT(c->idle_timeout_ms, 300000);
	CHECK_INT(c->max_header_bytes, 32768);
	CHECK_INT(c->max_body_bytes, 0);
	CHECK_INT(c->n_services, 2);
	CHECK_INT(c->services[0].n_instances, 3);
	CHECK_STR(c->services[0].instances[1].host, "localhost:9002");
	CHECK(strcmp(c->services[0].instances[1].addr.text, "127.0.0.1:9002") == 0 ||
	      strcmp(c->services[0].instances[1].addr.text, "[::1]:9002") == 0);
	CHECK_INT(c->services[0].instances[1].weight, 3);
	CHECK_INT(c->services[0].instances[2].weight, 1000);
	CHECK_INT(c->services[0].balance, GW_BAL_HASH_HEADER);
	CHECK_STR(c->services[0].hash_header, "x-user");
	CHECK_INT(c->services[0].connect_timeout_ms, 2000);
	CHECK_INT(c->services[0].timeout_ms, 3600000);
	CHECK_INT(c->services[0].keepalive, 0);
	CHECK_INT(c->services[1].balance, GW_BAL_P2C);
	CHECK_INT(c->services[1].keepalive, 10000);
	CHECK_INT(c->routes[0].service, 1);
	loaded_free(&l);
}

static void test_small_values(void)
{
	static const struct {
		const char *line;
		unsigned workers;
		bool pin;
		const char *log;
	} cases[] = {
		{ "workers = auto", 0, true, NULL },
		{ "workers = 256", 256, true, NULL },
		{ "pin_workers = YES", 0, true, NULL },
		{ "pin_workers = 0", 0, false, NULL },
		{ "pin_workers = False", 0, false, NULL },
		{ "access_log = stderr", 0, true, "stderr" },
		{ "access_log = off", 0, true, NULL },
	};
	static const struct {
		const char *line;
		enum gw_balance balance;
	} bal[] = {
		{ "balance = round_robin", GW_BAL_ROUND_ROBIN },
		{ "balance = least_conn", GW_BAL_LEAST_CONN },
		{ "balance = random", GW_BAL_RANDOM },
		{ "balance = hash:ip", GW_BAL_HASH_IP },
	};
	char ini[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(ini, sizeof(ini), GW "%s\n" SVC RT, cases[i].line);
		struct loaded l = load(ini);

		CHECK_INT(l.rc, 0);
		if (l.cfg) {
			CHECK_INT(l.cfg->workers, cases[i].workers);
			CHECK_INT(l.cfg->pin_workers, cases[i].pin);
			if (cases[i].log)
				CHECK_STR(l.cfg->access_log, cases[i].log);
			else
				CHECK(l.cfg->access_log == NULL);
		}
		loaded_free(&l);
	}
	for (size_t i = 0; i < sizeof(bal) / sizeof(bal[0]); i++) {
		snprintf(ini, sizeof(ini), GW SVC "%s\n" RT, bal[i].line);
		struct loaded l = load(ini);

		CHECK_INT(l.rc, 0);
		if (l.cfg)
			CHECK_INT(l.cfg->services[0].balance, bal[i].balance);
		loaded_free(&l);
	}
}

/* Each file and exactly the messages it must produce. */
static const struct {
	const char *ini;
	const char *diag;
} error_cases[] = {
	/* Structure. */
	{ "[servce a]\nx = 1\n" GW SVC RT, "x.ini:1: unknown section [servce a]\n" },
	{ GW "[gateway]\nworkers = 2\n" SVC RT,
	  "x.ini:3: duplicate section [gateway] (first at line 1)\n" },
	{ "workers = 2\n" GW SVC RT, "x.ini:1: key 'workers' outside any section\n" },
	{ GW "[service a\n" SVC RT, "x.ini:3: missing ']' in section header\n" },
	{ GW "[service a] x\n" SVC RT,
	  "x.ini:3: unexpected text after section header: 'x'\n" },
	{ GW "[service]\ninstance = 127.0.0.1:1\n" SVC RT,
	  "x.ini:3: section [service] needs a name: [service NAME]\n" },
	{ "[gateway main]\nlisten = 127.0.0.1:8080\n" SVC RT,
	  "x.ini:1: section [gateway] takes no name\n"
	  "x.ini:1: no listen address\n" },
	{ GW "[service a b]\n" SVC RT,
	  "x.ini:3: bad service name 'a b' (use letters, digits, '.', '_', '-')\n" },
	{ GW "[route r/1]\n" SVC RT,
	  "x.ini:3: bad route name 'r/1' (use letters, digits, '.', '_', '-')\n" },
	{ GW "listen\n" SVC RT, "x.ini:3: expected 'key = value'\n" },
	{ GW "= 5\n" SVC RT, "x.ini:3: missing key before '='\n" },
	{ GW SVC RT "strip_prefix ; = /x\n", "x.ini:8: expected 'key = value'\n" },
	{ GW SVC RT "garbage", "x.ini:8: expected 'key = value'\n" },
	{ GW "workers = 2\nworkers = 3\n" SVC RT,
	  "x.ini:4: duplicate key 'workers' in [gateway] (first at line 3)\n" },
	{ GW SVC "timeout = 1s\n\ntimeout = 2s\n" RT,
	  "x.ini:7: duplicate key 'timeout' in [service a] (first at line 5)\n" },
	{ GW SVC RT "path = /x\n",
	  "x.ini:8: duplicate key 'path' in [route r] (first at line 6)\n" },
	{ GW SVC "tiemout = 1s\n" RT, "x.ini:5: unknown key 'tiemout' in [service a]\n" },
	{ GW "Listen = 127.0.0.1:1\n" SVC RT, "x.ini:3: unknown key 'Listen' in [gateway]\n" },
	/* Required things and references. */
	{ "", "x.ini:1: no listen address\nx.ini:1: no route\n" },
	{ SVC RT, "x.ini:1: no listen address\n" },
	{ "[gateway]\nworkers = 2\n" SVC RT, "x.ini:1: no listen address\n" },
	{ GW SVC, "x.ini:1: no route\n" },
	{ GW "[service a]\n" RT, "x.ini:3: service 'a' has no instance\n" },
	{ GW SVC "[route r]\nservice = a\n", "x.ini:5: route 'r' has no path\n" },
	{ GW SVC "[route r]\npath = /\n", "x.ini:5: route 'r' has no service\n" },
	{ GW SVC "[route r1]\npath = /\n\nservice = nope\n",
	  "x.ini:8: route 'r1' names unknown service 'nope'\n" },
	{ GW SVC "[service a]\ninstance = 127.0.0.1:9002\n" RT,
	  "x.ini:5: duplicate service 'a' (first defined at line 3)\n" },
	{ GW SVC RT "[route r]\npath = /x\nservice = a\n",
	  "x.ini:8: duplicate route 'r' (first defined at line 5)\n" },
	/* [gateway] values. */
	{ GW "listen = 1.2.3:80\n" SVC RT,
	  "x.ini:3: bad address '1.2.3:80' for 'listen' (want IP:PORT, [IPv6]:PORT or HOST:PORT)\n" },
	{ GW "listen = 127.0.0.1:8080\n" SVC RT,
	  "x.ini:3: duplicate listen address 127.0.0.1:8080 (first at line 2)\n" },
	{ GW "workers = 0\n" SVC RT, "x.ini:3: bad value '0' for 'workers' (want auto or 1..256)\n" },
	{ GW "workers = 257\n" SVC RT,
	  "x.ini:3: bad value '257' for 'workers' (want auto or 1..256)\n" },
	{ GW "pin_workers = maybe\n" SVC RT,
	  "x.ini:3: bad value 'maybe' for 'pin_workers' (want yes or no)\n" },
	{ GW "access_log =\n" SVC RT,
	  "x.ini:3: empty value for 'access_log' (want a path, stderr or off)\n" },
	{ GW "log_level = verbose\n" SVC RT,
	  "x.ini:3: bad log level 'verbose' for 'log_level' (want error, warn, info or debug)\n" },
	{ GW "drain_timeout = -1s\n" SVC RT, "x.ini:3: bad duration '-1s' for 'drain_timeout'\n" },
	{ GW "header_timeout = 0ms\n" SVC RT, "x.ini:3: 'header_timeout' must be more than 0\n" },
	{ GW "max_header_bytes = 16Q\n" SVC RT, "x.ini:3: bad size '16Q' for 'max_header_bytes'\n" },
	{ GW "max_header_bytes = 0\n" SVC RT,
	  "x.ini:3: 'max_header_bytes' must be 1..4294967295 bytes, not 0\n" },
	{ GW "max_body_bytes = 8 M\n" SVC RT, "x.ini:3: bad size '8 M' for 'max_body_bytes'\n" },
	/* [service] values. */
	{ GW SVC "timeout = 10q\n" RT, "x.ini:5: bad duration '10q' for 'timeout'\n" },
	{ GW SVC "connect_timeout = 0\n" RT, "x.ini:5: 'connect_timeout' must be more than 0\n" },
	{ GW SVC "keepalive = 10001\n" RT,
	  "x.ini:5: bad value '10001' for 'keepalive' (want 0..10000)\n" },
	{ GW SVC "balance = fastest\n" RT,
	  "x.ini:5: bad balance 'fastest' for 'balance' (want round_robin, least_conn, p2c, "
	  "random, hash:ip or hash:header:NAME)\n" },
	{ GW SVC "balance = hash:header:\n" RT,
	  "x.ini:5: bad header name in balance 'hash:header:'\n" },
	{ GW SVC "instance = 127.0.0.1:9002 weight=0\n" RT, "x.ini:5: bad weight '0' (want 1..1000)\n" },
	{ GW SVC "instance = 127.0.0.1:9002 weight=1001\n" RT,
	  "x.ini:5: bad weight '1001' (want 1..1000)\n" },
	{ GW SVC "instance = 127.0.0.1:9002 weight=x\n" RT, "x.ini:5: bad weight 'x' (want 1..1000)\n" },
	{ GW SVC "instance = 127.0.0.1:9002 wieght=2\n" RT,
	  "x.ini:5: unknown instance option 'wieght=2' (want weight=N)\n" },
	{ GW SVC "instance = *:9002\n" RT, "x.ini:5: instance '*:9002' needs a host, not '*'\n" },
	{ GW SVC "instance = 127.0.0.1:0\n" RT,
	  "x.ini:5: instance '127.0.0.1:0' needs a port other than 0\n" },
	{ GW SVC "instance = 127.0.0.1:9001 weight=2\n" RT,
	  "x.ini:5: duplicate instance 127.0.0.1:9001 in service 'a' (first at line 4)\n" },
	{ GW SVC "instance = no-such-host.invalid:80\n" RT,
	  "x.ini:5: cannot resolve 'no-such-host.invalid:80' for 'instance'\n" },
	{ GW SVC "instance = 127.0.0.1\n" RT,
	  "x.ini:5: bad address '127.0.0.1' for 'instance' (want IP:PORT, [IPv6]:PORT or HOST:PORT)\n" },
	{ GW SVC "instance =\n" RT,
	  "x.ini:5: empty value for 'instance' (want ADDRESS [weight=N])\n" },
};

/* Messages of routes.c's keys. */
static const struct {
	const char *ini;
	const char *diag;
} route_error_cases[] = {
	{ GW SVC RT "methods = GET P,OST\n", "x.ini:8: bad method token 'P,OST' for 'methods'\n" },
	{ GW SVC RT "methods =\n", "x.ini:8: empty value for 'methods'\n" },
	{ GW SVC "[route r]\npath = ~ (\nservice = a\n",
	  "x.ini:6: bad regex '(' for 'path': missing closing parenthesis at offset 1\n" },
	{ GW SVC "[route r]\npath = v1\nservice = a\n",
	  "x.ini:6: bad path 'v1' (want /prefix, = /exact or ~ regex)\n" },
	{ GW SVC "[route r]\npath = = /a?b\nservice = a\n",
	  "x.ini:6: bad path '= /a?b' (want /prefix, = /exact or ~ regex)\n" },
	{ GW SVC RT "host = api.example.com:8080\n",
	  "x.ini:8: bad host 'api.example.com:8080' for 'host' (want a name such as "
	  "api.example.com or *.example.com, without a port)\n" },
	{ GW SVC RT "header = X-Api-Version 1\n",
	  "x.ini:8: bad header 'X-Api-Version 1' for 'header' (want 'Name: value')\n" },
	{ GW SVC RT "query = version\n", "x.ini:8: bad query 'version' for 'query' (want name=value)\n" },
	{ GW SVC RT "query = =1\n", "x.ini:8: bad query '=1' for 'query' (want name=value)\n" },
	{ GW SVC RT "strip_prefix = v1\n", "x.ini:8: bad strip_prefix 'v1' (must start with '/')\n" },
	{ GW SVC RT "rewrite = ^/(a)$\n",
	  "x.ini:8: bad rewrite '^/(a)$' (want 'REGEX REPLACEMENT')\n" },
	{ GW SVC RT "rewrite = ^/(a $1\n",
	  "x.ini:8: bad regex '^/(a' for 'rewrite': missing closing parenthesis at offset 4\n" },
	{ GW SVC RT "rewrite = ^/(a)/(b)$ /$1/$3\n",
	  "x.ini:8: rewrite uses $3 but its regex has 2 groups\n" },
	{ GW SVC RT "rewrite = ^/a$ /$1\n", "x.ini:8: rewrite uses $1 but its regex has 0 groups\n" },
	{ GW SVC "[route r]\npath = /\nservice = a b\n",
	  "x.ini:7: bad service name 'a b' for 'service'\n" },
};

static void run_cases(const char *ini, const char *want)
{
	struct loaded l = load(ini);

	CHECK_INT(l.rc, -EINVAL);
	CHECK(l.cfg == NULL);
	if (strcmp(l.diag, want) != 0)
		fprintf(stderr, "--- for:\n%s--- got:\n%s--- want:\n%s\n", ini, l.diag, want);
	CHECK_STR(l.diag, want);
	loaded_free(&l);
}

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		run_cases(error_cases[i].ini, error_cases[i].diag);
	for (size_t i = 0; i < sizeof(route_error_cases) / sizeof(route_error_cases[0]); i++)
		run_cases(route_error_cases[i].ini, route_error_cases[i].diag);
}

/* Every error of one file, not just the first, in one load. */
static void test_many_errors(void)
{
	struct loaded l = load(
		"[gateway]\n"				/* 1 */
		"workers = lots\n"			/* 2 */
		"idle_timeout = 1x\n"			/* 3 */
		"[servce b]\n"				/* 4 */
		"instance = 127.0.0.1:1\n"		/* 5: ignored, bad section */
		"[service a]\n"				/* 6 */
		"balance = fair\n"			/* 7 */
		"[service c]\n"				/* 8 */
		"instance = 127.0.0.1:9001\n"		/* 9 */
		"[route r1]\n"				/* 10 */
		"path = ~ [\n"				/* 11 */
		"service = nope\n"			/* 12 */
		"[route r2]\n"				/* 13 */
		"methods = GET\n"			/* 14 */
		"oops\n");				/* 15 */

	CHECK_INT(l.rc, -EINVAL);
	CHECK(l.cfg == NULL);
	CHECK_STR(l.diag,
		  "x.ini:2: bad value 'lots' for 'workers' (want auto or 1..256)\n"
		  "x.ini:3: bad duration '1x' for 'idle_timeout'\n"
		  "x.ini:4: unknown section [servce b]\n"
		  "x.ini:7: bad balance 'fair' for 'balance' (want round_robin, least_conn, p2c, "
		  "random, hash:ip or hash:header:NAME)\n"
		  "x.ini:11: bad regex '[' for 'path': missing terminating ] for character class "
		  "at offset 1\n"
		  "x.ini:15: expected 'key = value'\n"
		  "x.ini:1: no listen address\n"
		  "x.ini:6: service 'a' has no instance\n"
		  "x.ini:12: route 'r1' names unknown service 'nope'\n"
		  "x.ini:13: route 'r2' has no path\n"
		  "x.ini:13: route 'r2' has no service\n");
	loaded_free(&l);
}

/* Line numbers survive comments, blank lines, CRLF, a BOM, indentation,
 * inline comments, a long line and a too long one. */
static void test_line_numbers(void)
{
	char *ini, *big = malloc(20000), *longre = malloc(400);
	struct loaded l;

	if (!big || !longre)
		abort();
	memset(big, 'a', 19999);
	big[19999] = '\0';
	/* A 300-byte regex: longer than inih's default 200-byte buffer. */
	memcpy(longre, "^/", 2);
	memset(longre + 2, 'b', 297);
	longre[299] = '\0';
	if (asprintf(&ini,
		     "\xEF\xBB\xBF; comment\r\n"		/* 1 */
		     "\r\n"					/* 2 */
		     "# another comment\n"			/* 3 */
		     "[gateway] ; trailing comment\n"		/* 4 */
		     "  listen = 127.0.0.1:8080 ; inline\n"	/* 5 */
		     "\t\n"					/* 6 */
		     "workers = 2;not a comment\r\n"		/* 7 */
		     "x = %s\n"					/* 8: too long */
		     "[service a]\n"				/* 9 */
		     "    instance = 127.0.0.1:9001\n"		/* 10 */
		     "[route r]\n"				/* 11 */
		     "path = ~ %s\n"				/* 12 */
		     "service = a\n"				/* 13 */
		     "\n"					/* 14 */
		     "bogus = 1\n",				/* 15, no newline after */
		     big, longre) < 0)
		abort();
	ini[strlen(ini) - 1] = '\0';
	l = load(ini);
	CHECK_INT(l.rc, -EINVAL);
#ifdef CONF_HAVE_INIH_GLOBALS
	/* inih grows its line buffer: only our own limit applies. */
	CHECK_STR(l.diag, "x.ini:7: bad value '2;not a comment' for 'workers' (want auto or 1..256)\n"
			  "x.ini:8: line too long (max 16384 bytes)\n"
			  "x.ini:15: unknown key 'bogus' in [route r]\n");
#else
	/* inih's fixed 200-byte buffer holds 198 bytes and the newline. */
	CHECK_STR(l.diag, "x.ini:7: bad value '2;not a comment' for 'workers' (want auto or 1..256)\n"
			  "x.ini:8: line too long (max 16384 bytes)\n"
			  "x.ini:12: line too long (max 198 bytes)\n"
			  "x.ini:15: unknown key 'bogus' in [route r]\n"
			  "x.ini:11: route 'r' has no path\n");
#endif
	loaded_free(&l);
	free(ini);
	free(big);
	free(longre);
}

/* Lines around inih's buffer sizes (200, then doubling when it can grow)
 * are whole: the value arrives intact and later lines keep their numbers. */
static void test_line_boundaries(void)
{
	static const unsigned lens[] = { 190, 196, 197, 198, 199, 200, 201, 202, 395, 396,
					 397, 398, 399, 400, 401, 795, 796, 797, 798, 799, 800 };
	char *ini, *re = malloc(1024), want[160];

	if (!re)
		abort();
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		/* "path = ~ " is 9 bytes: the line is lens[i] bytes long. */
		size_t n = lens[i] - 9;

		memset(re, 'c', n);
		memcpy(re, "^/", 2);
		re[n] = '\0';
		if (asprintf(&ini, GW SVC "[route r]\npath = ~ %s\nservice = a\nbogus = 1\n", re) < 0)
			abort();
		struct loaded l = load(ini);

		snprintf(want, sizeof(want), "x.ini:8: unknown key 'bogus' in [route r]\n");
#ifdef CONF_HAVE_INIH_GLOBALS
		CHECK_STR(l.diag, want);
#else
		if (lens[i] > 198)
			snprintf(want, sizeof(want), "x.ini:6: line too long (max 198 bytes)\n"
				 "x.ini:8: unknown key 'bogus' in [route r]\n"
				 "x.ini:5: route 'r' has no path\n");
		CHECK_STR(l.diag, want);
#endif
		loaded_free(&l);
		free(ini);
#ifdef CONF_HAVE_INIH_GLOBALS
		/* The value came through whole, not cut at a buffer edge. */
		if (asprintf(&ini, GW SVC "[route r]\npath = ~ %s\nservice = a\n", re) < 0)
			abort();
		l = load(ini);
		CHECK(l.cfg && strcmp(l.cfg->routes[0].path, re) == 0);
		loaded_free(&l);
		free(ini);
#endif
	}
	free(re);

	/* A header too long to read also ends the section before it. */
	re = malloc(17000);
	if (!re)
		abort();
	memset(re, 'h', 16999);
	re[16999] = '\0';
	if (asprintf(&ini, GW SVC RT "[route %s]\npath = /y\n", re) < 0)
		abort();
	struct loaded l = load(ini);

	CHECK_STR(l.diag, "x.ini:8: line too long (max 16384 bytes)\n");
	loaded_free(&l);
	free(ini);
	free(re);
}

/* A NUL byte is reported at its line and the rest still counts lines. */
static void test_nul_byte(void)
{
	static const char ini[] = GW "wor\0kers = 2\n" SVC RT "bogus = 1\n";
	struct loaded l = load_len(ini, sizeof(ini) - 1);

	CHECK_INT(l.rc, -EINVAL);
	CHECK_STR(l.diag, "x.ini:3: NUL byte in line\n"
			  "x.ini:9: unknown key 'bogus' in [route r]\n");
	loaded_free(&l);

	/* A broken header ends the section before it: no "duplicate key". */
	static const char hdr[] = GW SVC RT "[route\0 q]\npath = /y\n";
	l = load_len(hdr, sizeof(hdr) - 1);
	CHECK_INT(l.rc, -EINVAL);
	CHECK_STR(l.diag, "x.ini:8: NUL byte in line\n");
	loaded_free(&l);
}

static void test_missing_file(void)
{
	struct gw_config *cfg = (struct gw_config *)1;
	char *buf = NULL;
	size_t size = 0;
	FILE *diag = open_memstream(&buf, &size);

	CHECK_INT(conf_load("/nonexistent/gw.ini", diag, &cfg), -ENOENT);
	fclose(diag);
	CHECK(cfg == NULL);
	CHECK_STR(buf, "/nonexistent/gw.ini: cannot open: No such file or directory\n");
	free(buf);

	/* A directory opens but cannot be read. */
	buf = NULL;
	diag = open_memstream(&buf, &size);
	CHECK_INT(conf_load("/", diag, &cfg), -EISDIR);
	fclose(diag);
	CHECK(cfg == NULL);
	CHECK_STR(buf, "/: read error: Is a directory\n");
	free(buf);
}

/* The stream entry with CONF_NO_RESOLVE refuses names and takes literals. */
static void test_stream_no_resolve(void)
{
	static const char ini[] = GW "[service a]\ninstance = localhost:9001\n" RT;
	struct gw_config *cfg;
	char *buf = NULL;
	size_t size = 0;
	FILE *in = fmemopen((void *)ini, sizeof(ini) - 1, "r");
	FILE *diag = open_memstream(&buf, &size);

	CHECK_INT(conf_load_stream(in, "mem.ini", CONF_NO_RESOLVE, diag, &cfg), -EINVAL);
	fclose(diag);
	fclose(in);
	CHECK_STR(buf, "mem.ini:4: host name in 'localhost:9001' for 'instance' is not "
		       "resolved in this mode\n"
		       "mem.ini:3: service 'a' has no instance\n");
	free(buf);

	in = fmemopen((void *)(GW SVC RT), strlen(GW SVC RT), "r");
	CHECK_INT(conf_load_stream(in, "mem.ini", CONF_NO_RESOLVE, NULL, &cfg), 0);
	fclose(in);
	CHECK(cfg && strcmp(cfg->path, "mem.ini") == 0);
	conf_free(cfg);
	conf_free(NULL);
}

int main(void)
{
	test_defaults();
	test_values();
	test_small_values();
	test_errors();
	test_many_errors();
	test_line_numbers();
	test_line_boundaries();
	test_nul_byte();
	test_missing_file();
	test_stream_no_resolve();
	return CHECK_EXIT();
}
