/* TLS session-ticket keys, shared by every worker so that a session
 * resumes on whichever worker the client reaches next (DESIGN §4).
 *
 * The master generates keys with libsodium and rotates them: a ticket is
 * issued with the current key and accepted under the current or the
 * previous one, so a ticket lives between one and two rotation periods.
 * Workers copy a key out under a per-slot sequence check (no lock) each
 * time OpenSSL asks for one. */
#ifndef GW_SHM_TICKETS_H
#define GW_SHM_TICKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TICKETS_NAME_BYTES	16u	/* RFC 5077 key_name */
#define TICKETS_AES_BYTES	32u	/* AES-256-CBC, as OpenSSL's ticket format uses */
#define TICKETS_HMAC_BYTES	32u	/* HMAC-SHA256 */

/* One key, as copied out for a worker. */
struct ticket_key {
	uint8_t name[TICKETS_NAME_BYTES];
	uint8_t aes[TICKETS_AES_BYTES];
	uint8_t hmac[TICKETS_HMAC_BYTES];
	uint64_t created_wall_s;
};

struct tickets_region_sh;

/* The process-local handle. */
struct tickets {
	struct tickets_region_sh *sh;
};

size_t tickets_region_size(void);

/* Master, before fork: format the region and make a first key current.
 * Keys come from libsodium (sodium_init() must have run). */
void tickets_format_master(void *mem, uint64_t now_wall_s);
int tickets_attach(struct tickets *t, void *mem, size_t size);

/* Master: make a fresh key current; the old current stays acceptable as
 * the previous one. */
void tickets_rotate_master(struct tickets *t, uint64_t now_wall_s);

/* The key to issue tickets with. Returns 0, or -EAGAIN when the master
 * rewrote it under us (retry; practically never). */
int tickets_current(const struct tickets *t, struct ticket_key *out);

/* The current or previous key named <name>: 0, -ENOENT (too old or not
 * ours: the client does a full handshake), or -EAGAIN as above. Sets
 * *<is_current> so a ticket under the previous key can be renewed. */
int tickets_find(const struct tickets *t, const uint8_t name[TICKETS_NAME_BYTES],
		 struct ticket_key *out, bool *is_current);

/* For tests (STYLE §2's double underscore): rotate to the given key, so a
 * stress test can recognise a torn copy by its contents. */
void tickets__rotate_to(struct tickets *t, const struct ticket_key *k);

/* When the current key was made (for the rotation schedule). */
uint64_t tickets_current_created(const struct tickets *t);

#endif
