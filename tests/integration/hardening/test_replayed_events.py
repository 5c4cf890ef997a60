"""Out-of-order and replayed events: an instance deleted and re-created under the same name while its
old pod still terminates ends with exactly one pod, of the new instance (issue 7, item 3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.hardening.harness import (
    INSTANCES,
    PODS,
    Env,
    OperatorProcess,
    audit_children,
    hardening_template,
    instance_body,
    is_ready,
    wait_until,
)
from tests.integration.hardening.scenarios import FailureLog

HOLD = "hardening.test/hold"


@pytest.fixture
def running(henv: Env, tmp_path: Path) -> Iterator[OperatorProcess]:
    henv.create_template(hardening_template(henv))
    op = OperatorProcess(henv, tmp_path)
    op.start()
    yield op
    henv.faults.clear()
    assert op.alive, op.log_tail()
    assert op.stop() == 0, op.log_tail()


def _pods_of(env: Env, name: str) -> list[dict[str, Any]]:
    return [
        p
        for p in env.objects(PODS, env.users_ns)
        if (p["metadata"].get("labels") or {}).get("jupyternetes.kadense.io/instance") == name
    ]


def _owner(pod: dict[str, Any]) -> str:
    return str(pod["metadata"]["ownerReferences"][0]["uid"])


def test_recreated_while_the_old_pod_terminates(henv: Env, running: OperatorProcess) -> None:
    failures = FailureLog()
    failures.install(henv)
    env = henv
    env.admin.create_instance(instance_body(env, "same"))
    wait_until(lambda: is_ready(env.instance("same")), 30, what=running.log_tail)
    old_uid = (env.instance("same") or {})["metadata"]["uid"]
    # A finalizer holds the old pod in Terminating for as long as the test wants (a long grace period
    # would do the same with a real kubelet).
    pod_path = f"/api/v1/namespaces/{env.users_ns}/pods/same-notebook"
    env.admin.request(
        "PATCH",
        pod_path,
        {"metadata": {"finalizers": [HOLD]}},
        content_type="application/merge-patch+json",
    )
    # Replays on top: every stream cut after a second, the next resume of each kind answered 410.
    env.faults.cut_watches(after_seconds=1.0)
    for resource in ("jupyternotebookinstances", "pods", "persistentvolumeclaims"):
        env.faults.expire_watches(resource, 1)
    env.admin.delete_instance(env.users_ns, "same")
    wait_until(lambda: env.instance("same") is None, 10, what="old instance gone")
    wait_until(
        lambda: all(p["metadata"].get("deletionTimestamp") for p in _pods_of(env, "same")),
        10,
        what="old pod terminating",
    )
    new_uid = env.admin.create_instance(instance_body(env, "same"))["metadata"]["uid"]
    assert new_uid != old_uid
    # The new instance is seen and waits: its status says so, and the old pod is the only one.
    wait_until(lambda: (env.instance("same") or {}).get("status", {}).get("pods"), 10, what="a status")
    pods = _pods_of(env, "same")
    assert [(p["metadata"]["name"], _owner(p)) for p in pods] == [("same-notebook", old_uid)]
    status = (env.instance("same") or {})["status"]
    assert status["pods"]["notebook"]["state"] == "Pending", status
    assert "previous" in status["pods"]["notebook"].get("message", ""), status
    # The old pod goes: the new instance gets its own.
    env.admin.request(
        "PATCH",
        pod_path,
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    wait_until(lambda: is_ready(env.instance("same")), 30, what=running.log_tail)
    pods = _pods_of(env, "same")
    assert [(p["metadata"]["name"], _owner(p)) for p in pods] == [("same-notebook", new_uid)]
    assert audit_children(env, ["same"]) == []
    assert [f for f in failures.seen if f[0] == "same"] == [], "the new instance never reported Failed"


def test_rapid_delete_and_recreate_cycles(henv: Env, running: OperatorProcess) -> None:
    """The same name deleted and re-created ten times in quick succession, with watch streams cut and
    resumed meanwhile: events of ten uids interleave; one pod remains, of the last instance."""
    env = henv
    env.faults.cut_watches(after_seconds=0.7)
    uid = ""
    for i in range(10):
        if i:
            env.admin.delete_instance(env.users_ns, "cycle")
            wait_until(lambda: env.instance("cycle") is None, 10, what="deleted")
        uid = env.admin.create_instance(instance_body(env, "cycle"))["metadata"]["uid"]
        if i % 3 == 0:
            wait_until(lambda: _pods_of(env, "cycle"), 10, what="a pod")
    wait_until(lambda: is_ready(env.instance("cycle")), 60, what=running.log_tail)
    wait_until(
        lambda: [_owner(p) for p in _pods_of(env, "cycle")] == [uid],
        30,
        what=lambda: f"one pod of {uid}: {[_owner(p) for p in _pods_of(env, 'cycle')]}",
    )
    assert audit_children(env, ["cycle"]) == [], (
        (env.instance("cycle") or {}).get("status"),
        running.log_tail(),
    )
    assert len(env.objects(INSTANCES, env.users_ns)) == 1
