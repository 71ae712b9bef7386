"""gwbench end to end: against gw-echo (and once through gatewayd), every
result gwbench reports is checked against what the backend was told to do:
latency of ?delay, request counts of -R and -n, each error class, pipelining,
no keep-alive, URL rotation, chunked bodies and the --json schema.

Every gwbench run is bounded by a subprocess timeout; exit statuses are
part of the contract (0 run, 1 nothing connected / --max-errors, 2 usage)."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

GWBENCH = os.environ.get("GWBENCH") or os.path.normpath(
    os.path.join(gwtest.HERE, "..", "..", "build", "bench", "gwbench", "gwbench"))

SCHEMA = {
    "url": str, "urls": int, "connections": int, "threads": int, "duration_s": float,
    "requests": int, "rps": float, "bytes": int, "bytes_per_s": float, "errors": dict,
    "latency_us": dict,
}
ERROR_KEYS = {"connect", "timeout", "read", "parse", "status", "total"}
LATENCY_KEYS = {"min", "mean", "p50", "p90", "p99", "p99.9", "p99.99", "max"}


def run(*args, timeout=30):
    """gwbench to completion; fails the test on a sanitizer report."""
    r = subprocess.run([GWBENCH] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    err = r.stderr.decode("utf-8", "replace")
    if any(m in err for m in gwtest.SANITIZER_MARKS):
        raise AssertionError("gwbench: sanitizer report:\n" + err[-4000:])
    return r.returncode, r.stdout.decode("utf-8", "replace"), err


def bench(*args, status=0, timeout=30):
    """gwbench --json; checks the exit status, returns the parsed object."""
    rc, out, err = run("--json", *args, timeout=timeout)
    if rc != status:
        raise AssertionError("gwbench %s: exit %d, want %d\nstdout: %s\nstderr: %s"
                             % (" ".join(map(str, args)), rc, status, out, err))
    lines = [l for l in out.splitlines() if l.strip()]
    if len(lines) != 1:
        raise AssertionError("--json printed %d lines: %r" % (len(lines), out))
    return json.loads(lines[0])


class Direct(unittest.TestCase):
    """Against gw-echo directly, a fresh one per test (its port's
    connection history in /proc/net/tcp then belongs to the test)."""

    def setUp(self):
        self.echo = gwtest.Echo()
        self.addCleanup(self.echo.stop)

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.echo.port, path)

    def assertNoErrors(self, r):
        self.assertEqual(r["errors"]["total"], 0, r["errors"])

    def test_delay_latency(self):
        r = bench("-c", 10, "-d", "3s", self.url("/?delay=50"))
        self.assertNoErrors(r)
        self.assertGreater(r["requests"], 0)
        self.assertLessEqual(abs(r["latency_us"]["p50"] - 50000), 2000, r["latency_us"])
        self.assertGreaterEqual(r["latency_us"]["min"], 50000 * 0.99)

    def test_rate_open_loop(self):
        r = bench("-R", 2000, "-d", "5s", "-c", 32, self.url("/"), timeout=40)
        self.assertNoErrors(r)
        self.assertLessEqual(abs(r["requests"] - 10000), 100, r)
        self.assertEqual(r["rate"], 2000)
        self.assertAlmostEqual(r["duration_s"], 5.0, delta=0.1)

    def test_rate_measures_from_schedule(self):
        """Open loop at 200/s on one connection to a 50 ms backend: only
        20/s can be answered, so requests queue and their latency, from the
        scheduled time, grows well past 50 ms (wrk2's correction)."""
        r = bench("-R", 200, "-d", "2s", "-c", 1, self.url("/?delay=50"))
        self.assertNoErrors(r)
        self.assertLess(r["requests"], 60)
        self.assertGreater(r["latency_us"]["max"], 500000)
        self.assertGreater(r["latency_us"]["p50"], 200000)

    def test_requests_exact(self):
        r = bench("-n", 1000, "-c", 8, self.url("/"))
        self.assertEqual(r["requests"], 1000)
        self.assertNoErrors(r)
        # Keep-alive: 8 connections, not 1000.
        self.assertLessEqual(len(self.echo.peers()), 8)

    def test_requests_exact_threads_pipeline(self):
        r = bench("-n", 999, "-c", 6, "-t", 2, "--pipeline", 4, self.url("/"))
        self.assertEqual(r["requests"], 999)
        self.assertEqual(r["threads"], 2)
        self.assertNoErrors(r)

    def test_pipeline(self):
        r = bench("-c", 4, "-n", 400, "--pipeline", 4, self.url("/"))
        self.assertEqual(r["requests"], 400)
        self.assertNoErrors(r)

    def test_no_keepalive(self):
        r = bench("-n", 60, "-c", 2, "--no-keepalive", self.url("/"))
        self.assertEqual(r["requests"], 60)
        self.assertNoErrors(r)
        # One connection per request; the server closed first, so it holds
        # the TIME_WAITs, which /proc/net/tcp still lists.
        self.assertGreaterEqual(len(self.echo.peers()), 60)
        r = bench("-c", 4, "-d", "1s", "--no-keepalive", self.url("/"))
        self.assertGreater(r["requests"], 0)
        self.assertNoErrors(r)

    def test_server_close_reconnects(self):
        """Connection: close responses end the connection without error."""
        r = bench("-n", 200, "-c", 4, self.url("/?close=1"))
        self.assertEqual(r["requests"], 200)
        self.assertNoErrors(r)

    def test_connect_refused(self):
        port = gwtest.free_port()
        r = bench("-c", 4, "-d", "1s", "http://127.0.0.1:%d/" % port, status=1)
        self.assertGreater(r["errors"]["connect"], 0)
        self.assertEqual(r["requests"], 0)
        self.assertEqual(r["errors"]["total"], r["errors"]["connect"])
        rc, _, err = run("-n", 10, "http://127.0.0.1:%d/" % port)
        self.assertEqual(rc, 1)
        self.assertIn("could not connect to 127.0.0.1:%d" % port, err)

    def test_timeout(self):
        # -n, not -d: every one of 6 requests times out, whatever the
        # machine's speed, so the count is exact.
        r = bench("-c", 2, "-n", 6, "--timeout", "200ms", self.url("/?hang=1"))
        self.assertEqual(r["requests"], 0)
        self.assertEqual(r["errors"]["timeout"], 6)
        self.assertEqual(r["errors"]["total"], 6)

    def test_status_errors(self):
        r = bench("-c", 2, "-d", "1s", self.url("/?status=503"))
        self.assertEqual(r["requests"], 0)
        self.assertGreater(r["errors"]["status"]["503"], 0)
        self.assertEqual(r["errors"]["total"], r["errors"]["status"]["503"])
        # --max-errors turns errors into exit status 1.
        bench("-n", 5, "--max-errors", 0, self.url("/?status=503"), status=1)
        bench("-n", 5, "--max-errors", 5, self.url("/?status=503"), status=0)

    def test_parse_errors(self):
        r = bench("-c", 2, "-d", "1s", self.url("/?bad=1"))
        self.assertEqual(r["requests"], 0)
        self.assertGreater(r["errors"]["parse"], 0)
        self.assertEqual(r["errors"]["total"], r["errors"]["parse"])
        self.assertEqual(r["latency_us"]["max"], 0)

    def test_read_errors(self):
        r = bench("-n", 20, "-c", 2, self.url("/?reset=1"))
        self.assertEqual(r["requests"], 0)
        self.assertEqual(r["errors"]["read"], 20)

    def test_chunked(self):
        r = bench("-c", 4, "-n", 100, self.url("/?chunked=1&size=5000"))
        self.assertEqual(r["requests"], 100)
        self.assertNoErrors(r)
        self.assertGreater(r["bytes"], r["requests"] * 5000)

    def test_post_body(self):
        r = bench("-n", 50, "-m", "POST", "--body", "x" * 3000, self.url("/?echo=body"))
        self.assertEqual(r["requests"], 50)
        self.assertNoErrors(r)
        self.assertGreater(r["bytes"], 50 * 3000)

    def test_localhost_name(self):
        r = bench("-n", 20, "http://localhost:%d/" % self.echo.port)
        self.assertEqual(r["requests"], 20)

    def test_json_schema(self):
        r = bench("-n", 100, "-c", 2, self.url("/?status=503"), self.url("/ok"))
        for k, t in SCHEMA.items():
            self.assertIn(k, r)
            self.assertIsInstance(r[k], (int, float) if t is float else t, k)
        self.assertIn("rate", r)
        self.assertIsNone(r["rate"])
        self.assertEqual(set(r["errors"]), ERROR_KEYS)
        self.assertEqual(set(r["latency_us"]), LATENCY_KEYS)
        for k in LATENCY_KEYS:
            self.assertIsInstance(r["latency_us"][k], (int, float))
        lat = r["latency_us"]
        self.assertLessEqual(lat["min"], lat["p50"])
        self.assertLessEqual(lat["p50"], lat["p90"])
        self.assertLessEqual(lat["p99.99"], lat["max"])
        self.assertEqual(r["urls"], 2)
        self.assertEqual(r["url"], self.url("/?status=503"))
        self.assertEqual(r["requests"] + r["errors"]["total"], 100)
        self.assertEqual(r["errors"]["status"], {"503": 50})

    def test_human_output(self):
        rc, out, err = run("-n", 20, self.url("/"), timeout=30)
        self.assertEqual(rc, 0, err)
        for needle in ("Running 20 requests @", "Latency", "p99.99", "20 requests in",
                       "Requests/sec:", "Errors: none"):
            self.assertIn(needle, out)
        self.assertEqual(err, "")	# not a terminal: no progress lines


class Usage(unittest.TestCase):
    def usage_error(self, *args):
        rc, out, err = run(*args, timeout=10)
        self.assertEqual(rc, 2, (out, err))
        self.assertTrue(err.startswith("gwbench: "), err)
        return err

    def test_usage_errors(self):
        self.assertIn("https is not supported yet", self.usage_error("https://127.0.0.1/"))
        self.assertIn("all URLs must share host:port",
                      self.usage_error("http://127.0.0.1:1/a", "http://127.0.0.1:2/b"))
        self.assertIn("unknown option", self.usage_error("--bogus", "http://127.0.0.1/"))
        self.assertIn("-d '5parsecs'", self.usage_error("-d", "5parsecs", "http://127.0.0.1/"))
        self.assertIn("no URL given", self.usage_error())
        self.assertIn("--urls /nonexistent",
                      self.usage_error("--urls", "/nonexistent/list"))
        rc, out, _ = run("--help", timeout=10)
        self.assertEqual(rc, 0)
        self.assertIn("usage: gwbench", out)


class ThroughGateway(unittest.TestCase):
    """Several URLs in rotation: gatewayd's access log shows which path
    each request asked for (gw-echo would only echo it in the body)."""

    @classmethod
    def setUpClass(cls):
        cls.echo, cls.gw = gwtest.echo_behind_gateway(cls)

    def test_rotation(self):
        paths = ["/rot/a", "/rot/b?x=1", "/rot/c"]
        base = "http://127.0.0.1:%d" % self.gw.port
        r = bench("-n", 30, "-c", 3, *[base + p for p in paths])
        self.assertEqual(r["requests"], 30)
        self.assertEqual(r["urls"], 3)

        def logged():
            return [e["path"] for e in self.gw.access_log()
                    if e.get("path", "").startswith("/rot/")]
        gwtest.wait_until(lambda: len(logged()) >= 30, what="30 access-log lines")
        got = logged()
        for p in paths:
            self.assertEqual(got.count(p), 10, got)

    def test_urls_file(self):
        base = "http://127.0.0.1:%d" % self.gw.port
        path = os.path.join(self.gw.dir, "urls.txt")
        with open(path, "w") as f:
            f.write("# routes\n%s/file/1\n\n  %s/file/2  \n" % (base, base))
        r = bench("-n", 10, "-c", 1, "--urls", path)
        self.assertEqual(r["requests"], 10)
        self.assertEqual(r["urls"], 2)

        def logged():
            return [e["path"] for e in self.gw.access_log()
                    if e.get("path", "").startswith("/file/")]
        gwtest.wait_until(lambda: len(logged()) >= 10, what="10 access-log lines")
        self.assertEqual(sorted(set(logged())), ["/file/1", "/file/2"])
        self.assertEqual(logged().count("/file/1"), 5)


if __name__ == "__main__":
    if not (os.path.isfile(GWBENCH) and os.access(GWBENCH, os.X_OK)):
        sys.stderr.write("gwbench not found at %s (set $GWBENCH)\n" % GWBENCH)
        sys.exit(1)	# a broken build, not a skip
    gwtest.main()
