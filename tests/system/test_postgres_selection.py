"""``./test``'s choice of PostgreSQL (``select_postgres`` in scripts/lib.sh), on closed ports only:
the shared server on 5432 is never stopped to test this."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import BACKEND
from tests.pgcluster import free_port
from tests.system.server import REPO

SELECT = (
    'set -euo pipefail; source scripts/lib.sh; select_postgres; echo "chosen $SIGAP_TEST_PG_URL"; '
    '.venv/bin/python scripts/check_postgres.py "$SIGAP_TEST_PG_URL"'
)


def select(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SIGAP_TEST_PG")}
    return subprocess.run(
        ["bash", "-c", SELECT], cwd=REPO, env=base | env, capture_output=True, text=True,
        timeout=120, check=False,
    )


def test_a_given_url_that_does_not_answer_is_a_failure_not_a_skip() -> None:
    result = select(SIGAP_TEST_PG_URL=f"postgresql://root@127.0.0.1:{free_port()}/postgres")
    assert result.returncode != 0
    assert "does not answer" in result.stderr
    assert "chosen" not in result.stdout


@pytest.mark.skipif(BACKEND != "postgresql", reason="starts a PostgreSQL cluster")
def test_without_a_url_or_a_server_a_private_cluster_is_started_and_removed() -> None:
    result = select(SIGAP_TEST_PG_PROBE_URL=f"postgresql://root@127.0.0.1:{free_port()}/postgres")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "starting a private throw-away cluster" in result.stdout
    chosen = next(line for line in result.stdout.splitlines() if line.startswith("chosen "))
    assert chosen.startswith("chosen postgresql://postgres@127.0.0.1:")
    assert not chosen.endswith(":5432/postgres")
