"""A cluster of one node run by kubesim's kubelet, on either backend, for the kubelet's own tests.

``kubesim.Cluster(runtime=R, kubelet={...})`` (kubesim's API server and scheduler, the kubelet in-process)
and ``k8slocal.ControlPlane(nodes=1, runtime=R, kubelet_flags=["--kubelet-option=K=JSON", ...])`` (upstream
Kubernetes, the same kubelet as an agent) are the same node behind different control planes: one node
each, so kube-scheduler's messages (``0/1 nodes are available``) compare with kubesim's.

A test module takes ``node_backend`` (module scope, one value per backend of ``--backends``; the
``kubesim_diverges`` marker applies) and starts its cluster with :func:`node_cluster`; a test that needs
other kubelet options starts one of its own the same way.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import kubernetes
import pytest
from kubernetes.client import CoreV1Api

import k8slocal
import kubesim
from tests.clusters import ClusterUnderTest, create_namespace, require_upstream, test_namespace_name
from tests.conftest import wait_until

from .conformance_support import binary

Obj = dict[str, Any]
T = TypeVar("T")


@dataclass
class NodeCluster(ClusterUnderTest):
    """A ``ClusterUnderTest`` (``namespace`` is ``default``) whose one node, ``node_name``, is kubesim's
    kubelet."""

    node_name: str = ""

    def pod(self, namespace: str, name: str) -> Obj | None:
        status, body = self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
        if status == 404:
            return None
        assert status == 200, body
        return dict(body)

    def events(self, namespace: str, name: str) -> list[Obj]:
        """The core/v1 Events about the object ``name`` in ``namespace``, oldest first."""
        selector = urllib.parse.quote(f"involvedObject.name={name}")
        status, body = self.request("GET", f"/api/v1/namespaces/{namespace}/events?fieldSelector={selector}")
        assert status == 200, body
        return list(body["items"])

    def reasons(self, namespace: str, name: str) -> list[str]:
        return [e["reason"] for e in self.events(namespace, name)]

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary("kubectl"), "--kubeconfig", self.kubeconfig, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def new_namespace(self, request: pytest.FixtureRequest) -> str:
        """A namespace of the test's own (with its ``default`` ServiceAccount)."""
        name = test_namespace_name(request)
        create_namespace(self, name, timeout=60)
        return name

    def delete_namespace(self, name: str) -> None:
        """Delete without waiting: the node stops the pods in the background (CPU is shared)."""
        self.request("DELETE", f"/api/v1/namespaces/{name}")

    def watch_pod(self, namespace: str, name: str, resource_version: str) -> PodHistory:
        return PodHistory(self, namespace, name, resource_version)


class PodHistory:
    """Every version of one pod written after ``resource_version``, and whether it was deleted, from a
    watch (no version is missed, however fast the kubelet rewrites the status). Close it when done."""

    def __init__(self, cluster: NodeCluster, namespace: str, name: str, resource_version: str) -> None:
        query = urllib.parse.urlencode(
            {
                "watch": "1",
                "fieldSelector": f"metadata.name={name}",
                "resourceVersion": resource_version,
                "timeoutSeconds": "120",
            }
        )
        url = urllib.parse.urlsplit(cluster.url)
        self._conn = http.client.HTTPSConnection(
            url.hostname or "127.0.0.1", url.port, timeout=130, context=cluster.ssl_context()
        )
        self._conn.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods?{query}",
            headers={"Authorization": f"Bearer {cluster.admin_token}", "Accept": "application/json"},
        )
        self._socket = self._conn.sock
        self._response = self._conn.getresponse()
        assert self._response.status == 200, self._response.read()
        self.versions: list[Obj] = []
        self.deleted = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._response:
                event = json.loads(line)
                if event.get("type") in ("ADDED", "MODIFIED"):
                    self.versions.append(event["object"])
                elif event.get("type") == "DELETED":
                    self.deleted = True
        except (OSError, ValueError, AttributeError):
            pass  # closed under the reader (http.client drops its file object: AttributeError)

    def close(self) -> None:
        # Shut the socket down first: closing the response alone waits for the reader's blocked read.
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)
        self._conn.close()


@contextmanager
def node_cluster(
    config: pytest.Config, backend: str, runtime: str, options: Mapping[str, Any], state_dir: Path
) -> Iterator[NodeCluster]:
    """One node of kubesim's kubelet with ``options`` (``KubeletConfig``), on the backend's control plane
    (upstream's in a temporary state dir: the volumes its host-path provisioner made go with it; the logs
    of the node, kube-scheduler and kube-controller-manager are copied to ``state_dir``)."""
    if backend == "kubesim":
        with kubesim.Cluster(runtime=runtime, kubelet=dict(options), state_dir=state_dir / "kubesim") as sim:
            yield NodeCluster(
                "kubesim",
                sim.url,
                sim.admin_token,
                sim.ca_file,
                sim.kubeconfig,
                "default",
                state_dir,
                sim=sim,
                node_name=sim.kubelet.node_name,
            )
        return
    require_upstream(config)
    binaries = k8slocal.find() or k8slocal.ensure()
    flags = [f"--kubelet-option={key}={json.dumps(value)}" for key, value in options.items()]
    with k8slocal.ControlPlane(
        binaries=binaries,
        nodes=1,
        runtime=runtime,
        kubelet_flags=flags,
    ) as plane:
        node = plane.node_names()[0]
        try:
            yield NodeCluster(
                "upstream",
                plane.url,
                plane.admin_token,
                plane.ca_file,
                plane.kubeconfig,
                "default",
                state_dir,
                plane=plane,
                node_name=node,
            )
        finally:
            # The control plane's state dir goes with it; the pytest temporary directory is kept a while.
            for component in (node, "kube-scheduler", "kube-controller-manager"):
                (state_dir / f"{component}.log").write_text(plane.logs(component))


@contextmanager
def core_api(cluster: ClusterUnderTest) -> Iterator[Any]:
    """The official client's ``CoreV1Api`` for ``cluster`` (typed ``Any``: the client has no stubs)."""
    api_client = kubernetes.config.new_client_from_config(config_file=cluster.kubeconfig)  # type: ignore[no-untyped-call]
    try:
        yield CoreV1Api(api_client)
    finally:
        api_client.close()  # type: ignore[no-untyped-call]


# ------------------------------------------------------------------------------------------ pod status


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout`` seconds (a
    deadline that suits upstream, whose scheduler and controllers take their time)."""
    return wait_until(predicate, timeout, message=what or str(predicate))


def condition(p: Obj | None, ctype: str) -> Obj | None:
    for c in ((p or {}).get("status") or {}).get("conditions") or ():
        if c["type"] == ctype:
            return dict(c)
    return None


def is_ready(p: Obj | None) -> bool:
    c = condition(p, "Ready")
    return bool(c and c["status"] == "True")


def phase(p: Obj | None) -> str:
    return str(((p or {}).get("status") or {}).get("phase", ""))


def container_status(p: Obj | None, name: str = "main") -> Obj:
    for cs in ((p or {}).get("status") or {}).get("containerStatuses") or ():
        if cs["name"] == name:
            return dict(cs)
    return {}


def waiting_reason(p: Obj | None, name: str = "main") -> str:
    return str((container_status(p, name).get("state", {}).get("waiting") or {}).get("reason", ""))
