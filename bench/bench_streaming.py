"""A 50 MB streamed answer, tracked and bare: first chunk and memory.

A real HTTP server on 127.0.0.1, in a process of its own, answers every
request with a chunked event stream shaped like Azure's: a first small event
sent at once, then, after a pause, 50 MB of ``data:`` lines of about 1 KB and
a final usage event. An httpx2 client reads it with ``stream()`` and
``iter_raw()``, tracked with ``track()`` or bare. The pause keeps the rest of
the body away from the first chunk, so a tracker that held the body back
would show it as a late first chunk.

Time to the first chunk is measured in interleaved rounds; memory in rounds
of their own under ``tracemalloc`` (which slows every allocation), as the
peak of traced memory over the baseline before the request.

    .venv/bin/python bench/bench_streaming.py
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from statistics import median
from typing import Any

import httpx2
import orjson
from _common import (
    API_VERSION,
    CHAT_PATH,
    MESSAGES,
    MODEL,
    USAGE,
    Verdict,
    azure_chat_frames,
    interleave,
    ms,
    settle,
    table,
    verdict_lines,
)

from token_tracking import TokenTracker, track

BODY_SIZE = 50 * 1024 * 1024
LINE_SIZE = 1024
BLOCK_SIZE = 64 * 1024
PAUSE = 0.2
ROUNDS = 9
MEMORY_ROUNDS = 2
TOLERANCE = 0.001
MEMORY_TARGET = 5 * 1024 * 1024


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _body() -> tuple[bytes, list[bytes]]:
    """The first event, then the rest cut in blocks as a socket would."""
    first, *_ = azure_chat_frames()
    head = {
        "choices": [
            {
                "content_filter_results": {},
                "delta": {"content": ""},
                "finish_reason": None,
                "index": 0,
                "logprobs": None,
            }
        ],
        "created": 1767225600,
        "id": "chatcmpl-BenchA1b2C3d4E5f6G7h8I9j0K1l2",
        "model": MODEL,
        "object": "chat.completion.chunk",
        "system_fingerprint": "fp_efad92c60b",
        "usage": None,
    }
    filler = LINE_SIZE - len(orjson.dumps(head)) - len(b"data: \n\n")
    head["choices"][0]["delta"]["content"] = "lorem ipsum " * (filler // 12)
    event = b"data: " + orjson.dumps(head, option=orjson.OPT_SORT_KEYS) + b"\n\n"
    usage = {**head, "choices": [], "usage": USAGE}
    tail = b"data: " + orjson.dumps(usage, option=orjson.OPT_SORT_KEYS) + b"\n\n"
    rest = event * (BODY_SIZE // len(event)) + tail + b"data: [DONE]\n\n"
    blocks = [
        _chunked(rest[at : at + BLOCK_SIZE]) for at in range(0, len(rest), BLOCK_SIZE)
    ]
    return _chunked(first), [*blocks, b"0\r\n\r\n"]


def _serve(ready: Connection) -> None:
    """The server process: answer every POST with the whole stream."""
    first, blocks = _body()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            # The handler's socket file is unbuffered: each write leaves now.
            self.wfile.write(first)
            time.sleep(PAUSE)
            for block in blocks:
                self.wfile.write(block)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ready.send(server.server_address[1])
    server.serve_forever()


def _start_server() -> tuple[BaseProcess, int]:
    # A process of its own, not a thread: a server thread would wait for the
    # client's GIL (up to its 5 ms switch interval) before answering, which
    # would swamp a first chunk that takes 2 ms; and its allocations would
    # count in the client's tracemalloc figures.
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(theirs,), daemon=True)
    process.start()
    if not ours.poll(120):
        process.terminate()
        raise RuntimeError("the stream server did not start within 2 minutes")
    port: int = ours.recv()
    return process, port


class _Reader:
    """One client reading whole streams, keeping what each read measured.

    A tracker, if given, is flushed after each read, outside the timing: its
    background fold would otherwise land in whichever read came next.
    """

    def __init__(
        self, client: httpx2.Client, url: str, tracker: TokenTracker | None = None
    ) -> None:
        self.client = client
        self.url = url
        self.tracker = tracker
        self.totals: list[float] = []
        self.sizes: list[int] = []

    def read(self) -> float:
        """Read one stream; return the seconds to its first chunk."""
        body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
        started = time.perf_counter()
        first = None
        size = 0
        with self.client.stream("POST", self.url, json=body) as response:
            for chunk in response.iter_raw():
                if first is None:
                    first = time.perf_counter()
                size += len(chunk)
        self.totals.append(time.perf_counter() - started)
        self.sizes.append(size)
        if self.tracker is not None:
            self.tracker.flush()
        return (first or started) - started


def _peak_growth(read: Callable[[], float]) -> float:
    gc.collect()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    read()
    return tracemalloc.get_traced_memory()[1] - baseline


def run() -> list[Verdict]:
    """Measure, print the table and return the verdicts."""
    server, port = _start_server()
    url = f"http://127.0.0.1:{port}{CHAT_PATH}?api-version={API_VERSION}"
    with tempfile.TemporaryDirectory() as folder:
        tracker = TokenTracker(folder)
        settle(tracker)
        readers = {
            "tracked": _Reader(track(httpx2.Client(), tracker=tracker), url, tracker),
            "bare": _Reader(httpx2.Client(), url),
        }
        for reader in readers.values():
            reader.read()  # warm-up: connection, imports
        print("  streaming: first chunk ...", file=sys.stderr, flush=True)
        firsts = interleave({n: r.read for n, r in readers.items()}, ROUNDS)
        print("  streaming: memory ...", file=sys.stderr, flush=True)
        tracemalloc.start()
        try:
            memory = interleave(
                {n: lambda r=r: _peak_growth(r.read) for n, r in readers.items()},
                MEMORY_ROUNDS,
            )
        finally:
            tracemalloc.stop()
        tracker.close()
        summary = tracker.summary()
        for reader in readers.values():
            reader.client.close()
    server.terminate()
    server.join()
    return _report(readers, firsts, memory, summary)


def _report(
    readers: dict[str, _Reader],
    firsts: dict[str, list[float]],
    memory: dict[str, list[float]],
    summary: dict[str, Any],
) -> list[Verdict]:
    def row(name: str) -> list[str]:
        reader = readers[name]
        return [
            name,
            ms(median(firsts[name])),
            f"{median(reader.totals[1 : ROUNDS + 1]) - PAUSE:.2f} s",
            f"{max(memory[name]) / 2**20:.2f} MB",
            f"{median(reader.sizes) / 2**20:.1f} MB",
        ]

    print(
        table(
            f"A {BODY_SIZE // 2**20} MB event stream over 127.0.0.1, read with "
            f"iter_raw(): medians of {ROUNDS} interleaved rounds, memory the "
            f"largest of {MEMORY_ROUNDS}",
            ["client", "first chunk", "body, less pause", "peak growth", "read"],
            [row("tracked"), row("bare")],
        )
    )
    pairs = zip(firsts["tracked"], firsts["bare"], strict=True)
    later = median(tracked - bare for tracked, bare in pairs)
    grown = max(memory["tracked"])
    calls = 1 + ROUNDS + MEMORY_ROUNDS
    recorded = summary["total_calls"] == calls and summary["total_input_tokens"] > 0
    print(
        f"tracked first chunk minus bare, median of pairs: {later * 1e3:+.3f} ms; "
        f"records: {summary['total_calls']} of {calls}, usage "
        f"{'found' if recorded else 'MISSING'}"
    )
    verdicts = [
        Verdict(
            "Streaming, time to first chunk",
            "no later than bare (within 1 ms)",
            f"{later * 1e3:+.2f} ms ({ms(median(firsts['tracked']))} vs "
            f"{ms(median(firsts['bare']))})",
            later <= TOLERANCE,
        ),
        Verdict(
            "Streaming, memory growth on a 50 MB body",
            "< 5 MB",
            f"{grown / 2**20:.2f} MB tracked, {max(memory['bare']) / 2**20:.2f} MB "
            "bare",
            grown < MEMORY_TARGET and recorded,
        ),
    ]
    print(verdict_lines(verdicts))
    return verdicts


if __name__ == "__main__":
    run()
