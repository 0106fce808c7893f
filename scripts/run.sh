#!/usr/bin/env bash
# `make run`: starts the bundled WeChat platform emulator on 127.0.0.1:8081
# and Bindery on 127.0.0.1:8080, configured for each other, with their data
# in ./var; creates a first admin login on the first start.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bindery
data=${BINDERY_DATA_DIR:-./var}
listen=${BINDERY_LISTEN:-127.0.0.1:8080}
emu_listen=127.0.0.1:8081
mkdir -p "$data"
chmod 700 "$data"

# The component registered in fixtures/platform.json (docs/platform.md).
export BINDERY_WECHAT_API_BASE_URL=http://$emu_listen
export BINDERY_WECHAT_MP_BASE_URL=http://$emu_listen
export BINDERY_WECHAT_COMPONENT_APPID=wx0000000000000001
export BINDERY_WECHAT_COMPONENT_APPSECRET=5f0c7a1e9b3d4c2a8e6f1b0d7c9a2e41
export BINDERY_WECHAT_TOKEN=binderyEmulatorToken
export BINDERY_WECHAT_ENCODING_AES_KEY=BinderyLocalEmulatorKey0123456789abcdefghij

if [ ! -f "$data/first-admin.txt" ]; then
  email="admin@bindery.local"
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20)
  if uin=$(printf '%s\n' "$password" | "$bin" admin create-account --data-dir "$data" \
             --email "$email" --password-stdin 2>/dev/null); then
    umask 077
    printf 'email: %s\npassword: %s\naccount ID: %s\n' "$email" "$password" "$uin" > "$data/first-admin.txt"
  fi
fi

"$bin" platform --data-dir "$data" --listen "$emu_listen" --fixtures fixtures/platform.json &
emu=$!
"$bin" serve --data-dir "$data" --listen "$listen" "$@" &
srv=$!
trap 'kill $srv $emu 2>/dev/null; wait $srv $emu 2>/dev/null' INT TERM EXIT

for _ in $(seq 100); do curl -fs "http://$listen/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# The emulator's first ticket push may have come before Bindery listened.
curl -fs -X POST "http://$emu_listen/__emu/control/push-ticket" >/dev/null 2>&1 || true

echo
echo "Bindery console:        http://$listen/"
echo "Account center (关联):   http://$listen/center   (scan-to-log-in: the login page's 【微信公众号】)"
echo "Access management (访问管理): http://$listen/cam/users"
echo "Environments (开发环境):  http://$listen/envs"
echo "Developer tool:         ./$bin login --server http://$listen   (then: env create, upload, deploy)"
echo "WeChat emulator:        http://$emu_listen/  (mp console: http://$emu_listen/__emu/mp/login)"
echo "WeChat users (fixtures): wxid_alice (mini program wxa000000000000001, official account wxc000000000000001)"
echo "                         wxid_bob   (mini program wxb000000000000001, official account wxc000000000000001)"
if [ -f "$data/first-admin.txt" ]; then
  echo "First admin login (kept in $data/first-admin.txt):"
  sed 's/^/  /' "$data/first-admin.txt"
fi
echo "Stop with Ctrl-C."
wait $srv
