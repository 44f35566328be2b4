# Shared by ./run and ./test: find Python 3.11+, create .venv, install the project when it changed.
step() { printf '\n== %s\n' "$*"; }

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.11 or newer is required" >&2
  return 1
}

ensure_venv() {
  # Two statements: `local a=1 b=$a` expands $a before either is assigned (fatal under set -u).
  local extras="${1:-}"
  local stamp=".venv/.installed${extras}"
  if [ ! -x .venv/bin/python ]; then
    "$(find_python)" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
    touch "$stamp"
  fi
}

ensure_chromium() {
  # The console's browser tests drive Debian's Chromium (Playwright's own download needs the
  # internet and is never used).
  if [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "the browser tests need /usr/bin/chromium: apt-get install chromium" >&2
      return 1
    fi
  fi
}
