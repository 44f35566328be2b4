"""Pieces shared by every schema: strict input models and cursor pages."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from annotated_types import MaxLen
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

T = TypeVar("T")


class StrictInput(BaseModel):
    """Input on every route but the press: unknown fields and loose types are refused.

    Text is trimmed before it is checked, but a value longer than its published ``maxLength``
    as sent is refused even when trimming would shorten it: the OpenAPI description promises
    that, and clients (and schemathesis) hold the API to it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _not_longer_than_published(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and info.field_name is not None:
            metadata = cls.model_fields[info.field_name].metadata
            limit = min((m.max_length for m in metadata if isinstance(m, MaxLen)), default=None)
            if limit is not None and len(value) > limit:
                raise PydanticCustomError(
                    "string_too_long",
                    "String should have at most {max_length} characters",
                    {"max_length": limit},
                )
        return value


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page."
    )
