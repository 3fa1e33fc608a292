"""Shared fixtures: a tracker on a temp folder with a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from token_tracking import TokenTracker, _observe, _tracker


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    """A clock that stands still until moved."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 1, 12, 10, 0, 0))


@pytest.fixture
def tracker(tmp_path: Path, clock: Clock) -> Iterator[TokenTracker]:
    with TokenTracker(tmp_path / "logs", clock=clock, prices_file=None) as t:
        yield t


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the once-per-process warnings afresh."""
    monkeypatch.setattr(_tracker, "_warned_models", set())
    monkeypatch.setattr(_observe, "_warned_no_usage", False)
    monkeypatch.setattr(_observe, "_last_logged", {})
    monkeypatch.delenv("TOKEN_TRACKING_PRICES", raising=False)
