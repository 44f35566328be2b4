"""Running real ``sigap serve`` processes against a test database."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
OPS_TOKEN = "system-operator-token-" + "m" * 24
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGAP_")}
    if not database_url.startswith("sqlite"):
        # The audit checkpoints of this database only (a SQLite file keeps its own beside it):
        # the default var/ file, shared by every test's PostgreSQL database, would make
        # `sigap audit verify` compare one database's trail with another's heads.
        digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        env["SIGAP_SECURITY__AUDIT_CHECKPOINT_FILE"] = str(
            Path(tempfile.gettempdir()) / f"sigap-test-audit-{digest}.jsonl"
        )
    env.update(
        {
            "SIGAP_DATABASE_URL": database_url,
            "SIGAP_SECURITY__SECRET_KEY": "system-test-secret-" + "s" * 40,
            "SIGAP_SECURITY__ENCRYPTION_KEYS": "k1:" + "B" * 43,
            "SIGAP_INTAKE__REGISTRATIONS_PER_NETWORK_PER_HOUR": "100000",
            "SIGAP_DB__POOL_SIZE": "4",
            "SIGAP_DB__MAX_OVERFLOW": "2",
            "SIGAP_LOG_LEVEL": "WARNING",
            "SIGAP_OPS__METRICS_TOKEN": OPS_TOKEN,
            # The production hashing cost, in threads at nice 19, took a sign-in to 5-20 s on a
            # 2-core machine busy with other work; these servers test flows, not password cost.
            "SIGAP_SECURITY__ARGON2_TIME_COST": "1",
            "SIGAP_SECURITY__ARGON2_MEMORY_COST_KIB": "64",
            "SIGAP_SECURITY__ARGON2_PARALLELISM": "1",
        }
    )
    return env


def start_server(
    database_url: str,
    *,
    port: int,
    workers: int = 1,
    log: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=REPO,
            env={**server_env(database_url), **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            # Its own process group, so stopping it reaches its workers too (a SIGKILL to the
            # supervisor alone leaves them running their loops beside the next tests).
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _kill_group(process)
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    _kill_group(process)
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


def stop_servers(*processes: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    """Stop servers as an operator would (SIGTERM, so they shut down cleanly), and kill what is
    left of each afterwards: one that outlives the timeout, and any worker it left behind."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
