/* gatewayctl: the command table, the parsed request and the exit codes
 * shared by every file of cli/.
 *
 * The flow is main.c: cli_parse() (args.c) checks the words locally and
 * encodes the request line; then either client_call() (client.c) sends it
 * and the command's printer (print.c) formats the answer, or stats_run()
 * (stats.c) maps the shared segment. docs/control-protocol.md is the
 * contract with the master; docs/gatewayctl.md is the user's manual. */
#ifndef GW_CLI_CLI_H
#define GW_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define CLI_DEFAULT_SOCKET	"/run/gatewayd.sock"
#define CLI_SOCKET_ENV		"GATEWAYCTL_SOCKET"
#define CLI_MAX_WORDS		8u		/* words of any request, command included */
#define CLI_MAX_LINE		(64u << 10)	/* request line cap, the protocol's */

/* Exit statuses (docs/gatewayctl.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,		/* the command failed (master said ok:false, or I/O) */
	CLI_EXIT_USAGE = 2,		/* bad command line, found before connecting */
	CLI_EXIT_NOT_RUNNING = 3,	/* no control socket, or nobody listening on it */
	CLI_EXIT_PERMISSION = 4,	/* the socket or the master refused us */
};

enum cli_action {
	CLI_RUN = 0,
	CLI_HELP,			/* -h: print the help, exit 0 */
	CLI_VERSION,			/* -V: print the version, exit 0 */
};

struct cli_request;

/* One row of the command table (args.c): a command is one or two words
 * (<name>, <sub>) followed by between <min_args> and <max_args> arguments. */
struct cli_command {
	const char *name;
	const char *sub;		/* NULL: a one-word command */
	unsigned min_args;
	unsigned max_args;
	const char *usage;		/* words and arguments, e.g. "limits show ROUTE KEY" */
	const char *summary;		/* one line for cli_help() */
	bool options;			/* arguments may start with '-' (stats, limits reset) */
	/* Checks beyond the count; may replace args[i] (config check puts the
	 * absolute path there). Returns an exit status with req->err set, or
	 * CLI_EXIT_OK. NULL: nothing to check. */
	int (*check)(struct cli_request *req, const char **args, unsigned n);
	/* Formats an ok answer for people; 0 or -errno (ENOMEM, EIO). NULL
	 * for stats, which stats.c prints itself. */
	int (*print)(const json_t *answer, FILE *out, FILE *err);
	const char *wire;		/* sent instead of the words when not NULL */
};

/* What cli_parse() makes of the command line. Free with cli_request_free(). */
struct cli_request {
	enum cli_action action;
	const char *socket;		/* -s, $GATEWAYCTL_SOCKET or the default; borrowed */
	bool json;			/* --json */
	const struct cli_command *cmd;	/* CLI_RUN only */
	const char *group;		/* usage error in a command group ("instance"), else NULL */
	char *line;			/* JSON array of the words plus '\n'; owned */
	size_t line_len;
	char *path;			/* config check: absolute path of FILE; owned */
	uint32_t watch_ms;		/* stats --watch interval; 0 = print once */
	uint32_t count;			/* stats --count: refreshes; 0 = until SIGINT */
	char err[320];			/* reason of a failed parse: one line, no prefix */
};

/* Parse argv into <req>. Touches no socket; only config check looks at the
 * file system (realpath). Returns CLI_EXIT_OK (then look at req->action),
 * CLI_EXIT_USAGE, or CLI_EXIT_FAILED when FILE does not resolve; on both
 * errors req->err holds the reason. Call cli_request_free() either way. */
int cli_parse(struct cli_request *req, int argc, char **argv);
void cli_request_free(struct cli_request *req);

/* The usage of the command (or group) a failed parse was about, else the
 * general one line. */
void cli_usage(const struct cli_request *req, FILE *out);

/* The full help: options, every command, exit codes. */
void cli_help(FILE *out);

/* The command table, for cli_help() and the tests. */
extern const struct cli_command cli_commands[];
extern const unsigned cli_n_commands;

#endif
