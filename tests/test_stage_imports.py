"""The stages depend one way (STYLE.md, docs/architecture.md): an alert flows ingestion ->
dispatch -> realtime -> sla, and a later stage may call an earlier one, never the reverse; the
frame (models, db, errors, clock, config, events, states, tasks) depends on no stage; nothing but
the HTTP edge imports ``app.api``. An earlier stage that needs a later one to act queues work for
it (``app.tasks``, the outbox) instead of importing it."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
STAGES = ("ingestion", "dispatch", "realtime", "sla")
FRAME = ("models", "db", "errors", "clock", "config", "events", "states", "tasks")
EDGE = ("api", "console", "main")

KNOWN = {
    # The press and the dispatcher start, in their own transaction, the SLA clocks of the
    # states they stamp (docs/architecture.md), so the clocks run even while the monitor is
    # behind. Narrow on purpose: these two functions, from these two modules.
    ("app.ingestion.new_alert", "app.sla.clocks.clocks_at_receipt"),
    ("app.dispatch.worker", "app.sla.clocks.sync_alerts"),
}


def owner(module: str) -> str:
    """The top-level part of ``app`` a module belongs to (``app.dispatch.ladder`` -> dispatch)."""
    return module.split(".")[1]


def imports() -> list[tuple[str, str]]:
    """(importing module, imported name) for every absolute ``app.`` import, including those
    under ``TYPE_CHECKING`` and inside functions: a dependency all the same."""
    found = []
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if module != "app":  # app/__init__.py is no stage (and imports nothing)
                found += [(module, name) for name in names if name.startswith("app.")]
    return found


def test_no_stage_imports_a_later_stage() -> None:
    backwards = {
        (module, name)
        for module, name in imports()
        if owner(module) in STAGES
        and owner(name) in STAGES
        and STAGES.index(owner(name)) > STAGES.index(owner(module))
    }
    assert backwards - KNOWN == set(), "queue work through app.tasks or the outbox instead"
    # Also shows the scan finds what it looks for: a scan that saw nothing would pass.
    assert KNOWN - backwards == set(), "a known exception is gone: drop it from KNOWN"


def test_the_frame_imports_no_stage_and_only_the_edge_imports_the_api() -> None:
    leaks = {
        (module, name)
        for module, name in imports()
        if (owner(module) in FRAME and owner(name) in (*STAGES, "api"))
        or (owner(name) == "api" and owner(module) not in EDGE)
    }
    assert leaks == set()
