"""Issue 2, behaviour 8: every error is a Status object with upstream's reason, code, details and wording,
so client libraries raise their usual exceptions."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException
from kubernetes.client import exceptions as client_exceptions

import kubesim

from .conformance_support import GROUP, WIDGETS, api_exception_body, http, widget_crd

NS = "default"


def _status(resp_body: dict[str, Any], code: int, reason: str) -> dict[str, Any]:
    assert resp_body["kind"] == "Status"
    assert resp_body["apiVersion"] == "v1"
    assert resp_body["status"] == "Failure"
    assert resp_body["metadata"] == {}
    assert resp_body["code"] == code
    assert resp_body["reason"] == reason
    return resp_body


def test_not_found(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(client_exceptions.NotFoundException) as info:
        core.read_namespaced_pod("x", NS)
    body = _status(api_exception_body(info.value), 404, "NotFound")
    assert body["message"] == 'pods "x" not found'
    assert body["details"] == {"name": "x", "group": "", "kind": "pods"} or body["details"] == {
        "name": "x",
        "kind": "pods",
    }


def test_not_found_in_a_group(client: kubernetes.client.ApiClient) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    with pytest.raises(ApiException) as info:
        apps.read_namespaced_deployment("x", NS)
    body = _status(api_exception_body(info.value), 404, "NotFound")
    assert body["message"] == 'deployments.apps "x" not found'
    assert body["details"]["group"] == "apps"
    assert body["details"]["kind"] == "deployments"


def test_custom_resource_not_found(client: kubernetes.client.ApiClient) -> None:
    kubernetes.client.ApiextensionsV1Api(client).create_custom_resource_definition(widget_crd())
    with pytest.raises(ApiException) as info:
        kubernetes.client.CustomObjectsApi(client).get_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, "x")
    body = _status(api_exception_body(info.value), 404, "NotFound")
    assert body["message"] == f'{WIDGETS}.{GROUP} "x" not found'


def test_unknown_resource_is_a_plain_404(cluster: kubesim.Cluster) -> None:
    resp = http(cluster, "GET", f"/api/v1/namespaces/{NS}/nothings")
    assert resp.status == 404
    body = _status(resp.json(), 404, "NotFound")
    assert body["message"] == "the server could not find the requested resource"


def test_unauthorized(cluster: kubesim.Cluster) -> None:
    resp = http(cluster, "GET", "/api/v1/pods", token="not-a-token")
    assert resp.status == 401
    _status(resp.json(), 401, "Unauthorized")
    config = kubernetes.client.Configuration()
    config.host = cluster.url
    config.ssl_ca_cert = cluster.ca_file
    config.api_key = {"authorization": "Bearer not-a-token"}
    with kubernetes.client.ApiClient(config) as api, pytest.raises(client_exceptions.UnauthorizedException):
        kubernetes.client.CoreV1Api(api).list_namespaced_pod(NS)


def test_forbidden_for_a_service_account(
    cluster: kubesim.Cluster, client: kubernetes.client.ApiClient
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_service_account(NS, {"metadata": {"name": "robot"}})
    token = cluster.token_for("robot", NS)
    resp = http(cluster, "GET", f"/api/v1/namespaces/{NS}/pods", token=token)
    assert resp.status == 403
    body = _status(resp.json(), 403, "Forbidden")
    assert body["message"] == (
        'pods is forbidden: User "system:serviceaccount:default:robot" cannot list resource "pods" '
        'in API group "" in the namespace "default"'
    )
    assert body["details"] == {"kind": "pods"}
    resp = http(cluster, "GET", f"/api/v1/namespaces/{NS}/pods/p", token=token)
    assert 'pods "p" is forbidden' in resp.json()["message"]
    assert resp.json()["details"] == {"name": "p", "kind": "pods"}


def test_bad_request_for_malformed_json(cluster: kubesim.Cluster) -> None:
    resp = http(cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps", b"{not json")
    assert resp.status == 400
    _status(resp.json(), 400, "BadRequest")


def test_mismatched_namespace_and_kind(cluster: kubesim.Cluster) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}}
    resp = http(cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps", body)
    assert resp.status == 400
    assert resp.json()["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}
    resp = http(cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps", body)
    assert resp.status == 400


def test_method_not_allowed(cluster: kubesim.Cluster) -> None:
    http(cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "x"}})
    resp = http(cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps/x", {"metadata": {"name": "x"}})
    assert resp.status == 405
    _status(resp.json(), 405, "MethodNotAllowed")


def test_update_of_a_missing_object(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("x", NS, {"metadata": {"name": "x"}})
    body = _status(api_exception_body(info.value), 404, "NotFound")
    assert body["message"] == 'configmaps "x" not found'


def test_name_mismatch_on_update(cluster: kubesim.Cluster) -> None:
    http(cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "x"}})
    resp = http(cluster, "PUT", f"/api/v1/namespaces/{NS}/configmaps/x", {"metadata": {"name": "y"}})
    assert resp.status == 400
    assert resp.json()["message"] == "the name of the object (y) does not match the name on the URL (x)"
