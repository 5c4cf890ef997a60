"""The project's CRDs on the test clusters. On upstream they are installed once per session (fixture
``session_crds`` in tests/integration/conftest.py) and kept across tests: deleting them after each test would
take their instances with them, and the garbage collector and the quota controller only learn of a new kind
every 30 s."""

from __future__ import annotations

import itertools
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.clusters import ClusterUnderTest, Upstream
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
CRD_API = "/apis/apiextensions.k8s.io/v1"


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


def session_crds(upstream: Upstream) -> None:
    """The project's CRDs on the session's upstream control plane, kept across tests (in the baseline):
    deleting them after each test would take their instances with them and cost seconds per test."""
    crds = project_crds()
    for crd in crds:
        upstream.keep(CRD_API, "customresourcedefinitions", crd)
    _wait_established(upstream, [c["metadata"]["name"] for c in crds])
    _wait_for_the_controllers(upstream)


def _wait_for_the_controllers(upstream: Upstream, timeout: float = 90.0) -> None:
    """Wait until the garbage collector collects the dependents of a deleted instance and the quota
    controller counts instances. Both learn of new kinds by rediscovery every 30 s (kube-controller-manager's
    sync period, not configurable): until then a deleted instance's pods stay, and a quota on instances
    created before stays "status unknown" (every create refused) until the quota controller's full resync,
    5 minutes later. A fresh control plane pays this once here, not in whichever test comes first (in a
    cluster where the CRDs have long been installed it never shows).

    Each probe is new: the collector's attempts on one owner back off exponentially while its kind is
    unknown (20 s between attempts after 40 s), and a quota counted before the rediscovery is not counted
    again for minutes, so an old probe would be seen late or never."""
    plane = upstream.plane
    # Two namespaces: a quota whose status is unknown refuses every instance in its namespace.
    gc_ns, quota_ns = (f"crds-{what}-probe-{secrets.token_hex(3)}" for what in ("gc", "quota"))
    for ns in (gc_ns, quota_ns):
        upstream.test_namespaces.add(ns)  # deleted below; nobody waits for their deletion
        status, body = plane.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
        assert status == 201, (status, body)
    instances = f"/apis/kadense.io/v1/namespaces/{gc_ns}/jupyternotebookinstances"
    configmaps = f"/api/v1/namespaces/{gc_ns}/configmaps"
    quotas = f"/api/v1/namespaces/{quota_ns}/resourcequotas"
    count = "count/jupyternotebookinstances.kadense.io"

    def collected(name: str) -> bool:
        return plane.request("GET", f"{configmaps}/{name}")[0] == 404

    def counted(name: str) -> bool:
        return count in (plane.request("GET", f"{quotas}/{name}")[1].get("status") or {}).get("used", {})

    try:
        deadline = time.monotonic() + timeout
        gc_done = quota_done = False
        for attempt in itertools.count():
            name = f"probe-{attempt}"
            if not gc_done:
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
            if not quota_done:
                quota = {"metadata": {"name": name}, "spec": {"hard": {count: "1"}}}
                status, body = plane.request("POST", quotas, quota)
                assert status == 201, (status, body)
            probe_deadline = min(time.monotonic() + 5, deadline)
            while time.monotonic() < probe_deadline and not (gc_done and quota_done):
                gc_done = gc_done or collected(name)
                quota_done = quota_done or counted(name)
                time.sleep(0.1)
            if gc_done and quota_done:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"within {timeout} s: the garbage collector collected a deleted instance's dependent: "
                    f"{gc_done}; the quota controller counted instances: {quota_done}"
                )
    finally:
        for ns in (gc_ns, quota_ns):
            plane.request("DELETE", f"/api/v1/namespaces/{ns}")


def install_crds(cluster: ClusterUnderTest, request: pytest.FixtureRequest, *, kubesim: bool = True) -> None:
    """The project's CRDs on the test's cluster: once per session on upstream (the ``session_crds``
    fixture), into each fresh kubesim unless ``kubesim`` is false (a test that lets helm install them)."""
    if cluster.upstream:
        request.getfixturevalue("session_crds")
        return
    if not kubesim:
        return
    crds = project_crds()
    for crd in crds:
        status, body = cluster.request("POST", f"{CRD_API}/customresourcedefinitions", crd)
        assert status == 201, (status, body)
    _wait_established(cluster, [c["metadata"]["name"] for c in crds])
