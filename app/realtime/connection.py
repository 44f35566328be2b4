"""One ``/v1/stream`` websocket, from its first message to its close code (PRODUCT.md §6).

1. The first message must be ``{"type": "auth", "token": ..., "after"?, "epoch"?}`` within
   ``auth_timeout_s`` (4001 otherwise); nothing is sent before it succeeds. A token in the URL, a
   foreign browser origin or a refused token: 4003; an expired token: 4008; a malformed message:
   4400. Too many sockets from one network still authenticating, or already open for one
   credential (app/realtime/caps.py): 4029.
2. ``ready`` with the head and epoch; then, with ``after``, every later event the client may see,
   in order — or ``resync_required`` when that position is in another epoch or beyond the replay
   window — then live events.
3. ``ping`` -> ``pong`` (and a staff member's sign of life); a fresh ``auth`` extends the session;
   the token's expiry closes it (4008), a disabled account or revoked device within
   ``revalidate_s`` (4003); a client that falls behind the hub's backlog, or whose single send
   stalls, is closed (4009).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from app.access import DevicePrincipal, IntegratorPrincipal, Principal, StaffPrincipal
from app.context import AppContext
from app.db import is_outage
from app.identity.principal import authenticate_bearer
from app.policy.integrators import principal_scope
from app.ratelimit import network_key
from app.realtime.device_stream import device_head, needs_resync, replay_device
from app.realtime.epoch import stream_epoch
from app.realtime.hub import CLOSE_TOO_SLOW, Hub, Reader, encode, render
from app.realtime.scopes import Audience
from app.realtime.window import oldest_replayable
from app.security.credentials import DEVICE_PREFIX, digest
from app.waiting import woken

log = logging.getLogger("sigap.stream")
CLOSE_NO_AUTH = 4001
CLOSE_REFUSED = 4003
CLOSE_EXPIRED = 4008
CLOSE_MALFORMED = 4400
CLOSE_LEFT = 1000
"""The page holding the socket said it is going away (``POST /v1/stream/leave``)."""
CLEAN_CLOSES = frozenset({1000, 1001})
CLOSE_TOO_MANY = 4029
"""Too many sockets: from one network still authenticating, or open for one credential."""
CLOSE_TRY_AGAIN = 1013
"""RFC 6455's "try again later": the database did not answer; reconnect, resume with after."""
_URL_SECRETS = ("token", "access_token", "credential", "auth", "authorization", "jwt")


class Closing(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass
class Session:
    token: str
    principal: Principal
    expires_at: datetime | None


def audience_of(principal: Principal) -> Audience:
    if isinstance(principal, DevicePrincipal):
        return Audience(kind="device", device_id=principal.device.id)
    if isinstance(principal, IntegratorPrincipal):
        return Audience(
            kind="integrator", scopes=principal.scopes, client_scope=principal_scope(principal)
        )
    return Audience(
        kind="staff", role=principal.role, unit_id=principal.unit_id, unit_code=principal.unit_code
    )


def subject_of(principal: Principal) -> str:
    if isinstance(principal, DevicePrincipal):
        return f"device:{principal.device.id}"
    if isinstance(principal, IntegratorPrincipal):
        return f"client:{principal.client_id}"
    return f"staff:{principal.user_id}"


class StreamConnection:
    def __init__(self, websocket: WebSocket, context: AppContext, hub: Hub) -> None:
        self.ws, self.context, self.hub = websocket, context, hub
        self.settings = context.settings.realtime
        self.session: Session | None = None
        self.reader: Reader | None = None
        """This socket's cursor: the last sequence number it has dealt with."""
        self._send_lock = asyncio.Lock()
        self._left = False
        self._woken = asyncio.Event()
        """Wakes the watch: a fresh token, or a push from the hub (``_recheck``, ``_leaving``)."""
        self._recheck = False
        self._leaving = False
        self._clean = False
        """The person left (a close frame, sign-out, revoked): their presence ends at once."""
        self._network: str | None = None
        """Set while this socket counts against its network's unauthenticated cap."""
        self._subject: str | None = None
        """Set while this socket counts against its credential's cap."""

    async def serve(self) -> None:
        await self.ws.accept()
        try:
            self._check_handshake()
            self._wait_in_line()
            first = await self._first_message()
            self.session = await self._authenticate(first["token"])
            self._done_waiting()
            self._claim()
            await self._run(first)
        except Closing as closing:
            self._clean = closing.code in (CLOSE_LEFT, CLOSE_REFUSED)
            self._leave()  # at once: a close frame to a stuck client may never get out
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.ws.close(code=closing.code, reason=closing.reason)
        except WebSocketDisconnect as disconnect:
            # A close frame saying "done" (1000: the console's own close, on sign-out) or
            # "going away" (1001: the page closes) is a goodbye. Anything else, including
            # 1005/1006 (the connection lost without a close frame; servers differ in which they
            # report), is a drop: presence lasts the grace.
            self._clean = disconnect.code in CLEAN_CLOSES
            self._leave()
        except Exception as exc:
            # Never let it reach the HTTP error handlers, which would answer a socket with an
            # HTTP response (a second error): close it, and the client resumes from its cursor.
            self._leave()
            if is_outage(exc):
                log.warning("stream closed: database unavailable (%s)", type(exc).__name__)
                code, reason = CLOSE_TRY_AGAIN, "database unavailable: reconnect and resume"
            else:
                log.exception("stream closed on an unexpected error")
                code, reason = 1011, "internal error: reconnect and resume"
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.ws.close(code=code, reason=reason)
        finally:
            self._leave()

    def _wait_in_line(self) -> None:
        network = network_key(self.ws.client.host if self.ws.client else None)
        if not self.hub.caps.wait(network):
            log.warning("stream refused: too many unauthenticated sockets from %s", network)
            raise Closing(CLOSE_TOO_MANY, "too many unauthenticated sockets from your network")
        self._network = network

    def _done_waiting(self) -> None:
        if self._network is not None:
            self.hub.caps.done_waiting(self._network)
            self._network = None

    def _claim(self) -> None:
        assert self.session is not None
        subject = subject_of(self.session.principal)
        if not self.hub.caps.open(subject):
            limit = self.hub.caps.limit_for(subject)
            # Loud on purpose: a refused console is a counselor who may miss an alert.
            log.warning("stream refused: %s already holds %d open sockets", subject, limit)
            raise Closing(
                CLOSE_TOO_MANY, f"too many open streams for this account ({limit}): close one"
            )
        self._subject = subject

    def _check_handshake(self) -> None:
        if any(name in self.ws.query_params for name in _URL_SECRETS):
            raise Closing(CLOSE_REFUSED, "credentials go in the first message, never the URL")
        origin = self.ws.headers.get("origin")
        if origin is not None and not self._origin_allowed(origin):
            raise Closing(CLOSE_REFUSED, "origin not allowed")

    def _origin_allowed(self, origin: str) -> bool:
        if origin in self.context.settings.security.allowed_origins:
            return True
        return urlsplit(origin).netloc == self.ws.headers.get("host")  # the same site

    async def _first_message(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.settings.auth_timeout_s):
                raw = await self.ws.receive_text()
        except TimeoutError as exc:
            raise Closing(CLOSE_NO_AUTH, "no auth message in time") from exc
        message = _parse(raw)
        if message.get("type") != "auth" or not isinstance(message.get("token"), str):
            raise Closing(CLOSE_MALFORMED, 'the first message must be {"type": "auth", ...}')
        after, epoch = message.get("after"), message.get("epoch")
        if after is not None and (
            not isinstance(after, int) or isinstance(after, bool) or after < 0
        ):
            raise Closing(CLOSE_MALFORMED, "after must be a non-negative integer")
        if epoch is not None and not isinstance(epoch, str):
            raise Closing(CLOSE_MALFORMED, "epoch must be a string")
        return message

    async def _authenticate(self, token: str) -> Session:
        now = self.context.clock.now()
        async with self.context.sessions() as db:
            principal = await authenticate_bearer(
                db, token=token, signer=self.context.signer, now=now
            )
        expires_at = None if token.startswith(DEVICE_PREFIX) else self.context.signer.expiry(token)
        if principal is None:
            if expires_at is not None and expires_at <= now:
                raise Closing(CLOSE_EXPIRED, "token expired")
            raise Closing(CLOSE_REFUSED, "authentication refused")
        return Session(token=token, principal=principal, expires_at=expires_at)

    async def _run(self, first: dict[str, Any]) -> None:
        assert self.session is not None
        principal = self.session.principal
        phone = principal.device.id if isinstance(principal, DevicePrincipal) else None
        after, epoch = first.get("after"), first.get("epoch")
        oldest, restored = 0, False
        if after is not None:
            async with self.context.sessions() as db:
                if phone is None:
                    oldest = await oldest_replayable(self.hub, db, now=self.context.clock.now())
                # The database itself, not this process's memory of it: a restore or failover
                # since the hub started changes it too (app/realtime/epoch.py).
                restored = epoch is not None and epoch != await stream_epoch(db)
        # This process may lag the stream by a poll: catch up. From its return to joining there
        # is no await, so no batch can slip in between: "ready" names exactly the point where
        # replay ends and live delivery begins.
        await self.hub.pump()
        head = self.hub.head
        self.reader = self.hub.join(
            head,
            subject=subject_of(principal),
            token_digest=digest(self.session.token),
            recheck=self._push_recheck,
            left=self._push_left,
        )
        other_epoch = restored or (epoch is not None and epoch != self.hub.epoch)
        if phone is None:
            shown_head = head
            resync = after is not None and (other_epoch or after > head or after + 1 < oldest)
        else:
            # A phone's numbering is its own (app/realtime/device_stream.py), read as of the
            # position it just joined at, whatever the relay numbered since.
            shown_head, resync = await self._phone_position(phone, head, after, other_epoch)
        replay_from = after if after is not None and not resync else None
        if isinstance(principal, StaffPrincipal):
            self.context.presence_tracker.connected(principal.user_id, self.context.clock.now())
        self.context.metrics.stream_connections.inc()
        tasks = [
            asyncio.create_task(self._send(head, shown_head, resync, replay_from)),
            asyncio.create_task(self._receive()),
            asyncio.create_task(self._watch()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises Closing / WebSocketDisconnect
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _phone_position(
        self, device_id: uuid.UUID, head: int, after: int | None, other_epoch: bool
    ) -> tuple[int, bool]:
        """(the phone's own head as of ``head``, whether its ``after`` needs a resync)."""
        window = timedelta(hours=self.settings.replay_window_h)
        async with self.context.sessions() as db:
            shown_head = await device_head(db, device_id, upto=head)
            if after is None:
                return shown_head, False
            resync = other_epoch or await needs_resync(
                db,
                device_id,
                after=after,
                head=shown_head,
                window_starts=self.context.clock.now() - window,
            )
        return shown_head, resync

    async def _emit(self, text: str) -> None:
        async with self._send_lock:
            try:
                async with asyncio.timeout(self.settings.send_timeout_s):
                    await self.ws.send_text(text)
            except TimeoutError as exc:
                raise Closing(CLOSE_TOO_SLOW, "too slow: resume from your last seq") from exc

    async def _send(
        self, head: int, shown_head: int, resync: bool, replay_from: int | None
    ) -> None:
        """``head``: the deployment's position where live delivery begins; ``shown_head``: the
        same point on the numbering this client sees (a phone's own)."""
        assert self.session is not None
        audience = audience_of(self.session.principal)
        ready = {"type": "ready", "head_seq": shown_head, "epoch": self.hub.epoch}
        await self._emit(encode(ready))
        if resync:
            await self._emit(encode({"type": "resync_required", "head_seq": shown_head}))
        if replay_from is not None and audience.kind == "device":
            async for message in replay_device(
                self.context.sessions,
                audience,
                after=replay_from,
                upto=head,
                batch=self.settings.replay_batch,
            ):
                await self._emit(message)
        elif replay_from is not None:
            async for _seq, missed in self.hub.replay(audience, after=replay_from, upto=head):
                if missed is not None:
                    await self._emit(missed)
        reader = self.reader
        assert reader is not None
        while True:
            batch = self.hub.since(reader)
            if batch is None:
                raise Closing(CLOSE_TOO_SLOW, "too slow: resume from your last seq")
            if not batch:
                await self.hub.wait_beyond(reader.cursor)
                continue
            for delivered in batch:
                live = render(audience, delivered)
                if live is not None:
                    await self._emit(live)
                reader.cursor = delivered.event.seq

    async def _receive(self) -> None:
        while True:
            message = _parse(await self.ws.receive_text())
            kind = message.get("type")
            if kind == "ping":
                self._alive()
                await self._emit(encode({"type": "pong"}))
            elif kind == "auth" and isinstance(message.get("token"), str):
                await self._reauthenticate(message["token"])
            else:
                raise Closing(CLOSE_MALFORMED, "unknown message")

    async def _reauthenticate(self, token: str) -> None:
        assert self.session is not None
        fresh = await self._authenticate(token)
        if subject_of(fresh.principal) != subject_of(self.session.principal):
            raise Closing(CLOSE_REFUSED, "a session cannot change who it belongs to")
        if audience_of(fresh.principal) != audience_of(self.session.principal):
            raise Closing(CLOSE_REFUSED, "your role or unit changed: connect again")
        self.session = fresh
        if self.reader is not None:
            self.reader.token_digest = digest(fresh.token)
        self._alive()
        self._woken.set()

    def _alive(self) -> None:
        assert self.session is not None
        if isinstance(self.session.principal, StaffPrincipal):
            self.context.presence_tracker.alive(
                self.session.principal.user_id, self.context.clock.now()
            )

    def _push_recheck(self) -> None:
        self._recheck = True
        self._woken.set()

    def _push_left(self) -> None:
        self._leaving = True
        self._woken.set()

    async def _watch(self) -> None:
        """Close on token expiry, or on revocation: pushed by the hub when access changes
        (``access.changed``, in every process), and found by periodic revalidation otherwise."""
        assert self.session is not None
        while True:
            if self._leaving:
                raise Closing(CLOSE_LEFT, "the page was closed")
            if self._recheck:
                self._recheck = False
                await self._revalidate()
                continue
            device = isinstance(self.session.principal, DevicePrincipal)
            wait_s = self.settings.device_revalidate_s if device else self.settings.revalidate_s
            if self.session.expires_at is not None:
                left = (self.session.expires_at - self.context.clock.now()).total_seconds()
                if left <= 0:
                    raise Closing(CLOSE_EXPIRED, "token expired: send a fresh auth message")
                wait_s = min(wait_s, left)
            self._woken.clear()
            if await woken(self._woken, wait_s):
                continue  # a fresh token (recompute the deadline) or a push
            await self._revalidate()

    async def _revalidate(self) -> None:
        assert self.session is not None
        now = self.context.clock.now()
        if self.session.expires_at is not None and self.session.expires_at <= now:
            raise Closing(CLOSE_EXPIRED, "token expired: send a fresh auth message")
        try:
            async with self.context.sessions() as db:
                principal = await authenticate_bearer(
                    db, token=self.session.token, signer=self.context.signer, now=now
                )
        except Exception:  # the database is away: keep the socket, check again next round
            log.warning("stream revalidation postponed: database unavailable", exc_info=True)
            return
        if principal is None:
            raise Closing(CLOSE_REFUSED, "access revoked")
        if audience_of(principal) != audience_of(self.session.principal):
            raise Closing(CLOSE_REFUSED, "your role or unit changed: connect again")

    def _leave(self) -> None:
        if self._left:
            return
        self._left = True
        self._done_waiting()
        if self._subject is not None:
            self.hub.caps.close(self._subject)
            self._subject = None
        if self.reader is not None:
            self.hub.leave(self.reader)
            self.context.metrics.stream_connections.dec()
            if isinstance(self.session.principal if self.session else None, StaffPrincipal):
                assert self.session is not None
                principal = self.session.principal
                assert isinstance(principal, StaffPrincipal)
                self.context.presence_tracker.disconnected(principal.user_id, clean=self._clean)


def _parse(raw: str) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise Closing(CLOSE_MALFORMED, "messages are JSON objects") from exc
    if not isinstance(message, dict):
        raise Closing(CLOSE_MALFORMED, "messages are JSON objects")
    return message
