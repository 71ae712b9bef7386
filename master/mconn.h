/* Request/answer connections served by the master: accept, read until the
 * owner says a request is complete, let the owner answer (now or later),
 * write the answer, close. The control socket and the admin listener are
 * both this shape; they differ only in how a request ends and what it
 * means, which their callbacks say.
 *
 * States of a connection: READING (poll POLLIN) -> RUNNING (the owner has
 * the request and answers later) -> WRITING (poll POLLOUT) -> closed. A
 * connection that has not sent a whole request within read_ms, or sends
 * more than max_in bytes, is closed. Poll index 0 is the listener, i + 1
 * connection i; a tag bumped on every close makes late completions for a
 * closed connection harmless. */
#ifndef GW_MASTER_MCONN_H
#define GW_MASTER_MCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "master/mio.h"

#define MCONN_MAX 16u

enum mconn_state {
	MCONN_FREE = 0,
	MCONN_READING,
	MCONN_RUNNING,
	MCONN_WRITING,
};

struct mconn {
	enum mconn_state state;
	int fd;
	uint32_t tag;
	char *in;			/* NUL-terminated */
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	int pass_fd;			/* sent with the first byte; -1 = none */
	uint64_t read_deadline_ms;
};

struct mconn_server;

struct mconn_ops {
	/* A new connection: return false after mconn_send()ing a refusal. */
	bool (*accepted)(struct master *m, struct mconn_server *s, struct mconn *c);
	/* Bytes arrived: 1 when c->in holds a whole request, 0 for more. */
	int (*complete)(const struct mconn *c);
	/* A whole request: answer with mconn_send(), now or later. */
	void (*request)(struct master *m, struct mconn_server *s, struct mconn *c);
};

struct mconn_server {
	enum mio_owner owner;
	int lfd;			/* -1 when closed */
	uint32_t tag_seq;
	size_t max_in;
	uint64_t read_ms;
	const struct mconn_ops *ops;
	struct mconn conns[MCONN_MAX];
};

/* Set up <s> over the listening socket <lfd> (nonblocking; owned from now
 * on) and arm its first poll. */
void mconn_start(struct master *m, struct mconn_server *s, enum mio_owner owner, int lfd,
		 const struct mconn_ops *ops, size_t max_in, uint64_t read_ms);

/* Close every connection and the listener. */
void mconn_stop(struct master *m, struct mconn_server *s);

/* The owner's poll handler calls this. */
void mconn_on_poll(struct master *m, struct mconn_server *s, uint32_t index, uint32_t tag,
		   int res);

/* Answer <c> with <len> bytes at <text> (copied), passing <pass_fd> (taken
 * over; -1 = none) with them, then close. */
void mconn_send(struct master *m, struct mconn_server *s, struct mconn *c, const char *text,
		size_t len, int pass_fd);

/* Index of <c> (for a deferred answer) and back. */
uint32_t mconn_index(const struct mconn_server *s, const struct mconn *c);
struct mconn *mconn_running(struct mconn_server *s, uint32_t index);

void mconn_tick(struct master *m, struct mconn_server *s, uint64_t now_ms);
uint64_t mconn_next_deadline(const struct mconn_server *s);

#endif
