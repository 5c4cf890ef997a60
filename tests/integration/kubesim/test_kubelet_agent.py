"""``kubesim kubelet``: kubesim's kubelet as a node that joins a cluster over HTTPS (kubesim or upstream).

Two agents make a cluster of several nodes: the cluster's scheduler (kubesim's, or kube-scheduler)
spreads pods across them, each node gives addresses from its own range, and the API server reaches each
node's kubelet endpoint for logs. Stopping an agent stops its containers: nothing is left behind.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubesim.subprocesses import descendants
from tests.clusters import ClusterUnderTest

from .conformance_support import make_tool


@contextmanager
def agent(
    cluster: ClusterUnderTest,
    name: str,
    tmp_path: Path,
    *flags: str,
    runtime: str = "fake",
) -> Iterator[subprocess.Popen[str]]:
    """A ``kubesim kubelet`` process joined to ``cluster`` as node ``name``, stopped (SIGTERM) on exit."""
    argv = [
        sys.executable,
        "-m",
        "kubesim.cli",
        "kubelet",
        "--kubeconfig",
        cluster.node_kubeconfig(name),
        "--node-name",
        name,
        "--runtime",
        runtime,
        "--state-dir",
        str(tmp_path / name),
        "--client-ca-file",
        cluster.ca_file,
        *flags,
    ]
    log = (tmp_path / f"{name}.log").open("w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        log.close()


def node_ready(cluster: ClusterUnderTest, name: str) -> bool:
    """Ready, and no ``not-ready`` taint left (upstream's node lifecycle controller removes it)."""
    status, node = cluster.request("GET", f"/api/v1/nodes/{name}")
    if status != 200:
        return False
    ready = any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (node.get("status") or {}).get("conditions") or ()
    )
    taints = (node.get("spec") or {}).get("taints") or ()
    return ready and not any(t.get("key") == "node.kubernetes.io/not-ready" for t in taints)


def pod_on(nodes: list[str], name: str, **container: Any) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": nodes}]}
    return {
        "metadata": {"name": name, "labels": {"app": "agent-test"}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
                }
            },
            "containers": [{"name": "c", "image": "busybox:1.36", **container}],
        },
    }


def delete_pods(cluster: ClusterUnderTest, ns: str, wait_for: Callable[..., Any]) -> None:
    cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dagent-test")
    wait_for(
        lambda: not cluster.request("GET", f"/api/v1/namespaces/{ns}/pods")[1]["items"],
        timeout=60,
        what="the test's pods deleted by their nodes",
    )


def test_two_agents_share_the_pods_each_with_its_own_addresses(
    cluster: ClusterUnderTest, ns: str, tmp_path: Path, wait_for: Callable[..., Any]
) -> None:
    suffix = ns.rsplit("-", 1)[1]
    names = [f"agent-a-{suffix}", f"agent-b-{suffix}"]
    ranges = {names[0]: "10.244.201.0/24", names[1]: "10.244.202.0/24"}
    with (
        agent(cluster, names[0], tmp_path, "--pod-cidr", ranges[names[0]]) as first,
        agent(cluster, names[1], tmp_path, "--pod-cidr", ranges[names[1]]) as second,
    ):
        for name in names:
            wait_for(lambda name=name: node_ready(cluster, name), timeout=90, what=f"node {name} Ready")
        for i in range(4):
            status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", pod_on(names, f"p{i}"))
            assert status == 201, body

        def running() -> list[dict[str, Any]]:
            items = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods")[1]["items"]
            done = [p for p in items if (p.get("status") or {}).get("phase") == "Running"]
            return done if len(done) == 4 else []

        pods = wait_for(running, timeout=60, what="4 pods Running on the agents")
        placed = {p["spec"]["nodeName"] for p in pods}
        assert placed == set(names), "the scheduler spreads pods over both nodes"
        for p in pods:
            node = p["spec"]["nodeName"]
            assert ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network(ranges[node])
            assert p["status"]["hostIP"] == "127.0.0.1"
        status, node = cluster.request("GET", f"/api/v1/nodes/{names[0]}")
        assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "kubesim-fake://0.1.0"
        assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0
        status, lease = cluster.request(
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{names[0]}"
        )
        assert status == 200
        assert lease["spec"]["holderIdentity"] == names[0]
        delete_pods(cluster, ns, wait_for)
        agents = [first, second]
    for proc in agents:
        assert proc.returncode == 0


def test_a_process_agent_serves_its_pod_and_its_logs(
    cluster: ClusterUnderTest, ns: str, tmp_path: Path, wait_for: Callable[..., Any]
) -> None:
    name = f"agent-p-{ns.rsplit('-', 1)[1]}"
    with agent(cluster, name, tmp_path, runtime="process") as proc:
        wait_for(lambda: node_ready(cluster, name), timeout=90, what=f"node {name} Ready")
        server = pod_on(
            [name],
            "web",
            command=[sys.executable, "-u", "-m", "http.server", "8080"],
            ports=[{"containerPort": 8080}],
            readinessProbe={"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
        )
        assert cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", server)[0] == 201

        def ready_ip() -> str:
            pod = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/web")[1]
            conditions = (pod.get("status") or {}).get("conditions") or ()
            ok = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            return str(pod["status"]["podIP"]) if ok else ""

        ip = wait_for(ready_ip, timeout=60, what="the web pod Ready")
        assert ipaddress.ip_address(ip).is_loopback
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=5) as resp:
            assert resp.status == 200
        kubectl = make_tool("kubectl", cluster.kubeconfig, tmp_path)
        logs = wait_for(
            lambda: (
                (out := kubectl("logs", "web", "-n", ns))
                and re.search(r'"GET / HTTP/1\.[01]" 200', out)
                and out
            ),
            timeout=30,
            what="the server's access log through the API server",
        )
        assert "GET / HTTP" in logs
        # The node answers a log error as plain text; the API server makes it its Status' message.
        previous = kubectl.run("logs", "web", "-n", ns, "--previous", check=False)
        assert previous.stderr == (
            'Error from server (BadRequest): previous terminated container "c" in pod "web" not found\n'
        )
        server_pid = int(
            next(
                p
                for p in descendants(proc.pid)
                if "http.server" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
            )
        )
        delete_pods(cluster, ns, wait_for)
        assert not os.path.exists(f"/proc/{server_pid}")  # the container stopped with its pod
