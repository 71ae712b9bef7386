#!/usr/bin/env python3
"""Side-by-side proxy benchmark: gatewayd and nginx in front of the same
gw-echo backend, in the same run, in interleaved rounds (A B A B ...).

For each proxy and round: wrk's requests/s, and the proxy's CPU time per
request, read from se.sum_exec_runtime in /proc/PID/task/*/sched summed
over the proxy's process tree (stable to about 5% on these VMs, unlike
req/s). Prints medians and the gatewayd/nginx ratios.

  bench/compare.py [--build DIR] [--rounds N] [--duration S] [--connections C]
                   [--pinned]

--pinned puts each proxy's worker on CPU 0 and wrk plus the backend on
CPU 1. Everything started here is stopped here, by PID. Needs nginx and
wrk (apt-get install nginx-light wrk)."""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def tree_pids(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in os.listdir(f"/proc/{p}/task"):
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return out


def cpu_seconds(pid):
    """Summed CPU time (s) of pid's process tree, all threads."""
    total = 0.0
    for p in tree_pids(pid):
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/sched") as f:
                    m = re.search(r"se\.sum_exec_runtime\s*:\s*([\d.]+)", f.read())
                    if m:
                        total += float(m.group(1)) / 1000.0
        except OSError:
            pass
    return total


def run_wrk(port, args, cpu):
    cmd = ["wrk", "-t", "1", "-c", str(args.connections), "-d", f"{args.duration}s",
           f"http://127.0.0.1:{port}/bench"]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw errors: {out}")
    return rps, reqs


def start(cmd, **kw):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--pinned", action="store_true")
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} is missing: apt-get install wrk nginx-light")

    tmp = tempfile.mkdtemp(prefix="gwcompare-")
    procs = []
    load_cpu = 1 if args.pinned else None
    try:
        be_port = free_port()
        echo = [os.path.join(args.build, "bench", "gw-echo"), "-q", "-l", f"127.0.0.1:{be_port}"]
        if args.pinned:
            echo = ["taskset", "-c", "1"] + echo
        procs.append(start(echo))
        wait_port(be_port)

        gw_port, ngx_port = free_port(), free_port()
        gw_ini = os.path.join(tmp, "gw.ini")
        with open(gw_ini, "w") as f:
            f.write(f"""[gateway]
listen = 127.0.0.1:{gw_port}
workers = 1
pin_workers = {"yes" if args.pinned else "no"}
access_log = off
log_level = warn

[service be]
instance = 127.0.0.1:{be_port}
keepalive = 64

[route all]
path = /
service = be
""")
        gw_cmd = [os.path.join(args.build, "master", "gatewayd"), "-c", gw_ini]
        if args.pinned:
            gw_cmd = ["taskset", "-c", "0"] + gw_cmd
        gw = start(gw_cmd)
        procs.append(gw)

        os.makedirs(os.path.join(tmp, "logs"))
        ngx_conf = os.path.join(tmp, "nginx.conf")
        with open(ngx_conf, "w") as f:
            f.write(f"""worker_processes 1;
{"worker_cpu_affinity 1;" if args.pinned else ""}
daemon off;
error_log {tmp}/logs/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  upstream be {{ server 127.0.0.1:{be_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{ngx_port};
    location / {{ proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
        ngx = start(["nginx", "-c", ngx_conf, "-p", tmp])
        procs.append(ngx)
        wait_port(gw_port)
        wait_port(ngx_port)

        proxies = [("gatewayd", gw, gw_port), ("nginx", ngx, ngx_port)]
        results = {name: {"rps": [], "us": []} for name, _, _ in proxies}
        for name, _, port in proxies:  # warm up pools and caches
            subprocess.run(["wrk", "-t", "1", "-c", str(args.connections), "-d", "1s",
                            f"http://127.0.0.1:{port}/bench"], capture_output=True, check=True)
        for rnd in range(args.rounds):
            for name, proc, port in proxies:
                before = cpu_seconds(proc.pid)
                rps, reqs = run_wrk(port, args, load_cpu)
                used = cpu_seconds(proc.pid) - before
                results[name]["rps"].append(rps)
                results[name]["us"].append(used / reqs * 1e6)
                print(f"round {rnd + 1} {name:9s} {rps:10.0f} req/s {used / reqs * 1e6:7.2f} us CPU/req",
                      flush=True)

        print()
        print(f"{'proxy':10s} {'req/s median':>12s} {'spread':>8s} {'CPU us/req':>11s}")
        med = {}
        for name in results:
            rps, us = results[name]["rps"], results[name]["us"]
            med[name] = (statistics.median(rps), statistics.median(us))
            spread = (max(rps) - min(rps)) / statistics.median(rps) * 100
            print(f"{name:10s} {med[name][0]:12.0f} {spread:7.1f}% {med[name][1]:11.2f}")
        print()
        print(f"gatewayd/nginx req/s: {med['gatewayd'][0] / med['nginx'][0]:.2f}x   "
              f"CPU per request: {med['gatewayd'][1] / med['nginx'][1]:.2f}x")
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
