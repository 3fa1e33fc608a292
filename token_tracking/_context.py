"""The label that names the calls made inside a block of code.

The label lives in a ``contextvars.ContextVar``. asyncio copies the current
context into every task it creates, so a label set before ``create_task`` or
``gather`` reaches the task, while a label set inside one task never shows in
another. Threads start with an empty context: a worker thread sees no label
unless it is run with ``contextvars.copy_context().run`` (as
``asyncio.to_thread`` and ``loop.run_in_executor`` in a copied context do).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

__all__ = ["current_context", "tracking_context"]

_F = TypeVar("_F", bound=Callable[..., Any])

_label: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "token_tracking_context", default=None
)


def current_context() -> str | None:
    """Return the label of the innermost active ``tracking_context``, or None."""
    return _label.get()


class tracking_context:
    """Label every OpenAI call made inside a block, a function or a coroutine.

    As a context manager::

        with tracking_context("Search Agent - Ludox 200mg (Step 1)"):
            client.chat.completions.create(...)

    As a decorator, on plain and ``async`` functions alike::

        @tracking_context("Search Agent")
        async def search(query: str) -> str: ...

    Nested labels join with ``" / "``: ``"Search Agent / Step 1"``. One
    object may be entered again once it has been left, and nested in itself;
    the decorator makes a fresh one for every call, so decorated functions
    run concurrently without sharing state.
    """

    def __init__(self, label: str) -> None:
        if not isinstance(label, str):
            raise TypeError(
                f"tracking_context takes a str label; got {type(label).__name__}"
            )
        self.label = label
        self._tokens: list[contextvars.Token[str | None]] = []

    def __enter__(self) -> str:
        outer = _label.get()
        label = self.label if outer is None else f"{outer} / {self.label}"
        self._tokens.append(_label.set(label))
        return label

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _label.reset(self._tokens.pop())

    def __call__(self, func: _F) -> _F:
        label = self.label

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with tracking_context(label):
                    return await func(*args, **kwargs)

            return cast(_F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with tracking_context(label):
                return func(*args, **kwargs)

        return cast(_F, run)
