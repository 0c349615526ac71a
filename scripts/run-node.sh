#!/usr/bin/env bash
# Builds Parley and starts one node on the embedded default: SQLite under ./data,
# HTTP/WebSocket on http://127.0.0.1:8080. Extra arguments go to parleyd (--key=value).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh --target parleyd parley
exec ./build/runtime/parleyd "$@"
