"""Message bodies end to end: Content-Length and chunked uploads, chunked
and large downloads, Expect: 100-continue, HEAD, 204 and 304."""

import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

MIB = 1 << 20


class Bodies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo, cls.gw = gwtest.echo_behind_gateway(cls, max_body_bytes="8M")

    def req(self, method, path, body=None, headers=None):
        return gwtest.request(self.gw.port, method, path, body=body, headers=headers)

    def test_content_length_post_echoed(self):
        body = b'{"name":"gw","n":42}'
        r = self.req("POST", "/b?echo=body", body, {"Content-Type": "application/json"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.header("Content-Length"), str(len(body)))

    def test_content_length_post_counted(self):
        r = self.req("POST", "/b", b"x" * 1000)
        self.assertEqual(r.status, 200)
        doc = gwtest.echo_json(r)
        self.assertEqual(doc["body_bytes"], 1000)
        self.assertEqual(doc["headers"].get("content-length"), "1000")

    def test_chunked_upload_with_trailer_echoed(self):
        head = ("POST /b?echo=body HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                "Transfer-Encoding: chunked\r\n\r\n")
        chunks = "5\r\nhello\r\n6;ext=1\r\n world\r\n1a\r\n" + "abcdefghijklmnopqrstuvwxyz" + \
                 "\r\n0\r\nX-Sum: 37\r\n\r\n"
        with gwtest.RawConn(self.gw.port) as c:
            c.send(head)
            c.send(chunks[:9])	# split mid-chunk on purpose
            c.send(chunks[9:])
            r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"hello world" + b"abcdefghijklmnopqrstuvwxyz")

    def test_chunked_upload_counted(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n")
            r = c.read_response()
        self.assertEqual(r.status, 200)
        doc = gwtest.echo_json(r)
        self.assertEqual(doc["body_bytes"], 9)
        self.assertNotIn("content-length", doc["headers"])

    def test_chunked_download(self):
        conn = gwtest.keepalive_client(self, self.gw.port)
        conn.request("GET", "/d?chunked=1&size=100000")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertIsNone(r.getheader("Content-Length"))
        self.assertEqual(r.read(), gwtest.pattern(100000))
        # the connection survives a chunked body
        gwtest.assert_echoed(self, gwtest.request(self.gw.port, "GET", "/d2", conn=conn), "/d2")

    def test_chunked_download_with_trailer(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /d?chunked=1&trailer=1&size=40000 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, gwtest.pattern(40000))
            gwtest.assert_serves_next(self, c, "/after")

    def test_chunked_json_download(self):
        r = self.req("GET", "/dj?chunked=1")
        self.assertEqual(r.status, 200)
        self.assertEqual(gwtest.echo_json(r)["path"], "/dj")

    def test_one_mib_up(self):
        body = os.urandom(MIB)
        r = self.req("POST", "/up?echo=body", body, {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), MIB)
        self.assertEqual(gwtest.sha256(r.body), gwtest.sha256(body))

    def test_one_mib_up_chunked(self):
        body = os.urandom(MIB)
        with gwtest.RawConn(self.gw.port) as c:
            c.send("POST /upc?echo=body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            step = 100000
            for off in range(0, MIB, step):
                piece = body[off:off + step]
                c.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
            c.send("0\r\n\r\n")
            r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(gwtest.sha256(r.body), gwtest.sha256(body))

    def test_one_mib_down(self):
        r = self.req("GET", "/down?size=%d" % MIB)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), str(MIB))
        self.assertEqual(gwtest.sha256(r.body), gwtest.sha256(gwtest.pattern(MIB)))

    def test_expect_100_continue(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("POST /e?echo=body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   "Expect: 100-continue\r\n\r\n")
            version, status, _, _ = c.read_head()
            self.assertEqual(status, 100, "wanted 100 Continue before sending the body")
            c.send("hello")
            r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"hello"))

    def test_expect_not_forwarded(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                   "Expect: 100-continue\r\n\r\n")
            c.read_head()
            c.send("hi")
            r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertNotIn("expect", gwtest.echo_json(r)["headers"])

    def test_expect_with_body_already_sent(self):
        """A client that sends the body at once still gets one final 200."""
        with gwtest.RawConn(self.gw.port) as c:
            c.send("POST /e?echo=body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   "Expect: 100-continue\r\n\r\nhello")
            r = c.read_response()	# skips an interim 100 if there is one
        self.assertEqual((r.status, r.body), (200, b"hello"))

    def test_head(self):
        conn = gwtest.keepalive_client(self, self.gw.port)
        conn.request("HEAD", "/h?size=1234")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Length"), "1234")
        self.assertEqual(r.read(), b"")
        # no stray body bytes: the next response on the connection parses
        gwtest.assert_echoed(self, gwtest.request(self.gw.port, "GET", "/h2", conn=conn), "/h2")

    def test_head_raw_no_body_bytes(self):
        gwtest.assert_head_only(
            self, self.gw.port,
            "HEAD /h?size=50 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 50)

    def test_head_of_chunked_response(self):
        """HEAD where the GET would be chunked: no body bytes, and the
        gateway does not wait for one."""
        with gwtest.RawConn(self.gw.port) as c:
            c.send("HEAD /hc?chunked=1&size=5000 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /hc-next HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response(method="HEAD")
            self.assertEqual(r.status, 200)
            gwtest.assert_echoed(self, c.read_response(), "/hc-next", "stray bytes after HEAD?")

    def test_large_download_slow_reader(self):
        """16 MiB read in small pieces, slower than the upstream writes:
        no byte dropped or reordered while the gateway holds back."""
        n = 16 * MIB
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /big?size=%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % n)
            _, status, _, headers = c.read_head()
            self.assertEqual(status, 200)
            h = hashlib.sha256(c.buf)
            got = len(c.buf)
            c.buf = b""
            while got < n:
                d = c.sock.recv(8192)
                if not d:
                    break
                h.update(d)
                got += len(d)
        self.assertEqual(got, n)
        self.assertEqual(h.hexdigest(), gwtest.sha256(gwtest.pattern(n)))

    def test_four_mib_up(self):
        body = os.urandom(4 * MIB)
        r = self.req("POST", "/up4?echo=body", body)
        self.assertEqual(r.status, 200)
        self.assertEqual(gwtest.sha256(r.body), gwtest.sha256(body))

    def test_204(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /s?status=204 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 204)
            self.assertIsNone(r.header("Content-Length"), "204 must not carry Content-Length")
            self.assertIsNone(r.header("Transfer-Encoding"))
            gwtest.assert_serves_next(self, c, "/after204", "stray bytes after the 204?")

    def test_304(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /s?status=304 HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"x\"\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 304)
            self.assertIsNone(r.header("Transfer-Encoding"))
            gwtest.assert_serves_next(self, c, "/after304", "stray bytes after the 304?")

    def test_other_statuses_passed_through(self):
        for status in (201, 404, 418, 500, 503):
            with self.subTest(status=status):
                r = self.req("GET", "/st?status=%d" % status)
                self.assertEqual(r.status, status)
                self.assertEqual(r.header("X-Echo-Port"), str(self.echo.port))


if __name__ == "__main__":
    gwtest.main()
