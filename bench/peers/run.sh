#!/usr/bin/env bash
# bench/peers/run.sh: swarmdns side by side with CoreDNS and dnsmasq, on this
# machine, in one run.
#
# It installs dnsperf and dnsmasq from Debian's packages (apt-get), builds
# CoreDNS from the Go module proxy and swarmdns from this tree, then serves
# the same zone from all three on loopback, with one local upstream (a tiny Go
# server that answers every name) for forwarded names:
#
#   swarmdns  the real `swarmdns serve` binary; the zone reaches it through
#             gossip from bench/peers/feeder (peer nodes publishing N
#             synthetic containers), as it would from other hosts.
#   CoreDNS   file plugin for the zone (NXDOMAIN with SOA, like swarmdns),
#             forward to the upstream, cache: one server block, the shape of
#             a Kubernetes Corefile.
#   dnsmasq   addn-hosts for the zone, local=/zone/ (NXDOMAIN in the zone),
#             server= the upstream, cache-size=10000.
#
# Cases: in-zone hit over 1,000 and 100,000 names, in-zone NXDOMAIN, forwarded
# with a warm cache (100 names queried over and over), forwarded with a cold
# cache (a unique name every query; every run starts a fresh server).
# For each case, the servers run in turn, interleaved (A, B, C, A, B, C…) for
# ROUNDS rounds, each with a fresh process:
#   1. dnsperf for DURATION seconds, CLIENTS sockets and OUTSTANDING queries in
#      flight: the saturated throughput, and latency at saturation;
#   2. dnsperf at a fixed RATE queries per second for RATE_DURATION seconds:
#      latency below saturation;
#   3. VmRSS of the server process.
# The servers run on CPU $SERVER_CPU, dnsperf, the upstream and the feeder on
# CPU $LOAD_CPU (taskset). Every packet goes to 127.0.0.1.
#
# Usage: bench/peers/run.sh            (as root, or with sudo for apt-get)
# Settings (environment): DURATION=10 RATE_DURATION=5 RATE=10000 ROUNDS=3
#   CLIENTS=10 OUTSTANDING=100 SERVER_CPU=1 LOAD_CPU=0
#   CASES="hit-1k hit-100k nxdomain fwd-warm fwd-cold"
#   SERVERS="swarmdns coredns dnsmasq" COREDNS_VERSION=v1.14.7
#   SKIP_INSTALL=1 (use what is installed) OUT=dir (default bench/results/peers-<time>)
# Needs: Go, a Docker engine (swarmdns watches it; the run publishes none of
# its containers: --watch-label is unique to the run), 2 CPUs.
#
# Output: the table on stdout and in $OUT/table.txt; every dnsperf summary,
# server log and config under $OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${DURATION:-10}
RATE_DURATION=${RATE_DURATION:-5}
RATE=${RATE:-10000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-10}
OUTSTANDING=${OUTSTANDING:-100}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
CASES=${CASES:-"hit-1k hit-100k nxdomain fwd-warm fwd-cold"}
SERVERS=${SERVERS:-"swarmdns coredns dnsmasq"}
COREDNS_VERSION=${COREDNS_VERSION:-v1.14.7}
ZONE=swarm.internal.
OUT=${OUT:-$ROOT/bench/results/peers-$(date +%Y%m%dT%H%M%S)}
BIN=${BIN:-$ROOT/bench/results/bin}

# Loopback ports (BASE_PORT+0..+60); other DNS work on the machine tends to
# take 53, 5353 and 15353.
BASE_PORT=${BASE_PORT:-25300}
UP_PORT=$BASE_PORT
declare -A PORT=([swarmdns]=$((BASE_PORT + 53)) [coredns]=$((BASE_PORT + 54)) [dnsmasq]=$((BASE_PORT + 55)))
ADMIN_PORT=$((BASE_PORT + 56))
GOSSIP_PORT=$((BASE_PORT + 47))
FEEDER_PORT=$((BASE_PORT + 48))

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

export PATH=$PATH:/usr/local/go/bin:$HOME/go/bin
mkdir -p "$OUT/raw" "$OUT/data" "$BIN"

# ---------------------------------------------------------------- setup

install_tools() {
	if [[ -n ${SKIP_INSTALL:-} ]]; then return; fi
	if command -v dnsperf >/dev/null && command -v dnsmasq >/dev/null && command -v taskset >/dev/null; then return; fi
	local sudo=""
	[[ $(id -u) == 0 ]] || sudo=sudo
	log "installing dnsperf and dnsmasq from Debian's packages"
	$sudo apt-get update -qq
	# dnsmasq-base is the dnsmasq binary without the system service (which
	# would start a resolver on port 53).
	for p in dnsperf dnsmasq-base; do
		apt-cache policy "$p" | grep -q 'Candidate: [0-9]' || die "package $p is not available from apt"
	done
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dnsperf dnsmasq-base util-linux >/dev/null
}

build() {
	command -v go >/dev/null || die "go is not on PATH"
	log "building swarmdns, the feeder and the upstream"
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$BIN/" ./cmd/swarmdns ./bench/peers/feeder ./bench/peers/upstream)
	if [[ ! -x $BIN/coredns-$COREDNS_VERSION ]]; then
		log "building CoreDNS $COREDNS_VERSION from the Go module proxy (a few minutes)"
		local tmp
		tmp=$(mktemp -d)
		if ! (cd "$tmp" && CGO_ENABLED=0 GOBIN=$tmp go install "github.com/coredns/coredns@$COREDNS_VERSION"); then
			# go install refuses a main module with replace directives: build it
			# as a dependency of a throwaway module instead.
			(cd "$tmp" && go mod init corednsbuild >/dev/null 2>&1 &&
				go get "github.com/coredns/coredns@$COREDNS_VERSION" &&
				CGO_ENABLED=0 go build -o "$tmp/coredns" github.com/coredns/coredns)
		fi
		mv "$tmp/coredns" "$BIN/coredns-$COREDNS_VERSION"
		rm -rf "$tmp"
	fi
}

make_data() {
	log "writing zones and query files"
	local d=$OUT/data
	for n in 1000 100000; do
		"$BIN/feeder" -files-only -records $n -zone $ZONE -hosts "$d/hosts-$n" -zonefile "$d/zone-$n"
	done
	# Hits walk every name in a fixed shuffled order.
	awk 'BEGIN { for (i = 0; i < 1000; i++) print "h" i ".swarm.internal. A" }' | shuf --random-source=<(yes) >"$d/q-hit-1k"
	awk 'BEGIN { for (i = 0; i < 100000; i++) print "h" i ".swarm.internal. A" }' | shuf --random-source=<(yes) >"$d/q-hit-100k"
	awk 'BEGIN { for (i = 0; i < 100000; i++) print "nx" i ".swarm.internal. A" }' >"$d/q-nxdomain"
	awk 'BEGIN { for (i = 0; i < 100; i++) print "w" i ".fwd.example. A" }' >"$d/q-fwd-warm"
	# Cold: more unique names than the fastest server answers in a run; one
	# file for the saturated pass and one for the fixed-rate pass, so that
	# the second never hits what the first cached.
	local cold=$((DURATION * 200000)) coldr=$((RATE_DURATION * RATE * 2))
	awk -v n=$cold 'BEGIN { for (i = 0; i < n; i++) print "c" i ".s.cold.example. A" }' >"$d/q-fwd-cold"
	awk -v n=$coldr 'BEGIN { for (i = 0; i < n; i++) print "c" i ".r.cold.example. A" }' >"$d/q-fwd-cold-rate"
}

# ---------------------------------------------------------------- servers

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# wait_ports_free PORT...: waits (up to 30s) until no socket is bound to the
# loopback ports (a server of the previous run, or someone else's).
wait_ports_free() {
	command -v ss >/dev/null || return 0
	local deadline=$((SECONDS + 30)) p busy
	while :; do
		busy=""
		for p in "$@"; do
			if [[ -n $(ss -Hanu "sport = :$p") || -n $(ss -Hant state listening "sport = :$p") ]]; then busy+=" $p"; fi
		done
		[[ -z $busy ]] && return 0
		((SECONDS < deadline)) || die "loopback ports in use:$busy ($(ss -Hanup "sport = :${busy# }" | head -1)); set BASE_PORT"
		sleep 0.5
	done
}

records_for() { [[ $1 == hit-100k ]] && echo 100000 || echo 1000; }

# start_server SERVER CASE RUN: starts SERVER pinned to SERVER_CPU, serving the
# zone CASE needs, and waits until it answers; sets SPID (and FPID).
start_server() {
	local s=$1 c=$2 run=$3 n
	n=$(records_for "$c")
	local port=${PORT[$s]} logf=$OUT/raw/$run.log
	FPID=""
	wait_ports_free "$port" $ADMIN_PORT $GOSSIP_PORT $FEEDER_PORT $((FEEDER_PORT + 1))
	case $s in
	swarmdns)
		taskset -c "$SERVER_CPU" "$BIN/swarmdns" serve --zone $ZONE \
			--dns-listen 127.0.0.1:$port --admin-listen 127.0.0.1:$ADMIN_PORT \
			--gossip-listen 127.0.0.1:$GOSSIP_PORT --node-name bench-sut \
			--upstream 127.0.0.1:$UP_PORT --watch-label "swarmdns.bench.peers=$RUN_ID" \
			--log-level warn --log-format json >"$logf" 2>&1 &
		SPID=$!
		PIDS+=("$SPID")
		taskset -c "$LOAD_CPU" "$BIN/feeder" -records "$n" -zone $ZONE -join 127.0.0.1:$GOSSIP_PORT \
			-port $FEEDER_PORT -admin http://127.0.0.1:$ADMIN_PORT >"$OUT/raw/$run.feeder" 2>&1 &
		FPID=$!
		PIDS+=("$FPID")
		local deadline=$((SECONDS + 120))
		until grep -qs '^ready' "$OUT/raw/$run.feeder"; do
			kill -0 "$FPID" 2>/dev/null || die "feeder failed: $(tail -3 "$OUT/raw/$run.feeder")"
			kill -0 "$SPID" 2>/dev/null || die "swarmdns failed: $(tail -3 "$logf")"
			((SECONDS < deadline)) || die "swarmdns did not get $n records in 120s"
			sleep 0.2
		done
		;;
	coredns)
		cat >"$OUT/raw/$run.Corefile" <<-EOF
			.:$port {
			    bind 127.0.0.1
			    file $OUT/data/zone-$n $ZONE
			    forward . 127.0.0.1:$UP_PORT
			    cache 30
			}
		EOF
		taskset -c "$SERVER_CPU" "$BIN/coredns-$COREDNS_VERSION" -conf "$OUT/raw/$run.Corefile" -quiet >"$logf" 2>&1 &
		SPID=$!
		PIDS+=("$SPID")
		;;
	dnsmasq)
		taskset -c "$SERVER_CPU" dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file= \
			--user="$(id -un)" --port="$port" --listen-address=127.0.0.1 --bind-interfaces \
			--no-resolv --no-hosts --no-poll --server=127.0.0.1#$UP_PORT \
			--addn-hosts="$OUT/data/hosts-$n" --local=/${ZONE%.}/ --local-ttl=5 \
			--cache-size=10000 --dns-forward-max=1000 --log-facility="$logf" &
		SPID=$!
		PIDS+=("$SPID")
		;;
	esac
	taskset -c "$LOAD_CPU" "$BIN/feeder" -records "$n" -zone $ZONE -wait-dns 127.0.0.1:"$port" -timeout 120s ||
		die "$s does not answer on 127.0.0.1:$port: $(tail -5 "$logf")"
}

stop_server() {
	# The feeder first: it leaves while swarmdns can still hear it.
	if [[ -n $FPID ]]; then
		kill "$FPID" 2>/dev/null || true
		wait "$FPID" 2>/dev/null || true
	fi
	kill "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
}

# ---------------------------------------------------------------- measuring

# perf RAWFILE ARGS...: runs dnsperf on LOAD_CPU with per-query output, keeps
# its summary in RAWFILE and prints "qps p50_ms p99_ms lost".
perf() {
	local raw=$1
	shift
	local tmp=$OUT/raw/.dnsperf.tmp
	taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -T 1 -v "$@" >"$tmp" 2>&1 || true
	grep -v '^> ' "$tmp" >"$raw"
	local qps lost
	qps=$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$raw")
	lost=$(awk '/Queries lost:/ { print $3 }' "$raw")
	# Per-query lines: "> RCODE name type seconds".
	awk '/^> / { print $NF * 1000 }' "$tmp" | sort -g | awk -v q="${qps:-0}" -v l="${lost:-0}" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print q, "-", "-", l; exit }
			i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
			i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
			printf "%s %.3f %.3f %s\n", q, v[i50], v[i99], l
		}'
	rm -f "$tmp"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

qfile() { echo "$OUT/data/q-$1"; }

run_case() {
	local c=$1 r=$2 s=$3 run="$1.$3.r$2"
	start_server "$s" "$c" "$run"
	local port=${PORT[$s]} sat fixed rss rq load
	rq=$(qfile "$c")
	[[ $c == fwd-cold ]] && rq=$(qfile fwd-cold-rate)
	sat=$(perf "$OUT/raw/$run.saturated.txt" -p "$port" -d "$(qfile "$c")" -l "$DURATION" -c "$CLIENTS" -q "$OUTSTANDING")
	fixed=$(perf "$OUT/raw/$run.rate.txt" -p "$port" -d "$rq" -l "$RATE_DURATION" -c "$CLIENTS" -q "$OUTSTANDING" -Q "$RATE")
	rss=$(rss_kib "$SPID")
	stop_server
	read -r qps p50 p99 lost <<<"$sat"
	read -r _ rp50 rp99 rlost <<<"$fixed"
	load=$(cut -d' ' -f1 /proc/loadavg)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$s" "$r" "$qps" "$p50" "$p99" "$rp50" "$rp99" "$rss" "$((lost + rlost))" "$load" >>"$OUT/results.tsv"
	log "$c $s round $r: $qps qps, p50 $p50 ms, p99 $p99 ms; at $RATE qps p50 $rp50 ms p99 $rp99 ms; RSS $((rss / 1024)) MiB; lost $lost+$rlost; load $load"
}

table() {
	awk -F'\t' -v servers="$SERVERS" -v rate="$RATE" '
	# med(k): the median of the values listed for key k (mawk has no asort).
	function med(k,    n, v, i, j, t) {
		n = split(vals[k], v, " ")
		if (n == 0) return 0
		for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	function add(k, v) { if (v != "-" && v != "") vals[k] = vals[k] " " v }
	function ratio(a, b) { return (b > 0 && a > 0) ? sprintf("%.2fx", a / b) : "-" }
	{
		if (!($1 in seen)) { seen[$1] = 1; order[++ncase] = $1 }
		k = $1 SUBSEP $2
		has[k] = 1
		add(k SUBSEP "qps", $4); add(k SUBSEP "p50", $5); add(k SUBSEP "p99", $6)
		add(k SUBSEP "rp50", $7); add(k SUBSEP "rp99", $8)
		if ($9 > rss[k]) rss[k] = $9
		lost[k] += $10
	}
	END {
		ns = split(servers, sv, " ")
		fmt = "%-9s %-18s %9s %8s %8s %9s %9s %8s %6s\n"
		printf fmt, "case", "server", "qps", "p50 ms", "p99 ms", "p50@" rate, "p99@" rate, "RSS MiB", "lost"
		for (i = 1; i <= ncase; i++) {
			c = order[i]
			for (j = 1; j <= ns; j++) {
				k = c SUBSEP sv[j]
				if (!(k in has)) continue
				printf fmt, c, sv[j], sprintf("%.0f", med(k SUBSEP "qps")), sprintf("%.3f", med(k SUBSEP "p50")), sprintf("%.3f", med(k SUBSEP "p99")),
					sprintf("%.3f", med(k SUBSEP "rp50")), sprintf("%.3f", med(k SUBSEP "rp99")), sprintf("%.1f", rss[k] / 1024), lost[k]
			}
			a = c SUBSEP "swarmdns"
			for (j = 1; j <= ns; j++) {
				if (sv[j] == "swarmdns") continue
				b = c SUBSEP sv[j]
				if (!(b in has) || !(a in has)) continue
				printf fmt, "", "swarmdns/" sv[j], ratio(med(a SUBSEP "qps"), med(b SUBSEP "qps")),
					ratio(med(a SUBSEP "p50"), med(b SUBSEP "p50")), ratio(med(a SUBSEP "p99"), med(b SUBSEP "p99")),
					ratio(med(a SUBSEP "rp50"), med(b SUBSEP "rp50")), ratio(med(a SUBSEP "rp99"), med(b SUBSEP "rp99")),
					ratio(rss[a], rss[b]), ""
			}
		}
	}' "$OUT/results.tsv"
}

# ---------------------------------------------------------------- main

install_tools
for t in dnsperf dnsmasq taskset go; do command -v $t >/dev/null || die "$t is not installed"; done
if (($(nproc) < 2)); then
	log "only one CPU: servers and load generator share it"
	SERVER_CPU=0 LOAD_CPU=0
fi
if [[ " $SERVERS " == *" swarmdns "* ]]; then
	docker version >/dev/null 2>&1 || [[ -S /var/run/docker.sock ]] || die "swarmdns needs a Docker engine to watch (none found)"
fi
build
make_data
RUN_ID=$(date +%s)-$$

{
	echo "swarmdns   ${SWARMDNS_REV:-$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)}"
	echo "CoreDNS    $("$BIN/coredns-$COREDNS_VERSION" -version 2>/dev/null | head -1)"
	echo "dnsmasq    $(dnsmasq --version | head -1)"
	echo "dnsperf    $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }')"
	echo "machine    $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)"
	echo "pinning    servers on CPU $SERVER_CPU; dnsperf, the upstream and the feeder on CPU $LOAD_CPU (taskset)"
	echo "load       dnsperf -T 1 -c $CLIENTS -q $OUTSTANDING -l $DURATION (saturated), then -Q $RATE -l $RATE_DURATION (fixed rate); UDP, no EDNS"
	echo "rounds     $ROUNDS, interleaved: ${SERVERS// /, } in turn for each case, a fresh server process every run"
	echo "zone       $ZONE: 1,000 names (hit-1k, nxdomain, fwd-*) or 100,000 names (hit-100k), one A record each"
	echo "columns    qps, p50/p99 at saturation, p50/p99 at $RATE qps (ms): medians over rounds; VmRSS after the run (max over rounds)"
} >"$OUT/header.txt"

: >"$OUT/results.tsv"
log "upstream on 127.0.0.1:$UP_PORT (CPU $LOAD_CPU)"
taskset -c "$LOAD_CPU" "$BIN/upstream" -listen 127.0.0.1:$UP_PORT -readers 1 >"$OUT/raw/upstream.log" 2>&1 &
PIDS+=("$!")

for c in $CASES; do
	for r in $(seq 1 "$ROUNDS"); do
		for s in $SERVERS; do
			run_case "$c" "$r" "$s"
		done
	done
done

{
	cat "$OUT/header.txt"
	echo
	table
	echo
	echo "ratios: swarmdns's value divided by the peer's (qps: higher is better; latency and RSS: lower is better)"
	awk -F'\t' '{ s += $11; if ($11 > m) m = $11 } END { if (NR) printf "load average (1 min) after each run: mean %.1f, max %.1f on %d CPUs (other work on the machine shows here)\n", s / NR, m, '"$(nproc)"' }' "$OUT/results.tsv"
} | tee "$OUT/table.txt"
# The query files are rebuilt every run; the cold ones are big.
rm -f "$OUT/data/q-fwd-cold" "$OUT/data/q-fwd-cold-rate"
log "raw output in $OUT"
