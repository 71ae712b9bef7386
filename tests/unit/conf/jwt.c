/* Unit test for conf/jwt.c through conf_load(): [jwt NAME] sections (the
 * JWKS file read and parsed at load), the route keys auth, scopes and
 * claims, and every message with its line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "conf/config.h"
#include "tests/unit/check.h"
#include "tests/unit/conf/load_helpers.h"

/* A 32-byte HMAC secret, base64url. */
#define OCT_JWKS "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h1\"," \
	"\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}"

static char dir[] = "/tmp/gw-conf-jwt-XXXXXX";
static char good[64], bad[64], empty[64], missing[64];

/* Load HEAD + <ini> with every "@GOOD@" (etc.) replaced by the file's path;
 * paths show as "DIR/..." in the messages. */
static struct loaded load_jwt(const char *ini)
{
	static const char *const names[] = { "@GOOD@", "@BAD@", "@EMPTY@", "@MISSING@" };
	const char *const paths[] = { good, bad, empty, missing };

	return load_with_files(HEAD, ini, names, paths, 4, dir);
}

static void test_section(void)
{
	struct loaded l = load_jwt(
		"[jwt corp]\n"						/* 5 */
		"issuer = https://id.example.com/\n"
		"audience = api\n"
		"jwks = @GOOD@\n"
		"algorithms = RS256 ES256, EdDSA HS256\n"
		"leeway = 30s\n"					/* 10 */
		"forward_claims = sub:X-User-Id email:X-User-Email\n"
		"forward_claims = tenant:X-Tenant\n"
		"[route orders]\n"
		"path = /orders\n"
		"service = s\n"						/* 15 */
		"auth = jwt:corp\n"
		"scopes =  orders:read \t orders:list\n"
		"claims = role=admin tier=gold\n"
		"claims = team=\n"
		"[route open]\npath = /\nservice = s\n");		/* 20-22 */
	const struct gw_config *cfg = l.cfg;

	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	if (!cfg)
		return;
	CHECK_INT(cfg->n_jwts, 1);
	if (cfg->n_jwts == 1) {
		const struct gw_jwt_conf *j = &cfg->jwts[0];

		CHECK_STR(j->name, "corp");
		CHECK_STR(j->issuer, "https://id.example.com/");
		CHECK_STR(j->audience, "api");
		CHECK_STR(j->jwks_path, good);
		CHECK(j->keys != NULL);
		CHECK_INT(jwks_count(j->keys), 1);
		CHECK_INT(j->algs, JWT_ALG_BIT(JWT_RS256) | JWT_ALG_BIT(JWT_ES256) |
				   JWT_ALG_BIT(JWT_EDDSA) | JWT_ALG_BIT(JWT_HS256));
		CHECK_INT(j->leeway_s, 30);
		CHECK_INT(j->n_forward, 3);
		if (j->n_forward == 3) {
			CHECK_STR(j->forward[0].claim, "sub");
			CHECK_STR(j->forward[0].header, "X-User-Id");
			CHECK_STR(j->forward[0].header_lower, "x-user-id");
			CHECK_STR(j->forward[1].claim, "email");
			CHECK_STR(j->forward[2].header, "X-Tenant");
		}
		CHECK_INT(j->line, 5);
	}
	CHECK_INT(cfg->n_routes, 2);
	if (cfg->n_routes == 2) {
		const struct gw_route_conf *r = &cfg->routes[0];

		CHECK_STR(r->auth_name, "corp");
		CHECK_INT(r->jwt, 0);
		CHECK_STR(r->scopes, "orders:read orders:list");
		CHECK_INT(r->n_claims, 3);
		if (r->n_claims == 3) {
			CHECK_STR(r->claims[0].name, "role");
			CHECK_STR(r->claims[0].value, "admin");
			CHECK_STR(r->claims[1].name, "tier");
			CHECK_STR(r->claims[1].value, "gold");
			CHECK_STR(r->claims[2].name, "team");
			CHECK_STR(r->claims[2].value, "");
		}
		CHECK(cfg->routes[1].auth_name == NULL);
		CHECK(cfg->routes[1].scopes == NULL);
	}
	loaded_free(&l);
}

/* A relative jwks path is relative to the config file's directory (the
 * helper's file is in /tmp). */
static void test_relative_path(void)
{
	const char *base = strrchr(good, '/');
	char rel[80];
	char ini[256];
	struct loaded l;

	snprintf(rel, sizeof(rel), "%s%s", dir + strlen("/tmp/"), base);
	snprintf(ini, sizeof(ini), "[jwt a]\njwks = %s\nalgorithms = HS256\n"
		 "[route r]\npath = /\nservice = s\nauth = jwt:a\n", rel);
	l = load_jwt(ini);
	CHECK_INT(l.rc, 0);
	CHECK_STR(l.diag, "");
	if (l.cfg)
		CHECK_STR(l.cfg->jwts[0].jwks_path, good);
	loaded_free(&l);
}

static void test_errors(void)
{
	struct loaded l = load_jwt(
		"[jwt a]\n"						/* 5 */
		"jwks = @BAD@\n"
		"algorithms = RS256 none\n"
		"leeway = 11m\n"
		"forward_claims = sub:X-User-Id sub X-No :X-Empty sub:Bad<Name\n"
		"forward_claims = email:x-user-id\n"			/* 10 */
		"forward_claims = sub:Host sub:X-Request-Id sub:Authorization\n"
		"forward_claims =\n"
		"something = 1\n"
		"[jwt b]\n"
		"jwks = @MISSING@\n"					/* 15 */
		"[jwt c]\n"
		"jwks = @EMPTY@\n"
		"algorithms = HS256\n"
		"leeway = soon\n"
		"[jwt a]\n"						/* 20 */
		"jwks = @GOOD@\n"
		"algorithms =\n"
		"[route r1]\n"
		"path = /1\n"
		"service = s\n"						/* 25 */
		"auth = jwt:nope\n"
		"scopes = a \"b\"\n"
		"claims = role=admin =x noeq\n"
		"[route r2]\n"
		"path = /2\n"						/* 30 */
		"service = s\n"
		"auth = apikey:k\n"
		"[route r3]\n"
		"path = /3\n"
		"service = s\n"						/* 35 */
		"scopes = a\n"
		"claims = x=1\n"
		"[route r4]\n"
		"path = /4\n"
		"service = s\n"						/* 40 */
		"auth = jwt:c\n"
		"auth = jwt:c\n"
		"scopes =\n");

	CHECK_INT(l.rc, -EINVAL);
	CHECK_STR(l.diag,
		"x.ini:6: bad jwks file 'DIR/bad.json': JWKS is not JSON: '[' or '{' "
		"expected near 'not' (line 1)\n"
		"x.ini:7: bad algorithms 'RS256 none' (want names such as RS256 ES256 EdDSA HS256, "
		"separated by spaces; 'none' is never allowed)\n"
		"x.ini:8: leeway '11m' is too long (max 10m)\n"
		"x.ini:9: bad forward_claims 'sub' (want CLAIM:Header-Name, such as sub:X-User-Id)\n"
		"x.ini:9: bad forward_claims 'X-No' (want CLAIM:Header-Name, such as sub:X-User-Id)\n"
		"x.ini:9: bad forward_claims ':X-Empty' (want CLAIM:Header-Name, such as "
		"sub:X-User-Id)\n"
		"x.ini:9: bad forward_claims 'sub:Bad<Name' (want CLAIM:Header-Name, such as "
		"sub:X-User-Id)\n"
		"x.ini:10: forward_claims names header 'x-user-id' twice\n"
		"x.ini:11: forward_claims cannot set 'Host': the gateway writes it or it frames "
		"the request\n"
		"x.ini:11: forward_claims cannot set 'X-Request-Id': the gateway writes it or it "
		"frames the request\n"
		"x.ini:11: forward_claims cannot set 'Authorization': the gateway writes it or it "
		"frames the request\n"
		"x.ini:12: empty value for 'forward_claims' (want CLAIM:Header-Name pairs)\n"
		"x.ini:13: unknown key 'something' in [jwt a]\n"
		"x.ini:15: cannot read jwks file 'DIR/missing.json': No such file or directory\n"
		"x.ini:17: jwks file 'DIR/empty.json' has no usable key\n"
		"x.ini:19: bad duration 'soon' for 'leeway'\n"
		"x.ini:20: duplicate jwt 'a' (first defined at line 5)\n"
		"x.ini:22: bad algorithms '' (want names such as RS256 ES256 EdDSA HS256, "
		"separated by spaces; 'none' is never allowed)\n"
		"x.ini:27: bad scopes 'a \"b\"' (scope names are printable ASCII without '\"' "
		"or '\\', separated by spaces)\n"
		"x.ini:28: bad claims '=x' (want NAME=VALUE, such as role=admin)\n"
		"x.ini:28: bad claims 'noeq' (want NAME=VALUE, such as role=admin)\n"
		"x.ini:32: bad auth 'apikey:k' (want apikey, jwt:NAME naming a [jwt NAME] section, "
		"or both, each once)\n"
		"x.ini:42: duplicate key 'auth' in [route r4] (first at line 41)\n"
		"x.ini:43: empty value for 'scopes' (want one or more scope names)\n"
		"x.ini:5: jwt 'a' has no algorithms\n"
		"x.ini:14: jwt 'b' has no algorithms\n"
		"x.ini:20: jwt 'a' has no algorithms\n"
		"x.ini:26: route 'r1' names unknown jwt 'nope'\n"
		"x.ini:36: route 'r3': scopes needs auth\n"
		"x.ini:37: route 'r3': claims needs auth\n");
	loaded_free(&l);
}

static void test_required(void)
{
	struct loaded l = load_jwt("[jwt a]\nissuer = x\n"
				   "[route r]\npath = /\nservice = s\nauth = jwt:a\n");

	CHECK_INT(l.rc, -EINVAL);
	CHECK_STR(l.diag, "x.ini:5: jwt 'a' has no jwks (want jwks = FILE or jwks_url = "
			  "https://...)\n"
			  "x.ini:5: jwt 'a' has no algorithms\n");
	loaded_free(&l);
}

/* jwks_url and its options, the cache size, and their mistakes. */
static void test_url(void)
{
	struct loaded l = load_jwt(
		"[jwt u]\n"						/* 5 */
		"jwks_url = https://id.example.com/jwks.json\n"
		"jwks_ca = @GOOD@\n"
		"jwks_refresh = 5m\n"
		"jwks_refresh_min = 10s\n"
		"jwks_timeout = 2s\n"					/* 10 */
		"cache = 0\n"
		"algorithms = RS256\n"
		"[jwt f]\n"
		"jwks = @GOOD@\n"
		"algorithms = RS256\n"				/* 15 */
		"[route r]\npath = /\nservice = s\nauth = jwt:u\n");

	CHECK_INT(l.rc, 0);
	if (l.rc == 0) {
		const struct gw_jwt_conf *u = &l.cfg->jwts[0], *f = &l.cfg->jwts[1];

		CHECK_STR(u->jwks_url, "https://id.example.com/jwks.json");
		CHECK_STR(u->jwks_ca, good);
		CHECK(u->keys == NULL);
		CHECK_INT(u->jwks_refresh_ms, 300000);
		CHECK_INT(u->jwks_refresh_min_ms, 10000);
		CHECK_INT(u->jwks_timeout_ms, 2000);
		CHECK_INT(u->cache, 0);
		/* Defaults. */
		CHECK(f->jwks_url == NULL);
		CHECK_INT(f->jwks_refresh_ms, 600000);
		CHECK_INT(f->jwks_refresh_min_ms, 30000);
		CHECK_INT(f->jwks_timeout_ms, 5000);
		CHECK_INT(f->cache, 4096);
	}
	loaded_free(&l);

	l = load_jwt(
		"[jwt a]\n"						/* 5 */
		"jwks_url = http://id.example.com/jwks.json\n"
		"jwks_ca = @MISSING@\n"
		"jwks_refresh = 0\n"
		"jwks_refresh_min = 25h\n"
		"jwks_timeout = 61s\n"					/* 10 */
		"cache = -1\n"
		"cache = 2000000\n"
		"algorithms = RS256\n"
		"[jwt b]\n"
		"jwks = @GOOD@\n"					/* 15 */
		"jwks_url = https://x/\n"
		"jwks_ca = @GOOD@\n"
		"algorithms = RS256\n"
		"[jwt c]\n"
		"jwks = @GOOD@\n"					/* 20 */
		"algorithms = RS256\n"
		"cache = 10\n"
		"jwks_timeout = 1s\n"
		"jwks_refresh = 1m\n"
		"[route r]\npath = /\nservice = s\nauth = jwt:b\n");
	CHECK_INT(l.rc, -EINVAL);
	CHECK_STR(l.diag,
		"x.ini:6: bad jwks_url 'http://id.example.com/jwks.json' (want an https:// URL)\n"
		"x.ini:7: cannot read jwks_ca file 'DIR/missing.json': No such file or directory\n"
		"x.ini:8: jwks_refresh '0' out of range (1s..7d)\n"
		"x.ini:9: jwks_refresh_min '25h' out of range (1s..1d)\n"
		"x.ini:10: jwks_timeout '61s' out of range (100ms..60s)\n"
		"x.ini:11: bad cache '-1' (want a number of tokens, 0 (off) to 1048576)\n"
		"x.ini:12: duplicate key 'cache' in [jwt a] (first at line 11)\n"
		"x.ini:5: jwt 'a' has no jwks (want jwks = FILE or jwks_url = https://...)\n"
		"x.ini:7: jwt 'a': jwks_ca needs jwks_url\n"
		"x.ini:14: jwt 'b' has both jwks and jwks_url (want one)\n"
		"x.ini:23: jwt 'c': jwks_timeout needs jwks_url\n");
	loaded_free(&l);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return T_EXIT_FAIL;
	}
	snprintf(good, sizeof(good), "%s/good.json", dir);
	snprintf(bad, sizeof(bad), "%s/bad.json", dir);
	snprintf(empty, sizeof(empty), "%s/empty.json", dir);
	snprintf(missing, sizeof(missing), "%s/missing.json", dir);
	write_file(good, OCT_JWKS, 0600);
	write_file(bad, "not json", 0600);
	write_file(empty, "{\"keys\":[]}", 0600);
	test_section();
	test_relative_path();
	test_errors();
	test_required();
	test_url();
	unlink(good);
	unlink(bad);
	unlink(empty);
	rmdir(dir);
	return CHECK_EXIT();
}
