/* Address prefixes and a longest-prefix-match set over them, for access
 * lists and trusted proxies. Used by conf/ (parsing, in the master) and by
 * worker/ (matching).
 *
 * A set keeps one binary trie per family, built once and read-only after:
 * a lookup walks at most 32 (IPv4) or 128 (IPv6) nodes, one per address
 * bit, and remembers the last tagged node it passed, so the longest
 * matching prefix wins whatever the insertion order. IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) are looked up as the IPv4 address a.b.c.d;
 * IPv4 and IPv6 prefixes never match each other otherwise (::/0 does not
 * cover IPv4 clients, 0.0.0.0/0 does not cover IPv6 ones). */
#ifndef GW_LIB_CIDR_H
#define GW_LIB_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* cidr_match()'s answer when no prefix of the set covers the address. */
#define CIDR_NONE (-1)

/* Longest text cidr_format() writes, NUL included:
 * "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128". */
#define CIDR_TEXT_MAX 50

/* A prefix: <len> leading bits of <addr>, the others zero. An IPv4 prefix
 * uses addr[0..4). */
struct cidr {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t len;			/* 0..32 or 0..128 */
	uint8_t addr[16];		/* network byte order */
};

/* cidr_parse() results besides 0. */
#define CIDR_ERR_SYNTAX (-1)		/* not an address, or a bad /length */
#define CIDR_ERR_HOST_BITS (-2)		/* bits set past the prefix length */

/* Parse "10.0.0.0/8", "2001:db8::/32", or a bare address (/32 or /128)
 * into *out. An IPv4-mapped IPv6 prefix of length 96 or more
 * (::ffff:10.0.0.0/104) becomes the IPv4 prefix it covers (10.0.0.0/8),
 * so it matches the same clients. Returns 0, CIDR_ERR_SYNTAX or
 * CIDR_ERR_HOST_BITS ("10.0.0.1/8"; *out then holds the masked prefix). */
int cidr_parse(const char *text, struct cidr *out);

/* Parse a bare address (no '/'), as it may appear in X-Forwarded-For:
 * "1.2.3.4", "2001:db8::1" or "[2001:db8::1]", from s[0..len). Fills *out
 * as a /32 or /128, mapped IPv6 folded to IPv4. 0 or -EINVAL. */
int cidr_parse_addr(const char *s, size_t len, struct cidr *out);

/* The address of a socket as a full-length prefix, mapped IPv6 folded to
 * IPv4. 0, or -EAFNOSUPPORT for any other family. */
int cidr_from_sockaddr(const struct sockaddr_storage *ss, struct cidr *out);

/* The text of <c> into out[0..cap): "10.0.0.0/8", or just the address
 * when <with_len> is false. */
void cidr_format(const struct cidr *c, bool with_len, char *out, size_t cap);

/* Same family, length and bits. */
bool cidr_equal(const struct cidr *a, const struct cidr *b);

/* True when <c>'s prefix covers address <a> (a full-length cidr). */
bool cidr_contains(const struct cidr *c, const struct cidr *a);

struct cidr_set;

/* An empty set, or NULL when out of memory. */
struct cidr_set *cidr_set_new(void);

/* Add prefix <c> with <tag> (>= 0). 0; -EEXIST when the same prefix is
 * already in the set (its first tag stays); -EINVAL for a negative tag or
 * a bad family or length; -ENOMEM. */
int cidr_set_add(struct cidr_set *s, const struct cidr *c, int tag);

/* Number of prefixes in the set. */
size_t cidr_set_count(const struct cidr_set *s);

/* The tag of the longest prefix of <s> covering address <a> (a
 * full-length cidr, as cidr_parse_addr() and cidr_from_sockaddr() make),
 * or CIDR_NONE (also for a family other than AF_INET and AF_INET6).
 * Read-only: any number of readers. */
int cidr_lookup(const struct cidr_set *s, const struct cidr *a);

/* cidr_lookup() of a socket address; CIDR_NONE for a family other than
 * AF_INET and AF_INET6. */
int cidr_match(const struct cidr_set *s, const struct sockaddr_storage *ss);

/* Free the set. NULL is fine. */
void cidr_set_free(struct cidr_set *s);

#endif
