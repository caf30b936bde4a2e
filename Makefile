# Baleen's tasks. `make help` lists them.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := bin/baleen
# The test suite's own timeout: well inside CI's time.
TEST_TIMEOUT ?= 20m

.PHONY: help build run test test-unit lint fuzz bench deps clean

help: ## list the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## build bin/baleen
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/baleen

run: build ## start a Baleen server on :2222 for this machine's user (data in ./baleen-data)
	bash scripts/run.sh

deps: ## install and start what the tests need (Docker engine, busybox-static, git, ssh)
	bash scripts/test-deps.sh

test: deps ## run every test against the real Docker engine, git and ssh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

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

clean: ## remove build output
	rm -rf bin
