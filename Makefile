# shakedown — `make run` brings the reference stack up, `make test` runs every layer's tests.
# Everything the targets need is installed by `make deps` (called by them): Debian packages
# via apt when running as root, Go modules via the module proxy configured for `go`.

GO        ?= go
BIN       := bin/shakedown
# Debian packages and a file each one installs, to tell whether it is present.
DEB_DEPS  := clickhouse-server:/usr/sbin/clickhouse-server postgresql:/usr/lib/postgresql
TEST_DEB_DEPS := chromium:/usr/bin/chromium nodejs:/usr/bin/node shellcheck:/usr/bin/shellcheck
# The Docker engine (the docker stack provider, images, k3s) and what builds images without a
# registry: debootstrap for the Debian-based ClickHouse and PostgreSQL images. A real node
# (`--nodes real`) runs its own containerd (brought by docker.io) with Debian's CNI plugins.
DOCKER_DEB_DEPS := docker.io:/usr/sbin/dockerd debootstrap:/usr/sbin/debootstrap \
	containerd:/usr/bin/containerd runc:/usr/sbin/runc containernetworking-plugins:/usr/lib/cni/bridge \
	iptables:/usr/sbin/iptables iproute2:/usr/sbin/ip
TEST_FLAGS ?= -count=1 -timeout 60m
# Kubernetes versions whose control planes `make deps` builds and caches (the tests use them),
# and those whose real-node binaries (kubelet, kube-proxy; CoreDNS) it builds too.
K8S_VERSIONS ?= 1.28.15,1.34.4
REAL_NODE_K8S ?= 1.34.4
# The Node.js and browser SDK checks run in a step of their own: Chromium beside the other
# packages' timing-sensitive tests starves them on 2 cores.
SDK_TESTS := TestPostHogNodeSDK|TestPostHogJSInChromium
BENCH_FLAGS ?= -p 1 -run '^$$' -benchtime 2s

.PHONY: all deps stack-deps docker-deps test-deps kube-deps build images run cluster test bench fuzz clean

all: build

## deps: everything the targets need: Debian packages, Go modules, Docker, Kubernetes control planes
deps: stack-deps docker-deps kube-deps

# install_debs installs the missing ones of $(1), a list of package:file pairs (the file
# tells whether the package is there), through apt when running as root.
define install_debs
	@missing=""; \
	for dep in $(1); do \
	  pkg=$${dep%%:*}; path=$${dep#*:}; \
	  [ -e "$$path" ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make deps: installing Debian packages:$$missing"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "make deps: missing Debian packages:$$missing"; \
	    echo "  install them with: sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
endef

## stack-deps: install missing Debian packages (as root) and download Go modules
stack-deps:
	$(call install_debs,$(DEB_DEPS))
	@$(GO) mod download

## docker-deps: Debian's Docker engine and debootstrap (as root); tests that need an engine
## start dockerd themselves when none answers, and stop what they started
docker-deps:
	$(call install_debs,$(DOCKER_DEB_DEPS))

## test-deps: what the tests need beyond the stack: Node.js runs posthog-node and drives
## Debian's Chromium, where posthog-js runs, in the SDK tests; shellcheck checks the workflows'
## run scripts through actionlint (npm packages and helm-unittest's
## CLI are fetched by the tests into ~/.cache/shakedown)
test-deps: stack-deps docker-deps
	$(call install_debs,$(TEST_DEB_DEPS))

## kube-deps: build and cache the Kubernetes control planes of K8S_VERSIONS and the real-node
## binaries of REAL_NODE_K8S (minutes the first time per version, seconds after); `make test`
## needs them, `make run` does not
kube-deps: stack-deps
	$(GO) run ./cmd/shakedown cluster build --kubernetes $(K8S_VERSIONS)
	$(GO) run ./cmd/shakedown cluster build --kubernetes $(REAL_NODE_K8S) --nodes real

## build: compile the CLI into bin/
build: stack-deps
	$(GO) build -o $(BIN) ./cmd/shakedown

## images: build the stack's images into the local Docker engine without a registry (reference,
## Debian-based clickhouse and postgres); IMAGES picks some, e.g. IMAGES=reference
images: build docker-deps
	./$(BIN) images build $(IMAGES)

## run: start the reference stack locally (Ctrl-C stops it); ARGS are passed through
run: build
	./$(BIN) stack up $(ARGS)

## cluster: run a local Kubernetes control plane (K8S=1.34.4) until Ctrl-C
cluster: build
	./$(BIN) cluster up --kubernetes $(or $(K8S),1.34.4) --kubeconfig-out kubeconfig.yaml $(ARGS)

## test: the chart's lint and unit layers through the CLI, then every package's tests against real servers
test: build deps test-deps
	$(GO) vet ./...
	./$(BIN) lint charts/reference-stack
	./$(BIN) unit charts/reference-stack --kubernetes $(K8S_VERSIONS)
	$(GO) test $(TEST_FLAGS) -skip '$(SDK_TESTS)' ./...
	$(GO) test $(TEST_FLAGS) -run '$(SDK_TESTS)' ./suites/e2e/sdk/
	$(GO) test -race -count=1 -run 'TestRace' ./suites/unit/

## bench: Go benchmarks: capture, worker, decide, end-to-end stack, lint, unit, integration, load generator
bench: stack-deps
	$(GO) test $(BENCH_FLAGS) -bench . ./reference/... ./suites/... ./internal/... ./loadgen/...

## fuzz: a short run of the payload decoder fuzzer
fuzz: stack-deps
	$(GO) test -run '^$$' -fuzz FuzzReadBody -fuzztime 30s ./reference/payload/

clean:
	rm -rf bin
