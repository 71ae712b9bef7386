/* Loading the configuration with its messages in hand.
 *
 * conf_load() writes its "FILE:LINE: message" lines to a FILE; the master
 * captures them so that the caller picks the destination (raw stderr for
 * -t, log lines for a reload) and so that a failure nobody explained still
 * gets one line. */
#include "master/master.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int master_conf_load(const char *path, struct gw_config **out, char **diag_text)
{
	size_t len = 0;
	FILE *diag;
	int ret;

	*diag_text = NULL;
	diag = open_memstream(diag_text, &len);
	if (!diag)
		return conf_load(path, stderr, out);	/* out of memory: say it raw */
	ret = conf_load(path, diag, out);
	if (ret < 0 && ftell(diag) == 0)
		fprintf(diag, "%s: %s\n", path, strerror(-ret));
	if (fclose(diag) != 0 && ret == 0) {
		/* The text is incomplete, the config is fine: keep it. */
		fprintf(stderr, "%s: messages lost: out of memory\n", path);
	}
	return ret;
}
