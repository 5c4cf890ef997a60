"""kubesim's kubelet: a node that runs the pods bound to it, on kubesim or on any cluster.

* Talks to its API server only through a :class:`~kubesim.kubelet.client.NodeClient`: in-process on
  kubesim's own node, over HTTPS with a kubeconfig as an agent (``kubesim kubelet --kubeconfig ...``).
* Registers its Node (capacity, addresses, ``Ready``), renews its Lease in ``kube-node-lease`` and
  refreshes the Node's status now and then, as upstream's kubelet does.
* Watches the pods bound to it (``fieldSelector=spec.nodeName=<node>``; scheduling is the scheduler's:
  kubesim's own, or kube-scheduler) and runs them with a runtime: ``fake`` (nothing executes) or
  ``process`` (each container is a local process; see :mod:`kubesim.kubelet.process`). Status, events,
  probes, restarts and graceful deletion: :mod:`kubesim.kubelet.worker`.
* Writes pod status with merge patches of ``pods/status`` from a few background writers, coalescing
  repeated changes of one pod; posts Events in the background (:mod:`kubesim.kubelet.events`).
* Serves its containers' logs (:meth:`Kubelet.serve_log`): to kubesim's API server in-process, or on
  the agent's kubelet endpoint (see :mod:`kubesim.kubelet.logs`).

Options: :class:`kubesim.kubelet.config.KubeletConfig`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from kubesim import errors
from kubesim.errors import ApiError
from kubesim.kubelet.client import CONFIGMAPS, LEASES, NODES, PODS, SECRETS, Listed, NodeClient, informer
from kubesim.kubelet.config import KubeletConfig
from kubesim.kubelet.envvars import resolve_env
from kubesim.kubelet.events import EventRecorder
from kubesim.kubelet.fake import FakeRuntime
from kubesim.kubelet.logs import parse_options, serve
from kubesim.kubelet.network import IPAllocator, LoopbackRange
from kubesim.kubelet.node import node_object, node_status
from kubesim.kubelet.references import ObjectCache, references
from kubesim.kubelet.runtime import Runtime
from kubesim.kubelet.status import pod_status
from kubesim.kubelet.volumes import VolumeResolver
from kubesim.kubelet.worker import PodWorker, waiting_message
from kubesim.objectmeta import now

log = logging.getLogger("kubesim.kubelet")

Obj = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_SECONDS = 40  # upstream's default nodeLeaseDurationSeconds; renewed every quarter of it
STATUS_WRITERS = 4  # pods/status patches in flight at once

__all__ = ["Kubelet", "KubeletConfig"]


def micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Kubelet:
    def __init__(self, client: NodeClient, state_dir: Path, *, runtime: str = "fake", **options: Any) -> None:
        self.client = client
        self.state_dir = Path(state_dir)
        self.runtime_name = runtime
        self.config = KubeletConfig.from_options(options)
        self.node_name = self.config.node_name
        self.host_ip = "127.0.0.1"
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
                # A restarted kubelet takes back its range, so its pods keep their addresses.
                remembered = self.state_dir / "kubelet" / "loopback-range"
                previous = remembered.read_text().strip() if remembered.exists() else ""
                self._loopback = LoopbackRange(prefer=previous)
                cidr = self._loopback.cidr
                remembered.parent.mkdir(parents=True, exist_ok=True)
                remembered.write_text(cidr + "\n")
            else:
                cidr = "10.244.0.0/16"
        self.ips = IPAllocator(cidr)
        self.events = EventRecorder(client, "kubelet", self.node_name)
        self.objects = ObjectCache(client, self._poke_namespace)
        self.resolver = VolumeResolver(
            client, self._cached(CONFIGMAPS), self._cached(SECRETS), dict(self.config.node_capacity)
        )
        self._pull_fail = re.compile(self.config.pull_fail_pattern) if self.config.pull_fail_pattern else None
        self.images: set[str] = set()
        self.pods: dict[tuple[str, str], Obj] = {}  # the pods bound to this node, from the watch
        self.workers: dict[tuple[str, str], PodWorker] = {}
        self._retired: set[PodWorker] = set()
        self.node_uid = ""
        self.synced = asyncio.Event()
        self._status_queue: asyncio.Queue[tuple[str, str]] | None = None
        self._status_pending: set[tuple[str, str]] = set()  # queued
        self._status_inflight: set[tuple[str, str]] = set()  # being written
        self._status_again: set[tuple[str, str]] = set()  # to write again once the write in flight ends
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Event | None = None

    @property
    def server_url(self) -> str:
        return self.client.server_url

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Register the Node (retrying until the API server answers), then watch and run pods."""
        self._stopping = asyncio.Event()
        self._status_queue = asyncio.Queue()
        self.events.start()
        await self._register_node()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._watch_pods(), name=f"kubelet {self.node_name} pods"),
            loop.create_task(self._renew_lease(), name=f"kubelet {self.node_name} lease"),
            loop.create_task(self._report_node_status(), name=f"kubelet {self.node_name} node status"),
            *(
                loop.create_task(self._write_statuses(), name=f"kubelet {self.node_name} status writer")
                for _ in range(STATUS_WRITERS)
            ),
        ]

    async def stop(self) -> None:
        """Stop watching, then every container (SIGTERM, ``stop_grace`` seconds, SIGKILL)."""
        if self._stopping is not None:
            self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        tasks = [w.terminate(self.config.stop_grace, remove=False) for w in list(self.workers.values())]
        tasks += [t for w in list(self._retired) if (t := w._terminate_task) is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.workers.clear()
        await self.objects.stop()
        await self.events.stop()
        if self._loopback is not None:
            self._loopback.release()
            self._loopback = None

    # ------------------------------------------------------------------ node

    async def _register_node(self) -> None:
        delay = 0.1
        while True:
            try:
                node = await self.client.get(NODES, "", self.node_name)
                if node is None:
                    try:
                        node = await self.client.create(
                            NODES,
                            "",
                            node_object(self.node_name, self.config.node_labels, str(self.ips.network)),
                        )
                    except ApiError as exc:
                        if exc.code != 409:
                            raise
                        continue
                self.node_uid = str(node["metadata"].get("uid", ""))
                await self._patch_node_status(node)
                return
            except (ApiError, ConnectionError) as exc:
                log.warning("registering node %s: %s; retrying in %.1f s", self.node_name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _patch_node_status(self, node: Obj) -> None:
        status = node_status(
            self.node_name,
            self.config.node_capacity,
            self.runtime_name,
            now(),
            node.get("status"),
            kubelet_port=self.config.kubelet_port,
            address=self.host_ip,
        )
        await self.client.patch(NODES, "", self.node_name, {"status": status}, subresource="status")

    async def _report_node_status(self) -> None:
        """Refresh the Node's conditions (heartbeats) now and then; liveness is the Lease's job."""
        while True:
            await asyncio.sleep(self.config.node_status_interval)
            try:
                node = await self.client.get(NODES, "", self.node_name)
                if node is None:  # deleted under us: register again, as a kubelet does
                    await self._register_node()
                else:
                    await self._patch_node_status(node)
            except (ApiError, ConnectionError) as exc:
                log.info("node status of %s not written: %s", self.node_name, exc)

    async def _renew_lease(self) -> None:
        while True:
            try:
                await self._renew_lease_once()
            except (ApiError, ConnectionError) as exc:
                log.info("lease of %s not renewed: %s", self.node_name, exc)
            await asyncio.sleep(LEASE_SECONDS / 4)

    async def _renew_lease_once(self) -> None:
        lease = await self.client.get(LEASES, NODE_LEASE_NAMESPACE, self.node_name)
        spec = {
            "holderIdentity": self.node_name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": micro_now(),
        }
        if lease is None:
            owner = [{"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": self.node_uid}]
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": self.node_name,
                    "namespace": NODE_LEASE_NAMESPACE,
                    "ownerReferences": owner,
                },
                "spec": spec,
            }
            await self.client.create(LEASES, NODE_LEASE_NAMESPACE, body)
        else:
            await self.client.update(LEASES, NODE_LEASE_NAMESPACE, self.node_name, {**lease, "spec": spec})

    # ------------------------------------------------------------------ pods

    async def _watch_pods(self) -> None:
        async for item in informer(self.client, PODS, fields=f"spec.nodeName={self.node_name}"):
            if item is Listed.MARK:
                self.synced.set()
                continue
            meta = item.obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            if item.type == "DELETED":
                self.pods.pop(key, None)
            else:
                self.pods[key] = item.obj
            self._reconcile_pod(*key)

    def _poke_namespace(self, namespace: str) -> None:
        for (wns, _), worker in list(self.workers.items()):
            if wns == namespace:
                worker.poke()

    def _reconcile_pod(self, namespace: str, name: str) -> None:
        pod = self.pods.get((namespace, name))
        worker = self.workers.get((namespace, name))
        if pod is None:
            if worker is not None:
                self._retire(worker, min(worker._grace(), 2.0))
            return
        meta = pod["metadata"]
        if worker is not None and worker.uid != meta.get("uid"):
            self._retire(worker, min(worker._grace(), 2.0))
            worker = None
        if (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return
        if meta.get("deletionTimestamp"):
            grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            if worker is not None:
                worker.terminate(grace, remove=True)
            else:
                asyncio.get_running_loop().create_task(self._delete_now(pod))
            return
        if worker is None:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                return
            worker = PodWorker(self, pod)
            self.workers[(namespace, name)] = worker
            self.objects.acquire(worker.uid, references(pod))
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
        self.objects.release(worker.uid)
        if worker.sandbox is not None:
            try:
                self.runtime.teardown(worker.sandbox)
            except OSError as exc:
                log.warning("tearing down %s/%s: %s", worker.namespace, worker.name, exc)
        if not (worker.sandbox and worker.sandbox.host_network):
            self.ips.release(worker.pod_ip)
        self.events.forget(worker.uid)

    async def _delete_now(self, pod: Obj) -> None:
        meta = pod["metadata"]
        with contextlib.suppress(ApiError, ConnectionError):
            await self.client.delete(PODS, meta.get("namespace", ""), meta["name"], uid=meta["uid"], grace=0)

    async def remove_pod(self, worker: PodWorker) -> None:
        pod = self.pods.get((worker.namespace, worker.name))
        if pod is not None and pod["metadata"].get("uid") == worker.uid:
            await self._delete_now(pod)

    # ------------------------------------------------------------------ status

    def write_pod_status(self, worker: PodWorker) -> None:
        """Queue a status write for the worker's pod; writers coalesce repeats and write the latest."""
        key = (worker.namespace, worker.name)
        if key in self._status_pending or self._status_queue is None:
            return
        self._status_pending.add(key)
        self._status_queue.put_nowait(key)

    async def _write_statuses(self) -> None:
        """One of the status writers. A pod's writes never overlap: two patches in flight at once could
        reach the API server in either order, and the older would undo the newer (a container's state
        going back). A write asked for while one is in flight is made after it."""
        assert self._status_queue is not None
        while True:
            key = await self._status_queue.get()
            self._status_pending.discard(key)
            if key in self._status_inflight:
                self._status_again.add(key)
                continue
            worker = self.workers.get(key)
            if worker is None or worker.terminating:
                continue
            self._status_inflight.add(key)
            try:
                await self._write_status(worker)
            except ConnectionError as exc:
                log.info("status of %s/%s not written (%s); retrying", key[0], key[1], exc)
                await asyncio.sleep(1.0)
                self._status_again.add(key)
            except ApiError as exc:
                log.debug("status of %s/%s not written: %s", key[0], key[1], exc)
            finally:
                self._status_inflight.discard(key)
            if key in self._status_again:
                self._status_again.discard(key)
                self.write_pod_status(worker)

    async def _write_status(self, worker: PodWorker) -> None:
        key = (worker.namespace, worker.name)
        current = self.pods.get(key)
        if current is None or current["metadata"].get("uid") != worker.uid:
            return
        if current["metadata"].get("deletionTimestamp"):
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
        old = current.get("status") or {}
        if status == old:
            return
        patch = {k: v for k, v in status.items() if old.get(k) != v}
        patch.update({k: None for k in old if k not in status})
        written = await self.client.patch(PODS, key[0], key[1], {"status": patch}, subresource="status")
        # The watch brings it too; keeping the answer now means the next status is computed from it.
        latest = self.pods.get(key)
        if latest is not None and latest["metadata"].get("uid") == worker.uid and _newer(written, latest):
            self.pods[key] = written

    # ------------------------------------------------------------------ helpers for workers

    def _cached(self, r: Any) -> Any:
        async def lookup(namespace: str, name: str) -> Obj | None:
            return await self.objects.get(r, namespace, name)

        return lookup

    async def container_env(self, pod: Obj, container: Obj, pod_ip: str | None) -> dict[str, str]:
        objects = await self.objects.snapshot(references(pod))
        return resolve_env(
            pod,
            container,
            configmap=lambda ns, name: objects.get((CONFIGMAPS, ns, name)),
            secret=lambda ns, name: objects.get((SECRETS, ns, name)),
            pod_ip=pod_ip,
            host_ip=self.host_ip,
            allocatable=self.config.node_capacity,
        )

    def pull_fails(self, image: str) -> bool:
        return bool(self._pull_fail is not None and self._pull_fail.search(image))

    # ------------------------------------------------------------------ HTTP handlers

    async def serve_log(
        self, request: web.Request, namespace: str, name: str, container: str
    ) -> web.StreamResponse:
        """A container's log, answered as the kubelet answers ``/containerLogs`` (kubectl logs' wording for
        a container that has not started or does not exist)."""
        pod = self.pods.get((namespace, name)) or await self.client.get(PODS, namespace, name)
        if pod is None:
            raise errors.not_found("pods", name)
        container = log_container(pod, container)
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


def log_container(pod: Obj, container: str) -> str:
    """The container whose log ``pods/log`` reads: the one named (which must exist), or the pod's only
    container; errors worded as the API server's (``validateContainer``)."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec", {})
    containers = [c["name"] for c in spec.get("containers") or ()]
    inits = [c["name"] for c in spec.get("initContainers") or ()]
    if not container:
        if len(containers) == 1:
            return str(containers[0])
        extra = f" or one of the init containers: [{' '.join(inits)}]" if inits else ""
        choices = " ".join(containers)
        raise errors.bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{choices}]{extra}"
        )
    if container not in containers and container not in inits:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def _newer(a: Obj, b: Obj) -> bool:
    """Whether ``a`` is a later version of the object than ``b`` (resourceVersions are opaque strings;
    both kubesim and etcd make them increasing integers, which this relies on only to skip a cache update)."""
    try:
        return int(a["metadata"]["resourceVersion"]) > int(b["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return False


def _waiting_reason(pod: Obj, container: str) -> str:
    status = pod.get("status", {})
    for cs in (*(status.get("containerStatuses") or ()), *(status.get("initContainerStatuses") or ())):
        if cs.get("name") == container:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                return str(waiting.get("reason") or "ContainerCreating")
    return "ContainerCreating"
