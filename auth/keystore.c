/* The API-key store in memory: records, new keys, and the file's parser
 * (see keystore.h). Reading and writing the file is keystore_io.c.
 *
 * The parser reports every problem with its line and keeps going, so one
 * look at a broken file shows all that is wrong with it; uniqueness of ids
 * and hashes is checked once the whole file is read (sorted, so a large
 * store costs n log n, not n^2). */
#include "auth/keystore.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/b64url.h"
#include "auth/scopes.h"

#define KEYSTORE_FORMAT		"gatewayd-apikeys"
#define KEYSTORE_VERSION	1u
#define KEYSTORE_ID_MAX		0x7fffffffu
#define KEYSTORE_RAND_BYTES	32u

void keystore_hash(const uint8_t hkey[APIKEYS_HKEY_BYTES], const char *key, size_t len,
		   uint8_t out[APIKEYS_HASH_BYTES])
{
	crypto_generichash(out, APIKEYS_HASH_BYTES, (const unsigned char *)key, len, hkey,
			   APIKEYS_HKEY_BYTES);
}

void keystore_free(struct keystore *ks)
{
	if (!ks)
		return;
	free(ks->entries);
	sodium_memzero(ks->hkey, sizeof(ks->hkey));
	free(ks);
}

static struct keystore *store_alloc(void)
{
	struct keystore *ks = calloc(1, sizeof(*ks));

	if (ks)
		ks->next_id = 1;
	return ks;
}

int keystore_new(struct keystore **out)
{
	struct keystore *ks = store_alloc();

	if (!ks)
		return -ENOMEM;
	randombytes_buf(ks->hkey, sizeof(ks->hkey));
	*out = ks;
	return 0;
}

bool keystore_consumer_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > APIKEYS_CONSUMER_MAX)
		return false;
	for (const char *c = name; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("._@-", *c)))
			return false;
	}
	return true;
}

bool keystore_scopes_norm(const char *s, char norm[APIKEYS_SCOPES_MAX + 1])
{
	return scopes_norm(s, norm, APIKEYS_SCOPES_MAX + 1) >= 0;
}

/* Room for one more record; 0 or -ENOSPC / -ENOMEM. */
static int store_grow(struct keystore *ks)
{
	struct keystore_entry *e;
	size_t cap;

	if (ks->n >= KEYSTORE_MAX_ENTRIES)
		return -ENOSPC;
	if (ks->n < ks->cap)
		return 0;
	cap = ks->cap ? ks->cap * 2 : 16;
	e = realloc(ks->entries, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	ks->entries = e;
	ks->cap = cap;
	return 0;
}

int keystore_add(struct keystore *ks, const char *consumer, const char *scopes, uint64_t now_s,
		 char key[KEYSTORE_KEY_LEN + 1], const struct keystore_entry **entry)
{
	uint8_t raw[KEYSTORE_RAND_BYTES];
	struct keystore_entry *e;
	int ret;

	if (!keystore_consumer_ok(consumer))
		return -EINVAL;
	if (ks->next_id > KEYSTORE_ID_MAX)
		return -ENOSPC;
	ret = store_grow(ks);
	if (ret)
		return ret;
	e = &ks->entries[ks->n];
	memset(e, 0, sizeof(*e));
	if (!keystore_scopes_norm(scopes ? scopes : "", e->scopes))
		return -EINVAL;
	memcpy(key, KEYSTORE_PREFIX, 4);
	randombytes_buf(raw, sizeof(raw));
	ret = b64url_encode(raw, sizeof(raw), key + 4, KEYSTORE_KEY_LEN + 1 - 4);
	sodium_memzero(raw, sizeof(raw));
	if (ret != (int)KEYSTORE_KEY_LEN - 4)
		return -EINVAL;		/* cannot happen: 32 bytes are 43 characters */
	keystore_hash(ks->hkey, key, KEYSTORE_KEY_LEN, e->hash);
	e->id = ks->next_id++;
	e->created_s = now_s;
	strcpy(e->consumer, consumer);
	ks->n++;
	*entry = e;
	return 0;
}

void keystore_undo_add(struct keystore *ks)
{
	if (ks->n) {
		ks->n--;
		ks->next_id--;
	}
}

struct keystore_entry *keystore_find(struct keystore *ks, uint32_t id)
{
	for (size_t i = 0; i < ks->n; i++) {
		if (ks->entries[i].id == id)
			return &ks->entries[i];
	}
	return NULL;
}

/* ---- the parser ---- */

struct parse {
	struct keystore *ks;
	keystore_report_fn *report;
	void *arg;
	int line;
	unsigned errors;
	int header_line;		/* of "gatewayd-apikeys 1"; 0 = not yet */
	int hkey_line;			/* of "hash-key"; 0 = none */
	int next_line;
	uint32_t next_id;		/* from next-id, 0 = none */
	int *lines;			/* line of each entry, for duplicates */
	bool oom;
};

__attribute__((format(printf, 3, 4)))
static void perr(struct parse *p, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->errors++;
	if (p->report)
		p->report(p->arg, line, msg);
}

/* A whole decimal number in [min, max]. */
static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 20)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_hex(const char *s, uint8_t *out, size_t n)
{
	size_t got;

	if (strlen(s) != n * 2)
		return false;
	for (const char *c = s; *c; c++) {
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;	/* lowercase only: one text per hash */
	}
	return sodium_hex2bin(out, n, s, n * 2, NULL, &got, NULL) == 0 && got == n;
}

#define MAX_WORDS 64u

/* Split <s> in place into words separated by spaces or tabs. */
static size_t split(char *s, char **w)
{
	size_t n = 0;

	while (*s && n < MAX_WORDS) {
		s += strspn(s, " \t");
		if (!*s)
			break;
		w[n++] = s;
		s += strcspn(s, " \t");
		if (*s)
			*s++ = '\0';
	}
	return n;
}

/* The scopes of a key line: words w[0..n) joined with single spaces. */
static bool join_scopes(char **w, size_t n, char out[APIKEYS_SCOPES_MAX + 1])
{
	char buf[KEYSTORE_MAX_LINE + 1];
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(w[i]);

		if (len + l + 1 > sizeof(buf))
			return false;
		if (len)
			buf[len++] = ' ';
		memcpy(buf + len, w[i], l);
		len += l;
	}
	buf[len] = '\0';
	return keystore_scopes_norm(buf, out);
}

static void parse_key(struct parse *p, char **w, size_t n)
{
	struct keystore *ks = p->ks;
	struct keystore_entry e;
	bool ok = true;
	uint64_t v;
	int *lines;
	int ret;

	memset(&e, 0, sizeof(e));
	if (n < 6) {
		perr(p, p->line, "bad key record (want: key ID CONSUMER live|revoked CREATED "
		     "HASH [SCOPE ...])");
		return;
	}
	if (parse_u64(w[1], 1, KEYSTORE_ID_MAX, &v))
		e.id = (uint32_t)v;
	else
		ok = false, perr(p, p->line, "bad key id '%s' (want 1..%u)", w[1], KEYSTORE_ID_MAX);
	if (keystore_consumer_ok(w[2]))
		strcpy(e.consumer, w[2]);
	else
		ok = false, perr(p, p->line, "bad consumer '%.80s' (want 1..%u of A-Z a-z 0-9 . _ @ -)",
				 w[2], APIKEYS_CONSUMER_MAX);
	if (strcmp(w[3], "live") == 0 || strcmp(w[3], "revoked") == 0)
		e.revoked = w[3][0] == 'r';
	else
		ok = false, perr(p, p->line, "bad state '%.80s' (want live or revoked)", w[3]);
	if (!parse_u64(w[4], 0, UINT32_MAX * 4ull, &e.created_s))
		ok = false, perr(p, p->line, "bad created time '%.80s' (want Unix seconds)", w[4]);
	if (!parse_hex(w[5], e.hash, sizeof(e.hash)))
		ok = false, perr(p, p->line, "bad hash (want %u lowercase hex digits)",
				 APIKEYS_HASH_BYTES * 2);
	if (!join_scopes(w + 6, n - 6, e.scopes))
		ok = false, perr(p, p->line, "bad scopes (scope names are printable ASCII without "
				 "'\"' or '\\', at most %u bytes together)", APIKEYS_SCOPES_MAX);
	if (!ok)
		return;
	ret = store_grow(ks);
	if (ret == -ENOSPC)
		perr(p, p->line, "too many keys (at most %u)", KEYSTORE_MAX_ENTRIES);
	if (ret == -ENOMEM)
		p->oom = true;
	if (ret)
		return;
	lines = realloc(p->lines, ks->cap * sizeof(*lines));
	if (!lines) {
		p->oom = true;
		return;
	}
	p->lines = lines;
	p->lines[ks->n] = p->line;
	ks->entries[ks->n++] = e;
}

static void parse_header(struct parse *p, char **w, size_t n)
{
	uint64_t v;

	if (n != 2 || !parse_u64(w[1], 1, 1000, &v))
		perr(p, p->line, "bad format line (want '" KEYSTORE_FORMAT " 1')");
	else if (v != KEYSTORE_VERSION)
		perr(p, p->line, "unsupported store version %" PRIu64 " (this gatewayd reads %u)", v,
		     KEYSTORE_VERSION);
}

static void parse_record(struct parse *p, char *text)
{
	char *w[MAX_WORDS];
	size_t n = split(text, w);
	uint64_t v;

	if (n == 0 || w[0][0] == '#')
		return;
	if (!p->header_line) {
		p->header_line = p->line;
		if (strcmp(w[0], KEYSTORE_FORMAT) != 0)
			perr(p, p->line, "not an API-key store (the first record must be '"
			     KEYSTORE_FORMAT " 1')");
		else
			parse_header(p, w, n);
		return;
	}
	if (n >= MAX_WORDS) {
		perr(p, p->line, "too many words");
	} else if (strcmp(w[0], "hash-key") == 0) {
		if (p->hkey_line)
			perr(p, p->line, "duplicate hash-key (first at line %d)", p->hkey_line);
		else if (n != 2 || !parse_hex(w[1], p->ks->hkey, APIKEYS_HKEY_BYTES))
			perr(p, p->line, "bad hash-key (want %u lowercase hex digits)",
			     APIKEYS_HKEY_BYTES * 2);
		p->hkey_line = p->line;
	} else if (strcmp(w[0], "next-id") == 0) {
		if (p->next_line)
			perr(p, p->line, "duplicate next-id (first at line %d)", p->next_line);
		else if (n != 2 || !parse_u64(w[1], 1, KEYSTORE_ID_MAX + 1ull, &v))
			perr(p, p->line, "bad next-id (want 1..%u)", KEYSTORE_ID_MAX + 1u);
		else
			p->next_id = (uint32_t)v;
		p->next_line = p->line;
	} else if (strcmp(w[0], "key") == 0) {
		parse_key(p, w, n);
	} else {
		perr(p, p->line, "unknown record '%.40s' (want hash-key, next-id or key)", w[0]);
	}
}

static struct parse *cmp_ctx;	/* qsort has no argument; the parser is single-threaded */

static int same_id(size_t a, size_t b)
{
	uint32_t x = cmp_ctx->ks->entries[a].id, y = cmp_ctx->ks->entries[b].id;

	return x < y ? -1 : x > y;
}

static int same_hash(size_t a, size_t b)
{
	return memcmp(cmp_ctx->ks->entries[a].hash, cmp_ctx->ks->entries[b].hash,
		      APIKEYS_HASH_BYTES);
}

/* By the field, then by line, so duplicates come in file order. */
static int cmp_id(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return same_id(x, y) ?: cmp_ctx->lines[x] - cmp_ctx->lines[y];
}

static int cmp_hash(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return same_hash(x, y) ?: cmp_ctx->lines[x] - cmp_ctx->lines[y];
}

/* Report ids and hashes that appear twice, at the later line. */
static int check_unique(struct parse *p)
{
	struct keystore *ks = p->ks;
	size_t *idx = malloc((ks->n ? ks->n : 1) * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	cmp_ctx = p;
	for (int pass = 0; pass < 2; pass++) {
		size_t first = 0;

		for (size_t i = 0; i < ks->n; i++)
			idx[i] = i;
		qsort(idx, ks->n, sizeof(*idx), pass ? cmp_hash : cmp_id);
		for (size_t i = 1; i < ks->n; i++) {
			size_t a = idx[first], b = idx[i];

			if ((pass ? same_hash : same_id)(a, b) != 0)
				first = i;
			else if (!pass)
				perr(p, p->lines[b], "duplicate key id %u (first at line %d)",
				     ks->entries[a].id, p->lines[a]);
			else
				perr(p, p->lines[b], "duplicate hash (the same key as line %d)",
				     p->lines[a]);
		}
	}
	free(idx);
	return 0;
}

/* Every line: over-long ones and NUL bytes are errors of their own. */
static void parse_lines(struct parse *p, const char *text, size_t len)
{
	char buf[KEYSTORE_MAX_LINE + 1];

	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = (nl ? (size_t)(nl - text) : len) - at;

		p->line++;
		if (n && text[at + n - 1] == '\r')
			n--;
		if (n > KEYSTORE_MAX_LINE)
			perr(p, p->line, "line too long (max %u bytes)", KEYSTORE_MAX_LINE);
		else if (memchr(text + at, '\0', n))
			perr(p, p->line, "NUL byte in line");
		else {
			memcpy(buf, text + at, n);
			buf[n] = '\0';
			parse_record(p, buf);
		}
		at += (nl ? (size_t)(nl - (text + at)) + 1 : n);
		if (!nl)
			break;
	}
}

static void finish(struct parse *p)
{
	struct keystore *ks = p->ks;
	uint32_t max = 0;

	if (!p->header_line)
		perr(p, 1, "empty API-key store (want '" KEYSTORE_FORMAT " 1' and a hash-key)");
	else if (!p->hkey_line)
		perr(p, p->header_line, "no hash-key record");
	for (size_t i = 0; i < ks->n; i++)
		max = ks->entries[i].id > max ? ks->entries[i].id : max;
	ks->next_id = p->next_id > max ? p->next_id : max + 1;
}

int keystore_parse(const char *text, size_t len, keystore_report_fn *report, void *arg,
		   struct keystore **out)
{
	struct parse p = { .report = report, .arg = arg };
	int ret = 0;

	p.ks = store_alloc();
	if (!p.ks)
		return -ENOMEM;
	parse_lines(&p, text, len);
	if (p.oom)
		ret = -ENOMEM;
	if (!ret)
		finish(&p);
	if (!ret && !p.errors)
		ret = check_unique(&p);
	free(p.lines);
	if (!ret && p.errors)
		ret = -EINVAL;
	if (ret) {
		keystore_free(p.ks);
		return ret;
	}
	*out = p.ks;
	return 0;
}
