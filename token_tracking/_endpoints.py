"""Tell, from a request path alone, whether a call is one whose tokens we count.

Four kinds of call report token usage in their response: chat completions,
Responses, embeddings and legacy completions. OpenAI serves them under
``/v1/...``; Azure OpenAI serves them under
``/openai/deployments/{deployment}/...`` (classic routes, with
``?api-version=``), ``/openai/responses`` and ``/openai/v1/...`` (the v1 routes,
where the deployment travels in the body's ``model``). Gateways and proxies
often mount either layout below a base path of their own, so any prefix is
accepted as long as the path ends with one of the four operations.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["Endpoint", "classify"]

_OPERATIONS = {
    "chat/completions": "chat",
    "responses": "responses",
    "embeddings": "embeddings",
    "completions": "completions",
}

# Anchored at the end so that sub-resources such as GET /v1/responses/{id} or
# /v1/chat/completions/{id}/messages fall through. ``search`` returns the
# leftmost match, so "chat/completions" wins over its "completions" suffix.
# "/extensions" is Azure's older "on your data" chat route.
_PATH = re.compile(
    r"(?:/openai/deployments/(?P<deployment>[^/]+)(?:/extensions)?)?"
    r"/(?P<operation>chat/completions|responses|embeddings|completions)/?$"
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A call whose response carries token usage.

    ``kind`` is ``"chat"``, ``"responses"``, ``"embeddings"`` or
    ``"completions"``. ``deployment`` is the percent-decoded Azure deployment
    name for the classic ``/openai/deployments/{deployment}/`` routes, and
    ``None`` everywhere else.
    """

    kind: str
    deployment: str | None = None


def classify(path: str) -> Endpoint | None:
    """Return the endpoint a URL path addresses, or ``None`` for other calls.

    ``path`` is the path of the request URL; a query string, if left on, is
    ignored. Only the path is looked at, so the caller decides on the method:
    a ``GET`` on ``/v1/chat/completions`` lists stored completions and carries
    no usage. Results are cached, since a client sends the same few paths
    over and over.
    """
    return _classify(path.partition("?")[0])


@functools.lru_cache(maxsize=256)
def _classify(path: str) -> Endpoint | None:
    match = _PATH.search(path)
    if match is None:
        return None

    deployment = match["deployment"]
    return Endpoint(
        kind=_OPERATIONS[match["operation"]],
        deployment=unquote(deployment) if deployment else None,
    )
