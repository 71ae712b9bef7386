/* The service registry: services -> instances, published by the master as
 * immutable snapshots in the segment and read by workers with no lock
 * (DESIGN §4, "Registry snapshots"). shm/registry.c opens with the rules.
 *
 * The master builds a snapshot in process memory (struct reg_builder) and
 * publishes it with reg_publish_master(). A worker calls reg_enter() once
 * per loop turn and may use the returned view until its next reg_enter()
 * or reg_offline(); it calls reg_offline() before it blocks in its ring.
 * gatewayctl, which maps the segment read-only, copies the current
 * snapshot out with reg_copy_readonly().
 *
 * A snapshot is a flat blob of offsets, so every process reads it at its
 * own mapping address. Instance slots (reg_instance.slot) are chosen by the
 * master and stay with an instance across snapshots, so breakers, health
 * and counters (shm/inst.h) follow the instance, not the snapshot. */
#ifndef GW_SHM_REGISTRY_H
#define GW_SHM_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define REG_NAME_MAX		64u	/* bytes, NUL included */
#define REG_TEXT_MAX		64u	/* "[v6 address]:port" fits: 46 + 8 */
#define REG_READERS_MAX		64u	/* reader ids 0..63 (worker ids) */
#define REG_BUFFERS_MIN		3u	/* current + one a reader may hold + one to fill */
#define REG_BUFFERS_MAX		128u

/* reg_instance.flags */
#define REG_INST_DRAINING	1u	/* send it no new requests */
#define REG_INST_DYNAMIC	2u	/* registered at run time, not from the config */

/* One instance as stored in a snapshot. The record is the same in the
 * builder, in the segment and in a read-only copy; every byte of it,
 * padding included, is written by the builder. */
struct reg_instance {
	uint32_t slot;			/* stable instance slot (shm/inst.h), master's choice */
	uint32_t service;		/* index of its service in the snapshot */
	uint32_t weight;		/* >= 1 */
	uint32_t flags;			/* REG_INST_* */
	uint64_t expires_ms;		/* monotonic ms when a self-registration lapses;
					 * 0 = never (master bookkeeping) */
	struct sockaddr_storage addr;	/* AF_INET or AF_INET6 */
	uint32_t addr_len;		/* bytes of addr in use */
	uint32_t reserved;		/* 0 */
	char text[REG_TEXT_MAX];	/* "1.2.3.4:80" / "[::1]:80", made from addr */
	char host[REG_NAME_MAX];	/* name as configured, for logs; may be truncated */
};

/* One service: its instances are instances[first .. first + n). */
struct reg_service {
	char name[REG_NAME_MAX];	/* unique in a snapshot, NUL-terminated */
	uint32_t first;
	uint32_t n;			/* may be 0: every instance gone */
};

/* A snapshot as a reader sees it. Valid until the reader's next
 * reg_enter()/reg_offline() (reg_enter), or as long as the caller's copy
 * buffer (reg_copy_readonly). */
struct reg_view {
	uint64_t gen;			/* 0 = nothing published yet (then all empty) */
	uint32_t n_services;
	uint32_t n_instances;
	const struct reg_service *services;
	const uint32_t *by_name;	/* service indexes sorted by name (strcmp) */
	const struct reg_instance *instances;
};

struct reg_region_sh;

/* The process-local handle. Geometry is copied here by reg_attach(), so a
 * damaged segment header cannot make a reader index out of its region. */
struct reg_table {
	struct reg_region_sh *sh;
	size_t size;			/* bytes of the mapping given to reg_attach() */
	uint32_t n_buffers;
	size_t buf_size;		/* bytes per buffer, header included */
};

/* Bytes the region needs for <n_buffers> (REG_BUFFERS_MIN..MAX) buffers of
 * <buf_size> bytes each (rounded up to 64); 0 if the geometry is invalid. */
size_t reg_region_size(uint32_t n_buffers, size_t buf_size);

/* Master, before any reader attaches: format reg_region_size() bytes at
 * <mem> (64-byte aligned). Nothing is published: readers see gen 0.
 * Returns 0 or -EINVAL for an invalid geometry or alignment. */
int reg_format_master(void *mem, uint32_t n_buffers, size_t buf_size);

/* Attach the region at <mem> (<size> bytes mapped). Works on a read-only
 * mapping: it only reads. Returns 0, -EINVAL when the region is not
 * formatted or does not fit <size>, -EPROTO for another layout version. */
int reg_attach(struct reg_table *r, void *mem, size_t size);

/* Building a snapshot in the master (process memory, not shared). */
struct reg_builder;

struct reg_builder *reg_builder_new(void);	/* NULL on ENOMEM */
void reg_builder_free(struct reg_builder *b);	/* NULL is fine */
void reg_builder_reset(struct reg_builder *b);	/* empty again, memory kept */

/* Append service <name>. Returns its index (>= 0), -EINVAL for an empty
 * name, -ENAMETOOLONG for one of REG_NAME_MAX bytes or more, -EEXIST when
 * the name is already in the builder, -ENOMEM. */
int reg_builder_add_service(struct reg_builder *b, const char *name);

/* Append an instance to service <in->service>, which must be the service
 * added last (a service's instances are contiguous). Taken from <in>:
 * slot, service, weight, flags, expires_ms, addr, addr_len, host; text is
 * made from addr and the rest is zeroed. Returns the instance's index
 * (>= 0), -EINVAL (not the last service, weight 0, bad addr_len),
 * -EAFNOSUPPORT (neither IPv4 nor IPv6), -ENOMEM. */
int reg_builder_add_instance(struct reg_builder *b, const struct reg_instance *in);

/* Buffer bytes a snapshot of <ns> services and <ni> instances takes,
 * header included: what a buffer must hold for the configured maxima,
 * e.g. REG_SNAPSHOT_BYTES(SHM_MAX_SERVICES, SHM_MAX_INSTANCES). */
#define REG_SNAPSHOT_BYTES(ns, ni) \
	(64u + (size_t)(ns) * sizeof(struct reg_service) + \
	 (((size_t)(ns) * sizeof(uint32_t) + 7u) & ~(size_t)7) + \
	 (size_t)(ni) * sizeof(struct reg_instance))

/* Bytes of a buffer the builder's snapshot takes, header included (as
 * REG_SNAPSHOT_BYTES); it is publishable when this is <= buf_size. */
size_t reg_builder_bytes(const struct reg_builder *b);

/* Master only (the single writer): copy <b> into a buffer no reader can
 * still see and make it current. Never waits. Returns 0 and the new
 * generation in <*gen_out> (may be NULL); -E2BIG when the snapshot is
 * larger than a buffer; -EAGAIN when every other buffer is still held by
 * an online reader (retry on the next tick; nothing changed). */
int reg_publish_master(struct reg_table *r, const struct reg_builder *b, uint64_t *gen_out);

/* Reader <reader> (< REG_READERS_MAX, one process per id): mark itself
 * online with the current snapshot and fill <view> with it. Returns its
 * generation (0 if nothing is published yet, then the reader stays
 * offline). Generations a reader sees never go backwards. Lock-free: it
 * retries only while the master publishes under its feet. */
uint64_t reg_enter(struct reg_table *r, unsigned reader, struct reg_view *view);

/* Reader <reader>: stop using its view, so that it holds no buffer while
 * it sleeps. Its next reg_enter() makes it online again. */
void reg_offline(struct reg_table *r, unsigned reader);

/* The current generation, as a hint (has anything been published since
 * the view's gen?). Reading the snapshot still takes reg_enter(). Safe on
 * a read-only mapping. */
uint64_t reg_current_gen(const struct reg_table *r);

/* The generation reader <reader> announced, 0 when offline (for
 * gatewayctl and tests; it may change at once). */
uint64_t reg_reader_gen(const struct reg_table *r, unsigned reader);

/* For a read-only mapping (a reader that cannot announce itself): copy the
 * current snapshot into <dst> (<cap> bytes, aligned for struct
 * reg_instance, as malloc's memory is) and point <view> into that copy.
 * cap >= reg_table.buf_size always suffices. Returns 0, -ENOENT when
 * nothing is published, -EAGAIN when the master reused the buffer during
 * the copy (retry), -ENOSPC when <cap> is too small, -EINVAL for a
 * misaligned <dst>, -EPROTO for a snapshot that does not decode. */
int reg_copy_readonly(const struct reg_table *r, void *dst, size_t cap, struct reg_view *view);

/* Master, after reaping reader <reader>'s process: mark it offline, so
 * the buffer it held can be reused. Never for a live reader. */
void reg_forget_reader_master(struct reg_table *r, unsigned reader);

/* The service called <name> in <v> (binary search on by_name), or NULL. */
const struct reg_service *reg_service_find(const struct reg_view *v, const char *name);

#endif
