"""``hub.maxInstances`` as installed: the API server refuses the hub's instance beyond the quota."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

import kubesim
from tests.conftest import wait_until
from tests.integration.chart.conftest import CHART, RELEASE, helm

NS = "jhub"


def instance(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": name},
        "spec": {"template": {"name": "default"}, "variables": {"jupyterhub.user.name": name}},
    }


def test_the_hub_gets_403_beyond_max_instances(tmp_path: Path) -> None:
    with kubesim.Cluster(state_dir=tmp_path / "sim") as cluster:
        admin = config.new_client_from_config(cluster.kubeconfig)
        core: Any = client.CoreV1Api(admin)
        core.create_namespace({"metadata": {"name": NS}})
        core.create_namespaced_service_account(NS, {"metadata": {"name": "hub"}})
        helm(
            ["install", RELEASE, str(CHART), "--namespace", NS, "--set", "hub.maxInstances=2"],
            tmp_path / "helm",
            kubeconfig=cluster.kubeconfig,
        )
        hub = config.new_client_from_config(cluster.kubeconfig_for("hub", NS))
        custom: Any = client.CustomObjectsApi(hub)
        for name in ("jupyter-a", "jupyter-b"):
            custom.create_namespaced_custom_object(
                "kadense.io", "v1", NS, "jupyternotebookinstances", instance(name)
            )
        with pytest.raises(client.ApiException) as refused:
            custom.create_namespaced_custom_object(
                "kadense.io", "v1", NS, "jupyternotebookinstances", instance("jupyter-c")
            )
        assert refused.value.status == 403
        assert "exceeded quota: jn-jupyternetes-hub-instances" in refused.value.body
        # A stopped server frees its place.
        custom.delete_namespaced_custom_object(
            "kadense.io", "v1", NS, "jupyternotebookinstances", "jupyter-a"
        )
        custom.create_namespaced_custom_object(
            "kadense.io", "v1", NS, "jupyternotebookinstances", instance("jupyter-c")
        )
        # The quota's status (written by the quota controller just after each change) shows the count.
        wait_until(
            lambda: (
                core.read_namespaced_resource_quota(f"{RELEASE}-jupyternetes-hub-instances", NS).status.used
                == {"count/jupyternotebookinstances.kadense.io": "2"}
            ),
            10,
            message="the quota's status.used at 2",
        )
        hub.close()
        admin.close()
