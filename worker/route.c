/* Route matching and upstream target rewriting.
 *
 * Runs on every request, so route_match() allocates nothing and calls no
 * strlen(): every length it needs from the config is measured once in
 * route_matcher_new() and kept beside the config in the matcher. The only
 * mutable state is the PCRE2 match data, which is why a matcher belongs to
 * one worker and is never shared.
 *
 * Everything is compared on the raw bytes the client sent. Paths are not
 * percent-decoded or dot-segment normalised here: a route on "/admin" does
 * not see "/%61dmin" or "/x/../admin", and the request is forwarded with the
 * same bytes it was matched on, so matching and forwarding never disagree.
 *
 * Only the types of lib/http1.h are used (spans, fields), not its functions,
 * so this file and its test link without the parser. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "worker/route.h"

#include <errno.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Lengths measured once per route, indexed like cfg->routes. */
struct route_pre {
	uint32_t path_len;	/* bytes of route->path */
	uint32_t host_off;	/* 1 for "[v6]" (compare inside brackets), else 0 */
	uint32_t host_len;	/* bytes of route->host compared; 0 when NULL */
	uint32_t strip_len;	/* bytes of route->strip_prefix; 0 when NULL */
	uint32_t qname_len;	/* bytes of route->query_name */
	uint32_t qvalue_len;	/* bytes of route->query_value ("" = 0) */
	uint32_t hdr_first;	/* the route's first entry in route_matcher.hdr */
	bool host_wild;		/* host is "*.suffix": host_len counts ".suffix" */
};

struct route_hdr_pre {
	uint32_t name_len;
	uint32_t value_len;
};

struct route_matcher {
	const struct gw_config *cfg;	/* borrowed, read-only */
	pcre2_match_data *md;		/* scratch for every pcre2_match() */
	uint32_t md_pairs;		/* ovector pairs in md */
	struct route_pre *pre;		/* cfg->n_routes entries */
	struct route_hdr_pre *hdr;	/* sum of n_headers entries; NULL if none */
};

/* Captures $0..$9 need 10 pairs; a regex with more groups gets more so
 * pcre2_match() never reports a too-small ovector. */
#define ROUTE_MIN_PAIRS 10

static inline unsigned char route_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Compare <n> request bytes with <lower>, which the config keeps lowercase. */
static bool route_ieq(const char *s, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (route_lower((unsigned char)s[i]) != (unsigned char)lower[i])
			return false;
	}
	return true;
}

/* Length of an optional config string, clamped so spans can hold it. */
static uint32_t route_len(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static uint32_t route_re_pairs(const pcre2_code *re)
{
	uint32_t groups = 0;

	if (re && pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups) != 0)
		groups = 0;
	return groups + 1;
}

/* Fill m->pre[i] for route <r>, whose headers start at hdr index <first>. */
static void route_measure(struct route_matcher *m, size_t i, uint32_t first)
{
	const struct gw_route_conf *r = &m->cfg->routes[i];
	struct route_pre *p = &m->pre[i];

	p->path_len = route_len(r->path);
	p->host_len = route_len(r->host);
	if (p->host_len >= 2 && r->host[0] == '*' && r->host[1] == '.') {
		p->host_wild = true;
		p->host_off = 1;
		p->host_len--;
	} else if (p->host_len >= 2 && r->host[0] == '[' && r->host[p->host_len - 1] == ']') {
		/* Request hosts lose their brackets in route_host_bare(). */
		p->host_off = 1;
		p->host_len -= 2;
	}
	p->strip_len = route_len(r->strip_prefix);
	p->qname_len = route_len(r->query_name);
	p->qvalue_len = route_len(r->query_value);
	p->hdr_first = first;
	for (size_t h = 0; h < r->n_headers; h++) {
		m->hdr[first + h].name_len = route_len(r->headers[h].name);
		m->hdr[first + h].value_len = route_len(r->headers[h].value);
	}
}

/* Create a matcher over <cfg>, which must outlive it and stay unchanged.
 * Returns NULL when memory runs out. Call once per worker, after fork. */
struct route_matcher *route_matcher_new(const struct gw_config *cfg)
{
	struct route_matcher *m;
	size_t n_hdr = 0;
	uint32_t pairs = ROUTE_MIN_PAIRS;

	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->cfg = cfg;
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct gw_route_conf *r = &cfg->routes[i];
		uint32_t need = route_re_pairs(r->path_re);

		if (route_re_pairs(r->rewrite_re) > need)
			need = route_re_pairs(r->rewrite_re);
		if (need > pairs)
			pairs = need;
		n_hdr += r->n_headers;
	}
	m->pre = calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(*m->pre));
	if (!m->pre)
		goto err_free;
	if (n_hdr) {
		m->hdr = calloc(n_hdr, sizeof(*m->hdr));
		if (!m->hdr)
			goto err_free;
	}
	m->md = pcre2_match_data_create(pairs, NULL);
	if (!m->md)
		goto err_free;
	m->md_pairs = pairs;

	n_hdr = 0;
	for (size_t i = 0; i < cfg->n_routes; i++) {
		route_measure(m, i, (uint32_t)n_hdr);
		n_hdr += cfg->routes[i].n_headers;
	}
	return m;

err_free:
	route_matcher_free(m);
	return NULL;
}

/* Free <m>; NULL is fine. The config is not touched. */
void route_matcher_free(struct route_matcher *m)
{
	if (!m)
		return;
	pcre2_match_data_free(m->md);
	free(m->hdr);
	free(m->pre);
	free(m);
}

/* True when <path> starts with <prefix> on a segment boundary, so "/v1/users"
 * covers "/v1/users/42" but not "/v1/usersx". A prefix ending in '/' already
 * ends on a boundary. */
static bool route_prefix_hit(const char *prefix, size_t plen, const char *path, size_t len)
{
	if (len < plen || memcmp(path, prefix, plen) != 0)
		return false;
	return plen == 0 || prefix[plen - 1] == '/' || len == plen || path[plen] == '/';
}

static bool route_path_ok(struct route_matcher *m, const struct gw_route_conf *r,
			  const struct route_pre *p, const char *path, size_t len)
{
	switch (r->path_kind) {
	case GW_PATH_EXACT:
		return len == p->path_len && memcmp(path, r->path, len) == 0;
	case GW_PATH_PREFIX:
		/* "/" is the catch-all, even for "*" (OPTIONS) or an empty path. */
		if (p->path_len == 1 && r->path[0] == '/')
			return true;
		return route_prefix_hit(r->path, p->path_len, path, len);
	case GW_PATH_REGEX:
		/* A negative result is no match, but also a match-limit hit on a
		 * pathological regex: the route is skipped rather than the
		 * request failed. */
		return r->path_re &&
		       pcre2_match(r->path_re, (PCRE2_SPTR)path, len, 0, 0, m->md, NULL) >= 0;
	}
	return false;
}

/* Whether <name> (a NUL-terminated config string) equals the span exactly. */
static bool route_name_eq(const char *name, const char *s, size_t len)
{
	return strncmp(name, s, len) == 0 && name[len] == '\0';
}

static bool route_method_ok(const struct gw_route_conf *r, const char *buf,
			    const struct http_request *req)
{
	if (r->methods == 0 && !r->method_names)
		return true;
	if (req->method != HTTP_M_OTHER && req->method < 32 &&
	    (r->methods & (1u << req->method)))
		return true;
	/* Names are checked for every method so a config that lists a known
	 * method by name still works; they are rare, so the cost is too. */
	for (char **name = r->method_names; name && *name; name++) {
		if (route_name_eq(*name, buf + req->method_name.off, req->method_name.len))
			return true;
	}
	return false;
}

/* Narrow a Host value to the bare name: "[::1]:8080" -> "::1",
 * "Example.COM.:80" -> "Example.COM" (the root dot names the same host). */
static void route_host_bare(const char *h, size_t len, const char **out, size_t *out_len)
{
	if (len > 0 && h[0] == '[') {
		const char *close = memchr(h, ']', len);

		if (close) {
			*out = h + 1;
			*out_len = (size_t)(close - h) - 1;
			return;
		}
	} else {
		const char *colon = memchr(h, ':', len);

		if (colon)
			len = (size_t)(colon - h);
		if (len > 1 && h[len - 1] == '.')
			len--;
	}
	*out = h;
	*out_len = len;
}

static bool route_host_ok(const struct gw_route_conf *r, const struct route_pre *p,
			  const char *buf, const struct http_request *req)
{
	const char *want;
	const char *h;
	size_t len;

	if (!r->host)
		return true;
	want = r->host + p->host_off;
	route_host_bare(buf + req->host.off, req->host.len, &h, &len);
	if (p->host_wild) {
		/* want is ".example.com"; at least one byte must precede it. */
		return len > p->host_len && route_ieq(h + len - p->host_len, want, p->host_len);
	}
	return len == p->host_len && route_ieq(h, want, len);
}

/* Whether some request field is named <g> (case-insensitively) with exactly
 * its value. */
static bool route_field_has(const char *buf, const struct http_head_common *h,
			    const struct gw_header_match *g, const struct route_hdr_pre *gp)
{
	for (uint16_t i = 0; i < h->n_fields; i++) {
		const struct http_field *f = &h->fields[i];

		if (f->name.len == gp->name_len && f->value.len == gp->value_len &&
		    memcmp(buf + f->value.off, g->value, gp->value_len) == 0 &&
		    route_ieq(buf + f->name.off, g->name, gp->name_len))
			return true;
	}
	return false;
}

static bool route_headers_ok(const struct route_matcher *m, const struct gw_route_conf *r,
			     const struct route_pre *p, const char *buf,
			     const struct http_request *req)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		if (!route_field_has(buf, &req->h, &r->headers[i], &m->hdr[p->hdr_first + i]))
			return false;
	}
	return true;
}

/* One '&'-separated query component against "name=value"; a bare "name"
 * counts as an empty value. */
static bool route_query_pair(const struct gw_route_conf *r, const struct route_pre *p,
			     const char *s, size_t len)
{
	if (len < p->qname_len || memcmp(s, r->query_name, p->qname_len) != 0)
		return false;
	if (len == p->qname_len)
		return p->qvalue_len == 0;
	return len == (size_t)p->qname_len + 1 + p->qvalue_len && s[p->qname_len] == '=' &&
	       memcmp(s + p->qname_len + 1, r->query_value, p->qvalue_len) == 0;
}

static bool route_query_ok(const struct gw_route_conf *r, const struct route_pre *p,
			   const char *buf, const struct http_request *req)
{
	const char *q = buf + req->query.off;
	const char *end = q + req->query.len;

	if (!r->query_name)
		return true;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end;

		if (route_query_pair(r, p, q, (size_t)(stop - q)))
			return true;
		q = stop + 1;
	}
	return false;
}

/* Index into cfg->routes of the first route in cfg->route_order whose every
 * condition holds for <req> (spans into <buf>), or -1. Allocates nothing;
 * uses the matcher's scratch, so one caller at a time. */
int route_match(struct route_matcher *m, const char *buf, const struct http_request *req)
{
	const struct gw_config *cfg = m->cfg;
	const char *path = buf + req->path.off;

	for (size_t k = 0; k < cfg->n_routes; k++) {
		size_t i = cfg->route_order[k];
		const struct gw_route_conf *r = &cfg->routes[i];
		const struct route_pre *p = &m->pre[i];

		/* Cheap tests first; a regex path runs only when the rest hold. */
		if (!route_method_ok(r, buf, req) || !route_host_ok(r, p, buf, req))
			continue;
		if (!route_headers_ok(m, r, p, buf, req) || !route_query_ok(r, p, buf, req))
			continue;
		if (route_path_ok(m, r, p, path, req->path.len))
			return (int)i;
	}
	return -1;
}

/* The path after strip_prefix, as a pointer and length. It never needs a
 * copy: a remainder without a leading '/' exists only when the prefix ended
 * in '/', and that '/' sits just before the remainder in the request. */
static void route_strip(const struct gw_route_conf *r, const struct route_pre *p,
			const char **path, size_t *len)
{
	if (!r->strip_prefix || !route_prefix_hit(r->strip_prefix, p->strip_len, *path, *len))
		return;
	if (*len == p->strip_len) {
		*path = "/";
		*len = 1;
		return;
	}
	*path += p->strip_len;
	*len -= p->strip_len;
	if (**path != '/') {
		(*path)--;
		(*len)++;
	}
}

/* buf_append() with the limit checked on every call: buf_reserve() checks it
 * only when it must grow, and a buffer allocated earlier under a larger limit
 * would not. Empty pieces are skipped, since buf_append() would memcpy() from
 * or to NULL while the buffer has no allocation yet. */
static int route_put(struct buf *out, const void *src, size_t n, size_t limit)
{
	if (n == 0)
		return 0;
	if (buf_avail(out) > limit || n > limit - buf_avail(out))
		return -ENOBUFS;
	return buf_append(out, src, n, limit);
}

/* Parse the capture reference after a '$' at <s>: "$N" or "${N}". Returns
 * the bytes it spans (0 when <s> is not a reference) and sets *group. */
static size_t route_ref(const char *s, unsigned *group)
{
	size_t i = 2;
	unsigned n = 0;

	if (s[1] >= '0' && s[1] <= '9') {
		*group = (unsigned)(s[1] - '0');
		return 2;
	}
	if (s[1] != '{')
		return 0;
	for (; s[i] >= '0' && s[i] <= '9' && n < 1000; i++)
		n = n * 10 + (unsigned)(s[i] - '0');
	if (i == 2 || s[i] != '}')
		return 0;
	*group = n;
	return i + 1;
}

/* Append <to> with $N / ${N} replaced by captures of <subj> (unset or
 * missing groups expand to nothing) and "$$" by '$'. <sets> is the number
 * of ovector pairs pcre2_match() filled. */
static int route_expand(struct buf *out, size_t limit, const char *to, const char *subj,
			const PCRE2_SIZE *ov, uint32_t sets)
{
	const char *lit = to;
	const char *s = to;
	int err;

	for (; *s; s++) {
		unsigned g = 0;
		size_t n;

		if (*s != '$')
			continue;
		if (s[1] == '$') {
			/* Flush through the first '$' and skip the second. */
			err = route_put(out, lit, (size_t)(s + 1 - lit), limit);
			if (err)
				return err;
			lit = ++s + 1;
			continue;
		}
		n = route_ref(s, &g);
		if (n == 0)
			continue;	/* a lone '$' is literal */
		err = route_put(out, lit, (size_t)(s - lit), limit);
		if (!err && g < sets && ov[2 * g] != PCRE2_UNSET)
			err = route_put(out, subj + ov[2 * g], ov[2 * g + 1] - ov[2 * g], limit);
		if (err)
			return err;
		s += n - 1;
		lit = s + 1;
	}
	return route_put(out, lit, (size_t)(s - lit), limit);
}

/* Append <path> to <out>, with the part that <r>'s rewrite regex matched
 * replaced by the expanded rewrite_to. Unmatched text around it is kept. */
static int route_rewrite(struct route_matcher *m, const struct gw_route_conf *r,
			 const char *path, size_t len, struct buf *out, size_t limit)
{
	const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
	int rc = -1;
	int err;

	if (r->rewrite_re && r->rewrite_to)
		rc = pcre2_match(r->rewrite_re, (PCRE2_SPTR)path, len, 0, 0, m->md, NULL);
	if (rc < 0)
		return route_put(out, path, len, limit);
	err = route_put(out, path, ov[0], limit);
	if (!err)
		err = route_expand(out, limit, r->rewrite_to, path, ov,
				   rc == 0 ? m->md_pairs : (uint32_t)rc);
	if (!err)
		err = route_put(out, path + ov[1], len - ov[1], limit);
	return err;
}

/* Make the path written at <start> (offset from out->off) begin with '/',
 * since an origin-form target must; a rewrite may have produced "" or "x". */
static int route_root(struct buf *out, size_t start, size_t limit)
{
	size_t n = buf_avail(out) - start;
	int err;

	if (n > 0 && buf_head(out)[start] == '/')
		return 0;
	if (buf_avail(out) >= limit)
		return -ENOBUFS;
	err = buf_reserve(out, 1, limit);
	if (err)
		return err;
	memmove(buf_head(out) + start + 1, buf_head(out) + start, n);
	buf_head(out)[start] = '/';
	out->len++;
	return 0;
}

/* Append to <out> the target to send upstream for <req> (spans into <buf>)
 * on cfg->routes[<route>]: strip_prefix (leaving at least "/"), then the
 * rewrite, then "?query" when the request had one. Returns 0, -ENOBUFS when
 * <out> would pass <limit> bytes, -ENOMEM, or -EINVAL for a bad <route>; on
 * error <out> is left as it was. Uses the matcher's scratch. */
int route_upstream_target(struct route_matcher *m, size_t route, const char *buf,
			  const struct http_request *req, struct buf *out, size_t limit)
{
	const struct gw_route_conf *r;
	const char *path = buf + req->path.off;
	size_t len = req->path.len;
	size_t start = buf_avail(out);
	int err;

	if (route >= m->cfg->n_routes)
		return -EINVAL;
	r = &m->cfg->routes[route];
	route_strip(r, &m->pre[route], &path, &len);
	err = route_rewrite(m, r, path, len, out, limit);
	if (!err)
		err = route_root(out, start, limit);
	if (!err && req->query.len > 0) {
		err = route_put(out, "?", 1, limit);
		if (!err)
			err = route_put(out, buf + req->query.off, req->query.len, limit);
	}
	if (err)
		out->len = out->off + start;
	return err;
}
