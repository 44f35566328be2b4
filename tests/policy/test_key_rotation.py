"""Key rotation re-encrypts every personal field, and leaves none on the retired key."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.context import AppContext
from app.models import Alert, AlertNote
from app.models.base import Base
from app.security.fields import KeyRing, new_key_spec
from app.security.rotation import COLUMNS, kid_of, rotate_keys
from tests.dispatch.staffing import drain
from tests.helpers import auth, press, press_body, staff_token


def test_every_encrypted_column_is_rotated() -> None:
    encrypted = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_enc")
    }
    assert encrypted == {spec.name for spec in COLUMNS}


async def test_rotation_rewrites_every_row_under_the_new_key(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    device = await client.post(
        "/v1/devices",
        json={"platform": "android", "app_version": "1.0", "contact": {"name": "Sari"}},
    )
    credential = device.json()["credential"]
    alert = await press(client, credential, press_body(context, contact={"name": "Sari"}))
    alert_id = alert.json()["id"]
    await drain(context)
    supervisor = await staff_token(client, context, "spv", "supervisor", "central")
    note = await client.post(
        f"/v1/alerts/{alert_id}/notes", json={"text": "called"}, headers=auth(supervisor)
    )
    assert note.status_code == 201, note.text
    new = new_key_spec("k-new")
    ring = KeyRing(f"{new},{context.settings.effective_encryption_keys}")
    report = await rotate_keys(context.sessions, ring, page=1)  # pages of one: the loop runs
    assert all(c["on_other_keys"] == 0 for c in report.values()), report
    assert report["alert.private_enc"]["rotated"] == 1
    assert report["alert_note.body_enc"]["rotated"] == 1
    assert report["device.contact_enc"]["rotated"] == 1
    only_new = KeyRing(new)  # the retired key can leave the ring now
    async with context.sessions() as session:
        row = (await session.scalars(select(Alert))).one()
        assert kid_of(row.private_enc or b"") == "k-new"
        only_new.decrypt(row.private_enc or b"", aad=f"alert.private:{row.id}")
        kept = (await session.scalars(select(AlertNote))).one()
        only_new.decrypt(kept.body_enc, aad=f"alert.note:{kept.alert_id}")
    again = await rotate_keys(context.sessions, ring)
    assert all(c["rotated"] == 0 for c in again.values())  # idempotent
