# Baleen's tasks. `make help` lists them.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := bin/baleen
# The test suite's own timeout: well inside CI's time.
TEST_TIMEOUT ?= 45m

PREFIX ?= /usr/local
IMAGE ?= baleen:$(VERSION)

.PHONY: help build run busybox test test-unit test-clean lint fuzz bench deps image image-local test-image completions man install clean

help: ## list the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build bin/baleen
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/baleen

run: build ## start a Baleen server on 127.0.0.1:2222 for this machine's user (data in ./baleen-data)
	bash scripts/run.sh

busybox: ## make sure the engine has busybox:latest, which the examples build FROM (pulled, or built from Debian's busybox-static)
	bash scripts/busybox-image.sh

deps: ## install and start what the tests need (Docker engine, busybox-static, git, ssh)
	bash scripts/test-deps.sh

test: deps ## run every test against the real Docker engine, git and ssh, then stop the registries and the second engine it started
	$(GO) vet ./...
	@status=0; $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./... || status=$$?; \
	  $(MAKE) --no-print-directory test-clean; exit $$status

test-clean: ## stop the test registries and the second engine the test scripts started
	bash scripts/registry.sh stop
	bash scripts/second-engine.sh stop

test-unit: ## run the tests that need no Docker engine
	$(GO) test -count=1 -short ./...

lint: ## go vet and staticcheck
	$(GO) vet ./...
	@command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	staticcheck ./...

FUZZTIME ?= 30s
fuzz: ## run each fuzz target for FUZZTIME
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

BENCHTIME ?= 10x
bench: deps ## benchmarks, each reported as a ratio to a baseline measured in the same run (docker CLI, git over OpenSSH)
	@command -v sshd >/dev/null || test -x /usr/sbin/sshd || { echo "installing openssh-server for the git-over-OpenSSH baseline"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null; }
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count=1 ./...

image: ## build the Docker image baleen:VERSION, stamped with VERSION
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

image-local: ## build the Docker image from Debian bases made on this machine (scripts/base-image.sh; no registry needed)
	docker build $$(bash scripts/base-image.sh) --build-arg VERSION=$(VERSION) -t $(IMAGE) .

test-image: ## build the whole Dockerfile (Baleen compiled in a container) from locally made bases and check it; tens of minutes
	BALEEN_TEST_IMAGE=1 $(GO) test -count=1 -timeout 90m -run '^TestDockerImageBuild$$' ./cmd/baleen/imagetest

completions: build ## generate shell completion (bash, zsh, fish) and the man page into bin/
	$(BIN) completion bash >bin/baleen.bash
	$(BIN) completion zsh >bin/_baleen
	$(BIN) completion fish >bin/baleen.fish
	$(BIN) man >bin/baleen.1

man: completions ## generate the man page bin/baleen.1 (with the completions)

install: completions ## install bin/baleen, its man page and completions under PREFIX (default /usr/local)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/baleen
	install -D -m 0644 bin/baleen.1 $(DESTDIR)$(PREFIX)/share/man/man1/baleen.1
	install -D -m 0644 bin/baleen.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/baleen
	install -D -m 0644 bin/_baleen $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_baleen
	install -D -m 0644 bin/baleen.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/baleen.fish

clean: ## remove build output
	rm -rf bin
