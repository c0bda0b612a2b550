#!/usr/bin/env bash
# Build the swarmdns image from the repository's Dockerfile.
#
#   deploy/build-image.sh TAG          e.g. deploy/build-image.sh swarmdns/swarmdns:latest
#
# The Dockerfile's Go stage runs on GO_IMAGE (default golang:1.26-bookworm,
# as in the Dockerfile). When that image is neither present nor pullable
# (a machine without access to a container registry, like our CI), this
# script makes an equivalent builder image locally, by an honest route:
#
#   1. debootstrap --variant=minbase bookworm (+ ca-certificates) into a
#      temporary directory, from Debian's package mirror ($DEBIAN_MIRROR);
#   2. copy the host's Go toolchain ($(go env GOROOT), which must be at least
#      go.mod's version) into it at /usr/local/go, as the golang image has it;
#   3. add the host's extra CA certificates (/usr/local/share/ca-certificates),
#      for a machine whose HTTPS goes through a TLS-inspecting proxy;
#   4. `docker import` that tree with the golang image's PATH and GOPATH.
#
# The result is tagged swarmdns-builder:<go version>-bookworm and kept, so
# later builds skip steps 1 to 4 (about 1.5 minutes here, most of it
# debootstrap). Remove the image to rebuild it. The binary itself is always
# built by the Dockerfile, with the module download through the host's Go
# proxy settings (GOPROXY, GOSUMDB, GOFLAGS are passed as build arguments)
# and the build on the host network, so it works wherever `go build` works.
#
# Environment:
#   GO_IMAGE       builder image to use (skips the pull/local-builder logic when it exists)
#   VERSION        version stamped into the binary and the labels (default: git describe)
#   DEBIAN_MIRROR  mirror for debootstrap (default http://deb.debian.org/debian)
#   BUILD_ARGS     extra arguments for docker build (word-split)
set -euo pipefail

usage() { echo "usage: $0 TAG" >&2; exit 2; }
[ $# -eq 1 ] || usage
tag=$1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
default_go_image=$(sed -n 's/^ARG GO_IMAGE=//p' "$root/Dockerfile")
go_image=${GO_IMAGE:-$default_go_image}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "build-image: $*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# local_builder makes (once) a builder image from a Debian root filesystem
# and the host's Go toolchain, and prints its tag.
local_builder() {
	local goroot gover tag dir
	if ! command -v go >/dev/null 2>&1; then
		log "no Go toolchain on PATH to put into a local builder image"
		return 1
	fi
	goroot=$(go env GOROOT)
	gover=$(go env GOVERSION)
	tag="swarmdns-builder:${gover}-bookworm"
	if have_image "$tag"; then
		log "using the cached local builder $tag"
		echo "$tag"
		return 0
	fi
	if [ "$(id -u)" -ne 0 ] || ! command -v debootstrap >/dev/null 2>&1; then
		log "making a local builder needs root and debootstrap (apt-get install debootstrap)"
		return 1
	fi
	dir=$(mktemp -d /tmp/swarmdns-builder.XXXXXX)
	# shellcheck disable=SC2064
	trap "rm -rf '$dir'" EXIT
	log "debootstrap bookworm (minbase) from $mirror into $dir"
	local start=$SECONDS
	if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$dir/rootfs" "$mirror" >"$dir/debootstrap.log" 2>&1; then
		tail -n 30 "$dir/debootstrap.log" >&2
		log "debootstrap failed"
		return 1
	fi
	# Trust the host's own extra CA certificates too (a TLS-inspecting proxy
	# between this machine and the Go module proxy, as on our CI).
	if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
		log "adding the host's extra CA certificates: $(cd /usr/local/share/ca-certificates && echo *.crt)"
		cp /usr/local/share/ca-certificates/*.crt "$dir/rootfs/usr/local/share/ca-certificates/"
		chroot "$dir/rootfs" update-ca-certificates >/dev/null
	fi
	log "copying $gover from $goroot"
	mkdir -p "$dir/rootfs/usr/local" "$dir/rootfs/go"
	cp -a "$goroot" "$dir/rootfs/usr/local/go"
	rm -rf "$dir/rootfs/var/cache/apt/archives/"*.deb "$dir/rootfs/var/lib/apt/lists/"*
	log "importing the root filesystem as $tag"
	tar -C "$dir/rootfs" --numeric-owner -c . | docker import \
		--change 'ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV GOPATH=/go' \
		--change 'ENV GOTOOLCHAIN=local' \
		--change 'WORKDIR /go' \
		--change 'CMD ["bash"]' \
		--message "swarmdns local builder: Debian bookworm minbase + $gover" \
		- "$tag" >/dev/null
	rm -rf "$dir"
	trap - EXIT
	log "local builder $tag made in $((SECONDS - start))s"
	echo "$tag"
}

if ! have_image "$go_image"; then
	log "pulling $go_image"
	if ! timeout 300 docker pull "$go_image" >&2; then
		if [ -n "${GO_IMAGE:-}" ] && [ "$GO_IMAGE" != "$default_go_image" ]; then
			log "cannot pull GO_IMAGE=$GO_IMAGE"
			exit 1
		fi
		log "$go_image cannot be pulled; building on a local builder image instead"
		go_image=$(local_builder)
	fi
fi

goenv() {
	if command -v go >/dev/null 2>&1; then
		go env "$1"
	fi
}
args=(
	--network host
	--build-arg "GO_IMAGE=$go_image"
	--build-arg "VERSION=$version"
	--build-arg "REVISION=$revision"
	--build-arg "CREATED=$created"
	--tag "$tag"
	--file "$root/Dockerfile"
)
for v in GOPROXY GOSUMDB; do
	val=${!v:-$(goenv "$v")}
	[ -z "$val" ] || args+=(--build-arg "$v=$val")
done
# shellcheck disable=SC2206
extra=(${BUILD_ARGS:-})

log "building $tag (version $version) on $go_image"
start=$SECONDS
docker build "${args[@]}" "${extra[@]}" "$root" >&2
log "built $tag in $((SECONDS - start))s"
