"""The ledger under load: many writers, a crash, midnight, and interpreter exit.

The multi-process tests drive real openai SDK clients through ``track()``
against a ``StandInServer`` in this process, and check every record by the
response id its worker saw come back.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import _workers
import orjson
import pytest

from token_tracking import TokenTracker
from token_tracking._ledger import read_day
from token_tracking.testing import StandInServer

DAY = _workers.DAY.date()
LEDGER = "12_01_2026_total_tokens.json"
USAGE = {"prompt_tokens": 10, "completion_tokens": 2}
spawn = multiprocessing.get_context("spawn")


@pytest.fixture
def server() -> Iterator[StandInServer]:
    with StandInServer() as running:
        yield running


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting")
        time.sleep(0.01)


def hammer(
    tmp_path: Path, server: StandInServer, name: str, **options: Any
) -> tuple[Any, Path]:
    """A started worker process and the file it reports its calls in."""
    report = tmp_path / f"{name}.ids"
    report.touch()
    process = spawn.Process(
        target=_workers.hammer,
        args=(str(tmp_path / "logs"), server.azure_endpoint, name),
        kwargs={"report": str(report), **options},
        name=name,
    )
    process.start()
    return process, report


def by_worker(document: dict[str, Any]) -> dict[str, list[str | None]]:
    """The response ids of a day's records, grouped by their worker's label."""
    found: dict[str, list[str | None]] = {}
    for detail in document["details"]:
        found.setdefault(detail["context"], []).append(detail.get("response_id"))
    return found


def journals(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.journal"))


@pytest.mark.slow
def test_processes_and_threads_lose_and_duplicate_nothing(
    tmp_path: Path, server: StandInServer
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    stop = spawn.Event()
    verdict = tmp_path / "reader.json"
    reader = spawn.Process(
        target=_workers.read_continuously, args=(str(logs / LEDGER), stop, str(verdict))
    )
    reader.start()
    # A short flush interval makes the three processes fold into the one file
    # many times a second, each under the day's lock, while the reader reads.
    workers = [
        hammer(
            tmp_path, server, f"worker {n}", threads=2, calls=75, flush_interval=0.02
        )
        for n in range(3)
    ]
    try:
        for process, _ in workers:
            process.join(timeout=60)
            assert process.exitcode == 0, f"{process.name} failed"
    finally:
        stop.set()
        reader.join(timeout=10)
        for process in [reader, *(process for process, _ in workers)]:
            process.kill()

    document = orjson.loads((logs / LEDGER).read_bytes())
    expected = {process.name: _workers.reported(ids) for process, ids in workers}
    assert {name: len(ids) for name, ids in expected.items()} == dict.fromkeys(
        expected, 150
    )
    found = by_worker(document)
    assert {name: sorted(ids) for name, ids in found.items()} == {
        name: sorted(ids) for name, ids in expected.items()
    }
    assert server.requests_seen == 450
    assert _workers.inconsistencies(document) == []
    assert journals(logs) == []
    assert read_day(logs, DAY) == document

    outcome = orjson.loads(verdict.read_bytes())
    assert outcome["problems"] == []
    assert outcome["reads"] > 10, "the reader never saw the file being written"


@pytest.mark.slow
def test_calls_returned_before_a_sigkill_are_not_lost(
    tmp_path: Path, server: StandInServer
) -> None:
    # The victim never folds on its own, so everything it recorded is in its
    # journal when it dies: what follows is the orphan journal's fold.
    victim, victim_ids = hammer(
        tmp_path, server, "victim", threads=2, calls=10_000, flush_interval=3600
    )
    survivor, survivor_ids = hammer(
        tmp_path, server, "survivor", threads=2, calls=100, flush_interval=0.02
    )
    try:
        wait_for(lambda: len(_workers.reported(victim_ids)) >= 40)
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
        survivor.join(timeout=60)
    finally:
        victim.kill()
        survivor.kill()
    assert victim.exitcode == -signal.SIGKILL
    assert survivor.exitcode == 0

    logs = tmp_path / "logs"
    returned = _workers.reported(victim_ids)
    recorded = by_worker(read_day(logs, DAY))
    assert set(returned) <= set(recorded["victim"])
    # A call may die between its journal line and its report line, one a thread.
    assert len(recorded["victim"]) - len(returned) <= 2
    assert sorted(recorded["survivor"]) == sorted(_workers.reported(survivor_ids))

    with TokenTracker(logs, clock=_workers.FrozenClock(_workers.DAY)) as tracker:
        tracker.log_usage("after", "gpt-4o-mini", USAGE)
        tracker.flush()
        document = orjson.loads((logs / LEDGER).read_bytes())

    in_file = by_worker(document)
    assert sorted(in_file["victim"]) == sorted(recorded["victim"])
    assert sorted(in_file["survivor"]) == sorted(recorded["survivor"])
    assert len(in_file["after"]) == 1
    assert _workers.inconsistencies(document) == []
    assert journals(logs) == []
    assert list(logs.glob("*.alive")) == [], "the dead writer's .alive was left"


def test_each_record_lands_in_the_file_of_its_own_day(tmp_path: Path) -> None:
    clock = _workers.FrozenClock(datetime(2026, 1, 12, 23, 59, 59))
    records: list[dict[str, Any]] = []
    start = threading.Barrier(5)
    with TokenTracker(tmp_path, clock=clock, flush_interval=0.01) as tracker:

        def work(n: int) -> None:
            start.wait()
            for _ in range(300):
                records.append(tracker.log_usage(f"thread {n}", "gpt-4o-mini", USAGE))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        start.wait()
        wait_for(lambda: len(records) >= 500)
        # Moved while four threads record and the flusher folds every 10 ms.
        clock.now = datetime(2026, 1, 13, 0, 0, 0)
        for thread in threads:
            thread.join()

    days = {
        "2026-01-12": "12_01_2026_total_tokens.json",
        "2026-01-13": "13_01_2026_total_tokens.json",
    }
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(days.values())
    for day, name in days.items():
        document = orjson.loads((tmp_path / name).read_bytes())
        mine = {r["id"] for r in records if r["timestamp"].startswith(day)}
        assert mine, f"no record was made on {day}"
        assert {d["id"] for d in document["details"]} == mine
        assert _workers.inconsistencies(document) == []
    assert len(records) == 1200
    assert journals(tmp_path) == []


class TickingClock:
    """A clock that moves one millisecond at each reading."""

    def __init__(self, start: datetime) -> None:
        self._next = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            now, self._next = self._next, self._next + timedelta(milliseconds=1)
        return now


def test_a_record_is_dated_by_one_reading_of_the_clock(tmp_path: Path) -> None:
    # A tracker that read the clock twice for one record could write it in
    # the file of the other day. With this clock no two readings are alike,
    # and midnight falls between two of them, half-way through the run.
    clock = TickingClock(datetime(2026, 1, 12, 23, 59, 59, 499_500))
    records: list[dict[str, Any]] = []
    with TokenTracker(tmp_path, clock=clock, flush_interval=0.01) as tracker:

        def work() -> None:
            for _ in range(250):
                records.append(tracker.log_usage("tick", "gpt-4o-mini", USAGE))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    for day in (DAY, DAY + timedelta(days=1)):
        document = read_day(tmp_path, day)
        mine = {r["id"] for r in records if r["timestamp"].startswith(f"{day}")}
        assert mine, f"no record was made on {day}"
        assert {d["id"] for d in document["details"]} == mine
    assert len(records) == 1000


# The child records and ends without close(); its tracker's flush interval is
# an hour, so only the exit hook can fold its journal into the file.
CHILD = """
import sys
from datetime import datetime
from token_tracking import TokenTracker

tracker = TokenTracker(
    sys.argv[1], clock=lambda: datetime(2026, 1, 12, 10), flush_interval=3600
)
for _ in range(3):
    tracker.log_usage("exit", "gpt-4o-mini", {"prompt_tokens": 10})
"""


@pytest.mark.parametrize(
    ("ending", "status"),
    [("", 0), ("sys.exit(3)", 3), ("raise RuntimeError('the app failed')", 1)],
    ids=["end-of-script", "sys.exit", "uncaught-exception"],
)
def test_exit_writes_pending_records_to_the_file(
    tmp_path: Path, ending: str, status: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD + ending, str(tmp_path)],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == status, done.stderr.decode()
    document = orjson.loads((tmp_path / LEDGER).read_bytes())
    assert document["summary"]["total_calls"] == 3
    assert journals(tmp_path) == []
    assert list(tmp_path.glob("*.alive")) == []


def test_close_twice_is_safe_and_the_tracker_can_be_used_again(
    tmp_path: Path,
) -> None:
    tracker = TokenTracker(tmp_path, clock=_workers.FrozenClock(_workers.DAY))
    tracker.log_usage("first", "gpt-4o-mini", USAGE)
    tracker.close()
    tracker.close()
    tracker.log_usage("again", "gpt-4o-mini", USAGE)
    tracker.close()
    tracker.close()

    document = orjson.loads((tmp_path / LEDGER).read_bytes())
    assert [d["context"] for d in document["details"]] == ["first", "again"]
    assert journals(tmp_path) == []
