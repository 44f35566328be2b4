"""`sigap units …` and `sigap shift …` on a real database, through the same services as the API."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from app.cli import main
from app.context import AppContext
from app.models import Unit
from tests.helpers import make_staff


@pytest.fixture
def cli_env(context: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = context.settings
    monkeypatch.setenv("SIGAP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SIGAP_DEV", "1")
    secret = settings.security.secret_key.get_secret_value()
    monkeypatch.setenv("SIGAP_SECURITY__SECRET_KEY", secret)
    monkeypatch.setenv(
        "SIGAP_SECURITY__ENCRYPTION_KEYS", settings.security.encryption_keys.get_secret_value()
    )


async def test_units_list_finds_by_name_and_hours_sets_always_open(
    context: AppContext, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    async with context.sessions() as session:
        before = await session.scalar(select(Unit.updated_at).where(Unit.code == "3173020"))
    assert await run(["units", "list", "--find", "menteng"]) == 0
    out = capsys.readouterr().out
    assert "3173020" in out and "Menteng" in out and "Gambir" not in out
    try:
        assert await run(["units", "hours", "3173020", "--always-open"]) == 0
        assert "always open" in capsys.readouterr().out
        await run(["units", "list", "--find", "3173020"])
        assert "always open" in capsys.readouterr().out
        assert await run(["units", "hours", "nope", "--office"]) == 2
    finally:
        # Units are reference data shared by every test, and the dispatcher's cache is keyed by
        # the newest edit time: put both the hours and that time back.
        async with context.sessions() as session:
            await session.execute(
                update(Unit).where(Unit.code == "3173020").values(hours=None, updated_at=before)
            )
            await session.commit()


async def run(argv: list[str]) -> int:
    """The command runs its own event loop, so it runs in a thread here."""
    return await asyncio.to_thread(main, argv)


async def test_shift_add_list_and_end(
    context: AppContext, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_staff(context, "konselor.menteng", "counselor", "3173020")
    await make_staff(context, "konselor.gambir", "counselor", "3173080")
    capsys.readouterr()
    # Shifts are relative to now: the command reads the wall clock, as an operator would.
    assert await run(["shift", "add", "3173020", "konselor.menteng", "--hours", "2"]) == 0
    shift_id = capsys.readouterr().out.split()[1].rstrip(":")
    assert await run(["shift", "list", "3173020"]) == 0
    assert shift_id in capsys.readouterr().out
    # Someone of another post, a shift ending before it starts, a zone-less time: refused.
    assert await run(["shift", "add", "3173020", "konselor.gambir"]) == 2
    assert "not a member" in capsys.readouterr().err
    assert await run(["shift", "add", "3173020", "konselor.menteng", "--hours", "-1"]) == 2
    naive = ["--from", "2026-12-01T08:00"]
    assert await run(["shift", "add", "3173020", "konselor.menteng", *naive]) == 2
    assert "time zone" in capsys.readouterr().err
    assert await run(["shift", "end", shift_id]) == 0
    assert await run(["shift", "end", shift_id]) == 2
