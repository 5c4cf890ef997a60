"""``hub.maxInstances`` as installed: the API server refuses the hub's instance beyond the quota."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from tests.clusters import ClusterUnderTest
from tests.conftest import wait_until
from tests.integration.chart.conftest import CHART, RELEASE, helm
from tests.integration.crds import install_crds

QUOTA = f"{RELEASE}-jupyternetes-hub-instances"
COUNT = "count/jupyternotebookinstances.kadense.io"


def instance(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": name},
        "spec": {"template": {"name": "default"}, "variables": {"jupyterhub.user.name": name}},
    }


def test_the_hub_gets_403_beyond_max_instances(
    cluster: ClusterUnderTest, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    install_crds(cluster, request, kubesim=False)
    ns = cluster.namespace
    admin = config.new_client_from_config(cluster.kubeconfig)
    core: Any = client.CoreV1Api(admin)
    core.create_namespaced_service_account(ns, {"metadata": {"name": "hub"}})
    helm(
        ["install", RELEASE, str(CHART), "--namespace", ns, "--set", "hub.maxInstances=2"],
        tmp_path / "helm",
        kubeconfig=cluster.kubeconfig,
    )
    hub = config.new_client_from_config(cluster.kubeconfig_for("hub", ns))
    custom: Any = client.CustomObjectsApi(hub)

    def used() -> dict[str, str] | None:
        status = core.read_namespaced_resource_quota(QUOTA, ns).status
        return dict(status.used) if status and status.used else None

    # Upstream's quota admission refuses every instance ("status unknown for quota") until the quota
    # controller has counted them once (kubesim counts at once: docs/kubesim.md, "What is simplified").
    wait_until(lambda: used() == {COUNT: "0"}, 30, message=lambda: f"the quota's status.used at 0: {used()}")
    for name in ("jupyter-a", "jupyter-b"):
        custom.create_namespaced_custom_object(
            "kadense.io", "v1", ns, "jupyternotebookinstances", instance(name)
        )
    with pytest.raises(client.ApiException) as refused:
        custom.create_namespaced_custom_object(
            "kadense.io", "v1", ns, "jupyternotebookinstances", instance("jupyter-c")
        )
    assert refused.value.status == 403
    assert f"exceeded quota: {QUOTA}" in refused.value.body
    # A stopped server frees its place, once the quota controller has counted the deletion (admission
    # charges creates at once, but only the controller gives back).
    custom.delete_namespaced_custom_object("kadense.io", "v1", ns, "jupyternotebookinstances", "jupyter-a")
    wait_until(lambda: used() == {COUNT: "1"}, 30, message=lambda: f"the quota's status.used at 1: {used()}")
    custom.create_namespaced_custom_object(
        "kadense.io", "v1", ns, "jupyternotebookinstances", instance("jupyter-c")
    )
    # The quota's status (written by the quota controller after each change) shows the count.
    wait_until(lambda: used() == {COUNT: "2"}, 30, message=lambda: f"the quota's status.used at 2: {used()}")
    hub.close()
    admin.close()
