# ovn-bgp-agent: `make lab` runs the demo topology, `make test` runs every test.
# Both install the Debian packages they need (FRR, OVN, OVS) when missing.

export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Tools the Makefile installs itself, pinned, into a cache outside the clone.
TOOLS_DIR         ?= $(HOME)/.cache/ovn-bgp-agent/tools
STATICCHECK_VERSION := v0.8.2
STATICCHECK       := $(TOOLS_DIR)/staticcheck-$(STATICCHECK_VERSION)
# Unit packages: no root, no daemons. Tests that need either carry the `privileged` build
# tag (real FRR, OVS, ovsdb-server, network namespaces) or live in integration/.
UNIT_PKGS = $$($(GO) list ./... | grep -v /integration)

# The VM tier's kernel (Debian's linux-image-*-amd64, unpacked) and initramfs live here,
# outside the clone; deploy/scripts/vm-kernel.sh (re)makes whatever is missing.
VM_CACHE ?= $(HOME)/.cache/ovn-bgp-agent/vm
export OBGP_VM_CACHE := $(VM_CACHE)

.PHONY: all build deps trixie-root generate test unit integration faults test-vm image lint bench bench-100k bench-scale lab clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ovn-bgp-agent ./cmd/ovn-bgp-agent

deps:
	./deploy/scripts/install-deps.sh

# The version matrix: FRR 10.3, OVN 25.03, OVS 3.5, BIRD 2.17 in a Debian 13 root, cached
# outside the clone (OBGP_TRIXIE_ROOT, default /var/cache/ovn-bgp-agent/trixie) and reused.
trixie-root:
	./deploy/scripts/trixie-root.sh

# Models come from the schemas Debian's OVN/OVS packages install.
generate: deps
	$(GO) generate ./internal/ovn/...

$(STATICCHECK):
	mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS_DIR)/staticcheck $@

# gofmt, vet and staticcheck over every file (privileged tests included), and the unit
# packages under the race detector.
lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags privileged ./...
	$(GO) vet -tags scale ./integration/scale/
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags privileged ./...
	$(STATICCHECK) -tags scale ./integration/scale/
	$(GO) test -count=1 -race $(UNIT_PKGS)

# Unit tests need nothing installed and run as any user.
unit:
	$(GO) test -count=1 $(UNIT_PKGS)

# Integration tests run the real daemons as root.
integration: deps trixie-root image
	$(GO) test -count=1 -tags privileged -timeout 30m ./integration/...

# The fault tests (integration/faults*_test.go), then their figures as a table. They also run
# in `make test`, where bgpd is killed 8 times instead of 20; FAULTS_ROUNDS=N repeats every
# repeated fault N times (a soak).
FAULTS_REPORT ?= $(CURDIR)/faults-report.jsonl
FAULTS_BGPD_ROUNDS ?= 5
faults: deps
	rm -f $(FAULTS_REPORT)
	FAULTS_REPORT=$(FAULTS_REPORT) FAULTS_BGPD_ROUNDS=$(FAULTS_BGPD_ROUNDS) $(GO) test -count=1 -tags privileged -timeout 30m -run '^TestFault' ./integration/ ; \
		status=$$?; $(GO) run ./integration/cmd/faults-table $(FAULTS_REPORT); exit $$status

# The VM tier: Debian's own kernel under qemu (vrf, dummy, 8021q), the VRF and VLAN tests in it.
test-vm: deps
	$(GO) test -count=1 -tags privileged -timeout 30m -v -run TestVMTier ./integration/vm/

# Agent, FRR, node and central images, built with podman from a local debootstrap base.
image: build
	./deploy/scripts/build-images.sh bin/ovn-bgp-agent

# Every test: unit, privileged, integration, the fault tests, the VM tier (integration/vm)
# and the pod test (which runs the images).
test: deps trixie-root lint image
	$(GO) test -count=1 -tags privileged -timeout 40m ./...

bench:
	$(GO) test -tags privileged -run '^$$' -bench . -benchmem ./internal/...

# What one pass allocates with 100,000 NB ports, 1% of them bound to this node, for both
# engines (internal/ovn BenchmarkPass100k, real ovsdb-servers); also part of `make bench`.
bench-100k:
	$(GO) test -tags privileged -run '^$$' -bench '^BenchmarkPass100k$$' -benchmem ./internal/ovn/

# The scale benchmark of issue #17: real OVN/OVS/FRR, N ports bound to one node, the built
# agent; prints the table and appends it to docs/bench-scale.md. Not part of `make test`.
# BENCH_SCALE_N=1000,10000 and BENCH_SCALE_EVENTS=50 choose the sizes.
BENCH_SCALE_N      ?= 1000,10000
BENCH_SCALE_EVENTS ?= 50
bench-scale: deps build
	OBGP_AGENT=$(CURDIR)/bin/ovn-bgp-agent OBGP_SCALE_N=$(BENCH_SCALE_N) OBGP_SCALE_EVENTS=$(BENCH_SCALE_EVENTS) \
	OBGP_SCALE_OUT=$(CURDIR)/docs/bench-scale.md \
	$(GO) test -tags scale -count=1 -timeout 90m -run TestScale -v ./integration/scale/

lab: deps build
	$(GO) run ./integration/cmd/lab -topology deploy/containerlab/provider-vm.clab.yml -agent bin/ovn-bgp-agent

clean:
	rm -rf bin
