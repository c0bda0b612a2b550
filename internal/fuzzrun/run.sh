#!/bin/sh
# Runs every fuzz target of the Go module in the current directory, each for
# an execution-count budget (`go test -fuzz T -fuzztime Nx`), on top of its
# committed corpus in testdata/fuzz. `make fuzz` calls it.
#
#   FUZZ_BUDGETS        the budgets file (default: budgets beside this script)
#   FUZZ_DEFAULT_EXECS  the budget of a target the file does not list (100000)
#   FUZZ_SCALE          multiplies every budget (default 1; 10 for a long run)
#   GO                  the go command (default go)
#
# It exits 1 when any target fails: a panic, a t.Fatal or a hang of the
# fuzz function, with the failing input written to testdata/fuzz/<target>/
# (named in the output), or a target that does not build. A budget is a
# count, not a duration, so the run never ends on a wall-clock deadline:
# Go 1.26's coordinator can report a bare "context deadline exceeded" with
# no finding when a duration -fuzztime expires while a worker is busy
# (golang/go#75804), and a count gives it no deadline to race.
set -u

here=$(cd "$(dirname "$0")" && pwd)
budgets=${FUZZ_BUDGETS:-$here/budgets}
default=${FUZZ_DEFAULT_EXECS:-100000}
scale=${FUZZ_SCALE:-1}
go=${GO:-go}

module=$($go list -m) || exit 1
failed=""
for pkg in $($go list ./...); do
	if ! list=$($go test -list '^Fuzz' "$pkg"); then
		echo "FAIL fuzz $pkg: its tests do not build"
		failed="$failed $pkg"
		continue
	fi
	targets=$(printf '%s\n' "$list" | grep '^Fuzz')
	[ -n "$targets" ] || continue
	rel=${pkg#"$module"}
	rel=${rel#/}
	[ -n "$rel" ] || rel=.
	for target in $targets; do
		n=$(awk -v p="$rel" -v t="$target" '$1 == p && $2 == t { print $3 }' "$budgets" 2>/dev/null)
		[ -n "$n" ] || n=$default
		n=$((n * scale))
		echo "fuzz $pkg $target: ${n} executions"
		if ! $go test -run '^$' -fuzz "^$target\$" -fuzztime "${n}x" "$pkg"; then
			dir=$($go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target
			echo "FAIL fuzz $pkg $target (failing inputs, if one was written, are in $dir: rerun one with go test -run '$target/NAME' $pkg)"
			failed="$failed $rel.$target"
		fi
	done
done
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi
echo "fuzz: every target passed"
