"""Yardstick for the intake benchmark: the least a durable press endpoint can do.

One FastAPI route, ``POST /alerts``, reads the same JSON body and ``Idempotency-Key`` header as
Sigap's press and commits one row (``INSERT ... ON CONFLICT (key) DO NOTHING``, autocommit, with
PostgreSQL's default ``synchronous_commit=on``), then answers 201. No authentication lookup, no
ORM, no location, outbox or idempotency record: its rate is the ceiling for this machine, server
framework and database, against which Sigap's rate is compared.

Configured from the environment and served by uvicorn like Sigap (same workers, uvloop,
httptools), e.g.::

    YARDSTICK_DATABASE_URL=postgresql://root@127.0.0.1:5432/bench \\
    YARDSTICK_POOL_MIN=5 YARDSTICK_POOL_MAX=10 \\
    .venv/bin/python -m uvicorn --app-dir loadtests yardstick_app:create_app --factory \\
        --port 8100 --workers 1 --loop uvloop --http httptools --no-access-log

``GET /readyz`` answers 200 once the pool is open and the table exists.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS yardstick_alert (
    key text PRIMARY KEY,
    device text NOT NULL,
    lat double precision,
    lon double precision,
    accuracy_m double precision,
    pressed_at timestamptz,
    received_at timestamptz NOT NULL
)
"""
INSERT = """
INSERT INTO yardstick_alert (key, device, lat, lon, accuracy_m, pressed_at, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (key) DO NOTHING
"""
_SCHEMA_LOCK = 0x5A5D  # advisory lock: several workers start at once


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _device(authorization: str | None) -> str:
    credential = (authorization or "").removeprefix("Bearer ").strip()
    return hashlib.sha256(credential.encode()).hexdigest()


async def _create_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
        await connection.execute(CREATE_TABLE)


def create_app() -> FastAPI:
    dsn = os.environ["YARDSTICK_DATABASE_URL"]
    pool_min = int(os.environ.get("YARDSTICK_POOL_MIN", "5"))
    pool_max = int(os.environ.get("YARDSTICK_POOL_MAX", "10"))
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            dsn, min_size=pool_min, max_size=pool_max, command_timeout=5
        )
        await _create_schema(pool)
        state["pool"] = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="Sigap intake yardstick", lifespan=lifespan, openapi_url=None)

    @app.post("/alerts", status_code=201)
    async def press(
        request: Request,
        idempotency_key: Annotated[str, Header(alias="Idempotency-Key")],
        authorization: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        document = json.loads(await request.body())
        location = document.get("location") or {}
        received_at = datetime.now(UTC)
        await state["pool"].execute(
            INSERT,
            idempotency_key,
            _device(authorization),
            _number(location.get("lat")),
            _number(location.get("lon")),
            _number(location.get("accuracy_m")),
            _timestamp(document.get("pressed_at")),
            received_at,
        )
        return JSONResponse(
            {"id": idempotency_key, "status": "received", "received_at": received_at.isoformat()},
            status_code=201,
            headers={"Location": f"/alerts/{idempotency_key}"},
        )

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        await state["pool"].fetchval("SELECT 1")
        return {"status": "ready"}

    return app
