"""Routing end to end: path kinds, host, methods, header and query
conditions, precedence, versioning, strip_prefix/rewrite, and the 404.

Every route has its own service on its own gw-echo port, so the port the
echo reports (X-Echo-Port and "port" in its JSON) names the route that
served the request."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

# Route name -> conditions. The file order deliberately puts the routes
# that must win precedence *after* the ones they beat.
ROUTES = """
[route users]
path = /v1/users
service = users

[route exact-other]
path = = /exact
service = exact

[route regex-items]
path = ~ ^/items/[0-9]+$$
service = regex

; precedence: prefix, regex and exact on the same space, exact written last
[route p-prefix]
path = /p
service = p_prefix

[route p-regex]
path = ~ ^/p/.+$$
service = p_regex

[route p-exact]
path = = /p/x
service = p_exact

; longer prefix first, whatever the file order
[route lp-short]
path = /lp
service = lp_short

[route lp-long]
path = /lp/deep
service = lp_long

; more conditions first, whatever the file order
[route mc-plain]
path = /mc
service = mc_plain

[route mc-header]
path = /mc
header = X-Tier: gold
service = mc_header

; host and wildcard host, with a fallback without host
[route h-fallback]
path = /h
service = h_fallback

[route h-exact]
path = /h
host = api.example.com
service = h_exact

[route h-wild]
path = /h
host = *.wild.test
service = h_wild

[route methods]
path = /m
methods = GET POST
service = methods

[route hdr]
path = /hdr
header = X-Api-Version: 1
service = hdr

[route query]
path = /q
query = debug=0
service = query

; versioning by path
[route products-v1]
path = /v1/products
service = v1
strip_prefix = /v1

[route products-v2]
path = /v2/products
service = v2
strip_prefix = /v2

; versioning by header on the same path
[route products-by-header-v2]
path = /products
header = Accept-Version: 2
service = v2

[route products-default]
path = /products
service = v1

[route wrr]
path = /wrr
service = wrr

[route hashed]
path = /hashed
service = hashed

[route rewrite]
path = /people-api
service = rewrite
rewrite = ^/people-api/(.*)$$ /people/$1
"""

SERVICES = ["users", "exact", "regex", "p_prefix", "p_regex", "p_exact", "lp_short",
            "lp_long", "mc_plain", "mc_header", "h_fallback", "h_exact", "h_wild",
            "methods", "hdr", "query", "v1", "v2", "rewrite"]
# Two-instance services: (name, extra keys, weights)
POOLS = [("wrr", "balance = round_robin", (1, 2)),
         ("hashed", "balance = hash:header:X-User-Id", (1, 1, 1))]


class Routing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        n_pool = sum(len(w) for _, _, w in POOLS)
        cls.echo = gwtest.Echo(n=len(SERVICES) + n_pool)
        cls.addClassCleanup(cls.echo.stop)
        cls.svc_port = dict(zip(SERVICES, cls.echo.ports))
        conf = gwtest.gateway_section(workers=1)
        for name, port in cls.svc_port.items():
            conf += "[service %s]\ninstance = 127.0.0.1:%d\n\n" % (name, port)
        spare = cls.echo.ports[len(SERVICES):]
        cls.pool_ports = {}
        for name, extra, weights in POOLS:
            ports, spare = spare[:len(weights)], spare[len(weights):]
            cls.pool_ports[name] = ports
            conf += "[service %s]\n%s\n" % (name, extra)
            for port, w in zip(ports, weights):
                conf += "instance = 127.0.0.1:%d weight=%d\n" % (port, w)
            conf += "\n"
        conf += gwtest.ini(ROUTES)
        cls.gw = gwtest.Gateway(conf)
        cls.addClassCleanup(cls.gw.stop)

    def get(self, path, method="GET", headers=None):
        return gwtest.request(self.gw.port, method, path, headers=headers)

    def assertRoutedTo(self, path, service, method="GET", headers=None):
        r = self.get(path, method, headers)
        self.assertEqual(r.status, 200, "%s %s %r: %r" % (method, path, headers, r.body[:300]))
        want = self.svc_port[service]
        got = int(r.header("X-Echo-Port", "0"))
        names = [n for n, p in self.svc_port.items() if p == got]
        self.assertEqual(got, want, "%s %s %r went to %s, want %s"
                         % (method, path, headers, names, service))
        return r

    def assertNoRoute(self, path, method="GET", headers=None):
        r = self.get(path, method, headers)
        self.assertEqual(r.status, 404, "%s %s %r: got %d from port %s"
                         % (method, path, headers, r.status, r.header("X-Echo-Port")))
        return r

    def test_prefix_on_segment_boundary(self):
        self.assertRoutedTo("/v1/users", "users")
        self.assertRoutedTo("/v1/users/", "users")
        self.assertRoutedTo("/v1/users/7", "users")
        self.assertRoutedTo("/v1/users?x=1", "users")
        self.assertNoRoute("/v1/usersx")
        self.assertNoRoute("/v1/user")
        self.assertNoRoute("/v1")

    def test_exact(self):
        self.assertRoutedTo("/exact", "exact")
        self.assertRoutedTo("/exact?q=1", "exact")	# the query is not the path
        self.assertNoRoute("/exact/")
        self.assertNoRoute("/exactly")

    def test_regex(self):
        self.assertRoutedTo("/items/42", "regex")
        self.assertNoRoute("/items/abc")
        self.assertNoRoute("/items/42/x")

    def test_precedence_exact_regex_prefix(self):
        self.assertRoutedTo("/p/x", "p_exact")
        self.assertRoutedTo("/p/y", "p_regex")
        self.assertRoutedTo("/p", "p_prefix")

    def test_precedence_longer_prefix_first(self):
        self.assertRoutedTo("/lp/deep/1", "lp_long")
        self.assertRoutedTo("/lp/deep", "lp_long")
        self.assertRoutedTo("/lp/deeper", "lp_short")
        self.assertRoutedTo("/lp/other", "lp_short")

    def test_precedence_more_conditions_first(self):
        self.assertRoutedTo("/mc", "mc_header", headers={"X-Tier": "gold"})
        self.assertRoutedTo("/mc", "mc_plain", headers={"X-Tier": "silver"})
        self.assertRoutedTo("/mc", "mc_plain")

    def test_host(self):
        self.assertRoutedTo("/h", "h_exact", headers={"Host": "api.example.com"})
        self.assertRoutedTo("/h", "h_exact", headers={"Host": "API.Example.COM:8080"})
        self.assertRoutedTo("/h", "h_fallback", headers={"Host": "other.example.com"})
        self.assertRoutedTo("/h", "h_fallback", headers={"Host": "api.example.com.evil"})

    def test_wildcard_host(self):
        self.assertRoutedTo("/h", "h_wild", headers={"Host": "a.wild.test"})
        self.assertRoutedTo("/h", "h_wild", headers={"Host": "x.y.wild.test:81"})
        self.assertRoutedTo("/h", "h_fallback", headers={"Host": "wild.test"})
        self.assertRoutedTo("/h", "h_fallback", headers={"Host": "notwild.test"})

    def test_methods(self):
        self.assertRoutedTo("/m", "methods", "GET")
        self.assertRoutedTo("/m", "methods", "POST")
        self.assertNoRoute("/m", "DELETE")
        self.assertNoRoute("/m", "PUT")

    def test_header_match(self):
        self.assertRoutedTo("/hdr", "hdr", headers={"X-Api-Version": "1"})
        self.assertRoutedTo("/hdr", "hdr", headers={"x-api-version": "1"})
        self.assertNoRoute("/hdr", headers={"X-Api-Version": "11"})
        self.assertNoRoute("/hdr", headers={"X-Api-Version": "2"})
        self.assertNoRoute("/hdr")

    def test_query_match(self):
        self.assertRoutedTo("/q?debug=0", "query")
        self.assertRoutedTo("/q?a=1&debug=0&b=2", "query")
        self.assertNoRoute("/q?debug=1")
        self.assertNoRoute("/q?xdebug=0")
        self.assertNoRoute("/q")

    def test_versioning_by_path(self):
        r1 = self.assertRoutedTo("/v1/products/7", "v1")
        r2 = self.assertRoutedTo("/v2/products/7", "v2")
        self.assertEqual(gwtest.echo_json(r1)["path"], "/products/7")
        self.assertEqual(gwtest.echo_json(r2)["path"], "/products/7")

    def test_versioning_by_header(self):
        r2 = self.assertRoutedTo("/products/7", "v2", headers={"Accept-Version": "2"})
        r1 = self.assertRoutedTo("/products/7", "v1")
        r3 = self.assertRoutedTo("/products/7", "v1", headers={"Accept-Version": "3"})
        for r in (r1, r2, r3):
            self.assertEqual(gwtest.echo_json(r)["path"], "/products/7")

    def test_strip_prefix_keeps_query(self):
        r = self.assertRoutedTo("/v1/products/7?x=1&y=2", "v1")
        doc = gwtest.echo_json(r)
        self.assertEqual(doc["path"], "/products/7")
        self.assertEqual(doc["query"], "x=1&y=2")

    def test_strip_prefix_whole_path_leaves_root(self):
        r = self.assertRoutedTo("/v1/products", "v1")
        self.assertEqual(gwtest.echo_json(r)["path"], "/products")

    def test_rewrite(self):
        r = self.assertRoutedTo("/people-api/7", "rewrite")
        self.assertEqual(gwtest.echo_json(r)["path"], "/people/7")
        r = self.assertRoutedTo("/people-api/7?z=9", "rewrite")
        doc = gwtest.echo_json(r)
        self.assertEqual((doc["path"], doc["query"]), ("/people/7", "z=9"))

    def test_no_route_404_shape(self):
        r = self.assertNoRoute("/nowhere")
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"))
        doc = r.json()
        self.assertEqual(sorted(doc), ["error", "request_id", "status"])
        self.assertEqual(doc["status"], 404)
        self.assertIsInstance(doc["error"], str)
        self.assertTrue(doc["error"])
        self.assertTrue(doc["request_id"])
        self.assertEqual(r.header("X-Request-Id"), doc["request_id"])
        self.assertIsNone(r.header("X-Echo-Port"))

    def test_no_route_404_keeps_client_request_id(self):
        r = self.assertNoRoute("/nowhere", headers={"X-Request-Id": "route-test-1"})
        self.assertEqual(r.json()["request_id"], "route-test-1")
        self.assertEqual(r.header("X-Request-Id"), "route-test-1")

    def test_404_then_next_request_on_same_connection(self):
        """A 404 must answer its request exactly once; the next request on
        the keep-alive connection gets its own answer."""
        with gwtest.RawConn(self.gw.port) as c:
            c.send("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n")
            first = c.read_response()
            self.assertEqual(first.status, 404)
            c.send("GET /v1/users/next HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            second = c.read_response()
            self.assertEqual(second.status, 200,
                             "second answer on the connection: %d %r"
                             % (second.status, second.body[:200]))
            self.assertEqual(gwtest.echo_json(second)["path"], "/v1/users/next")

    def test_weighted_round_robin(self):
        """weight=1 and weight=2 on one worker: exactly 1:2 over 30."""
        counts = {}
        for i in range(30):
            r = self.get("/wrr/%d" % i)
            self.assertEqual(r.status, 200)
            port = int(r.header("X-Echo-Port"))
            counts[port] = counts.get(port, 0) + 1
        a, b = self.pool_ports["wrr"]
        self.assertEqual(counts, {a: 10, b: 20})

    def test_hash_header_is_sticky(self):
        seen = {}
        for user in ("alice", "bob", "carol", "dave", "erin", "frank"):
            ports = {int(self.get("/hashed", headers={"X-User-Id": user}).header("X-Echo-Port"))
                     for _ in range(5)}
            self.assertEqual(len(ports), 1, "user %s spread over %s" % (user, ports))
            seen[user] = ports.pop()
        self.assertTrue(set(seen.values()) <= set(self.pool_ports["hashed"]))

    def test_404_body_never_parsed_as_a_request(self):
        """The body of an unrouted POST is data, not the next request:
        one 404 and no answer for what the body looks like."""
        inner = "GET /v1/users/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
        with gwtest.RawConn(self.gw.port) as c:
            c.send("POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(inner), inner))
            r = c.read_response()
            self.assertEqual(r.status, 404)
            if (r.header("Connection") or "").lower() != "close":
                gwtest.assert_serves_next(self, c, "/v1/users/next")
            else:
                self.assertTrue(c.closed_by_peer())
                self.assertNotIn(b"smuggled", c.buf)
                self.assertEqual(c.buf, b"")

    def test_head_404_has_no_body(self):
        with gwtest.RawConn(self.gw.port) as c:
            c.send("HEAD /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /v1/users/after-head HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response(method="HEAD")
            self.assertEqual(r.status, 404)
            gwtest.assert_echoed(self, c.read_response(), "/v1/users/after-head",
                                 "body bytes after a HEAD 404?")


if __name__ == "__main__":
    gwtest.main()
