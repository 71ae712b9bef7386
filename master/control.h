/* gatewayctl's control socket, served by the master (docs/control-protocol.md).
 *
 * A Unix stream socket at cfg->control_path, mode 0600, checked with
 * SO_PEERCRED (root or the master's own uid). One request line per
 * connection, one JSON answer, then close. Everything is nonblocking on the
 * master's ring; a command that takes time (reload) answers later through
 * control_answer(). */
#ifndef GW_MASTER_CONTROL_H
#define GW_MASTER_CONTROL_H

#include <stdint.h>

struct master;
struct json_t;

/* Bind and listen on m->cfg->control_path (nothing when it is NULL). A
 * stale socket file left by a dead gatewayd is replaced; a live one is an
 * error ("another gatewayd is running"). Logs and returns 0 or -errno. */
int control_open(struct master *m);

/* Close the listener and every client, and unlink the socket file. */
void control_close(struct master *m);

/* The MIO_CONTROL poll handler. */
void control_on_poll(struct master *m, uint32_t index, uint32_t tag, int res);

/* Close clients that sent nothing in time. Every master loop turn. */
void control_tick(struct master *m, uint64_t now_ms);
uint64_t control_next_deadline(const struct master *m);

/* Answer client <client> (a handle from cmd_run()'s deferral) with <answer>
 * (reference stolen). A client that went away meanwhile is skipped. */
void control_answer(struct master *m, uint32_t client, struct json_t *answer);

#endif
