#!/usr/bin/env bash
# Runs each fuzz target for a fixed budget (FUZZ_SECONDS, default 60) on a copy of its corpus
# (the checked-in corpus in fuzz/corpus/<target> is not modified) and prints executions and
# crashes per target. Crash inputs are kept in build/fuzz/crashes/<target>/. Exits 1 on a crash.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"rules condition config capture"}
status=0
printf '%-10s %12s %8s %10s %s\n' target executions crashes exec/s note
for t in $TARGETS; do
    work=build/fuzz/work/$t; crashes=build/fuzz/crashes/$t
    rm -rf "$work"; mkdir -p "$work" "$crashes"
    log=build/fuzz/$t.log
    # Swift's own backtracer off: libFuzzer handles the crash and saves the input.
    SWIFT_BACKTRACE=enable=no "build/fuzz/vigil-fuzz-$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
        -artifact_prefix="$crashes/" -print_final_stats=1 "$work" "fuzz/corpus/$t" > "$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    found=$(ls "$crashes" | wc -l)
    note=""
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then status=1; note="FAILED (rc=$rc), see $log and $crashes"; fi
    printf '%-10s %12s %8s %10s %s\n' "$t" "${execs:-0}" "$found" "${speed:-0}" "$note"
done
exit $status
