"""Concurrent labelled chat calls through a tracked ``AsyncAzureOpenAI``.

Each step runs in its own task under its own ``tracking_context``: the label
travels with the task, so concurrent steps never borrow each other's. The
day's totals are printed at the end.

With ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY`` set it calls your
Azure OpenAI resource (deployment ``AZURE_OPENAI_DEPLOYMENT``, default
``gpt-4o-mini``); otherwise a local stand-in on 127.0.0.1 answers. Records go
to ``$TOKEN_TRACKING_DIR``, or ``./logs/trace_token_openai``::

    python examples/async_chat.py
"""

from __future__ import annotations

import asyncio
import os

from openai import AsyncAzureOpenAI, DefaultAsyncHttpxClient

from token_tracking import TokenTracker, track, tracking_context
from token_tracking.testing import azure_or_stand_in

API_VERSION = os.environ.get("AZURE_OPENAI_API_VERSION", "2024-10-21")
DEPLOYMENT = os.environ.get("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini")
DRUG = "Ludox 200mg"
QUESTIONS = [
    f"What is {DRUG} used for?",
    f"What are the side effects of {DRUG}?",
    f"Which medicines interact with {DRUG}?",
]


async def search(endpoint: str, key: str, tracker: TokenTracker) -> list[str]:
    """Ask every question at once, one labelled step per question."""
    client = AsyncAzureOpenAI(
        azure_endpoint=endpoint,
        api_key=key,
        api_version=API_VERSION,
        http_client=track(DefaultAsyncHttpxClient(), tracker=tracker),
    )

    async def step(number: int, question: str) -> str:
        with tracking_context(f"Search Agent - {DRUG} (Step {number})"):
            completion = await client.chat.completions.create(
                model=DEPLOYMENT, messages=[{"role": "user", "content": question}]
            )
        return completion.choices[0].message.content or ""

    async with client:
        return await asyncio.gather(
            *(step(n, q) for n, q in enumerate(QUESTIONS, start=1))
        )


def main(tracker: TokenTracker | None = None) -> None:
    tracker = tracker or TokenTracker.default()
    with azure_or_stand_in() as (endpoint, key):
        for answer in asyncio.run(search(endpoint, key, tracker)):
            print(answer)

    print(tracker.report())


if __name__ == "__main__":
    main()
