"""Slow-client attacks with slowhttptest (Debian package; tests/deps.sh
installs it) against a two-worker gateway with short client deadlines,
while a normal client keeps making requests (issue 5, Hardening):

  -H  slowloris: heads sent a field at a time -> header_timeout (a total);
  -B  slow body (R-U-Dead-Yet): a body a few bytes per second, each within
      client_body_timeout -> client_body_min_rate;
  -X  slow read: a tiny receive window, read a few bytes at a time ->
      send_timeout.

Each attack is bounded (-l seconds, a few hundred connections). Asserted:
every normal request made during the attack got 200; slowhttptest saw the
gateway close its connections (the "closed" count of its summary); the gateway
counted them as client timeouts; and once the attack is over the gateway's
connection gauge is back to 0. No assertion compares a duration: whether a
normal request was slow does not matter, only that it was served."""

import os
import re
import shutil
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

SLOWHTTPTEST = shutil.which("slowhttptest")
ATTACK_S = 6		# -l: how long each attack runs
CONNS = 300		# -c
NORMAL_MAX = 3000	# bound on the normal client's requests per attack


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def summary_of(out):
    """slowhttptest's last status block: {"closed": N, "connected": N, ...,
    "service available": "YES"/"NO"}."""
    found = {}
    for line in ANSI.sub("", out).splitlines():
        m = re.match(r"^(closed|connected|pending|initializing|error|service available):\s*(\S+)",
                     line.strip())
        if m:
            v = m.group(2)
            found[m.group(1)] = int(v) if v.isdigit() else v
    m = re.search(r"Exit status:\s*(.+)", ANSI.sub("", out))
    if "closed" not in found or "service available" not in found or not m:
        raise AssertionError("no summary in slowhttptest's output:\n" + out[-2000:])
    found["exit"] = m.group(1).strip()
    return found


class NormalClient(threading.Thread):
    """Requests on fresh connections until stopped (bounded in count);
    records every status, or the exception that replaced one."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.results = []

    def run(self):
        while not self.stop.is_set() and len(self.results) < NORMAL_MAX:
            try:
                r = gwtest.request(self.port, "GET", "/normal/%d" % len(self.results),
                                   timeout=10)
                self.results.append(r.status)
            except Exception as e:  # noqa: BLE001 - recorded and asserted on
                self.results.append(repr(e))


class SlowHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not SLOWHTTPTEST:
            raise AssertionError("slowhttptest is not installed (tests/deps.sh installs it)")
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)
        conf = gwtest.gateway_section(
            workers=2, header_timeout="2s", client_body_timeout="2s",
            client_body_min_rate="1K", send_timeout="1s", idle_timeout="2s",
            access_log="off")
        conf += gwtest.ini(gwtest.ONE_ROUTE, port=cls.echo.port)
        cls.gw = gwtest.Gateway(conf)
        cls.addClassCleanup(cls.gw.stop)

    def counters(self):
        return self.gw.ctl("stats")[1]

    def attack(self, name, args, path="/", length=ATTACK_S):
        before = self.counters()["counters"]["client_timeouts"]
        normal = NormalClient(self.gw.port)
        argv = [SLOWHTTPTEST] + args + [
            "-c", str(CONNS), "-r", "150", "-l", str(length), "-p", "3",
            "-u", "http://127.0.0.1:%d%s" % (self.gw.port, path)]
        normal.start()
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=length + 30)
        finally:
            normal.stop.set()
            normal.join(30)
        self.assertFalse(normal.is_alive())
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])

        # Every normal request during the attack was served.
        self.assertGreater(len(normal.results), 0)
        bad = [s for s in normal.results if s != 200]
        self.assertEqual(bad, [], "%d of %d normal requests failed"
                         % (len(bad), len(normal.results)))

        # slowhttptest's own view, from its last status block.
        summary = summary_of(r.stdout)
        self.assertEqual(summary["service available"], "YES", summary)
        self.assertEqual(summary["error"], 0, summary)

        # The gateway's view: cut off by its deadlines, and nothing left over.
        def settled():
            s = self.counters()
            return s["gauges"]["connections"] == 0 and s
        s = gwtest.wait_until(settled, timeout=15, what="the slow connections to be gone")
        self.assertGreater(s["counters"]["client_timeouts"], before)
        return summary

    def cut_off(self, summary):
        """The gateway closed the slow connections: all of them before the
        attack's end (slowhttptest then stops early), or some by then."""
        self.assertTrue(summary["exit"] == "No open connections left" or summary["closed"] > 0,
                        summary)

    def test_slowloris(self):
        self.cut_off(self.attack("slowloris", ["-H", "-i", "1", "-x", "10"], length=10))

    def test_slow_body(self):
        self.cut_off(self.attack("slowbody", ["-B", "-i", "1", "-s", "100000", "-x", "10"],
                                 length=10))

    def test_slow_read(self):
        # slowhttptest notices a close only when its slow reads reach the
        # end of what was sent, often after the attack: the gateway's
        # counters are the evidence here.
        self.attack("slowread", ["-X", "-k", "4", "-n", "2", "-w", "512", "-y", "1024",
                                 "-z", "32"], path="/?size=1048576")


if __name__ == "__main__":
    gwtest.main()
