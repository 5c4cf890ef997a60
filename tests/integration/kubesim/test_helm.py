"""helm 4 (server-side apply by default, release records in protobuf-encoded Secrets) against kubesim:
install, list, status, upgrade (re-apply by the same field manager), rollback and uninstall of a small
chart (tests/integration/kubesim/charts/demo)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

from tests.clusters import ClusterUnderTest

from .conformance_support import CHARTS, Tool, make_tool


@pytest.fixture
def helm(cluster: ClusterUnderTest, tmp_path: Path) -> Tool:
    return make_tool("helm", cluster.kubeconfig, tmp_path)


def _missing(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as exc:
        return exc.status == 404
    return False


def test_install_upgrade_rollback_uninstall(helm: Tool, client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    apps = kubernetes.client.AppsV1Api(client)
    out = helm("install", "demo", str(CHARTS / "demo"), "--namespace", ns)
    assert "STATUS: deployed" in out
    assert core.read_namespaced_config_map("demo-config", ns).data == {"greeting": "hello"}
    deploy = apps.read_namespaced_deployment("demo", ns)
    assert deploy.spec.template.spec.containers[0].image == "nginx:1.27"
    assert deploy.metadata.labels["app.kubernetes.io/managed-by"] == "Helm"
    assert deploy.metadata.annotations["meta.helm.sh/release-name"] == "demo"
    svc = core.read_namespaced_service("demo", ns)
    assert svc.spec.cluster_ip
    # helm 4 creates the objects by server-side apply, as field manager "helm".
    managers = {(e.manager, e.operation) for e in deploy.metadata.managed_fields}
    assert ("helm", "Apply") in managers
    # The release record: a Secret written by helm's typed client (protobuf).
    (release,) = core.list_namespaced_secret(ns, label_selector="owner=helm,name=demo").items
    assert release.type == "helm.sh/release.v1"
    assert release.metadata.labels["status"] == "deployed"

    listed = json.loads(helm("list", "--namespace", ns, "-o", "json"))
    assert [(r["name"], r["status"], r["revision"]) for r in listed] == [("demo", "deployed", "1")]
    assert "STATUS: deployed" in helm("status", "demo", "--namespace", ns)

    helm(
        "upgrade",
        "demo",
        str(CHARTS / "demo"),
        "--namespace",
        ns,
        "--set",
        "greeting=hi",
        "--set",
        "replicas=2",
    )
    assert core.read_namespaced_config_map("demo-config", ns).data == {"greeting": "hi"}
    assert apps.read_namespaced_deployment("demo", ns).spec.replicas == 2
    history = json.loads(helm("history", "demo", "--namespace", ns, "-o", "json"))
    assert [h["revision"] for h in history] == [1, 2]

    helm("rollback", "demo", "1", "--namespace", ns)
    assert core.read_namespaced_config_map("demo-config", ns).data == {"greeting": "hello"}
    assert apps.read_namespaced_deployment("demo", ns).spec.replicas == 1

    assert 'release "demo" uninstalled' in helm("uninstall", "demo", "--namespace", ns)
    assert _missing(lambda: core.read_namespaced_config_map("demo-config", ns))
    assert _missing(lambda: apps.read_namespaced_deployment("demo", ns))
    assert _missing(lambda: core.read_namespaced_service("demo", ns))
    assert core.list_namespaced_secret(ns, label_selector="owner=helm").items == []
    assert json.loads(helm("list", "--namespace", ns, "-o", "json")) == []


def test_install_into_a_new_namespace_and_template_errors(
    helm: Tool, client: kubernetes.client.ApiClient, ns: str
) -> None:
    team = f"{ns}-team"
    helm("install", "other", str(CHARTS / "demo"), "--namespace", team, "--create-namespace")
    core = kubernetes.client.CoreV1Api(client)
    assert core.read_namespaced_config_map("other-config", team).data == {"greeting": "hello"}
    # A value the API server rejects fails the release with the server's message.
    proc = helm.run("install", "bad", str(CHARTS / "demo"), "--namespace", ns, "--set", "image=", check=False)
    assert proc.returncode != 0
    assert "spec.template.spec.containers[0].image: Required value" in proc.stderr
