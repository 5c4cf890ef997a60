"""Issue 2, behaviour 7: lists (paging, selectors, resourceVersion=0) and watches (resume, bookmarks,
selector transitions, timeouts, 410 Expired)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

import kubesim

from .conformance_support import http, named, watch_events

NS = "default"
CM = f"/api/v1/namespaces/{NS}/configmaps"


@pytest.fixture
def core(client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(client)


def _cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def _names(items: list[Any]) -> list[str]:
    return sorted(i.metadata.name for i in items)


def _watch(cluster: kubesim.Cluster, query: str, path: str = CM) -> list[dict[str, Any]]:
    """The events of a watch up to a marker: a ConfigMap "zz-marker" created now, after the writes under
    test; the marker's own event is left out. (No waiting for a timeout to be sure nothing else comes.)"""
    http(cluster, "POST", CM, {"metadata": {"name": "zz-marker", "labels": {"sel": "on", "marker": "yes"}}})
    events = watch_events(cluster, f"{path}?watch=1&{query}", named("zz-marker"))
    return events[:-1]


def test_limit_and_continue(core: kubernetes.client.CoreV1Api) -> None:
    for i in range(7):
        core.create_namespaced_config_map(NS, _cm(f"cm{i}", page="yes"))
    first = core.list_namespaced_config_map(NS, label_selector="page", limit=3)
    assert _names(first.items) == ["cm0", "cm1", "cm2"]
    assert first.metadata._continue
    assert first.metadata.remaining_item_count == 4
    # Writes after the first page do not shift the pages that follow.
    core.create_namespaced_config_map(NS, _cm("cm00", page="yes"))
    second = core.list_namespaced_config_map(
        NS, label_selector="page", limit=3, _continue=first.metadata._continue
    )
    assert _names(second.items) == ["cm3", "cm4", "cm5"]
    assert second.metadata.resource_version == first.metadata.resource_version
    last = core.list_namespaced_config_map(
        NS, label_selector="page", limit=3, _continue=second.metadata._continue
    )
    assert _names(last.items) == ["cm6"]
    assert not last.metadata._continue
    assert last.metadata.remaining_item_count is None


def test_invalid_continue_token_is_400(cluster: kubesim.Cluster) -> None:
    resp = http(cluster, "GET", f"{CM}?limit=1&continue=garbage")
    assert resp.status == 400
    assert resp.json()["reason"] == "BadRequest"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["a", "b"]),
        ("tier==web", ["a", "b"]),
        ("tier!=web", ["c", "d"]),
        ("tier in (web, db)", ["a", "b", "c"]),
        ("tier notin (web)", ["c", "d"]),
        ("tier", ["a", "b", "c"]),
        ("!tier", ["d"]),
        ("tier=web,env=prod", ["a"]),
    ],
)
def test_label_selectors(core: kubernetes.client.CoreV1Api, selector: str, expected: list[str]) -> None:
    core.create_namespaced_config_map(NS, _cm("a", tier="web", env="prod"))
    core.create_namespaced_config_map(NS, _cm("b", tier="web"))
    core.create_namespaced_config_map(NS, _cm("c", tier="db"))
    core.create_namespaced_config_map(NS, _cm("d"))
    got = [
        n
        for n in _names(core.list_namespaced_config_map(NS, label_selector=selector).items)
        if n != "kube-root-ca.crt"
    ]
    assert got == expected


def test_invalid_label_selector_is_400(cluster: kubesim.Cluster) -> None:
    resp = http(cluster, "GET", f"{CM}?labelSelector=a%20in%20b")
    assert resp.status == 400
    assert resp.json()["reason"] == "BadRequest"


def test_field_selectors(core: kubernetes.client.CoreV1Api, cluster: kubesim.Cluster) -> None:
    core.create_namespace({"metadata": {"name": "other"}})
    core.create_namespaced_config_map(NS, _cm("x"))
    core.create_namespaced_config_map("other", _cm("x"))
    assert [
        c.metadata.namespace
        for c in core.list_config_map_for_all_namespaces(field_selector="metadata.name=x").items
    ] == [
        NS,
        "other",
    ]
    only = core.list_config_map_for_all_namespaces(field_selector="metadata.name=x,metadata.namespace=other")
    assert [c.metadata.namespace for c in only.items] == ["other"]
    not_x = core.list_namespaced_config_map(NS, field_selector="metadata.name!=x")
    assert "x" not in _names(not_x.items)
    # Pods: status.phase and spec.nodeName.
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    core.create_namespaced_pod(NS, {**pod, "spec": {**pod["spec"], "nodeName": "elsewhere"}})
    assert _names(core.list_namespaced_pod(NS, field_selector="spec.nodeName=elsewhere").items) == ["p"]
    assert core.list_namespaced_pod(NS, field_selector="spec.nodeName=nowhere").items == []
    phase = core.read_namespaced_pod("p", NS).status.phase
    assert _names(core.list_namespaced_pod(NS, field_selector=f"status.phase={phase}").items) == ["p"]
    # Events: involvedObject.*.
    core.create_namespaced_event(
        NS,
        {
            "metadata": {"name": "ev"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": NS, "uid": "u-1"},
            "reason": "Tested",
            "message": "m",
        },
    )
    sel = "involvedObject.kind=Pod,involvedObject.name=p,involvedObject.uid=u-1"
    assert _names(core.list_namespaced_event(NS, field_selector=sel).items) == ["ev"]
    assert core.list_namespaced_event(NS, field_selector="involvedObject.name=q").items == []
    resp = http(cluster, "GET", f"{CM}?fieldSelector=spec.nope%3Dx")
    assert resp.status == 400
    assert (
        resp.json()["message"]
        == '"spec.nope" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_resource_version_zero_list(core: kubernetes.client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, _cm("x"))
    listed = core.list_namespaced_config_map(NS, resource_version="0")
    assert "x" in _names(listed.items)
    assert int(listed.metadata.resource_version) > 0


def _stream(core: kubernetes.client.CoreV1Api, count: int, **kwargs: Any) -> Iterator[dict[str, Any]]:
    w = kubernetes.watch.Watch()
    for seen, event in enumerate(w.stream(core.list_namespaced_config_map, NS, **kwargs), start=1):
        yield event
        if seen >= count:
            w.stop()


def test_watch_from_a_resource_version(core: kubernetes.client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, _cm("x"))
    rv = cm.metadata.resource_version
    core.patch_namespaced_config_map("x", NS, {"data": {"a": "1"}})
    core.create_namespaced_config_map(NS, _cm("y"))
    core.delete_namespaced_config_map("x", NS)
    events = list(_stream(core, 3, resource_version=rv, timeout_seconds=5))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("MODIFIED", "x"),
        ("ADDED", "y"),
        ("DELETED", "x"),
    ]
    assert events[0]["object"].data == {"a": "1"}


def test_watch_without_resource_version_starts_with_the_current_state(
    core: kubernetes.client.CoreV1Api,
) -> None:
    core.create_namespaced_config_map(NS, _cm("x", watch="me"))
    core.create_namespaced_config_map(NS, _cm("y", watch="me"))
    events = list(_stream(core, 2, label_selector="watch", timeout_seconds=5))
    assert sorted((e["type"], e["object"].metadata.name) for e in events) == [("ADDED", "x"), ("ADDED", "y")]


def test_every_write_has_an_event_with_the_same_resource_version(
    cluster: kubesim.Cluster, core: kubernetes.client.CoreV1Api
) -> None:
    start = core.list_namespaced_config_map(NS).metadata.resource_version
    rvs = [core.create_namespaced_config_map(NS, _cm("x")).metadata.resource_version]
    rvs.append(core.patch_namespaced_config_map("x", NS, {"data": {"a": "1"}}).metadata.resource_version)
    cm = core.read_namespaced_config_map("x", NS)
    cm.data = {"a": "2"}
    rvs.append(core.replace_namespaced_config_map("x", NS, cm).metadata.resource_version)
    core.patch_namespaced_config_map("x", NS, {"metadata": {"finalizers": ["example.com/f"]}})
    rvs.append(core.read_namespaced_config_map("x", NS).metadata.resource_version)
    deleting = core.delete_namespaced_config_map("x", NS)
    rvs.append(deleting["metadata"]["resourceVersion"])
    final = core.patch_namespaced_config_map("x", NS, {"metadata": {"finalizers": None}})
    events = _watch(cluster, f"resourceVersion={start}")
    assert [e["object"]["metadata"]["resourceVersion"] for e in events][: len(rvs)] == rvs
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"]
    assert events[-1]["object"]["metadata"]["resourceVersion"] == final.metadata.resource_version
    ordered = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert ordered == sorted(ordered)


def test_selector_transitions(cluster: kubesim.Cluster, core: kubernetes.client.CoreV1Api) -> None:
    start = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, _cm("x"))
    core.patch_namespaced_config_map("x", NS, {"metadata": {"labels": {"sel": "on"}}})
    core.patch_namespaced_config_map("x", NS, {"data": {"a": "1"}})
    core.patch_namespaced_config_map("x", NS, {"metadata": {"labels": {"sel": "off"}}})
    core.patch_namespaced_config_map("x", NS, {"data": {"a": "2"}})
    events = _watch(cluster, f"resourceVersion={start}&labelSelector=sel%3Don")
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[-1]["object"]["metadata"]["labels"] == {"sel": "off"}  # the object as it left


def test_field_selector_watch_of_one_object(
    cluster: kubesim.Cluster, core: kubernetes.client.CoreV1Api
) -> None:
    start = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, _cm("x"))
    core.create_namespaced_config_map(NS, _cm("y"))
    events = watch_events(
        cluster, f"{CM}?watch=1&resourceVersion={start}&fieldSelector=metadata.name%3Dy", named("y")
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "y")]


def test_watch_timeout_seconds(cluster: kubesim.Cluster) -> None:
    rv = http(cluster, "GET", CM).json()["metadata"]["resourceVersion"]
    started = time.monotonic()
    resp = http(cluster, "GET", f"{CM}?watch=1&timeoutSeconds=1&resourceVersion={rv}")
    assert resp.status == 200
    assert resp.lines() == []
    assert 0.9 <= time.monotonic() - started < 5


def test_watch_is_namespaced(cluster: kubesim.Cluster, core: kubernetes.client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "other"}})
    start = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map("other", _cm("x"))
    core.create_namespaced_config_map(NS, _cm("y"))
    names = [e["object"]["metadata"]["name"] for e in _watch(cluster, f"resourceVersion={start}")]
    assert names == ["y"]
    all_ns = watch_events(cluster, f"/api/v1/configmaps?watch=1&resourceVersion={start}", named("zz-marker"))
    assert [e["object"]["metadata"]["name"] for e in all_ns] == ["x", "y", "zz-marker"]


@pytest.fixture
def bookmark_cluster() -> Iterator[kubesim.Cluster]:
    with kubesim.Cluster(bookmark_interval=0.2) as c:
        yield c


def test_bookmarks(bookmark_cluster: kubesim.Cluster) -> None:
    cluster = bookmark_cluster
    http(cluster, "POST", CM, {"metadata": {"name": "x"}})
    # Every namespace holds kube-root-ca.crt (the root CA publisher's), left out here.
    mine = "fieldSelector=metadata.name!=kube-root-ca.crt"
    events = watch_events(
        cluster, f"{CM}?watch=1&resourceVersion=1&allowWatchBookmarks=true&{mine}", _is_bookmark
    )
    bookmark = events[-1]
    assert bookmark["object"]["kind"] == "ConfigMap"
    assert bookmark["object"]["apiVersion"] == "v1"
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) > 1
    assert [e["object"]["metadata"]["name"] for e in events[:-1]] == ["x"]
    assert "BOOKMARK" not in [e["type"] for e in _watch(cluster, "resourceVersion=1")]


def _is_bookmark(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "BOOKMARK")


def test_send_initial_events_ends_with_a_bookmark(bookmark_cluster: kubesim.Cluster) -> None:
    cluster = bookmark_cluster
    http(cluster, "POST", CM, {"metadata": {"name": "x"}})
    events = watch_events(
        cluster,
        f"{CM}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        _is_bookmark,
    )
    added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert "x" in added
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    assert marks[0]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


@pytest.fixture
def small_history() -> Iterator[kubesim.Cluster]:
    with kubesim.Cluster(history_size=5) as c:
        yield c


def test_too_old_resource_version_is_410_in_stream(small_history: kubesim.Cluster) -> None:
    cluster = small_history
    first = http(cluster, "POST", CM, {"metadata": {"name": "x"}}).json()["metadata"]["resourceVersion"]
    for i in range(10):
        http(
            cluster, "PATCH", f"{CM}/x", {"data": {"i": str(i)}}, content_type="application/merge-patch+json"
        )
    resp = http(cluster, "GET", f"{CM}?watch=1&resourceVersion={first}")
    assert resp.status == 200  # the error comes in the stream, as upstream
    (event,) = resp.lines()
    assert event["type"] == "ERROR"
    status = event["object"]
    assert status["kind"] == "Status"
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {first} (")
    # A recent resourceVersion still resumes.
    recent = http(cluster, "GET", CM).json()["metadata"]["resourceVersion"]
    http(cluster, "POST", CM, {"metadata": {"name": "y"}})
    events = watch_events(cluster, f"{CM}?watch=1&resourceVersion={recent}", named("y"))
    assert [e["type"] for e in events] == ["ADDED"]


def test_official_client_raises_410_for_an_expired_watch(small_history: kubesim.Cluster) -> None:
    api = kubernetes.config.new_client_from_config(small_history.kubeconfig)
    core = kubernetes.client.CoreV1Api(api)
    first = core.create_namespaced_config_map(NS, _cm("x")).metadata.resource_version
    for i in range(10):
        core.patch_namespaced_config_map("x", NS, {"data": {"i": str(i)}})
    with pytest.raises(ApiException) as info:
        for _ in kubernetes.watch.Watch().stream(
            core.list_namespaced_config_map, NS, resource_version=first, timeout_seconds=2
        ):
            pass
    assert info.value.status == 410
    api.close()


def test_invalid_resource_version_for_watch(cluster: kubesim.Cluster) -> None:
    resp = http(cluster, "GET", f"{CM}?watch=1&resourceVersion=abc")
    events = resp.lines() if resp.status == 200 else [{"type": "ERROR", "object": resp.json()}]
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] in (400, 410)
