"""The kubelet (and the scheduler) of kubesim's single node.

* Registers a Node (``kubesim-node``: Ready, capacity, InternalIP 127.0.0.1, kubelet v1.34.0).
* Schedules pods without ``spec.nodeName`` (``schedulerName: default-scheduler``): checks their PVCs
  exist and are Bound, the node selector/affinity and the node's capacity; binds them (``Scheduled``
  event, PodScheduled condition) or leaves them Pending with PodScheduled=False/Unschedulable and a
  ``FailedScheduling`` event, retried when PVCs, pods or the node change. ``pods/binding`` works too.
* Runs the pods bound to the node with a runtime: ``fake`` (nothing executes) or ``process`` (each
  container is a local process; see :mod:`kubesim.kubelet.process`). Status, events, probes, restarts,
  graceful deletion: :mod:`kubesim.kubelet.worker`.
* Serves ``pods/log`` (see :mod:`kubesim.kubelet.logs`).

Options: :class:`kubesim.kubelet.config.KubeletConfig`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from kubesim import errors
from kubesim.api import API, User, WriteOptions
from kubesim.controllers.base import Controller
from kubesim.errors import ApiError
from kubesim.kubelet import scheduling
from kubesim.kubelet.config import KubeletConfig
from kubesim.kubelet.envvars import resolve_env
from kubesim.kubelet.events import EventRecorder
from kubesim.kubelet.fake import FakeRuntime
from kubesim.kubelet.logs import parse_options, serve
from kubesim.kubelet.network import IPAllocator, LoopbackRange
from kubesim.kubelet.node import node_object, node_status
from kubesim.kubelet.runtime import Runtime
from kubesim.kubelet.status import merge_conditions, pod_status, scheduled_condition
from kubesim.kubelet.volumes import VolumeResolver
from kubesim.kubelet.worker import PodWorker, waiting_message
from kubesim.objectmeta import now
from kubesim.server import Server
from kubesim.store import Event, Key

log = logging.getLogger("kubesim.kubelet")

Obj = dict[str, Any]

PODS: Key = ("", "pods")
PVCS: Key = ("", "persistentvolumeclaims")
NODES: Key = ("", "nodes")
SECRETS: Key = ("", "secrets")
CONFIGMAPS: Key = ("", "configmaps")
STORAGECLASSES: Key = ("storage.k8s.io", "storageclasses")

__all__ = ["Kubelet", "KubeletConfig"]


class Kubelet(Controller):
    watches = (PODS, PVCS, NODES, SECRETS, CONFIGMAPS)

    def __init__(self, api: API, state_dir: Path, *, runtime: str = "fake", **options: Any) -> None:
        super().__init__()
        self.api = api
        self.state_dir = Path(state_dir)
        self.runtime_name = runtime
        self.options = options
        self.config = KubeletConfig.from_options(options)
        self.node_name = self.config.node_name
        self.host_ip = "127.0.0.1"
        self.user = User(f"system:node:{self.node_name}", ("system:nodes", "system:authenticated"))
        self.opts = WriteOptions(user=self.user, field_manager="kubelet")
        self.scheduler_opts = WriteOptions(
            user=User("system:kube-scheduler", ("system:authenticated",)), field_manager="kube-scheduler"
        )
        self.pods_dir = self.state_dir / "kubelet" / "pods"
        self.runtime: Runtime
        if runtime == "fake":
            self.runtime = FakeRuntime(self.config.start_delay)
        elif runtime == "process":
            from kubesim.kubelet.process import ProcessRuntime

            self.runtime = ProcessRuntime(self.config)
        else:
            raise ValueError(f"unknown runtime {runtime!r} (fake or process)")
        self._loopback: LoopbackRange | None = None
        cidr = self.config.pod_cidr
        if not cidr:
            if runtime == "process":
                self._loopback = LoopbackRange()
                cidr = self._loopback.cidr
            else:
                cidr = "10.244.0.0/16"
        self.ips = IPAllocator(cidr)
        self.events = EventRecorder(api, "kubelet", self.node_name, self.user)
        self.scheduler_events = EventRecorder(api, "default-scheduler", "", self.scheduler_opts.user)
        self.resolver = VolumeResolver(api, self._configmap, self._secret, dict(self.config.node_capacity))
        self._pull_fail = re.compile(self.config.pull_fail_pattern) if self.config.pull_fail_pattern else None
        self.images: set[str] = set()
        self.workers: dict[tuple[str, str], PodWorker] = {}
        self._retired: set[PodWorker] = set()
        self.unschedulable: dict[tuple[str, str], set[str]] = {}  # pod -> claim names it waits for
        self.usage = scheduling.NodeUsage()
        for pod in api.store.list(PODS):
            self.usage.observe(pod)
        self.server_url = ""
        self._server: Server | None = None
        self._stopping: asyncio.Event | None = None

    # ------------------------------------------------------------------ wiring

    def install(self, server: Server) -> None:
        """Register the pod log handler (``pods/log``) and the ``pods/binding`` subresource."""
        self._server = server
        server.non_resource["subresource:pods/log"] = self._serve_log
        server.non_resource["subresource:pods/binding"] = self._serve_binding

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._stopping = asyncio.Event()
        if self._server is not None:
            self.server_url = self._server.url
        self._register_node()
        super().start(loop)

    async def stop(self) -> None:
        """Stop the controller and every container (SIGTERM, ``stop_grace`` seconds, SIGKILL)."""
        if self._stopping is not None:
            self._stopping.set()
        await super().stop()
        tasks = [w.terminate(self.config.stop_grace, remove=False) for w in list(self.workers.values())]
        tasks += [t for w in list(self._retired) if (t := w._terminate_task) is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.workers.clear()
        if self._loopback is not None:
            self._loopback.release()

    def initial_items(self) -> Iterable[tuple[Key, str, str]]:
        return [
            (PODS, p["metadata"].get("namespace", ""), p["metadata"]["name"])
            for p in self.api.store.list(PODS)
        ]

    def on_event(self, key: Key, event: Event) -> None:
        if key == PODS:
            self.usage.observe(event.obj, deleted=event.type == "DELETED")
        super().on_event(key, event)

    def items_for(self, key: Key, event: Event) -> Iterable[tuple[Key, str, str]]:
        meta = event.obj["metadata"]
        ns = meta.get("namespace", "")
        if key == PODS:
            out = [(PODS, ns, meta["name"])]
            old = event.old
            if event.type == "MODIFIED" and old is not None:
                om = old["metadata"]
                if (
                    om.get("uid") == meta.get("uid")
                    and om.get("deletionTimestamp") == meta.get("deletionTimestamp")
                    and old.get("spec", {}).get("nodeName") == event.obj.get("spec", {}).get("nodeName")
                ):
                    return ()
            if event.type == "DELETED" or (event.type == "MODIFIED" and _terminal(event.obj)):
                # Capacity freed: look again at pods that did not fit.
                out += [(PODS, pns, pname) for (pns, pname) in list(self.unschedulable)][:200]
            return out
        if key == NODES:
            return [(NODES, "", meta["name"])] if meta["name"] == self.node_name else ()
        if key == PVCS:
            return [(PVCS, ns, meta["name"])]
        # Secrets and ConfigMaps: only namespaces with pods on this node care.
        if any(wns == ns for (wns, _) in list(self.workers)):
            return [(key, ns, "")]
        return ()

    async def reconcile(self, key: Key, namespace: str, name: str) -> None:
        if key == PODS:
            self._reconcile_pod(namespace, name)
        elif key == PVCS:
            for (pns, pname), claims in list(self.unschedulable.items()):
                if pns == namespace and (name in claims or not claims):
                    self._reconcile_pod(pns, pname)
            self._poke_namespace(namespace)
        elif key == NODES:
            self._register_node()
            for pns, pname in list(self.unschedulable):
                self._reconcile_pod(pns, pname)
        else:
            self._poke_namespace(namespace)

    def _poke_namespace(self, namespace: str) -> None:
        for (wns, _), worker in list(self.workers.items()):
            if wns == namespace:
                worker.poke()

    # ------------------------------------------------------------------ node

    def _register_node(self) -> None:
        rt = self.api.registry.get("", "v1", "nodes")
        assert rt is not None
        try:
            with self.api.store.lock:
                node = self.api.store.get(NODES, "", self.node_name)
                if node is None:
                    node = self.api.create(
                        rt,
                        "",
                        node_object(self.node_name, self.config.node_labels, str(self.ips.network)),
                        self.opts,
                    )
                if node.get("status", {}).get("nodeInfo") is None:
                    new = copy.deepcopy(node)
                    new["status"] = node_status(
                        self.node_name,
                        self.config.node_capacity,
                        self.runtime_name,
                        now(),
                        node.get("status"),
                    )
                    self.api.update(rt, "", self.node_name, new, self.opts, "status")
        except ApiError as exc:
            log.warning("could not register node %s: %s", self.node_name, exc)

    # ------------------------------------------------------------------ pods

    def _reconcile_pod(self, namespace: str, name: str) -> None:
        pod = self.api.store.get(PODS, namespace, name)
        worker = self.workers.get((namespace, name))
        if pod is None:
            self.unschedulable.pop((namespace, name), None)
            if worker is not None:
                self._retire(worker, min(worker._grace(), 2.0))
            return
        meta = pod["metadata"]
        if worker is not None and worker.uid != meta.get("uid"):
            self._retire(worker, min(worker._grace(), 2.0))
            worker = None
        spec = pod.get("spec", {})
        node = spec.get("nodeName")
        if not node:
            if meta.get("deletionTimestamp"):
                return
            if (spec.get("schedulerName") or "default-scheduler") != "default-scheduler":
                return
            self._schedule(pod)
            return
        self.unschedulable.pop((namespace, name), None)
        if node != self.node_name:
            return
        if meta.get("deletionTimestamp"):
            grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            if worker is not None:
                worker.terminate(grace, remove=True)
            else:
                self._delete_now(pod)
            return
        if worker is None:
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                return
            worker = PodWorker(self, pod)
            self.workers[(namespace, name)] = worker
            worker.start()
        else:
            worker.pod = pod

    def _retire(self, worker: PodWorker, grace: float) -> None:
        if self.workers.get((worker.namespace, worker.name)) is worker:
            del self.workers[(worker.namespace, worker.name)]
        self._retired.add(worker)
        worker.terminate(grace, remove=False)

    def forget_worker(self, worker: PodWorker) -> None:
        """Called by a worker once all its containers stopped: release its address and directory."""
        if self.workers.get((worker.namespace, worker.name)) is worker:
            del self.workers[(worker.namespace, worker.name)]
        self._retired.discard(worker)
        if worker.sandbox is not None:
            try:
                self.runtime.teardown(worker.sandbox)
            except OSError as exc:
                log.warning("tearing down %s/%s: %s", worker.namespace, worker.name, exc)
        if not (worker.sandbox and worker.sandbox.host_network):
            self.ips.release(worker.pod_ip)
        self.events.forget(worker.uid)

    def _delete_now(self, pod: Obj) -> None:
        meta = pod["metadata"]
        rt = self.api.registry.get("", "v1", "pods")
        assert rt is not None
        with contextlib.suppress(ApiError):
            self.api.delete(
                rt,
                meta.get("namespace", ""),
                meta["name"],
                {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}},
                self.opts,
            )

    def remove_pod(self, worker: PodWorker) -> None:
        pod = self.api.store.get(PODS, worker.namespace, worker.name)
        if pod is not None and pod["metadata"].get("uid") == worker.uid:
            self._delete_now(pod)

    def write_pod_status(self, worker: PodWorker) -> None:
        rt = self.api.registry.get("", "v1", "pods")
        assert rt is not None
        try:
            with self.api.store.lock:
                current = self.api.store.get(PODS, worker.namespace, worker.name)
                if (
                    current is None
                    or current["metadata"].get("uid") != worker.uid
                    or current["metadata"].get("deletionTimestamp")
                ):
                    return
                status = pod_status(
                    current,
                    init=worker.init_states,
                    main=worker.states,
                    sandbox_ready=worker.sandbox_ready,
                    terminal=worker.terminal,
                    pod_ip=worker.pod_ip,
                    host_ip=self.host_ip,
                    start_time=worker.start_time,
                    stamp=now(),
                )
                if status == current.get("status"):
                    return
                self.api.update(
                    rt, worker.namespace, worker.name, {**current, "status": status}, self.opts, "status"
                )
        except ApiError as exc:
            log.debug("status of %s/%s not written: %s", worker.namespace, worker.name, exc)

    # ------------------------------------------------------------------ scheduling

    def _schedule(self, pod: Obj) -> None:
        meta = pod["metadata"]
        ident = (meta.get("namespace", ""), meta["name"])
        node = self.api.store.get(NODES, "", self.node_name)
        verdict = scheduling.check(self.api, pod, node, self.usage)
        if verdict.wait_silently:
            self.unschedulable[ident] = set(verdict.claims)
            return
        if not verdict.ok:
            self.unschedulable[ident] = set(verdict.claims)
            self._set_scheduled_condition(pod, False, "Unschedulable", verdict.message)
            self.scheduler_events.event(pod, "Warning", "FailedScheduling", verdict.message)
            return
        if self._bind(ident[0], ident[1], meta["uid"], self.node_name, self.scheduler_opts):
            self.unschedulable.pop(ident, None)
            self.scheduler_events.event(
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {ident[0]}/{ident[1]} to {self.node_name}",
                action="Binding",
            )

    def _bind(self, namespace: str, name: str, uid: str | None, node: str, opts: WriteOptions) -> bool:
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
            if node == self.node_name:
                return True  # the pod worker's first status write adds PodScheduled
            status = copy.deepcopy(bound.get("status") or {})
            conds = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
            status["conditions"] = merge_conditions(
                status.get("conditions"), [*conds, scheduled_condition(True)], now()
            )
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
            others = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
            status["conditions"] = merge_conditions(
                status.get("conditions"), [*others, scheduled_condition(ok, reason, message)], now()
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
                    self.scheduler_opts,
                    "status",
                )

    # ------------------------------------------------------------------ helpers for workers

    def _configmap(self, namespace: str, name: str) -> Obj | None:
        return self.api.store.get(CONFIGMAPS, namespace, name)

    def _secret(self, namespace: str, name: str) -> Obj | None:
        return self.api.store.get(SECRETS, namespace, name)

    def container_env(self, pod: Obj, container: Obj, pod_ip: str | None) -> dict[str, str]:
        return resolve_env(
            pod,
            container,
            configmap=self._configmap,
            secret=self._secret,
            pod_ip=pod_ip,
            host_ip=self.host_ip,
            allocatable=self.config.node_capacity,
        )

    def pull_fails(self, image: str) -> bool:
        return bool(self._pull_fail is not None and self._pull_fail.search(image))

    # ------------------------------------------------------------------ HTTP handlers

    async def _serve_log(self, request: web.Request, user: User) -> web.StreamResponse:
        target = request["kubesim.target"]
        namespace, name = target.namespace or "", target.name or ""
        pod = self.api.get(target.rt, namespace, name)
        spec = pod.get("spec", {})
        containers = [c["name"] for c in spec.get("containers") or ()]
        inits = [c["name"] for c in spec.get("initContainers") or ()]
        container = request.query.get("container", "")
        if not container:
            if len(containers) == 1:
                container = containers[0]
            else:
                extra = f" or one of the init containers: [{' '.join(inits)}]" if inits else ""
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(containers)}]{extra}"
                )
        if container not in containers and container not in inits:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        opts = parse_options(request.query)
        worker = self.workers.get((namespace, name))
        if worker is None or worker.uid != pod["metadata"].get("uid"):
            if opts.previous:
                raise errors.bad_request(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
            raise errors.bad_request(waiting_message(container, name, _waiting_reason(pod, container)))
        logfile = worker.log_for(container, opts.previous)
        assert self._stopping is not None
        return await serve(
            request, logfile, opts, lambda: not worker.terminating or not logfile.finished, self._stopping
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
        if not self._bind(namespace, name, uid, node, opts):
            raise errors.conflict("pods/binding", name, "", f"pod {name} could not be bound")
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        return web.json_response(status, status=201)


def _terminal(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def _waiting_reason(pod: Obj, container: str) -> str:
    status = pod.get("status", {})
    for cs in (*(status.get("containerStatuses") or ()), *(status.get("initContainerStatuses") or ())):
        if cs.get("name") == container:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                return str(waiting.get("reason") or "ContainerCreating")
    return "ContainerCreating"
