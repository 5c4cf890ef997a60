"""kubesim's default scheduler: binds pods without ``spec.nodeName`` to a node, as kube-scheduler does.

A component of the control plane, apart from the kubelet (as upstream: on a cluster of upstream
Kubernetes, kube-scheduler binds and kubesim's kubelet only runs what is bound to its node). Pods whose
``schedulerName`` is not ``default-scheduler`` are left alone. A pod that fits no node stays Pending with
``PodScheduled=False/Unschedulable`` and a ``FailedScheduling`` event, and is looked at again when PVCs,
nodes or other pods change. ``pods/binding`` binds a pod for another scheduler.

Its Events are what kube-scheduler's events.k8s.io recorder writes, as the core API shows them: an
``action`` (``Scheduling``, ``Binding``), ``eventTime``, the reporting controller and instance, no
``source``, no ``count``; the same event about the same version of the pod again makes a series (its
second occurrence is written as ``series.count: 2``; later ones only count in the recorder's memory, as
upstream's recorder writes them back every 30 minutes).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from kubesim import errors
from kubesim.api import API, User, WriteOptions
from kubesim.controllers import scheduling
from kubesim.controllers.base import Controller
from kubesim.errors import ApiError
from kubesim.kubelet.status import merge_conditions, scheduled_condition
from kubesim.objectmeta import now, now_micro
from kubesim.server import Server
from kubesim.store import Event, Key

log = logging.getLogger("kubesim.scheduler")

Obj = dict[str, Any]

PODS: Key = ("", "pods")
PVCS: Key = ("", "persistentvolumeclaims")
NODES: Key = ("", "nodes")

USER = User("system:kube-scheduler", ("system:authenticated",))
COMPONENT = "default-scheduler"
EVENT_CACHE = 4096  # isomorphic events remembered (upstream's recorder: an LRU of 4096)


class Scheduler(Controller):
    watches = (PODS, PVCS, NODES)

    def __init__(self, api: API) -> None:
        super().__init__()
        self.api = api
        self.opts = WriteOptions(user=USER, field_manager="kube-scheduler")
        self.unschedulable: dict[tuple[str, str], set[str]] = {}  # pod -> claim names it waits for
        self.usage = scheduling.NodeUsage()
        self.instance = f"{COMPONENT}-{socket.gethostname()}"
        # event key -> (namespace, name, occurrences) of the Event written for it
        self._events: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()
        for pod in api.store.list(PODS):
            self.usage.observe(pod)

    def install(self, server: Server) -> None:
        server.non_resource["subresource:pods/binding"] = self._serve_binding

    def initial_items(self) -> Iterable[tuple[Key, str, str]]:
        return [
            (PODS, p["metadata"].get("namespace", ""), p["metadata"]["name"])
            for p in self.api.store.list(PODS)
            if not (p.get("spec") or {}).get("nodeName")
        ]

    def on_event(self, key: Key, event: Event) -> None:
        if key == PODS:
            self.usage.observe(event.obj, deleted=event.type == "DELETED")
        super().on_event(key, event)

    def items_for(self, key: Key, event: Event) -> Iterable[tuple[Key, str, str]]:
        meta = event.obj["metadata"]
        ns = meta.get("namespace", "")
        if key == PODS:
            out: list[tuple[Key, str, str]] = []
            if not (event.obj.get("spec") or {}).get("nodeName") and event.type != "DELETED":
                out.append((PODS, ns, meta["name"]))
            elif event.type == "DELETED":
                self.unschedulable.pop((ns, meta["name"]), None)
                self.forget_events(meta.get("uid", ""))
            if event.type == "DELETED" or (event.type == "MODIFIED" and _terminal(event.obj)):
                # Capacity freed: look again at pods that did not fit.
                out += [(PODS, pns, pname) for (pns, pname) in list(self.unschedulable)][:200]
            return out
        if key == NODES:
            return [(PODS, pns, pname) for (pns, pname) in list(self.unschedulable)]
        if key == PVCS:
            return [
                (PODS, pns, pname)
                for (pns, pname), claims in list(self.unschedulable.items())
                if pns == ns and (meta["name"] in claims or not claims)
            ]
        return ()

    async def reconcile(self, key: Key, namespace: str, name: str) -> None:
        pod = self.api.store.get(PODS, namespace, name)
        if pod is None:
            self.unschedulable.pop((namespace, name), None)
            return
        spec = pod.get("spec", {})
        if spec.get("nodeName"):
            self.unschedulable.pop((namespace, name), None)
            return
        if pod["metadata"].get("deletionTimestamp"):
            return
        if (spec.get("schedulerName") or "default-scheduler") != "default-scheduler":
            return
        self._schedule(pod)

    def _schedule(self, pod: Obj) -> None:
        meta = pod["metadata"]
        ident = (meta.get("namespace", ""), meta["name"])
        nodes = self.api.store.list(NODES)
        verdict = scheduling.check(self.api, pod, nodes, self.usage)
        if verdict.wait_silently:
            self.unschedulable[ident] = set(verdict.claims)
            return
        if not verdict.ok:
            self.unschedulable[ident] = set(verdict.claims)
            self._set_scheduled_condition(pod, False, "Unschedulable", verdict.message)
            self._event(pod, "Warning", "FailedScheduling", verdict.message, "Scheduling")
            return
        if self.bind(ident[0], ident[1], meta["uid"], verdict.node, self.opts):
            self.unschedulable.pop(ident, None)
            self._event(
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {ident[0]}/{ident[1]} to {verdict.node}",
                "Binding",
            )

    def _event(self, pod: Obj, event_type: str, reason: str, message: str, action: str) -> None:
        """Post (or add to the series of) an Event about ``pod``, as kube-scheduler's recorder does."""
        meta = pod["metadata"]
        namespace = meta.get("namespace", "")
        # Upstream's recorder keys on the whole object reference, resourceVersion included: a retry after
        # the pod changed (its PodScheduled condition written by the first attempt) is a new Event.
        key = (meta.get("uid", ""), meta.get("resourceVersion", ""), event_type, reason, message, action)
        rt = self.api.registry.get("", "v1", "events")
        if rt is None:
            return
        seen = self._events.get(key)
        try:
            if seen is None:
                body = {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": f"{meta['name']}.{time.time_ns():x}", "namespace": namespace},
                    "involvedObject": {
                        "kind": "Pod",
                        "namespace": namespace,
                        "name": meta["name"],
                        "uid": meta.get("uid", ""),
                        "apiVersion": "v1",
                        "resourceVersion": meta.get("resourceVersion", ""),
                    },
                    "reason": reason,
                    "message": message,
                    "source": {},
                    # An events.k8s.io Event read as a core one: the two timestamps are there, null
                    # (kubespawner's event reflector, for one, sorts by lastTimestamp).
                    "firstTimestamp": None,
                    "lastTimestamp": None,
                    "type": event_type,
                    "eventTime": now_micro(),
                    "action": action,
                    "reportingComponent": COMPONENT,
                    "reportingInstance": self.instance,
                }
                created = self.api.create(rt, namespace, body, self.opts)
                self._events[key] = (namespace, created["metadata"]["name"], 1)
                while len(self._events) > EVENT_CACHE:
                    self._events.popitem(last=False)
                return
            ns, name, count = seen
            self._events[key] = (ns, name, count + 1)
            self._events.move_to_end(key)
            if count == 1:
                stored = self.api.store.get(("", "events"), ns, name)
                if stored is not None:
                    series = {"count": 2, "lastObservedTime": now_micro()}
                    self.api.update(rt, ns, name, {**stored, "series": series}, self.opts)
        except ApiError as exc:  # e.g. the namespace is terminating
            log.debug("event %s about %s/%s not recorded: %s", reason, namespace, meta["name"], exc.message)

    def forget_events(self, uid: str) -> None:
        for key in [k for k in self._events if k[0] == uid]:
            del self._events[key]

    def bind(self, namespace: str, name: str, uid: str | None, node: str, opts: WriteOptions) -> bool:
        """Set ``spec.nodeName`` (once) and ``PodScheduled=True``, as the binding subresource does."""
        rt = self.api.registry.get("", "v1", "pods")
        assert rt is not None
        with self.api.store.lock:
            current = self.api.store.get(PODS, namespace, name)
            if current is None or (uid and current["metadata"].get("uid") != uid):
                return False
            if current.get("spec", {}).get("nodeName"):
                return False
            new = copy.deepcopy(current)
            new["spec"]["nodeName"] = node
            try:
                bound = self.api.update(rt, namespace, name, new, opts)
            except ApiError as exc:
                log.warning("binding %s/%s failed: %s", namespace, name, exc)
                return False
            status = copy.deepcopy(bound.get("status") or {})
            status["conditions"] = _with_scheduled(status.get("conditions"), scheduled_condition(True))
            status.setdefault("phase", "Pending")
            with contextlib.suppress(ApiError):
                self.api.update(rt, namespace, name, {**bound, "status": status}, opts, "status")
        return True

    def _set_scheduled_condition(self, pod: Obj, ok: bool, reason: str, message: str) -> None:
        rt = self.api.registry.get("", "v1", "pods")
        assert rt is not None
        meta = pod["metadata"]
        with self.api.store.lock:
            current = self.api.store.get(PODS, meta.get("namespace", ""), meta["name"])
            if current is None or current["metadata"].get("uid") != meta.get("uid"):
                return
            status = copy.deepcopy(current.get("status") or {})
            status["conditions"] = _with_scheduled(
                status.get("conditions"), scheduled_condition(ok, reason, message)
            )
            status.setdefault("phase", "Pending")
            if status == current.get("status"):
                return
            with contextlib.suppress(ApiError):
                self.api.update(
                    rt,
                    meta.get("namespace", ""),
                    meta["name"],
                    {**current, "status": status},
                    self.opts,
                    "status",
                )

    async def _serve_binding(self, request: web.Request, user: User) -> web.StreamResponse:
        target = request["kubesim.target"]
        body = request.get("kubesim.body") or {}
        namespace, name = target.namespace or "", target.name or ""
        node = str(((body.get("target") or {}) if isinstance(body, dict) else {}).get("name") or "")
        if not node:
            raise errors.invalid(
                "Binding",
                name,
                [{"reason": "FieldValueRequired", "message": "Required value", "field": "target.name"}],
            )
        pod = self.api.get(target.rt, namespace, name)
        current = pod.get("spec", {}).get("nodeName")
        if current:
            raise errors.conflict(
                "pods/binding", name, "", f'pod {name} is already assigned to node "{current}"'
            )
        uid = ((body.get("metadata") or {}) if isinstance(body, dict) else {}).get("uid")
        opts = WriteOptions(user=user, field_manager=request.query.get("fieldManager", ""))
        if not self.bind(namespace, name, uid, node, opts):
            raise errors.conflict("pods/binding", name, "", f"pod {name} could not be bound")
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        return web.json_response(status, status=201)


def _with_scheduled(conditions: list[Obj] | None, condition: Obj) -> list[Obj]:
    others = [c for c in conditions or () if c.get("type") != "PodScheduled"]
    return merge_conditions(conditions, [*others, condition], now())


def _terminal(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")
