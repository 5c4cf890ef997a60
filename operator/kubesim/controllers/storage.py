"""Storage: a default StorageClass, PVCs bound to provisioned PVs, each PV a directory on the local disk.

What runs here stands for several upstream components at once: the PV controller (binding, phases,
reclaim) with its in-tree host-path provisioner (``kubernetes.io/host-path``, as kube-controller-manager
runs it with ``--enable-hostpath-provisioner``), the pvc-protection and pv-protection controllers, and the
StorageObjectInUseProtection admission plugin.

- At start, the StorageClass ``standard`` (provisioner ``kubernetes.io/host-path``, annotated as the
  default class, reclaimPolicy Delete, volumeBindingMode Immediate) is created if absent.
- A PVC whose class has a kubesim provisioner (``kubernetes.io/host-path``, or the older name
  ``kubesim.io/hostpath``) is provisioned ``bind_delay`` seconds (default 0) after it is first seen: a PV
  ``pvc-<claim uid>`` whose ``spec.hostPath.path`` is a new directory ``<volumes_dir>/pvc-<claim uid>``
  (upstream: ``/tmp/hostpath_pv/<uuid>``), with the claim's request as capacity, its access modes and
  volume mode, a ``claimRef`` to it, the class's reclaim policy and name, upstream's annotations
  (``pv.kubernetes.io/provisioned-by``, ``kubernetes.io/createdby``, ``pv.kubernetes.io/bound-by-controller``)
  and, for reclaimPolicy Delete, the ``kubernetes.io/pv-controller`` finalizer (removed once the volume is
  deleted). The PV turns Bound, then the claim gets
  ``spec.volumeName``, the binding annotations (``pv.kubernetes.io/bind-completed``,
  ``pv.kubernetes.io/bound-by-controller``, ``volume.kubernetes.io/storage-provisioner`` and its beta
  twin) and, last, status Bound with capacity and access modes — so a client that sees the claim Bound
  finds the volume and its directory ready. ``WaitForFirstConsumer`` classes provision once the scheduler
  has picked a node for a pod that uses the claim (the ``volume.kubernetes.io/selected-node``
  annotation). A claim that names a PV in ``spec.volumeName`` (static, pre-bound) is bound to it when that
  PV is free.
- Claims of a class that is missing, or with another provisioner, stay Pending with the Event upstream
  posts (ProvisioningFailed, ExternalProvisioning; the claim of an external provisioner is annotated with
  its name); claims with no class stay Pending (FailedBinding).
- A deleted claim releases its PV: reclaimPolicy Delete removes the PV and its directory; Retain leaves
  the PV ``Released`` with its directory; Recycle empties the directory and makes the PV Available again.
- PVCs get the ``kubernetes.io/pvc-protection`` finalizer and PVs ``kubernetes.io/pv-protection`` when
  created (a create hook, as the admission plugin does). A deleted PVC keeps its finalizer while a pod
  bound to a node (``spec.nodeName``), whatever its phase, names it in
  ``spec.volumes[].persistentVolumeClaim.claimName`` (upstream's pvc-protection controller: a kubelet only
  sees scheduled pods, and a terminated pod keeps its claim until the pod is deleted); a deleted PV keeps
  it while it is Bound.

``volume_path(api, namespace, claim_name) -> Path | None`` is the contract with the kubelet:

- it returns the directory backing the claim when the PVC exists, its ``status.phase`` is ``Bound``, its
  ``spec.volumeName`` names an existing PV whose ``claimRef`` (when it has a uid) is this claim, and that
  PV has ``spec.hostPath.path``; otherwise None (missing, Pending, Lost, or still being provisioned — the
  kubelet keeps the pod Pending and asks again when the claim changes);
- the same claim gives the same directory to every pod that mounts it, for as long as the claim lives:
  what one pod writes there, the next pod finds (Retain keeps it after the claim, Delete removes it);
- it only reads the store (safe from any thread), never creates anything; for volumes kubesim
  provisioned the directory exists before the claim turns Bound (a hand-made hostPath PV may name a
  directory that does not exist; creating it is then the kubelet's call, as for ``DirectoryOrCreate``);
- it does not look at the claim's ``deletionTimestamp``: the kubelet, like upstream's, should refuse to
  start a new pod on a claim that is being deleted.

Simplifications: capacity is the request as written (no rounding); no volume expansion,
snapshots, CSI objects, or selectors/label matching of pre-existing PVs (only ``spec.volumeName``);
``ReadWriteOnce`` is not enforced across pods (it is per node upstream, and there is one directory).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubesim.api import API, SYSTEM, WriteOptions
from kubesim.controllers.base import Controller
from kubesim.controllers.gc import record_event
from kubesim.errors import ApiError
from kubesim.objectmeta import now
from kubesim.resources import ResourceType
from kubesim.store import Event, Key, Obj

log = logging.getLogger("kubesim.controllers.storage")

PVCS: Key = ("", "persistentvolumeclaims")
PVS: Key = ("", "persistentvolumes")
PODS: Key = ("", "pods")
STORAGECLASSES: Key = ("storage.k8s.io", "storageclasses")

PROVISIONER = "kubernetes.io/host-path"
# The name kubesim's provisioner had before it took the in-tree provisioner's; still served.
LEGACY_PROVISIONER = "kubesim.io/hostpath"
DEFAULT_CLASS = "standard"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
PV_CONTROLLER_FINALIZER = "kubernetes.io/pv-controller"
ANN_CREATED_BY = "kubernetes.io/createdby"
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
PV_CONTROLLER = "persistentvolume-controller"


def volume_path(api: API, namespace: str, claim_name: str) -> Path | None:
    """The directory of the PV bound to the claim, or None (see the module docstring for the contract)."""
    store = api.store
    pvc = store.get(PVCS, namespace, claim_name)
    if pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
        return None
    volume_name = (pvc.get("spec") or {}).get("volumeName")
    if not volume_name:
        return None
    pv = store.get(PVS, "", volume_name)
    if pv is None:
        return None
    spec = pv.get("spec") or {}
    claim_ref = spec.get("claimRef") or {}
    if claim_ref.get("uid") and claim_ref["uid"] != pvc["metadata"].get("uid"):
        return None
    path = (spec.get("hostPath") or {}).get("path")
    return Path(path) if path else None


def claims_of(pod: Obj) -> tuple[str, ...]:
    """The PVC names a pod's volumes refer to."""
    out: list[str] = []
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        if not isinstance(volume, dict):
            continue
        source = volume.get("persistentVolumeClaim")
        if isinstance(source, dict) and isinstance(source.get("claimName"), str) and source["claimName"]:
            out.append(source["claimName"])
    return tuple(out)


def _add_finalizer(obj: Obj, finalizer: str) -> None:
    meta = obj.setdefault("metadata", {})
    finalizers = meta.get("finalizers")
    if not isinstance(finalizers, list):
        finalizers = meta["finalizers"] = []
    if finalizer not in finalizers:
        finalizers.append(finalizer)


def _protect_pvc(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """Create hook, as the StorageObjectInUseProtection admission plugin: PVCs get pvc-protection."""
    _add_finalizer(obj, PVC_PROTECTION)


def _protect_pv(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """Create hook, as the StorageObjectInUseProtection admission plugin: PVs get pv-protection."""
    _add_finalizer(obj, PV_PROTECTION)


class StorageController(Controller):
    """Options (``Cluster(storage={...})``): ``bind_delay`` seconds before a claim is provisioned (0);
    ``default_class``: the name of the default StorageClass created at start (None: create none);
    ``provisioners``: provisioner names served by kubesim (``kubernetes.io/host-path`` and
    ``kubesim.io/hostpath``)."""

    def __init__(
        self,
        api: API,
        volumes_dir: Path,
        *,
        bind_delay: float = 0.0,
        default_class: str | None = DEFAULT_CLASS,
        provisioners: Iterable[str] = (PROVISIONER, LEGACY_PROVISIONER),
    ) -> None:
        super().__init__()
        self.api = api
        self.volumes_dir = Path(volumes_dir)
        self.bind_delay = float(bind_delay)
        self.default_class = default_class
        self.provisioners = frozenset(provisioners)
        self._opts = WriteOptions(user=SYSTEM)
        # Which scheduled pods use which claims: (namespace, claim) -> pod names, and back.
        self._claim_users: dict[tuple[str, str], set[str]] = {}
        self._pod_claims: dict[tuple[str, str], tuple[str, ...]] = {}
        self._due: dict[str, float] = {}  # claim uid -> loop time at which it may be provisioned
        self._announced: dict[str, set[str]] = {}  # claim uid -> reasons of events already posted
        # Admission plugins: after the field manager (the finalizers belong to no manager).
        api.allocation_hooks.setdefault(PVCS, []).append(_protect_pvc)
        api.allocation_hooks.setdefault(PVS, []).append(_protect_pv)

    # ------------------------------------------------------------------ lifecycle

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.volumes_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_default_class()
        super().start(loop)

    def _ensure_default_class(self) -> None:
        if not self.default_class:
            return
        rt = self._rt("storage.k8s.io", "storageclasses")
        if self.api.store.get(STORAGECLASSES, "", self.default_class) is not None:
            return
        body = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": self.default_class, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        }
        try:
            self.api.create(rt, "", body, self._opts)
        except ApiError as exc:
            if exc.code != 409:
                raise

    def initial_items(self) -> Iterable[tuple[Key, str, str]]:
        store = self.api.store
        with store.lock:
            for pod in store.list(PODS):
                self._index_pod(pod, deleted=False)
            items: list[tuple[Key, str, str]] = []
            for pvc in store.list(PVCS):
                items.append((PVCS, pvc["metadata"].get("namespace", ""), pvc["metadata"]["name"]))
            for pv in store.list(PVS):
                items.append((PVS, "", pv["metadata"]["name"]))
            return items

    # ------------------------------------------------------------------ events

    def on_event(self, key: Key, event: Event) -> None:
        meta = event.obj.get("metadata") or {}
        if key == PODS:
            self._on_pod(event)
        elif key == PVCS:
            if event.type == "DELETED":
                uid = meta.get("uid", "")
                self._due.pop(uid, None)
                self._announced.pop(uid, None)
                volume = (event.obj.get("spec") or {}).get("volumeName")
                if volume:
                    self.enqueue(PVS, "", volume)
            else:
                self.enqueue(PVCS, meta.get("namespace", ""), meta["name"])
        elif key == PVS:
            if event.type != "DELETED":
                self.enqueue(PVS, "", meta["name"])
        elif key == STORAGECLASSES and event.type != "DELETED":
            # Claims waiting for this class (rare event: a scan of the claims is fine).
            for pvc in self.api.store.list(PVCS):
                spec = pvc.get("spec") or {}
                if spec.get("storageClassName") == meta["name"] and not spec.get("volumeName"):
                    self.enqueue(PVCS, pvc["metadata"].get("namespace", ""), pvc["metadata"]["name"])

    def _on_pod(self, event: Event) -> None:
        meta = event.obj["metadata"]
        namespace = meta.get("namespace", "")
        before, after = self._index_pod(event.obj, deleted=event.type == "DELETED")
        store = self.api.store
        for claim in set(before) - set(after):
            # A user went away: a claim being deleted may now lose its protection.
            pvc = store.get(PVCS, namespace, claim)
            if pvc is not None and pvc["metadata"].get("deletionTimestamp"):
                self.enqueue(PVCS, namespace, claim)

    def _index_pod(self, pod: Obj, *, deleted: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
        meta = pod["metadata"]
        namespace = meta.get("namespace", "")
        name = meta["name"]
        before = self._pod_claims.pop((namespace, name), ())
        for claim in before:
            users = self._claim_users.get((namespace, claim))
            if users is not None:
                users.discard(name)
                if not users:
                    del self._claim_users[(namespace, claim)]
        scheduled = bool((pod.get("spec") or {}).get("nodeName"))
        after = claims_of(pod) if scheduled and not deleted else ()
        if after:
            self._pod_claims[(namespace, name)] = after
            for claim in after:
                self._claim_users.setdefault((namespace, claim), set()).add(name)
        return before, after

    def in_use(self, namespace: str, claim: str) -> bool:
        """Whether a pod bound to a node names the claim."""
        return bool(self._claim_users.get((namespace, claim)))

    # ------------------------------------------------------------------ reconcile

    async def reconcile(self, key: Key, namespace: str, name: str) -> None:
        with self.api.store.lock:
            if key == PVCS:
                self._sync_claim(namespace, name)
            elif key == PVS:
                self._sync_volume(name)

    def _sync_claim(self, namespace: str, name: str) -> None:
        store = self.api.store
        pvc = store.get(PVCS, namespace, name)
        if pvc is None:
            return
        pvc_rt = self._rt("", "persistentvolumeclaims")
        meta = pvc["metadata"]
        finalizers = meta.get("finalizers") or ()
        if meta.get("deletionTimestamp"):
            if PVC_PROTECTION in finalizers and not self.in_use(namespace, name):
                self._remove_finalizer(pvc_rt, pvc, PVC_PROTECTION)
            return
        if PVC_PROTECTION not in finalizers:  # created before the hook was installed
            updated = self._write(
                pvc_rt, {**pvc, "metadata": {**meta, "finalizers": [*finalizers, PVC_PROTECTION]}}
            )
            if updated is None:
                return
            pvc = updated
            meta = pvc["metadata"]
        spec = pvc.get("spec") or {}
        phase = (pvc.get("status") or {}).get("phase")
        volume_name = spec.get("volumeName")
        if volume_name:
            pv = store.get(PVS, "", volume_name)
            if phase == "Bound":
                if pv is None:
                    self._set_status(pvc_rt, pvc, {**(pvc.get("status") or {}), "phase": "Lost"})
                    self._announce(
                        pvc,
                        "Warning",
                        "ClaimLost",
                        "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                    )
                return
            if pv is None:
                return
            claim_ref = (pv.get("spec") or {}).get("claimRef") or {}
            if claim_ref.get("uid") and claim_ref["uid"] != meta["uid"]:
                return  # the volume belongs to another claim
            if (pv.get("status") or {}).get("phase") in ("Released", "Failed"):
                return
            self._bind(pvc, pv, provisioner=None)
            return
        class_name = spec.get("storageClassName")
        if not class_name:
            self._announce(
                pvc,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
            return
        sc = store.get(STORAGECLASSES, "", class_name)
        if sc is None:
            self._announce(
                pvc, "Warning", "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_name}" not found'
            )
            return
        provisioner = str(sc.get("provisioner") or "")
        if provisioner not in self.provisioners:
            # As upstream's PV controller: the claim names its provisioner, for the external one to find.
            annotations = dict(meta.get("annotations") or {})
            if annotations.get(ANN_STORAGE_PROVISIONER) != provisioner:
                annotations[ANN_STORAGE_PROVISIONER] = provisioner
                annotations[ANN_BETA_STORAGE_PROVISIONER] = provisioner
                if self._write(pvc_rt, {**pvc, "metadata": {**meta, "annotations": annotations}}) is None:
                    return
            self._announce(
                pvc,
                "Normal",
                "ExternalProvisioning",
                f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or "
                "manually by the system administrator. If volume creation is delayed, please verify that "
                "the provisioner is running and correctly registered.",
            )
            return
        # Delayed binding: provisioned once the scheduler has picked a node for a pod of the claim.
        selected = (meta.get("annotations") or {}).get(ANN_SELECTED_NODE)
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not selected:
            self._announce(
                pvc,
                "Normal",
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            return
        if self.bind_delay > 0 and self._loop is not None:
            current = self._loop.time()
            due = self._due.setdefault(meta["uid"], current + self.bind_delay)
            if current < due:
                self._loop.call_later(due - current, self.enqueue, PVCS, namespace, name)
                return
        pv = self._provision(pvc, sc, provisioner)
        if pv is not None:
            self._bind(pvc, pv, provisioner=provisioner)
            self._due.pop(meta["uid"], None)

    def _provision(self, pvc: Obj, sc: Obj, provisioner: str) -> Obj | None:
        meta = pvc["metadata"]
        spec = pvc.get("spec") or {}
        pv_name = f"pvc-{meta['uid']}"
        existing = self.api.store.get(PVS, "", pv_name)
        if existing is not None:
            return existing
        path = self.volumes_dir / pv_name
        path.mkdir(parents=True, exist_ok=True)
        # World-writable like the hostpath/local-path provisioners' volumes, so a pod running as another
        # uid (runAsUser, fsGroup) can write to its claim.
        path.chmod(0o777)
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        pv_spec: dict[str, Any] = {
            "capacity": {"storage": storage},
            "accessModes": list(spec.get("accessModes") or ()),
            "hostPath": {"path": str(path), "type": ""},
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": sc["metadata"]["name"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "claimRef": self._claim_ref(pvc),
        }
        if sc.get("mountOptions"):
            pv_spec["mountOptions"] = list(sc["mountOptions"])
        metadata: Obj = {
            "name": pv_name,
            "annotations": {
                ANN_CREATED_BY: "hostpath-dynamic-provisioner",
                ANN_BOUND_BY_CONTROLLER: "yes",
                ANN_PROVISIONED_BY: provisioner,
            },
        }
        if pv_spec["persistentVolumeReclaimPolicy"] == "Delete":
            metadata["finalizers"] = [PV_CONTROLLER_FINALIZER]
        body = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": metadata, "spec": pv_spec}
        try:
            return self.api.create(self._rt("", "persistentvolumes"), "", body, self._opts)
        except ApiError as exc:
            log.warning(
                "provisioning %s for %s/%s failed: %s",
                pv_name,
                meta.get("namespace"),
                meta["name"],
                exc.message,
            )
            self._announce(pvc, "Warning", "ProvisioningFailed", exc.message)
            return None

    @staticmethod
    def _claim_ref(pvc: Obj) -> dict[str, Any]:
        meta = pvc["metadata"]
        return {
            "kind": "PersistentVolumeClaim",
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": "v1",
            "resourceVersion": meta.get("resourceVersion", ""),
        }

    def _bind(self, pvc: Obj, pv: Obj, *, provisioner: str | None) -> None:
        """PV first (claimRef, phase Bound), then the claim (volumeName + annotations), then its status."""
        pv_rt = self._rt("", "persistentvolumes")
        pvc_rt = self._rt("", "persistentvolumeclaims")
        pv_meta = pv["metadata"]
        pv_spec = pv.get("spec") or {}
        if not (pv_spec.get("claimRef") or {}).get("uid"):
            annotations = {**(pv_meta.get("annotations") or {}), ANN_BOUND_BY_CONTROLLER: "yes"}
            updated = self._write(
                pv_rt,
                {
                    **pv,
                    "metadata": {**pv_meta, "annotations": annotations},
                    "spec": {**pv_spec, "claimRef": self._claim_ref(pvc)},
                },
            )
            if updated is None:
                return
            pv = updated
        if (pv.get("status") or {}).get("phase") != "Bound" and (
            self._set_status(pv_rt, pv, {"phase": "Bound", "lastPhaseTransitionTime": now()}) is None
        ):
            return
        meta = pvc["metadata"]
        spec = pvc.get("spec") or {}
        annotations = dict(meta.get("annotations") or {})
        annotations[ANN_BIND_COMPLETED] = "yes"
        if not spec.get("volumeName"):
            annotations[ANN_BOUND_BY_CONTROLLER] = "yes"
        if provisioner:
            annotations[ANN_STORAGE_PROVISIONER] = provisioner
            annotations[ANN_BETA_STORAGE_PROVISIONER] = provisioner
        updated = self._write(
            pvc_rt,
            {
                **pvc,
                "metadata": {**meta, "annotations": annotations},
                "spec": {**spec, "volumeName": pv_meta["name"]},
            },
        )
        if updated is None:
            return
        pv_spec = pv.get("spec") or {}
        status = {
            **(updated.get("status") or {}),
            "phase": "Bound",
            "accessModes": list(pv_spec.get("accessModes") or ()),
            "capacity": dict(pv_spec.get("capacity") or {}),
        }
        if self._set_status(pvc_rt, updated, status) is not None and provisioner:
            record_event(
                self.api,
                updated,
                "Normal",
                "ProvisioningSucceeded",
                f"Successfully provisioned volume {pv_meta['name']} using {provisioner}",
                PV_CONTROLLER,
            )

    def _sync_volume(self, name: str) -> None:
        store = self.api.store
        pv = store.get(PVS, "", name)
        if pv is None:
            return
        pv_rt = self._rt("", "persistentvolumes")
        meta = pv["metadata"]
        spec = pv.get("spec") or {}
        phase = (pv.get("status") or {}).get("phase")
        claim_ref = spec.get("claimRef") or {}
        if claim_ref.get("name"):
            pvc = store.get(PVCS, claim_ref.get("namespace", ""), claim_ref["name"])
            if pvc is not None and (
                not claim_ref.get("uid") or claim_ref["uid"] == pvc["metadata"].get("uid")
            ):
                pass  # bound, or being bound: the claim's sync does it
            elif claim_ref.get("uid"):
                pv = self._release(pv_rt, pv) or pv
                phase = (pv.get("status") or {}).get("phase")
        elif phase not in ("Available", "Failed") and not meta.get("deletionTimestamp"):
            updated = self._set_status(pv_rt, pv, {"phase": "Available", "lastPhaseTransitionTime": now()})
            pv, phase = (updated or pv), "Available"
        meta = pv["metadata"]
        ours = {PV_PROTECTION, PV_CONTROLLER_FINALIZER} & set(meta.get("finalizers") or ())
        if meta.get("deletionTimestamp") and ours and phase != "Bound":
            self._remove_finalizers(pv_rt, pv, ours)

    def _release(self, pv_rt: ResourceType, pv: Obj) -> Obj | None:
        """The claim is gone: apply the reclaim policy. Returns the PV's new state (None: it is gone)."""
        name = pv["metadata"]["name"]
        spec = pv.get("spec") or {}
        phase = (pv.get("status") or {}).get("phase")
        if phase not in ("Released", "Failed"):
            updated = self._set_status(pv_rt, pv, {"phase": "Released", "lastPhaseTransitionTime": now()})
            if updated is None:
                return pv
            pv = updated
        elif phase == "Failed":
            return pv
        policy = spec.get("persistentVolumeReclaimPolicy") or "Retain"
        directory = self._own_directory(pv)
        if policy == "Delete":
            if directory is None:
                self._announce(
                    pv,
                    "Warning",
                    "VolumeFailedDelete",
                    f'error getting deleter volume plugin for volume "{name}": no deletable volume '
                    "plugin matched",
                    component=PV_CONTROLLER,
                )
                return self._set_status(pv_rt, pv, {"phase": "Failed", "lastPhaseTransitionTime": now()})
            shutil.rmtree(directory, ignore_errors=True)
            if pv["metadata"].get("deletionTimestamp"):
                return pv  # already deleted: its finalizers go next
            try:
                deleted, removed = self.api.delete(
                    pv_rt, "", name, {"preconditions": {"uid": pv["metadata"]["uid"]}}, self._opts
                )
            except ApiError as exc:
                if exc.code not in (404, 409):
                    log.warning("deleting released volume %s failed: %s", name, exc.message)
                return None
            return None if removed else deleted
        if policy == "Recycle" and directory is not None:
            for child in directory.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
            new_spec = {k: v for k, v in spec.items() if k != "claimRef"}
            updated = self._write(pv_rt, {**pv, "spec": new_spec})
            if updated is None:
                return pv
            self._announce(updated, "Normal", "VolumeRecycled", "Volume recycled", component=PV_CONTROLLER)
            return self._set_status(pv_rt, updated, {"phase": "Available", "lastPhaseTransitionTime": now()})
        return pv  # Retain: Released, directory kept

    def _own_directory(self, pv: Obj) -> Path | None:
        """The PV's directory if kubesim provisioned it (under volumes_dir): only those are ever removed."""
        path = ((pv.get("spec") or {}).get("hostPath") or {}).get("path")
        annotations = pv["metadata"].get("annotations") or {}
        if not path or annotations.get(ANN_PROVISIONED_BY) not in self.provisioners:
            return None
        directory = Path(path)
        try:
            directory.resolve().relative_to(self.volumes_dir.resolve())
        except ValueError:
            return None
        return directory if directory.resolve() != self.volumes_dir.resolve() else None

    # ------------------------------------------------------------------ writes

    def _rt(self, group: str, plural: str) -> ResourceType:
        rt = self.api.registry.get(group, "v1", plural)
        assert rt is not None
        return rt

    def _write(self, rt: ResourceType, obj: Obj, subresource: str = "") -> Obj | None:
        meta = obj["metadata"]
        try:
            return self.api.update(rt, meta.get("namespace", ""), meta["name"], obj, self._opts, subresource)
        except ApiError as exc:
            if exc.code not in (404, 409):
                log.warning("storage: updating %s %s failed: %s", rt.plural, meta["name"], exc.message)
            return None

    def _set_status(self, rt: ResourceType, obj: Obj, status: dict[str, Any]) -> Obj | None:
        return self._write(rt, {**obj, "status": status}, "status")

    def _remove_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str) -> None:
        self._remove_finalizers(rt, obj, {finalizer})

    def _remove_finalizers(self, rt: ResourceType, obj: Obj, gone: set[str]) -> None:
        meta = dict(obj["metadata"])
        finalizers = [f for f in meta.get("finalizers") or () if f not in gone]
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        self._write(rt, {**obj, "metadata": meta})

    def _announce(
        self, obj: Obj, event_type: str, reason: str, message: str, component: str = PV_CONTROLLER
    ) -> None:
        """Post an Event once per object and reason (upstream repeats them; once is enough for clients)."""
        uid = obj["metadata"].get("uid", "")
        done = self._announced.setdefault(uid, set())
        if reason in done:
            return
        done.add(reason)
        record_event(self.api, obj, event_type, reason, message, component)
