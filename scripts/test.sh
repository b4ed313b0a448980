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
# Bounded libFuzzer runs, one per parser a peer can reach, each from its committed seed corpus
# (new inputs go to a scratch dir, the corpora stay as committed). NAME:MAX_LEN:CORPUS.
FUZZ_DIR="${HERALD_FUZZ_BUILD_DIR:-build-fuzz}"
FUZZ_RUNS="${HERALD_FUZZ_RUNS:-500000}"
FUZZERS=(
  "client_frame_fuzzer:4096:client_frame"        # client JSON frames, ?query, permissions
  "upgrade_request_fuzzer:8192:upgrade_request"  # the HTTP upgrade request as the node reads it
  "publication_body_fuzzer:4096:publication_body" # Control API JSON fields, the JSON scanner
  "jwt_verifier_fuzzer:4096:jwt_verifier"        # tokens: splitting, base64url, HMAC, claims
  "hook_reply_fuzzer:4096:hook_reply"            # a backend's reply to any hook
  "jwks_fuzzer:4096:jwks"                        # a fetched JWKS: JSON, base64url, key import
  "tag_filter_fuzzer:4096:tag_filter"            # a subscription filter: compile, canonical, match
  "deflate_fuzzer:8192:deflate"                  # permessage-deflate: offers, compressed frames
  "sse_fuzzer:20000:sse"                         # SSE: Last-Event-ID, Authorization, Cookie, events
  "peer_message_fuzzer:8192:peer_message"        # replicas' messages over Redis: presence, user counts
)
targets=()
for f in "${FUZZERS[@]}"; do targets+=("${f%%:*}"); done
echo "test: building the fuzz targets with clang in $FUZZ_DIR/ ..."
CC=clang CXX=clang++ cmake -S . -B "$FUZZ_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERALD_FUZZ=ON \
  -DHERALD_SANITIZE=ON -DHERALD_BUILD_TESTS=OFF >/dev/null
cmake --build "$FUZZ_DIR" -j"$JOBS" --target "${targets[@]}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for f in "${FUZZERS[@]}"; do
  IFS=: read -r name max_len corpus <<<"$f"
  echo "test: fuzzing $name for $FUZZ_RUNS runs ..."
  mkdir -p "$scratch/$name"
  if ! "$FUZZ_DIR/tests/fuzz/$name" -runs="$FUZZ_RUNS" -max_len="$max_len" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$scratch/$name-" \
    "$scratch/$name" "tests/fuzz/corpus/$corpus" >"$scratch/$name.log" 2>&1; then
    tail -n 60 "$scratch/$name.log"
    echo "test: FUZZING $name FOUND A PROBLEM (crash input above; rerun the fuzzer on it to reproduce)"
    exit 1
  fi
  grep -E "^Done|stat::number_of_executed_units" "$scratch/$name.log"
done

echo "test: running ctest ..."
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j"$JOBS"
