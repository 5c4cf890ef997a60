"""Every Active namespace gets the ConfigMap ``kube-root-ca.crt`` holding the cluster's CA certificate
(``ca.crt``), as kube-controller-manager's root-ca-cert-publisher does: created when the namespace appears
(or at startup), recreated if deleted, its data and description annotation restored if changed. Pods
verify the API server with it (the ``kube-api-access`` projected volume names it), and object-count
quotas on ConfigMaps count it, as upstream.

Nothing is published when kubesim serves plain HTTP (``tls=False``: there is no CA).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from kubesim.api import API, NAMESPACES, SYSTEM, WriteOptions
from kubesim.controllers.base import Controller
from kubesim.errors import ApiError
from kubesim.store import Event, Key, Obj

log = logging.getLogger("kubesim.controllers.rootca")

CONFIGMAPS: Key = ("", "configmaps")
NAME = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such "
    "as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
    "distributions of Kubernetes clusters."
)


class RootCAPublisher(Controller):
    watches = (NAMESPACES, CONFIGMAPS)

    def __init__(self, api: API, ca_pem: Callable[[], bytes | None]) -> None:
        super().__init__()
        self.api = api
        self._ca_pem = ca_pem

    def initial_items(self) -> Iterable[tuple[Key, str, str]]:
        return [(NAMESPACES, "", ns["metadata"]["name"]) for ns in self.api.store.list(NAMESPACES)]

    def items_for(self, key: Key, event: Event) -> Iterable[tuple[Key, str, str]]:
        meta = event.obj["metadata"]
        if key == NAMESPACES:
            if event.type == "DELETED" or meta.get("deletionTimestamp"):
                return ()
            return [(NAMESPACES, "", meta["name"])]
        if meta.get("name") == NAME:
            return [(NAMESPACES, "", meta.get("namespace", ""))]
        return ()

    async def reconcile(self, key: Key, namespace: str, name: str) -> None:
        pem = self._ca_pem()
        if not pem:
            return
        store = self.api.store
        with store.lock:
            ns = store.get(NAMESPACES, "", name)
            if ns is None or ns["metadata"].get("deletionTimestamp"):
                return
            if (ns.get("status") or {}).get("phase", "Active") != "Active":
                return
            data = {"ca.crt": pem.decode()}
            rt = self.api.registry.get("", "v1", "configmaps")
            assert rt is not None
            opts = WriteOptions(user=SYSTEM)
            current = store.get(CONFIGMAPS, name, NAME)
            try:
                if current is None:
                    body: Obj = {
                        "metadata": {"name": NAME, "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                        "data": data,
                    }
                    self.api.create(rt, name, body, opts)
                    return
                annotations = current["metadata"].get("annotations") or {}
                if current.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
                    return
                meta = {
                    **current["metadata"],
                    "annotations": {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION},
                }
                self.api.update(rt, name, NAME, {**current, "metadata": meta, "data": data}, opts)
            except ApiError as exc:
                if exc.code not in (403, 404, 409):  # terminating, gone, or changed meanwhile
                    log.warning("publishing %s in %s failed: %s", NAME, name, exc.message)
