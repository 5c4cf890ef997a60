"""CRDs: CRD validation and structural schemas (validate, prune, default) worded like apiextensions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesim.crdschema import StructuralSchema, validate_crd

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 1},
                "image": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                "title": {"type": "string", "minLength": 2},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "port": {"x-kubernetes-int-or-string": True},
                "when": {"type": "string", "format": "date-time"},
                "note": {"type": "string", "nullable": True},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                    "maxItems": 3,
                    "minItems": 1,
                },
                "entries": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "size": {"type": "integer", "default": 5}},
                    },
                },
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"a": {"type": "string", "default": "x"}, "b": {"type": "integer"}},
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}


def cr(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {"image": "nginx", **spec},
    }


def messages(causes: list[Any]) -> dict[str, str]:
    return {c["field"]: c["message"] for c in causes}


@pytest.fixture(scope="module")
def schema() -> StructuralSchema:
    return StructuralSchema(SCHEMA)


def test_valid_object(schema: StructuralSchema) -> None:
    assert schema.validate(schema.default(cr(replicas=3, tags=["x"], port="http"))) == []


def test_type_errors_worded_like_kube_openapi(schema: StructuralSchema) -> None:
    causes = schema.validate(cr(replicas="three", port=True, ratio="x"))
    assert {
        "reason": "FieldValueTypeInvalid",
        "message": 'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        "field": "spec.replicas",
    } in causes
    got = messages(causes)
    assert (
        got["spec.port"]
        == 'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'
    )
    assert got["spec.ratio"] == 'Invalid value: "string": spec.ratio in body must be of type number: "string"'


def test_integer_valued_float_is_an_integer_and_int_is_a_number(schema: StructuralSchema) -> None:
    assert schema.validate(cr(replicas=2.0, ratio=0)) == []
    assert messages(schema.validate(cr(replicas=2.5)))["spec.replicas"] == (
        'Invalid value: "number": spec.replicas in body must be of type integer: "number"'
    )


def test_required_enum_pattern_bounds(schema: StructuralSchema) -> None:
    obj = cr(mode="c", replicas=0, ratio=1, title="x")
    obj["spec"]["image"] = "Nginx"
    got = messages(schema.validate(obj))
    assert got["spec.mode"] == 'Unsupported value: "c": supported values: "a", "b"'
    assert (
        got["spec.replicas"] == "Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
    )
    assert got["spec.ratio"] == "Invalid value: 1: spec.ratio in body should be less than 1"
    assert got["spec.image"] == "Invalid value: \"Nginx\": spec.image in body should match '^[a-z]+$'"
    assert got["spec.title"] == 'Invalid value: "x": spec.title in body should be at least 2 chars long'
    del obj["spec"]["image"]
    assert messages(schema.validate(obj))["spec.image"] == "Required value"


def test_max_length_and_items(schema: StructuralSchema) -> None:
    got = messages(schema.validate(cr(tags=["a", "b", "c", "d"], title="ok", image="abcdefghij")))
    assert got["spec.image"] == "Too long: may not be more than 8 bytes"
    assert got["spec.tags"] == "Too many: 4: must have at most 3 items"
    got = messages(schema.validate(cr(tags=[])))
    assert got["spec.tags"] == "Invalid value: 0: spec.tags in body should have at least 1 items"


def test_nullable_and_null(schema: StructuralSchema) -> None:
    assert schema.validate(cr(note=None)) == []
    assert messages(schema.validate(cr(title=None)))["spec.title"] == (
        'Invalid value: "null": spec.title in body must be of type string: "null"'
    )


def test_date_time_format(schema: StructuralSchema) -> None:
    assert schema.validate(cr(when="2025-01-02T03:04:05Z")) == []
    assert messages(schema.validate(cr(when="yesterday")))["spec.when"] == (
        'Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"'
    )


def test_list_type_set_and_map_duplicates(schema: StructuralSchema) -> None:
    got = messages(
        schema.validate(cr(tags=["a", "a"], entries=[{"name": "x"}, {"name": "y"}, {"name": "x"}]))
    )
    assert got["spec.tags[1]"] == 'Duplicate value: "a"'
    assert got["spec.entries[2]"] == 'Duplicate value: {"name":"x"}'


def test_additional_properties_paths(schema: StructuralSchema) -> None:
    got = messages(schema.validate(cr(labels={"a": 1})))
    assert (
        got["spec.labels.a"]
        == 'Invalid value: "integer": spec.labels.a in body must be of type string: "integer"'
    )


def test_embedded_resource_needs_api_version_and_kind(schema: StructuralSchema) -> None:
    got = messages(schema.validate(cr(template={"metadata": {"name": "x"}})))
    assert got["spec.template.apiVersion"] == "Required value: must not be empty"
    assert got["spec.template.kind"] == "Required value: must not be empty"
    ok = cr(template={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"any": 1}})
    assert schema.validate(ok) == []


def test_metadata_name_must_be_a_dns_subdomain(schema: StructuralSchema) -> None:
    obj = cr()
    obj["metadata"]["name"] = "Bad_Name"
    got = messages(schema.validate(obj))
    assert got["metadata.name"].startswith('Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain')


def test_prune_drops_unknown_fields_but_keeps_root_meta_and_preserved(schema: StructuralSchema) -> None:
    obj = cr(bogus=1, entries=[{"name": "x", "zz": 1}], free={"k": {"deep": [1]}})
    obj["metadata"]["junk"] = 1
    obj["other"] = 3
    obj["spec"]["template"] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "x": 1}, "y": 2}
    pruned = schema.prune(obj)
    assert pruned == {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {
            "image": "nginx",
            "entries": [{"name": "x"}],
            "free": {"k": {"deep": [1]}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "y": 2},
        },
    }
    assert schema.unknown_fields(obj) == [
        "metadata.junk",
        "spec.bogus",
        "spec.entries[0].zz",
        "spec.template.metadata.x",
        "other",
    ]
    assert obj["spec"]["bogus"] == 1  # input untouched


def test_object_without_properties_is_pruned_empty() -> None:
    s = StructuralSchema({"type": "object", "properties": {"spec": {"type": "object"}}})
    assert s.prune({"apiVersion": "a/v1", "kind": "K", "spec": {"x": 1}}) == {
        "apiVersion": "a/v1",
        "kind": "K",
        "spec": {},
    }


def test_defaults_apply_to_absent_fields_at_every_level(schema: StructuralSchema) -> None:
    obj = cr(entries=[{"name": "x"}, {"name": "y", "size": 1}])
    defaulted = schema.default(obj)
    assert defaulted["spec"]["replicas"] == 1
    assert defaulted["spec"]["nested"] == {"a": "x"}
    assert defaulted["spec"]["entries"] == [{"name": "x", "size": 5}, {"name": "y", "size": 1}]
    assert "replicas" not in obj["spec"]  # input untouched
    assert "status" not in defaulted  # defaults only inside objects that exist


def test_defaults_replace_non_nullable_nulls_and_drop_the_rest(schema: StructuralSchema) -> None:
    defaulted = schema.default(cr(replicas=None, title=None, note=None, nested={"a": None, "b": None}))
    assert defaulted["spec"]["replicas"] == 1
    assert "title" not in defaulted["spec"]
    assert defaulted["spec"]["note"] is None
    assert defaulted["spec"]["nested"] == {"a": "x"}


def test_cel_rules_are_accepted_and_not_evaluated() -> None:
    s = StructuralSchema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "x-kubernetes-validations": [{"rule": "self.a > 10"}],
                    "properties": {"a": {"type": "integer"}},
                }
            },
        }
    )
    assert s.validate({"metadata": {"name": "x"}, "spec": {"a": 1}}) == []


def crd(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Image", "type": "string", "jsonPath": ".spec.image"}
                    ],
                }
            ],
        },
    }
    obj["spec"].update(overrides)
    return obj


def test_valid_crd() -> None:
    assert validate_crd(crd()) == []


def test_crd_name_must_be_plural_dot_group() -> None:
    obj = crd()
    obj["metadata"]["name"] = "widget.example.com"
    assert messages(validate_crd(obj)) == {
        "metadata.name": 'Invalid value: "widget.example.com": must be spec.names.plural+"."+spec.group'
    }


def test_crd_names_and_scope_required() -> None:
    obj = crd(scope="Galaxy", names={"plural": "", "kind": ""})
    got = messages(validate_crd(obj))
    assert got["spec.names.plural"] == "Required value"
    assert got["spec.names.kind"] == "Required value"
    assert got["spec.scope"] == 'Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced"'


def test_crd_exactly_one_storage_version() -> None:
    obj = crd()
    second = copy.deepcopy(obj["spec"]["versions"][0])
    second["name"] = "v2"
    obj["spec"]["versions"].append(second)
    got = messages(validate_crd(obj))
    assert got["spec.versions"].endswith(": must have exactly one version marked as storage version")
    obj["spec"]["versions"] = []
    assert messages(validate_crd(obj))["spec.versions"] == (
        "Required value: must have exactly one version marked as storage version"
    )


def test_crd_structural_rules() -> None:
    obj = crd()
    props = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    props["spec"]["properties"]["untyped"] = {"description": "no type"}
    props["spec"]["properties"]["listy"] = {"type": "array", "items": {"$ref": "#/definitions/x"}}
    got = messages(validate_crd(obj))
    base = "spec.versions[0].schema.openAPIV3Schema.properties[spec]"
    assert (
        got[f"{base}.properties[untyped].type"]
        == "Required value: must not be empty for specified object fields"
    )
    assert got[f"{base}.properties[listy].items.$ref"] == "Forbidden: $ref is not supported"
    assert got[f"{base}.properties[listy].items.type"] == (
        "Required value: must not be empty for specified array items"
    )


def test_crd_schema_required_and_root_object() -> None:
    obj = crd()
    obj["spec"]["versions"][0]["schema"] = {}
    assert messages(validate_crd(obj)) == {
        "spec.versions[0].schema.openAPIV3Schema": "Required value: schemas are required"
    }
    obj["spec"]["versions"][0]["schema"] = {"openAPIV3Schema": {"type": "string"}}
    assert messages(validate_crd(obj)) == {
        "spec.versions[0].schema.openAPIV3Schema.type": 'Invalid value: "string": must be object at the root'
    }


def test_crd_group_needs_a_dot_and_printer_column_types() -> None:
    obj = crd(group="example")
    obj["metadata"]["name"] = "widgets.example"
    obj["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "X", "type": "float", "jsonPath": ".a"}
    ]
    got = messages(validate_crd(obj))
    assert got["spec.group"] == 'Invalid value: "example": should be a domain with at least one dot'
    assert got["spec.versions[0].additionalPrinterColumns[0].type"] == (
        'Unsupported value: "float": supported values: "integer", "number", "string", "boolean", "date"'
    )


def test_preserve_unknown_fields_and_list_map_keys() -> None:
    obj = crd()
    root = obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    root["properties"]["free"] = {"x-kubernetes-preserve-unknown-fields": True}
    root["properties"]["items"] = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "items": {"type": "object"},
    }
    got = messages(validate_crd(obj))
    assert "spec.versions[0].schema.openAPIV3Schema.properties[free].type" not in got
    assert got["spec.versions[0].schema.openAPIV3Schema.properties[items].x-kubernetes-list-map-keys"] == (
        "Required value: must not be empty if x-kubernetes-list-type is map"
    )
