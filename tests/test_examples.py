"""The chat and FastAPI examples, run end to end against the local stand-in."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from token_tracking import TokenTracker
from token_tracking.testing import DEFAULT_REPLY, MESSAGE_OVERHEAD, StandInServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SERVED = "gpt-4o-mini-2024-07-18"
# gpt-4o-mini's pinned price, USD per token.
INPUT_PRICE = 0.15 / 1_000_000
OUTPUT_PRICE = 0.60 / 1_000_000
LUDOX = "Search Agent - Ludox 200mg"


@pytest.fixture(autouse=True)
def _no_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples fall back to a stand-in only when no Azure settings are set."""
    for name in (
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_API_VERSION",
        "AZURE_OPENAI_DEPLOYMENT",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def load_example(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Import a script of examples/, a folder that is not a package."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(
            f"examples.{name}", EXAMPLES / f"{name}.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # pydantic resolves the module's annotations through sys.modules.
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        return module

    return load


def assert_priced(details: list[dict[str, Any]]) -> None:
    for detail in details:
        assert detail["model"] == SERVED
        assert detail["input_tokens"] > 0
        assert detail["output_tokens"] == len(DEFAULT_REPLY.split())
        expected = (
            detail["input_tokens"] * INPUT_PRICE
            + detail["output_tokens"] * OUTPUT_PRICE
        )
        assert detail["cost_usd"] == pytest.approx(expected, abs=1e-10)


def test_sync_chat_records_each_step(
    load_example: Any, tracker: TokenTracker, capsys: pytest.CaptureFixture[str]
) -> None:
    load_example("sync_chat").main(tracker)

    ledger = tracker.read()
    details = ledger["details"]
    assert [d["context"] for d in details] == [f"{LUDOX} (Step 1)", f"{LUDOX} (Step 2)"]
    assert [d["deployment"] for d in details] == ["gpt-4o-mini"] * 2
    assert_priced(details)
    assert ledger["summary"]["total_calls"] == 2
    assert ledger["summary"]["total_input_tokens"] == sum(
        d["input_tokens"] for d in details
    )
    assert ": 2 calls," in capsys.readouterr().out


def test_async_chat_keeps_each_concurrent_step_under_its_label(
    load_example: Any, tracker: TokenTracker, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example("async_chat")

    example.main(tracker)

    details = tracker.read()["details"]
    # Each step asked its own question: its input tokens give it away.
    asked = {
        f"{LUDOX} (Step {n})": MESSAGE_OVERHEAD + len(question.split())
        for n, question in enumerate(example.QUESTIONS, start=1)
    }
    assert {d["context"]: d["input_tokens"] for d in details} == asked
    assert len(details) == 3
    assert_priced(details)
    assert ": 3 calls," in capsys.readouterr().out


def test_fastapi_app_labels_every_step_on_one_client(
    load_example: Any, tracker: TokenTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example("fastapi_app")
    made: list[Any] = []

    class CountedClient(example.AsyncAzureOpenAI):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            made.append(self)

    monkeypatch.setattr(example, "AsyncAzureOpenAI", CountedClient)

    with StandInServer() as server:
        app = example.create_app(server.azure_endpoint, "test-key", tracker)
        with TestClient(app) as http:
            found = http.post("/search", json={"drug": "Ludox 200mg"})
            summed = http.post(
                "/summarise", json={"drug": "Ludox 200mg", "text": "One a day."}
            )
            again = http.post("/search", json={"drug": "Amoxicillin 500mg"})
            assert len(made) == 1
            assert app.state.openai is made[0]
            assert not made[0].is_closed()
        assert made[0].is_closed()

    assert found.status_code == summed.status_code == again.status_code == 200
    assert found.json() == {
        "drug": "Ludox 200mg",
        "uses": DEFAULT_REPLY,
        "warnings": DEFAULT_REPLY,
    }
    assert summed.json() == {"drug": "Ludox 200mg", "summary": DEFAULT_REPLY}
    details = tracker.read()["details"]
    assert len(details) == server.requests_seen == 5
    assert [d["context"] for d in details] == [
        f"{LUDOX} (Step 1)",
        f"{LUDOX} (Step 2)",
        f"{LUDOX} (Step 3)",
        "Search Agent - Amoxicillin 500mg (Step 1)",
        "Search Agent - Amoxicillin 500mg (Step 2)",
    ]
    assert_priced(details)


def test_fastapi_app_without_credentials_runs_its_own_stand_in(
    load_example: Any, tracker: TokenTracker
) -> None:
    app = load_example("fastapi_app").create_app(None, None, tracker)

    with TestClient(app) as http:
        response = http.post("/search", json={"drug": "Ludox 200mg"})
        client = app.state.openai

    assert response.status_code == 200
    assert client.is_closed()
    contexts = [d["context"] for d in tracker.read()["details"]]
    assert contexts == [f"{LUDOX} (Step 1)", f"{LUDOX} (Step 2)"]
