"""Modules of bench/compare, the side-by-side proxy benchmark (gatewayd,
nginx, HAProxy): run (command line, rounds), profiles, proxies (configs in
conf/, start/stop), loadgen (gwbench or wrk), system (processes, CPU from
/proc, packages, build), report (table, ratios)."""
