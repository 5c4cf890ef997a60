"""ResourceQuota: kube-apiserver's ResourceQuota admission plugin and kube-controller-manager's
resourcequota controller in one.

**Usage.** The controller keeps, for every ResourceQuota, the usage of each resource of its ``spec.hard``
that something counts (see ``kubesim.quota``), updated from store events as objects come, change and go:
a pod turning Succeeded or Failed stops counting against compute resources and ``pods`` (``count/pods``
still counts it), a deleted object gives its share back. A quota created or whose spec changes is
counted afresh from the store. The tally is updated by the store listener, i.e. under the store lock and
in the same step as the write that changed it, so it is always exactly what the store holds.

**Admission** (``admit``, installed in ``API.locked_admission``) runs under the store lock right before
an object is stored, as upstream's plugin does before its write to etcd: for every quota of the
namespace whose resources count the object and whose scopes select it, first the pod constraint
(``failed quota: q: must specify limits.cpu for: app``), then the usage the write adds against
``spec.hard`` (``exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2``); refused with
403 Forbidden worded as upstream. Creates are checked for every kind but events and the review kinds;
updates only for services and PVCs (type changes, larger storage requests), as upstream's evaluators
handle them; subresource writes never. Because the check and the write happen under one lock, concurrent
creates never exceed a quota. In a namespace without quotas the check is one dictionary lookup.

**Status.** ``status.hard`` (spec.hard, each quantity as upstream prints it) and ``status.used`` (one entry
per resource of spec.hard that something counts: ``0`` when nothing uses it) are written through the
``status`` subresource by one worker, each time a quota's usage or spec changes, so ``kubectl get quota``
and ``kubectl describe quota`` show current usage.

Differences from upstream: admission compares against ``spec.hard`` and the live tally, not against the
quota's last written ``status`` (upstream enforces ``status.hard``, so a raised limit holds once the
controller has written it, and writes ``status.used`` itself, before the object is stored; here
``status.used`` follows right after the write, from the controller). As upstream, a resource served after
the quota was last fully calculated (a new CRD) is left out of ``status.used`` and refused with ``status
unknown for quota`` until the next full calculation (spec change, replenishment after a deletion or change
of a counted object, or the periodic resync); upstream's controller also needs its discovery resync (30 s)
to learn the resource. Pods stuck terminating past their grace period still count (kubesim's kubelet
removes them when the grace period ends). Pod-level ``spec.resources``, in-place resize, DRA resource
claims and the ``LimitedResources`` admission configuration are not modelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from kubesim import errors
from kubesim.api import API, CRDS, SYSTEM, WriteOptions
from kubesim.controllers.base import Controller
from kubesim.errors import ApiError
from kubesim.quota import (
    IGNORED,
    QUOTAS,
    ZERO,
    Quantity,
    ScopeSelector,
    checked_on_update,
    collection_of,
    constraints,
    pretty,
    scope_selectors,
    scopes_match,
    usage,
)
from kubesim.resources import ResourceType
from kubesim.store import Event, Key, Obj

log = logging.getLogger("kubesim.controllers.quota")

FIELD_MANAGER = "resourcequota-controller"

Measure = Callable[[Key, Obj], dict[str, Quantity]]  # kubesim.quota.usage, or a memo of it


def _quota_spec(obj: Obj) -> Any:
    spec = obj.get("spec") or {}
    return (spec.get("hard"), spec.get("scopes"), spec.get("scopeSelector"))


class _Quota:
    """One ResourceQuota as the controller sees it: parsed hard limits, scopes, and the live usage."""

    __slots__ = ("by_key", "hard", "known", "name", "selectors", "spec", "used")

    def __init__(self, obj: Obj, served: Callable[[Key], bool]) -> None:
        self.name: str = obj["metadata"]["name"]
        self.spec = _quota_spec(obj)
        self.hard: dict[str, Quantity] = {}
        hard = (obj.get("spec") or {}).get("hard")
        for name, raw in (hard if isinstance(hard, dict) else {}).items():
            try:
                self.hard[str(name)] = Quantity.parse(raw)
            except (ValueError, TypeError, AttributeError, ArithmeticError):
                continue  # not a quantity: refused by validation before it gets here
        self.selectors: list[ScopeSelector] = scope_selectors(obj)
        by_key: dict[Key, set[str]] = {}
        for name in self.hard:
            key = collection_of(name)
            if key is not None:
                by_key.setdefault(key, set()).add(name)
        # Per collection, the resource names of spec.hard its objects count for.
        self.by_key: dict[Key, frozenset[str]] = {k: frozenset(v) for k, v in by_key.items()}
        self.used: dict[str, Quantity] = {name: ZERO for names in self.by_key.values() for name in names}
        # The resources whose usage the last full calculation saw (their collection was served then): what
        # status.used shows, and what admission can check. A resource served later (a new CRD) joins at the
        # next full calculation; until then, creates it would count are refused ("status unknown").
        self.known: frozenset[str] = frozenset()
        self.recalculate(served)

    def recalculate(self, served: Callable[[Key], bool]) -> None:
        self.known = frozenset(n for key, names in self.by_key.items() if served(key) for n in names)

    def counted(
        self, key: Key, names: frozenset[str], obj: Obj | None, measure: Measure = usage
    ) -> dict[str, Quantity]:
        """What ``obj`` (of collection ``key``) uses of this quota's resources; {} if the scopes skip it."""
        if obj is None or not scopes_match(key, self.selectors, obj):
            return {}
        return {n: q for n, q in measure(key, obj).items() if n in names}


class QuotaController(Controller):
    watches = (QUOTAS, CRDS)
    # kube-controller-manager's --resource-quota-sync-period: every quota is recalculated this often.
    resync_period = 300.0

    def __init__(self, api: API) -> None:
        super().__init__()
        self.api = api
        self._resync_handle: asyncio.TimerHandle | None = None
        self._quotas: dict[str, dict[str, _Quota]] = {}  # namespace -> quota name -> quota
        # The usage of the last objects measured, by identity: admission measures the object that the store
        # event then carries, and an update's old object is the previous write's new one. Stored objects
        # are never mutated, and the references kept here keep their ids from being reused.
        self._measured: dict[int, tuple[Obj, dict[str, Quantity]]] = {}
        api.locked_admission.append(self.admit)

    def _usage(self, key: Key, obj: Obj) -> dict[str, Quantity]:
        hit = self._measured.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        measured = usage(key, obj)
        if len(self._measured) >= 64:
            del self._measured[next(iter(self._measured))]
        self._measured[id(obj)] = (obj, measured)
        return measured

    def _served(self, key: Key) -> bool:
        return self.api.registry.for_key(key) is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        super().start(loop)
        self._resync_handle = loop.call_later(self.resync_period, self._resync)

    async def stop(self) -> None:
        if self._resync_handle is not None:
            self._resync_handle.cancel()
        await super().stop()

    def _resync(self) -> None:
        """The periodic full resync: every quota recalculated (resources served since are counted)."""
        with self.api.store.lock:
            for namespace, by_name in self._quotas.items():
                for name, q in by_name.items():
                    q.recalculate(self._served)
                    self.enqueue(QUOTAS, namespace, name)
        if self._loop is not None:
            self._resync_handle = self._loop.call_later(self.resync_period, self._resync)

    # ------------------------------------------------------------------ usage, from store events

    def initial_items(self) -> Iterable[tuple[Key, str, str]]:
        with self.api.store.lock:
            return [(QUOTAS, ns, name) for ns, quotas in self._quotas.items() for name in quotas]

    def on_event(self, key: Key, event: Event) -> None:
        """Store listener, called under the store lock for every write: keep each quota's usage exact."""
        fresh: _Quota | None = None
        if key == QUOTAS:
            fresh = self._quota_changed(event)
        elif key == CRDS:
            # A resource served or no longer served joins or leaves a quota's status at its next full
            # calculation, not now (upstream's quota controller does not recalculate quotas on discovery).
            return
        ns = event.obj["metadata"].get("namespace")
        if not ns:
            return
        quotas = self._quotas.get(ns)
        if not quotas or key in IGNORED:
            return
        new = None if event.type == "DELETED" else event.obj
        for q in quotas.values():
            names = q.by_key.get(key)
            if not names or q is fresh:
                continue
            before = q.counted(key, names, event.old, self._usage)
            after = q.counted(key, names, new, self._usage)
            if before == after:
                continue
            for name in names:
                if name in before or name in after:
                    q.used[name] = q.used[name] - before.get(name, ZERO) + after.get(name, ZERO)
            if event.type != "ADDED":
                # Replenishment: a deletion or a change recalculates the quota (admission charged creates).
                q.recalculate(self._served)
            self.enqueue(QUOTAS, ns, q.name)

    def _quota_changed(self, event: Event) -> _Quota | None:
        meta = event.obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        if event.type == "DELETED":
            quotas = self._quotas.get(ns)
            if quotas is not None:
                quotas.pop(name, None)
                if not quotas:
                    del self._quotas[ns]
            return None
        current = self._quotas.get(ns, {}).get(name)
        if current is not None and current.spec == _quota_spec(event.obj):
            return None  # a status write, or metadata only
        q = _Quota(event.obj, self._served)
        store = self.api.store
        for key, names in q.by_key.items():
            if key in IGNORED:
                continue
            for obj in store.list(key, ns):
                for res, amount in q.counted(key, names, obj).items():
                    q.used[res] = q.used[res] + amount
        self._quotas.setdefault(ns, {})[name] = q
        self.enqueue(QUOTAS, ns, name)
        return q

    # ------------------------------------------------------------------ admission

    def admit(self, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions, name: str) -> None:
        """Refuse a write that would take a namespace's quota over ``spec.hard`` (under the store lock)."""
        quotas = self._quotas.get(obj["metadata"].get("namespace") or "")
        if not quotas:
            return
        key = rt.key
        if key in IGNORED or (old is not None and not checked_on_update(key)):
            return
        interesting: list[tuple[_Quota, frozenset[str]]] = []
        for qname in sorted(quotas):
            q = quotas[qname]
            names = q.by_key.get(key)
            if not names or not scopes_match(key, q.selectors, obj):
                continue
            missing = constraints(key, names, obj)
            if missing:
                raise _forbidden(rt, name, f"failed quota: {q.name}: {missing}")
            if not names <= q.known:
                raise _forbidden(
                    rt, name, f"status unknown for quota: {q.name}, resources: {','.join(sorted(names))}"
                )
            interesting.append((q, names))
        if not interesting:
            return
        wanted = self._usage(key, obj)
        previous = self._usage(key, old) if old is not None else None
        for q, names in interesting:
            delta = wanted
            if previous is not None and scopes_match(key, q.selectors, old or {}):
                delta = _subtract_non_negative(wanted, previous)
            requested = {n: amount for n, amount in delta.items() if n in names and amount.value != 0}
            if not requested:
                continue
            exceeded = {
                n for n, amount in requested.items() if q.used[n].value + amount.value > q.hard[n].value
            }
            if exceeded:
                raise _forbidden(
                    rt,
                    name,
                    f"exceeded quota: {q.name}, "
                    f"requested: {pretty({n: requested[n] for n in exceeded})}, "
                    f"used: {pretty({n: q.used[n] for n in exceeded})}, "
                    f"limited: {pretty({n: q.hard[n] for n in exceeded})}",
                )

    # ------------------------------------------------------------------ status

    def _status(self, q: _Quota) -> dict[str, Any]:
        used = {n: str(q.used[n]) for n in sorted(q.known)}
        return {"hard": {n: str(q.hard[n]) for n in sorted(q.hard)}, "used": used}

    async def reconcile(self, key: Key, namespace: str, name: str) -> None:
        if key != QUOTAS:
            return
        rt = self.api.registry.get("", "v1", "resourcequotas")
        assert rt is not None
        with self.api.store.lock:
            obj = self.api.store.get(QUOTAS, namespace, name)
            q = self._quotas.get(namespace, {}).get(name)
            if obj is None or q is None:
                return
            status = self._status(q)
            if obj.get("status") == status:
                return
            try:
                self.api.update(
                    rt,
                    namespace,
                    name,
                    {**obj, "status": status},
                    WriteOptions(user=SYSTEM, field_manager=FIELD_MANAGER),
                    "status",
                )
            except ApiError as exc:  # gone meanwhile: its DELETED event already dropped it
                log.debug("status of resourcequota %s/%s not written: %s", namespace, name, exc.message)


def _subtract_non_negative(a: dict[str, Quantity], b: dict[str, Quantity]) -> dict[str, Quantity]:
    """``quota.SubtractWithNonNegativeResult``."""
    out: dict[str, Quantity] = {}
    for n, q in a.items():
        diff = q - b[n] if n in b else q
        out[n] = diff if diff.value > 0 else ZERO
    for n in b:
        out.setdefault(n, ZERO)
    return out


def _forbidden(rt: ResourceType, name: str, message: str) -> ApiError:
    """``admission.NewForbidden``: ``pods "x" is forbidden: <message>`` (403, reason Forbidden)."""
    return errors.forbidden_message(
        f'{rt.qualified} "{name}" is forbidden: {message}', rt.plural, name, rt.group
    )
