"""mcp_agent's OpenAIAugmentedLLM, tracked by ``instrument()`` and by patched tasks.

The agent is the one of ``examples/mcp_agent_search.py``, pointed at a local
stand-in through Azure's OpenAI-compatible ``/openai/v1`` API.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from token_tracking import TokenTracker, instrument, uninstrument
from token_tracking.testing import StandInServer

# mcp_agent 0.2.6 declares pydantic models in ways pydantic 2.12 deprecates, and
# warns so once, when it is first imported (inside a test here, where these
# marks apply; an import at module level would fail collection instead).
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mcp_agent.config"),
    pytest.mark.filterwarnings(
        "ignore::DeprecationWarning:mcp_agent.utils.pydantic_type_serializer"
    ),
]

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "mcp_agent_search.py"
SERVED = "gpt-4o-mini-2024-07-18"
DRUG = "Ludox 200mg"
QUESTIONS = ["What is Ludox 200mg used for?", "Who should not take it?"]
LABELS = [f"Search Agent - {DRUG} (Step 1)", f"Search Agent - {DRUG} (Step 2)"]


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    for name in (
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_DEPLOYMENT",
    ):
        monkeypatch.delenv(name, raising=False)
    # mcp_agent reads ./.env whatever its settings say: keep the repository's out.
    monkeypatch.chdir(tmp_path)

    spec = importlib.util.spec_from_file_location("examples.mcp_agent_search", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve the module's annotations through sys.modules.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def server() -> Iterator[StandInServer]:
    with StandInServer() as running:
        yield running


@pytest.fixture
def settings(example: ModuleType, server: StandInServer) -> Any:
    return example.agent_settings(server.azure_v1_base_url, "test-key")


@pytest.fixture
def instrumented(tracker: TokenTracker) -> Iterator[None]:
    instrument(tracker=tracker)
    try:
        yield
    finally:
        uninstrument()


def assert_two_labelled_calls(tracker: TokenTracker, server: StandInServer) -> None:
    details = tracker.read()["details"]
    assert len(details) == server.requests_seen == 2
    assert [d["context"] for d in details] == LABELS
    assert [d["model"] for d in details] == [SERVED] * 2
    assert all(d["input_tokens"] > 0 and d["cost_usd"] > 0 for d in details)
    assert len({d["response_id"] for d in details}) == 2


@pytest.mark.anyio
async def test_instrument_tracks_each_client_the_agent_builds(
    example: ModuleType, settings: Any, server: StandInServer, tracker: TokenTracker
) -> None:
    instrument(tracker=tracker)
    try:
        result = await example.search(DRUG, QUESTIONS, settings)
    finally:
        uninstrument()

    assert len(result.answers) == 2
    assert_two_labelled_calls(tracker, server)
    # mcp_agent counted the very same calls: equal totals, never to be summed.
    details = tracker.read()["details"]
    assert result.mcp_agent_tokens == sum(d["total_tokens"] for d in details)

    await example.search(DRUG, QUESTIONS, settings)

    assert server.requests_seen == 4
    assert len(tracker.read()["details"]) == 2


@pytest.mark.anyio
async def test_tracked_requests_gives_each_call_a_fresh_tracked_client(
    example: ModuleType, settings: Any, server: StandInServer, tracker: TokenTracker
) -> None:
    tasks = example.OpenAICompletionTasks
    saved = {name: tasks.__dict__[name] for name in example.CLIENT_TASKS}

    with example.tracked_requests(tracker):
        result = await example.search(DRUG, QUESTIONS, settings)

    # A client handed over once would be closed after the first call, and
    # the second would fail: two answers and two records prove a fresh one.
    assert len(result.answers) == 2
    assert_two_labelled_calls(tracker, server)
    assert {name: tasks.__dict__[name] for name in saved} == saved

    await example.search(DRUG, QUESTIONS, settings)

    assert server.requests_seen == 4
    assert len(tracker.read()["details"]) == 2


@pytest.mark.anyio
@pytest.mark.usefixtures("instrumented")
async def test_both_ways_at_once_record_each_call_once(
    example: ModuleType, settings: Any, server: StandInServer, tracker: TokenTracker
) -> None:
    with example.tracked_requests(tracker):
        await example.search(DRUG, QUESTIONS, settings)

    assert_two_labelled_calls(tracker, server)


def test_main_runs_both_ways_against_a_stand_in(
    example: ModuleType, tracker: TokenTracker, capsys: pytest.CaptureFixture[str]
) -> None:
    example.main(tracker)

    contexts = [d["context"] for d in tracker.read()["details"]]
    assert contexts == [
        *LABELS,
        "Search Agent - Amoxicillin 500mg (Step 1)",
        "Search Agent - Amoxicillin 500mg (Step 2)",
    ]
    assert ": 4 calls," in capsys.readouterr().out
