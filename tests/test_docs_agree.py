"""The docs and the README name only what exists: files, settings and routes.

An operator who copies a setting from docs/ and finds it ignored, or an integrator who calls a
route the docs promise and gets 404, has been misled by us. Each check reads every Markdown file
under docs/ and the README and compares what it names with the code itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from app.config import Settings
from app.main import create_app
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
CODE_DIRS = ("app", "tests", "scripts", "loadtests", "migrations")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _setting_names(model: type[BaseModel], prefix: str) -> tuple[set[str], set[str]]:
    """Every environment name a setting is read from, and those that take sub-keys (dicts)."""
    names: set[str] = set()
    dicts: set[str] = set()
    for field, info in model.model_fields.items():
        name = f"{prefix}{field.upper()}"
        annotation: Any = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            inner, inner_dicts = _setting_names(annotation, f"{name}__")
            names |= inner
            dicts |= inner_dicts
        else:
            names.add(name)
            if getattr(annotation, "__origin__", None) is dict:
                dicts.add(name)
    return names, dicts


def _code_text() -> str:
    parts = [_text(p) for d in CODE_DIRS for p in (REPO / d).rglob("*.py")]
    parts += [_text(REPO / name) for name in ("run", "test", "Dockerfile")]
    parts += [_text(p) for p in (REPO / "scripts").glob("*.sh")]
    return "\n".join(parts)


def test_every_named_file_exists() -> None:
    pattern = re.compile(
        r"`((?:app|docs|tests|scripts|loadtests|migrations)/[\w./-]+|README\.md|NOTICE)"
        r"(?::[\w.]+)?`"
    )
    link = re.compile(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)")
    missing = []
    for doc in DOCS:
        text = _text(doc)
        for name in pattern.findall(text):
            if not (REPO / name.rstrip("/")).exists():
                missing.append(f"{doc.relative_to(REPO)}: `{name}`")
        for target in link.findall(text):
            if not (doc.parent / target).exists():
                missing.append(f"{doc.relative_to(REPO)}: link ({target})")
    assert missing == []


def test_every_named_setting_is_read() -> None:
    names, dicts = _setting_names(Settings, "SIGAP_")
    code = _code_text()
    unknown = []
    for doc in DOCS:
        for name in set(re.findall(r"\bSIGAP_[A-Z0-9_]*[A-Z0-9]", _text(doc))):
            known = (
                name in names
                or any(name.startswith(f"{d}__") for d in dicts)  # a dict setting's key
                or any(n.startswith(f"{name}__") for n in names)  # a group: SIGAP_DISPATCH__…
            )
            # Not a setting, but a variable the tests or scripts read (SIGAP_TEST_PG_URL …).
            if not known and re.search(rf"\b{name}\b", code) is None:
                unknown.append(f"{doc.relative_to(REPO)}: {name}")
    assert sorted(unknown) == []


@pytest.fixture(scope="module")
def route_paths() -> set[str]:
    app = create_app(make_settings("sqlite:///unused.db"))
    paths = set(app.openapi()["paths"])
    for route in app.routes:  # and the routes left out of the description (the console's)
        router = getattr(route, "original_router", None)
        for inner in getattr(router, "routes", [route]):
            paths.add(getattr(inner, "path", ""))
    return {_shape(p) for p in paths if p.startswith("/v1/")}


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0].rstrip("/.,"))


def test_every_named_route_exists(route_paths: set[str]) -> None:
    named = re.compile(r"(?:GET|POST|PUT|PATCH|DELETE)\s+(/v1/[\w{}/.-]+)")
    unknown = []
    for doc in DOCS:
        for path in named.findall(_text(doc)):
            if "…" in path or "*" in path:
                continue
            if _shape(path) not in route_paths:
                unknown.append(f"{doc.relative_to(REPO)}: {path}")
    assert sorted(set(unknown)) == []


def test_product_docs_say_nothing_of_how_the_project_is_developed() -> None:
    # Words from the development process that reached the product's docs before.
    # PRODUCT.md is the developers' brief, not part of the repository a reader has.
    phrases = ("merge notes", "the lead", "fuzzer", "this session", "product.md")
    found = [
        f"{doc.relative_to(REPO)}: {phrase!r}"
        for doc in DOCS
        for phrase in phrases
        if phrase in _text(doc).lower()
    ]
    assert found == []


def test_the_published_api_description_says_nothing_of_how_it_is_tested() -> None:
    spec = create_app(make_settings("sqlite:///unused.db")).openapi()
    text = str(spec).lower()
    assert "fuzzer" not in text and "schemathesis" not in text


def test_the_settings_doc_is_generated_from_the_code() -> None:
    script = REPO / "scripts" / "gen_settings_docs.py"
    check = subprocess.run(
        [sys.executable, str(script), "--check"], cwd=REPO, capture_output=True, check=False
    )
    assert check.returncode == 0, "run: python scripts/gen_settings_docs.py"
