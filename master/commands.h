/* The commands gatewayctl sends (docs/control-protocol.md), as functions of
 * the master's state that return the JSON answer. The control socket
 * (control.c) and the admin listener (admin.c) both call them, so one
 * command has one answer whichever way it is asked. */
#ifndef GW_MASTER_COMMANDS_H
#define GW_MASTER_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct master;

/* What the caller must do besides sending the answer. */
struct cmd_effects {
	int pass_fd;			/* >= 0: send this fd with the answer (then close it) */
	bool deferred;			/* no answer now: control_answer() comes later */
};

/* Run the command in <argv> (a JSON array of strings) for control client
 * <client>. Returns the answer (a new reference), or NULL when the answer
 * is deferred (effects->deferred). Never fails to answer otherwise: bad
 * input gives {"ok":false,"code":"usage",...}. */
json_t *cmd_run(struct master *m, uint32_t client, json_t *argv, struct cmd_effects *effects);

/* {"ok":false,"code":<code>,"error":<text>} */
json_t *cmd_error(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The answer to a configuration check of <file>: conf_load()'s result
 * <ret> and its messages <diag> (may be NULL; split in place into errors
 * and warnings). Also the answer to a reload that found the file invalid. */
json_t *cmd_config_answer(const char *file, int ret, char *diag);

/* The "services" answer, also served by the admin listener at /registry. */
json_t *cmd_services(struct master *m);

#endif
