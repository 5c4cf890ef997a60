"""The README's install, upgrade and uninstall commands for the chart, run as written (namespace `jhub`
included) against kubesim and upstream Kubernetes with the real helm and kubectl (the Zero to JupyterHub
lines need that chart's repository and are left out). On upstream the project's CRDs are the session's,
already there: helm leaves them alone, and the README's `kubectl apply --server-side` updates them in
place."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from tests.clusters import ClusterUnderTest
from tests.integration.chart.conftest import ROOT, helm_env
from tests.integration.crds import install_crds

# The README's lines that concern the Jupyternetes chart, in the order the README gives them.
OURS = re.compile(r"^(helm (install|upgrade|uninstall) jupyternetes |kubectl )")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Install on a cluster") :]
    block = section[section.index("```\n") + 4 : section.index("\n```", section.index("```\n") + 4)]
    lines = re.sub(r"\\\n\s*", " ", block).splitlines()
    return [line.strip() for line in lines if OURS.match(line.strip())]


def template(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookTemplate",
        "metadata": {"name": name, "namespace": "jhub"},
        "spec": {"pods": [{"name": "nb", "spec": {"containers": [{"name": "nb", "image": "busybox"}]}}]},
    }


def test_the_readme_commands_install_upgrade_and_uninstall(
    cluster: ClusterUnderTest, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    commands = readme_commands()
    verbs = [" ".join(shlex.split(c)[:2]) for c in commands]
    assert verbs == [
        "helm install",
        "kubectl apply",
        "helm upgrade",
        "kubectl delete",
        "helm uninstall",
    ], commands
    tools = Path(sys.executable).parent
    for tool in ("helm", "kubectl"):
        if shutil.which(tool, path=str(tools)) is None:
            pytest.fail(f"{tool} not found in {tools}: run `make test` (tools/fetch_k8s_binaries.py)")
    install_crds(cluster, request, kubesim=False)
    env = helm_env(tmp_path / "helm", cluster.kubeconfig)
    env["PATH"] = f"{tools}:{env['PATH']}"

    def sh(command: str) -> str:
        proc = subprocess.run(
            shlex.split(command),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    api = config.new_client_from_config(cluster.kubeconfig)
    custom: Any = client.CustomObjectsApi(api)
    apps: Any = client.AppsV1Api(api)
    install, apply_crds, upgrade, delete_instances, uninstall = commands

    assert "STATUS: deployed" in sh(install)
    assert apps.read_namespaced_deployment("jupyternetes-operator", "jhub").spec.replicas == 1
    custom.create_namespaced_custom_object(
        "kadense.io", "v1", "jhub", "jupyternotebooktemplates", template("mine")
    )
    instance = {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": "jupyter-ada"},
        "spec": {"template": {"name": "default"}, "variables": {}},
    }
    custom.create_namespaced_custom_object("kadense.io", "v1", "jhub", "jupyternotebookinstances", instance)

    sh(apply_crds)
    assert "REVISION: 2" in sh(upgrade)

    sh(delete_instances)
    assert (
        custom.list_namespaced_custom_object("kadense.io", "v1", "jhub", "jupyternotebookinstances")["items"]
        == []
    )
    sh(uninstall)
    with pytest.raises(client.ApiException) as gone:
        apps.read_namespaced_deployment("jupyternetes-operator", "jhub")
    assert gone.value.status == 404
    # What the README says outlives the release: the CRDs and the templates you wrote yourself.
    templates = custom.list_namespaced_custom_object("kadense.io", "v1", "jhub", "jupyternotebooktemplates")
    assert [t["metadata"]["name"] for t in templates["items"]] == ["mine"], "the chart's `default` goes"
    crds: Any = client.ApiextensionsV1Api(api).list_custom_resource_definition().items
    assert {c.metadata.name for c in crds} >= {
        "jupyternotebookinstances.kadense.io",
        "jupyternotebooktemplates.kadense.io",
    }
    api.close()
