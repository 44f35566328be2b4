"""Write docs/problems.md from app.errors.PROBLEM_TYPES (a test checks it is up to date)."""

from __future__ import annotations

import sys
from pathlib import Path

from app.errors import PROBLEM_TYPES

DOC = Path(__file__).resolve().parent.parent / "docs" / "problems.md"


def render() -> str:
    lines = [
        "# Problem types",
        "",
        "Every error (except the OAuth2 token endpoint, which answers as RFC 6749 says) is an",
        "RFC 9457 `application/problem+json` body: `type`, `title`, `status`, `detail`,",
        "`instance`, `retryable`, and for validation errors `errors` (one entry per field:",
        "`loc`, `msg`, `type`). `type` is stable; match on it, not on `title` or `detail`.",
        "`GET /problems` lists them all.",
        "",
        "**Retry?** tells the mobile app what to do. *Yes*: retry the same request with the same",
        "`Idempotency-Key` and body, with exponential backoff and jitter, honouring `Retry-After`.",
        "*No*: retrying the same request cannot succeed.",
        "",
        "| type | status | retry? | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for error in PROBLEM_TYPES:
        retry = "yes" if error.retryable else "no"
        meaning = error.description or error.title
        lines.append(f"| `{error.type_uri()}` | {error.status} | {retry} | {meaning} |")
    lines += [
        "",
        "What a press (`POST /v1/alerts`) can meet: `unauthenticated` (401), `forbidden` (403,",
        "a staff token on the press route), `idempotency-request-in-flight` (409),",
        "`body-too-large` (413), `idempotency-key-reused` (422), `internal-error` (500, a bug),",
        "`service-unavailable` (503). A press is never refused for its content: any body of at",
        "most 64 KB, even one that is not JSON, is recorded and its problems reported in the",
        "alert's `flags` (docs/intake.md); `malformed-json` and `validation-error` are for the",
        "other routes.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if DOC.read_text() == render() else 1)
    DOC.write_text(render())
