"""The public names are the contract: exactly these, each documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import token_tracking
import token_tracking.testing

PUBLIC = {
    "AsyncTrackingTransport",
    "Price",
    "PriceBook",
    "TokenTracker",
    "TrackingTransport",
    "Usage",
    "__version__",
    "current_context",
    "instrument",
    "track",
    "tracking_context",
    "uninstrument",
}


def test_exported_members_are_the_contract() -> None:
    assert set(token_tracking.__all__) == PUBLIC
    for name in PUBLIC - {"__version__"}:
        member = getattr(token_tracking, name)
        assert member.__doc__, f"{name} has no docstring"
        assert member.__module__.startswith("token_tracking._")


def test_testing_module_exports_the_stand_in() -> None:
    assert {"StandInServer", "azure_or_stand_in"} <= set(token_tracking.testing.__all__)


def test_cli_prints_the_day(tmp_path: Path) -> None:
    with token_tracking.TokenTracker(tmp_path) as tracker:
        tracker.log_usage(
            "Search Agent - Step 1",
            "gpt-4o-mini",
            {"prompt_tokens": 500, "completion_tokens": 100},
        )
        day = tracker.read()["date"]
    result = subprocess.run(
        [sys.executable, "-m", "token_tracking", "--dir", str(tmp_path), "--date", day],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "1 calls, 500 input and 100 output tokens, $0.00013500" in result.stdout
    assert "Search Agent - Step 1" in result.stdout
    assert "gpt-4o-mini" in result.stdout


def test_cli_rejects_a_bad_date(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "token_tracking",
            "--dir",
            str(tmp_path),
            "--date",
            "2026-12-03",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "is not DD-MM-YYYY" in result.stderr


def test_report_lists_each_context_and_model(tmp_path: Path) -> None:
    with token_tracking.TokenTracker(tmp_path) as tracker:
        for context in ("Step 1", "Step 2", "Step 2"):
            tracker.log_usage(
                context, "gpt-4o-mini", {"prompt_tokens": 500, "completion_tokens": 100}
            )
        report = tracker.report()
    lines = report.splitlines()
    assert lines[0].endswith("3 calls, 1500 input and 300 output tokens, $0.00040500")
    assert any(line.split()[:4] == ["2", "1000", "200", "0.00027000"] for line in lines)
    assert lines[-1].startswith("file: ") and lines[-1].endswith("_total_tokens.json")
