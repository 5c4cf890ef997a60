"""When kube-scheduler's verdict on one of our pods is out of date (core/scheduling.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from jupyternetes.core.scheduling import stale_claim_verdict

UNBOUND = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found"
NOT_FOUND = '0/1 nodes are available: persistentvolumeclaim "alice-home" not found. preemption: not found'


def _pod(message: str = UNBOUND, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "alice-main", "namespace": "users", "uid": "p1"},
        "spec": {
            "containers": [{"name": "nb", "image": "x"}],
            "volumes": [
                {"name": "home", "persistentVolumeClaim": {"claimName": "alice-home"}},
                {"name": "scratch", "emptyDir": {}},
            ],
            **spec,
        },
        "status": {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
            ],
        },
    }


def _claim(phase: str = "Bound", **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": "alice-home", **meta}, "status": {"phase": phase}}


@pytest.mark.parametrize("message", [UNBOUND, NOT_FOUND])
def test_a_verdict_about_claims_that_are_now_bound_is_stale(message: str) -> None:
    assert stale_claim_verdict(_pod(message), {"alice-home": _claim()}) == message


def test_a_claim_still_pending_justifies_the_verdict() -> None:
    # An Immediate claim being provisioned, or a WaitForFirstConsumer one (bound only after scheduling).
    assert stale_claim_verdict(_pod(), {"alice-home": _claim("Pending")}) is None


def test_a_claim_missing_or_being_deleted_justifies_the_verdict() -> None:
    assert stale_claim_verdict(_pod(NOT_FOUND), {}) is None
    assert stale_claim_verdict(_pod(NOT_FOUND), {"alice-home": None}) is None
    deleting = _claim(deletionTimestamp="2026-01-01T00:00:00Z")
    assert stale_claim_verdict(_pod(), {"alice-home": deleting}) is None


def test_every_claim_the_pod_mounts_must_be_bound() -> None:
    pod = _pod()
    pod["spec"]["volumes"].append({"name": "data", "persistentVolumeClaim": {"claimName": "shared-data"}})
    bound = {"alice-home": _claim(), "shared-data": _claim()}
    assert stale_claim_verdict(pod, bound) == UNBOUND
    assert stale_claim_verdict(pod, {**bound, "shared-data": _claim("Pending")}) is None


@pytest.mark.parametrize(
    "message",
    [
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available",
        "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: gpu}",
        "",
    ],
)
def test_other_verdicts_are_the_schedulers_to_keep(message: str) -> None:
    assert stale_claim_verdict(_pod(message), {"alice-home": _claim()}) is None


def test_only_an_unscheduled_pod_with_an_unschedulable_verdict() -> None:
    claims = {"alice-home": _claim()}
    assert stale_claim_verdict(None, claims) is None
    assert stale_claim_verdict(_pod(nodeName="node-1"), claims) is None
    deleting = _pod()
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert stale_claim_verdict(deleting, claims) is None
    for condition in (
        {"type": "PodScheduled", "status": "True"},
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated", "message": UNBOUND},
    ):
        pod = copy.deepcopy(_pod())
        pod["status"]["conditions"] = [condition]
        assert stale_claim_verdict(pod, claims) is None
    fresh = _pod()
    del fresh["status"]
    assert stale_claim_verdict(fresh, claims) is None


def test_a_pod_without_claims_is_not_about_claims() -> None:
    pod = _pod()
    pod["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    assert stale_claim_verdict(pod, {}) is None
