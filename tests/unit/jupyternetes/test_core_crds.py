"""The CRDs in crds/: generated from the models, structural, valid, and accepting the seed objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from jupyternetes.core.crdgen import CRD_FILES, HEADER, all_crds, crd_yaml, instance_crd, template_crd

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("file", sorted(CRD_FILES))
def test_crd_files_match_the_models(file: str) -> None:
    path = REPO / "crds" / file
    expected = crd_yaml(all_crds()[file])
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    assert actual == expected, (
        f"{path.relative_to(REPO)} is out of date with the models in operator/jupyternetes/core/models.py; "
        "run: python tools/generate_crds.py"
    )
    assert actual.startswith(HEADER)


@pytest.mark.parametrize("crd", [template_crd(), instance_crd()], ids=["template", "instance"])
def test_crd_is_valid_for_kubernetes(crd: dict[str, Any]) -> None:
    kubernetes_validate.validate(crd, "1.34.0", strict=True)


def _walk(node: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for k, v in (node.get("properties") or {}).items():
            out.extend(_walk(v, f"{path}.{k}"))
        if isinstance(node.get("items"), dict):
            out.extend(_walk(node["items"], f"{path}[]"))
        if isinstance(node.get("additionalProperties"), dict):
            out.extend(_walk(node["additionalProperties"], f"{path}{{}}"))
    return out


@pytest.mark.parametrize("crd", [template_crd(), instance_crd()], ids=["template", "instance"])
def test_crd_schema_is_structural(crd: dict[str, Any]) -> None:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    text = yaml.safe_dump(schema)
    for forbidden in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "title:", "nullable"):
        assert forbidden not in text, forbidden
    for path, node in _walk(schema):
        # Kubernetes' structural schemas allow no type only on int-or-string and on any-value fields (a
        # declared variable's minimum, maximum and default).
        untyped = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        assert "type" in node or untyped, f"{path} has no type"
        assert not ("properties" in node and "additionalProperties" in node), path
        assert node.get("additionalProperties", {}) is not False, path
        if "default" in node:
            assert node["type"] in ("boolean", "string", "integer"), path
        if node.get("x-kubernetes-preserve-unknown-fields") and "type" in node:
            assert node["type"] == "object", path
            assert "properties" not in node, path


def test_crd_names_columns_and_subresources() -> None:
    t, i = template_crd(), instance_crd()
    assert t["metadata"]["name"] == "jupyternotebooktemplates.kadense.io"
    assert i["metadata"]["name"] == "jupyternotebookinstances.kadense.io"
    for crd, short in ((t, "jnt"), (i, "jni")):
        assert crd["spec"]["group"] == "kadense.io"
        assert crd["spec"]["scope"] == "Namespaced"
        assert crd["spec"]["names"]["shortNames"] == [short]
        assert crd["spec"]["names"]["categories"] == ["jupyternetes"]
        (version,) = crd["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
    assert t["spec"]["versions"][0]["subresources"] == {"status": {}}
    assert i["spec"]["versions"][0]["subresources"] == {"status": {}}
    columns = {
        c["name"]: (c["type"], c["jsonPath"]) for c in t["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert columns == {
        "Pods": ("string", ".spec.pods[*].name"),
        "PVCs": ("string", ".spec.pvcs[*].name"),
        "Generation": ("integer", ".metadata.generation"),
        "Instances": ("integer", ".status.instances"),
        "Outdated": ("integer", ".status.outdated"),
        "Max-Lifetime": ("string", ".spec.maxLifetime"),
        "Age": ("date", ".metadata.creationTimestamp"),
    }
    columns = {
        c["name"]: (c["type"], c["jsonPath"]) for c in i["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert columns == {
        "Template": ("string", ".spec.template.name"),
        "User": ("string", ".spec.variables.jupyterhub\\.user\\.name"),
        "Profile": ("string", ".spec.variables.jupyterhub\\.profile"),
        "Options": ("string", ".spec.variables.jupyterhub\\.profile\\.options"),
        "Ready": ("string", '.status.conditions[?(@.type=="Ready")].status'),
        "Reason": ("string", '.status.conditions[?(@.type=="Ready")].reason'),
        "Address": ("string", ".status.address"),
        "Age": ("date", ".metadata.creationTimestamp"),
    }


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_seed_objects_are_valid_for_the_crd_schemas(
    seed_template: dict[str, Any], seed_instance: dict[str, Any]
) -> None:
    jsonschema.validate(seed_template, _schema(template_crd()))
    jsonschema.validate(seed_instance, _schema(instance_crd()))
    seed_instance["status"]["podsProvisioned"] = {"not": "a string"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(seed_instance, _schema(instance_crd()))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {"pods": [{"name": "Bad_Name", "spec": {}}]}}, _schema(template_crd()))


def test_entry_lists_are_maps_keyed_by_name() -> None:
    spec = _schema(template_crd())["properties"]["spec"]["properties"]
    for key in ("pods", "pvcs", "otherResources"):
        assert spec[key]["x-kubernetes-list-type"] == "map"
        assert spec[key]["x-kubernetes-list-map-keys"] == ["name"]
        assert spec[key]["items"]["properties"]["name"]["pattern"] == "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    assert spec["pods"]["items"]["properties"]["spec"] == {
        "description": "A Kubernetes PodSpec; any field is allowed and every string may contain {variables}.",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
