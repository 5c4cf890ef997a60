"""Kubernetes Events on instances: what happened, readable with ``kubectl describe jni``.

Posted in the background so that recording an event never delays provisioning.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Any

from jupyternetes.adapters.kube import Kube, KubeError

log = logging.getLogger("jupyternetes.events")

COMPONENT = "jupyternetes-operator"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, kube: Kube, *, enabled: bool = True) -> None:
        self.kube = kube
        self.enabled = enabled
        self._tasks: set[asyncio.Task[None]] = set()

    def record(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        if not self.enabled:
            return
        meta = obj["metadata"]
        now = _now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name'][:200]}.{uuid.uuid4().hex[:16]}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        task = asyncio.get_running_loop().create_task(self._post(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, event: dict[str, Any]) -> None:
        try:
            await self.kube.create(event)
        except KubeError as exc:
            # Events are best effort, as in every Kubernetes controller.
            log.debug("could not post event %s: %s", event["reason"], exc)

    async def flush(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
