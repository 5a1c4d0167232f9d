# ovn-bgp-agent: `make lab` runs the demo topology, `make test` runs every test.
# Both install the Debian packages they need (FRR, OVN, OVS) when missing.

export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build deps trixie-root generate test unit integration lint bench lab clean

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

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Unit tests need nothing installed; integration tests run the real daemons as root.
unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /integration)

integration: deps trixie-root
	$(GO) test -count=1 -timeout 20m ./integration/...

test: deps trixie-root lint
	$(GO) test -count=1 -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

lab: deps build
	$(GO) run ./integration/cmd/lab -topology deploy/containerlab/provider-vm.clab.yml -agent bin/ovn-bgp-agent

clean:
	rm -rf bin
