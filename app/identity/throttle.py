"""Password sign-in throttling: a back-off on failures per account, and a limit per network.

In: the username as typed, the caller's network (``app.ratelimit.network_key``) and the time.
Out: an ``Admission`` to go on and verify the password, or ``SignInThrottled`` with the seconds
to wait; then the verdict, recorded.

- Each attempt is charged as a failure *before* the password is checked, in a transaction the
  caller commits before hashing. Concurrent attempts therefore see each other: fifty at once buy
  the attacker ``free_failures + 1`` guesses, not fifty. A success refunds the charge (only
  failures count).
- After ``free_failures`` consecutive failures each next try waits 1 s, 2 s, 4 s ... at most
  60 s. Nothing is ever locked: a correct password after the wait always works.
- Two counters per username: account-wide, and account-and-network. A network the account signed
  in from recently is judged on its own failures only, so an attacker elsewhere who knows a
  username cannot keep the on-call counselor at her post out; other networks are also held back
  by the account-wide counter, so spreading guesses over many addresses does not help.
- Every password attempt from a network counts against a generous per-network limit (a post's
  staff sit behind one NAT address), which stops spraying one guess over many usernames.
- State is keyed by a digest of the typed username whether or not the account exists, and the
  answers and the work done are the same, so the throttle reveals nothing about which accounts
  exist. The typed username is never stored (people type their password into it).
- Supervisors are told on the stream (``staff.sign_in_failures``) when an account's consecutive
  failures reach ``alert_failures``, and again at each doubling; ``GET /v1/sign-in-failures``
  lists accounts with recent failures (audited).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import SecuritySettings
from app.errors import RateLimited
from app.events import emit
from app.models import SignInThrottle, StaffUser
from app.ratelimit import enforce
from app.schemas.identity import SignInFailuresRead, SignInNetworkRead
from app.upsert import dialect_insert

FAILURES_EVENT = "staff.sign_in_failures"


@dataclass(frozen=True)
class SignInPolicy:
    free_failures: int = 3
    max_delay_s: int = 60
    trusted_for: timedelta = timedelta(days=30)
    per_network_limit: int = 100
    per_network_window: timedelta = timedelta(minutes=10)
    alert_failures: int = 10

    @classmethod
    def from_settings(cls, settings: SecuritySettings) -> SignInPolicy:
        return cls(
            free_failures=settings.signin_free_failures,
            max_delay_s=settings.signin_max_delay_s,
            trusted_for=timedelta(days=settings.signin_trusted_network_days),
            per_network_limit=settings.signin_per_network_limit,
            per_network_window=timedelta(seconds=settings.signin_per_network_window_s),
            alert_failures=settings.signin_alert_failures,
        )

    def delay_after(self, failures: int) -> timedelta:
        """How long the next try waits after ``failures`` consecutive failures."""
        over = failures - self.free_failures
        if over <= 0:
            return timedelta(0)
        return timedelta(seconds=min(self.max_delay_s, 2 ** min(over - 1, 16)))

    def tells_supervisors(self, failures: int) -> bool:
        """At the threshold, then at each doubling: a long attack is not a message a minute."""
        rounds, rest = divmod(failures, self.alert_failures)
        return rest == 0 and rounds > 0 and rounds & (rounds - 1) == 0


class SignInThrottled(Exception):
    def __init__(self, retry_after_s: int, reason: str) -> None:
        super().__init__(reason)
        self.retry_after_s = max(1, retry_after_s)
        self.reason = reason


@dataclass(frozen=True)
class Admission:
    account_key: str
    network_key: str
    failures: int
    """The account's consecutive failures, this attempt included (until it succeeds)."""


def _key(kind: str, *parts: str) -> str:
    return kind + ":" + hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def _seconds_until(at: datetime, now: datetime) -> int:
    return math.ceil((at - now).total_seconds())


async def admit(
    session: AsyncSession, *, username: str, network: str, policy: SignInPolicy, now: datetime
) -> Admission:
    """Charge one attempt, or raise SignInThrottled. The caller commits either way (a refused
    attempt still counts against its network), and before it verifies the password."""
    try:
        await enforce(
            session,
            key=f"signin:{network}",
            limit=policy.per_network_limit,
            window=policy.per_network_window,
            now=now,
        )
    except RateLimited as exc:
        raise SignInThrottled(
            int(exc.headers["Retry-After"]), "Too many sign-in attempts from this network."
        ) from exc
    account_key = _key("account", username)
    network_key = _key("network", username, network)
    account = await _locked_row(session, key=account_key, network=None, now=now)
    here = await _locked_row(session, key=network_key, network=network, now=now)
    trusted = here.last_success_at is not None and now - here.last_success_at <= policy.trusted_for
    judged_by = (here,) if trusted else (here, account)
    waits = [r.blocked_until for r in judged_by if r.blocked_until and r.blocked_until > now]
    if waits:
        raise SignInThrottled(
            _seconds_until(max(waits), now),
            "Too many wrong passwords for this account; wait before trying again.",
        )
    for row in (account, here):
        row.failures += 1
        delay = policy.delay_after(row.failures)
        row.blocked_until = now + delay if delay else None
        row.updated_at = now
    await session.flush()
    return Admission(account_key=account_key, network_key=network_key, failures=account.failures)


async def _locked_row(
    session: AsyncSession, *, key: str, network: str | None, now: datetime
) -> SignInThrottle:
    await session.execute(
        dialect_insert(session, SignInThrottle)
        .values(key=key, network=network, failures=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = await session.scalar(
        select(SignInThrottle)
        .where(SignInThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # inserted just above, and rows are only purged when long idle
    return row


async def record_failure(
    session: AsyncSession,
    *,
    admission: Admission,
    user: StaffUser | None,
    policy: SignInPolicy,
    now: datetime,
) -> None:
    """The charge stands. Note the time, tie the rows to the account if there is one, and tell
    supervisors when the account crosses a threshold."""
    values: dict[str, object] = {"last_failure_at": now, "updated_at": now}
    if user is not None:
        values["user_id"] = user.id
    await session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key.in_((admission.account_key, admission.network_key)))
        .values(**values)
    )
    if user is not None and policy.tells_supervisors(admission.failures):
        emit(
            session,
            FAILURES_EVENT,
            at=now,
            data={
                "user_id": str(user.id),
                "username": user.username,
                "failures": admission.failures,
            },
        )


async def record_success(
    session: AsyncSession, *, admission: Admission, user_id: uuid.UUID, now: datetime
) -> None:
    """Refund the charge: a correct password clears both counters and trusts this network."""
    cleared = {"failures": 0, "blocked_until": None, "user_id": user_id, "updated_at": now}
    await session.execute(
        update(SignInThrottle).where(SignInThrottle.key == admission.account_key).values(**cleared)
    )
    await session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == admission.network_key)
        .values(**cleared, last_success_at=now)
    )


async def recent_failures(
    session: AsyncSession, *, since: datetime, now: datetime, limit: int, trusted_for: timedelta
) -> list[SignInFailuresRead]:
    """Accounts that failed to sign in since ``since``, most recent first (``failures`` is 0
    again once the account has signed in since), with the networks the failures came from and
    the networks it is trusted on. Unknown usernames are not listed: nothing names them."""
    accounts = (
        await session.execute(
            select(SignInThrottle, StaffUser.username)
            .join(StaffUser, StaffUser.id == SignInThrottle.user_id)
            .where(
                SignInThrottle.network.is_(None),
                SignInThrottle.last_failure_at >= since,
            )
            .order_by(SignInThrottle.last_failure_at.desc())
            .limit(limit)
        )
    ).all()
    user_ids = [row.user_id for row, _ in accounts]
    networks: dict[uuid.UUID, list[SignInNetworkRead]] = {}
    if user_ids:
        rows = await session.scalars(
            select(SignInThrottle)
            .where(SignInThrottle.user_id.in_(user_ids), SignInThrottle.network.is_not(None))
            .order_by(SignInThrottle.last_failure_at.desc())
        )
        for row in rows:
            if row.user_id is None or row.network is None:
                continue
            trusted = row.last_success_at is not None and now - row.last_success_at <= trusted_for
            recent = row.last_failure_at is not None and row.last_failure_at >= since
            if not (recent or trusted):
                continue
            networks.setdefault(row.user_id, []).append(
                SignInNetworkRead(
                    network=row.network,
                    failures=row.failures,
                    last_failure_at=row.last_failure_at,
                    trusted=trusted,
                )
            )
    return [
        SignInFailuresRead(
            user_id=row.user_id,
            username=username,
            failures=row.failures,
            last_failure_at=row.last_failure_at,
            waiting_until=row.blocked_until
            if row.blocked_until and row.blocked_until > now
            else None,
            networks=networks.get(row.user_id, []),
        )
        for row, username in accounts
        if row.user_id is not None and row.last_failure_at is not None
    ]


async def purge_idle(session: AsyncSession, *, before: datetime) -> int:
    """Forget rows untouched since ``before`` (older than the trust period)."""
    result = await session.execute(delete(SignInThrottle).where(SignInThrottle.updated_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
