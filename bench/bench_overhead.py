"""What tracking adds to an openai call, measured through the SDK.

A tracked and a bare client send ``chat.completions.create`` to the same
in-process upstream: an ``httpx2.MockTransport`` whose handler answers as
Azure OpenAI does, with a body that streams in (a ``stream=`` body, not
``content=``, which httpx would hand over already read and so skip the path
a real response takes). No network is involved, so the per-call times are
the SDK's own work plus ours, and the ratio is as unfavourable to tracking as
it can be: against a real service the same microseconds sit on top of
hundreds of milliseconds.

OpenTelemetry's OpenAI instrumentation, exporting to memory, runs as a peer.
It patches the SDK for every client in the process, so it is switched on
only around its own rounds.

Tracked rounds leave their records journaled; the day's file is brought up
to date between rounds, outside the timing, because the fold runs on a
background thread about once a second whatever the call rate (its cost is
what ``bench_day_size.py`` measures).

    .venv/bin/python bench/bench_overhead.py
    BENCH_OVERHEAD_ROUNDS=11 .venv/bin/python bench/bench_overhead.py  # quicker
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from statistics import median
from typing import Any

import httpx2
import openai
from _common import (
    API_VERSION,
    AZURE_ENDPOINT,
    DEPLOYMENT,
    MESSAGES,
    Verdict,
    azure_chat_body,
    azure_chat_frames,
    azure_headers,
    duration,
    interleave,
    paired_ratio,
    settle,
    table,
    verdict_lines,
)

from token_tracking import TokenTracker, track

TARGET = 1.03
ROUNDS = int(os.environ.get("BENCH_OVERHEAD_ROUNDS", "41"))
CALLS = 10


class _Body(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A response body handed out a frame at a time, as a socket would.

    Like a socket, it is read once: iterating it again goes on from where
    the last read stopped. openai iterates an HTTP/1.1 stream again after
    ``[DONE]`` to drain it, and a body that started over would make the
    bare client read every frame twice.
    """

    def __init__(self, frames: list[bytes]) -> None:
        self._frames = iter(frames)

    def __iter__(self) -> Iterator[bytes]:
        yield from self._frames

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self._frames:
            yield frame


def _upstream() -> httpx2.MockTransport:
    plain, frames = [azure_chat_body()], azure_chat_frames()
    json_headers = azure_headers("application/json")
    sse_headers = azure_headers("text/event-stream; charset=utf-8")

    def answer(request: httpx2.Request) -> httpx2.Response:
        if b'"stream":true' in request.content.replace(b" ", b""):
            return httpx2.Response(200, headers=sse_headers, stream=_Body(frames))
        return httpx2.Response(200, headers=json_headers, stream=_Body(plain))

    return httpx2.MockTransport(answer)


def _clients(tracker: TokenTracker) -> dict[str, Any]:
    upstream = _upstream()
    options = {
        "azure_endpoint": AZURE_ENDPOINT,
        "api_key": "bench",
        "api_version": API_VERSION,
    }
    return {
        "sync bare": openai.AzureOpenAI(
            **options, http_client=httpx2.Client(transport=upstream)
        ),
        "sync tracked": openai.AzureOpenAI(
            **options,
            http_client=track(httpx2.Client(transport=upstream), tracker=tracker),
        ),
        "async bare": openai.AsyncAzureOpenAI(
            **options, http_client=httpx2.AsyncClient(transport=upstream)
        ),
        "async tracked": openai.AsyncAzureOpenAI(
            **options,
            http_client=track(httpx2.AsyncClient(transport=upstream), tracker=tracker),
        ),
    }


def _sync_batch(client: Any, streamed: bool) -> float:
    create = client.chat.completions.create
    started = time.perf_counter()
    for _ in range(CALLS):
        if streamed:
            stream = create(
                model=DEPLOYMENT,
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            for _chunk in stream:
                pass
        else:
            create(model=DEPLOYMENT, messages=MESSAGES)
    return (time.perf_counter() - started) / CALLS


async def _async_batch(client: Any, streamed: bool) -> float:
    create = client.chat.completions.create
    started = time.perf_counter()
    for _ in range(CALLS):
        if streamed:
            stream = await create(
                model=DEPLOYMENT,
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            async for _chunk in stream:
                pass
        else:
            await create(model=DEPLOYMENT, messages=MESSAGES)
    return (time.perf_counter() - started) / CALLS


class _OpenTelemetry:
    """OpenAI instrumentation with an in-memory tracer, on only when asked."""

    def __init__(self) -> None:
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.instrumentor = OpenAIInstrumentor()
        self.spans = 0
        self.left_wrapped = 0
        self._wrapped_at: list[tuple[type, str]] = []

    def around(self, batch: Callable[[], float]) -> Callable[[], float]:
        def run() -> float:
            self.instrumentor.instrument(tracer_provider=self.provider)
            try:
                return batch()
            finally:
                self.instrumentor.uninstrument()
                self.left_wrapped = max(
                    self.left_wrapped, _unwrap_openai(self._wrapped_at)
                )
                self.spans += len(self.exporter.get_finished_spans())
                self.exporter.clear()

        return run


def _unwrap_openai(found: list[tuple[type, str]]) -> int:
    """Take every wrapt wrapper off the openai SDK's classes; return how many.

    ``uninstrument()`` of opentelemetry-instrumentation-openai 0.62 undoes
    nothing: it calls ``unwrap("openai.resources.chat.completions",
    "Completions.create")``, and ``opentelemetry.instrumentation.utils.unwrap``
    looks ``"Completions.create"`` up as one attribute name, finds none and
    returns. Each ``instrument()`` then adds a layer that every client,
    tracked or bare, runs through for the rest of the process. ``found``
    remembers where the wrappers were: walking the SDK takes a tenth of a
    second.
    """
    import wrapt

    if not found:
        found.extend(_openai_methods())
    removed = 0
    for owner, attr in found:
        value = vars(owner).get(attr)
        if not isinstance(value, wrapt.FunctionWrapper):
            continue
        while isinstance(value, wrapt.FunctionWrapper):
            value = value.__wrapped__
        setattr(owner, attr, value)
        removed += 1
    return removed


def _openai_methods() -> list[tuple[type, str]]:
    import wrapt

    found = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("openai.") or module is None:
            continue
        for owner in list(vars(module).values()):
            if isinstance(owner, type) and owner.__module__.startswith("openai"):
                found += [
                    (owner, attr)
                    for attr, value in vars(owner).items()
                    if isinstance(value, wrapt.FunctionWrapper)
                ]
    return found


class _Bench:
    """The clients, the tracker and the peer that every scenario shares."""

    def __init__(self, tracker: TokenTracker, runner: asyncio.Runner) -> None:
        self.tracker = tracker
        self.runner = runner
        self.clients = _clients(tracker)
        self.otel = _OpenTelemetry()

    def scenario(self, flavour: str, streamed: bool) -> dict[str, list[float]]:
        """Interleaved samples of per-call seconds, by variant."""

        def batch(name: str) -> Callable[[], float]:
            client = self.clients[f"{flavour} {name}"]
            if flavour == "sync":
                return lambda: _sync_batch(client, streamed)
            return lambda: self.runner.run(_async_batch(client, streamed))

        def tracked() -> float:
            seconds = batch("tracked")()
            self.tracker.flush()
            return seconds

        variants = {
            "tracked": tracked,
            "bare": batch("bare"),
            "opentelemetry": self.otel.around(batch("bare")),
        }
        for variant in variants.values():
            variant()  # warm-up: imports, first price lookup, first span
        return interleave(variants, ROUNDS)


def _judge(name: str, samples: dict[str, list[float]]) -> tuple[list[str], Verdict]:
    """The table row and the verdict of one scenario."""
    ratio = paired_ratio(samples, "tracked", "bare")
    peer = paired_ratio(samples, "opentelemetry", "bare")
    bare, tracked, otel = (
        duration(median(samples[variant]))
        for variant in ("bare", "tracked", "opentelemetry")
    )
    row = [name, bare, tracked, f"x{ratio:.3f}", otel, f"x{peer:.3f}"]
    verdict = Verdict(
        f"SDK overhead, {name}",
        f"tracked/bare <= x{TARGET:.2f}",
        f"x{ratio:.3f}: {tracked} vs {bare} a call (OpenTelemetry x{peer:.3f})",
        ratio <= TARGET,
    )
    return row, verdict


def run() -> list[Verdict]:
    """Measure, print the table and return the verdicts."""
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory() as folder, asyncio.Runner() as runner:
        tracker = TokenTracker(folder)
        settle(tracker)
        bench = _Bench(tracker, runner)
        for flavour in ("sync", "async"):
            for streamed in (False, True):
                name = f"{flavour} {'streamed' if streamed else 'plain'}"
                print(f"  overhead: {name} ...", file=sys.stderr, flush=True)
                row, verdict = _judge(name, bench.scenario(flavour, streamed))
                rows.append(row)
                verdicts.append(verdict)
        tracker.close()
        recorded = tracker.summary()["total_calls"]

    print(
        table(
            f"Overhead through the SDK: median per call of {ROUNDS} interleaved "
            f"rounds of {CALLS} calls; ratios: median of the rounds' ratios",
            ["scenario", "bare", "tracked", "tracked/bare", "otel", "otel/bare"],
            rows,
        )
    )
    calls = 4 * (ROUNDS + 1) * CALLS
    otel = bench.otel
    print(
        f"records of the tracked rounds: {recorded} of {calls}; OpenTelemetry "
        f"spans: {otel.spans} of {calls}; wrappers its uninstrument() left on "
        f"the SDK, removed by the bench: {otel.left_wrapped}"
    )
    print(verdict_lines(verdicts))
    return verdicts


if __name__ == "__main__":
    run()
