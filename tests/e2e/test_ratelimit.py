"""Rate limits end to end: the budget is exact across workers (gwbench and
many threads), burst semantics, the 429 shape and the IETF RateLimit
headers, per-key buckets (by=ip, by=header:NAME, by=route), several rules
on one route, state kept across a reload and a worker's SIGKILL, and
gatewayctl limits show / reset.

Every rule's refill is slow next to a test (one request every 6 s at the
fastest, usually every 36 s or more), so counts are exact: nothing refills
while a test runs. Each test starts its own gatewayd (buckets are kept per
route and rule in the shared segment), in front of one gw-echo per class.

Clients bind to distinct loopback addresses (127.0.0.2, 127.0.0.3, ...)
when a test needs distinct by=ip keys."""

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

SERVICE = """
[service echo]
instance = 127.0.0.1:$port
"""


def route(name, *rules, path=None):
    """A [route] section sending path (default /NAME) to the echo service
    under the given rate_limit rules."""
    text = "\n[route %s]\npath = %s\nservice = echo\n" % (name, path or "/" + name)
    return text + "".join("rate_limit = %s\n" % r for r in rules)


def get(port, path, src="127.0.0.1", headers=None):
    """One GET on a fresh connection from source address src."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=gwtest.TIMEOUT,
                                      source_address=(src, 0))
    try:
        return gwtest.request(port, "GET", path, headers=headers, conn=conn)
    finally:
        conn.close()


def statuses(port, path, n, src="127.0.0.1", headers=None):
    return [get(port, path, src, headers).status for _ in range(n)]


def bench(*args, timeout=60):
    """gwbench --json to completion (exit 0); the parsed report."""
    r = subprocess.run([gwtest.GWBENCH, "--json"] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("gwbench %s: exit %d\n%s\n%s" % (" ".join(map(str, args)),
                                                            r.returncode, r.stdout, r.stderr))
    return json.loads(r.stdout.strip().splitlines()[-1])


def rl_fields(value):
    """'"name";r=3;t=12' -> ("name", {"r": "3", "t": "12"})."""
    name, _, rest = value.partition(";")
    params = dict(p.split("=", 1) for p in rest.split(";") if p)
    return name, params


class RateLimit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)

    def gateway(self, routes, workers=1):
        gw = gwtest.Gateway(gwtest.gateway_section(workers=workers) +
                            gwtest.ini(SERVICE, port=self.echo.port) + routes)
        self.addCleanup(gw.stop)
        return gw

    def limits(self, gw, route_name, key):
        """gatewayctl limits show ROUTE KEY: the rules' list."""
        _, answer, _ = gw.ctl("limits", "show", route_name, key)
        self.assertEqual((answer["route"], answer["key"]), (route_name, key))
        return answer["rules"]

    def remaining(self, gw, route_name, key):
        return [rule["remaining"] for rule in self.limits(gw, route_name, key)]

    def counter(self, gw, name):
        _, answer, _ = gw.ctl("stats")
        return answer["counters"][name]

    def wait_workers(self, gw, n, exclude=()):
        """The ready workers of the newest generation once there are n of
        them and none of their pids is in exclude (bounded)."""
        def ready():
            _, answer, _ = gw.ctl("workers")
            ws = answer["workers"]
            gen = max(w["generation"] for w in ws) if ws else 0
            ws = [w for w in ws if w["generation"] == gen and w["state"] == "ready"]
            if len(ws) == n and not any(w["pid"] in exclude for w in ws):
                return ws
            return None
        return gwtest.wait_until(ready, timeout=gwtest.START_TIMEOUT,
                                 what="%d ready workers" % n)

    def assertAdmitsExactly(self, gw, path, n, src="127.0.0.1", headers=None, extra=3):
        """n requests are served, then every one of extra more gets 429."""
        got = statuses(gw.port, path, n + extra, src, headers)
        self.assertEqual(got, [200] * n + [429] * extra)

    # --- exactness across workers

    def test_exact_budget_two_workers_gwbench(self):
        """100/hour by=ip, 300 requests over 30 connections into 2 workers:
        exactly 100 are served and exactly 200 refused."""
        gw = self.gateway(route("all", "100/hour by=ip", path="/"), workers=2)
        self.wait_workers(gw, 2)
        r = bench("-n", 300, "-c", 30, "http://127.0.0.1:%d/exact" % gw.port)
        self.assertEqual(r["requests"], 100, r)
        self.assertEqual(r["errors"]["status"], {"429": 200}, r)
        self.assertEqual(r["errors"]["total"], 200, r)
        _, answer, _ = gw.ctl("workers")
        served = [w["requests"] for w in answer["workers"]]
        self.assertEqual(len(served), 2, answer)
        self.assertEqual(sum(served), 300, answer)
        self.assertTrue(all(n > 0 for n in served), "one worker served nothing: %r" % answer)
        gwtest.wait_until(lambda: self.counter(gw, "rate_limited") >= 200,
                          what="200 rate_limited in stats")
        self.assertEqual(self.counter(gw, "rate_limited"), 200)
        rules = self.limits(gw, "all", "127.0.0.1")
        self.assertEqual([(x["limit"], x["remaining"], x["present"]) for x in rules],
                         [(100, 0, True)])

    def test_exact_budget_threads_per_header_key(self):
        """30 threads, 300 requests each on its own connection, 3 API keys
        limited to 20 each: exactly 20 served per key."""
        gw = self.gateway(route("keys", "20/hour by=header:x-api-key"), workers=2)
        self.wait_workers(gw, 2)
        results = {"k0": [], "k1": [], "k2": []}
        lock = threading.Lock()
        errors = []

        def client(i):
            try:
                for j in range(10):
                    key = "k%d" % ((i + j) % 3)
                    st = get(gw.port, "/keys/x", headers={"X-Api-Key": key}).status
                    with lock:
                        results[key].append(st)
            except Exception as e:	# reported below, in the test's thread
                with lock:
                    errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "a client thread hung")
        self.assertEqual(errors, [])
        for key, got in results.items():
            self.assertEqual((got.count(200), got.count(429), len(got)), (20, 80, 100), key)
            self.assertEqual(self.remaining(gw, "keys", key), [0])

    # --- burst

    def test_burst_semantics(self):
        """10/min: a bucket of 10; burst=3: a bucket of 3 at the same rate."""
        gw = self.gateway(route("ten", "10/min") + route("three", "10/min burst=3"))
        self.assertAdmitsExactly(gw, "/ten", 10)
        self.assertAdmitsExactly(gw, "/three", 3)
        self.assertEqual([(x["rule"], x["limit"]) for x in self.limits(gw, "three", "127.0.0.1")],
                         [("10/60000ms burst=3 by=ip", 3)])
        self.assertEqual([(x["rule"], x["limit"]) for x in self.limits(gw, "ten", "127.0.0.1")],
                         [("10/60000ms burst=10 by=ip", 10)])

    # --- headers

    def test_headers_admitted_and_429(self):
        gw = self.gateway(route("hdr", "5/min"))
        for left in (4, 3, 2, 1, 0):
            r = get(gw.port, "/hdr/a")
            gwtest.assert_echoed(self, r, "/hdr/a")
            self.assertEqual(r.header("RateLimit-Policy"), '"hdr";q=5;w=60')
            name, params = rl_fields(r.header("RateLimit"))
            self.assertEqual((name, params["r"]), ('"hdr"', str(left)), r.headers)
            self.assertGreater(int(params["t"]), 0)
            self.assertIsNone(r.header("Retry-After"))

        r = get(gw.port, "/hdr/b")
        self.assertEqual(r.status, 429)
        self.assertIsNone(r.header("X-Echo-Port"), "the upstream answered a refused request")
        self.assertTrue(r.header("Content-Type").startswith("application/json"), r.headers)
        doc = r.json()
        self.assertEqual(doc["status"], 429)
        self.assertTrue(doc["error"])
        self.assertEqual(doc["request_id"], r.header("X-Request-Id"))
        retry_after = r.header("Retry-After")
        self.assertRegex(retry_after or "", r"^[0-9]+$")
        # 5/min: one request back every 12 s.
        self.assertTrue(0 < int(retry_after) <= 12, retry_after)
        self.assertEqual(r.header("RateLimit-Policy"), '"hdr";q=5;w=60')
        name, params = rl_fields(r.header("RateLimit"))
        self.assertEqual((name, params["r"]), ('"hdr"', "0"))
        self.assertRegex(params["t"], r"^[0-9]+$")
        self.assertGreater(int(params["t"]), 0)
        entry = gw.wait_access(doc["request_id"])
        self.assertEqual(entry["status"], 429)

    def test_429_keeps_connection_usable(self):
        """A 429 on a keep-alive connection is a complete response: the
        next request on the same connection is answered too."""
        gw = self.gateway(route("ka", "1/hour"))
        conn = gwtest.keepalive_client(self, gw.port)
        self.assertEqual(gwtest.request(gw.port, "GET", "/ka/1", conn=conn).status, 200)
        self.assertEqual(gwtest.request(gw.port, "GET", "/ka/2", conn=conn).status, 429)
        self.assertEqual(gwtest.request(gw.port, "GET", "/ka/3", conn=conn).status, 429)

    # --- keys

    def test_by_ip_separate_buckets(self):
        gw = self.gateway(route("ip", "3/hour by=ip"))
        self.assertAdmitsExactly(gw, "/ip", 3, src="127.0.0.2")
        self.assertAdmitsExactly(gw, "/ip", 3, src="127.0.0.3")
        self.assertEqual(self.remaining(gw, "ip", "127.0.0.2"), [0])
        self.assertEqual(self.remaining(gw, "ip", "127.0.0.4"), [3])
        self.assertFalse(self.limits(gw, "ip", "127.0.0.4")[0]["present"])

    def test_by_header_separate_buckets(self):
        gw = self.gateway(route("hk", "3/hour by=header:x-api-key"))
        self.assertAdmitsExactly(gw, "/hk", 3, headers={"X-Api-Key": "alice"})
        # Another value has its own bucket, from the same address.
        self.assertAdmitsExactly(gw, "/hk", 3, headers={"x-api-key": "bob"})
        # Without the header: one bucket shared by every such request,
        # whatever the address.
        self.assertEqual(statuses(gw.port, "/hk", 2, src="127.0.0.2"), [200, 200])
        self.assertEqual(statuses(gw.port, "/hk", 2, src="127.0.0.3"), [200, 429])
        self.assertEqual(statuses(gw.port, "/hk", 1, headers={"X-Api-Key": "carol"}), [200])
        self.assertEqual(self.remaining(gw, "hk", "alice"), [0])
        self.assertEqual(self.remaining(gw, "hk", "carol"), [2])

    def test_by_route_one_bucket(self):
        gw = self.gateway(route("shared", "4/hour by=route"))
        got = [get(gw.port, "/shared", src, {"X-Api-Key": src}).status
               for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5",
                           "127.0.0.6", "127.0.0.7")]
        self.assertEqual(got, [200] * 4 + [429] * 2)
        # Any key names the route's one bucket.
        self.assertEqual(self.remaining(gw, "shared", "whoever"), [0])

    # --- several rules

    def test_rejected_request_costs_no_other_rule(self):
        gw = self.gateway(route("two", "5/hour by=route", "2/hour by=header:x-user"))
        a = {"X-User": "a"}
        self.assertEqual(statuses(gw.port, "/two", 2, headers=a), [200, 200])
        self.assertEqual(self.remaining(gw, "two", "a"), [3, 0])
        # Refused by the per-user rule: the route's total is not consumed.
        r = get(gw.port, "/two", headers=a)
        self.assertEqual(r.status, 429)
        self.assertIn(";q=2;w=3600", r.header("RateLimit-Policy"))
        self.assertEqual(self.remaining(gw, "two", "a"), [3, 0])
        self.assertEqual(statuses(gw.port, "/two", 3, headers=a), [429] * 3)
        self.assertEqual(self.remaining(gw, "two", "a"), [3, 0])
        # Three more users take the route's last 3.
        for user in ("b", "c", "d"):
            self.assertEqual(get(gw.port, "/two", headers={"X-User": user}).status, 200)
        self.assertEqual(self.remaining(gw, "two", "d"), [0, 1])
        # Refused by the route rule: user e's own bucket is untouched.
        r = get(gw.port, "/two", headers={"X-User": "e"})
        self.assertEqual(r.status, 429)
        self.assertIn(";q=5;w=3600", r.header("RateLimit-Policy"))
        self.assertEqual(self.remaining(gw, "two", "e"), [0, 2])

    # --- state kept across reloads and worker restarts

    def test_state_survives_reload(self):
        gw = self.gateway(route("keep", "10/hour by=ip"), workers=2)
        self.assertEqual(statuses(gw.port, "/keep", 4), [200] * 4)
        self.assertEqual(self.remaining(gw, "keep", "127.0.0.1"), [6])

        # A reload that changes another part of the file keeps the buckets.
        with open(gw.conf, "a") as f:
            f.write(route("other", "1/hour"))
        old = [w["pid"] for w in self.wait_workers(gw, 2)]
        _, answer, _ = gw.ctl("reload")
        self.assertEqual(answer["generation"], 2)
        self.wait_workers(gw, 2, exclude=old)
        self.assertEqual(self.remaining(gw, "keep", "127.0.0.1"), [6])
        self.assertAdmitsExactly(gw, "/keep", 6)
        self.assertEqual(self.remaining(gw, "keep", "127.0.0.1"), [0])

        # Changing the rule starts its buckets afresh.
        with open(gw.conf) as f:
            text = f.read()
        with open(gw.conf, "w") as f:
            f.write(text.replace("rate_limit = 10/hour by=ip", "rate_limit = 10/hour burst=2"))
        _, answer, _ = gw.ctl("reload")
        self.assertEqual(answer["generation"], 3)
        self.assertEqual([(x["rule"], x["remaining"]) for x in self.limits(gw, "keep", "127.0.0.1")],
                         [("10/3600000ms burst=2 by=ip", 2)])
        self.assertAdmitsExactly(gw, "/keep", 2)

    def test_state_survives_worker_kill(self):
        gw = self.gateway(route("keep", "10/hour by=ip"), workers=2)
        workers = self.wait_workers(gw, 2)
        self.assertEqual(statuses(gw.port, "/keep", 7), [200] * 7)
        self.assertEqual(self.remaining(gw, "keep", "127.0.0.1"), [3])
        # SIGKILL one worker; the master starts another; the budget goes on.
        victim = workers[0]["pid"]
        os.kill(victim, signal.SIGKILL)
        self.wait_workers(gw, 2, exclude=[victim])
        self.assertEqual(self.remaining(gw, "keep", "127.0.0.1"), [3])
        self.assertAdmitsExactly(gw, "/keep", 3)
        self.assertEqual(self.remaining(gw, "keep", "127.0.0.1"), [0])

    # --- gatewayctl limits

    def test_limits_show_and_reset(self):
        gw = self.gateway(route("lim", "3/hour by=ip"))
        for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            self.assertAdmitsExactly(gw, "/lim", 3, src=src, extra=1)
        rules = self.limits(gw, "lim", "127.0.0.2")
        self.assertEqual(len(rules), 1)
        rule = rules[0]
        self.assertEqual((rule["rule"], rule["limit"], rule["remaining"], rule["present"]),
                         ("3/3600000ms burst=3 by=ip", 3, 0, True))
        # 3/hour: one request back every 20 minutes.
        self.assertTrue(0 < rule["retry_after_ms"] <= 1200000, rule)
        self.assertTrue(0 < rule["reset_ms"] <= 3600000, rule)

        _, answer, _ = gw.ctl("limits", "reset", "lim", "127.0.0.2")
        self.assertEqual(answer["reset"], 1)
        self.assertEqual(self.remaining(gw, "lim", "127.0.0.2"), [3])
        self.assertEqual(self.remaining(gw, "lim", "127.0.0.3"), [0])
        self.assertAdmitsExactly(gw, "/lim", 3, src="127.0.0.2", extra=1)
        self.assertEqual(statuses(gw.port, "/lim", 1, src="127.0.0.3"), [429])

        gw.ctl("limits", "reset", "--all")
        for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            self.assertEqual(self.remaining(gw, "lim", src), [3])
            self.assertAdmitsExactly(gw, "/lim", 3, src=src, extra=1)

        rc, answer, _ = gw.ctl("limits", "show", "nope", "127.0.0.1", check=False)
        self.assertEqual((rc, answer["ok"], answer["code"]), (1, False, "not_found"))


if __name__ == "__main__":
    gwtest.main()
