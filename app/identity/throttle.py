"""Password sign-in throttling: a back-off on failures, judged per lane, so that an attacker who
knows a username cannot keep its owner out of her own console.

In: the username as typed, the caller's network (``app.ratelimit.network_key``), the device it
signs in from if known (``app.identity.device_cookies``) or a supervisor's one-time unlock, and
the time. Out: an ``Admission`` to go on and verify the password, or ``SignInThrottled`` with the
seconds to wait; then the verdict, recorded.

- **Lanes** (OWASP's device cookies). A browser or phone that signed in to the account before
  presents its device token: its failures count against that token only, and nothing that
  happens elsewhere delays it. Every other attempt is an *unknown device*: they share one lane
  per account, bounded — after ``free_failures`` consecutive failures each next try waits 1 s,
  2 s, 4 s ... at most ``max_delay_s``, and at ``lockout_failures`` the lane is locked for
  ``lockout`` (each further failure locks it again). A device token that failed
  ``lockout_failures`` times in a row is retired: it counts as unknown from then on. A
  supervisor's one-time unlock code is a lane of its own (``UNLOCK_FAILURES`` tries), the way in
  on a new phone while the unknown lane is locked; so is an admin's password reset, which clears
  the unknown lane (its failures were guesses at a password that no longer exists) and forgets
  every device token of the account.
- Each attempt is charged as a failure *before* the password is checked, in a transaction the
  caller commits before hashing. Concurrent attempts therefore see each other: fifty at once buy
  the attacker ``free_failures + 1`` guesses, not fifty. A success refunds the charge.
- Every unknown-device attempt from a network counts against a generous per-network limit (a
  post's staff sit behind one NAT address), which stops spraying one guess over many usernames.
  Known devices are not charged to it: sharing a NAT with an attacker does not keep them out.
- State is keyed by a digest of the typed username whether or not the account exists, and the
  answers and the work done are the same, so the throttle reveals nothing about which accounts
  exist. The typed username is never stored (people type their password into it). Per-network
  rows (username and network) are kept for the supervisors' list only: which networks the
  failures came from.
- Supervisors are told on the stream (``staff.sign_in_failures``) when a lane's consecutive
  failures reach ``alert_failures``, and again at each doubling; ``GET /v1/sign-in-failures``
  lists accounts with recent failures (audited).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import SecuritySettings
from app.errors import RateLimited
from app.events import emit
from app.models import SignInThrottle, SignInUnlock, StaffUser
from app.ratelimit import enforce
from app.schemas.identity import SignInFailuresRead, SignInNetworkRead
from app.upsert import dialect_insert

FAILURES_EVENT = "staff.sign_in_failures"


Lane = Literal["device", "unlock", "unknown"]
DEVICE_ROW = "device"
"""The ``network`` of a device token's row (it is no network): kept out of the networks list."""
UNLOCK_FAILURES = 5
"""Wrong passwords a one-time unlock code survives."""


@dataclass(frozen=True)
class SignInPolicy:
    free_failures: int = 3
    max_delay_s: int = 60
    trusted_for: timedelta = timedelta(days=30)
    per_network_limit: int = 100
    per_network_window: timedelta = timedelta(minutes=10)
    alert_failures: int = 10
    device_lifetime: timedelta = timedelta(days=180)
    lockout_failures: int = 10
    lockout: timedelta = timedelta(minutes=15)
    unlock_for: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: SecuritySettings) -> SignInPolicy:
        return cls(
            free_failures=settings.signin_free_failures,
            max_delay_s=settings.signin_max_delay_s,
            trusted_for=timedelta(days=settings.signin_trusted_network_days),
            per_network_limit=settings.signin_per_network_limit,
            per_network_window=timedelta(seconds=settings.signin_per_network_window_s),
            alert_failures=settings.signin_alert_failures,
            device_lifetime=timedelta(days=settings.signin_device_days),
            lockout_failures=settings.signin_lockout_failures,
            lockout=timedelta(seconds=settings.signin_lockout_s),
            unlock_for=timedelta(seconds=settings.signin_unlock_s),
        )

    def delay_after(self, failures: int, *, lane: Lane = "unknown") -> timedelta:
        """How long the next try in ``lane`` waits after ``failures`` consecutive failures."""
        if lane == "unknown" and failures >= self.lockout_failures:
            return self.lockout  # the unknown-devices lane is locked (known ones never are)
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
    lane: Lane
    lane_key: str | None
    """The throttle row charged (a device's or the account's unknown lane); None for an unlock."""
    network_key: str
    failures: int
    """The lane's consecutive failures, this attempt included (until it succeeds)."""
    unlock_id: uuid.UUID | None = None


def _key(kind: str, *parts: str) -> str:
    return kind + ":" + hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def _seconds_until(at: datetime, now: datetime) -> int:
    return math.ceil((at - now).total_seconds())


async def admit(
    session: AsyncSession,
    *,
    username: str,
    network: str,
    policy: SignInPolicy,
    now: datetime,
    device_nonce: str | None = None,
    unlock: SignInUnlock | None = None,
) -> Admission:
    """Charge one attempt to its lane, or raise SignInThrottled. The caller commits either way
    (a refused attempt still counts against its network), and before it verifies the password.

    ``device_nonce``: the nonce of a genuine device token for this account (verified by the
    caller); ``unlock``: a usable one-time unlock code's row, locked by the caller."""
    network_key = _key("network", username, network)
    here = await _locked_row(session, key=network_key, network=network, now=now)
    lane: Lane = "unknown"
    row: SignInThrottle | None = None
    if device_nonce is not None:
        row = await _locked_row(
            session, key=_key("device", device_nonce), network=DEVICE_ROW, now=now
        )
        if row.failures >= policy.lockout_failures:
            row = None  # retired: it failed too often, it is an unknown device now
        else:
            lane = "device"
    if row is None and unlock is not None:
        unlock.failures += 1  # refunded by a success, like every charge
        here.failures += 1
        here.updated_at = now
        await session.flush()
        return Admission("unlock", None, network_key, unlock.failures, unlock.id)
    if row is None:
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
        row = await _locked_row(session, key=_key("account", username), network=None, now=now)
    if row.blocked_until and row.blocked_until > now:
        raise SignInThrottled(
            _seconds_until(row.blocked_until, now),
            "Too many wrong passwords for this account from devices it has not signed in "
            "from; wait, or sign in from a device you used before."
            if lane == "unknown"
            else "Too many wrong passwords from this device; wait before trying again.",
        )
    row.failures += 1
    delay = policy.delay_after(row.failures, lane=lane)
    row.blocked_until = now + delay if delay else None
    row.updated_at = now
    here.failures += 1
    here.updated_at = now
    await session.flush()
    return Admission(lane, row.key, network_key, row.failures)


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
    supervisors when a lane crosses a threshold."""
    values: dict[str, object] = {"last_failure_at": now, "updated_at": now}
    if user is not None:
        values["user_id"] = user.id
    # One row at a time, the network's first, in the order admit() locks them: a single
    # UPDATE ... IN locks rows in whatever order it finds them, and under a flood of concurrent
    # attempts two transactions taking the same rows in opposite orders deadlock (PostgreSQL
    # then aborts one: the sign-in answers 503).
    for key in (admission.network_key, admission.lane_key):
        if key is not None:
            await session.execute(
                update(SignInThrottle).where(SignInThrottle.key == key).values(**values)
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
                "lane": admission.lane,
            },
        )


async def record_success(
    session: AsyncSession, *, admission: Admission, user_id: uuid.UUID, now: datetime
) -> None:
    """Refund the charge: a correct password clears its own lane (never another: a success on
    a known device leaves the unknown lane as the attacker left it) and spends an unlock."""
    cleared = {"failures": 0, "blocked_until": None, "user_id": user_id, "updated_at": now}
    if admission.lane_key is not None:
        await session.execute(
            update(SignInThrottle).where(SignInThrottle.key == admission.lane_key).values(**cleared)
        )
    if admission.unlock_id is not None:
        await session.execute(
            update(SignInUnlock).where(SignInUnlock.id == admission.unlock_id).values(used_at=now)
        )
    await session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == admission.network_key)
        .values(**cleared, last_success_at=now)
    )


async def forget_unknown_lane(session: AsyncSession, *, username: str) -> None:
    """An admin's password reset: the unknown lane's failures were guesses at the old password."""
    await session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == _key("account", username))
        .values(failures=0, blocked_until=None)
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
            .where(
                SignInThrottle.user_id.in_(user_ids),
                SignInThrottle.network.is_not(None),
                SignInThrottle.network != DEVICE_ROW,
            )
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
