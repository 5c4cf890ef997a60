"""Issue 2, behaviour 1: discovery and OpenAPI as the real API server serves them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes
import pytest

from tests.clusters import ClusterUnderTest

from .conformance_support import GROUP, WIDGETS, http, widget_crd


def _resources(cluster: ClusterUnderTest, path: str) -> dict[str, dict[str, Any]]:
    resp = http(cluster, "GET", path)
    assert resp.status == 200, resp.body
    doc = resp.json()
    assert doc["kind"] == "APIResourceList"
    return {r["name"]: r for r in doc["resources"]}


def test_version_is_served_to_the_official_client(client: kubernetes.client.ApiClient) -> None:
    info = kubernetes.client.VersionApi(client).get_code()
    assert (info.major, info.minor) == ("1", "34")
    assert info.git_version.startswith("v1.34.")
    assert info.platform


def test_version_and_health_need_no_credentials(cluster: ClusterUnderTest) -> None:
    assert http(cluster, "GET", "/version", token="").status == 200
    assert http(cluster, "GET", "/healthz", token="").body == b"ok"
    # Without credentials a request is system:anonymous's, which RBAC lets see only those.
    resp = http(cluster, "GET", "/api/v1/namespaces", token="")
    assert resp.status == 403
    assert resp.json()["reason"] == "Forbidden"


def test_api_and_apis_list_groups_with_preferred_versions(cluster: ClusterUnderTest) -> None:
    api = http(cluster, "GET", "/api").json()
    assert api["kind"] == "APIVersions"
    assert api["versions"] == ["v1"]
    groups = {g["name"]: g for g in http(cluster, "GET", "/apis").json()["groups"]}
    for name in (
        "apps",
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
        "authorization.k8s.io",
    ):
        assert groups[name]["preferredVersion"] == {"groupVersion": f"{name}/v1", "version": "v1"}
    one = http(cluster, "GET", "/apis/apps").json()
    assert one["kind"] == "APIGroup"
    assert one["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]


def test_core_resource_list_fields(cluster: ClusterUnderTest) -> None:
    res = _resources(cluster, "/api/v1")
    pods = res["pods"]
    assert pods["kind"] == "Pod"
    assert pods["singularName"] == "pod"
    assert pods["namespaced"] is True
    assert pods["shortNames"] == ["po"]
    assert pods["categories"] == ["all"]
    assert set(pods["verbs"]) == {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }
    assert res["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert res["pods/log"]["verbs"] == ["get"]
    assert res["namespaces"]["namespaced"] is False
    assert res["namespaces"]["shortNames"] == ["ns"]
    for name in (
        "namespaces",
        "pods",
        "persistentvolumeclaims",
        "persistentvolumes",
        "services",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "events",
        "nodes",
    ):
        assert name in res, name
    assert res["persistentvolumeclaims"]["shortNames"] == ["pvc"]


def test_group_resource_lists(cluster: ClusterUnderTest) -> None:
    apps = _resources(cluster, "/apis/apps/v1")
    assert apps["deployments"]["shortNames"] == ["deploy"]
    assert "deployments/scale" in apps
    assert "statefulsets/status" in apps
    rbac = _resources(cluster, "/apis/rbac.authorization.k8s.io/v1")
    assert {"roles", "rolebindings", "clusterroles", "clusterrolebindings"} <= set(rbac)
    assert rbac["clusterroles"]["namespaced"] is False
    assert "leases" in _resources(cluster, "/apis/coordination.k8s.io/v1")
    assert "events" in _resources(cluster, "/apis/events.k8s.io/v1")
    crds = _resources(cluster, "/apis/apiextensions.k8s.io/v1")["customresourcedefinitions"]
    assert crds["shortNames"] == ["crd", "crds"]


def test_unknown_group_version_is_404(cluster: ClusterUnderTest) -> None:
    # No such group: no handler serves the path, and Go's plain-text 404 answers.
    for path in ("/apis/nope.example.com", "/apis/nope.example.com/v1", "/apis/nope.example.com/v1/things"):
        resp = http(cluster, "GET", path)
        assert resp.status == 404
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert resp.body == b"404 page not found\n"
    # A group that exists, in a version or with a resource it does not serve: a Status.
    for path in ("/apis/apps/v9", "/apis/apps/v1/things", "/api/v1/namespaces/default/things"):
        resp = http(cluster, "GET", path)
        assert resp.status == 404
        assert resp.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound",
            "details": {},
            "code": 404,
        }


def test_crd_resources_are_discovered_with_subresources(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]
) -> None:
    kubernetes.client.ApiextensionsV1Api(client).create_custom_resource_definition(widget_crd())
    # Discovery serves the group once the CRD is established (upstream: a moment after its creation).
    wait_for(lambda: http(cluster, "GET", f"/apis/{GROUP}/v1").status == 200, timeout=30, what="discovery")
    res = _resources(cluster, f"/apis/{GROUP}/v1")
    w = res[WIDGETS]
    assert w["kind"] == "Widget"
    assert w["singularName"] == "widget"
    assert w["shortNames"] == ["wd"]
    assert w["categories"] == ["examples"]
    assert w["namespaced"] is True
    assert res[f"{WIDGETS}/status"]["verbs"] == ["get", "patch", "update"]
    assert res[f"{WIDGETS}/scale"]["kind"] == "Scale"
    groups = {g["name"] for g in http(cluster, "GET", "/apis").json()["groups"]}
    assert GROUP in groups


def test_dynamic_client_resolves_kinds_through_discovery(client: kubernetes.client.ApiClient) -> None:
    dyn = kubernetes.dynamic.DynamicClient(client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.name == "deployments"
    assert deployments.namespaced
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    assert pods.subresources["status"].name == "pods/status"


def test_openapi_v2_and_v3(cluster: ClusterUnderTest) -> None:
    v2 = http(cluster, "GET", "/openapi/v2")
    assert v2.status == 200
    doc = v2.json()
    assert doc["swagger"] == "2.0"
    pod = doc["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    index = http(cluster, "GET", "/openapi/v3").json()
    assert "api/v1" in index["paths"]
    assert "apis/apps/v1" in index["paths"]
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    v3 = http(cluster, "GET", url)
    assert v3.status == 200
    assert "io.k8s.api.apps.v1.Deployment" in v3.json()["components"]["schemas"]


@pytest.mark.parametrize("path", ["/api/v1/pods", "/apis/apps/v1/deployments"])
def test_cluster_wide_lists(cluster: ClusterUnderTest, path: str) -> None:
    resp = http(cluster, "GET", path)
    assert resp.status == 200
    assert resp.json()["kind"].endswith("List")
