# ec2grid build, test and demo targets. `make demo` and `make test` are the two commands
# a new user runs on a fresh machine (see README.md).

GO        ?= go
PREFIX    ?= /usr/local
# FUZZTIME is how long `make fuzz` runs each fuzz target; `make test` runs each for
# FUZZTIME_TEST, long enough to exercise the seed corpus and some mutation.
FUZZTIME      ?= 1m
FUZZTIME_TEST ?= 10s
BIN       := bin

.PHONY: all build test vet fmtcheck unit fuzz-short test-long demo bench fuzz install clean chaos storm scale

all: build

# The binaries are built without cgo (static, and os/user reads /etc/passwd itself);
# only `go test -race` needs cgo, for the race detector.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

test: vet fmtcheck unit fuzz-short

vet:
	$(GO) vet ./...

fmtcheck:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 ./...

fuzz-short:
	FUZZTIME=$(FUZZTIME_TEST) GO=$(GO) scripts/fuzz-all

# Suites too slow for every run (scale, long crash loops) are behind the "long" build tag.
test-long:
	$(GO) test -race -count=1 -tags long -timeout 60m ./...

demo: build
	scripts/demo

# The crash loop (docs/chaos.md): 20 SIGKILLs of the daemon and ec2_gahp over 200 jobs
# in each mode (aws: ClientToken; openstack: per-job key pairs); LONG=1: 200 over 1,000.
# One line per mode; non-zero exit if a job was lost or duplicated or anything leaked.
chaos: build
	$(GO) run ./bench/chaos -bin $(BIN) $(if $(LONG),-jobs 1000 -kills 200)

# The fault storm: 1,000 jobs on a cloud with 30% throttling, 5% 500s, 2% answers dropped
# after acting, 3 s eventual consistency and 100 +- 50 ms latency, then on a fault-free one.
storm: build
	$(GO) run ./bench/chaos -bin $(BIN) -storm -jobs 1000

# Scale (bench/RESULTS.md): 100,000 jobs in one condor_submit, all running on the local
# cloud (no latency, instant boot), the steady state measured (probe pass, condor_q,
# daemon memory), then condor_rm -all. Takes several minutes and several GiB of memory.
scale: build
	$(GO) run ./bench/gridmanager -bin $(BIN) -scale -n 100000 -l 0

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# FUZZ_LEDGER (default bench/fuzz-ledger.tsv) keeps a line per run; scripts/fuzz-totals sums it.
fuzz:
	FUZZTIME=$(FUZZTIME) FUZZ_LEDGER=$(or $(FUZZ_LEDGER),bench/fuzz-ledger.tsv) GO=$(GO) scripts/fuzz-all

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/* $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf $(BIN)
