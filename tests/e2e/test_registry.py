"""The live instance registry end to end: gatewayctl instance add, remove
and drain, self-registration on the master's admin listener (PUT with a TTL
renewed by heartbeats, DELETE), runtime changes dropped by a reload, and
the in-flight counts that least_conn and p2c share across workers.

A registry change is published by the master as a new registry generation
(gatewayctl services' "generation"); a worker copies the newest snapshot
each time it wakes up, before it picks an instance for anything it read.
So once the generation has moved, every request sent afterwards sees the
change, and the tests check requests only then: bounded waits on the
published state, never sleeps.

Instances are told apart by gw-echo's X-Echo-Port header and the access
log's "upstream"; a request held in flight on purpose goes to gw-echo's
?hang (never answered) or to the small hold backend in this file, which
answers when the test releases it."""

import http.client
import os
import socket
import struct
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

TOKEN = "e2e-admin-token-0123456789"
NOTE_WORDS = ("runtime change", "reload", "restart")

POOL = """
[service pool]
instance = 127.0.0.1:$a
balance = $balance

[service other]
instance = 127.0.0.1:$a

[route other]
path = /other
service = other

[route all]
path = /
service = pool
"""


class HoldBackend(gwtest.ThreadedBackend):
    """An HTTP/1.1 upstream that holds every request until release(), then
    answers 200 "held" with X-Backend: hold. Keep-alive; counts requests."""

    def __init__(self):
        self.cond = threading.Condition()
        self.requests = 0	# heads received
        self.held = 0		# waiting for release()
        self.released = threading.Event()
        super().__init__(conn_timeout=2 * gwtest.TIMEOUT)

    def release(self):
        self.released.set()

    def wake(self):
        self.released.set()

    def wait_held(self, n, timeout=gwtest.TIMEOUT):
        with self.cond:
            return self.cond.wait_for(lambda: self.held == n, timeout)

    def serve(self, c):
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            _, buf = buf.split(b"\r\n\r\n", 1)
            with self.cond:
                self.requests += 1
                self.held += 1
                self.cond.notify_all()
            self.released.wait(2 * gwtest.TIMEOUT)
            with self.cond:
                self.held -= 1
                self.cond.notify_all()
            if self.stopping.is_set():
                return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Backend: hold\r\n\r\nheld")


class Base(unittest.TestCase):
    def setUp(self):
        self.echo = gwtest.Echo(n=2)
        self.addCleanup(self.echo.stop)
        self.a, self.b = self.echo.ports

    def start(self, workers=1, balance="round_robin", conf=POOL, **gateway):
        self.gw = gwtest.Gateway(gwtest.gateway_section(workers=workers, **gateway) +
                                 gwtest.ini(conf, a=self.a, b=self.b, balance=balance))
        self.addCleanup(self.gw.stop)
        return self.gw

    def addr(self, port):
        return "127.0.0.1:%d" % port

    def services(self):
        _, ans, _ = self.gw.ctl("services")
        return ans

    def instances(self, service="pool"):
        """{address: instance} of a service."""
        svc = [s for s in self.services()["services"] if s["name"] == service]
        self.assertEqual(len(svc), 1)
        return {i["address"]: i for i in svc[0]["instances"]}

    def generation(self):
        return self.services()["generation"]

    def published_after(self, gen, what="the registry change"):
        """Wait until the master has published a registry generation newer
        than gen: from then on every new request sees the change."""
        return gwtest.wait_until(lambda: self.generation() > gen, what=what + " published")

    def change(self, *args):
        """gatewayctl --json instance ARGS, then wait until it is published.
        Returns the answer."""
        gen = self.generation()
        _, ans, _ = self.gw.ctl("instance", *args)
        self.published_after(gen, "instance " + " ".join(map(str, args)))
        return ans

    def assertNote(self, ans):
        for word in NOTE_WORDS:
            self.assertIn(word, ans["note"])

    def ports_hit(self, n, path="/r"):
        """n requests on fresh connections: the X-Echo-Port of each (all
        must be 200, and the access log must name the same instance)."""
        out = []
        for i in range(n):
            self.sent = getattr(self, "sent", 0) + 1
            rid = "%s-%d" % (self._testMethodName, self.sent)
            r = gwtest.request(self.gw.port, "GET", "%s/%d" % (path, i),
                               headers={"X-Request-Id": rid})
            self.assertEqual(r.status, 200, r.body[:200])
            port = int(r.header("X-Echo-Port"))
            self.assertEqual(self.gw.wait_access(rid)["upstream"], self.addr(port))
            out.append(port)
        return out

    def worker_pids(self):
        _, ans, _ = self.gw.ctl("workers")
        return sorted((w["pid"], w["generation"]) for w in ans["workers"])

    def ctl_fails(self, code, *args):
        rc, ans, err = self.gw.ctl(*args, check=False)
        self.assertEqual(rc, 1, "gatewayctl %s: %s" % (" ".join(map(str, args)), err))
        self.assertEqual((ans["ok"], ans["code"]), (False, code), ans)
        return ans


class Instances(Base):
    def test_add_serves_without_worker_restart(self):
        self.start(workers=2)
        pids = self.worker_pids()
        self.assertEqual(len(pids), 2)
        self.assertEqual(set(self.ports_hit(4)), {self.a})

        ans = self.change("add", "pool", self.addr(self.b), "weight=2")
        self.assertEqual((ans["ok"], ans["service"], ans["instance"]),
                         (True, "pool", self.addr(self.b)))
        self.assertIsInstance(ans["slot"], int)
        self.assertNote(ans)
        inst = self.instances()
        self.assertEqual(sorted(inst), sorted([self.addr(self.a), self.addr(self.b)]))
        added = inst[self.addr(self.b)]
        self.assertEqual((added["dynamic"], added["state"], added["weight"], added["ttl_ms"],
                          added["slot"]), (True, "up", 2, None, ans["slot"]))
        self.assertFalse(inst[self.addr(self.a)]["dynamic"])
        # Another service of the same address list is untouched.
        self.assertEqual(list(self.instances("other")), [self.addr(self.a)])

        # Each worker rebuilt its round robin over both, so of 12 requests
        # some reach the new instance.
        hits = self.ports_hit(12)
        self.assertIn(self.b, hits)
        self.assertEqual(set(self.ports_hit(4, "/other")), {self.a})
        self.assertEqual(self.worker_pids(), pids, "workers were restarted")
        _, status, _ = self.gw.ctl("status")
        self.assertEqual(status["generation"], 1, "the configuration was reloaded")

    def test_drain_finishes_inflight_and_takes_no_new(self):
        hold = HoldBackend()
        self.addCleanup(hold.stop)
        self.start(conf=POOL.replace("instance = 127.0.0.1:$a\nbalance",
                                     "instance = 127.0.0.1:%d\ninstance = 127.0.0.1:$a\nbalance"
                                     % hold.port))
        held = self.addr(hold.port)

        # Round robin: of two requests in a row, one goes to the hold
        # backend and stays in flight there.
        results = []

        def client(i):
            try:
                results.append((i, gwtest.request(self.gw.port, "GET", "/slow/%d" % i,
                                                  headers={"X-Request-Id": "slow-%d" % i},
                                                  timeout=3 * gwtest.TIMEOUT)))
            except Exception as e:	# reported by the asserts below
                results.append((i, e))
        threads = []
        for i in range(2):
            t = threading.Thread(target=client, args=(i,), daemon=True)
            t.start()
            threads.append(t)
            gwtest.wait_until(lambda: hold.held == 1 or len(results) == i + 1,
                              what="request %d held or answered" % i)
            if hold.held:
                break
        self.assertEqual(hold.held, 1, "no request went to the hold backend")
        slow_id = len(threads) - 1
        self.assertEqual(self.instances()[held]["inflight"], 1)

        ans = self.change("drain", "pool", held)
        self.assertEqual((ans["ok"], ans["instance"]), (True, held))
        self.assertNote(ans)
        inst = self.instances()
        self.assertEqual((inst[held]["state"], inst[held]["inflight"]), ("draining", 1))
        self.assertEqual(inst[self.addr(self.a)]["state"], "up")
        # New requests never go to the draining instance...
        self.assertEqual(set(self.ports_hit(6)), {self.a})
        self.assertEqual(hold.requests, 1)
        # ...and the one in flight there finishes.
        hold.release()
        threads[-1].join(3 * gwtest.TIMEOUT)
        r = dict(results)[slow_id]
        self.assertIsInstance(r, gwtest.Response)
        self.assertEqual((r.status, r.body, r.header("X-Backend")), (200, b"held", "hold"))
        e = self.gw.wait_access("slow-%d" % slow_id)
        self.assertEqual((e["status"], e["upstream"]), (200, held))
        gwtest.wait_until(lambda: self.instances()[held]["inflight"] == 0,
                          what="the drained instance's request released")
        self.assertEqual(self.instances()[held]["state"], "draining")
        self.assertEqual(set(self.ports_hit(4)), {self.a})
        self.assertEqual(hold.requests, 1)

    def test_remove(self):
        self.start()
        self.change("add", "pool", self.addr(self.b))
        self.assertIn(self.b, self.ports_hit(4))
        ans = self.change("remove", "pool", self.addr(self.b))
        self.assertEqual((ans["ok"], ans["service"], ans["instance"]),
                         (True, "pool", self.addr(self.b)))
        self.assertNote(ans)
        self.assertEqual(list(self.instances()), [self.addr(self.a)])
        peers = gwtest.peers_of(self.b)
        self.assertEqual(set(self.ports_hit(8)), {self.a})
        self.assertEqual(gwtest.peers_of(self.b) - peers, set(),
                         "a new connection to the removed instance")
        # A file instance can be removed too; then the service has none.
        self.change("remove", "pool", self.addr(self.a))
        self.assertEqual(self.instances(), {})
        r = gwtest.request(self.gw.port, "GET", "/none")
        self.assertEqual(r.status, 503)

    def test_errors(self):
        self.start()
        self.change("add", "pool", self.addr(self.b))
        gen = self.generation()
        self.ctl_fails("not_found", "instance", "remove", "pool", "127.0.0.1:1")
        self.ctl_fails("not_found", "instance", "drain", "pool", "127.0.0.1:1")
        self.ctl_fails("not_found", "instance", "add", "nosuch", "127.0.0.1:1")
        self.ctl_fails("not_found", "instance", "remove", "nosuch", self.addr(self.a))
        self.ctl_fails("exists", "instance", "add", "pool", self.addr(self.a))	# from the file
        self.ctl_fails("exists", "instance", "add", "pool", self.addr(self.b))	# added
        # gatewayctl checks HOST:PORT's shape; the master refuses what does
        # not parse as an address (IPv4 must be a dotted quad).
        self.ctl_fails("invalid", "instance", "add", "pool", "127.1:80")
        rc, ans, err = self.gw.ctl("instance", "add", "pool", "127.0.0.1:0", check=False)
        self.assertEqual((rc, ans), (2, None), err)
        self.assertEqual(self.generation(), gen, "a refused change was published")
        self.assertEqual(sorted(self.instances()), sorted([self.addr(self.a), self.addr(self.b)]))

    def test_text_output_has_the_note(self):
        self.start()
        for verb in ("add", "drain", "remove"):
            r = subprocess.run([gwtest.GATEWAYCTL, "-s", self.gw.control, "instance", verb,
                                "pool", self.addr(self.b)], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(self.addr(self.b), r.stdout)
            note = [l for l in r.stdout.splitlines() if l.startswith("note: ")]
            self.assertEqual(len(note), 1, r.stdout)
            for word in NOTE_WORDS:
                self.assertIn(word, note[0])

    def test_reload_reapplies_the_file(self):
        self.start(admin_token=TOKEN)
        self.change("add", "pool", self.addr(self.b))
        self.change("drain", "pool", self.addr(self.a))
        gen = self.generation()
        self.assertEqual(self.gw.admin("PUT", "/registry/other/127.0.0.1:%d?ttl=1h" % self.b,
                                       TOKEN)[0], 201)
        self.published_after(gen)
        self.assertEqual(set(self.ports_hit(4)), {self.b})
        self.assertEqual(set(self.ports_hit(4, "/other")), {self.a, self.b})

        _, ans, _ = self.gw.ctl("reload")
        self.assertEqual(ans["generation"], 2)
        inst = self.instances()
        self.assertEqual(list(inst), [self.addr(self.a)])
        self.assertEqual((inst[self.addr(self.a)]["state"], inst[self.addr(self.a)]["dynamic"]),
                         ("up", False))
        self.assertEqual(list(self.instances("other")), [self.addr(self.a)])
        self.assertEqual(set(self.ports_hit(6)), {self.a})
        self.assertEqual(set(self.ports_hit(6, "/other")), {self.a})


class Admin(Base):
    def setUp(self):
        super().setUp()
        self.start(admin_token=TOKEN)
        self.assertIsNotNone(self.gw.admin_port, "no admin listener")
        self.reg_b = "/registry/pool/127.0.0.1:%d" % self.b

    def test_probes_and_listing(self):
        self.assertEqual(self.gw.admin("GET", "/healthz"), (200, {"ok": True}))
        # "master: ready" comes once the workers are spawned; /readyz is 200
        # once each of them accepts, which gatewayctl status counts.
        gwtest.wait_until(lambda: self.gw.ctl("status")[1]["workers"] == 1,
                          what="the worker ready")
        self.assertEqual(self.gw.admin("GET", "/readyz"), (200, {"ok": True}))
        status, doc = self.gw.admin("GET", "/registry")
        self.assertEqual(status, 200)
        self.assertEqual([s["name"] for s in doc["services"]], ["pool", "other"])
        self.assertEqual([i["address"] for i in doc["services"][0]["instances"]],
                         [self.addr(self.a)])
        self.assertEqual(doc["generation"], self.generation())

    def test_bad_requests(self):
        for method, path, status in (("GET", "/nope", 404), ("GET", "/registryx", 404),
                                     ("PUT", "/registry/pool", 404),
                                     ("PUT", "/registry/pool/127.0.0.1:1/x", 404),
                                     ("POST", self.reg_b, 405), ("GET", self.reg_b, 405),
                                     ("POST", "/healthz", 404)):
            with self.subTest(method=method, path=path):
                got, doc = self.gw.admin(method, path, TOKEN)
                self.assertEqual(got, status, doc)
                self.assertIs(doc["ok"], False)
        self.assertEqual(len(self.instances()), 1)

    def test_token_required(self):
        gen = self.generation()
        for token in (None, "wrong-token-0123456789xx", TOKEN + "x", TOKEN[:-1]):
            with self.subTest(token=token):
                self.assertEqual(self.gw.admin("PUT", self.reg_b, token)[0], 401)
                self.assertEqual(self.gw.admin("DELETE", "/registry/pool/%s" %
                                               self.addr(self.a), token)[0], 401)
        # Not a bearer credential.
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.admin_port, timeout=gwtest.TIMEOUT)
        self.addCleanup(conn.close)
        conn.request("PUT", self.reg_b, headers={"Authorization": "Basic " + TOKEN})
        self.assertEqual(conn.getresponse().status, 401)
        self.assertEqual(self.generation(), gen)
        self.assertEqual(list(self.instances()), [self.addr(self.a)])
        self.assertNotIn(TOKEN, "\n".join(self.gw.lines()), "the token was logged")

    def test_register_renew_delete(self):
        gen = self.generation()
        status, doc = self.gw.admin("PUT", self.reg_b, TOKEN)
        self.assertEqual((status, doc["ok"], doc["service"], doc["instance"], doc["ttl_ms"]),
                         (201, True, "pool", self.addr(self.b), 30000))
        self.published_after(gen)
        inst = self.instances()[self.addr(self.b)]
        self.assertTrue(inst["dynamic"])
        self.assertEqual((inst["state"], inst["weight"]), ("up", 1))
        self.assertIsNotNone(inst["ttl_ms"])
        self.assertLessEqual(inst["ttl_ms"], 30000)
        self.assertIn(self.b, self.ports_hit(4))

        # A heartbeat renews (200), here with a longer TTL and a weight.
        status, doc = self.gw.admin("PUT", self.reg_b + "?ttl=1h&weight=3", TOKEN)
        self.assertEqual((status, doc["ttl_ms"]), (200, 3600000))
        gwtest.wait_until(lambda: self.instances()[self.addr(self.b)]["weight"] == 3,
                          what="the new weight")
        self.assertGreater(self.instances()[self.addr(self.b)]["ttl_ms"], 30000)
        # Without weight=, a heartbeat keeps it.
        self.assertEqual(self.gw.admin("PUT", self.reg_b, TOKEN)[0], 200)
        self.assertEqual(self.instances()[self.addr(self.b)]["weight"], 3)

        gen = self.generation()
        self.assertEqual(self.gw.admin("DELETE", self.reg_b, TOKEN), (200, {"ok": True}))
        self.published_after(gen)
        self.assertEqual(list(self.instances()), [self.addr(self.a)])
        self.assertEqual(set(self.ports_hit(6)), {self.a})
        self.assertEqual(self.gw.admin("DELETE", self.reg_b, TOKEN)[0], 404)

    def test_refusals(self):
        gen = self.generation()
        file_inst = "/registry/pool/%s" % self.addr(self.a)
        for method, path, status in (("DELETE", file_inst, 409), ("PUT", file_inst, 409),
                                     ("PUT", "/registry/nosuch/127.0.0.1:1", 404),
                                     ("DELETE", "/registry/nosuch/127.0.0.1:1", 404),
                                     ("PUT", "/registry/pool/127.1:80", 400),
                                     ("PUT", "/registry/pool/127.0.0.1:0", 400),
                                     ("PUT", self.reg_b + "?ttl=0s", 400),
                                     ("PUT", self.reg_b + "?ttl=2h", 400),
                                     ("PUT", self.reg_b + "?ttl=soon", 400),
                                     ("PUT", self.reg_b + "?weight=0", 400),
                                     ("PUT", self.reg_b + "?weight=1001", 400)):
            with self.subTest(method=method, path=path):
                got, doc = self.gw.admin(method, path, TOKEN)
                self.assertEqual(got, status, doc)
                self.assertIs(doc["ok"], False)
        self.assertEqual(self.generation(), gen)
        self.assertEqual(list(self.instances()), [self.addr(self.a)])

    def test_missed_ttl_removes(self):
        gen = self.generation()
        self.assertEqual(self.gw.admin("PUT", self.reg_b + "?ttl=1s", TOKEN)[0], 201)
        self.published_after(gen)
        self.assertIn(self.b, self.ports_hit(4))
        mark = len(self.gw.lines())
        gen = self.generation()
        gwtest.wait_until(lambda: self.addr(self.b) not in self.instances(),
                          what="the instance removed after its TTL")
        self.gw.wait_line("missed its heartbeat", start=mark)
        self.published_after(gen, "the removal")
        self.assertEqual(set(self.ports_hit(6)), {self.a})
        self.assertEqual(self.gw.admin("DELETE", self.reg_b, TOKEN)[0], 404)

    def test_writes_refused_without_admin_token(self):
        gw = gwtest.Gateway(gwtest.gateway_section() + gwtest.ini(
            POOL, a=self.a, b=self.b, balance="round_robin"))
        self.addCleanup(gw.stop)
        for method, path in (("PUT", self.reg_b), ("DELETE", self.reg_b),
                             ("DELETE", "/registry/pool/%s" % self.addr(self.a))):
            for token in (None, TOKEN):
                with self.subTest(method=method, token=token):
                    self.assertEqual(gw.admin(method, path, token)[0], 403)
        self.assertEqual(gw.admin("GET", "/healthz")[0], 200)
        _, ans, _ = gw.ctl("services")
        self.assertEqual([i["address"] for i in ans["services"][0]["instances"]],
                         [self.addr(self.a)])


class SharedInflight(Base):
    """least_conn and p2c count requests in flight per instance in shared
    memory: two workers see each other's requests. The requests alternate
    between connections known to be held by worker 0 and worker 1, each
    started once the previous one is counted, so with shared counts the two
    instances never differ by more than one (with per-worker counts, the
    second worker would pick the same instance as the first)."""

    N = 8

    def conns_by_worker(self, per_worker):
        """Open connections until each of the two workers holds per_worker
        of them; {worker pid: [RawConn]}. A new connection is attributed to
        the worker whose "connections" gauge rose."""
        def counts():
            _, ans, _ = self.gw.ctl("workers")
            return {w["pid"]: w["connections"] for w in ans["workers"]}
        before = counts()
        self.assertEqual(len(before), 2)
        owned = {pid: [] for pid in before}
        for _ in range(64):
            if all(len(c) >= per_worker for c in owned.values()):
                break
            c = gwtest.RawConn(self.gw.port)
            self.addCleanup(c.close)
            now = gwtest.wait_until(
                lambda: (lambda n: sum(n.values()) == sum(before.values()) + 1 and n)(counts()),
                what="the new connection accepted")
            pid = [p for p in now if now[p] == before[p] + 1][0]
            owned[pid].append(c)
            before = now
        for pid, c in owned.items():
            self.assertGreaterEqual(len(c), per_worker, "worker %d got too few connections" % pid)
        return owned

    def inflight(self):
        return {a: i["inflight"] for a, i in self.instances().items()}

    def check_balance(self, balance):
        self.start(workers=2, balance=balance, header_timeout="60s", drain_timeout="0",
                   conf=POOL.replace("balance", "instance = 127.0.0.1:$b\nbalance", 1))
        owned = self.conns_by_worker(self.N // 2)
        order = [c for pair in zip(*[owned[p][:self.N // 2] for p in sorted(owned)]) for c in pair]
        for i, c in enumerate(order):
            c.send("GET /hold/%d?hang=1 HTTP/1.1\r\nHost: t\r\n\r\n" % i)
            counts = gwtest.wait_until(
                lambda: (lambda f: sum(f.values()) == i + 1 and f)(self.inflight()),
                what="request %d in flight" % i)
            a, b = counts[self.addr(self.a)], counts[self.addr(self.b)]
            self.assertLessEqual(abs(a - b), 1, "after request %d: %r" % (i, counts))
        self.assertEqual(sorted(self.inflight().values()), [self.N // 2, self.N // 2])
        _, ans, _ = self.gw.ctl("workers")
        self.assertEqual([w["inflight"] for w in ans["workers"]], [self.N // 2, self.N // 2])
        _, stats, _ = self.gw.ctl("stats")
        self.assertEqual(stats["gauges"]["inflight"], self.N)
        # Clients that abort (RST: a FIN alone is a half-close, which
        # still gets its response) release their picks.
        for c in order:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        gwtest.wait_until(lambda: sum(self.inflight().values()) == 0,
                          what="in-flight counts back to 0")

    def test_least_conn(self):
        self.check_balance("least_conn")

    def test_p2c(self):
        self.check_balance("p2c")


if __name__ == "__main__":
    gwtest.main()
