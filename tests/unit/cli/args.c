/* Unit test for cli/args.c: every command's request line as sent to the
 * master, global options in their spellings, the socket default and
 * $GATEWAYCTL_SOCKET, and usage errors (exit 2) with their one-line
 * reason and the usage shown. Touches no socket; config check uses a
 * temporary file. */
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tests/unit/check.h"

/* Parse a NULL-terminated list (program name implied) into <req>. */
static int parse_v(struct cli_request *req, const char **list)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"gatewayctl";
	while (*list)
		argv[argc++] = (char *)*list++;
	argv[argc] = NULL;
	return cli_parse(req, argc, argv);
}

#define PARSE(req, ...) parse_v((req), (const char *[]){ __VA_ARGS__, NULL })

/* The words parse to exit 0 and this request line. */
#define CHECK_LINE(want, ...) do { \
	struct cli_request r_; \
	int ret_ = PARSE(&r_, __VA_ARGS__); \
	CHECK_INT(ret_, CLI_EXIT_OK); \
	if (ret_ != CLI_EXIT_OK) \
		fprintf(stderr, "  reason: %s\n", r_.err); \
	CHECK_STR(r_.line, (want)); \
	cli_request_free(&r_); \
} while (0)

/* The words are a usage error whose reason contains <needle>. */
#define CHECK_USAGE(needle, ...) do { \
	struct cli_request r_; \
	int ret_ = PARSE(&r_, __VA_ARGS__); \
	if (ret_ != CLI_EXIT_USAGE || !strstr(r_.err, (needle))) { \
		fprintf(stderr, "%s:%d: want exit 2 with \"%s\", got %d \"%s\"\n", __FILE__, \
			__LINE__, (needle), ret_, r_.err); \
		check_failures++; \
	} \
	cli_request_free(&r_); \
} while (0)

static void test_lines(void)
{
	CHECK_LINE("[\"status\"]\n", "status");
	CHECK_LINE("[\"workers\"]\n", "workers");
	CHECK_LINE("[\"reload\"]\n", "reload");
	CHECK_LINE("[\"stop\"]\n", "stop");
	CHECK_LINE("[\"drain\"]\n", "drain");
	CHECK_LINE("[\"services\"]\n", "services");
	CHECK_LINE("[\"segment\"]\n", "stats");
	CHECK_LINE("[\"instance\",\"add\",\"payments\",\"127.0.0.1:9001\",\"weight=2\"]\n",
		   "instance", "add", "payments", "127.0.0.1:9001", "weight=2");
	CHECK_LINE("[\"instance\",\"add\",\"p\",\"[::1]:80\"]\n", "instance", "add", "p", "[::1]:80");
	CHECK_LINE("[\"instance\",\"remove\",\"p\",\"api.internal:443\"]\n",
		   "instance", "remove", "p", "api.internal:443");
	CHECK_LINE("[\"instance\",\"drain\",\"p\",\"h:1\"]\n", "instance", "drain", "p", "h:1");
	CHECK_LINE("[\"breakers\"]\n", "breakers");
	CHECK_LINE("[\"breakers\",\"list\"]\n", "breakers", "list");
	CHECK_LINE("[\"breakers\",\"reset\",\"p\"]\n", "breakers", "reset", "p");
	CHECK_LINE("[\"breakers\",\"reset\",\"p\",\"h:65535\"]\n", "breakers", "reset", "p",
		   "h:65535");
	CHECK_LINE("[\"breakers\",\"open\",\"p\",\"h:1\"]\n", "breakers", "open", "p", "h:1");
	CHECK_LINE("[\"limits\",\"show\",\"api\",\"203.0.113.9\"]\n",
		   "limits", "show", "api", "203.0.113.9");
	CHECK_LINE("[\"limits\",\"reset\",\"api\",\"k\"]\n", "limits", "reset", "api", "k");
	CHECK_LINE("[\"limits\",\"reset\",\"--all\"]\n", "limits", "reset", "--all");
	CHECK_LINE("[\"keys\",\"list\"]\n", "keys", "list");
	CHECK_LINE("[\"keys\",\"add\",\"alice\"]\n", "keys", "add", "alice");
	CHECK_LINE("[\"keys\",\"add\",\"alice\",\"a b\"]\n", "keys", "add", "alice", "--scopes",
		   "a b");
	CHECK_LINE("[\"keys\",\"add\",\"alice\",\"a b\"]\n", "keys", "add", "--scopes=a b",
		   "alice");
	CHECK_LINE("[\"keys\",\"revoke\",\"3\"]\n", "keys", "revoke", "3");
	/* A key that starts with '-' after "--"; quotes and UTF-8 are escaped
	 * or kept as JSON wants. */
	CHECK_LINE("[\"limits\",\"show\",\"api\",\"-k\"]\n", "limits", "show", "--", "api", "-k");
	CHECK_LINE("[\"limits\",\"show\",\"a\\\"b\",\"caf\xc3\xa9\"]\n", "limits", "show", "a\"b",
		   "caf\xc3\xa9");
}

static void test_globals(void)
{
	struct cli_request r;

	unsetenv(CLI_SOCKET_ENV);
	CHECK_INT(PARSE(&r, "status"), CLI_EXIT_OK);
	CHECK_STR(r.socket, CLI_DEFAULT_SOCKET);
	CHECK(!r.json);
	CHECK_INT(r.action, CLI_RUN);
	CHECK_STR(r.cmd->name, "status");
	cli_request_free(&r);

	setenv(CLI_SOCKET_ENV, "/tmp/env.sock", 1);
	CHECK_INT(PARSE(&r, "status"), CLI_EXIT_OK);
	CHECK_STR(r.socket, "/tmp/env.sock");
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "-s", "/tmp/a.sock", "--json", "workers"), CLI_EXIT_OK);
	CHECK_STR(r.socket, "/tmp/a.sock");
	CHECK(r.json);
	cli_request_free(&r);
	unsetenv(CLI_SOCKET_ENV);

	CHECK_INT(PARSE(&r, "-s/tmp/b.sock", "status", "--json"), CLI_EXIT_OK);
	CHECK_STR(r.socket, "/tmp/b.sock");
	CHECK(r.json);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "--socket=/tmp/c.sock", "breakers", "--json"), CLI_EXIT_OK);
	CHECK_STR(r.socket, "/tmp/c.sock");
	CHECK_STR(r.line, "[\"breakers\"]\n");
	CHECK(r.json);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "--socket", "/tmp/d.sock", "status"), CLI_EXIT_OK);
	CHECK_STR(r.socket, "/tmp/d.sock");
	cli_request_free(&r);

	CHECK_INT(PARSE(&r, "-h"), CLI_EXIT_OK);
	CHECK_INT(r.action, CLI_HELP);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "--json", "--help", "bogus"), CLI_EXIT_OK);
	CHECK_INT(r.action, CLI_HELP);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "-V"), CLI_EXIT_OK);
	CHECK_INT(r.action, CLI_VERSION);
	cli_request_free(&r);
}

static void test_stats_options(void)
{
	struct cli_request r;

	CHECK_INT(PARSE(&r, "stats"), CLI_EXIT_OK);
	CHECK_INT(r.watch_ms, 0);
	CHECK_INT(r.count, 0);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "stats", "--watch"), CLI_EXIT_OK);
	CHECK_INT(r.watch_ms, 1000);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "stats", "--watch", "2"), CLI_EXIT_OK);
	CHECK_INT(r.watch_ms, 2000);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "stats", "--watch=0.25", "--count", "3"), CLI_EXIT_OK);
	CHECK_INT(r.watch_ms, 250);
	CHECK_INT(r.count, 3);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "--json", "stats", "--count=5", "--watch", ".5"), CLI_EXIT_OK);
	CHECK_INT(r.watch_ms, 500);
	CHECK_INT(r.count, 5);
	CHECK(r.json);
	CHECK_STR(r.line, "[\"segment\"]\n");
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "stats", "--watch", "--json"), CLI_EXIT_OK);
	CHECK_INT(r.watch_ms, 1000);
	CHECK(r.json);
	cli_request_free(&r);

	CHECK_USAGE("bad --watch interval '0'", "stats", "--watch", "0");
	CHECK_USAGE("bad --watch interval '0.05'", "stats", "--watch=0.05");
	CHECK_USAGE("bad --watch interval '3601'", "stats", "--watch", "3601");
	CHECK_USAGE("bad --watch interval '1.2345'", "stats", "--watch", "1.2345");
	CHECK_USAGE("bad --watch interval '1x'", "stats", "--watch=1x");
	CHECK_USAGE("unexpected argument 'x'", "stats", "--watch", "x");
	CHECK_USAGE("--count needs --watch", "stats", "--count", "2");
	CHECK_USAGE("--count needs a value", "stats", "--watch", "--count");
	CHECK_USAGE("bad --count '0'", "stats", "--watch", "--count", "0");
	CHECK_USAGE("unknown option '--bogus'", "stats", "--bogus");
}

static void test_usage_errors(void)
{
	CHECK_USAGE("no command given", NULL);
	CHECK_USAGE("no command given", "--json");
	CHECK_USAGE("unknown command 'bogus'", "bogus");
	CHECK_USAGE("unknown option '--frob'", "--frob", "status");
	CHECK_USAGE("'-s' needs a socket path", "-s");
	CHECK_USAGE("the socket path is empty", "-s", "", "status");
	CHECK_USAGE("is too long", "-s", "/tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock", "status");
	CHECK_USAGE("unexpected argument 'extra'", "status", "extra");
	CHECK_USAGE("unknown option '-s' (options go before the command)", "status", "-s", "/x");
	CHECK_USAGE("'instance' needs a subcommand", "instance");
	CHECK_USAGE("unknown subcommand 'instance list'", "instance", "list");
	CHECK_USAGE("unknown subcommand 'breakers close'", "breakers", "close", "p");
	CHECK_USAGE("missing SERVICE", "instance", "add");
	CHECK_USAGE("missing HOST:PORT", "instance", "add", "p");
	CHECK_USAGE("'1.2.3.4' is not HOST:PORT", "instance", "add", "p", "1.2.3.4");
	CHECK_USAGE("':80' is not HOST:PORT", "instance", "add", "p", ":80");
	CHECK_USAGE("the port must be 1..65535", "instance", "add", "p", "h:0");
	CHECK_USAGE("the port must be 1..65535", "instance", "add", "p", "h:65536");
	CHECK_USAGE("the port must be 1..65535", "instance", "add", "p", "h:http");
	CHECK_USAGE("write an IPv6 address as [ADDR]:PORT", "instance", "add", "p", "::1:80");
	CHECK_USAGE("write an IPv6 address as [ADDR]:PORT", "instance", "add", "p", "[]:80");
	CHECK_USAGE("'h /x:80' is not HOST:PORT", "instance", "add", "p", "h /x:80");
	CHECK_USAGE("bad weight '0' (want 1..1000)", "instance", "add", "p", "h:1", "weight=0");
	CHECK_USAGE("bad weight '1001'", "instance", "add", "p", "h:1", "weight=1001");
	CHECK_USAGE("bad weight ''", "instance", "add", "p", "h:1", "weight=");
	CHECK_USAGE("unexpected argument 'w=2' (want weight=N)", "instance", "add", "p", "h:1",
		    "w=2");
	CHECK_USAGE("unexpected argument 'x'", "instance", "add", "p", "h:1", "weight=2", "x");
	CHECK_USAGE("unexpected argument 'weight=2'", "instance", "remove", "p", "h:1", "weight=2");
	CHECK_USAGE("SERVICE is empty", "instance", "drain", "", "h:1");
	CHECK_USAGE("SERVICE contains a control character", "breakers", "reset", "p\n");
	CHECK_USAGE("missing HOST:PORT", "breakers", "open", "p");
	CHECK_USAGE("unexpected argument 'p'", "breakers", "list", "p");
	CHECK_USAGE("missing ROUTE", "limits", "show");
	CHECK_USAGE("missing KEY", "limits", "show", "api");
	CHECK_USAGE("KEY is empty", "limits", "show", "api", "");
	CHECK_USAGE("unknown option '-k'", "limits", "show", "api", "-k");
	CHECK_USAGE("missing ROUTE", "limits", "reset");
	CHECK_USAGE("missing KEY", "limits", "reset", "api");
	CHECK_USAGE("unknown option '--al'", "limits", "reset", "--al");
	CHECK_USAGE("unexpected argument 'x'", "limits", "reset", "--all", "k", "x");
	CHECK_USAGE("missing FILE", "config", "check");
	CHECK_USAGE("missing CONSUMER", "keys", "add");
	CHECK_USAGE("missing CONSUMER", "keys", "add", "--scopes", "a");
	CHECK_USAGE("--scopes needs a value", "keys", "add", "alice", "--scopes");
	CHECK_USAGE("--scopes given twice", "keys", "add", "alice", "--scopes=a", "--scopes=b");
	CHECK_USAGE("unknown option '--scope'", "keys", "add", "alice", "--scope", "a");
	CHECK_USAGE("unexpected argument 'bob'", "keys", "add", "alice", "bob");
	CHECK_USAGE("missing ID", "keys", "revoke");
	CHECK_USAGE("'\xff' is not valid UTF-8", "limits", "show", "api", "\xff");
}

/* The usage shown after an error: the command's, the group's, or the
 * general one. */
static void test_usage_text(void)
{
	struct cli_request r;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CHECK_INT(PARSE(&r, "instance", "add", "p"), CLI_EXIT_USAGE);
	cli_usage(&r, f);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "breakers", "close"), CLI_EXIT_USAGE);
	cli_usage(&r, f);
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "frob"), CLI_EXIT_USAGE);
	cli_usage(&r, f);
	cli_request_free(&r);
	fclose(f);
	CHECK_STR(text,
		  "usage: gatewayctl [-s SOCKET] [--json] instance add SERVICE HOST:PORT [weight=N]\n"
		  "usage: gatewayctl [-s SOCKET] [--json] breakers\n"
		  "       gatewayctl [-s SOCKET] [--json] breakers list\n"
		  "       gatewayctl [-s SOCKET] [--json] breakers reset SERVICE [HOST:PORT]\n"
		  "       gatewayctl [-s SOCKET] [--json] breakers open SERVICE HOST:PORT\n"
		  "usage: gatewayctl [-s SOCKET] [--json] COMMAND [ARGS]  (gatewayctl -h lists them)\n");
	free(text);
}

/* config check sends the absolute path, and stops here when FILE is not
 * there (exit 1, not a usage error). */
static void test_config_check(void)
{
	char dir[] = "/tmp/gatewayctl-args-XXXXXX", cwd[4096], want[4200];
	struct cli_request r;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK_INT(chdir(dir), 0);
	f = fopen("g.ini", "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	snprintf(want, sizeof(want), "[\"config\",\"check\",\"%s/g.ini\"]\n", dir);
	CHECK_INT(PARSE(&r, "config", "check", "./g.ini"), CLI_EXIT_OK);
	CHECK_STR(r.line, want);
	cli_request_free(&r);

	CHECK_INT(PARSE(&r, "config", "check", "nope.ini"), CLI_EXIT_FAILED);
	CHECK_STR(r.err, "cannot check 'nope.ini': No such file or directory");
	cli_request_free(&r);
	CHECK_INT(PARSE(&r, "config", "check", "."), CLI_EXIT_FAILED);
	CHECK_STR(r.err, "cannot check '.': it is a directory");
	cli_request_free(&r);

	CHECK_INT(unlink("g.ini"), 0);
	CHECK_INT(chdir(cwd), 0);
	CHECK_INT(rmdir(dir), 0);
}

/* The table itself: every command has a usage starting with its words. */
static void test_table(void)
{
	for (unsigned c = 0; c < cli_n_commands; c++) {
		const struct cli_command *cmd = &cli_commands[c];
		size_t n = strlen(cmd->name);

		CHECK(strncmp(cmd->usage, cmd->name, n) == 0);
		if (cmd->sub)
			CHECK(strncmp(cmd->usage + n + 1, cmd->sub, strlen(cmd->sub)) == 0);
		CHECK(cmd->min_args <= cmd->max_args);
		CHECK(cmd->max_args + 2 <= CLI_MAX_WORDS);
		CHECK(cmd->print != NULL || cmd->wire != NULL);
	}
}

int main(void)
{
	test_lines();
	test_globals();
	test_stats_options();
	test_usage_errors();
	test_usage_text();
	test_config_check();
	test_table();
	return CHECK_EXIT();
}
