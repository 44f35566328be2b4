"""`sigap user …` on a real database: the same services as the API, audited as the OS account."""

from __future__ import annotations

import getpass
import io

import pytest
from sqlalchemy import select

from app.context import AppContext
from app.models import AuditEntry, StaffUser
from tests.api.test_cli_rosters import cli_env, run  # noqa: F401  (a fixture and a helper)

PASSWORD = "correct horse battery staple"


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))


async def _user(context: AppContext, username: str) -> StaffUser:
    async with context.sessions() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
        assert user is not None
        return user


async def test_create_list_disable_enable_and_set_role_are_audited_as_the_os_user(
    context: AppContext,
    cli_env: None,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stdin(monkeypatch, PASSWORD)
    assert await run(["user", "create", "konselor.menteng", "--role", "counselor",
                      "--unit", "3173020"]) == 0
    assert await run(["user", "list", "--unit", "3173020"]) == 0
    out = capsys.readouterr().out
    assert "konselor.menteng" in out and "counselor" in out and "active" in out
    assert "+07:00" in out  # the region's zone, as the console shows it, not UTC

    assert await run(["user", "disable", "konselor.menteng"]) == 0
    assert "disabled" in capsys.readouterr().out
    assert (await _user(context, "konselor.menteng")).disabled_at is not None
    assert await run(["user", "list", "--disabled"]) == 0
    assert "konselor.menteng" in capsys.readouterr().out
    assert await run(["user", "enable", "konselor.menteng"]) == 0
    assert (await _user(context, "konselor.menteng")).disabled_at is None

    # A supervisor cannot stay at the post (the account keeps its unit without --unit): refused
    # with the service's reason, and nothing changes; with the central desk it is taken.
    assert await run(["user", "set-role", "konselor.menteng", "--role", "supervisor"]) == 2
    assert "cannot belong to a post" in capsys.readouterr().err
    assert (await _user(context, "konselor.menteng")).role == "counselor"
    assert await run(["user", "set-role", "konselor.menteng", "--role", "supervisor",
                      "--unit", "central"]) == 0
    assert "supervisor at central" in capsys.readouterr().out
    assert (await _user(context, "konselor.menteng")).role == "supervisor"

    user = await _user(context, "konselor.menteng")
    async with context.sessions() as session:
        actors = set(
            (await session.scalars(
                select(AuditEntry.actor_id).where(AuditEntry.object_id == user.id)
            )).all()
        )
    assert actors == {f"cli:{getpass.getuser()}"}


async def test_lists_say_none_and_an_unknown_account_is_named(
    context: AppContext,
    cli_env: None,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await run(["user", "list", "--role", "paralegal"]) == 0
    assert capsys.readouterr().out.strip() == "none"
    assert await run(["integrator", "list"]) == 0
    assert capsys.readouterr().out.strip() == "none"
    assert await run(["units", "list", "--find", "no such place"]) == 0
    assert capsys.readouterr().out.strip() == "none matching 'no such place'"
    assert await run(["user", "disable", "nobody"]) == 2
    assert "no account 'nobody'" in capsys.readouterr().err


async def test_reset_password_replaces_it_and_ends_sign_ins(
    context: AppContext,
    cli_env: None,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stdin(monkeypatch, PASSWORD)
    assert await run(["user", "create", "admin2", "--role", "admin"]) == 0
    before = (await _user(context, "admin2")).password_hash
    _stdin(monkeypatch, "short")
    assert await run(["user", "reset-password", "admin2"]) == 2
    assert "password" in capsys.readouterr().err
    assert (await _user(context, "admin2")).password_hash == before
    _stdin(monkeypatch, "a different long passphrase")
    assert await run(["user", "reset-password", "admin2"]) == 0
    assert "every sign-in of the account has ended" in capsys.readouterr().out
    after = (await _user(context, "admin2")).password_hash
    assert after != before
    assert await context.hasher.verify(after, "a different long passphrase")


async def test_integrator_commands_are_audited_as_the_os_user(
    context: AppContext,
    cli_env: None,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["integrator", "create", "Polda Metro Jaya PPA", "--scope", "exports:read",
            "--data-scope", "police"]
    assert await run(argv) == 0
    client_id = capsys.readouterr().out.splitlines()[0].removeprefix("client_id=")
    assert await run(["integrator", "rotate", client_id]) == 0
    assert await run(["integrator", "revoke", client_id]) == 0
    async with context.sessions() as session:
        entries = (await session.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "integrator")
            .order_by(AuditEntry.id)
        )).all()
    assert [e.action for e in entries] == [
        "integrator.create", "integrator.rotate", "integrator.revoke"
    ]
    assert {e.actor_id for e in entries} == {f"cli:{getpass.getuser()}"}
    assert {e.detail["client_id"] for e in entries} == {client_id}
