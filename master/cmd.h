/* Private to master/commands.c and master/cmd_fleet.c: one command's
 * context, and the handlers the command table names. */
#ifndef GW_MASTER_CMD_H
#define GW_MASTER_CMD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "master/commands.h"

struct master;

struct cmd_ctx {
	struct master *m;
	uint32_t client;		/* the control client, for a deferred answer */
	const char *words[8];		/* the request's words, words[0] the command */
	size_t n_words;
	struct cmd_effects *fx;
};

/* {"ok":true} */
json_t *cmd__ok(void);

/* cmd_fleet.c */
json_t *cmd__services(struct cmd_ctx *c);
json_t *cmd__instance(struct cmd_ctx *c);
json_t *cmd__breakers(struct cmd_ctx *c);
json_t *cmd__limits(struct cmd_ctx *c);

/* cmd_keys.c */
json_t *cmd__keys(struct cmd_ctx *c);

#endif
