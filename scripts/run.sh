#!/usr/bin/env bash
# `make run`: starts Bindery on 127.0.0.1:8080 with its data in ./var, and
# creates a first admin login on the first start.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bindery
data=${BINDERY_DATA_DIR:-./var}
listen=${BINDERY_LISTEN:-127.0.0.1:8080}
mkdir -p "$data"
chmod 700 "$data"

first_login=""
if [ ! -f "$data/first-admin.txt" ]; then
  email="admin@bindery.local"
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20)
  if uin=$(printf '%s\n' "$password" | "$bin" admin create-account --data-dir "$data" \
             --email "$email" --password-stdin 2>/dev/null); then
    umask 077
    printf 'email: %s\npassword: %s\naccount ID: %s\n' "$email" "$password" "$uin" > "$data/first-admin.txt"
  fi
fi

echo "Bindery console:  http://$listen/"
if [ -f "$data/first-admin.txt" ]; then
  echo "First admin login (kept in $data/first-admin.txt):"
  sed 's/^/  /' "$data/first-admin.txt"
fi
echo "Stop with Ctrl-C."
exec "$bin" serve --data-dir "$data" --listen "$listen" "$@"
