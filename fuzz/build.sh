#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/<target>/main.swift) against Vigil's modules compiled with
# -sanitize=fuzzer (coverage instrumentation) in a separate build path. Usage: fuzz/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BP=.build/fuzz
swift build -c release --build-path "$BP" -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library --target VigilAgent
REL="$BP/$(uname -m)-unknown-linux-gnu/release"
[ -d "$REL" ] || REL="$BP/release"
MODULES=(VigilABI VigilCore VigilDecode VigilState VigilRules VigilAlerts VigilCapture VigilAgent)
OBJS=()
for m in "${MODULES[@]}"; do OBJS+=("$REL/$m.build"/*.o); done
MAPS=()
for c in CYAML CCurl CLibBPF CMicroHTTPD; do MAPS+=(-Xcc "-fmodule-map-file=Sources/$c/module.modulemap"); done
MAPS+=(-Xcc "-fmodule-map-file=$REL/VigilABI.build/module.modulemap" -Xcc -ISources/VigilABI/include)
LIBS=$(pkg-config --libs yaml-0.1 libcurl libbpf libmicrohttpd)
mkdir -p build/fuzz
for t in rules condition config capture; do
    echo "== fuzz target $t"
    swiftc -O -sanitize=fuzzer -parse-as-library -module-name "Fuzz_$t" -I "$REL/Modules" "${MAPS[@]}" \
        "fuzz/$t/main.swift" "${OBJS[@]}" $LIBS -o "build/fuzz/vigil-fuzz-$t"
done
