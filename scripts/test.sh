#!/usr/bin/env bash
# Installs what is missing, builds Herald with AddressSanitizer + UBSan, and runs every test
# (unit, integration against the real binaries, gRPC contract, format check) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${HERALD_TEST_BUILD_DIR:-build-test}"
JOBS="${HERALD_JOBS:-$(nproc)}"

bash scripts/install-deps.sh
echo "test: configuring and building (sanitizers on) in $BUILD_DIR/ ..."
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERALD_SANITIZE=ON >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}"
# A bounded libFuzzer run over the client frame parser and permission checks, from the
# committed seed corpus (new inputs go to a scratch dir, the corpus stays as committed).
FUZZ_DIR="${HERALD_FUZZ_BUILD_DIR:-build-fuzz}"
FUZZ_RUNS="${HERALD_FUZZ_RUNS:-500000}"
echo "test: building the fuzz target with clang in $FUZZ_DIR/ ..."
CC=clang CXX=clang++ cmake -S . -B "$FUZZ_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERALD_FUZZ=ON \
  -DHERALD_SANITIZE=ON -DHERALD_BUILD_TESTS=OFF >/dev/null
cmake --build "$FUZZ_DIR" -j"$JOBS" --target client_frame_fuzzer
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "test: fuzzing the client frame parser for $FUZZ_RUNS runs ..."
if ! "$FUZZ_DIR/tests/fuzz/client_frame_fuzzer" -runs="$FUZZ_RUNS" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$scratch/" \
  "$scratch" tests/fuzz/corpus/client_frame >"$scratch/fuzz.log" 2>&1; then
  tail -n 60 "$scratch/fuzz.log"
  echo "test: FUZZING FOUND A PROBLEM (crash input above; rerun the fuzzer on it to reproduce)"
  exit 1
fi
grep -E "^Done|stat::number_of_executed_units" "$scratch/fuzz.log"

echo "test: running ctest ..."
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j"$JOBS"
