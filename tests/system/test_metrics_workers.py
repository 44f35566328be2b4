"""``sigap serve --workers 2``: whichever worker answers a scrape, /metrics shows both workers'
loops and counters (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND, create_pg_database, drop_pg_database
from tests.system.server import OPS, free_port, start_server, stop_servers

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="several workers need PostgreSQL (SQLite runs one process)"
)
ENV = {"SIGAP_DB__POOL_SIZE": "2", "SIGAP_DB__MAX_OVERFLOW": "1"}
LOOP_PID = re.compile(
    r'sigap_background_loop_heartbeat_age_seconds\{loop="dispatcher",pid="(\d+)"\}'
)
REQUESTS = re.compile(
    r'sigap_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)'
)


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    url = await create_pg_database("sigap_metrics")
    yield url
    await drop_pg_database(url)


async def test_every_scrape_shows_both_workers(fresh_database: str, tmp_path: Path) -> None:
    port = free_port()
    server = start_server(
        fresh_database, port=port, workers=2, log=tmp_path / "server.log", env=ENV
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            for _ in range(20):
                await http.get("/healthz")
            pids: set[str] = set()
            deadline = time.monotonic() + 60
            while len(pids) < 2 and time.monotonic() < deadline:
                # One scrape, whichever worker answers it, names every worker's loops.
                pids = set(LOOP_PID.findall((await http.get("/metrics", headers=OPS)).text))
                if len(pids) < 2:
                    await asyncio.sleep(0.5)
            assert len(pids) == 2, (tmp_path / "server.log").read_text()[-2000:]
            # Counters are summed over the workers: all 20 probes, whoever served them.
            totals = [
                float(REQUESTS.findall((await http.get("/metrics", headers=OPS)).text)[0])
                for _ in range(4)
            ]
            assert all(total >= 20 for total in totals)
    finally:
        stop_servers(server, timeout_s=30)
