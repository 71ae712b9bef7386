#!/bin/sh
# run-fuzz.sh FUZZER SEEDS WORKDIR SECONDS: a bounded libFuzzer run. New
# inputs go to WORKDIR (in the build tree), never into the seed corpus.
set -eu
fuzzer=$1 seeds=$2 work=$3 seconds=$4
mkdir -p "$work"
exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
	-artifact_prefix="$work/" "$work" "$seeds"
