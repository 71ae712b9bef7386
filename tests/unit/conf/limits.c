/* Unit test for conf/limits.c through conf_load(): the hardening keys of
 * [gateway] (max_headers, max_request_line, client_body_timeout,
 * client_body_min_rate, send_timeout, max_conns_per_ip, user, group):
 * defaults, values, and every error with its line. Needs the users and
 * groups of a Debian system (root, nobody, nogroup). */
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
	if (!c)
		return;
	CHECK_INT(c->max_headers, 100);
	CHECK_INT(c->max_request_line, 8192);
	CHECK_INT(c->client_body_timeout_ms, 60000);
	CHECK_INT(c->client_body_min_rate, 1024);
	CHECK_INT(c->send_timeout_ms, 60000);
	CHECK_INT(c->max_conns_per_ip, 0);
	CHECK(c->user == NULL);
	CHECK(c->group == NULL);
	loaded_free(&l);
}

static void test_values(void)
{
	struct loaded l = load(GW "max_headers = 20\nmax_request_line = 2K\n"
			       "client_body_timeout = 5s\nclient_body_min_rate = 0\n"
			       "send_timeout = 250ms\nmax_conns_per_ip = 65535\n"
			       "group = nogroup\nuser = root\n" SVC RT);
	const struct gw_config *c = l.cfg;

	CHECK_INT(l.rc, 0);
	if (!c)
		return;
	CHECK_INT(c->max_headers, 20);
	CHECK_INT(c->max_request_line, 2048);
	CHECK_INT(c->client_body_timeout_ms, 5000);
	CHECK_INT(c->client_body_min_rate, 0);
	CHECK_INT(c->send_timeout_ms, 250);
	CHECK_INT(c->max_conns_per_ip, 65535);
	CHECK_STR(c->user, "root");
	CHECK_INT(c->user_uid, 0);
	CHECK_STR(c->group, "nogroup");
	CHECK_INT(c->user_gid, 65534);	/* group wins over the user's primary group */
	CHECK(c->n_user_groups >= 1);
	loaded_free(&l);

	l = load(GW "user = nobody\n" SVC RT);
	CHECK_INT(l.rc, 0);
	if (l.cfg) {
		CHECK_INT(l.cfg->user_uid, 65534);
		CHECK_INT(l.cfg->user_gid, 65534);
	}
	/* The warning depends on who runs the test. */
	CHECK_STR(l.diag, geteuid() == 0 ? "" :
		  "x.ini:3: warning: 'user' has no effect: gatewayd is not running as root\n");
	loaded_free(&l);
}

static const struct {
	const char *ini;
	const char *want;
} cases[] = {
	{ GW "max_headers = 0\n" SVC RT,
	  "x.ini:3: 'max_headers' must be a number 1..100, not '0'\n" },
	{ GW "max_headers = 101\n" SVC RT,
	  "x.ini:3: 'max_headers' must be a number 1..100, not '101'\n" },
	{ GW "max_request_line = 63\n" SVC RT,
	  "x.ini:3: 'max_request_line' must be 64..1048576 bytes, not 63\n" },
	{ GW "max_request_line = 2M\n" SVC RT,
	  "x.ini:3: 'max_request_line' must be 64..1048576 bytes, not 2M\n" },
	{ GW "client_body_timeout = 0\n" SVC RT,
	  "x.ini:3: 'client_body_timeout' must be more than 0\n" },
	{ GW "client_body_min_rate = fast\n" SVC RT,
	  "x.ini:3: bad size 'fast' for 'client_body_min_rate'\n" },
	{ GW "send_timeout = 0s\n" SVC RT, "x.ini:3: 'send_timeout' must be more than 0\n" },
	{ GW "max_conns_per_ip = 65536\n" SVC RT,
	  "x.ini:3: 'max_conns_per_ip' must be a number 0..65535 (0 = off), not '65536'\n" },
	{ GW "max_conns_per_ip = -1\n" SVC RT,
	  "x.ini:3: 'max_conns_per_ip' must be a number 0..65535 (0 = off), not '-1'\n" },
	{ GW "user = no-such-user-x\n" SVC RT, "x.ini:3: unknown user 'no-such-user-x'\n" },
	{ GW "user = a b\n" SVC RT, "x.ini:3: 'a b' is not a valid user or group name\n" },
	{ GW "user =\n" SVC RT, "x.ini:3: 'user' wants a name of 1..64 characters\n" },
	{ GW "group = no-such-group-x\n" SVC RT, "x.ini:3: unknown group 'no-such-group-x'\n" },
	{ GW "group = nogroup\n" SVC RT, "x.ini:3: 'group' needs 'user' (the workers' user)\n" },
	/* All at once, each at its line. */
	{ GW "max_headers = 0\nsend_timeout = x\nuser = no-such-user-x\n" SVC RT,
	  "x.ini:3: 'max_headers' must be a number 1..100, not '0'\n"
	  "x.ini:4: bad duration 'x' for 'send_timeout'\n"
	  "x.ini:5: unknown user 'no-such-user-x'\n" },
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct loaded l = load(cases[i].ini);

		CHECK_INT(l.rc, -EINVAL);
		CHECK(l.cfg == NULL);
		if (strcmp(l.diag, cases[i].want) != 0)
			fprintf(stderr, "--- for:\n%s--- got:\n%s--- want:\n%s\n", cases[i].ini,
				l.diag, cases[i].want);
		CHECK_STR(l.diag, cases[i].want);
		loaded_free(&l);
	}
}

int main(void)
{
	test_defaults();
	test_values();
	test_errors();
	return CHECK_EXIT();
}
