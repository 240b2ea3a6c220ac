#!/usr/bin/env bash
# First install of the secured broker: CA + server certificate, users and passwords, ACL.
#
#   sudo deploy/mosquitto/setup-broker.sh [/etc/mosquitto/alvhd] [broker.example.org ...]
#
# Creates in DIR (default /etc/mosquitto/alvhd):
#   ca.crt ca.key server.crt server.key     (make-certs.sh; ca.crt goes to phones and alvhd)
#   passwd                                  (mosquitto_passwd; users below, random passwords)
#   acl                                     (copied from deploy/mosquitto/acl)
#   secrets/<user>.password                 (mode 600: hand each to its client, then delete)
# Users: alvhd (the daemon: writes alvhd/#), alvhd-bridge and phone (read alvhd/# only).
# Add a subscriber later:  mosquitto_passwd DIR/passwd NEWUSER   (read-only by the ACL)
# Then install deploy/mosquitto/mosquitto.conf as /etc/mosquitto/conf.d/alvhd.conf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-/etc/mosquitto/alvhd}
shift || true
"$here/make-certs.sh" "$dir" "$@"
mkdir -p "$dir/secrets"
chmod 700 "$dir/secrets"
cp "$here/acl" "$dir/acl"
[[ -f "$dir/passwd" ]] || install -m 600 /dev/null "$dir/passwd"
for user in alvhd alvhd-bridge phone; do
  secret="$dir/secrets/$user.password"
  if [[ ! -s $secret ]]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$secret")
  fi
  mosquitto_passwd -b "$dir/passwd" "$user" "$(cat "$secret")"
done
if id mosquitto >/dev/null 2>&1; then
  # the broker reads these; ca.key and secrets/ stay with root
  chown mosquitto: "$dir/passwd" "$dir/acl" "$dir/server.key" "$dir/server.crt" "$dir/ca.crt"
  chmod 600 "$dir/passwd" "$dir/server.key"
fi
echo "users: alvhd (read/write alvhd/#), alvhd-bridge and phone (read-only); passwords in $dir/secrets/"
