"""The daily file: its name, its exact content, appends and exact sums."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage

from token_tracking import TokenTracker, _document
from token_tracking._ledger import read_day

STANDARD_KEYS = [
    "timestamp",
    "context",
    "model",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
]


def _file(tracker: TokenTracker, name: str = "12_01_2026_total_tokens.json") -> dict:
    tracker.flush()
    return orjson.loads((tracker.log_dir / name).read_bytes())


def test_exact_file_name_and_content_for_a_fixed_clock(tracker: TokenTracker) -> None:
    record = tracker.log_usage(
        "Search Agent - Ludox 200mg (Step 1)",
        "gpt-4o-mini",
        {"prompt_tokens": 500, "completion_tokens": 100, "total_tokens": 600},
    )
    tracker.flush()

    files = sorted(p.name for p in tracker.log_dir.iterdir() if p.suffix == ".json")
    assert files == ["12_01_2026_total_tokens.json"]
    document = orjson.loads((tracker.log_dir / files[0]).read_bytes())
    assert document == {
        "date": "12-01-2026",
        "summary": {
            "total_calls": 1,
            "total_input_tokens": 500,
            "total_output_tokens": 100,
            "total_cost_usd": 0.000135,
            "currency": "USD",
            "unpriced_calls": 0,
        },
        "details": [
            {
                "timestamp": "2026-01-12T10:00:00",
                "context": "Search Agent - Ludox 200mg (Step 1)",
                "model": "gpt-4o-mini",
                "input_tokens": 500,
                "output_tokens": 100,
                "total_tokens": 600,
                "cost_usd": 0.000135,
                "cached_input_tokens": 0,
                "reasoning_tokens": 0,
                "id": record["id"],
            }
        ],
    }
    assert list(document["details"][0])[:7] == STANDARD_KEYS
    assert list(document["summary"])[:5] == [
        "total_calls",
        "total_input_tokens",
        "total_output_tokens",
        "total_cost_usd",
        "currency",
    ]


def test_500_in_100_out_of_gpt_4o_mini_costs_0_000135(tracker: TokenTracker) -> None:
    record = tracker.log_usage(
        "Search Agent - Ludox 200mg (Step 1)",
        "gpt-4o-mini",
        {"prompt_tokens": 500, "completion_tokens": 100, "total_tokens": 600},
    )
    assert {k: record[k] for k in STANDARD_KEYS} == {
        "timestamp": "2026-01-12T10:00:00",
        "context": "Search Agent - Ludox 200mg (Step 1)",
        "model": "gpt-4o-mini",
        "input_tokens": 500,
        "output_tokens": 100,
        "total_tokens": 600,
        "cost_usd": 0.000135,
    }
    document = _file(tracker)
    assert document["summary"]["total_cost_usd"] == 0.000135
    assert document["details"][0]["cost_usd"] == 0.000135


def test_fifteen_calls_of_the_brief_sum_exactly(tracker: TokenTracker) -> None:
    # The brief's summary: 15 calls, 5000 in, 1000 out -> $0.00135.
    for i in range(15):
        tracker.log_usage(
            "ctx",
            "gpt-4o-mini",
            {
                "prompt_tokens": 500 if i < 10 else 0,
                "completion_tokens": 100 if i < 10 else 0,
            },
        )
    summary = _file(tracker)["summary"]
    assert summary["total_input_tokens"] == 5000
    assert summary["total_output_tokens"] == 1000
    assert summary["total_cost_usd"] == 0.00135


def test_cost_total_has_no_float_drift(
    tmp_path: Path, clock: Callable[[], datetime]
) -> None:
    prices = {"m": {"input": 0.1, "output": 0}}
    with TokenTracker(tmp_path, prices=prices, clock=clock) as tracker:
        for _ in range(3):
            # 1M input tokens at $0.1: three times 0.1 is 0.3, not 0.30000000000000004
            tracker.log_usage(
                None, "m", {"prompt_tokens": 1_000_000, "completion_tokens": 0}
            )
        assert _file(tracker)["summary"]["total_cost_usd"] == 0.3
    assert sum([0.1, 0.1, 0.1]) != 0.3  # what a float sum would have written


def test_sdk_usage_objects_and_both_dict_shapes(tracker: TokenTracker) -> None:
    chat = CompletionUsage(
        prompt_tokens=1000,
        completion_tokens=200,
        total_tokens=1200,
        prompt_tokens_details={"cached_tokens": 400},
        completion_tokens_details={"reasoning_tokens": 150},
    )
    responses = ResponseUsage(
        input_tokens=1000,
        output_tokens=200,
        total_tokens=1200,
        input_tokens_details={"cached_tokens": 400, "cache_write_tokens": 0},
        output_tokens_details={"reasoning_tokens": 150},
    )
    as_dict = responses.model_dump()
    records = [
        tracker.log_usage("c", "gpt-4o-mini", u) for u in (chat, responses, as_dict)
    ]

    for record in records:
        assert record["input_tokens"] == 1000
        assert record["cached_input_tokens"] == 400
        assert record["reasoning_tokens"] == 150
        # 600 fresh x 0.15 + 400 cached x 0.075 + 200 out x 0.60, per 1M;
        # reasoning tokens are inside the 200 and not billed again.
        # = (90 + 30 + 120) / 1M
        assert Decimal(str(record["cost_usd"])) == Decimal("0.00024")


def test_embeddings_cost_input_only(tracker: TokenTracker) -> None:
    record = tracker.log_usage(
        None,
        "text-embedding-3-small",
        {"prompt_tokens": 1_000_000, "total_tokens": 1_000_000},
    )
    assert record["output_tokens"] == 0
    assert record["cost_usd"] == 0.02


def test_unknown_model_is_recorded_unpriced_with_one_warning(
    tracker: TokenTracker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="token_tracking")
    for _ in range(3):
        record = tracker.log_usage(
            None, "acme-llm-9", {"prompt_tokens": 5, "completion_tokens": 1}
        )
        assert record["cost_usd"] is None
    warnings = [r for r in caplog.records if "acme-llm-9" in r.getMessage()]
    assert len(warnings) == 1
    assert "prices=" in warnings[0].getMessage()
    summary = _file(tracker)["summary"]
    assert summary["total_cost_usd"] == 0
    assert summary["unpriced_calls"] == 3


def test_appends_to_an_existing_hand_written_file(tracker: TokenTracker) -> None:
    path = tracker.log_dir / "12_01_2026_total_tokens.json"
    path.write_text(
        """{"date": "12-01-2026",
 "summary": {"total_calls": 1, "total_input_tokens": 500, "total_output_tokens": 100,
             "total_cost_usd": 0.000135, "currency": "USD"},
 "details": [{"timestamp": "2026-01-12T09:00:00", "context": "earlier run",
              "model": "gpt-4o-mini", "input_tokens": 500, "output_tokens": 100,
              "total_tokens": 600, "cost_usd": 0.000135}]}"""
    )
    tracker.log_usage(
        "now", "gpt-4o-mini", {"prompt_tokens": 500, "completion_tokens": 100}
    )
    document = _file(tracker)

    assert [d["context"] for d in document["details"]] == ["earlier run", "now"]
    assert document["summary"]["total_calls"] == 2
    assert document["summary"]["total_cost_usd"] == 0.00027


def test_sixteen_threads_lose_nothing(tracker: TokenTracker) -> None:
    def work(n: int) -> None:
        for i in range(200):
            tracker.log_usage(
                f"thread {n}",
                "gpt-4o-mini",
                {"prompt_tokens": i, "completion_tokens": 1},
            )

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    document = _file(tracker)
    details = document["details"]

    assert len(details) == 3200
    assert len({d["id"] for d in details}) == 3200
    summary = document["summary"]
    assert summary["total_calls"] == 3200
    assert summary["total_input_tokens"] == sum(d["input_tokens"] for d in details)
    assert summary["total_output_tokens"] == 3200
    exact = sum(Decimal(str(d["cost_usd"])) for d in details)
    assert Decimal(str(summary["total_cost_usd"])) == exact
    for n in range(16):
        mine = [d["input_tokens"] for d in details if d["context"] == f"thread {n}"]
        assert mine == list(range(200)), "each thread's calls keep their order"


def test_reader_sees_records_before_the_fold(tracker: TokenTracker) -> None:
    tracker.log_usage("c", "gpt-4o-mini", {"prompt_tokens": 1, "completion_tokens": 1})
    # Not flushed: the record sits in the journal, and readers merge it.
    assert tracker.summary(datetime(2026, 1, 12).date())["total_calls"] == 1
    assert read_day(tracker.log_dir, datetime(2026, 1, 12).date())["details"]


def test_utc_setting_dates_by_utc(tmp_path: Path) -> None:
    with TokenTracker(tmp_path, utc=True) as tracker:
        record = tracker.log_usage(
            None, "gpt-4o-mini", {"prompt_tokens": 1, "completion_tokens": 1}
        )
        tracker.flush()
    day = datetime.fromisoformat(record["timestamp"]).date()
    assert (tmp_path / f"{day:%d_%m_%Y}_total_tokens.json").exists()


@pytest.mark.parametrize(
    ("usage", "error", "message"),
    [
        (None, TypeError, "usage must be an openai usage object"),
        ("500 tokens", TypeError, "got str"),
        ({"tokens": 5}, TypeError, "'prompt_tokens'/'completion_tokens'"),
        ({"prompt_tokens": "500"}, ValueError, "expected a whole number"),
        ({"prompt_tokens": -1}, ValueError, "expected 0 or more"),
        ({"input_tokens": 5.5, "output_tokens": 1}, ValueError, "whole number"),
        (
            {"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}},
            ValueError,
            "cannot exceed",
        ),
    ],
)
def test_bad_usage_is_rejected_clearly(
    tracker: TokenTracker, usage: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        tracker.log_usage("c", "gpt-4o-mini", usage)
    assert tracker.summary(datetime(2026, 1, 12).date())["total_calls"] == 0


def test_bad_context_and_model_are_rejected(tracker: TokenTracker) -> None:
    with pytest.raises(TypeError, match="context must be a str"):
        tracker.log_usage(42, "gpt-4o-mini", {"prompt_tokens": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model must be a str"):
        tracker.log_usage("c", 4, {"prompt_tokens": 1})  # type: ignore[arg-type]


def test_default_tracker_reads_its_folder_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN_TRACKING_DIR", str(tmp_path / "from-env"))
    monkeypatch.setattr(TokenTracker, "_default", None)
    default = TokenTracker.default()
    try:
        assert default is TokenTracker.default()
        assert default.log_dir == tmp_path / "from-env"
        assert default.log_dir.is_dir()
    finally:
        default.close()


def test_one_record_a_line_and_growth_by_another_writer_is_read_incrementally(
    tmp_path: Path, clock: Callable[[], datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    grown: list[bool] = []
    original = _document._grown

    def spy(raw: bytes, known: _document.Day) -> _document.Day | None:
        result = original(raw, known)
        grown.append(result is not None)
        return result

    monkeypatch.setattr(_document, "_grown", spy)
    usage = {"prompt_tokens": 500, "completion_tokens": 100}
    with (
        TokenTracker(tmp_path, clock=clock) as first,
        TokenTracker(tmp_path, clock=clock) as second,
    ):
        for tracker in (first, second, first, second, first):
            tracker.log_usage(repr(tracker), "gpt-4o-mini", usage)
            tracker.flush()
        # Each writer found the file grown by the other one's lines.
        assert grown == [True, True, True]
    path = tmp_path / "12_01_2026_total_tokens.json"
    lines = path.read_text().splitlines()
    details = lines[lines.index('  "details": [') + 1 : -2]
    assert len(details) == 5
    assert all(orjson.loads(line.rstrip(",")) for line in details)
    document = orjson.loads(path.read_bytes())
    assert document["summary"]["total_calls"] == 5
    assert document["summary"]["total_cost_usd"] == 0.000675


def test_a_file_in_another_layout_is_read_whole_and_rewritten(
    tracker: TokenTracker,
) -> None:
    path = tracker.log_dir / "12_01_2026_total_tokens.json"
    path.write_bytes(
        orjson.dumps(
            {
                "date": "12-01-2026",
                "summary": {},
                "details": [{"context": "by hand", "input_tokens": 7, "cost_usd": 1}],
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    tracker.log_usage("c", "gpt-4o-mini", {"prompt_tokens": 1, "completion_tokens": 0})
    document = _file(tracker)
    assert [d["context"] for d in document["details"]] == ["by hand", "c"]
    assert document["summary"]["total_input_tokens"] == 8
    assert document["summary"]["total_cost_usd"] == 1.00000015
