/* Worker internals shared by the files of worker/: the worker, its
 * connections and the encoding of io_uring user_data.
 *
 * Every SQE's user_data packs (op, index, generation): op picks the handler
 * in loop.c's single dispatch switch, index names a connection (or a
 * listener, or a log appender), and the generation lets a completion that
 * arrives after its connection was recycled be recognised and dropped. */
#ifndef GW_WORKER_CORE_H
#define GW_WORKER_CORE_H

#include <liburing.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/config.h"
#include "lib/buf.h"
#include "lib/bufring.h"
#include "lib/cidr.h"
#include "shm/breaker.h"
#include "shm/tables.h"
#include "worker/appender.h"
#include "worker/outq.h"
#include "worker/timer.h"

struct exchange;
struct route_matcher;
struct tlsio;
struct balancer;
struct jwtkeys;

enum op {
	OP_NONE = 0,
	OP_ACCEPT,	/* index = listener */
	OP_RECV,	/* index = connection */
	OP_SEND,	/* index = connection */
	OP_CONNECT,	/* index = connection */
	OP_CLOSE,	/* no owner: the fd is already forgotten */
	OP_CANCEL,	/* no owner */
	OP_SIGNAL,	/* the signalfd read */
	OP_LOG_WRITE,	/* index = appender */
	OP__COUNT,
};

static inline uint64_t ud_make(enum op op, uint32_t index, uint32_t gen)
{
	return (uint64_t)op << 56 | (uint64_t)(index & 0xffffffu) << 32 | gen;
}
static inline enum op ud_op(uint64_t ud) { return (enum op)(ud >> 56); }
static inline uint32_t ud_index(uint64_t ud) { return (uint32_t)(ud >> 32) & 0xffffffu; }
static inline uint32_t ud_gen(uint64_t ud) { return (uint32_t)ud; }

enum conn_kind {
	CONN_FREE = 0,
	CONN_CLIENT,
	CONN_UPSTREAM,
};

/* What a client connection is doing. */
enum client_phase {
	CLIENT_HEAD = 0,	/* waiting for (the rest of) a request head */
	CLIENT_EXCHANGE,	/* a request is being served */
	CLIENT_LINGER,		/* final response sent, write side shut, draining input */
};

/* What an upstream connection is doing. */
enum upstream_phase {
	UPSTREAM_CONNECTING = 0,
	UPSTREAM_ACTIVE,	/* carrying an exchange */
	UPSTREAM_IDLE,		/* parked in its instance's pool */
};

struct client_state {
	enum client_phase phase;
	struct exchange *ex;		/* never NULL while the conn is a client */
	struct sockaddr_storage peer;
	struct cidr peer_addr;		/* peer's address, IPv4-mapped folded to IPv4;
					 * family 0 when getpeername() failed */
	char peer_ip[INET6_ADDRSTRLEN];	/* peer_addr as text, "unknown" if none */
	uint32_t cl_handle;		/* the max_conns_per_ip count, when ip_counted */
};

struct upstream_state {
	enum upstream_phase phase;
	struct exchange *ex;		/* the exchange carried, or NULL */
	uint32_t slot;			/* instance slot: its pool */
	uint32_t pool_prev, pool_next;	/* idle list links (conn indexes), UINT32_MAX = none */
	uint32_t requests;		/* requests carried so far (reuse count) */
};

/* One socket, client or upstream. Lives in the worker's fixed table, so a
 * pointer to it stays valid until the slot is recycled (gen changes). */
struct conn {
	uint32_t index;
	uint32_t gen;		/* bumped when the slot is freed */
	enum conn_kind kind;
	int fd;
	uint8_t inflight;	/* SQEs in flight that name this conn */
	bool recv_armed;	/* a multishot recv is active */
	bool recv_paused;	/* we stopped reading on purpose (backpressure) */
	bool send_busy;		/* a send is in flight from out[fill ^ 1] */
	bool closing;		/* conn_close() called: no new I/O */
	bool shut_wr;		/* write side shut down after the last send */
	bool peer_eof;		/* the peer closed its write side */
	bool tls_fin;		/* close_notify queued: shutdown(2) once it is sent */
	bool tls_dead;		/* TLS failed: close once the alert is out */
	struct tlsio *tls;	/* NULL on a plain connection (worker/tlsconn.h) */
	struct buf in;		/* received, not yet consumed */
	struct outq out[2];	/* out[fill] takes new bytes; the other may be in flight */
	uint8_t fill;
	struct iovec iov[OUTQ_SEGS];	/* the send in flight, read by the kernel */
	struct msghdr msg;
	struct timer timer;
	struct timer send_timer;	/* clients: send_timeout while a send waits
					 * (worker/deadline.c) */
	bool ip_counted;		/* clients: holds a max_conns_per_ip count
					 * (worker/connlimit.c) */
	union {
		struct client_state client;
		struct upstream_state up;
	};
};

/* Idle upstream connections of one instance: a list through conn indexes. */
struct pool {
	uint32_t head;		/* most recently parked, UINT32_MAX when empty */
	uint32_t count;
	struct ssl_session_st *tls_session;	/* tls = yes: the instance's last session,
						 * resumed by new connections */
};

/* An instance as a worker uses it, copied from a registry snapshot: an
 * exchange keeps its own copy, so a new snapshot never pulls an address
 * from under a request in flight. */
struct winst {
	uint32_t slot;			/* instance slot in the segment */
	uint32_t weight;
	bool draining;			/* no new requests */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[64];			/* "1.2.3.4:80" */
};

/* A configured service's instances as of the worker's registry generation. */
struct wservice {
	struct winst *inst;		/* n entries; NULL when n == 0 */
	uint32_t n;
	struct balancer *bal;		/* NULL when n == 0 */
	struct brk_policy brk;		/* from the service's breaker line */
	struct worker *w;		/* back pointer, for the balancer's load */
};

struct worker {
	const struct gw_config *cfg;
	unsigned slot;			/* listener slot */
	unsigned id;			/* worker-table id in the segment */
	uint64_t generation;		/* config generation */
	struct io_uring ring;
	uint64_t now_ms;	/* monotonic, read once per loop turn */
	uint64_t now_us;	/* the same reading in µs (GCRA needs the precision) */
	uint64_t now_s;		/* wall clock, Unix seconds, same turn (JWT exp/nbf) */

	/* Provided buffers for every recv; returned ones are published before
	 * each submit (wk_submit()). */
	struct bufring bufs;

	/* Connection table and its free list (a stack of indexes). */
	struct conn *conns;
	uint32_t n_conns;
	uint32_t *free_conns;
	uint32_t n_free;
	uint32_t n_clients;	/* live client connections */
	struct exchange **exchanges;	/* per slot, allocated on first use, kept */

	const int *listen_fds;
	size_t n_listen_fds;
	uint16_t tls_port;	/* our first TLS listener's port (redirect_http) */
	bool *accept_armed;	/* per listener */

	struct timer_wheel timers;

	int sigfd;
	struct signalfd_siginfo *siginfo;

	struct route_matcher *router;
	struct wservice *services;	/* per configured service */
	uint64_t reg_gen;		/* registry generation services[] reflects */
	struct pool *pools;		/* per instance slot (SHM_MAX_INSTANCES) */
	bool *usable;			/* scratch for the pick stage, SHM_MAX_INSTANCES */

	/* Access lists (worker/access.c), built at start: acl[0] is [access],
	 * acl[1 + r] route r's; a NULL set admits every client. */
	struct wacl {
		struct cidr_set *set;	/* tags ACCESS_ALLOW / ACCESS_DENY */
		bool default_deny;	/* no prefix matches: deny (the list allows some) */
	} *acl;
	struct cidr_set *trusted;	/* trusted_proxies; NULL when none */

	struct jwtkeys *jwt;		/* key sets and token caches (worker/jwtkeys.c) */

	/* Rate-limit response headers: the constant part of rule i of route r
	 * is rl_prefix[rl_first[r] + i] (worker/ratelimit.c). */
	struct rl_prefix {
		char *text;
		uint32_t len;
	} *rl_prefix;
	size_t *rl_first;
	size_t rl_n_prefix;

	/* The shared segment (mapped by the master before fork). */
	const struct shm_segment *seg;
	struct shm_tables shm;
	struct wtab_entry_sh *stats;	/* our entry in the worker table */

	struct appender access_log;
	struct appender error_log;
	bool access_log_on;

	uint64_t rng[2];	/* xorshift128+ state for request ids */

	/* max_conns_per_ip releases to retry (worker/connlimit.c). */
	uint32_t *cl_retry;
	uint32_t n_cl_retry, cap_cl_retry;

	bool draining;
	bool stop_now;
	uint64_t drain_deadline_ms;
};

/* Get an SQE, submitting what is queued if the SQ is full. Never NULL: a
 * submit empties the SQ; if the kernel refuses it, the worker aborts (and
 * is respawned) rather than drop I/O. */
struct io_uring_sqe *wk_sqe(struct worker *w);

/* Submit what is queued, after publishing returned receive buffers so a
 * recv re-armed after ENOBUFS finds them. */
int wk_submit(struct worker *w);

/* 64 random bits for ids (not cryptographic). */
uint64_t wk_random(struct worker *w);

#endif
