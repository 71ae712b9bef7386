"""Header handling end to end: X-Forwarded-*, X-Request-Id, hop-by-hop
fields in both directions, and the upstream's Server field.

gw-echo answers with the request head it received as JSON, so every
assertion about what the gateway forwarded reads that JSON."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402


class Headers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo, cls.gw = gwtest.echo_behind_gateway(cls)

    def seen(self, path="/h", headers=None, raw=None):
        """(response, the echo's view of the request)."""
        if raw is not None:
            with gwtest.RawConn(self.gw.port) as c:
                c.send(raw)
                r = c.read_response()
        else:
            r = gwtest.request(self.gw.port, "GET", path, headers=headers)
        self.assertEqual(r.status, 200, r.body[:300])
        return r, gwtest.echo_json(r)

    def test_x_forwarded_for_set(self):
        _, doc = self.seen()
        self.assertEqual(doc["headers"].get("x-forwarded-for"), "127.0.0.1")

    def test_x_forwarded_for_appended(self):
        _, doc = self.seen(headers={"X-Forwarded-For": "10.1.2.3"})
        self.assertEqual(doc["headers"].get("x-forwarded-for"), "10.1.2.3, 127.0.0.1")

    def test_x_forwarded_for_appended_to_a_list(self):
        _, doc = self.seen(headers={"X-Forwarded-For": "10.1.2.3, 10.4.5.6"})
        self.assertEqual(doc["headers"].get("x-forwarded-for"),
                         "10.1.2.3, 10.4.5.6, 127.0.0.1")

    def test_x_forwarded_for_multiple_fields(self):
        """Two X-Forwarded-For lines are one list (RFC 9110 section 5.3);
        the whole chain is kept and the client appended."""
        raw = ("GET /xff HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 10.0.0.1\r\n"
               "X-Forwarded-For: 10.0.0.2\r\n\r\n")
        _, doc = self.seen(raw=raw)
        self.assertEqual(doc["headers"].get("x-forwarded-for"),
                         "10.0.0.1, 10.0.0.2, 127.0.0.1")

    def test_x_forwarded_proto(self):
        _, doc = self.seen()
        self.assertEqual(doc["headers"].get("x-forwarded-proto"), "http")

    def test_x_forwarded_proto_not_spoofable(self):
        _, doc = self.seen(headers={"X-Forwarded-Proto": "https"})
        self.assertEqual(doc["headers"].get("x-forwarded-proto"), "http")

    def test_x_forwarded_host(self):
        _, doc = self.seen(headers={"Host": "api.example.com:8443"})
        self.assertEqual(doc["headers"].get("x-forwarded-host"), "api.example.com:8443")
        # the Host field itself is passed through
        self.assertEqual(doc["headers"].get("host"), "api.example.com:8443")

    def test_x_forwarded_host_not_spoofable(self):
        _, doc = self.seen(headers={"Host": "real.test", "X-Forwarded-Host": "evil.test"})
        self.assertEqual(doc["headers"].get("x-forwarded-host"), "real.test")

    def test_request_id_generated(self):
        r, doc = self.seen()
        rid = doc["headers"].get("x-request-id")
        self.assertTrue(rid, "no X-Request-Id reached the upstream")
        self.assertEqual(r.header("X-Request-Id"), rid)
        r2, doc2 = self.seen()
        self.assertNotEqual(doc2["headers"].get("x-request-id"), rid, "ids must differ")

    def test_request_id_kept(self):
        r, doc = self.seen(headers={"X-Request-Id": "abc-123_x.y:z"})
        self.assertEqual(doc["headers"].get("x-request-id"), "abc-123_x.y:z")
        self.assertEqual(r.header("X-Request-Id"), "abc-123_x.y:z")
        self.assertEqual(len(r.header_all("X-Request-Id")), 1)

    def test_unusable_request_id_replaced(self):
        r, doc = self.seen(headers={"X-Request-Id": "bad id!"})
        rid = doc["headers"].get("x-request-id")
        self.assertTrue(rid)
        # A generated id is 32 hex digits (which may spell "bad" by chance,
        # so compare the whole id, not a substring).
        self.assertNotEqual(rid, "bad id!")
        self.assertRegex(rid, r"^[0-9a-f]{32}$")
        self.assertEqual(r.header("X-Request-Id"), rid)

    def test_request_id_forwarded_once(self):
        _, doc = self.seen(headers={"X-Request-Id": "only-once"})
        self.assertEqual(doc["headers"].get("x-request-id"), "only-once")

    def test_hop_by_hop_request_fields_removed(self):
        raw = ("GET /hop HTTP/1.1\r\nHost: t\r\n"
               "Connection: keep-alive, Foo\r\n"
               "Foo: bar\r\n"
               "Keep-Alive: timeout=5\r\n"
               "TE: trailers\r\n"
               "Upgrade: websocket-not-really\r\n"
               "Proxy-Connection: keep-alive\r\n"
               "X-End-To-End: kept\r\n\r\n")
        _, doc = self.seen(raw=raw)
        h = doc["headers"]
        for name in ("connection", "foo", "keep-alive", "te", "upgrade", "proxy-connection"):
            self.assertNotIn(name, h, "%s was forwarded upstream: %r" % (name, h))
        self.assertEqual(h.get("x-end-to-end"), "kept")

    def test_upstream_connection_close_not_passed_to_client(self):
        """?close=1: the echo says "Connection: close" and closes; that is
        about the upstream hop, so the client connection stays open."""
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /c?close=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertNotIn("close", (r.header("Connection") or "").lower())
            gwtest.assert_serves_next(self, c, "/again")

    def test_upstream_server_not_passed(self):
        r, _ = self.seen()
        for v in r.header_all("Server"):
            self.assertNotIn("gw-echo", v)

    def test_end_to_end_response_fields_kept(self):
        r = gwtest.request(self.gw.port, "GET", "/f?headers=3")
        self.assertEqual(r.status, 200)
        for i in range(3):
            self.assertEqual(r.header("X-Fill-%d" % i), "x" * 32)
        self.assertEqual(r.header("X-Echo-Port"), str(self.echo.port))

    def test_many_upstream_fields(self):
        """90 extra response fields (under the parser's 100) all arrive."""
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /many?headers=90 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
        self.assertEqual(r.status, 200)
        fills = [k for k, _ in r.headers if k.startswith("X-Fill-")]
        self.assertEqual(len(fills), 90)
        self.assertEqual(r.header("X-Fill-89"), "x" * 32)

    def test_too_many_upstream_fields_is_502(self):
        """Past the parser's field limit the gateway answers 502 itself
        rather than forward a truncated head."""
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /many?headers=300 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
        self.assertEqual(r.status, 502)
        self.assertEqual([k for k, _ in r.headers if k.startswith("X-Fill-")], [])

    def test_response_has_one_framing_header(self):
        r, _ = self.seen()
        self.assertEqual(len(r.header_all("Content-Length")), 1)
        self.assertEqual(r.header_all("Transfer-Encoding"), [])

    def test_request_id_in_response_matches_log(self):
        r, doc = self.seen()
        rid = r.header("X-Request-Id")
        self.assertTrue(re.match(r"^[0-9A-Za-z._:-]+$", rid or ""), rid)
        entry = self.gw.wait_access(rid)
        self.assertEqual(entry["request_id"], rid)


if __name__ == "__main__":
    gwtest.main()
