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
 && mkdir -p /out/etc /out/run/swarmdns \
 && chmod 1777 /out/run/swarmdns \
 && echo 'root:x:0:0:root:/nonexistent:/usr/local/bin/swarmdns' > /out/etc/passwd \
 && echo 'nobody:x:65534:65534:nobody:/nonexistent:/usr/local/bin/swarmdns' >> /out/etc/passwd \
 && echo 'root:x:0:' > /out/etc/group \
 && echo 'nogroup:x:65534:' >> /out/etc/group

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
# The admin API's socket directory, writable by root without CAP_DAC_OVERRIDE
# (the stack's user) as by nobody (the image's).
COPY --from=build /out/run /run
COPY --from=build /out/swarmdns /usr/local/bin/swarmdns
# No CA certificates: swarmdns speaks DNS, memberlist and the Docker API
# (over the socket, or TLS with the certificates you mount for DOCKER_HOST).

# In $PATH, so `docker exec <sidecar> swarmdns members` works.
# The admin API is a unix socket inside the container, reachable with
# docker exec only (also on the host network); the debug verbs and the
# health check find it through this variable.
ENV SWARMDNS_ADMIN_LISTEN=unix:/run/swarmdns/admin.sock
# DNS on 53, gossip on 7947 (7946 is Swarm's), Prometheus on 9153.
EXPOSE 53/udp 53/tcp 7947/udp 7947/tcp 9153/tcp

# Not root by default. The deploy files run it on the host network as root
# with every capability dropped but NET_ADMIN and NET_BIND_SERVICE (see
# deploy/stack.yml for why). Run as nobody, reading /var/run/docker.sock
# needs its group: `--group-add $(stat -c %g /var/run/docker.sock)`.
USER 65534:65534

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/swarmdns", "health"]
# SIGTERM (docker stop) makes swarmdns leave the gossip cluster cleanly
# before it exits, so the other nodes drop its records at once.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/swarmdns"]
CMD ["serve"]
