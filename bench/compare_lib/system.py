"""Processes, CPU accounting, Debian packages and the project build.

Everything started goes through Procs, which remembers each process (and,
at stop time, its descendants) by PID plus start time, and stops exactly
those: SIGTERM, a grace period, then SIGKILL. Nothing is stopped by name."""
import ctypes
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def which(tool):
    """tool on PATH, or in the sbin directories a non-login PATH may lack."""
    found = shutil.which(tool)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        p = os.path.join(d, tool)
        if os.access(p, os.X_OK):
            return p
    return None


def run(cmd, timeout, **kw):
    """subprocess.run with a timeout and captured text output."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


# --- Debian packages ---------------------------------------------------------

def apt_install(packages):
    """apt-get install -y PACKAGES; apt-get update and retry if that fails."""
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = prefix + ["apt-get", "install", "-y", "--no-install-recommends"] + packages
    log(f"installing: {' '.join(packages)}")
    r = run(cmd, timeout=600, env=env)
    if r.returncode != 0:
        log("apt-get install failed; apt-get update and retry")
        run(prefix + ["apt-get", "update"], timeout=600, env=env)
        r = run(cmd, timeout=600, env=env)
        if r.returncode != 0:
            sys.exit(f"apt-get install {' '.join(packages)} failed:\n{r.stderr[-2000:]}")


def ensure_tools(need_wrk):
    """Install nginx-light / haproxy / wrk from Debian when missing (openssl,
    which the TLS profiles use for their certificate, is in tests/deps.sh)."""
    want = []
    if not which("nginx"):
        want.append("nginx-light")
    if not which("haproxy"):
        want.append("haproxy")
    if need_wrk and not which("wrk"):
        want.append("wrk")
    if want:
        apt_install(want)
    for tool in ["nginx", "haproxy"] + (["wrk"] if need_wrk else []):
        if not which(tool):
            sys.exit(f"{tool} still missing after apt-get install")


def tool_versions():
    out = {}
    r = run([which("nginx"), "-v"], timeout=10)
    out["nginx"] = (r.stderr or r.stdout).strip().replace("nginx version: ", "")
    r = run([which("haproxy"), "-v"], timeout=10)
    m = re.search(r"HAProxy version (\S+)", r.stdout or "")
    out["haproxy"] = f"HAProxy {m.group(1)}" if m else "HAProxy ?"
    return out


# --- build ---------------------------------------------------------------------

def build_type(build):
    try:
        import json
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            for opt in json.load(f):
                if opt.get("name") == "buildtype":
                    return opt.get("value")
    except (OSError, ValueError):
        pass
    return "unknown"


def ensure_build(root, build, explicit):
    """meson setup (if needed) + ninja for the binaries the benchmark runs.
    A --build directory that exists is used as it is."""
    if explicit and os.path.isdir(build):
        return
    # The project's own dependency script: compilers, meson and libraries on
    # a fresh machine; a no-op when everything is there.
    r = run([os.path.join(root, "tests", "deps.sh")], timeout=1200, cwd=root)
    if r.returncode != 0:
        sys.exit(f"tests/deps.sh failed:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
    if not os.path.exists(os.path.join(build, "build.ninja")):
        log(f"meson setup {build} --buildtype=release")
        r = run(["meson", "setup", build, "--buildtype=release"], timeout=600, cwd=root)
        if r.returncode != 0:
            sys.exit(f"meson setup failed:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
    targets = ["master/gatewayd", "bench/gw-echo"]
    r = run(["ninja", "-C", build, "-t", "targets", "all"], timeout=60)
    if "bench/gwbench/gwbench:" in r.stdout:
        targets.append("bench/gwbench/gwbench")
    if "bench/wrk-tls-sessions.so:" in r.stdout:   # the TLS profiles' wrk shim
        targets.append("bench/wrk-tls-sessions.so")
    log(f"ninja -C {build} {' '.join(targets)}")
    r = run(["ninja", "-C", build] + targets, timeout=1200)
    if r.returncode != 0:
        sys.exit(f"ninja failed:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")


# --- machine -------------------------------------------------------------------

def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": model}


def cpu_stat():
    """Machine-wide CPU time (s) from /proc/stat: busy (user, nice, system,
    irq, softirq), softirq alone, steal, and idle (idle + iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system_, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return {"busy": (user + nice + system_ + irq + softirq) / hz, "softirq": softirq / hz,
            "steal": steal / hz, "idle": (idle + iowait) / hz}


def cpu_stat_delta(a, b):
    return {k: b[k] - a[k] for k in a}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


# --- ports -----------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, name, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name}: nothing listens on {port} after {timeout:.0f}s")


# --- CPU time from /proc ---------------------------------------------------------

def tree_pids(pid):
    """pid and all its descendants (via /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return out


_SUM_EXEC = re.compile(r"se\.sum_exec_runtime\s*:\s*([\d.]+)")


def _process_clock(pid):
    """pid's CPU time (s) from its process CPU clock (clock_getcpuclockid):
    se.sum_exec_runtime summed over its threads, the exited ones included."""
    return time.clock_gettime(((~pid) << 3) | 2)   # CPUCLOCK_SCHED of the process


def _tasks_sum(pid):
    """The same from /proc/PID/task/*/sched; misses threads that exited."""
    total = 0.0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/sched") as f:
                m = _SUM_EXEC.search(f.read())
        except OSError:
            continue
        if m:
            total += float(m.group(1)) / 1000.0
    return total


def cpu_snapshot(pid):
    """(CPU seconds of pid's process tree, {pid: start time}).

    The time is se.sum_exec_runtime of every thread of every process in the
    tree. Summing /proc/PID/task/*/sched alone is not enough: io_uring's
    io-wq workers (iou-wrk-*) are threads that come and go, and an exited
    thread drops out of task/, which made a round's delta too small. The
    process CPU clock keeps exited threads; task/*/sched is the fallback.
    Compare the pid maps of two snapshots: a process that exited in between
    took its time with it."""
    total, members = 0.0, {}
    for p in tree_pids(pid):
        try:
            total += _process_clock(p)
        except OSError:
            try:
                total += _tasks_sum(p)
            except OSError:
                continue
        members[p] = _start_time(p)
    return total, members


def cpu_seconds(pid):
    return cpu_snapshot(pid)[0]


def children_cpu_seconds():
    """User + system time of every child this process has waited for."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# --- started processes ----------------------------------------------------------

def _start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _die_with_parent():
    """Child side of Popen: get SIGTERM if this script dies (even by SIGKILL).
    Survives the exec of taskset and of the program it runs."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


class Procs:
    """Processes this run started, stopped by PID in reverse order."""

    def __init__(self):
        self.started = []   # (name, Popen, start time)

    def start(self, name, cmd, stdout_path, stderr_path):
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 preexec_fn=_die_with_parent)
        self.started.append((name, p, _start_time(p.pid)))
        return p

    def stop(self, proc, grace=5.0):
        entry = next((e for e in self.started if e[1] is proc), None)
        if entry is None:
            return
        self.started.remove(entry)
        name, p, _ = entry
        # Remember the descendants (workers) now, by PID and start time, so
        # that any left behind by a killed master can be stopped too.
        family = [(q, _start_time(q)) for q in tree_pids(p.pid)[1:]]
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {p.pid}) ignored SIGTERM for {grace:.0f}s: SIGKILL")
                p.kill()
                p.wait(timeout=grace)
        deadline = time.monotonic() + grace
        for q, st in family:
            while st is not None and _start_time(q) == st and time.monotonic() < deadline:
                time.sleep(0.05)
            if st is not None and _start_time(q) == st:
                log(f"{name}: child pid {q} still alive: SIGKILL")
                try:
                    os.kill(q, signal.SIGKILL)
                except OSError:
                    pass

    def stop_all(self):
        for _, p, _ in reversed(list(self.started)):
            try:
                self.stop(p)
            except Exception as e:  # keep stopping the others
                log(f"stopping pid {p.pid}: {e}")
