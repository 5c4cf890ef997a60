"""A small work-queue controller: store events enqueue keys, a worker reconciles them one at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from kubesim.store import Event, Key

log = logging.getLogger("kubesim.controllers")


class Controller:
    """Subclasses say which collections they watch and how to reconcile one queued item."""

    watches: tuple[Key, ...] = ()

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[Key, str, str]] | None = None
        self._pending: set[tuple[Key, str, str]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue = asyncio.Queue()
        self._task = loop.create_task(self._run(), name=type(self).__name__)
        for item in self.initial_items():
            self.enqueue(*item)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def initial_items(self) -> Iterable[tuple[Key, str, str]]:
        return ()

    def on_event(self, key: Key, event: Event) -> None:
        """Store listener (called under the store lock, possibly from another thread)."""
        if key not in self.watches:
            return
        for item in self.items_for(key, event):
            self.enqueue(*item)

    def items_for(self, key: Key, event: Event) -> Iterable[tuple[Key, str, str]]:
        meta = event.obj["metadata"]
        return [(key, meta.get("namespace", ""), meta["name"])]

    def enqueue(self, key: Key, namespace: str, name: str) -> None:
        if self._loop is None or self._queue is None:
            return
        item = (key, namespace, name)
        if item in self._pending:
            return
        self._pending.add(item)
        queue = self._queue
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            queue.put_nowait(item)
        else:
            self._loop.call_soon_threadsafe(queue.put_nowait, item)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            self._pending.discard(item)
            try:
                await self.reconcile(*item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed on %s", type(self).__name__, item)

    async def reconcile(self, key: Key, namespace: str, name: str) -> None:
        raise NotImplementedError
