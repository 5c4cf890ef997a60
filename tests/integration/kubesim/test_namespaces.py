"""Namespace lifecycle and the default ServiceAccount, through the official client and kubectl."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException

import kubesim

Wait = Callable[..., Any]
HOLD = "example.com/hold"


def read_ns(core: Any, name: str) -> Any:
    try:
        return core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def kubectl() -> str | None:
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.exists() else shutil.which("kubectl")


def test_default_namespaces_exist(client: ApiClient) -> None:
    core: Any = CoreV1Api(client)
    names = {ns.metadata.name for ns in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    for ns in core.list_namespace().items:
        assert ns.status.phase == "Active"


def test_namespace_deletion(client: ApiClient, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "plain"}})
    core.create_namespaced_secret("doomed", {"metadata": {"name": "secret"}, "stringData": {"a": "b"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "held", "finalizers": [HOLD]}})
    core.create_namespaced_pod(
        "doomed",
        {"metadata": {"name": "pod"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}},
    )
    core.delete_namespace("doomed")

    ns = wait_for(
        lambda: (n := read_ns(core, "doomed")) and n.status.phase == "Terminating" and n,
        what="namespace Terminating",
    )
    assert ns.metadata.deletion_timestamp is not None

    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("doomed", {"metadata": {"name": "late"}})
    assert info.value.status == 403
    body = str(info.value.body)
    assert '"reason":"Forbidden"' in body.replace(" ", "")
    assert (
        'configmaps \\"late\\" is forbidden: unable to create new content in namespace doomed '
        "because it is being terminated"
    ) in body

    def content_left() -> set[str]:
        names = {c.metadata.name for c in core.list_namespaced_config_map("doomed").items}
        names |= {s.metadata.name for s in core.list_namespaced_secret("doomed").items}
        names |= {p.metadata.name for p in core.list_namespaced_pod("doomed").items}
        return names

    wait_for(lambda: content_left() == {"held"}, timeout=10, what="content deleted but the held configmap")
    held = core.read_namespaced_config_map("held", "doomed")
    assert held.metadata.deletion_timestamp is not None
    assert read_ns(core, "doomed") is not None  # still waiting for its last object

    core.patch_namespaced_config_map("held", "doomed", {"metadata": {"finalizers": None}})
    wait_for(lambda: read_ns(core, "doomed") is None, what="namespace removed")


def test_terminating_namespace_message_names_the_qualified_resource(
    client: ApiClient, wait_for: Wait
) -> None:
    core: Any = CoreV1Api(client)
    apps: Any = AppsV1Api(client)
    core.create_namespace({"metadata": {"name": "closing"}})
    core.create_namespaced_config_map("closing", {"metadata": {"name": "held", "finalizers": [HOLD]}})
    core.delete_namespace("closing")
    wait_for(lambda: read_ns(core, "closing").status.phase == "Terminating", what="namespace Terminating")
    labels = {"app": "web"}
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment(
            "closing",
            {
                "metadata": {"name": "web"},
                "spec": {
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
                    },
                },
            },
        )
    assert info.value.status == 403
    assert (
        'deployments.apps \\"web\\" is forbidden: unable to create new content in namespace closing '
        "because it is being terminated"
    ) in str(info.value.body)


def test_kubectl_delete_namespace_waits_until_gone(cluster: kubesim.Cluster, client: ApiClient) -> None:
    binary = kubectl()
    if binary is None:
        pytest.skip("kubectl not installed")
    core: Any = CoreV1Api(client)
    core.create_namespace({"metadata": {"name": "bye"}})
    core.create_namespaced_config_map("bye", {"metadata": {"name": "cm"}})
    result = subprocess.run(
        [binary, "--kubeconfig", cluster.kubeconfig, "delete", "namespace", "bye", "--timeout=20s"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'namespace "bye" deleted'
    assert read_ns(core, "bye") is None


def test_default_service_account_in_every_namespace(client: ApiClient, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)

    def default_sa(ns: str) -> Any:
        return next(
            (sa for sa in core.list_namespaced_service_account(ns).items if sa.metadata.name == "default"),
            None,
        )

    for ns in ("default", "kube-system", "kube-public"):
        wait_for(lambda ns=ns: default_sa(ns), what=f"default SA in {ns}")
    core.create_namespace({"metadata": {"name": "fresh"}})
    first = wait_for(lambda: default_sa("fresh"), what="default SA in a new namespace")
    core.delete_namespaced_service_account("default", "fresh")
    second = wait_for(
        lambda: (sa := default_sa("fresh")) and sa.metadata.uid != first.metadata.uid and sa,
        what="default SA recreated",
    )
    assert second.metadata.namespace == "fresh"
    # Other service accounts are left alone.
    core.create_namespaced_service_account("fresh", {"metadata": {"name": "other"}})
    core.delete_namespaced_service_account("other", "fresh")
    names = {sa.metadata.name for sa in core.list_namespaced_service_account("fresh").items}
    assert names == {"default"}
