/* gwbench: the bundled HTTP/1.1 load generator.
 *
 *   main.c   command line, signals, exit status
 *   args.c   options into struct gwb_args (unit-tested)
 *   url.c    http:// URLs (unit-tested)
 *   plan.c   what every thread shares: resolved address, request bytes
 *   run.c    threads: pinning, a common start, progress, joining, totals
 *   loop.c   one thread's io_uring: setup, loop turn, dispatch, schedule
 *   conn.c   one connection's life: connect, assign, send, close, reopen
 *   resp.c   response bytes through lib/http1 and what each outcome counts
 *   hist.c   the latency histogram (unit-tested)
 *   report.c human, JSON and progress output
 *
 * Each thread owns an io_uring, a provided-buffer ring, its connections,
 * its counters and its histogram, and shares nothing writable with the
 * others except the stop flag and the progress counters. A request is an
 * entry in its connection's FIFO from the moment it is assigned until its
 * outcome is counted: a success (2xx, 3xx) or one error class. */
#ifndef GW_BENCH_GWBENCH_GWBENCH_H
#define GW_BENCH_GWBENCH_GWBENCH_H

#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bench/gwbench/args.h"
#include "bench/gwbench/hist.h"
#include "bench/gwbench/url.h"
#include "lib/buf.h"
#include "lib/bufring.h"
#include "lib/http1.h"

#define GWB_MAX_HEAD		(64u << 10)	/* bytes of a response head */
#define GWB_MAX_TRAILER		(64u << 10)	/* bytes of a chunked trailer section */
#define GWB_STATUS_CODES	1000		/* status[] covers 000..999 */
#define GWB_RETRY_NS		(10 * UINT64_C(1000000))	/* wait after a failed connect */

/* ---------------------------------------------------------------- plan */

/* One URL of the rotation, its request formatted once at start. */
struct gwb_target {
	const char *text;	/* the URL as given */
	char *req;		/* request head and body, ready to send */
	uint32_t req_len;
};

/* Everything the threads read and nobody writes after plan_build(). */
struct gwb_plan {
	const struct gwb_args *args;
	struct gwb_target *targets;
	uint32_t n_targets;
	struct sockaddr_storage addr;	/* resolved once, at start */
	socklen_t addr_len;
	char origin[URL_MAX_HOST + 16];	/* "host:port", for messages */
	enum http_method method;	/* for response framing (HEAD has no body) */
	char *urls_text;		/* --urls file contents; targets point into it */
	char *body;			/* --body-file contents, or NULL */
	size_t body_len;
};

/* Build <p> from <a>: read --urls and --body-file, parse and check every
 * URL (one host:port), format the requests, resolve the host. Returns 0,
 * -EINVAL for a usage error (exit 2) or another -errno (exit 1), with a
 * reason in err[err_len]. */
int plan_build(struct gwb_plan *p, const struct gwb_args *a, char *err, size_t err_len);
void plan_free(struct gwb_plan *p);

/* ---------------------------------------------------------------- counters */

struct gwb_stats {
	uint64_t requests;	/* successes: complete 2xx and 3xx responses */
	uint64_t bytes;		/* response bytes read while measuring */
	uint64_t err_connect;	/* requests lost to a failed connect (>= 1 per failure) */
	uint64_t err_timeout;	/* requests unanswered after --timeout */
	uint64_t err_read;	/* reset, or EOF before the response was complete */
	uint64_t err_parse;	/* malformed responses */
	uint64_t err_status;	/* complete responses with another status */
	uint64_t status[GWB_STATUS_CODES];	/* err_status by code */
	uint64_t connects;	/* connections established, warmup included */
	int connect_err;	/* last connect failure (-errno), 0 if none */
	struct hist latency;	/* ns, successes only */
};

static inline uint64_t gwb_errors(const struct gwb_stats *s)
{
	return s->err_connect + s->err_timeout + s->err_read + s->err_parse + s->err_status;
}

/* Add <src> into <dst> (connect_err: the last nonzero wins). */
void gwb_stats_merge(struct gwb_stats *dst, const struct gwb_stats *src);

/* ---------------------------------------------------------------- connections */

/* One request between assignment and outcome. */
struct gwb_req {
	uint64_t due_ns;	/* open loop: scheduled time; closed loop: 0 */
	uint64_t sent_ns;	/* when its bytes went to the kernel (the timeout's start) */
	uint32_t target;	/* index in plan->targets */
	bool counted;		/* assigned after warmup: its outcome is counted */
};

enum gwb_conn_state {
	CS_IDLE = 0,	/* no socket; reopened by the sweep at ->since (retry time) */
	CS_CONNECTING,	/* connect in flight since ->since */
	CS_OPEN,	/* requests flow */
	CS_DRAIN,	/* the server ends the connection: wait for its FIN since ->since */
	CS_CLOSING,	/* ops cancelled; the fd is closed once ->refs drops to 0 */
};

enum gwb_resp_phase {
	RP_HEAD = 0,	/* parsing a response head (partial heads kept in ->in) */
	RP_BODY,	/* framing the body through ->body */
};

struct gwb_conn {
	int fd;			/* -1 when CS_IDLE */
	uint32_t idx;		/* slot in the thread's table */
	uint32_t gen;		/* bumped per socket, checked on every completion */
	enum gwb_conn_state state;
	uint8_t refs;		/* ops in flight: connect, recv, send */
	bool send_busy;
	bool stamp_pending;	/* in the thread's stamp list */
	bool reopen_pending;	/* in the thread's reopen list */
	uint64_t since;		/* ns; meaning depends on state, see above */
	uint64_t retry_at;	/* ns; when CS_CLOSING ends in CS_IDLE, reopen then */
	uint64_t next_j;	/* open loop: schedule index of the next request */

	/* FIFO of assigned requests, oldest at q_head; the first n_handed
	 * were handed to the kernel, the rest wait for the next send. */
	struct gwb_req *q;	/* pipeline entries, part of the thread's array */
	uint32_t q_head;
	uint32_t n_q;
	uint32_t n_handed;

	/* The send in flight: snd_iov[snd_first..snd_n) is what is left of
	 * it after partial completions (the first entry advanced in place). */
	struct iovec *snd_iov;	/* pipeline entries */
	struct msghdr snd_msg;
	uint32_t snd_first;
	uint32_t snd_n;
	uint32_t stamp_first;	/* q index of the first request the send carries */
	uint32_t stamp_cnt;

	/* The response being read, always for q[q_head]. */
	enum gwb_resp_phase phase;
	bool close_after;	/* the server ends the connection after it */
	struct buf in;		/* a head split across receives */
	struct http_parser parser;
	struct http_body body;
	struct http_response resp;
};

/* ---------------------------------------------------------------- threads */

struct gwb_run;

struct gwb_thread {
	unsigned id;
	int cpu;		/* pinned to this CPU, -1: not pinned */
	pthread_t tid;
	struct gwb_run *run;
	const struct gwb_plan *plan;

	struct io_uring ring;
	struct bufring bufs;	/* provided buffers for every recv */

	struct gwb_conn *conns;
	uint32_t n_conns;
	struct gwb_req *reqs;	/* n_conns * pipeline FIFO entries */
	struct iovec *iovs;	/* n_conns * pipeline */
	uint32_t *stamps;	/* connections with a send prepared this turn */
	uint32_t n_stamps;
	uint32_t *reopen;	/* connections to reopen at the end of this turn */
	uint32_t n_reopen;

	uint64_t now;		/* ns, read once after each wait */
	uint64_t measure_ns;	/* copy of run->measure_ns */
	uint64_t end_ns;	/* copy of run->end_ns */
	uint64_t budget;	/* counted requests still to assign; UINT64_MAX with -d */
	uint64_t outstanding;	/* requests in FIFOs */
	uint32_t next_target;	/* rotation over plan->targets */

	/* Open loop: request j of this thread is due at sched_start +
	 * j * interval_ns, on connection j % n_conns. */
	bool open_loop;
	double interval_ns;
	uint64_t sched_start;
	uint64_t due_j;		/* requests before it are due */
	uint32_t due_conn;	/* due_j % n_conns */
	uint64_t j_first;	/* the first request scheduled after warmup */
	uint64_t j_end;		/* -n: schedule ends here; else UINT64_MAX */

	uint64_t sweep_ns;	/* timeouts and retries are checked this often */
	uint64_t next_sweep;
	uint64_t stop_ns;	/* when this thread stopped measuring */
	bool stop;

	struct gwb_stats st;
	/* Relaxed: single writer (this thread), read once a second for the
	 * progress line, which tolerates a stale value. */
	_Atomic uint64_t pub_requests;
	_Atomic uint64_t pub_errors;
	int err;		/* setup failure, 0 or -errno */
};

/* Shared by all threads of a run. */
struct gwb_run {
	const struct gwb_plan *plan;
	struct gwb_thread *threads;
	unsigned n_threads;
	uint64_t start_ns;	/* written before "go" is posted */
	uint64_t measure_ns;	/* start_ns + warmup */
	uint64_t end_ns;	/* measure_ns + duration, or UINT64_MAX with -n */
	sem_t ready;		/* posted by each thread once set up (or failed) */
	sem_t go;		/* posted per thread by main after writing start_ns */
	bool abort;		/* written before "go": a thread failed setup */
	bool progress;		/* publish counters for the progress line */
	/* Relaxed: set by the signal handler (or main), polled once per
	 * loop turn; nothing else is published through it. */
	atomic_bool stop;
};

/* user_data: op in bits 0-7, connection slot in 8-31, generation in 32-63. */
enum gwb_op {
	OP_CONNECT = 1,
	OP_RECV,	/* multishot */
	OP_SEND,	/* send or sendmsg */
	OP_IGNORE,	/* cancel, close */
};

static inline uint64_t gwb_ud(enum gwb_op op, uint32_t idx, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)(idx & 0xffffff) << 8 | op;
}

static inline enum gwb_op gwb_ud_op(uint64_t ud) { return (enum gwb_op)(ud & 0xff); }
static inline uint32_t gwb_ud_idx(uint64_t ud) { return (uint32_t)(ud >> 8) & 0xffffff; }
static inline uint32_t gwb_ud_gen(uint64_t ud) { return (uint32_t)(ud >> 32); }

/* run.c: start every thread, wait for them, fill <total>. 0 or -errno. */
int gwb_run_all(struct gwb_run *run, struct gwb_stats *total, uint64_t *elapsed_ns);

/* loop.c */
void *gwb_thread_main(void *arg);
struct io_uring_sqe *gwb_sqe(struct gwb_thread *t);
uint64_t gwb_sched(const struct gwb_thread *t, uint64_t j);

/* True once warmup is over: errors without a request are counted then. */
static inline bool gwb_measuring(const struct gwb_thread *t) { return t->now >= t->measure_ns; }

/* conn.c */
void gwb_conn_open(struct gwb_thread *t, struct gwb_conn *c);
void gwb_conn_fill(struct gwb_thread *t, struct gwb_conn *c);
void gwb_conn_flush(struct gwb_thread *t, struct gwb_conn *c);
void gwb_conn_close(struct gwb_thread *t, struct gwb_conn *c, uint64_t retry_ns);
void gwb_conn_sweep(struct gwb_thread *t, struct gwb_conn *c);
void gwb_conn_on_connect(struct gwb_thread *t, struct gwb_conn *c, int res);
void gwb_conn_on_send(struct gwb_thread *t, struct gwb_conn *c, int res);
void gwb_conn_on_recv(struct gwb_thread *t, struct gwb_conn *c, const struct io_uring_cqe *cqe);
void gwb_conn_arm_recv(struct gwb_thread *t, struct gwb_conn *c);

/* The request whose response is being read. */
static inline struct gwb_req *gwb_conn_head(struct gwb_conn *c) { return &c->q[c->q_head]; }

enum gwb_err_class {
	GWB_ERR_CONNECT,
	GWB_ERR_TIMEOUT,
	GWB_ERR_READ,
	GWB_ERR_PARSE,
};

/* Drop the head request, counting <cls> against it when it is counted. */
void gwb_conn_fail_head(struct gwb_thread *t, struct gwb_conn *c, enum gwb_err_class cls);
/* Drop the head request after its response completed (status counted). */
void gwb_conn_pop_head(struct gwb_thread *t, struct gwb_conn *c);

/* resp.c */
void gwb_resp_reset(struct gwb_conn *c);
void gwb_resp_input(struct gwb_thread *t, struct gwb_conn *c, const char *data, size_t len);
void gwb_resp_eof(struct gwb_thread *t, struct gwb_conn *c, int res);

/* report.c */
struct gwb_result {
	const struct gwb_plan *plan;
	const struct gwb_stats *st;
	double duration_s;	/* measured window */
};
void gwb_report_banner(const struct gwb_plan *p);
void gwb_report_human(const struct gwb_result *r);
void gwb_report_json(const struct gwb_result *r);
void gwb_report_progress(double elapsed_s, uint64_t requests, uint64_t last_requests,
			 double interval_s, uint64_t errors);

#endif
