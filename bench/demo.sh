#!/usr/bin/env bash
# The demo from a fresh Debian 12 machine, as root: install, build, start
# three demo backends and gatewayd (conf/demo.ini) on 127.0.0.1:8080, print
# what to curl, and run until Ctrl-C (which stops everything it started).
set -euo pipefail
cd "$(dirname "$0")/.."

tests/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

build/bench/gw-echo -l 127.0.0.1:9001 -l 127.0.0.1:9002 -l 127.0.0.1:9003 >/dev/null &
pids+=($!)
build/master/gatewayd -c conf/demo.ini 2> >(tee /tmp/gatewayd-demo.log >&2) &
pids+=($!)

for _ in $(seq 100); do
	grep -q "ready:" /tmp/gatewayd-demo.log 2>/dev/null && break
	sleep 0.1
done
grep -q "ready:" /tmp/gatewayd-demo.log || { echo "gatewayd did not start" >&2; exit 1; }

cat <<'TOUR'

gatewayd is up on http://127.0.0.1:8080 (access log below). Try:

  curl -s localhost:8080/v1/products/7                         # v1 by path -> backend :9001, path /products/7
  curl -s localhost:8080/v2/products/7                         # v2 by path -> :9002 or :9003 (weights 1:2)
  curl -s -H 'Accept-Version: 2' localhost:8080/products/7     # v2 by header
  curl -s localhost:8080/products/7                            # v1 by default
  curl -s localhost:8080/users/42                              # rewritten to /people/42
  curl -s localhost:8080/nope                                  # 404 in the JSON error shape
  curl -s 'localhost:8080/v1/products/7?delay=200&status=201'  # the backend obeys ?delay ?status ?size ?chunked
  for i in 1 2 3 4 5 6 7; do curl -s -o /dev/null -w '%{http_code} ' localhost:8080/users/1; done; echo
                                                               # 5 x 200, then 429 (rate limit, all workers)
  curl -si localhost:8080/users/1 | grep -i -e retry-after -e ratelimit

  build/cli/gatewayctl -s /tmp/gatewayd-demo.sock status       # and: workers, stats, services, breakers
  build/cli/gatewayctl -s /tmp/gatewayd-demo.sock limits show users 127.0.0.1
  build/cli/gatewayctl -s /tmp/gatewayd-demo.sock reload       # new workers, zero dropped requests
  curl -s -X PUT -H 'Authorization: Bearer demo-token-change-me' \
       'localhost:9901/registry/users/127.0.0.1:9002?ttl=30s'  # self-registration (heartbeat within 30 s)

Ctrl-C stops the gateway and the backends.
TOUR
wait "${pids[1]}"
