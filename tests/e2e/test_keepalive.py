"""Connection reuse end to end: client keep-alive, upstream pooling, and
pipelined requests answered in order."""

import http.client
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

CONF = """
[service echo]
instance = 127.0.0.1:$port
keepalive = 4

[route all]
path = /
service = echo
"""


class KeepAlive(unittest.TestCase):
    def setUp(self):
        # A fresh echo per test: its port's connection history in
        # /proc/net/tcp then belongs to this test alone.
        self.echo = gwtest.Echo()
        self.addCleanup(self.echo.stop)
        self.gw = gwtest.Gateway(gwtest.gateway_section(workers=1) +
                                 gwtest.ini(CONF, port=self.echo.port))
        self.addCleanup(self.gw.stop)

    def test_client_connection_reused(self):
        conn = gwtest.keepalive_client(self, self.gw.port)
        sock, local = None, None
        for i in range(20):
            r = gwtest.request(self.gw.port, "GET", "/ka/%d" % i, conn=conn)
            gwtest.assert_echoed(self, r, "/ka/%d" % i)
            self.assertNotIn("close", (r.header("Connection") or "").lower())
            if sock is None:
                sock, local = conn.sock, conn.sock.getsockname()
            self.assertIs(conn.sock, sock, "http.client had to reconnect at request %d" % i)
            self.assertEqual(conn.sock.getsockname(), local)
        # One client connection to the gateway, seen from the kernel too.
        self.assertEqual(self.gw.peers(), {local[1]})

    def test_upstream_connections_pooled(self):
        """50 sequential requests through one worker with keepalive = 4 use
        at most 2 upstream connections, not 50."""
        conn = gwtest.keepalive_client(self, self.gw.port)
        most_established = 0
        for i in range(50):
            r = gwtest.request(self.gw.port, "GET", "/pool/%d" % i, conn=conn)
            self.assertEqual(r.status, 200)
            est = self.echo.peers(states=("01",))
            most_established = max(most_established, len(est))
        self.assertLessEqual(most_established, 2)
        # Every connection ever made to the echo port (TIME_WAIT included).
        ever = self.echo.peers()
        self.assertLessEqual(len(ever), 2, "upstream connections made: %d" % len(ever))

    def test_upstream_reused_across_client_connections(self):
        for i in range(10):
            r = gwtest.request(self.gw.port, "GET", "/fresh/%d" % i)
            self.assertEqual(r.status, 200)
        self.assertLessEqual(len(self.echo.peers()), 2)

    def test_concurrent_clients(self):
        """32 clients at once, 10 requests each on their own keep-alive
        connection: every answer belongs to its own request."""
        errors = []

        def client(k):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.gw.port,
                                                  timeout=gwtest.TIMEOUT)
                try:
                    for i in range(10):
                        path = "/cc/%d/%d" % (k, i)
                        r = gwtest.request(self.gw.port, "GET", path + "?delay=5", conn=conn)
                        if r.status != 200 or gwtest.echo_json(r)["path"] != path:
                            errors.append((path, r.status, r.body[:100]))
                finally:
                    conn.close()
            except Exception as e:	# collected, asserted below
                errors.append((k, repr(e)))
        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertFalse(any(t.is_alive() for t in threads), "clients still running")
        self.assertEqual(errors, [])

    def test_pipelining_in_order(self):
        paths = ["/pipe/%d?n=%d" % (i, i) for i in range(5)]
        data = "".join("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % p for p in paths)
        with gwtest.RawConn(self.gw.port) as c:
            c.send(data)	# one send(): all five requests at once
            for i in range(5):
                r = c.read_response()
                self.assertEqual(r.status, 200, "response %d: %r" % (i, r))
                doc = gwtest.echo_json(r)
                self.assertEqual((doc["path"], doc["query"]), ("/pipe/%d" % i, "n=%d" % i))
            # and the connection is still usable afterwards
            gwtest.assert_serves_next(self, c, "/pipe/after")

    def test_pipelining_mixed_bodies(self):
        """Pipelined POSTs with bodies, a HEAD and a GET: each answer framed
        and in order."""
        data = ("POST /pb/0?echo=body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                "HEAD /pb/1?size=100 HTTP/1.1\r\nHost: t\r\n\r\n"
                "POST /pb/2?echo=body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n0\r\n\r\n"
                "GET /pb/3 HTTP/1.1\r\nHost: t\r\n\r\n")
        with gwtest.RawConn(self.gw.port) as c:
            c.send(data)
            r0 = c.read_response()
            self.assertEqual((r0.status, r0.body), (200, b"hello"))
            r1 = c.read_response(method="HEAD")
            self.assertEqual((r1.status, r1.header("Content-Length")), (200, "100"))
            r2 = c.read_response()
            self.assertEqual((r2.status, r2.body), (200, b"abc"))
            gwtest.assert_echoed(self, c.read_response(), "/pb/3")

    def test_connection_close_honoured(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual((r.header("Connection") or "").lower(), "close")
            self.assertTrue(c.closed_by_peer(), "gateway kept the connection open")


if __name__ == "__main__":
    gwtest.main()
