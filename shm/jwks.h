/* Remote JWKS documents, published by the master to the workers.
 *
 * A [jwt] section with jwks_url has its key set fetched by the master
 * (master/jwksfetch.c), never by a worker. The master checks a fetched
 * document (it must parse and hold a usable key) and publishes its JSON
 * text here in the section's slot with a new generation; each worker sees
 * the generation move at a loop turn, copies the text out, parses it into
 * keys (CPU only) and swaps them in (worker/jwtkeys.c).
 *
 * Workers ask for a refresh when a token names a kid the set lacks: they
 * raise the slot's request word, and the master takes it at its next
 * turn, within its rate limit. The master also counts finished fetch
 * attempts (good or not), so a worker holding a request until the keys
 * change can stop waiting as soon as an attempt failed.
 *
 * The prefix is jwksr_ (region): auth/jwks.h owns jwks_. */
#ifndef GW_SHM_JWKS_H
#define GW_SHM_JWKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWKSR_SLOTS		8u		/* [jwt] sections with jwks_url */
#define JWKSR_TEXT_MAX		(64u << 10)	/* bytes of one JWKS document */
#define JWKSR_NAME_MAX		63u		/* bytes of a section name */

struct jwksr_region_sh;

/* The process-local handle. */
struct jwksr {
	struct jwksr_region_sh *sh;
};

size_t jwksr_region_size(void);

/* Master, before fork: every slot empty (generation 0: no keys yet). */
void jwksr_format_master(void *mem);
int jwksr_attach(struct jwksr *t, void *mem, size_t size);

/* Master: publish <text> (<len> bytes, at most JWKSR_TEXT_MAX) as the key
 * set of section <name> in <slot>, under the next generation, which is
 * returned (>= 1). -E2BIG or -EINVAL (slot, name) change nothing. */
int64_t jwksr_publish_master(struct jwksr *t, unsigned slot, const char *name,
			     const char *text, size_t len);

/* Master: one more fetch attempt for <slot> finished, whatever its end. */
void jwksr_attempted_master(struct jwksr *t, unsigned slot);

/* Master: a kid-triggered refresh of <slot> will not start before
 * CLOCK_MONOTONIC ms <mono_ms>; workers then answer at once instead of
 * waiting for a refresh that will not come. */
void jwksr_set_refresh_after_master(struct jwksr *t, unsigned slot, uint64_t mono_ms);

/* Master: whether a worker asked for a refresh of <slot> since the last
 * call (the request is consumed). */
bool jwksr_take_request_master(struct jwksr *t, unsigned slot);

/* The generation published in <slot> (0: nothing yet). Acquire: a reader
 * that sees generation N then reads N's bytes (jwksr_read()). */
uint64_t jwksr_gen(const struct jwksr *t, unsigned slot);

/* Fetch attempts finished for <slot> (acquire: the generation published
 * by an attempt is visible once the count shows it), and the
 * refresh-after time. */
uint64_t jwksr_attempts(const struct jwksr *t, unsigned slot);
uint64_t jwksr_refresh_after(const struct jwksr *t, unsigned slot);

/* Worker: ask the master to fetch <slot> again. */
void jwksr_request(struct jwksr *t, unsigned slot);

/* Copy the current document of <slot> into <out> (<cap> bytes, at least
 * JWKSR_TEXT_MAX), setting *<len> and *<gen>. Returns 0; -ENOENT when
 * nothing is published or it belongs to another section than <name> (the
 * slot was given to another name by a reload); -EAGAIN when the master
 * kept rewriting under us (try at a later turn). Never a torn copy. */
int jwksr_read(const struct jwksr *t, unsigned slot, const char *name, char *out, size_t cap,
	       size_t *len, uint64_t *gen);

#endif
