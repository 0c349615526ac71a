#!/usr/bin/env bash
# Builds Parley and starts one node on the embedded default: SQLite under ./data,
# HTTP/WebSocket on http://127.0.0.1:8080. Extra arguments go to parleyd (--key=value).
# PARLEY_TLS=1 serves https:// and wss:// instead, with a self-signed dev certificate made
# by scripts/dev-cert.sh in data/tls (clients: --cacert data/tls/dev-cert.pem).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh --target parleyd parley
tls=()
if [[ "${PARLEY_TLS:-0}" == 1 ]]; then
  ./scripts/dev-cert.sh
  tls=(--tls.cert data/tls/dev-cert.pem --tls.key data/tls/dev-key.pem)
fi
exec ./build/runtime/parleyd "${tls[@]}" "$@"
