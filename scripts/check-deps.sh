#!/usr/bin/env bash
# check-deps.sh: fails when a package imports across the layering rules of
# the project (see docs/architecture.md): the wire layer and the runtime layer
# only meet in the miner command.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
# rule: <package pattern> must not depend on <forbidden prefix>, except
# <allowed prefix>. Prefixes are in this module, unless the first element
# has a dot (another module, e.g. github.com/prometheus).
check() {
  local pkg=$1 forbidden=$2 allowed=${3:-}
  [[ ${forbidden%%/*} == *.* ]] || forbidden="$mod/$forbidden"
  for p in $(go list "$mod/$pkg" 2>/dev/null); do
    for d in $(go list -deps "$p"); do
      case $d in
        "$forbidden"*)
          if [ -n "$allowed" ] && [[ $d == "$mod/$allowed"* ]]; then continue; fi
          echo "forbidden import: $p depends on $d"; fail=1 ;;
      esac
    done
  done
}
check "api/..." "models" "models/tensor"
check "api/..." "miner"
check "mapping/..." "models" "models/tensor"
check "mapping/..." "miner"
check "models/..." "api"
check "models/..." "miner"
check "miner/internal/batch" "api"
check "miner/internal/batch" "models/onnx"
check "miner/internal/config" "models"
check "miner/internal/config" "api"
# kernels (and kernels/nvml) are leaf compute/device code: no project layer
# above them.
for layer in api models miner chain mapping; do
  check "kernels/..." "$layer"
done
check "miner/internal/gpus" "models/onnx"
# The one inference front knows its backends only through its interfaces.
check "miner/internal/front" "miner/internal/engine"
check "miner/internal/front" "miner/internal/redisnode"
check "miner/internal/front" "miner/internal/redisq"
check "miner/internal/front" "models/onnx"
check "miner/internal/front" "api/server"
# The engine is one backend; it knows nothing of Redis.
check "miner/internal/engine" "miner/internal/redisq"
check "miner/internal/engine" "miner/internal/redisnode"
# The wire layer and the chain meet only in the miner command: the axon
# verifies and the dendrite signs through interfaces that main wires to
# chain/wallet. (go list -deps without -test: tests may cross, e.g. a round
# trip with real keys.)
check "api/..." "chain"
check "chain/..." "api"
# The axon protocol sits below both of its ends and imports neither; the
# dendrite (client) does not pull in the axon (server) or its metrics.
check "api/axonproto" "api" "api/axonproto"
check "api/dendrite" "api/axon" "api/axonproto"
check "api/dendrite" "github.com/prometheus"
# Epistula's wire (headers, message, signing) is the standard library alone,
# below both the receiver (api/epistula/receiver) and the dendrite.
check "api/epistula" "api" "api/epistula"
check "api/epistula" "github.com/prometheus"
# The chain layer never reaches up into the command.
check "chain/..." "miner"
# The typed client (chain/client) is the one layer over the raw transport that
# metagraph, yuma and the miner read through; it knows none of them.
check "chain/client" "chain/metagraph"
check "chain/client" "chain/yuma"
check "chain/client" "chain/commitments"
# Package main parses flags and wires; the packages it wires know no HTTP
# routing, and serve's chain node sees the axon only through its Validators
# interface.
check "miner/internal/chainnode" "api/server"
check "miner/internal/chainnode" "api/axon"
check "miner/internal/cli" "chain/client"
check "miner/internal/cli" "api"
# Test support under internal/ pulls in no product layer.
check "internal/chopsticks" "api"
check "internal/chopsticks" "miner"
check "internal/chopsticks" "models"
# Size: package main parses flags and wires (at most 2000 lines of non-test
# Go in miner/), and no hand-written non-test Go file passes 600 lines
# (generated files, marked "Code generated ... DO NOT EDIT.", are exempt).
main_lines=$(cat $(ls miner/*.go | grep -v '_test\.go$') | wc -l)
if [ "$main_lines" -gt 2000 ]; then
  echo "package main is $main_lines lines (non-test miner/*.go), over 2000: move logic into a package under miner/internal"; fail=1
fi
for f in $(git ls-files '*.go' | grep -v '_test\.go$'); do
  [ -f "$f" ] || continue
  n=$(wc -l <"$f")
  if [ "$n" -gt 600 ] && ! grep -qm1 '^// Code generated .* DO NOT EDIT\.$' "$f"; then
    echo "$f is $n lines, over 600: split it by concern"; fail=1
  fi
done
exit $fail
