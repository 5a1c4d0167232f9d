# ovn-bgp-agent: `make lab` runs the demo topology, `make test` runs every test.
# Both install the Debian packages they need (FRR, OVN, OVS) when missing.

export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build deps generate test unit integration faults lint bench lab clean

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

integration: deps
	$(GO) test -count=1 -timeout 20m ./integration/...

# The fault tests (integration/faults_test.go), then their figures as a table. They also run
# in `make test`, where bgpd is killed 8 times instead of 20; FAULTS_ROUNDS=N repeats every
# repeated fault N times (a soak).
FAULTS_REPORT ?= $(CURDIR)/faults-report.jsonl
FAULTS_BGPD_ROUNDS ?= 5
faults: deps
	rm -f $(FAULTS_REPORT)
	FAULTS_REPORT=$(FAULTS_REPORT) FAULTS_BGPD_ROUNDS=$(FAULTS_BGPD_ROUNDS) $(GO) test -count=1 -timeout 30m -run '^TestFault' ./integration/ ; \
		status=$$?; $(GO) run ./integration/cmd/faults-table $(FAULTS_REPORT); exit $$status

test: deps lint
	$(GO) test -count=1 -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

lab: deps build
	$(GO) run ./integration/cmd/lab -topology deploy/containerlab/provider-vm.clab.yml -agent bin/ovn-bgp-agent

clean:
	rm -rf bin
