# The livekit-server version every test, demo and CI run uses. Change it here only.
LIVEKIT_SERVER_VERSION ?= v1.9.11
LIVEKIT_SERVER_PKG     := github.com/livekit/livekit-server/cmd/server
LIVEKIT_SERVER_BIN     := $(CURDIR)/bin/livekit-server
GO                     ?= go
# apt-get runs through sudo only when make does not run as root.
SUDO                   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export LIVEKIT_SERVER_BIN

.PHONY: all deps ffprobe redis-server libopus test test-short vet demo bench fmt check-api clean fuzz interop interop-deps e2ee-kat

all: test

# bin/livekit-server, rebuilt only when the pinned version changes,
# ffprobe (Debian's ffmpeg), which the recording tests decode files with,
# redis-server (Debian's), which the cluster tests' nodes share, and
# libopus (Debian's libopus-dev), which pkg/media is built with.
deps: bin/.livekit-server-$(LIVEKIT_SERVER_VERSION) ffprobe redis-server libopus

ffprobe:
	@command -v ffprobe >/dev/null 2>&1 || { \
		echo "installing ffmpeg for ffprobe (first time only)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; }

# libopus for pkg/media, the module's only cgo: Debian's libopus-dev when
# the C compiler cannot find its header.
libopus:
	@printf '#include <opus/opus.h>\n' | $${CC:-cc} -E -x c - >/dev/null 2>&1 || { \
		echo "installing Debian's libopus-dev for pkg/media (first time only)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends libopus-dev >/dev/null; }

# The tests start their own redis-server on a loopback port; the service
# Debian's package sets up is not used.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "installing Debian's redis-server for the cluster tests (first time only)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }

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
	$(GO) test -race -count=1 -timeout 12m ./...

# Unit tests only: integration tests that need a server say they are skipped.
test-short: libopus
	$(GO) test -race -count=1 -short ./...

# Interop tests (interop/) against LiveKit's Rust core (@livekit/rtc-node)
# and JavaScript SDK (livekit-client in Debian's headless Chromium). They
# need Node.js 18+ and npm (Debian's are installed if there are none). The
# npm packages, pinned by package-lock.json, and Debian's chromium are
# installed the first time; npm runs no install scripts, as the native
# binaries of rtc-node and esbuild come in packages of their own. make test
# skips these tests, saying so.
PEER_DIR     := interop/peer
CHROMIUM_BIN ?= /usr/bin/chromium
export CHROMIUM_BIN

interop: deps interop-deps
	LKSDK_INTEROP=1 $(GO) test -race -count=1 -timeout 15m ./interop

interop-deps: $(PEER_DIR)/node_modules/.installed $(CHROMIUM_BIN)

$(CHROMIUM_BIN):
	@echo "installing Debian's chromium (first time only)"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null

$(PEER_DIR)/node_modules/.installed: $(PEER_DIR)/package.json $(PEER_DIR)/package-lock.json
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		echo "installing Debian's nodejs and npm (no Node.js on PATH)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	fi
	cd $(PEER_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

demo: deps
	$(GO) run ./examples/demo

# Go benchmarks, then a short load test: the SDK's publishing bots and the
# same media from bare pion connections (the floor), one after the other.
LOAD_BOTS ?= 20
LOAD_TIME ?= 15s
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) build -o bin/loadtest ./cmd/loadtest
	bin/loadtest -floor -publishers $(LOAD_BOTS) -duration $(LOAD_TIME)
	bin/loadtest -publishers $(LOAD_BOTS) -subscribers 0 -rooms $(LOAD_BOTS) -duration $(LOAD_TIME)

fmt:
	gofmt -l -w .

check-api:
	../shared/api/check.sh .

clean:
	rm -rf bin demo-out

# Fuzz targets as package:FuzzName pairs; `make fuzz` runs each for FUZZTIME,
# one at a time (go test -fuzz takes a single target). Add new targets here.
# FUZZMINIMIZETIME caps the minimization of each new input, which otherwise
# can take most of a short run.
FUZZTIME ?= 20s
FUZZMINIMIZETIME ?= 5s
FUZZ_TARGETS += \
	./internal/codec:FuzzSplitAnnexB \
	./internal/codec:FuzzReadLEB128 \
	./internal/mediaparse:FuzzIVFReader \
	./internal/mediaparse:FuzzAnnexBReader \
	./internal/mediaparse:FuzzParseSPS \
	./internal/mediaparse:FuzzOggOpusReader \
	./internal/mediaparse:FuzzOpusPacketDuration \
	.:FuzzH264Packetizer \
	.:FuzzReaderSampleProvider \
	.:FuzzSignalResponse \
	.:FuzzStreamReassembly \
	./pkg/recorder:FuzzJitterBuffer \
	./pkg/recorder:FuzzDepacketizeVP8 \
	./pkg/recorder:FuzzDepacketizeVP9 \
	./pkg/recorder:FuzzDepacketizeH264 \
	./pkg/recorder:FuzzDepacketizeAV1 \
	./pkg/recorder:FuzzDepacketizeOpus \
	./pkg/media/resample:FuzzResampler \
	./pkg/media/wav:FuzzReader \
	./pkg/e2ee:FuzzDecryptFrame \
	./pkg/e2ee:FuzzEscape \
	./pkg/e2ee:FuzzClearHeaderLength \
	./pkg/e2ee:FuzzParseSliceFields \
	./pkg/samplebuilder:FuzzSampleBuilder

# pkg/e2ee/testdata/kat.json: known-answer vectors made by livekit-client's
# own frame cryptor and key derivation (the version interop/peer pins) on
# Node.js's WebCrypto, bundled from its sources with esbuild.
e2ee-kat: interop-deps
	cd $(PEER_DIR) && node_modules/.bin/esbuild kat/gen.ts --bundle --platform=node --format=esm --log-level=error --outfile=node_modules/.kat-gen.mjs
	node $(PEER_DIR)/node_modules/.kat-gen.mjs pkg/e2ee/testdata/kat.json

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); \
	done
