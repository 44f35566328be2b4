"""The data scope decision, table-driven and pure; the same decision as a query filter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.context import AppContext
from app.integrations.scope import ClientScope, may_see, visible_filter
from app.models import Alert

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def alert(**fields: object) -> Alert:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "is_drill": False,
        "handed_over_to": None,
        "transferred_at": None,
    }
    values.update(fields)
    return Alert(**values)


@pytest.mark.parametrize(
    ("scope", "facts", "partners", "sees"),
    [
        (ClientScope("112"), {"transferred_at": NOW}, (), True),
        (ClientScope("112"), {}, (), False),
        (ClientScope("112"), {"transferred_at": NOW, "is_drill": True}, (), False),
        (ClientScope("police"), {"handed_over_to": "police"}, (), True),
        (ClientScope("police"), {"handed_over_to": "shelter"}, (), False),
        (ClientScope("police"), {"transferred_at": NOW}, (), False),
        (ClientScope("transit", "transjakarta"), {}, ("transjakarta",), True),
        (ClientScope("transit", "mrt"), {}, ("transjakarta",), False),
        (ClientScope("transit", None), {}, ("transjakarta",), False),
        (ClientScope("none"), {"transferred_at": NOW, "handed_over_to": "police"}, (), False),
        (ClientScope("unknown"), {"transferred_at": NOW}, (), False),
    ],
)
def test_who_sees_which_alert(
    scope: ClientScope, facts: dict[str, object], partners: tuple[str, ...], sees: bool
) -> None:
    assert may_see(scope, alert(**facts), offered_partners=partners) is sees


async def test_the_query_filter_agrees_with_may_see(context: AppContext) -> None:
    async with context.sessions() as session:
        for scope in (ClientScope("112"), ClientScope("police"), ClientScope("none")):
            # Compiles and runs on this backend; with no alerts it selects nothing.
            assert list(await session.scalars(select(Alert.id).where(visible_filter(scope)))) == []
        transit = ClientScope("transit", "transjakarta")
        assert list(await session.scalars(select(Alert.id).where(visible_filter(transit)))) == []
