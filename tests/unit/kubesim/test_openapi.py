"""OpenAPI v2/v3 documents: the structure kubectl explain/apply and helm rely on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from kubesim.openapi import OpenAPIBuilder, ServedResource, build_v2, build_v3, crd_definition_name, gv_path

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "description": "Widget spec.",
            "properties": {
                "size": {"type": "integer", "description": "How big."},
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "note": {"type": "string", "nullable": True},
            },
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def resources(widget_schema: dict[str, Any] | None = None) -> list[ServedResource]:
    core = [
        ServedResource("", "v1", "Pod", "pods", True, subresources=("status",)),
        ServedResource("", "v1", "Namespace", "namespaces", False, subresources=("status",)),
        ServedResource("", "v1", "ConfigMap", "configmaps", True),
        ServedResource(
            "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, subresources=("status",)
        ),
    ]
    return [
        *core,
        ServedResource("apps", "v1", "Deployment", "deployments", True, subresources=("status", "scale")),
        ServedResource(
            "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False
        ),
        ServedResource(
            "example.com",
            "v1",
            "Widget",
            "widgets",
            True,
            schema=widget_schema or WIDGET_SCHEMA,
            subresources=("status",),
        ),
    ]


@pytest.fixture(scope="module")
def core_v1() -> dict[str, Any]:
    return build_v3("", "v1", resources())


@pytest.fixture(scope="module")
def widgets_v1() -> dict[str, Any]:
    return build_v3("example.com", "v1", resources())


@pytest.fixture(scope="module")
def v2() -> dict[str, Any]:
    return build_v2(resources())


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def refs(doc: dict[str, Any]) -> set[str]:
    return {n["$ref"] for n in walk(doc) if isinstance(n.get("$ref"), str)}


def test_gv_paths_and_crd_names() -> None:
    assert gv_path("", "v1") == "api/v1"
    assert gv_path("apps", "v1") == "apis/apps/v1"
    assert crd_definition_name("jupyternetes.io", "v1alpha1", "NotebookInstance") == (
        "io.jupyternetes.v1alpha1.NotebookInstance"
    )


def test_v3_pod_schema_carries_gvk_and_list_map_keys(core_v1: dict[str, Any]) -> None:
    schemas = core_v1["components"]["schemas"]
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["type"] == "object"
    assert pod["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert pod["properties"]["apiVersion"] == {
        "description": pod["properties"]["apiVersion"]["description"],
        "type": "string",
    }
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert ports["x-kubernetes-list-type"] == "map"
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    assert ports["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.ContainerPort"}
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-patch-merge-key"] == "name"


def test_v3_int_or_string_and_quantity_shapes(core_v1: dict[str, Any]) -> None:
    schemas = core_v1["components"]["schemas"]
    ios = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert ios["format"] == "int-or-string"
    assert ios["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["oneOf"] == [
        {"type": "string"},
        {"type": "number"},
    ]


def test_v3_is_closed_and_has_no_json_schema_leftovers(core_v1: dict[str, Any]) -> None:
    schemas = core_v1["components"]["schemas"]
    for ref in refs(core_v1):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for node in walk(schemas):
        assert not isinstance(node.get("type"), list), node
    assert "enum" not in schemas["io.k8s.api.core.v1.Pod"]["properties"]["kind"]
    assert "io.k8s.api.apps.v1.Deployment" not in schemas  # only this group version's closure


def test_v3_paths_let_kubectl_use_server_side_field_validation(core_v1: dict[str, Any]) -> None:
    """kubectl's queryParamVerifierV3: a PATCH operation whose x-kubernetes-group-version-kind (an object)
    is the GVK and whose parameters include fieldValidation."""
    item = core_v1["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "kind": "Pod", "version": "v1"}
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["operationId"] == "patchCoreV1NamespacedPod"
    assert {p["name"] for p in patch["parameters"]} >= {"dryRun", "fieldManager", "fieldValidation", "force"}
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    assert "application/apply-patch+yaml" in patch["requestBody"]["content"]
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    namespaces = core_v1["paths"]["/api/v1/namespaces/{name}"]
    assert namespaces["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Namespace"
    assert "/api/v1/pods" in core_v1["paths"]
    assert "/api/v1/namespaces/{namespace}/pods/{name}/status" in core_v1["paths"]
    collection = core_v1["paths"]["/api/v1/namespaces/{namespace}/pods"]
    assert collection["post"]["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"
    }
    assert collection["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.core.v1.PodList"
    }


def test_scale_subresource_path() -> None:
    doc = build_v3("apps", "v1", resources())
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]


def test_v3_custom_resource(widgets_v1: dict[str, Any]) -> None:
    schemas = widgets_v1["components"]["schemas"]
    widget = schemas["com.example.v1.Widget"]
    assert widget["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}
    ]
    assert widget["properties"]["spec"]["properties"]["size"] == {
        "type": "integer",
        "description": "How big.",
    }
    assert widget["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert widget["properties"]["kind"]["type"] == "string"
    listing = schemas["com.example.v1.WidgetList"]
    assert listing["properties"]["items"]["items"] == {"$ref": "#/components/schemas/com.example.v1.Widget"}
    assert listing["x-kubernetes-group-version-kind"][0]["kind"] == "WidgetList"
    patch = widgets_v1["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "example.com",
        "kind": "Widget",
        "version": "v1",
    }
    for ref in refs(widgets_v1):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_v2_document(v2: dict[str, Any]) -> None:
    assert v2["swagger"] == "2.0"
    definitions = v2["definitions"]
    assert len(definitions) > 700  # every bundled definition, as upstream publishes them all
    for ref in refs(v2):
        assert ref.startswith("#/definitions/"), ref
        assert ref.removeprefix("#/definitions/") in definitions, ref
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"] == "string"
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    pod = definitions["io.k8s.api.core.v1.Pod"]
    assert (
        pod["properties"]["metadata"]["$ref"]
        == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    )
    widget = definitions["com.example.v1.Widget"]
    spec_props = widget["properties"]["spec"]["properties"]
    assert "anyOf" not in spec_props["port"]
    assert spec_props["port"]["x-kubernetes-int-or-string"] is True
    assert "nullable" not in spec_props["note"]
    patch = v2["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert {p["name"] for p in patch["parameters"]} >= {"body", "fieldValidation"}


def test_builder_index_hash_and_cache() -> None:
    builder = OpenAPIBuilder()
    served = resources()
    index = builder.v3_index(served, generation=1)
    assert sorted(index["paths"]) == [
        "api/v1",
        "apis/apiextensions.k8s.io/v1",
        "apis/apps/v1",
        "apis/example.com/v1",
    ]
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    match = re.fullmatch(r"/openapi/v3/api/v1\?hash=([0-9A-F]{128})", url)
    assert match is not None
    assert builder.v3_hash("api/v1", served, 1) == match.group(1)
    first = builder.v3("api/v1", served, 1)
    assert first is not None
    assert builder.v3("/api/v1", served, 1) is first  # cached per generation
    assert json.loads(first)["openapi"] == "3.0.0"
    assert builder.v3("apis/nope.io/v1", served, 1) is None
    assert builder.v3_hash("apis/nope.io/v1", served, 1) is None
    v2_bytes = builder.v2(served, 1)
    assert builder.v2(served, 1) is v2_bytes
    assert json.loads(v2_bytes)["swagger"] == "2.0"


def test_builder_invalidates_when_generation_changes() -> None:
    builder = OpenAPIBuilder()
    before = builder.v3_hash("apis/example.com/v1", resources(), 1)
    changed = json.loads(json.dumps(WIDGET_SCHEMA))
    changed["properties"]["spec"]["properties"]["color"] = {"type": "string"}
    assert builder.v3_hash("apis/example.com/v1", resources(changed), 1) == before  # same generation: cached
    after = builder.v3_hash("apis/example.com/v1", resources(changed), 2)
    assert after != before
    doc = builder.v3("apis/example.com/v1", resources(changed), 2)
    assert doc is not None
    assert (
        "color"
        in json.loads(doc)["components"]["schemas"]["com.example.v1.Widget"]["properties"]["spec"][
            "properties"
        ]
    )
    assert builder.v3_hash("api/v1", resources(changed), 2) == builder.v3_hash("api/v1", resources(), 3)
