"""Access lists end to end: [access] allow/deny with a deny inside an allow
and the longest prefix winning, IPv6, per-route lists checked after the
global one, the client address behind trusted proxies (X-Forwarded-For
walked from the right, recursively), a spoofed X-Forwarded-For from an
untrusted peer ignored, and rate limits by=ip keyed on the resolved client.

Clients get distinct addresses by binding to 127.0.0.2, 127.0.0.3, ...
before connecting, and ::1 through a second, IPv6 listener. Arbitrary
addresses (other IPv6 ones included) come from a trusted proxy's
X-Forwarded-For. Every assertion is exact; nothing depends on timing."""

import http.client
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

SERVICE = """
[service echo]
instance = 127.0.0.1:$port
"""


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def route(name, *lines, path=None):
    """A [route] section sending path (default /NAME) to the echo service,
    plus the given key lines."""
    text = "\n[route %s]\npath = %s\nservice = echo\n" % (name, path or "/" + name)
    return text + "".join(l + "\n" for l in lines)


def get(port, path="/", src="127.0.0.1", headers=None, host="127.0.0.1"):
    """One GET on a fresh connection from source address src."""
    conn = http.client.HTTPConnection(host, port, timeout=gwtest.TIMEOUT,
                                      source_address=(src, 0))
    try:
        return gwtest.request(port, "GET", path, headers=headers, conn=conn)
    finally:
        conn.close()


class Access(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)

    def gateway(self, access, routes=None, ipv6=False):
        """gatewayd with an [access] section (text, may be empty) and
        routes (default: one route 'all' for /)."""
        head = gwtest.gateway_section()
        if ipv6:
            head = head.replace("listen = 127.0.0.1:0\n",
                                "listen = 127.0.0.1:0\nlisten = [::1]:0\n")
        text = head + gwtest.ini(SERVICE, port=self.echo.port)
        if access:
            text += "\n[access]\n" + access + "\n"
        text += routes if routes is not None else route("all", path="/")
        gw = gwtest.Gateway(text)
        self.addCleanup(gw.stop)
        return gw

    def assertStatuses(self, gw, cases, path="/"):
        """cases: {source address: status}; each is one GET from there."""
        got = {src: get(gw.port, path, src).status for src in cases}
        self.assertEqual(got, cases, path)

    def assertDenied(self, r):
        self.assertEqual(r.status, 403)
        self.assertEqual(r.header("Content-Type"), "application/json")
        doc = r.json()
        self.assertEqual(doc["error"], "access denied")
        self.assertEqual(doc["status"], 403)
        self.assertEqual(doc["request_id"], r.header("X-Request-Id"))

    def via(self, gw, src, xff, rid, path="/"):
        """A GET from src carrying X-Forwarded-For xff (a string, or a list
        for several fields), with request id rid: (response, its access-log
        entry, the X-Forwarded-For gw-echo received or None)."""
        fields = xff if isinstance(xff, list) else [xff]
        head = "GET %s HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n" % (path, rid)
        head += "".join("X-Forwarded-For: %s\r\n" % v for v in fields if v is not None)
        with gwtest.RawConn(gw.port, source=src) as c:
            c.send(head + "Connection: close\r\n\r\n")
            r = c.read_response()
        sent = None
        if r.status == 200:
            sent = gwtest.echo_json(r)["headers"].get("x-forwarded-for")
        return r, gw.wait_access(rid), sent

    # --- the global list

    def test_deny_inside_allow_longest_prefix_wins(self):
        """allow 127/8, deny 127.0.0/24 inside it, allow 127.0.0.3 inside
        that: the longest prefix decides, whatever the order in the file."""
        gw = self.gateway("allow = 127.0.0.3\n"
                          "deny = 127.0.0.0/24\n"
                          "allow = 127.0.0.0/8\n")
        self.assertStatuses(gw, {"127.0.0.1": 403, "127.0.0.2": 403, "127.0.0.3": 200,
                                 "127.0.0.4": 403, "127.0.1.2": 200, "127.1.2.3": 200})

    def test_denied_response_and_log(self):
        gw = self.gateway("allow = 127.0.0.0/8\ndeny = 127.0.0.2\n")
        r = get(gw.port, "/x?y=1", "127.0.0.2", headers={"X-Request-Id": "acl-denied-1"})
        self.assertDenied(r)
        e = gw.wait_access("acl-denied-1")
        self.assertEqual((e["client"], e["status"], e["route"], e["path"], e["attempts"]),
                         ("127.0.0.2", 403, "", "/x?y=1", 0))
        # The connection stays usable for the next request (keep-alive).
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=gwtest.TIMEOUT,
                                          source_address=("127.0.0.2", 0))
        self.addCleanup(conn.close)
        for _ in range(2):
            self.assertDenied(gwtest.request(gw.port, "GET", "/", conn=conn))

    def test_deny_only_list_admits_the_rest(self):
        """Without an allow entry, what no prefix covers is admitted."""
        gw = self.gateway("deny = 127.0.0.2 127.0.0.64/26\n")
        self.assertStatuses(gw, {"127.0.0.2": 403, "127.0.0.3": 200, "127.0.0.64": 403,
                                 "127.0.0.127": 403, "127.0.0.128": 200})

    def test_no_access_section_admits_everyone(self):
        gw = self.gateway("")
        self.assertStatuses(gw, {"127.0.0.2": 200, "127.9.9.9": 200})

    # --- IPv6

    def test_ipv6(self):
        """::1 is denied by its /128 inside ::/0; IPv4 clients are not
        covered by ::/0, so with an allow entry they are denied unless an
        IPv4 prefix admits them."""
        # The machines this runs on all have ::1; without it the test
        # fails rather than skip, so a broken network stack is seen.
        self.assertTrue(have_ipv6_loopback(), "no IPv6 loopback (::1)")
        gw = self.gateway("allow = ::/0 127.0.0.3\ndeny = ::1/128\n", ipv6=True)
        self.assertEqual(len(gw.ports), 2)
        r = get(gw.ports[1], "/", "::1", headers={"X-Request-Id": "acl-v6-1"}, host="::1")
        self.assertDenied(r)
        self.assertEqual(gw.wait_access("acl-v6-1")["client"], "::1")
        self.assertStatuses(gw, {"127.0.0.2": 403, "127.0.0.3": 200})

    def test_ipv6_allowed(self):
        # The machines this runs on all have ::1; without it the test
        # fails rather than skip, so a broken network stack is seen.
        self.assertTrue(have_ipv6_loopback(), "no IPv6 loopback (::1)")
        gw = self.gateway("allow = ::1 2001:db8::/32\ndeny = 127.0.0.0/8\n", ipv6=True)
        r = get(gw.ports[1], "/v6", "::1", headers={"X-Request-Id": "acl-v6-2"}, host="::1")
        gwtest.assert_echoed(self, r, "/v6")
        self.assertEqual(gwtest.echo_json(r)["headers"]["x-forwarded-for"], "::1")
        self.assertEqual(gw.wait_access("acl-v6-2")["client"], "::1")
        self.assertDenied(get(gw.port, "/", "127.0.0.1"))

    # --- per route

    def test_route_lists_apply_after_the_global_one(self):
        routes = (route("a", "deny = 127.0.0.2") +
                  route("b", "allow = 127.0.0.3") +
                  route("c", "allow = 127.0.0.5") +
                  route("open"))
        gw = self.gateway("allow = 127.0.0.0/8\ndeny = 127.0.0.5\n", routes)
        self.assertStatuses(gw, {"127.0.0.2": 403, "127.0.0.3": 200, "127.0.0.4": 200}, "/a")
        self.assertStatuses(gw, {"127.0.0.2": 403, "127.0.0.3": 200, "127.0.0.4": 403}, "/b")
        # The route allows .5, but the global list denies it first.
        self.assertStatuses(gw, {"127.0.0.5": 403, "127.0.0.3": 403}, "/c")
        self.assertStatuses(gw, {"127.0.0.2": 200, "127.0.0.5": 403}, "/open")
        r = get(gw.port, "/a", "127.0.0.2", headers={"X-Request-Id": "acl-route-a"})
        self.assertDenied(r)
        e = gw.wait_access("acl-route-a")
        self.assertEqual((e["client"], e["route"], e["attempts"]), ("127.0.0.2", "a", 0))
        # Denied by the global list: logged before any route matched.
        get(gw.port, "/a", "127.0.0.5", headers={"X-Request-Id": "acl-global-5"})
        self.assertEqual(gw.wait_access("acl-global-5")["route"], "")

    # --- X-Forwarded-For

    def test_spoofed_xff_from_untrusted_peer_is_ignored(self):
        gw = self.gateway("allow = 127.0.0.0/8\ndeny = 127.0.0.2\n"
                          "trusted_proxies = 127.0.0.10\n")
        # A denied client cannot claim another address...
        r, e, _ = self.via(gw, "127.0.0.2", "127.0.0.3", "acl-spoof-1")
        self.assertDenied(r)
        self.assertEqual(e["client"], "127.0.0.2")
        # ... nor be blamed for one: the peer is the client, and is what
        # the gateway appends.
        r, e, sent = self.via(gw, "127.0.0.4", "127.0.0.2", "acl-spoof-2")
        self.assertEqual(r.status, 200)
        self.assertEqual(e["client"], "127.0.0.4")
        self.assertEqual(sent, "127.0.0.2, 127.0.0.4")

    def test_trusted_proxy_xff_recursive(self):
        gw = self.gateway("allow = 127.0.0.0/8 2001:db8::/32\n"
                          "deny = 127.0.0.2 2001:db8:bad::/48\n"
                          "trusted_proxies = 127.0.0.10 127.0.0.11\n")
        cases = [
            # (peer, X-Forwarded-For, status, client)
            ("127.0.0.10", "127.0.0.2", 403, "127.0.0.2"),
            ("127.0.0.10", "127.0.0.3", 200, "127.0.0.3"),
            # From the right, skipping trusted proxies; left of the client
            # is not read at all.
            ("127.0.0.10", "127.0.0.2, 127.0.0.3, 127.0.0.11", 200, "127.0.0.3"),
            ("127.0.0.10", "127.0.0.3,127.0.0.2 ,127.0.0.11", 403, "127.0.0.2"),
            # Several fields are one list, in order.
            ("127.0.0.10", ["127.0.0.2, 127.0.0.4", "127.0.0.11"], 200, "127.0.0.4"),
            # Empty elements are skipped.
            ("127.0.0.10", "127.0.0.4, , 127.0.0.11,", 200, "127.0.0.4"),
            # A malformed entry stops the walk at the last good address.
            ("127.0.0.10", "127.0.0.3, bogus, 127.0.0.11", 200, "127.0.0.11"),
            ("127.0.0.10", "127.0.0.3, 127.0.0.2:80", 200, "127.0.0.10"),
            # Every address trusted: the leftmost.
            ("127.0.0.10", "127.0.0.11, 127.0.0.10", 200, "127.0.0.11"),
            # IPv6 clients, longest prefix, with and without brackets.
            ("127.0.0.10", "2001:db8:bad::1", 403, "2001:db8:bad::1"),
            ("127.0.0.10", "[2001:db8:900d::1]", 200, "2001:db8:900d::1"),
            ("127.0.0.10", "2001:db9::1", 403, "2001:db9::1"),
            # Mapped IPv4 is IPv4.
            ("127.0.0.10", "::ffff:127.0.0.2", 403, "127.0.0.2"),
            # Outside every allow entry.
            ("127.0.0.10", "192.0.2.1", 403, "192.0.2.1"),
            # No header: the trusted proxy itself.
            ("127.0.0.10", None, 200, "127.0.0.10"),
            # Not a trusted proxy: its header is not read.
            ("127.0.0.12", "127.0.0.2", 200, "127.0.0.12"),
        ]
        got, want = [], []
        for i, (peer, xff, status, client) in enumerate(cases):
            r, e, _ = self.via(gw, peer, xff, "acl-xff-%d" % i)
            got.append((peer, xff, r.status, e["client"]))
            want.append((peer, xff, status, client))
        self.assertEqual(got, want)
        # Upstream gets the incoming list, then the resolved client.
        _, _, sent = self.via(gw, "127.0.0.10", "127.0.0.2, 127.0.0.3, 127.0.0.11", "acl-xff-up")
        self.assertEqual(sent, "127.0.0.2, 127.0.0.3, 127.0.0.11, 127.0.0.3")

    # --- rate limits

    def test_ratelimit_by_ip_uses_the_resolved_client(self):
        gw = self.gateway("trusted_proxies = 127.0.0.10\n",
                          route("r", "rate_limit = 2/h by=ip"))
        seq = []
        for i, (peer, xff) in enumerate([("127.0.0.10", "127.0.0.3")] * 3 +
                                        [("127.0.0.10", "127.0.0.4")] * 3 +
                                        [("127.0.0.10", None)] +
                                        [("127.0.0.5", "127.0.0.3")] * 3):
            r, _, _ = self.via(gw, peer, xff, "acl-rl-%d" % i, path="/r")
            seq.append(r.status)
        self.assertEqual(seq, [200, 200, 429, 200, 200, 429, 200, 200, 200, 429])

        def remaining(key):
            _, answer, _ = gw.ctl("limits", "show", "r", key)
            return answer["rules"][0]["remaining"]
        self.assertEqual([remaining(k) for k in ("127.0.0.3", "127.0.0.4", "127.0.0.10",
                                                  "127.0.0.5")], [0, 0, 1, 0])


if __name__ == "__main__":
    gwtest.main()
