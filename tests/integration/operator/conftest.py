"""The operator under kopf.testing.KopfRunner against the test's cluster: kubesim or upstream Kubernetes.

Each test gets two namespaces of its own: ``env.ns`` for instances (the test's namespace) and ``env.tns``
for templates (also the operator's namespace), and an operator that watches only those two, since on
upstream the control plane is shared by the whole session. The project's CRDs are installed once per
session on upstream (kept across tests) and in every fresh kubesim.

Upstream has no node yet: its pods stay Pending. Tests that need a running pod (Ready, ``podAddress``,
what the kubelet reports) are marked ``needs_node`` and run on kubesim only for now.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kopf.testing import KopfRunner
from kubernetes import client, config

from jupyternetes.handlers import CONFIG_ENV, registry
from tests.clusters import ClusterUnderTest, Upstream
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[3]
CRD_API = "/apis/apiextensions.k8s.io/v1"


def load_yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return data


def project_crds() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "crds").glob("*.yaml"))]


def _wait_established(cluster: ClusterUnderTest | Upstream, names: list[str]) -> None:
    def request(path: str) -> tuple[int, Any]:
        if isinstance(cluster, Upstream):
            return cluster.plane.request("GET", path)
        return cluster.request("GET", path)

    def established(name: str) -> bool:
        status, body = request(f"{CRD_API}/customresourcedefinitions/{name}")
        conditions = (body.get("status") or {}).get("conditions") or [] if status == 200 else []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    wait_until(lambda: all(established(n) for n in names), 30, message=f"CRDs {names} Established")


@pytest.fixture(scope="session")
def session_crds(upstream: Upstream) -> None:
    """The project's CRDs on the session's upstream control plane, kept across tests (in the baseline):
    deleting them after each test would take their instances with them and cost seconds per test."""
    crds = project_crds()
    for crd in crds:
        upstream.keep(CRD_API, "customresourcedefinitions", crd)
    _wait_established(upstream, [c["metadata"]["name"] for c in crds])
    _wait_for_the_garbage_collector(upstream)


def _wait_for_the_garbage_collector(upstream: Upstream, timeout: float = 90.0) -> None:
    """Wait until the garbage collector collects the dependents of a deleted instance. It learns of new
    kinds by rediscovery every 30 s (kube-controller-manager's GC sync period, not configurable): until
    then a deleted instance's pods stay. A fresh control plane pays this once here, not in whichever test
    first deletes an instance (in a cluster where the CRDs have long been installed it never shows).

    Each probe is a dependent of a new deleted instance: the collector's attempts on one owner back off
    exponentially while its kind is unknown (20 s between attempts after 40 s), so a probe left waiting
    would be seen late; a fresh one is looked at within milliseconds of the rediscovery."""
    plane = upstream.plane
    ns = f"crds-gc-probe-{secrets.token_hex(3)}"
    upstream.test_namespaces.add(ns)  # deleted below; nobody waits for its deletion
    status, body = plane.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    assert status == 201, (status, body)
    try:
        instances = f"/apis/kadense.io/v1/namespaces/{ns}/jupyternotebookinstances"
        configmaps = f"/api/v1/namespaces/{ns}/configmaps"
        deadline = time.monotonic() + timeout
        for attempt in itertools.count():
            name = f"probe-{attempt}"
            instance = {
                "apiVersion": "kadense.io/v1",
                "kind": "JupyterNotebookInstance",
                "metadata": {"name": name},
                "spec": {"template": {"name": "none"}},
            }
            status, body = plane.request("POST", instances, instance)
            assert status == 201, (status, body)
            owner = {"apiVersion": "kadense.io/v1", "kind": "JupyterNotebookInstance", "name": name}
            owner["uid"] = body["metadata"]["uid"]
            status, body = plane.request("DELETE", f"{instances}/{name}")
            assert status == 200, (status, body)
            dependent = {"metadata": {"name": name, "ownerReferences": [owner]}}
            status, body = plane.request("POST", configmaps, dependent)
            assert status == 201, (status, body)
            probe_deadline = min(time.monotonic() + 5, deadline)
            while time.monotonic() < probe_deadline:
                if plane.request("GET", f"{configmaps}/{name}")[0] == 404:
                    return
                time.sleep(0.1)
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"the garbage collector did not collect a deleted instance's dependent in {timeout} s"
                )
    finally:
        plane.request("DELETE", f"/api/v1/namespaces/{ns}")


def install_crds(cluster: ClusterUnderTest, request: pytest.FixtureRequest) -> None:
    """The project's CRDs on the test's cluster: once per session on upstream, into each fresh kubesim."""
    if cluster.upstream:
        request.getfixturevalue("session_crds")
        return
    crds = project_crds()
    for crd in crds:
        status, body = cluster.request("POST", f"{CRD_API}/customresourcedefinitions", crd)
        assert status == 201, (status, body)
    _wait_established(cluster, [c["metadata"]["name"] for c in crds])


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
