#!/usr/bin/env bash
# Installs what is missing, builds Herald (Release) and runs herald-control plus one
# herald-node with embedded defaults. Ctrl-C stops both.
#   HERALD_GRPC (127.0.0.1:7070)  HERALD_WS (127.0.0.1:8080)  HERALD_DATA (./herald-data)
set -euo pipefail
cd "$(dirname "$0")/.."

GRPC_ADDR="${HERALD_GRPC:-127.0.0.1:7070}"
HTTP_ADDR="${HERALD_HTTP:-127.0.0.1:7071}"
WS_ADDR="${HERALD_WS:-127.0.0.1:8080}"
DATA_DIR="${HERALD_DATA:-./herald-data}"
BUILD_DIR="${HERALD_BUILD_DIR:-build}"

bash scripts/install-deps.sh --run
echo "run: configuring and building (Release) in $BUILD_DIR/ ..."
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DHERALD_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target herald-control herald-node heraldctl

LOG_DIR="$BUILD_DIR/logs"
mkdir -p "$LOG_DIR"
: >"$LOG_DIR/control.log"
: >"$LOG_DIR/node.log"

pids=()
tail_pid=""
stopping=""
stop() {
  trap - INT TERM EXIT
  stopping=1
  echo
  echo "run: stopping herald-node and herald-control ..."
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null || true
  echo "run: stopped"
}
trap stop INT TERM EXIT

# Waits (10 s at most) for the "listening on HOST:PORT" line and prints the address.
wait_listening() {
  local log=$1 pid=$2 name=$3
  for _ in $(seq 1 100); do
    if grep -q "listening on" "$log"; then
      grep -m1 -o "listening on [][0-9A-Za-z.:-]*" "$log" | cut -d' ' -f3
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run: $name exited during start-up:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "run: $name did not start within 10 s:" >&2
  cat "$log" >&2
  return 1
}

# scripts/dev-control.json allows anonymous WebSocket clients (for the tour); it applies on
# the first start of a data dir only: later changes go through the Control API.
"$BUILD_DIR/controlplane/herald-control" --grpc-listen "$GRPC_ADDR" --http-listen "$HTTP_ADDR" \
  --data-dir "$DATA_DIR" \
  --config "${HERALD_CONTROL_CONFIG:-scripts/dev-control.json}" >"$LOG_DIR/control.log" 2>&1 &
pids+=($!)
grpc=$(wait_listening "$LOG_DIR/control.log" "${pids[0]}" herald-control)

# herald-control generated a node secret in the data dir at its first start (0600); the node
# proves it holds it before it is sent any config.
"$BUILD_DIR/dataplane/herald-node" --listen "$WS_ADDR" --control "$grpc" \
  --node-secret-file "$DATA_DIR/node.secret" >"$LOG_DIR/node.log" 2>&1 &
pids+=($!)
ws=$(wait_listening "$LOG_DIR/node.log" "${pids[1]}" herald-node)

# heraldctl reads ./herald-data/admin.key by itself (local control planes only).
key_file="$(realpath -m "$DATA_DIR")/admin.key"
if [ "$key_file" = "$(realpath .)/herald-data/admin.key" ] && [ "$grpc" = "127.0.0.1:7070" ]; then
  KEY_HINT="  heraldctl reads the admin key in $DATA_DIR/admin.key (written by the data directory's
  first start) when run from $(realpath .); elsewhere:
    export HERALD_API_KEY_FILE=$key_file"
else
  KEY_HINT="  heraldctl needs the admin key (written by the data directory's first start):
    export HERALD_API_KEY_FILE=$key_file HERALD_CONTROL=$grpc"
fi

cat <<BANNER

  Herald is running.
    WebSocket   ws://$ws/ws          (health: http://$ws/health, stats: http://$ws/stats)
    gRPC        $grpc                (Control API; heraldctl --control $grpc)
    HTTP        http://$HTTP_ADDR    (HTTP API /api/..., metrics /metrics, health /health)
    Dashboard   http://$HTTP_ADDR/dashboard   (sign in with the admin key or a reader key)
    Metrics     http://$HTTP_ADDR/metrics and http://$ws/metrics (Prometheus)
    logs        $LOG_DIR/control.log, $LOG_DIR/node.log

$KEY_HINT

  Try it: connect a client to ws://$ws/ws?subscribe=token:price, then
    $BUILD_DIR/cli/heraldctl publish token:price '{"price":50000}' --event price_update

  Or over HTTP (docs/api.md "HTTP API"):
    curl -s http://$HTTP_ADDR/api/publish -H "Authorization: Bearer \$(cat $DATA_DIR/admin.key)" \\
      -d '{"channel":"token:price","data":{"price":50001}}'

  Live demo: open http://$ws/demo and start a feed of prices and transfers:
    $BUILD_DIR/cli/heraldctl demo-feed

  Ctrl-C stops both.

BANNER

tail -n 0 -f "$LOG_DIR/control.log" "$LOG_DIR/node.log" &
tail_pid=$!
# Return as soon as either daemon exits (or on Ctrl-C via the trap).
wait -n "${pids[@]}" || true
[ -n "$stopping" ] || echo "run: a daemon exited on its own; see $LOG_DIR/" >&2
