"""Retries end to end (docs/config.md, Retries): which failures are retried
(on=), which methods (idempotent ones, or retry_non_idempotent), never once
response bytes reached the client, on another instance when there is one,
within the retry budget shared by every worker, and a route's policy
replacing the service's. Every attempt is visible in the access log
("attempts", "upstream") and in gatewayctl services (per-instance
attempts/failures) and stats (retries, retries_denied).

Each test starts its own gatewayd, so the gateway-wide counters it reads
are its own. Backoffs are 1..5 ms and no test sleeps: a dead instance is a
port nobody listens on (connection refused at once), a slow one is gw-echo's
?hang, and a response that breaks after its head comes from a small
raw-socket backend in this file that does what the test tells it to, when
the test tells it to."""

import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

FAST = "backoff=1ms..5ms"


class BrokenBackend(gwtest.ThreadedBackend):
    """An upstream whose responses break after the head: each request gets
    "200, Content-Length: BODY_LEN" and PARTIAL body bytes, then, in mode
    "stall", nothing more (the gateway's timeout fires mid-body); in modes
    "reset" and "close", an RST or a FIN once the test calls cut(), which it
    does after its client has read the head (so the failure comes strictly
    after response bytes reached the client). Counts connections and
    request heads."""

    BODY_LEN = 100000
    PARTIAL = 1000

    def __init__(self, mode):
        self.mode = mode
        self.requests = 0
        self.go = threading.Event()
        super().__init__()

    def cut(self):
        self.go.set()

    def wake(self):
        self.go.set()

    def serve(self, c):
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                return
            data += d
        with self.lock:
            self.requests += 1
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.BODY_LEN +
                  gwtest.pattern(self.PARTIAL))
        if self.mode == "stall":
            self.stopping.wait(2 * gwtest.TIMEOUT)
            return
        if not self.go.wait(gwtest.TIMEOUT):
            return
        if self.mode == "reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        c.close()


class Retry(unittest.TestCase):
    def setUp(self):
        # Two gw-echo listeners: two healthy instances told apart by the
        # X-Echo-Port header and the access log's "upstream".
        self.echo = gwtest.Echo(n=2)
        self.addCleanup(self.echo.stop)
        self.a, self.b = self.echo.ports
        self.stale_b = gwtest.peers_of(self.b)	# see Echo.stale_peers
        self.dead = gwtest.free_port()

    def start(self, services_and_routes, workers=1, **gateway):
        self.gw = gwtest.Gateway(gwtest.gateway_section(workers=workers, **gateway) +
                                 gwtest.ini(services_and_routes, a=self.a, b=self.b,
                                            dead=self.dead))
        self.addCleanup(self.gw.stop)
        return self.gw

    # --- helpers

    def send(self, path, rid, method="GET", body=None):
        """One request on a fresh connection; (response, access-log entry)."""
        r = gwtest.request(self.gw.port, method, path, body=body,
                           headers={"X-Request-Id": rid})
        return r, self.gw.wait_access(rid)

    def instances(self, service):
        """{port: instance} of one service, from gatewayctl services --json."""
        _, ans, _ = self.gw.ctl("services")
        svc = [s for s in ans["services"] if s["name"] == service]
        self.assertEqual(len(svc), 1, ans)
        return {int(i["address"].rsplit(":", 1)[1]): i for i in svc[0]["instances"]}

    def counters(self):
        _, ans, _ = self.gw.ctl("stats")
        return ans["counters"]

    def gauge(self, name):
        _, ans, _ = self.gw.ctl("stats")
        return ans["gauges"][name]

    def upstream(self, port):
        return "127.0.0.1:%d" % port

    def several(self, method, path, n, body=None):
        """n requests, each on a fresh connection: (responses, log entries).
        On a round-robin service of [dead, a], some of them go to the dead
        instance first; the caller checks what became of those."""
        out = []
        for i in range(n):
            out.append(self.send("%s/%d" % (path, i), "%s-%s-%d" % (method, path[1:], i),
                                 method, body))
        return [r for r, _ in out], [e for _, e in out]

    # --- which failures: on=

    def test_connect_failure_retried_on_the_good_instance(self):
        self.start("""
            [service mixed]
            instance = 127.0.0.1:$dead
            instance = 127.0.0.1:$a
            retry = 2 on=connect %s

            [route all]
            path = /
            service = mixed
            """ % FAST)
        n = 12
        rs, es = self.several("GET", "/c", n)
        for r, e in zip(rs, es):
            self.assertEqual(r.status, 200, e)
            self.assertEqual(r.header("X-Echo-Port"), str(self.a))
            self.assertEqual(e["upstream"], self.upstream(self.a), e)
            self.assertIn(e["attempts"], (1, 2), e)
        retried = sum(e["attempts"] == 2 for e in es)
        inst = self.instances("mixed")
        # Every refused connect was followed by exactly one retry, and only
        # those were: the retried count is the dead instance's failures.
        self.assertEqual(inst[self.dead]["failures"], retried)
        self.assertEqual(inst[self.dead]["attempts"], retried)
        self.assertEqual((inst[self.a]["attempts"], inst[self.a]["failures"]), (n, 0))
        self.assertGreaterEqual(retried, 1, "round robin never picked the dead instance first")
        self.assertGreaterEqual(n - retried, 1, "round robin never picked the good one first")
        c = self.counters()
        self.assertEqual((c["retries"], c["retries_denied"], c["upstream_failures"]),
                         (retried, 0, retried))

    def test_503_retried_on_every_instance_then_returned(self):
        self.start("""
            [service pair]
            instance = 127.0.0.1:$a
            instance = 127.0.0.1:$b
            retry = 2 on=connect,timeout,502,503,504 %s

            [service pair-connect]
            instance = 127.0.0.1:$a
            instance = 127.0.0.1:$b
            retry = 2 on=connect %s

            [route connect-only]
            path = /connect-only
            service = pair-connect

            [route all]
            path = /
            service = pair
            """ % (FAST, FAST))
        r, e = self.send("/x?status=503", "s503")
        self.assertEqual(r.status, 503)
        self.assertIsNotNone(r.header("X-Echo-Port"), "not the upstream's own 503")
        self.assertEqual(e["attempts"], 3, e)
        inst = self.instances("pair")
        # 1 + 2 attempts in all, each counted once, the first retry on the
        # instance not tried.
        self.assertEqual(sum(i["attempts"] for i in inst.values()), 3,
                         "attempts counted per instance: %r" % inst)
        self.assertEqual(sum(i["failures"] for i in inst.values()), 3, inst)
        self.assertGreaterEqual(inst[self.a]["attempts"], 1, inst)
        self.assertGreaterEqual(inst[self.b]["attempts"], 1, inst)

        r, e = self.send("/connect-only/x?status=503", "s503-connect-only")
        self.assertEqual(r.status, 503)
        self.assertEqual(e["attempts"], 1, e)
        inst = self.instances("pair-connect")
        self.assertEqual(sum(i["attempts"] for i in inst.values()), 1, inst)
        c = self.counters()
        self.assertEqual((c["retries"], c["upstream_failures"]), (2, 4), c)

    def test_5xx_attempt_counted_once(self):
        """Without retries, a 503 is one attempt and one failure, in the
        log and in the per-instance and gateway counters alike."""
        self.start("""
            [service one]
            instance = 127.0.0.1:$a

            [route all]
            path = /
            service = one
            """)
        r, e = self.send("/x?status=503", "s503-once")
        self.assertEqual((r.status, e["attempts"]), (503, 1), e)
        inst = self.instances("one")[self.a]
        self.assertEqual((inst["attempts"], inst["failures"]), (1, 1), inst)
        self.assertEqual(self.counters()["upstream_failures"], 1)

    def test_timeout_retried_then_504(self):
        self.start("""
            [service slow]
            instance = 127.0.0.1:$a
            instance = 127.0.0.1:$b
            timeout = 200ms
            retry = 2 on=timeout %s

            [route all]
            path = /
            service = slow
            """ % FAST)
        r, e = self.send("/t?hang=1", "hang")
        self.assertEqual(r.status, 504)
        self.assertEqual(r.json()["status"], 504)
        self.assertEqual((e["status"], e["attempts"]), (504, 3), e)
        inst = self.instances("slow")
        self.assertEqual(sum(i["attempts"] for i in inst.values()), 3, inst)
        self.assertEqual(sum(i["failures"] for i in inst.values()), 3, inst)
        self.assertGreaterEqual(inst[self.a]["attempts"], 1, "no attempt on %d" % self.a)
        self.assertGreaterEqual(inst[self.b]["attempts"], 1, "no attempt on %d" % self.b)
        # Each attempt is a connection of its own (a timed-out one is never
        # pooled).
        self.assertEqual(len(self.echo.peers()) + len(gwtest.peers_of(self.b) - self.stale_b), 3)

    # --- which methods

    def test_post_not_retried_unless_allowed(self):
        self.start("""
            [service mixed]
            instance = 127.0.0.1:$dead
            instance = 127.0.0.1:$a
            retry = 2 on=connect %s

            [route post-ok]
            path = /post-ok
            service = mixed
            retry_non_idempotent = yes

            [route all]
            path = /
            service = mixed
            """ % FAST)
        # POST without a body (no Content-Length, no Transfer-Encoding).
        failed = 0
        for i in range(6):
            rid = "post-%d" % i
            with gwtest.RawConn(self.gw.port) as c:
                c.send("POST /post/%d HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n" % (i, rid))
                r = c.read_response()
            e = self.gw.wait_access(rid)
            self.assertEqual(e["attempts"], 1, e)
            if r.status == 502:
                failed += 1
                self.assertEqual(e["upstream"], self.upstream(self.dead), e)
            else:
                self.assertEqual((r.status, e["upstream"]), (200, self.upstream(self.a)), e)
        self.assertGreaterEqual(failed, 1, "no POST was sent to the dead instance")
        self.assertEqual(self.instances("mixed")[self.dead]["failures"], failed)
        self.assertEqual(self.counters()["retries"], 0)

        # The route keeps the service's policy and allows POST.
        rs, es = self.several("POST", "/post-ok", 6)
        for r, e in zip(rs, es):
            self.assertEqual(r.status, 200, e)
            self.assertEqual(e["upstream"], self.upstream(self.a), e)
        retried = sum(e["attempts"] == 2 for e in es)
        self.assertGreaterEqual(retried, 1)
        self.assertEqual(self.instances("mixed")[self.dead]["failures"], failed + retried)
        self.assertEqual(self.counters()["retries"], retried)

    def test_request_with_body_not_retried(self):
        """Bodies are streamed, not kept: a PUT (idempotent) with a body, or
        a POST with one on a route that allows POST retries, is not retried."""
        self.start("""
            [service mixed]
            instance = 127.0.0.1:$dead
            instance = 127.0.0.1:$a
            retry = 2 on=connect %s
            retry_non_idempotent = yes

            [route all]
            path = /
            service = mixed
            """ % FAST)
        failed = 0
        for method in ("PUT", "POST"):
            rs, es = self.several(method, "/body", 4, body=b"abc")
            for r, e in zip(rs, es):
                self.assertEqual(e["attempts"], 1, e)
                if r.status == 502:
                    failed += 1
                    self.assertEqual(e["upstream"], self.upstream(self.dead), e)
                else:
                    self.assertEqual(r.status, 200, e)
                    self.assertEqual(gwtest.echo_json(r)["body_bytes"], 3)
        self.assertGreaterEqual(failed, 2, "the dead instance was not picked first")
        self.assertEqual(self.instances("mixed")[self.dead]["failures"], failed)
        self.assertEqual(self.counters()["retries"], 0)
        # The same PUT without a body is retried.
        rs, es = self.several("PUT", "/nobody", 4)
        self.assertEqual([r.status for r in rs], [200] * 4)
        self.assertGreaterEqual(sum(e["attempts"] == 2 for e in es), 1, es)

    # --- never after response bytes

    def assertNotRetriedAfterHead(self, mode):
        backend = BrokenBackend(mode)
        self.addCleanup(backend.stop)
        self.gw = gwtest.Gateway(gwtest.gateway_section() + gwtest.ini("""
            [service broken]
            instance = 127.0.0.1:$port
            timeout = 300ms
            retry = 2 on=connect,timeout,reset,5xx %s

            [route all]
            path = /
            service = broken
            """ % FAST, port=backend.port))
        self.addCleanup(self.gw.stop)
        rid = "midbody-" + mode
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /m HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n" % rid)
            _, status, _, headers = c.read_head()
            self.assertEqual(status, 200)
            self.assertIn(("Content-Length", str(BrokenBackend.BODY_LEN)), headers)
            backend.cut()	# the client has the head: now break the response
            self.assertTrue(c.closed_by_peer(), "the gateway kept a broken response open")
            self.assertGreater(len(c.buf), 0, "no body byte before the cut")
            self.assertLess(len(c.buf), BrokenBackend.BODY_LEN)
            self.assertEqual(c.buf, gwtest.pattern(len(c.buf)), "bytes not from the response")
        e = self.gw.wait_access(rid)
        self.assertEqual(e["attempts"], 1, e)
        # A retry would have reached the backend (its only instance) and
        # been answered before the exchange ended and logged.
        self.assertEqual((len(backend.conns), backend.requests), (1, 1),
                         "the request was sent again")
        self.assertEqual(self.counters()["retries"], 0)

    def test_not_retried_after_head_timeout(self):
        self.assertNotRetriedAfterHead("stall")

    def test_not_retried_after_head_reset(self):
        self.assertNotRetriedAfterHead("reset")

    def test_not_retried_after_head_close(self):
        self.assertNotRetriedAfterHead("close")

    # --- the budget

    def test_budget_denies_retry(self):
        self.start("""
            [service dead]
            instance = 127.0.0.1:$dead
            retry = 2 on=connect budget=1%% min_concurrency=0 %s

            [service dead-min]
            instance = 127.0.0.1:$dead
            retry = 2 on=connect budget=1%% %s

            [route min]
            path = /min
            service = dead-min

            [route all]
            path = /
            service = dead
            """ % (FAST, FAST))
        r, e = self.send("/x", "denied")
        self.assertEqual(r.status, 502)
        self.assertEqual(e["attempts"], 1, e)
        c = self.counters()
        self.assertEqual((c["retries"], c["retries_denied"]), (0, 1), c)
        # min_concurrency (default 3) always allows a lone request's
        # retries; with one instance they go to the same one.
        r, e = self.send("/min/x", "min-concurrency")
        self.assertEqual(r.status, 502)
        self.assertEqual((e["attempts"], e["upstream"]), (3, self.upstream(self.dead)), e)
        c = self.counters()
        self.assertEqual((c["retries"], c["retries_denied"]), (2, 1), c)
        self.assertEqual(self.instances("dead-min")[self.dead]["failures"], 3)

    def test_budget_counts_requests_in_flight_in_every_worker(self):
        """budget=50% min_concurrency=0: alone, a request is 1 in flight and
        may have 0 retries in flight; with 4 more requests held in flight
        (in either worker), 5 * 50% = 2 retries may be in flight."""
        self.start("""
            [service dead]
            instance = 127.0.0.1:$dead
            retry = 2 on=connect budget=50%% min_concurrency=0 %s

            [service slow]
            instance = 127.0.0.1:$a

            [route slow]
            path = /slow
            service = slow

            [route all]
            path = /
            service = dead
            """ % FAST, workers=2, drain_timeout="0")
        r, e = self.send("/alone", "alone")
        self.assertEqual((r.status, e["attempts"]), (502, 1), e)
        self.assertEqual(self.counters()["retries_denied"], 1)

        held = []
        for i in range(4):
            c = gwtest.RawConn(self.gw.port)
            self.addCleanup(c.close)
            c.send("GET /slow/%d?hang=1 HTTP/1.1\r\nHost: t\r\n\r\n" % i)
            held.append(c)
        gwtest.wait_until(lambda: self.gauge("inflight") == 4, what="4 requests in flight")
        r, e = self.send("/crowd", "crowd")
        self.assertEqual((r.status, e["attempts"]), (502, 3), e)
        self.assertEqual(self.gauge("inflight"), 4, "the held requests did not stay in flight")
        c = self.counters()
        self.assertEqual((c["retries"], c["retries_denied"]), (2, 1), c)
        self.assertEqual(self.gauge("retries_inflight"), 0)

    # --- route policy over service policy

    def test_route_retry_replaces_service_retry(self):
        self.start("""
            [service pair]
            instance = 127.0.0.1:$a
            instance = 127.0.0.1:$b
            retry = 2 on=connect %s

            [service mixed]
            instance = 127.0.0.1:$dead
            instance = 127.0.0.1:$a
            retry = 2 on=connect %s

            ; retry = 1 with the default on= (which has 503), not the service's
            [route one]
            path = /one
            service = pair
            retry = 1 %s

            [route two]
            path = /two
            service = pair
            retry = 2 on=503 %s

            [route off]
            path = /off
            service = mixed
            retry = off

            [route mixed]
            path = /mixed
            service = mixed

            [route all]
            path = /
            service = pair
            """ % (FAST, FAST, FAST, FAST))
        for path, attempts in (("/svc", 1), ("/one", 2), ("/two", 3)):
            with self.subTest(route=path):
                r, e = self.send(path + "/x?status=503", "override" + path.replace("/", "-"))
                self.assertEqual(r.status, 503)
                self.assertEqual(e["attempts"], attempts, e)
        # retry = off on a route turns the service's connect retries off...
        rs, es = self.several("GET", "/off", 4)
        failed = [e for r, e in zip(rs, es) if r.status == 502]
        self.assertGreaterEqual(len(failed), 1)
        self.assertEqual([e["attempts"] for e in es], [1] * 4)
        # ...which the service's other route still has.
        rs, es = self.several("GET", "/mixed", 4)
        self.assertEqual([r.status for r in rs], [200] * 4)
        self.assertGreaterEqual(sum(e["attempts"] == 2 for e in es), 1, es)


if __name__ == "__main__":
    gwtest.main()
