#!/usr/bin/env bash
# Installs the peer servers' dependencies (socket.io 4, ws 8) into bench/peers/node_modules.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
