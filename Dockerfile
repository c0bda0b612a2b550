# swarmdns image: a static binary in an empty (scratch) image.
#
#   docker build -t swarmdns/swarmdns:latest .
#
# or deploy/build-image.sh TAG, which fills in the version labels and, where
# no base image can be pulled, builds the Go stage on a local builder image
# (see that script). Only Docker's classic builder features are used, so the
# file builds with `DOCKER_BUILDKIT=0` as well as with BuildKit.

# GO_IMAGE is the builder: any image with Go >= go.mod's version and /bin/sh.
ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
# Module download settings, passed through from the host when set.
ARG GOPROXY
ARG GOSUMDB
ARG GOFLAGS=-buildvcs=false
ARG VERSION=dev
ENV CGO_ENABLED=0 GOOS=linux
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
RUN go build -trimpath \
      -ldflags "-s -w -X github.com/swarmdns/swarmdns/cmd/swarmdns/cli.Version=${VERSION}" \
      -o /out/swarmdns ./cmd/swarmdns \
 && /out/swarmdns version \
 && mkdir -p /out/etc \
 && echo 'nobody:x:65534:65534:nobody:/nonexistent:/usr/local/bin/swarmdns' > /out/etc/passwd \
 && echo 'nogroup:x:65534:' > /out/etc/group

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/swarmdns/swarmdns
LABEL org.opencontainers.image.title="swarmdns" \
      org.opencontainers.image.description="Docker-aware DNS sidecar: one per host, names of every container on every Swarm node, replicated by gossip" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/etc/passwd /out/etc/group /etc/
COPY --from=build /out/swarmdns /usr/local/bin/swarmdns
# No CA certificates: swarmdns speaks DNS, memberlist and the Docker API
# (over the socket, or TLS with the certificates you mount for DOCKER_HOST).

# In $PATH, so `docker exec <sidecar> swarmdns members` works.
# The admin API stays on loopback inside the container; the debug verbs
# (`docker exec <sidecar> swarmdns members`) and the health check find it
# through this variable.
ENV SWARMDNS_ADMIN_LISTEN=127.0.0.1:8053
# DNS on 53 (a non-root user may bind it inside a container's own network
# namespace: Docker sets net.ipv4.ip_unprivileged_port_start=0 there since
# 20.10), gossip on 7947 (7946 is Swarm's).
EXPOSE 53/udp 53/tcp 7947/udp 7947/tcp

# Not root. Reading /var/run/docker.sock needs its group: run with
# `--group-add $(stat -c %g /var/run/docker.sock)` (docker run) or
# `user: "65534:<that gid>"` (stack and compose files; see deploy/).
USER 65534:65534

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/swarmdns", "health"]
# SIGTERM (docker stop) makes swarmdns leave the gossip cluster cleanly
# before it exits, so the other nodes drop its records at once.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/swarmdns"]
CMD ["serve"]
