"""Per-round numbers -> medians, spreads, ratios; the table; the JSON."""
import statistics

from .proxies import LABEL, PLAIN, names


def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _spread(xs):
    """(max - min) / median, in %."""
    xs = [x for x in xs if x is not None]
    if len(xs) < 2 or not statistics.median(xs):
        return None
    return (max(xs) - min(xs)) / statistics.median(xs) * 100


def _lat_ms(r, key):
    v = (r.get("latency_us") or {}).get(key)
    return None if v is None else v / 1000.0


def summarize(rounds, profile):
    """One proxy's rounds in one profile -> its summary."""
    ok = [r for r in rounds if r.get("requests")]
    err_rounds = [r["round"] for r in rounds if r["errors"].get("total") or r.get("failed")]
    detail = {}
    for r in rounds:
        for k, v in r["errors"].items():
            if k == "total":
                continue
            if isinstance(v, dict):
                for sk, sv in v.items():
                    detail[f"status {sk}"] = detail.get(f"status {sk}", 0) + sv
            elif v:
                detail[k] = detail.get(k, 0) + v
    rps = [r["rps"] for r in ok]
    s = {
        "rounds": len(rounds),
        "rps_median": _med(rps),
        "rps_spread_pct": _spread(rps),
        "p50_ms": _med([_lat_ms(r, "p50") for r in ok]),
        "p99_ms": _med([_lat_ms(r, "p99") for r in ok]),
        "cpu_us_per_req": _med([r["cpu_us_per_req"] for r in ok]),
        "cpu_spread_pct": _spread([r["cpu_us_per_req"] for r in ok]),
        "backend_cpu_us_per_req": _med([r["backend_cpu_us_per_req"] for r in ok]),
        "loadgen_cpu_us_per_req": _med([r["loadgen_cpu_us_per_req"] for r in ok]),
        "other_cpu_pct": _med([r.get("other_cpu_pct") for r in ok]),
        "other_cpu_pct_max": max([r["other_cpu_pct"] for r in ok if r.get("other_cpu_pct")
                                  is not None], default=None),
        "errors_total": sum(r["errors"].get("total", 0) for r in rounds),
        "error_rounds": err_rounds,
        "error_detail": detail,
        "failed_rounds": [r["round"] for r in rounds if r.get("failed")],
        "exited_rounds": [r["round"] for r in rounds if r.get("proxy_processes_exited")],
    }
    if profile.tls:
        t = [r["tls"] for r in ok if r.get("tls")]
        full, resumed = sum(x["full"] for x in t), sum(x["resumed"] for x in t)
        s["tls_full"], s["tls_resumed"] = full, resumed
        s["tls_resumed_pct"] = (resumed / (full + resumed) * 100
                                if full + resumed and not profile.keepalive else None)
    if profile.rate and s["rps_median"] is not None:
        s["below_rate"] = s["rps_median"] < 0.95 * profile.rate
    return s


def ratios(per_proxy):
    """gatewayd against each other proxy of the profile (gatewayd-plain
    included when it ran): ratio of medians and the range of the per-round
    (paired, same round) ratios."""
    out = {}
    gw = per_proxy.get("gatewayd")
    if not gw:
        return out
    for other, o in per_proxy.items():
        if other == "gatewayd":
            continue
        entry = {}
        for key, metric in (("rps", "rps_median"), ("cpu", "cpu_us_per_req")):
            a, b = gw["summary"][metric], o["summary"][metric]
            entry[key] = a / b if a and b else None
            field = "rps" if key == "rps" else "cpu_us_per_req"
            by_round = {r["round"]: r.get(field) for r in o["rounds"] if r.get("requests")}
            paired = [r[field] / by_round[r["round"]] for r in gw["rounds"]
                      if r.get("requests") and by_round.get(r["round"]) and r.get(field)]
            entry[key + "_rounds"] = paired
        out[other] = entry
    return out


def _num(v, fmt, width):
    return f"{'-':>{width}}" if v is None else f"{v:{width}{fmt}}"


def _pct(v):
    return f"{'-':>6}" if v is None else f"{v:5.0f}%"


def other_load(per_proxy):
    xs = [r["other_cpu_pct"] for d in per_proxy.values() for r in d["rounds"]
          if r.get("other_cpu_pct") is not None]
    return {"median": _med(xs), "max": max(xs) if xs else None}


def _other(res):
    o = res.get("other_load") or {}
    if o.get("median") is None:
        return "-"
    return f"{o['median']:.0f}% ({o['max']:.0f}%)"


def _ratio(entry, key):
    if not entry or entry.get(key) is None:
        return "-"
    rr = entry.get(key + "_rounds") or []
    rng = f" ({min(rr):.2f}-{max(rr):.2f})" if len(rr) > 1 else ""
    return f"{entry[key]:.2f}x{rng}"


def table(results, profiles, rounds, duration):
    """The text table: rows = profile x proxy, then the ratios per profile."""
    lines = []
    shown = [prof for prof in profiles if prof.name in results]
    w = max([9] + [len(LABEL[n]) for prof in shown for n in names(prof)])
    pw = max([9] + [len(prof.name) for prof in shown])   # profile column
    hdr = (f"{'profile':<{pw}} {'client':<22} {'proxy':<{w}} {'req/s':>9}  {'spread':>6} "
           f"{'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}  errors")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for prof in profiles:
        if prof.name not in results:
            continue
        per = results[prof.name]["proxies"]
        first = True
        for name in names(prof):
            if name not in per:
                continue
            s = per[name]["summary"]
            mark = "!" if s["error_rounds"] else (" <" if s.get("below_rate") else "")
            rps = _num(s["rps_median"], ",.0f", 9)
            err = "0"
            if s["error_rounds"]:
                det = ", ".join(f"{k} {v}" for k, v in sorted(s["error_detail"].items()))
                failed = f", {len(s['failed_rounds'])} failed" if s["failed_rounds"] else ""
                err = (f"{s['errors_total']} in {len(s['error_rounds'])}/{s['rounds']} rounds"
                       f"{failed}" + (f" ({det})" if det else ""))
            lines.append(
                f"{prof.name if first else '':<{pw}} {prof.client() if first else '':<22} "
                f"{LABEL[name]:<{w}} {rps}{mark:<2}{_pct(s['rps_spread_pct'])} "
                f"{_num(s['p50_ms'], '.2f', 7)} {_num(s['p99_ms'], '.2f', 7)} "
                f"{_num(s['cpu_us_per_req'], '.1f', 10)}{'?' if s['exited_rounds'] else ' '} {err}")
            first = False
    lines.append("")
    lines.append(f"Medians of {rounds} interleaved rounds of {duration} s; spread = "
                 "(max - min) / median of req/s; ! = errors in some round; "
                 "< = below the fixed rate; ? = a proxy process exited during a round.")
    lines.append("")
    h2 = (f"{'gatewayd /':<{pw + 1}} {'req/s vs nginx':>22} {'CPU/req vs nginx':>22} "
          f"{'req/s vs HAProxy':>22} {'CPU/req vs HAProxy':>22}  {'other load':>14}")
    lines.append(h2)
    lines.append("-" * len(h2))
    for prof in profiles:
        if prof.name not in results:
            continue
        r = results[prof.name]["ratios"]
        lines.append(f"{prof.name:<{pw + 1}} {_ratio(r.get('nginx'), 'rps'):>22} "
                     f"{_ratio(r.get('nginx'), 'cpu'):>22} "
                     f"{_ratio(r.get('haproxy'), 'rps'):>22} "
                     f"{_ratio(r.get('haproxy'), 'cpu'):>22}  {_other(results[prof.name]):>14}")
    lines.append("")
    lines.append("Ratio of medians (range of the same-round ratios). req/s > 1 and "
                 "CPU/req < 1 favour gatewayd.")
    lines.append("Other load: CPU used by other processes on the machine during the rounds, "
                 "% of all CPUs, median (max).")
    tls = [prof for prof in shown if prof.tls and not prof.keepalive]
    if tls:
        lines.append("")
        lines.append("TLS handshakes of the connections the client closed, all rounds "
                     "(bench/tls_sessions.c): resumed / all")
        for prof in tls:
            per = results[prof.name]["proxies"]
            cells = []
            for name in names(prof):
                s = per.get(name, {}).get("summary", {})
                pct = s.get("tls_resumed_pct")
                cells.append(f"{LABEL[name]} " + ("-" if pct is None else
                             f"{pct:.0f}% ({s['tls_resumed']:,} of "
                             f"{s['tls_full'] + s['tls_resumed']:,})"))
            lines.append(f"{prof.name:<{pw + 1}} " + ";  ".join(cells))
        lines.append("With one request per connection, req/s is new TLS connections "
                     "(handshakes) per second.")
    plain = [prof for prof in shown if PLAIN in results[prof.name]["ratios"]]
    if plain:
        lines.append("")
        h3 = (f"{'gatewayd /':<{pw + 1}} {'req/s vs gatewayd-plain':>24} "
              f"{'CPU/req vs gatewayd-plain':>26}  {'other load':>14}")
        lines.append(h3)
        lines.append("-" * len(h3))
        for prof in plain:
            r = results[prof.name]["ratios"][PLAIN]
            lines.append(f"{prof.name:<{pw + 1}} {_ratio(r, 'rps'):>24} {_ratio(r, 'cpu'):>26}  "
                         f"{_other(results[prof.name]):>14}")
        lines.append("")
        lines.append("gatewayd-plain: the same gatewayd without the profile's policies, "
                     "in the same rounds. CPU/req - 1 is what the policies cost.")
    return "\n".join(lines)
