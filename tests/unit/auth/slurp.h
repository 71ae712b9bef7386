/* Read a vector file for the auth tests: vectors live beside the tests
 * (tests/unit/auth/vectors/, made once by mint.py) and meson passes their
 * directory as argv[1]. */
#ifndef GW_TESTS_AUTH_SLURP_H
#define GW_TESTS_AUTH_SLURP_H

#include <stdio.h>
#include <stdlib.h>

/* The whole of <dir>/<name>, NUL-terminated, in a malloc'd buffer (length
 * in <*len>), or NULL with a message. */
static inline char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf = NULL;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
		fprintf(stderr, "%s: read failed\n", path);
	}
	fclose(f);
	return buf;
}

#endif
