/* Respawn backoff for a slot whose worker keeps dying.
 *
 * A worker that dies within a second of its start is most likely failing
 * the same way every time (a bad upstream name, a crash on the first
 * request); respawning it at once would spin the master and flood the log.
 * Waits double from 100 ms to 10 s. A death after a longer run is a fresh
 * failure and respawns at once, but keeps the level, so a worker that
 * alternates short and medium runs still backs off; only a run of 10 s or
 * more proves the slot healthy again. */
#include "master/master.h"

uint64_t master_backoff_next(uint64_t *level_ms, uint64_t ran_ms)
{
	uint64_t wait;

	if (ran_ms >= MASTER_STABLE_MS) {
		*level_ms = 0;
		return 0;
	}
	if (ran_ms >= MASTER_QUICK_DEATH_MS)
		return 0;
	if (*level_ms == 0)
		wait = MASTER_BACKOFF_MIN_MS;
	else if (*level_ms >= MASTER_BACKOFF_MAX_MS / 2)
		wait = MASTER_BACKOFF_MAX_MS;
	else
		wait = *level_ms * 2;
	*level_ms = wait;
	return wait;
}
