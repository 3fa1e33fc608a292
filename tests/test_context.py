"""tracking_context: nesting, decorators, tasks and threads."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from token_tracking import current_context, tracking_context


def test_nested_labels_join_and_unwind() -> None:
    assert current_context() is None
    with tracking_context("Search Agent"):
        with tracking_context("Step 1") as label:
            assert label == "Search Agent / Step 1"
            assert current_context() == "Search Agent / Step 1"
        assert current_context() == "Search Agent"
    assert current_context() is None


def test_label_is_reset_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), tracking_context("failing"):
        raise RuntimeError
    assert current_context() is None


def test_decorator_on_sync_and_async_functions() -> None:
    @tracking_context("sync step")
    def sync_step() -> str | None:
        return current_context()

    @tracking_context("async step")
    async def async_step() -> str | None:
        await asyncio.sleep(0)
        return current_context()

    assert sync_step() == "sync step"
    assert asyncio.run(async_step()) == "async step"
    with tracking_context("outer"):
        assert sync_step() == "outer / sync step"
    assert sync_step.__name__ == "sync_step"


def test_label_survives_await_and_reaches_tasks_but_never_leaks() -> None:
    async def worker(name: str, seen: dict[str, list[str | None]]) -> None:
        with tracking_context(name):
            for _ in range(20):
                await asyncio.sleep(0)
                seen[name].append(current_context())

    async def child() -> str | None:
        await asyncio.sleep(0)
        return current_context()

    async def main() -> None:
        seen: dict[str, list[str | None]] = {f"task {i}": [] for i in range(10)}
        await asyncio.gather(*(worker(name, seen) for name in seen))
        for name, labels in seen.items():
            assert labels == [name] * 20
        with tracking_context("parent"):
            assert await asyncio.create_task(child()) == "parent"
        assert current_context() is None

    asyncio.run(main())


def test_threads_do_not_share_labels() -> None:
    results: dict[int, list[str | None]] = {}
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        with tracking_context(f"thread {n}"):
            barrier.wait()
            results[n] = [current_context() for _ in range(100)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    with tracking_context("main"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for n, labels in results.items():
        assert set(labels) == {f"thread {n}"}


def test_copied_context_carries_the_label_into_a_thread() -> None:
    with tracking_context("handed over"):
        ctx = contextvars.copy_context()
    seen: list[str | None] = []
    thread = threading.Thread(
        target=ctx.run, args=(lambda: seen.append(current_context()),)
    )
    thread.start()
    thread.join()
    assert seen == ["handed over"]


def test_label_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="takes a str label"):
        tracking_context(3)  # type: ignore[arg-type]
