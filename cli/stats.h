/* gatewayctl stats: read the counters straight from the shared segment
 * (mapped read-only from the fd the master passes for ["segment"]),
 * through shm/workers.h's own readers, never a private copy of the layout
 * (STYLE §19). */
#ifndef GW_CLI_STATS_H
#define GW_CLI_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"
#include "shm/workers.h"

/* Totals at one instant. */
struct stats_sample {
	uint64_t at_ns;				/* CLOCK_MONOTONIC */
	uint64_t counters[WTAB_N_COUNTERS];	/* wtab_counter_total() */
	uint64_t gauges[WTAB_N_GAUGES];		/* wtab_gauge_sum() */
};

void stats_sample(const struct wtab *w, uint64_t now_ns, struct stats_sample *out);

/* Two tables, COUNTER TOTAL [PER_S] and GAUGE VALUE. PER_S is the rate
 * since <prev>; with <prev> NULL it is "-" when <watch>, else left out.
 * Returns 0, -ENOMEM or -EIO. */
int stats_print_table(const struct stats_sample *cur, const struct stats_sample *prev,
		      bool watch, FILE *out);

/* One line: {"counters":{NAME:N,...},"gauges":{NAME:N,...}}, the shape of
 * the master's ["stats"] answer without "ok". Returns 0, -ENOMEM or -EIO. */
int stats_print_json(const struct stats_sample *cur, FILE *out);

/* The whole command: get the fd, map, print once or every
 * req->watch_ms until SIGINT/SIGTERM or req->count refreshes. Returns the
 * exit status, having printed any failure. */
int stats_run(const struct cli_request *req);

#endif
