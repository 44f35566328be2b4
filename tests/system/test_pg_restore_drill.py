"""The PostgreSQL restore drill (scripts/pg_restore_drill.py) in a private cluster: a dump
restores into a new database that migrates, holds every row, verifies its audit trail, and gives
stream clients a new epoch. PostgreSQL only (it is PostgreSQL's backup); a private cluster, so
the drill's databases never touch the shared server."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy.engine import make_url

from tests.pgcluster import PgCluster
from tests.system.server import REPO, server_env

DRILL = REPO / "scripts" / "pg_restore_drill.py"


def _sigap(url: str, *argv: str, stdin: str = "") -> None:
    subprocess.run(
        [sys.executable, "-m", "app.cli", *argv], cwd=REPO, env=server_env(url), input=stdin,
        text=True, check=True, capture_output=True, timeout=120,
    )


def test_a_dump_restores_into_a_database_sigap_can_serve(private_cluster: PgCluster) -> None:
    source = private_cluster.create_database("sigap_source")
    _sigap(source, "migrate")
    _sigap(source, "reference", "load")
    for name in ("spv", "konselor.menteng"):
        role = ["--role", "supervisor", "--unit", "central"] if name == "spv" else [
            "--role", "counselor", "--unit", "3173020"]
        _sigap(source, "user", "create", name, *role, stdin="a long enough password\n")
    _sigap(source, "audit", "seal")
    scratch = make_url(source).set(database="sigap_drill").render_as_string(hide_password=False)

    drill = subprocess.run(
        [sys.executable, str(DRILL), "--from", source, "--into", scratch,
         "--bindir", str(private_cluster.bindir)],
        cwd=REPO, env=server_env(source), text=True, capture_output=True, timeout=300,
        check=False,
    )
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "drill: staff_user: 2 rows" in drill.stdout
    assert "stream epoch renewed" in drill.stdout
    assert "audit trail intact" in drill.stdout

    again = subprocess.run(
        [sys.executable, str(DRILL), "--from", source, "--into", scratch,
         "--bindir", str(private_cluster.bindir)],
        cwd=REPO, env=server_env(source), text=True, capture_output=True, timeout=300,
        check=False,
    )
    assert again.returncode != 0 and "a drill restores into a new one" in again.stderr
