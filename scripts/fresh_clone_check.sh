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

# The README's walkthrough, its commands exactly as written (scripts/readme_walkthrough.py).
export SIGAP_WALKTHROUGH_PASSWORD="fresh clone walkthrough password"
python3 scripts/readme_walkthrough.py README.md "$port" > "$work/walkthrough.sh"
if ! bash "$work/walkthrough.sh" > "$work/walkthrough.out" 2> "$work/walkthrough.err"; then
  cat "$work/walkthrough.err" "$work/walkthrough.out"; tail -n 40 "$work/server.log"
  echo "the README walkthrough failed" >&2; exit 1
fi
# Nobody has the console open, so the Menteng counselor is not present and the press must reach
# the central desk, where the supervisor the walkthrough put on call holds the offer: a newcomer
# who follows the README exactly never sees an alert end in nobody's hands.
python3 - "$port" "$work/walkthrough.out" <<'PY' || { tail -n 40 "$work/server.log"; exit 1; }
import json, os, sys, time, urllib.parse, urllib.request

port, out = sys.argv[1], open(sys.argv[2]).read()
alert = json.loads(out[out.rindex('{"id"'):])
base = f"http://127.0.0.1:{port}"
form = urllib.parse.urlencode({"grant_type": "password", "username": "supervisor",
                               "password": os.environ["SIGAP_WALKTHROUGH_PASSWORD"]}).encode()
token = json.load(urllib.request.urlopen(f"{base}/v1/auth/token", form))["access_token"]
auth = {"Authorization": f"Bearer {token}"}
deadline = time.monotonic() + 60
while True:
    request = urllib.request.Request(f"{base}/v1/assignments?status=open", headers=auth)
    offers = [a for a in json.load(urllib.request.urlopen(request))["items"]
              if a["alert_id"] == alert["id"]]
    if offers:
        break
    if time.monotonic() > deadline:
        sys.exit(f"alert {alert['case_code']} never reached the central desk's supervisor")
    time.sleep(0.5)
print(f"fresh clone: README walkthrough done; {alert['case_code']} offered to "
      f"{', '.join(o['unit_code'] for o in offers)} (flags: {alert.get('flags') or 'none'})")
PY
