"""Circuit breakers and health checks end to end: a breaker trips after
exactly N failures and the balancer then skips the instance; a service
whose every instance is open answers 503 without connecting; half-open
probes (at most probes= at a time, across workers) close the breaker or
open it again with the period doubled up to max_open; breaker_on decides
what counts (5xx, one status, or connect only); ratio mode; gatewayctl
breakers open / reset; health checks mark instances down and up again.

A dead instance is a port nothing listens on (gwtest.free_port()); where a
test brings it back, a gw-echo is started on that very port. Counts come
from the gateway's own surfaces: gatewayctl services/breakers/stats --json
and the "connect: Connection refused" lines of its log. Access-log lines
and diagnostics go through separate appenders, so their relative order
means nothing; a worker's diagnostics are in order among themselves,
though. So the log is read up to a marker: requests to /__marker (a route
to another dead port) until every worker has logged its refused connect;
each worker's earlier diagnostics come before its marker line."""

import os
import re
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402


def echo_on(case, port):
    """A gw-echo listening on 127.0.0.1:port (a port the test chose),
    stopped by case's cleanup."""
    proc = gwtest.Proc([gwtest.GW_ECHO, "-q", "-l", "127.0.0.1:%d" % port], "gw-echo",
                       stdout=subprocess.PIPE)
    case.addCleanup(proc.stop)
    out = gwtest.LineLog(proc.popen.stdout, "gw-echo stdout")
    proc.readers.append(out)
    _, line = out.wait_for(lambda l: l.startswith("listening "), gwtest.START_TIMEOUT)
    case.assertEqual(int(line.rsplit(":", 1)[1]), port)
    return proc


def instance(gw, service, port):
    """gatewayctl services --json: the entry of service's 127.0.0.1:port."""
    _, answer, _ = gw.ctl("services")
    for s in answer["services"]:
        if s["name"] == service:
            for inst in s["instances"]:
                if inst["address"] == "127.0.0.1:%d" % port:
                    return inst
    raise AssertionError("no instance %s 127.0.0.1:%d in %r" % (service, port, answer))


MARKER = """
[service marker]
instance = 127.0.0.1:$marker

[route marker]
path = /__marker
service = marker
"""


class Breaker(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo(n=2)
        cls.addClassCleanup(cls.echo.stop)
        cls.a, cls.b = cls.echo.ports

    def setUp(self):
        self.seq = 0
        self.marker = gwtest.free_port()

    def gateway(self, text, workers=1, **subs):
        """gatewayd on text (with $a, $b, the gw-echo ports) plus the
        marker route (see the module's doc)."""
        self.n_workers = workers
        gw = gwtest.Gateway(gwtest.gateway_section(workers=workers) +
                            gwtest.ini(text, a=self.a, b=self.b, **subs) +
                            gwtest.ini(MARKER, marker=self.marker))
        self.addCleanup(gw.stop)
        return gw

    # --- clients

    def get(self, gw, path):
        """One GET on a fresh connection, with a request id naming the
        test (for reading the log)."""
        self.seq += 1
        rid = "brk-%s-%d" % (self._testMethodName[-20:], self.seq)
        return gwtest.request(gw.port, "GET", path, headers={"X-Request-Id": rid})

    def statuses(self, gw, path, n):
        return [self.get(gw, path).status for _ in range(n)]

    def ports(self, gw, path, n):
        """Which gw-echo port served each of n requests (all must be 200)."""
        out = []
        for _ in range(n):
            r = self.get(gw, path)
            self.assertEqual(r.status, 200, r.body[:200])
            out.append(int(r.header("X-Echo-Port")))
        return out

    # --- the gateway's surfaces

    def lines_so_far(self, gw):
        """The log up to a marker line of every worker: it holds every
        diagnostic line of the requests made so far (bounded)."""
        needle = "upstream 127.0.0.1:%d: connect: Connection refused" % self.marker
        start = len(gw.lines())
        seen = {}

        def synced():
            self.assertEqual(gwtest.request(gw.port, "GET", "/__marker").status, 502)
            lines = gw.lines()
            for i in range(start, len(lines)):
                m = re.search(r" worker (\d+): ", lines[i])
                if m and needle in lines[i]:
                    seen.setdefault(m.group(1), i)
            return len(seen) == self.n_workers and max(seen.values()) + 1
        return gw.lines()[:gwtest.wait_until(synced, interval=0.02,
                                             what="a marker line from every worker")]

    def refused(self, gw, port, lines=None):
        """Refused connects to port in lines (default: lines_so_far())."""
        needle = "upstream 127.0.0.1:%d: connect: Connection refused" % port
        return sum(needle in l for l in (lines if lines is not None else self.lines_so_far(gw)))

    def breaker(self, gw, service, port):
        _, answer, _ = gw.ctl("breakers")
        for b in answer["breakers"]:
            if b["service"] == service and b["instance"] == "127.0.0.1:%d" % port:
                return b
        raise AssertionError("no breaker for %s 127.0.0.1:%d in %r" % (service, port, answer))

    def instance(self, gw, service, port):
        return instance(gw, service, port)

    def counter(self, gw, name):
        _, answer, _ = gw.ctl("stats")
        return answer["counters"][name]

    def assertGatewayError(self, r, status):
        self.assertEqual(r.status, status, r.body[:300])
        self.assertIsNone(r.header("X-Echo-Port"), "an upstream answered")
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        doc = r.json()
        self.assertEqual(doc["status"], status)
        self.assertTrue(doc["error"])
        self.assertEqual(doc["request_id"], r.header("X-Request-Id"))
        return doc

    def wait_probe(self, gw, path, status):
        """Send requests (each answered 503 while the breaker is open)
        until one is answered with status: the probe. Bounded."""
        def probe():
            r = self.get(gw, path)
            if r.status == status:
                return r
            self.assertGatewayError(r, 503)
            return None
        return gwtest.wait_until(probe, timeout=gwtest.TIMEOUT, interval=0.02,
                                 what="a probe answered %d" % status)

    # --- tripping

    def test_trips_after_exact_failures_then_skips(self):
        dead = gwtest.free_port()
        gw = self.gateway("""
            [service pair]
            instance = 127.0.0.1:$a
            instance = 127.0.0.1:$dead
            breaker = failures=3 window=60s open=30s

            [route all]
            path = /
            service = pair
            """, workers=2, dead=dead)
        got = [self.get(gw, "/pair/%d" % i) for i in range(24)]
        codes = [r.status for r in got]
        self.assertEqual(codes.count(502), 3, codes)
        third = [i for i, c in enumerate(codes) if c == 502][-1]
        self.assertEqual(codes[third + 1:], [200] * (len(codes) - third - 1), codes)
        for r in got:
            if r.status == 200:
                self.assertEqual(int(r.header("X-Echo-Port")), self.a)
            else:
                self.assertGatewayError(r, 502)

        lines = self.lines_so_far(gw)
        self.assertEqual(self.refused(gw, dead, lines), 3)
        inst = self.instance(gw, "pair", dead)
        self.assertEqual((inst["attempts"], inst["failures"]), (3, 3))
        self.assertEqual(inst["breaker"]["state"], "open")
        b = self.breaker(gw, "pair", dead)
        self.assertEqual((b["state"], b["open_for_ms"]), ("open", 30000))
        self.assertTrue(0 < b["remaining_ms"] <= 30000, b)
        good = self.breaker(gw, "pair", self.a)
        self.assertEqual((good["state"], good["failures"]), ("closed", 0))
        self.assertEqual(self.instance(gw, "pair", self.a)["failures"], 0)
        trips = [l for l in lines if "breaker: service pair instance 127.0.0.1:%d opened"
                 % dead in l]
        self.assertEqual(len(trips), 1, trips)
        self.assertEqual(self.counter(gw, "breaker_trips"), 1)

    def test_every_instance_open_503_without_connecting(self):
        dead = gwtest.free_port()
        gw = self.gateway("""
            [service lonely]
            instance = 127.0.0.1:$dead
            breaker = failures=3 window=60s open=30s

            [route all]
            path = /
            service = lonely
            """, dead=dead)
        for _ in range(3):
            self.assertGatewayError(self.get(gw, "/x"), 502)
        self.assertEqual(self.breaker(gw, "lonely", dead)["state"], "open")
        for _ in range(5):
            doc = self.assertGatewayError(self.get(gw, "/x"), 503)
            self.assertIn("no healthy instance", doc["error"])
        # No connect was tried for the five.
        self.assertEqual(self.refused(gw, dead), 3)
        self.assertEqual(self.instance(gw, "lonely", dead)["attempts"], 3)
        gwtest.wait_until(lambda: self.counter(gw, "unavailable") >= 5, what="5 unavailable")
        self.assertEqual(self.counter(gw, "unavailable"), 5)

    # --- half-open

    def test_probe_failure_doubles_then_success_closes(self):
        dead = gwtest.free_port()
        gw = self.gateway("""
            [service flaky]
            instance = 127.0.0.1:$dead
            breaker = failures=1 window=60s open=500ms max_open=1500ms probes=1

            [route all]
            path = /
            service = flaky
            """, workers=2, dead=dead)
        self.assertGatewayError(self.get(gw, "/trip"), 502)
        b = self.breaker(gw, "flaky", dead)
        self.assertEqual((b["state"], b["open_for_ms"]), ("open", 500))

        # Each failed probe opens it again for twice as long, up to max_open.
        for want in (1000, 1500, 1500):
            self.assertGatewayError(self.wait_probe(gw, "/probe", 502), 502)
            b = self.breaker(gw, "flaky", dead)
            self.assertEqual((b["state"], b["open_for_ms"]), ("open", want), b)
        lines = self.lines_so_far(gw)
        reopened = [l for l in lines if "breaker: service flaky instance 127.0.0.1:%d "
                    "failed its probe; open again" % dead in l]
        self.assertEqual(len(reopened), 3, reopened)
        self.assertEqual(self.refused(gw, dead, lines), 4)

        # The instance comes back: the next probe succeeds and closes it,
        # and the doubling starts over.
        echo_on(self, dead)
        r = self.wait_probe(gw, "/back", 200)
        self.assertEqual(int(r.header("X-Echo-Port")), dead)
        b = self.breaker(gw, "flaky", dead)
        self.assertEqual((b["state"], b["open_for_ms"], b["probes"]), ("closed", 500, 0))
        self.assertEqual(self.statuses(gw, "/after", 5), [200] * 5)
        gw.wait_line("breaker: service flaky instance 127.0.0.1:%d closed (probe succeeded)"
                     % dead)

    def test_half_open_admits_at_most_probes_across_workers(self):
        gw = self.gateway("""
            [service slow]
            instance = 127.0.0.1:$a
            breaker = failures=1 window=60s open=1s probes=2

            [route all]
            path = /
            service = slow
            """, workers=2)
        _, answer, _ = gw.ctl("breakers", "open", "slow", "127.0.0.1:%d" % self.a)
        self.assertEqual(answer["opened"], 1)
        self.assertGatewayError(self.get(gw, "/while-open"), 503)
        # The period ends; the first request after it is a probe (and
        # moves the breaker to half-open).
        gwtest.wait_until(lambda: self.breaker(gw, "slow", self.a)["remaining_ms"] == 0,
                          what="the open period to end")

        results = []

        def probe(i):
            r = gwtest.request(gw.port, "GET", "/probe%d?delay=3000" % i)
            results.append(r.status)

        threads = []
        for i in (1, 2):
            t = threading.Thread(target=probe, args=(i,))
            t.start()
            threads.append(t)
            gwtest.wait_until(lambda: self.breaker(gw, "slow", self.a)["probes"] == i,
                              what="%d probes in flight" % i)
            self.assertEqual(self.breaker(gw, "slow", self.a)["state"], "half-open")
        # Both probe slots are taken: every other request, whichever
        # worker gets it, is refused at once.
        for _ in range(10):
            self.assertGatewayError(self.get(gw, "/refused"), 503)
        self.assertEqual(self.breaker(gw, "slow", self.a)["probes"], 2)
        for t in threads:
            t.join(gwtest.TIMEOUT + 3)
        self.assertEqual(results, [200, 200])
        b = self.breaker(gw, "slow", self.a)
        self.assertEqual((b["state"], b["probes"]), ("closed", 0))
        self.assertEqual(self.statuses(gw, "/after", 5), [200] * 5)
        self.assertEqual(self.instance(gw, "slow", self.a)["attempts"], 7)

    # --- what counts

    def test_breaker_on_5xx(self):
        gw = self.gateway("""
            [service five]
            instance = 127.0.0.1:$a
            breaker = failures=3 window=60s open=30s
            breaker_on = 5xx

            [route all]
            path = /
            service = five
            """)
        self.assertEqual(self.get(gw, "/five?status=404").status, 404)
        for i in range(3):
            self.assertEqual(self.breaker(gw, "five", self.a)["state"], "closed")
            r = self.get(gw, "/five?status=%d" % (500, 502, 599)[i])
            self.assertEqual(int(r.header("X-Echo-Port")), self.a)
        b = self.breaker(gw, "five", self.a)
        self.assertEqual(b["state"], "open")
        self.assertGatewayError(self.get(gw, "/five"), 503)
        self.assertEqual(self.counter(gw, "breaker_trips"), 1)

    def test_breaker_on_one_status(self):
        gw = self.gateway("""
            [service only503]
            instance = 127.0.0.1:$a
            breaker = failures=3 window=60s open=30s
            breaker_on = 503

            [route all]
            path = /
            service = only503
            """)
        self.assertEqual(self.statuses(gw, "/o?status=500", 4), [500] * 4)
        b = self.breaker(gw, "only503", self.a)
        self.assertEqual((b["state"], b["failures"]), ("closed", 0))
        self.assertEqual(self.statuses(gw, "/o?status=503", 3), [503] * 3)
        self.assertEqual(self.breaker(gw, "only503", self.a)["state"], "open")
        self.assertGatewayError(self.get(gw, "/o"), 503)

    def test_breaker_on_connect_ignores_5xx(self):
        gw = self.gateway("""
            [service conn]
            instance = 127.0.0.1:$b
            breaker = failures=3 window=60s open=30s
            breaker_on = connect

            [route all]
            path = /
            service = conn
            """)
        # 500s pass through and count as failed attempts, but not for the
        # breaker.
        for _ in range(6):
            r = self.get(gw, "/conn?status=500")
            self.assertEqual((r.status, int(r.header("X-Echo-Port"))), (500, self.b))
        b = self.breaker(gw, "conn", self.b)
        self.assertEqual((b["state"], b["failures"]), ("closed", 0))
        self.assertEqual(self.get(gw, "/conn").status, 200)
        self.assertEqual(self.counter(gw, "breaker_trips"), 0)
        inst = self.instance(gw, "conn", self.b)
        self.assertEqual((inst["attempts"], inst["failures"]), (7, 6))

    def test_ratio(self):
        gw = self.gateway("""
            [service ratio]
            instance = 127.0.0.1:$a
            breaker = ratio=50% min_requests=4 window=60s open=30s
            breaker_on = 5xx

            [route all]
            path = /
            service = ratio
            """, workers=2)

        def state():
            b = self.breaker(gw, "ratio", self.a)
            return b["state"], b["failures"], b["requests"]

        steps = [(200, ("closed", 0, 1)), (500, ("closed", 1, 2)), (200, ("closed", 1, 3)),
                 (500, ("open", 0, 0))]
        # 2 of 4 failed: 50% once min_requests were seen.
        for status, want in steps:
            self.assertEqual(self.get(gw, "/r?status=%d" % status).status, status)
            self.assertEqual(state(), want, "after a %d" % status)
        gw.ctl("breakers", "reset", "ratio")
        # 1 of 4 and 2 of 5 stay under 50%; 3 of 6 does not.
        steps = [(200, ("closed", 0, 1)), (200, ("closed", 0, 2)), (200, ("closed", 0, 3)),
                 (500, ("closed", 1, 4)), (500, ("closed", 2, 5)), (500, ("open", 0, 0))]
        for status, want in steps:
            self.assertEqual(self.get(gw, "/r?status=%d" % status).status, status)
            self.assertEqual(state(), want, "after a %d" % status)

    # --- gatewayctl

    def test_ctl_open_and_reset(self):
        gw = self.gateway("""
            [service duo]
            instance = 127.0.0.1:$a
            instance = 127.0.0.1:$b
            breaker = failures=5 window=60s open=30s

            [route all]
            path = /
            service = duo
            """)
        self.assertEqual(sorted(self.ports(gw, "/x", 4)),
                         sorted([self.a, self.a, self.b, self.b]))
        _, answer, _ = gw.ctl("breakers", "open", "duo", "127.0.0.1:%d" % self.b)
        self.assertEqual(answer["opened"], 1)
        b = self.breaker(gw, "duo", self.b)
        self.assertEqual(b["state"], "open")
        self.assertTrue(0 < b["remaining_ms"] <= 30000, b)
        self.assertEqual(self.ports(gw, "/x", 10), [self.a] * 10)

        _, answer, _ = gw.ctl("breakers", "reset", "duo")
        self.assertEqual(answer["reset"], 2)
        self.assertEqual([self.breaker(gw, "duo", p)["state"] for p in (self.a, self.b)],
                         ["closed", "closed"])
        self.assertEqual(sorted(set(self.ports(gw, "/x", 10))), sorted([self.a, self.b]))

        gw.ctl("breakers", "open", "duo", "127.0.0.1:%d" % self.a)
        _, answer, _ = gw.ctl("breakers", "reset", "duo", "127.0.0.1:%d" % self.a)
        self.assertEqual(answer["reset"], 1)
        self.assertEqual(self.breaker(gw, "duo", self.a)["state"], "closed")

        rc, answer, _ = gw.ctl("breakers", "open", "nope", "127.0.0.1:1", check=False)
        self.assertEqual((rc, answer["code"]), (1, "not_found"))
        rc, answer, _ = gw.ctl("breakers", "open", "duo", "127.0.0.1:1", check=False)
        self.assertEqual((rc, answer["code"]), (1, "not_found"))


class Health(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo(n=2)
        cls.addClassCleanup(cls.echo.stop)
        cls.a, cls.b = cls.echo.ports

    def gateway(self, text, **subs):
        gw = gwtest.Gateway(gwtest.gateway_section(workers=1) +
                            gwtest.ini(text, a=self.a, b=self.b, **subs))
        self.addCleanup(gw.stop)
        return gw

    def instance(self, gw, service, port):
        return instance(gw, service, port)

    def wait_state(self, gw, service, port, state):
        """The instance's entry once it is checked and in state (bounded)."""
        def reached():
            inst = self.instance(gw, service, port)
            return inst if inst["state"] == state and inst["health"]["checked"] else None
        return gwtest.wait_until(reached, interval=0.05,
                                 what="%s 127.0.0.1:%d %s" % (service, port, state))

    def test_failing_health_path_marks_down(self):
        gw = self.gateway("""
            [service sick]
            instance = 127.0.0.1:$a
            health = /?status=503 interval=100ms timeout=100ms rise=1 fall=2

            [service fine]
            instance = 127.0.0.1:$b
            health = / interval=100ms timeout=100ms rise=1 fall=2

            [route sick]
            path = /sick
            service = sick

            [route fine]
            path = /fine
            service = fine
            """)
        inst = self.wait_state(gw, "sick", self.a, "down")
        self.assertEqual((inst["health"]["up"], inst["health"]["last_status"]), (False, 503))
        gw.wait_line("health: service sick instance 127.0.0.1:%d is down" % self.a)
        # Checked as often, the other one stays up.
        inst = self.instance(gw, "fine", self.b)
        self.assertEqual((inst["state"], inst["health"]["up"], inst["health"]["checked"],
                          inst["health"]["last_status"]), ("up", True, True, 200))

        for _ in range(3):
            r = gwtest.request(gw.port, "GET", "/sick")
            self.assertEqual(r.status, 503)
            self.assertIsNone(r.header("X-Echo-Port"))
            doc = r.json()
            self.assertEqual(doc["status"], 503)
            self.assertEqual(doc["request_id"], r.header("X-Request-Id"))
        self.assertEqual(self.instance(gw, "sick", self.a)["attempts"], 0)
        r = gwtest.request(gw.port, "GET", "/fine")
        self.assertEqual((r.status, int(r.header("X-Echo-Port"))), (200, self.b))
        self.assertEqual(self.instance(gw, "fine", self.b)["state"], "up")

    def test_down_instance_skipped_then_up_again(self):
        dead = gwtest.free_port()
        gw = self.gateway("""
            [service mixed]
            instance = 127.0.0.1:$a
            instance = 127.0.0.1:$dead
            health = / interval=100ms timeout=100ms rise=1 fall=2

            [route all]
            path = /
            service = mixed
            """, dead=dead)
        inst = self.wait_state(gw, "mixed", dead, "down")
        self.assertFalse(inst["health"]["up"])
        self.assertEqual(self.instance(gw, "mixed", self.a)["state"], "up")
        for _ in range(10):
            r = gwtest.request(gw.port, "GET", "/m")
            self.assertEqual((r.status, int(r.header("X-Echo-Port"))), (200, self.a))
        self.assertEqual(self.instance(gw, "mixed", dead)["attempts"], 0)

        echo_on(self, dead)
        inst = self.wait_state(gw, "mixed", dead, "up")
        self.assertEqual(inst["health"]["last_status"], 200)
        gw.wait_line("health: service mixed instance 127.0.0.1:%d is up again" % dead)
        seen = set()
        for _ in range(10):
            r = gwtest.request(gw.port, "GET", "/m")
            self.assertEqual(r.status, 200)
            seen.add(int(r.header("X-Echo-Port")))
        self.assertEqual(seen, {self.a, dead})


if __name__ == "__main__":
    gwtest.main()
