"""Operations end to end: access-log reopen on SIGUSR1 (log rotation), IPv6
listeners and upstreams next to IPv4 ones, and workers pinned to distinct
CPUs of the inherited affinity mask."""

import http.client
import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402


def request6(port, path):
    conn = http.client.HTTPConnection("::1", port, timeout=gwtest.TIMEOUT)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def read_json_lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


class AccessLogReopen(unittest.TestCase):
    def test_sigusr1_reopens_file(self):
        echo = gwtest.Echo()
        self.addCleanup(echo.stop)
        gw = gwtest.Gateway(gwtest.gateway_section() + gwtest.ini("""
            [service echo]
            instance = 127.0.0.1:$port

            [route all]
            path = /
            service = echo
            """, port=echo.port), start=False)
        self.addCleanup(gw.stop)
        log = os.path.join(gw.dir, "access.log")
        with open(gw.conf) as f:
            text = f.read().replace("access_log = stderr", "access_log = " + log)
        with open(gw.conf, "w") as f:
            f.write(text)
        gw.start()

        gwtest.request(gw.port, "GET", "/one", headers={"X-Request-Id": "rot-1"})
        gwtest.wait_until(lambda: any(e["request_id"] == "rot-1" for e in read_json_lines(log)),
                          what="the first line in the log file")
        rotated = log + ".1"
        os.rename(log, rotated)
        mark = len(gw.lines())
        gw.proc.kill(signal.SIGUSR1)
        # The master forwards SIGUSR1; a request after the worker has it
        # must land in a new file at the old path.
        gwtest.wait_until(lambda: os.path.exists(log), what="the reopened log file")
        gwtest.request(gw.port, "GET", "/two", headers={"X-Request-Id": "rot-2"})
        gwtest.wait_until(lambda: any(e["request_id"] == "rot-2" for e in read_json_lines(log)),
                          what="the second line in the new file")
        self.assertEqual([e["request_id"] for e in read_json_lines(rotated)], ["rot-1"])
        self.assertEqual([e["request_id"] for e in read_json_lines(log)], ["rot-2"])
        self.assertFalse([l for l in gw.lines()[mark:] if "reopen" in l and "error" in l])


class IPv6(unittest.TestCase):
    def test_v6_listener_and_upstream(self):
        echo = gwtest.Proc([gwtest.GW_ECHO, "-q", "-l", "[::1]:0"], "gw-echo",
                           stdout=subprocess.PIPE)
        self.addCleanup(echo.stop)
        out = gwtest.LineLog(echo.popen.stdout, "gw-echo stdout")
        echo.readers.append(out)
        _, line = out.wait_for(lambda l: l.startswith("listening "), gwtest.START_TIMEOUT)
        echo_port = int(line.rsplit(":", 1)[1])

        gw = gwtest.Gateway(gwtest.ini("""
            [gateway]
            listen = 127.0.0.1:0
            listen = [::1]:0
            workers = 1
            pin_workers = no
            access_log = stderr

            [service echo6]
            instance = [::1]:$port

            [route all]
            path = /
            service = echo6
            """, port=echo_port))
        self.addCleanup(gw.stop)
        self.assertEqual(len(gw.ports), 2, gw.diagnostics())
        r = gwtest.request(gw.ports[0], "GET", "/via-v4")
        self.assertEqual(r.status, 200)
        self.assertEqual(gwtest.echo_json(r)["path"], "/via-v4")
        status, body = request6(gw.ports[1], "/via-v6")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual(doc["path"], "/via-v6")
        xff = {k.lower(): v for k, v in doc["headers"].items()}["x-forwarded-for"]
        self.assertEqual(xff, "::1")


class Pinning(unittest.TestCase):
    def test_workers_pinned_to_distinct_cpus(self):
        cpus = sorted(os.sched_getaffinity(0))
        self.assertGreaterEqual(len(cpus), 2, "the test machine has two CPUs")
        _, gw = gwtest.echo_behind_gateway(self, workers=2, pin_workers="yes")
        workers = gwtest.wait_until(lambda: len(gw.workers()) == 2 and gw.workers(),
                                    what="two workers")

        # A worker pins itself first thing after fork, and "master: ready"
        # may come before that: wait for both to have done it.
        def masks():
            m = sorted(tuple(sorted(os.sched_getaffinity(p))) for p in workers)
            return m if all(len(x) == 1 for x in m) else None
        self.assertEqual(gwtest.wait_until(masks, what="both workers pinned"),
                         [(cpus[0],), (cpus[1],)])
        self.assertEqual(gwtest.request(gw.port, "GET", "/x").status, 200)


if __name__ == "__main__":
    unittest.main()
