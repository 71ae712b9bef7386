/* Fetching and publishing remote key sets (see jwksfetch.h).
 *
 * A slot's fetch is idle (fd -1) or in flight (fd is the pipe's read end,
 * polled on the ring under a tag that changes whenever the fetch ends, so
 * a late completion for an old pipe is dropped). One fetch per slot at a
 * time. The child writes a struct fetch_head then the body, and exits; the
 * master reads until end of file. The child is not waited for here: the
 * loop's waitpid(-1) reaps it like any stranger, and it never outlives its
 * alarm, so the master never signals a pid it may no longer own. */
#include "master/jwksfetch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "auth/jwks.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "master/master.h"
#include "master/mio.h"
#include "shm/jwks.h"

_Static_assert(GW_JWT_URL_MAX == JWKSR_SLOTS, "one slot per jwks_url section");

/* What the child writes before the body. */
struct fetch_head {
	int32_t err;		/* 0, or -errno */
	uint32_t len;		/* body bytes that follow */
	char msg[200];		/* why, when err < 0 */
};

#define FETCH_CAP (sizeof(struct fetch_head) + JWKSR_TEXT_MAX)
#define FETCH_GRACE_MS 3000u	/* past the timeout, before the pipe is dropped */

struct mjwks_slot {
	char name[JWKSR_NAME_MAX + 1];	/* "" = never used */
	bool active;			/* named by the running or applying config */
	char *url, *ca;			/* owned copies */
	uint64_t refresh_ms, refresh_min_ms, timeout_ms;
	uint64_t next_fetch_ms;		/* the scheduled fetch */
	unsigned failures;		/* in a row */
	uint64_t last_kid_ms;		/* last kid-triggered start; 0 = never */
	uint64_t last_used_ms;		/* for reuse when every slot is taken */
	char *published;		/* the text last published; NULL = none */
	size_t published_len;
	/* The fetch in flight. */
	int fd;				/* -1 = none */
	uint32_t tag;
	bool armed;			/* a poll is in the ring */
	char *buf;			/* FETCH_CAP bytes */
	size_t got;
	uint64_t deadline_ms;
};

struct mjwks {
	struct mjwks_slot slot[JWKSR_SLOTS];
};

struct mjwks *mjwks_new(void)
{
	struct mjwks *j = calloc(1, sizeof(*j));

	for (unsigned i = 0; j && i < JWKSR_SLOTS; i++)
		j->slot[i].fd = -1;
	return j;
}

static void fetch_drop(struct mjwks_slot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->tag++;		/* a completion still in the ring is now stale */
	s->armed = false;
	free(s->buf);
	s->buf = NULL;
	s->got = 0;
}

void mjwks_free(struct master *m)
{
	struct mjwks *j = m->jwks;

	if (!j)
		return;
	for (unsigned i = 0; i < JWKSR_SLOTS; i++) {
		fetch_drop(&j->slot[i]);
		free(j->slot[i].url);
		free(j->slot[i].ca);
		free(j->slot[i].published);
	}
	free(j);
	m->jwks = NULL;
}

uint64_t mjwks_backoff_ms(unsigned failures, uint64_t refresh_ms)
{
	uint64_t cap = refresh_ms < MJWKS_BACKOFF_MAX_MS ? refresh_ms : MJWKS_BACKOFF_MAX_MS;
	uint64_t ms = MJWKS_BACKOFF_MIN_MS;

	for (unsigned i = 1; i < failures && ms < cap; i++)
		ms *= 2;
	return ms < cap ? ms : cap;
}

bool mjwks_kid_refresh_ok(uint64_t now_ms, uint64_t last_ms, uint64_t min_ms)
{
	return last_ms == 0 || now_ms - last_ms >= min_ms;
}

/* The slot already named <name>, else a never-used one, else the inactive
 * one used longest ago; -1 if every slot is active (the config loader
 * bounds jwks_url sections by the slot count, so only a bug gets that). */
static int slot_pick(struct mjwks *j, const char *name)
{
	int unused = -1, oldest = -1;

	for (int i = 0; i < (int)JWKSR_SLOTS; i++) {
		struct mjwks_slot *s = &j->slot[i];

		if (strcmp(s->name, name) == 0)
			return i;
		if (!s->name[0] && unused < 0)
			unused = i;
		if (s->name[0] && !s->active &&
		    (oldest < 0 || s->last_used_ms < j->slot[oldest].last_used_ms))
			oldest = i;
	}
	return unused >= 0 ? unused : oldest;
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Point slot <s> at section <c>; a new name or source fetches at once. */
static int slot_take(struct mjwks_slot *s, const struct gw_jwt_conf *c)
{
	bool same = strcmp(s->name, c->name) == 0 && str_same(s->url, c->jwks_url) &&
		    str_same(s->ca, c->jwks_ca);
	char *url = strdup(c->jwks_url), *ca = c->jwks_ca ? strdup(c->jwks_ca) : NULL;

	if (!url || (c->jwks_ca && !ca)) {
		free(url);
		free(ca);
		return -ENOMEM;
	}
	free(s->url);
	free(s->ca);
	s->url = url;
	s->ca = ca;
	s->refresh_ms = c->jwks_refresh_ms;
	s->refresh_min_ms = c->jwks_refresh_min_ms;
	s->timeout_ms = c->jwks_timeout_ms;
	s->active = true;
	if (same)
		return 0;
	if (strcmp(s->name, c->name) != 0) {
		/* Another section's keys are no baseline for this one. */
		free(s->published);
		s->published = NULL;
		s->published_len = 0;
		s->last_kid_ms = 0;
		snprintf(s->name, sizeof(s->name), "%s", c->name);
	}
	fetch_drop(s);
	s->failures = 0;
	s->next_fetch_ms = 0;	/* now */
	return 0;
}

int mjwks_apply_config(struct master *m, struct gw_config *cfg)
{
	struct mjwks *j = m->jwks;

	for (unsigned i = 0; i < JWKSR_SLOTS; i++)
		j->slot[i].active = false;
	for (size_t i = 0; i < cfg->n_jwts; i++) {
		struct gw_jwt_conf *c = &cfg->jwts[i];
		int k;

		if (!c->jwks_url)
			continue;
		k = slot_pick(j, c->name);
		if (k < 0) {
			log_error("jwt %s: no free key-set slot", c->name);
			return -ENOSPC;
		}
		if (slot_take(&j->slot[k], c) < 0)
			return -ENOMEM;
		c->jwks_slot = (unsigned)k;
	}
	/* An inactive slot fetches nothing; its keys stay for old workers. */
	for (unsigned i = 0; i < JWKSR_SLOTS; i++) {
		if (!j->slot[i].active)
			fetch_drop(&j->slot[i]);
	}
	return 0;
}

/* The child: fetch, report through <wfd>, exit. Never returns. */
static void fetch_child(const struct mjwks_slot *s, int wfd)
{
	struct fetch_head h = { 0 };
	char *body = NULL;
	size_t len = 0, off = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Hold nothing of the master's: its ring, sockets, listeners. */
	if (wfd > 3)
		close_range(3, (unsigned)wfd - 1, 0);
	close_range((unsigned)wfd + 1, ~0u, 0);
	/* Whatever libcurl does, this process ends soon after the timeout. */
	alarm((unsigned)(s->timeout_ms / 1000u) + 2u);
	h.err = mjwks_get(s->url, s->ca, s->timeout_ms, JWKSR_TEXT_MAX, &body, &len, h.msg,
			  sizeof(h.msg));
	h.len = h.err ? 0 : (uint32_t)len;
	if (write(wfd, &h, sizeof(h)) != (ssize_t)sizeof(h))
		_exit(1);
	while (off < h.len) {
		ssize_t n = write(wfd, body + off, h.len - off);

		if (n <= 0)
			_exit(1);
		off += (size_t)n;
	}
	_exit(0);
}

static void fetch_arm(struct master *m, unsigned k)
{
	struct mjwks_slot *s = &m->jwks->slot[k];

	if (s->fd < 0 || s->armed)
		return;
	/* A full ring is retried at the next turn (MJWKS_POLL_MS bounds it). */
	s->armed = mio_poll(m, MIO_JWKS, k, s->tag, s->fd, POLLIN) == 0;
}

static void fetch_start(struct master *m, unsigned k, uint64_t now, const char *why)
{
	struct mjwks_slot *s = &m->jwks->slot[k];
	int p[2];
	pid_t pid;

	s->buf = malloc(FETCH_CAP);
	if (!s->buf || pipe2(p, O_CLOEXEC) < 0) {
		log_error("jwt %s: cannot start a key-set fetch: %s", s->name,
			  s->buf ? strerror(errno) : "out of memory");
		free(s->buf);
		s->buf = NULL;
		s->next_fetch_ms = now + MJWKS_BACKOFF_MIN_MS;
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		fetch_child(s, p[1]);
	}
	close(p[1]);
	if (pid < 0) {
		log_error("jwt %s: fork for a key-set fetch failed: %s", s->name, strerror(errno));
		close(p[0]);
		free(s->buf);
		s->buf = NULL;
		s->next_fetch_ms = now + MJWKS_BACKOFF_MIN_MS;
		return;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	s->fd = p[0];
	s->got = 0;
	s->tag++;
	s->deadline_ms = now + s->timeout_ms + FETCH_GRACE_MS;
	s->last_used_ms = now;
	log_debug("jwt %s: fetching %s (%s, pid %d)", s->name, s->url, why, (int)pid);
	fetch_arm(m, k);
}

/* A fetch ended, well or not: tell the workers holding requests, and from
 * now on answer unknown kids at once until the rate limit allows another
 * refresh. Set here rather than when the fetch starts, so that requests
 * arriving while it is in flight wait for it too. */
static void attempt_end(struct master *m, unsigned k)
{
	struct mjwks_slot *s = &m->jwks->slot[k];

	if (s->last_kid_ms)
		jwksr_set_refresh_after_master(&m->tables.jwks, k,
					       s->last_kid_ms + s->refresh_min_ms);
	jwksr_attempted_master(&m->tables.jwks, k);
}

static void fetch_failed(struct master *m, unsigned k, const char *why, uint64_t now)
{
	struct mjwks_slot *s = &m->jwks->slot[k];
	uint64_t wait = mjwks_backoff_ms(++s->failures, s->refresh_ms);

	log_warn("jwt %s: fetching %s failed: %s; %s; retrying in %llu ms", s->name, s->url, why,
		 s->published ? "keeping the last good keys" : "no keys yet: tokens are refused",
		 (unsigned long long)wait);
	s->next_fetch_ms = now + wait;
}

/* The document arrived whole: check it, publish it if it changed. */
static void fetch_good(struct master *m, unsigned k, const char *text, size_t len, uint64_t now)
{
	struct mjwks_slot *s = &m->jwks->slot[k];
	struct jwks *set = NULL;
	char msg[160] = "";
	char *copy;
	int64_t gen;
	size_t n;

	if (jwks_parse(text, len, &set, msg, sizeof(msg)) < 0) {
		fetch_failed(m, k, msg[0] ? msg : "out of memory", now);
		return;
	}
	n = jwks_count(set);
	jwks_free(set);
	if (n == 0) {
		fetch_failed(m, k, "no usable key in the set", now);
		return;
	}
	s->failures = 0;
	s->next_fetch_ms = now + s->refresh_ms;
	if (s->published && s->published_len == len && memcmp(s->published, text, len) == 0) {
		log_debug("jwt %s: key set unchanged", s->name);
		return;
	}
	copy = malloc(len ? len : 1);
	if (!copy) {
		fetch_failed(m, k, "out of memory", now);
		return;
	}
	memcpy(copy, text, len);
	gen = jwksr_publish_master(&m->tables.jwks, k, s->name, text, len);
	if (gen < 0) {
		free(copy);
		fetch_failed(m, k, strerror((int)-gen), now);
		return;
	}
	free(s->published);
	s->published = copy;
	s->published_len = len;
	log_info("jwt %s: key set from %s: %zu key%s (generation %lld)", s->name, s->url, n,
		 n == 1 ? "" : "s", (long long)gen);
}

/* End of file on the pipe: decide, then tell waiting workers. */
static void fetch_done(struct master *m, unsigned k, uint64_t now)
{
	struct mjwks_slot *s = &m->jwks->slot[k];
	struct fetch_head h;

	if (s->got < sizeof(h)) {
		fetch_failed(m, k, "the fetcher died (timeout)", now);
	} else {
		memcpy(&h, s->buf, sizeof(h));
		h.msg[sizeof(h.msg) - 1] = '\0';
		if (h.err < 0)
			fetch_failed(m, k, h.msg, now);
		else if (h.len != s->got - sizeof(h))
			fetch_failed(m, k, "the fetcher's answer was cut short", now);
		else
			fetch_good(m, k, s->buf + sizeof(h), h.len, now);
	}
	fetch_drop(s);
	attempt_end(m, k);
}

void mjwks_on_poll(struct master *m, uint32_t index, uint32_t tag, int res)
{
	struct mjwks_slot *s;
	uint64_t now = clock_mono_ms();

	if (!m->jwks || index >= JWKSR_SLOTS)
		return;
	s = &m->jwks->slot[index];
	if (tag != s->tag || s->fd < 0)
		return;		/* an old fetch's completion */
	s->armed = false;
	for (;;) {
		ssize_t n = read(s->fd, s->buf + s->got, FETCH_CAP - s->got);

		if (n > 0) {
			s->got += (size_t)n;
			if (s->got == FETCH_CAP) {
				/* The child never writes more: treat as done. */
				fetch_done(m, index, now);
				return;
			}
			continue;
		}
		if (n == 0) {
			fetch_done(m, index, now);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		fetch_failed(m, index, strerror(errno), now);
		fetch_drop(s);
		attempt_end(m, index);
		return;
	}
	fetch_arm(m, index);
}

/* A worker saw an unknown kid: fetch now, within the rate limit. */
static void slot_requests(struct master *m, unsigned k, uint64_t now)
{
	struct mjwks_slot *s = &m->jwks->slot[k];

	if (!jwksr_take_request_master(&m->tables.jwks, k))
		return;
	if (s->fd >= 0)
		return;		/* the fetch in flight answers it */
	if (!s->published) {
		/* No keys yet: the backoff schedule is already retrying. */
		return;
	}
	if (!mjwks_kid_refresh_ok(now, s->last_kid_ms, s->refresh_min_ms))
		return;
	s->last_kid_ms = now;
	fetch_start(m, k, now, "unknown kid");
}

void mjwks_tick(struct master *m, uint64_t now)
{
	struct mjwks *j = m->jwks;

	if (!j)
		return;
	for (unsigned k = 0; k < JWKSR_SLOTS; k++) {
		struct mjwks_slot *s = &j->slot[k];

		if (!s->active)
			continue;
		if (s->fd >= 0) {
			fetch_arm(m, k);
			if (now >= s->deadline_ms) {
				fetch_failed(m, k, "no answer from the fetcher", now);
				fetch_drop(s);
				attempt_end(m, k);
			}
			continue;
		}
		slot_requests(m, k, now);
		if (s->fd < 0 && now >= s->next_fetch_ms)
			fetch_start(m, k, now, s->published ? "scheduled" : "no keys yet");
	}
}

uint64_t mjwks_next_deadline(const struct master *m)
{
	const struct mjwks *j = m->jwks;
	uint64_t next = UINT64_MAX;
	bool any = false;

	for (unsigned k = 0; j && k < JWKSR_SLOTS; k++) {
		const struct mjwks_slot *s = &j->slot[k];
		uint64_t at = s->fd >= 0 ? s->deadline_ms : s->next_fetch_ms;

		if (!s->active)
			continue;
		any = true;
		if (at < next)
			next = at;
	}
	/* Worker requests are words in the segment, not events: look often. */
	if (any) {
		uint64_t poll = clock_mono_ms() + MJWKS_POLL_MS;

		if (poll < next)
			next = poll;
	}
	return next;
}
