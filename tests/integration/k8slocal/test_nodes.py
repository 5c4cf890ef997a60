"""k8s-local's nodes (kubesim kubelet agents) against faults: the API server restarting under a running
server, and an agent killed with SIGKILL and started again."""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

import k8slocal
from kubesim.subprocesses import descendants
from tests.conftest import wait_until

NS = "default"


def _web_pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "busybox:1.36",
                    "command": [sys.executable, "-u", "-m", "http.server", "8080"],
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
                }
            ]
        },
    }


def _ready(plane: k8slocal.ControlPlane, name: str) -> dict[str, Any] | None:
    status, pod = plane.request("GET", f"/api/v1/namespaces/{NS}/pods/{name}")
    if status != 200:
        return None
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return pod if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else None


def _answers(ip: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _servers(plane: k8slocal.ControlPlane) -> list[int]:
    """The http.server processes the node's agent runs."""
    agent = plane.pids()["node-1"]
    return [
        pid
        for pid in descendants(agent)
        if "http.server" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    ]


def test_a_node_keeps_serving_through_an_api_server_restart(binaries: k8slocal.Binaries) -> None:
    with k8slocal.ControlPlane(binaries=binaries, nodes=1, runtime="process") as plane:
        assert plane.request("POST", f"/api/v1/namespaces/{NS}/pods", _web_pod("web"))[0] == 201
        pod = wait_until(lambda: _ready(plane, "web"), timeout=60, message="the web pod Ready")
        ip = pod["status"]["podIP"]
        before = _servers(plane)
        assert len(before) == 1
        plane.components["kube-apiserver"].stop()
        assert _answers(ip)  # no API server: the node keeps its pod running
        plane.restart("kube-apiserver")
        assert _answers(ip)
        assert _servers(plane) == before  # the same process: nothing was restarted
        # The agent resynced: a pod created after the restart runs too, and the first stays Ready.
        assert plane.request("POST", f"/api/v1/namespaces/{NS}/pods", _web_pod("second"))[0] == 201
        wait_until(lambda: _ready(plane, "second"), timeout=60, message="a new pod after the restart")
        pod = _ready(plane, "web")
        assert pod is not None
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 0


def test_a_killed_agent_adopts_its_pods_without_duplicates(binaries: k8slocal.Binaries) -> None:
    with k8slocal.ControlPlane(binaries=binaries, nodes=1, runtime="process") as plane:
        assert plane.request("POST", f"/api/v1/namespaces/{NS}/pods", _web_pod("web"))[0] == 201
        pod = wait_until(lambda: _ready(plane, "web"), timeout=60, message="the web pod Ready")
        old_ip = pod["status"]["podIP"]
        (old_server,) = _servers(plane)
        plane.stop_node("node-1", kill=True)
        # The containers die with their kubelet (they are its children), as a node that lost its runtime.
        wait_until(lambda: not os.path.exists(f"/proc/{old_server}"), timeout=10, message="the server gone")
        plane.start_node("node-1")

        def running_again() -> dict[str, Any] | None:
            pod = _ready(plane, "web")
            statuses = (pod or {}).get("status", {}).get("containerStatuses") or [{}]
            return pod if statuses[0].get("restartCount") == 1 else None

        pod = wait_until(running_again, timeout=60, message="the pod adopted and its container restarted")
        assert pod["status"]["podIP"] == old_ip  # its address kept
        assert len(_servers(plane)) == 1  # one server, not two
        assert _answers(old_ip)
