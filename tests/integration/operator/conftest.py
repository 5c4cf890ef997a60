"""The operator under kopf.testing.KopfRunner against a kubesim cluster served over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kopf.testing import KopfRunner
from kubernetes import client, config

import kubesim
from jupyternetes.handlers import CONFIG_ENV, registry

ROOT = Path(__file__).resolve().parents[3]


def load_yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return data


class Env:
    """A cluster with the CRDs installed, and API clients for it."""

    def __init__(self, cluster: kubesim.Cluster) -> None:
        self.cluster = cluster
        self.api = config.new_client_from_config(cluster.kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def create_namespace(self, name: str) -> None:
        self.core.create_namespace({"metadata": {"name": name}})

    def create_template(self, body: dict[str, Any]) -> dict[str, Any]:
        ns = body["metadata"]["namespace"]
        out: dict[str, Any] = self.custom.create_namespaced_custom_object(
            "kadense.io", "v1", ns, "jupyternotebooktemplates", body
        )
        return out

    def create_instance(self, body: dict[str, Any]) -> dict[str, Any]:
        ns = body["metadata"]["namespace"]
        out: dict[str, Any] = self.custom.create_namespaced_custom_object(
            "kadense.io", "v1", ns, "jupyternotebookinstances", body
        )
        return out

    def instance(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            out: dict[str, Any] = self.custom.get_namespaced_custom_object(
                "kadense.io", "v1", namespace, "jupyternotebookinstances", name
            )
            return out
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def condition(self, namespace: str, name: str, type_: str) -> dict[str, Any] | None:
        inst = self.instance(namespace, name) or {}
        for c in (inst.get("status") or {}).get("conditions") or ():
            if c["type"] == type_:
                return dict(c)
        return None

    def is_true(self, namespace: str, name: str, type_: str) -> bool:
        c = self.condition(namespace, name, type_)
        return bool(c and c["status"] == "True")

    def delete_instance(self, namespace: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(
            "kadense.io", "v1", namespace, "jupyternotebookinstances", name
        )

    def pod(self, namespace: str, name: str) -> Any:
        try:
            return self.core.read_namespaced_pod(name, namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def pvc(self, namespace: str, name: str) -> Any:
        try:
            return self.core.read_namespaced_persistent_volume_claim(name, namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def events(self, namespace: str, name: str) -> list[Any]:
        return [e for e in self.core.list_namespaced_event(namespace).items if e.involved_object.name == name]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with kubesim.Cluster(state_dir=tmp_path / "sim") as cluster:
        e = Env(cluster)
        ext = client.ApiextensionsV1Api(e.api)
        for crd in sorted((ROOT / "crds").glob("*.yaml")):
            ext.create_custom_resource_definition(yaml.safe_load(crd.read_text()))
        e.create_namespace("kadense")
        yield e


def operator_runner(env: Env, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> KopfRunner:
    settings = {
        "templateNamespaces": ["kadense"],
        "operatorNamespace": "kadense",
        "kubeconfig": env.cluster.kubeconfig,
        **overrides,
    }
    monkeypatch.setenv("KUBECONFIG", env.cluster.kubeconfig)
    monkeypatch.setenv(CONFIG_ENV, json.dumps(settings))
    args = ["run", "--standalone", "-m", "jupyternetes.handlers"]
    watched = overrides.get("watchedNamespaces")
    if watched is None:
        args.append("--all-namespaces")
    else:
        for ns in sorted(set(watched) | set(settings["templateNamespaces"])):
            args += ["--namespace", ns]
    return KopfRunner(args, timeout=30, registry=registry)


@pytest.fixture
def operator(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[KopfRunner]:
    with operator_runner(env, monkeypatch) as runner:
        yield runner
    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output
