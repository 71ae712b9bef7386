/* Unit test of master/mreg.c: the master's registry over a real segment.
 *
 * Checked: the file's instances get slots and a published snapshot that a
 * worker-side reader sees; a reload that keeps an instance keeps its slot
 * (so its breaker and health carry over) and frees the slots of dropped
 * ones; run-time add / drain / remove / heartbeat with their errors; a
 * missed TTL removes an instance; a freed slot is not handed out while a
 * worker still has a request in flight on it; a publish blocked by a reader
 * holding every spare buffer is retried by the tick. Time is passed in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "master/master.h"
#include "master/mreg.h"
#include "tests/unit/check.h"

static struct gw_config *load(const char *text)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	struct gw_config *cfg = NULL;

	if (!in || conf_load_stream(in, "t.ini", CONF_NO_RESOLVE, stderr, &cfg) != 0) {
		fprintf(stderr, "config did not load:\n%s\n", text);
		exit(T_EXIT_FAIL);
	}
	fclose(in);
	return cfg;
}

#define HEAD "[gateway]\nlisten = 127.0.0.1:0\ncontrol = off\nadmin_listen = off\n"

static const char *const conf_ab =
	HEAD "[service a]\ninstance = 10.0.0.1:80\ninstance = 10.0.0.2:80 weight=3\n"
	"[service b]\ninstance = 10.0.1.1:80\n"
	"[route r]\npath = /\nservice = a\n";

/* Same service a (one instance kept, one dropped, one new), b gone. */
static const char *const conf_a2 =
	HEAD "[service a]\ninstance = 10.0.0.2:80\ninstance = 10.0.0.9:80\n"
	"[route r]\npath = /\nservice = a\n";

static void master_init(struct master *m)
{
	memset(m, 0, sizeof(*m));
	if (shm_create_master(&m->seg, 16u << 20) != 0 ||
	    shm_tables_attach(&m->tables, &m->seg, -1) != 0 || !(m->reg = mreg_new())) {
		fprintf(stderr, "segment or registry setup failed\n");
		exit(T_EXIT_FAIL);
	}
}

static unsigned slot_of(struct master *m, const char *svc, const char *addr)
{
	const struct mreg_instance *in = mreg_find(m, svc, addr);

	CHECK(in != NULL);
	return in ? in->slot : UINT32_MAX;
}

/* What a worker (reader 0) sees now. */
static uint32_t seen_instances(struct master *m, const char *svc)
{
	struct reg_view v;
	const struct reg_service *s;

	reg_enter(&m->tables.reg, 0, &v);
	s = reg_service_find(&v, svc);
	reg_offline(&m->tables.reg, 0);
	return s ? s->n : 0;
}

static void test_config_and_reload(void)
{
	struct master m;
	struct gw_config *ab = load(conf_ab), *a2 = load(conf_a2);
	unsigned kept;

	master_init(&m);
	CHECK_INT(mreg_apply_config(&m, ab), 0);
	CHECK_INT(mreg_generation(&m), 1);
	CHECK_INT(seen_instances(&m, "a"), 2);
	CHECK_INT(seen_instances(&m, "b"), 1);
	kept = slot_of(&m, "a", "10.0.0.2:80");
	CHECK(slot_of(&m, "a", "10.0.0.1:80") != kept);
	CHECK_INT(mreg_find(&m, "a", "10.0.0.2:80")->weight, 3);

	/* A breaker opened before the reload is still open after it. */
	brk_force_open(inst_breaker(&m.tables.inst, kept), 0);
	CHECK_INT(mreg_apply_config(&m, a2), 0);
	CHECK_INT(slot_of(&m, "a", "10.0.0.2:80"), kept);
	CHECK_INT(mreg_find(&m, "a", "10.0.0.2:80")->weight, 1);
	CHECK(mreg_find(&m, "a", "10.0.0.1:80") == NULL);
	CHECK(mreg_find(&m, "b", "10.0.1.1:80") == NULL);
	CHECK_INT(mreg_generation(&m), 2);
	CHECK_INT(seen_instances(&m, "a"), 2);
	CHECK_INT(seen_instances(&m, "b"), 0);
	{
		struct brk_view v;
		struct brk_policy p = { .mode = BRK_MODE_FAILURES };

		brk_read(inst_breaker(&m.tables.inst, kept), &p, &v);
		CHECK_INT(v.state, BRK_OPEN);
	}
	/* The new instance got a fresh slot: closed breaker, up. */
	CHECK(inst_is_up(&m.tables.inst, slot_of(&m, "a", "10.0.0.9:80")));
	mreg_free(m.reg);
	shm_unmap(&m.seg);
	conf_free(ab);
	conf_free(a2);
}

static void test_runtime_changes(void)
{
	struct gw_config *ab = load(conf_ab);
	char err[256];
	struct master m;
	size_t n;

	master_init(&m);
	CHECK_INT(mreg_apply_config(&m, ab), 0);
	CHECK_INT(mreg_add(&m, "a", "10.0.0.5:80", 2, err, sizeof(err)), 0);
	CHECK(mreg_find(&m, "a", "10.0.0.5:80")->dynamic);
	CHECK_INT(seen_instances(&m, "a"), 3);
	/* Service order is kept: a's instances stay before b's. */
	mreg_instances(&m, &n);
	CHECK_INT(n, 4);
	CHECK_STR(mreg_instances(&m, &n)[2].addr.text, "10.0.0.5:80");

	CHECK_INT(mreg_add(&m, "a", "10.0.0.5:80", 1, err, sizeof(err)), -EEXIST);
	CHECK_INT(mreg_add(&m, "zz", "10.0.0.5:80", 1, err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "unknown service 'zz'");
	CHECK_INT(mreg_add(&m, "a", "no-port", 1, err, sizeof(err)), -EINVAL);
	CHECK_INT(mreg_add(&m, "a", "10.0.0.6:80", 0, err, sizeof(err)), -EINVAL);
	CHECK_INT(mreg_remove(&m, "a", "10.0.0.7:80", err, sizeof(err)), -ENOENT);

	CHECK_INT(mreg_drain(&m, "a", "10.0.0.1:80", err, sizeof(err)), 0);
	CHECK(mreg_find(&m, "a", "10.0.0.1:80")->draining);
	CHECK_INT(mreg_remove(&m, "a", "10.0.0.5:80", err, sizeof(err)), 0);
	CHECK(mreg_find(&m, "a", "10.0.0.5:80") == NULL);
	CHECK_INT(seen_instances(&m, "a"), 2);

	/* Heartbeats: created, renewed (weight kept when unsaid), expired. */
	CHECK_INT(mreg_heartbeat(&m, "b", "10.0.1.7:80", 4, 1000, err, sizeof(err)), 1);
	CHECK_INT(mreg_heartbeat(&m, "b", "10.0.1.7:80", 0, 1000, err, sizeof(err)), 0);
	CHECK_INT(mreg_find(&m, "b", "10.0.1.7:80")->weight, 4);
	CHECK_INT(mreg_heartbeat(&m, "b", "10.0.1.1:80", 1, 1000, err, sizeof(err)), -EEXIST);
	mreg_tick(&m, clock_mono_ms() + 500);
	CHECK(mreg_find(&m, "b", "10.0.1.7:80") != NULL);
	mreg_tick(&m, clock_mono_ms() + 5000);
	CHECK(mreg_find(&m, "b", "10.0.1.7:80") == NULL);
	CHECK_INT(seen_instances(&m, "b"), 1);

	/* A reload drops every run-time change. */
	CHECK_INT(mreg_add(&m, "a", "10.0.0.5:80", 1, err, sizeof(err)), 0);
	CHECK_INT(mreg_apply_config(&m, ab), 0);
	CHECK(mreg_find(&m, "a", "10.0.0.5:80") == NULL);
	CHECK(!mreg_find(&m, "a", "10.0.0.1:80")->draining);
	mreg_free(m.reg);
	shm_unmap(&m.seg);
	conf_free(ab);
}

/* A slot with a request in flight is not reused, however long it has been
 * free: the late breaker report must not land on another instance. */
static void test_busy_slot_not_reused(void)
{
	struct gw_config *ab = load(conf_ab);
	char err[256];
	struct master m;
	unsigned busy;

	master_init(&m);
	CHECK_INT(mreg_apply_config(&m, ab), 0);
	/* One worker id in use, holding a request on 10.0.0.1's slot. */
	CHECK_INT(wtab_claim_master(&m.tables.workers, 0, -1, 1), 0);
	busy = slot_of(&m, "a", "10.0.0.1:80");
	inst_inflight_add(&m.tables.inst, 0, busy, 1);
	CHECK_INT(mreg_remove(&m, "a", "10.0.0.1:80", err, sizeof(err)), 0);
	/* Add instances until every slot but the busy one was handed out. */
	for (unsigned i = 0; i < SHM_MAX_INSTANCES - 3; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "10.1.%u.%u:80", i / 250, i % 250 + 1);
		CHECK_INT(mreg_add(&m, "a", addr, 1, err, sizeof(err)), 0);
		CHECK(mreg_find(&m, "a", addr)->slot != busy);
	}
	CHECK_INT(mreg_add(&m, "a", "10.9.9.9:80", 1, err, sizeof(err)), -ENOSPC);
	/* The request finishes: now the slot may go to a new instance. */
	inst_inflight_add(&m.tables.inst, 0, busy, -1);
	CHECK_INT(mreg_add(&m, "a", "10.9.9.9:80", 1, err, sizeof(err)), 0);
	CHECK_INT(slot_of(&m, "a", "10.9.9.9:80"), busy);
	mreg_free(m.reg);
	shm_unmap(&m.seg);
	conf_free(ab);
}

/* Every spare buffer held by a reader: the change waits, the tick
 * publishes it once the reader lets go. */
static void test_publish_retry(void)
{
	struct gw_config *ab = load(conf_ab);
	char err[256];
	struct master m;
	struct reg_view v;
	uint64_t gen;

	master_init(&m);
	CHECK_INT(mreg_apply_config(&m, ab), 0);
	/* Readers 1..3 pin generations 1..3, one buffer each; with 4 buffers
	 * the 5th publish finds none free. */
	for (unsigned r = 1; r <= 3; r++) {
		reg_enter(&m.tables.reg, r, &v);
		CHECK_INT(mreg_add(&m, "b", r == 1 ? "10.0.1.2:80" : r == 2 ? "10.0.1.3:80"
							 : "10.0.1.4:80", 1, err, sizeof(err)), 0);
	}
	gen = mreg_generation(&m);
	CHECK_INT(gen, 4);
	reg_enter(&m.tables.reg, 4, &v);	/* holds 4, the current one */
	CHECK_INT(mreg_add(&m, "b", "10.0.1.5:80", 1, err, sizeof(err)), 0);
	CHECK_INT(mreg_generation(&m), gen);	/* not published yet */
	CHECK(mreg_next_deadline(&m) != UINT64_MAX);
	reg_offline(&m.tables.reg, 1);
	mreg_tick(&m, clock_mono_ms());
	CHECK_INT(mreg_generation(&m), gen + 1);
	CHECK_INT(seen_instances(&m, "b"), 5);
	mreg_free(m.reg);
	shm_unmap(&m.seg);
	conf_free(ab);
}

int main(void)
{
	log_set_level(LOG_ERROR);	/* a thousand "added" lines say nothing */
	test_config_and_reload();
	test_runtime_changes();
	test_busy_slot_not_reused();
	test_publish_retry();
	return CHECK_EXIT();
}
