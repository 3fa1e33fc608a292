"""Run every benchmark, print its table, then the Performance block.

A target missed is reported as MISS, never as a failing exit status: the
benchmarks measure, the tests decide. Progress goes to stderr, figures to
stdout.

    make bench
    .venv/bin/python bench/run_all.py
"""

from __future__ import annotations

import io
import os
import platform
import sys
import time

import bench_day_size
import bench_overhead
import bench_streaming
import bench_throughput
from _common import Verdict, markdown

BENCHMARKS = (bench_overhead, bench_day_size, bench_throughput, bench_streaming)


def main() -> None:
    # Tables should appear as each benchmark ends, also through a pipe.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    started = time.perf_counter()
    verdicts: list[Verdict] = []
    for benchmark in BENCHMARKS:
        print()
        verdicts += benchmark.run()

    missed = sum(not v.passed for v in verdicts)
    print()
    print(
        f"{len(verdicts) - missed} of {len(verdicts)} targets met in "
        f"{time.perf_counter() - started:.0f} s on {_machine()}"
    )
    print()
    print(markdown(verdicts))
    print()
    print("Measured with `make bench`.")


def _machine() -> str:
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()}"
    )


if __name__ == "__main__":
    main()
