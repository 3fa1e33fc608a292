"""Two labelled chat calls through a tracked ``AzureOpenAI``, then the day's totals.

With ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY`` set it calls your
Azure OpenAI resource (deployment ``AZURE_OPENAI_DEPLOYMENT``, default
``gpt-4o-mini``); otherwise a local stand-in on 127.0.0.1 answers. Records go
to ``$TOKEN_TRACKING_DIR``, or ``./logs/trace_token_openai``::

    python examples/sync_chat.py
"""

from __future__ import annotations

import os

from openai import AzureOpenAI, DefaultHttpxClient

from token_tracking import TokenTracker, track, tracking_context
from token_tracking.testing import azure_or_stand_in

API_VERSION = os.environ.get("AZURE_OPENAI_API_VERSION", "2024-10-21")
DEPLOYMENT = os.environ.get("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini")
DRUG = "Ludox 200mg"


def ask(client: AzureOpenAI, question: str) -> str:
    completion = client.chat.completions.create(
        model=DEPLOYMENT, messages=[{"role": "user", "content": question}]
    )
    return completion.choices[0].message.content or ""


def main(tracker: TokenTracker | None = None) -> None:
    tracker = tracker or TokenTracker.default()
    with azure_or_stand_in() as (endpoint, key):
        client = AzureOpenAI(
            azure_endpoint=endpoint,
            api_key=key,
            api_version=API_VERSION,
            http_client=track(DefaultHttpxClient(), tracker=tracker),
        )
        with client:
            with tracking_context(f"Search Agent - {DRUG} (Step 1)"):
                print(ask(client, f"What is {DRUG} used for?"))
            with tracking_context(f"Search Agent - {DRUG} (Step 2)"):
                print(ask(client, f"What are the side effects of {DRUG}?"))

    print(tracker.report())


if __name__ == "__main__":
    main()
