/* How many workers to run and where to pin them.
 *
 * Both answers come from the affinity mask the master inherited, never
 * from the machine's CPU count, so that `taskset -c 2,3 gatewayd` confines
 * the whole gateway to CPUs 2 and 3 and auto mode runs two workers. */
#include "master/master.h"

#include <errno.h>

unsigned master_worker_count(unsigned configured, const cpu_set_t *mask)
{
	int n;

	if (configured > 0)
		return configured;
	n = CPU_COUNT(mask);
	return n > 0 ? (unsigned)n : 1;
}

int master_cpu_pick(const cpu_set_t *mask, unsigned i)
{
	int n = CPU_COUNT(mask);
	unsigned k;

	if (n <= 0)
		return -ENOENT;
	k = i % (unsigned)n;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, mask))
			continue;
		if (k == 0)
			return cpu;
		k--;
	}
	return -ENOENT;	/* unreachable: CPU_COUNT counted n bits */
}
