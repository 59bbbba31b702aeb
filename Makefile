# Wayside: `make run` runs the daemon on the simulated board against a local broker; `make test` runs
# the tests. `make help` lists every target.
.DEFAULT_GOAL := help
SHELL := bash

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GO ?= go

.PHONY: help run deps test test-arm field-test field-cuts vet bench fleet bench-fleet fuzz build build-arm64 build-armv7 fmt tidy-check clean deb size

FUZZTIME ?= 30s
FLEET_N ?= 500
FLEET_RUN ?= 60s
FLEET_FLAGS ?=
BENCH_FLEET_N ?= 5000
CUTS ?= 20
BENCHTIME ?= 1s
BENCHFLAGS ?=
DIST ?= dist
DEB_ARCHES ?= amd64 arm64 armhf

# WAYSIDE_SKIP: groups of test dependencies that make test neither installs nor runs, e.g.
# WAYSIDE_SKIP="arm packaging" on a machine that cannot run them (scripts/deps.sh --list shows the
# groups: broker, cloud, cluster, arm, packaging, field). Empty by default: make test installs and runs everything, as CI does,
# and says at the end what it skipped.
WAYSIDE_SKIP ?=
comma := ,
skip_groups := $(subst $(comma), ,$(WAYSIDE_SKIP)) $(if $(filter 1,$(WAYSIDE_SKIP_BROKER_TESTS)),broker)
ifneq ($(filter broker,$(skip_groups)),)
export WAYSIDE_SKIP_BROKER_TESTS := 1
endif
ifneq ($(filter cloud,$(skip_groups)),)
export WAYSIDE_SKIP_CLOUD_TESTS := 1
endif
ifneq ($(filter cluster,$(skip_groups)),)
export WAYSIDE_SKIP_CLUSTER_TESTS := 1
endif
# Installed by make deps, so a unit or package test that finds no systemd-analyze or dpkg-deb fails.
ifeq ($(filter packaging,$(skip_groups)),)
export WAYSIDE_REQUIRE_PACKAGING_TOOLS ?= 1
endif

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## run waysided on the sim board, syncing to an in-process dev broker (Ctrl-C stops)
	$(GO) run -tags devbroker -ldflags "-X main.version=$(VERSION)" ./cmd/waysided -config configs/sim.yaml -log-format console

deps: ## install the system packages the tests need when missing (apt-get; sudo when not root; WAYSIDE_SKIP="arm ..." skips groups)
	@WAYSIDE_SKIP="$(WAYSIDE_SKIP)" bash scripts/deps.sh

test: deps vet ## make deps, go vet, every test with the race detector, the ARM suite under qemu-user, then the field bench (make field-test)
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run '^TestFlappingConnection$$' ./cloudsync/  # excluded from -race: paho's own race, see the file
ifeq ($(filter arm,$(skip_groups)),)
	bash scripts/test-arm.sh
endif
ifeq ($(filter field,$(skip_groups)),)
	bash scripts/fieldbench/run.sh
	CUTS=$(CUTS) bash scripts/fieldbench/cuts.sh
endif
	@WAYSIDE_SKIP="$(WAYSIDE_SKIP)" bash scripts/deps.sh --skipped

vet: ## go vet (both build-tag variants) and gofmt
	$(GO) vet ./...
	$(GO) vet -tags devbroker ./cmd/...
	@out=$$(gofmt -s -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt -s needed:"; echo "$$out"; exit 1; fi

field-test: ## the packaged daemon on Debian's arm64 kernel and systemd under qemu-system-aarch64, then CUTS power cuts (default 20; ~14 min the first time, ~6 min with the image cached in /var/cache/wayside-bench)
	@bash scripts/deps.sh base broker packaging field
	bash scripts/fieldbench/run.sh
	CUTS=$(CUTS) bash scripts/fieldbench/cuts.sh

field-cuts: ## only the field bench's power cuts (CUTS=200 for a long run; WAYSIDE_BENCH_BREAK=fsync shows the check failing)
	@bash scripts/deps.sh base broker field
	CUTS=$(CUTS) bash scripts/fieldbench/cuts.sh

test-arm: deps ## run the buffer, driver and encoder tests for arm64 and armv7 under qemu-user
	bash scripts/test-arm.sh

bench: ## the performance suite, ~10 min (the idle run watches RSS for 5 min), prints one table and never asserts times (BENCHTIME=1s per micro-benchmark; BENCHFLAGS=-write updates BENCHMARKS.md)
	GO="$(GO)" $(GO) run ./scripts/bench -benchtime $(BENCHTIME) $(BENCHFLAGS)

fleet: ## N=FLEET_N (500) virtual gateways, each the real pipeline, against a local mosquitto for FLEET_RUN (60s); prints their cost (FLEET_FLAGS="-storm", "-broker tcp://host:port" for a broker an ingest reads)
	$(GO) run ./scripts/fleet -n $(FLEET_N) -run $(FLEET_RUN) $(FLEET_FLAGS)

bench-fleet: ## the fleet measurement: 500 gateways on the cabinet's real drivers with the ingest into PostgreSQL (two instances, one restarted), then BENCH_FLEET_N (5000, over member processes) on the synthetic part, each 60s then a broker restart (the reconnect storm); writes its section of BENCHMARKS.md (~15 min, stops by 25 min)
	$(GO) run ./scripts/fleet -q -bench -n $(BENCH_FLEET_N) -run 60s -timeout 25m -write $(FLEET_FLAGS)

fuzz: ## fuzz the decoders of untrusted input, FUZZTIME each (default 30s); new finds land in testdata/fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzRecover$$' -fuzztime $(FUZZTIME) ./buffer/spool/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./cloudsync/senml/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./drivers/nmea/
	$(GO) test -run '^$$' -fuzz '^FuzzHandle$$' -fuzztime $(FUZZTIME) ./cloudsync/command/
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./cloudsync/cityopen/
	$(GO) test -run '^$$' -fuzz '^FuzzUnwrap$$' -fuzztime $(FUZZTIME) ./cloudsync/cosebatch/

build: ## build both binaries for this machine into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

build-arm64: ## static arm64 binaries into bin/linux-arm64/
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/linux-arm64/ ./cmd/...

build-armv7: ## static 32-bit ARMv7 binaries into bin/linux-armv7/
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/linux-armv7/ ./cmd/...

deb: ## .deb packages for amd64, arm64 and armhf into dist/ (nfpm; DEB_ARCHES=amd64 for one, DIST=dir)
	GO="$(GO)" VERSION="$(VERSION)" LDFLAGS="$(LDFLAGS)" bash packaging/deb.sh $(DIST) $(DEB_ARCHES)

size: ## stripped waysided size for amd64, arm64 and armv7, and its RSS on the sim board (runs ~10s)
	GO="$(GO)" VERSION="$(VERSION)" LDFLAGS="$(LDFLAGS)" bash scripts/size.sh

tidy-check: ## fail when go.mod/go.sum are not tidy
	$(GO) mod tidy -diff

clean: ## remove build output and the sim state directory
	rm -rf bin var dist
