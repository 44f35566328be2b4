"""What a run needs in the database before it starts, written straight in with COPY: phones
(one per operation, so no press joins another's alert), a supervisor, and a counselor on shift
at every post and the central desk, with every post open around the clock (the figures must not
depend on the hour)."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from app.config import SecuritySettings
from app.security.hashing import SecretHasher

PASSWORD = "fault harness password, long enough"


@dataclass(frozen=True)
class Staff:
    username: str
    role: str
    unit_code: str


async def seed_devices(url: str, count: int) -> list[str]:
    credentials = ["sgd_" + secrets.token_urlsafe(32) for _ in range(count)]
    now = datetime.now(UTC)
    records = [
        (uuid.uuid4(), hashlib.sha256(c.encode()).hexdigest(), "android", "faults", now, 0)
        for c in credentials
    ]
    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table(
            "device",
            records=records,
            columns=["id", "credential_hash", "platform", "app_version", "created_at",
                     "pin_failures"],
        )
    finally:
        await connection.close()
    return credentials


async def seed_staff(
    url: str, *, counselors: int
) -> tuple[list[Staff], list[tuple[float, float]]]:
    """A supervisor and a counselor at the central desk, a counselor at each of ``counselors``
    posts; returns them and the posts' locations (where the phones press: near a staffed post)."""
    hashed = SecretHasher(SecuritySettings()).hash_blocking(PASSWORD)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "UPDATE unit SET hours = $1::jsonb, updated_at = now() WHERE kind = 'post'",
            json.dumps({"always_open": True, "closed_on_holidays": False, "weekly": {}}),
        )
        central = await connection.fetchrow(
            "SELECT id, code FROM unit WHERE kind = 'central_desk' ORDER BY code LIMIT 1"
        )
        posts = await connection.fetch(
            "SELECT id, code, lat, lon FROM unit WHERE kind = 'post' AND active "
            "AND lat IS NOT NULL ORDER BY code LIMIT $1",
            counselors,
        )
        units = [central, *posts]
        now = datetime.now(UTC)
        rows = [(uuid.uuid4(), "faults.supervisor", hashed, "supervisor", central["id"], now)]
        staff = [Staff("faults.supervisor", "supervisor", central["code"])]
        for unit in units:
            name = f"faults.{unit['code']}"
            rows.append((uuid.uuid4(), name, hashed, "counselor", unit["id"], now))
            staff.append(Staff(name, "counselor", unit["code"]))
        await connection.copy_records_to_table(
            "staff_user",
            records=rows,
            columns=["id", "username", "password_hash", "role", "unit_id", "created_at"],
        )
        await connection.copy_records_to_table(
            "shift",
            records=[
                (uuid.uuid4(), r[4], r[0], now - timedelta(hours=1), now + timedelta(days=1), now)
                for r in rows
                if r[3] == "counselor"
            ],
            columns=["id", "unit_id", "staff_id", "starts_at", "ends_at", "created_at"],
        )
    finally:
        await connection.close()
    return staff, [(float(p["lat"]), float(p["lon"])) for p in posts]
