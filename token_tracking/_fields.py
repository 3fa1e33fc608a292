"""The fields a response body names, gathered as a reader finds them."""

from __future__ import annotations

from typing import Any

from ._usage import Usage

_REASON_CAP = 200


class Fields:
    """The values found so far; the first model and id win, the last usage."""

    __slots__ = ("error", "model", "response_id", "usage")

    def __init__(self) -> None:
        self.model: str | None = None
        self.response_id: str | None = None
        self.usage: Usage | None = None
        self.error: str | None = None

    def take(self, source: dict[str, Any]) -> None:
        if self.model is None:
            self.model = name(source.get("model"))
        if self.response_id is None:
            self.response_id = name(source.get("id"))
        usage = source.get("usage")
        if usage is None:
            return
        try:
            self.usage = Usage.parse(usage)
        except (TypeError, ValueError) as exc:
            self.fail(f"bad usage: {exc}")

    def fail(self, reason: str) -> None:
        # The first failure is usually the cause of any that follow.
        if self.error is None:
            self.error = reason[:_REASON_CAP]


def name(value: object) -> str | None:
    # Azure's first stream chunk and its content-filter annotations carry
    # "model": "" and "id": ""; an empty name is no name.
    return value if isinstance(value, str) and value else None


def describe(exc: Exception) -> str:
    """An exception as a short reason; never the body it came from."""
    return f"{type(exc).__name__}: {exc}"
