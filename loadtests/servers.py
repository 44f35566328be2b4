"""Start the servers under test as subprocesses, wait until they are ready, stop them.

Each server runs in its own session (process group), so stopping it reaches its uvicorn workers
and nothing else. Output goes to a log file whose tail is shown when a server fails to start.

Because a server's process group is not the benchmark's, a benchmark killed mid-run would leave
its servers (and their throw-away databases) behind: ``run`` makes SIGTERM cancel the benchmark
like Ctrl-C, so its ``finally`` blocks stop the servers and drop the databases, and any server
still running when the benchmark exits is stopped by ``atexit``.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx

LOADTESTS = Path(__file__).resolve().parent
REPO = LOADTESTS.parent
T = TypeVar("T")


@dataclass(frozen=True)
class ServerSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    press_path: str

    def command(self) -> str:
        """The command line, with the environment variables that matter and secrets hidden."""
        shown = {k: "<random>" if "SECRET" in k or "KEYS" in k else v for k, v in self.env.items()}
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(shown.items()))
        return f"{prefix} {shlex.join(self.argv)}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


OPS_TOKEN = secrets.token_urlsafe(32)
"""The benchmark servers' operator credential (``/metrics``, ``/readyz`` details)."""


def sigap_spec(
    *, db_url: str, workers: int, pool_size: int, max_overflow: int, role: str = "all"
) -> ServerSpec:
    """``role``: ``sigap serve --role`` (``intake`` beside a ``worker`` measures the press alone
    while another process drains the work)."""
    port = free_port()
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    env = {
        "SIGAP_DATABASE_URL": db_url,
        "SIGAP_SECURITY__SECRET_KEY": secrets.token_urlsafe(48),
        "SIGAP_SECURITY__ENCRYPTION_KEYS": f"k1:{key}",
        "SIGAP_DB__POOL_SIZE": str(pool_size),
        "SIGAP_DB__MAX_OVERFLOW": str(max_overflow),
        "SIGAP_OPS__METRICS_TOKEN": OPS_TOKEN,  # bench_cost reads /metrics
    }
    argv = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    argv += ["--workers", str(workers), "--role", role]
    name = "sigap" if role == "all" else f"sigap-{role}"
    return ServerSpec(name, argv, env, port, "/v1/alerts")


def with_roles(spec: ServerSpec) -> tuple[ServerSpec, ServerSpec]:
    """Split a Sigap server into ``--role intake`` (this spec, measured) and a ``--role worker``
    process on its own port, with the same keys, that runs the background loops for it."""

    def role(argv: list[str], value: str) -> list[str]:
        at = argv.index("--role") + 1
        return [*argv[:at], value, *argv[at + 1 :]]

    port = free_port()
    worker_argv = [str(port) if a == str(spec.port) else a for a in spec.argv]
    intake = replace(spec, name="sigap-intake", argv=role(spec.argv, "intake"))
    worker = ServerSpec(
        "sigap-worker", role(worker_argv, "worker"), spec.env, port, spec.press_path
    )
    return intake, worker


def yardstick_spec(*, db_url: str, workers: int, pool_size: int, max_overflow: int) -> ServerSpec:
    port = free_port()
    env = {
        "YARDSTICK_DATABASE_URL": db_url,
        "YARDSTICK_POOL_MIN": str(pool_size),
        "YARDSTICK_POOL_MAX": str(pool_size + max_overflow),
    }
    # Sigap's uvicorn.run uses loop="auto" and http="auto", which pick uvloop and httptools
    # when installed (uvicorn[standard]); the yardstick names them, and matches the rest.
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(LOADTESTS)]
    argv += ["yardstick_app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers), "--loop", "uvloop", "--http", "httptools"]
    argv += ["--no-access-log", "--timeout-graceful-shutdown", "10"]
    return ServerSpec("yardstick", argv, env, port, "/alerts")


class RunningServer:
    def __init__(self, spec: ServerSpec, process: subprocess.Popen[bytes], log: Path) -> None:
        self.spec, self.process, self.log = spec, process, log

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the server's process group, then SIGKILL it if it is still there."""
        _running.discard(self)
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


class ServerFailed(RuntimeError):
    pass


def launch(spec: ServerSpec, workdir: Path) -> RunningServer:
    """Start in ``workdir`` (no stray ``.env`` is read), with the repository importable."""
    log = workdir / f"{spec.name}.log"
    env = os.environ | spec.env | {"PYTHONPATH": str(REPO)}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            spec.argv,
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = RunningServer(spec, process, log)
    _running.add(server)
    return server


_running: set[RunningServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_running):
        server.stop(timeout_s=10.0)


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` for a benchmark's main coroutine, with SIGTERM cancelling it like Ctrl-C
    (so its cleanup runs); exits with status 130 when it was interrupted."""

    async def guarded() -> T:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    try:
        return asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted (servers stopped, databases dropped)", file=sys.stderr)
        sys.exit(130)


async def wait_ready(server: RunningServer, timeout_s: float) -> float:
    """Poll ``GET /readyz`` until 200; returns the seconds it took. Raises ServerFailed."""
    started = time.monotonic()
    url = f"http://127.0.0.1:{server.spec.port}/readyz"
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() - started < timeout_s:
            if server.process.poll() is not None:
                raise ServerFailed(
                    f"{server.spec.name} exited with code {server.process.returncode} before "
                    f"it was ready. Last lines of {server.log}:\n{server.log_tail()}"
                )
            try:
                if (await client.get(url)).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise ServerFailed(
        f"{server.spec.name} was not ready after {timeout_s:.0f} s. "
        f"Last lines of {server.log}:\n{server.log_tail()}"
    )
