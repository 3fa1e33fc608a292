"""A local stand-in for Azure OpenAI and OpenAI, for demos and tests.

`StandInServer` listens on 127.0.0.1 and answers the openai SDK with the body
shapes, framing and headers that the real services send, so an application and
its token tracking can run end to end without credentials or network.

    with StandInServer() as server:
        client = AzureOpenAI(
            azure_endpoint=server.azure_endpoint,
            api_key="test",
            api_version="2024-10-21",
        )
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])

Paths starting with ``/openai/`` answer as Azure OpenAI; paths starting with
``/v1/`` answer as OpenAI.

Token counts are deterministic. A "word" is a run of non-whitespace:

* chat input: ``MESSAGE_OVERHEAD`` (4) per message plus the words of its
  content (a string, or the ``text`` of each content part);
* Responses input: the same, with a string ``input`` and ``instructions``
  each counting as one message;
* legacy completions and embeddings input: the words of each prompt or input
  string, or the length of each token array, with no overhead;
* output: the words of the reply (``DEFAULT_REPLY``, six words, unless the
  constructor says otherwise), plus reasoning tokens;
* reasoning: ``REASONING_TOKENS[effort]`` when the request names a
  ``reasoning_effort`` (chat) or ``reasoning.effort`` (Responses), or when
  the served model is a reasoning one (``o1``, ``o3``, ``gpt-5`` and so on,
  effort "medium" by default); otherwise 0;
* cached input: half the input tokens, rounded down, when the request
  carries a ``prompt_cache_key``; otherwise 0.

Reasoning and cached tokens are parts of the output and input totals, as on
the real services.

Streams (``"stream": true``) go out with chunked transfer encoding, one write
per event and ``chunk_delay`` seconds between events. Chat and legacy
completion streams are ``data: {json}`` events ending in ``data: [DONE]``;
on Azure they open with an empty chunk carrying ``prompt_filter_results``,
and chat streams follow the finish chunk with two content-filter annotation
chunks that have no delta, id or model. The usage chunk, with empty
``choices``, comes last before ``[DONE]`` and only when the request sets
``stream_options.include_usage``. Responses streams are ``event:`` plus
``data:`` pairs from ``response.created`` to ``response.completed``, which
carries the usage, with no ``[DONE]``. Non-streamed OpenAI bodies are sent
chunked, Azure ones with a Content-Length.

Limitations: one choice per request whatever ``n`` says, no tools, no
``max_tokens`` truncation, and request bodies must carry a Content-Length.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import orjson

from ._standin_replies import (
    _answer,
    _error,
    _Failure,
    _failure_reply,
    _gzipped,
    _Reply,
    _route,
)
from ._standin_wire import (
    DEFAULT_DEPLOYMENTS,
    DEFAULT_REPLY,
    EMBEDDING_DIMENSIONS,
    MESSAGE_OVERHEAD,
    REASONING_TOKENS,
)

__all__ = [
    "DEFAULT_DEPLOYMENTS",
    "DEFAULT_REPLY",
    "EMBEDDING_DIMENSIONS",
    "MESSAGE_OVERHEAD",
    "REASONING_TOKENS",
    "StandInServer",
    "azure_or_stand_in",
]


class _State:
    """What the request threads share: settings, the count, the failures."""

    def __init__(
        self, deployments: dict[str, str], reply: str, compress: bool, delay: float
    ) -> None:
        self.deployments = deployments
        self.reply = reply
        self.compress = compress
        self.delay = delay
        self.lock = threading.Lock()
        self.seen = 0
        self.failures: deque[_Failure] = deque()

    def answer(self, target: str, raw: bytes) -> _Reply:
        route = _route(target)
        with self.lock:
            self.seen += 1
            failure = self.failures.popleft() if self.failures else None
        if failure is not None:
            return _failure_reply(failure, route.flavour)

        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return _error(route.flavour, 400, "The request body is not a JSON object.")
        reply = _answer(route, body, self.deployments, self.reply)
        return _gzipped(reply) if self.compress else reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "token-tracking-stand-in"
    # Streamed frames are small writes; Nagle would hold them back.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        reply = self.server.state.answer(self.path, self.rfile.read(length))
        try:
            self._send(reply)
        except OSError:
            # The client hung up, or stop() shut the socket mid-stream.
            self.close_connection = True

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        # Silent on purpose: the package logger's messages are a tested,
        # fixed set, and request lines are noise in test output.
        return

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.frames is None and not reply.chunked:
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return

        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for n, frame in enumerate(reply.frames or [reply.body]):
            if n and self.server.state.delay:
                time.sleep(self.server.state.delay)
            self.wfile.write(b"%X\r\n%s\r\n" % (len(frame), frame))
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog of 5 drops bursts of connections from load tests.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        self.open_sockets: set[Any] = set()
        self.open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.open_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.open_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up is routine here; anything else is a bug to show.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        # Kept-alive connections would otherwise go on being served.
        with self.open_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class StandInServer:
    """A local HTTP server that answers like Azure OpenAI and OpenAI.

    Point `AzureOpenAI(azure_endpoint=server.azure_endpoint)` or
    `OpenAI(base_url=server.base_url)` at it; `azure_v1_base_url` serves
    Azure's ``/openai/v1`` form. Each request is answered on its own daemon
    thread, so one server can feed many concurrent clients and processes.

        with StandInServer(chunk_delay=0.01) as server:
            server.fail_next(429, retry_after=0.05)
            ...  # the SDK retries, and the second attempt succeeds

    Args:
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one.
        chunk_delay: Seconds to wait between two streamed events.
        gzip: Compress non-streamed JSON bodies with gzip, as OpenAI does.
        deployments: Azure deployment name to the dated model it serves;
            other deployment names answer 404 DeploymentNotFound.
        reply: The assistant text every completion answers with.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        chunk_delay: float = 0.0,
        gzip: bool = False,
        deployments: Mapping[str, str] | None = None,
        reply: str = DEFAULT_REPLY,
    ) -> None:
        chosen = DEFAULT_DEPLOYMENTS if deployments is None else deployments
        self._state = _State(dict(chosen), reply, gzip, chunk_delay)
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> StandInServer:
        """Bind the socket and serve from a background thread."""
        if self._server is not None:
            raise RuntimeError("StandInServer was already started; create a new one")
        server = _Server((self._host, self._port), self._state)
        self._server, self._port = server, server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="token-tracking-stand-in",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening and kept-alive sockets.

        Calling it again, or on a server never started, does nothing.
        """
        if self._server is None or self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> StandInServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def azure_endpoint(self) -> str:
        """The ``azure_endpoint`` for `AzureOpenAI`, such as http://127.0.0.1:PORT."""
        if self._server is None:
            raise RuntimeError("StandInServer has no address yet; call start() first")
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The ``base_url`` for `OpenAI`, ending in ``/v1``."""
        return f"{self.azure_endpoint}/v1"

    @property
    def azure_v1_base_url(self) -> str:
        """The ``base_url`` for `OpenAI` talking to Azure's ``/openai/v1`` API."""
        return f"{self.azure_endpoint}/openai/v1"

    @property
    def requests_seen(self) -> int:
        """How many requests the server has answered, failures included."""
        with self._state.lock:
            return self._state.seen

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        body: bytes | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next `times` requests with `status` instead.

        The body is the service's error JSON unless `body` gives raw bytes
        (bytes starting with ``<`` are sent as HTML). `retry_after` adds
        ``retry-after`` and ``retry-after-ms`` headers, which the openai SDK
        honours when it retries a 408, 409, 429 or 5xx answer.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error (400-599), not {status}")
        if times < 0:
            raise ValueError(f"times must be 0 or more, not {times}")
        failure = _Failure(status, body, retry_after)
        with self._state.lock:
            self._state.failures.extend([failure] * times)


@contextlib.contextmanager
def azure_or_stand_in(*, chunk_delay: float = 0.0) -> Iterator[tuple[str, str]]:
    """``(endpoint, key)`` of your Azure OpenAI resource, from
    ``AZURE_OPENAI_ENDPOINT`` and ``AZURE_OPENAI_API_KEY``, or of a
    ``StandInServer`` that runs for the block when either is unset::

        with azure_or_stand_in() as (endpoint, key):
            client = AzureOpenAI(azure_endpoint=endpoint, api_key=key, ...)
    """
    endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT")
    key = os.environ.get("AZURE_OPENAI_API_KEY")
    if endpoint and key:
        yield endpoint, key
        return
    with StandInServer(chunk_delay=chunk_delay) as server:
        yield server.azure_endpoint, "stand-in-key"
