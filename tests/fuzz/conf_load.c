/* libFuzzer target for the INI loader: any bytes as a config file.
 *
 * The input is loaded through conf_load_stream() with CONF_NO_RESOLVE, so
 * a host name is an error like any other and the fuzzer never touches the
 * resolver (no network, no /etc/hosts timing). Messages go to /dev/null
 * rather than nowhere, so their formatting is exercised too. A config that
 * loads is walked once (route order and the pieces workers read) and freed;
 * the sanitizers report anything left behind. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch what a worker would read, so a dangling or bad index shows. */
static void fuzz_walk(const struct gw_config *cfg)
{
	size_t seen = 0;

	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct gw_route_conf *r = &cfg->routes[cfg->route_order[i]];

		if (cfg->route_order[i] >= cfg->n_routes || r->service >= cfg->n_services ||
		    !r->path || !cfg->services[r->service].n_instances)
			abort();
		seen += strlen(r->path) + strlen(cfg->services[r->service].name);
	}
	if (!cfg->n_listens || !cfg->n_routes || seen == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct gw_config *cfg;
	FILE *in;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	/* fmemopen() refuses a zero size; an empty file is still a case. */
	in = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
	if (!in)
		abort();
	if (conf_load_stream(in, "fuzz.ini", CONF_NO_RESOLVE, devnull, &cfg) == 0)
		fuzz_walk(cfg);
	conf_free(cfg);
	fclose(in);
	return 0;
}
