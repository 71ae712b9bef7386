"""gwtest: the end-to-end harness for gatewayd (STYLE.md section 17).

Every test file starts real processes (gw-echo backends and gatewayd), with
ports chosen by the kernel (port 0), drives them with real clients
(http.client and raw sockets), and stops only the processes it started.

Rules kept here so the test files need not repeat them:
  * every wait is bounded by a deadline, every socket has a timeout;
  * readiness comes from the processes' own output ("listening ADDR:PORT"
    from gw-echo, "master: ready" from gatewayd), never from a sleep;
  * cleanup sends SIGTERM, then SIGKILL after a grace period, to the pids
    this module spawned (and gatewayd's workers, found as its children),
    from tearDown and again from atexit;
  * a missing binary makes the file fail: the build is broken.

Binaries come from $GATEWAYD and $GW_ECHO (set by tests/e2e/meson.build),
falling back to ../../build/ relative to this file.

Stdlib only. Standalone use:  /usr/bin/python3 tests/e2e/test_x.py [-v]
"""

import atexit
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("GW_SOURCE_ROOT") or os.path.normpath(os.path.join(HERE, "..", ".."))
GATEWAYD = os.environ.get("GATEWAYD") or os.path.normpath(
    os.path.join(HERE, "..", "..", "build", "master", "gatewayd"))
GW_ECHO = os.environ.get("GW_ECHO") or os.path.normpath(
    os.path.join(HERE, "..", "..", "build", "bench", "gw-echo"))
GATEWAYCTL = os.environ.get("GATEWAYCTL") or os.path.normpath(
    os.path.join(HERE, "..", "..", "build", "cli", "gatewayctl"))
GWBENCH = os.environ.get("GWBENCH") or os.path.normpath(
    os.path.join(HERE, "..", "..", "build", "bench", "gwbench", "gwbench"))

TIMEOUT = 5.0		# seconds: default bound for any single wait
START_TIMEOUT = 10.0	# seconds: a process must be ready within this
STOP_GRACE = 5.0	# seconds between SIGTERM and SIGKILL
VERBOSE = bool(os.environ.get("GW_E2E_VERBOSE"))

# Lines that start a sanitizer report (ASan, LSan, UBSan).
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


# ---------------------------------------------------------------- processes

_started = []		# every Proc this module spawned and has not reaped
_started_lock = threading.RLock()	# re-entered by the SIGTERM handler


class LineLog:
    """Lines of one pipe, collected by a reader thread; waits are bounded."""

    def __init__(self, pipe, name):
        self.name = name
        self.lines = []
        self.eof = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self._thread.start()

    def _run(self, pipe):
        try:
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass	# the pipe was closed under us at cleanup
        finally:
            with self._cond:
                self.eof = True
                self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return list(self.lines)

    def wait_for(self, pred, timeout=TIMEOUT, start=0):
        """The first line at index >= start that satisfies pred, as
        (index, line). Raises AssertionError on timeout or EOF."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    if pred(self.lines[i]):
                        return i, self.lines[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    tail = "\n".join(self.lines[-20:])
                    why = "exited" if self.eof else "timed out after %.1fs" % timeout
                    raise AssertionError("%s: %s waiting for a line; last lines:\n%s"
                                         % (self.name, why, tail))
                self._cond.wait(left)

    def join(self, timeout=TIMEOUT):
        self._thread.join(timeout)


def _proc_stat(pid):
    """(comm, state, ppid) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    lp, rp = data.find("("), data.rfind(")")
    fields = data[rp + 2:].split()
    return data[lp + 1:rp], fields[0], int(fields[1])


def children_of(pid):
    """Pids whose parent is pid (scans /proc; works without
    CONFIG_PROC_CHILDREN)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _proc_stat(int(name))
        if st and st[2] == pid and st[1] != "Z":
            out.append(int(name))
    return sorted(out)


def pid_alive(pid):
    st = _proc_stat(pid)
    return st is not None and st[1] != "Z"


class Proc:
    """A process we spawned. stop() is idempotent and bounded."""

    def __init__(self, argv, name, stdout=subprocess.DEVNULL):
        self.name = name
        self.argv = argv
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                                      stderr=subprocess.PIPE, close_fds=True)
        self.pid = self.popen.pid
        self.children = []	# pids seen as our children; stopped with us
        with _started_lock:
            _started.append(self)
        self.stderr = LineLog(self.popen.stderr, name + " stderr")
        self.readers = [self.stderr]

    def alive(self):
        return self.popen.poll() is None

    def kill(self, sig):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def remember_children(self):
        if self.alive():
            for pid in children_of(self.pid):
                if pid not in self.children:
                    self.children.append(pid)

    def wait(self, timeout=TIMEOUT):
        """Exit status, or None if still running after timeout."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, grace=STOP_GRACE):
        """Signal, wait up to grace, then SIGKILL. Returns the exit status
        (negative: killed by that signal)."""
        self.remember_children()
        self.kill(sig)
        rc = self.wait(grace)
        if rc is None:
            self.kill(signal.SIGKILL)
            rc = self.wait(grace)
        # Workers die with their master (PR_SET_PDEATHSIG), but make sure:
        # only pids we saw as our children that still run our binary.
        for pid in self.children:
            st = _proc_stat(pid)
            if st and st[1] != "Z" and self._ours(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for reader in self.readers:
            reader.join(1.0)
        self.close_pipes()
        with _started_lock:
            if self in _started:
                _started.remove(self)
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """In a -Dsanitize=true build, a report from any of our processes
        (workers share the master's stderr) fails the test that stopped it."""
        reports = [l for l in self.stderr.snapshot() if any(m in l for m in SANITIZER_MARKS)]
        if reports:
            raise AssertionError("%s: sanitizer report:\n%s" % (self.name, "\n".join(
                self.stderr.snapshot()[-60:])))

    def close_pipes(self):
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except (OSError, ValueError):
                    pass

    def _ours(self, pid):
        try:
            return os.path.realpath("/proc/%d/exe" % pid) == os.path.realpath(self.argv[0])
        except OSError:
            return False


_tempdirs = []		# config dirs to remove at exit


def _cleanup_all():
    with _started_lock:
        procs = list(_started)
    for p in procs:
        try:
            p.stop(grace=2.0)
        except Exception:	# atexit: never raise
            pass
    for d in list(_tempdirs):
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup_all)


def _on_sigterm(signo, frame):
    # meson's timeout (and timeout(1)) send SIGTERM, which would end Python
    # without running atexit (and unittest would catch a SystemExit raised
    # here as one test's error): clean up, then leave at once.
    sys.stderr.write("gwtest: signal %d, stopping our processes\n" % signo)
    _cleanup_all()
    sys.stderr.flush()
    os._exit(128 + signo)


signal.signal(signal.SIGTERM, _on_sigterm)


# ---------------------------------------------------------------- gw-echo

class Echo:
    """gw-echo on n ports of 127.0.0.1 chosen by the kernel."""

    def __init__(self, n=1, threads=1):
        argv = [GW_ECHO, "-q", "-t", str(threads)]
        for _ in range(n):
            argv += ["-l", "127.0.0.1:0"]
        self.proc = Proc(argv, "gw-echo", stdout=subprocess.PIPE)
        self.stdout = LineLog(self.proc.popen.stdout, "gw-echo stdout")
        self.proc.readers.append(self.stdout)
        self.ports = []
        for i in range(n):
            _, line = self.stdout.wait_for(lambda l: l.startswith("listening "),
                                           START_TIMEOUT, start=i)
            self.ports.append(int(line.rsplit(":", 1)[1]))
        # A kernel-chosen port may have served an earlier test whose
        # connections linger in TIME_WAIT: count only what comes after.
        self.stale_peers = peers_of(self.port)

    def peers(self, states=None):
        """Connections made to the first port since this gw-echo started
        (peers_of, less what the port carried before)."""
        return peers_of(self.port, states) - self.stale_peers

    @property
    def port(self):
        return self.ports[0]

    def stop(self):
        return self.proc.stop()


# ---------------------------------------------------------------- gatewayd

def ini(template, **subs):
    """Dedent a string.Template INI and substitute $names (a "$1" in a
    rewrite is not a valid name and is left alone)."""
    return string.Template(textwrap.dedent(template)).safe_substitute(**subs)


def gateway_section(workers=1, **extra):
    """The [gateway] section every test starts from: an ephemeral port,
    access log on stderr, no CPU pinning. extra adds key = value lines or
    overrides these defaults."""
    keys = {"listen": "127.0.0.1:0", "workers": str(workers), "pin_workers": "no",
            "access_log": "stderr", "log_level": "info"}
    keys.update(extra)
    return "[gateway]\n" + "".join("%s = %s\n" % kv for kv in keys.items()) + "\n"


def private_endpoints(conf_text, control):
    """Give a config its own control socket and an ephemeral admin port
    unless it names them, so tests never share the defaults
    (/run/gatewayd.sock, 127.0.0.1:9901)."""
    if "[gateway]" not in conf_text:
        return conf_text
    extra = ""
    if not re.search(r"^\s*control\s*=", conf_text, re.M):
        extra += "control = %s\n" % control
    if not re.search(r"^\s*admin_listen\s*=", conf_text, re.M):
        extra += "admin_listen = 127.0.0.1:0\n"
    return conf_text.replace("[gateway]\n", "[gateway]\n" + extra, 1)


class Gateway:
    """gatewayd on a config written to a private temp dir. Waits for
    "master: ready", learns the port from "master: listening on ...", and
    keeps every stderr line (diagnostics and JSON access-log lines)."""

    def __init__(self, conf_text, start=True):
        self.dir = tempfile.mkdtemp(prefix="gw-e2e-")
        _tempdirs.append(self.dir)
        self.conf = os.path.join(self.dir, "gatewayd.ini")
        self.control = os.path.join(self.dir, "control.sock")
        self.admin_port = None
        with open(self.conf, "w") as f:
            f.write(private_endpoints(conf_text, self.control))
        self.proc = None
        self.ports = []
        if start:
            self.start()

    def start(self):
        self.proc = Proc([GATEWAYD, "-c", self.conf], "gatewayd")
        self.proc.stderr.wait_for(lambda l: "master: ready" in l, START_TIMEOUT)
        self.ports = [int(m.group(1)) for m in
                      (re.search(r"master: listening on \S+:(\d+)$", l)
                       for l in self.proc.stderr.snapshot()) if m]
        if not self.ports:
            raise AssertionError("gatewayd is ready but printed no listen port")
        admin = [re.search(r"admin listening on \S+:(\d+)$", l)
                 for l in self.proc.stderr.snapshot()]
        admin = [int(m.group(1)) for m in admin if m]
        self.admin_port = admin[0] if admin else None
        self.stale_peers = peers_of(self.port)	# see Echo.stale_peers
        self.proc.remember_children()
        return self

    def peers(self, states=None):
        """Connections made to the first listener since gatewayd started."""
        return peers_of(self.port, states) - self.stale_peers

    @property
    def port(self):
        return self.ports[0]

    @property
    def pid(self):
        return self.proc.pid

    @property
    def log(self):
        return self.proc.stderr

    def lines(self):
        return self.proc.stderr.snapshot()

    def diagnostics(self):
        return [l for l in self.lines() if not l.startswith("{")]

    def access_log(self):
        out = []
        for l in self.lines():
            if l.startswith("{"):
                try:
                    out.append(json.loads(l))
                except ValueError:
                    out.append({"_unparsed": l})
        return out

    def wait_access(self, request_id, timeout=TIMEOUT):
        """The access-log entry of request_id (bounded wait)."""
        def match(l):
            return l.startswith("{") and ('"request_id":"%s"' % request_id) in l
        _, line = self.log.wait_for(match, timeout)
        return json.loads(line)

    def wait_line(self, needle, timeout=TIMEOUT, start=0):
        return self.log.wait_for(lambda l: needle in l, timeout, start)

    def workers(self):
        pids = children_of(self.pid)
        for p in pids:
            if p not in self.proc.children:
                self.proc.children.append(p)
        return pids

    def ctl(self, *args, check=True, timeout=30):
        """Run gatewayctl --json ARGS against this gateway's control
        socket. Returns (exit status, parsed JSON answer or None, stderr).
        With check, a non-zero exit fails the test."""
        r = subprocess.run([GATEWAYCTL, "-s", self.control, "--json"] + [str(a) for a in args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        answer = None
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                answer = json.loads(line)
        if check and r.returncode != 0:
            raise AssertionError("gatewayctl %s: exit %d: %s %s"
                                 % (" ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
        return r.returncode, answer, r.stderr

    def admin(self, method, path, token=None, timeout=TIMEOUT):
        """One request to the admin listener: (status, parsed JSON body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=timeout)
        headers = {"Authorization": "Bearer " + token} if token else {}
        try:
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, json.loads(body) if body else None
        finally:
            conn.close()

    def stop(self, sig=signal.SIGTERM, grace=STOP_GRACE):
        rc = None
        if self.proc:
            rc = self.proc.stop(sig, grace)
            if VERBOSE or (rc not in (0, None) and rc != -signal.SIGKILL):
                sys.stderr.write("--- gatewayd (rc %s) diagnostics:\n%s\n"
                                 % (rc, "\n".join(self.diagnostics()[-40:])))
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


ONE_ROUTE = """
[service echo]
instance = 127.0.0.1:$port

[route all]
path = /
service = echo
"""


def echo_behind_gateway(case, **gateway_extra):
    """The common fixture: one gw-echo and a one-worker gatewayd routing
    everything to it, both stopped by case's cleanups (case is a TestCase
    class in setUpClass, or an instance). gateway_extra adds [gateway] keys.
    Returns (echo, gateway)."""
    add = case.addClassCleanup if isinstance(case, type) else case.addCleanup
    echo = Echo()
    add(echo.stop)
    gw = Gateway(gateway_section(**gateway_extra) + ini(ONE_ROUTE, port=echo.port))
    add(gw.stop)
    return echo, gw


def run_gatewayd(args, timeout=TIMEOUT):
    """Run gatewayd to completion (for -t); returns (status, stdout, stderr)."""
    r = subprocess.run([GATEWAYD] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------- clients

class Response:
    def __init__(self, status, reason, headers, body, version=11, trailers=None, raw=b""):
        self.status = status
        self.reason = reason
        self.headers = headers	# list of (name, value) as received
        self.body = body
        self.version = version
        self.trailers = trailers or []
        self.raw = raw

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %s %r %d bytes>" % (self.status, self.headers, len(self.body))


def request(port, method="GET", path="/", body=None, headers=None, timeout=TIMEOUT,
            conn=None):
    """One request with http.client on a fresh connection (or conn)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.getheaders(), data, r.version)
    finally:
        if own:
            conn.close()


def echo_json(resp):
    """The JSON body gw-echo answers with, with header names lowercased."""
    doc = resp.json()
    doc["headers"] = {k.lower(): v for k, v in doc["headers"].items()}
    return doc


class RawConn:
    """A raw TCP client for malformed input, pipelining and framing checks.
    Every read is bounded by the socket timeout."""

    def __init__(self, port, timeout=TIMEOUT, host="127.0.0.1", source=None):
        """source: the local address to connect from (127.0.0.2, ...), or
        None for the kernel's choice."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self):
        """Read more into buf; False on EOF or reset. Raises socket.timeout."""
        if self.eof:
            return False
        try:
            d = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _need(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection closed with %d of %d bytes" % (len(self.buf), n))

    def _line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("connection closed mid-line: %r" % self.buf[:200])
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        self._need(n)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        """(version, status, reason, headers) of the next response head."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("connection closed before a response head: %r"
                               % self.buf[:200])
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.(\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        headers = []
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers.append((k, v.strip()))
        return 10 + int(m.group(1)), int(m.group(2)), m.group(3) or "", headers

    def read_response(self, method="GET", allow_interim=False):
        """The next complete response. Interim 1xx heads are skipped unless
        allow_interim. The body is de-chunked; trailers kept."""
        while True:
            version, status, reason, headers = self.read_head()
            if status >= 200 or status == 101 or allow_interim:
                break
        r = Response(status, reason, headers, b"", version)
        te = (r.header("Transfer-Encoding") or "").lower()
        cl = r.header("Content-Length")
        if method == "HEAD" or status < 200 or status in (204, 304):
            return r
        if "chunked" in te:
            r.body, r.trailers = self._read_chunked()
        elif cl is not None:
            r.body = self._take(int(cl))
        else:
            r.body = self.read_all()
        return r

    def _read_chunked(self):
        body = []
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                break
            body.append(self._take(size))
            if self._take(2) != b"\r\n":
                raise AssertionError("chunk not followed by CRLF")
        trailers = []
        while True:
            l = self._line()
            if not l:
                break
            k, _, v = l.decode("latin-1").partition(":")
            trailers.append((k, v.strip()))
        return b"".join(body), trailers

    def read_all(self):
        """Everything until EOF (raises socket.timeout if none comes)."""
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def closed_by_peer(self, timeout=TIMEOUT):
        """True when the peer closes (EOF or reset) within timeout with no
        more data than what is buffered; False on timeout."""
        self.sock.settimeout(timeout)
        try:
            while self._fill():
                pass
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_exchange(port, data, timeout=TIMEOUT):
    """Send data, read until the peer closes; returns (bytes, closed). closed
    is False when the timeout expired first."""
    with RawConn(port, timeout) as c:
        c.send(data)
        closed = c.closed_by_peer(timeout)
        return c.buf, closed


def keepalive_client(case, port):
    """An http.client connection to port, kept across requests and closed
    by case's cleanup."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    case.addCleanup(conn.close)
    return conn


def status_of(data):
    """Status code of the first status line in data, or None."""
    m = re.match(rb"HTTP/1\.\d (\d{3})", data)
    return int(m.group(1)) if m else None


def pattern(n, start=0):
    """gw-echo's ?size= body: byte i is 'a' + i % 26."""
    period = bytes(range(ord("a"), ord("a") + 26))
    reps = (start % 26 + n) // 26 + 1
    return (period * reps)[start % 26:start % 26 + n]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class ThreadedBackend:
    """A scripted upstream for cases gw-echo cannot play: a listener on
    127.0.0.1 (kernel-chosen port), a thread per connection running
    serve(conn), and stop() that ends it all (bounded). Subclasses define
    serve() and may override wake() to release threads they block."""

    def __init__(self, conn_timeout=TIMEOUT):
        self.lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(16)
        self.lst.settimeout(0.2)
        self.port = self.lst.getsockname()[1]
        self.conn_timeout = conn_timeout
        self.lock = threading.Lock()
        self.conns = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def serve(self, conn):
        raise NotImplementedError

    def wake(self):
        """Release whatever serve() waits for (on stop)."""

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.lst.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(self.conn_timeout)
            with self.lock:
                self.conns.append(c)
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, c):
        try:
            self.serve(c)
        except OSError:
            pass

    def stop(self):
        self.stopping.set()
        self.wake()
        self.lst.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(TIMEOUT)


def free_port():
    """A port nobody listens on: bind, read the port, close."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- assertions
# Steps that many test files take, each written once; case is the running
# unittest.TestCase.

def assert_echoed(case, r, path, msg=None):
    """r is gw-echo's 200 answer for path: its own response, not stray bytes
    of an earlier one. msg, when given, leads the status mismatch report."""
    case.assertEqual(r.status, 200, "%s %r" % (msg, r) if msg else None)
    case.assertEqual(echo_json(r)["path"], path)


def assert_serves_next(case, c, path, msg=None):
    """The raw connection c still serves: a GET for path sent on it comes
    back from gw-echo (assert_echoed)."""
    c.send("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path)
    assert_echoed(case, c.read_response(), path, msg)


def assert_closed_clean(case, c, open_msg=None, bytes_msg=None, timeout=TIMEOUT):
    """The peer closes the raw connection c within timeout and sends
    nothing more."""
    case.assertTrue(c.closed_by_peer(timeout), open_msg)
    case.assertEqual(c.buf, b"", bytes_msg)


def assert_head_only(case, port, data, content_length):
    """Send data, a HEAD request the gateway answers and then closes, and
    read until the close: a 200 head with this Content-Length, then not one
    body byte."""
    with RawConn(port) as c:
        c.send(data)
        out = c.read_all()
    head, _, rest = out.partition(b"\r\n\r\n")
    case.assertEqual(status_of(out), 200)
    case.assertIn(b"Content-Length: %d" % content_length, head)
    case.assertEqual(rest, b"")


# ---------------------------------------------------------------- /proc/net/tcp

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "06": "TIME_WAIT", "0A": "LISTEN"}


def tcp_sockets():
    """(local_port, remote_port, state) of every IPv4 127.0.0.1 socket."""
    out = []
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                lhost, lport = parts[1].split(":")
                rhost, rport = parts[2].split(":")
                out.append((int(lport, 16), int(rport, 16), parts[3]))
    except OSError:
        pass
    return out


def peers_of(port, states=None):
    """Ports of the other ends of connections to port (any state but LISTEN
    unless states is given), seen from either end: the number of distinct
    connections made to port that the kernel still remembers (TIME_WAIT
    lasts 60 s)."""
    peers = set()
    for lp, rp, st in tcp_sockets():
        if st == "0A" or (states and st not in states):
            continue
        if lp == port:
            peers.add(rp)
        elif rp == port:
            peers.add(lp)
    return peers


def wait_until(pred, timeout=TIMEOUT, interval=0.01, what="condition"):
    """Poll pred (a readiness check, not a delay) until true; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- entry point

def main():
    """unittest.main(), after checking the binaries under test exist: a
    missing one is a broken build, so the file fails (it is not a skip)."""
    for name, path in (("gatewayd", GATEWAYD), ("gw-echo", GW_ECHO),
                       ("gatewayctl", GATEWAYCTL), ("gwbench", GWBENCH)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            sys.stderr.write("%s not found at %s (set $%s)\n"
                             % (name, path, name.upper().replace("-", "_")))
            sys.exit(1)
    unittest.main()
