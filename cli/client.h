/* gatewayctl's side of the control socket (docs/control-protocol.md):
 * one connection per command, one request line out, one JSON object back,
 * possibly with a file descriptor (the "segment" command). Failures are
 * printed here, once, as "gatewayctl: ..." on stderr, and come back as
 * the exit status that goes with them (cli.h). */
#ifndef GW_CLI_CLIENT_H
#define GW_CLI_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#include "cli/cli.h"

#define CLIENT_MAX_ANSWER	(16u << 20)	/* bytes; a longer answer is refused */
#define CLIENT_TIMEOUT_S	120		/* waiting for an answer (reload takes time) */

struct cli_answer {
	json_t *json;			/* the answer: an object with a boolean "ok" */
	char *raw;			/* as received, NUL-terminated, final newline cut */
	size_t raw_len;
	int fd;				/* passed with SCM_RIGHTS; -1 = none */
};

/* Connect to req->socket, send req->line and read the answer until the
 * master closes the connection. Returns CLI_EXIT_OK with <ans> filled
 * (whatever "ok" says), or CLI_EXIT_NOT_RUNNING, CLI_EXIT_PERMISSION or
 * CLI_EXIT_FAILED after printing the reason. Call client_answer_free()
 * in every case. */
int client_call(const struct cli_request *req, struct cli_answer *ans);

/* Close the fd and free the rest; safe to call twice. */
void client_answer_free(struct cli_answer *ans);

/* The exit status an answer stands for: CLI_EXIT_OK when ok is true,
 * CLI_EXIT_PERMISSION for code "permission", else CLI_EXIT_FAILED. */
int client_status(const json_t *answer);

#endif
