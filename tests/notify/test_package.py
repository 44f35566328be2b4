"""Notifications are a shared service: dispatch and the SLA monitor both use ``app.notify``, and
``app.notify`` depends on neither of them (nor on the HTTP edge)."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def imports_of(package: str) -> set[str]:
    found: set[str] = set()
    for path in (APP / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


def test_notify_depends_on_no_stage_that_uses_it() -> None:
    leaks = {
        name
        for name in imports_of("notify")
        if name.startswith(("app.dispatch", "app.sla", "app.api", "app.realtime"))
    }
    assert leaks == set()


def test_dispatch_and_sla_queue_through_the_notify_package() -> None:
    for stage in ("dispatch", "sla"):
        names = imports_of(stage)
        assert "app.notify" in names, stage
        assert not any(".notify" in n and not n.startswith("app.notify") for n in names), stage
