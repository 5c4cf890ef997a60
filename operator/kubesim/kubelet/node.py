"""The Node object a kubelet registers."""

from __future__ import annotations

import platform
import uuid
from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]

KUBELET_VERSION = "v1.34.0"


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()


def node_object(name: str, labels: Mapping[str, str], pod_cidr: str) -> Obj:
    os_name = "linux" if platform.system() == "Linux" else platform.system().lower()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": _arch(),
                "beta.kubernetes.io/os": os_name,
                "kubernetes.io/arch": _arch(),
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": os_name,
                **labels,
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr], "providerID": f"kubesim://{name}"},
    }


def node_status(
    name: str,
    capacity: Mapping[str, str],
    runtime: str,
    stamp: str,
    previous: Obj | None = None,
    *,
    kubelet_port: int = 10250,
    address: str = "127.0.0.1",
) -> Obj:
    machine_id = _read("/etc/machine-id") or uuid.uuid5(uuid.NAMESPACE_DNS, name).hex
    prev_conds = {c.get("type"): c for c in (previous or {}).get("conditions") or ()}

    def cond(ctype: str, status: str, reason: str, message: str) -> Obj:
        old = prev_conds.get(ctype) or {}
        return {
            "type": ctype,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": old.get("lastTransitionTime", stamp)
            if old.get("status") == status
            else stamp,
        }

    return {
        "capacity": dict(capacity),
        "allocatable": dict(capacity),
        "conditions": [
            cond(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": {
            "machineID": machine_id,
            "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, machine_id)),
            "bootID": _read("/proc/sys/kernel/random/boot_id") or str(uuid.uuid4()),
            "kernelVersion": platform.release(),
            "osImage": _os_image(),
            "containerRuntimeVersion": f"kubesim-{runtime}://0.1.0",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux" if platform.system() == "Linux" else platform.system().lower(),
            "architecture": _arch(),
        },
        "images": [],
        "config": {},
        "runtimeHandlers": [
            {"name": "", "features": {"recursiveReadOnlyMounts": False, "userNamespaces": False}}
        ],
        "features": {"supplementalGroupsPolicy": False},
    }
