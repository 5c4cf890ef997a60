"""core/v1 Events as a real kubelet posts them, with repeats aggregated, sent in the background.

A repeat of the same event (same source, object, field path, type, reason and message) does not create a
new Event: like upstream's EventCorrelator, the existing one gets ``count + 1`` and a new
``lastTimestamp`` (a PATCH). Recording never waits for the API server: events queue up and one task sends
them in order (client-go's event broadcaster does the same), so a slow or absent server never stalls a pod.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from kubesim.errors import ApiError
from kubesim.kubelet.client import EVENTS, NodeClient
from kubesim.objectmeta import now

log = logging.getLogger("kubesim.kubelet")

Obj = dict[str, Any]

MAX_QUEUED = 5000  # beyond this, events are dropped (logged), as the broadcaster's bounded channel does


def container_field_path(name: str, init: bool = False) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{name}}}"


class EventRecorder:
    """Posts Events for one component (``kubelet`` on a host)."""

    def __init__(self, client: NodeClient, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        # correlation key -> (namespace, event name, count)
        self._seen: dict[tuple[str, ...], tuple[str, str, int]] = {}
        self._queue: asyncio.Queue[tuple[tuple[str, ...], Obj]] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._send_loop(), name="kubelet events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def flush(self) -> None:
        """Wait until every queued event was sent (or given up on)."""
        if self._queue is not None and self._task is not None:
            await self._queue.join()

    def event(
        self, obj: Obj, type_: str, reason: str, message: str, field_path: str = "", action: str = ""
    ) -> None:
        """Queue an event about obj (a pod or node); sending failures are logged only."""
        meta = obj.get("metadata", {})
        involved: Obj = {
            "kind": obj.get("kind", "Pod"),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", "v1"),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if not involved["namespace"]:
            involved.pop("namespace")
        if field_path:
            involved["fieldPath"] = field_path
        key = (
            self.component,
            self.host,
            involved["kind"],
            involved.get("namespace", ""),
            involved["name"],
            involved["uid"],
            field_path,
            type_,
            reason,
            message,
        )
        stamp = now()
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name', 'object')}.{secrets.token_hex(8)}",
                "namespace": meta.get("namespace") or "default",
            },
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        if action:
            body["action"] = action
        if self._queue is None:
            return
        if self._queue.qsize() >= MAX_QUEUED:
            log.warning("event queue full; dropped %s %s", reason, message)
            return
        self._queue.put_nowait((key, body))

    async def _send_loop(self) -> None:
        assert self._queue is not None
        while True:
            key, body = await self._queue.get()
            try:
                await self._send(key, body)
            except (ApiError, ConnectionError) as exc:
                log.debug("could not record event %s %s: %s", body["reason"], body["message"], exc)
            finally:
                self._queue.task_done()

    async def _send(self, key: tuple[str, ...], body: Obj) -> None:
        namespace = body["metadata"]["namespace"]
        seen = self._seen.get(key)
        if seen is not None:
            ns, name, count = seen
            try:
                await self.client.patch(
                    EVENTS, ns, name, {"count": count + 1, "lastTimestamp": body["lastTimestamp"]}
                )
                self._seen[key] = (ns, name, count + 1)
                return
            except ApiError as exc:
                if exc.code != 404:
                    raise
        await self.client.create(EVENTS, namespace, body)
        if len(self._seen) > 10000:
            self._seen.clear()
        self._seen[key] = (namespace, body["metadata"]["name"], 1)

    def forget(self, uid: str) -> None:
        """Drop correlation entries of a removed object."""
        for key in [k for k in self._seen if k[5] == uid]:
            self._seen.pop(key, None)
