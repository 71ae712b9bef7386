/* libFuzzer harness: arbitrary bytes as an API-key store file for
 * keystore_parse(). Must never crash, leak or read outside the input; a
 * store it accepts must format to text that parses again to the same
 * records (the file is rewritten on every change, so a record that does
 * not survive the round trip would be lost). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *arg, int line, const char *msg)
{
	(void)arg;
	(void)line;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keystore *ks = NULL, *again = NULL;
	char *text = NULL;
	size_t len = 0;

	if (keystore_parse((const char *)data, size, ignore, NULL, &ks) != 0)
		return 0;
	if (keystore_format(ks, &text, &len) != 0)
		abort();
	if (keystore_parse(text, len, ignore, NULL, &again) != 0 || again->n != ks->n ||
	    again->next_id != ks->next_id || memcmp(again->hkey, ks->hkey, sizeof(ks->hkey)) ||
	    (ks->n && memcmp(again->entries, ks->entries, ks->n * sizeof(*ks->entries))))
		abort();
	free(text);
	keystore_free(again);
	keystore_free(ks);
	return 0;
}
