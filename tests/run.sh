#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine, as root:
#   tests/run.sh            install, build, run unit + e2e tests, then again
#                           under ASan/UBSan, then short fuzz runs (clang)
#   tests/run.sh --quick    the plain build only
# Ends with one line "N passed, N failed" summing every run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=no
[ "${1:-}" = "--quick" ] && quick=yes

tests/deps.sh

werror=false
[ "${CI:-}" = "true" ] && werror=true

logs=()
status=0

# build_and_test DIR SUITE-ARGS MESON-SETUP-ARGS...
build_and_test() {
	local dir=$1 suites=$2
	shift 2
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
	# shellcheck disable=SC2086
	meson test -C "$dir" --print-errorlogs $suites || status=1
	logs+=("$dir/meson-logs/testlog.json")
}

build_and_test build "" -Dwerror=$werror -Dsanitize=false
if [ "$quick" = no ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		build_and_test build-san "--suite unit --suite e2e" -Dwerror=$werror -Dsanitize=true
	CC=clang build_and_test build-fuzz "--suite fuzz" -Dwerror=false -Dfuzz=true
fi

python3 tests/summary.py "${logs[@]}" || status=1
exit $status
