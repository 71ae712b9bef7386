/* Printers for the master's answers (docs/control-protocol.md has every
 * field). Tables go through cli/table.h; the small answers are one
 * sentence. Numbers arrive as JSON integers, but any JSON number is
 * accepted, and a missing or null field prints as "-". */
#include "cli/print.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "cli/table.h"

#define KV_WIDTH 12	/* "generation:" plus one blank */

/* Member <key> of <o>, or NULL when <o> is not an object. */
static const json_t *jget(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

/* <v> as a non-negative whole number; false when it is not a number. */
static bool jnum(const json_t *v, uint64_t *out)
{
	double d;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		*out = i < 0 ? 0 : (uint64_t)i;
		return true;
	}
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	*out = !(d > 0) ? 0 : d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
	return true;
}

static bool jtrue(const json_t *o, const char *key)
{
	return json_is_true(jget(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(jget(o, key));

	return s ? s : "-";
}

/* Any scalar as text in <buf>: strings as they are, integers in decimal,
 * reals with up to 6 significant digits, booleans as yes/no, else "-". */
static const char *jtext(const json_t *v, char *buf, size_t cap)
{
	if (!v)
		return "-";
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_value(v);
	case JSON_INTEGER:
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, cap, "%g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "yes";
	case JSON_FALSE:
		return "no";
	default:
		return "-";
	}
}

static void cell_json(struct tbl *t, const json_t *o, const char *key)
{
	char buf[64];
	const json_t *v = jget(o, key);

	tbl_cell(t, v ? jtext(v, buf, sizeof(buf)) : "-");
}

/* A milliseconds field as "4.2s", or "-" when absent. */
static void cell_ms(struct tbl *t, const json_t *o, const char *key)
{
	char buf[32];
	uint64_t ms;

	if (!jnum(jget(o, key), &ms)) {
		tbl_cell(t, "-");
		return;
	}
	print_ms(buf, sizeof(buf), ms);
	tbl_cell(t, buf);
}

static void kv(FILE *out, const char *key, const char *value)
{
	fprintf(out, "%s:%*s%s\n", key, (int)(KV_WIDTH - strlen(key) - 1), "", value);
}

static void kv_json(FILE *out, const json_t *o, const char *key, const char *label)
{
	char buf[64];
	const json_t *v = jget(o, key);

	kv(out, label, v ? jtext(v, buf, sizeof(buf)) : "-");
}

static int done(FILE *out)
{
	return ferror(out) ? -EIO : 0;
}

/* Print <t> and free it. */
static int tbl_finish(struct tbl *t, FILE *out, const char *indent)
{
	int ret = tbl_print(t, out, indent);

	tbl_free(t);
	return ret;
}

static void print_lines(const json_t *list, FILE *f)
{
	size_t i;
	const json_t *v;

	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);

		fprintf(f, "%s\n", s ? s : "?");
	}
}

void print_uptime(char *buf, size_t cap, uint64_t s)
{
	uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;

	if (d)
		snprintf(buf, cap, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m %" PRIu64 "s", d, h, m, sec);
	else if (h)
		snprintf(buf, cap, "%" PRIu64 "h %" PRIu64 "m %" PRIu64 "s", h, m, sec);
	else if (m)
		snprintf(buf, cap, "%" PRIu64 "m %" PRIu64 "s", m, sec);
	else
		snprintf(buf, cap, "%" PRIu64 "s", sec);
}

void print_ms(char *buf, size_t cap, uint64_t ms)
{
	if (ms < 1000)
		snprintf(buf, cap, "%" PRIu64 "ms", ms);
	else if (ms < 60000)
		snprintf(buf, cap, "%" PRIu64 ".%" PRIu64 "s", ms / 1000, ms % 1000 / 100);
	else
		print_uptime(buf, cap, ms / 1000);
}

void print_bytes(char *buf, size_t cap, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	unsigned u = 0;

	if (bytes < 1024) {
		snprintf(buf, cap, "%" PRIu64 " B", bytes);
		return;
	}
	for (v /= 1024; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]); u++)
		v /= 1024;
	snprintf(buf, cap, "%.1f %s", v, units[u]);
}

static int print_regions(const json_t *shm, FILE *out)
{
	static const struct tbl_col cols[] = {
		{ "REGION", TBL_LEFT, false },
		{ "OFFSET", TBL_RIGHT, false },
		{ "SIZE", TBL_RIGHT, false },
	};
	struct tbl *t = tbl_new(cols, 3);
	const json_t *r;
	char buf[32];
	uint64_t n;
	size_t i;

	if (!t)
		return -ENOMEM;
	json_array_foreach(jget(shm, "regions"), i, r) {
		tbl_row(t);
		cell_json(t, r, "name");
		cell_json(t, r, "offset");
		if (jnum(jget(r, "size"), &n))
			print_bytes(buf, sizeof(buf), n);
		tbl_cell(t, jnum(jget(r, "size"), &n) ? buf : "-");
	}
	return tbl_finish(t, out, "  ");
}

/* Member <key> of <o> as text in <buf> (see jtext). */
static const char *jfield(const json_t *o, const char *key, char *buf, size_t cap)
{
	return jtext(jget(o, key), buf, cap);
}

int print_status(const json_t *a, FILE *out, FILE *err)
{
	const json_t *rl = jget(a, "rate_limit"), *shm = jget(a, "shm");
	char buf[160], n1[32], n2[32], n3[32], n4[32];
	uint64_t n;

	(void)err;
	kv_json(out, a, "version", "version");
	kv_json(out, a, "pid", "pid");
	if (jnum(jget(a, "uptime_s"), &n))
		print_uptime(buf, sizeof(buf), n);
	kv(out, "uptime", jnum(jget(a, "uptime_s"), &n) ? buf : "-");
	kv_json(out, a, "generation", "generation");
	kv_json(out, a, "config", "config");
	snprintf(buf, sizeof(buf), "%s ready, %s draining", jfield(a, "workers", n1, sizeof(n1)),
		 jfield(a, "draining", n2, sizeof(n2)));
	kv(out, "workers", buf);
	snprintf(buf, sizeof(buf), "generation %s",
		 jfield(jget(a, "registry"), "generation", n1, sizeof(n1)));
	kv(out, "registry", buf);
	snprintf(buf, sizeof(buf), "%s keys of %s, %s evictions, %s busy",
		 jfield(rl, "keys", n1, sizeof(n1)), jfield(rl, "capacity", n2, sizeof(n2)),
		 jfield(rl, "evictions", n3, sizeof(n3)), jfield(rl, "busy", n4, sizeof(n4)));
	kv(out, "rate limit", buf);
	if (jnum(jget(shm, "size"), &n))
		print_bytes(buf, sizeof(buf), n);
	kv(out, "shm", jnum(jget(shm, "size"), &n) ? buf : "-");
	if (json_array_size(jget(shm, "regions")))
		return print_regions(shm, out);
	return done(out);
}

int print_workers(const json_t *a, FILE *out, FILE *err)
{
	static const struct tbl_col cols[] = {
		{ "ID", TBL_RIGHT, false }, { "SLOT", TBL_RIGHT, false },
		{ "PID", TBL_RIGHT, false }, { "CPU", TBL_RIGHT, false },
		{ "GEN", TBL_RIGHT, false }, { "STATE", TBL_LEFT, false },
		{ "CONNS", TBL_RIGHT, false }, { "INFLIGHT", TBL_RIGHT, false },
		{ "REQUESTS", TBL_RIGHT, false },
	};
	struct tbl *t;
	const json_t *w;
	size_t i;

	(void)err;
	if (!json_array_size(jget(a, "workers"))) {
		fprintf(out, "no workers\n");
		return done(out);
	}
	t = tbl_new(cols, 9);
	if (!t)
		return -ENOMEM;
	json_array_foreach(jget(a, "workers"), i, w) {
		json_int_t cpu = json_integer_value(jget(w, "cpu"));

		tbl_row(t);
		cell_json(t, w, "id");
		cell_json(t, w, "slot");
		cell_json(t, w, "pid");
		if (json_is_integer(jget(w, "cpu")) && cpu >= 0)
			tbl_cellf(t, "%" JSON_INTEGER_FORMAT, cpu);
		else
			tbl_cell(t, "-");
		cell_json(t, w, "generation");
		cell_json(t, w, "state");
		cell_json(t, w, "connections");
		cell_json(t, w, "inflight");
		cell_json(t, w, "requests");
	}
	return tbl_finish(t, out, "");
}

/* "api.internal:9001 (10.0.0.5:9001)" when the configured name differs
 * from the address it resolved to. */
static void cell_address(struct tbl *t, const json_t *in)
{
	const char *addr = jstr(in, "address"), *host = json_string_value(jget(in, "host"));

	if (host && *host && strcmp(host, addr) != 0)
		tbl_cellf(t, "%s (%s)", host, addr);
	else
		tbl_cell(t, addr);
}

static void cell_health(struct tbl *t, const json_t *in)
{
	const json_t *h = jget(in, "health");
	uint64_t status = 0;

	if (!h) {
		tbl_cell(t, "-");
		return;
	}
	if (!jtrue(h, "checked")) {
		tbl_cell(t, "unchecked");
		return;
	}
	jnum(jget(h, "last_status"), &status);
	if (status)
		tbl_cellf(t, "%s %" PRIu64, jtrue(h, "up") ? "up" : "down", status);
	else
		tbl_cell(t, jtrue(h, "up") ? "up" : "down");
}

/* The breaker's state, with the time left when it is open. */
static void cell_breaker(struct tbl *t, const json_t *b)
{
	const char *state = jstr(b, "state");
	char buf[32];
	uint64_t ms;

	if (strcmp(state, "open") == 0 && jnum(jget(b, "remaining_ms"), &ms)) {
		print_ms(buf, sizeof(buf), ms);
		tbl_cellf(t, "open %s", buf);
	} else {
		tbl_cell(t, state);
	}
}

static void cell_note(struct tbl *t, const json_t *in)
{
	char buf[32];
	uint64_t ms;

	if (!jtrue(in, "dynamic")) {
		tbl_cell(t, "");
		return;
	}
	if (!jnum(jget(in, "ttl_ms"), &ms)) {
		tbl_cell(t, "dynamic");
		return;
	}
	print_ms(buf, sizeof(buf), ms);
	tbl_cellf(t, "dynamic, ttl %s", buf);
}

static int print_service(const json_t *svc, FILE *out)
{
	static const struct tbl_col cols[] = {
		{ "ADDRESS", TBL_LEFT, false }, { "WEIGHT", TBL_RIGHT, false },
		{ "STATE", TBL_LEFT, false }, { "HEALTH", TBL_LEFT, false },
		{ "BREAKER", TBL_LEFT, false }, { "INFLIGHT", TBL_RIGHT, false },
		{ "FAILURES/ATTEMPTS", TBL_RIGHT, false }, { "NOTE", TBL_LEFT, true },
	};
	const json_t *insts = jget(svc, "instances"), *in;
	struct tbl *t;
	size_t i;

	fprintf(out, "service %s (%s, %zu instance%s)\n", jstr(svc, "name"), jstr(svc, "balance"),
		json_array_size(insts), json_array_size(insts) == 1 ? "" : "s");
	if (!json_array_size(insts))
		return done(out);
	t = tbl_new(cols, 8);
	if (!t)
		return -ENOMEM;
	json_array_foreach(insts, i, in) {
		char f[32], n[32];

		tbl_row(t);
		cell_address(t, in);
		cell_json(t, in, "weight");
		cell_json(t, in, "state");
		cell_health(t, in);
		cell_breaker(t, jget(in, "breaker"));
		cell_json(t, in, "inflight");
		tbl_cellf(t, "%s/%s", jtext(jget(in, "failures"), f, sizeof(f)),
			  jtext(jget(in, "attempts"), n, sizeof(n)));
		cell_note(t, in);
	}
	return tbl_finish(t, out, "  ");
}

int print_services(const json_t *a, FILE *out, FILE *err)
{
	const json_t *svcs = jget(a, "services"), *svc;
	char buf[32];
	size_t i;
	int ret;

	(void)err;
	fprintf(out, "generation %s\n", jtext(jget(a, "generation"), buf, sizeof(buf)));
	if (!json_array_size(svcs))
		fprintf(out, "no services\n");
	json_array_foreach(svcs, i, svc) {
		fputc('\n', out);
		ret = print_service(svc, out);
		if (ret < 0)
			return ret;
	}
	return done(out);
}

int print_breakers(const json_t *a, FILE *out, FILE *err)
{
	static const struct tbl_col cols[] = {
		{ "SERVICE", TBL_LEFT, false }, { "INSTANCE", TBL_LEFT, false },
		{ "STATE", TBL_LEFT, false }, { "FAILURES", TBL_RIGHT, false },
		{ "REQUESTS", TBL_RIGHT, false }, { "PROBES", TBL_RIGHT, false },
		{ "REMAINING", TBL_RIGHT, false },
	};
	const json_t *b;
	struct tbl *t;
	size_t i;

	(void)err;
	if (!json_array_size(jget(a, "breakers"))) {
		fprintf(out, "no breakers\n");
		return done(out);
	}
	t = tbl_new(cols, 7);
	if (!t)
		return -ENOMEM;
	json_array_foreach(jget(a, "breakers"), i, b) {
		tbl_row(t);
		cell_json(t, b, "service");
		cell_json(t, b, "instance");
		cell_json(t, b, "state");
		cell_json(t, b, "failures");
		cell_json(t, b, "requests");
		cell_json(t, b, "probes");
		if (strcmp(jstr(b, "state"), "open") == 0)
			cell_ms(t, b, "remaining_ms");
		else
			tbl_cell(t, "-");
	}
	return tbl_finish(t, out, "");
}

int print_limits(const json_t *a, FILE *out, FILE *err)
{
	static const struct tbl_col cols[] = {
		{ "RULE", TBL_LEFT, false }, { "LIMIT", TBL_RIGHT, false },
		{ "REMAINING", TBL_RIGHT, false }, { "RESET", TBL_RIGHT, false },
		{ "RETRY_AFTER", TBL_RIGHT, true }, { "NOTE", TBL_LEFT, true },
	};
	const json_t *r;
	struct tbl *t;
	uint64_t ms;
	size_t i;

	(void)err;
	fprintf(out, "route %s, key %s\n", jstr(a, "route"), jstr(a, "key"));
	if (!json_array_size(jget(a, "rules"))) {
		fprintf(out, "no rate limits on this route\n");
		return done(out);
	}
	t = tbl_new(cols, 6);
	if (!t)
		return -ENOMEM;
	json_array_foreach(jget(a, "rules"), i, r) {
		tbl_row(t);
		cell_json(t, r, "rule");
		cell_json(t, r, "limit");
		cell_json(t, r, "remaining");
		cell_ms(t, r, "reset_ms");
		if (jnum(jget(r, "retry_after_ms"), &ms) && ms)
			cell_ms(t, r, "retry_after_ms");
		else
			tbl_cell(t, "");
		tbl_cell(t, json_is_false(jget(r, "present")) ? "no state yet" : "");
	}
	return tbl_finish(t, out, "");
}

int print_reload(const json_t *a, FILE *out, FILE *err)
{
	char g[32], w[32];

	fprintf(out, "reloaded: generation %s (%s workers)\n",
		jtext(jget(a, "generation"), g, sizeof(g)), jtext(jget(a, "workers"), w, sizeof(w)));
	fflush(out);
	print_lines(jget(a, "warnings"), err);
	return done(out);
}

int print_config_check(const json_t *a, FILE *out, FILE *err)
{
	size_t nw = json_array_size(jget(a, "warnings"));

	if (nw)
		fprintf(out, "%s: ok, %zu warning%s\n", jstr(a, "file"), nw, nw == 1 ? "" : "s");
	else
		fprintf(out, "%s: ok\n", jstr(a, "file"));
	fflush(out);
	print_lines(jget(a, "warnings"), err);
	return done(out);
}

/* "<verb> ADDR <prep> SERVICE", then the master's note. */
static int print_instance(const json_t *a, FILE *out, const char *verb, const char *prep)
{
	uint64_t slot;

	fprintf(out, "%s %s %s %s", verb, jstr(a, "instance"), prep, jstr(a, "service"));
	if (jnum(jget(a, "slot"), &slot))
		fprintf(out, " (slot %" PRIu64 ")", slot);
	fputc('\n', out);
	if (json_string_value(jget(a, "note")))
		fprintf(out, "note: %s\n", jstr(a, "note"));
	return done(out);
}

int print_instance_add(const json_t *a, FILE *out, FILE *err)
{
	(void)err;
	return print_instance(a, out, "added", "to");
}

int print_instance_remove(const json_t *a, FILE *out, FILE *err)
{
	(void)err;
	return print_instance(a, out, "removed", "from");
}

int print_instance_drain(const json_t *a, FILE *out, FILE *err)
{
	(void)err;
	return print_instance(a, out, "draining", "of");
}

/* "reset N keys"; the master answers "all" for limits reset --all, and
 * an answer without the count is just "ok". */
static int print_count(const json_t *a, FILE *out, const char *field, const char *verb,
		       const char *what)
{
	const json_t *v = jget(a, field);
	uint64_t n = 0;

	if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0)
		fprintf(out, "%s every %s\n", verb, what);
	else if (jnum(v, &n))
		fprintf(out, "%s %" PRIu64 " %s%s\n", verb, n, what, n == 1 ? "" : "s");
	else
		fprintf(out, "ok\n");
	return done(out);
}

int print_breakers_reset(const json_t *a, FILE *out, FILE *err)
{
	(void)err;
	return print_count(a, out, "reset", "reset", "breaker");
}

int print_breakers_open(const json_t *a, FILE *out, FILE *err)
{
	(void)err;
	return print_count(a, out, "opened", "opened", "breaker");
}

int print_limits_reset(const json_t *a, FILE *out, FILE *err)
{
	(void)err;
	return print_count(a, out, "reset", "reset", "key");
}

int print_stop(const json_t *a, FILE *out, FILE *err)
{
	(void)a;
	(void)err;
	fprintf(out, "gatewayd is stopping\n");
	return done(out);
}

int print_drain(const json_t *a, FILE *out, FILE *err)
{
	(void)a;
	(void)err;
	fprintf(out, "gatewayd is draining: it exits when in-flight requests are done\n");
	return done(out);
}

void print_failure(const json_t *a, FILE *err)
{
	const char *msg = json_string_value(jget(a, "error"));
	const char *code = json_string_value(jget(a, "code"));

	if (msg)
		fprintf(err, "gatewayctl: %s\n", msg);
	else
		fprintf(err, "gatewayctl: gatewayd refused the command (code %s)\n",
			code ? code : "none");
	print_lines(jget(a, "errors"), err);
	print_lines(jget(a, "warnings"), err);
}
