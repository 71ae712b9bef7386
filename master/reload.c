/* SIGHUP in this version: check the file again and say what we found.
 *
 * Applying a new configuration means forking a new generation of workers
 * onto the same sockets and draining the old one, and the state they share
 * lives in the shared-memory segment, which does not exist yet. Until it
 * does, a reload still gives the operator the one answer that is cheap and
 * true: whether the file on disk would load, with every error's line. */
#include "master/master.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

/* Log each line of conf_load()'s messages with the reload prefix. */
static void reload_log_lines(char *text, enum log_level level)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_msg(level, "reload: %s", line);
}

void master_reload_check(const char *path)
{
	struct gw_config *cfg = NULL;
	char *diag = NULL;
	int ret;

	ret = master_conf_load(path, &cfg, &diag);
	if (diag)
		reload_log_lines(diag, ret ? LOG_ERROR : LOG_WARN);
	free(diag);
	if (ret) {
		log_error("reload: %s: configuration invalid; keeping the running configuration",
			  path);
		return;
	}
	log_info("reload: %s: configuration ok; applying a new configuration needs a restart in this version",
		 path);
	conf_free(cfg);
}
