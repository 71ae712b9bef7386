/* auth/scopes: the one scope-list rule for routes, API keys and tokens. */
#include "auth/scopes.h"
#include "tests/unit/check.h"

#include <errno.h>

static void test_norm(void)
{
	char out[16];

	CHECK_INT(scopes_norm("  a:read\t\tb  ", out, sizeof(out)), 8);
	CHECK_STR(out, "a:read b");
	CHECK_INT(scopes_norm("", out, sizeof(out)), 0);
	CHECK_STR(out, "");
	CHECK_INT(scopes_norm(" \t ", out, sizeof(out)), 0);
	CHECK_STR(out, "");
	/* Every printable byte but '"' and '\' is a scope byte. */
	CHECK_INT(scopes_norm("!#[]~", out, sizeof(out)), 5);
	CHECK_INT(scopes_norm("a\"b", out, sizeof(out)), -EINVAL);
	CHECK_INT(scopes_norm("a\\b", out, sizeof(out)), -EINVAL);
	CHECK_INT(scopes_norm("a\nb", out, sizeof(out)), -EINVAL);
	CHECK_INT(scopes_norm("caf\xc3\xa9", out, sizeof(out)), -EINVAL);
	/* The limit is on the normalised list: 15 bytes and the NUL fit. */
	CHECK_INT(scopes_norm("aaaaaaa    bbbbbbb", out, sizeof(out)), 15);
	CHECK_STR(out, "aaaaaaa bbbbbbb");
	CHECK_INT(scopes_norm("aaaaaaa bbbbbbbb", out, sizeof(out)), -ENOSPC);
	CHECK_INT(scopes_norm("a", out, 0), -ENOSPC);
}

static void test_have(void)
{
	CHECK(scopes_have("a b:c d", "b:c", 3));
	CHECK(scopes_have("  a  b ", "b", 1));
	CHECK(!scopes_have("a b:c d", "b", 1));		/* whole words only */
	CHECK(!scopes_have("ab", "a", 1));
	CHECK(!scopes_have(NULL, "a", 1));
	CHECK(!scopes_have("a ", "", 0));		/* no empty scope */
}

static void test_all_in(void)
{
	CHECK(scopes_all_in("a c", "c b a"));
	CHECK(scopes_all_in("", "a"));
	CHECK(scopes_all_in(NULL, NULL));
	CHECK(!scopes_all_in("a d", "c b a"));
	CHECK(!scopes_all_in("a", NULL));
	CHECK(!scopes_all_in("a", ""));
}

int main(void)
{
	test_norm();
	test_have();
	test_all_in();
	return CHECK_EXIT();
}
