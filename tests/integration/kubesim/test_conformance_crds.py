"""Issue 2, behaviour 3: CustomResourceDefinitions become established and served, validate, default,
prune, and have status/scale subresources, printer columns and cascading deletion."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

from tests.clusters import ClusterUnderTest

from .conformance_support import (
    GROUP,
    WIDGETS,
    api_exception_body,
    create_crd,
    http,
    ssl_context,
    widget,
    widget_crd,
)


def _base(ns: str) -> str:
    return f"/apis/{GROUP}/v1/namespaces/{ns}/{WIDGETS}"


@dataclass
class Widgets:
    """The Widget CRD, established, and the custom objects API in the test's namespace."""

    api: kubernetes.client.CustomObjectsApi
    ns: str

    @property
    def base(self) -> str:
        return _base(self.ns)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.api.create_namespaced_custom_object(GROUP, "v1", self.ns, WIDGETS, body)
        return out

    def get(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = self.api.get_namespaced_custom_object(GROUP, "v1", self.ns, WIDGETS, name)
        return out


@pytest.fixture
def custom(client: kubernetes.client.ApiClient, ns: str, wait_for: Callable[..., Any]) -> Widgets:
    create_crd(client, widget_crd(), wait_for)
    return Widgets(kubernetes.client.CustomObjectsApi(client), ns)


def test_crd_becomes_established_and_served(
    client: kubernetes.client.ApiClient, ns: str, wait_for: Callable[..., Any]
) -> None:
    """Clients wait for the Established and NamesAccepted conditions (kubectl, helm, kopf do): upstream
    sets them a moment after the creation (kubesim at once)."""
    crd = create_crd(client, widget_crd(), wait_for)
    conditions = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conditions["Established"]["status"] == "True"
    assert conditions["Established"]["reason"] == "InitialNamesAccepted"
    assert conditions["NamesAccepted"]["status"] == "True"
    assert conditions["NamesAccepted"]["reason"] == "NoConflicts"
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"
    assert crd["status"]["acceptedNames"]["shortNames"] == ["wd"]
    assert crd["status"]["storedVersions"] == ["v1"]
    created = kubernetes.client.CustomObjectsApi(client).create_namespaced_custom_object(
        GROUP, "v1", ns, WIDGETS, widget("first")
    )
    assert created["metadata"]["name"] == "first"


def test_schema_validation_names_fields(custom: Widgets) -> None:
    with pytest.raises(ApiException) as info:
        custom.create(widget("bad", size="big"))  # type: ignore[arg-type]
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


def test_schema_validation_required_enum_and_bounds(custom: Widgets) -> None:
    bad = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "bad"},
        "spec": {"color": "pink"},
    }
    with pytest.raises(ApiException) as info:
        custom.create(bad)
    causes = {c["field"]: c for c in api_exception_body(info.value)["details"]["causes"]}
    assert causes["spec.size"]["reason"] == "FieldValueRequired"
    assert causes["spec.color"]["reason"] == "FieldValueNotSupported"
    assert 'supported values: "red", "green", "blue"' in causes["spec.color"]["message"]
    with pytest.raises(ApiException) as info:
        custom.create(widget("big", size=11))
    (cause,) = api_exception_body(info.value)["details"]["causes"]
    assert cause["field"] == "spec.size"
    assert "should be less than or equal to 10" in cause["message"]


def test_defaulting_and_pruning(custom: Widgets) -> None:
    body = widget("w", extra={"anything": {"goes": [1, 2]}}, unknown="dropped")
    body["topLevelUnknown"] = True
    created = custom.create(body)
    assert created["spec"]["color"] == "blue"
    assert created["spec"]["replicas"] == 1
    assert "unknown" not in created["spec"]
    assert "topLevelUnknown" not in created
    assert created["spec"]["extra"] == {"anything": {"goes": [1, 2]}}
    assert custom.get("w")["spec"] == created["spec"]


def test_unknown_fields_strict_and_warn(cluster: ClusterUnderTest, custom: Widgets) -> None:
    body = widget("w", bogus=1)
    resp = http(cluster, "POST", f"{custom.base}?fieldValidation=Strict", body)
    assert resp.status == 400
    assert 'unknown field "spec.bogus"' in resp.json()["message"]
    resp = http(cluster, "POST", f"{custom.base}?fieldValidation=Warn", body)
    assert resp.status == 201
    assert (
        'unknown field \\"spec.bogus\\"' in resp.headers["Warning"] or "spec.bogus" in resp.headers["Warning"]
    )


def test_status_subresource_rules(custom: Widgets) -> None:
    body = widget("w")
    body["status"] = {"phase": "Ignored"}
    created = custom.create(body)
    assert "status" not in created  # create drops status
    assert created["metadata"]["generation"] == 1
    # The main endpoint ignores status...
    created["status"] = {"phase": "Ignored"}
    created["metadata"]["labels"] = {"a": "b"}
    updated = custom.api.replace_namespaced_custom_object(GROUP, "v1", custom.ns, WIDGETS, "w", created)
    assert "status" not in updated
    assert updated["metadata"]["labels"] == {"a": "b"}
    assert updated["metadata"]["generation"] == 1  # metadata changes do not bump generation
    # ...and /status changes only status.
    updated["status"] = {"phase": "Ready"}
    updated["spec"]["size"] = 9
    updated["metadata"]["labels"] = {"c": "d"}
    status = custom.api.replace_namespaced_custom_object_status(GROUP, "v1", custom.ns, WIDGETS, "w", updated)
    assert status["status"] == {"phase": "Ready"}
    assert status["spec"]["size"] == 3
    assert status["metadata"]["labels"] == {"a": "b"}
    assert status["metadata"]["generation"] == 1
    # A spec change bumps generation.
    status["spec"]["size"] = 4
    spec = custom.api.replace_namespaced_custom_object(GROUP, "v1", custom.ns, WIDGETS, "w", status)
    assert spec["metadata"]["generation"] == 2
    assert spec["status"] == {"phase": "Ready"}


def test_status_is_validated_too(custom: Widgets) -> None:
    created = custom.create(widget("w"))
    created["status"] = {"replicas": "three"}
    with pytest.raises(ApiException) as info:
        custom.api.replace_namespaced_custom_object_status(GROUP, "v1", custom.ns, WIDGETS, "w", created)
    assert info.value.status == 422
    assert api_exception_body(info.value)["details"]["causes"][0]["field"] == "status.replicas"


def test_scale_subresource(cluster: ClusterUnderTest, custom: Widgets) -> None:
    custom.create(widget("w", replicas=2))
    scale = custom.api.get_namespaced_custom_object_scale(GROUP, "v1", custom.ns, WIDGETS, "w")
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 2
    resp = http(
        cluster,
        "PATCH",
        f"{custom.base}/w/scale",
        {"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
    )
    assert resp.status == 200, resp.body
    assert resp.json()["spec"]["replicas"] == 5
    assert custom.get("w")["spec"]["replicas"] == 5
    scale = custom.api.get_namespaced_custom_object_scale(GROUP, "v1", custom.ns, WIDGETS, "w")
    scale["spec"]["replicas"] = 7
    custom.api.replace_namespaced_custom_object_scale(GROUP, "v1", custom.ns, WIDGETS, "w", scale)
    assert custom.get("w")["spec"]["replicas"] == 7


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
AGE = re.compile(r"^[0-9]+s$")


def test_printer_columns_in_table_responses(cluster: ClusterUnderTest, custom: Widgets) -> None:
    custom.create(widget("w", size=5, color="red"))
    resp = http(cluster, "GET", custom.base, headers={"Accept": TABLE})
    assert resp.status == 200
    table = resp.json()
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Size", "Color", "Phase", "Age"]
    (row,) = table["rows"]
    assert row["cells"][:4] == ["w", 5, "red", None]
    assert AGE.match(row["cells"][4])
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "w"


def _gadget_crd(columns: list[dict[str, Any]]) -> dict[str, Any]:
    props = {
        "size": {"type": "integer"},
        "color": {"type": "string"},
        "ratio": {"type": "number"},
        "on": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "meta": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "when": {"type": "string"},
    }
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": props}},
            }
        },
    }
    if columns:
        version["additionalPrinterColumns"] = columns
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [version],
        },
    }


def test_printer_column_types_and_descriptions(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str, wait_for: Callable[..., Any]
) -> None:
    """Each cell is the first value its JSONPath finds, converted to the column's type (null when absent or
    of another type; string columns print objects and arrays as JSON); descriptions default to the path."""
    columns = [
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size", "description": "how big"},
        {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
        {"name": "Tags", "type": "string", "jsonPath": ".spec.tags"},
        {"name": "First", "type": "string", "jsonPath": ".spec.tags[*]"},
        {"name": "Meta", "type": "string", "jsonPath": ".spec.meta"},
        {"name": "When", "type": "date", "jsonPath": ".spec.when"},
        {"name": "SizeText", "type": "string", "jsonPath": ".spec.size"},
        {"name": "RatioText", "type": "string", "jsonPath": ".spec.ratio"},
        {"name": "ColorNumber", "type": "integer", "jsonPath": ".spec.color"},
        {"name": "SizeNumber", "type": "number", "jsonPath": ".spec.size"},
        {"name": "Created", "type": "date", "jsonPath": ".metadata.creationTimestamp", "format": "date"},
    ]
    create_crd(client, _gadget_crd(columns), wait_for)
    base = f"/apis/{GROUP}/v1/namespaces/{ns}/gadgets"
    spec = {
        "size": 3,
        "color": "red",
        "ratio": 2000000.5,
        "on": True,
        "tags": ["a", "b<c>"],
        "meta": {"z": 1, "a": [True, None]},
        "when": "not a time",
    }
    for name, body in (("g1", spec), ("g2", {})):
        created = http(
            cluster,
            "POST",
            base,
            {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": name}, "spec": body},
        )
        assert created.status == 201, created.body
    table = http(cluster, "GET", base, headers={"Accept": TABLE}).json()
    definitions = table["columnDefinitions"]
    assert definitions[0]["name"] == "Name"
    assert definitions[0]["description"].startswith("Name must be unique within a namespace.")
    assert [
        (c["name"], c["type"], c["format"], c["priority"], c["description"]) for c in definitions[1:]
    ] == [
        (
            c["name"],
            c["type"],
            c.get("format", ""),
            c.get("priority", 0),
            c.get("description", f"Custom resource definition column (in JSONPath format): {c['jsonPath']}"),
        )
        for c in columns
    ]
    full, empty = table["rows"]
    assert full["cells"][:-1] == [
        "g1",
        3,
        "red",
        2000000.5,
        True,
        '["a","b\\u003cc\\u003e"]',
        "a",
        '{"a":[true,null],"z":1}',
        "<invalid>",
        "3",
        "2.0000005e+06",
        None,
        3.0,
    ]
    assert AGE.match(full["cells"][-1])
    assert empty["cells"][:-1] == ["g2"] + [None] * (len(columns) - 1)


def test_default_printer_column_is_age(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str, wait_for: Callable[..., Any]
) -> None:
    create_crd(client, _gadget_crd([]), wait_for)
    base = f"/apis/{GROUP}/v1/namespaces/{ns}/gadgets"
    http(cluster, "POST", base, {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "g"}})
    table = http(cluster, "GET", base, headers={"Accept": TABLE}).json()
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert table["columnDefinitions"][1]["description"].startswith("CreationTimestamp is a timestamp")
    (row,) = table["rows"]
    assert row["cells"][0] == "g"
    assert AGE.match(row["cells"][1])
    crds = http(
        cluster,
        "GET",
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{GROUP}",
        headers={"Accept": TABLE},
    ).json()
    created = crds["rows"][0]["object"]["metadata"]["creationTimestamp"]
    # From 1.37 a CRD has its own table convertor (scope and served versions; group, kind, short names and
    # the Established condition at priority 1) rather than the default Name and Created At.
    if cluster.upstream_since(37):
        columns = [
            ("Name", "string", 0),
            ("Scope", "string", 0),
            ("Versions", "string", 0),
            ("Created At", "date", 0),
            ("Group", "string", 1),
            ("Kind", "string", 1),
            ("ShortNames", "string", 1),
            ("Established", "boolean", 1),
        ]
        cells = [f"gadgets.{GROUP}", "Namespaced", "v1(storage)", created, GROUP, "Gadget", "", True]
    else:
        columns = [("Name", "string", 0), ("Created At", "date", 0)]
        cells = [f"gadgets.{GROUP}", created]
    assert [(c["name"], c["type"], c["priority"]) for c in crds["columnDefinitions"]] == columns
    assert crds["rows"][0]["cells"] == cells


def test_deleting_a_crd_deletes_its_objects(
    cluster: ClusterUnderTest,
    client: kubernetes.client.ApiClient,
    custom: Widgets,
    wait_for: Callable[..., Any],
) -> None:
    custom.create(widget("w"))
    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.delete_custom_resource_definition(f"{WIDGETS}.{GROUP}")

    def gone() -> bool:
        try:
            ext.read_custom_resource_definition(f"{WIDGETS}.{GROUP}")
        except ApiException as exc:
            return exc.status == 404
        return False

    # Upstream removes the custom resources first (the CRD's customresourcecleanup finalizer).
    wait_for(gone, timeout=60, what="CRD deleted")
    wait_for(
        lambda: http(cluster, "GET", custom.base).status == 404, timeout=30, what="widgets no longer served"
    )
    wait_for(
        lambda: GROUP not in {g["name"] for g in http(cluster, "GET", "/apis").json()["groups"]},
        timeout=30,
        what="the group gone from discovery",
    )
    create_crd(client, widget_crd(), wait_for)
    assert custom.api.list_namespaced_custom_object(GROUP, "v1", custom.ns, WIDGETS)["items"] == []


def test_cluster_scoped_custom_resources(
    client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]
) -> None:
    create_crd(client, widget_crd(scope="Cluster"), wait_for)
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
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, custom: Widgets
) -> None:
    rv = custom.api.list_namespaced_custom_object(GROUP, "v1", custom.ns, WIDGETS)["metadata"][
        "resourceVersion"
    ]
    custom.create(widget("w"))
    req = urllib.request.Request(
        f"{cluster.url}{custom.base}?watch=1&resourceVersion={rv}&timeoutSeconds=20",
        headers={"Authorization": f"Bearer {cluster.admin_token}"},
    )
    with urllib.request.urlopen(req, timeout=20, context=ssl_context(cluster)) as resp:
        assert json.loads(resp.readline())["type"] == "ADDED"  # the watch is established
        started = time.monotonic()
        kubernetes.client.ApiextensionsV1Api(client).delete_custom_resource_definition(f"{WIDGETS}.{GROUP}")
        rest = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert time.monotonic() - started < 5  # ended by the deletion, not by its timeout
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in rest] == [("DELETED", "w")]


def test_custom_resources_refuse_unconditional_updates(cluster: ClusterUnderTest, custom: Widgets) -> None:
    custom.create(widget("w"))
    resp = http(cluster, "PUT", f"{custom.base}/w", widget("w", size=4))
    assert resp.status == 422
    assert resp.json()["message"] == (
        f'{WIDGETS}.{GROUP} "w" is invalid: metadata.resourceVersion: Invalid value: 0: '
        "must be specified for an update"
    )
    assert resp.json()["details"] == {
        "name": "w",
        "group": GROUP,
        "kind": WIDGETS,
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 0: must be specified for an update",
                "field": "metadata.resourceVersion",
            }
        ],
    }
    scale = custom.api.get_namespaced_custom_object_scale(GROUP, "v1", custom.ns, WIDGETS, "w")
    custom.api.patch_namespaced_custom_object(
        GROUP,
        "v1",
        custom.ns,
        WIDGETS,
        "w",
        {"spec": {"size": 5}},
        _content_type="application/merge-patch+json",
    )
    scale["spec"]["replicas"] = 9
    resp = http(cluster, "PUT", f"{custom.base}/w/scale", scale)
    assert resp.status == 409  # the Scale's resourceVersion is stale


def test_versions_share_storage(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str, wait_for: Callable[..., Any]
) -> None:
    crd = widget_crd()
    v1 = crd["spec"]["versions"][0]
    beta = {**v1, "name": "v1beta1", "storage": False}
    crd["spec"]["versions"] = [beta, v1]  # discovery orders by version priority, not as listed
    create_crd(client, crd, wait_for)
    custom = kubernetes.client.CustomObjectsApi(client)
    created = custom.create_namespaced_custom_object(
        GROUP, "v1beta1", ns, WIDGETS, {**widget("w"), "apiVersion": f"{GROUP}/v1beta1"}
    )
    assert created["apiVersion"] == f"{GROUP}/v1beta1"
    assert custom.get_namespaced_custom_object(GROUP, "v1", ns, WIDGETS, "w")["apiVersion"] == f"{GROUP}/v1"
    listed = custom.list_namespaced_custom_object(GROUP, "v1beta1", ns, WIDGETS)
    assert [i["apiVersion"] for i in listed["items"]] == [f"{GROUP}/v1beta1"]
    groups = {g["name"]: g for g in http(cluster, "GET", "/apis").json()["groups"]}
    assert groups[GROUP]["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in groups[GROUP]["versions"]] == ["v1", "v1beta1"]
