"""The fault harness's negative control (answer a press before commit) can never run in
production: refused outside ``environment=test``, and reported by the production check."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings

SECRETS = {
    "security": {"secret_key": "s" * 48, "encryption_keys": "k1:" + "B" * 43},
}


@pytest.mark.parametrize("environment", ["production", "development"])
def test_answering_before_commit_is_refused_outside_tests(environment: str) -> None:
    with pytest.raises(ValidationError, match="a 2xx means committed"):
        Settings(environment=environment, unsafe_answer_before_commit_s=1.0, **SECRETS)


def test_answering_before_commit_is_an_unsafe_reason_even_in_tests() -> None:
    settings = Settings(environment="test", unsafe_answer_before_commit_s=1.0, **SECRETS)
    assert any("BEFORE_COMMIT" in reason for reason in settings.unsafe_reasons())
    assert Settings(environment="test", **SECRETS).unsafe_reasons() == []
