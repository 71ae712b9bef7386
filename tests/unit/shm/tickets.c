/* Unit test of shm/tickets.c through shm/tickets.h: the current key issues,
 * the previous one is still found after a rotation and not after two, keys
 * differ, a damaged region does not attach. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "shm/tickets.h"
#include "tests/unit/check.h"

int main(void)
{
	void *mem = aligned_alloc(64, (tickets_region_size() + 63) & ~(size_t)63);
	struct ticket_key k0, k1, k2, got;
	struct tickets t;
	bool cur;

	if (!mem || sodium_init() < 0)
		return T_EXIT_FAIL;
	tickets_format_master(mem, 1000);
	CHECK_INT(tickets_attach(&t, mem, tickets_region_size() - 1), -EINVAL);
	CHECK_INT(tickets_attach(&t, mem, tickets_region_size()), 0);
	CHECK_INT(tickets_current(&t, &k0), 0);
	CHECK_INT(tickets_current_created(&t), 1000);
	CHECK_INT(tickets_find(&t, k0.name, &got, &cur), 0);
	CHECK(cur);
	CHECK(memcmp(&got, &k0, sizeof(got)) == 0);

	tickets_rotate_master(&t, 2000);
	CHECK_INT(tickets_current(&t, &k1), 0);
	CHECK(memcmp(k1.name, k0.name, sizeof(k0.name)) != 0);
	CHECK(memcmp(k1.aes, k0.aes, sizeof(k0.aes)) != 0);
	CHECK_INT(tickets_current_created(&t), 2000);
	CHECK_INT(tickets_find(&t, k0.name, &got, &cur), 0);	/* previous: accepted */
	CHECK(!cur);
	CHECK(memcmp(&got, &k0, sizeof(got)) == 0);
	CHECK_INT(tickets_find(&t, k1.name, &got, &cur), 0);
	CHECK(cur);

	tickets_rotate_master(&t, 3000);
	CHECK_INT(tickets_current(&t, &k2), 0);
	CHECK_INT(tickets_find(&t, k0.name, &got, &cur), -ENOENT);	/* two rotations old */
	CHECK_INT(tickets_find(&t, k1.name, &got, &cur), 0);
	CHECK(!cur);
	{
		uint8_t stranger[TICKETS_NAME_BYTES] = { 0 };

		CHECK_INT(tickets_find(&t, stranger, &got, &cur), -ENOENT);
	}
	/* A damaged magic does not attach. */
	memset(mem, 0xff, 8);
	CHECK_INT(tickets_attach(&t, mem, tickets_region_size()), -EINVAL);
	free(mem);
	return CHECK_EXIT();
}
