#!/usr/bin/env bash
# The browser test (CTest `web_tests`): installs playwright-core from the lock file when
# missing (no browser download: it drives Debian's /usr/bin/chromium), then runs the test.
# Usage: tests/web/run.sh [path/to/parleyd]
set -euo pipefail
if [ $# -ge 1 ]; then
  export PARLEYD="$(realpath "$1")"
fi
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
exec node --test chat.test.mjs
