"""Other resources the operator watches: naming their kinds (``plural[.group]``, as RBAC does) and which
deleted ones are created again (pure logic)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from jupyternetes.core.models import InstanceStatus, OtherResourceStatus, parse_instance, parse_template
from jupyternetes.core.planning import (
    Observed,
    created_entries,
    creations,
    is_recreation,
    restorable_others,
)
from jupyternetes.core.rendering import RenderPlan, owner_reference, render_instance
from jupyternetes.core.resources import GroupResource, api_group, parse_group_resource


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services", GroupResource("", "services")),
        ("configmaps", GroupResource("", "configmaps")),
        ("networkpolicies.networking.k8s.io", GroupResource("networking.k8s.io", "networkpolicies")),
        ("roles.rbac.authorization.k8s.io", GroupResource("rbac.authorization.k8s.io", "roles")),
        ("widgets.example.com", GroupResource("example.com", "widgets")),
    ],
)
def test_kinds_are_named_as_rbac_names_them(text: str, expected: GroupResource) -> None:
    assert parse_group_resource(text) == expected
    assert str(expected) == text, "and printed back the same way (the chart's flags, the log)"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "is not a resource"),
        ("*", "no wildcards"),
        ("Services", "lowercase plural"),
        ("services/status", "subresources"),
        ("networkpolicies.Networking.k8s.io", "not an API group"),
        ("networkpolicies.v1.networking.k8s.io", "without a version"),
        ("deployments.v1beta1.apps", "without a version"),
        ("pods", "own children"),
        ("persistentvolumeclaims", "a deleted pod is reported"),
    ],
)
def test_what_is_not_a_watchable_kind_is_refused_with_the_reason(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        parse_group_resource(text)


def test_pods_of_another_group_are_just_another_kind() -> None:
    assert parse_group_resource("pods.metrics.k8s.io") == GroupResource("metrics.k8s.io", "pods")


@pytest.mark.parametrize(
    ("api_version", "group"),
    [("v1", ""), ("networking.k8s.io/v1", "networking.k8s.io"), ("example.com/v1beta2", "example.com")],
)
def test_api_group(api_version: str, group: str) -> None:
    assert api_group(api_version) == group


TEMPLATE: dict[str, Any] = {
    "apiVersion": "kadense.io/v1",
    "kind": "JupyterNotebookTemplate",
    "metadata": {"name": "t", "namespace": "kadense"},
    "spec": {
        "pods": [{"name": "main", "spec": {"containers": [{"name": "nb", "image": "i"}]}}],
        "otherResources": [
            {
                "name": "svc",
                "apiVersion": "v1",
                "kind": "Service",
                "body": {"spec": {"ports": [{"port": 80}]}},
            },
            {"name": "settings", "apiVersion": "v1", "kind": "ConfigMap", "body": {"data": {"a": "b"}}},
        ],
    },
}
INSTANCE: dict[str, Any] = {
    "apiVersion": "kadense.io/v1",
    "kind": "JupyterNotebookInstance",
    "metadata": {"name": "alice", "namespace": "users", "uid": "u1"},
    "spec": {"template": {"name": "t", "namespace": "kadense"}},
}


def _plan() -> RenderPlan:
    return render_instance(
        parse_template(TEMPLATE), parse_instance(INSTANCE), owner=owner_reference(INSTANCE)
    )


def _provisioned(plan: RenderPlan, template_uid: str = "t1", template_generation: int = 3) -> InstanceStatus:
    """The status of an instance whose pod and other resources were all created."""
    return InstanceStatus.model_validate(
        {
            "pods": {"main": {"resourceName": plan.pods[0].name, "state": "Running"}},
            "otherResources": {
                o.entry: OtherResourceStatus(resource_name=o.name, state="Processed").model_dump(
                    by_alias=True
                )
                for o in plan.others
            },
            "templateUid": template_uid,
            "templateGeneration": template_generation,
        }
    )


def _existing(plan: RenderPlan, *missing: str) -> Observed:
    """Every child exists but the other resources of the ``missing`` entries."""
    return Observed(
        pods={plan.pods[0].name: {"metadata": {}}},
        others={o.name: {"metadata": {}} for o in plan.others if o.entry not in missing},
    )


def test_a_deleted_other_resource_is_created_again_only_if_restorable() -> None:
    plan = _plan()
    created = created_entries(_provisioned(plan))
    observed = _existing(plan, "settings")
    assert creations(plan, observed, created) == [], "not watched: created once"
    (again,) = creations(plan, observed, created, restorable={"svc", "settings"})
    assert (again.entry, again.name) == ("settings", "alice-settings"), "the same deterministic name"
    assert again.manifest["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert is_recreation(again, created)
    assert not is_recreation(again, {}), "a first creation"


def test_a_deleted_pod_is_never_created_again() -> None:
    plan = _plan()
    created = created_entries(_provisioned(plan))
    observed = Observed(others={o.name: {"metadata": {}} for o in plan.others})
    assert creations(plan, observed, created, restorable={"svc", "settings", "main"}) == []


def test_an_object_of_an_earlier_instance_is_waited_for_not_replaced() -> None:
    plan = _plan()
    created = created_entries(_provisioned(plan))
    observed = Observed(
        pods={plan.pods[0].name: {"metadata": {}}},
        others={"alice-svc": {"metadata": {}}},
        stale={"alice-settings": {"metadata": {"ownerReferences": [{"uid": "old"}]}}},
    )
    assert creations(plan, observed, created, restorable={"settings"}) == []


def test_restorable_are_the_watched_entries_of_the_provisioned_template_version() -> None:
    plan = _plan()
    status = _provisioned(plan, "t1", 3)
    assert restorable_others(plan, {"settings"}, status, "t1", 3) == {"settings"}
    assert restorable_others(plan, {"settings", "svc"}, status, "t1", 3) == {"settings", "svc"}
    assert restorable_others(plan, set(), status, "t1", 3) == set()
    # Rendered again (a restart) from a template edited since: what was deleted is not what the plan says.
    assert restorable_others(plan, {"settings"}, status, "t1", 4) == set()
    assert restorable_others(plan, {"settings"}, status, "t2", 3) == set()
    # Nothing recorded yet (a first reconcile): nothing to compare with.
    assert restorable_others(plan, {"settings"}, None, "t1", 3) == {"settings"}
