"""What one record costs as the day's file grows: 10 to 100,000 records.

Each measurement starts from a day prefilled as an earlier run leaves it: a
daily file in the exact format, whose records are copies of one the tracker
itself wrote. A new tracker then records calls into it with ``log_usage`` for
a couple of seconds, as fast as it can, while its background thread folds the
journal into the daily file as it does in production (about once a second,
less often when a fold is long). A record's cost is the wall time of the
calls over their number: the request path, with the folds competing for the
interpreter meanwhile. The final ``flush()`` is timed apart.

Two batches per day size and round, each on a fresh copy of the day:

- steady: the tracker has already read the day's file (one record and a
  flush, untimed), as in a process that has been running for a while;
- first: the tracker's first fold also reads the file, as a process that
  starts in the middle of a busy day does once.

Day sizes take turns within each round, so that the load of the machine
falls on all of them alike. Beside it, the naive ledger: for every call,
read and parse the whole file, append, and rewrite it atomically (temp file,
fsync, rename).

    .venv/bin/python bench/bench_day_size.py
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

import orjson
from _common import (
    DEPLOYMENT,
    MODEL,
    USAGE,
    Verdict,
    ms,
    settle,
    table,
    us,
    verdict_lines,
)

from token_tracking import TokenTracker

TARGET = 1.5
SIZES = (10, 1_000, 10_000, 100_000)
CALLS = 50_000
ROUNDS = 3
# The naive ledger rewrites the whole day per call: cap its calls where one
# call already takes a good part of a second.
NAIVE_CALLS = {10: 200, 1_000: 200, 10_000: 50, 100_000: 20}
CONTEXT = "Search Agent - Ludox 200mg (Step 1)"
EXTRA = {
    "endpoint": "chat",
    "deployment": DEPLOYMENT,
    "response_id": "chatcmpl-BenchA1b2C3d4E5f6G7h8I9j0K1l2",
    "stream": False,
    "duration_ms": 812.4,
}
# Every record of the run lands on one day whatever the wall clock does, so
# that a run across midnight does not start a fresh, small day.
NOON = datetime(2026, 1, 12, 12, 0, 0)
DAY = NOON.date()
FILE_NAME = f"{DAY:%d_%m_%Y}_total_tokens.json"


def _template() -> dict[str, Any]:
    """A record as the tracker writes it, to copy into prefilled days."""
    with tempfile.TemporaryDirectory() as folder:
        tracker = TokenTracker(folder, clock=lambda: NOON)
        record = tracker.log_usage(CONTEXT, MODEL, USAGE, extra=EXTRA)
        tracker.close()
    return record


def _document(day: date, details: list[dict[str, Any]]) -> bytes:
    cost = sum((Decimal(str(d["cost_usd"])) for d in details), Decimal(0))
    summary = {
        "total_calls": len(details),
        "total_input_tokens": sum(d["input_tokens"] for d in details),
        "total_output_tokens": sum(d["output_tokens"] for d in details),
        "total_cost_usd": float(cost.quantize(Decimal("1e-10"))),
        "currency": "USD",
        "unpriced_calls": 0,
    }
    document = {"date": f"{day:%d-%m-%Y}", "summary": summary, "details": details}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def _prefilled(size: int, template: dict[str, Any]) -> bytes:
    # The ids are those of a writer that has since exited.
    details = [{**template, "id": f"1f2e-0badcafe-{n}"} for n in range(1, size + 1)]
    return _document(DAY, details)


@dataclass
class _Costs:
    """What the batches into one size of day measured, in seconds."""

    size: int
    calls: list[float] = field(default_factory=list)
    steady: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    folds: list[float] = field(default_factory=list)
    problems: set[str] = field(default_factory=set)

    def measure(self, prefilled: bytes) -> None:
        """One steady batch and one first batch, each on a fresh day."""
        calls, per_record, fold = _batch(prefilled, self.size, self.problems)
        self.calls.append(calls)
        self.steady.append(per_record)
        self.folds.append(fold)
        self.first.append(_batch(prefilled, self.size, self.problems, first=True)[1])


def _batch(
    prefilled: bytes, size: int, problems: set[str], *, first: bool = False
) -> tuple[float, float, float]:
    """Seconds a call without the fold, a record with it, and the fold."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / FILE_NAME
        path.write_bytes(prefilled)
        tracker = TokenTracker(folder, clock=lambda: NOON)
        settle(tracker)
        if not first:
            tracker.log_usage(CONTEXT, MODEL, USAGE, extra=EXTRA)
            tracker.flush()
        gc.collect()
        log_usage = tracker.log_usage
        started = time.perf_counter()
        for _ in range(CALLS):
            log_usage(CONTEXT, MODEL, USAGE, extra=EXTRA)
        logged = time.perf_counter()
        tracker.flush()
        done = time.perf_counter()
        tracker.close()
        problem = _check(path, size + CALLS + (0 if first else 1))
        if problem:
            problems.add(problem)
    return (logged - started) / CALLS, (logged - started) / CALLS, done - logged


def _check(path: Path, expected: int) -> str:
    """Empty when the file holds every record exactly once."""
    details = orjson.loads(path.read_bytes())["details"]
    ids = len({d["id"] for d in details})
    if len(details) == ids == expected:
        return ""
    return f"{len(details)} records, {ids} ids, not {expected}"


def _naive(folder: Path, prefilled: bytes, size: int) -> float:
    """Seconds per record of the read-parse-append-rewrite ledger."""
    template = orjson.loads(prefilled)["details"][0]
    folder.mkdir()
    (folder / FILE_NAME).write_bytes(prefilled)
    path, temp = folder / FILE_NAME, folder / f".{FILE_NAME}.tmp"
    calls = NAIVE_CALLS[size]
    started = time.perf_counter()
    for number in range(calls):
        document = orjson.loads(path.read_bytes())
        record = {**template, "id": f"5eed-0naive00-{number}"}
        document["details"].append(record)
        summary = document["summary"]
        summary["total_calls"] += 1
        summary["total_input_tokens"] += record["input_tokens"]
        summary["total_output_tokens"] += record["output_tokens"]
        cost = Decimal(str(summary["total_cost_usd"])) + Decimal(
            str(record["cost_usd"])
        )
        summary["total_cost_usd"] = float(cost.quantize(Decimal("1e-10")))
        with open(temp, "wb") as file:
            file.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    return (time.perf_counter() - started) / calls


def run() -> list[Verdict]:
    """Measure, print the table and return the verdicts."""
    print("  day size: prefilling ...", file=sys.stderr, flush=True)
    template = _template()
    days = {size: _prefilled(size, template) for size in SIZES}
    costs = [_Costs(size) for size in SIZES]
    for number in range(ROUNDS):
        print(f"  day size: round {number + 1}", file=sys.stderr, flush=True)
        for cost in costs if number % 2 == 0 else reversed(costs):
            cost.measure(days[cost.size])
    print("  day size: naive ledger ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as root:
        naive = [
            _naive(Path(root) / f"naive-{size}", days[size], size) for size in SIZES
        ]
    return _report(costs, naive)


def _report(costs: list[_Costs], naive: list[float]) -> list[Verdict]:
    base = median(costs[0].steady)
    rows = [
        [
            f"{day.size:,}",
            us(median(day.steady)),
            f"x{median(day.steady) / base:.2f}",
            ms(median(day.folds)),
            us(median(day.first)),
            ms(naive_cost),
            "; ".join(sorted(day.problems)) or "ok",
        ]
        for day, naive_cost in zip(costs, naive, strict=True)
    ]
    print(
        table(
            f"Cost of a record by size of the day: {CALLS:,} log_usage calls a "
            f"batch, folds running, medians of {ROUNDS} rounds, sizes in turn",
            [
                "records in day",
                "steady/rec",
                "vs 10",
                "final flush",
                "first/rec",
                "naive/rec",
                "file",
            ],
            rows,
        )
    )
    print(
        "steady: wall time of the calls over their number, background folds "
        "included, for a tracker that has read the day's file already; final "
        "flush: the fold after the batch, off the request path; first: a "
        "fresh tracker, which reads the file in its first fold; naive: read, "
        "parse, append and rewrite the file for every record"
    )
    largest = median(costs[-1].steady)
    ratio = largest / base
    first = median(costs[-1].first) / median(costs[0].first)
    verdicts = [
        Verdict(
            "Record cost, 100,000-record day vs 10",
            f"<= x{TARGET:.1f}",
            f"x{ratio:.2f}: {us(largest)} vs {us(base)} a record (a fresh "
            f"tracker's first batch: x{first:.1f})",
            ratio <= TARGET,
        )
    ]
    print(verdict_lines(verdicts))
    return verdicts


if __name__ == "__main__":
    run()
