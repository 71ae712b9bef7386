/* The [access] section and the access-list values routes share: which
 * client addresses may use the gateway, and which peers are proxies whose
 * X-Forwarded-For is believed.
 *
 *   [access]
 *   allow = 10.0.0.0/8 192.168.0.0/16 ::1/128
 *   deny = 10.1.2.0/24
 *   trusted_proxies = 10.0.0.0/8
 *
 * Every key is repeatable and takes one or more CIDRs separated by spaces;
 * a bare address is a /32 or /128. The worker builds its lookup sets from
 * these lists (worker/access.c). */
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/internal.h"

void conf__acl_release(struct gw_acl_conf *acl)
{
	free(acl->entries);
	acl->entries = NULL;
	acl->n = 0;
	acl->has_allow = false;
}

/* A word of a list value as a prefix; false after reporting it. */
static bool acl_word(struct conf_parser *p, const char *key, const char *word,
		     struct cidr *out)
{
	char shown[CIDR_TEXT_MAX];
	int rc = cidr_parse(word, out);

	if (rc == CIDR_ERR_HOST_BITS) {
		cidr_format(out, true, shown, sizeof(shown));
		conf__error(p, p->line, "bad CIDR '%s' for '%s': bits set after the prefix "
			    "length (did you mean %s?)", word, key, shown);
		return false;
	}
	if (rc != 0) {
		conf__error(p, p->line, "bad CIDR '%s' for '%s' (want ADDRESS or ADDRESS/LENGTH, "
			    "such as 10.0.0.0/8 or 2001:db8::/32)", word, key);
		return false;
	}
	return true;
}

/* The entry of <acl> with prefix <c>, or NULL. Lists are short (a config
 * is written by hand), so a linear scan per entry is fine. */
static const struct gw_acl_entry *acl_find(const struct gw_acl_conf *acl, const struct cidr *c)
{
	for (size_t i = 0; i < acl->n; i++) {
		if (cidr_equal(&acl->entries[i].prefix, c))
			return &acl->entries[i];
	}
	return NULL;
}

static void acl_add_one(struct conf_parser *p, const char *key, const char *word,
			struct gw_acl_conf *acl, bool deny)
{
	const struct gw_acl_entry *old;
	struct gw_acl_entry *e;
	char shown[CIDR_TEXT_MAX];
	struct cidr c;

	if (!acl_word(p, key, word, &c))
		return;
	old = acl_find(acl, &c);
	if (old) {
		cidr_format(&c, true, shown, sizeof(shown));
		if (old->deny != deny)
			conf__error(p, p->line, "%s is both allowed and denied (first at line %d)",
				    shown, old->line);
		else
			conf__warn(p, p->line, "%s is listed twice in '%s' (first at line %d)",
				   shown, key, old->line);
		return;
	}
	e = conf__grow(p, (void **)&acl->entries, &acl->n, sizeof(*e));
	if (!e)
		return;
	e->prefix = c;
	e->deny = deny;
	e->line = p->line;
	acl->has_allow |= !deny;
}

void conf__acl_add(struct conf_parser *p, const char *key, const char *value,
		   struct gw_acl_conf *acl, bool deny)
{
	const char *s = value + strspn(value, " \t");
	char word[128];

	if (!*s) {
		conf__error(p, p->line, "empty value for '%s' (want one or more CIDRs, such as "
			    "10.0.0.0/8 ::1)", key);
		return;
	}
	while (*s) {
		size_t len = strcspn(s, " \t");

		if (len >= sizeof(word)) {
			conf__error(p, p->line, "bad CIDR '%.*s' for '%s' (too long)", (int)len, s,
				    key);
		} else {
			memcpy(word, s, len);
			word[len] = '\0';
			acl_add_one(p, key, word, acl, deny);
		}
		s += len;
		s += strspn(s, " \t");
	}
}

static void access_begin(struct conf_parser *p, const char *name)
{
	(void)name;
	if (p->access_line) {
		conf__error(p, p->line, "duplicate section [access] (first at line %d)",
			    p->access_line);
		return;		/* its keys still apply, and are still checked */
	}
	p->access_line = p->line;
}

static void access_allow(struct conf_parser *p, const char *key, const char *value)
{
	conf__acl_add(p, key, value, &p->cfg->access, false);
}

static void access_deny(struct conf_parser *p, const char *key, const char *value)
{
	conf__acl_add(p, key, value, &p->cfg->access, true);
}

static void access_trusted_proxies(struct conf_parser *p, const char *key, const char *value)
{
	conf__acl_add(p, key, value, &p->cfg->trusted_proxies, false);
}

static const struct conf_key access_keys[] = {
	{ "allow", access_allow, true },
	{ "deny", access_deny, true },
	{ "trusted_proxies", access_trusted_proxies, true },
};
_Static_assert(CONF_ARRAY_SIZE(access_keys) <= CONF_MAX_KEYS, "conf_parser.seen too small");

const struct conf_section conf__access_section = {
	.word = "access",
	.named = false,
	.begin = access_begin,
	.keys = access_keys,
	.n_keys = CONF_ARRAY_SIZE(access_keys),
};
