"""Remote key sets end to end: [jwt] with jwks_url, fetched by the master
from an HTTPS JWKS server run by this test (http.server + ssl, with a CA
and a certificate for 127.0.0.1 made by openssl; jwks_ca points at the CA)
that counts its fetches. Tokens are minted with PyJWT.

Checked, each on a fresh gatewayd (the kid rate limit is per section and
would otherwise carry over):
  - no keys at start (server failing): the gateway starts, tokens are 401
    invalid_token, and once the server answers they are accepted;
  - tokens are accepted once fetched, and the verified-token cache answers
    repeats (gatewayctl stats: exactly 1 miss then hits), or is off with
    cache = 0 (no hit, no miss counted);
  - key rotation: a token with a kid the set lacks is held, one refresh is
    triggered, and it is accepted without a reload (exactly one more fetch);
  - the refresh rate limit: a concurrent burst of unknown kids triggers
    exactly one fetch, and more requests within the window none;
  - the server failing keeps the last good keys (scheduled refreshes fail,
    tokens still pass);
  - a key removed from the set stops admitting its tokens as soon as the
    new set is fetched, even a token the cache holds;
  - a cached token whose exp is a couple of seconds ahead is refused once
    expired;
  - a reload keeps the section's keys (no refetch needed).
Fetch counts are exact: the server counts every GET."""

import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit",
                                "auth"))
try:
    import jwt as pyjwt  # noqa: E402
    import mint  # noqa: E402
except ImportError as e:  # pragma: no cover
    print("%s (needs python3-jwt, python3-cryptography, python3-jwcrypto)" % e)
    sys.exit(1)

ISS = "https://id.example.com/"
AUD = "api"
WAIT = 20.0    # bound on every wait for a condition

CONF = """
[service echo]
instance = 127.0.0.1:$port

[jwt corp]
issuer = https://id.example.com/
audience = api
jwks_url = https://127.0.0.1:$jwks_port/jwks.json
jwks_ca = $ca
jwks_refresh = $refresh
jwks_timeout = 2s
algorithms = RS256 EdDSA
leeway = $leeway
cache = $cache
forward_claims = sub:X-User-Id

[route me]
path = /me
service = echo
auth = jwt:corp
"""


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca_and_cert(d):
    """A CA, and a server certificate it signed for IP 127.0.0.1."""
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr, crt = (os.path.join(d, n) for n in ("srv.key", "srv.csr", "srv.pem"))
    ext = os.path.join(d, "ext.cnf")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=gw test CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    return ca, crt, key


class JwksServer:
    """HTTPS on 127.0.0.1:0 serving GET /jwks.json from self.keys; counts
    every GET; answers 503 while self.down."""

    def __init__(self, cert, key):
        self.lock = threading.Lock()
        self.keys = []
        self.fetches = 0
        self.down = False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with outer.lock:
                    outer.fetches += 1
                    down, body = outer.down, json.dumps({"keys": outer.keys}).encode()
                if down or self.path != "/jwks.json":
                    self.send_response(503 if down else 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return self.fetches

    def set(self, keys=None, down=None):
        with self.lock:
            if keys is not None:
                self.keys = keys
            if down is not None:
                self.down = down

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def claims(**over):
    now = int(time.time())
    c = {"iss": ISS, "aud": AUD, "sub": "user-1", "iat": now - 60, "exp": now + 3600}
    c.update(over)
    return c


def wait_until(pred, what, timeout=WAIT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class JwksUrl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gw-jwks-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.ca, crt, key = make_ca_and_cert(cls.tmp)
        cls.rsa_a = mint.genpkey(cls.tmp, "a", "-algorithm", "RSA", "-pkeyopt",
                                 "rsa_keygen_bits:2048")
        cls.rsa_b = mint.genpkey(cls.tmp, "b", "-algorithm", "RSA", "-pkeyopt",
                                 "rsa_keygen_bits:2048")
        cls.ed = mint.genpkey(cls.tmp, "ed", "-algorithm", "ED25519")
        cls.jwk = {"a": mint.public_jwk(cls.rsa_a, kid="a"),
                   "b": mint.public_jwk(cls.rsa_b, kid="b"),
                   "ed": mint.public_jwk(cls.ed, kid="ed")}
        cls.server = JwksServer(crt, key)
        cls.addClassCleanup(cls.server.stop)
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)

    def setUp(self):
        self.server.set(keys=[self.jwk["a"]], down=False)

    def start(self, refresh="10m", cache=4096, leeway="0s", wait_keys=True):
        start = self.server.count()
        gw = gwtest.Gateway(gwtest.gateway_section() + gwtest.ini(
            CONF, port=self.echo.port, jwks_port=self.server.port, ca=self.ca,
            refresh=refresh, cache=cache, leeway=leeway))
        self.addCleanup(gw.stop)
        if wait_keys:
            gw.wait_line("jwt corp: key set from", WAIT)
            self.assertEqual(self.server.count(), start + 1)
        return gw

    def token(self, kid="a", **over):
        key = {"a": self.rsa_a, "b": self.rsa_b, "ed": self.ed}[kid]
        alg = "EdDSA" if kid == "ed" else "RS256"
        return pyjwt.encode(claims(**over), key, algorithm=alg, headers={"kid": kid})

    def get(self, gw, tok):
        return gwtest.request(gw.port, "GET", "/me", headers={"Authorization": "Bearer " + tok})

    def assertAccepted(self, r, sub="user-1"):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(gwtest.echo_json(r)["headers"].get("x-user-id"), sub)

    def assertInvalid(self, r, why):
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.header("WWW-Authenticate"),
                         'Bearer realm="gatewayd", error="invalid_token", '
                         'error_description="%s"' % why)

    def counters(self, gw):
        return gw.ctl("stats")[1]["counters"]

    def test_no_keys_at_start(self):
        self.server.set(down=True)
        gw = self.start(wait_keys=False)
        wait_until(lambda: any("no keys yet: tokens are refused" in l for l in gw.lines()),
                   "a failed first fetch")
        self.assertInvalid(self.get(gw, self.token()), "unknown kid")
        self.server.set(down=False)
        gw.wait_line("jwt corp: key set from", WAIT)
        self.assertAccepted(self.get(gw, self.token()))

    def test_fetched_and_cached(self):
        self.server.set(keys=[self.jwk["a"], self.jwk["ed"]])
        gw = self.start()
        before = self.counters(gw)
        for kid in ("a", "ed"):
            tok = self.token(kid, sub="u-" + kid)
            for _ in range(5):
                self.assertAccepted(self.get(gw, tok), "u-" + kid)
        after = self.counters(gw)
        self.assertEqual(after["jwt_cache_misses"] - before["jwt_cache_misses"], 2)
        self.assertEqual(after["jwt_cache_hits"] - before["jwt_cache_hits"], 8)

    def test_cache_off(self):
        gw = self.start(cache=0)
        tok = self.token()
        for _ in range(3):
            self.assertAccepted(self.get(gw, tok))
        c = self.counters(gw)
        self.assertEqual((c["jwt_cache_hits"], c["jwt_cache_misses"]), (0, 0))

    def test_rotation_without_reload(self):
        gw = self.start()
        n = self.server.count()
        self.assertAccepted(self.get(gw, self.token("a")))
        self.server.set(keys=[self.jwk["a"], self.jwk["b"]])
        # Held until the refresh it triggers, then accepted.
        self.assertAccepted(self.get(gw, self.token("b", sub="bob")), "bob")
        self.assertEqual(self.server.count(), n + 1)
        self.assertAccepted(self.get(gw, self.token("a")))
        self.assertEqual(self.server.count(), n + 1)

    def test_refresh_rate_limit(self):
        gw = self.start()
        n = self.server.count()
        # A concurrent burst: requests arriving while the refresh it
        # triggered is in flight wait for that one; none starts another.
        toks = [self.token("b", sub="x%d" % i) for i in range(10)]
        results = [None] * len(toks)

        def one(i):
            results[i] = self.get(gw, toks[i])
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(toks))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        for r in results:
            self.assertInvalid(r, "unknown kid")
        self.assertEqual(self.server.count(), n + 1)
        for i in range(10):
            self.assertInvalid(self.get(gw, self.token("b", sub="z%d" % i)), "unknown kid")
        self.assertEqual(self.server.count(), n + 1)
        # Within jwks_refresh_min (30 s): no more fetches, even once the key
        # exists upstream.
        self.server.set(keys=[self.jwk["a"], self.jwk["b"]])
        for i in range(10):
            self.assertInvalid(self.get(gw, self.token("b", sub="y%d" % i)), "unknown kid")
        self.assertEqual(self.server.count(), n + 1)
        self.assertAccepted(self.get(gw, self.token("a")))

    def test_server_down_keeps_keys(self):
        gw = self.start(refresh="1s")
        self.server.set(down=True)
        n = self.server.count()
        wait_until(lambda: self.server.count() >= n + 2, "two failed refreshes")
        wait_until(lambda: sum("keeping the last good keys" in l for l in gw.lines()) >= 2,
                   "the failures logged")
        self.assertAccepted(self.get(gw, self.token(sub="fresh")), "fresh")

    def test_removed_key_refused_at_once(self):
        self.server.set(keys=[self.jwk["a"], self.jwk["b"]])
        gw = self.start(refresh="1s")
        tok = self.token("b", sub="bob")
        self.assertAccepted(self.get(gw, tok), "bob")
        self.assertAccepted(self.get(gw, tok), "bob")
        self.assertEqual(self.counters(gw)["jwt_cache_hits"], 1)
        self.server.set(keys=[self.jwk["a"]])
        gw.wait_line("(generation 2)", WAIT)
        self.assertInvalid(self.get(gw, tok), "unknown kid")
        self.assertAccepted(self.get(gw, self.token("a")))

    def test_cached_token_expires(self):
        gw = self.start()
        exp = int(time.time()) + 3
        tok = self.token(exp=exp)
        self.assertAccepted(self.get(gw, tok))
        self.assertAccepted(self.get(gw, tok))
        self.assertEqual(self.counters(gw)["jwt_cache_hits"], 1)
        while time.time() < exp + 1:
            time.sleep(0.2)
        self.assertInvalid(self.get(gw, tok), "expired")

    def test_reload_keeps_keys(self):
        gw = self.start()
        n = self.server.count()
        rc, a, _ = gw.ctl("reload")
        self.assertTrue(a["ok"], a)
        self.assertAccepted(self.get(gw, self.token(sub="after")), "after")
        self.assertEqual(self.server.count(), n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
