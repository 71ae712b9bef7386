/* The access stages: who the client is, and whether the [access] list and
 * then the route's own list admit it (403 when not).
 *
 * The client is the TCP peer unless the peer is one of trusted_proxies.
 * Then X-Forwarded-For (every field, as one list) is walked from the
 * right, skipping addresses that are themselves trusted proxies, and the
 * first untrusted one is the client (nginx's real_ip_recursive). If every
 * address is trusted, the leftmost is the client. A malformed entry stops
 * the walk: the client is then the last good address passed (or the
 * peer), since nothing left of it can be believed. Empty list elements
 * are skipped (RFC 9110 §5.6.1). An untrusted peer's X-Forwarded-For is
 * never read, so a client cannot choose its own address.
 *
 * Each list is a longest-prefix-match set (lib/cidr.h) built once per
 * worker from the loaded config: the longest prefix covering the client
 * decides; when none does, the client is denied if the list has any allow
 * entry and admitted otherwise. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "worker/conn.h"
#include "worker/stages.h"

/* Tags of the access sets. */
#define ACCESS_ALLOW 0
#define ACCESS_DENY 1

/* The set of <acl>, NULL when the list is empty; 0 or -ENOMEM. */
static int access_build(const struct gw_acl_conf *acl, struct cidr_set **out)
{
	struct cidr_set *s;

	*out = NULL;
	if (acl->n == 0)
		return 0;
	s = cidr_set_new();
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < acl->n; i++) {
		int err = cidr_set_add(s, &acl->entries[i].prefix,
				       acl->entries[i].deny ? ACCESS_DENY : ACCESS_ALLOW);

		/* The loader refused duplicates; -EEXIST cannot happen. */
		if (err && err != -EEXIST) {
			cidr_set_free(s);
			return err;
		}
	}
	*out = s;
	return 0;
}

int access_setup(struct worker *w)
{
	const struct gw_config *cfg = w->cfg;
	size_t n = 1 + cfg->n_routes;
	int err;

	w->acl = calloc(n, sizeof(*w->acl));
	if (!w->acl)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct gw_acl_conf *acl = i ? &cfg->routes[i - 1].acl : &cfg->access;

		err = access_build(acl, &w->acl[i].set);
		if (err)
			goto err_free;
		w->acl[i].default_deny = acl->has_allow;
	}
	err = access_build(&cfg->trusted_proxies, &w->trusted);
	if (err)
		goto err_free;
	return 0;

err_free:
	log_error("access lists: %s", strerror(-err));
	access_free(w);
	return err;
}

void access_free(struct worker *w)
{
	for (size_t i = 0; w->acl && i < 1 + w->cfg->n_routes; i++)
		cidr_set_free(w->acl[i].set);
	free(w->acl);
	cidr_set_free(w->trusted);
	w->acl = NULL;
	w->trusted = NULL;
}

static bool trusted(const struct worker *w, const struct cidr *a)
{
	return cidr_lookup(w->trusted, a) != CIDR_NONE;
}

/* Walk one X-Forwarded-For value v[0..len) from the right, moving *cur to
 * each address passed. True when every address was trusted (the walk goes
 * on into the field before); false when it stopped at an untrusted or a
 * malformed entry. */
static bool walk_field(const struct worker *w, const char *v, size_t len, struct cidr *cur)
{
	size_t end = len;

	while (end > 0) {
		size_t start = end, a, b;
		struct cidr e;

		while (start > 0 && v[start - 1] != ',')
			start--;
		a = start;
		b = end;
		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (a < b) {
			if (cidr_parse_addr(v + a, b - a, &e) < 0)
				return false;
			*cur = e;
			if (!trusted(w, &e))
				return false;
		}
		end = start ? start - 1 : 0;
	}
	return true;
}

/* Replace ex->client_addr (the peer) with the address its trusted
 * proxies forwarded for, if any. */
static void resolve_client(const struct worker *w, struct exchange *ex)
{
	const char *buf = buf_head(&ex->client->in);
	const struct http_head_common *h = &ex->req.h;
	struct cidr cur = ex->client_addr;

	if (!w->trusted || !trusted(w, &cur))
		return;
	for (unsigned i = h->n_fields; i-- > 0;) {
		const struct http_field *f = &h->fields[i];

		if (http_span_ieq(buf, f->name, "x-forwarded-for") &&
		    !walk_field(w, buf + f->value.off, f->value.len, &cur))
			break;
	}
	if (cidr_equal(&cur, &ex->client_addr))
		return;
	ex->client_addr = cur;
	cidr_format(&cur, false, ex->client_ip, sizeof(ex->client_ip));
}

static bool admits(const struct wacl *acl, const struct cidr *a)
{
	int v;

	if (!acl->set)
		return true;
	v = cidr_lookup(acl->set, a);
	return v == CIDR_NONE ? !acl->default_deny : v == ACCESS_ALLOW;
}

static enum stage_result denied(struct exchange *ex)
{
	ex->status = 403;
	ex->error = "access denied";
	return STAGE_RESPOND;
}

enum stage_result stage_acl(struct worker *w, struct exchange *ex)
{
	resolve_client(w, ex);
	return admits(&w->acl[0], &ex->client_addr) ? STAGE_CONTINUE : denied(ex);
}

enum stage_result stage_route_acl(struct worker *w, struct exchange *ex)
{
	return admits(&w->acl[1 + (size_t)ex->route], &ex->client_addr) ? STAGE_CONTINUE
									  : denied(ex);
}
