/* Reload: apply the configuration file again with no failed request.
 *
 * 1. Load and validate the file. Invalid: keep running, answer the errors.
 * 2. Point the registry at the new configuration (instances that stay keep
 *    their slots, so breakers and health carry over) and fork a new
 *    generation of workers onto the same listening sockets (more sockets
 *    first if it runs more workers). Both generations accept for a moment;
 *    the kernel spreads connections over every socket, and every socket has
 *    a worker of each generation on it, so none waits.
 * 3. Once every new worker reports READY in the worker table, the old
 *    generation is told to drain (SIGTERM): it stops accepting, finishes
 *    what it has, and closes each keep-alive connection after its next
 *    response. The reload is answered then.
 * 4. If a new worker dies first, or they are not all ready within
 *    RELOAD_READY_MS, the new generation is killed, the registry goes back
 *    to the running configuration, and the reload fails; the old
 *    generation never stopped serving.
 * Shared state (buckets, breakers, health, counters) lives in the segment
 * and is untouched throughout. */
#include "master/master.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/commands.h"
#include "master/control.h"
#include "master/mreg.h"

#define RELOAD_READY_MS		10000u	/* new workers must accept within this */
#define RELOAD_POLL_MS		10u	/* how often readiness is checked */
#define RELOAD_NO_CLIENT	UINT32_MAX
#define RETIREE_GRACE_MS	1000u	/* on top of drain_timeout before SIGKILL */

struct reload_job {
	struct gw_config *cfg;		/* the new configuration; owned until commit */
	uint64_t generation;
	struct master_slot *slots;	/* the new generation */
	unsigned n_slots;
	uint32_t client;		/* control client to answer, or RELOAD_NO_CLIENT */
	uint64_t deadline_ms;
	char *diag;			/* the load's warnings */
	bool failed;			/* a new worker died */
};

static void log_lines(const char *text, enum log_level level)
{
	char *copy = text ? strdup(text) : NULL, *save = NULL;

	if (!copy)
		return;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_msg(level, "reload: %s", line);
	free(copy);
}

/* What a reload cannot change without a restart: refuse it, or say it is
 * kept. Returns an error text or NULL. */
static const char *unsupported_change(const struct gw_config *old, const struct gw_config *cfg)
{
	if (old->n_listens != cfg->n_listens)
		return "the listen addresses changed; restart gatewayd to apply that";
	for (size_t i = 0; i < cfg->n_listens; i++) {
		if (strcmp(old->listens[i].addr.text, cfg->listens[i].addr.text) != 0 ||
		    old->listens[i].tls != cfg->listens[i].tls)
			return "the listen addresses changed; restart gatewayd to apply that";
	}
	if (old->shm_size != cfg->shm_size)
		log_warn("reload: shm_size changed; it takes effect at the next restart");
	if ((old->control_path == NULL) != (cfg->control_path == NULL) ||
	    (old->control_path && strcmp(old->control_path, cfg->control_path) != 0))
		log_warn("reload: control changed; it takes effect at the next restart");
	if (old->admin_enabled != cfg->admin_enabled ||
	    strcmp(old->admin_addr.text, cfg->admin_addr.text) != 0)
		log_warn("reload: admin_listen changed; it takes effect at the next restart");
	return NULL;
}

static void job_free(struct reload_job *job)
{
	if (!job)
		return;
	conf_free(job->cfg);
	free(job->slots);
	free(job->diag);
	free(job);
}

static void answer(struct master *m, uint32_t client, json_t *a)
{
	if (client == RELOAD_NO_CLIENT)
		json_decref(a);
	else
		control_answer(m, client, a);
}

/* Fork the new generation; 0 or -errno with what was forked killed. */
static int job_spawn(struct master *m, struct reload_job *job)
{
	uint64_t now = clock_mono_ms();
	int ret = master_listen_grow(&m->ls, job->n_slots);

	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < job->n_slots; i++) {
		job->slots[i].id = -1;
		ret = master_fork_worker(m, job->cfg, job->generation, &job->slots[i], i,
					 job->n_slots, now);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The new generation failed: kill what runs of it (the reaper forgets
 * them as retirees) and go back to the running configuration. Returns the
 * answer for the client. */
static json_t *job_abort(struct master *m, const char *why)
{
	struct reload_job *job = m->reload;
	uint64_t now = clock_mono_ms();

	for (unsigned i = 0; i < job->n_slots; i++) {
		if (job->slots[i].pid > 0) {
			kill(job->slots[i].pid, SIGKILL);
			master_add_retiree(m, &job->slots[i], job->generation, now);
		}
	}
	if (mreg_apply_config(m, m->cfg) < 0)
		log_error("reload: restoring the registry failed; instances may be missing");
	log_error("reload: %s; keeping generation %llu", why, (unsigned long long)m->generation);
	m->reload = NULL;	/* the caller frees the job */
	return cmd_error("failed", "%s; the running configuration stays", why);
}

/* Every new worker accepts: retire the old generation, adopt the new. */
static void job_commit(struct master *m)
{
	struct reload_job *job = m->reload;
	uint64_t now = clock_mono_ms();
	json_t *checked;

	for (unsigned i = 0; i < m->n_slots; i++) {
		struct master_slot *s = &m->slots[i];

		if (s->pid <= 0)
			continue;
		if (kill(s->pid, SIGTERM) < 0)
			log_error("kill(worker %u, SIGTERM) failed: %s", i, strerror(errno));
		master_add_retiree(m, s, m->generation, now + m->cfg->drain_timeout_ms +
				   RETIREE_GRACE_MS);
	}
	free(m->slots);
	conf_free(m->cfg);
	m->slots = job->slots;
	m->n_slots = job->n_slots;
	m->cfg = job->cfg;
	m->generation = job->generation;
	job->slots = NULL;
	job->cfg = NULL;
	log_info("reload: generation %llu running with %u workers; the old one is draining",
		 (unsigned long long)m->generation, m->n_slots);
	checked = cmd_config_answer(m->conf_path, 0, job->diag);
	answer(m, job->client, json_pack("{s:b, s:I, s:i, s:O}", "ok", 1, "generation",
		(json_int_t)m->generation, "workers", (int)m->n_slots, "warnings",
		json_object_get(checked, "warnings")));
	json_decref(checked);
	m->reload = NULL;
	job_free(job);
}

/* Steps 1 and 2; returns an answer, or NULL when step 3 will answer. */
static json_t *job_start(struct master *m, struct reload_job *job)
{
	const char *why;
	int ret;

	ret = master_conf_load(m->conf_path, &job->cfg, &job->diag);
	log_lines(job->diag, ret ? LOG_ERROR : LOG_WARN);
	if (ret) {
		log_error("reload: %s: configuration invalid; keeping the running configuration",
			  m->conf_path);
		return cmd_config_answer(m->conf_path, ret, job->diag);
	}
	if ((why = unsupported_change(m->cfg, job->cfg))) {
		log_error("reload: %s", why);
		return cmd_error("invalid", "%s", why);
	}
	/* The key table is read by every generation alike: adopt the store
	 * now (master/keys.c). */
	master_keys_adopt(m, job->cfg, false);
	job->generation = m->generation + 1;
	job->n_slots = master_worker_count(job->cfg->workers, &m->cpus);
	job->slots = calloc(job->n_slots, sizeof(*job->slots));
	if (!job->slots)
		return cmd_error("failed", "out of memory");
	if ((ret = mreg_apply_config(m, job->cfg)) < 0)
		return cmd_error("failed", "registry: %s", strerror(-ret));
	job->deadline_ms = clock_mono_ms() + RELOAD_READY_MS;
	m->reload = job;
	if ((ret = job_spawn(m, job)) < 0)
		return job_abort(m, "starting the new workers failed");
	log_info("reload: %s: configuration ok; starting generation %llu", m->conf_path,
		 (unsigned long long)job->generation);
	return NULL;
}

json_t *master_reload_start(struct master *m, uint32_t client)
{
	struct reload_job *job;
	json_t *a;

	if (m->reload) {
		log_warn("reload: one is already in progress; this one is ignored");
		return cmd_error("busy", "a reload is already in progress");
	}
	if (m->state != MASTER_RUNNING) {
		log_warn("reload: gatewayd is stopping; ignored");
		return cmd_error("busy", "gatewayd is stopping");
	}
	job = calloc(1, sizeof(*job));
	if (!job)
		return cmd_error("failed", "out of memory");
	job->client = client;
	a = job_start(m, job);
	if (m->reload != job)
		job_free(job);
	return a;
}

static bool job_ready(const struct master *m, const struct reload_job *job)
{
	for (unsigned i = 0; i < job->n_slots; i++) {
		int id = job->slots[i].id;

		if (id < 0 || wtab_get_state(&m->tables.workers, (unsigned)id) != WTAB_READY)
			return false;
	}
	return true;
}

void master_reload_tick(struct master *m, uint64_t now_ms)
{
	struct reload_job *job = m->reload;
	json_t *a = NULL;

	if (!job)
		return;

	if (m->state != MASTER_RUNNING)
		a = job_abort(m, "gatewayd is stopping");
	else if (job->failed)
		a = job_abort(m, "a worker of the new generation died while starting");
	else if (job_ready(m, job))
		job_commit(m);
	else if (now_ms >= job->deadline_ms)
		a = job_abort(m, "the new workers did not start accepting in time");
	if (a) {
		answer(m, job->client, a);
		job_free(job);
	}
}

uint64_t master_reload_next_deadline(const struct master *m)
{
	return m->reload ? clock_mono_ms() + RELOAD_POLL_MS : UINT64_MAX;
}

bool master_reload_worker_died(struct master *m, pid_t pid)
{
	struct reload_job *job = m->reload;

	if (!job)
		return false;
	for (unsigned i = 0; i < job->n_slots; i++) {
		if (job->slots[i].pid == pid) {
			job->slots[i].pid = 0;
			job->failed = true;
			return true;
		}
	}
	return false;
}

int master_reload_worker_id(const struct master *m, pid_t pid)
{
	const struct reload_job *job = m->reload;

	for (unsigned i = 0; job && i < job->n_slots; i++) {
		if (job->slots[i].pid == pid)
			return job->slots[i].id;
	}
	return -1;
}
