"""The backend and the proxies: configs from conf/*, command lines,
pinning. One Stack per profile: gw-echo plus gatewayd, nginx and HAProxy in
front of it (names(profile) says which; the policy profile adds
gatewayd-plain), all started fresh so that no profile inherits another's
pools.

Policy profile: every proxy gets a rate limit that never rejects at the
rates reached here, a passive circuit breaker and a retry policy (POLICY
below, filled into the templates' policy fields, which are empty for the
other profiles); gatewayd-plain is the same gatewayd without them, run in
the same rounds as the baseline.

TLS profiles: each proxy terminates TLS with the same certificate (an
ECDSA P-256 key made with openssl in the profile's directory) and the
settings in TLS below.

Pinned: each proxy on CPU 0 (taskset -c 0 for the whole process, plus its
own setting: gatewayd pin_workers, nginx worker_cpu_affinity, HAProxy
cpu-map); gw-echo and the load generator on CPU 1. Unpinned: no taskset and
gatewayd pin_workers = no."""
import os
import re
import time

from . import jwtmint, system

CONF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conf")
PROXIES = ("gatewayd", "nginx", "haproxy")   # every profile runs these
PLAIN = "gatewayd-plain"                      # gatewayd without policies (policy profile)
LABEL = {"gatewayd": "gatewayd", "nginx": "nginx", "haproxy": "HAProxy",
         PLAIN: "gatewayd-plain"}
PROXY_CPU, LOAD_CPU = 0, 1

# The policy profile's settings, as the config lines that carry them.
#
# Rate limit, one bucket per client address, at the largest rule each proxy
# accepts or far above anything this VM reaches (~100k req/s): it is
# consulted on every request and never refuses one. gatewayd: COUNT and
# burst are at most 1000000 (docs/config.md). nginx: limit_req with nodelay
# (without it, requests above the rate are delayed rather than refused) and
# a burst that a millisecond's worth of requests cannot fill. HAProxy: a
# stick table tracking src with http_req_rate(1s) and a deny rule that
# never matches.
#
# Breaker, passive (from the outcomes of real requests): gatewayd trips an
# instance at 5 failures in 10 s for 30 s. nginx: max_fails=5
# fail_timeout=10s (one duration for the window and the time out; nginx
# ignores both when the upstream has a single server, as here). HAProxy: 5
# consecutive layer-7 errors mark the server down (observe layer7 needs
# health checks enabled: check, every 2 s, TCP connect).
#
# Retries: two after the first try on connect failure, timeout, 502, 503
# and 504. gatewayd adds a 25..250 ms backoff and a 20% budget; nginx
# (proxy_next_upstream, 3 tries) and HAProxy (retries 2, retry-on) have no
# budget.
POLICY = {
    "gatewayd": {
        "service": ["breaker = failures=5 window=10s open=30s",
                    "retry = 2 on=connect,timeout,502,503,504 backoff=25ms..250ms budget=20%"],
        "route": ["rate_limit = 1000000/s burst=1000000 by=ip"],
    },
    "nginx": {
        "http": ["limit_req_zone $binary_remote_addr zone=perip:1m rate=1000000r/s;",
                 "limit_req_status 429;"],
        "server": " max_fails=5 fail_timeout=10s",
        "location": ["limit_req zone=perip burst=1000000 nodelay;",
                     "proxy_next_upstream error timeout http_502 http_503 http_504;",
                     "proxy_next_upstream_tries 3;"],
    },
    "haproxy": {
        "frontend": ["stick-table type ip size 100k expire 10s store http_req_rate(1s)",
                     "http-request track-sc0 src",
                     "http-request deny deny_status 429 if { sc_http_req_rate(0) gt 1000000 }"],
        "backend": ["retries 2",
                    "retry-on conn-failure response-timeout 502 503 504"],
        "server": " check inter 2s observe layer7 error-limit 5 on-error mark-down",
    },
}


# The jwt profile: gatewayd variants, name -> (alg or None, cache entries).
# "gatewayd" is RS256 with the cache on, so the ratios compare the others
# with it. Every variant gets the same token of its algorithm on every
# request, so "cache" measures hits and "no cache" a verify per request.
JWT_GW = {
    "gatewayd": ("RS256", 4096),
    "gw-rs256-nocache": ("RS256", 0),
    "gw-eddsa": ("EdDSA", 4096),
    "gw-eddsa-nocache": ("EdDSA", 0),
    "gw-noauth": (None, 0),
}
JWT_HAPROXY = "haproxy-rs256"
LABEL.update({"gw-rs256-nocache": "gw RS256 nocache", "gw-eddsa": "gw EdDSA cache",
              "gw-eddsa-nocache": "gw EdDSA nocache", "gw-noauth": "gw no auth",
              JWT_HAPROXY: "HAProxy RS256"})

# HAProxy 2.6: jwt_verify checks the signature only, so the same claims
# gatewayd checks (alg, iss, aud, exp) are rules of their own; it has no
# cache, and no EdDSA. nginx OSS has no JWT module: it runs as a plain proxy.
HA_JWT = [
    "http-request set-var(txn.bearer) http_auth_bearer",
    "http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')",
    "http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')",
    "http-request set-var(txn.now) date()",
    "http-request deny deny_status 401 unless { var(txn.alg) -m str RS256 }",
    "http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('$.iss') "
    "-m str " + jwtmint.ISS + " }",
    "http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('$.aud') "
    "-m str " + jwtmint.AUD + " }",
    "http-request deny deny_status 401 unless { var(txn.exp),sub(txn.now) -m int gt 0 }",
    "http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,\"@RSA_PUB@\") "
    "-m int 1 }",
]

# The TLS profiles' settings, matched to what gatewayd does (tls/ctx.c):
# TLS 1.2 and 1.3; in TLS 1.2 the ECDHE AEAD suites only (TLS 1.3's are all
# AEAD; every proxy keeps OpenSSL's default TLS 1.3 suites and groups),
# the server's preference (so all three pick TLS_AES_256_GCM_SHA384 and
# X25519 for wrk); ALPN http/1.1; resumption by stateless tickets only,
# no server-side session cache; one ticket per handshake.
#
# nginx: ssl_session_cache off (its default "none" still announces session
# ids) and NumTickets 1 through ssl_conf_command (OpenSSL's default is two
# tickets per full handshake). Without http2 nginx answers ALPN with
# http/1.1 by itself.
# HAProxy: tune.ssl.cachesize 0 disables its shared session cache. It has
# no setting for the number of TLS 1.3 tickets (no ssl_conf_command in
# 2.6), so it sends OpenSSL's default two per full handshake (one on a
# resumed one). Server preference is its default. Its certificate and key
# go in one PEM file (crt), mode 0600 like the key.
TLS = {
    "min": "TLSv1.2",
    "ciphers": "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL",
    "nginx": ["ssl_protocols TLSv1.2 TLSv1.3;",
              "ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL;",
              "ssl_prefer_server_ciphers on;",
              "ssl_session_cache off;",
              "ssl_session_tickets on;",
              "ssl_conf_command NumTickets 1;"],
    "haproxy_global": ["tune.ssl.cachesize 0"],
    "haproxy_bind": " alpn http/1.1 ssl-min-ver TLSv1.2 ciphers ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL",
}


def make_cert(directory):
    """api.pem + api.key (0600), the way docs/config.md's [tls] example
    makes them, and api-combined.pem (both, 0600) for HAProxy's crt."""
    pem, key = os.path.join(directory, "api.pem"), os.path.join(directory, "api.key")
    both = os.path.join(directory, "api-combined.pem")
    r = system.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem,
                    "-days", "30", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"openssl req failed:\n{r.stderr[-1500:]}")
    os.chmod(key, 0o600)
    fd = os.open(both, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out, open(pem) as a, open(key) as b:
        out.write(a.read() + b.read())
    return pem, key, both


def names(profile):
    """The proxies a profile runs, in table and rotation order."""
    if profile.policy:
        return ("gatewayd", PLAIN, "nginx", "haproxy")
    if profile.jwt:
        return tuple(JWT_GW) + (JWT_HAPROXY, "nginx")
    return PROXIES


def _lines(lines, indent):
    return "\n".join(indent + line for line in lines)


def render(template, out_path, fields):
    with open(os.path.join(CONF_DIR, template)) as f:
        text = f.read()
    for k, v in fields.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RuntimeError(f"{template}: unfilled fields {sorted(set(left))}")
    with open(out_path, "w") as f:
        f.write(text)
    return out_path


class Stack:
    """gw-echo + the proxies for one profile, started in tmp/<profile>/."""

    def __init__(self, procs, build, tmp, profile, workers):
        self.procs = procs
        self.build = build
        self.dir = os.path.join(tmp, profile.name)
        os.makedirs(self.dir, exist_ok=True)
        self.profile = profile
        self.workers = workers
        self.backend = None
        self.be_port = None
        self.proxy = {}   # name -> (Popen, port)
        self.headers = {}  # name -> request headers the load generator adds
        self.jwt = None    # jwtmint.make() for the jwt profile
        self.cert = make_cert(self.dir) if profile.tls else None   # pem, key, combined

    def _pin(self, cmd, cpu):
        return ["taskset", "-c", str(cpu)] + cmd if self.profile.pinned else cmd

    def _path(self, name):
        return os.path.join(self.dir, name)

    def start_backend(self):
        exe = os.path.join(self.build, "bench", "gw-echo")
        out = self._path("gw-echo.out")
        p = self.procs.start("gw-echo", self._pin([exe, "-q", "-l", "127.0.0.1:0"], LOAD_CPU),
                             out, self._path("gw-echo.err"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(out) as f:
                m = re.search(r"listening 127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.backend, self.be_port = p, int(m.group(1))
                return
            if p.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"gw-echo did not start: {open(self._path('gw-echo.err')).read()[-1000:]}")

    def _fields(self, port, access_log):
        return {"PORT": port, "BE_PORT": self.be_port, "WORKERS": self.workers,
                "UP_KEEPALIVE": self.profile.upstream_keepalive, "TMP": self.dir,
                "ACCESS_LOG": access_log}

    def _start_gatewayd(self, name, policy, route_extra="", extra=""):
        port = system.free_port()
        f = self._fields(port, self._path(f"{name}-access.log") if self.profile.access_log else "off")
        f["PIN"] = "yes" if self.profile.pinned else "no"
        pol = POLICY["gatewayd"] if policy else {}
        f["GW_SERVICE_POLICY"] = _lines(pol.get("service", []), "")
        f["GW_ROUTE_POLICY"] = _lines(pol.get("route", []) + ([route_extra] if route_extra
                                                               else []), "")
        f["GW_EXTRA"] = extra
        if self.cert:
            f["GW_LISTEN"] = ""
            f["GW_TLS"] = (f"[tls]\nlisten = 127.0.0.1:{port}\n"
                           f"cert = {self.cert[0]} {self.cert[1]}\n"
                           f"min_version = {TLS['min']}")
        else:
            f["GW_LISTEN"] = f"listen = 127.0.0.1:{port}"
            f["GW_TLS"] = ""
        ini = render("gatewayd.ini", self._path(f"{name}.ini"), f)
        cmd = [os.path.join(self.build, "master", "gatewayd"), "-c", ini]
        return self._start(name, self._pin(cmd, PROXY_CPU), port)

    def start_gatewayd(self):
        return self._start_gatewayd("gatewayd", self.profile.policy)

    def start_gatewayd_plain(self):
        return self._start_gatewayd(PLAIN, False)

    def _start_gatewayd_jwt(self, name):
        alg, cache = JWT_GW[name]
        if alg is None:
            return self._start_gatewayd(name, False)
        self.headers[name] = ["Authorization: Bearer " + self.jwt["tokens"][alg]]
        extra = "\n".join([f"[jwt bench]", f"issuer = {jwtmint.ISS}", f"audience = {jwtmint.AUD}",
                           f"jwks = {self.jwt['jwks']}", f"algorithms = {alg}",
                           f"cache = {cache}", ""])
        return self._start_gatewayd(name, False, "auth = jwt:bench", extra)

    def start_nginx(self):
        port = system.free_port()
        f = self._fields(port, self._path("nginx-access.log") if self.profile.access_log else "off")
        f["AFFINITY"] = (f"worker_cpu_affinity {1 << PROXY_CPU:b};" if self.profile.pinned else "")
        pol = POLICY["nginx"] if self.profile.policy else {}
        f["NGX_HTTP_POLICY"] = _lines(pol.get("http", []), "    ")
        f["NGX_SERVER_OPTS"] = pol.get("server", "")
        f["NGX_LOCATION_POLICY"] = _lines(pol.get("location", []), "            ")
        f["NGX_LISTEN_OPTS"] = " ssl" if self.cert else ""
        f["NGX_SERVER_TLS"] = _lines(
            [f"ssl_certificate {self.cert[0]};", f"ssl_certificate_key {self.cert[1]};"]
            + TLS["nginx"], "        ") if self.cert else ""
        conf = render("nginx.conf", self._path("nginx.conf"), f)
        cmd = [system.which("nginx"), "-c", conf, "-p", self.dir + "/"]
        return self._start("nginx", self._pin(cmd, PROXY_CPU), port)

    def start_haproxy(self, name="haproxy", jwt=False):
        port = system.free_port()
        f = self._fields(port, "")
        f["CPU_MAP"] = f"    cpu-map 1/1 {PROXY_CPU}" if self.profile.pinned else ""
        pol = POLICY["haproxy"] if self.profile.policy else {}
        f["HA_FRONTEND_POLICY"] = _lines(pol.get("frontend", []) + (
            [r.replace("@RSA_PUB@", self.jwt["rsa_pub"]) for r in HA_JWT] if jwt else []), "    ")
        if jwt:
            self.headers[name] = ["Authorization: Bearer " + self.jwt["tokens"]["RS256"]]
        f["HA_BACKEND_POLICY"] = _lines(pol.get("backend", []), "    ")
        f["HA_SERVER_OPTS"] = pol.get("server", "")
        f["HA_GLOBAL_TLS"] = _lines(TLS["haproxy_global"], "    ") if self.cert else ""
        f["HA_BIND_OPTS"] = (f" ssl crt {self.cert[2]}" + TLS["haproxy_bind"]
                             if self.cert else "")
        if self.profile.access_log:
            # HAProxy logs to syslog or stdout, not to files: stdout goes to a file.
            f["LOG_GLOBAL"] = "    log stdout format raw local0"
            f["LOG_DEFAULTS"] = "    log global\n    option httplog"
        else:
            f["LOG_GLOBAL"] = f["LOG_DEFAULTS"] = ""
        cfg = render("haproxy.cfg", self._path(f"{name}.cfg"), f)
        cmd = [system.which("haproxy"), "-db", "-f", cfg]
        stdout = self._path("haproxy-access.log" if self.profile.access_log else f"{name}.out")
        return self._start(name, self._pin(cmd, PROXY_CPU), port, stdout=stdout)

    def _start(self, name, cmd, port, stdout=None):
        p = self.procs.start(name, cmd, stdout or self._path(f"{name}.out"),
                             self._path(f"{name}.err"))
        self.proxy[name] = (p, port)
        return p

    def start(self):
        self.start_backend()
        if self.profile.jwt:
            self.jwt = jwtmint.make(self.dir)
        for name in names(self.profile):
            if self.profile.jwt and name in JWT_GW:
                self._start_gatewayd_jwt(name)
            elif name == JWT_HAPROXY:
                self.start_haproxy(JWT_HAPROXY, jwt=True)
            else:
                getattr(self, "start_" + name.replace("-", "_"))()
        for name, (p, port) in self.proxy.items():
            try:
                system.wait_port(port, p, name)
            except RuntimeError as e:
                err = open(self._path(f"{name}.err")).read()[-1500:]
                raise RuntimeError(f"{e}\n{name} stderr:\n{err}") from None

    def alive(self, name):
        return self.proxy[name][0].poll() is None

    def stop(self):
        for name in reversed(names(self.profile)):
            if name in self.proxy:
                self.procs.stop(self.proxy[name][0])
        if self.backend is not None:
            self.procs.stop(self.backend)
