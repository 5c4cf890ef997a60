"""Every Active namespace gets a ``default`` ServiceAccount, as kube-controller-manager's
serviceaccount-controller does: created when the namespace appears (or at startup), recreated if deleted.
Namespaces being terminated are left alone (the API refuses new content there anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kubesim.api import API, NAMESPACES, SYSTEM, WriteOptions
from kubesim.controllers.base import Controller
from kubesim.errors import ApiError
from kubesim.store import Event, Key

log = logging.getLogger("kubesim.controllers.serviceaccounts")

SERVICEACCOUNTS: Key = ("", "serviceaccounts")
DEFAULT_NAME = "default"


class ServiceAccountController(Controller):
    watches = (NAMESPACES, SERVICEACCOUNTS)

    def __init__(self, api: API) -> None:
        super().__init__()
        self.api = api

    def initial_items(self) -> Iterable[tuple[Key, str, str]]:
        return [(NAMESPACES, "", ns["metadata"]["name"]) for ns in self.api.store.list(NAMESPACES)]

    def items_for(self, key: Key, event: Event) -> Iterable[tuple[Key, str, str]]:
        meta = event.obj["metadata"]
        if key == NAMESPACES:
            if event.type == "DELETED" or meta.get("deletionTimestamp"):
                return ()
            return [(NAMESPACES, "", meta["name"])]
        if event.type == "DELETED" and meta.get("name") == DEFAULT_NAME:
            return [(NAMESPACES, "", meta.get("namespace", ""))]
        return ()

    async def reconcile(self, key: Key, namespace: str, name: str) -> None:
        store = self.api.store
        ns = store.get(NAMESPACES, "", name)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if (ns.get("status") or {}).get("phase", "Active") != "Active":
            return
        if store.get(SERVICEACCOUNTS, name, DEFAULT_NAME) is not None:
            return
        rt = self.api.registry.get("", "v1", "serviceaccounts")
        assert rt is not None
        try:
            self.api.create(rt, name, {"metadata": {"name": DEFAULT_NAME}}, WriteOptions(user=SYSTEM))
        except ApiError as exc:
            if exc.code not in (403, 404, 409):  # terminating, gone, or created meanwhile
                log.warning("creating the default ServiceAccount in %s failed: %s", name, exc.message)
