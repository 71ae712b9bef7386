"""TLS termination end to end: [tls] listeners with certificates the test
makes with openssl (a CA, server certificates for two names, client
certificates from that CA and a self-signed stranger), driven by curl,
openssl s_client and Python's http.client over ssl.

Checked: HTTPS requests reach the upstream with X-Forwarded-Proto https;
SNI picks the certificate naming the host, an unknown name gets the first;
TLS 1.0 and 1.1 are refused with a protocol_version alert while 1.2 and 1.3
work; a session resumes by ticket on every one of many new connections,
spread over both workers, and across a reload; large bodies both ways and
many requests on one kept-alive connection; mTLS required, optional and
with client_cert_status = 403, the verified subject forwarded and a
client's own copy dropped; redirect_http and HSTS; a private key readable
by others and a key that does not match its certificate are refused with
the file's line; a reload switches certificates for new connections while
an open connection finishes its request, and a bad certificate at reload
keeps the running one. Nothing depends on timing."""

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402

CERTS = tempfile.mkdtemp(prefix="gw-tls-certs-")


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), r.stderr))


def path(name):
    return os.path.join(CERTS, name)


def make_ca():
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "30",
            "-subj", "/CN=gatewayd test CA")


def make_leaf(name, subject, sans=None, client=False, ca=True):
    """A key and certificate <name>.key/.pem signed by the test CA (or
    self-signed with ca=False); key mode 0600."""
    key, pem = path(name + ".key"), path(name + ".pem")
    ext = path(name + ".ext")
    with open(ext, "w") as f:
        if sans:
            f.write("subjectAltName=" + ",".join("DNS:" + s for s in sans) + "\n")
        f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
    if ca:
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", path(name + ".csr"), "-subj", subject)
        openssl("x509", "-req", "-in", path(name + ".csr"), "-CA", path("ca.pem"),
                "-CAkey", path("ca.key"), "-CAcreateserial", "-out", pem, "-days", "30",
                "-extfile", ext)
    else:
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key, "-out", pem, "-days", "30", "-subj", subject)
    os.chmod(key, 0o600)


def setUpModule():
    make_ca()
    make_leaf("a", "/CN=a.test", ["a.test", "localhost"])
    make_leaf("b", "/CN=b.test", ["b.test", "*.b.test"])
    make_leaf("alice", "/O=Example, Inc./CN=alice", client=True)
    make_leaf("mallory", "/CN=mallory", client=True, ca=False)


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def conf(port, tls_extra="", certs=("a", "b"), workers=2, gateway_extra=None):
    cert_lines = "".join("cert = %s %s\n" % (path(c + ".pem"), path(c + ".key")) for c in certs)
    return (gwtest.gateway_section(workers=workers, **(gateway_extra or {})) +
            "[tls]\nlisten = 127.0.0.1:0\n" + cert_lines + tls_extra + "\n" +
            gwtest.ini(gwtest.ONE_ROUTE, port=port))


def s_client(port, *args, data=b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"):
    """openssl s_client against the TLS port: (exit status, stdout+stderr)."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-CAfile", path("ca.pem"), "-ign_eof"] + list(args),
                       input=data, capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode("latin-1")


class _Https(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with <sni> as the server name checked."""

    def __init__(self, port, ctx, sni):
        super().__init__("127.0.0.1", port, context=ctx, timeout=gwtest.TIMEOUT)
        self.sni = sni

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.sni)


def context(cert=None):
    ctx = ssl.create_default_context(cafile=path("ca.pem"))
    if cert:
        ctx.load_cert_chain(path(cert + ".pem"), path(cert + ".key"))
    return ctx


def https(port, method="GET", target="/", body=None, headers=None, cert=None,
          host="localhost"):
    """One request over a new TLS connection: (status, headers dict, body)."""
    conn = _Https(port, context(cert), host)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


class TlsBasics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo()
        cls.gw = gwtest.Gateway(conf(cls.echo.port))
        cls.plain, cls.tls = cls.gw.ports

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.echo.stop()

    def test_https_request_reaches_upstream_as_https(self):
        status, headers, body = https(self.tls, target="/x?y=1")
        self.assertEqual(status, 200)
        seen = json.loads(body)
        self.assertEqual(seen["path"], "/x")
        self.assertEqual(seen["headers"]["X-Forwarded-Proto"], "https")
        entry = self.gw.wait_access(headers["x-request-id"])
        self.assertEqual(entry["tls"], "TLSv1.3")
        # The plain listener still speaks plain HTTP.
        c = http.client.HTTPConnection("127.0.0.1", self.plain, timeout=gwtest.TIMEOUT)
        c.request("GET", "/p")
        r = c.getresponse()
        self.assertEqual(json.loads(r.read())["headers"]["X-Forwarded-Proto"], "http")
        self.assertEqual(self.gw.wait_access(r.getheader("X-Request-Id"))["tls"], "")
        c.close()

    def test_curl(self):
        r = subprocess.run(["curl", "-s", "--cacert", path("ca.pem"), "--resolve",
                            "a.test:%d:127.0.0.1" % self.tls,
                            "https://a.test:%d/curl" % self.tls, "-w", "\n%{http_code}"],
                           capture_output=True, text=True, timeout=30)
        body, code = r.stdout.rsplit("\n", 1)
        self.assertEqual((r.returncode, code), (0, "200"), r.stderr)
        self.assertEqual(json.loads(body)["path"], "/curl")

    def test_sni_picks_the_named_certificate(self):
        for name, want in (("a.test", "CN = a.test"), ("b.test", "CN = b.test"),
                           ("api.b.test", "CN = b.test"), ("other.test", "CN = a.test")):
            rc, out = s_client(self.tls, "-servername", name)
            self.assertEqual(rc, 0, out)
            subject = re.search(r"^subject=(.*)$", out, re.M).group(1)
            self.assertIn(want, subject, name)
        # No SNI at all: the first certificate.
        rc, out = s_client(self.tls, "-noservername")
        self.assertIn("CN = a.test", re.search(r"^subject=(.*)$", out, re.M).group(1))

    def test_old_protocol_versions_refused(self):
        for flag in ("-tls1", "-tls1_1"):
            rc, out = s_client(self.tls, flag, "-cipher", "DEFAULT@SECLEVEL=0")
            self.assertNotEqual(rc, 0, flag)
            self.assertIn("alert protocol version", out, flag)
        for flag, version in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            rc, out = s_client(self.tls, flag, "-servername", "a.test")
            self.assertEqual(rc, 0, out)
            self.assertIn("Protocol  : " + version, out)
            self.assertIn("HTTP/1.1 200 OK", out)

    def test_sessions_resume_on_every_worker(self):
        """Like a browser: every connection resumes with the ticket the
        previous one got (a TLS 1.3 ticket is used once), so the chain
        only holds if each resumption is given a new ticket."""
        sess = path("basics.0.sess")
        rc, out = s_client(self.tls, "-servername", "a.test", "-sess_out", sess)
        self.assertEqual(rc, 0, out)
        self.assertIn("New,", out)
        before = {w["id"]: w["requests"] for w in self.gw.ctl("workers")[1]["workers"]}
        # New connections land on either worker (SO_REUSEPORT hashes the
        # client port): keep going until both served some, up to 40.
        for n in range(1, 41):
            nxt = path("basics.%d.sess" % n)
            rc, out = s_client(self.tls, "-servername", "a.test", "-sess_in", sess,
                               "-sess_out", nxt)
            self.assertEqual(rc, 0, out)
            self.assertIn("Reused, TLSv1.3", out, "connection %d" % n)
            self.assertIn("HTTP/1.1 200 OK", out)
            sess = nxt
            after = {w["id"]: w["requests"] for w in self.gw.ctl("workers")[1]["workers"]}
            if n >= 8 and all(after[i] > before[i] for i in before):
                break
        self.assertTrue(all(after[i] > before[i] for i in before), (before, after))
        gwtest.wait_until(lambda: any(e.get("tls_resumed") for e in self.gw.access_log()),
                          what="a resumed connection in the access log")

    def test_tls12_resumes_by_ticket_too(self):
        sess = path("tls12.sess")
        rc, out = s_client(self.tls, "-tls1_2", "-servername", "a.test", "-sess_out", sess)
        self.assertEqual(rc, 0, out)
        for _ in range(4):
            rc, out = s_client(self.tls, "-tls1_2", "-servername", "a.test", "-sess_in", sess)
            self.assertIn("Reused, TLSv1.2", out)

    def test_large_bodies_both_ways(self):
        payload = os.urandom(3 << 20)
        status, _, body = https(self.tls, "POST", "/up?echo=body", body=payload)
        self.assertEqual(status, 200)
        self.assertEqual(body, payload)
        status, _, body = https(self.tls, target="/down?size=5000000")
        self.assertEqual((status, len(body)), (200, 5000000))

    def test_many_requests_on_one_connection(self):
        conn = _Https(self.tls, context(), "localhost")
        try:
            for i in range(200):
                conn.request("GET", "/k%d" % i)
                r = conn.getresponse()
                self.assertEqual(json.loads(r.read())["path"], "/k%d" % i)
        finally:
            conn.close()

    def test_handshake_garbage_closes_only_that_connection(self):
        s = socket.create_connection(("127.0.0.1", self.tls), timeout=gwtest.TIMEOUT)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")	# plain HTTP to the TLS port
        data = s.recv(100)
        # An alert record (content type 21), then the close.
        self.assertTrue(data == b"" or data[0] == 21, data)
        s.close()
        self.assertEqual(https(self.tls)[0], 200)

    def test_client_cannot_claim_a_subject_without_mtls(self):
        # client_cert is off here: the header passes as any other would.
        _, _, body = https(self.tls, headers={"X-Client-Subject": "CN=root"})
        self.assertEqual(json.loads(body)["headers"]["X-Client-Subject"], "CN=root")


class Mtls(unittest.TestCase):
    def start(self, extra):
        self.echo = gwtest.Echo()
        self.addCleanup(self.echo.stop)
        self.gw = gwtest.Gateway(conf(self.echo.port, "client_ca = %s\n%s" % (path("ca.pem"),
                                                                               extra)))
        self.addCleanup(self.gw.stop)
        return self.gw.ports

    def test_required(self):
        plain, port = self.start("client_cert = require\n")
        status, _, body = https(port, cert="alice",
                                headers={"X-Client-Subject": "CN=spoofed"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["headers"]["X-Client-Subject"],
                         "CN=alice,O=Example\\, Inc.")
        status, _, body = https(port)
        self.assertEqual((status, json.loads(body)["error"]),
                         (400, "a client certificate is required"))
        status, _, body = https(port, cert="mallory")
        self.assertEqual((status, json.loads(body)["error"]),
                         (400, "the client certificate could not be verified"))
        # Over plain HTTP nobody can claim a subject either.
        c = http.client.HTTPConnection("127.0.0.1", plain, timeout=gwtest.TIMEOUT)
        c.request("GET", "/", headers={"X-Client-Subject": "CN=spoofed"})
        self.assertNotIn("X-Client-Subject", json.loads(c.getresponse().read())["headers"])
        c.close()

    def test_optional_and_403(self):
        _, port = self.start("client_cert = optional\nclient_cert_status = 403\n"
                             "client_subject_header = X-Peer\n")
        status, _, body = https(port, headers={"X-Peer": "CN=spoofed"})
        self.assertEqual(status, 200)
        self.assertNotIn("X-Peer", json.loads(body)["headers"])
        status, _, body = https(port, cert="alice")
        self.assertEqual(json.loads(body)["headers"]["X-Peer"], "CN=alice,O=Example\\, Inc.")
        status, _, _ = https(port, cert="mallory")
        self.assertEqual(status, 403)

    def test_curl_with_client_certificate(self):
        _, port = self.start("")	# client_ca alone means require
        base = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                path("ca.pem"), "https://localhost:%d/" % port]
        r = subprocess.run(base + ["--cert", path("alice.pem"), "--key", path("alice.key")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, "200")
        r = subprocess.run(base, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, "400")


class RedirectAndHsts(unittest.TestCase):
    def test_redirect_http_and_hsts(self):
        echo = gwtest.Echo()
        self.addCleanup(echo.stop)
        gw = gwtest.Gateway(conf(echo.port, "redirect_http = yes\n"
                                            "hsts = max-age=31536000; includeSubDomains\n"))
        self.addCleanup(gw.stop)
        plain, port = gw.ports
        c = http.client.HTTPConnection("127.0.0.1", plain, timeout=gwtest.TIMEOUT)
        c.request("GET", "/a/b?x=1&y=2", headers={"Host": "api.example.com:%d" % plain})
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 308)
        self.assertEqual(r.getheader("Location"), "https://api.example.com:%d/a/b?x=1&y=2" % port)
        self.assertIsNone(r.getheader("Strict-Transport-Security"))
        c.close()
        status, headers, _ = https(port)
        self.assertEqual(status, 200)
        self.assertEqual(headers["strict-transport-security"], "max-age=31536000; includeSubDomains")
        # Gateway-made responses carry it too.
        status, headers, _ = https(port, method="BREW")
        self.assertEqual(headers.get("strict-transport-security"),
                         "max-age=31536000; includeSubDomains")


class BadCertificates(unittest.TestCase):
    def check(self, text):
        d = tempfile.mkdtemp(prefix="gw-tls-conf-")
        self.addCleanup(shutil.rmtree, d, True)
        f = os.path.join(d, "gw.ini")
        with open(f, "w") as fh:
            fh.write(text)
        return subprocess.run([gwtest.GATEWAYD, "-t", "-c", f], capture_output=True, text=True,
                              timeout=30)

    def test_key_readable_by_others(self):
        loose = path("loose.key")
        shutil.copy(path("a.key"), loose)
        os.chmod(loose, 0o644)
        text = conf(1).replace(path("b.key"), loose).replace(path("b.pem"), path("a.pem"))
        r = self.check(text)
        self.assertNotEqual(r.returncode, 0)
        line = text.splitlines().index("cert = %s %s" % (path("a.pem"), loose)) + 1
        self.assertIn("gw.ini:%d: %s: private key is accessible by group or others (mode 0644); "
                      "chmod 600 it" % (line, loose), r.stderr)

    def test_key_not_matching_and_missing_cert(self):
        text = conf(1).replace(path("b.key"), path("a.key"))
        r = self.check(text)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("the key does not match the certificate", r.stderr)
        r = self.check(gwtest.gateway_section() + "[tls]\nlisten = 127.0.0.1:0\n\n" +
                       gwtest.ini(gwtest.ONE_ROUTE, port=1))
        self.assertIn("[tls] has a listen but no cert", r.stderr)
        r = self.check(conf(1, "client_cert = optional\n"))
        self.assertIn("client_cert needs client_ca", r.stderr)
        text = conf(1, "client_ca = %s\n" % path("nothing.pem"))
        r = self.check(text)
        self.assertIn("gw.ini:%d: %s: No such file or directory"
                      % (text.splitlines().index("client_ca = %s" % path("nothing.pem")) + 1,
                         path("nothing.pem")), r.stderr)


class CertificateReload(unittest.TestCase):
    def test_reload_switches_certificates_without_dropping(self):
        echo = gwtest.Echo()
        self.addCleanup(echo.stop)
        gw = gwtest.Gateway(conf(echo.port, certs=("a",)))
        self.addCleanup(gw.stop)
        port = gw.ports[1]
        sess = path("reload.sess")
        rc, out = s_client(port, "-servername", "b.test", "-sess_out", sess)
        self.assertIn("CN = a.test", re.search(r"^subject=(.*)$", out, re.M).group(1))
        # A kept-alive connection opened before the reload.
        old = _Https(port, context(), "localhost")
        old.request("GET", "/before")
        r = old.getresponse()
        self.assertEqual((r.status, json.loads(r.read())["path"]), (200, "/before"))

        with open(gw.conf) as f:
            text = f.read()
        with open(gw.conf, "w") as f:
            f.write(text.replace("cert = %s %s\n" % (path("a.pem"), path("a.key")),
                                 "cert = %s %s\ncert = %s %s\n" % (path("b.pem"), path("b.key"),
                                                                  path("a.pem"), path("a.key"))))
        gw.ctl("reload")
        rc, out = s_client(port, "-servername", "b.test")
        self.assertIn("CN = b.test", re.search(r"^subject=(.*)$", out, re.M).group(1))
        # The old connection's next request is still answered.
        old.request("GET", "/after")
        r = old.getresponse()
        self.assertEqual((r.status, json.loads(r.read())["path"]), (200, "/after"))
        old.close()
        # Tickets live in shared memory: a session from before resumes.
        rc, out = s_client(port, "-servername", "b.test", "-sess_in", sess)
        self.assertIn("Reused, TLSv1.3", out)

        # A bad certificate at reload: refused with its line, old one kept.
        with open(gw.conf) as f:
            text = f.read()
        with open(gw.conf, "w") as f:
            f.write(text.replace(path("b.key"), path("alice.key")))
        rc, answer, _ = gw.ctl("reload", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("the key does not match the certificate", json.dumps(answer))
        rc, out = s_client(port, "-servername", "b.test")
        self.assertIn("CN = b.test", re.search(r"^subject=(.*)$", out, re.M).group(1))



class UpstreamTls(unittest.TestCase):
    """A service with tls = yes in front of a second gatewayd that
    terminates TLS (certificates a and b) for gw-echo."""

    @classmethod
    def setUpClass(cls):
        cls.echo = gwtest.Echo()
        cls.back = gwtest.Gateway(conf(cls.echo.port, workers=1))
        cls.back_tls = cls.back.ports[1]

    @classmethod
    def tearDownClass(cls):
        cls.back.stop()
        cls.echo.stop()

    def front(self, service_extra):
        gw = gwtest.Gateway(gwtest.gateway_section(workers=2) + gwtest.ini("""
            [service back]
            instance = localhost:$port
            tls = yes
            $extra

            [route all]
            path = /
            service = back
            """, port=self.back_tls, extra=service_extra))
        self.addCleanup(gw.stop)
        return gw

    def get(self, gw, target="/", method="GET", body=None):
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=gwtest.TIMEOUT)
        try:
            c.request(method, target, body=body)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def test_verified_upstream(self):
        gw = self.front("tls_ca = %s" % path("ca.pem"))
        for i in range(5):
            status, body = self.get(gw, "/v%d" % i)
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["path"], "/v%d" % i)
        payload = os.urandom(1 << 20)
        status, body = self.get(gw, "/up?echo=body", "POST", payload)
        self.assertEqual((status, body == payload), (200, True))
        status, body = self.get(gw, "/down?size=2000000")
        self.assertEqual((status, len(body)), (200, 2000000))
        # The backend saw TLS, SNI localhost got certificate a.
        # The backend logs a request after answering it: wait for all five.
        def backend_entries():
            found = [e for e in self.back.access_log() if e.get("path", "").startswith("/v")]
            return found if len(found) == 5 else None
        tls_entries = gwtest.wait_until(backend_entries, what="the backend's five /v entries")
        self.assertTrue(all(e["tls"] == "TLSv1.3" for e in tls_entries), tls_entries)

    def test_new_upstream_connections_resume_the_session(self):
        gw = self.front("tls_ca = %s\nkeepalive = 0" % path("ca.pem"))
        for i in range(6):
            status, body = self.get(gw, "/r%d" % i)
            self.assertEqual(status, 200, body)
        # The backend logs a request after answering it: wait for all six.
        def backend_entries():
            found = {e["path"]: e for e in self.back.access_log()
                     if e.get("path", "").startswith("/r")}
            return found if len(found) == 6 else None
        entries = gwtest.wait_until(backend_entries, what="the backend's six /r entries")
        # Each request had its own connection; every worker's first one is a
        # full handshake, and the rest resume the session it got.
        resumed = sum(1 for e in entries.values() if e["tls_resumed"])
        self.assertGreaterEqual(resumed, 4, entries)

    def test_sni_names_the_backend_certificate(self):
        gw = self.front("tls_ca = %s\ntls_sni = api.b.test" % path("ca.pem"))
        self.assertEqual(self.get(gw)[0], 200)

    def test_unverifiable_upstream_is_a_502(self):
        # The system store does not know the test CA.
        gw = self.front("")
        status, body = self.get(gw)
        self.assertEqual(status, 502)
        self.assertNotIn("certificate", body.decode())	# nothing internal leaks
        gw.wait_line("certificate verify failed")
        # A name the certificate does not carry.
        gw = self.front("tls_ca = %s\ntls_sni = wrong.test" % path("ca.pem"))
        self.assertEqual(self.get(gw)[0], 502)

    def test_health_checks_over_tls(self):
        gw = self.front("tls_ca = %s\nhealth = /healthz interval=1s timeout=1s rise=1 fall=3"
                        % path("ca.pem"))
        # Checks pass: the backend saw them over TLS.
        gwtest.wait_until(lambda: any(e.get("path") == "/healthz" and e["tls"] == "TLSv1.3"
                                      for e in self.back.access_log()),
                          what="a health check over TLS")
        self.assertEqual(self.get(gw)[0], 200)
        # A name the certificate does not carry: every check fails its
        # handshake, the instance goes down, and requests get 503 at once.
        bad = self.front("tls_ca = %s\ntls_sni = wrong.test\n"
                         "health = /healthz interval=200ms timeout=200ms rise=1 fall=1"
                         % path("ca.pem"))
        bad.wait_line("is down (1 failure in a row; last: the TLS handshake failed: "
                      "certificate verify failed)")
        status, body = self.get(bad)
        self.assertEqual(status, 503, body)

    def test_verify_off_warns_and_connects(self):
        gw = self.front("tls_verify = no")
        self.assertEqual(self.get(gw)[0], 200)
        self.assertTrue(any("tls_verify = no accepts any certificate" in l
                            for l in gw.diagnostics()))

    def test_config_errors(self):
        d = tempfile.mkdtemp(prefix="gw-tls-conf-")
        self.addCleanup(shutil.rmtree, d, True)
        f = os.path.join(d, "gw.ini")
        text = gwtest.gateway_section() + gwtest.ini("""
                [service a]
                instance = 127.0.0.1:1
                tls_sni = x.test

                [service b]
                instance = 127.0.0.1:1
                tls = yes
                tls_ca = /nonexistent/ca.pem

                [route all]
                path = /
                service = a
                """)
        with open(f, "w") as fh:
            fh.write(text)
        lines = text.splitlines()
        r = subprocess.run([gwtest.GATEWAYD, "-t", "-c", f], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("gw.ini:%d: service 'a': tls_* keys need tls = yes"
                      % (lines.index("tls_sni = x.test") + 1), r.stderr)
        self.assertIn("gw.ini:%d: service 'b': /nonexistent/ca.pem: No such file or directory"
                      % (lines.index("tls = yes") + 1), r.stderr)


if __name__ == "__main__":
    unittest.main()
