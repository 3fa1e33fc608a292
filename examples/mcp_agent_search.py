"""A drug-search agent built on ``mcp_agent``, its OpenAI calls tracked two ways.

``mcp_agent``'s ``OpenAIAugmentedLLM`` makes a new ``AsyncOpenAI`` client for
every completion, inside ``OpenAICompletionTasks.request_completion_task``
(``mcp_agent/workflows/llm/augmented_llm_openai.py`` in 0.2.6), so there is
no long-lived client to hand a tracked HTTP client to. Two ways in:

1. ``instrument()``: every openai client made while it is on is tracked,
   whoever makes it. The simplest, and it covers every library at once.
2. ``tracked_requests()``: replaces the two tasks that build the client with
   versions that give it a fresh tracked HTTP client, through the
   ``http_client`` that ``mcp_agent`` reads from its OpenAI settings. Only
   ``mcp_agent``'s calls are tracked; nothing else in the process changes.

Either way, a ``tracking_context`` around ``generate_str()`` labels the calls:
the asyncio engine awaits each task in the caller's context.

``mcp_agent`` counts tokens too (``app.context.token_counter``), with prices
of its own. Its totals describe the very calls in our ledger, so never add
them to ours: this script prints them only to show that both saw the same
calls.

Everything is configured in code: the asyncio engine, no MCP servers, no
``mcp_agent.config.yaml`` or secrets file, no subagent folders scanned, no
``.env`` loaded into the environment, no logging or tracing output. The agent
talks to Azure OpenAI's OpenAI-compatible v1 API (``{endpoint}/openai/v1/``)
when ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY`` are set (model:
the deployment ``AZURE_OPENAI_DEPLOYMENT``, default ``gpt-4o-mini``), else to
a local stand-in on 127.0.0.1::

    python examples/mcp_agent_search.py

Limitations: ``mcp_agent`` 0.2.6 still reads a ``.env`` in the working
directory, with no setting to stop it, when ``Settings`` is built and when it
rebuilds its OpenAI settings for each request; every setting it uses is set
here, and those win. ``tracked_requests()`` patches a class for the whole
process, and only takes effect with the asyncio engine: Temporal workers run
the tasks they registered at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from mcp_agent.agents.agent import Agent
from mcp_agent.app import MCPApp
from mcp_agent.config import (
    LoggerSettings,
    MCPSettings,
    OpenAISettings,
    OpenTelemetrySettings,
    Settings,
    SubagentSettings,
    UsageTelemetrySettings,
)
from mcp_agent.logging.logger import LoggingConfig
from mcp_agent.logging.transport import AsyncEventBus
from mcp_agent.workflows.llm.augmented_llm_openai import (
    OpenAIAugmentedLLM,
    OpenAICompletionTasks,
)
from openai import DefaultAsyncHttpxClient

from token_tracking import (
    TokenTracker,
    instrument,
    track,
    tracking_context,
    uninstrument,
)
from token_tracking.testing import azure_or_stand_in

MODEL = os.environ.get("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini")
INSTRUCTION = "You answer questions about medicines from their leaflets, briefly."
# The methods of OpenAICompletionTasks that each build an AsyncOpenAI client.
CLIENT_TASKS = ("request_completion_task", "request_structured_completion_task")


@dataclass
class SearchResult:
    answers: list[str]
    # mcp_agent's own count of the same calls: for comparison, never a sum.
    mcp_agent_tokens: int


class SearchApp(MCPApp):
    def _load_dotenv_files(self) -> None:
        # MCPApp.initialize() otherwise loads ./.env and ./.env.mcp-cloud into
        # os.environ (0.2.6, app.py); this app takes its settings from code.
        return


def agent_settings(base_url: str, api_key: str, model: str = MODEL) -> Settings:
    """``mcp_agent`` settings built in code: no config or secrets file is read."""
    # _env_file=None: pydantic-settings would otherwise read ./.env.
    openai = OpenAISettings(
        _env_file=None, api_key=api_key, base_url=base_url, default_model=model
    )
    return Settings(
        _env_file=None,
        execution_engine="asyncio",
        mcp=MCPSettings(servers={}),
        openai=openai,
        # Unused providers: their defaults would read the environment and .env.
        anthropic=None,
        azure=None,
        bedrock=None,
        cohere=None,
        google=None,
        logger=LoggerSettings(type="none"),
        otel=OpenTelemetrySettings(enabled=False),
        usage_telemetry=UsageTelemetrySettings(enabled=False),
        # Enabled by default, it scans ~/.claude/agents and ~/.mcp-agent/agents.
        agents=SubagentSettings(enabled=False),
    )


async def search(drug: str, questions: list[str], settings: Settings) -> SearchResult:
    """Ask the agent each question in turn, labelling step n of the search."""
    app = SearchApp(name="drug_search", settings=settings)
    try:
        async with app.run():
            # No MCP servers to keep connected: persistence would only add the
            # half-second pause of MCPConnectionManager.close() at shutdown.
            agent = Agent(
                name="search_agent",
                instruction=INSTRUCTION,
                connection_persistence=False,
                context=app.context,
            )
            async with agent:
                llm = await agent.attach_llm(OpenAIAugmentedLLM)
                answers = []
                for step, question in enumerate(questions, start=1):
                    with tracking_context(f"Search Agent - {drug} (Step {step})"):
                        answers.append(await llm.generate_str(question))
            counted = await app.context.token_counter.get_summary()
    finally:
        # mcp_agent's logging bus is process-wide and outlives the app: stop
        # it in this event loop, or its tasks outlive the loop and hang its
        # closing, and drop it, as its locks belong to this loop.
        await LoggingConfig.shutdown()
        AsyncEventBus.reset()
    return SearchResult(answers, counted.usage.total_tokens)


@contextlib.contextmanager
def tracked_requests(tracker: TokenTracker | None = None) -> Iterator[None]:
    """Within the block, every client ``mcp_agent`` builds is tracked."""
    saved = {name: OpenAICompletionTasks.__dict__[name] for name in CLIENT_TASKS}
    for name, task in saved.items():
        tracked = _with_tracked_client(task.__func__, tracker)
        setattr(OpenAICompletionTasks, name, staticmethod(tracked))
    try:
        yield
    finally:
        for name, task in saved.items():
            setattr(OpenAICompletionTasks, name, task)


def _with_tracked_client(
    task: Callable[[Any], Coroutine[Any, Any, Any]], tracker: TokenTracker | None
) -> Callable[[Any], Coroutine[Any, Any, Any]]:
    @functools.wraps(task)
    async def run(request: Any) -> Any:
        # The task opens its client with `async with`, and leaving that block
        # closes the HTTP client it was given: one client would serve a single
        # call. Each call gets a fresh one, on a copy of the shared settings.
        http_client = track(DefaultAsyncHttpxClient(), tracker=tracker)
        config = request.config.model_copy(update={"http_client": http_client})
        return await task(request.model_copy(update={"config": config}))

    return run


async def both_ways(settings: Settings, tracker: TokenTracker) -> None:
    instrument(tracker=tracker)
    try:
        first = await search(
            "Ludox 200mg",
            ["What is Ludox 200mg used for?", "Who should not take it?"],
            settings,
        )
    finally:
        uninstrument()
    print(*first.answers, sep="\n")

    with tracked_requests(tracker):
        second = await search(
            "Amoxicillin 500mg",
            ["What is Amoxicillin 500mg used for?", "What are its side effects?"],
            settings,
        )
    print(*second.answers, sep="\n")

    counted = first.mcp_agent_tokens + second.mcp_agent_tokens
    print(f"mcp_agent counted {counted} tokens of its own for these same calls.")


def main(tracker: TokenTracker | None = None) -> None:
    tracker = tracker or TokenTracker.default()
    with azure_or_stand_in() as (endpoint, key):
        # Azure's OpenAI-compatible API, which mcp_agent's OpenAI client speaks.
        base_url = f"{endpoint.rstrip('/')}/openai/v1/"
        asyncio.run(both_ways(agent_settings(base_url, key), tracker))

    print(tracker.report())


if __name__ == "__main__":
    main()
