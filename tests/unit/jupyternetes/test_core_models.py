"""The API models: the announcement's objects parse verbatim; validation errors are clear."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from jupyternetes.core.models import (
    Condition,
    EntryState,
    InstanceStatus,
    JupyterNotebookInstance,
    ProvisioningState,
    TemplateSpec,
    parse_instance,
    parse_template,
    set_condition,
    to_dict,
)


def test_seed_template_parses(seed_template: dict[str, Any]) -> None:
    t = parse_template(seed_template)
    assert t.metadata.name == "default-template"
    assert t.metadata.namespace == "kadense"
    assert [p.name for p in t.spec.pods] == ["notebook"]
    assert [p.name for p in t.spec.pvcs] == ["workspace"]
    assert t.spec.other_resources == []
    assert t.spec.pvcs[0].delete_with_instance is False
    assert t.spec.pods[0].labels == {"jupyternetes.kadense.io/userId": "{jupyterhub.user.id}"}
    # The pod spec is kept as it is, untouched.
    assert t.spec.pods[0].spec == seed_template["spec"]["pods"][0]["spec"]
    assert to_dict(t)["spec"]["pods"][0]["spec"] == seed_template["spec"]["pods"][0]["spec"]


def test_seed_instance_parses_with_its_status(seed_instance: dict[str, Any]) -> None:
    i = parse_instance(seed_instance)
    assert i.metadata.name == "8dc366d8a0f05869bfdb6e7eb3d83f65"
    assert i.spec.template.name == "default-template"
    assert i.spec.template.resolve_namespace("default") == "kadense"
    assert i.spec.variables["jupyterhub.user.name"] == "jovyan"
    assert i.spec.variables["jupyterhub.user.id"] == "1"
    assert i.status is not None
    assert i.status.pods_provisioned == ProvisioningState.PENDING
    assert i.status.pvcs_provisioned == "Pending"
    assert i.status.other_resources_provisioned == {}
    assert i.status.pods == {}
    assert i.status.pvcs == {}
    assert i.status.other_resources == {}
    dumped = to_dict(i)
    assert dumped["status"] == seed_instance["status"]
    assert dumped["spec"]["variables"] == seed_instance["spec"]["variables"]
    assert dumped["metadata"] == seed_instance["metadata"]


def test_template_namespace_defaults_to_the_instance_namespace() -> None:
    i = parse_instance({"metadata": {"name": "x", "namespace": "users"}, "spec": {"template": {"name": "t"}}})
    assert i.spec.template.resolve_namespace("users") == "users"
    assert i.spec.template.model_copy(update={"namespace": ""}).resolve_namespace("users") == "users"


def test_full_status_round_trips_camel_case() -> None:
    status = {
        "pods": {
            "notebook": {
                "resourceName": "jupyter-a-notebook",
                "state": EntryState.RUNNING,
                "podAddress": "10.0.0.7",
                "portNumber": 8888,
                "ready": True,
            }
        },
        "pvcs": {
            "workspace": {"resourceName": "jupyter-a-workspace", "state": "Processed", "phase": "Bound"}
        },
        "otherResources": {
            "svc": {"resourceName": "jupyter-a-svc", "state": "Error", "errorMessage": "forbidden"}
        },
        "podsProvisioned": "Completed",
        "pvcsProvisioned": "Completed",
        "otherResourcesProvisioned": {"svc": "Failed"},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "PodReady",
                "message": "ok",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "observedGeneration": 3,
            }
        ],
        "observedGeneration": 3,
        "templateGeneration": 7,
        "templateUid": "0f1e",
        "address": "10.0.0.7:8888",
    }
    parsed = InstanceStatus.model_validate(status)
    assert parsed.pods is not None
    assert parsed.pods["notebook"].port_number == 8888
    assert to_dict(parsed) == status


def test_status_tolerates_unknown_fields_and_original_values() -> None:
    parsed = InstanceStatus.model_validate({"podsProvisioned": "Partially Processed", "somethingOld": 1})
    assert parsed.pods_provisioned == ProvisioningState.PARTIALLY_PROCESSED
    with pytest.raises(ValidationError):
        InstanceStatus.model_validate({"conditions": [{"type": "Ready", "status": "yes"}]})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"pods": [{"name": "nb", "spec": {}}, {"name": "nb", "spec": {}}]},
            'duplicate entry name "nb": pods[nb] and pods[nb]',
        ),
        (
            {"pvcs": [{"name": "home", "spec": {}}], "pods": [{"name": "home", "spec": {}}]},
            'duplicate entry name "home": pvcs[home] and pods[home]',
        ),
        (
            {
                "pods": [{"name": "a", "spec": {}}],
                "otherResources": [{"name": "a", "apiVersion": "v1", "kind": "X"}],
            },
            'duplicate entry name "a": pods[a] and otherResources[a]',
        ),
    ],
)
def test_duplicate_entry_names(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        TemplateSpec.model_validate(spec)
    assert message in str(info.value)
    assert "must be unique across pods, pvcs and otherResources" in str(info.value)


@pytest.mark.parametrize("name", ["", "Notebook", "nb_1", "-nb", "nb-", "a.b", "{user}", "x" * 64])
def test_entry_names_are_dns_labels(name: str) -> None:
    with pytest.raises(ValidationError, match="name"):
        TemplateSpec.model_validate({"pods": [{"name": name, "spec": {}}]})


def test_other_resources_body_and_unknown_fields() -> None:
    spec = TemplateSpec.model_validate(
        {
            "otherResources": [
                {"name": "cm", "apiVersion": "v1", "kind": "ConfigMap", "body": {"data": {"a": "b"}}}
            ]
        }
    )
    assert spec.other_resources[0].body == {"data": {"a": "b"}}
    with pytest.raises(ValidationError, match="body must not contain kind, metadata"):
        TemplateSpec.model_validate(
            {
                "otherResources": [
                    {"name": "cm", "apiVersion": "v1", "kind": "X", "body": {"metadata": {}, "kind": "Y"}}
                ]
            }
        )
    with pytest.raises(ValidationError, match="condtion"):  # typos are caught, not silently dropped
        TemplateSpec.model_validate({"pods": [{"name": "nb", "condtion": "x", "spec": {}}]})


def test_instance_variables_from_and_validation() -> None:
    i = JupyterNotebookInstance.model_validate(
        {
            "metadata": {"name": "x", "namespace": "n", "uid": "u", "ownerReferences": [{"kind": "Y"}]},
            "spec": {"template": {"name": "t"}, "variablesFrom": [{"secretRef": {"name": "s"}}]},
        }
    )
    assert i.spec.variables_from[0].secret_ref.name == "s"
    assert to_dict(i)["metadata"]["ownerReferences"] == [{"kind": "Y"}]  # other metadata is kept
    with pytest.raises(ValidationError):
        parse_instance({"spec": {"template": {"name": "t"}, "variables": {"n": 1}}})  # values are strings
    with pytest.raises(ValidationError):
        parse_instance({"spec": {"template": {}}})


def test_set_condition_changes_transition_time_only_on_status_change() -> None:
    c1 = set_condition(
        None, "Ready", "False", reason="Pending", message="m1", now="t1", observed_generation=1
    )
    assert c1 == [
        Condition(
            type="Ready",
            status="False",
            reason="Pending",
            message="m1",
            last_transition_time="t1",
            observed_generation=1,
        )
    ]
    c2 = set_condition(c1, "Ready", "False", reason="Still", message="m2", now="t2", observed_generation=2)
    assert (c2[0].last_transition_time, c2[0].reason, c2[0].observed_generation) == ("t1", "Still", 2)
    c3 = set_condition(c2, "Ready", "True", reason="PodReady", message="ok", now="t3")
    assert c3[0].last_transition_time == "t3"
    c4 = set_condition(c3, "Failed", "False", reason="NoError", message="", now="t4")
    assert [c.type for c in c4] == ["Ready", "Failed"]
    assert c3[0].status == "True"
    assert c1[0].status == "False"
