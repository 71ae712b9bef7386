/* gatewayd: command line, configuration check, then the master.
 *
 * Exit status: 0 after a clean stop or a good -t check, 1 when the
 * configuration is invalid or startup fails, 2 on a usage error. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/log.h"
#include "master/master.h"

#ifndef GW_VERSION
#define GW_VERSION "unknown"	/* meson passes the project version */
#endif

#define MAIN_DEFAULT_CONF "/etc/gatewayd/gatewayd.ini"

struct main_args {
	const char *conf_path;
	bool check_only;		/* -t */
};

static void main_usage(FILE *out)
{
	fprintf(out,
		"usage: gatewayd [-t] [-c FILE] [-h] [-v]\n"
		"  -c FILE  configuration file (default " MAIN_DEFAULT_CONF ")\n"
		"  -t       check the configuration and exit\n"
		"  -h       show this help\n"
		"  -v       show the version\n");
}

/* Returns -1 to go on, or the exit status when the arguments already
 * decided it (help, version, usage error). */
static int main_parse_args(int argc, char **argv, struct main_args *args)
{
	int opt;

	args->conf_path = MAIN_DEFAULT_CONF;
	args->check_only = false;
	while ((opt = getopt(argc, argv, "c:thv")) != -1) {
		switch (opt) {
		case 'c':
			args->conf_path = optarg;
			break;
		case 't':
			args->check_only = true;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'v':
			printf("gatewayd %s\n", GW_VERSION);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gatewayd: unexpected argument '%s'\n", argv[optind]);
		main_usage(stderr);
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct gw_config *cfg = NULL;
	struct main_args args;
	char *diag = NULL;
	int ret;

	ret = main_parse_args(argc, argv, &args);
	if (ret >= 0)
		return ret;
	ret = master_conf_load(args.conf_path, &cfg, &diag);
	if (diag)
		fputs(diag, stderr);
	free(diag);
	if (ret < 0)
		return 1;
	if (args.check_only) {
		fprintf(stderr, "%s: configuration ok\n", args.conf_path);
		conf_free(cfg);
		return 0;
	}
	log_set_ident("master");
	log_set_level(cfg->log_level);
	/* The master owns the config from here (a reload replaces it). */
	return master_run(args.conf_path, cfg);
}
