"""The TLS client of bench/compare's TLS profiles: wrk with the
LD_PRELOAD shim bench/tls_sessions.c, against gatewayd's [tls] listener.
The profiles' meaning rests on the shim doing what it says, so each of its
settings is checked against what the handshakes really were (the shim's
counts come from OpenSSL's own SSL_session_reused() and SSL_version(), and
wrk's request count bounds them):

  * GW_TLS_RESUME=0: every connection a full handshake, none resumed;
  * GW_TLS_MAX=1.2: TLS 1.2 only, and each slot resumes after its first
    connection (RFC 5077 tickets under gatewayd's shared keys);
  * unset: wrk's own TLS 1.3;
  * keep-alive: no connection closed, nothing counted.

wrk runs for one second (-d 1s) on 4 connections, under a subprocess
timeout. wrk is a Debian package (tests/deps.sh installs it)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

SHIM = os.environ.get("WRK_TLS_SHIM") or os.path.normpath(
    os.path.join(gwtest.HERE, "..", "..", "build", "bench", "wrk-tls-sessions.so"))
CONNS = 4

TLS_GATEWAY = """\
[gateway]
workers = 1
pin_workers = no
access_log = off
log_level = info

[tls]
listen = 127.0.0.1:0
cert = $cert $key

[service echo]
instance = 127.0.0.1:$port

[route all]
path = /
service = echo
"""


def make_cert(directory):
    """An ECDSA P-256 certificate and its 0600 key, as bench/compare makes them."""
    pem, key = os.path.join(directory, "api.pem"), os.path.join(directory, "api.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem,
                    "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=30)
    os.chmod(key, 0o600)
    return pem, key


class WrkTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.wrk = shutil.which("wrk")
        if not cls.wrk:
            raise AssertionError("wrk is missing: run tests/deps.sh")
        if not os.path.exists(SHIM):
            raise AssertionError("%s is missing: the build is broken" % SHIM)
        cls.dir = tempfile.mkdtemp(prefix="gw-e2e-wrk-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        pem, key = make_cert(cls.dir)
        cls.echo = gwtest.Echo()
        cls.addClassCleanup(cls.echo.stop)
        cls.gw = gwtest.Gateway(gwtest.ini(TLS_GATEWAY, cert=pem, key=key,
                                           port=cls.echo.port))
        cls.addClassCleanup(cls.gw.stop)

    def wrk_run(self, close=True, **env):
        """wrk -c 4 -d 1s through the shim; (requests, non-2xx, counts)."""
        count = os.path.join(self.dir, "count")
        if os.path.exists(count):
            os.unlink(count)
        cmd = [self.wrk, "-t", "1", "-c", str(CONNS), "-d", "1s", "--timeout", "2s"]
        if close:
            cmd += ["-H", "Connection: close"]
        cmd.append("https://127.0.0.1:%d/bench?size=64" % self.gw.port)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, LD_PRELOAD=SHIM, GW_TLS_COUNT=count, **env))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.search(r"(\d+) requests in", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
        errs = re.search(r"Socket errors: (.*)", r.stdout)
        self.assertIsNone(errs, r.stdout)
        with open(count) as f:
            text = f.read()
        m2 = re.fullmatch(r"full (\d+) resumed (\d+) v1\.2 (\d+) v1\.3 (\d+)\n", text)
        self.assertIsNotNone(m2, "shim counts: %r" % text)
        counts = dict(zip(("full", "resumed", "tls1.2", "tls1.3"), map(int, m2.groups())))
        return int(m.group(1)), int(bad.group(1)) if bad else 0, counts

    def assert_consistent(self, requests, counts):
        """Every closed connection carried one request, and only the last
        connection of each slot can be open (uncounted) at exit."""
        done = counts["full"] + counts["resumed"]
        self.assertEqual(done, counts["tls1.2"] + counts["tls1.3"], counts)
        self.assertGreater(done, CONNS, "too few connections to tell: %r" % counts)
        self.assertLessEqual(done, requests, counts)
        self.assertGreaterEqual(done, requests - CONNS, (requests, counts))

    def test_resumption_off_means_full_handshakes(self):
        requests, bad, c = self.wrk_run(GW_TLS_RESUME="0")
        self.assertEqual(bad, 0)
        self.assert_consistent(requests, c)
        self.assertEqual(c["resumed"], 0, c)
        self.assertEqual(c["tls1.3"], c["full"], c)

    def test_tls12_cap_and_resumption(self):
        requests, bad, c = self.wrk_run(GW_TLS_MAX="1.2")
        self.assertEqual(bad, 0)
        self.assert_consistent(requests, c)
        self.assertEqual(c["tls1.3"], 0, c)
        # Each slot's first connection is a full handshake; every later one
        # offers the ticket it got, under gatewayd's current key.
        self.assertLessEqual(c["full"], CONNS, c)
        self.assertGreater(c["resumed"], 0, c)

    def test_tls12_cap_with_resumption_off(self):
        requests, bad, c = self.wrk_run(GW_TLS_MAX="1.2", GW_TLS_RESUME="0")
        self.assertEqual(bad, 0)
        self.assert_consistent(requests, c)
        self.assertEqual((c["resumed"], c["tls1.3"]), (0, 0), c)

    def test_keepalive_closes_nothing(self):
        requests, bad, c = self.wrk_run(close=False)
        self.assertEqual(bad, 0)
        self.assertGreater(requests, CONNS)
        self.assertEqual(c, {"full": 0, "resumed": 0, "tls1.2": 0, "tls1.3": 0})


if __name__ == "__main__":
    unittest.main()
