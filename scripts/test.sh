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
echo "test: running ctest ..."
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j"$JOBS"
