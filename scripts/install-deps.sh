#!/usr/bin/env bash
# Installs every Debian 12 package Parley needs to build, run and test. Idempotent.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libcaf-dev libboost-dev libboost-system-dev libboost-program-options-dev libssl-dev
  openssl  # scripts/dev-cert.sh and the TLS tests make throwaway certificates with it
  libsoci-dev libsqlite3-dev sqlite3
  nlohmann-json3-dev catch2 prometheus-cpp-dev
  python3 procps
  clang libclang-rt-14-dev
  chromium nodejs
  # npm: Debian's, unless the installed nodejs bundles one (NodeSource's conflicts with it)
  $(command -v npm >/dev/null || echo npm)
  postgresql libpq-dev mariadb-server mariadb-client libmariadb-dev
  libhiredis-dev redis-server librdkafka-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
