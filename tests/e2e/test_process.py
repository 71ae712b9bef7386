"""Process behaviour end to end: worker respawn, graceful SIGTERM with a
request in flight, and `gatewayd -t`."""

import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

CONF = """
[service echo]
instance = 127.0.0.1:$port
keepalive = $keepalive

[route all]
path = /
service = echo
"""


class Process(unittest.TestCase):
    def start(self, workers=1, keepalive=32):
        self.echo = gwtest.Echo()
        self.addCleanup(self.echo.stop)
        self.gw = gwtest.Gateway(gwtest.gateway_section(workers=workers) +
                                 gwtest.ini(CONF, port=self.echo.port, keepalive=keepalive))
        self.addCleanup(self.gw.stop)

    def test_killed_worker_respawned(self):
        self.start(workers=2)
        before = gwtest.wait_until(lambda: len(self.gw.workers()) == 2 and self.gw.workers(),
                                   what="two worker processes")
        victim = before[0]
        mark = len(self.gw.lines())
        os.kill(victim, signal.SIGKILL)
        self.gw.wait_line("respawned", start=mark)
        after = gwtest.wait_until(
            lambda: (lambda w: len(w) == 2 and victim not in w and w)(self.gw.workers()),
            what="a replacement worker")
        self.assertNotIn(victim, after)
        self.assertIn(before[1], after, "the surviving worker was replaced too")
        self.assertTrue(self.gw.proc.alive(), "the master died")
        for i in range(20):
            r = gwtest.request(self.gw.port, "GET", "/after-kill/%d" % i)
            self.assertEqual(r.status, 200)
            self.assertEqual(gwtest.echo_json(r)["path"], "/after-kill/%d" % i)

    def test_sigterm_finishes_inflight_request(self):
        self.start(workers=1, keepalive=0)
        # An idle keep-alive client, which the drain should close at once.
        idle = gwtest.RawConn(self.gw.port)
        self.addCleanup(idle.close)
        idle.send("GET /idle HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(idle.read_response().status, 200)

        slow = gwtest.RawConn(self.gw.port)
        self.addCleanup(slow.close)
        slow.send("GET /slow?delay=1000 HTTP/1.1\r\nHost: t\r\n\r\n")
        result = {}

        def read_slow():
            try:
                result["r"] = slow.read_response()
            except Exception as e:	# reported by the assertion below
                result["e"] = e
        reader = threading.Thread(target=read_slow, daemon=True)
        reader.start()
        # keepalive = 0: every request opens its own upstream connection,
        # so a second connection ever made to the echo port means the
        # gateway has parsed /slow and is proxying it.
        gwtest.wait_until(lambda: len(self.echo.peers()) >= 2,
                          what="the slow request to reach the upstream")
        self.assertTrue(reader.is_alive(), "the slow request finished too early")

        mark = len(self.gw.lines())
        self.gw.proc.kill(signal.SIGTERM)
        # The worker's own line, once its accept is cancelled and whatever
        # was already queued for it taken: from here on nothing new is
        # served. (A connection that reached the socket before that is
        # served, as the client knows nothing of the drain.)
        self.gw.log.wait_for(lambda l: re.search(r"worker \d+: stopped accepting", l),
                             start=mark)

        # No new connection is served from now on.
        late = None
        try:
            late = socket.create_connection(("127.0.0.1", self.gw.port), timeout=2)
            late.settimeout(gwtest.TIMEOUT)
            late.sendall(b"GET /late HTTP/1.1\r\nHost: t\r\n\r\n")
        except (ConnectionRefusedError, socket.timeout):
            late = None

        self.assertTrue(idle.closed_by_peer(), "idle keep-alive client not closed on drain")

        reader.join(gwtest.TIMEOUT)
        self.assertFalse(reader.is_alive(), "in-flight response never came")
        self.assertNotIn("e", result, "in-flight request failed: %r" % result.get("e"))
        r = result["r"]
        self.assertEqual(r.status, 200)
        self.assertEqual(gwtest.echo_json(r)["path"], "/slow")
        # The gateway closes after the last response of a drain; a client
        # closes its end on seeing that, which ends the gateway's linger.
        self.assertTrue(slow.closed_by_peer(), "connection kept open after the drain")
        slow.close()
        idle.close()

        rc = self.gw.proc.wait(gwtest.TIMEOUT)
        self.assertEqual(rc, 0, "gatewayd exit status after SIGTERM")
        if late is not None:
            data = b""
            try:
                while True:
                    d = late.recv(65536)
                    if not d:
                        break
                    data += d
            except ConnectionResetError:
                pass
            finally:
                late.close()
            self.assertFalse(data.startswith(b"HTTP/"), "a connection made after SIGTERM "
                             "was served: %r" % data[:100])

    def test_sigterm_idle_exits_zero(self):
        self.start(workers=2)
        self.assertEqual(gwtest.request(self.gw.port, "GET", "/x").status, 200)
        self.gw.proc.kill(signal.SIGTERM)
        self.assertEqual(self.gw.proc.wait(gwtest.TIMEOUT), 0)
        self.gw.wait_line("exiting")


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gw-e2e-t-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, text):
        path = os.path.join(self.dir, "bad.ini")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_bad_value_reports_file_and_line(self):
        path = self.write("[gateway]\nlisten = 127.0.0.1:0\nworkers = lots\n\n"
                          "[service s]\ninstance = 127.0.0.1:1\n\n"
                          "[route r]\npath = /\nservice = s\n")
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r"(?m)^%s:3: .*workers" % re.escape(path))

    def test_unknown_service_reports_line(self):
        path = self.write("[gateway]\nlisten = 127.0.0.1:0\n\n"
                          "[route r]\npath = /\nservice = nosuch\n")
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r"(?m)^%s:6: .*nosuch" % re.escape(path))

    def test_syntax_error_reports_line(self):
        path = self.write("[gateway]\nlisten = 127.0.0.1:0\nthis is not a key value line\n")
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r"(?m)^%s:3: " % re.escape(path))

    def test_missing_file(self):
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", os.path.join(self.dir, "none.ini")])
        self.assertNotEqual(rc, 0)
        self.assertTrue(err.strip())

    def test_demo_ini_ok(self):
        path = os.path.join(gwtest.SOURCE_ROOT, "conf", "demo.ini")
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertEqual(rc, 0, err)

    def test_example_ini_ok(self):
        path = os.path.join(gwtest.SOURCE_ROOT, "conf", "example.ini")
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertEqual(rc, 0, err)

    def test_check_does_not_start(self):
        """-t on a good file exits at once without binding its port."""
        port = gwtest.free_port()
        path = self.write("[gateway]\nlisten = 127.0.0.1:%d\n\n[service s]\n"
                          "instance = 127.0.0.1:1\n\n[route r]\npath = /\nservice = s\n" % port)
        rc, out, err = gwtest.run_gatewayd(["-t", "-c", path])
        self.assertEqual(rc, 0, err)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


if __name__ == "__main__":
    gwtest.main()
