#!/usr/bin/env bash
# Installs the Debian packages Herald needs to build and run (`--run`, what scripts/run.sh
# asks for) or to build, run and test (no argument, what scripts/test.sh asks for).
# Idempotent: packages already present are skipped, so a second run makes no network calls.
# Works as root, or via sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git curl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libwebsocketpp-dev libasio-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev zlib1g-dev libcpp-jwt-dev
  libhiredis-dev
  prometheus-cpp-dev
  # herald-control's HTTP port (/metrics, /health, the HTTP API, /dashboard).
  libcpp-httplib-dev
  openssl
  # The README's tour pastes a WebSocket client into Debian's /usr/bin/python3.
  python3 python3-websocket
)
if [ "${1:-}" != "--run" ]; then
  PACKAGES+=(
    redis-server
    clang-format clang libclang-rt-14-dev
    python3-grpcio python3-protobuf
    # permessage-deflate is tested with a second client implementation (tests/integration).
    python3-websockets
    chromium
    # promtool checks /metrics (tests/integration/metrics_test.cc).
    prometheus
  )
  # The browser tests run on Node.js (playwright-core from npm drives Debian's chromium); use
  # the machine's node when it has one, else Debian's.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
