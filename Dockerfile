# Baleen in a container. It drives the host's Docker engine, so run it with the socket mounted — which gives
# it root on the host: see contrib/baleen.service for the same trade-off under systemd.
#
#   docker build -t baleen .
#   docker run -d --name baleen -p 2222:2222 \
#     -v /var/run/docker.sock:/var/run/docker.sock -v baleen-data:/var/lib/baleen \
#     -v $HOME/.ssh/id_ed25519.pub:/etc/baleen/authorized_keys:ro baleen

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/baleen ./cmd/baleen

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/baleen --create-home baleen
COPY --from=build /out/baleen /usr/local/bin/baleen
ENV BALEEN_DATA=/var/lib/baleen BALEEN_LISTEN=:2222 BALEEN_AUTHORIZED_KEYS=/etc/baleen/authorized_keys
VOLUME /var/lib/baleen
EXPOSE 2222
# Root inside the container is needed only to reach the mounted Docker socket; grant the socket's group
# instead (--group-add $(stat -c %g /var/run/docker.sock)) and add `--user baleen` to drop it.
ENTRYPOINT ["/usr/local/bin/baleen"]
CMD ["serve"]
