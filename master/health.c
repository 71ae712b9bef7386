/* Active health checks (see health.h), one small state machine per target.
 *
 * States of a check: idle -> connecting [-> handshake] -> sending ->
 * reading -> idle (the handshake for a service with tls = yes, then
 * SSL_write/SSL_read on the same nonblocking socket: OpenSSL's WANT_READ
 * and WANT_WRITE become the poll to wait for). A
 * check leaves idle when its target's start time comes (health_tick) and
 * returns to idle through check_end() alone, which closes its socket,
 * cancels its poll and records exactly one result. Every socket is
 * nonblocking; a step that would block arms one poll (mio_poll) and
 * returns, and health_on_poll() resumes it. At most one poll per target is
 * armed, and a target runs at most one check at a time.
 *
 * Tags: every armed poll gets a fresh tag from a checker-wide counter, and
 * a completion is ours only while its entry is armed with that same tag. A
 * check that ends with its poll still armed (timeout, removal) cancels the
 * poll: closing the fd alone would not, since the poll holds the socket
 * open. An entry whose index changes in health_set_targets() re-arms under
 * the new index, so a completion under the old one is stale.
 *
 * Progress (up, streak, last result) lives in the slot's health word,
 * which the master alone writes. A target new to the checker (new slot, or
 * new address) starts a fresh streak, keeping the word's up/down.
 * Schedules run from the previous start, so slow checks cause no drift. */
#include "master/health.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/master.h"
#include "master/mio.h"
#include "tls/client.h"

#define HC_RESP_MAX	256u	/* a status line longer than this is malformed */

enum hc_state {
	HC_IDLE = 0,
	HC_CONNECTING,			/* waiting for POLLOUT, then SO_ERROR */
	HC_HANDSHAKE,			/* TLS: SSL_connect until it completes */
	HC_SENDING,			/* req[sent..req_len) still to write */
	HC_READING,			/* resp[0..got) holds no full line yet */
};

struct hc_entry {
	struct health_target t;		/* conf borrowed from the caller */
	enum hc_state state;
	int fd;				/* -1 when idle */
	SSL *ssl;			/* TLS targets, from the handshake on */
	bool armed;			/* a poll with <tag> is in the ring */
	bool fresh;			/* no result yet: the next one starts a streak */
	unsigned events;		/* of the armed or pending poll; 0 = none */
	uint32_t tag;
	uint64_t next_ms;		/* monotonic ms of the next start; 0 until
					 * the first tick picks a random one */
	uint64_t started_ms;		/* of the running check */
	char *req;			/* the request, NULL when idle */
	size_t req_len, sent, got;
	char resp[HC_RESP_MAX];
	unsigned last_status;		/* of the last result; 0 = none, see why */
	const char *why;		/* why there is no status: static text or
					 * strerror()'s, read at once by record() */
};

struct health_checker {
	struct hc_entry *v;		/* NULL when n == 0 */
	size_t n;
	uint32_t next_tag;
	uint64_t rng;			/* splitmix64 state */
};

static uint64_t rng_next(struct health_checker *h)
{
	uint64_t z = (h->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct health_checker *health_new(void)
{
	struct health_checker *h = calloc(1, sizeof(*h));

	if (h)
		h->rng = ((uint64_t)getpid() << 32) ^ clock_mono_ns();
	return h;
}

/* Arm a poll for <events> (0: e->events again); on a full ring leave it
 * pending for the next tick (health_next_deadline() then says "now"). */
static void arm(struct master *m, size_t i, unsigned events)
{
	struct hc_entry *e = &m->health->v[i];
	uint32_t tag = ++m->health->next_tag;

	e->events = events ? events : e->events;
	if (mio_poll(m, MIO_HEALTH, (uint32_t)i, tag, e->fd, e->events) == 0) {
		e->armed = true;
		e->tag = tag;
	}
}

/* Undo whatever the running check holds; <i> is the index its poll was
 * armed under. */
static void check_close(struct master *m, struct hc_entry *e, size_t i)
{
	if (e->armed)
		mio_cancel(m, MIO_HEALTH, (uint32_t)i, e->tag);
	e->armed = false;
	SSL_free(e->ssl);
	e->ssl = NULL;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	free(e->req);
	e->req = NULL;
	e->state = HC_IDLE;
}

/* Fold the result of the check that just ended into the slot's health
 * word, and log a transition. */
static void record(struct master *m, struct hc_entry *e, uint64_t now)
{
	const struct gw_health_conf *c = e->t.conf;
	bool ok = e->last_status >= 200 && e->last_status <= 399;
	struct inst_health w;
	char why[64];

	inst_health_load(&m->tables.inst, e->t.slot, &w);
	if (!e->fresh && w.checked && w.last_ok == ok)
		w.streak++;	/* the word clamps it */
	else
		w.streak = 1;
	e->fresh = false;
	if (!w.up && ok && w.streak >= c->rise) {
		w.up = true;
		log_info("health: service %s instance %s is up again (%u success%s in a row)",
			 e->t.service, e->t.text, w.streak, w.streak == 1 ? "" : "es");
	} else if (w.up && !ok && w.streak >= c->fall) {
		w.up = false;
		if (e->last_status)
			snprintf(why, sizeof(why), "status %u", e->last_status);
		else	/* "Connection refused" reads "connection refused" */
			snprintf(why, sizeof(why), "%c%s", tolower((unsigned char)e->why[0]), e->why + 1);
		log_warn("health: service %s instance %s is down (%u failure%s in a row; last: %s)",
			 e->t.service, e->t.text, w.streak, w.streak == 1 ? "" : "s", why);
	}
	w.checked = true;
	w.last_ok = ok;
	w.last_status = e->last_status;
	w.last_ms = shm_clock32(&m->seg, now);
	inst_health_store_master(&m->tables.inst, e->t.slot, &w);
}

/* The one way out of a running check: close it and record its result. */
static void check_end(struct master *m, size_t i, uint64_t now)
{
	struct hc_entry *e = &m->health->v[i];

	check_close(m, e, i);
	record(m, e, now);
}

/* Steps return the poll events to wait for, HC_NEXT when the state moved
 * on, or HC_DONE when the check is over (last_status or why says how). */
#define HC_NEXT	0
#define HC_DONE	(-1)

static int done(struct hc_entry *e, unsigned status, const char *why)
{
	e->last_status = status;
	e->why = why;
	return HC_DONE;
}

static int step_open(struct hc_entry *e)
{
	int n = asprintf(&e->req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatewayd-health\r\n"
			 "Accept: */*\r\nConnection: close\r\n\r\n", e->t.conf->path, e->t.host);

	if (n < 0) {
		e->req = NULL;
		return done(e, 0, strerror(ENOMEM));
	}
	e->req_len = (size_t)n;
	e->fd = socket(e->t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (e->fd < 0)
		return done(e, 0, strerror(errno));
	e->state = HC_CONNECTING;
	if (connect(e->fd, (const struct sockaddr *)&e->t.addr, e->t.addr_len) == 0)
		e->state = HC_SENDING;
	else if (errno == EINPROGRESS)
		return POLLOUT;
	else
		return done(e, 0, strerror(errno));
	return HC_NEXT;
}

/* After POLLOUT on a connecting socket. */
static int step_connected(struct hc_entry *e)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		return done(e, 0, strerror(err));
	e->state = e->t.tls ? HC_HANDSHAKE : HC_SENDING;
	return HC_NEXT;
}

/* What an SSL call's failure means for the check: the poll to wait for,
 * or the check's end with OpenSSL's reason ("certificate verify failed"). */
static int ssl_wait(struct hc_entry *e, int ret)
{
	static char why[128];
	unsigned long code;

	switch (SSL_get_error(e->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return POLLIN;
	case SSL_ERROR_WANT_WRITE:
		return POLLOUT;
	case SSL_ERROR_ZERO_RETURN:
		return done(e, 0, "connection closed before a status line");
	default:
		code = ERR_peek_last_error();
		snprintf(why, sizeof(why), "the TLS handshake failed: %s",
			 code && ERR_reason_error_string(code) ? ERR_reason_error_string(code)
							      : "no reason given");
		ERR_clear_error();
		return done(e, 0, why);	/* record() reads it at once */
	}
}

static int step_handshake(struct hc_entry *e)
{
	int ret;

	if (!e->ssl) {
		char ip[INET6_ADDRSTRLEN] = "";
		const void *a = e->t.addr.ss_family == AF_INET6
			? (const void *)&((const struct sockaddr_in6 *)&e->t.addr)->sin6_addr
			: (const void *)&((const struct sockaddr_in *)&e->t.addr)->sin_addr;

		inet_ntop(e->t.addr.ss_family, a, ip, sizeof(ip));
		e->ssl = tls_client_ssl(e->t.tls, e->t.sni, ip, NULL);
		if (!e->ssl || SSL_set_fd(e->ssl, e->fd) != 1)
			return done(e, 0, strerror(ENOMEM));
	}
	ret = SSL_connect(e->ssl);
	if (ret != 1)
		return ssl_wait(e, ret);
	e->state = HC_SENDING;
	return HC_NEXT;
}

static int step_send(struct hc_entry *e)
{
	while (e->sent < e->req_len) {
		ssize_t w;

		if (e->ssl) {
			int n = SSL_write(e->ssl, e->req + e->sent, (int)(e->req_len - e->sent));

			if (n <= 0)
				return ssl_wait(e, n);
			e->sent += (size_t)n;
			continue;
		}
		w = send(e->fd, e->req + e->sent, e->req_len - e->sent, MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return POLLOUT;
		if (w < 0)
			return done(e, 0, strerror(errno));
		e->sent += (size_t)w;
	}
	e->state = HC_READING;
	return HC_NEXT;
}

/* "HTTP/1.x NNN" then SP or CR, NNN in 100..599: the status, or -EPROTO. */
static int parse_status_line(const char *s, size_t len)
{
	if (len < 13 || memcmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]) ||
	    s[8] != ' ' || s[9] < '1' || s[9] > '5' || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]) || (s[12] != ' ' && s[12] != '\r'))
		return -EPROTO;
	return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

static int step_read(struct hc_entry *e)
{
	const char *eol = NULL;
	int status;

	while (!eol && e->got < sizeof(e->resp)) {
		ssize_t r;

		if (e->ssl) {
			int n = SSL_read(e->ssl, e->resp + e->got, (int)(sizeof(e->resp) - e->got));

			if (n <= 0)
				return ssl_wait(e, n);
			r = n;
		} else {
			r = recv(e->fd, e->resp + e->got, sizeof(e->resp) - e->got, 0);
		}

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return POLLIN;
		if (r <= 0)
			return done(e, 0, r < 0 ? strerror(errno) :
				    "connection closed before a status line");
		e->got += (size_t)r;
		eol = memmem(e->resp, e->got, "\r\n", 2);
	}
	status = eol ? parse_status_line(e->resp, (size_t)(eol - e->resp) + 1) : -EPROTO;
	return status < 0 ? done(e, 0, "malformed status line") : done(e, (unsigned)status, NULL);
}

/* Run entry <i>'s check until it must wait or is over. */
static void check_run(struct master *m, size_t i, uint64_t now)
{
	struct hc_entry *e = &m->health->v[i];
	int r;

	do {
		switch (e->state) {
		case HC_IDLE:		r = step_open(e); break;
		case HC_CONNECTING:	r = step_connected(e); break;
		case HC_HANDSHAKE:	r = step_handshake(e); break;
		case HC_SENDING:	r = step_send(e); break;
		default:		r = step_read(e); break;
		}
	} while (r == HC_NEXT);
	if (r == HC_DONE)
		check_end(m, i, now);
	else
		arm(m, i, (unsigned)r);
}

static void check_start(struct master *m, size_t i, uint64_t now)
{
	struct hc_entry *e = &m->health->v[i];
	uint64_t iv = e->t.conf->interval_ms;

	e->next_ms += iv;
	if (e->next_ms <= now)	/* fell behind: skip the missed starts */
		e->next_ms += ((now - e->next_ms) / iv + 1) * iv;
	e->started_ms = now;
	e->sent = e->got = 0;
	check_run(m, i, now);
}

/* Deadlines are health_tick()'s: a completion reaped before the tick that
 * would time its check out still counts, as a late loop turn is not the
 * backend's fault. */
void health_on_poll(struct master *m, uint32_t index, uint32_t tag, int res)
{
	struct health_checker *h = m->health;
	struct hc_entry *e;
	uint64_t now;

	if (!h || index >= h->n || !h->v[index].armed || h->v[index].tag != tag)
		return;		/* stale: that check ended or moved */
	e = &h->v[index];
	e->armed = false;
	now = clock_mono_ms();
	if (res < 0) {
		done(e, 0, strerror(-res));
		check_end(m, index, now);
	} else {
		check_run(m, index, now);
	}
}

void health_tick(struct master *m, uint64_t now_ms)
{
	struct health_checker *h = m->health;

	for (size_t i = 0; h && i < h->n; i++) {
		struct hc_entry *e = &h->v[i];

		if (e->state != HC_IDLE && now_ms >= e->started_ms + e->t.conf->timeout_ms) {
			done(e, 0, "timeout");
			check_end(m, i, now_ms);
		} else if (e->state != HC_IDLE && !e->armed) {
			arm(m, i, 0);
		}
		if (e->state == HC_IDLE && !e->next_ms)
			e->next_ms = now_ms + rng_next(h) % e->t.conf->interval_ms;
		if (e->state == HC_IDLE && now_ms >= e->next_ms)
			check_start(m, i, now_ms);
	}
}

uint64_t health_next_deadline(const struct master *m)
{
	const struct health_checker *h = m->health;
	uint64_t best = UINT64_MAX;

	for (size_t i = 0; h && i < h->n; i++) {
		const struct hc_entry *e = &h->v[i];
		uint64_t at;

		if (e->state == HC_IDLE)
			at = e->next_ms;
		else
			at = e->armed ? e->started_ms + e->t.conf->timeout_ms : 0;
		if (at < best)
			best = at;
	}
	return best;
}

/* Targets' sockaddrs come from getaddrinfo() or the registry, which
 * write every byte (sin_zero included), so the bytes compare. */
static bool same_addr(const struct health_target *a, const struct health_target *b)
{
	return a->addr_len == b->addr_len && memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

/* New entry <ni> takes old entry <oi>'s progress, schedule and running
 * check; the old entry is left holding nothing. */
static void adopt(struct master *m, struct hc_entry *v, size_t ni, size_t oi)
{
	struct hc_entry *old = &m->health->v[oi];
	struct health_target t = v[ni].t;

	if (old->armed && oi != ni)	/* re-armed under <ni> after the swap */
		mio_cancel(m, MIO_HEALTH, (uint32_t)oi, old->tag);
	v[ni] = *old;
	v[ni].t = t;
	v[ni].armed = old->armed && oi == ni;
	old->fd = -1;
	old->ssl = NULL;
	old->req = NULL;
	old->armed = false;
}

int health_set_targets(struct master *m, const struct health_target *targets, size_t n)
{
	struct health_checker *h = m->health;
	struct hc_entry *v;
	size_t *by_slot;	/* by_slot[slot]: 1 + the old entry of <slot>, 0 = none */

	for (size_t i = 0; i < n; i++)
		if (targets[i].slot >= m->tables.inst.n_slots)
			return -EINVAL;		/* a caller's bug: change nothing */
	v = n ? calloc(n, sizeof(*v)) : NULL;
	by_slot = calloc(m->tables.inst.n_slots, sizeof(*by_slot));
	if ((n && !v) || !by_slot) {
		free(v);
		free(by_slot);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->n; i++)
		by_slot[h->v[i].t.slot] = i + 1;
	for (size_t i = 0; i < n; i++) {
		size_t old = by_slot[targets[i].slot];

		v[i].t = targets[i];
		v[i].fd = -1;
		v[i].fresh = true;
		if (old && same_addr(&h->v[old - 1].t, &targets[i])) {
			adopt(m, v, i, old - 1);
			by_slot[targets[i].slot] = 0;	/* a duplicate starts fresh */
		}
	}
	for (size_t i = 0; i < h->n; i++)
		check_close(m, &h->v[i], i);
	free(by_slot);
	free(h->v);
	h->v = v;
	h->n = n;
	for (size_t i = 0; i < n; i++)
		if (v[i].state != HC_IDLE && !v[i].armed)
			arm(m, i, 0);
	return 0;
}

void health_free(struct master *m)
{
	struct health_checker *h = m->health;

	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		check_close(m, &h->v[i], i);
	free(h->v);
	free(h);
	m->health = NULL;
}
