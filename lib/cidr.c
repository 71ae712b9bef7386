/* Prefixes and the longest-prefix-match set (lib/cidr.h).
 *
 * Each family's trie is an array of nodes; node 0 is the root (the /0
 * prefix), and a child index of 0 means "no child" (the root is nobody's
 * child). The node reached by following the first <len> bits of a prefix
 * holds its tag. Sets are built once (at worker start) and then only read,
 * so nodes are never removed and the array only grows. Memory is at most
 * one node per prefix bit: 129 nodes of 12 bytes per IPv6 prefix. */
#include "lib/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cidr_node {
	uint32_t child[2];		/* node indexes, 0 = none */
	int32_t tag;			/* CIDR_NONE when no prefix ends here */
};

struct cidr_trie {
	struct cidr_node *nodes;	/* nodes[0] is the root, once n > 0 */
	uint32_t n, cap;
};

struct cidr_set {
	struct cidr_trie v4, v6;
	size_t count;
};

static const uint8_t cidr_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static unsigned cidr_bits(uint8_t family)
{
	return family == AF_INET ? 32u : 128u;
}

static unsigned cidr_bit(const uint8_t *addr, unsigned i)
{
	return (addr[i / 8] >> (7 - i % 8)) & 1u;
}

/* Zero the bits of c->addr past c->len; true if any was set. */
static bool cidr_mask(struct cidr *c)
{
	bool dirty = false;

	for (unsigned i = c->len; i < 128; i++) {
		uint8_t bit = (uint8_t)(0x80u >> (i % 8));

		dirty |= (c->addr[i / 8] & bit) != 0;
		c->addr[i / 8] &= (uint8_t)~bit;
	}
	return dirty;
}

/* ::ffff:a.b.c.d/96+n is a.b.c.d/n. */
static void cidr_fold_mapped(struct cidr *c)
{
	if (c->family != AF_INET6 || c->len < 96 || memcmp(c->addr, cidr_mapped_prefix, 12) != 0)
		return;
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
	c->family = AF_INET;
	c->len = (uint8_t)(c->len - 96);
}

/* An address from s[0..len) (no brackets, no '/'). 0 or -EINVAL. */
static int cidr_address(const char *s, size_t len, struct cidr *out)
{
	char text[INET6_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, s, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, out->addr) == 1) {
		out->family = AF_INET;
		out->len = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->addr) == 1) {
		out->family = AF_INET6;
		out->len = 128;
		return 0;
	}
	return -EINVAL;
}

int cidr_parse_addr(const char *s, size_t len, struct cidr *out)
{
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
		if (memchr(s, ':', len) == NULL)
			return -EINVAL;		/* "[1.2.3.4]" is not a form anyone sends */
	}
	if (cidr_address(s, len, out) < 0)
		return -EINVAL;
	cidr_fold_mapped(out);
	return 0;
}

int cidr_parse(const char *text, struct cidr *out)
{
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned len = 0;

	if (cidr_address(text, alen, out) < 0)
		return CIDR_ERR_SYNTAX;
	if (slash) {
		const char *d = slash + 1;

		/* 1 to 3 digits, no sign, no leading zero but "0" itself. */
		if (!*d || strlen(d) > 3 || strspn(d, "0123456789") != strlen(d) ||
		    (d[0] == '0' && d[1]))
			return CIDR_ERR_SYNTAX;
		len = (unsigned)atoi(d);
		if (len > cidr_bits(out->family))
			return CIDR_ERR_SYNTAX;
		out->len = (uint8_t)len;
	}
	bool dirty = cidr_mask(out);
	cidr_fold_mapped(out);
	return dirty ? CIDR_ERR_HOST_BITS : 0;
}

int cidr_from_sockaddr(const struct sockaddr_storage *ss, struct cidr *out)
{
	memset(out, 0, sizeof(*out));
	if (ss->ss_family == AF_INET) {
		memcpy(out->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		out->family = AF_INET;
		out->len = 32;
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(out->addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		out->family = AF_INET6;
		out->len = 128;
		cidr_fold_mapped(out);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void cidr_format(const struct cidr *c, bool with_len, char *out, size_t cap)
{
	char text[INET6_ADDRSTRLEN];
	int af = c->family == AF_INET ? AF_INET : AF_INET6;

	if (!inet_ntop(af, c->addr, text, sizeof(text)))
		strcpy(text, "?");
	if (with_len)
		snprintf(out, cap, "%s/%u", text, (unsigned)c->len);
	else
		snprintf(out, cap, "%s", text);
}

bool cidr_equal(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

bool cidr_contains(const struct cidr *c, const struct cidr *a)
{
	if (c->family != a->family || c->len > a->len)
		return false;
	for (unsigned i = 0; i < c->len; i++) {
		if (cidr_bit(c->addr, i) != cidr_bit(a->addr, i))
			return false;
	}
	return true;
}

/* A new node with no children and no tag; its index, or 0 when out of
 * memory (0 is never a new node's index once the root exists). */
static uint32_t cidr_node_new(struct cidr_trie *t)
{
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 64;
		struct cidr_node *nodes = realloc(t->nodes, (size_t)cap * sizeof(*nodes));

		if (!nodes)
			return 0;
		t->nodes = nodes;
		t->cap = cap;
	}
	t->nodes[t->n] = (struct cidr_node){ { 0, 0 }, CIDR_NONE };
	return t->n++;
}

struct cidr_set *cidr_set_new(void)
{
	return calloc(1, sizeof(struct cidr_set));
}

int cidr_set_add(struct cidr_set *s, const struct cidr *c, int tag)
{
	struct cidr_trie *t;
	uint32_t at = 0;

	if (tag < 0 || (c->family != AF_INET && c->family != AF_INET6) ||
	    c->len > cidr_bits(c->family))
		return -EINVAL;
	t = c->family == AF_INET ? &s->v4 : &s->v6;
	if (t->n == 0) {
		(void)cidr_node_new(t);	/* the root: index 0 */
		if (t->n == 0)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < c->len; i++) {
		unsigned b = cidr_bit(c->addr, i);

		if (!t->nodes[at].child[b]) {
			uint32_t n = cidr_node_new(t);

			if (!n)
				return -ENOMEM;
			t->nodes[at].child[b] = n;
		}
		at = t->nodes[at].child[b];
	}
	if (t->nodes[at].tag != CIDR_NONE)
		return -EEXIST;
	t->nodes[at].tag = tag;
	s->count++;
	return 0;
}

size_t cidr_set_count(const struct cidr_set *s)
{
	return s->count;
}

int cidr_lookup(const struct cidr_set *s, const struct cidr *a)
{
	const struct cidr_trie *t = a->family == AF_INET ? &s->v4 : &s->v6;
	unsigned bits = cidr_bits(a->family);
	int best = CIDR_NONE;
	uint32_t at = 0;

	if (t->n == 0 || (a->family != AF_INET && a->family != AF_INET6))
		return CIDR_NONE;
	for (unsigned i = 0;; i++) {
		if (t->nodes[at].tag != CIDR_NONE)
			best = t->nodes[at].tag;
		if (i == bits || !(at = t->nodes[at].child[cidr_bit(a->addr, i)]))
			return best;
	}
}

int cidr_match(const struct cidr_set *s, const struct sockaddr_storage *ss)
{
	struct cidr a;

	if (cidr_from_sockaddr(ss, &a) < 0)
		return CIDR_NONE;
	return cidr_lookup(s, &a);
}

void cidr_set_free(struct cidr_set *s)
{
	if (!s)
		return;
	free(s->v4.nodes);
	free(s->v6.nodes);
	free(s);
}
