"""Issue 2, behaviour 3: CustomResourceDefinitions are served at once, validate, default, prune, and have
status/scale subresources, printer columns and cascading deletion."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

import kubesim

from .conformance_support import GROUP, WIDGETS, api_exception_body, http, ssl_context, widget, widget_crd

NS = "default"
BASE = f"/apis/{GROUP}/v1/namespaces/{NS}/{WIDGETS}"


@pytest.fixture
def custom(client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    kubernetes.client.ApiextensionsV1Api(client).create_custom_resource_definition(widget_crd())
    return kubernetes.client.CustomObjectsApi(client)


def _create(custom: kubernetes.client.CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = custom.create_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, body)
    return out


def _get(custom: kubernetes.client.CustomObjectsApi, name: str) -> dict[str, Any]:
    out: dict[str, Any] = custom.get_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, name)
    return out


def test_crd_is_established_and_served_at_once(client: kubernetes.client.ApiClient) -> None:
    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.create_custom_resource_definition(widget_crd())
    # No wait: the very next request may use the new resource.
    created = kubernetes.client.CustomObjectsApi(client).create_namespaced_custom_object(
        GROUP, "v1", NS, WIDGETS, widget("first")
    )
    assert created["metadata"]["name"] == "first"
    crd = ext.read_custom_resource_definition(f"{WIDGETS}.{GROUP}")
    conditions = {c.type: c for c in crd.status.conditions}
    assert conditions["Established"].status == "True"
    assert conditions["NamesAccepted"].status == "True"
    assert crd.status.accepted_names.kind == "Widget"
    assert crd.status.stored_versions == ["v1"]


def test_schema_validation_names_fields(custom: kubernetes.client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as info:
        _create(custom, widget("bad", size="big"))  # type: ignore[arg-type]
    body = api_exception_body(info.value)
    assert info.value.status == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["kind"] == "Widget"
    assert body["details"]["group"] == GROUP
    (cause,) = body["details"]["causes"]
    assert cause["field"] == "spec.size"
    assert cause["reason"] == "FieldValueTypeInvalid"
    assert "spec.size in body must be of type integer" in cause["message"]
    assert body["message"].startswith(f'Widget.{GROUP} "bad" is invalid: spec.size: Invalid value: ')


def test_schema_validation_required_enum_and_bounds(custom: kubernetes.client.CustomObjectsApi) -> None:
    bad = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "bad"},
        "spec": {"color": "pink"},
    }
    with pytest.raises(ApiException) as info:
        _create(custom, bad)
    causes = {c["field"]: c for c in api_exception_body(info.value)["details"]["causes"]}
    assert causes["spec.size"]["reason"] == "FieldValueRequired"
    assert causes["spec.color"]["reason"] == "FieldValueNotSupported"
    assert 'supported values: "red", "green", "blue"' in causes["spec.color"]["message"]
    with pytest.raises(ApiException) as info:
        _create(custom, widget("big", size=11))
    (cause,) = api_exception_body(info.value)["details"]["causes"]
    assert cause["field"] == "spec.size"
    assert "should be less than or equal to 10" in cause["message"]


def test_defaulting_and_pruning(custom: kubernetes.client.CustomObjectsApi) -> None:
    body = widget("w", extra={"anything": {"goes": [1, 2]}}, unknown="dropped")
    body["topLevelUnknown"] = True
    created = _create(custom, body)
    assert created["spec"]["color"] == "blue"
    assert created["spec"]["replicas"] == 1
    assert "unknown" not in created["spec"]
    assert "topLevelUnknown" not in created
    assert created["spec"]["extra"] == {"anything": {"goes": [1, 2]}}
    assert _get(custom, "w")["spec"] == created["spec"]


def test_unknown_fields_strict_and_warn(
    cluster: kubesim.Cluster, custom: kubernetes.client.CustomObjectsApi
) -> None:
    body = widget("w", bogus=1)
    resp = http(cluster, "POST", f"{BASE}?fieldValidation=Strict", body)
    assert resp.status == 400
    assert 'unknown field "spec.bogus"' in resp.json()["message"]
    resp = http(cluster, "POST", f"{BASE}?fieldValidation=Warn", body)
    assert resp.status == 201
    assert (
        'unknown field \\"spec.bogus\\"' in resp.headers["Warning"] or "spec.bogus" in resp.headers["Warning"]
    )


def test_status_subresource_rules(custom: kubernetes.client.CustomObjectsApi) -> None:
    body = widget("w")
    body["status"] = {"phase": "Ignored"}
    created = _create(custom, body)
    assert "status" not in created  # create drops status
    assert created["metadata"]["generation"] == 1
    # The main endpoint ignores status...
    created["status"] = {"phase": "Ignored"}
    created["metadata"]["labels"] = {"a": "b"}
    updated = custom.replace_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, "w", created)
    assert "status" not in updated
    assert updated["metadata"]["labels"] == {"a": "b"}
    assert updated["metadata"]["generation"] == 1  # metadata changes do not bump generation
    # ...and /status changes only status.
    updated["status"] = {"phase": "Ready"}
    updated["spec"]["size"] = 9
    updated["metadata"]["labels"] = {"c": "d"}
    status = custom.replace_namespaced_custom_object_status(GROUP, "v1", NS, WIDGETS, "w", updated)
    assert status["status"] == {"phase": "Ready"}
    assert status["spec"]["size"] == 3
    assert status["metadata"]["labels"] == {"a": "b"}
    assert status["metadata"]["generation"] == 1
    # A spec change bumps generation.
    status["spec"]["size"] = 4
    spec = custom.replace_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, "w", status)
    assert spec["metadata"]["generation"] == 2
    assert spec["status"] == {"phase": "Ready"}


def test_status_is_validated_too(custom: kubernetes.client.CustomObjectsApi) -> None:
    created = _create(custom, widget("w"))
    created["status"] = {"replicas": "three"}
    with pytest.raises(ApiException) as info:
        custom.replace_namespaced_custom_object_status(GROUP, "v1", NS, WIDGETS, "w", created)
    assert info.value.status == 422
    assert api_exception_body(info.value)["details"]["causes"][0]["field"] == "status.replicas"


def test_scale_subresource(cluster: kubesim.Cluster, custom: kubernetes.client.CustomObjectsApi) -> None:
    _create(custom, widget("w", replicas=2))
    scale = custom.get_namespaced_custom_object_scale(GROUP, "v1", NS, WIDGETS, "w")
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 2
    resp = http(
        cluster,
        "PATCH",
        f"{BASE}/w/scale",
        {"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
    )
    assert resp.status == 200, resp.body
    assert resp.json()["spec"]["replicas"] == 5
    assert _get(custom, "w")["spec"]["replicas"] == 5
    scale = custom.get_namespaced_custom_object_scale(GROUP, "v1", NS, WIDGETS, "w")
    scale["spec"]["replicas"] = 7
    custom.replace_namespaced_custom_object_scale(GROUP, "v1", NS, WIDGETS, "w", scale)
    assert _get(custom, "w")["spec"]["replicas"] == 7


def test_printer_columns_in_table_responses(
    cluster: kubesim.Cluster, custom: kubernetes.client.CustomObjectsApi
) -> None:
    _create(custom, widget("w", size=5, color="red"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    resp = http(cluster, "GET", BASE, headers={"Accept": accept})
    assert resp.status == 200
    table = resp.json()
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Size", "Color", "Phase", "Age"]
    (row,) = table["rows"]
    assert row["cells"][:4] == ["w", 5, "red", None]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "w"


def test_deleting_a_crd_deletes_its_objects(
    cluster: kubesim.Cluster,
    client: kubernetes.client.ApiClient,
    custom: kubernetes.client.CustomObjectsApi,
    wait_for: Callable[..., Any],
) -> None:
    _create(custom, widget("w"))
    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.delete_custom_resource_definition(f"{WIDGETS}.{GROUP}")

    def gone() -> bool:
        try:
            ext.read_custom_resource_definition(f"{WIDGETS}.{GROUP}")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, what="CRD deleted")
    assert http(cluster, "GET", BASE).status == 404
    assert GROUP not in {g["name"] for g in http(cluster, "GET", "/apis").json()["groups"]}
    ext.create_custom_resource_definition(widget_crd())
    assert custom.list_namespaced_custom_object(GROUP, "v1", NS, WIDGETS)["items"] == []


def test_cluster_scoped_custom_resources(client: kubernetes.client.ApiClient) -> None:
    kubernetes.client.ApiextensionsV1Api(client).create_custom_resource_definition(
        widget_crd(scope="Cluster")
    )
    custom = kubernetes.client.CustomObjectsApi(client)
    created = custom.create_cluster_custom_object(GROUP, "v1", WIDGETS, widget("global"))
    assert "namespace" not in created["metadata"]
    assert custom.get_cluster_custom_object(GROUP, "v1", WIDGETS, "global")["spec"]["size"] == 3


def test_invalid_crd_is_rejected(client: kubernetes.client.ApiClient) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "wrong.example.com"
    with pytest.raises(ApiException) as info:
        kubernetes.client.ApiextensionsV1Api(client).create_custom_resource_definition(crd)
    assert info.value.status == 422
    body = api_exception_body(info.value)
    assert any(c["field"] == "metadata.name" for c in body["details"]["causes"])


def test_deleting_a_crd_ends_its_watches(
    cluster: kubesim.Cluster, client: kubernetes.client.ApiClient, custom: kubernetes.client.CustomObjectsApi
) -> None:
    rv = custom.list_namespaced_custom_object(GROUP, "v1", NS, WIDGETS)["metadata"]["resourceVersion"]
    _create(custom, widget("w"))
    req = urllib.request.Request(
        f"{cluster.url}{BASE}?watch=1&resourceVersion={rv}&timeoutSeconds=20",
        headers={"Authorization": f"Bearer {cluster.admin_token}"},
    )
    with urllib.request.urlopen(req, timeout=20, context=ssl_context(cluster)) as resp:
        assert json.loads(resp.readline())["type"] == "ADDED"  # the watch is established
        started = time.monotonic()
        kubernetes.client.ApiextensionsV1Api(client).delete_custom_resource_definition(f"{WIDGETS}.{GROUP}")
        rest = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert time.monotonic() - started < 5  # ended by the deletion, not by its timeout
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in rest] == [("DELETED", "w")]


def test_custom_resources_refuse_unconditional_updates(
    cluster: kubesim.Cluster, custom: kubernetes.client.CustomObjectsApi
) -> None:
    _create(custom, widget("w"))
    resp = http(cluster, "PUT", f"{BASE}/w", widget("w", size=4))
    assert resp.status == 422
    assert resp.json()["message"] == (
        f'{WIDGETS}.{GROUP} "w" is invalid: metadata.resourceVersion: Invalid value: 0: '
        "must be specified for an update"  # upstream names the resource here, not the kind
    )
    scale = custom.get_namespaced_custom_object_scale(GROUP, "v1", NS, WIDGETS, "w")
    custom.patch_namespaced_custom_object(
        GROUP, "v1", NS, WIDGETS, "w", {"spec": {"size": 5}}, _content_type="application/merge-patch+json"
    )
    scale["spec"]["replicas"] = 9
    resp = http(cluster, "PUT", f"{BASE}/w/scale", scale)
    assert resp.status == 409  # the Scale's resourceVersion is stale


def test_versions_share_storage(cluster: kubesim.Cluster, client: kubernetes.client.ApiClient) -> None:
    crd = widget_crd()
    v1 = crd["spec"]["versions"][0]
    beta = {**v1, "name": "v1beta1", "storage": False}
    crd["spec"]["versions"] = [beta, v1]  # discovery orders by version priority, not as listed
    kubernetes.client.ApiextensionsV1Api(client).create_custom_resource_definition(crd)
    custom = kubernetes.client.CustomObjectsApi(client)
    created = custom.create_namespaced_custom_object(
        GROUP, "v1beta1", NS, WIDGETS, {**widget("w"), "apiVersion": f"{GROUP}/v1beta1"}
    )
    assert created["apiVersion"] == f"{GROUP}/v1beta1"
    assert custom.get_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, "w")["apiVersion"] == f"{GROUP}/v1"
    listed = custom.list_namespaced_custom_object(GROUP, "v1beta1", NS, WIDGETS)
    assert [i["apiVersion"] for i in listed["items"]] == [f"{GROUP}/v1beta1"]
    groups = {g["name"]: g for g in http(cluster, "GET", "/apis").json()["groups"]}
    assert groups[GROUP]["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in groups[GROUP]["versions"]] == ["v1", "v1beta1"]
