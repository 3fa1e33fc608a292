"""Real OpenAI and Azure OpenAI responses, recorded by other projects' cassettes.

Each file in ``tests/data/wire/`` names its source and holds one or more
interactions: the request line and body, the response status and headers
exactly as recorded, and the response body byte for byte. Use them to replay
a response through ``httpx.MockTransport`` or respx::

    for interaction in load("02a"):
        response = httpx.Response(
            interaction.status,
            headers=interaction.headers,
            content=interaction.wire_body(),
        )

Three things to know about the recordings:

- Where the recorded headers say ``Content-Encoding: gzip`` the file keeps the
  body gunzipped; ``body`` is that text and ``wire_body()`` gzips it again.
- Embedding vectors were trimmed, and a few bodies were rebuilt from a
  cassette's parsed JSON (the file says RECONSTRUCTED), so ``Content-Length``
  may not match ``body`` there.
- ``02f`` is a body without request or response metadata: its ``method``,
  ``url``, ``request_body`` and ``status`` are ``None`` and ``headers`` empty.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DIRECTORY", "Interaction", "load", "names"]

DIRECTORY = Path(__file__).parent / "data" / "wire"

_BEGIN = "<<<<<<<<BEGIN BODY\n"
_END = "<<<<<<<<END BODY"
_NO_TRAILING_NEWLINE = (
    "\n<<<<<<<<(body has NO trailing newline; the newline just above is not"
    " part of it)\n"
)
_REQUEST = "======== REQUEST\n"
_RESPONSE = "\n======== RESPONSE ("
_RESPONSE_BODY = "\n======== RESPONSE BODY"
_REQUEST_BODY = "(request body) "
_REBUILT_REQUEST = "[RECONSTRUCTED from cassette parsed_body] "


@dataclass(frozen=True)
class Interaction:
    """One recorded request and its response.

    ``name`` is the file's short code and the interaction's place in it, such
    as ``"01b[1]"``; handy as a pytest id. ``headers`` keep the recorded order
    and name case.
    """

    name: str
    method: str | None
    url: str | None
    request_body: bytes | None
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (any case), or ``None``."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def wire_body(self) -> bytes:
        """Return the body as the server sent it: gzipped if the headers say so.

        gzip output is made with a zero timestamp, so it is the same on every
        run (not the recorded bytes, which the cassettes kept only as base64).
        """
        if (self.header("Content-Encoding") or "").lower() == "gzip":
            return gzip.compress(self.body, mtime=0)
        return self.body


def names() -> list[str]:
    """Return the file names (without ``.txt``) of every recording, sorted."""
    return sorted(path.stem for path in DIRECTORY.glob("*.txt"))


def load(name: str) -> list[Interaction]:
    """Return the interactions recorded in one file.

    ``name`` is either the file name without ``.txt`` or its short code, the
    part before the first underscore (``"02a"``).
    """
    matches = [stem for stem in names() if name in (stem, stem.split("_")[0])]
    if len(matches) != 1:
        raise LookupError(f"{name!r} matches {matches or 'no file'} in {DIRECTORY}")

    stem = matches[0]
    text = (DIRECTORY / f"{stem}.txt").read_bytes().decode("utf-8")
    code = stem.split("_")[0]
    return [
        _interaction(f"{code}[{index}]", meta, body)
        for index, (meta, body) in enumerate(_sections(text))
    ]


def _sections(text: str) -> list[tuple[str, str]]:
    # Pairs of (metadata before a body, the body itself).
    sections = []
    position = 0
    while (begin := text.find(_BEGIN, position)) != -1:
        end = text.index(_END, begin)
        body = text[begin + len(_BEGIN) : end]
        if body.endswith(_NO_TRAILING_NEWLINE):
            body = body[: -len(_NO_TRAILING_NEWLINE)]
        sections.append((text[position:begin], body))
        position = end + len(_END)
    return sections


def _interaction(name: str, meta: str, body: str) -> Interaction:
    start = meta.find(_REQUEST)
    if start == -1:
        return Interaction(name, None, None, None, None, [], body.encode())

    request, _, response = meta[start + len(_REQUEST) :].partition(_RESPONSE)
    request_line, _, request_body = request.partition("\n")
    method, _, url = request_line.partition(" ")
    request_body = request_body.removeprefix(_REQUEST_BODY)
    request_body = request_body.removeprefix(_REBUILT_REQUEST)

    lines = response.partition(_RESPONSE_BODY)[0].split("\n")[1:]
    status = int(lines[0].split(" ")[1])
    headers = [_header(line) for line in lines[1:]]
    return Interaction(
        name, method, url, request_body.encode(), status, headers, body.encode()
    )


def _header(line: str) -> tuple[str, str]:
    key, _, value = line.partition(": ")
    return key, value
