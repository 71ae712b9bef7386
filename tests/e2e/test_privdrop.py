"""Privilege drop end to end (issue 5, user = / group = in [gateway]): started
as root with user = nobody, the master stays root and every worker runs as
nobody (all four uids and gids in /proc/PID/status, no supplementary group
beyond nobody's), requests are served, the access log opened before the
drop is written, and a reload's new workers are nobody too. An unknown user
or group fails the check with FILE:LINE; started as another user, the key is
only a warning.

Needs root (the e2e suite runs as root); exits 77 otherwise."""

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

NOBODY = pwd.getpwnam("nobody")


def creds(pid):
    """(uids, gids, groups) of pid from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
    return out["Uid"], out["Gid"], out["Groups"]


def nobody_groups():
    return sorted(set(os.getgrouplist("nobody", NOBODY.pw_gid)))


class Drop(unittest.TestCase):
    def setUp(self):
        self.echo = gwtest.Echo()
        self.addCleanup(self.echo.stop)
        self.logdir = tempfile.mkdtemp(prefix="gw-e2e-log-")	# root's, mode 0700
        self.addCleanup(shutil.rmtree, self.logdir, True)
        self.access = os.path.join(self.logdir, "access.log")
        conf = gwtest.gateway_section(workers=2, user="nobody", access_log=self.access)
        conf += gwtest.ini(gwtest.ONE_ROUTE, port=self.echo.port)
        self.gw = gwtest.Gateway(conf)
        self.addCleanup(self.gw.stop)

    def ready_workers(self, generation):
        def check():
            ws = self.gw.ctl("workers")[1]["workers"]
            mine = [w for w in ws if w["generation"] == generation and w["state"] == "ready"]
            return len(mine) == 2 and len(ws) == 2 and [w["pid"] for w in mine]
        return gwtest.wait_until(check, timeout=15, what="2 ready workers of generation %d"
                                 % generation)

    def check_workers(self, pids):
        for pid in pids:
            uids, gids, groups = creds(pid)
            self.assertEqual(uids, [NOBODY.pw_uid] * 4, pid)
            self.assertEqual(gids, [NOBODY.pw_gid] * 4, pid)
            self.assertEqual(sorted(groups), nobody_groups(), pid)

    def test_workers_run_as_nobody(self):
        self.assertEqual(creds(self.gw.pid)[0], [0, 0, 0, 0])	# the master stays root
        self.check_workers(self.ready_workers(1))
        for i in range(6):
            r = gwtest.request(self.gw.port, "GET", "/drop/%d" % i)
            self.assertEqual(r.status, 200)
        self.assertTrue(any("running as user nobody" in l for l in self.gw.diagnostics()))
        # The log was opened as root before the drop, so nobody can write it.
        def logged():
            with open(self.access) as f:
                return f.read().count('"/drop/') == 6
        gwtest.wait_until(logged, what="six access-log lines")
        self.assertEqual(os.stat(self.access).st_uid, 0)

    def test_reload_keeps_dropping(self):
        self.ready_workers(1)
        rc, a, _ = self.gw.ctl("reload")
        self.assertEqual(rc, 0, a)
        pids = self.ready_workers(2)
        self.check_workers(pids)
        self.assertEqual(creds(self.gw.pid)[0], [0, 0, 0, 0])
        r = gwtest.request(self.gw.port, "GET", "/after-reload")
        self.assertEqual(r.status, 200)


class Check(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gw-e2e-")
        os.chmod(self.dir, 0o755)
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, text, name="g.ini"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text + gwtest.ini(gwtest.ONE_ROUTE, port=9))
        os.chmod(path, 0o644)
        return path

    def test_unknown_user_and_group(self):
        path = self.write("[gateway]\nlisten = 127.0.0.1:0\nuser = no-such-user-x\n"
                          "group = no-such-group-x\n")
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertNotEqual(rc, 0)
        self.assertIn("%s:3: unknown user 'no-such-user-x'" % path, err)
        self.assertIn("%s:4: unknown group 'no-such-group-x'" % path, err)
        path = self.write("[gateway]\nlisten = 127.0.0.1:0\nuser = bad:name\n", "h.ini")
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertNotEqual(rc, 0)
        self.assertIn("%s:3: 'bad:name' is not a valid user or group name" % path, err)
        path = self.write("[gateway]\nlisten = 127.0.0.1:0\ngroup = nogroup\n", "i.ini")
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertNotEqual(rc, 0)
        self.assertIn("%s:3: 'group' needs 'user' (the workers' user)" % path, err)

    def test_group_overrides_primary(self):
        gid = grp.getgrnam("nogroup").gr_gid
        path = self.write("[gateway]\nlisten = 127.0.0.1:0\ngroup = nogroup\nuser = nobody\n")
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertEqual(rc, 0, err)
        self.assertEqual(gid, NOBODY.pw_gid)	# Debian: nobody's group is nogroup

    def test_not_root_only_warns(self):
        path = self.write("[gateway]\nlisten = 127.0.0.1:0\nuser = nobody\n")
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            gwtest.GATEWAYD, "-t", "-c", path], capture_output=True, text=True,
                           timeout=gwtest.TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%s:3: warning: 'user' has no effect: gatewayd is not running as root"
                      % path, r.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("test_privdrop needs root")
        sys.exit(77)
    gwtest.main()
