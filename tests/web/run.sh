#!/usr/bin/env bash
# The browser test (CTest `web_tests`): installs playwright-core from the lock file when
# missing (no browser download: it drives Debian's /usr/bin/chromium), then runs the tests
# (chat.test.mjs: one node; cluster.test.mjs: a 3-node cluster).
# Usage: tests/web/run.sh [path/to/parleyd]
set -euo pipefail
if [ $# -ge 1 ]; then
  export PARLEYD="$(realpath "$1")"
fi
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
exec node --test --test-concurrency=1 chat.test.mjs cluster.test.mjs
