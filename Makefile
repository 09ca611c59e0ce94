# The livekit-server version every test, demo and CI run uses. Change it here only.
LIVEKIT_SERVER_VERSION ?= v1.9.11
LIVEKIT_SERVER_PKG     := github.com/livekit/livekit-server/cmd/server
LIVEKIT_SERVER_BIN     := $(CURDIR)/bin/livekit-server
GO                     ?= go

export LIVEKIT_SERVER_BIN

.PHONY: all deps test test-short vet demo bench fmt check-api clean

all: test

# bin/livekit-server, rebuilt only when the pinned version changes.
deps: bin/.livekit-server-$(LIVEKIT_SERVER_VERSION)

bin/.livekit-server-$(LIVEKIT_SERVER_VERSION):
	@mkdir -p bin
	@echo "installing livekit-server $(LIVEKIT_SERVER_VERSION) into bin/ (first time only)"
	GOBIN=$(CURDIR)/bin $(GO) install $(LIVEKIT_SERVER_PKG)@$(LIVEKIT_SERVER_VERSION)
	mv -f bin/server $(LIVEKIT_SERVER_BIN)
	@rm -f bin/.livekit-server-*
	@touch $@

vet:
	$(GO) vet ./...

test: deps vet
	$(GO) test -race -count=1 ./...

# Unit tests only: integration tests that need a server say they are skipped.
test-short:
	$(GO) test -race -count=1 -short ./...

demo: deps
	$(GO) run ./examples/demo

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -l -w .

check-api:
	../shared/api/check.sh .

clean:
	rm -rf bin demo-out
