"""A private, throw-away PostgreSQL cluster for fault tests: crash it without harming anyone.

The shared server on 5432 must never be stopped or reconfigured, so tests that crash the database
run their own cluster: ``initdb`` into a temporary directory, its own free TCP port on 127.0.0.1,
its unix socket inside that directory, trust authentication, ``fsync`` on (a crash test on a
cluster that may lose commits would prove nothing). PostgreSQL refuses to run as root, so when
we are root every command runs as the ``postgres`` user through ``runuser``.

    cluster = PgCluster()
    cluster.start()
    url = cluster.create_database("sigap_fault")   # a SQLAlchemy URL for Sigap
    cluster.crash()                                  # pg_ctl stop -m immediate: no checkpoint
    cluster.start()                                  # crash recovery, same port
    cluster.cleanup()                                # stop and delete everything

Usable as a context manager, from pytest fixtures (``private_cluster`` in tests/conftest.py) and
from scripts under loadtests/ (only the standard library and asyncpg are needed).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Literal

StopMode = Literal["smart", "fast", "immediate"]
SERVICE_USER = "postgres"


class ClusterError(RuntimeError):
    """The private cluster could not be created, started or stopped (the message says why)."""


def find_bindir() -> Path:
    """The directory of ``initdb``/``pg_ctl``: $SIGAP_PG_BINDIR, else the newest installed
    /usr/lib/postgresql/*/bin, else wherever ``pg_ctl`` is on PATH."""
    explicit = os.environ.get("SIGAP_PG_BINDIR")
    candidates = [Path(explicit)] if explicit else []
    candidates += sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: _version_key(p.parent.name),
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise ClusterError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's `postgresql` "
        "package or set SIGAP_PG_BINDIR"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """One private cluster. ``start`` creates it on first use; ``cleanup`` removes it."""

    def __init__(self, *, port: int | None = None, base_dir: str | Path | None = None) -> None:
        self.bindir = find_bindir()
        self.port = port or free_port()
        self._fixed_port = port is not None
        self._base_dir = Path(base_dir) if base_dir else None
        self.root: Path | None = None
        self._as_service_user = os.geteuid() == 0

    # -- where things are ----------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._root / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root / "socket"

    @property
    def log_file(self) -> Path:
        return self._root / "postgres.log"

    @property
    def admin_url(self) -> str:
        """A libpq/asyncpg URL of the ``postgres`` database, as the superuser (trust)."""
        return f"postgresql://{self._superuser}@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        """A SQLAlchemy URL of the ``postgres`` database (Sigap's SIGAP_DATABASE_URL form)."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql+asyncpg://{self._superuser}@127.0.0.1:{self.port}/{name}"

    @property
    def running(self) -> bool:
        if self.root is None or not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False)
        return result.returncode == 0

    # -- life cycle ----------------------------------------------------------------------------
    def start(self, *, timeout_s: float = 60.0) -> None:
        """Create the cluster on first use, then start it and wait until it accepts connections
        (after a crash that includes crash recovery)."""
        if self.root is None:
            self._init()
        for attempt in range(3):
            result = self._run(
                "pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file),
                "-w", "-t", str(int(timeout_s)), "-o", f"-p {self.port}",
                check=False,
            )
            if result.returncode == 0:
                return
            if self._port_taken() and not self._fixed_port and attempt < 2:
                self.port = free_port()  # someone took the port between our check and start
                continue
            raise ClusterError(f"pg_ctl start failed: {result.stdout}{self._log_tail()}")

    def stop(self, mode: StopMode = "fast") -> None:
        """``fast``: roll back sessions, checkpoint, exit. ``immediate``: exit at once, no
        checkpoint, as a power cut would (the next start runs crash recovery)."""
        if not self.running:
            return
        result = self._run(
            "pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60",
            check=False,
        )
        if result.returncode != 0 and self.running:
            raise ClusterError(f"pg_ctl stop -m {mode} failed: {result.stdout}")

    def crash(self) -> None:
        self.stop("immediate")

    def restart(self, mode: StopMode = "fast") -> None:
        self.stop(mode)
        self.start()

    def cleanup(self) -> None:
        """Stop (immediately: the data is thrown away anyway) and delete the directory."""
        if self.root is None:
            return
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PgCluster:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.cleanup()

    # -- databases -----------------------------------------------------------------------------
    def create_database(self, prefix: str = "sigap") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self._run("psql", "-h", str(self.socket_dir), "-p", str(self.port), "-U",
                  self._superuser, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc",
                  f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    # -- internals -----------------------------------------------------------------------------
    @property
    def _root(self) -> Path:
        if self.root is None:
            raise ClusterError("the cluster has not been created yet: call start()")
        return self.root

    @property
    def _superuser(self) -> str:
        return SERVICE_USER

    def _init(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="sigap-pg-", dir=self._base_dir))
        self.root = root
        (root / "socket").mkdir()
        if self._as_service_user:
            # The service user must own its directories; the temp dir's parent stays root's.
            root.chmod(0o755)
            for path in (root, root / "socket"):
                shutil.chown(path, user=SERVICE_USER, group=SERVICE_USER)
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", self._superuser, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-instructions",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "max_connections": "60",
            "shared_buffers": "'32MB'",
            "log_min_messages": "warning",
        }
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# sigap private test cluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / program), *args]
        if self._as_service_user:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        result = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.root or "/",
            check=False,
        )
        if check and result.returncode != 0:
            raise ClusterError(f"{program} failed ({result.returncode}): {result.stdout}")
        return result

    def _port_taken(self) -> bool:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", self.port))
            except OSError:
                return True
        return False

    def _log_tail(self) -> str:
        try:
            return "\n" + self.log_file.read_text()[-2000:]
        except OSError:
            return ""

