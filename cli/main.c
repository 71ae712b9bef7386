/* gatewayctl: parse (args.c), then run the command: stats maps the
 * shared segment itself (stats.c); every other command is one round trip
 * on the control socket (client.c) and the command table's printer
 * (print.c). Exit statuses are cli.h's enum cli_exit. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/print.h"
#include "cli/stats.h"

#ifndef GW_VERSION
#define GW_VERSION "unknown"	/* meson passes the project version */
#endif

/* --json: the master's answer exactly as it came, on one line; the exit
 * status still follows "ok". */
static int run_json(const struct cli_answer *ans)
{
	printf("%s\n", ans->raw);
	return client_status(ans->json);
}

static int run_control(const struct cli_request *req)
{
	struct cli_answer ans;
	int ret = client_call(req, &ans);

	if (ret != CLI_EXIT_OK)
		goto out_free_ans;
	if (req->json) {
		ret = run_json(&ans);
		goto out_free_ans;
	}
	ret = client_status(ans.json);
	if (ret != CLI_EXIT_OK) {
		print_failure(ans.json, stderr);
		goto out_free_ans;
	}
	if (req->cmd->print(ans.json, stdout, stderr) < 0) {
		fprintf(stderr, "gatewayctl: printing the answer failed\n");
		ret = CLI_EXIT_FAILED;
	}
out_free_ans:
	client_answer_free(&ans);
	return ret;
}

static int run(const struct cli_request *req)
{
	switch (req->action) {
	case CLI_HELP:
		cli_help(stdout);
		return CLI_EXIT_OK;
	case CLI_VERSION:
		printf("gatewayctl %s\n", GW_VERSION);
		return CLI_EXIT_OK;
	case CLI_RUN:
		break;
	}
	return req->cmd->print ? run_control(req) : stats_run(req);
}

int main(int argc, char **argv)
{
	struct cli_request req;
	int ret = cli_parse(&req, argc, argv);

	if (ret != CLI_EXIT_OK) {
		fprintf(stderr, "gatewayctl: %s\n", req.err);
		if (ret == CLI_EXIT_USAGE)
			cli_usage(&req, stderr);
	} else {
		ret = run(&req);
	}
	cli_request_free(&req);
	if (fflush(stdout) == EOF && ret == CLI_EXIT_OK) {
		fprintf(stderr, "gatewayctl: writing the output failed\n");
		ret = CLI_EXIT_FAILED;
	}
	return ret;
}
