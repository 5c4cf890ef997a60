"""core/v1 Events as a real kubelet (and the default scheduler) post them, with repeats aggregated.

A repeat of the same event (same source, object, field path, type, reason and message) does not create a
new Event: like upstream's EventCorrelator, the existing one gets ``count + 1`` and a new
``lastTimestamp``.
"""

from __future__ import annotations

import copy
import logging
import secrets
from typing import Any

from kubesim.api import API, User, WriteOptions
from kubesim.errors import ApiError
from kubesim.objectmeta import now

log = logging.getLogger("kubesim.kubelet")

Obj = dict[str, Any]

EVENTS = ("", "events")


def container_field_path(name: str, init: bool = False) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{name}}}"


class EventRecorder:
    """Posts Events for one component (``kubelet`` on a host, or ``default-scheduler``)."""

    def __init__(self, api: API, component: str, host: str = "", user: User | None = None) -> None:
        self.api = api
        self.component = component
        self.host = host
        self.opts = WriteOptions(
            user=user or User(f"system:{component}", ("system:authenticated",)), field_manager=component
        )
        # correlation key -> (namespace, event name)
        self._seen: dict[tuple[str, ...], tuple[str, str]] = {}

    def _rt(self) -> Any:
        rt = self.api.registry.get("", "v1", "events")
        assert rt is not None
        return rt

    def event(
        self, obj: Obj, type_: str, reason: str, message: str, field_path: str = "", action: str = ""
    ) -> None:
        """Record an event about obj (a pod or node); failures (namespace terminating...) are logged only."""
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
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
        rt = self._rt()
        try:
            with self.api.store.lock:
                seen = self._seen.get(key)
                if seen is not None:
                    existing = self.api.store.get(rt.key, seen[0], seen[1])
                    if existing is not None:
                        new = copy.deepcopy(existing)
                        new["count"] = int(new.get("count") or 1) + 1
                        new["lastTimestamp"] = stamp
                        new["metadata"].pop("resourceVersion", None)
                        self.api.update(rt, seen[0], seen[1], new, self.opts)
                        return
                name = f"{meta.get('name', 'object')}.{secrets.token_hex(8)}"
                body: Obj = {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": namespace},
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
                self.api.create(rt, namespace, body, self.opts)
                if len(self._seen) > 10000:
                    self._seen.clear()
                self._seen[key] = (namespace, name)
        except ApiError as exc:
            log.debug("could not record event %s %s: %s", reason, message, exc)

    def forget(self, uid: str) -> None:
        """Drop correlation entries of a removed object."""
        for key in [k for k in self._seen if k[5] == uid]:
            self._seen.pop(key, None)
