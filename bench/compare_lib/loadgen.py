"""Load generators behind one interface: run() returns gwbench's --json
object,

  {"requests", "rps", "bytes",
   "errors": {"connect", "timeout", "read", "parse", "status": {...}, "total"},
   "latency_us": {"min", "mean", "p50", "p90", "p99", "p99.9", "p99.99", "max"}, ...}

plus "cpu_s": the load generator's own CPU time (user + system from its
rusage, as its parent waited for it).

gwbench (build/bench/gwbench/gwbench) is used when it exists; wrk is the
fallback, with its --latency output parsed into the same dict (fields wrk
does not give are None). wrk has no open loop: the fixed-rate profile then
uses a Lua delay() per connection (connections * 1000 / delay_ms requests/s
minus the latency), an approximation without coordinated-omission
correction, and says so.

TLS profiles always use wrk (gwbench has no TLS), with the LD_PRELOAD shim
build/bench/wrk-tls-sessions.so (bench/tls_sessions.c): it turns session
resumption off or leaves it on, caps the version when asked, and counts
the full and resumed handshakes of the connections wrk closed. Those
counts come back as "tls": {"full", "resumed", "tls1.2", "tls1.3"}."""
import json
import os
import re

from . import system


def _taskset(cmd, cpu):
    return cmd if cpu is None else ["taskset", "-c", str(cpu)] + cmd


def _timed_run(cmd, timeout, env=None):
    """Run a load generator; return (stdout, stderr, rc, cpu seconds)."""
    before = system.children_cpu_seconds()
    r = system.run(cmd, timeout=timeout, env=env)
    return r.stdout, r.stderr, r.returncode, system.children_cpu_seconds() - before


class Gwbench:
    name = "gwbench"
    open_loop_exact = True

    def __init__(self, path):
        self.path = path

    def version(self):
        return self.path

    def run(self, url, connections, duration, rate=None, keepalive=True, cpu=None,
            headers=None, tls=None):
        if tls is not None:
            raise RuntimeError("gwbench has no TLS")
        cmd = [self.path, "-c", str(connections), "-t", "1", "-d", f"{duration}s", "--json"]
        for h in headers or []:
            cmd += ["-H", h]
        if rate:
            cmd += ["-R", str(rate)]
        if not keepalive:
            cmd.append("--no-keepalive")
        cmd.append(url)
        out, err, rc, cpu_s = _timed_run(_taskset(cmd, cpu), timeout=duration + 30)
        res = _last_json(out)
        if res is None:
            raise RuntimeError(f"gwbench (rc {rc}) printed no JSON:\n{out[-1500:]}{err[-1500:]}")
        res["cpu_s"] = cpu_s
        res.setdefault("errors", {}).setdefault("total", 0)
        return res


def _last_json(text):
    """The last top-level JSON object in text."""
    dec = json.JSONDecoder()
    found = None
    i = text.find("{")
    while i != -1:
        try:
            obj, end = dec.raw_decode(text, i)
            if isinstance(obj, dict):
                found = obj
            i = text.find("{", end)
        except ValueError:
            i = text.find("{", i + 1)
    return found


_UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}
_UNIT_B = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def _us(num, unit):
    return float(num) * _UNIT_US[unit]


def parse_wrk(out):
    """wrk --latency output -> the gwbench-shaped dict (without cpu_s)."""
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", out)
    if not m:
        raise RuntimeError(f"cannot parse wrk output:\n{out[-1500:]}")
    requests = int(m.group(1))
    nbytes = int(float(m.group(4)) * _UNIT_B.get(m.group(5), 1))
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
    lat = {k: None for k in ("min", "mean", "p50", "p90", "p99", "p99.9", "p99.99", "max")}
    m = re.search(r"Latency\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)\s+"
                  r"([\d.]+)(us|ms|s|m|h)", out)
    if m:
        lat["mean"] = _us(m.group(1), m.group(2))
        lat["max"] = _us(m.group(5), m.group(6))
    for pct, num, unit in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M):
        lat["p" + pct] = _us(num, unit)
    errors = {"connect": 0, "timeout": 0, "read": 0, "write": 0, "parse": 0, "status": {}}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors.update(connect=int(m.group(1)), read=int(m.group(2)),
                      write=int(m.group(3)), timeout=int(m.group(4)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors["status"] = {"non-2xx/3xx": int(m.group(1))}
    errors["total"] = (errors["connect"] + errors["timeout"] + errors["read"]
                       + errors["write"] + sum(errors["status"].values()))
    return {"requests": requests, "rps": rps, "bytes": nbytes, "errors": errors,
            "latency_us": lat}


class Wrk:
    name = "wrk"
    open_loop_exact = False

    def __init__(self, path, tmp, shim=None):
        self.path = path
        self.tmp = tmp
        self.shim = shim   # wrk-tls-sessions.so, for TLS runs

    def version(self):
        r = system.run([self.path, "-v"], timeout=10)
        # "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer"
        return (r.stdout or r.stderr).splitlines()[0].split(" Copyright")[0].strip()

    def _delay_script(self, delay_ms):
        path = os.path.join(self.tmp, f"wrk-delay-{delay_ms}.lua")
        with open(path, "w") as f:
            f.write(f"function delay() return {delay_ms} end\n")
        return path

    def _tls_env(self, tls, count_path):
        """The shim's settings: tls = {"resume": bool, "max": "" or "1.2"}."""
        if not self.shim:
            raise RuntimeError("TLS run without the wrk-tls-sessions.so shim")
        env = dict(os.environ, LD_PRELOAD=self.shim, GW_TLS_COUNT=count_path,
                   GW_TLS_RESUME="1" if tls.get("resume", True) else "0")
        if tls.get("max"):
            env["GW_TLS_MAX"] = tls["max"]
        return env

    def run(self, url, connections, duration, rate=None, keepalive=True, cpu=None,
            headers=None, tls=None):
        cmd = [self.path, "-t", "1", "-c", str(connections), "-d", f"{duration}s",
               "--latency", "--timeout", "5s"]
        for h in headers or []:
            cmd += ["-H", h]
        env = None
        count_path = os.path.join(self.tmp, "wrk-tls-count")
        if tls is not None:
            if os.path.exists(count_path):
                os.unlink(count_path)
            env = self._tls_env(tls, count_path)
        if not keepalive:
            cmd += ["-H", "Connection: close"]
        if rate:
            delay_ms = max(1, round(connections * 1000 / rate))
            cmd += ["-s", self._delay_script(delay_ms)]
        cmd.append(url)
        out, err, rc, cpu_s = _timed_run(_taskset(cmd, cpu), timeout=duration + 30, env=env)
        if rc != 0:
            raise RuntimeError(f"wrk exited with {rc}:\n{out[-1500:]}{err[-1500:]}")
        res = parse_wrk(out)
        res["cpu_s"] = cpu_s
        if tls is not None:
            res["tls"] = _tls_counts(count_path)
        return res


def _tls_counts(path):
    """The shim's "full N resumed M v1.2 A v1.3 B", or an error: without it
    nothing says whether the run resumed as the profile asks."""
    try:
        with open(path) as f:
            m = re.fullmatch(r"full (\d+) resumed (\d+) v1\.2 (\d+) v1\.3 (\d+)\s*", f.read())
    except OSError as e:
        raise RuntimeError(f"the TLS shim wrote no counts ({e}): was it preloaded?") from None
    if not m:
        raise RuntimeError(f"cannot parse the TLS shim's counts in {path}")
    return {"full": int(m.group(1)), "resumed": int(m.group(2)),
            "tls1.2": int(m.group(3)), "tls1.3": int(m.group(4))}


def gwbench_path(build):
    return os.path.join(build, "bench", "gwbench", "gwbench")


def shim_path(build):
    return os.path.join(build, "bench", "wrk-tls-sessions.so")


def pick_tls(build, tmp):
    """wrk with the session shim: the client of every TLS profile."""
    wrk = system.which("wrk")
    if not wrk:
        raise SystemExit("TLS profiles need wrk (Debian package wrk)")
    shim = shim_path(build)
    if not os.path.exists(shim):
        raise SystemExit(f"TLS profiles need {shim}: ninja -C {build} bench/wrk-tls-sessions.so")
    return Wrk(wrk, tmp, shim)


def pick(build, tmp, choice="auto"):
    """gwbench from the build when present (or when asked for), else wrk."""
    gw = gwbench_path(build)
    if choice in ("auto", "gwbench") and os.access(gw, os.X_OK):
        return Gwbench(gw)
    if choice == "gwbench":
        raise SystemExit(f"--loadgen gwbench: {gw} does not exist")
    wrk = system.which("wrk")
    if not wrk:
        raise SystemExit("neither gwbench nor wrk is available")
    return Wrk(wrk, tmp)
