#!/usr/bin/env bash
# Runs the browser tests (node --test) against the given binaries; called by ctest.
#   tests/browser/run.sh HERALD_CONTROL_BIN HERALD_NODE_BIN HERALDCTL_BIN ARTIFACT_DIR
# Needs node/npm and /usr/bin/chromium (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")"
export HERALD_CONTROL_BIN="$1" HERALD_NODE_BIN="$2" HERALDCTL_BIN="$3" HERALD_ARTIFACTS="$4"
# playwright-core only (no browser download); the lock file pins it.
want=$(node -p 'require("./package.json").devDependencies["playwright-core"]')
have=$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch { "" }')
if [ "$want" != "$have" ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
mkdir -p "$HERALD_ARTIFACTS"
# The report also goes to ARTIFACT_DIR/run.log, beside the screenshots, for failed runs.
node --test --test-concurrency=1 --test-timeout=180000 client.test.mjs sse_link.test.mjs \
  demo.test.mjs compression.test.mjs sse.test.mjs \
  dashboard.test.mjs 2>&1 |
  tee "$HERALD_ARTIFACTS/run.log"
