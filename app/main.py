"""Application factory: settings → context (engine, sessions, keys, geo) → routes and loops."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from app import __doc__ as package_doc
from app import logredact
from app.api import (
    alert_trail,
    alert_work,
    alerts,
    assignments,
    attention,
    audit,
    auth,
    confidentiality,
    console_session,
    devices,
    drills,
    health,
    integrations,
    reference,
    rosters,
    sla,
    staff,
    stream,
    webhooks,
)
from app.api.middleware import EdgeMiddleware
from app.api.openapi import describe
from app.api.problems import install
from app.api.shedding import LoadShedder
from app.clock import Clock, SystemClock
from app.config import Settings, trusted_proxies_refusal
from app.console import routes as console
from app.context import AppContext
from app.db import create_engine, create_sessionmaker, is_postgresql, wait_out_outages
from app.dispatch.availability import PresenceSource, RosterOnly
from app.dispatch.worker import run_dispatcher, run_notifier
from app.geo.runtime import GeoService
from app.ingestion.housekeeping import purge_expired, refresh_geo
from app.integrations.handoff import announce_112, check_handoffs
from app.integrations.outbound import run_webhooks
from app.loops import GEO_REFRESH_S, HOUSEKEEPING_S, RETENTION_S, run_periodic
from app.notify import build_providers
from app.observability import (
    Metrics,
    configure_logging,
    count_database_work,
    forget_this_process,
)
from app.policy.retention import run_retention
from app.realtime.broker import Broker, LocalBroker, PostgresBroker, Throttled
from app.realtime.hub import REMOTE_WAKE_S, Hub, wake_work_loops
from app.realtime.presence import DatabasePresence, run_presence_flush
from app.realtime.relay import run_relay
from app.security.audit_chain import seal_audit
from app.security.fields import KeyRing
from app.security.hashing import SecretHasher
from app.security.tokens import TokenSigner
from app.sla.monitor import run_monitor
from app.watchdog import run_watchdog

log = logging.getLogger("sigap")
API_VERSION = "1.0.0"


class UnsafeSettings(RuntimeError):
    """Settings that must not run in production (refused unless SIGAP_DEV=1)."""


def build_context(settings: Settings, *, clock: Clock | None = None) -> AppContext:
    if not settings.dev:
        reasons = settings.unsafe_reasons()
        if reasons:
            raise UnsafeSettings("; ".join(reasons) + " (set SIGAP_DEV=1 only for development)")
    if not settings.effective_pin_peppers:
        # An existing deployment's .env from before peppers: intake goes on, PINs unpeppered.
        log.warning(
            "SIGAP_SECURITY__PIN_PEPPERS is not set: cancel and duress PINs are hashed without "
            "a pepper. Add the line `sigap secrets` prints for it to .env and restart; existing "
            "PIN hashes keep working and are re-peppered at their next use."
        )
    # `sigap serve` checks its flag too; this catches uvicorn started by hand.
    proxies = trusted_proxies_refusal(os.environ.get("FORWARDED_ALLOW_IPS"), settings)
    if proxies is not None:
        raise UnsafeSettings(proxies)
    engine = create_engine(settings)
    dispatch_wakeup, outbox_wakeup, sla_wakeup = asyncio.Event(), asyncio.Event(), asyncio.Event()
    notify_wakeup = asyncio.Event()

    def committed(tables: set[str]) -> None:
        if "outbox_event" in tables:
            outbox_wakeup.set()
        if "dispatch_task" in tables:
            dispatch_wakeup.set()
        if "notification" in tables:
            notify_wakeup.set()
        if tables & {"outbox_event", "sla_clock"}:  # state changes come with their events
            sla_wakeup.set()
        if settings.role == "intake" and tables & {"outbox_event", "dispatch_task"}:
            broker.poke()  # the worker processes number, route and time it: wake them now

    broker: Broker = LocalBroker()
    if is_postgresql(engine):
        broker = PostgresBroker(
            engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
            heartbeat_s=settings.realtime.listener_heartbeat_s,
        )
    metrics = Metrics()
    count_database_work(engine, metrics)
    presence: PresenceSource = RosterOnly()
    if settings.realtime.presence_required:
        presence = DatabasePresence(settings.realtime.presence_grace_s)
    return AppContext(
        settings=settings,
        clock=clock or SystemClock(),
        engine=engine,
        sessions=create_sessionmaker(engine, after_commit=committed),
        keyring=KeyRing(settings.effective_encryption_keys),
        hasher=SecretHasher(settings.security, peppers=settings.effective_pin_peppers),
        signer=TokenSigner(settings),
        geo=GeoService(settings.geo),
        metrics=metrics,
        notifiers=build_providers(settings.dispatch),
        presence=presence,
        broker=broker,
        dispatch_wakeup=dispatch_wakeup,
        outbox_wakeup=outbox_wakeup,
        sla_wakeup=sla_wakeup,
        notify_wakeup=notify_wakeup,
    )


async def start(context: AppContext) -> None:
    """Startup checks and warm-up, shared by the server's lifespan and the tests. A database
    that does not answer yet is waited for, never a reason to exit (``wait_out_outages``)."""
    health.log_unset_token(context)
    await wait_out_outages(lambda: _check_and_warm_up(context))


async def _check_and_warm_up(context: AppContext) -> None:
    async with context.engine.connect() as connection:
        if is_postgresql(context.engine):
            unsafe = []
            for name in ("fsync", "synchronous_commit"):
                value = (await connection.execute(text(f"SHOW {name}"))).scalar_one()
                if value == "off":
                    unsafe.append(f"PostgreSQL {name}=off")
            if unsafe and not context.settings.dev:
                raise UnsafeSettings(
                    ", ".join(unsafe) + ": acknowledged alerts could be lost in a crash"
                )
    async with context.sessions() as session:
        await context.geo.refresh(session, force=True)
    if context.geo.version < 0:
        log.warning("no reference data loaded: run `sigap reference load`")


class RoleRefused(RuntimeError):
    """A process role that cannot work with these settings (roles on SQLite)."""


def check_role(settings: Settings) -> None:
    if settings.role != "all" and settings.is_sqlite:
        raise RoleRefused(
            f"--role {settings.role} needs PostgreSQL: with SQLite one process does everything "
            "(its background loops wake on in-process events), so run it with --role all"
        )


def create_app(
    settings: Settings | None = None,
    *,
    context: AppContext | None = None,
    run_loops: bool = True,
    realtime: bool | None = None,
) -> FastAPI:
    """``run_loops``: the background loops (dispatcher, notifier, housekeeping); ``realtime``
    (default: the same): the relay, the hub and presence, which websockets need.

    ``settings.role`` narrows both: an ``intake`` process runs the hub and presence (its sockets
    live here; on PostgreSQL the hub follows the relay's NOTIFY from whichever process numbers
    events) and the reference refresh, and no work loop; a ``worker`` process runs the loops
    and the relay, and serves only ``/healthz``, ``/readyz`` and ``/metrics``."""
    settings = context.settings if context else (settings or Settings())
    check_role(settings)
    ctx = context or build_context(settings)
    logredact.install()
    configure_logging(settings.log_level)
    hub = Hub(ctx)
    role = settings.role
    with_realtime = run_loops if realtime is None else realtime
    with_hub = with_realtime and role != "worker"  # sockets are served where the hub is
    with_relay = with_realtime and role != "intake"
    with_work = run_loops and role != "intake"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start(ctx)
        tasks: list[asyncio.Task[None]] = []
        if with_hub:
            await hub.start()
            tasks.append(
                asyncio.create_task(
                    run_presence_flush(
                        ctx.sessions,
                        ctx.presence_tracker,
                        ctx.clock,
                        ctx.settings.realtime.presence_flush_s,
                        ctx.loop_heartbeats,
                    )
                )
            )
        listening = with_work and not with_hub and is_postgresql(ctx.engine)
        if listening:
            # A worker has no hub, but must hear the intake processes' announcements.
            ctx.broker.on_remote = Throttled(lambda: wake_work_loops(ctx), REMOTE_WAKE_S)
            await ctx.broker.start(lambda _head: None)
        if with_relay:
            tasks.append(asyncio.create_task(run_relay(ctx)))
        if run_loops:
            # Every role that serves presses keeps its reference data fresh (the press looks
            # places up in memory).
            tasks.append(
                asyncio.create_task(
                    run_periodic(
                        ctx, name="geo-refresh", interval_s=GEO_REFRESH_S, body=refresh_geo
                    )
                )
            )
        if with_work:
            tasks += [
                asyncio.create_task(
                    run_periodic(
                        ctx, name="housekeeping", interval_s=HOUSEKEEPING_S, body=purge_expired
                    )
                ),
                asyncio.create_task(
                    run_periodic(
                        ctx,
                        name="audit-sealer",
                        interval_s=ctx.settings.security.audit_seal_interval_s,
                        body=seal_audit,
                    )
                ),
                asyncio.create_task(
                    run_periodic(ctx, name="retention", interval_s=RETENTION_S, body=run_retention)
                ),
                asyncio.create_task(run_dispatcher(ctx)),
                asyncio.create_task(run_monitor(ctx)),
                asyncio.create_task(run_notifier(ctx)),
                asyncio.create_task(run_webhooks(ctx)),
                asyncio.create_task(
                    run_periodic(
                        ctx,
                        name="handoffs",
                        interval_s=ctx.settings.integrations.handoff_check_s,
                        body=check_handoffs,
                    )
                ),
            ]
            await announce_112(ctx)
        if tasks:  # watches this process's loops; not one of them (app/watchdog.py)
            tasks.append(asyncio.create_task(run_watchdog(ctx)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if with_hub:
                await hub.stop()
            elif listening:
                await ctx.broker.stop()
            if context is None:
                await ctx.engine.dispose()
                forget_this_process()

    serves_api = role != "worker"
    app = FastAPI(
        title="Sigap API",
        version=API_VERSION,
        summary="Panic-button emergency response for women and children at risk",
        description=package_doc or "",
        lifespan=lifespan,
        openapi_url="/openapi.json" if serves_api else None,
        docs_url=None,  # served from local files by app.console.routes
        redoc_url=None,
    )
    app.state.context = ctx
    app.state.hub = hub
    install(app)
    if serves_api:
        for module in (
            alerts,
            alert_work,
            attention,
            alert_trail,
            assignments,
            rosters,
            sla,
            devices,
            auth,
            console_session,
            drills,
            staff,
            reference,
            health,
            stream,
            console,
            integrations,
            webhooks,
            confidentiality,
            audit,
        ):
            app.include_router(module.router)
    else:
        app.include_router(health.worker_router)  # health and metrics only
    app.add_middleware(LoadShedder, context=ctx)  # inside the edge: its 503s are counted there
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.intake.max_body_bytes,
        metrics=ctx.metrics,
        hsts=settings.console.public_url.startswith("https://"),
    )
    app.openapi = lambda: describe(app)  # type: ignore[method-assign]
    return app
