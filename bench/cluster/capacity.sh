#!/bin/sh
# The capacity table of README.md, side by side in one session: for each
# size, owner batches, then the per-container deltas of before. Prints the
# machine's load beside each run. Usage: bench/cluster/capacity.sh [SIZES]
# (default "20 50 100"; the README's 50 and 100-node rows ran with
# -rates 5,10,20).
set -eu
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)/cluster
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/cluster
for n in ${1:-20 50 100}; do
  for m in "" "-per-container-deltas"; do
    echo "=== nodes $n mode ${m:-batches} at $(date -u +%T), uptime: $(uptime)"
    GOGC=400 timeout 900 "$bin" -capacity -nodes "$n" $m -rates 5,10,20,40 -step 10s -paced-tasks 100 -settle 2s 2>/dev/null || true
  done
done
echo "=== done at $(date -u +%T), uptime: $(uptime)"
