/* Key sets, token caches and held requests (see jwtkeys.h). */
#include "worker/jwtkeys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/log.h"
#include "shm/jwks.h"
#include "worker/jwtcache.h"
#include "worker/pipeline.h"

struct jwtkeys_section {
	const struct gw_jwt_conf *conf;
	const struct jwks *keys;	/* what verifies; NULL: none yet */
	struct jwks *owned;		/* jwks_url: parsed from the segment */
	uint64_t gen;			/* jwks_url: the generation <owned> is */
	struct jwtc *cache;		/* NULL when cache = 0 */
};

struct jwtkeys {
	struct jwtkeys_section *s;	/* per cfg->jwts[i] */
	size_t n;
	char *text;			/* JWKSR_TEXT_MAX scratch; NULL without jwks_url */
};

void jwtkeys_free(struct worker *w)
{
	struct jwtkeys *k = w->jwt;

	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++) {
		jwtc_free(k->s[i].cache);
		jwks_free(k->s[i].owned);
	}
	free(k->s);
	free(k->text);
	free(k);
	w->jwt = NULL;
}

/* Swap in the set published for url section <s>, if it moved. */
static void section_sync(struct worker *w, struct jwtkeys_section *s)
{
	const struct gw_jwt_conf *j = s->conf;
	struct jwks *set = NULL;
	char msg[160] = "";
	uint64_t gen;
	size_t len;
	int ret;

	if (jwksr_gen(&w->shm.jwks, j->jwks_slot) == s->gen)
		return;
	ret = jwksr_read(&w->shm.jwks, j->jwks_slot, j->name, w->jwt->text, JWKSR_TEXT_MAX,
			 &len, &gen);
	if (ret == -EAGAIN)
		return;		/* rewritten under us: next turn */
	if (ret < 0) {
		/* Another section's now (a reload moved the slot): keep ours. */
		s->gen = jwksr_gen(&w->shm.jwks, j->jwks_slot);
		return;
	}
	s->gen = gen;
	ret = jwks_parse(w->jwt->text, len, &set, msg, sizeof(msg));
	if (ret < 0) {
		/* The master parsed it before publishing: only ENOMEM gets here. */
		log_error("jwt %s: key set generation %llu not taken: %s", j->name,
			  (unsigned long long)gen, ret == -ENOMEM ? "out of memory" : msg);
		return;
	}
	jwks_free(s->owned);
	s->owned = set;
	s->keys = set;
	/* Tokens verified under the old set may not verify under this one. */
	if (s->cache)
		jwtc_clear(s->cache);
	log_debug("jwt %s: key set generation %llu (%zu keys)", j->name,
		  (unsigned long long)gen, jwks_count(set));
}

int jwtkeys_init(struct worker *w)
{
	const struct gw_config *cfg = w->cfg;
	uint8_t key[JWTC_KEY_BYTES];
	struct jwtkeys *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	w->jwt = k;
	k->s = calloc(cfg->n_jwts ? cfg->n_jwts : 1, sizeof(*k->s));
	if (!k->s)
		goto err_free;
	k->n = cfg->n_jwts;
	for (size_t i = 0; i < k->n; i++) {
		struct jwtkeys_section *s = &k->s[i];

		s->conf = &cfg->jwts[i];
		s->keys = s->conf->keys;
		if (s->conf->jwks_url && !k->text && !(k->text = malloc(JWKSR_TEXT_MAX)))
			goto err_free;
		if (!s->conf->cache)
			continue;
		/* Per cache: the hash key never leaves this process. */
		randombytes_buf(key, sizeof(key));
		s->cache = jwtc_new(s->conf->cache, key);
		if (!s->cache)
			goto err_free;
	}
	sodium_memzero(key, sizeof(key));
	jwtkeys_sync(w);
	return 0;

err_free:
	jwtkeys_free(w);
	return -ENOMEM;
}

void jwtkeys_sync(struct worker *w)
{
	struct jwtkeys *k = w->jwt;

	for (size_t i = 0; i < k->n; i++) {
		if (k->s[i].conf->jwks_url)
			section_sync(w, &k->s[i]);
	}
}

static void wait_fire(struct timer *t, void *arg)
{
	struct exchange *ex = (struct exchange *)((char *)t - offsetof(struct exchange, wait));

	pipeline_resume(arg, ex);
}

/* Hold <ex> for a refresh of <s>'s keys, or say that none will come. */
static bool wait_begin(struct worker *w, struct exchange *ex, struct jwtkeys_section *s)
{
	unsigned slot = s->conf->jwks_slot;

	/* With keys, respect the rate limit; without, the master is retrying
	 * on its own schedule and every attempt ends the wait. */
	if (s->keys && w->now_ms < jwksr_refresh_after(&w->shm.jwks, slot))
		return false;
	jwksr_request(&w->shm.jwks, slot);
	ex->jwks_gen = s->gen;
	ex->jwks_attempts = jwksr_attempts(&w->shm.jwks, slot);
	ex->jwks_until_ms = w->now_ms + JWTKEYS_WAIT_MS;
	ex->wait.fire = wait_fire;
	timer_arm(&w->timers, &ex->wait, w->now_ms + JWTKEYS_POLL_MS);
	return true;
}

/* A held exchange runs again: is the wait over? */
static bool wait_over(struct worker *w, struct exchange *ex, struct jwtkeys_section *s)
{
	/* The attempt count moves after the master published (acquire in
	 * jwksr_attempts()), so sync before looking at the keys. */
	if (jwksr_attempts(&w->shm.jwks, s->conf->jwks_slot) != ex->jwks_attempts)
		section_sync(w, s);
	if (s->gen == ex->jwks_gen && w->now_ms < ex->jwks_until_ms &&
	    jwksr_attempts(&w->shm.jwks, s->conf->jwks_slot) == ex->jwks_attempts) {
		timer_arm(&w->timers, &ex->wait, w->now_ms + JWTKEYS_POLL_MS);
		return false;
	}
	ex->jwks_until_ms = 0;
	ex->jwks_waited = true;
	return true;
}

static int verify_keys(struct worker *w, struct jwtkeys_section *s,
		       const struct jwt_policy *pol, const char *tok, size_t len,
		       struct jwt_result *out)
{
	if (s->keys)
		return jwt_verify(s->keys, pol, tok, len, w->now_s, out);
	memset(out, 0, sizeof(*out));
	out->err = JWT_ERR_KID_UNKNOWN;
	snprintf(out->reason, sizeof(out->reason), "no key set fetched yet");
	return -EACCES;
}

int jwtkeys_verify(struct worker *w, struct exchange *ex, const struct gw_jwt_conf *j,
		   const struct jwt_policy *pol, const char *tok, size_t len,
		   struct jwt_result *out)
{
	struct jwtkeys_section *s = &w->jwt->s[j - w->cfg->jwts];
	json_t *hit;
	int rc;

	if (ex->jwks_until_ms) {
		if (!wait_over(w, ex, s))
			return -EAGAIN;
	} else if (s->cache) {
		hit = jwtc_get(s->cache, tok, len, (int64_t)w->now_s);
		wtab_count(w->stats, hit ? WTAB_JWT_CACHE_HITS : WTAB_JWT_CACHE_MISSES, 1);
		if (hit) {
			memset(out, 0, sizeof(*out));
			out->claims = json_incref(hit);
			return 0;
		}
	}
	rc = verify_keys(w, s, pol, tok, len, out);
	if (rc == 0 && s->cache &&
	    jwtc_put(s->cache, tok, len, out->claims, out->exp_s, out->not_before_s,
		     pol->leeway_s, (int64_t)w->now_s) == -ENOMEM)
		log_warn("jwt %s: token not cached: out of memory", j->name);
	if (rc == -EACCES && out->err == JWT_ERR_KID_UNKNOWN && j->jwks_url &&
	    !ex->jwks_waited && wait_begin(w, ex, s)) {
		jwt_result_free(out);
		return -EAGAIN;
	}
	return rc;
}

void jwtkeys_release(struct exchange *ex)
{
	ex->jwks_until_ms = 0;
	ex->jwks_waited = false;
}
