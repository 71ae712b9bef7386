/* Unit test for conf/access.c through conf_load(): the [access] section,
 * route allow/deny keys, CIDR errors with their lines, and duplicates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "tests/unit/check.h"
#include "tests/unit/conf/load_helpers.h"

static const char *entry_text(const struct gw_acl_entry *e)
{
	static char buf[4][CIDR_TEXT_MAX + 8];
	static unsigned n;
	char *out = buf[n++ % 4], pfx[CIDR_TEXT_MAX];

	cidr_format(&e->prefix, true, pfx, sizeof(pfx));
	snprintf(out, CIDR_TEXT_MAX + 8, "%s %s", e->deny ? "deny" : "allow", pfx);
	return out;
}

static void test_section(void)
{
	struct loaded l = load(HEAD
		"[access]\n"					/* 5 */
		"allow = 10.0.0.0/8  192.168.0.0/16\t::1/128\n"
		"deny = 10.1.2.0/24\n"
		"allow = 2001:db8::/32 127.0.0.1\n"
		"trusted_proxies = 10.0.0.0/8 ; the load balancers\n"
		"trusted_proxies = ::ffff:172.16.0.0/108\n"	/* 10 */
		"[route r]\n"
		"path = /\n"
		"service = s\n"
		"deny = 127.0.0.2\n"
		"allow = 127.0.0.0/8 ::1\n");			/* 15 */
	const struct gw_config *cfg = l.cfg;

	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	if (!cfg)
		return;
	CHECK_INT(cfg->access.n, 6);
	CHECK(cfg->access.has_allow);
	if (cfg->access.n == 6) {
		CHECK_STR(entry_text(&cfg->access.entries[0]), "allow 10.0.0.0/8");
		CHECK_STR(entry_text(&cfg->access.entries[1]), "allow 192.168.0.0/16");
		CHECK_STR(entry_text(&cfg->access.entries[2]), "allow ::1/128");
		CHECK_STR(entry_text(&cfg->access.entries[3]), "deny 10.1.2.0/24");
		CHECK_STR(entry_text(&cfg->access.entries[4]), "allow 2001:db8::/32");
		CHECK_STR(entry_text(&cfg->access.entries[5]), "allow 127.0.0.1/32");
		CHECK_INT(cfg->access.entries[0].line, 6);
		CHECK_INT(cfg->access.entries[3].line, 7);
		CHECK_INT(cfg->access.entries[5].line, 8);
	}
	CHECK_INT(cfg->trusted_proxies.n, 2);
	if (cfg->trusted_proxies.n == 2) {
		CHECK_STR(entry_text(&cfg->trusted_proxies.entries[0]), "allow 10.0.0.0/8");
		/* A mapped prefix is the IPv4 prefix it covers. */
		CHECK_STR(entry_text(&cfg->trusted_proxies.entries[1]), "allow 172.16.0.0/12");
	}
	CHECK_INT(cfg->n_routes, 1);
	if (cfg->n_routes == 1) {
		const struct gw_acl_conf *a = &cfg->routes[0].acl;

		CHECK_INT(a->n, 3);
		CHECK(a->has_allow);
		if (a->n == 3) {
			CHECK_STR(entry_text(&a->entries[0]), "deny 127.0.0.2/32");
			CHECK_STR(entry_text(&a->entries[1]), "allow 127.0.0.0/8");
			CHECK_STR(entry_text(&a->entries[2]), "allow ::1/128");
			CHECK_INT(a->entries[2].line, 15);
		}
	}
	loaded_free(&l);
}

static void test_defaults(void)
{
	struct loaded l = load(HEAD "[route r]\npath = /\nservice = s\ndeny = 10.0.0.0/8\n");

	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	if (l.cfg) {
		CHECK_INT(l.cfg->access.n, 0);
		CHECK(!l.cfg->access.has_allow);
		CHECK_INT(l.cfg->trusted_proxies.n, 0);
		CHECK_INT(l.cfg->routes[0].acl.n, 1);
		/* Only deny entries: what they miss is allowed. */
		CHECK(!l.cfg->routes[0].acl.has_allow);
	}
	loaded_free(&l);
}

static void test_errors(void)
{
	struct loaded l = load(HEAD
		"[access]\n"					/* 5 */
		"allow = 10.0.0.0/33\n"
		"allow = 10.1.2.3/24 ::1/129\n"
		"deny = 10.0.0.0/8x 300.1.1.1\n"
		"allow =\n"
		"trusted_proxies = example.com\n"		/* 10 */
		"allow = 10.2.0.0/16\n"
		"deny = 10.2.0.0/16\n"
		"allow = 10.2.0.0/16\n"
		"deny = ::ffff:10.2.0.0/112\n"
		"something = 1\n"				/* 15 */
		"[access]\n"
		"[route r]\n"
		"path = /\n"
		"service = s\n"
		"allow = 1.2.3.4/\n"				/* 20 */
		"trusted_proxies = 10.0.0.0/8\n");

	CHECK_INT(l.rc, -EINVAL);
	CHECK_STR(l.diag,
		"x.ini:6: bad CIDR '10.0.0.0/33' for 'allow' (want ADDRESS or ADDRESS/LENGTH, "
		"such as 10.0.0.0/8 or 2001:db8::/32)\n"
		"x.ini:7: bad CIDR '10.1.2.3/24' for 'allow': bits set after the prefix length "
		"(did you mean 10.1.2.0/24?)\n"
		"x.ini:7: bad CIDR '::1/129' for 'allow' (want ADDRESS or ADDRESS/LENGTH, "
		"such as 10.0.0.0/8 or 2001:db8::/32)\n"
		"x.ini:8: bad CIDR '10.0.0.0/8x' for 'deny' (want ADDRESS or ADDRESS/LENGTH, "
		"such as 10.0.0.0/8 or 2001:db8::/32)\n"
		"x.ini:8: bad CIDR '300.1.1.1' for 'deny' (want ADDRESS or ADDRESS/LENGTH, "
		"such as 10.0.0.0/8 or 2001:db8::/32)\n"
		"x.ini:9: empty value for 'allow' (want one or more CIDRs, such as 10.0.0.0/8 ::1)\n"
		"x.ini:10: bad CIDR 'example.com' for 'trusted_proxies' (want ADDRESS or "
		"ADDRESS/LENGTH, such as 10.0.0.0/8 or 2001:db8::/32)\n"
		"x.ini:12: 10.2.0.0/16 is both allowed and denied (first at line 11)\n"
		"x.ini:13: warning: 10.2.0.0/16 is listed twice in 'allow' (first at line 11)\n"
		"x.ini:14: 10.2.0.0/16 is both allowed and denied (first at line 11)\n"
		"x.ini:15: unknown key 'something' in [access]\n"
		"x.ini:16: duplicate section [access] (first at line 5)\n"
		"x.ini:20: bad CIDR '1.2.3.4/' for 'allow' (want ADDRESS or ADDRESS/LENGTH, "
		"such as 10.0.0.0/8 or 2001:db8::/32)\n"
		"x.ini:21: unknown key 'trusted_proxies' in [route r]\n");
	loaded_free(&l);
}

/* The route's list and the global one are separate: the same prefix in
 * both, with opposite verdicts, is fine. */
static void test_scopes(void)
{
	struct loaded l = load(HEAD
		"[access]\nallow = 10.0.0.0/8\n"
		"[route a]\npath = /a\nservice = s\ndeny = 10.0.0.0/8\n"
		"[route b]\npath = /b\nservice = s\nallow = 10.0.0.0/8\n");

	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	loaded_free(&l);
}

int main(void)
{
	test_section();
	test_defaults();
	test_errors();
	test_scopes();
	return CHECK_EXIT();
}
