"""The pure planning layer: what to create next and what the status says."""

from __future__ import annotations

from typing import Any

from jupyternetes.core.models import parse_instance, parse_template, to_dict
from jupyternetes.core.planning import (
    Observed,
    StatusInput,
    blocking_stale_child,
    compute_status,
    created_entries,
    creations,
    merge_patch,
    pod_activity,
)
from jupyternetes.core.rendering import RenderPlan, owner_reference, render_instance

NOW = "2026-11-25T00:00:00Z"


def _plan(seed_template: dict[str, Any], seed_instance: dict[str, Any]) -> RenderPlan:
    inst = {**seed_instance, "metadata": {**seed_instance["metadata"], "uid": "u1"}}
    return render_instance(parse_template(seed_template), parse_instance(inst), owner=owner_reference(inst))


def _pod(
    name: str,
    *,
    phase: str = "Running",
    ready: bool = True,
    ip: str = "10.0.0.5",
    waiting: dict[str, str] | None = None,
    owner_uid: str = "u1",
) -> dict[str, Any]:
    statuses = [{"name": "notebook", "state": {"waiting": waiting} if waiting else {"running": {}}}]
    return {
        "metadata": {"name": name, "ownerReferences": [{"uid": owner_uid}]},
        "status": {
            "phase": phase,
            "podIP": ip,
            "containerStatuses": statuses,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def _cond(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_pvcs_first_then_pods(seed_template: dict[str, Any], seed_instance: dict[str, Any]) -> None:
    plan = _plan(seed_template, seed_instance)
    first = creations(plan, Observed(), {})
    assert [p.kind for p in first] == ["pvc"], "the pod waits until its PVC exists"
    second = creations(plan, Observed(pvcs={plan.pvcs[0].name: {"metadata": {}}}), {})
    assert [p.kind for p in second] == ["pod"]


def test_deleted_pod_is_reported_not_recreated(
    seed_template: dict[str, Any], seed_instance: dict[str, Any]
) -> None:
    plan = _plan(seed_template, seed_instance)
    pvc_name, pod_name = plan.pvcs[0].name, plan.pods[0].name
    observed = Observed(
        pvcs={pvc_name: {"metadata": {}, "status": {"phase": "Bound"}}}, pods={pod_name: _pod(pod_name)}
    )
    ready = to_dict(compute_status(StatusInput(plan=plan, observed=observed, instance_generation=1, now=NOW)))
    assert _cond(ready, "Ready")["status"] == "True"
    assert ready["address"] == "10.0.0.5:8888"
    previous = parse_instance({**seed_instance, "status": ready}).status
    assert created_entries(previous) == {"notebook": pod_name}
    gone = Observed(pvcs=observed.pvcs)
    assert creations(plan, gone, created_entries(previous)) == []
    after = to_dict(
        compute_status(
            StatusInput(plan=plan, observed=gone, instance_generation=1, now=NOW, previous=previous)
        )
    )
    assert _cond(after, "Failed")["reason"] == "PodDeleted"
    assert _cond(after, "Ready")["status"] == "False"
    assert after["pods"]["notebook"]["state"] == "Deleted"


def test_image_pull_failure_is_a_failure_with_the_kubelet_message(
    seed_template: dict[str, Any], seed_instance: dict[str, Any]
) -> None:
    plan = _plan(seed_template, seed_instance)
    pod = _pod(
        plan.pods[0].name,
        phase="Pending",
        ready=False,
        waiting={"reason": "ErrImagePull", "message": 'Failed to pull image "nope"'},
    )
    status = to_dict(
        compute_status(
            StatusInput(
                plan=plan,
                observed=Observed(pvcs={plan.pvcs[0].name: {"metadata": {}}}, pods={plan.pods[0].name: pod}),
                instance_generation=1,
                now=NOW,
            )
        )
    )
    failed = _cond(status, "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "ImagePullFailed")
    assert 'Failed to pull image "nope"' in failed["message"]
    assert status["pods"]["notebook"]["state"] == "Error"


def test_stale_child_of_an_earlier_instance_blocks_creation(
    seed_template: dict[str, Any], seed_instance: dict[str, Any]
) -> None:
    plan = _plan(seed_template, seed_instance)
    old_pod = _pod(plan.pods[0].name, owner_uid="old")
    assert blocking_stale_child(plan.pods[0], old_pod, "u1")
    assert not blocking_stale_child(plan.pods[0], _pod(plan.pods[0].name), "u1")
    # A PVC owned by an earlier instance is about to be garbage-collected: not adopted, waited for.
    assert blocking_stale_child(plan.pvcs[0], {"metadata": {"ownerReferences": [{"uid": "old"}]}}, "u1")
    # A retained PVC (no owner) is adopted, unless it is being deleted (a purge).
    assert not blocking_stale_child(plan.pvcs[0], {"metadata": {}}, "u1")
    assert blocking_stale_child(
        plan.pvcs[0], {"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"}}, "u1"
    )


def test_transition_time_only_changes_with_status(
    seed_template: dict[str, Any], seed_instance: dict[str, Any]
) -> None:
    plan = _plan(seed_template, seed_instance)
    first = to_dict(
        compute_status(StatusInput(plan=plan, observed=Observed(), instance_generation=1, now=NOW))
    )
    previous = parse_instance({**seed_instance, "status": first}).status
    again = to_dict(
        compute_status(
            StatusInput(
                plan=plan,
                observed=Observed(),
                instance_generation=1,
                now="2030-01-01T00:00:00Z",
                previous=previous,
            )
        )
    )
    assert merge_patch(first, again) is None, "an unchanged status needs no write"


def test_merge_patch_removes_vanished_keys() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 2}}) == {"b": {"d": None}}
    assert merge_patch({"l": [1, 2]}, {"l": [1]}) == {"l": [1]}
    assert merge_patch({"a": 1}, {"a": 1}) is None


def test_pod_activity_says_what_the_node_does() -> None:
    pod: dict[str, Any] = {
        "metadata": {"name": "p"},
        "spec": {
            "nodeName": "n1",
            "containers": [{"name": "nb", "image": "quay.io/jupyter/base-notebook:x"}],
        },
        "status": {"phase": "Pending"},
    }
    assert pod_activity(pod) == "scheduled to node n1, starting containers"
    pod["status"]["containerStatuses"] = [
        {
            "name": "nb",
            "image": "quay.io/jupyter/base-notebook:x",
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }
    ]
    assert pod_activity(pod) == "pulling image quay.io/jupyter/base-notebook:x and starting container nb"
    pod["status"]["containerStatuses"][0]["state"] = {
        "waiting": {"reason": "ErrImagePull", "message": "not found"}
    }
    assert pod_activity(pod) == "container nb: ErrImagePull: not found"
