# Shared by ./run and ./test: find Python 3.11+, create .venv, install the project when it changed.
step() { printf '\n== %s\n' "$*"; }
# One line of progress for a person watching a command that takes a while.
say() { printf 'sigap: %s\n' "$*"; }

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
  local started log
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv (a Python virtual environment for Sigap alone)"
    "$(find_python)" -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # pip's own output (and setuptools' editable-install notice) goes to a log, shown only when
    # the install fails: a newcomer sees one line per step, not a wall of build messages.
    log=".venv/install.log"
    started=$SECONDS
    say "installing Sigap and its dependencies${extras:+ and the developer tools}: about a minute the first time (output in $log)"
    if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
           .venv/bin/python -m pip install --disable-pip-version-check -e ".${extras}"; } >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      echo "the install failed: the whole output is in $log" >&2
      return 1
    fi
    touch "$stamp"
    say "installed in $((SECONDS - started)) s"
  fi
}

# ./test's PostgreSQL. SIGAP_TEST_PG_URL given: it must answer, or the run fails (never a skip).
# Not given: the server on 127.0.0.1:5432 when one answers, else a private throw-away cluster
# (scripts/private_postgres.py), installing Debian's `postgresql` package first when its server
# binaries are missing. SIGAP_TEST_PG_PROBE_URL replaces the 5432 probe (to test this logic).
PRIVATE_PG_ROOT=""
select_postgres() {
  if [ -n "${SIGAP_TEST_PG_URL:-}" ]; then
    .venv/bin/python scripts/check_postgres.py "$SIGAP_TEST_PG_URL" ||
      { echo "SIGAP_TEST_PG_URL is set but does not answer: failing, not skipping" >&2; return 1; }
    return 0
  fi
  local probe="${SIGAP_TEST_PG_PROBE_URL:-postgresql://root@127.0.0.1:5432/postgres}"
  if .venv/bin/python scripts/check_postgres.py "$probe" 2>/dev/null; then
    export SIGAP_TEST_PG_URL="$probe"
    return 0
  fi
  echo "no PostgreSQL answers at $probe: starting a private throw-away cluster"
  ensure_postgres_binaries
  local started
  started="$(.venv/bin/python scripts/private_postgres.py start)"
  PRIVATE_PG_ROOT="${started#* }"
  trap stop_private_postgres EXIT
  export SIGAP_TEST_PG_URL="${started%% *}"
  .venv/bin/python scripts/check_postgres.py "$SIGAP_TEST_PG_URL"
}

stop_private_postgres() {
  if [ -n "$PRIVATE_PG_ROOT" ]; then
    .venv/bin/python scripts/private_postgres.py stop "$PRIVATE_PG_ROOT" || true
    PRIVATE_PG_ROOT=""
  fi
}

ensure_postgres_binaries() {
  if .venv/bin/python -c 'from tests.pgcluster import find_bindir; find_bindir()' 2>/dev/null; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL's server binaries are missing: install Debian's postgresql package" >&2
    return 1
  fi
  echo "installing Debian's postgresql package (server binaries for the private cluster)"
  # Only the binaries: no 'main' cluster started on 5432 behind the suite's back.
  mkdir -p /etc/postgresql-common
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
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
