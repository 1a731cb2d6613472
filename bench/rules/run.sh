#!/usr/bin/env bash
# Rule evaluation benchmark: the stable Falco rules (when present) plus Vigil's
# rules/ over a synthetic exec/open/connect/other mix, on one pinned core.
# Usage: bench/rules/run.sh [extra `vigil rules bench` options]
set -euo pipefail
cd "$(dirname "$0")/../.."
VIGIL=${VIGIL:-./.build/release/vigil}
FALCO_DIR=${VIGIL_FALCO_RULES_DIR:-../shared/falco-rules}
args=()
if [ -r "$FALCO_DIR/falco_rules.yaml" ]; then
    args+=(-r "$FALCO_DIR/falco_rules.yaml")
else
    echo "note: $FALCO_DIR/falco_rules.yaml not found (set VIGIL_FALCO_RULES_DIR); benchmarking rules/ only" >&2
fi
args+=(-r rules/)
echo "== vigil rules bench ${args[*]} $*"
"$VIGIL" rules bench "${args[@]}" --seconds "${SECONDS_PER_RUN:-5}" "$@"
