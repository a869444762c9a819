#!/usr/bin/env bash
# gen-proto.sh: regenerates api/kservepb's Go code from inference.proto with
# Debian's protoc (package protobuf-compiler) and the pinned Go plugins.
# With --check it regenerates into a temporary folder and fails when the
# committed code differs (CI, like the PTX check in .ci/gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOC_GEN_GO=v1.36.12     # google.golang.org/protobuf/cmd/protoc-gen-go
PROTOC_GEN_GO_GRPC=v1.6.2  # google.golang.org/grpc/cmd/protoc-gen-go-grpc
PROTOC_VERSION="libprotoc 3.21.12"
command -v protoc >/dev/null || { echo "gen-proto: protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
if [ "$(protoc --version)" != "$PROTOC_VERSION" ]; then
  echo "gen-proto: want $PROTOC_VERSION (Debian bookworm's protobuf-compiler), have $(protoc --version)" >&2
  exit 1
fi
bin=$PWD/.cache/protoc-gen
mkdir -p "$bin"
GOBIN=$bin go install google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO
GOBIN=$bin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC
out=api/kservepb
if [ "${1:-}" = --check ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
PATH=$bin:$PATH protoc -I api/kservepb \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  inference.proto
if [ "${1:-}" = --check ]; then
  for f in inference.pb.go inference_grpc.pb.go; do
    if ! diff -u "api/kservepb/$f" "$out/$f"; then
      echo "gen-proto: api/kservepb/$f is not what inference.proto generates: run scripts/gen-proto.sh and commit" >&2
      exit 1
    fi
  done
  echo "gen-proto: generated code matches inference.proto"
fi
