# Baleen in a container. It drives the host's Docker engine, so run it with the socket mounted — which gives
# it root on the host: see contrib/baleen.service for the same trade-off under systemd. It runs as the
# unprivileged user baleen; give it the socket's group so that it may use the socket:
#
#   make image                      # docker build --build-arg VERSION=$(git describe) -t baleen:VERSION .
#   docker run -d --name baleen -p 2222:2222 \
#     --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /var/run/docker.sock:/var/run/docker.sock -v baleen-data:/var/lib/baleen \
#     -v $HOME/.ssh/id_ed25519.pub:/etc/baleen/authorized_keys:ro baleen:VERSION
#
# `docker run --rm baleen:VERSION --version` prints the version it was built from.
#
# The base images are build arguments: where no registry can be reached, scripts/base-image.sh builds both
# from a local debootstrap and prints the arguments that name them:
#
#   docker build $(bash scripts/base-image.sh) --build-arg VERSION=$(git describe) -t baleen:VERSION .

ARG GO_IMAGE=golang:1.26-trixie
ARG BASE_IMAGE=debian:trixie-slim

# The runtime: everything but the binary. It comes first so that `--target runtime` builds it alone (the
# legacy builder builds every stage before its target): TestDockerImage builds it that way and adds a
# binary built outside, with the build stage's command, so that `make test` checks the image without
# compiling Baleen from scratch in a container.
FROM ${BASE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /var/lib/baleen --create-home --shell /usr/sbin/nologin baleen \
 && install -d -o baleen -g baleen -m 0700 /var/lib/baleen
ARG VERSION=dev
LABEL org.opencontainers.image.title="Baleen" org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/baleen-ci/baleen"
ENV BALEEN_DATA=/var/lib/baleen BALEEN_LISTEN=:2222 BALEEN_AUTHORIZED_KEYS=/etc/baleen/authorized_keys
VOLUME /var/lib/baleen
EXPOSE 2222
USER baleen
ENTRYPOINT ["/usr/local/bin/baleen"]
CMD ["serve"]

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/baleen ./cmd/baleen

FROM runtime
COPY --from=build /out/baleen /usr/local/bin/baleen
