"""Blocking work off the event loop: one thread pool for the whole app, sized by ``settings.worker_threads``.

Searches, archive reads and ``app.db`` writes block (SQLite, numpy, FAISS, model calls); on the event loop one
slow search would stall every open web-chat socket.  At start-up the pool becomes the loop's default executor,
so every ``asyncio.to_thread`` call in the app and the connectors runs on it.

The Rasa actions are coroutines (rasa-sdk) whose bodies call the archive and the retriever synchronously, so
:func:`run_coroutine` runs a whole action on a pool thread, on an event loop that belongs to that thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

T = TypeVar("T")
_local = threading.local()
_loops: list[asyncio.AbstractEventLoop] = []  # every worker thread's loop, closed with its pool
_loops_lock = threading.Lock()


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
        with _loops_lock:
            _loops.append(loop)
    return loop


def _run_here(factory: Callable[..., Awaitable[T]], args: tuple[Any, ...]) -> T:
    return _thread_loop().run_until_complete(factory(*args))


async def run_coroutine(factory: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``factory(*args)`` to completion on a worker thread's own event loop; await its result here."""
    return await asyncio.to_thread(_run_here, factory, args)


@asynccontextmanager
async def worker_pool(threads: int) -> AsyncIterator[ThreadPoolExecutor]:
    """The app's thread pool as the running loop's default executor, for the life of the app."""
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="civic-worker")
    asyncio.get_running_loop().set_default_executor(pool)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        with _loops_lock:
            idle = [loop for loop in _loops if not loop.is_running()]
            for loop in idle:
                loop.close()
                _loops.remove(loop)
