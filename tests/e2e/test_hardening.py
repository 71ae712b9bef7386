"""Hardening end to end (issue 5): request limits (max_headers -> 431,
max_request_line -> 414), slow clients (slowloris against header_timeout,
a stalled and a dribbling body against client_body_timeout and
client_body_min_rate -> 408, a client that stops reading against
send_timeout -> closed), max_conns_per_ip across two workers (refused at
accept, per address, released on close and after a worker dies), the same
on a [tls] listener (a stalled handshake, plain and TLS counted together),
and error bodies that reveal nothing internal.

Timeouts are short (hundreds of ms) so each case is reached quickly; every
wait is bounded and no assertion compares a duration: the slow clients are
bounded in bytes, and the checks are on what the gateway answered."""

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
import test_tls as tls  # noqa: E402	(its certificate helpers)


def tearDownModule():
    shutil.rmtree(tls.CERTS, ignore_errors=True)	# made when test_tls is imported

ROUTES = """
[service echo]
instance = 127.0.0.1:$echo
timeout = $timeout

[service refused]
instance = 127.0.0.1:$refused

[route refused]
path = /refused
service = refused

[route api]
path = /api
service = echo
"""


def stats(gw):
    return gw.ctl("stats")[1]


def send_slowly(conn, chunks, interval):
    """Send chunks one by one, interval seconds apart, until the gateway
    answers (readable socket) or the chunks run out. Returns how many were
    sent. Bounded by len(chunks) * interval."""
    sent = 0
    for ch in chunks:
        r, _, _ = select.select([conn.sock], [], [], interval)
        if r:
            break
        try:
            conn.send(ch)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += 1
    return sent


class Limits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)
        conf = gwtest.gateway_section(
            max_headers="10", max_request_line="256", header_timeout="1s",
            client_body_timeout="500ms", client_body_min_rate="0", send_timeout="500ms",
            max_body_bytes="1K")
        conf += gwtest.ini(ROUTES, echo=cls.echo.port, refused=gwtest.free_port(), timeout="5s")
        cls.gw = gwtest.Gateway(conf)
        cls.addClassCleanup(cls.gw.stop)

    def raw(self, data):
        data, closed = gwtest.raw_exchange(self.gw.port, data)
        self.assertTrue(closed)
        return data

    def test_header_count(self):
        fields = "".join("X-F%d: v\r\n" % i for i in range(9))
        ok = self.raw("GET /api HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n"
                      % fields[:-len("X-F8: v\r\n")])
        self.assertEqual(gwtest.status_of(ok), 200, ok[:200])
        # Host + 9 = 10 fields: the limit; Host + 10: one over.
        at = self.raw("GET /api HTTP/1.0\r\nHost: t\r\n%s\r\n" % fields)
        self.assertEqual(gwtest.status_of(at), 200, at[:200])
        over = self.raw("GET /api HTTP/1.1\r\nHost: t\r\n%sX-Last: v\r\n\r\n" % fields)
        self.assertEqual(gwtest.status_of(over), 431, over[:200])
        self.assertIn(b'"error":"too many header fields"', over)

    def test_request_line(self):
        def line(n):	# a request line of exactly n bytes
            return "GET /api/%s HTTP/1.1" % ("a" * (n - len("GET /api/ HTTP/1.1")))
        ok = self.raw(line(256) + "\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertEqual(gwtest.status_of(ok), 200, ok[:200])
        over = self.raw(line(257) + "\r\nHost: t\r\n\r\n")
        self.assertEqual(gwtest.status_of(over), 414, over[:200])
        self.assertIn(b'"error":"request line too long"', over)

    def test_slowloris_cut_by_header_timeout(self):
        """A head sent a field at a time, each within any per-read timeout,
        still has to be complete within header_timeout (a total)."""
        with gwtest.RawConn(self.gw.port, timeout=10) as c:
            c.send("GET /api HTTP/1.1\r\nHost: t\r\n")
            sent = send_slowly(c, ["X-S: %d\r\n" % i for i in range(8)], 0.3)
            self.assertLess(sent, 8, "the gateway waited for the whole slow head")
            data = c.read_all()
        self.assertEqual(gwtest.status_of(data), 408, data[:200])
        self.assertIn(b'"error":"request header timeout"', data)

    def test_stalled_body_408(self):
        with gwtest.RawConn(self.gw.port, timeout=10) as c:
            c.send("POST /api HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789")
            data = c.read_all()
        self.assertEqual(gwtest.status_of(data), 408, data[:200])
        self.assertIn(b'"error":"request body timeout"', data)
        self.assertIn(b"Connection: close", data)

    def test_send_timeout_closes_a_client_that_does_not_read(self):
        before = stats(self.gw)["counters"]["client_timeouts"]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(gwtest.TIMEOUT)
        s.connect(("127.0.0.1", self.gw.port))
        s.sendall(b"GET /api?size=67108864 HTTP/1.1\r\nHost: t\r\n\r\n")

        def cut_off():
            st = stats(self.gw)
            return (st["counters"]["client_timeouts"] > before
                    and st["gauges"]["connections"] == 0)
        gwtest.wait_until(cut_off, timeout=15, what="send_timeout to close the reader")
        # The socket ends (EOF or reset) well before 64 MiB arrive.
        got = 0
        s.settimeout(gwtest.TIMEOUT)
        try:
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
        except ConnectionResetError:
            pass
        self.assertLess(got, 64 << 20)


class MinRate(unittest.TestCase):
    def test_dribbled_body_is_cut_off(self):
        """One byte every 300 ms never trips a 2 s between-reads timeout;
        the minimum rate (100 B/s after 2 s of grace) does."""
        echo, gw = gwtest.echo_behind_gateway(self, client_body_timeout="2s",
                                              client_body_min_rate="100")
        with gwtest.RawConn(gw.port, timeout=10) as c:
            c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
            sent = send_slowly(c, [b"x"] * 100, 0.3)
            self.assertLess(sent, 100, "the whole dribbled body was accepted")
            data = c.read_all()
        self.assertEqual(gwtest.status_of(data), 408, data[:200])
        self.assertIn(b'"error":"request body timeout"', data)

    def test_steady_body_passes(self):
        """A body that keeps up with the rate is served."""
        echo, gw = gwtest.echo_behind_gateway(self, client_body_timeout="2s",
                                              client_body_min_rate="100")
        body = b"y" * 5000
        r = gwtest.request(gw.port, "POST", "/", body=body)
        self.assertEqual(r.status, 200)
        self.assertEqual(gwtest.echo_json(r)["body_bytes"], len(body))


def conn_served(port, host="127.0.0.1"):
    """A kept-alive connection that got one 200: open while returned."""
    c = gwtest.RawConn(port, host=host)
    c.send("GET /api HTTP/1.1\r\nHost: t\r\n\r\n")
    try:
        r = c.read_response()
    except (AssertionError, OSError, ValueError, EOFError):
        c.close()
        return None
    if r.status != 200:
        c.close()
        return None
    return c


def conn_refused(port, host="127.0.0.1"):
    """True when the gateway closes a new connection without an answer."""
    with gwtest.RawConn(port, host=host) as c:
        try:
            c.send("GET /api HTTP/1.1\r\nHost: t\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return True
        return c.closed_by_peer() and c.buf == b""


class ConnsPerIp(unittest.TestCase):
    def setUp(self):
        self.echo = gwtest.Echo()
        self.addCleanup(self.echo.stop)
        conf = gwtest.gateway_section(workers=2, max_conns_per_ip="5")
        conf = conf.replace("listen = 127.0.0.1:0\n", "listen = 127.0.0.1:0\nlisten = [::1]:0\n")
        conf += gwtest.ini(ROUTES, echo=self.echo.port, refused=gwtest.free_port(), timeout="5s")
        self.gw = gwtest.Gateway(conf)
        self.addCleanup(self.gw.stop)
        self.v4, self.v6 = self.gw.ports[0], self.gw.ports[1]
        self.open = []
        self.addCleanup(lambda: [c.close() for c in self.open])

    def fill(self, n):
        for _ in range(n):
            c = conn_served(self.v4)
            self.assertIsNotNone(c, "a connection under the limit was refused")
            self.open.append(c)

    def test_sixth_refused_other_address_served(self):
        self.fill(5)
        self.assertTrue(conn_refused(self.v4))
        self.assertTrue(conn_refused(self.v4))
        # Another address has its own count, on another listener.
        other = [conn_served(self.v6, host="::1") for _ in range(5)]
        self.open += [c for c in other if c]
        self.assertTrue(all(other))
        self.assertTrue(conn_refused(self.v6, host="::1"))
        st = stats(self.gw)
        self.assertGreaterEqual(st["counters"]["connlimit_refused"], 3)
        # The five held still work.
        for c in self.open[:5]:
            c.send("GET /api HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)
        # Closing one lets exactly one more in (once the gateway saw the close).
        self.open.pop(0).close()
        c = gwtest.wait_until(lambda: conn_served(self.v4), what="a freed slot")
        self.open.append(c)
        self.assertTrue(conn_refused(self.v4))

    def test_dead_worker_counts_are_released(self):
        self.fill(5)
        self.assertTrue(conn_refused(self.v4))
        workers = self.gw.workers()
        self.assertEqual(len(workers), 2)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        for c in self.open:
            c.close()
        self.open = []

        def respawned():
            ws = self.gw.ctl("workers")[1]["workers"]
            return (len(ws) == 2 and all(w["state"] == "ready" for w in ws)
                    and not set(w["pid"] for w in ws) & set(workers))
        gwtest.wait_until(respawned, timeout=15, what="both workers respawned")
        # The master's repair gave the dead workers' five back.
        self.fill(5)
        self.assertTrue(conn_refused(self.v4))


class TlsEdge(unittest.TestCase):
    """The same defences on a [tls] listener: a client that never finishes
    its handshake is cut off by header_timeout, and max_conns_per_ip counts
    plain and TLS connections of an address together, refusing before any
    handshake."""

    @classmethod
    def setUpClass(cls):
        tls.make_ca()
        tls.make_leaf("a", "/CN=a.test", ["a.test", "localhost"])
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)
        cls.gw = gwtest.Gateway(tls.conf(cls.echo.port, certs=("a",), gateway_extra={
            "header_timeout": "1s", "max_conns_per_ip": "3"}))
        cls.addClassCleanup(cls.gw.stop)
        cls.plain, cls.tls = cls.gw.ports[0], cls.gw.ports[1]

    def tls_conn(self):
        """A TLS connection that got one 200 on keep-alive, or None."""
        conn = tls._Https(self.tls, tls.context(), "localhost")
        try:
            conn.request("GET", "/api")
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                self.addCleanup(conn.close)
                return conn
        except (OSError, ssl.SSLError, http.client.HTTPException):
            pass
        conn.close()
        return None

    def test_stalled_handshake_is_cut_off(self):
        for hello in (b"", b"\x16\x03\x01\x00\xc8\x01"):	# nothing; half a ClientHello
            with gwtest.RawConn(self.tls, timeout=10) as c:
                if hello:
                    c.send(hello)
                self.assertTrue(c.closed_by_peer(timeout=10))

    def test_conns_per_ip_across_plain_and_tls(self):
        held = [self.tls_conn(), self.tls_conn(), conn_served(self.plain)]
        self.assertTrue(all(held), held)
        self.addCleanup(held[2].close)
        self.assertIsNone(self.tls_conn())	# the 4th: closed before the handshake
        self.assertTrue(conn_refused(self.plain))
        held[0].close()
        gwtest.wait_until(self.tls_conn, what="a freed slot for TLS")


# Anything that would tell a client about the inside: addresses, ports,
# paths, errno text, software names.
LEAKS = re.compile(r"\d+\.\d+|::1|:\d{2,5}\b|/[a-z]|errno|refused|reset by|permission denied|"
                   r"gatewayd|gw-echo|No such|\.c\b|\bv\d", re.I)


class ErrorBodies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)
        cls.refused = gwtest.free_port()
        conf = gwtest.gateway_section(max_headers="10", max_request_line="256",
                                      header_timeout="500ms", client_body_timeout="500ms",
                                      max_body_bytes="1K")
        conf += gwtest.ini(ROUTES, echo=cls.echo.port, refused=cls.refused, timeout="400ms")
        cls.gw = gwtest.Gateway(conf)
        cls.addClassCleanup(cls.gw.stop)

    CASES = {
        400: "GET /api HTTP/1.1\r\nHost: t\r\nX-A : b\r\n\r\n",
        404: "GET /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        408: "GET /api HTTP/1.1\r\nHost: t\r\n",
        413: "POST /api HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n",
        414: "GET /api/%s HTTP/1.1\r\nHost: t\r\n\r\n" % ("a" * 400),
        431: "GET /api HTTP/1.1\r\nHost: t\r\n%s\r\n" % "".join("X%d: v\r\n" % i for i in range(12)),
        501: "POST /api HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        502: "GET /refused/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        504: "GET /api?delay=3000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        505: "GET /api HTTP/2.0\r\nHost: t\r\n\r\n",
    }

    def test_error_bodies_reveal_nothing(self):
        for status, req in self.CASES.items():
            with self.subTest(status=status):
                data, closed = gwtest.raw_exchange(self.gw.port, req, timeout=10)
                self.assertTrue(closed)
                self.assertEqual(gwtest.status_of(data), status, data[:300])
                head, _, body = data.partition(b"\r\n\r\n")
                doc = json.loads(body)
                self.assertEqual(set(doc), {"error", "status", "request_id"}, doc)
                self.assertEqual(doc["status"], status)
                self.assertRegex(doc["request_id"], r"^[0-9a-f]{32}$")
                self.assertIsNone(LEAKS.search(doc["error"]), doc["error"])
                for line in head.split(b"\r\n")[1:]:
                    name = line.split(b":", 1)[0].lower()
                    self.assertIn(name, (b"content-type", b"content-length", b"date",
                                         b"x-request-id", b"connection"), line)
                text = body.decode()
                self.assertNotIn(str(self.echo.port), text)
                self.assertNotIn(str(self.refused), text)


if __name__ == "__main__":
    gwtest.main()
