/* The nginx model of privileges: the master stays root, because it binds
 * listeners, reads certificates, keys and the config again at reload, and
 * owns the control socket; each worker gives root up after its own setup
 * and before its first accept, so a request can never run as root.
 *
 * Order: supplementary groups, then the group, then the user (after
 * setresuid the process could no longer change its groups), all three
 * real, effective and saved so nothing can be switched back; then proof
 * that root is gone, and PR_SET_NO_NEW_PRIVS so no exec could bring it
 * back. A credential change clears the parent-death signal, so it is set
 * again, and the parent checked again as spawn.c does after fork. */
#include "worker/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/log.h"

static int fail(const char *call, int err)
{
	log_error("%s failed: %s; not serving as root", call, strerror(err));
	return -err;
}

static int set_groups(const struct gw_config *cfg)
{
	gid_t *g = calloc(cfg->n_user_groups ? cfg->n_user_groups : 1, sizeof(*g));
	int ret = 0;

	if (!g)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_user_groups; i++)
		g[i] = (gid_t)cfg->user_groups[i];
	if (setgroups(cfg->n_user_groups, g) < 0)
		ret = fail("setgroups()", errno);
	free(g);
	return ret;
}

/* Root must be out of reach now: a process that can set uid 0 again (a
 * saved uid of 0, a missed step) would make the drop a pretence. */
static int verify(uid_t uid, gid_t gid)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (setresuid(0, 0, 0) == 0 || setuid(0) == 0)
		return fail("dropping root (it could be regained)", EPERM);
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return fail("getresuid()", errno);
	if (r != uid || e != uid || s != uid || rg != gid || eg != gid || sg != gid)
		return fail("dropping root (credentials not as set)", EPERM);
	return 0;
}

int privdrop_worker(const struct gw_config *cfg)
{
	uid_t uid = (uid_t)cfg->user_uid;
	gid_t gid = (gid_t)cfg->user_gid;
	pid_t parent = getppid();
	int ret;

	if (!cfg->user || geteuid() != 0)
		return 0;	/* the master warned at load (master/confload.c) */
	ret = set_groups(cfg);
	if (ret)
		return ret;
	if (setresgid(gid, gid, gid) < 0)
		return fail("setresgid()", errno);
	if (setresuid(uid, uid, uid) < 0)
		return fail("setresuid()", errno);
	ret = verify(uid, gid);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail("prctl(PR_SET_NO_NEW_PRIVS)", errno);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return fail("prctl(PR_SET_PDEATHSIG)", errno);
	if (getppid() != parent)
		return -ESRCH;	/* the master died while we changed: it is gone */
#ifdef GW_SANITIZE
	/* A uid change makes the process undumpable, and LeakSanitizer's
	 * exit check then cannot ptrace it; only sanitizer builds undo that. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	log_info("running as user %s (uid %u, gid %u)", cfg->user, (unsigned)uid, (unsigned)gid);
	return 0;
}
