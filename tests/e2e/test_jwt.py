"""JWT authentication end to end: [jwt NAME] with a JWKS file, routes with
auth = jwt:NAME, scopes and claims. Keys are generated at run time with
`openssl genpkey` (RSA 2048, EC P-256, Ed25519) plus a random HMAC secret;
tokens are minted with PyJWT, or by hand for the ones PyJWT refuses to
make (alg none, HS256 keyed with the RSA public key PEM).

Checked: a valid token of each algorithm reaches the upstream with the
forward_claims headers; no token, a non-Bearer scheme, an expired token, a
wrong audience, alg none and the HS256/RSA-PEM confusion are 401 with the
exact WWW-Authenticate; a missing scope or a claim mismatch is 403
insufficient_scope; a client's own X-User-Id is replaced; a route without
auth needs no token; and a reload with a changed JWKS file takes effect.
Every assertion is exact; nothing depends on timing (the token times are
hours away from now)."""

import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit",
                                "auth"))
try:
    import jwt as pyjwt  # noqa: E402
    import mint  # noqa: E402  (tests/unit/auth/mint.py: genpkey, public_jwk, b64)
except ImportError as e:  # pragma: no cover
    # tests/deps.sh installs them: missing means a broken setup, which fails.
    print("%s (needs python3-jwt, python3-cryptography, python3-jwcrypto)" % e)
    sys.exit(1)

ISS = "https://id.example.com/"
AUD = "api"
REALM = 'Bearer realm="gatewayd"'

CONF = """
[service echo]
instance = 127.0.0.1:$port

[jwt corp]
issuer = https://id.example.com/
audience = api
jwks = jwks.json
algorithms = RS256 ES256 EdDSA HS256
leeway = 30s
forward_claims = sub:X-User-Id email:X-User-Email

[route orders]
path = /orders
service = echo
auth = jwt:corp
scopes = orders:read
claims = role=admin

[route me]
path = /me
service = echo
auth = jwt:corp

[route quota]
path = /quota
service = echo
auth = jwt:corp
rate_limit = 2/hour by=jwt:sub

[route open]
path = /
service = echo
"""


def claims(**over):
    now = int(time.time())
    c = {"iss": ISS, "aud": AUD, "sub": "user-42", "email": "u@example.com",
         "scope": "orders:read orders:write", "role": "admin",
         "iat": now - 60, "exp": now + 3600}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


class Jwt(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gw-jwt-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        t = cls.tmp
        cls.rsa = mint.genpkey(t, "rsa", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
        cls.rsa2 = mint.genpkey(t, "rsa2", "-algorithm", "RSA", "-pkeyopt",
                                "rsa_keygen_bits:2048")
        cls.ec = mint.genpkey(t, "ec", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
        cls.ed = mint.genpkey(t, "ed", "-algorithm", "ED25519")
        cls.secret = os.urandom(32)
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)
        cls.gw = gwtest.Gateway(gwtest.gateway_section() + gwtest.ini(CONF, port=cls.echo.port),
                                start=False)
        cls.addClassCleanup(cls.gw.stop)
        cls.write_jwks([mint.public_jwk(cls.rsa, kid="rsa"), mint.public_jwk(cls.ec, kid="ec"),
                        mint.public_jwk(cls.ed, kid="ed"),
                        {"kty": "oct", "kid": "hmac", "k": mint.b64(cls.secret)}])
        cls.gw.start()

    @classmethod
    def write_jwks(cls, keys):
        with open(os.path.join(cls.gw.dir, "jwks.json"), "w") as f:
            json.dump({"keys": keys}, f)

    def token(self, alg="RS256", **over):
        key, kid = {"RS256": (self.rsa, "rsa"), "ES256": (self.ec, "ec"),
                    "EdDSA": (self.ed, "ed"), "HS256": (self.secret, "hmac")}[alg]
        return pyjwt.encode(claims(**over), key, algorithm=alg, headers={"kid": kid})

    def get(self, path, token=None, headers=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        return gwtest.request(self.gw.port, "GET", path, headers=h)

    def assertEchoed(self, r, user="user-42"):
        self.assertEqual(r.status, 200, r)
        sent = gwtest.echo_json(r)["headers"]
        self.assertEqual(sent.get("x-user-id"), user)
        return sent

    def assertRefused(self, r, status, www, error):
        self.assertEqual((r.status, r.header("WWW-Authenticate")), (status, www), r)
        doc = r.json()
        self.assertEqual((doc["error"], doc["status"]), (error, status))

    def assertInvalid(self, r, why):
        self.assertRefused(r, 401, REALM + ', error="invalid_token", error_description="%s"'
                           % why, "invalid token")

    # --- accepted

    def test_every_algorithm(self):
        for alg in ("RS256", "ES256", "EdDSA", "HS256"):
            with self.subTest(alg=alg):
                sent = self.assertEchoed(self.get("/orders/1", self.token(alg)))
                self.assertEqual(sent.get("x-user-email"), "u@example.com")
                # The Authorization header is passed through.
                self.assertTrue(sent.get("authorization", "").startswith("Bearer ey"))

    def test_scheme_is_case_insensitive(self):
        r = gwtest.request(self.gw.port, "GET", "/me",
                           headers={"Authorization": "bEaReR  " + self.token()})
        self.assertEchoed(r)

    def test_spoofed_forwarded_claim_replaced(self):
        r = self.get("/me", self.token(sub="alice"),
                     headers={"X-User-Id": "root", "x-user-email": "evil@example.com"})
        sent = self.assertEchoed(r, "alice")
        self.assertEqual(sent.get("x-user-email"), "u@example.com")

    def test_absent_claim_not_forwarded(self):
        r = self.get("/me", self.token(email=None), headers={"X-User-Email": "forged"})
        sent = self.assertEchoed(r)
        self.assertNotIn("x-user-email", sent)

    def test_route_without_auth(self):
        r = self.get("/open", headers={"X-User-Id": "whoever"})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("WWW-Authenticate"))
        # Not an auth route: nothing is stripped or added.
        self.assertEqual(gwtest.echo_json(r)["headers"].get("x-user-id"), "whoever")

    # --- 401

    def test_no_token(self):
        self.assertRefused(self.get("/orders/1"), 401, REALM, "missing bearer token")

    def test_other_scheme_is_no_token(self):
        r = gwtest.request(self.gw.port, "GET", "/me",
                           headers={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertRefused(r, 401, REALM, "missing bearer token")
        r = gwtest.request(self.gw.port, "GET", "/me", headers={"Authorization": "Bearer "})
        self.assertRefused(r, 401, REALM, "missing bearer token")

    def test_expired(self):
        now = int(time.time())
        self.assertInvalid(self.get("/me", self.token(iat=now - 7200, exp=now - 3600)),
                           "expired")

    def test_wrong_audience(self):
        self.assertInvalid(self.get("/me", self.token(aud="other")), "wrong audience")

    def test_alg_none(self):
        tok = mint.manual({"alg": "none", "typ": "JWT"}, claims(), lambda b: b"")
        self.assertInvalid(self.get("/me", tok), "algorithm refused")

    def test_hs256_with_rsa_public_key(self):
        pem = mint.pub_pem(self.rsa)
        tok = mint.manual({"alg": "HS256", "typ": "JWT", "kid": "rsa"}, claims(),
                          lambda b: hmac.new(pem, b, hashlib.sha256).digest())
        # The kid names an RSA key: HMAC is never tried with it.
        self.assertInvalid(self.get("/me", tok), "no key for algorithm")

    def test_bad_signature(self):
        self.assertInvalid(self.get("/me", mint.flip_sig(self.token())),
                           "bad signature")

    # --- 403

    def test_missing_scope(self):
        self.assertRefused(self.get("/orders/1", self.token(scope="orders:write")), 403,
                           REALM + ', error="insufficient_scope", scope="orders:read"',
                           "insufficient scope")

    def test_claim_mismatch(self):
        self.assertRefused(self.get("/orders/1", self.token(role="viewer")), 403,
                           REALM + ', error="insufficient_scope", scope="orders:read"',
                           "insufficient scope")
        # Roles as an array: any element matches.
        self.assertEchoed(self.get("/orders/1", self.token(role=["viewer", "admin"])))

    def test_scp_array(self):
        self.assertEchoed(self.get("/orders/1", self.token(scope=None, scp=["orders:read"])))

    # --- reload

    def test_rate_limit_by_claim(self):
        """by=jwt:sub: each subject has its own bucket of 2."""
        for user in ("alice", "bob"):
            t = self.token(sub=user)
            self.assertEqual([self.get("/quota", t).status for _ in range(3)], [200, 200, 429])
        _, ans, _ = self.gw.ctl("limits", "show", "quota", "alice")
        self.assertEqual(ans["rules"][0]["remaining"], 0)
        _, ans, _ = self.gw.ctl("limits", "show", "quota", "carol")
        self.assertEqual((ans["rules"][0]["remaining"], ans["rules"][0]["present"]), (2, False))

    def test_zz_reload_with_new_jwks(self):
        old = self.token("RS256")
        self.assertEchoed(self.get("/me", old))
        self.write_jwks([mint.public_jwk(self.rsa2, kid="rsa2")])
        _, a, _ = self.gw.ctl("reload")
        self.assertTrue(a["ok"], a)
        gwtest.wait_until(lambda: self.get("/me", old).status == 401,
                          what="the old key refused after reload")
        self.assertInvalid(self.get("/me", old), "unknown kid")
        new = pyjwt.encode(claims(sub="bob"), self.rsa2, algorithm="RS256",
                           headers={"kid": "rsa2"})
        self.assertEchoed(self.get("/me", new), "bob")


if __name__ == "__main__":
    unittest.main()
