# chatnight: `make run` sets everything up and starts the product on embedded defaults;
# `make test` sets everything up and runs every test. Downloads are cached outside the
# repository (libchdb under ~/.cache/chatnight), so later runs work offline.

SHELL := /bin/bash
GO    ?= go
BIN   := bin/chatnight
ARGS  ?= --simulate
BENCH_DURATION ?= 30s
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all setup system-deps browser go-deps libchdb build run test test-unit fuzz bench vet clean chaos load

all: build

## setup: install the Debian packages, Go modules and libchdb that running needs
setup: system-deps go-deps libchdb

system-deps:
	@deploy/scripts/system-deps.sh

## browser: Debian's chromium, for the viewer's browser tests
browser:
	@deploy/scripts/system-deps.sh --browser

go-deps:
	@$(GO) mod download

libchdb:
	@deploy/scripts/fetch-libchdb.sh >/dev/null

build: go-deps
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/chatnight

## run: start chatnight with the demo simulator on embedded NATS and ClickHouse
run: setup build
	$(BIN) run $(ARGS)

## test: every test, vet, and a short run of each fuzz target
test: setup browser vet test-unit fuzz

vet:
	$(GO) vet ./...

test-unit:
	$(GO) test -count=1 -timeout 20m ./...

fuzz:
	@deploy/scripts/fuzz.sh 20000x

## bench: benchmarks (throughput and latency targets live here, not in unit tests)
bench: setup build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...
	$(BIN) bench --duration $(BENCH_DURATION) --batch-posts 10000 --log-level warn

## chaos: long fault tests (30 s ClickHouse outage under load, full disk on a tmpfs; needs root)
chaos: setup
	$(GO) test -tags chaos -count=1 -timeout 15m -run '^TestChaos' -v ./cmd/chatnight/

## load: 1,000 websocket viewers and 10,000 posts/s for 60 s (CHATNIGHT_LOAD_SECONDS overrides)
load: setup
	$(GO) test -run '^$$' -bench '^BenchmarkLoad$$' -benchtime 1x -timeout 10m ./web/hub/

clean:
	rm -rf bin
