/* Unit test for conf/apikeys.c through conf_load(): the [apikeys] section
 * (the key store read at load, its own FILE:LINE messages, a store open to
 * others refused, a missing one starting empty), auth = apikey / "apikey
 * jwt:NAME", rate_limit by=consumer, and every message with its line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/keystore.h"
#include "conf/config.h"
#include "tests/unit/check.h"
#include "tests/unit/conf/load_helpers.h"

#define HK "hash-key 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define H1 "1111111111111111111111111111111111111111111111111111111111111111"

static char dir[] = "/tmp/gw-conf-apikeys-XXXXXX";
static char store[96], missing[96], open_store[96], bad_store[96];

/* Load HEAD + <ini> with @STORE@ (etc.) replaced by the files' paths. */
static struct loaded load_keys(const char *ini)
{
	static const char *const names[] = { "@STORE@", "@MISSING@", "@OPEN@", "@BAD@" };
	const char *const paths[] = { store, missing, open_store, bad_store };

	return load_with_files(HEAD, ini, names, paths, 4, dir);
}

static void test_good(void)
{
	struct loaded l;

	l = load_keys("[apikeys]\n"
		      "file = @STORE@\n"
		      "header = X-Key\n"
		      "[route a]\npath = /a\nservice = s\nauth = apikey\nscopes = x y\n"
		      "rate_limit = 10/min by=consumer\n"
		      "[route b]\npath = /b\nservice = s\nauth = apikey\n");
	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	if (l.cfg) {
		const struct gw_apikeys_conf *a = &l.cfg->apikeys;

		CHECK_INT(a->line, 5);
		CHECK_STR(a->header, "X-Key");
		CHECK_STR(a->header_lower, "x-key");
		CHECK(a->store != NULL && !a->store_created);
		CHECK_INT(a->store ? a->store->n : 0, 1);
		CHECK(l.cfg->routes[0].auth_apikey && !l.cfg->routes[0].auth_name);
		CHECK_INT(l.cfg->routes[0].rate_limits[0].by, GW_RL_BY_CONSUMER);
		CHECK_STR(l.cfg->routes[0].rate_limits[0].spec, "10/60000ms burst=10 by=consumer");
	}
	loaded_free(&l);

	/* A missing store is an empty one; the default header. */
	l = load_keys("[apikeys]\nfile = @MISSING@\n"
		      "[route a]\npath = /a\nservice = s\nauth = apikey\n");
	CHECK_INT(l.rc, 0);
	if (l.cfg) {
		CHECK(l.cfg->apikeys.store_created);
		CHECK_STR(l.cfg->apikeys.header, "X-Api-Key");
		CHECK_STR(l.cfg->apikeys.header_lower, "x-api-key");
	}
	loaded_free(&l);
}

static void test_errors(void)
{
	struct loaded l = load_keys(
		"[apikeys]\n"					/* 5 */
		"header = Authorization\n"
		"header = X Y\n"
		"[apikeys]\n"
		"file = x\n"
		"[route a]\npath = /a\nservice = s\n"		/* 10-12 */
		"auth = apikey apikey\n"			/* 13 */
		"[route b]\npath = /b\nservice = s\n"		/* 14-16 */
		"auth = apikey\n"				/* 17 */
		"claims = role=admin\n"				/* 18 */
		"rate_limit = 1/s by=jwt:sub\n"			/* 19 */
		"[route c]\npath = /c\nservice = s\n"		/* 20-22 */
		"rate_limit = 1/s by=consumer\n"		/* 23 */
		"[route d]\npath = /d\nservice = s\n"		/* 24-26 */
		"auth =\n");					/* 27 */

	CHECK_INT(l.rc, -EINVAL);
	CHECK_STR(l.diag,
		"x.ini:6: header cannot be 'Authorization': the gateway writes it, it frames the "
		"request or it carries other credentials\n"
		"x.ini:7: duplicate key 'header' in [apikeys] (first at line 6)\n"
		"x.ini:8: duplicate section [apikeys] (first at line 5)\n"
		"x.ini:13: bad auth 'apikey apikey' (want apikey, jwt:NAME naming a [jwt NAME] "
		"section, or both, each once)\n"
		"x.ini:27: empty value for 'auth' (want apikey, jwt:NAME or both)\n"
		"x.ini:5: [apikeys] has no file\n"
		"x.ini:18: route 'b': claims are checked on tokens only, and this route accepts "
		"API keys (use scopes)\n"
		"x.ini:19: route 'b': rate_limit by=jwt:sub needs auth = jwt:NAME\n"
		"x.ini:23: route 'c': rate_limit by=consumer needs auth = apikey\n");
	loaded_free(&l);

	/* A bad header name on its own. */
	l = load_keys("[apikeys]\nfile = @STORE@\nheader = X Y\n[route a]\npath = /a\nservice = s\n");
	CHECK_STR(l.diag, "x.ini:7: bad header 'X Y' (want a header name, such as X-Api-Key)\n");
	loaded_free(&l);

	/* No [apikeys] at all. */
	l = load_keys("[route a]\npath = /a\nservice = s\nauth = apikey\n");
	CHECK_STR(l.diag, "x.ini:8: route 'a': auth = apikey needs an [apikeys] section\n");
	loaded_free(&l);

	/* A store open to others; a store that is a directory. */
	l = load_keys("[apikeys]\nfile = @OPEN@\n[route a]\npath = /a\nservice = s\n");
	CHECK_STR(l.diag, "x.ini:6: key store 'DIR/open.db' is open to group or others "
			  "(mode 0644): chmod 600 it\n");
	loaded_free(&l);
	l = load_keys("[apikeys]\nfile = /tmp\n[route a]\npath = /a\nservice = s\n");
	CHECK_STR(l.diag, "x.ini:6: key store '/tmp' is not a regular file\n");
	loaded_free(&l);

	/* A malformed store: its own file and lines, every problem. */
	l = load_keys("[apikeys]\nfile = @BAD@\n[route a]\npath = /a\nservice = s\n");
	CHECK_INT(l.rc, -EINVAL);
	CHECK_STR(l.diag, "DIR/bad.db:3: bad state 'alive' (want live or revoked)\n"
			  "DIR/bad.db:4: unknown record 'kee' (want hash-key, next-id or key)\n");
	loaded_free(&l);
}

int main(void)
{
	if (!mkdtemp(dir))
		return T_EXIT_FAIL;
	snprintf(store, sizeof(store), "%s/store.db", dir);
	snprintf(missing, sizeof(missing), "%s/missing.db", dir);
	snprintf(open_store, sizeof(open_store), "%s/open.db", dir);
	snprintf(bad_store, sizeof(bad_store), "%s/bad.db", dir);
	write_file(store, "# x\n# y\n# z\ngatewayd-apikeys 1\n" HK "key 1 alice live 5 " H1 " x y\n",
		   0600);
	write_file(open_store, "gatewayd-apikeys 1\n" HK, 0644);
	write_file(bad_store, "gatewayd-apikeys 1\n" HK "key 1 alice alive 5 " H1 "\nkee 2\n", 0600);
	test_good();
	test_errors();
	unlink(store);
	unlink(open_store);
	unlink(bad_store);
	rmdir(dir);
	return CHECK_EXIT();
}
