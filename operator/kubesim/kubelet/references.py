"""The ConfigMaps and Secrets the node's pods refer to, each kept current by a watch of that one object.

Upstream's kubelet does the same (its watch-based ConfigMap and Secret managers): a list+watch with
``fieldSelector=metadata.name=<name>`` in the pod's namespace, which the Node authorizer allows for objects
a pod bound to the node refers to, and nothing wider. A change to a watched object pokes the pods of its
namespace, so a pod waiting for a missing ConfigMap starts as soon as it is created.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from kubesim.errors import ApiError
from kubesim.kubelet.client import CONFIGMAPS, SECRETS, Listed, NodeClient, Res, informer

log = logging.getLogger("kubesim.kubelet")

Obj = dict[str, Any]
Ref = tuple[Res, str, str]  # resource, namespace, name

FIRST_SYNC_SECONDS = 5.0


def references(pod: Obj) -> set[Ref]:
    """The ConfigMaps and Secrets a pod's volumes and containers' environments name."""
    ns = pod["metadata"].get("namespace", "")
    spec = pod.get("spec") or {}
    out: set[Ref] = set()

    def add(r: Res, name: Any) -> None:
        if isinstance(name, str) and name:
            out.add((r, ns, name))

    for vol in spec.get("volumes") or ():
        if vol.get("configMap") is not None:
            add(CONFIGMAPS, vol["configMap"].get("name"))
        if vol.get("secret") is not None:
            add(SECRETS, vol["secret"].get("secretName"))
        for source in (vol.get("projected") or {}).get("sources") or ():
            if source.get("configMap") is not None:
                add(CONFIGMAPS, source["configMap"].get("name"))
            if source.get("secret") is not None:
                add(SECRETS, source["secret"].get("name"))
    containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
    for c in containers:
        for source in c.get("envFrom") or ():
            if source.get("configMapRef") is not None:
                add(CONFIGMAPS, source["configMapRef"].get("name"))
            if source.get("secretRef") is not None:
                add(SECRETS, source["secretRef"].get("name"))
        for var in c.get("env") or ():
            value_from = var.get("valueFrom") or {}
            if value_from.get("configMapKeyRef") is not None:
                add(CONFIGMAPS, value_from["configMapKeyRef"].get("name"))
            if value_from.get("secretKeyRef") is not None:
                add(SECRETS, value_from["secretKeyRef"].get("name"))
    return out


class _Entry:
    def __init__(self) -> None:
        self.obj: Obj | None = None
        self.synced = asyncio.Event()
        self.owners: set[str] = set()
        self.task: asyncio.Task[None] | None = None


class ObjectCache:
    def __init__(self, client: NodeClient, on_change: Callable[[str], None]) -> None:
        self.client = client
        self.on_change = on_change
        self._entries: dict[Ref, _Entry] = {}

    def acquire(self, owner: str, refs: set[Ref]) -> None:
        """``owner`` (a pod uid) uses ``refs``: watch each one not watched yet."""
        for ref in refs:
            entry = self._entries.get(ref)
            if entry is None:
                entry = self._entries[ref] = _Entry()
                entry.task = asyncio.get_running_loop().create_task(
                    self._watch(ref, entry), name=f"watch {ref[0].plural} {ref[1]}/{ref[2]}"
                )
            entry.owners.add(owner)

    def release(self, owner: str) -> None:
        """``owner`` is gone: stop watching what no other pod uses."""
        for ref, entry in list(self._entries.items()):
            entry.owners.discard(owner)
            if not entry.owners:
                del self._entries[ref]
                if entry.task is not None:
                    entry.task.cancel()

    async def stop(self) -> None:
        tasks = [e.task for e in self._entries.values() if e.task is not None]
        self._entries.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self, ref: Ref, entry: _Entry) -> None:
        r, ns, name = ref
        async for item in informer(self.client, r, ns=ns, fields=f"metadata.name={name}"):
            if item is Listed.MARK:
                entry.synced.set()
                self.on_change(ns)
                continue
            entry.obj = None if item.type == "DELETED" else item.obj
            if entry.synced.is_set():
                self.on_change(ns)

    async def get(self, r: Res, ns: str, name: str) -> Obj | None:
        """The object as last seen by its watch (waiting for the first list a moment); a direct GET if the
        object is not watched or its watch cannot list it."""
        entry = self._entries.get((r, ns, name))
        if entry is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.synced.wait(), FIRST_SYNC_SECONDS)
            if entry.synced.is_set():
                return entry.obj
        try:
            return await self.client.get(r, ns, name)
        except (ApiError, ConnectionError) as exc:
            log.info("reading %s %s/%s: %s", r.plural, ns, name, exc)
            return None

    async def snapshot(self, refs: set[Ref]) -> dict[Ref, Obj | None]:
        """Each reference's object now (for code that resolves a pod synchronously)."""
        pairs = [(ref, asyncio.ensure_future(self.get(*ref))) for ref in refs]
        return {ref: await fut for ref, fut in pairs}
