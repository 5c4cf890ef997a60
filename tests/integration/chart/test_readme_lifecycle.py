"""The README's install, upgrade and uninstall commands for the chart, run as written (namespace `jhub`
included) against kubesim and upstream Kubernetes with the real helm and kubectl (the Zero to JupyterHub
lines need that chart's repository and are left out). On upstream the project's CRDs are the session's,
already there: helm leaves them alone, and the README's `kubectl apply --server-side` updates them in
place. The operator runs from the install to the uninstall as the chart's Deployment would run it (its
arguments, its ServiceAccount): it provisions an instance before and one after the upgrade, and finalizes
them when the README deletes them."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from k8slocal.components import free_port
from tests.clusters import ClusterUnderTest
from tests.conftest import wait_until
from tests.integration.chart.conftest import ROOT, helm_env, serve_webhook_locally
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


def instance(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": name},
        "spec": {"template": {"name": "mine"}, "variables": {}},
    }


@dataclass
class Operator:
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _start_operator(cluster: ClusterUnderTest, deployment: Any, tmp_path: Path) -> Operator:
    """``jupyternetes operator`` with the Deployment's arguments (its probe and metrics ports moved to free
    ones) and a kubeconfig of the Deployment's ServiceAccount."""
    spec = deployment.spec.template.spec
    (container,) = spec.containers
    kubeconfig = cluster.kubeconfig_for(spec.service_account_name, "jhub", path=str(tmp_path / "operator-kc"))
    args = [
        a
        for a in container.args
        if not a.startswith(("--liveness-port=", "--metrics-port=", "--kubeconfig="))
    ]
    args += [f"--liveness-port={free_port()}", f"--metrics-port={free_port()}", f"--kubeconfig={kubeconfig}"]
    # The admission webhook from the certificate the pod would mount (the Secret its volume names).
    tls = next(
        (v.secret.secret_name for v in spec.volumes or [] if v.secret and v.name == "webhook-tls"), None
    )
    if tls is not None:
        core: Any = client.CoreV1Api(config.new_client_from_config(cluster.kubeconfig))
        secret = core.read_namespaced_secret(tls, "jhub")
        args = serve_webhook_locally(args, secret.data, tmp_path, free_port())
    log = tmp_path / "operator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyternetes.cli", "operator", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
        )
    return Operator(proc, log)


def _wait_ready(custom: Any, name: str, operator: Operator) -> None:
    def ready() -> bool:
        assert operator.proc.poll() is None, "the operator exited:\n" + operator.tail()
        inst = custom.get_namespaced_custom_object(
            "kadense.io", "v1", "jhub", "jupyternotebookinstances", name
        )
        conditions = (inst.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    wait_until(ready, 90, interval=0.2, message=lambda: f"instance {name} Ready\n{operator.tail()}")


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
    deployment = apps.read_namespaced_deployment("jupyternetes-operator", "jhub")
    assert deployment.spec.replicas == 1
    custom.create_namespaced_custom_object(
        "kadense.io", "v1", "jhub", "jupyternotebooktemplates", template("mine")
    )
    # The operator runs through the lifecycle as the Deployment would run it: its arguments, the chart's
    # ServiceAccount (no image can run here, so a local process with that ServiceAccount's token).
    operator = _start_operator(cluster, deployment, tmp_path)
    try:
        custom.create_namespaced_custom_object(
            "kadense.io", "v1", "jhub", "jupyternotebookinstances", instance("jupyter-ada")
        )
        _wait_ready(custom, "jupyter-ada", operator)

        sh(apply_crds)
        assert "REVISION: 2" in sh(upgrade)
        custom.create_namespaced_custom_object(
            "kadense.io", "v1", "jhub", "jupyternotebookinstances", instance("jupyter-grace")
        )
        _wait_ready(custom, "jupyter-grace", operator)

        # `kubectl delete` waits for the instances to be gone: the operator finalizes them.
        sh(delete_instances)
        assert (
            custom.list_namespaced_custom_object("kadense.io", "v1", "jhub", "jupyternotebookinstances")[
                "items"
            ]
            == []
        )
        assert operator.proc.poll() is None, operator.tail()
    finally:
        operator.stop()
    assert "Forbidden" not in operator.tail(), operator.tail()
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
