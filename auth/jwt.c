/* jwt_verify(): the order of checks, and the header and key selection.
 * Signatures are in jwt_sig.c, claims in jwt_claims.c.
 *
 * Order: size, three parts of strict base64url, header JSON, alg (none,
 * unknown, not allowed), key selection by kid or by type, signature, and
 * only then the payload JSON and its claims, so that a forged token costs
 * at most one header parse and the signature checks. */
#include "auth/jwt.h"
#include "auth/b64url.h"
#include "auth/jwt_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where the three parts of a compact JWS sit in the token text, and their
 * decoded bytes (all in one buffer). */
struct jwt_parts {
	size_t signed_len;      /* bytes of "header.payload", the signing input */
	uint8_t *buf;           /* owns header, payload and sig below */
	const uint8_t *header;
	size_t header_len;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *sig;
	size_t sig_len;
};

static const char *const jwt_err_names[] = {
	[JWT_OK] = "ok",
	[JWT_ERR_TOO_LARGE] = "too large",
	[JWT_ERR_MALFORMED] = "malformed",
	[JWT_ERR_ALG] = "algorithm refused",
	[JWT_ERR_KEY_MISMATCH] = "no key for algorithm",
	[JWT_ERR_KID_UNKNOWN] = "unknown kid",
	[JWT_ERR_SIGNATURE] = "bad signature",
	[JWT_ERR_EXPIRED] = "expired",
	[JWT_ERR_NOT_YET] = "not yet valid",
	[JWT_ERR_CLAIM_MISSING] = "required claim missing",
	[JWT_ERR_ISSUER] = "wrong issuer",
	[JWT_ERR_AUDIENCE] = "wrong audience",
	[JWT_ERR_NOMEM] = "out of memory",
};

const char *jwt_err_name(enum jwt_err err)
{
	if ((unsigned)err < sizeof(jwt_err_names) / sizeof(jwt_err_names[0]))
		return jwt_err_names[err];
	return "unknown";
}

const char *jwt_alg_name(enum jwt_alg alg)
{
	const struct jwt__alg_info *ai = jwt__alg_info(alg);

	return ai ? ai->name : "?";
}

int jwt_alg_parse(const char *name, size_t len, enum jwt_alg *out)
{
	for (int a = 0; a < JWT_ALG_COUNT; a++) {
		const char *n = jwt__alg_info((enum jwt_alg)a)->name;
		if (strlen(n) == len && memcmp(n, name, len) == 0) {
			*out = (enum jwt_alg)a;
			return 0;
		}
	}
	return -EINVAL;
}

void jwt_policy_init(struct jwt_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->max_len = JWT_MAX_LEN_DEFAULT;
	p->require_exp = true;
}

int jwt_policy_allow(struct jwt_policy *p, const char *names)
{
	const char *sep = " \t,";
	uint32_t algs = 0;

	for (const char *s = names; *s;) {
		size_t n;
		enum jwt_alg a;

		s += strspn(s, sep);
		n = strcspn(s, sep);
		if (n == 0)
			break;
		if (jwt_alg_parse(s, n, &a) < 0)
			return -EINVAL;
		algs |= JWT_ALG_BIT(a);
		s += n;
	}
	p->algs |= algs;
	return 0;
}

void jwt_result_free(struct jwt_result *r)
{
	json_decref(r->claims);
	r->claims = NULL;
}

int jwt__fail(struct jwt_result *out, enum jwt_err err, const char *fmt, ...)
{
	va_list ap;

	out->err = err;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	return err == JWT_ERR_NOMEM ? -ENOMEM : -EACCES;
}

/* Decode one part of <len> characters at <at> into <dst>, advancing it. */
static int jwt_decode_part(const char *at, size_t len, uint8_t **dst,
	const uint8_t **part, size_t *part_len)
{
	int rc = b64url_decode(at, len, *dst, b64url_decoded_len(len), part_len);

	if (rc < 0)
		return rc;
	*part = *dst;
	*dst += *part_len;
	return 0;
}

/* Split <token> at its two dots and decode all three parts. */
static int jwt_split(const char *token, size_t len, struct jwt_parts *pt, struct jwt_result *out)
{
	const char *d1 = memchr(token, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	const char *end = token + len;
	uint8_t *dst;

	if (!d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
		return jwt__fail(out, JWT_ERR_MALFORMED, "not three dot-separated parts");
	if (d1 == token || d2 == d1 + 1)
		return jwt__fail(out, JWT_ERR_MALFORMED, "empty header or payload");
	/* Decoded bytes are fewer than characters, so <len> bytes hold all. */
	pt->buf = dst = malloc(len);
	if (!pt->buf)
		return jwt__fail(out, JWT_ERR_NOMEM, "out of memory");
	pt->signed_len = (size_t)(d2 - token);
	if (jwt_decode_part(token, (size_t)(d1 - token), &dst, &pt->header, &pt->header_len) < 0 ||
	    jwt_decode_part(d1 + 1, (size_t)(d2 - d1 - 1), &dst, &pt->payload, &pt->payload_len) < 0 ||
	    jwt_decode_part(d2 + 1, (size_t)(end - d2 - 1), &dst, &pt->sig, &pt->sig_len) < 0)
		return jwt__fail(out, JWT_ERR_MALFORMED, "invalid base64url");
	return 0;
}

/* Parse bytes as one JSON object, refusing duplicate names: two "alg" or
 * two "exp" members could be read differently by another parser. */
static json_t *jwt_json_object(const uint8_t *p, size_t len)
{
	json_t *v = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL);

	if (v && !json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* Check the header: alg known, allowed and not "none"; no "crit"; kid, if
 * any, a string. Sets <*alg> and <*kid> (NULL when absent; points into
 * <hdr>). */
static int jwt_check_header(const json_t *hdr, const struct jwt_policy *p,
	enum jwt_alg *alg, const char **kid, struct jwt_result *out)
{
	const json_t *a = json_object_get(hdr, "alg");
	const json_t *k = json_object_get(hdr, "kid");

	if (!json_is_string(a))
		return jwt__fail(out, JWT_ERR_MALFORMED, "header has no string \"alg\"");
	/* "none" is not in our table, so it is refused like any unknown alg;
	 * it gets its own reason because it is the attack worth logging. */
	if (strcasecmp(json_string_value(a), "none") == 0)
		return jwt__fail(out, JWT_ERR_ALG, "alg none refused");
	if (jwt_alg_parse(json_string_value(a), json_string_length(a), alg) < 0)
		return jwt__fail(out, JWT_ERR_ALG, "unknown alg");
	out->alg = *alg;
	if (!(p->algs & JWT_ALG_BIT(*alg)))
		return jwt__fail(out, JWT_ERR_ALG, "alg %s not allowed", jwt_alg_name(*alg));
	if (json_object_get(hdr, "crit"))
		return jwt__fail(out, JWT_ERR_MALFORMED, "crit header not supported");
	if (k && !json_is_string(k))
		return jwt__fail(out, JWT_ERR_MALFORMED, "kid is not a string");
	*kid = k ? json_string_value(k) : NULL;
	return 0;
}

/* Try each key that <kid> (NULL: any kid) names and that fits <alg>.
 * Every fitting key is tried, so a set with two keys of the same type and
 * no kids (rotation) still works; JWKS_MAX_KEYS bounds the cost. */
static int jwt_check_keys(const struct jwks *keys, enum jwt_alg alg, const char *kid,
	const struct jwt_parts *pt, const char *token, struct jwt_result *out)
{
	bool named = false, fitted = false;

	for (size_t i = 0; i < jwks_count(keys); i++) {
		const struct jwk *k = jwks_key(keys, i);
		int rc;

		if (kid && (!k->has_kid || strcmp(k->kid, kid) != 0))
			continue;
		named = true;
		if (!jwt__key_fits(alg, k))
			continue;
		fitted = true;
		rc = jwt__sig_check(alg, k, (const uint8_t *)token, pt->signed_len, pt->sig, pt->sig_len);
		if (rc == 0) {
			out->key = k;
			return 0;
		}
		if (rc == -ENOMEM)
			return jwt__fail(out, JWT_ERR_NOMEM, "out of memory");
	}
	if (kid && !named)
		return jwt__fail(out, JWT_ERR_KID_UNKNOWN, "kid not in key set");
	if (!fitted)
		return jwt__fail(out, JWT_ERR_KEY_MISMATCH, "no %s key%s", jwt_alg_name(alg),
			kid ? " with that kid" : "");
	return jwt__fail(out, JWT_ERR_SIGNATURE, "signature does not verify");
}

/* Everything after the split: header, keys, signature, payload, claims. */
static int jwt_verify_parts(const struct jwks *keys, const struct jwt_policy *p,
	const char *token, const struct jwt_parts *pt, uint64_t now_s, struct jwt_result *out)
{
	json_t *hdr = jwt_json_object(pt->header, pt->header_len);
	json_t *claims = NULL;
	const char *kid = NULL;
	enum jwt_alg alg;
	int rc;

	if (!hdr)
		return jwt__fail(out, JWT_ERR_MALFORMED, "header is not a JSON object");
	rc = jwt_check_header(hdr, p, &alg, &kid, out);
	if (rc == 0)
		rc = jwt_check_keys(keys, alg, kid, pt, token, out);
	json_decref(hdr);  /* kid pointed into it: not used below */
	if (rc < 0)
		return rc;
	claims = jwt_json_object(pt->payload, pt->payload_len);
	if (!claims)
		return jwt__fail(out, JWT_ERR_MALFORMED, "payload is not a JSON object");
	rc = jwt__check_claims(claims, p, now_s, out);
	if (rc < 0) {
		json_decref(claims);
		return rc;
	}
	out->claims = claims;
	return 0;
}

int jwt_verify(const struct jwks *keys, const struct jwt_policy *p, const char *token,
	size_t len, uint64_t now_s, struct jwt_result *out)
{
	size_t max = p->max_len ? p->max_len : JWT_MAX_LEN_DEFAULT;
	struct jwt_parts pt = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > max)
		return jwt__fail(out, JWT_ERR_TOO_LARGE, "token longer than %zu bytes", max);
	rc = jwt_split(token, len, &pt, out);
	if (rc == 0)
		rc = jwt_verify_parts(keys, p, token, &pt, now_s, out);
	free(pt.buf);
	if (rc == 0)
		snprintf(out->reason, sizeof(out->reason), "ok");
	else
		out->key = NULL;
	return rc;
}
