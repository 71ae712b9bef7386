/* Loads every .ini file shipped in conf/ (the folder is argv[1])
 * and fails on any error or warning, so the examples cannot rot. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "tests/unit/check.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Load <path>; the config on success, NULL (after saying why) otherwise. */
static struct gw_config *load_clean(const char *path)
{
	struct gw_config *cfg = NULL;
	char *buf = NULL;
	size_t size = 0;
	FILE *diag = open_memstream(&buf, &size);
	int rc;

	if (!diag)
		abort();
	rc = conf_load(path, diag, &cfg);
	fclose(diag);
	if (rc != 0 || size != 0)
		fprintf(stderr, "%s: conf_load() = %d, messages:\n%s", path, rc, buf);
	CHECK_INT(rc, 0);
	CHECK_INT(size, 0);
	free(buf);
	return cfg;
}

/* The demo the e2e tests and README rely on. */
static void check_demo(const struct gw_config *cfg)
{
	static const char *const services[] = { "products-v1", "products-v2", "users" };

	CHECK_INT(cfg->n_listens, 1);
	CHECK_STR(cfg->listens[0].addr.text, "127.0.0.1:8080");
	CHECK_INT(cfg->n_services, 3);
	for (size_t i = 0; i < 3 && i < cfg->n_services; i++)
		CHECK_STR(cfg->services[i].name, services[i]);
	CHECK_INT(cfg->n_routes, 5);
}

int main(int argc, char **argv)
{
	unsigned n_files = 0, n_demo = 0, n_example = 0;
	struct dirent *de;
	DIR *dir;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CONF_DIR\n", argv[0]);
		return T_EXIT_FAIL;
	}
	dir = opendir(argv[1]);
	if (!dir) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return T_EXIT_FAIL;
	}
	while ((de = readdir(dir))) {
		struct gw_config *cfg;
		char path[4096];

		if (!ends_with(de->d_name, ".ini"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		cfg = load_clean(path);
		n_files++;
		if (cfg && strcmp(de->d_name, "demo.ini") == 0) {
			check_demo(cfg);
			n_demo++;
		}
		n_example += strcmp(de->d_name, "example.ini") == 0;
		conf_free(cfg);
	}
	closedir(dir);
	printf("loaded %u example files\n", n_files);
	CHECK_INT(n_demo, 1);
	CHECK_INT(n_example, 1);
	return CHECK_EXIT();
}
