"""What the kubelet asks of an API server, and the list+watch loop it builds its view from.

The kubelet talks to its cluster only through a :class:`NodeClient`, as a real kubelet does through its
clientset (pkg/kubelet/config/apiserver.go takes any ListerWatcher): an in-process client over kubesim's
own store (:mod:`kubesim.kubelet.inprocess`) or a remote one over HTTPS with a kubeconfig
(:mod:`kubesim.kubelet.remote`), so the same kubelet runs kubesim's node and joins any cluster as an agent.

Errors: an answer of the API server raises :class:`kubesim.errors.ApiError` (code, reason, message); a
server that cannot be reached raises :class:`ConnectionError`; a watch from a resourceVersion the server no
longer has raises :class:`Expired` (relist).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

from kubesim.errors import ApiError

log = logging.getLogger("kubesim.kubelet")

Obj = dict[str, Any]


@dataclass(frozen=True)
class Res:
    """A resource collection: group, version, plural, and whether it lives in namespaces."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str = "", name: str = "", subresource: str = "") -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [root]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
        if subresource:
            parts.append(subresource)
        return "/".join(parts)


PODS = Res("", "v1", "pods")
NODES = Res("", "v1", "nodes", namespaced=False)
EVENTS = Res("", "v1", "events")
CONFIGMAPS = Res("", "v1", "configmaps")
SECRETS = Res("", "v1", "secrets")
PVCS = Res("", "v1", "persistentvolumeclaims")
PVS = Res("", "v1", "persistentvolumes", namespaced=False)
SERVICEACCOUNTS = Res("", "v1", "serviceaccounts")
LEASES = Res("coordination.k8s.io", "v1", "leases")


class WatchEvent(NamedTuple):
    type: Literal["ADDED", "MODIFIED", "DELETED"]
    obj: Obj


class Listed(enum.Enum):
    """In an informer's stream: the (re)list is complete; everything the server holds was seen."""

    MARK = 1


class Expired(Exception):
    """The watch's resourceVersion is older than what the server keeps (410): list again."""


class NodeClient(Protocol):
    """The kubelet's view of an API server. Objects returned are the caller's to read, never to change."""

    @property
    def server_url(self) -> str:
        """Where pods reach this API server (KUBERNETES_SERVICE_HOST/PORT of process containers)."""
        ...

    async def get(self, r: Res, ns: str, name: str) -> Obj | None: ...

    async def list(self, r: Res, *, ns: str = "", fields: str = "") -> tuple[list[Obj], str]: ...

    def watch(self, r: Res, *, since: str, ns: str = "", fields: str = "") -> AsyncIterator[WatchEvent]: ...

    async def create(self, r: Res, ns: str, body: Obj, *, name: str = "", subresource: str = "") -> Obj: ...

    async def update(self, r: Res, ns: str, name: str, body: Obj, *, subresource: str = "") -> Obj: ...

    async def patch(self, r: Res, ns: str, name: str, patch: Obj, *, subresource: str = "") -> Obj:
        """A JSON merge patch (RFC 7386)."""
        ...

    async def delete(
        self, r: Res, ns: str, name: str, *, uid: str = "", grace: int | None = None
    ) -> None: ...

    async def close(self) -> None: ...


def object_key(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])


async def informer(
    c: NodeClient,
    r: Res,
    *,
    ns: str = "",
    fields: str = "",
    backoff_max: float = 10.0,
) -> AsyncIterator[WatchEvent | Listed]:
    """List, then watch from the list's resourceVersion, forever (kopf's ``continuous_watch``, client-go's
    reflector). A relist replaces what was known: objects it no longer holds come out as DELETED
    (client-go's ``DeltaFIFO.Replace``), so a consumer's cache never keeps what a missed event removed.
    A watch that ends is resumed from the last resourceVersion; a 410 relists; an unreachable server is
    retried with a capped, jittered back-off."""
    known: dict[tuple[str, str], Obj] = {}
    delay = 0.0
    while True:
        try:
            items, rv = await c.list(r, ns=ns, fields=fields)
        except (ApiError, ConnectionError) as exc:
            delay = min(backoff_max, max(0.2, delay * 2))
            log.info("listing %s failed (%s); retrying in %.1f s", r.plural, exc, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            continue
        fresh = {object_key(o): o for o in items}
        for key, old in known.items():
            if key not in fresh:
                yield WatchEvent("DELETED", old)
        for key, obj in fresh.items():
            before = known.get(key)
            if before is None:
                yield WatchEvent("ADDED", obj)
            elif before["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                yield WatchEvent("MODIFIED", obj)
        known = fresh
        yield Listed.MARK
        while True:
            try:
                async for event in c.watch(r, since=rv, ns=ns, fields=fields):
                    delay = 0.0
                    key = object_key(event.obj)
                    if event.type == "DELETED":
                        known.pop(key, None)
                    else:
                        known[key] = event.obj
                    rv = str(event.obj["metadata"].get("resourceVersion") or rv)
                    yield event
            except Expired:
                break  # relist
            except (ApiError, ConnectionError) as exc:
                delay = min(backoff_max, max(0.2, delay * 2))
                log.info("watching %s failed (%s); resuming in %.1f s", r.plural, exc, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
