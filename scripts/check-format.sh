#!/usr/bin/env bash
# Fails (listing the files) when a C++ file differs from .clang-format. Fix with:
#   clang-format -i $(git ls-files '*.h' '*.cc')
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.h' '*.cc' 2>/dev/null || find common controlplane dataplane cli tests -name '*.h' -o -name '*.cc')
bad=()
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} file(s) not formatted: ${bad[*]}"
  exit 1
fi
echo "check-format: $(echo "$files" | wc -w) files formatted"
