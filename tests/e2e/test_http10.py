"""HTTP/1.0 clients end to end: framing they can read, keep-alive only
when asked, and no Transfer-Encoding sent to them (RFC 9112 section 6.1:
a server MUST NOT send Transfer-Encoding to an HTTP/1.0 request)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402


class Http10(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo, cls.gw = gwtest.echo_behind_gateway(cls)

    def test_content_length_body_then_close(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /ten?size=5000 HTTP/1.0\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Content-Length"), "5000")
            self.assertIsNone(r.header("Transfer-Encoding"))
            self.assertEqual(r.body, gwtest.pattern(5000))
            gwtest.assert_closed_clean(self, c, "1.0 without keep-alive must be closed")

    def test_json_body_without_host(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /ten/json HTTP/1.0\r\n\r\n")
            r = c.read_response()
        self.assertEqual(r.status, 200)
        doc = gwtest.echo_json(r)
        self.assertEqual(doc["path"], "/ten/json")
        self.assertTrue(doc["headers"].get("host"), "upstream request lacks Host")

    def test_keepalive_when_asked(self):
        with gwtest.RawConn(self.gw.port) as c:
            for i in range(3):
                c.send("GET /ka10/%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual((r.header("Connection") or "").lower(), "keep-alive")
                self.assertIsNotNone(r.header("Content-Length"))
                self.assertEqual(gwtest.echo_json(r)["path"], "/ka10/%d" % i)
            c.send("GET /ka10/last HTTP/1.0\r\n\r\n")
            r = c.read_response()
            self.assertEqual(gwtest.echo_json(r)["path"], "/ka10/last")
            self.assertTrue(c.closed_by_peer())

    def test_no_chunked_to_http10(self):
        """?chunked=1 makes the upstream (which the gateway talks 1.1 to)
        answer chunked; a 1.0 client must get the body unchunked, framed
        by Content-Length or by the close."""
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /c10?chunked=1&size=3000 HTTP/1.0\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("Transfer-Encoding"),
                              "Transfer-Encoding sent to an HTTP/1.0 client")
            self.assertEqual(r.body, gwtest.pattern(3000))

    def test_error_response_to_http10(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /x HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 400)
            self.assertIsNone(r.header("Transfer-Encoding"))
            self.assertTrue(c.closed_by_peer())

    def test_head_http10(self):
        gwtest.assert_head_only(self, self.gw.port, "HEAD /h10?size=77 HTTP/1.0\r\n\r\n", 77)


if __name__ == "__main__":
    gwtest.main()
