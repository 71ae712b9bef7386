/* gatewayctl's commands (docs/control-protocol.md). Each handler reads the
 * master's state through the shm/ readers and returns one JSON answer; the
 * table at the bottom is the whole command set. The process-wide ones are
 * here; those about services, instances, breakers and rate limits are in
 * cmd_fleet.c. */
#include "master/commands.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/cmd.h"
#include "master/master.h"
#include "master/mreg.h"

#ifndef GW_VERSION
#define GW_VERSION "unknown"
#endif

json_t *cmd_error(const char *code, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "code", code, "error", text);
}

json_t *cmd__ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static json_t *cmd_status(struct cmd_ctx *c)
{
	struct master *m = c->m;
	json_t *regions = json_array(), *answer;
	struct rl_stats rl;
	unsigned ready = 0, old = 0;

	for (unsigned i = 0; i < SHM_REGION_COUNT; i++) {
		size_t size;
		uint8_t *base = shm_region(&m->seg, i, &size);

		json_array_append_new(regions, json_pack("{s:s, s:I, s:I}", "name",
			shm_region_name(i), "offset", (json_int_t)(base - m->seg.base),
			"size", (json_int_t)size));
	}
	for (unsigned i = 0; i < m->n_slots; i++)
		ready += m->slots[i].id >= 0 &&
			 wtab_get_state(&m->tables.workers, (unsigned)m->slots[i].id) == WTAB_READY;
	old = (unsigned)m->n_retirees;
	rl_stats_read(&m->tables.rl, clock_mono_ns() / 1000u, &rl);
	answer = json_pack("{s:b, s:s, s:i, s:I, s:I, s:s, s:i, s:i, s:{s:I, s:o}, "
			   "s:{s:I, s:I, s:I, s:I}, s:{s:I}}",
		"ok", 1, "version", GW_VERSION, "pid", (int)m->pid,
		"uptime_s", (json_int_t)((clock_mono_ms() - m->started_ms) / 1000u),
		"generation", (json_int_t)m->generation, "config", m->conf_path,
		"workers", (int)ready, "draining", (int)old,
		"shm", "size", (json_int_t)m->seg.size, "regions", regions,
		"rate_limit", "keys", (json_int_t)rl.keys, "capacity", (json_int_t)rl.capacity,
		"evictions", (json_int_t)rl.evictions, "busy", (json_int_t)rl.busy,
		"registry", "generation", (json_int_t)mreg_generation(m));
	return answer;
}

static json_t *cmd_workers(struct cmd_ctx *c)
{
	const struct wtab *t = &c->m->tables.workers;
	json_t *list = json_array();
	unsigned hw = wtab_high_water(t);

	for (unsigned id = 0; id < hw; id++) {
		const struct wtab_entry_sh *e = wtab_entry(t, id);
		enum wtab_state s = wtab_get_state(t, id);

		if (s == WTAB_FREE)
			continue;
		json_array_append_new(list, json_pack("{s:i, s:i, s:i, s:i, s:I, s:s, s:I, s:I, s:I}",
			"id", (int)id, "slot", (int)e->slot,
			"pid", (int)atomic_load_explicit(&e->pid, memory_order_relaxed),
			"cpu", (int)e->cpu, "generation", (json_int_t)e->generation,
			"state", wtab_state_name(s),
			/* Relaxed: display. */
			"connections", (json_int_t)atomic_load_explicit(&e->gauges[WTAB_CONNECTIONS], memory_order_relaxed),
			"inflight", (json_int_t)atomic_load_explicit(&e->gauges[WTAB_INFLIGHT], memory_order_relaxed),
			"requests", (json_int_t)atomic_load_explicit(&e->counters[WTAB_REQUESTS], memory_order_relaxed)));
	}
	return json_pack("{s:b, s:o}", "ok", 1, "workers", list);
}

static json_t *cmd_stats(struct cmd_ctx *c)
{
	const struct wtab *t = &c->m->tables.workers;
	json_t *counters = json_object(), *gauges = json_object();

	for (unsigned i = 0; i < WTAB_N_COUNTERS; i++)
		json_object_set_new(counters, wtab_counter_name(i),
				    json_integer((json_int_t)wtab_counter_total(t, i)));
	for (unsigned i = 0; i < WTAB_N_GAUGES; i++)
		json_object_set_new(gauges, wtab_gauge_name(i),
				    json_integer((json_int_t)wtab_gauge_sum(t, i)));
	return json_pack("{s:b, s:o, s:o}", "ok", 1, "counters", counters, "gauges", gauges);
}

/* A read-only descriptor of the segment: gatewayctl can map it but never
 * write through it. */
static json_t *cmd_segment(struct cmd_ctx *c)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", c->m->seg.fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cmd_error("failed", "cannot reopen the segment read-only: %s", strerror(errno));
	c->fx->pass_fd = fd;
	return cmd__ok();
}

static json_t *cmd_reload(struct cmd_ctx *c)
{
	json_t *answer = master_reload_start(c->m, c->client);

	c->fx->deferred = answer == NULL;
	return answer;
}

static json_t *cmd_stop(struct cmd_ctx *c)
{
	master_request_stop(c->m, false);
	return cmd__ok();
}

static json_t *cmd_drain(struct cmd_ctx *c)
{
	master_request_stop(c->m, true);
	return cmd__ok();
}

/* Split conf_load()'s messages into errors and warnings. */
static void diag_lists(char *text, json_t *errors, json_t *warnings)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		json_array_append_new(strstr(line, ": warning: ") ? warnings : errors,
				      json_string(line));
}

json_t *cmd_config_answer(const char *file, int ret, char *diag)
{
	json_t *errors = json_array(), *warnings = json_array();

	if (diag)
		diag_lists(diag, errors, warnings);
	if (ret < 0 && json_array_size(errors) == 0)
		json_array_append_new(errors, json_sprintf("%s: %s", file, strerror(-ret)));
	return json_pack("{s:b, s:s, s:s, s:s, s:o, s:o}", "ok", ret == 0,
		"code", ret == 0 ? "" : "invalid", "error", ret == 0 ? "" : "configuration invalid",
		"file", file, "errors", errors, "warnings", warnings);
}

static json_t *cmd_config(struct cmd_ctx *c)
{
	struct gw_config *cfg = NULL;
	char *diag = NULL;
	json_t *answer;
	int ret;

	if (c->n_words != 3 || strcmp(c->words[1], "check") != 0)
		return cmd_error("usage", "usage: config check FILE");
	ret = master_conf_load(c->words[2], &cfg, &diag);
	answer = cmd_config_answer(c->words[2], ret, diag);
	free(diag);
	conf_free(cfg);
	return answer;
}

struct command {
	const char *name;
	size_t min_words, max_words;	/* including the name */
	json_t *(*run)(struct cmd_ctx *c);
};

static const struct command commands[] = {
	{ "status", 1, 1, cmd_status },
	{ "workers", 1, 1, cmd_workers },
	{ "stats", 1, 1, cmd_stats },
	{ "segment", 1, 1, cmd_segment },
	{ "reload", 1, 1, cmd_reload },
	{ "stop", 1, 1, cmd_stop },
	{ "drain", 1, 1, cmd_drain },
	{ "services", 1, 1, cmd__services },
	{ "instance", 4, 5, cmd__instance },
	{ "breakers", 1, 4, cmd__breakers },
	{ "limits", 3, 4, cmd__limits },
	{ "config", 3, 3, cmd_config },
	{ "keys", 2, 4, cmd__keys },
};

json_t *cmd_run(struct master *m, uint32_t client, json_t *argv, struct cmd_effects *fx)
{
	struct cmd_ctx c = { .m = m, .client = client, .fx = fx };
	size_t i;
	json_t *w;

	json_array_foreach(argv, i, w) {
		if (!json_is_string(w) || i >= sizeof(c.words) / sizeof(c.words[0]))
			return cmd_error("usage", "the request must be at most 8 words");
		c.words[i] = json_string_value(w);
	}
	c.n_words = json_array_size(argv);
	if (c.n_words == 0)
		return cmd_error("usage", "empty command");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *cmd = &commands[i];

		if (strcmp(cmd->name, c.words[0]) != 0)
			continue;
		if (c.n_words < cmd->min_words || c.n_words > cmd->max_words)
			return cmd_error("usage", "wrong number of arguments for '%s'", cmd->name);
		return cmd->run(&c);
	}
	return cmd_error("usage", "unknown command '%s'", c.words[0]);
}
