"""Namespace lifecycle: a deleted namespace turns Terminating, its content is deleted, then it goes."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from kubesim.api import API, NAMESPACES, SYSTEM, WriteOptions
from kubesim.controllers.base import Controller
from kubesim.errors import ApiError
from kubesim.store import Event, Key

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class NamespaceController(Controller):
    watches = (NAMESPACES,)

    def __init__(self, api: API) -> None:
        super().__init__()
        self.api = api
        self._terminating: set[str] = set()

    def on_event(self, key: Key, event: Event) -> None:
        if key == NAMESPACES:
            super().on_event(key, event)
            return
        # Content of a terminating namespace went away: look again.
        ns = event.obj["metadata"].get("namespace")
        if event.type == "DELETED" and ns in self._terminating:
            self.enqueue(NAMESPACES, "", ns)

    def items_for(self, key: Key, event: Event) -> Iterable[tuple[Key, str, str]]:
        if event.type == "DELETED":
            self._terminating.discard(event.obj["metadata"]["name"])
            return ()
        return super().items_for(key, event)

    async def reconcile(self, key: Key, namespace: str, name: str) -> None:
        ns = self.api.store.get(NAMESPACES, "", name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        self._terminating.add(name)
        rt_ns = self.api.registry.get("", "v1", "namespaces")
        assert rt_ns is not None
        opts = WriteOptions(user=SYSTEM, field_manager="namespace-controller")
        if ns.get("status", {}).get("phase") != "Terminating":
            new = copy.deepcopy(ns)
            new["status"] = {**new.get("status", {}), "phase": "Terminating"}
            ns = self.api.update(rt_ns, "", name, new, opts, "status")
        remaining = 0
        for rt in self.api.registry.all():
            if not rt.namespaced or (rt.storage_version and rt.version != rt.storage_version):
                continue
            for obj in self.api.store.list(rt.key, name):
                remaining += 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.api.delete(
                        rt, name, obj["metadata"]["name"], {"propagationPolicy": "Background"}, opts
                    )
                except ApiError:
                    pass
        if remaining and any(
            self.api.store.list(rt.key, name) for rt in self.api.registry.all() if rt.namespaced
        ):
            return  # deletion events of the content re-enqueue us
        ns = self.api.store.get(NAMESPACES, "", name)
        if ns is None:
            return
        new = copy.deepcopy(ns)
        new["spec"] = {**new.get("spec", {}), "finalizers": []}
        self.api.update(rt_ns, "", name, new, opts)
        self._terminating.discard(name)
