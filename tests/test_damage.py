"""Damaged files, crash debris and a folder that cannot be written."""

from __future__ import annotations

import errno
import logging
import os
import types
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import _workers
import openai
import orjson
import pytest

from token_tracking import TokenTracker, _files, _ledger, track
from token_tracking._ledger import read_day
from token_tracking.testing import StandInServer

DAY = _workers.DAY.date()
LEDGER = "12_01_2026_total_tokens.json"
USAGE = {"prompt_tokens": 10, "completion_tokens": 2}
DEAD = "1-deadbeef"  # a writer id with no live process behind it


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[TokenTracker]:
    clock = _workers.FrozenClock(_workers.DAY)
    # An hour between background folds: each test folds when it means to.
    with TokenTracker(tmp_path, clock=clock, flush_interval=3600) as tracking:
        yield tracking


@pytest.fixture
def server() -> Iterator[StandInServer]:
    with StandInServer() as running:
        yield running


def azure(server: StandInServer, tracker: TokenTracker) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=server.azure_endpoint,
        api_key="test",
        api_version=_workers.API_VERSION,
        http_client=track(openai.DefaultHttpxClient(), tracker=tracker),
        max_retries=0,
    )


def chat(client: openai.AzureOpenAI) -> str:
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=_workers.MESSAGES
    )
    return completion.id


def ledger(folder: Path) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((folder / LEDGER).read_bytes())
    assert _workers.inconsistencies(document) == []
    return document


def record(n: int) -> dict[str, Any]:
    """A record as a dead writer ``DEAD`` would have journaled it."""
    return {
        "timestamp": f"2026-01-12T09:00:{n:02}",
        "context": f"dead {n}",
        "model": "gpt-4o-mini",
        "input_tokens": 100,
        "output_tokens": 10,
        "total_tokens": 110,
        "cost_usd": 0.000021,
        "id": f"{DEAD}-{n}",
    }


def journal(folder: Path, number: int, data: bytes) -> Path:
    path = _files.journal_path(folder, DAY, DEAD, number)
    path.write_bytes(data)
    return path


def lines(*records: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b'{"date": "12-01-2026", "summary": {"total_calls": 2, "total_in',
        b"\xff\xfe\x00binary",
        b"[]",
        b'{"date": "12-01-2026", "details": {}}',
        b'{"details": [42]}',
        b'{"details": [{"id": "x", "cost_usd": "free"}]}',
        b'{"details": [{"id": "x", "input_tokens": 1.5}]}',
    ],
    ids=[
        "empty",
        "truncated",
        "binary",
        "a-list",
        "details-not-a-list",
        "detail-not-an-object",
        "cost-not-a-number",
        "tokens-not-whole",
    ],
)
def test_a_damaged_daily_file_is_moved_aside_and_tracking_goes_on(
    tracker: TokenTracker, caplog: pytest.LogCaptureFixture, damage: bytes
) -> None:
    folder = tracker.log_dir
    for _ in range(2):
        tracker.log_usage("before", "gpt-4o-mini", USAGE)
    tracker.flush()
    (folder / LEDGER).write_bytes(damage)
    kept = [tracker.log_usage("journaled", "gpt-4o-mini", USAGE) for _ in range(3)]
    caplog.set_level(logging.WARNING, logger="token_tracking")

    # A reader shows the journals and leaves the damaged file where it is.
    shown = read_day(folder, DAY)
    assert [d["id"] for d in shown["details"]] == [r["id"] for r in kept]
    assert (folder / LEDGER).read_bytes() == damage
    tracker.flush()

    asides = list(folder.glob(f"{LEDGER}.corrupt-*"))
    assert len(asides) == 1
    assert asides[0].read_bytes() == damage
    errors = messages(caplog, logging.ERROR)
    assert len(errors) == 1
    assert asides[0].name in errors[0]
    assert [d["id"] for d in ledger(folder)["details"]] == [r["id"] for r in kept]

    tracker.log_usage("after", "gpt-4o-mini", USAGE)
    tracker.flush()
    assert [d["context"] for d in ledger(folder)["details"]] == [
        *["journaled"] * 3,
        "after",
    ]
    assert len(messages(caplog, logging.ERROR)) == 1


def test_a_torn_or_damaged_journal_line_is_skipped_and_the_rest_kept(
    tracker: TokenTracker, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tracker.log_dir
    whole = lines(record(1), record(2))
    damaged = b'{"timestamp": "2026-01-12T09:00:03", "cont\x00\n'
    torn = orjson.dumps(record(4))[:40]
    journal(folder, 1, whole + damaged + lines(record(5)) + torn)
    caplog.set_level(logging.WARNING, logger="token_tracking")

    tracker.log_usage("live", "gpt-4o-mini", USAGE)
    tracker.flush()

    contexts = [d["context"] for d in ledger(folder)["details"]]
    assert contexts == ["dead 1", "dead 2", "dead 5", "live"]
    warnings = messages(caplog, logging.WARNING)
    assert any("damaged line" in w for w in warnings)
    assert any("incomplete last line" in w for w in warnings)
    assert not list(folder.glob(f".*{DEAD}*")), "the dead writer's files remain"


def test_folding_the_same_journal_twice_adds_nothing(
    tracker: TokenTracker,
) -> None:
    folder = tracker.log_dir
    records = [record(n) for n in range(1, 6)]
    journal(folder, 1, lines(*records))
    # Both copies are visible at once: the reader counts each id once too.
    journal(folder, 2, lines(*records))
    assert read_day(folder, DAY)["summary"]["total_calls"] == 5

    tracker.log_usage("live", "gpt-4o-mini", USAGE)
    tracker.flush()
    first = ledger(folder)
    journal(folder, 3, lines(*records))
    tracker.log_usage("live", "gpt-4o-mini", USAGE)
    tracker.flush()
    second = ledger(folder)

    assert first["summary"]["total_calls"] == 6
    assert second["summary"]["total_calls"] == 7
    assert second["details"][:6] == first["details"]


def test_a_half_written_temp_file_is_cleaned_up(tracker: TokenTracker) -> None:
    folder = tracker.log_dir
    tracker.log_usage("first", "gpt-4o-mini", USAGE)
    tracker.flush()
    complete = (folder / LEDGER).read_bytes()
    # What a writer killed in the middle of writing its next version leaves.
    debris = _files.tmp_path(folder, DAY, DEAD)
    debris.write_bytes(complete[: len(complete) // 2])

    tracker.log_usage("second", "gpt-4o-mini", USAGE)
    tracker.flush()

    assert not debris.exists()
    assert list(folder.glob(".*.tmp")) == []
    assert [d["context"] for d in ledger(folder)["details"]] == ["first", "second"]


def disk_full(monkeypatch: pytest.MonkeyPatch, *, partly: bool = False) -> None:
    """Make the ledger's writes fail as on a full disk.

    The tests run as root, whom chmod does not stop, so the failure is
    injected where the ledger writes: its journal appends (``os.write`` as
    ``_ledger`` sees it, leaving every other use of ``os.write`` in the
    process alone) and the daily file (``_files.write_durably``). With
    ``partly`` the first append writes half its bytes, as a real ``write``
    does when space runs out mid-way, and the next ones write nothing.
    """
    room_left = partly

    def write(fd: int, data: bytes) -> int:
        nonlocal room_left
        if room_left:
            room_left = False
            return os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write_durably(path: Path, pieces: list[bytes | bytearray]) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    full = types.SimpleNamespace(**{**vars(os), "write": write})
    monkeypatch.setattr(_ledger, "os", full)
    monkeypatch.setattr(_files, "write_durably", write_durably)


@pytest.mark.parametrize("partly", [False, True], ids=["no-write", "short-write"])
def test_a_full_disk_holds_records_then_writes_them_with_one_error(
    tmp_path: Path,
    server: StandInServer,
    caplog: pytest.LogCaptureFixture,
    partly: bool,
) -> None:
    caplog.set_level(logging.WARNING, logger="token_tracking")
    clock = _workers.FrozenClock(_workers.DAY)
    tracker = TokenTracker(tmp_path, clock=clock, flush_interval=3600, max_held=5)
    client = azure(server, tracker)
    try:
        with pytest.MonkeyPatch.context() as patch:
            disk_full(patch, partly=partly)
            # Every call succeeds whatever happens to its record.
            returned = [chat(client) for _ in range(8)]
            tracker.flush()
            tracker.flush()
            assert not (tmp_path / LEDGER).exists()
            assert tracker.dropped == 3
            assert len(messages(caplog, logging.ERROR)) == 1

        tracker.flush()
        recovered = ledger(tmp_path)
        later = chat(client)
        tracker.flush()
        final = ledger(tmp_path)
    finally:
        client.close()
        tracker.close()

    assert [d["response_id"] for d in recovered["details"]] == returned[:5]
    assert [d["response_id"] for d in final["details"]] == [*returned[:5], later]
    assert len(messages(caplog, logging.ERROR)) == 1
    recovery = [w for w in messages(caplog, logging.WARNING) if "works again" in w]
    assert len(recovery) == 1
    assert "3 records were dropped" in recovery[0]


def test_a_short_write_does_not_spoil_the_next_record(
    tracker: TokenTracker,
) -> None:
    # Space runs out half-way through one journal line and is back for the
    # next record, with no fold in between: the next line must not be glued
    # to the torn one, or both would be skipped as one damaged line.
    with pytest.MonkeyPatch.context() as patch:
        disk_full(patch, partly=True)
        torn = tracker.log_usage("torn", "gpt-4o-mini", USAGE)
    whole = tracker.log_usage("whole", "gpt-4o-mini", USAGE)
    tracker.flush()

    ids = {d["id"] for d in ledger(tracker.log_dir)["details"]}
    assert ids == {torn["id"], whole["id"]}


def test_a_log_dir_under_a_regular_file_holds_records_with_one_error(
    tmp_path: Path, server: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Another way to make a folder unwritable that root cannot bypass: its
    # parent is a regular file, so creating it fails with ENOTDIR.
    parent = tmp_path / "parent"
    parent.write_text("a file, not a folder")
    caplog.set_level(logging.WARNING, logger="token_tracking")
    clock = _workers.FrozenClock(_workers.DAY)
    tracker = TokenTracker(parent / "logs", clock=clock, flush_interval=3600)
    client = azure(server, tracker)
    try:
        returned = [chat(client) for _ in range(4)]
        tracker.flush()
        assert len(messages(caplog, logging.ERROR)) == 1
        assert tracker.dropped == 0

        parent.unlink()
        parent.mkdir()
        tracker.flush()
        recovered = ledger(parent / "logs")
    finally:
        client.close()
        tracker.close()

    assert [d["response_id"] for d in recovered["details"]] == returned
    assert len(messages(caplog, logging.ERROR)) == 1
    assert any("works again" in w for w in messages(caplog, logging.WARNING))


def test_a_journal_left_on_an_earlier_day_is_folded_by_the_next_writer(
    tmp_path: Path,
) -> None:
    # A process killed before midnight left this journal; nobody writes to
    # that day any more, so the next writer to start must fold it.
    earlier = tmp_path / ".11_01_2026_total_tokens.dead-00000000.1.journal"
    record = {
        "timestamp": "2026-01-11T23:59:59",
        "context": "last call of the day",
        "model": "gpt-4o-mini",
        "input_tokens": 500,
        "output_tokens": 100,
        "total_tokens": 600,
        "cost_usd": 0.000135,
        "id": "dead-00000000-1",
    }
    earlier.write_bytes(orjson.dumps(record) + b"\n")

    with TokenTracker(tmp_path, clock=lambda: datetime(2026, 1, 12, 9, 0)) as tracker:
        tracker.log_usage("today", "gpt-4o-mini", {"prompt_tokens": 1})

    document = orjson.loads((tmp_path / "11_01_2026_total_tokens.json").read_bytes())
    assert [d["id"] for d in document["details"]] == ["dead-00000000-1"]
    assert not earlier.exists()
