"""`make demo`: a short search-agent session, tracked call by call.

It makes sync, async and streamed chat calls, a Responses API call and an
embedding under several ``tracking_context`` labels, then prints the day's
ledger and where it is.

With ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY`` set it talks to
your Azure OpenAI resource (deployments named by ``AZURE_OPENAI_DEPLOYMENT``
and ``AZURE_OPENAI_EMBEDDING_DEPLOYMENT``, defaults ``gpt-4o-mini`` and
``text-embedding-3-small``). Otherwise it starts a local stand-in on
127.0.0.1 that answers the way Azure OpenAI does, so it needs no credentials.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from openai import (
    AsyncAzureOpenAI,
    AzureOpenAI,
    DefaultAsyncHttpxClient,
    DefaultHttpxClient,
)

from token_tracking import TokenTracker, track, tracking_context
from token_tracking.testing import azure_or_stand_in

API_VERSION = os.environ.get("AZURE_OPENAI_API_VERSION", "2025-03-01-preview")
CHAT = os.environ.get("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini")
EMBEDDING = os.environ.get(
    "AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "text-embedding-3-small"
)
DRUG = "Ludox 200mg"


def search_steps(client: AzureOpenAI, tracker: TokenTracker) -> None:
    ask = [{"role": "user", "content": f"What is {DRUG} used for?"}]
    with tracking_context(f"Search Agent - {DRUG} (Step 1)"):
        client.chat.completions.create(model=CHAT, messages=ask)

    with tracking_context(f"Search Agent - {DRUG} (Step 2)"):
        stream = client.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": f"List the side effects of {DRUG}."}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for _ in stream:
            pass

    with tracking_context(f"Search Agent - {DRUG} (Step 3)"):
        client.responses.create(model=CHAT, input=f"Summarise the leaflet of {DRUG}.")
        client.embeddings.create(model=EMBEDDING, input=[f"{DRUG} leaflet", "dosage"])


async def async_steps(endpoint: str, key: str, tracker: TokenTracker) -> None:
    http_client = track(DefaultAsyncHttpxClient(), tracker=tracker)
    async with AsyncAzureOpenAI(
        azure_endpoint=endpoint,
        api_key=key,
        api_version=API_VERSION,
        http_client=http_client,
    ) as client:

        async def ask(question: str, step: int) -> None:
            with tracking_context(f"Search Agent - {DRUG} (Step {step})"):
                await client.chat.completions.create(
                    model=CHAT, messages=[{"role": "user", "content": question}]
                )

        with tracking_context("Async"):
            await asyncio.gather(
                ask(f"Interactions of {DRUG}?", 4),
                ask(f"Dosage of {DRUG} for adults?", 5),
            )


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    log_dir = Path(os.environ.get("TOKEN_TRACKING_DIR", "logs/trace_token_openai"))
    with (
        azure_or_stand_in(chunk_delay=0.01) as (endpoint, key),
        TokenTracker(log_dir) as tracker,
    ):
        client = AzureOpenAI(
            azure_endpoint=endpoint,
            api_key=key,
            api_version=API_VERSION,
            http_client=track(DefaultHttpxClient(), tracker=tracker),
        )
        with client:
            search_steps(client, tracker)
        asyncio.run(async_steps(endpoint, key, tracker))
        print()
        print(tracker.report())


if __name__ == "__main__":
    main()
