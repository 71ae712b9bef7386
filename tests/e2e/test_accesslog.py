"""The access log end to end: one JSON line per request on stderr
(access_log = stderr), with the documented fields and true values."""

import http.client
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

FIELDS = {"request_id": str, "client": str, "method": str, "path": str, "status": int,
          "bytes_in": int, "bytes_out": int, "route": str, "upstream": str,
          "attempts": int, "duration_ms": (int, float), "upstream_ms": (int, float),
          "tls": str, "tls_resumed": bool, "consumer": str}


class AccessLog(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)
        cls.dead = gwtest.free_port()
        cls.gw = gwtest.Gateway(gwtest.gateway_section(max_body_bytes="1K") + gwtest.ini("""
            [service echo]
            instance = 127.0.0.1:$port

            [service dead]
            instance = 127.0.0.1:$dead

            [route api]
            path = /api
            service = echo

            [route dead]
            path = /dead
            service = dead
            """, port=cls.echo.port, dead=cls.dead))
        cls.addClassCleanup(cls.gw.stop)

    def entries(self, rid):
        return [e for e in self.gw.access_log() if e.get("request_id") == rid]

    def marker(self, name):
        """Send a request on a fresh connection and wait for its line: with
        one worker, lines before it are all written."""
        rid = "marker-" + name
        gwtest.request(self.gw.port, "GET", "/api/marker", headers={"X-Request-Id": rid})
        self.gw.wait_access(rid)

    def assertFields(self, e):
        for name, kind in FIELDS.items():
            self.assertIn(name, e, "missing field %s in %r" % (name, e))
            self.assertIsInstance(e[name], kind, "field %s: %r" % (name, e[name]))

    def test_proxied_request_fields(self):
        body = b"b" * 100
        r = gwtest.request(self.gw.port, "POST", "/api/items?x=1", body=body,
                           headers={"X-Request-Id": "al-proxied-1"})
        self.assertEqual(r.status, 200)
        e = self.gw.wait_access("al-proxied-1")
        self.assertFields(e)
        self.assertEqual(e["client"], "127.0.0.1")
        self.assertEqual(e["method"], "POST")
        self.assertEqual(e["path"], "/api/items?x=1")
        self.assertEqual(e["status"], 200)
        self.assertEqual(e["route"], "api")
        self.assertEqual(e["upstream"], "127.0.0.1:%d" % self.echo.port)
        self.assertGreaterEqual(e["bytes_in"], len(body) + len("POST /api/items?x=1 HTTP/1.1\r\n"))
        self.assertGreaterEqual(e["bytes_out"], len(r.body))
        self.assertGreaterEqual(e["duration_ms"], 0)
        self.assertGreaterEqual(e["upstream_ms"], 0)
        self.assertGreaterEqual(e["duration_ms"], e["upstream_ms"])

    def test_one_line_per_request(self):
        ids = ["al-count-%d" % i for i in range(10)]
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=gwtest.TIMEOUT)
        self.addCleanup(conn.close)
        for rid in ids:
            r = gwtest.request(self.gw.port, "GET", "/api/c", headers={"X-Request-Id": rid},
                               conn=conn)
            self.assertEqual(r.status, 200)
        self.marker("count")
        for rid in ids:
            self.assertEqual(len(self.entries(rid)), 1, rid)

    def test_404_logged_once(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /nowhere HTTP/1.1\r\nHost: t\r\nX-Request-Id: al-404\r\n\r\n")
            self.assertEqual(c.read_response().status, 404)
        e = self.gw.wait_access("al-404")
        self.marker("404")
        self.assertFields(e)
        self.assertEqual((e["status"], e["route"], e["upstream"]), (404, "", ""))
        self.assertEqual(len(self.entries("al-404")), 1, "the 404 was logged more than once")

    def test_400_logged(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            r = c.read_response()
        self.assertEqual(r.status, 400)
        e = self.gw.wait_access(r.header("X-Request-Id"))
        self.assertFields(e)
        self.assertEqual(e["status"], 400)

    def test_413_logged(self):
        r = gwtest.request(self.gw.port, "POST", "/api/big", body=b"x" * 2000,
                           headers={"X-Request-Id": "al-413"})
        self.assertEqual(r.status, 413)
        e = self.gw.wait_access("al-413")
        self.assertEqual((e["status"], e["method"], e["path"]), (413, "POST", "/api/big"))

    def test_502_logged_with_upstream(self):
        r = gwtest.request(self.gw.port, "GET", "/dead/x", headers={"X-Request-Id": "al-502"})
        self.assertEqual(r.status, 502)
        e = self.gw.wait_access("al-502")
        self.assertFields(e)
        self.assertEqual(e["status"], 502)
        self.assertEqual(e["route"], "dead")
        self.assertEqual(e["upstream"], "127.0.0.1:%d" % self.dead)

    def test_upstream_status_logged(self):
        gwtest.request(self.gw.port, "GET", "/api/s?status=503",
                       headers={"X-Request-Id": "al-503"})
        self.assertEqual(self.gw.wait_access("al-503")["status"], 503)

    def test_generated_request_id_logged(self):
        r = gwtest.request(self.gw.port, "GET", "/api/gen")
        rid = r.header("X-Request-Id")
        self.assertTrue(rid)
        e = self.gw.wait_access(rid)
        self.assertEqual(e["path"], "/api/gen")

    def test_bytes_out_counts_body(self):
        r = gwtest.request(self.gw.port, "GET", "/api/sz?size=50000",
                           headers={"X-Request-Id": "al-size"})
        self.assertEqual(len(r.body), 50000)
        e = self.gw.wait_access("al-size")
        self.assertGreaterEqual(e["bytes_out"], 50000)
        self.assertLess(e["bytes_out"], 50000 + 4096)

    def test_every_line_is_json(self):
        self.marker("json")
        for e in self.gw.access_log():
            self.assertNotIn("_unparsed", e, e.get("_unparsed"))


if __name__ == "__main__":
    gwtest.main()
