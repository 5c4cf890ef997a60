"""Unit checks of what the hardening work (issue 7) changed in the adapters: cache pruning after a relist,
events of two objects of one name arriving out of order, names that are not path segments, subPath
traversal, the reconcile queue's urgent lane and the state gauge."""

from __future__ import annotations

from typing import Any, cast

import pytest

from jupyternetes.adapters import objectvalidation
from jupyternetes.adapters.caches import Caches, ObjectCache
from jupyternetes.adapters.events import EventRecorder
from jupyternetes.adapters.kube import Kube, KubeError, ResourceInfo, path_segment
from jupyternetes.adapters.metrics import Metrics
from jupyternetes.adapters.reconciler import OperatorConfig, Reconciler


def _obj(name: str, uid: str, rv: int, ns: str = "users") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "uid": uid, "resourceVersion": str(rv)}}


def test_out_of_order_events_of_two_objects_of_one_name() -> None:
    cache = ObjectCache()
    cache.upsert(_obj("a", "old", 5))
    cache.upsert(_obj("a", "new", 9))  # re-created under the same name
    cache.remove(_obj("a", "old", 7))  # the old one's DELETED arrives late: the new one stays
    assert (cache.get("users", "a") or {})["metadata"]["uid"] == "new"
    cache.upsert(_obj("a", "new", 8))  # a replayed older version of the new one is ignored
    assert (cache.get("users", "a") or {})["metadata"]["resourceVersion"] == "9"
    # A late MODIFIED of the old one (written before it was deleted) does not replace the new one either:
    # the operator stores a pod it creates again from the create's answer, ahead of the old pod's events.
    cache.upsert(_obj("a", "old", 6))
    assert (cache.get("users", "a") or {})["metadata"]["uid"] == "new"
    cache.upsert(_obj("a", "newest", 12))  # a later object of the name does
    assert (cache.get("users", "a") or {})["metadata"]["uid"] == "newest"


def test_prune_drops_what_a_listing_missed_but_keeps_newer_writes() -> None:
    cache = ObjectCache()
    for name in ("kept", "gone", "other-ns"):
        cache.upsert(_obj(name, name, 1, ns="elsewhere" if name == "other-ns" else "users"))
    since = cache.clock
    cache.upsert(_obj("created-meanwhile", "c", 2))  # written after the listing began
    dropped = cache.prune({("users", "kept")}, since, namespace="users")
    assert [o["metadata"]["name"] for o in dropped] == ["gone"]
    assert cache.get("users", "created-meanwhile") is not None
    assert cache.get("elsewhere", "other-ns") is not None  # another namespace's listing says nothing of it
    assert len(cache.prune(set(), cache.clock, None)) == 3  # an empty cluster-wide listing: all gone
    assert len(cache) == 0


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x", "a%2Fb"])
def test_names_that_are_not_path_segments_are_refused(name: str) -> None:
    with pytest.raises(KubeError) as info:
        path_segment(name)
    assert info.value.status == 400
    secrets = ResourceInfo("v1", "Secret", "secrets", True)
    with pytest.raises(KubeError):
        secrets.path("users", name or "..")
    with pytest.raises(KubeError):
        secrets.path(name or "..", "token")
    assert secrets.path("users", "token") == "/api/v1/namespaces/users/secrets/token"


@pytest.mark.parametrize(
    ("sub", "ok"),
    [("work", True), ("a/b", True), ("a..b", True), ("../x", False), ("/etc", False), ("a/../../b", False)],
)
def test_subpath_must_stay_in_the_volume(sub: str, ok: bool) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "volumeMounts": [{"name": "v", "mountPath": "/m", "subPath": sub}],
                }
            ],
            "volumes": [{"name": "v", "emptyDir": {}}],
        },
    }
    problems = objectvalidation.validate(pod)
    assert (not problems) == ok, problems
    if not ok:
        assert "volumeMounts[0].subPath" in problems[0]


def _reconciler() -> Reconciler:
    kube = cast(Kube, None)  # never called: these tests touch only the queue and the state gauge
    return Reconciler(kube, Caches(), OperatorConfig(), metrics=Metrics(), events=EventRecorder(kube))


async def test_children_changes_go_ahead_of_new_work() -> None:
    r = _reconciler()
    for i in range(3):
        r.enqueue(("users", f"new-{i}"))
    r.enqueue(("users", "new-2"), urgent=True)  # queued normal, then a child changed: moves up
    r.enqueue(("users", "pod-changed"), urgent=True)
    r.enqueue(("users", "new-0"))  # already queued: once
    order = [await r._next() for _ in range(4)]
    assert order == [("users", "new-2"), ("users", "pod-changed"), ("users", "new-0"), ("users", "new-1")]
    assert not r._queued


async def test_a_reconcile_run_now_supersedes_a_pending_retry() -> None:
    """A retry timer whose reconcile ran early is cancelled, not only forgotten: forget() and stop() can
    cancel only the timers they know of, and a stray one would queue the instance again later (with a
    longer back-off piled on each time it failed)."""
    r = _reconciler()
    key = ("users", "retried")
    r.enqueue(key, 0.05)
    (timer,) = r._timers.values()
    r.enqueue(key)  # an event: reconcile now
    assert timer.cancelled()
    assert not r._timers
    assert await r._next() == key


def test_state_gauge_counts_as_states_change() -> None:
    r = _reconciler()

    def gauge(state: str) -> float:
        value = r.metrics.registry.get_sample_value("jupyternetes_instances", {"state": state})
        return float(value or 0)

    ready = {"conditions": [{"type": "Ready", "status": "True"}]}
    r._track_state(("users", "a"), {})
    r._track_state(("users", "b"), {})
    r._track_state(("users", "a"), ready)
    assert (gauge("Pending"), gauge("Ready")) == (1, 1)
    r.forget(("users", "a"))
    assert (gauge("Pending"), gauge("Ready")) == (1, 0)
