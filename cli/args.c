/* gatewayctl's command line: the command table, local checks of every
 * argument, and the request line sent to the master.
 *
 * The grammar is
 *	gatewayctl [-s SOCKET] [--json] [-h] [-V] COMMAND [ARGS]
 * where COMMAND is one or two words of the table below. Global options go
 * before the command; --json is also taken after it. A "--" ends the
 * options, so a rate-limit KEY may start with '-'. Everything that can be
 * checked without the master is checked here, so that a typo costs no
 * round trip and gets the command's usage (exit 2). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "cli/cli.h"
#include "cli/print.h"

#define ARGS_MAX_WEIGHT		1000ul		/* conf/service.c's SERVICE_MAX_WEIGHT */
#define ARGS_WATCH_MIN_MS	100u
#define ARGS_WATCH_MAX_MS	3600000u
#define ARGS_WATCH_DEFAULT_MS	1000u
#define ARGS_COUNT_MAX		1000000ul

static int check_instance_add(struct cli_request *req, const char **args, unsigned n);
static int check_service_addr(struct cli_request *req, const char **args, unsigned n);
static int check_limits_show(struct cli_request *req, const char **args, unsigned n);
static int check_limits_reset(struct cli_request *req, const char **args, unsigned n);
static int check_config(struct cli_request *req, const char **args, unsigned n);
static int check_stats(struct cli_request *req, const char **args, unsigned n);
static int check_keys_add(struct cli_request *req, const char **args, unsigned n);

/* Every command, in the order -h lists them. A name that has
 * subcommands may also have a row of its own (breakers). */
const struct cli_command cli_commands[] = {
	{ .name = "status", .usage = "status", .print = print_status,
	  .summary = "version, uptime, generation, workers, shared memory" },
	{ .name = "workers", .usage = "workers", .print = print_workers,
	  .summary = "one line per worker process" },
	{ .name = "stats", .max_args = 4, .options = true, .check = check_stats,
	  .usage = "stats [--watch [SECONDS]] [--count K]", .wire = "segment",
	  .summary = "counters and gauges, from the shared segment" },
	{ .name = "reload", .usage = "reload", .print = print_reload,
	  .summary = "re-read the configuration file, start a new generation" },
	{ .name = "stop", .usage = "stop", .print = print_stop,
	  .summary = "stop gatewayd now" },
	{ .name = "drain", .usage = "drain", .print = print_drain,
	  .summary = "finish in-flight requests, then stop" },
	{ .name = "services", .usage = "services", .print = print_services,
	  .summary = "services and their instances" },
	{ .name = "instance", .sub = "add", .min_args = 2, .max_args = 3,
	  .check = check_instance_add, .print = print_instance_add,
	  .usage = "instance add SERVICE HOST:PORT [weight=N]",
	  .summary = "add an instance until the next reload" },
	{ .name = "instance", .sub = "remove", .min_args = 2, .max_args = 2,
	  .check = check_service_addr, .print = print_instance_remove,
	  .usage = "instance remove SERVICE HOST:PORT",
	  .summary = "remove an instance until the next reload" },
	{ .name = "instance", .sub = "drain", .min_args = 2, .max_args = 2,
	  .check = check_service_addr, .print = print_instance_drain,
	  .usage = "instance drain SERVICE HOST:PORT",
	  .summary = "send no new requests to an instance" },
	{ .name = "breakers", .usage = "breakers", .print = print_breakers,
	  .summary = "same as breakers list" },
	{ .name = "breakers", .sub = "list", .usage = "breakers list", .print = print_breakers,
	  .summary = "every instance's circuit breaker" },
	{ .name = "breakers", .sub = "reset", .min_args = 1, .max_args = 2,
	  .check = check_service_addr, .print = print_breakers_reset,
	  .usage = "breakers reset SERVICE [HOST:PORT]",
	  .summary = "close the breakers of a service or of one instance" },
	{ .name = "breakers", .sub = "open", .min_args = 2, .max_args = 2,
	  .check = check_service_addr, .print = print_breakers_open,
	  .usage = "breakers open SERVICE HOST:PORT",
	  .summary = "open one instance's breaker" },
	{ .name = "limits", .sub = "show", .min_args = 2, .max_args = 2,
	  .check = check_limits_show, .print = print_limits,
	  .usage = "limits show ROUTE KEY",
	  .summary = "rate-limit state of one client key on a route" },
	{ .name = "limits", .sub = "reset", .min_args = 1, .max_args = 2, .options = true,
	  .check = check_limits_reset, .print = print_limits_reset,
	  .usage = "limits reset (ROUTE KEY | --all)",
	  .summary = "forget one key's (or every key's) rate-limit state" },
	{ .name = "config", .sub = "check", .min_args = 1, .max_args = 1,
	  .check = check_config, .print = print_config_check,
	  .usage = "config check FILE",
	  .summary = "check a configuration file as reload would" },
	{ .name = "keys", .sub = "add", .min_args = 1, .max_args = 3, .options = true,
	  .check = check_keys_add, .print = print_keys_add,
	  .usage = "keys add CONSUMER [--scopes \"A B\"]",
	  .summary = "make an API key; it is printed this once only" },
	{ .name = "keys", .sub = "list", .usage = "keys list", .print = print_keys_list,
	  .summary = "API keys: id, consumer, state, scopes (no secrets)" },
	{ .name = "keys", .sub = "revoke", .min_args = 1, .max_args = 1,
	  .print = print_keys_revoke, .usage = "keys revoke ID",
	  .summary = "revoke an API key in every worker at once" },
};

const unsigned cli_n_commands = sizeof(cli_commands) / sizeof(cli_commands[0]);

__attribute__((format(printf, 3, 4)))
static int fail(struct cli_request *req, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->err, sizeof(req->err), fmt, ap);
	va_end(ap);
	return status;
}

/* Whole decimal number in [min, max], nothing else. 0 or -EINVAL. */
static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned long d = (unsigned long)(*s - '0');

		if (*s < '0' || *s > '9' || v > (ULONG_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
		if (v > max)
			return -EINVAL;
	}
	if (v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Seconds with up to three decimals ("2", "0.5") as milliseconds in
 * [ARGS_WATCH_MIN_MS, ARGS_WATCH_MAX_MS]. 0 or -EINVAL. */
static int parse_seconds(const char *s, uint32_t *ms)
{
	unsigned long whole = 0, frac = 0, scale = 100;
	const char *dot = strchr(s, '.');
	char ip[16];

	if (dot) {
		if ((size_t)(dot - s) >= sizeof(ip) || !dot[1] || strlen(dot + 1) > 3)
			return -EINVAL;
		memcpy(ip, s, (size_t)(dot - s));
		ip[dot - s] = '\0';
		for (const char *f = dot + 1; *f; f++, scale /= 10) {
			if (*f < '0' || *f > '9')
				return -EINVAL;
			frac += (unsigned long)(*f - '0') * scale;
		}
		s = ip;
	}
	if ((*s || !dot) && parse_ulong(s, 0, ARGS_WATCH_MAX_MS / 1000, &whole) < 0)
		return -EINVAL;
	whole = whole * 1000 + frac;
	if (whole < ARGS_WATCH_MIN_MS || whole > ARGS_WATCH_MAX_MS)
		return -EINVAL;
	*ms = (uint32_t)whole;
	return 0;
}

/* A service, route or key: not empty, no control characters. */
static int check_word(struct cli_request *req, const char *what, const char *s)
{
	if (!*s)
		return fail(req, CLI_EXIT_USAGE, "%s is empty", what);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return fail(req, CLI_EXIT_USAGE, "%s contains a control character", what);
	return CLI_EXIT_OK;
}

/* HOST:PORT, IPv6 as [ADDR]:PORT, port 1..65535. The master resolves and
 * checks the host; this catches what is plainly not an address. */
static int check_hostport(struct cli_request *req, const char *s)
{
	const char *colon = strrchr(s, ':');
	unsigned long port;
	size_t host_len;

	if (!colon || colon == s)
		return fail(req, CLI_EXIT_USAGE, "'%s' is not HOST:PORT", s);
	host_len = (size_t)(colon - s);
	if (s[0] == '[' ? host_len < 3 || colon[-1] != ']' : memchr(s, ':', host_len) != NULL)
		return fail(req, CLI_EXIT_USAGE, "'%s': write an IPv6 address as [ADDR]:PORT", s);
	if (strpbrk(s, " \t\r\n/"))
		return fail(req, CLI_EXIT_USAGE, "'%s' is not HOST:PORT", s);
	if (parse_ulong(colon + 1, 1, 65535, &port) < 0)
		return fail(req, CLI_EXIT_USAGE, "'%s': the port must be 1..65535", s);
	return CLI_EXIT_OK;
}

static int check_service_addr(struct cli_request *req, const char **args, unsigned n)
{
	int ret = check_word(req, "SERVICE", args[0]);

	if (ret == CLI_EXIT_OK && n > 1)
		ret = check_hostport(req, args[1]);
	return ret;
}

static int check_instance_add(struct cli_request *req, const char **args, unsigned n)
{
	unsigned long w;
	int ret = check_service_addr(req, args, 2);

	if (ret != CLI_EXIT_OK || n < 3)
		return ret;
	if (strncmp(args[2], "weight=", 7) != 0)
		return fail(req, CLI_EXIT_USAGE, "unexpected argument '%s' (want weight=N)", args[2]);
	if (parse_ulong(args[2] + 7, 1, ARGS_MAX_WEIGHT, &w) < 0)
		return fail(req, CLI_EXIT_USAGE, "bad weight '%s' (want 1..%lu)", args[2] + 7,
			    ARGS_MAX_WEIGHT);
	return CLI_EXIT_OK;
}

static int check_limits_show(struct cli_request *req, const char **args, unsigned n)
{
	int ret = check_word(req, "ROUTE", args[0]);

	(void)n;
	return ret == CLI_EXIT_OK ? check_word(req, "KEY", args[1]) : ret;
}

/* "--all" alone, or ROUTE KEY taken literally (a key may start with '-'). */
static int check_limits_reset(struct cli_request *req, const char **args, unsigned n)
{
	if (n == 2)
		return check_limits_show(req, args, n);
	if (strcmp(args[0], "--all") == 0)
		return CLI_EXIT_OK;
	if (args[0][0] == '-')
		return fail(req, CLI_EXIT_USAGE, "unknown option '%s'", args[0]);
	return fail(req, CLI_EXIT_USAGE, "missing KEY");
}

/* CONSUMER [--scopes "A B" | --scopes="A B"], in either order: sent as
 * CONSUMER [SCOPES] (a NULL argument ends what wire_words() sends). */
static int check_keys_add(struct cli_request *req, const char **args, unsigned n)
{
	const char *consumer = NULL, *scopes = NULL;

	for (unsigned i = 0; i < n; i++) {
		const char *w = args[i];

		if (strcmp(w, "--scopes") == 0 || strncmp(w, "--scopes=", 9) == 0) {
			if (scopes)
				return fail(req, CLI_EXIT_USAGE, "--scopes given twice");
			if (w[8] == '=')
				scopes = w + 9;
			else if (i + 1 < n)
				scopes = args[++i];
			else
				return fail(req, CLI_EXIT_USAGE, "--scopes needs a value");
		} else if (w[0] == '-') {
			return fail(req, CLI_EXIT_USAGE, "unknown option '%s'", w);
		} else if (consumer) {
			return fail(req, CLI_EXIT_USAGE, "unexpected argument '%s'", w);
		} else {
			consumer = w;
		}
	}
	if (!consumer)
		return fail(req, CLI_EXIT_USAGE, "missing CONSUMER");
	args[0] = consumer;
	args[1] = scopes;
	if (n > 2)
		args[2] = NULL;
	return CLI_EXIT_OK;
}

/* The master reads the file itself, from its own working directory: send
 * an absolute path, and say here when there is nothing to send. */
static int check_config(struct cli_request *req, const char **args, unsigned n)
{
	struct stat st;

	(void)n;
	if (!*args[0])
		return fail(req, CLI_EXIT_USAGE, "FILE is empty");
	req->path = realpath(args[0], NULL);
	if (!req->path)
		return fail(req, CLI_EXIT_FAILED, "cannot check '%s': %s", args[0], strerror(errno));
	if (stat(req->path, &st) == 0 && S_ISDIR(st.st_mode))
		return fail(req, CLI_EXIT_FAILED, "cannot check '%s': it is a directory", args[0]);
	args[0] = req->path;
	return CLI_EXIT_OK;
}

/* "--NAME=VALUE" or "--NAME [VALUE]": the value of option <name> at
 * args[*i], advancing *i over a separate value; NULL when there is none.
 * <optional>: a separate word is the value only when it starts like a
 * number, so "--watch --count 3" leaves --count alone. */
static const char *opt_value(const char **args, unsigned n, unsigned *i, const char *name,
			     bool optional)
{
	size_t len = strlen(name);
	const char *w = args[*i];

	if (w[len] == '=')
		return w + len + 1;
	if (*i + 1 >= n || (optional && !strchr("0123456789.", args[*i + 1][0])))
		return NULL;
	return args[++*i];
}

static bool is_opt(const char *w, const char *name)
{
	size_t len = strlen(name);

	return strncmp(w, name, len) == 0 && (w[len] == '\0' || w[len] == '=');
}

static int check_stats(struct cli_request *req, const char **args, unsigned n)
{
	unsigned long count;
	const char *v;

	for (unsigned i = 0; i < n; i++) {
		if (is_opt(args[i], "--watch")) {
			v = opt_value(args, n, &i, "--watch", true);
			req->watch_ms = ARGS_WATCH_DEFAULT_MS;
			if (v && parse_seconds(v, &req->watch_ms) < 0)
				return fail(req, CLI_EXIT_USAGE, "bad --watch interval '%s' "
					    "(want seconds, 0.1..3600)", v);
		} else if (is_opt(args[i], "--count")) {
			v = opt_value(args, n, &i, "--count", false);
			if (!v)
				return fail(req, CLI_EXIT_USAGE, "--count needs a value");
			if (parse_ulong(v, 1, ARGS_COUNT_MAX, &count) < 0)
				return fail(req, CLI_EXIT_USAGE, "bad --count '%s' (want 1..%lu)", v,
					    ARGS_COUNT_MAX);
			req->count = (uint32_t)count;
		} else {
			return fail(req, CLI_EXIT_USAGE, args[i][0] == '-' ? "unknown option '%s'" :
				    "unexpected argument '%s'", args[i]);
		}
	}
	if (req->count && !req->watch_ms)
		return fail(req, CLI_EXIT_USAGE, "--count needs --watch");
	return CLI_EXIT_OK;
}

/* Options before the command. Advances *i to the command's first word. */
static int parse_globals(struct cli_request *req, int argc, char **argv, int *i)
{
	for (; *i < argc && argv[*i][0] == '-' && argv[*i][1]; (*i)++) {
		const char *w = argv[*i];

		if (strcmp(w, "--") == 0) {
			(*i)++;
			break;
		} else if (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0) {
			req->action = CLI_HELP;
		} else if (strcmp(w, "-V") == 0 || strcmp(w, "--version") == 0) {
			req->action = CLI_VERSION;
		} else if (strcmp(w, "--json") == 0) {
			req->json = true;
		} else if (strcmp(w, "-s") == 0 || strcmp(w, "--socket") == 0) {
			if (++*i >= argc)
				return fail(req, CLI_EXIT_USAGE, "'%s' needs a socket path", w);
			req->socket = argv[*i];
		} else if (strncmp(w, "--socket=", 9) == 0) {
			req->socket = w + 9;
		} else if (strncmp(w, "-s", 2) == 0) {
			req->socket = w + 2;
		} else {
			return fail(req, CLI_EXIT_USAGE, "unknown option '%s'", w);
		}
	}
	return CLI_EXIT_OK;
}

static int check_socket(struct cli_request *req)
{
	const char *env = getenv(CLI_SOCKET_ENV);

	if (!req->socket)
		req->socket = env && *env ? env : CLI_DEFAULT_SOCKET;
	if (!*req->socket)
		return fail(req, CLI_EXIT_USAGE, "the socket path is empty");
	if (strlen(req->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return fail(req, CLI_EXIT_USAGE, "socket path '%s' is too long (at most %zu bytes)",
			    req->socket, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	return CLI_EXIT_OK;
}

/* The command whose words start at argv[*i]; advances *i past them. A
 * name that has subcommands and also stands alone ("breakers") is the
 * lone command when no word, or an option, follows it. */
static int find_command(struct cli_request *req, int argc, char **argv, int *i)
{
	const char *name = argv[*i], *sub = *i + 1 < argc ? argv[*i + 1] : NULL;
	const struct cli_command *bare = NULL;
	bool known = false, has_subs = false;

	for (unsigned c = 0; c < cli_n_commands; c++) {
		const struct cli_command *cmd = &cli_commands[c];

		if (strcmp(cmd->name, name) != 0)
			continue;
		known = true;
		has_subs |= cmd->sub != NULL;
		if (!cmd->sub)
			bare = cmd;
		else if (sub && strcmp(cmd->sub, sub) == 0) {
			req->cmd = cmd;
			*i += 2;
			return CLI_EXIT_OK;
		}
	}
	if (!known)
		return fail(req, CLI_EXIT_USAGE, "unknown command '%s'", name);
	if (bare && (!has_subs || !sub || sub[0] == '-')) {
		req->cmd = bare;
		*i += 1;
		return CLI_EXIT_OK;
	}
	req->group = name;
	if (!sub || sub[0] == '-')
		return fail(req, CLI_EXIT_USAGE, "'%s' needs a subcommand", name);
	return fail(req, CLI_EXIT_USAGE, "unknown subcommand '%s %s'", name, sub);
}

/* The command's arguments into args[]; --json is taken anywhere before a
 * "--", and other dashed words only by commands that have options. */
static int collect_args(struct cli_request *req, int argc, char **argv, int i,
			const char **args, unsigned *n)
{
	bool literal = false;

	for (*n = 0; i < argc; i++) {
		const char *w = argv[i];

		if (!literal && strcmp(w, "--") == 0) {
			literal = true;
			continue;
		}
		if (!literal && strcmp(w, "--json") == 0) {
			req->json = true;
			continue;
		}
		if (!literal && w[0] == '-' && w[1] && !req->cmd->options)
			return fail(req, CLI_EXIT_USAGE, "unknown option '%s'%s", w,
				    strcmp(w, "-s") == 0 ? " (options go before the command)" : "");
		if (*n >= req->cmd->max_args)
			return fail(req, CLI_EXIT_USAGE, "unexpected argument '%s'", w);
		args[(*n)++] = w;
	}
	return CLI_EXIT_OK;
}

/* "missing HOST:PORT": the name of argument <k> as the usage spells it. */
static int fail_missing(struct cli_request *req, unsigned k)
{
	const char *u = req->cmd->usage;
	unsigned skip = (req->cmd->sub ? 2 : 1) + k;
	size_t len;

	while (skip--) {
		u += strcspn(u, " ");
		u += strspn(u, " ");
	}
	u += strspn(u, "([");
	len = strcspn(u, " )]");
	return fail(req, CLI_EXIT_USAGE, "missing %.*s", (int)len, u);
}

/* The words sent: the command's, then its arguments. Returns how many. */
static unsigned wire_words(const struct cli_request *req, const char **args, unsigned n,
			   const char **words)
{
	unsigned nw = 0;

	if (req->cmd->wire) {
		words[nw++] = req->cmd->wire;
		return nw;
	}
	words[nw++] = req->cmd->name;
	if (req->cmd->sub)
		words[nw++] = req->cmd->sub;
	for (unsigned k = 0; k < n && args[k]; k++)
		words[nw++] = args[k];
	return nw;
}

/* req->line: <words> as a compact JSON array of strings, then '\n'. */
static int encode_line(struct cli_request *req, const char **words, unsigned nw)
{
	json_t *arr = json_array();
	int ret = CLI_EXIT_FAILED;
	char *text;

	if (!arr)
		return fail(req, CLI_EXIT_FAILED, "out of memory");
	for (unsigned k = 0; k < nw; k++) {
		json_t *s = json_string(words[k]);

		if (!s) {
			ret = fail(req, CLI_EXIT_USAGE, "'%s' is not valid UTF-8", words[k]);
			goto out_free_arr;
		}
		if (json_array_append_new(arr, s) < 0)
			goto out_oom;
	}
	text = json_dumps(arr, JSON_COMPACT);
	if (!text)
		goto out_oom;
	req->line_len = strlen(text) + 1;
	req->line = realloc(text, req->line_len + 1);
	if (!req->line) {
		free(text);
		goto out_oom;
	}
	memcpy(req->line + req->line_len - 1, "\n", 2);
	ret = CLI_EXIT_OK;
	if (req->line_len > CLI_MAX_LINE)
		ret = fail(req, CLI_EXIT_USAGE, "the request is longer than %u bytes", CLI_MAX_LINE);
	goto out_free_arr;
out_oom:
	ret = fail(req, CLI_EXIT_FAILED, "out of memory");
out_free_arr:
	json_decref(arr);
	return ret;
}

int cli_parse(struct cli_request *req, int argc, char **argv)
{
	const char *args[CLI_MAX_WORDS], *words[CLI_MAX_WORDS];
	unsigned n = 0;
	int i = 1, ret;

	memset(req, 0, sizeof(*req));
	ret = parse_globals(req, argc, argv, &i);
	if (ret != CLI_EXIT_OK || req->action != CLI_RUN)
		return ret;
	ret = check_socket(req);
	if (ret != CLI_EXIT_OK)
		return ret;
	if (i >= argc)
		return fail(req, CLI_EXIT_USAGE, "no command given");
	ret = find_command(req, argc, argv, &i);
	if (ret == CLI_EXIT_OK)
		ret = collect_args(req, argc, argv, i, args, &n);
	if (ret != CLI_EXIT_OK)
		return ret;
	if (n < req->cmd->min_args)
		return fail_missing(req, n);
	if (req->cmd->check) {
		ret = req->cmd->check(req, args, n);
		if (ret != CLI_EXIT_OK)
			return ret;
	}
	n = wire_words(req, args, n, words);
	return encode_line(req, words, n);
}

void cli_request_free(struct cli_request *req)
{
	free(req->line);
	free(req->path);
	req->line = NULL;
	req->path = NULL;
}

#define USAGE_PREFIX "gatewayctl [-s SOCKET] [--json] "

void cli_usage(const struct cli_request *req, FILE *out)
{
	const char *lead = "usage: ";

	if (req->cmd) {
		fprintf(out, "%s" USAGE_PREFIX "%s\n", lead, req->cmd->usage);
		return;
	}
	if (!req->group) {
		fprintf(out, "usage: " USAGE_PREFIX "COMMAND [ARGS]  (gatewayctl -h lists them)\n");
		return;
	}
	for (unsigned c = 0; c < cli_n_commands; c++) {
		if (strcmp(cli_commands[c].name, req->group) != 0)
			continue;
		fprintf(out, "%s" USAGE_PREFIX "%s\n", lead, cli_commands[c].usage);
		lead = "       ";
	}
}

void cli_help(FILE *out)
{
	fprintf(out,
		"usage: " USAGE_PREFIX "COMMAND [ARGS]\n"
		"Controls a running gatewayd through its control socket.\n\n"
		"options (before the command; --json also after it):\n"
		"  -s, --socket PATH  control socket (default $" CLI_SOCKET_ENV ", else "
		CLI_DEFAULT_SOCKET ")\n"
		"  --json             print the master's JSON answer, one line\n"
		"  -h, --help         show this help\n"
		"  -V, --version      show the version\n\n"
		"commands:\n");
	for (unsigned c = 0; c < cli_n_commands; c++)
		fprintf(out, "  %-44s %s\n", cli_commands[c].usage, cli_commands[c].summary);
	fprintf(out, "\nexit status: 0 ok, 1 the command failed, 2 usage error,\n"
		"3 gatewayd is not running, 4 permission denied\n");
}
