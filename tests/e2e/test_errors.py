"""Error paths end to end: malformed requests (400), limits (431, 413),
client timeouts (408, idle close), and upstream failures (502, 504).

The limits are small on purpose (4K heads, 1K bodies, 300 ms timeouts) so
each case is reached quickly; every read is still bounded by a 5 s socket
timeout, and no test sleeps."""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

CONF = """
[service echo]
instance = 127.0.0.1:$echo
timeout = 300ms

[service refused]
instance = 127.0.0.1:$refused

[service blackhole]
instance = 127.0.0.1:$blackhole
connect_timeout = 200ms

[route refused]
path = /refused
service = refused

[route blackhole]
path = /blackhole
service = blackhole

[route all]
path = /
service = echo
"""

# Each must be answered 400 and the connection closed.
BAD_REQUESTS = {
    "content_length_and_chunked":
        "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two_different_content_lengths":
        "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "bad_chunk_size":
        "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "obs_fold":
        "GET /x HTTP/1.1\r\nHost: t\r\nX-A: b\r\n  c\r\n\r\n",
    "bare_cr_in_value":
        "GET /x HTTP/1.1\r\nHost: t\r\nX-A: b\rc\r\n\r\n",
    "space_before_colon":
        "GET /x HTTP/1.1\r\nHost: t\r\nX-A : b\r\n\r\n",
    "missing_host_in_1_1":
        "GET /x HTTP/1.1\r\nX-A: b\r\n\r\n",
    "two_hosts":
        "GET /x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
    "target_not_origin_form":
        "GET x HTTP/1.1\r\nHost: t\r\n\r\n",
    "space_in_target":
        "GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
    "control_char_in_target":
        "GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n",
    "negative_content_length":
        "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    "non_numeric_content_length":
        "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n",
}


def full_listener():
    """A listener on 127.0.0.1 whose accept queue is full, so that a new
    connect() stays in SYN_SENT: listen(0), one connection queued and never
    accepted. Returns (listener, [client sockets]) or None if the kernel
    still completes handshakes."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    addr = lst.getsockname()
    clients = []
    for _ in range(4):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(addr)
        clients.append(s)
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.3)
    try:
        probe.connect(addr)
    except socket.timeout:
        clients.append(probe)
        return lst, clients
    probe.close()
    for s in clients:
        s.close()
    lst.close()
    return None


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)
        # The black hole must exist before the gateway (its port is in the
        # config); its queue is filled now, before anything connects to it.
        cls.hole = full_listener()
        hole_port = gwtest.free_port()
        if cls.hole:
            hole_port = cls.hole[0].getsockname()[1]
            cls.addClassCleanup(lambda: [s.close() for s in cls.hole[1] + [cls.hole[0]]])
        conf = gwtest.gateway_section(header_timeout="300ms", idle_timeout="300ms",
                                      max_header_bytes="4K", max_body_bytes="1K")
        conf += gwtest.ini(CONF, echo=cls.echo.port, refused=gwtest.free_port(),
                           blackhole=hole_port)
        cls.gw = gwtest.Gateway(conf)
        cls.addClassCleanup(cls.gw.stop)

    def assertErrorResponse(self, r, status):
        self.assertEqual(r.status, status, "%r" % r.body[:300])
        doc = r.json()
        self.assertEqual(doc["status"], status)
        self.assertTrue(doc["error"])
        self.assertEqual(r.header("X-Request-Id"), doc["request_id"])
        self.assertIsNone(r.header("X-Echo-Port"), "the upstream answered instead")

    def assertAnsweredAndClosed(self, data, status, timeout=gwtest.TIMEOUT):
        with gwtest.RawConn(self.gw.port, timeout) as c:
            c.send(data)
            r = c.read_response()
            self.assertErrorResponse(r, status)
            gwtest.assert_closed_clean(self, c, "connection left open after %d" % status,
                                       "bytes after the %d response" % status, timeout)
        return r

    def assertUsableOrClosed(self, c, r):
        """After an error answer the connection either says close (and is
        closed) or serves the next request."""
        if (r.header("Connection") or "").lower() == "close":
            self.assertTrue(c.closed_by_peer())
            return
        gwtest.assert_serves_next(self, c, "/next")

    # --- 400

    def test_400_malformed_requests(self):
        for name, data in BAD_REQUESTS.items():
            with self.subTest(case=name):
                self.assertAnsweredAndClosed(data, 400)

    def test_well_formed_controls_pass(self):
        """The same shapes, well formed, are served (so the 400s above are
        about the defect, not the shape)."""
        good = [
            "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
            "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            "GET /x HTTP/1.1\r\nHost: t\r\nX-A: b c\r\n\r\n",
            "GET /a%20b HTTP/1.1\r\nHost: t\r\n\r\n",
        ]
        for data in good:
            with self.subTest(request=data.split("\r\n")[0]):
                with gwtest.RawConn(self.gw.port) as c:
                    c.send(data)
                    self.assertEqual(c.read_response().status, 200)

    # --- limits

    def test_431_head_too_large(self):
        big = "GET /x HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n" % ("a" * 5000)
        self.assertAnsweredAndClosed(big, 431)

    def test_431_many_fields(self):
        fields = "".join("X-F%d: %s\r\n" % (i, "v" * 40) for i in range(120))
        self.assertAnsweredAndClosed("GET /x HTTP/1.1\r\nHost: t\r\n%s\r\n" % fields, 431)

    def test_head_under_limit_served(self):
        r = gwtest.request(self.gw.port, "GET", "/x", headers={"X-Big": "a" * 3000})
        self.assertEqual(r.status, 200)

    def test_413_content_length(self):
        # The head alone decides: no body is sent, the answer comes anyway.
        self.assertAnsweredAndClosed(
            "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n", 413)

    def test_413_chunked(self):
        body = "".join("320\r\n%s\r\n" % ("z" * 0x320) for _ in range(2)) + "0\r\n\r\n"
        self.assertAnsweredAndClosed(
            "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 413)

    def test_body_at_limit_served(self):
        r = gwtest.request(self.gw.port, "POST", "/x?echo=body", body=b"k" * 1024)
        self.assertEqual((r.status, len(r.body)), (200, 1024))

    # --- client timeouts

    def test_408_partial_head(self):
        self.assertAnsweredAndClosed("GET /x HTTP/1.1\r\nHost: t\r\n", 408)

    def test_silent_connection_closed(self):
        """A client that never sends a byte is closed after header_timeout,
        without a response."""
        with gwtest.RawConn(self.gw.port) as c:
            gwtest.assert_closed_clean(self, c, "silent connection left open")

    def test_idle_keepalive_closed(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertNotEqual((r.header("Connection") or "").lower(), "close")
            gwtest.assert_closed_clean(self, c, "idle keep-alive connection left open",
                                       "bytes sent on an idle connection")

    # --- upstream failures

    def test_502_connection_refused(self):
        r = gwtest.request(self.gw.port, "GET", "/refused/x")
        self.assertErrorResponse(r, 502)

    def test_502_upstream_reset(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /x?reset=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            self.assertErrorResponse(r, 502)
            self.assertUsableOrClosed(c, r)

    def test_502_malformed_upstream_response(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /x?bad=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            self.assertErrorResponse(r, 502)
            self.assertUsableOrClosed(c, r)

    def test_504_upstream_timeout(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /x?hang=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            self.assertErrorResponse(r, 504)
            self.assertUsableOrClosed(c, r)

    def test_delay_under_timeout_served(self):
        r = gwtest.request(self.gw.port, "GET", "/x?delay=50")
        self.assertEqual(r.status, 200)

    def test_504_connect_timeout(self):
        self.assertTrue(self.hole, "could not make a listener whose accept queue is full")
        r = gwtest.request(self.gw.port, "GET", "/blackhole/x")
        self.assertErrorResponse(r, 504)
        self.assertIn("connect", r.json()["error"])


if __name__ == "__main__":
    gwtest.main()
