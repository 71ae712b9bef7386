/* gw-echo: the demo, test and benchmark HTTP/1.1 backend.
 *
 * One process, N threads; each thread owns an io_uring, a provided-buffer
 * ring and one SO_REUSEPORT socket per listen address, and shares nothing
 * else. A connection moves through the phases of enum echo_phase; every
 * completion lands in echo_loop.c's single dispatch switch, which feeds
 * bytes to echo_conn_advance() (echo_http.c), which asks echo_reply.c to
 * format responses into the connection's output buffer.
 *
 * Files: echo.c (options, listeners, threads, signals), echo_loop.c (ring,
 * dispatch, connection life cycle), echo_http.c (request state machine),
 * echo_reply.c (response heads, JSON, streamed bodies). */
#ifndef GW_BENCH_ECHO_H
#define GW_BENCH_ECHO_H

#include <liburing.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/bufring.h"
#include "lib/http1.h"

#define ECHO_MAX_HEAD		(64u << 10)	/* bytes of a request head */
#define ECHO_MAX_ECHO_BODY	(16u << 20)	/* bytes ?echo=body buffers */
#define ECHO_IN_LIMIT		(ECHO_MAX_ECHO_BODY + (1u << 20))
#define ECHO_OUT_LIMIT		(4u << 20)	/* bytes of queued response */
#define ECHO_OUT_BATCH		(256u << 10)	/* flush pipelined answers past this */
#define ECHO_PIECE		(64u << 10)	/* streamed body bytes per send */
#define ECHO_CHUNK		(16u << 10)	/* payload bytes per chunk */
#define ECHO_MAX_FILL_HEADERS	10000u		/* cap on ?headers=N */
#define ECHO_LINGER_MS		5000u		/* wait for the client's FIN after ours */

/* What a request asked for in its query string; see echo_opts_parse(). */
struct echo_opts {
	uint16_t status;	/* 0: default 200 */
	uint32_t delay_ms;	/* answer this much later (timeout op, not sleep) */
	uint64_t size;		/* pattern body bytes when has_size */
	uint32_t fill_headers;	/* extra X-Fill-i response fields */
	bool has_size;
	bool chunked;		/* Transfer-Encoding: chunked response */
	bool trailer;		/* with chunked: add "X-Trailer: yes" */
	bool echo;		/* answer with the request body */
	bool close;		/* Connection: close, then close */
	bool reset;		/* close with RST instead of answering */
	bool hang;		/* never answer */
	bool bad;		/* answer with a malformed response */
	bool invalid;		/* an option had an unusable value: 400 */
};

/* In order: from PH_FINAL on, no more input is looked at. */
enum echo_phase {
	PH_HEAD = 0,	/* waiting for or parsing a request head */
	PH_BODY,	/* reading the request body through the framer */
	PH_REPLY,	/* request complete: format the answer once out is free */
	PH_DELAY,	/* ?delay: the timer is armed, answer when it fires */
	PH_STREAM,	/* head sent or queued, more body pieces to produce */
	PH_FINAL,	/* last answer queued: send it, then FIN and linger */
	PH_LINGER,	/* FIN sent; discard input until EOF or the linger timer */
	PH_HANG,	/* ?hang=1: discard input until the client closes */
	PH_CLOSING,	/* cancelling in-flight ops; freed when refs drops to 0 */
};

/* Where the rest of a streamed response body comes from. */
enum echo_src {
	SRC_NONE = 0,
	SRC_PATTERN,	/* byte i is 'a' + i % 26 */
	SRC_INBUF,	/* the request body kept in ->in (?echo=body) */
};

struct echo_conn {
	int fd;
	uint32_t idx;		/* slot in the thread's table */
	uint32_t gen;		/* bumped on every reuse of the slot */
	uint16_t port;		/* port of the listener that accepted it */
	enum echo_phase phase;
	uint8_t refs;		/* in-flight ops: recv, send, timer */
	bool recv_armed;
	bool send_busy;		/* a send of out's head is in flight */
	bool timer_armed;
	bool close_after;	/* the current answer ends the connection */
	bool peer_eof;		/* the client shut down its sending side */

	struct buf in;		/* received bytes; the current request starts at in.off */
	struct buf out;		/* answer bytes not yet sent; frozen while send_busy */
	uint32_t sending;	/* bytes of out handed to the in-flight send */

	struct http_parser parser;
	struct http_request req;
	struct http_body body;
	uint32_t body_raw;	/* raw body bytes kept after the head (?echo=body) */
	struct echo_opts opts;
	uint16_t err_status;	/* nonzero: answer this error and close */
	const char *err_why;	/* static text for the error body */

	enum echo_src src;
	bool src_chunked;	/* frame pattern pieces as chunks */
	uint64_t src_pos;	/* pattern index, or offset in ->in */
	uint64_t src_left;	/* body bytes still to produce */

	struct __kernel_timespec ts;	/* read by the kernel at submit */
};

struct echo_listener {
	int fd;
	uint16_t port;
};

struct echo_thread {
	unsigned id;
	pthread_t tid;
	struct io_uring ring;
	struct bufring bufs;	/* provided buffers for every recv */

	struct echo_listener *lst;	/* this thread's sockets, one per address */
	unsigned n_lst;

	struct echo_conn **conns;	/* slot table, entries allocated on demand */
	uint32_t *free_slots;		/* stack of free slot indices */
	uint32_t n_free;
	uint32_t n_slots;

	struct buf scratch;	/* JSON body under construction */
	sem_t *ready;		/* posted once setup succeeded or failed */
	int wake_fd;		/* eventfd: the main thread asks us to stop */
	uint64_t wake_val;
	bool stop;
	int err;		/* why the thread ended, 0 or -errno */
};

/* echo_loop.c */
void *echo_thread_main(void *arg);
struct io_uring_sqe *echo_sqe(struct echo_thread *t);
void echo_conn_close(struct echo_thread *t, struct echo_conn *c, bool rst);
void echo_conn_arm_timer(struct echo_thread *t, struct echo_conn *c, uint32_t ms);
void echo_conn_flush(struct echo_thread *t, struct echo_conn *c);

/* echo_http.c */
void echo_conn_reset_request(struct echo_conn *c);
void echo_conn_advance(struct echo_thread *t, struct echo_conn *c);

/* echo_reply.c */
void echo_pattern_init(void);
void echo_opts_parse(const char *q, uint32_t len, struct echo_opts *o);
int echo_reply_error(struct echo_conn *c, unsigned status, const char *why);
int echo_reply_start(struct echo_thread *t, struct echo_conn *c);
int echo_reply_fill(struct echo_conn *c);

#endif
