"""Reload end to end (DESIGN.md section 2, master/reload.c): gatewayctl
reload and SIGHUP under keep-alive and new-connection load with zero failed
requests; an invalid file or a listen change refused with the running
configuration kept; the old generation draining its in-flight requests;
the worker count changing; rate-limit buckets, breakers and health surviving
a reload; and workers SIGKILLed under load leaving nothing of the shared
state claimed."""

import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

BENCH_BOUND = "60s"	# gwbench's own upper bound; the tests stop it with SIGINT
NO_ERRORS = {"connect": 0, "timeout": 0, "read": 0, "parse": 0, "status": {}, "total": 0}

ONE_SERVICE = """
[service echo]
instance = 127.0.0.1:$port

[route all]
path = /
service = echo
"""


# ---------------------------------------------------------------- helpers

def ctl_text(gw, *args):
    """gatewayctl without --json, as people run it: (status, stdout, stderr)."""
    r = subprocess.run([gwtest.GATEWAYCTL, "-s", gw.control] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def read_conf(gw):
    with open(gw.conf) as f:
        return f.read()


def write_conf(gw, text):
    with open(gw.conf, "w") as f:
        f.write(text)


def set_key(text, key, value):
    """text with the first `key = ...` line set to value, and that line's
    number (1-based)."""
    lines = text.split("\n")
    i = next(i for i, l in enumerate(lines) if re.match(r"%s\s*=" % re.escape(key), l))
    lines[i] = "%s = %s" % (key, value)
    return "\n".join(lines), i + 1


def status(gw):
    return gw.ctl("status")[1]


def stats(gw):
    return gw.ctl("stats")[1]


def workers(gw):
    return gw.ctl("workers")[1]["workers"]


def wait_generation(gw, generation, n, timeout=gwtest.TIMEOUT):
    """workers --json once it lists exactly n workers, all ready and of
    generation (older generations gone): bounded wait."""
    def check():
        ws = workers(gw)
        return (len(ws) == n and all(w["generation"] == generation and w["state"] == "ready"
                                     for w in ws) and ws)
    try:
        return gwtest.wait_until(check, timeout,
                                 what="%d ready workers of generation %d" % (n, generation))
    except AssertionError as e:
        raise AssertionError("%s; last: %r" % (e, workers(gw)))


def wait_progress(gw, since, n):
    """Bounded wait until the gateway has counted n more requests than
    since; returns the new count."""
    return gwtest.wait_until(
        lambda: (lambda c: c >= since + n and c)(stats(gw)["counters"]["requests"]),
        timeout=15, what="%d more requests through the gateway" % n)


def fresh_requests(case, gw, n, path):
    """n requests, each on its own connection: every one gets gw-echo's 200."""
    for i in range(n):
        r = gwtest.request(gw.port, "GET", "%s/%d" % (path, i))
        gwtest.assert_echoed(case, r, "%s/%d" % (path, i), "request %d" % i)


class Bench:
    """gwbench --json running in the background until finish() (SIGINT:
    it stops and still prints its report)."""

    def __init__(self, case, *args):
        self.proc = gwtest.Proc([gwtest.GWBENCH, "--json", "-d", BENCH_BOUND] +
                                [str(a) for a in args], "gwbench", stdout=subprocess.PIPE)
        self.out = gwtest.LineLog(self.proc.popen.stdout, "gwbench stdout")
        self.proc.readers.append(self.out)
        case.addCleanup(self.proc.stop)

    def finish(self):
        self.proc.kill(signal.SIGINT)
        rc = self.proc.wait(30)
        _, line = self.out.wait_for(lambda l: l.startswith("{"))
        self.proc.stop()	# reaps, checks for sanitizer reports
        if rc != 0:
            raise AssertionError("gwbench exit %s: %s" % (rc, self.proc.stderr.snapshot()))
        return json.loads(line)


class KeyClients:
    """Threads sending requests, each with a header value never sent
    before (every one a new rate-limit key, so an insert under a bucket's
    claim), reconnecting after a failure. Bounded by count and by stop()."""

    def __init__(self, port, path, header, threads=2, cap=3000):
        self.port, self.path, self.header, self.cap = port, path, header, cap
        self.keys = []
        self.ok = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True)
                        for t in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, t):
        conn = None
        for n in range(self.cap):
            if self.done.is_set():
                break
            key = "k-%d-%d" % (t, n)
            with self.lock:
                self.keys.append(key)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=gwtest.TIMEOUT)
                conn.request("GET", self.path, headers={self.header: key})
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    with self.lock:
                        self.ok += 1
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None	# a killed worker: go on with a new connection
        if conn is not None:
            conn.close()

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(gwtest.TIMEOUT * 2)
            if t.is_alive():
                raise AssertionError("a key client is stuck")


# ---------------------------------------------------------------- tests

class ReloadUnderLoad(unittest.TestCase):
    """The bar of DESIGN.md section 2: zero failed requests across reloads,
    for keep-alive clients and for a new connection per request."""

    def setUp(self):
        self.echo = gwtest.Echo(threads=2)
        self.addCleanup(self.echo.stop)
        self.gw = gwtest.Gateway(gwtest.gateway_section(workers=2, access_log="off") +
                                 gwtest.ini(ONE_SERVICE, port=self.echo.port))
        self.addCleanup(self.gw.stop)
        wait_generation(self.gw, 1, 2)
        url = "http://127.0.0.1:%d/load" % self.gw.port
        self.keepalive = Bench(self, "-c", 16, url)
        self.fresh = Bench(self, "-c", 4, "--no-keepalive", url)

    def finish(self, generation):
        """Stop both runs; each finished with no error of any class."""
        for name, b in (("keep-alive", self.keepalive), ("no-keepalive", self.fresh)):
            r = b.finish()
            self.assertGreater(r["requests"], 0, "%s run did no request" % name)
            self.assertEqual(r["errors"], NO_ERRORS, "%s run: %r" % (name, r))
        # The gateway's side: no 5xx; once nothing is in flight, every
        # request was answered 2xx, except those the runs abandoned when
        # they stopped (logged 499), at most one per connection.
        gwtest.wait_until(lambda: stats(self.gw)["gauges"]["inflight"] == 0,
                          what="no request in flight")
        c = stats(self.gw)["counters"]
        self.assertEqual(c["responses_5xx"], 0, c)
        self.assertEqual(c["responses_2xx"] + c["responses_4xx"], c["requests"], c)
        self.assertLessEqual(c["responses_4xx"], 16 + 4, c)
        ws = wait_generation(self.gw, generation, 2)
        self.assertEqual(sorted(w["pid"] for w in ws), self.gw.workers(),
                         "a process of an old generation is still around")

    def test_ten_gatewayctl_reloads(self):
        count = wait_progress(self.gw, 0, 1000)
        text = read_conf(self.gw)
        for i in range(10):
            # A real change each time: one more route.
            text += "\n[route extra-%d]\npath = /extra-%d\nservice = echo\n" % (i, i)
            write_conf(self.gw, text)
            rc, a, err = self.gw.ctl("reload")
            self.assertEqual((a["ok"], a["generation"], a["workers"]), (True, i + 2, 2), a)
            # Traffic flows through the new generation before the next reload.
            count = wait_progress(self.gw, count, 2000)
        self.assertEqual(status(self.gw)["generation"], 11)
        self.finish(11)
        r = gwtest.request(self.gw.port, "GET", "/extra-9/x")
        gwtest.assert_echoed(self, r, "/extra-9/x")

    def test_sighup_reloads(self):
        count = wait_progress(self.gw, 0, 1000)
        for generation in (2, 3, 4):
            self.gw.proc.kill(signal.SIGHUP)
            gwtest.wait_until(lambda: status(self.gw)["generation"] == generation,
                              what="generation %d after SIGHUP" % generation)
            count = wait_progress(self.gw, count, 2000)
        self.finish(4)
        self.assertEqual(len([l for l in self.gw.lines() if "configuration ok; starting "
                              "generation" in l]), 3)


class Refused(unittest.TestCase):
    """A reload the master refuses changes nothing: same generation, same
    worker processes, still serving."""

    def setUp(self):
        self.echo, self.gw = gwtest.echo_behind_gateway(self, workers=2)
        self.pids = sorted(w["pid"] for w in wait_generation(self.gw, 1, 2))
        self.good = read_conf(self.gw)
        # A keep-alive client of generation 1 across the refused reloads.
        self.client = gwtest.RawConn(self.gw.port)
        self.addCleanup(self.client.close)
        gwtest.assert_serves_next(self, self.client, "/before")

    def assertUnchanged(self, tag):
        self.assertEqual(status(self.gw)["generation"], 1)
        self.assertEqual(sorted(w["pid"] for w in wait_generation(self.gw, 1, 2)), self.pids)
        self.assertEqual(self.gw.workers(), self.pids)
        gwtest.assert_serves_next(self, self.client, "/%s/kept" % tag)
        fresh_requests(self, self.gw, 10, "/" + tag)

    def test_invalid_file(self):
        bad, wline = set_key(self.good, "workers", "lots")
        bad, sline = set_key(bad, "service", "nope")
        write_conf(self.gw, bad)
        rc, out, err = ctl_text(self.gw, "reload")
        self.assertEqual((rc, out), (1, ""), err)
        lines = err.splitlines()
        self.assertEqual(len(lines), 3, err)
        self.assertTrue(lines[0].startswith("gatewayctl: "), err)
        conf = re.escape(self.gw.conf)
        self.assertRegex(lines[1], r"^%s:%d: .*'lots'.*workers" % (conf, wline))
        self.assertRegex(lines[2], r"^%s:%d: .*'nope'" % (conf, sline))
        rc, a, _ = self.gw.ctl("reload", check=False)
        self.assertEqual((rc, a["ok"], a["code"], a["errors"]), (1, False, "invalid", lines[1:]))
        self.gw.wait_line("configuration invalid; keeping the running configuration")
        self.assertUnchanged("invalid")
        # SIGHUP with the same file: refused the same way.
        mark = len(self.gw.lines())
        self.gw.proc.kill(signal.SIGHUP)
        self.gw.wait_line("keeping the running configuration", start=mark)
        self.assertUnchanged("sighup")

        write_conf(self.gw, self.good)
        rc, out, err = ctl_text(self.gw, "reload")
        self.assertEqual((rc, out, err), (0, "reloaded: generation 2 (2 workers)\n", ""))
        wait_generation(self.gw, 2, 2)
        fresh_requests(self, self.gw, 10, "/fixed")

    def test_listen_change(self):
        port = gwtest.free_port()
        for changed in (set_key(self.good, "listen", "127.0.0.1:%d" % port)[0],
                        self.good.replace("[gateway]\n", "[gateway]\nlisten = 127.0.0.1:%d\n"
                                          % port, 1)):
            write_conf(self.gw, changed)
            rc, out, err = ctl_text(self.gw, "reload")
            self.assertEqual((rc, out), (1, ""), err)
            self.assertIn("restart", err)
            rc, a, _ = self.gw.ctl("reload", check=False)
            self.assertEqual((rc, a["ok"], a["code"]), (1, False, "invalid"), a)
            self.assertIn("restart", a["error"])
            self.assertUnchanged("listen")
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()


class Concurrent(unittest.TestCase):
    def test_simultaneous_reloads(self):
        """Five reloads at once: each one either runs or is refused as
        busy, and the generation counts exactly the ones that ran."""
        echo, gw = gwtest.echo_behind_gateway(self, workers=2)
        wait_generation(gw, 1, 2)
        procs = [subprocess.Popen([gwtest.GATEWAYCTL, "-s", gw.control, "--json", "reload"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(5)]
        answers = []
        for p in procs:
            out, err = p.communicate(timeout=30)
            a = json.loads(out)
            answers.append(a)
            self.assertEqual(p.returncode, 0 if a["ok"] else 1, (out, err))
        done = sorted(a["generation"] for a in answers if a["ok"])
        refused = [a for a in answers if not a["ok"]]
        self.assertGreaterEqual(len(done), 1, answers)
        self.assertEqual(done, list(range(2, 2 + len(done))), answers)
        for a in refused:
            self.assertEqual(a["code"], "busy", a)
        self.assertEqual(status(gw)["generation"], 1 + len(done))
        wait_generation(gw, 1 + len(done), 2)
        fresh_requests(self, gw, 10, "/after")

    def test_runtime_instance_dropped(self):
        """An instance added at runtime lasts until the next reload, which
        re-applies the file (docs/gatewayctl.md)."""
        echo = gwtest.Echo(n=2)
        self.addCleanup(echo.stop)
        gw = gwtest.Gateway(gwtest.gateway_section(workers=2) +
                            gwtest.ini(ONE_SERVICE, port=echo.ports[0]))
        self.addCleanup(gw.stop)
        wait_generation(gw, 1, 2)
        added = "127.0.0.1:%d" % echo.ports[1]
        _, a, _ = gw.ctl("instance", "add", "echo", added)
        self.assertIn("reload", a["note"])

        def instances():
            return [(i["address"], i["dynamic"]) for i in gw.ctl("services")[1]["services"][0]
                    ["instances"]]
        self.assertEqual(sorted(instances()), sorted([("127.0.0.1:%d" % echo.ports[0], False),
                                                      (added, True)]))
        gw.ctl("reload")
        self.assertEqual(instances(), [("127.0.0.1:%d" % echo.ports[0], False)])
        for i in range(6):
            r = gwtest.request(gw.port, "GET", "/r/%d" % i)
            self.assertEqual(r.header("X-Echo-Port"), str(echo.ports[0]))


class Drain(unittest.TestCase):
    def test_old_generation_drains(self):
        """A slow request on a keep-alive connection of generation 1
        finishes after the reload with Connection: close; an idle
        keep-alive connection is closed; then only generation 2 runs."""
        echo, gw = gwtest.echo_behind_gateway(self, workers=1)
        old = wait_generation(gw, 1, 1)[0]
        idle = gwtest.RawConn(gw.port)
        self.addCleanup(idle.close)
        gwtest.assert_serves_next(self, idle, "/idle")
        slow = gwtest.RawConn(gw.port, timeout=10)
        self.addCleanup(slow.close)
        gwtest.assert_serves_next(self, slow, "/warm")
        slow.send("GET /slow?delay=2000 HTTP/1.1\r\nHost: t\r\n\r\n")
        result = {}

        def read():
            try:
                result["r"] = slow.read_response()
            except Exception as e:	# reported below
                result["e"] = e
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        gwtest.wait_until(lambda: stats(gw)["gauges"]["inflight"] == 1,
                          what="the slow request in flight")

        _, a, _ = gw.ctl("reload")
        self.assertEqual(a["generation"], 2)
        ws = workers(gw)
        if reader.is_alive():
            # The slow request was still in flight while workers answered,
            # so its worker was there, draining.
            mine = [w for w in ws if w["pid"] == old["pid"]]
            self.assertEqual(len(mine), 1, ws)
            self.assertEqual((mine[0]["generation"], mine[0]["state"]), (1, "draining"))
            self.assertEqual(mine[0]["inflight"], 1, mine)
        self.assertEqual(len([w for w in ws if w["generation"] == 2]), 1, ws)

        self.assertTrue(idle.closed_by_peer(), "idle keep-alive connection kept open")
        self.assertEqual(idle.buf, b"")
        idle.close()	# ends the gateway's lingering close
        # New connections are served (by generation 2) meanwhile.
        fresh_requests(self, gw, 5, "/during")

        reader.join(10)
        self.assertFalse(reader.is_alive(), "the slow response never came")
        self.assertNotIn("e", result, "the slow request failed: %r" % result.get("e"))
        r = result["r"]
        gwtest.assert_echoed(self, r, "/slow")
        self.assertEqual((r.header("Connection") or "").lower(), "close", r)
        self.assertTrue(slow.closed_by_peer(), "connection kept open after its last response")
        slow.close()

        new = wait_generation(gw, 2, 1)
        self.assertNotEqual(new[0]["pid"], old["pid"])
        gwtest.wait_until(lambda: not gwtest.pid_alive(old["pid"]),
                          what="the old worker to exit")
        self.assertEqual(gw.workers(), [new[0]["pid"]])
        self.assertEqual(status(gw)["draining"], 0)
        gw.wait_line("worker (pid %d) of generation 1 exited with status 0" % old["pid"])


    def test_drain_timeout_ends_old_generation(self):
        """A request the upstream never answers cannot hold the old
        generation past drain_timeout."""
        echo, gw = gwtest.echo_behind_gateway(self, workers=1, drain_timeout="1s")
        old = wait_generation(gw, 1, 1)[0]
        hung = gwtest.RawConn(gw.port, timeout=15)
        self.addCleanup(hung.close)
        hung.send("GET /hang?hang=1 HTTP/1.1\r\nHost: t\r\n\r\n")
        gwtest.wait_until(lambda: stats(gw)["gauges"]["inflight"] == 1,
                          what="the hung request in flight")
        gw.ctl("reload")
        # The old worker is gone within drain_timeout (and the master's
        # grace after it); the hung connection is closed with it.
        gwtest.wait_until(lambda: not gwtest.pid_alive(old["pid"]), timeout=10,
                          what="the old worker to exit at its drain deadline")
        self.assertTrue(hung.closed_by_peer(10), "the hung connection was left open")
        new = wait_generation(gw, 2, 1)
        self.assertEqual(gw.workers(), [new[0]["pid"]])
        fresh_requests(self, gw, 5, "/after")


class WorkerCount(unittest.TestCase):
    def test_grow_and_shrink(self):
        """1 -> 2 -> 1 -> 3 workers under keep-alive and new-connection
        load: no failed request, and afterwards every listening socket of
        the group is served."""
        echo = gwtest.Echo(threads=2)
        self.addCleanup(echo.stop)
        gw = gwtest.Gateway(gwtest.gateway_section(workers=1, access_log="off") +
                            gwtest.ini(ONE_SERVICE, port=echo.port))
        self.addCleanup(gw.stop)
        wait_generation(gw, 1, 1)
        url = "http://127.0.0.1:%d/load" % gw.port
        runs = [("keep-alive", Bench(self, "-c", 16, url)),
                ("no-keepalive", Bench(self, "-c", 4, "--no-keepalive", url))]
        count = wait_progress(gw, 0, 1000)
        good = read_conf(gw)
        for generation, n in ((2, 2), (3, 1), (4, 3)):
            write_conf(gw, set_key(good, "workers", n)[0])
            _, a, _ = gw.ctl("reload")
            self.assertEqual((a["generation"], a["workers"]), (generation, n), a)
            ws = wait_generation(gw, generation, n)
            self.assertEqual(sorted(w["slot"] for w in ws), list(range(n)))
            st = status(gw)
            self.assertEqual((st["workers"], st["draining"]), (n, 0), st)
            count = wait_progress(gw, count, 2000)
        for name, b in runs:
            r = b.finish()
            self.assertGreater(r["requests"], 0, "%s run did no request" % name)
            self.assertEqual(r["errors"], NO_ERRORS, "%s run: %r" % (name, r))
        ws = wait_generation(gw, 4, 3)
        self.assertEqual(sorted(w["pid"] for w in ws), gw.workers())
        # Every socket of the group has a worker: new connections spread
        # over all of them and none is stranded.
        fresh_requests(self, gw, 40, "/gen4")
        # And back to one worker serving all three sockets.
        write_conf(gw, good)
        self.assertEqual(gw.ctl("reload")[1]["workers"], 1)
        wait_generation(gw, 5, 1)
        fresh_requests(self, gw, 40, "/gen5")


STATE = """
[service echo]
instance = 127.0.0.1:$p1
instance = 127.0.0.1:$p2
breaker = failures=5 window=10s open=60s

[service checked]
instance = 127.0.0.1:$p3
health = $health

[route limited]
path = /limited
service = echo
rate_limit = 10/d by=ip

[route checked]
path = /checked
service = checked

[route all]
path = /
service = echo
"""


class StateSurvives(unittest.TestCase):
    def test_buckets_breakers_health(self):
        echo = gwtest.Echo(n=3)
        self.addCleanup(echo.stop)
        p1, p2, p3 = echo.ports
        failing = "/hc?status=503 interval=100ms timeout=100ms fall=1 rise=1"
        gw = gwtest.Gateway(gwtest.gateway_section(workers=2) +
                            gwtest.ini(STATE, p1=p1, p2=p2, p3=p3, health=failing))
        self.addCleanup(gw.stop)
        wait_generation(gw, 1, 2)

        def instance(service):
            s = [s for s in gw.ctl("services")[1]["services"] if s["name"] == service]
            return s[0]["instances"]

        def limits():
            rules = gw.ctl("limits", "show", "limited", "127.0.0.1")[1]["rules"]
            self.assertEqual(len(rules), 1, rules)
            return rules[0]

        def breaker(port):
            bs = [b for b in gw.ctl("breakers")[1]["breakers"]
                  if b["instance"] == "127.0.0.1:%d" % port]
            self.assertEqual(len(bs), 1)
            return bs[0]

        # Health: the checked service's only instance goes down.
        gwtest.wait_until(lambda: instance("checked")[0]["health"]["up"] is False,
                          what="the failing health check to mark the instance down")
        # Buckets: 4 of 10 taken.
        for i in range(4):
            self.assertEqual(gwtest.request(gw.port, "GET", "/limited/%d" % i).status, 200)
        self.assertEqual((limits()["remaining"], limits()["present"]), (6, True))
        # Breakers: the second instance's is opened by hand.
        gw.ctl("breakers", "open", "echo", "127.0.0.1:%d" % p2)
        self.assertEqual(breaker(p2)["state"], "open")
        self.assertEqual(breaker(p1)["state"], "closed")

        # The reload changes the health check to one that passes but needs
        # 100 passes to rise (so the instance can only be up again if the
        # reload forgot it was down), and adds a route.
        passing = "/hc interval=100ms timeout=100ms fall=1 rise=100"
        text = read_conf(gw)
        self.assertIn(failing, text)
        write_conf(gw, text.replace(failing, passing) +
                   "\n[route extra]\npath = /extra\nservice = echo\n")
        _, a, _ = gw.ctl("reload")
        self.assertEqual(a["generation"], 2)
        wait_generation(gw, 2, 2)

        self.assertEqual((limits()["remaining"], limits()["present"]), (6, True))
        self.assertEqual(breaker(p2)["state"], "open")
        self.assertGreater(breaker(p2)["remaining_ms"], 0)
        self.assertEqual(breaker(p1)["state"], "closed")
        h = instance("checked")[0]["health"]
        self.assertIs(h["up"], False, "health state lost in the reload: %r" % h)
        self.assertEqual(gwtest.request(gw.port, "GET", "/checked").status, 503)
        # The open breaker keeps every request on the first instance.
        for i in range(10):
            r = gwtest.request(gw.port, "GET", "/extra/%d" % i)
            gwtest.assert_echoed(self, r, "/extra/%d" % i)
            self.assertEqual(r.header("X-Echo-Port"), str(p1))
        # And the bucket goes on where it was: 6 more, then 429.
        for i in range(6):
            self.assertEqual(gwtest.request(gw.port, "GET", "/limited/after-%d" % i).status, 200)
        self.assertEqual(gwtest.request(gw.port, "GET", "/limited/over").status, 429)
        self.assertEqual(limits()["remaining"], 0)


CRASH = """
[service echo]
instance = 127.0.0.1:$port
instance = 127.0.0.1:$silent
timeout = 300ms
breaker = failures=1 window=10s open=200ms max_open=200ms
retry = 2 on=connect,timeout backoff=1ms

[route load]
path = /load
service = echo
rate_limit = 1000000/s by=header:x-key

[route budget]
path = /budget
service = echo
rate_limit = $budget/d by=ip
"""


def silent_listener(case):
    """A port whose connections complete but are never accepted or
    answered: an upstream that times out every request."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(512)
    case.addCleanup(s.close)
    return s.getsockname()[1]


def upstream_holders(port, pids):
    """Pids among pids holding an established connection to port (an
    upstream attempt in flight): /proc/net/tcp's inodes matched against
    each process's descriptors."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] == "01" and int(parts[2].split(":")[1], 16) == port:
                inodes.add("socket:[%s]" % parts[9])
    holders = []
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
            if any(os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes for fd in fds):
                holders.append(pid)
        except OSError:
            pass	# gone meanwhile
    return holders


def replay(case, port, header, keys, msg, batch=200):
    """One request per key on one connection, pipelined in batches, one
    worker at a time: every one must be admitted."""
    with gwtest.RawConn(port) as c:
        for i in range(0, len(keys), batch):
            part = keys[i:i + batch]
            c.send("".join("GET /load HTTP/1.1\r\nHost: t\r\n%s: %s\r\n\r\n" % (header, k)
                           for k in part))
            for k in part:
                r = c.read_response()
                case.assertEqual(r.status, 200, "key %s (%s)" % (k, msg))


class CrashLoop(unittest.TestCase):
    KILLS = 10
    BUDGET = 5
    WORKERS = 3

    def test_kill_workers_under_load(self):
        """Workers SIGKILLed at random instants under load leave no rate
        limit bucket claimed, no breaker probe taken, no gauge counted."""
        seed = int(os.environ.get("GW_E2E_SEED") or time.time_ns() % 1000000)
        rng = random.Random(seed)
        msg = "seed %d (GW_E2E_SEED=%d reruns it)" % (seed, seed)
        echo = gwtest.Echo(threads=2)
        self.addCleanup(echo.stop)
        silent = silent_listener(self)
        gw = gwtest.Gateway(gwtest.gateway_section(workers=self.WORKERS, access_log="off") +
                            gwtest.ini(CRASH, port=echo.port, silent=silent,
                                       budget=self.BUDGET))
        self.addCleanup(gw.stop)
        wait_generation(gw, 1, self.WORKERS)
        base = "http://127.0.0.1:%d" % gw.port
        bench = Bench(self, "-c", 16, "-H", "X-Key: bench", base + "/load", base + "/budget")
        keys = KeyClients(gw.port, "/load", "X-Key", cap=10000)
        self.addCleanup(keys.done.set)

        count = wait_progress(gw, 0, 500)
        last_slot = None
        for i in range(self.KILLS):
            ws = wait_generation(gw, 1, self.WORKERS, timeout=20)	# respawn backoff
            # Any worker but the one just respawned: a worker that dies
            # within a second of its start is respawned with a growing
            # backoff (master/backoff.c), which would only slow the loop.
            ws = [w for w in ws if w["slot"] != last_slot]
            if i % 2:
                # Every other kill hits a worker while it holds the
                # breaker's probe: its attempt to the silent instance.
                def holder():
                    pids = upstream_holders(silent, [w["pid"] for w in ws])
                    return pids and [w for w in ws if w["pid"] in pids]
                ws = gwtest.wait_until(holder, what="a worker with a probe in flight")
            victim = rng.choice(ws)
            last_slot = victim["slot"]
            os.kill(victim["pid"], signal.SIGKILL)
            gwtest.wait_until(lambda: victim["pid"] not in [w["pid"] for w in workers(gw)],
                              timeout=20, what="worker %d to be replaced (%s)"
                              % (victim["pid"], msg))
            count = wait_progress(gw, count, 200)
        wait_generation(gw, 1, self.WORKERS, timeout=20)
        self.assertTrue(gw.proc.alive(), "the master died")

        r = bench.finish()
        keys.stop()
        self.assertGreater(r["requests"], 0, r)
        self.assertGreater(keys.ok, 0)
        self.assertEqual(len([l for l in gw.lines() if "killed by signal 9" in l]), self.KILLS)

        # Load over: every gauge back to 0, in the segment and per worker.
        # A connection whose client closed with a request in flight may
        # linger up to worker/client.c's LINGER_MS (5 s), hence the longer
        # bound for connections.
        def gauges_zero(names, per_worker):
            g = stats(gw)["gauges"]
            ws = workers(gw)
            return (all(g[n] == 0 for n in names) and
                    all(w[k] == 0 for w in ws for k in per_worker))
        for names, per_worker, bound in ((["inflight", "retries_inflight"], ["inflight"],
                                          gwtest.TIMEOUT),
                                         (["connections"], ["connections"], 15)):
            try:
                gwtest.wait_until(lambda: gauges_zero(names, per_worker), bound,
                                  what="%s back to 0" % "/".join(names))
            except AssertionError as e:
                raise AssertionError("%s (%s): %r %r" % (e, msg, stats(gw)["gauges"],
                                                         workers(gw)))
        for b in gw.ctl("breakers")[1]["breakers"]:
            self.assertEqual(b["probes"], 0, "%r (%s)" % (b, msg))

        # No bucket left claimed or reserved: every key sent during the
        # kills is taken once more, one at a time (so no contention), and
        # none gets BUSY.
        busy = status(gw)["rate_limit"]["busy"]
        replay(self, gw.port, "X-Key", ["bench"] + keys.keys, msg)
        self.assertEqual(status(gw)["rate_limit"]["busy"], busy, msg)

        # The budget route admits exactly its budget after a reset.
        _, a, _ = gw.ctl("limits", "reset", "budget", "127.0.0.1")
        self.assertEqual(a["reset"], 1, a)
        for i in range(self.BUDGET):
            self.assertEqual(gwtest.request(gw.port, "GET", "/budget/%d" % i).status, 200,
                             "request %d of the budget (%s)" % (i, msg))
        self.assertEqual(gwtest.request(gw.port, "GET", "/budget/over").status, 429, msg)
        rules = gw.ctl("limits", "show", "budget", "127.0.0.1")[1]["rules"]
        self.assertEqual([r["remaining"] for r in rules], [0])


if __name__ == "__main__":
    gwtest.main()
