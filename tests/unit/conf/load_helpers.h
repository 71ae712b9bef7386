/* Shared by the conf unit tests: load an INI text through a real file and
 * capture what conf_load() printed. Static functions, one copy per test
 * program. */
#ifndef GW_TESTS_UNIT_CONF_LOAD_HELPERS_H
#define GW_TESTS_UNIT_CONF_LOAD_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "tests/unit/check.h"

/* The fragments most cases start from, so expected lines can be counted:
 * GW is lines 1-2, SVC lines 3-4 and RT lines 5-7 (a gateway key after GW
 * is line 3, a service key between SVC and RT line 5, a route key after RT
 * line 8); HEAD, a gateway and a service "s", is lines 1-4. */
#define GW "[gateway]\nlisten = 127.0.0.1:8080\n"
#define SVC "[service a]\ninstance = 127.0.0.1:9001\n"
#define RT "[route r]\npath = /\nservice = a\n"
#define HEAD GW "[service s]\ninstance = 127.0.0.1:9001\n"

/* Load <ini> from a mkstemp() file; diag output has the file's name
 * replaced by "x.ini" so expectations can spell whole messages. */
struct loaded {
	struct gw_config *cfg;
	int rc;
	char *diag;
};

static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t n = 0, flen = strlen(from), tlen = strlen(to);
	char *out, *o;

	for (const char *p = strstr(s, from); p; p = strstr(p + flen, from))
		n++;
	out = o = malloc(strlen(s) + n * tlen + 1);
	if (!out)
		abort();
	while (*s) {
		if (strncmp(s, from, flen) == 0) {
			memcpy(o, to, tlen);
			o += tlen;
			s += flen;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static struct loaded load_len(const char *ini, size_t len)
{
	char path[] = "/tmp/gw-conf-test-XXXXXX";
	struct loaded l = { 0 };
	char *buf = NULL;
	size_t size = 0;
	FILE *diag;
	int fd;

	fd = mkstemp(path);
	if (fd < 0 || write(fd, ini, len) != (ssize_t)len) {
		perror("mkstemp/write");
		exit(T_EXIT_FAIL);
	}
	close(fd);
	diag = open_memstream(&buf, &size);
	if (!diag)
		abort();
	l.rc = conf_load(path, diag, &l.cfg);
	fclose(diag);
	unlink(path);
	l.diag = replace_all(buf, path, "x.ini");
	free(buf);
	return l;
}

static struct loaded load(const char *ini)
{
	return load_len(ini, strlen(ini));
}

/* Write a fixture file with <mode>; any failure ends the test. */
static inline void write_file(const char *path, const char *text, unsigned mode)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) != 0) {
		perror(path);
		exit(T_EXIT_FAIL);
	}
}

/* Load <head> + <ini> with every names[i] ("@GOOD@") replaced by paths[i],
 * and the fixtures' directory <dir> shown as "DIR" in the messages. */
static inline struct loaded load_with_files(const char *head, const char *ini,
					    const char *const *names, const char *const *paths,
					    size_t n, const char *dir)
{
	char *body = strdup(ini), *text, *t;
	struct loaded l;

	if (!body)
		abort();
	for (size_t i = 0; i < n; i++) {
		t = replace_all(body, names[i], paths[i]);
		free(body);
		body = t;
	}
	text = malloc(strlen(head) + strlen(body) + 1);
	if (!text)
		abort();
	strcpy(text, head);
	strcat(text, body);
	l = load(text);
	free(body);
	free(text);
	t = replace_all(l.diag, dir, "DIR");
	free(l.diag);
	l.diag = t;
	return l;
}

static void loaded_free(struct loaded *l)
{
	conf_free(l->cfg);
	free(l->diag);
}

#endif
