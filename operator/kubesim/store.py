"""The in-memory object store: one global resourceVersion counter, a bounded event history per
collection (for watches that resume from a resourceVersion) and the watchers to notify.

Stored objects are never mutated once stored: a write stores a new dict. Events and list results can
therefore share the stored dicts without copying, and the JSON encoding of an object is cached with it.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]  # (group, plural)
Obj = dict[str, Any]


def storage_key(ident: tuple[str, str]) -> str:
    """The order of lists: upstream's etcd key under the collection, ``<namespace>/<name>`` (so namespace
    ``a-b`` sorts before ``a``: ``-`` comes before ``/``)."""
    namespace, name = ident
    return f"{namespace}/{name}" if namespace else name


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPED = re.compile("[<>&\u2028\u2029]")


def go_json(obj: Any) -> bytes:
    """``obj`` as Go's ``json.Encoder`` writes it: compact, HTML-safe escapes of ``<``, ``>``, ``&`` (and
    U+2028, U+2029; they only occur inside strings), a trailing newline."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return (_GO_ESCAPED.sub(lambda m: _GO_ESCAPES[m.group()], text) + "\n").encode()


@dataclass(slots=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj
    old: Obj | None
    _encoded: bytes | None = field(default=None, repr=False)

    def encoded_object(self) -> bytes:
        if self._encoded is None:
            self._encoded = dumps(self.obj)
        return self._encoded


@dataclass(slots=True, frozen=True)
class Progress:
    """In a watcher's queue: every event of its collection up to ``rv`` was queued ahead of this marker,
    so once the stream has sent what came before it, a BOOKMARK may carry ``rv``."""

    rv: int


class Watcher:
    """A subscription to one collection; events are delivered on the watcher's event loop."""

    def __init__(self, key: Key, loop: asyncio.AbstractEventLoop) -> None:
        self.key = key
        self.loop = loop
        self.queue: asyncio.Queue[Event | Progress | None] = asyncio.Queue()
        self._loop_thread = threading.get_ident()

    def deliver(self, event: Event | None) -> None:
        if threading.get_ident() == self._loop_thread:
            self.queue.put_nowait(event)
        else:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)


class Store:
    def __init__(self, history_size: int = 20000) -> None:
        self._lock = threading.RLock()
        self._rv = 1
        self._data: dict[Key, dict[tuple[str, str], Obj]] = {}
        self._history: dict[Key, deque[Event]] = {}
        self._compacted: dict[Key, int] = {}  # highest rv dropped from each history
        self._watchers: dict[Key, set[Watcher]] = {}
        self._history_size = history_size
        self.listeners: list[Callable[[Key, Event], None]] = []  # in-process controllers

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, key: Key, namespace: str, name: str) -> Obj | None:
        coll = self._data.get(key)
        return coll.get((namespace, name)) if coll else None

    def list(self, key: Key, namespace: str | None = None) -> list[Obj]:
        with self._lock:
            coll = self._data.get(key)
            if not coll:
                return []
            if namespace is None:
                return [coll[k] for k in sorted(coll, key=storage_key)]
            return [coll[k] for k in sorted(coll, key=storage_key) if k[0] == namespace]

    def count(self, key: Key) -> int:
        return len(self._data.get(key, ()))

    def keys(self) -> Iterable[Key]:
        return list(self._data)

    def _emit(self, key: Key, event: Event) -> None:
        hist = self._history.get(key)
        if hist is None:
            hist = self._history[key] = deque()
        if len(hist) >= self._history_size:
            dropped = hist.popleft()
            self._compacted[key] = dropped.rv
        hist.append(event)
        for w in list(self._watchers.get(key, ())):
            w.deliver(event)
        for listener in self.listeners:
            listener(key, event)

    def put(self, key: Key, obj: Obj) -> Obj:
        """Store obj (a new dict the caller will not touch again), stamping a new resourceVersion."""
        with self._lock:
            meta = obj["metadata"]
            ident = (meta.get("namespace", ""), meta["name"])
            coll = self._data.setdefault(key, {})
            old = coll.get(ident)
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            coll[ident] = obj
            self._emit(key, Event(self._rv, "MODIFIED" if old is not None else "ADDED", obj, old))
            return obj

    def remove(self, key: Key, obj: Obj) -> Obj:
        """Remove the object; the DELETED event carries its last state with the deletion's resourceVersion."""
        with self._lock:
            meta = obj["metadata"]
            ident = (meta.get("namespace", ""), meta["name"])
            coll = self._data.get(key, {})
            old = coll.pop(ident, None)
            if old is None:
                return obj
            self._rv += 1
            final = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self._rv)}}
            self._emit(key, Event(self._rv, "DELETED", final, old))
            return final

    def drop_collection(self, key: Key) -> None:
        """Forget a collection entirely (a CRD removed) after its objects were deleted."""
        with self._lock:
            self._data.pop(key, None)
            # Its history goes too: a watch resuming from before the drop gets 410, as after a compaction.
            self._history.pop(key, None)
            self._compacted[key] = self._rv
            self.close_watchers(key)

    def begin_history(self, key: Key) -> None:
        """A collection starts being served now (a CRD created): as upstream's watch cache, filled by a list
        at that point, its history starts here and a watch from an older resourceVersion gets 410."""
        with self._lock:
            self._history.pop(key, None)
            self._compacted[key] = self._rv

    def events_since(self, key: Key, rv: int) -> builtins.list[Event] | None:
        """Events after rv, or None when some were already compacted away (the client must relist)."""
        with self._lock:
            if rv < self._compacted.get(key, 0):
                return None
            hist = self._history.get(key, ())
            return [e for e in hist if e.rv > rv]

    def oldest_available(self, key: Key) -> int:
        return self._compacted.get(key, 0)

    def subscribe(self, key: Key, loop: asyncio.AbstractEventLoop) -> Watcher:
        w = Watcher(key, loop)
        with self._lock:
            self._watchers.setdefault(key, set()).add(w)
        return w

    def request_progress(self, w: Watcher) -> None:
        """Queue a :class:`Progress` marker for ``w`` behind every event already handed to it. Events from
        other threads reach the queue through the loop's callback queue, so the marker goes that way too
        (FIFO): put directly, it could overtake one of them and a bookmark would skip its event."""
        with self._lock:
            w.loop.call_soon_threadsafe(w.queue.put_nowait, Progress(self._rv))

    def unsubscribe(self, w: Watcher) -> None:
        with self._lock:
            self._watchers.get(w.key, set()).discard(w)

    def close_watchers(self, key: Key | None = None) -> None:
        with self._lock:
            for k, ws in self._watchers.items():
                if key is None or k == key:
                    for w in ws:
                        w.deliver(None)
