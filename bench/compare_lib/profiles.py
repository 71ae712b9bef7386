"""Benchmark profiles. A profile fixes the request (gw-echo query), the
client side (connections, keep-alive, fixed rate) and the placement
(pinned or not), and for TLS the handshake mode. Add new ones (rate limit,
cache hits, JWT) here as their features land; a profile that needs extra
proxy settings adds a field and the templates in conf/ read it."""
from dataclasses import dataclass, field


@dataclass
class Profile:
    name: str
    desc: str
    query: str = "size=64"         # gw-echo options: the response
    connections: int = 64
    keepalive: bool = True          # False: a new connection per request
    rate: int = 0                   # > 0: open loop at this many requests/s
    pinned: bool = False            # proxy on CPU 0, load + backend on CPU 1
    access_log: bool = False
    policy: bool = False            # rate limit + breaker + retry on every proxy,
                                    # and gatewayd-plain (no policies) alongside
    upstream_keepalive: int = 0     # idle upstream connections; 0: = connections
    jwt: bool = False               # bearer tokens: gatewayd variants (RS256/EdDSA, cache
                                    # on/off, no auth), HAProxy jwt_verify RS256, nginx plain
    tls: bool = False               # clients speak TLS to the proxy (proxies.TLS)
    resume: bool = True             # TLS, new conn/req: resume the last session
    tls_max: str = ""               # TLS: the client offers at most this ("1.2")
    default: bool = True            # part of the default run
    tags: list = field(default_factory=list)

    def __post_init__(self):
        if not self.upstream_keepalive:
            self.upstream_keepalive = max(64, self.connections)

    @property
    def path(self):
        return "/bench?" + self.query if self.query else "/bench"

    def client(self):
        s = f"c={self.connections}"
        if self.tls:
            s += " TLS" + self.tls_max
            if not self.keepalive:
                s += " new/" + ("resume" if self.resume else "full")
            return s
        if self.rate:
            s += f" R={self.rate}/s"
        if not self.keepalive:
            s += " new conn/req"
        if self.pinned:
            s += " pinned"
        if self.access_log:
            s += " logs on"
        if self.policy:
            s += " policies"
        return s


# The small response is a 64-byte body (?size=64) rather than gw-echo's JSON
# echo: the JSON repeats the request headers, which differ by proxy, so the
# response would not be the same size through each of them.
PROFILES = [
    Profile("small", "64 B body, 64 keep-alive connections, unpinned"),
    Profile("4k", "4 KiB body, 64 keep-alive connections", query="size=4096"),
    Profile("64k", "64 KiB body, 64 keep-alive connections", query="size=65536"),
    Profile("newconn", "64 B body, a new client connection per request (64 at a time)",
            keepalive=False),
    Profile("c256", "64 B body, 256 keep-alive connections (upstream pool 256)",
            connections=256),
    Profile("rate", "64 B body, open loop at 5000 req/s over 50 connections (latency)",
            connections=50, rate=5000),
    Profile("pinned", "64 B body, 64 connections; proxy on CPU 0, load + backend on CPU 1",
            pinned=True),
    Profile("logs", "as small, with access logs on (to files; HAProxy's via stdout)",
            access_log=True, default=False),
    Profile("policy", "as small, rate limit (never refusing) + breaker + retry on every "
            "proxy; and gatewayd-plain without them",
            policy=True, default=False),
    Profile("jwt", "as small, every request with a bearer token: gatewayd RS256 and EdDSA "
            "with the verified-token cache on and off, and without auth; HAProxy "
            "jwt_verify RS256; nginx (no JWT in OSS) as a plain proxy",
            jwt=True, default=False),
    # TLS (opt-in; group "tls"): the client is wrk for these (gwbench has no
    # TLS), with bench/tls_sessions.c deciding resumption and counting it.
    # With one request per connection, req/s is new connections (handshakes)
    # per second.
    Profile("tls-keepalive", "64 B body over TLS, 64 kept-alive connections",
            tls=True, default=False),
    Profile("tls-handshake", "64 B body over TLS, a new connection with a full handshake "
            "per request (64 at a time)", tls=True, keepalive=False, resume=False,
            default=False),
    Profile("tls-resume", "as tls-handshake, each connection resuming the previous one's "
            "session (TLS 1.3 ticket)", tls=True, keepalive=False, default=False),
    Profile("tls12-resume", "as tls-resume with the client capped at TLS 1.2 (RFC 5077 "
            "ticket, no key exchange)", tls=True, keepalive=False, tls_max="1.2",
            default=False),
]

BY_NAME = {p.name: p for p in PROFILES}
QUICK = ["small", "newconn"]
GROUPS = {"tls": [p.name for p in PROFILES if p.tls]}
