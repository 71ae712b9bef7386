"""The backend and the three proxies: configs from conf/*, command lines,
pinning. One Stack per profile: gw-echo plus gatewayd, nginx and HAProxy in
front of it, all started fresh so that no profile inherits another's pools.

Pinned: each proxy on CPU 0 (taskset -c 0 for the whole process, plus its
own setting: gatewayd pin_workers, nginx worker_cpu_affinity, HAProxy
cpu-map); gw-echo and the load generator on CPU 1. Unpinned: no taskset and
gatewayd pin_workers = no."""
import os
import re
import time

from . import system

CONF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conf")
PROXIES = ("gatewayd", "nginx", "haproxy")
LABEL = {"gatewayd": "gatewayd", "nginx": "nginx", "haproxy": "HAProxy"}
PROXY_CPU, LOAD_CPU = 0, 1


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

    def start_gatewayd(self):
        port = system.free_port()
        f = self._fields(port, self._path("gatewayd-access.log") if self.profile.access_log else "off")
        f["PIN"] = "yes" if self.profile.pinned else "no"
        ini = render("gatewayd.ini", self._path("gatewayd.ini"), f)
        cmd = [os.path.join(self.build, "master", "gatewayd"), "-c", ini]
        return self._start("gatewayd", self._pin(cmd, PROXY_CPU), port)

    def start_nginx(self):
        port = system.free_port()
        f = self._fields(port, self._path("nginx-access.log") if self.profile.access_log else "off")
        f["AFFINITY"] = (f"worker_cpu_affinity {1 << PROXY_CPU:b};" if self.profile.pinned else "")
        conf = render("nginx.conf", self._path("nginx.conf"), f)
        cmd = [system.which("nginx"), "-c", conf, "-p", self.dir + "/"]
        return self._start("nginx", self._pin(cmd, PROXY_CPU), port)

    def start_haproxy(self):
        port = system.free_port()
        f = self._fields(port, "")
        f["CPU_MAP"] = f"    cpu-map 1/1 {PROXY_CPU}" if self.profile.pinned else ""
        if self.profile.access_log:
            # HAProxy logs to syslog or stdout, not to files: stdout goes to a file.
            f["LOG_GLOBAL"] = "    log stdout format raw local0"
            f["LOG_DEFAULTS"] = "    log global\n    option httplog"
        else:
            f["LOG_GLOBAL"] = f["LOG_DEFAULTS"] = ""
        cfg = render("haproxy.cfg", self._path("haproxy.cfg"), f)
        cmd = [system.which("haproxy"), "-db", "-f", cfg]
        stdout = self._path("haproxy-access.log" if self.profile.access_log else "haproxy.out")
        return self._start("haproxy", self._pin(cmd, PROXY_CPU), port, stdout=stdout)

    def _start(self, name, cmd, port, stdout=None):
        p = self.procs.start(name, cmd, stdout or self._path(f"{name}.out"),
                             self._path(f"{name}.err"))
        self.proxy[name] = (p, port)
        return p

    def start(self):
        self.start_backend()
        for name in PROXIES:
            getattr(self, f"start_{name}")()
        for name, (p, port) in self.proxy.items():
            try:
                system.wait_port(port, p, name)
            except RuntimeError as e:
                err = open(self._path(f"{name}.err")).read()[-1500:]
                raise RuntimeError(f"{e}\n{name} stderr:\n{err}") from None

    def alive(self, name):
        return self.proxy[name][0].poll() is None

    def stop(self):
        for name in reversed(PROXIES):
            if name in self.proxy:
                self.procs.stop(self.proxy[name][0])
        if self.backend is not None:
            self.procs.stop(self.backend)
