"""A medical search API whose OpenAI calls are recorded per request step.

The app owns one tracked ``AsyncAzureOpenAI`` client for its whole life: the
lifespan makes it, keeps it on ``app.state.openai`` and closes it at shutdown,
so every request shares one connection pool. Each endpoint labels its calls
``"Search Agent - {drug} (Step n)"``:

* ``POST /search`` with ``{"drug": "Ludox 200mg"}``: step 1 asks what the drug
  is for, step 2 asks for its warnings given that answer;
* ``POST /summarise`` with ``{"drug": "...", "text": "..."}``: step 3 turns a
  leaflet into plain words.

Run it from the repository root, then try it::

    uvicorn examples.fastapi_app:app
    curl -X POST localhost:8000/search -H 'content-type: application/json' \\
        -d '{"drug": "Ludox 200mg"}'

With ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY`` set it calls your
Azure OpenAI resource (deployment ``AZURE_OPENAI_DEPLOYMENT``, default
``gpt-4o-mini``); otherwise the app starts a local stand-in on 127.0.0.1 for
its lifetime. Records go to ``$TOKEN_TRACKING_DIR``, or
``./logs/trace_token_openai``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from openai import AsyncAzureOpenAI, DefaultAsyncHttpxClient
from pydantic import BaseModel

from token_tracking import TokenTracker, track, tracking_context
from token_tracking.testing import StandInServer

API_VERSION = os.environ.get("AZURE_OPENAI_API_VERSION", "2024-10-21")
DEPLOYMENT = os.environ.get("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini")


class SearchRequest(BaseModel):
    drug: str


class SearchResult(BaseModel):
    drug: str
    uses: str
    warnings: str


class SummariseRequest(BaseModel):
    drug: str
    text: str


class Summary(BaseModel):
    drug: str
    summary: str


def openai_client(request: Request) -> AsyncAzureOpenAI:
    """The app's one client, made by the lifespan."""
    client: AsyncAzureOpenAI = request.app.state.openai
    return client


OpenAIClient = Annotated[AsyncAzureOpenAI, Depends(openai_client)]
router = APIRouter()


async def ask(client: AsyncAzureOpenAI, question: str) -> str:
    completion = await client.chat.completions.create(
        model=DEPLOYMENT, messages=[{"role": "user", "content": question}]
    )
    return completion.choices[0].message.content or ""


@router.post("/search")
async def search(body: SearchRequest, client: OpenAIClient) -> SearchResult:
    drug = body.drug
    with tracking_context(f"Search Agent - {drug} (Step 1)"):
        uses = await ask(client, f"What is {drug} used for?")
    with tracking_context(f"Search Agent - {drug} (Step 2)"):
        warnings = await ask(
            client, f"{drug} is used for: {uses} What warnings apply to it?"
        )
    return SearchResult(drug=drug, uses=uses, warnings=warnings)


@router.post("/summarise")
async def summarise(body: SummariseRequest, client: OpenAIClient) -> Summary:
    with tracking_context(f"Search Agent - {body.drug} (Step 3)"):
        summary = await ask(
            client, f"Summarise this leaflet of {body.drug} in plain words: {body.text}"
        )
    return Summary(drug=body.drug, summary=summary)


def create_app(
    endpoint: str | None, key: str | None, tracker: TokenTracker | None = None
) -> FastAPI:
    """The app, calling ``endpoint`` with ``key``, recording into ``tracker``.

    Without an endpoint and key, the app runs a local stand-in for its
    lifetime. ``tracker=None`` records into ``TokenTracker.default()``.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            url, secret = endpoint, key
            if not (url and secret):
                server = stack.enter_context(StandInServer())
                url, secret = server.azure_endpoint, "stand-in-key"
            client = AsyncAzureOpenAI(
                azure_endpoint=url,
                api_key=secret,
                api_version=API_VERSION,
                http_client=track(DefaultAsyncHttpxClient(), tracker=tracker),
            )
            # Closed before the stand-in stops: the exit stack runs backwards.
            stack.push_async_callback(client.close)
            app.state.openai = client
            yield

    app = FastAPI(title="Medical search", lifespan=lifespan)
    app.include_router(router)
    return app


app = create_app(
    os.environ.get("AZURE_OPENAI_ENDPOINT"), os.environ.get("AZURE_OPENAI_API_KEY")
)
