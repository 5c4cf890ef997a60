"""Unit checks of the adapters' defences added by the hardening work (issue 7): cache pruning after a
relist, events of two objects of one name arriving out of order, names that are not path segments, and
subPath traversal."""

from __future__ import annotations

from typing import Any

import pytest

from jupyternetes.adapters import objectvalidation
from jupyternetes.adapters.caches import ObjectCache
from jupyternetes.adapters.kube import KubeError, ResourceInfo, path_segment


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
