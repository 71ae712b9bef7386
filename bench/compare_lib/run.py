"""bench/compare: gatewayd, nginx and HAProxy side by side.

  bench/compare [--quick] [--profile NAME]... [--rounds N] [--duration S]
                [--build DIR] [--json FILE] [--workers N] [--warmup S]
                [--loadgen auto|gwbench|wrk] [--list]

Installs nginx-light and haproxy from Debian when missing, builds the
project (meson setup + ninja in build/, reused if present; a --build
directory that exists is used as it is), then for each profile starts
gw-echo and the three proxies with equivalent configs (bench/compare_lib/
conf/: same worker count, upstream keep-alive, access logs off unless the
profile turns them on), warms each proxy up, and runs interleaved rounds,
rotating the order (A B C, B C A, C A B, ...). Per proxy and round: req/s,
p50 and p99 latency, errors, and CPU time per request of the proxy, the
backend and the load generator (se.sum_exec_runtime of every thread in
the process tree, exited io-wq threads included, via each process's CPU
clock; rusage for the load generator), and the CPU that other processes
on the machine used meanwhile. Prints one table of medians and gatewayd's ratios to nginx and
HAProxy. Everything started is stopped by PID (SIGTERM, then SIGKILL).

The opt-in policy profile (--profile policy) gives every proxy a rate limit
that never refuses, a passive breaker and a retry policy. It also runs a
fourth proxy in the same rounds, gatewayd-plain (gatewayd without them), and
prints gatewayd's ratios to it: what the policies cost.

TLS profiles (opt-in: --profile tls runs them all) put each proxy behind
TLS with the same certificate and equivalent settings (proxies.TLS). Their
client is always wrk (gwbench has no TLS) with an LD_PRELOAD shim
(bench/tls_sessions.c, built as bench/wrk-tls-sessions.so) that turns
session resumption off (tls-handshake) or leaves it on (tls-resume,
tls12-resume) and counts full and resumed handshakes; the table reports
the resumed share.

The load generator is gwbench from the build when it exists, else wrk
(printed at the start). Default run: every default profile, 5 rounds of
2 s (under 5 minutes); --quick: small + newconn, 2 rounds of 2 s (under
1 minute). Build and package installation are not counted."""
import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import loadgen, profiles, proxies, report, system

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Seconds a profile costs beyond its load runs (start, readiness, stop) and
# a load run beyond its duration; measured on the 2-vCPU VM, rounded up.
PROFILE_OVERHEAD_S = 1.5
RUN_OVERHEAD_S = 0.2
DEFAULT_BOUND_S, QUICK_BOUND_S = 300, 60


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="small + newconn profiles, 2 rounds of 2 s (under 1 minute)")
    ap.add_argument("--profile", action="append", metavar="NAME",
                    help="profile to run (repeatable; 'all' adds the opt-in ones, 'tls' the "
                         "TLS ones); see --list")
    ap.add_argument("--rounds", type=int, help="interleaved rounds per profile (default 5, quick 2)")
    ap.add_argument("--duration", type=int, help="seconds per load run (default 2)")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per proxy (default 1)")
    ap.add_argument("--workers", type=int, default=1,
                    help="workers (gatewayd, nginx) / threads (HAProxy) per proxy (default 1)")
    ap.add_argument("--build", help="build directory (default: build/, set up and built if needed)")
    ap.add_argument("--json", metavar="FILE", help="write every number to FILE")
    ap.add_argument("--loadgen", choices=("auto", "gwbench", "wrk"), default="auto",
                    help="default: gwbench when built, else wrk")
    ap.add_argument("--list", action="store_true", help="list the profiles and exit")
    args = ap.parse_args(argv)
    if args.list:
        for p in profiles.PROFILES:
            flag = "" if p.default else "  (opt-in)"
            print(f"{p.name:<13} {p.desc}{flag}")
        sys.exit(0)
    if args.profile:
        names = []
        for n in args.profile:
            if n == "all":
                names += [p.name for p in profiles.PROFILES]
            elif n in profiles.GROUPS:
                names += profiles.GROUPS[n]
            elif n in profiles.BY_NAME:
                names.append(n)
            else:
                ap.error(f"unknown profile {n!r}; known: "
                         f"{', '.join(list(profiles.BY_NAME) + list(profiles.GROUPS))}")
        names = list(dict.fromkeys(names))
    elif args.quick:
        names = profiles.QUICK
    else:
        names = [p.name for p in profiles.PROFILES if p.default]
    args.profiles = [profiles.BY_NAME[n] for n in names]
    if args.rounds is None:
        args.rounds = 2 if args.quick else 5
    if args.duration is None:
        args.duration = 2
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.workers < 1:
        ap.error("--rounds, --duration and --workers must be >= 1, --warmup >= 0")
    if args.workers > 1 and any(p.pinned for p in args.profiles):
        ap.error("pinned profiles put the proxy on one CPU: use --workers 1")
    return args


def planned_seconds(args):
    total = 0.0
    for prof in args.profiles:
        n = len(proxies.names(prof))
        total += (PROFILE_OVERHEAD_S + n * (args.warmup + RUN_OVERHEAD_S)
                  + n * args.rounds * (args.duration + RUN_OVERHEAD_S))
    return total


def _on_signal(signum, frame):
    system.log(f"signal {signum}: stopping what was started")
    raise SystemExit(128 + signum)


def _failed_round(rnd, pos, error):
    return {"round": rnd, "position": pos, "failed": str(error)[-500:], "requests": 0,
            "rps": 0.0, "errors": {"total": 1, "run failed": 1}, "latency_us": {},
            "cpu_us_per_req": None, "backend_cpu_us_per_req": None,
            "loadgen_cpu_us_per_req": None}


def one_run(lg, stack, name, prof, duration):
    proc, port = stack.proxy[name]
    url = f"{'https' if prof.tls else 'http'}://127.0.0.1:{port}{prof.path}"
    cpu = proxies.LOAD_CPU if prof.pinned else None
    tls = {"resume": prof.resume, "max": prof.tls_max} if prof.tls else None
    res = lg.run(url, prof.connections, duration, rate=prof.rate or None,
                 keepalive=prof.keepalive, cpu=cpu, headers=stack.headers.get(name), tls=tls)
    if tls is not None:
        check_tls(res, prof)
    return res


def check_tls(res, prof):
    """Resumption and version as the profile asks: with resumption off, one
    resumed handshake means the shim did not work, and counts as an error;
    so does a TLS 1.3 handshake when the client was capped at 1.2. With it on, the
    resumed share is the server's doing and is reported, not judged. With
    keep-alive, wrk closes no connection, so there is nothing to count."""
    t = res["tls"]
    done = t["full"] + t["resumed"]
    res["tls_resumed_pct"] = t["resumed"] / done * 100 if done and not prof.keepalive else None
    bad = {}
    if not prof.keepalive and not prof.resume and t["resumed"]:
        bad["resumed (expected none)"] = t["resumed"]
    if prof.tls_max == "1.2" and t["tls1.3"]:
        bad["TLS 1.3 (expected 1.2)"] = t["tls1.3"]
    for k, v in bad.items():
        res["errors"][k] = v
        res["errors"]["total"] = res["errors"].get("total", 0) + v


def run_profile(args, lg, procs, tmp, prof):
    if prof.tls:
        lg = args.tls_lg
    stack = proxies.Stack(procs, args.build, tmp, prof, args.workers)
    names = proxies.names(prof)
    data = {name: {"rounds": []} for name in names}
    try:
        stack.start()
        for name in names:   # fill pools, fault pages in
            if args.warmup:
                try:
                    w = one_run(lg, stack, name, prof, args.warmup)
                    if w["errors"].get("total"):
                        system.log(f"  {prof.name}: {name} warm-up errors: {w['errors']}")
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    system.log(f"  {prof.name}: {name} warm-up failed: {e}")
        n = len(names)
        name_w = max([9] + [len(x) for x in names])
        for rnd in range(1, args.rounds + 1):
            order = [names[(rnd - 1 + i) % n] for i in range(n)]
            for pos, name in enumerate(order):
                proc, _ = stack.proxy[name]
                if proc.poll() is not None:
                    r = _failed_round(rnd, pos, f"{name} exited with {proc.returncode}")
                    data[name]["rounds"].append(r)
                    system.log(f"  {prof.name} r{rnd} {name}: not running")
                    continue
                (c0, tree0), (b0, _) = (system.cpu_snapshot(proc.pid),
                                        system.cpu_snapshot(stack.backend.pid))
                m0, t0 = system.cpu_stat(), time.monotonic()
                try:
                    res = one_run(lg, stack, name, prof, args.duration)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    r = _failed_round(rnd, pos, e)
                    data[name]["rounds"].append(r)
                    system.log(f"  {prof.name} r{rnd} {name}: run failed: {e}")
                    continue
                m1, t1 = system.cpu_stat(), time.monotonic()
                (c1, tree1), (b1, _) = (system.cpu_snapshot(proc.pid),
                                        system.cpu_snapshot(stack.backend.pid))
                gone = sorted(set(tree0.items()) - set(tree1.items()))
                if gone:   # its CPU time left with it: CPU/req is too low
                    res["proxy_processes_exited"] = [p for p, _ in gone]
                    system.log(f"  {prof.name} r{rnd} {name}: processes exited during the "
                               f"round: {res['proxy_processes_exited']}")
                reqs = res.get("requests") or 0
                # What else ran: machine busy time (/proc/stat, ticks) minus
                # ours (proxy, backend, load generator; softirq work done in
                # their context is in both), as a share of the machine.
                mach = system.cpu_stat_delta(m0, m1)
                ours = (c1 - c0) + (b1 - b0) + res["cpu_s"]
                cap = (t1 - t0) * (os.cpu_count() or 1)
                res["machine_cpu_s"] = mach
                res["other_cpu_pct"] = max(0.0, mach["busy"] - ours) / cap * 100
                res["steal_pct"] = mach["steal"] / cap * 100
                per = (lambda s: s * 1e6 / reqs if reqs else None)
                res.update(round=rnd, position=pos, proxy_cpu_s=c1 - c0, backend_cpu_s=b1 - b0,
                           cpu_us_per_req=per(c1 - c0), backend_cpu_us_per_req=per(b1 - b0),
                           loadgen_cpu_us_per_req=per(res["cpu_s"]))
                data[name]["rounds"].append(res)
                lat = res.get("latency_us") or {}
                p99 = lat.get("p99")
                err = res["errors"].get("total", 0)
                system.log(f"  {prof.name:<8} r{rnd} {name:<{name_w}} {res['rps']:9.0f} req/s  "
                           f"p99 {p99 / 1000 if p99 is not None else float('nan'):6.2f} ms  "
                           f"{res['cpu_us_per_req'] or 0:6.1f} us/req"
                           + f"  other {res['other_cpu_pct']:3.0f}%"
                           + (f"  resumed {res['tls_resumed_pct']:3.0f}%"
                              if res.get("tls_resumed_pct") is not None else "")
                           + (f"  ERRORS {err}" if err else ""))
    finally:
        stack.stop()
    for name in names:
        data[name]["summary"] = report.summarize(data[name]["rounds"], prof)
    out = {"profile": dataclasses.asdict(prof), "proxies": data, "ratios": report.ratios(data),
           "other_load": report.other_load(data)}
    if prof.policy:
        out["policy_settings"] = proxies.POLICY
    return out


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    explicit_build = args.build is not None
    args.build = os.path.abspath(args.build or os.path.join(ROOT, "build"))
    if explicit_build and not os.path.isdir(args.build):
        system.log(f"{args.build} does not exist: it will be set up")
    system.ensure_build(ROOT, args.build, explicit_build)
    btype = system.build_type(args.build)
    if btype not in ("release", "debugoptimized"):
        system.log(f"warning: {args.build} is a {btype} build: numbers will not mean much")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    tmp = tempfile.mkdtemp(prefix="gwcompare-")
    procs = system.Procs()
    results = {}
    try:
        any_tls = any(p.tls for p in args.profiles)
        system.ensure_tools(need_wrk=any_tls or args.loadgen == "wrk" or (
            args.loadgen == "auto" and not os.access(loadgen.gwbench_path(args.build), os.X_OK)))
        lg = loadgen.pick(args.build, tmp, args.loadgen)
        args.tls_lg = loadgen.pick_tls(args.build, tmp) if any_tls else None
        versions = system.tool_versions()
        versions["loadgen"] = lg.version()
        if any_tls:
            versions["tls_loadgen"] = (f"{args.tls_lg.version()} + "
                                       f"{os.path.basename(args.tls_lg.shim)}")
            versions["openssl"] = system.run(["openssl", "version"], timeout=10).stdout.strip()
        plan = planned_seconds(args)
        bound = QUICK_BOUND_S if args.quick else DEFAULT_BOUND_S
        names = " ".join(p.name for p in args.profiles)
        system.log(f"load generator: {lg.name} ({versions['loadgen']})"
                   + ("" if lg.open_loop_exact else
                      "; fixed-rate profile approximated with delay(), no CO correction"))
        if any_tls:
            system.log(f"TLS profiles: {versions['tls_loadgen']} ({versions['openssl']})")
        system.log(f"build: {args.build} ({btype}); proxies: gatewayd, {versions['nginx']}, "
                   f"{versions['haproxy']}")
        counts = sorted({len(proxies.names(p)) for p in args.profiles})
        system.log(f"plan: {names} x {'-'.join(map(str, counts))} proxies x {args.rounds} rounds x "
                   f"{args.duration} s (+{args.warmup} s warm-up) ~ {plan:.0f} s"
                   + (f"  (over the {bound} s bound)" if plan > bound else ""))
        la0 = system.loadavg()
        t0 = time.monotonic()
        started = time.strftime("%Y-%m-%d %H:%M:%S %z")
        for prof in args.profiles:
            system.log(f"profile {prof.name}: {prof.desc}")
            results[prof.name] = run_profile(args, lg, procs, tmp, prof)
        elapsed = time.monotonic() - t0
        la1 = system.loadavg()
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    text = report.table(results, args.profiles, args.rounds, args.duration)
    mach = system.machine()
    print(text)
    print()
    print(f"load generator: {lg.name}"
          + (f" (TLS profiles: {versions['tls_loadgen']})" if args.tls_lg else "")
          + f"; {mach['nproc']} CPUs ({mach['cpu']}), kernel "
          f"{mach['kernel']}; load average {la0[0]:.2f} before, {la1[0]:.2f} after; "
          f"{elapsed:.0f} s")
    if args.json:
        out = {
            "command": "bench/compare " + " ".join(sys.argv[1:] if argv is None else argv),
            "started": started, "elapsed_s": elapsed, "planned_s": plan,
            "machine": mach, "versions": versions, "loadavg_before": la0, "loadavg_after": la1,
            "loadgen": {"name": lg.name, "open_loop_exact": lg.open_loop_exact},
            "tls_loadgen": versions.get("tls_loadgen"),
            "build": {"dir": args.build, "buildtype": btype},
            "settings": {"rounds": args.rounds, "duration_s": args.duration,
                         "warmup_s": args.warmup, "workers": args.workers},
            "profiles": results, "table": text,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    bad = [f"{p}/{n}" for p, r in results.items() for n, d in r["proxies"].items()
           if d["summary"]["error_rounds"]]
    if bad:
        print(f"errors in: {', '.join(bad)}", file=sys.stderr)
    return 0
