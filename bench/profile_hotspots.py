"""Where tracking spends its time: cProfile over the paths the benchmarks time.

Not part of ``run_all.py``: run it when a benchmark misses its target, to see
which functions to look at. cProfile slows every Python call, so read the
shares, not the absolute times.

    .venv/bin/python bench/profile_hotspots.py
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import tempfile
from collections.abc import Callable
from pathlib import Path

import bench_day_size as day_size
import bench_overhead as overhead
from _common import MODEL, USAGE, settle

from token_tracking import TokenTracker

LINES = 14


def _profile(title: str, work: Callable[[], object], *, only: str = "") -> None:
    gc.collect()
    profile = cProfile.Profile()
    profile.enable()
    work()
    profile.disable()
    print(f"\n=== {title}")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime" if not only else "cumulative")
    stats.print_stats(*(only,) if only else (), LINES)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tracker = TokenTracker(folder)
        settle(tracker)
        clients = overhead._clients(tracker)
        tracked = clients["sync tracked"]
        overhead._sync_batch(tracked, streamed=True)
        for streamed in (False, True):
            kind = "streamed" if streamed else "plain"
            _profile(
                f"tracked SDK calls, sync {kind}: token_tracking by cumulative time",
                lambda s=streamed: [
                    overhead._sync_batch(tracked, s) for _ in range(30)
                ],
                only="token_tracking",
            )
        tracker.close()

    with tempfile.TemporaryDirectory() as folder:
        tracker = TokenTracker(folder)
        settle(tracker)
        _profile(
            "20,000 log_usage calls: functions by own time",
            lambda: [
                tracker.log_usage(day_size.CONTEXT, MODEL, USAGE) for _ in range(20_000)
            ],
        )
        tracker.close()

    prefilled = day_size._prefilled(100_000, day_size._template())
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / day_size.FILE_NAME).write_bytes(prefilled)
        tracker = TokenTracker(folder, clock=lambda: day_size.NOON)
        settle(tracker)
        for first in (True, False):
            for _ in range(day_size.CALLS):
                tracker.log_usage(day_size.CONTEXT, MODEL, USAGE)
            when = "first flush (reads the file)" if first else "a later flush"
            _profile(f"100,000-record day, {when}: by own time", tracker.flush)
        tracker.close()


if __name__ == "__main__":
    main()
