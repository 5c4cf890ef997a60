"""The reconciler creates again a pod kube-scheduler left on an out-of-date verdict about its claims
(core/scheduling.py), against a fake API: only after the grace, only that version of the pod, at most
three times, and a create that fails after the delete is made by the next reconcile, never reported as a
pod deleted behind the operator's back. (The same on both clusters: tests/integration/operator/
test_status_tracking.py.)"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from jupyternetes.adapters.caches import Caches
from jupyternetes.adapters.events import EventRecorder
from jupyternetes.adapters.kube import Kube, KubeError, ResourceInfo
from jupyternetes.adapters.metrics import Metrics
from jupyternetes.adapters.reconciler import OperatorConfig, Reconciler

NS = "users"
KEY = (NS, "alice")
VERDICT = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found"

TEMPLATE: dict[str, Any] = {
    "apiVersion": "kadense.io/v1",
    "kind": "JupyterNotebookTemplate",
    "metadata": {"name": "t", "namespace": "kadense", "uid": "t1", "generation": 1},
    "spec": {
        "pvcs": [{"name": "home", "spec": {"resources": {"requests": {"storage": "1Gi"}}}}],
        "pods": [
            {
                "name": "main",
                "spec": {
                    "containers": [{"name": "nb", "image": "i"}],
                    "volumes": [
                        {"name": "home", "persistentVolumeClaim": {"claimName": "{jupyternetes.pvcs.home}"}}
                    ],
                },
            }
        ],
    },
}

INSTANCE: dict[str, Any] = {
    "apiVersion": "kadense.io/v1",
    "kind": "JupyterNotebookInstance",
    "metadata": {"name": "alice", "namespace": NS, "uid": "u1", "generation": 1, "resourceVersion": "5"},
    "spec": {"template": {"name": "t", "namespace": "kadense"}},
    "status": {
        "pods": {"main": {"resourceName": "alice-main", "state": "Pending"}},
        "pvcs": {"home": {"resourceName": "alice-home", "state": "Processed"}},
        "templateUid": "t1",
        "templateGeneration": 1,
    },
}


def _pod(uid: str = "p1", message: str = VERDICT) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "alice-main",
            "namespace": NS,
            "uid": uid,
            "resourceVersion": "20",
            "ownerReferences": [{"uid": "u1"}],
        },
        "spec": {
            "containers": [{"name": "nb", "image": "i"}],
            "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": "alice-home"}}],
        },
        "status": {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
            ],
        },
    }


def _claim(phase: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "alice-home", "namespace": NS, "uid": "c1", "resourceVersion": "10"},
        "status": {"phase": phase},
    }


class FakeKube:
    """Records deletions, creations and status patches; ``delete_answers``/``create_answers``: errors to
    raise on the next pod deletions/creations (None: succeed)."""

    def __init__(self) -> None:
        self.deleted: list[tuple[str, dict[str, Any]]] = []
        self.created: list[dict[str, Any]] = []
        self.status_patches: list[Any] = []
        self.delete_answers: list[KubeError | None] = []
        self.create_answers: list[KubeError | None] = []

    async def resource(self, api_version: str, kind: str) -> ResourceInfo:
        return ResourceInfo(api_version, kind, kind.lower() + "s", True)

    async def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        raise KubeError(404, "NotFound", f"{kind} {name} not found")

    async def delete(self, api_version: str, kind: str, namespace: str | None, name: str, **kw: Any) -> Any:
        answer = self.delete_answers.pop(0) if self.delete_answers else None
        if answer is not None:
            raise answer
        self.deleted.append((name, kw))
        return {}

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        if obj["kind"] == "Pod":
            answer = self.create_answers.pop(0) if self.create_answers else None
            if answer is not None:
                raise answer
        self.created.append(obj)
        meta = {
            **obj["metadata"],
            "uid": f"new-{len(self.created)}",
            "resourceVersion": str(30 + len(self.created)),
        }
        return {**obj, "metadata": meta}

    async def patch(
        self, api_version: str, kind: str, namespace: str | None, name: str, patch: Any, **_: Any
    ) -> Any:
        self.status_patches.append(patch)
        return copy.deepcopy(INSTANCE)


def _reconciler(kube: FakeKube, claim_phase: str = "Bound", pod: dict[str, Any] | None = None) -> Reconciler:
    caches = Caches()
    caches.templates.upsert(copy.deepcopy(TEMPLATE))
    caches.instances.upsert(copy.deepcopy(INSTANCE))
    caches.pvcs.upsert(_claim(claim_phase))
    caches.pods.upsert(pod or _pod())
    fake: Any = kube
    real: Kube = fake
    config = OperatorConfig(operator_namespace="kadense")
    return Reconciler(real, caches, config, metrics=Metrics(), events=EventRecorder(real))


def _pods_created(kube: FakeKube) -> list[str]:
    return [o["metadata"]["name"] for o in kube.created if o["kind"] == "Pod"]


def _events(kube: FakeKube) -> list[str]:
    return [o["reason"] for o in kube.created if o["kind"] == "Event"]


def _past_the_grace(r: Reconciler) -> None:
    mem = r._memory[KEY]
    for uid in mem.stuck_pods:
        mem.stuck_pods[uid] = time.monotonic() - r.STUCK_POD_GRACE - 1


async def test_created_again_once_the_verdict_outlives_the_grace() -> None:
    kube = FakeKube()
    r = _reconciler(kube)
    await r.reconcile(KEY)
    assert kube.deleted == [], "not within the grace: the scheduler may still act on an event"
    assert KEY in r._timers, "a reconcile is set for when the grace is over (no event may come)"
    _past_the_grace(r)
    await r.reconcile(KEY)
    await r.events.flush()
    assert kube.deleted == [("alice-main", {"uid": "p1", "resource_version": "20"})]
    assert _pods_created(kube) == ["alice-main"]
    assert _events(kube) == ["PodRecreated"]
    assert (r.caches.pods.get(NS, "alice-main") or {})["metadata"]["uid"] == "new-1"
    # A late event of the deleted pod does not replace the new one in the cache.
    r.caches.pods.upsert(_pod())
    assert (r.caches.pods.get(NS, "alice-main") or {})["metadata"]["uid"] == "new-1"


@pytest.mark.parametrize("phase", ["Pending", "Lost"])
async def test_not_while_a_claim_is_not_bound(phase: str) -> None:
    kube = FakeKube()
    r = _reconciler(kube, claim_phase=phase)
    await r.reconcile(KEY)
    assert r._memory[KEY].stuck_pods == {}
    await r.reconcile(KEY)
    assert (kube.deleted, _pods_created(kube)) == ([], [])


async def test_not_for_a_verdict_about_anything_else() -> None:
    kube = FakeKube()
    r = _reconciler(kube, pod=_pod(message="0/1 nodes are available: 1 Insufficient cpu."))
    await r.reconcile(KEY)
    assert r._memory[KEY].stuck_pods == {}
    assert (kube.deleted, _pods_created(kube)) == ([], [])


async def test_a_pod_changed_meanwhile_is_left_alone() -> None:
    kube = FakeKube()
    r = _reconciler(kube)
    await r.reconcile(KEY)
    _past_the_grace(r)
    kube.delete_answers = [KubeError(409, "Conflict", "the ResourceVersion in the precondition ...")]
    await r.reconcile(KEY)
    assert _pods_created(kube) == []
    assert r._memory[KEY].pods_recreated == 0, "not counted: nothing was done"


async def test_a_create_that_fails_after_the_delete_is_made_by_the_next_reconcile() -> None:
    kube = FakeKube()
    r = _reconciler(kube)
    await r.reconcile(KEY)
    _past_the_grace(r)
    kube.create_answers = [KubeError(503, "ServiceUnavailable", "etcd leader changed")]
    with pytest.raises(KubeError):
        await r.reconcile(KEY)  # the worker retries it with back-off
    assert [d[0] for d in kube.deleted] == ["alice-main"]
    assert r.caches.pods.get(NS, "alice-main") is None
    await r.reconcile(KEY)
    assert _pods_created(kube) == ["alice-main"]
    written = str(kube.status_patches)
    assert "PodDeleted" not in written, "a pod being created again is not one deleted behind our back"


async def test_at_most_three_times_per_instance() -> None:
    kube = FakeKube()
    r = _reconciler(kube)
    for _ in range(5):
        await r.reconcile(KEY)
        _past_the_grace(r)
        await r.reconcile(KEY)
        current = r.caches.pods.get(NS, "alice-main") or {}
        r.caches.pods.upsert(_pod(uid=current["metadata"]["uid"]) | {"metadata": current["metadata"]})
    assert _pods_created(kube) == ["alice-main"] * 3
