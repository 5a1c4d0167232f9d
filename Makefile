# ovn-bgp-agent: `make lab` runs the demo topology, `make test` runs every test.
# Both install the Debian packages they need (FRR, OVN, OVS) when missing.

export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# The VM tier's kernel (Debian's linux-image-*-amd64, unpacked) and initramfs live here,
# outside the clone; deploy/scripts/vm-kernel.sh (re)makes whatever is missing.
VM_CACHE ?= $(HOME)/.cache/ovn-bgp-agent/vm
export OBGP_VM_CACHE := $(VM_CACHE)

.PHONY: all build deps generate test unit integration test-vm image lint bench lab clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ovn-bgp-agent ./cmd/ovn-bgp-agent

deps:
	./deploy/scripts/install-deps.sh

# Models come from the schemas Debian's OVN/OVS packages install.
generate: deps
	$(GO) generate ./internal/ovn/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Unit tests need nothing installed; integration tests run the real daemons as root.
unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /integration)

integration: deps image
	$(GO) test -count=1 -timeout 25m ./integration/...

# The VM tier: Debian's own kernel under qemu (vrf, dummy, 8021q), the VRF and VLAN tests in it.
test-vm: deps
	$(GO) test -count=1 -timeout 25m -v -run TestVMTier ./integration/vm/

# Agent, FRR, node and central images, built with podman from a local debootstrap base.
image: build
	./deploy/scripts/build-images.sh bin/ovn-bgp-agent

# Every test, the VM tier (integration/vm) and the pod test (which runs the images) included.
test: deps lint image
	$(GO) test -count=1 -timeout 25m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

lab: deps build
	$(GO) run ./integration/cmd/lab -topology deploy/containerlab/provider-vm.clab.yml -agent bin/ovn-bgp-agent

clean:
	rm -rf bin
