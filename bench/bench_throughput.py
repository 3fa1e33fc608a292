"""How many records a second reach one day's file, from one and four processes.

Each writer is a fresh process (``spawn``) with its own ``TokenTracker`` on
one shared folder. Once every writer is ready they start together, each
records its share with ``log_usage`` and then calls ``close()``, which folds
what is left into the day's file. The rate counts from the first record
anywhere to the last ``close()``. Afterwards the file must hold every record
exactly once, with no journal left behind. One and four writers take turns,
three times each, and the median run is reported.

    .venv/bin/python bench/bench_throughput.py
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from _common import MODEL, USAGE, Verdict, settle, table, verdict_lines

TARGET = 20_000
RECORDS = 25_000
WRITERS = (1, 4)
ROUNDS = 3
CONTEXT = "Search Agent - Ludox 200mg (Step 1)"
EXTRA = {"endpoint": "chat", "deployment": "gpt-4o-mini", "stream": False}
# One day for the whole run, so that a run across midnight cannot split it.
NOON = datetime(2026, 1, 12, 12, 0, 0)
FILE_NAME = f"{NOON:%d_%m_%Y}_total_tokens.json"


def _noon() -> datetime:
    return NOON


def _write(folder: str, records: int, start: Any, results: Any) -> None:
    """One writer process: get ready, wait for the others, record, close."""
    from token_tracking import TokenTracker

    tracker = TokenTracker(folder, clock=_noon)
    settle(tracker)
    log_usage = tracker.log_usage
    start.wait()
    began = time.perf_counter()
    for _ in range(records):
        log_usage(CONTEXT, MODEL, USAGE, extra=EXTRA)
    logged = time.perf_counter()
    tracker.close()
    results.put((began, logged, time.perf_counter()))


@dataclass(frozen=True)
class _Run:
    writers: int
    seconds: float
    logging: float
    check: str

    @property
    def records(self) -> int:
        return self.writers * RECORDS

    @property
    def rate(self) -> float:
        return self.records / self.seconds


def _run(writers: int) -> _Run:
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(writers + 1), context.Queue()
    with tempfile.TemporaryDirectory() as folder:
        processes = [
            context.Process(target=_write, args=(folder, RECORDS, start, results))
            for _ in range(writers)
        ]
        for process in processes:
            process.start()
        start.wait()
        # perf_counter is the system-wide monotonic clock on Linux, macOS and
        # Windows, so the writers' readings compare.
        times = [results.get(timeout=600) for _ in processes]
        for process in processes:
            process.join()
        check = _check(Path(folder), writers * RECORDS)
    began = min(t[0] for t in times)
    return _Run(
        writers,
        seconds=max(t[2] for t in times) - began,
        logging=max(t[1] for t in times) - began,
        check=check,
    )


def _check(folder: Path, expected: int) -> str:
    details = orjson.loads((folder / FILE_NAME).read_bytes())["details"]
    ids = len({d["id"] for d in details})
    journals = len(list(folder.glob(".*.journal")))
    if len(details) == ids == expected and not journals:
        return "ok"
    return f"{len(details)} records, {ids} ids, {journals} journals; not {expected}"


def run() -> list[Verdict]:
    """Measure, print the table and return the verdicts."""
    runs: dict[int, list[_Run]] = {writers: [] for writers in WRITERS}
    for number in range(ROUNDS):
        for writers in WRITERS if number % 2 == 0 else reversed(WRITERS):
            print(
                f"  throughput: round {number + 1}, {writers} process(es) ...",
                file=sys.stderr,
                flush=True,
            )
            runs[writers].append(_run(writers))
    # The run of median rate stands for its writer count.
    typical = {
        writers: sorted(done, key=lambda r: r.rate)[len(done) // 2]
        for writers, done in runs.items()
    }
    checks = {r.check for done in runs.values() for r in done}
    rows = [
        [
            str(r.writers),
            f"{r.records:,}",
            f"{r.logging:.2f} s",
            f"{r.seconds:.2f} s",
            f"{r.rate:,.0f}/s",
            ", ".join(f"{run.rate:,.0f}" for run in runs[r.writers]),
            "; ".join(sorted({run.check for run in runs[r.writers]})),
        ]
        for r in typical.values()
    ]
    print(
        table(
            f"Throughput into one day: {RECORDS:,} log_usage calls a process, "
            f"then close(); spawned processes, one folder; median of {ROUNDS} runs",
            [
                "processes",
                "records",
                "last logged",
                "last closed",
                "rate",
                "all runs",
                "file",
            ],
            rows,
        )
    )
    single, many = typical[WRITERS[0]], typical[WRITERS[-1]]
    verdicts = [
        Verdict(
            "Throughput, one process",
            f">= {TARGET:,} records/s",
            f"{single.rate:,.0f} records/s (4 processes: {many.rate:,.0f}/s)",
            single.rate >= TARGET and checks == {"ok"},
        )
    ]
    print(verdict_lines(verdicts))
    return verdicts


if __name__ == "__main__":
    run()
