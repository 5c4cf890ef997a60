"""The operator under kopf.testing.KopfRunner against the test's cluster: kubesim or upstream Kubernetes.

Each test gets two namespaces of its own: ``env.ns`` for instances (the test's namespace) and ``env.tns``
for templates (also the operator's namespace), and an operator that watches only those two, since on
upstream the control plane is shared by the whole session. The project's CRDs are installed once per
session on upstream (kept across tests) and in every fresh kubesim.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kopf.testing import KopfRunner
from kubernetes import client, config

from jupyternetes.handlers import CONFIG_ENV, registry
from tests.clusters import ClusterUnderTest
from tests.integration.crds import install_crds

ROOT = Path(__file__).resolve().parents[3]


def load_yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return data


class Env:
    """A cluster with the CRDs installed, the test's namespaces, and API clients for it.

    ``ns`` holds the instances (the test's namespace), ``tns`` the templates and the operator."""

    def __init__(self, cluster: ClusterUnderTest, templates: str) -> None:
        self.cluster = cluster
        self.ns = cluster.namespace
        self.tns = templates
        self.api = config.new_client_from_config(cluster.kubeconfig)  # type: ignore[no-untyped-call]
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def add_namespace(self, suffix: str) -> str:
        """Another namespace of the test's own (deleted after it)."""
        return self.cluster.add_namespace(suffix)

    def in_namespaces(self, body: dict[str, Any]) -> dict[str, Any]:
        """A fixture's template or instance moved into the test's namespaces: templates into ``tns``,
        instances into ``ns`` with their template reference pointing to ``tns``."""
        out = json.loads(json.dumps(body))
        if out["kind"] == "JupyterNotebookTemplate":
            out["metadata"]["namespace"] = self.tns
        else:
            out["metadata"]["namespace"] = self.ns
            if "namespace" in out["spec"]["template"]:
                out["spec"]["template"]["namespace"] = self.tns
        return out

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

    def missing_secret_gets(self) -> int:
        """How many GETs of a Secret that does not exist the API server answered so far, cluster-wide:
        from the upstream API server's ``apiserver_request_total`` (code 404), or kubesim's request log
        (every GET of a Secret: a test reading this creates no Secret it then reads)."""
        if self.cluster.sim is not None:
            return int(self.cluster.sim.requests.by("verb", "resource").get("get secrets", 0))
        status, text = self.cluster.request("GET", "/metrics")
        assert status == 200, (status, text)
        wanted = ('code="404"', 'resource="secrets"', 'scope="resource"', 'verb="GET"', 'group=""')
        total = 0
        for line in str(text).splitlines():
            if line.startswith("apiserver_request_total{") and all(w in line for w in wanted):
                total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def events(self, namespace: str, name: str) -> list[Any]:
        return [e for e in self.core.list_namespaced_event(namespace).items if e.involved_object.name == name]


@pytest.fixture
def env(cluster: ClusterUnderTest, request: pytest.FixtureRequest) -> Iterator[Env]:
    install_crds(cluster, request)
    e = Env(cluster, cluster.add_namespace("tpl"))
    try:
        yield e
    finally:
        e.api.close()


def operator_runner(env: Env, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> KopfRunner:
    """The operator serving the instances of ``env.ns`` (or ``watchedNamespaces``) with the templates of
    ``env.tns``: it watches only those namespaces, never the whole (possibly shared) cluster."""
    settings: dict[str, Any] = {
        "templateNamespaces": [env.tns],
        "operatorNamespace": env.tns,
        "watchedNamespaces": [env.ns],
        "kubeconfig": env.cluster.kubeconfig,
        **overrides,
    }
    monkeypatch.setenv("KUBECONFIG", env.cluster.kubeconfig)
    monkeypatch.setenv(CONFIG_ENV, json.dumps(settings))
    args = ["run", "--standalone", "-m", "jupyternetes.handlers"]
    for ns in sorted(set(settings["watchedNamespaces"]) | set(settings["templateNamespaces"])):
        args += ["--namespace", ns]
    return KopfRunner(args, timeout=60, registry=registry)


@pytest.fixture
def operator(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[KopfRunner]:
    with operator_runner(env, monkeypatch) as runner:
        yield runner
    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output
