#!/usr/bin/env bash
# Creates a self-signed development certificate for https:// and wss:// on this machine:
# data/tls/dev-cert.pem and data/tls/dev-key.pem (CN=localhost, subjectAltName
# DNS:localhost, IP:127.0.0.1), unless both exist already. Never use it in production; data/
# is git-ignored, so it is never committed. Usage: scripts/dev-cert.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-data/tls}"
cert="$dir/dev-cert.pem"
key="$dir/dev-key.pem"
if [[ -s "$cert" && -s "$key" ]]; then
  echo "dev-cert: using $cert and $key"
  exit 0
fi
command -v openssl >/dev/null || { echo "dev-cert: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
# The key is written private to the user first, then the certificate beside it.
(umask 077 && openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 365 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$key" -out "$cert" 2>"$dir/dev-cert.log") || {
  echo "dev-cert: openssl failed:" >&2; cat "$dir/dev-cert.log" >&2; exit 1; }
rm -f "$dir/dev-cert.log"
chmod 644 "$cert"
echo "dev-cert: created $cert and $key (self-signed; clients trust it with --cacert $cert)"
