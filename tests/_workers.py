"""What the processes of the load tests run, and the checks they share.

``multiprocessing`` with the spawn start method starts a fresh interpreter and
imports the target by its module name, so targets cannot live in a test file.
openai and token_tracking are imported inside the targets that use them: they
take a second to import, which the reader process has no need to pay.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from decimal import Decimal
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import orjson

API_VERSION = "2024-10-21"
# Every load test writes the same day, so a run that straddles a real
# midnight does not split its records over two files.
DAY = datetime(2026, 1, 12, 10, 0, 0)
MESSAGES = [{"role": "user", "content": "Count my tokens please"}]


class FrozenClock:
    """A clock that always tells ``now``; picklable, unlike a lambda."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def hammer(
    log_dir: str,
    endpoint: str,
    name: str,
    *,
    threads: int,
    calls: int,
    report: str,
    flush_interval: float,
) -> None:
    """Make ``calls`` chat calls on each of ``threads`` threads through a
    tracked ``AzureOpenAI`` client, labelled ``name``.

    Each response id is appended to ``report`` once its call has returned,
    in one ``os.write``, so a SIGKILL never leaves half a line.
    """
    import openai

    from token_tracking import TokenTracker, track, tracking_context

    tracker = TokenTracker(
        log_dir,
        clock=FrozenClock(DAY),
        flush_interval=flush_interval,
        prices_file=None,
    )
    client = openai.AzureOpenAI(
        azure_endpoint=endpoint,
        api_key="test",
        api_version=API_VERSION,
        http_client=track(openai.DefaultHttpxClient(), tracker=tracker),
        max_retries=0,
    )
    fd = os.open(report, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            with tracking_context(name):
                for _ in range(calls):
                    completion = client.chat.completions.create(
                        model="gpt-4o-mini", messages=MESSAGES
                    )
                    os.write(fd, f"{completion.id}\n".encode())
        except BaseException as exc:
            failures.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    os.close(fd)
    client.close()
    tracker.close()
    if failures:
        raise failures[0]


def read_continuously(path: str, stop: Event, result: str) -> None:
    """Parse the daily file at ``path`` over and over until ``stop`` is set,
    then write ``{"reads": n, "problems": [...]}`` to ``result``."""
    reads = 0
    problems: list[str] = []
    most = 0
    while not stop.is_set():
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            time.sleep(0.005)
            continue
        reads += 1
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problems.append(f"read {reads}: not JSON ({exc}), {len(raw)} bytes")
            continue
        found = inconsistencies(document)
        count = len(document["details"])
        if count < most:
            found.append(f"{count} details after {most} were seen")
        most = max(most, count)
        problems += [f"read {reads}: {problem}" for problem in found]
        time.sleep(0.002)
    Path(result).write_bytes(orjson.dumps({"reads": reads, "problems": problems}))


def inconsistencies(document: dict[str, Any]) -> list[str]:
    """What is wrong with a daily document: a summary that differs from the
    sums of its details, or an id seen twice. Empty when it is sound."""
    details = document["details"]
    summary = document["summary"]
    cost = sum(Decimal(str(d["cost_usd"])) for d in details if d["cost_usd"])
    expected = {
        "total_calls": len(details),
        "total_input_tokens": sum(d["input_tokens"] for d in details),
        "total_output_tokens": sum(d["output_tokens"] for d in details),
        "total_cost_usd": cost,
    }
    problems = [
        f"{key} is {summary[key]}, the details sum to {value}"
        for key, value in expected.items()
        if Decimal(str(summary[key])) != value
    ]
    ids = [d["id"] for d in details]
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} duplicated ids")
    return problems


def reported(path: Path) -> list[str]:
    """The response ids a worker reported, in the order its calls returned."""
    return path.read_text().split()
