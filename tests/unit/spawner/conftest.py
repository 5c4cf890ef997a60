"""The spawner against an in-process kubesim (fake runtime), authenticated as the hub's least-privilege
ServiceAccount. No operator runs: tests play it by writing the instance's status with the admin client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
import yaml
from jupyterhub.objects import Hub

import kubesim
from jupyternetes.adapters.kube import Kube, KubeError
from jupyternetes.spawner import JupyternetesSpawner
from jupyternetes.spawner.kubeapi import close_shared_clients

ROOT = Path(__file__).resolve().parents[3]
NS = "jupyterhub"
T = TypeVar("T")


async def until(predicate: Callable[[], Awaitable[T]], limit: float = 5.0, what: str = "condition") -> T:
    """Await ``predicate`` until it returns something truthy, or fail after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {limit}s waiting for {what} (last value: {value!r})")
        await asyncio.sleep(0.01)


class Env:
    def __init__(self, cluster: kubesim.Cluster, admin: Kube, hub_kubeconfig: str) -> None:
        self.cluster = cluster
        self.admin = admin
        self.hub_kubeconfig = hub_kubeconfig

    async def get(self, api_version: str, kind: str, name: str, ns: str = NS) -> dict[str, Any] | None:
        try:
            return await self.admin.get(api_version, kind, ns, name)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def instance(self, name: str, ns: str = NS) -> dict[str, Any] | None:
        return await self.get("kadense.io/v1", "JupyterNotebookInstance", name, ns)

    async def secret(self, name: str, ns: str = NS) -> dict[str, Any] | None:
        return await self.get("v1", "Secret", name, ns)

    async def set_status(self, name: str, status: dict[str, Any], ns: str = NS) -> None:
        """Play the operator: write the instance's status."""
        await self.admin.patch(
            "kadense.io/v1", "JupyterNotebookInstance", ns, name, {"status": status}, subresource="status"
        )

    def spawner(
        self, username: str = "alice", servername: str = "", user_id: int = 1, **traits: Any
    ) -> JupyternetesSpawner:
        user = SimpleNamespace(
            name=username, id=user_id, url=f"/user/{username}/", escaped_name=username, server=None
        )
        orm_spawner = SimpleNamespace(name=servername, server=None, display_name=servername, user=None)
        traits.setdefault("wait_for_http", False)
        traits.setdefault("start_timeout", 20)
        traits.setdefault("stop_timeout", 10)
        traits.setdefault("namespace", NS)
        traits.setdefault("template_name", "default-template")
        traits.setdefault("template_namespace", "kadense")
        return JupyternetesSpawner(
            user=user,
            hub=Hub(),
            orm_spawner=orm_spawner,
            api_token="secret-token-of-" + username,
            oauth_client_id=f"jupyterhub-user-{username}",
            kubeconfig=self.hub_kubeconfig,
            **traits,
        )


def ready_status(name: str, ip: str = "10.244.0.5", port: int = 8888) -> dict[str, Any]:
    return {
        "pods": {
            "notebook": {
                "resourceName": f"{name}-notebook",
                "state": "Running",
                "podAddress": ip,
                "portNumber": port,
                "ready": True,
            }
        },
        "pvcs": {"workspace": {"resourceName": f"{name}-workspace", "state": "Processed", "phase": "Bound"}},
        "podsProvisioned": "Completed",
        "pvcsProvisioned": "Completed",
        "address": f"{ip}:{port}",
        "conditions": [
            {"type": "Failed", "status": "False", "reason": "NoFailure", "message": "no failure"},
            {"type": "Provisioned", "status": "True", "reason": "Provisioned", "message": "ok"},
            {"type": "Ready", "status": "True", "reason": "PodsReady", "message": f"ready at {ip}:{port}"},
        ],
    }


def failed_status(reason: str, message: str) -> dict[str, Any]:
    return {
        "podsProvisioned": "Pending",
        "pvcsProvisioned": "Pending",
        "conditions": [
            {"type": "Failed", "status": "True", "reason": reason, "message": message},
            {"type": "Provisioned", "status": "False", "reason": reason, "message": message},
            {"type": "Ready", "status": "False", "reason": reason, "message": message},
        ],
    }


async def apply_hub_rbac(admin: Kube, namespace: str = NS) -> None:
    for doc in yaml.safe_load_all((ROOT / "fixtures" / "hub-rbac.yaml").read_text()):
        doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects") or ():
            subject["namespace"] = NS
        if doc["kind"] == "ServiceAccount" and namespace != NS:
            continue
        await admin.create(doc)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with kubesim.Cluster(state_dir=tmp_path / "sim") as cluster:
        admin = await Kube.connect(cluster.kubeconfig)
        try:
            for crd in sorted((ROOT / "crds").glob("*.yaml")):
                await admin.create(yaml.safe_load(crd.read_text()))
            for ns in (NS, "kadense"):
                await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            await apply_hub_rbac(admin)
            hub_kubeconfig = cluster.kubeconfig_for("jupyterhub", NS)
            yield Env(cluster, admin, hub_kubeconfig)
        finally:
            await close_shared_clients()
            await admin.close()
