#!/bin/sh
# Make one address, the same on every node, reach the node's own swarmdns.
#
#   deploy/node-dns.sh up     [ADDR]   add the rules (idempotent)
#   deploy/node-dns.sh down   [ADDR]   remove them
#   deploy/node-dns.sh status [ADDR]   exit 0 when they are in place
#
# ADDR defaults to 169.254.53.53 (link-local: never routed off the node, so
# a node without these rules fails fast instead of sending the queries
# elsewhere). Run it as root on every node, at boot (a systemd unit After=
# docker.service, see README.md ("Deploying")), before or after deploying
# deploy/stack.yml.
#
# What it does: swarmdns publishes port 53 on every node (deploy/stack.yml,
# `mode: host`). A container whose `dns:` is ADDR sends its queries to ADDR;
# they leave the container through its gateway into the node, where these
# rules REDIRECT them to the address they arrived at (the gateway of the
# container's bridge: docker_gwbridge, docker0 or a Compose network), port
# 53, which Docker's proxy forwards to the sidecar. Connection tracking
# rewrites the answers' source back to ADDR, so the client accepts them.
# Processes on the node itself (and host-network containers) are covered by
# the OUTPUT rules.
#
# Why not simply put ADDR on a dummy interface, as Kubernetes' NodeLocal
# DNSCache does? Its cache binds ADDR itself on the host network. Here the
# sidecar lives on an overlay network (to find its peers through
# tasks.swarmdns) and its published port is bound to every address by
# docker-proxy, which answers UDP from the route's primary address, not
# from ADDR: clients drop those answers. REDIRECT needs no interface at all
# (and works on kernels without the dummy module).
#
# Tested with Docker's default userland proxy. With "userland-proxy": false
# in daemon.json nothing listens on the node's port 53; there, replace
# `-j REDIRECT` with `-j DOCKER` (Docker's own DNAT rules then apply).
set -eu

action=${1:-}
addr=${2:-169.254.53.53}
comment="swarmdns node-dns $addr"

rules() {
	for proto in udp tcp; do
		echo "PREROUTING -d $addr/32 -p $proto --dport 53 -j REDIRECT"
	done
}

has() { # has CHAIN ARGS...: the rule exists
	chain=$1
	shift
	iptables -w -t nat -C "$chain" "$@" -m comment --comment "$comment" 2>/dev/null
}

case $action in
up)
	rules | while read -r chain rest; do
		# shellcheck disable=SC2086
		has "$chain" $rest || iptables -w -t nat -I "$chain" 1 $rest -m comment --comment "$comment"
	done
	;;
down)
	rules | while read -r chain rest; do
		# shellcheck disable=SC2086
		while has "$chain" $rest; do
			iptables -w -t nat -D "$chain" $rest -m comment --comment "$comment"
		done
	done
	;;
status)
	missing=0
	while read -r chain rest; do
		# shellcheck disable=SC2086
		has "$chain" $rest || { echo "missing: iptables -t nat $chain $rest"; missing=1; }
	done <<EOF
$(rules)
EOF
	[ "$missing" -eq 0 ] && echo "ok: $addr:53 reaches this node's swarmdns"
	exit "$missing"
	;;
*)
	echo "usage: $0 up|down|status [ADDR]" >&2
	exit 2
	;;
esac
