"""The status stays true: what happens to a pod behind the operator's back shows up within a second."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kopf.testing import KopfRunner

from tests.conftest import wait_until
from tests.integration.operator.conftest import Env


def _template(env: Env, image: str = "jupyter/base:1", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookTemplate",
        "metadata": {"name": "t", "namespace": env.tns},
        "spec": {
            "pods": [
                {
                    "name": "main",
                    "annotations": annotations,
                    "spec": {
                        "containers": [{"name": "nb", "image": image, "ports": [{"containerPort": 9999}]}],
                    },
                }
            ]
        },
    }


def _instance(env: Env, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": name, "namespace": env.ns},
        "spec": {"template": {"name": "t", "namespace": env.tns}},
    }


@pytest.fixture
def users(env: Env, operator: KopfRunner) -> Env:
    return env


def _failed_within(env: Env, name: str, seconds: float) -> dict[str, Any]:
    start = time.monotonic()
    cond: dict[str, Any] = wait_until(
        lambda: (c := env.condition(env.ns, name, "Failed")) and c["status"] == "True" and c,
        10,
        message=f"{name} Failed",
    )
    elapsed = time.monotonic() - start
    assert elapsed < seconds, f"the status took {elapsed:.2f}s to show the failure"
    return cond


def test_pod_deleted_behind_the_operators_back(users: Env) -> None:
    users.create_template(_template(users))
    users.create_instance(_instance(users, "gone"))
    wait_until(lambda: users.is_true(users.ns, "gone", "Ready"), 10, message="Ready")
    status = (users.instance(users.ns, "gone") or {})["status"]
    assert status["pods"]["main"]["portNumber"] == 9999, "the first declared port when none is named http"
    users.core.delete_namespaced_pod("gone-main", users.ns, grace_period_seconds=0)
    cond = _failed_within(users, "gone", 1.0)
    assert cond["reason"] == "PodDeleted"
    assert not users.is_true(users.ns, "gone", "Ready")
    wait_until(lambda: users.pod(users.ns, "gone-main") is None, 10, message="pod gone")
    assert users.pod(users.ns, "gone-main") is None, "a deleted notebook pod is reported, not resurrected"


def test_image_pull_failure_carries_the_kubelets_message(users: Env) -> None:
    users.create_template(_template(users, image="registry.example/doesnotexist:1"))
    users.create_instance(_instance(users, "pull"))
    cond = _failed_within(users, "pull", 5.0)
    assert cond["reason"] == "ImagePullFailed", cond
    assert "doesnotexist" in cond["message"], cond
    pod = (users.instance(users.ns, "pull") or {})["status"]["pods"]["main"]
    assert pod["state"] == "Error"
    assert "ErrImagePull" in pod["errorMessage"] or "ImagePullBackOff" in pod["errorMessage"]
    # Events are posted by the operator's recorder after the status write, not with it.
    wait_until(
        lambda: any(e.reason == "ImagePullFailed" for e in users.events(users.ns, "pull")),
        10,
        message="an ImagePullFailed event",
    )


def test_failed_container_is_reported(users: Env) -> None:
    template = _template(users, **{"kubesim.io/fake-exit-code": "3", "kubesim.io/fake-run-seconds": "0"})
    template["spec"]["pods"][0]["spec"]["restartPolicy"] = "Never"
    users.create_template(template)
    users.create_instance(_instance(users, "crash"))
    cond = wait_until(
        lambda: (c := users.condition(users.ns, "crash", "Failed")) and c["status"] == "True" and c,
        10,
        message="Failed",
    )
    assert cond["reason"] == "PodFailed", cond
    assert "exited with code 3" in cond["message"], cond


def test_a_pod_left_on_an_out_of_date_verdict_about_its_claims_is_created_again(users: Env) -> None:
    """kube-scheduler can leave a pod unscheduled on "unbound immediate PersistentVolumeClaims" after its
    claim is bound (core/scheduling.py), for five minutes. Here no scheduler looks at the pod (a
    schedulerName nobody serves), and the test writes that verdict itself, as the scheduler would have,
    once the claim is bound: the operator creates the pod again, says so, and the server has not failed."""
    template = _template(users)
    template["spec"]["pvcs"] = [
        {
            "name": "work",
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
    ]
    pod_spec = template["spec"]["pods"][0]["spec"]
    pod_spec["schedulerName"] = "nobody-schedules-this"
    pod_spec["volumes"] = [
        {"name": "work", "persistentVolumeClaim": {"claimName": "{jupyternetes.pvcs.work}"}}
    ]
    users.create_template(template)
    users.create_instance(_instance(users, "parked"))
    claim = wait_until(
        lambda: (pvc := users.pvc(users.ns, "parked-work")) and pvc.status.phase == "Bound" and pvc,
        30,
        message="the claim Bound",
    )
    first = wait_until(lambda: users.pod(users.ns, "parked-main"), 10, message="the pod created")
    assert first.spec.volumes[0].persistent_volume_claim.claim_name == claim.metadata.name
    verdict = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found"
    users.core.patch_namespaced_pod_status(
        "parked-main",
        users.ns,
        {
            "status": {
                "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": verdict}
                ]
            }
        },
    )
    second = wait_until(
        lambda: (
            (pod := users.pod(users.ns, "parked-main")) and pod.metadata.uid != first.metadata.uid and pod
        ),
        15,
        message="the pod created again",
    )
    assert second.spec.scheduler_name == "nobody-schedules-this", "the same pod, from the same template"
    assert (second.status.conditions or []) == [], "a new pod, not yet looked at by any scheduler"
    # Events are posted in the background: the one that says why arrives a moment after the pod.
    recreated = wait_until(
        lambda: [e for e in users.events(users.ns, "parked") if e.reason == "PodRecreated"],
        10,
        message="the PodRecreated Event",
    )
    assert len(recreated) == 1, recreated
    assert "parked-main" in recreated[0].message
    assert "unbound immediate" in recreated[0].message
    failed = users.condition(users.ns, "parked", "Failed")
    assert failed is not None
    assert failed["status"] == "False", failed
    status = (users.instance(users.ns, "parked") or {})["status"]
    assert status["pods"]["main"]["state"] != "Deleted", status["pods"]
