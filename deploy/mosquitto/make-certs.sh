#!/usr/bin/env bash
# Create a self-signed CA and a server certificate signed by it (first install / tests).
#
#   deploy/mosquitto/make-certs.sh OUTDIR [NAME ...]
#
# OUTDIR gets ca.crt + ca.key (keep ca.key offline once the server cert is made),
# server.crt + server.key for the broker. NAMEs are the DNS names (or IP addresses) phones
# and the bridge use to reach the broker; localhost and 127.0.0.1 are always included.
# Existing files are kept (run again with a new OUTDIR to rotate). Needs openssl.
set -euo pipefail
out=${1:?usage: make-certs.sh OUTDIR [NAME ...]}
shift
mkdir -p "$out"
umask 077
days=825
if [[ ! -f "$out/ca.key" ]]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 3650 \
    -keyout "$out/ca.key" -out "$out/ca.crt" -subj "/CN=alvhd broker CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
fi
cn=${1:-localhost}
san="DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+=",IP:$name"; else san+=",DNS:$name"; fi
done
if [[ ! -f "$out/server.key" ]]; then
  openssl req -newkey rsa:2048 -sha256 -nodes -keyout "$out/server.key" -out "$out/server.csr" \
    -subj "/CN=$cn" 2>/dev/null
  openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
    -CAcreateserial -days "$days" -sha256 -out "$out/server.crt" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' "$san") \
    2>/dev/null
  rm -f "$out/server.csr"
fi
chmod 644 "$out/ca.crt" "$out/server.crt"
echo "CA: $out/ca.crt  server: $out/server.crt ($san)"
