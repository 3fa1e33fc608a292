"""Record every token and every dollar an application spends on OpenAI.

Pass a tracked HTTP client to the openai SDK and every call lands, priced, in
a daily JSON ledger::

    from openai import AzureOpenAI, DefaultHttpxClient
    from token_tracking import track, tracking_context

    client = AzureOpenAI(..., http_client=track(DefaultHttpxClient()))
    with tracking_context("Search Agent - Ludox 200mg (Step 1)"):
        client.chat.completions.create(...)
"""

from ._context import current_context, tracking_context
from ._instrument import instrument, track, uninstrument
from ._pricing import Price, PriceBook
from ._tracker import TokenTracker
from ._transport import AsyncTrackingTransport, TrackingTransport
from ._usage import Usage

__version__ = "0.1.0"

__all__ = [
    "AsyncTrackingTransport",
    "Price",
    "PriceBook",
    "TokenTracker",
    "TrackingTransport",
    "Usage",
    "__version__",
    "current_context",
    "instrument",
    "track",
    "tracking_context",
    "uninstrument",
]
