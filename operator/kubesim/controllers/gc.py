"""Garbage collector: ownerReferences handled as Kubernetes' garbage collector handles them.

The collector keeps a dependency graph (owner uid -> dependent uids) that it builds from store events, as
upstream's GraphBuilder builds it from informers; it never scans the store per event. Work is queued by
uid and done by one worker on the cluster's event loop, with every write going through ``kubesim.api.API``
(so the dependents' own finalizers are honoured):

- **Background** (owner removed, DELETED event): each dependent is looked at; its owner references are
  classified with a live lookup of each owner by name and uid (as upstream's ``isDangling``). A dependent
  whose owners are all gone is deleted; one that still has a live owner only loses the dangling references.
- **Foreground** (owner with a ``deletionTimestamp`` and the ``foregroundDeletion`` finalizer): its
  dependents are deleted (those that have dependents of their own with Foreground propagation, as
  upstream); the finalizer is removed once no dependent with ``blockOwnerDeletion: true`` remains.
- **Orphan** (owner with the ``orphan`` finalizer): its ownerReference is stripped from every dependent,
  then the finalizer is removed.
- **Dangling owners**: a reference to a uid that does not exist when the dependent is created (or at
  startup) makes a "virtual" owner node; it is verified with a live lookup and, when absent, the dependent
  is deleted (unless it has another live owner).
- **Namespaces**, as upstream since 1.20: a namespaced dependent's namespaced owner is looked up in the
  dependent's own namespace (an owner with that uid elsewhere counts as absent, and a Warning event
  ``OwnerRefInvalidNamespace`` is posted about the dependent); a cluster-scoped owner may own anything.
  A cluster-scoped dependent that names a namespaced kind as owner has an unresolvable reference: the
  event is posted and the dependent is never garbage collected (upstream's
  ``namespacedOwnerOfClusterScopedObjectErr``).

Simplifications: one worker instead of several; no rate-limited retries (a failed write is retried on the
next event that concerns the object); an owner reference to a kind that is not served is left alone until
a CustomResourceDefinition changes, then looked at again (upstream retries with backoff until discovery
knows the kind). Only objects that have owner references, or are referenced as owners, or are being
deleted with the ``orphan``/``foregroundDeletion`` finalizer are in the graph. Events (core and
events.k8s.io) are ignored, as upstream's default ignored resources.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from kubesim.api import API, CRDS, NAMESPACES, SYSTEM, WriteOptions
from kubesim.controllers.base import Controller
from kubesim.errors import ApiError
from kubesim.objectmeta import now
from kubesim.resources import ResourceType
from kubesim.store import Event, Key, Obj

log = logging.getLogger("kubesim.controllers.gc")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
COMPONENT = "garbage-collector-controller"

# Work items share the base class's queue: (action, "", uid).
_DELETE: Key = ("kubesim.gc", "attemptToDelete")
_ORPHAN: Key = ("kubesim.gc", "attemptToOrphan")

_ABSENT_CACHE_SIZE = 50_000

# Upstream's DefaultIgnoredResources: events are never garbage collected (nor looked at: they are many).
IGNORED: frozenset[Key] = frozenset({("", "events"), ("events.k8s.io", "events")})


class _Unresolvable(Exception):
    """The owner's kind is not served (yet): the reference cannot be judged."""


class _InvalidNamespace(Exception):
    """A cluster-scoped dependent names a namespaced kind as its owner."""


class _Node:
    """One object of the dependency graph (observed), or an owner only known from a reference (virtual)."""

    __slots__ = (
        "api_version",
        "being_deleted",
        "deleting_dependents",
        "dependents",
        "key",
        "kind",
        "name",
        "namespace",
        "observed",
        "owners",
        "uid",
    )

    def __init__(
        self,
        uid: str,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        key: Key | None,
        observed: bool,
    ) -> None:
        self.uid = uid
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.key = key
        self.observed = observed
        self.owners: dict[str, dict[str, Any]] = {}  # owner uid -> the ownerReference as stored
        self.dependents: set[str] = set()
        self.being_deleted = False
        self.deleting_dependents = False


def _group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _owner_refs(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for ref in meta.get("ownerReferences") or ():
        if isinstance(ref, dict) and isinstance(ref.get("uid"), str) and ref["uid"]:
            out[ref["uid"]] = ref
    return out


def _coordinates_match(ref: dict[str, Any], owner: _Node) -> bool:
    return (
        ref.get("name") == owner.name
        and ref.get("kind") == owner.kind
        and _group_of(ref.get("apiVersion", "")) == _group_of(owner.api_version)
    )


def _blocking(ref: dict[str, Any] | None) -> bool:
    return bool(ref) and ref.get("blockOwnerDeletion") is True  # type: ignore[union-attr]


def _deleting_with(meta: dict[str, Any], finalizer: str) -> bool:
    return bool(meta.get("deletionTimestamp")) and finalizer in (meta.get("finalizers") or ())


def record_event(
    api: API, involved: Obj, event_type: str, reason: str, message: str, component: str, action: str = ""
) -> None:
    """Post a core/v1 Event about ``involved`` as a controller's event recorder does (best effort).

    Events about cluster-scoped objects go to the ``default`` namespace, as upstream's recorder puts them.
    """
    meta = involved.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    rt = api.registry.get("", "v1", "events")
    if rt is None:
        return
    stamp = now()
    ref: dict[str, Any] = {
        "kind": involved.get("kind", ""),
        "apiVersion": involved.get("apiVersion", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
    }
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name', 'unknown')}.{time.time_ns():x}", "namespace": namespace},
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": {"component": component},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "reportingComponent": component,
        "reportingInstance": "",
    }
    if action:
        body["action"] = action
    try:
        api.create(rt, namespace, body, WriteOptions(user=SYSTEM))
    except ApiError as exc:  # e.g. the namespace is terminating
        log.debug("event %s about %s not recorded: %s", reason, meta.get("name"), exc.message)


class GarbageCollector(Controller):
    def __init__(self, api: API) -> None:
        super().__init__()
        self.api = api
        self._nodes: dict[str, _Node] = {}
        # Owners known to be gone (upstream's absentOwnerCache), by (uid, namespace looked in; "" for
        # cluster-scoped kinds): a bounded, insertion-ordered set.
        self._absent: dict[tuple[str, str], None] = {}
        # Dependents whose owner kind is not served: looked at again when CRDs change.
        self._unresolved: set[str] = set()
        # (dependent uid -> owner uids) already reported as OwnerRefInvalidNamespace.
        self._reported: dict[str, set[str]] = {}
        self._rt_cache: dict[tuple[str, str], ResourceType | None] = {}
        self._rt_key_cache: dict[Key, ResourceType | None] = {}
        self._rt_generation = -1
        self._opts = WriteOptions(user=SYSTEM)

    # ------------------------------------------------------------------ graph (store listener)

    def initial_items(self) -> Iterable[tuple[Key, str, str]]:
        """At startup: index anything stored before, then look at every node once (verifies virtual owners,
        resumes pending foreground/orphan deletions)."""
        store = self.api.store
        with store.lock:
            for key in list(store.keys()):
                if key in IGNORED:
                    continue
                for obj in store.list(key):
                    if obj.get("metadata", {}).get("uid") not in self._nodes:
                        self._observe(key, obj, None)
            items: list[tuple[Key, str, str]] = []
            for uid, node in self._nodes.items():
                items.append((_DELETE, "", uid))
                if node.being_deleted and node.observed and node.key is not None:
                    live = store.get(node.key, node.namespace, node.name)
                    if live is not None and _deleting_with(live["metadata"], ORPHAN):
                        items.append((_ORPHAN, "", uid))
            return items

    def on_event(self, key: Key, event: Event) -> None:
        """Store listener: keep the graph current and queue the work the event calls for (O(owner refs))."""
        if key == CRDS and event.type != "DELETED" and self._unresolved:
            pending, self._unresolved = self._unresolved, set()
            for pending_uid in pending:
                self.enqueue(_DELETE, "", pending_uid)
        if key in IGNORED:
            return
        meta = event.obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        if event.type == "DELETED":
            self._on_deleted(uid)
        else:
            self._observe(key, event.obj, event.old)

    def _observe(self, key: Key, obj: Obj, old: Obj | None) -> None:
        meta = obj["metadata"]
        uid = meta["uid"]
        refs = _owner_refs(meta)
        node = self._nodes.get(uid)
        deleting = bool(meta.get("deletionTimestamp"))
        if node is None:
            if not refs and not (_deleting_with(meta, ORPHAN) or _deleting_with(meta, FOREGROUND)):
                return  # not part of any ownership relation: not indexed
            node = _Node(
                uid,
                obj.get("apiVersion", ""),
                obj.get("kind", ""),
                meta.get("namespace", ""),
                meta["name"],
                key,
                True,
            )
            self._nodes[uid] = node
            node.owners = refs
            self._add_to_owners(node, refs.values())
        else:
            if not node.observed:
                self._mark_observed(node, key, obj)
            if refs != node.owners:
                self._update_owners(node, refs)
        node.being_deleted = deleting
        self._transitions(node, meta, old)
        self._maybe_prune(node)

    def _mark_observed(self, node: _Node, key: Key, obj: Obj) -> None:
        """A virtual owner turned out to exist: take its real identity; dependents that referenced it from
        another namespace are looked at again (and reported), as upstream does."""
        meta = obj["metadata"]
        node.key = key
        node.api_version = obj.get("apiVersion", "")
        node.kind = obj.get("kind", "")
        node.namespace = meta.get("namespace", "")
        node.name = meta["name"]
        node.observed = True
        for dep_uid in node.dependents:
            dep = self._nodes.get(dep_uid)
            if dep is None:
                continue
            ref = dep.owners.get(node.uid) or {}
            if (node.namespace and dep.namespace != node.namespace) or not _coordinates_match(ref, node):
                self.enqueue(_DELETE, "", dep_uid)

    def _add_to_owners(self, node: _Node, refs: Iterable[dict[str, Any]]) -> None:
        suspicious = False
        for ref in refs:
            owner_uid = ref["uid"]
            owner = self._nodes.get(owner_uid)
            if owner is None:
                owner = self._lookup_owner_node(ref, node)
                if owner is None:
                    # Not found now: a virtual owner, verified by the worker (deleted dependents follow).
                    owner = _Node(
                        owner_uid,
                        ref.get("apiVersion", ""),
                        ref.get("kind", ""),
                        node.namespace,
                        ref.get("name", ""),
                        None,
                        False,
                    )
                    self._nodes[owner_uid] = owner
                    self.enqueue(_DELETE, "", owner_uid)
                else:
                    self._nodes[owner_uid] = owner
            elif owner.observed:
                if owner.namespace and owner.namespace != node.namespace:
                    suspicious = True  # a namespaced owner in another namespace: definitely wrong
                elif not _coordinates_match(ref, owner):
                    suspicious = True
            owner.dependents.add(node.uid)
        if suspicious:
            self.enqueue(_DELETE, "", node.uid)

    def _lookup_owner_node(self, ref: dict[str, Any], dependent: _Node) -> _Node | None:
        """An observed node for a live owner found by the reference's coordinates, or None."""
        try:
            obj, rt = self._resolve(ref, dependent.namespace)
        except _InvalidNamespace:
            self.enqueue(_DELETE, "", dependent.uid)  # the worker reports it
            return None
        except _Unresolvable:
            return None
        if obj is None:
            return None
        meta = obj["metadata"]
        node = _Node(
            ref["uid"],
            obj.get("apiVersion", ""),
            obj.get("kind", ""),
            meta.get("namespace", ""),
            meta["name"],
            rt.key,
            True,
        )
        node.owners = _owner_refs(meta)
        if node.owners:
            self._nodes[node.uid] = node
            self._add_to_owners(node, node.owners.values())
        node.being_deleted = bool(meta.get("deletionTimestamp"))
        if _deleting_with(meta, FOREGROUND):
            node.deleting_dependents = True
            self.enqueue(_DELETE, "", node.uid)
        return node

    def _update_owners(self, node: _Node, refs: dict[str, dict[str, Any]]) -> None:
        old = node.owners
        added = [r for u, r in refs.items() if u not in old]
        removed = [r for u, r in old.items() if u not in refs]
        # A blocking reference removed or unblocked may let a foreground owner go.
        for ref in removed:
            if _blocking(ref):
                self.enqueue(_DELETE, "", ref["uid"])
        for u, ref in refs.items():
            if u in old and _blocking(old[u]) and not _blocking(ref):
                self.enqueue(_DELETE, "", u)
        node.owners = refs
        self._add_to_owners(node, added)
        for ref in removed:
            owner = self._nodes.get(ref["uid"])
            if owner is not None:
                owner.dependents.discard(node.uid)
                self._maybe_prune(owner)

    def _transitions(self, node: _Node, meta: dict[str, Any], old: Obj | None) -> None:
        old_meta = (old or {}).get("metadata") or {}
        if _deleting_with(meta, ORPHAN):
            if not _deleting_with(old_meta, ORPHAN):
                self.enqueue(_ORPHAN, "", node.uid)
            return
        if _deleting_with(meta, FOREGROUND):
            node.deleting_dependents = True
            if not _deleting_with(old_meta, FOREGROUND):
                for dep in node.dependents:
                    self.enqueue(_DELETE, "", dep)
                self.enqueue(_DELETE, "", node.uid)
        else:
            node.deleting_dependents = False

    def _on_deleted(self, uid: str) -> None:
        node = self._nodes.pop(uid, None)
        self._reported.pop(uid, None)
        self._unresolved.discard(uid)
        if node is None:
            return
        for owner_uid in node.owners:
            owner = self._nodes.get(owner_uid)
            if owner is None:
                continue
            owner.dependents.discard(uid)
            if owner.deleting_dependents:
                self.enqueue(_DELETE, "", owner_uid)  # maybe the last blocking dependent went
            self._maybe_prune(owner)
        if node.dependents:
            self._mark_absent(uid, node.namespace)
            for dep in node.dependents:
                self.enqueue(_DELETE, "", dep)

    def _maybe_prune(self, node: _Node) -> None:
        """Forget a node that no longer takes part in any ownership relation (a virtual owner included:
        its verification, if still queued, then finds nothing to do)."""
        if not node.owners and not node.dependents and not node.being_deleted:
            self._nodes.pop(node.uid, None)

    def _mark_absent(self, uid: str, namespace: str) -> None:
        self._absent[(uid, namespace)] = None
        if len(self._absent) > _ABSENT_CACHE_SIZE:
            del self._absent[next(iter(self._absent))]

    # ------------------------------------------------------------------ lookups

    def _rt_for_kind(self, group: str, kind: str) -> ResourceType | None:
        registry = self.api.registry
        if registry.generation != self._rt_generation:
            self._rt_cache.clear()
            self._rt_key_cache.clear()
            self._rt_generation = registry.generation
        ck = (group, kind)
        if ck not in self._rt_cache:
            found = [rt for rt in registry.all() if rt.group == group and rt.kind == kind]
            best = next((rt for rt in found if rt.version == (rt.storage_version or rt.version)), None)
            self._rt_cache[ck] = best
        return self._rt_cache[ck]

    def _rt_for_key(self, key: Key) -> ResourceType | None:
        registry = self.api.registry
        if registry.generation != self._rt_generation:
            self._rt_cache.clear()
            self._rt_key_cache.clear()
            self._rt_generation = registry.generation
        if key not in self._rt_key_cache:
            self._rt_key_cache[key] = registry.for_key(key)
        return self._rt_key_cache[key]

    def _resolve(self, ref: dict[str, Any], dependent_namespace: str) -> tuple[Obj | None, ResourceType]:
        """The live owner a reference names (None when absent or the uid differs), as upstream's isDangling.

        Raises _InvalidNamespace for a cluster-scoped dependent naming a namespaced kind, _Unresolvable
        when the kind is not served."""
        rt = self._rt_for_kind(_group_of(ref.get("apiVersion", "")), ref.get("kind", ""))
        if rt is None:
            raise _Unresolvable()
        if rt.namespaced and not dependent_namespace:
            raise _InvalidNamespace()
        obj = self.api.store.get(rt.key, dependent_namespace if rt.namespaced else "", ref.get("name", ""))
        if obj is None or obj["metadata"].get("uid") != ref["uid"]:
            return None, rt
        return obj, rt

    # ------------------------------------------------------------------ worker

    async def reconcile(self, key: Key, namespace: str, name: str) -> None:
        with self.api.store.lock:
            if key == _DELETE:
                self._attempt_to_delete(name)
            elif key == _ORPHAN:
                self._attempt_to_orphan(name)

    def _live(self, node: _Node) -> tuple[Obj, ResourceType] | None:
        if node.key is None:
            return None
        obj = self.api.store.get(node.key, node.namespace, node.name)
        rt = self._rt_for_key(node.key)
        if obj is None or rt is None or obj["metadata"].get("uid") != node.uid:
            return None
        return obj, rt

    def _verify_virtual(self, node: _Node) -> None:
        """Look the virtual owner up from each dependent's point of view; absent everywhere -> forget it and
        let its dependents be judged (they are deleted unless another owner lives)."""
        namespaces = {node.namespace}
        for dep_uid in node.dependents:
            dep = self._nodes.get(dep_uid)
            if dep is not None:
                namespaces.add(dep.namespace)
        ref = {"uid": node.uid, "apiVersion": node.api_version, "kind": node.kind, "name": node.name}
        unresolvable = False
        looked_in: list[str] = []
        owner_rt: ResourceType | None = None
        for ns in sorted(namespaces):
            try:
                obj, rt = self._resolve(ref, ns)
            except _InvalidNamespace:
                continue
            except _Unresolvable:
                unresolvable = True
                break
            if obj is not None:
                self._observe(rt.key, obj, None)  # the virtual node becomes the observed one
                return
            looked_in.append(ns if rt.namespaced else "")
            owner_rt = rt
        if unresolvable:
            self._unresolved.update(node.dependents)
            return
        self._nodes.pop(node.uid, None)
        for ns in looked_in:
            self._mark_absent(node.uid, ns)
        if owner_rt is not None and owner_rt.namespaced:
            self._report_elsewhere(node, owner_rt)
        for dep_uid in node.dependents:
            self.enqueue(_DELETE, "", dep_uid)

    def _attempt_to_delete(self, uid: str) -> None:
        node = self._nodes.get(uid)
        if node is None:
            return
        if not node.observed:
            self._verify_virtual(node)
            return
        if node.being_deleted and not node.deleting_dependents:
            return  # on its way out: its dependents are looked at once it is gone
        live = self._live(node)
        if live is None:
            return  # its DELETED event updates the graph
        obj, rt = live
        meta = obj["metadata"]
        if node.deleting_dependents:
            self._process_deleting_dependents(node, obj, rt)
            return
        refs = list(_owner_refs(meta).values())
        if not refs:
            return
        solid: list[dict[str, Any]] = []
        dangling: list[dict[str, Any]] = []
        waiting: list[dict[str, Any]] = []
        for ref in refs:
            if (ref["uid"], "") in self._absent or (ref["uid"], node.namespace) in self._absent:
                dangling.append(ref)
                continue
            try:
                owner, _ = self._resolve(ref, node.namespace)
            except _InvalidNamespace:
                self._report_invalid(node, obj, ref)
                return  # never garbage collected (upstream: namespacedOwnerOfClusterScopedObjectErr)
            except _Unresolvable:
                self._unresolved.add(uid)
                return
            if owner is None:
                known = self._nodes.get(ref["uid"])
                if (
                    known is not None
                    and known.observed
                    and known.namespace
                    and known.namespace != node.namespace
                ):
                    self._report_invalid(node, obj, ref)  # the owner lives in another namespace
                dangling.append(ref)
            elif _deleting_with(owner["metadata"], FOREGROUND):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if dangling or waiting:
                gone = {r["uid"] for r in dangling + waiting}
                self._set_owner_refs(
                    rt,
                    obj,
                    [
                        r
                        for r in meta.get("ownerReferences") or ()
                        if not (isinstance(r, dict) and r.get("uid") in gone)
                    ],
                )
            return
        if waiting and node.dependents:
            if any(
                (d := self._nodes.get(dep_uid)) is not None and d.deleting_dependents
                for dep_uid in node.dependents
            ):
                # Break a potential cycle: make our own references non-blocking first.
                unblocked = [
                    {**r, "blockOwnerDeletion": False} if isinstance(r, dict) else r
                    for r in meta.get("ownerReferences") or ()
                ]
                obj = self._set_owner_refs(rt, obj, unblocked) or obj
            self._delete(rt, obj, "Foreground")
            return
        finalizers = meta.get("finalizers") or ()
        if ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        self._delete(rt, obj, policy)

    def _process_deleting_dependents(self, node: _Node, obj: Obj, rt: ResourceType) -> None:
        blocking: list[_Node] = []
        for dep_uid in node.dependents:
            dep = self._nodes.get(dep_uid)
            if dep is not None and _blocking(dep.owners.get(node.uid)):
                blocking.append(dep)
        if not blocking:
            self._remove_finalizer(rt, obj, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.enqueue(_DELETE, "", dep.uid)

    def _attempt_to_orphan(self, uid: str) -> None:
        node = self._nodes.get(uid)
        if node is None or not node.observed:
            return
        live = self._live(node)
        if live is None:
            return
        obj, rt = live
        if not _deleting_with(obj["metadata"], ORPHAN):
            return
        for dep_uid in list(node.dependents):
            dep = self._nodes.get(dep_uid)
            dep_live = self._live(dep) if dep is not None else None
            if dep_live is None:
                continue
            dep_obj, dep_rt = dep_live
            refs = dep_obj["metadata"].get("ownerReferences") or ()
            kept = [r for r in refs if not (isinstance(r, dict) and r.get("uid") == uid)]
            if len(kept) != len(refs):
                self._set_owner_refs(dep_rt, dep_obj, kept)
        self._remove_finalizer(rt, obj, ORPHAN)

    # ------------------------------------------------------------------ writes

    def _set_owner_refs(self, rt: ResourceType, obj: Obj, refs: list[Any]) -> Obj | None:
        meta = dict(obj["metadata"])
        if refs:
            meta["ownerReferences"] = refs
        else:
            meta.pop("ownerReferences", None)
        return self._write(rt, {**obj, "metadata": meta})

    def _remove_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str) -> None:
        meta = dict(obj["metadata"])
        finalizers = [f for f in meta.get("finalizers") or () if f != finalizer]
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        self._write(rt, {**obj, "metadata": meta})

    def _write(self, rt: ResourceType, obj: Obj) -> Obj | None:
        meta = obj["metadata"]
        try:
            return self.api.update(rt, meta.get("namespace", ""), meta["name"], obj, self._opts)
        except ApiError as exc:
            if exc.code not in (404, 409):
                log.warning(
                    "garbage collector: updating %s %s failed: %s", rt.plural, meta["name"], exc.message
                )
            return None

    def _delete(self, rt: ResourceType, obj: Obj, policy: str) -> None:
        meta = obj["metadata"]
        options = {"propagationPolicy": policy, "preconditions": {"uid": meta["uid"]}}
        try:
            self.api.delete(rt, meta.get("namespace", ""), meta["name"], options, self._opts)
        except ApiError as exc:
            if exc.code not in (404, 409):
                log.warning(
                    "garbage collector: deleting %s %s failed: %s", rt.plural, meta["name"], exc.message
                )

    # ------------------------------------------------------------------ events

    def _report_elsewhere(self, virtual: _Node, owner_rt: ResourceType) -> None:
        """A namespaced owner absent from its dependents' namespaces: when an object with that uid lives in
        another namespace, their references are invalid; say so as upstream does (rare path: one lookup
        per namespace)."""
        found_in = ""
        for ns in self.api.store.list(NAMESPACES):
            other = self.api.store.get(owner_rt.key, ns["metadata"]["name"], virtual.name)
            if other is not None and other["metadata"].get("uid") == virtual.uid:
                found_in = ns["metadata"]["name"]
                break
        if not found_in:
            return
        for dep_uid in virtual.dependents:
            dep = self._nodes.get(dep_uid)
            live = self._live(dep) if dep is not None else None
            if dep is None or live is None or dep.namespace == found_in:
                continue
            ref = dep.owners.get(virtual.uid)
            if ref is not None:
                self._report_invalid(dep, live[0], ref)

    def _report_invalid(self, node: _Node, obj: Obj, ref: dict[str, Any]) -> None:
        done = self._reported.setdefault(node.uid, set())
        if ref["uid"] in done:
            return
        done.add(ref["uid"])
        identity = (
            f"[{ref.get('apiVersion', '')}/{ref.get('kind', '')}, namespace: {node.namespace}, "
            f"name: {ref.get('name', '')}, uid: {ref['uid']}]"
        )
        record_event(
            self.api,
            obj,
            "Warning",
            "OwnerRefInvalidNamespace",
            f'ownerRef {identity} does not exist in namespace "{node.namespace}"',
            COMPONENT,
        )
