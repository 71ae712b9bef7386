"""gatewayctl end to end (docs/gatewayctl.md, docs/control-protocol.md):
status, workers and stats against a running gatewayd, the tables printed
for people, every exit status (0 ok, 1 failed, 2 usage, 3 not running,
4 permission), and stop and drain ending the master."""

import fcntl
import json
import mmap
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

NOBODY = 65534
REGIONS = ["workers", "instances", "registry", "tickets", "apikeys", "jwks", "connlimit",
           "ratelimit"]

TWO_SERVICES = """
[service echo]
instance = 127.0.0.1:$port

[service spare-pool]
instance = 127.0.0.1:$port2

[route spare]
path = /spare
service = spare-pool

[route all]
path = /
service = echo
"""


def ctl_text(socket_path, *args, user=None, binary=None):
    """gatewayctl without --json (the output for people): (status, stdout,
    stderr). user runs it as that uid and gid with no groups."""
    argv = [binary or gwtest.GATEWAYCTL, "-s", socket_path] + [str(a) for a in args]
    if user is not None:
        argv = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + argv
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout, r.stderr


def project_version():
    with open(os.path.join(gwtest.SOURCE_ROOT, "meson.build")) as f:
        m = re.search(r"version:\s*'([^']+)'", f.read())
    return m.group(1)


def start(case, workers=2, **extra):
    """gw-echo on two ports and a gatewayd with two services, stopped by
    case's cleanups."""
    echo = gwtest.Echo(n=2)
    case.addCleanup(echo.stop)
    gw = gwtest.Gateway(gwtest.gateway_section(workers=workers, **extra) +
                        gwtest.ini(TWO_SERVICES, port=echo.ports[0], port2=echo.ports[1]))
    case.addCleanup(gw.stop)
    return echo, gw


def ready_workers(gw, n):
    """workers --json once exactly n workers, all ready, are listed
    (bounded wait: "master: ready" comes before every worker is)."""
    def check():
        ws = gw.ctl("workers")[1]["workers"]
        return len(ws) == n and all(w["state"] == "ready" for w in ws) and ws
    return gwtest.wait_until(check, what="%d ready workers" % n)


def stats(gw):
    rc, a, err = gw.ctl("stats")
    return a


class Queries(unittest.TestCase):
    def setUp(self):
        self.echo, self.gw = start(self, workers=2)
        self.workers = ready_workers(self.gw, 2)

    def test_status_json(self):
        _, a, _ = self.gw.ctl("status")
        self.assertIs(a["ok"], True)
        self.assertEqual(a["version"], project_version())
        self.assertEqual(a["pid"], self.gw.pid)
        self.assertEqual(a["generation"], 1)
        self.assertEqual(a["workers"], 2)
        self.assertEqual(a["draining"], 0)
        self.assertEqual(a["config"], self.gw.conf)
        regions = a["shm"]["regions"]
        self.assertEqual([r["name"] for r in regions], REGIONS)
        end = 0
        for r in regions:	# in order, apart, inside the segment
            self.assertGreaterEqual(r["offset"], end, regions)
            self.assertGreater(r["size"], 0, r)
            end = r["offset"] + r["size"]
        self.assertLessEqual(end, a["shm"]["size"])
        self.assertEqual(a["rate_limit"]["keys"], 0)
        self.assertEqual(a["rate_limit"]["busy"], 0)
        # gatewayctl -V is the same version.
        r = subprocess.run([gwtest.GATEWAYCTL, "-V"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual((r.returncode, r.stdout), (0, "gatewayctl %s\n" % a["version"]))

    def test_workers_json(self):
        ws = self.workers
        self.assertEqual(sorted(w["pid"] for w in ws), self.gw.workers())
        self.assertEqual(sorted(w["slot"] for w in ws), [0, 1])
        self.assertEqual(len({w["id"] for w in ws}), 2)
        for w in ws:
            self.assertEqual(w["state"], "ready", w)
            self.assertEqual(w["generation"], 1, w)
            self.assertEqual(w["cpu"], -1, w)	# pin_workers = no
            self.assertEqual((w["connections"], w["inflight"], w["requests"]), (0, 0, 0), w)

    def test_stats_exact(self):
        """Ten requests on their own connections and fifteen pipelined on
        one: every counter stats reads from the segment is exact."""
        sent = got = 0
        for i in range(10):
            req = "GET /one/%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % i
            with gwtest.RawConn(self.gw.port) as c:
                c.send(req)
                data = c.read_all()
            self.assertEqual(gwtest.status_of(data), 200, data[:200])
            sent += len(req)
            got += len(data)
        reqs = "".join("GET /many/%d HTTP/1.1\r\nHost: t\r\n%s\r\n"
                       % (i, "Connection: close\r\n" if i == 14 else "") for i in range(15))
        with gwtest.RawConn(self.gw.port) as c:
            c.send(reqs)
            data = c.read_all()
        self.assertEqual(data.count(b"HTTP/1.1 200 "), 15)
        sent += len(reqs)
        got += len(data)

        def settled():
            s = stats(self.gw)
            return (s["counters"]["requests"] >= 25 and s["gauges"]["connections"] == 0
                    and s["gauges"]["inflight"] == 0 and s)
        s = gwtest.wait_until(settled, what="25 requests counted, connections closed")
        c = s["counters"]
        self.assertEqual(c["requests"], 25, c)
        self.assertEqual(c["responses_2xx"], 25, c)
        self.assertEqual(c["accepted"], 11, c)
        for k in ("responses_1xx", "responses_3xx", "responses_4xx", "responses_5xx",
                  "rate_limited", "unavailable", "upstream_failures", "retries"):
            self.assertEqual(c[k], 0, k)
        self.assertEqual(c["bytes_in"], sent, c)
        self.assertEqual(c["bytes_out"], got, c)
        self.assertEqual(s["gauges"], {"connections": 0, "inflight": 0, "retries_inflight": 0})
        # workers --json splits the same requests over the workers.
        self.assertEqual(sum(w["requests"] for w in self.gw.ctl("workers")[1]["workers"]), 25)

    def test_stats_watch_count(self):
        rc, out, err = ctl_text(self.gw.control, "--json", "stats", "--watch", "0.1",
                                "--count", "3")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 3, out)
        self.assertTrue(all(l.startswith('{"counters":{') for l in lines), out)

    def test_stats_segment_read_only(self):
        """The master hands out the segment read-only (["segment"], over
        the socket as gatewayctl does it), and stats maps it without write
        permission (seen in its /proc while it runs)."""
        size = self.gw.ctl("status")[1]["shm"]["size"]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(gwtest.TIMEOUT)
            c.connect(self.gw.control)
            c.sendall(b'["segment"]\n')
            msg, fds, _, _ = socket.recv_fds(c, 65536, 4)
        try:
            self.assertEqual(json.loads(msg), {"ok": True})
            self.assertEqual(len(fds), 1)
            self.assertEqual(fcntl.fcntl(fds[0], fcntl.F_GETFL) & os.O_ACCMODE, os.O_RDONLY)
            self.assertEqual(os.fstat(fds[0]).st_size, size)
            with self.assertRaises(PermissionError):
                mmap.mmap(fds[0], size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            for fd in fds:
                os.close(fd)

        p = subprocess.Popen([gwtest.GATEWAYCTL, "-s", self.gw.control, "--json", "stats",
                              "--watch", "0.1", "--count", "10"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.kill)

        def mapped():
            try:
                with open("/proc/%d/maps" % p.pid) as f:
                    return [l for l in f if "memfd:gatewayd-shm" in l]
            except OSError:
                return None
        maps = gwtest.wait_until(mapped, what="gatewayctl stats mapping the segment")
        for l in maps:
            self.assertEqual(l.split()[1], "r--s", l)
        out, err = p.communicate(timeout=30)
        self.assertEqual((p.returncode, err), (0, ""))
        self.assertEqual(len(out.splitlines()), 10)

    def test_workers_table(self):
        rc, out, err = ctl_text(self.gw.control, "workers")
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "SLOT", "PID", "CPU", "GEN", "STATE",
                                            "CONNS", "INFLIGHT", "REQUESTS"])
        self.assertEqual(len(lines), 3, out)
        rows = [l.split() for l in lines[1:]]
        self.assertEqual(sorted(int(r[2]) for r in rows), self.gw.workers())
        for r in rows:
            self.assertEqual(r[3:6], ["-", "1", "ready"], r)
        self.assertEqual([l for l in lines if l != l.rstrip()], [], "trailing blanks")

    def test_services_table(self):
        rc, out, err = ctl_text(self.gw.control, "services")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.splitlines()[0], "generation 1")
        names = re.findall(r"(?m)^service (\S+) \(", out)
        self.assertEqual(names, ["echo", "spare-pool"])
        for p in self.echo.ports:
            self.assertRegex(out, r"(?m)^  127\.0\.0\.1:%d +1 +up " % p)

    def test_status_text(self):
        rc, out, err = ctl_text(self.gw.control, "status")
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"(?m)^pid: +%d$" % self.gw.pid)
        self.assertRegex(out, r"(?m)^generation: +1$")
        self.assertRegex(out, r"(?m)^workers: +2 ready, 0 draining$")
        self.assertEqual(re.findall(r"(?m)^  (\w+) +\d+ ", out), REGIONS)


class ExitStatus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo, cls.gw = gwtest.echo_behind_gateway(cls)

    def assertUsage(self, *args):
        rc, out, err = ctl_text(self.gw.control, *args)
        self.assertEqual(rc, 2, (args, out, err))
        self.assertEqual(out, "")
        self.assertTrue(err.startswith("gatewayctl: "), err)
        self.assertIn("usage: gatewayctl", err)
        return err

    def test_not_running(self):
        d = tempfile.mkdtemp(prefix="gw-e2e-ctl-")
        self.addCleanup(shutil.rmtree, d, True)
        missing = os.path.join(d, "none.sock")
        for args in (["status"], ["--json", "status"], ["stats"]):
            rc, out, err = ctl_text(missing, *args)
            self.assertEqual(rc, 3, (args, out, err))
            self.assertEqual(out, "")
            self.assertIn("not running", err)
            self.assertIn(missing, err)
        # A socket file nobody listens on (a master that is gone).
        stale = os.path.join(d, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(stale)
        s.close()
        rc, out, err = ctl_text(stale, "status")
        self.assertEqual(rc, 3, (out, err))
        self.assertIn("not running", err)
        # A regular file at the path.
        plain = os.path.join(d, "plain")
        open(plain, "w").close()
        self.assertEqual(ctl_text(plain, "status")[0], 3)

    def test_usage_errors(self):
        self.assertIn("unknown command 'frobnicate'", self.assertUsage("frobnicate"))
        self.assertUsage("instance", "add")
        self.assertUsage("instance", "add", "echo")
        self.assertIn("'10.0.0.9' is not HOST:PORT",
                      self.assertUsage("instance", "add", "echo", "10.0.0.9"))
        self.assertUsage("instance", "add", "echo", "127.0.0.1:1", "weight=0")
        self.assertUsage("status", "extra")
        self.assertUsage("stats", "--count", "2")
        self.assertUsage("limits", "show", "all")
        # Usage is found before connecting: no master needed.
        rc, _, _ = ctl_text("/nonexistent/gw.sock", "frobnicate")
        self.assertEqual(rc, 2)

    def test_instance_add_unknown_service(self):
        rc, out, err = ctl_text(self.gw.control, "instance", "add", "nosuch", "127.0.0.1:1")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "gatewayctl: unknown service 'nosuch'\n")
        rc, a, err = self.gw.ctl("instance", "add", "nosuch", "127.0.0.1:1", check=False)
        self.assertEqual(rc, 1)
        self.assertEqual((a["ok"], a["code"]), (False, "not_found"))
        self.assertEqual(err, "")	# --json: the failure is not repeated
        # Nothing was added anywhere.
        services = self.gw.ctl("services")[1]["services"]
        self.assertEqual([(s["name"], len(s["instances"])) for s in services], [("echo", 1)])

    def test_config_check(self):
        rc, out, err = ctl_text(self.gw.control, "config", "check", self.gw.conf)
        self.assertEqual((rc, out, err), (0, "%s: ok\n" % self.gw.conf, ""))
        rc, a, _ = self.gw.ctl("config", "check", self.gw.conf)
        self.assertEqual((a["ok"], a["errors"]), (True, []))

        with open(self.gw.conf) as f:
            good = f.read().splitlines()
        bad = list(good)
        w = next(i for i, l in enumerate(bad) if l.startswith("workers = "))
        s = next(i for i, l in enumerate(bad) if l.startswith("service = "))
        bad[w] = "workers = lots"
        bad[s] = "service = nope"
        path = os.path.join(self.gw.dir, "bad.ini")
        with open(path, "w") as f:
            f.write("\n".join(bad) + "\n")
        rc, out, err = ctl_text(self.gw.control, "config", "check", path)
        self.assertEqual((rc, out), (1, ""))
        lines = err.splitlines()
        self.assertTrue(lines[0].startswith("gatewayctl: "), err)
        self.assertEqual(len(lines), 3, err)
        self.assertRegex(lines[1], r"^%s:%d: .*workers" % (re.escape(path), w + 1))
        self.assertRegex(lines[2], r"^%s:%d: .*nope" % (re.escape(path), s + 1))
        rc, a, _ = self.gw.ctl("config", "check", path, check=False)
        self.assertEqual((rc, a["ok"], a["code"]), (1, False, "invalid"))
        self.assertEqual(a["errors"], lines[1:])
        # A relative FILE is resolved by gatewayctl, not by the master.
        r = subprocess.run([gwtest.GATEWAYCTL, "-s", self.gw.control, "config", "check",
                            "bad.ini"], cwd=self.gw.dir, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, err)
        rc, out, err = ctl_text(self.gw.control, "config", "check",
                                os.path.join(self.gw.dir, "none.ini"))
        self.assertEqual(rc, 1)
        self.assertIn("No such file or directory", err)
        # Checking applied nothing: still generation 1, still serving.
        self.assertEqual(self.gw.ctl("status")[1]["generation"], 1)
        self.assertEqual(gwtest.request(self.gw.port, "GET", "/after-check").status, 200)

    def test_permission(self):
        self.assertEqual(os.geteuid(), 0, "this test runs gatewayctl as nobody: run it as root")
        # A copy nobody can run, wherever the build tree is.
        d = tempfile.mkdtemp(prefix="gw-e2e-ctl-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        binary = os.path.join(d, "gatewayctl")
        shutil.copy(gwtest.GATEWAYCTL, binary)
        os.chmod(binary, 0o755)

        # The socket is 0600 in a 0700 directory: connect() is refused.
        rc, out, err = ctl_text(self.gw.control, "status", user=NOBODY, binary=binary)
        self.assertEqual((rc, out), (4, ""), err)
        self.assertIn("permission denied", err)

        # Reachable anyway: the master checks SO_PEERCRED and says no.
        mark = len(self.gw.lines())
        os.chmod(self.gw.dir, 0o711)
        os.chmod(self.gw.control, 0o666)
        for args in (["status"], ["stats"], ["stop"], ["reload"]):
            rc, out, err = ctl_text(self.gw.control, *args, user=NOBODY, binary=binary)
            self.assertEqual((rc, out), (4, ""), (args, err))
            self.assertIn("permission denied", err)
        rc, out, err = ctl_text(self.gw.control, "--json", "status", user=NOBODY,
                                binary=binary)
        self.assertEqual(rc, 4)
        self.assertIn('"code":"permission"', out)
        self.gw.wait_line("refused a client", start=mark)
        # None of it did anything.
        _, a, _ = self.gw.ctl("status")
        self.assertEqual(a["generation"], 1)
        self.assertTrue(self.gw.proc.alive())


class StopDrain(unittest.TestCase):
    def start_slow(self, gw, path):
        """A request the backend answers late (or never), read by a thread;
        returns (connection, thread, result dict) once it is in flight."""
        c = gwtest.RawConn(gw.port, timeout=10)
        self.addCleanup(c.close)
        c.send("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path)
        result = {}

        def read():
            try:
                result["r"] = c.read_response()
            except Exception as e:	# reported by the test
                result["e"] = e
        t = threading.Thread(target=read, daemon=True)
        t.start()
        gwtest.wait_until(lambda: stats(gw)["gauges"]["inflight"] == 1,
                          what="the request in flight")
        return c, t, result

    def test_drain_waits_for_inflight(self):
        echo, gw = gwtest.echo_behind_gateway(self, workers=2)
        ready_workers(gw, 2)
        c, t, result = self.start_slow(gw, "/slow?delay=1000")
        rc, out, err = ctl_text(gw.control, "drain")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("draining", out)
        t.join(gwtest.TIMEOUT)
        self.assertFalse(t.is_alive(), "the in-flight response never came")
        self.assertNotIn("e", result)
        self.assertEqual(result["r"].status, 200)
        self.assertEqual(gwtest.echo_json(result["r"])["path"], "/slow")
        self.assertTrue(c.closed_by_peer(), "connection left open after the drain")
        c.close()
        self.assertEqual(gw.proc.wait(gwtest.TIMEOUT), 0, "gatewayd exit status")
        self.assertEqual(ctl_text(gw.control, "status")[0], 3)

    def test_stop_does_not_wait(self):
        """With a request that would never finish (drain_timeout 30 s),
        stop still ends the master at once."""
        echo, gw = gwtest.echo_behind_gateway(self, workers=2, drain_timeout="30s")
        ready_workers(gw, 2)
        c, t, result = self.start_slow(gw, "/hang?hang=1")
        rc, out, err = ctl_text(gw.control, "stop")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("stopping", out)
        self.assertEqual(gw.proc.wait(gwtest.TIMEOUT), 0, "gatewayd exit status")
        t.join(gwtest.TIMEOUT)
        self.assertFalse(t.is_alive(), "the client connection was left open")
        self.assertNotIn("r", result, "a hung request got a response")
        self.assertEqual(ctl_text(gw.control, "status")[0], 3)


if __name__ == "__main__":
    gwtest.main()
