# ec2grid build, test and demo targets. `make demo` and `make test` are the two commands
# a new user runs on a fresh machine (see README.md).

GO        ?= go
PREFIX    ?= /usr/local
# FUZZTIME is how long `make fuzz` runs each fuzz target; `make test` runs each for
# FUZZTIME_TEST, long enough to exercise the seed corpus and some mutation.
FUZZTIME      ?= 1m
FUZZTIME_TEST ?= 10s
BIN       := bin

.PHONY: all build test vet fmtcheck unit fuzz-short test-long demo bench fuzz install clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz-all

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/* $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf $(BIN)
