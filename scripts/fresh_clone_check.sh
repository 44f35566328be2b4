#!/usr/bin/env bash
# Clone this repository into an empty directory, run the README's first command there, and check
# that a device can register and press once. Not a pytest test: it would clone and test itself.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

git clone --quiet "$repo" "$work/sigap"
cd "$work/sigap"
# The README's first command, exactly (plus a free port).
env -u SIGAP_DATABASE_URL ./run --port "$port" > "$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.log"; echo "server exited" >&2; exit 1; fi
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }

credential="$(curl -fsS -X POST "http://127.0.0.1:$port/v1/devices" -H 'Content-Type: application/json' \
  -d '{"platform": "android"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"])')"
status="$(curl -sS -o "$work/press.json" -w '%{http_code}' -X POST "http://127.0.0.1:$port/v1/alerts" \
  -H "Authorization: Bearer $credential" -H 'Idempotency-Key: fresh-clone-1' -H 'Content-Type: application/json' \
  -d '{"pressed_at": "2026-01-01T00:00:00Z", "location": {"lat": -6.1754, "lon": 106.8272, "accuracy_m": 20}}')"
if [ "$status" != "201" ]; then cat "$work/press.json"; cat "$work/server.log"; echo "press answered $status" >&2; exit 1; fi
echo "fresh clone: server up, device registered, press recorded ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["case_code"])' "$work/press.json"))"
