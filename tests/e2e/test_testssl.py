"""testssl.sh (Debian's) against a [tls] listener: no HIGH or CRITICAL
finding. The certificate is made the way a real deployment's would be (a
CA the scan is told to trust, subjectAltName localhost, CRL and OCSP
addresses, months of validity) so that findings are about the server's
TLS, not about a test certificate. The scan covers protocols, cipher
lists, forward secrecy, cipher order, server defaults (tickets, resumption,
the certificate), HTTP headers (HSTS) and the known vulnerabilities
(Heartbleed, CCS, ROBOT, CRIME, BREACH, POODLE, SWEET32, BEAST, LUCKY13,
FREAK, Logjam, DROWN, renegotiation, RC4)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

EXT = """subjectAltName=DNS:localhost
crlDistributionPoints=URI:http://localhost/ca.crl
authorityInfoAccess=OCSP;URI:http://localhost/ocsp
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
"""


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), r.stderr))


class Testssl(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gw-testssl-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        p = lambda n: os.path.join(self.dir, n)  # noqa: E731
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "400",
                "-subj", "/CN=gatewayd testssl CA")
        with open(p("leaf.ext"), "w") as f:
            f.write(EXT)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", p("srv.key"), "-out", p("srv.csr"), "-subj", "/CN=localhost")
        openssl("x509", "-req", "-in", p("srv.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                "-CAcreateserial", "-out", p("srv.pem"), "-days", "200", "-extfile", p("leaf.ext"))
        os.chmod(p("srv.key"), 0o600)
        self.p = p

    def test_no_high_or_critical_finding(self):
        echo = gwtest.Echo()
        self.addCleanup(echo.stop)
        gw = gwtest.Gateway(gwtest.gateway_section(workers=2) +
                            "[tls]\nlisten = 127.0.0.1:0\ncert = %s %s\n"
                            "hsts = max-age=31536000; includeSubDomains\n\n"
                            % (self.p("srv.pem"), self.p("srv.key")) +
                            gwtest.ini(gwtest.ONE_ROUTE, port=echo.port))
        self.addCleanup(gw.stop)
        report = self.p("testssl.json")
        r = subprocess.run(["testssl", "--quiet", "--color", "0", "--warnings", "off",
                            "--add-ca", self.p("ca.pem"), "-p", "-s", "-f", "-P", "-S", "-h",
                            "-U", "--jsonfile", report, "localhost:%d" % gw.ports[1]],
                           capture_output=True, text=True, timeout=600)
        with open(report) as f:
            findings = json.load(f)
        by_id = {f["id"]: f for f in findings}
        # The scan really ran against us: what it found is what we offer.
        self.assertEqual(by_id["TLS1_3"]["finding"], "offered with final", r.stdout[-2000:])
        self.assertEqual(by_id["TLS1_2"]["finding"], "offered")
        for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            self.assertEqual(by_id[old]["finding"], "not offered", old)
        self.assertEqual(by_id["cert_chain_of_trust"]["severity"], "OK")
        self.assertIn("heartbleed", by_id)
        bad = ["%s %s: %s" % (f["severity"], f["id"], f["finding"]) for f in findings
               if f["severity"] in ("HIGH", "CRITICAL")]
        self.assertEqual(bad, [])


if __name__ == "__main__":
    unittest.main()
