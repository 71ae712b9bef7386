"""API keys end to end: [apikeys] with a store file in the gateway's
directory, routes with auth = apikey (with scopes, with a by=consumer rate
limit) and auth = "apikey jwt:corp", two workers.

Checked: gatewayctl keys add prints a gwk_ key once (alone on stdout) and
the store file, created mode 0600, never holds it; the key gives 200,
no key or a wrong one 401 with the exact WWW-Authenticate; a key without
the route's scope 403; the backend sees X-Consumer (a client's own copy
replaced) and never the key header; revoke gives 401 at once on every
worker (fresh connections, both workers' request counters move); a key
added works at once, without reload; keys list (table and JSON) shows no
secret; a store that cannot be written makes add and revoke fail and
change nothing; by=consumer counts exactly across keys of one consumer; "apikey
jwt:corp" takes either credential; keys survive gatewayctl reload and a
restart; a malformed store at reload is refused with STORE:LINE and the
running keys keep working. No assertion depends on timing."""

import base64
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

KEY_REALM = 'ApiKey realm="gatewayd"'
BEARER_REALM = 'Bearer realm="gatewayd"'
SECRET = b"0123456789abcdef0123456789abcdef"
FRESH = 40		# fresh connections after a revoke; 2 workers share them

CONF = """
[apikeys]
file = keys/apikeys.db

[service echo]
instance = 127.0.0.1:$port

[jwt corp]
jwks = jwks.json
algorithms = HS256

[route orders]
path = /orders
service = echo
auth = apikey
scopes = orders:read

[route quota]
path = /quota
service = echo
auth = apikey
rate_limit = 3/hour by=consumer

[route either]
path = /either
service = echo
auth = apikey jwt:corp

[route keyed]
path = /
service = echo
auth = apikey
"""


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims):
    """A token signed by hand (stdlib only): the JWT half of "either"."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(SECRET, ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64(sig))


class ApiKeys(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)
        cls.gw = gwtest.Gateway(gwtest.gateway_section(workers=2)
                                + gwtest.ini(CONF, port=cls.echo.port), start=False)
        cls.addClassCleanup(cls.gw.stop)
        with open(os.path.join(cls.gw.dir, "jwks.json"), "w") as f:
            json.dump({"keys": [{"kty": "oct", "kid": "k", "k": b64(SECRET)}]}, f)
        os.mkdir(os.path.join(cls.gw.dir, "keys"))
        cls.store = os.path.join(cls.gw.dir, "keys", "apikeys.db")
        cls.gw.start()

    # --- helpers

    def add(self, consumer, scopes=None):
        args = ["keys", "add", consumer] + (["--scopes", scopes] if scopes else [])
        _, a, _ = self.gw.ctl(*args)
        self.assertTrue(a["ok"], a)
        self.assertRegex(a["key"], r"^gwk_[A-Za-z0-9_-]{43}$")
        return a["id"], a["key"]

    def get(self, path, key=None, headers=None, port=None):
        h = dict(headers or {})
        if key is not None:
            h["X-Api-Key"] = key
        return gwtest.request(port or self.gw.port, "GET", path, headers=h)

    def assertRefused(self, r, status, www, error):
        self.assertEqual((r.status, r.header_all("WWW-Authenticate")), (status, www), r)
        self.assertEqual((r.json()["error"], r.json()["status"]), (error, status))

    def worker_requests(self):
        _, a, _ = self.gw.ctl("workers")
        return {w["pid"]: w["requests"] for w in a["workers"] if w["state"] == "ready"}

    # --- tests

    def test_add_prints_key_once_and_store_holds_none(self):
        r = subprocess.run([gwtest.GATEWAYCTL, "-s", self.gw.control, "keys", "add", "carol"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        key = r.stdout.strip()
        self.assertRegex(key, r"^gwk_[A-Za-z0-9_-]{43}$")
        self.assertIn("only time the key is shown", r.stderr)
        self.assertEqual(self.get("/x", key).status, 200)
        mode = os.stat(self.store).st_mode
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        with open(self.store) as f:
            text = f.read()
        self.assertNotIn(key, text)
        self.assertNotIn(key[4:], text)
        # list, as a table and as JSON: no key, no hash.
        table = subprocess.run([gwtest.GATEWAYCTL, "-s", self.gw.control, "keys", "list"],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(table.returncode, 0)
        self.assertRegex(table.stdout, r"(?m)^ID +CONSUMER +STATE +CREATED +SCOPES")
        self.assertRegex(table.stdout, r"(?m)^ *\d+ +carol +live ")
        _, listed, _ = self.gw.ctl("keys", "list")
        hashes = [l.split()[5] for l in text.splitlines() if l.startswith("key ")]
        for out in (table.stdout, json.dumps(listed)):
            self.assertNotIn(key, out)
            self.assertNotIn(key[4:], out)
            for h in hashes:
                self.assertNotIn(h, out)
        mine = [k for k in listed["keys"] if k["consumer"] == "carol"]
        self.assertEqual(len(mine), 1)
        self.assertEqual(set(mine[0]), {"id", "consumer", "scopes", "created", "state"})

    def test_missing_and_wrong_key(self):
        self.assertRefused(self.get("/x"), 401, [KEY_REALM], "missing API key")
        self.assertRefused(self.get("/x", "gwk_" + "A" * 43), 401,
                           [KEY_REALM + ', error="invalid_key"'], "invalid API key")
        self.assertRefused(self.get("/x", "x" * 5000), 401,
                           [KEY_REALM + ', error="invalid_key"'], "invalid API key")
        _, key = self.add("dave")
        # One character changed is another key.
        wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
        self.assertEqual(self.get("/x", wrong).status, 401)
        self.assertEqual(self.get("/x", key).status, 200)

    def test_consumer_forwarded_key_not(self):
        _, key = self.add("erin")
        r = self.get("/x", key, headers={"X-Consumer": "mallory"})
        self.assertEqual(r.status, 200, r)
        sent = gwtest.echo_json(r)["headers"]
        self.assertEqual(sent.get("x-consumer"), "erin")
        self.assertNotIn("x-api-key", sent)
        self.assertNotIn(key, r.body.decode())
        # The access log names the consumer, and never the key.
        entry = self.gw.wait_access(r.header("x-request-id"))
        self.assertEqual(entry["consumer"], "erin")
        self.assertNotIn(key, "\n".join(self.gw.lines()))

    def test_scopes(self):
        _, reader = self.add("frank", "orders:read other")
        _, plain = self.add("grace", "other")
        self.assertEqual(self.get("/orders/1", reader).status, 200)
        self.assertRefused(self.get("/orders/1", plain), 403,
                           [KEY_REALM + ', error="insufficient_scope", scope="orders:read"'],
                           "insufficient scope")

    def test_revoke_everywhere_at_once(self):
        kid, key = self.add("heidi")
        before = self.worker_requests()
        self.assertEqual(len(before), 2, before)
        for _ in range(FRESH):
            self.assertEqual(self.get("/x", key).status, 200)
        _, a, _ = self.gw.ctl("keys", "revoke", kid)
        self.assertEqual((a["id"], a["consumer"]), (kid, "heidi"))
        mid = self.worker_requests()
        for _ in range(FRESH):
            self.assertRefused(self.get("/x", key), 401,
                               [KEY_REALM + ', error="invalid_key"'], "invalid API key")
        after = self.worker_requests()
        # Both workers answered some of the refusals (the kernel spreads
        # fresh connections over both listening sockets).
        for pid in before:
            self.assertGreater(after[pid], mid[pid], (before, mid, after))
        rc, a, _ = self.gw.ctl("keys", "revoke", kid, check=False)
        self.assertEqual((rc, a["code"]), (1, "invalid"))
        rc, a, _ = self.gw.ctl("keys", "revoke", 999999, check=False)
        self.assertEqual((rc, a["code"]), (1, "not_found"))
        _, listed, _ = self.gw.ctl("keys", "list")
        self.assertEqual([k["state"] for k in listed["keys"] if k["id"] == kid], ["revoked"])

    def test_new_key_works_at_once_on_every_worker(self):
        _, key = self.add("ivan")
        for _ in range(FRESH):
            self.assertEqual(self.get("/x", key).status, 200)

    def test_rate_limit_by_consumer(self):
        _, k1 = self.add("judy")
        _, k2 = self.add("judy")
        _, other = self.add("ken")
        got = [self.get("/quota", k).status for k in (k1, k2, k1, k2, k1)]
        self.assertEqual(got, [200, 200, 200, 429, 429])
        self.assertEqual([self.get("/quota", other).status for _ in range(4)],
                         [200, 200, 200, 429])

    def test_either_credential(self):
        _, key = self.add("leo")
        now = int(time.time())
        tok = hs256({"sub": "u1", "iat": now - 60, "exp": now + 3600})
        self.assertEqual(self.get("/either", key).status, 200)
        r = self.get("/either", headers={"Authorization": "Bearer " + tok})
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("x-consumer", gwtest.echo_json(r)["headers"])
        self.assertRefused(self.get("/either"), 401, [KEY_REALM, BEARER_REALM],
                           "missing bearer token")
        # A bad key is refused even with a good token beside it.
        r = self.get("/either", "gwk_bad", headers={"Authorization": "Bearer " + tok})
        self.assertRefused(r, 401, [KEY_REALM + ', error="invalid_key"', BEARER_REALM],
                           "invalid API key")
        r = self.get("/either", headers={"Authorization": "Bearer " + tok + "x"})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.header_all("WWW-Authenticate")[0], KEY_REALM)

    def test_bad_commands(self):
        rc, a, _ = self.gw.ctl("keys", "add", "bad name", check=False)
        self.assertEqual((rc, a["code"]), (1, "invalid"))
        rc, a, _ = self.gw.ctl("keys", "add", "x", "--scopes", 'a"b', check=False)
        self.assertEqual((rc, a["code"]), (1, "invalid"))
        rc, a, _ = self.gw.ctl("keys", "revoke", "abc", check=False)
        self.assertEqual((rc, a["code"]), (1, "invalid"))
        rc, _, err = self.gw.ctl("keys", "add", check=False)
        self.assertEqual(rc, 2, err)

    def test_write_failure_changes_nothing(self):
        kid, key = self.add("pete")
        _, before, _ = self.gw.ctl("keys", "list")
        keys_dir = os.path.dirname(self.store)
        os.rename(keys_dir, keys_dir + ".away")
        try:
            rc, a, _ = self.gw.ctl("keys", "add", "quinn", check=False)
            self.assertEqual((rc, a["code"]), (1, "failed"))
            self.assertIn("no key was added", a["error"])
            rc, a, _ = self.gw.ctl("keys", "revoke", kid, check=False)
            self.assertEqual((rc, a["code"]), (1, "failed"))
            self.assertIn("the key was not revoked", a["error"])
        finally:
            os.rename(keys_dir + ".away", keys_dir)
        _, after, _ = self.gw.ctl("keys", "list")
        self.assertEqual(after, before)
        self.assertEqual(self.get("/x", key).status, 200)
        # The next id is the one the failed add did not use.
        nid, _ = self.add("quinn")
        self.assertEqual(nid, max(k["id"] for k in before["keys"]) + 1)

    def test_z_reload_restart_and_bad_store(self):
        # Named to run last: it restarts the gateway.
        _, kept = self.add("mia")
        kid, gone = self.add("nick")
        self.gw.ctl("keys", "revoke", kid)
        self.gw.ctl("reload")
        self.assertEqual(self.get("/x", kept).status, 200)
        self.assertEqual(self.get("/x", gone).status, 401)
        # A malformed store: the reload is refused with STORE:LINE, the
        # running keys stay.
        with open(self.store) as f:
            good = f.read()
        with open(self.store, "a") as f:
            f.write("key 1 x live 1 nothex\n")
        line = good.count("\n") + 1
        rc, a, _ = self.gw.ctl("reload", check=False)
        self.assertEqual(rc, 1)
        self.assertIn("%s:%d: bad hash (want 64 lowercase hex digits)" % (self.store, line),
                      a["errors"])
        self.assertEqual(self.get("/x", kept).status, 200)
        # A store others may read is refused too.
        with open(self.store, "w") as f:
            f.write(good)
        os.chmod(self.store, 0o644)
        rc, a, _ = self.gw.ctl("reload", check=False)
        self.assertEqual(rc, 1)
        self.assertTrue(any("is open to group or others (mode 0644)" in e for e in a["errors"]),
                        a)
        os.chmod(self.store, 0o600)
        self.assertEqual(self.get("/x", kept).status, 200)
        # A restart reads the same store.
        self.assertEqual(self.gw.proc.stop(), 0)
        self.gw.start()
        self.assertEqual(self.get("/x", kept).status, 200)
        self.assertEqual(self.get("/x", gone).status, 401)
        _, key = self.add("olga")
        self.assertEqual(self.get("/x", key).status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
