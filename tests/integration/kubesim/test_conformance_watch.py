"""Issue 2, behaviour 7: lists (paging, selectors, resourceVersion=0) and watches (resume, bookmarks,
selector transitions, timeouts, 410 Expired).

The root-CA publisher (upstream's, and kubesim's) writes a ConfigMap ``kube-root-ca.crt`` in every namespace
at a time of its own: the helpers leave it out of what they compare."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

import kubesim
from tests.clusters import ClusterUnderTest

from .conformance_support import (
    GROUP,
    WIDGETS,
    Cluster,
    http,
    named,
    ssl_context,
    watch_events,
    widget,
    widget_crd,
)

ROOT_CA = "kube-root-ca.crt"


@pytest.fixture
def core(client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(client)


def _cms(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/configmaps"


def _cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def _names(items: list[Any]) -> list[str]:
    return sorted(i.metadata.name for i in items if i.metadata.name != ROOT_CA)


def _ours(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["object"].get("metadata", {}).get("name") != ROOT_CA]


def _watch(cluster: ClusterUnderTest, ns: str, query: str, path: str = "") -> list[dict[str, Any]]:
    """The events of a watch up to a marker: a ConfigMap "zz-marker" created now, after the writes under
    test; the marker's own event is left out. (No waiting for a timeout to be sure nothing else comes.)"""
    http(
        cluster,
        "POST",
        _cms(ns),
        {"metadata": {"name": "zz-marker", "labels": {"sel": "on", "marker": "yes"}}},
    )
    events = watch_events(cluster, f"{path or _cms(ns)}?watch=1&{query}", named("zz-marker"))
    return _ours(events[:-1])


def test_limit_and_continue(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    for i in range(7):
        core.create_namespaced_config_map(ns, _cm(f"cm{i}", page="yes"))
    first = core.list_namespaced_config_map(ns, label_selector="page", limit=3)
    assert _names(first.items) == ["cm0", "cm1", "cm2"]
    assert first.metadata._continue
    # A count of what is left is given only for lists without selectors (the storage cannot count the
    # matches it has not read).
    assert first.metadata.remaining_item_count is None
    # Writes after the first page do not shift the pages that follow.
    core.create_namespaced_config_map(ns, _cm("cm00", page="yes"))
    second = core.list_namespaced_config_map(
        ns, label_selector="page", limit=3, _continue=first.metadata._continue
    )
    assert _names(second.items) == ["cm3", "cm4", "cm5"]
    assert second.metadata.resource_version == first.metadata.resource_version
    last = core.list_namespaced_config_map(
        ns, label_selector="page", limit=3, _continue=second.metadata._continue
    )
    assert _names(last.items) == ["cm6"]
    assert not last.metadata._continue
    assert last.metadata.remaining_item_count is None


def test_remaining_item_count_without_selectors(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    # Secrets: no controller writes any in a new namespace, so the count is the test's own.
    for i in range(5):
        core.create_namespaced_secret(ns, {"metadata": {"name": f"s{i}"}})
    first = core.list_namespaced_secret(ns, limit=2)
    assert [s.metadata.name for s in first.items] == ["s0", "s1"]
    assert first.metadata.remaining_item_count == 3
    second = core.list_namespaced_secret(ns, limit=2, _continue=first.metadata._continue)
    assert second.metadata.remaining_item_count == 1
    last = core.list_namespaced_secret(ns, limit=2, _continue=second.metadata._continue)
    assert [s.metadata.name for s in last.items] == ["s4"]
    assert last.metadata.remaining_item_count is None


def test_invalid_continue_token_is_400(cluster: ClusterUnderTest, ns: str) -> None:
    resp = http(cluster, "GET", f"{_cms(ns)}?limit=1&continue=garbage")
    assert resp.status == 400
    assert resp.json()["reason"] == "BadRequest"
    assert resp.json()["message"].startswith("invalid continue token: continue key is not valid: ")


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
def test_label_selectors(
    core: kubernetes.client.CoreV1Api, ns: str, selector: str, expected: list[str]
) -> None:
    core.create_namespaced_config_map(ns, _cm("a", tier="web", env="prod"))
    core.create_namespaced_config_map(ns, _cm("b", tier="web"))
    core.create_namespaced_config_map(ns, _cm("c", tier="db"))
    core.create_namespaced_config_map(ns, _cm("d"))
    assert _names(core.list_namespaced_config_map(ns, label_selector=selector).items) == expected


def test_invalid_label_selector_is_400(cluster: ClusterUnderTest, ns: str) -> None:
    resp = http(cluster, "GET", f"{_cms(ns)}?labelSelector=a%20in%20b")
    assert resp.status == 400
    assert resp.json()["reason"] == "BadRequest"
    assert resp.json()["message"] == "unable to parse requirement: found 'b' expected: '('"


def test_field_selectors(core: kubernetes.client.CoreV1Api, cluster: ClusterUnderTest, ns: str) -> None:
    other = f"{ns}-b"
    core.create_namespace({"metadata": {"name": other}})
    # Named after the test's namespace: other tests' ConfigMaps (upstream, one cluster) never match.
    core.create_namespaced_config_map(ns, _cm(ns))
    core.create_namespaced_config_map(other, _cm(ns))
    # In the order of their storage keys, "<namespace>/<name>": "<ns>-b/..." sorts before "<ns>/...".
    assert [
        c.metadata.namespace
        for c in core.list_config_map_for_all_namespaces(field_selector=f"metadata.name={ns}").items
    ] == [other, ns]
    only = core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.name={ns},metadata.namespace={other}"
    )
    assert [c.metadata.namespace for c in only.items] == [other]
    not_x = core.list_namespaced_config_map(ns, field_selector=f"metadata.name!={ns}")
    assert ns not in _names(not_x.items)
    # Pods: status.phase and spec.nodeName.
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    core.create_namespaced_pod(ns, {**pod, "spec": {**pod["spec"], "nodeName": "elsewhere"}})
    assert _names(core.list_namespaced_pod(ns, field_selector="spec.nodeName=elsewhere").items) == ["p"]
    assert core.list_namespaced_pod(ns, field_selector="spec.nodeName=nowhere").items == []
    phase = core.read_namespaced_pod("p", ns).status.phase
    assert _names(core.list_namespaced_pod(ns, field_selector=f"status.phase={phase}").items) == ["p"]
    # Events: involvedObject.*.
    core.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "ev"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns, "uid": "u-1"},
            "reason": "Tested",
            "message": "m",
        },
    )
    sel = "involvedObject.kind=Pod,involvedObject.name=p,involvedObject.uid=u-1"
    assert _names(core.list_namespaced_event(ns, field_selector=sel).items) == ["ev"]
    assert core.list_namespaced_event(ns, field_selector="involvedObject.name=q").items == []
    resp = http(cluster, "GET", f"{_cms(ns)}?fieldSelector=spec.nope%3Dx")
    assert resp.status == 400
    assert (
        resp.json()["message"]
        == '"spec.nope" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_resource_version_zero_list(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, _cm("x"))
    listed = core.list_namespaced_config_map(ns, resource_version="0")
    assert "x" in _names(listed.items)
    assert int(listed.metadata.resource_version) > 0


def test_invalid_resource_version_for_a_list_is_400(cluster: ClusterUnderTest, ns: str) -> None:
    resp = http(cluster, "GET", f"{_cms(ns)}?resourceVersion=abc")
    assert resp.status == 400
    assert resp.json()["reason"] == "BadRequest"
    assert resp.json()["message"] == (
        'invalid resource version: resourceVersion: Invalid value: "abc": '
        'strconv.ParseUint: parsing "abc": invalid syntax'
    )


def _stream(
    core: kubernetes.client.CoreV1Api, ns: str, count: int, **kwargs: Any
) -> Iterator[dict[str, Any]]:
    w = kubernetes.watch.Watch()
    seen = 0
    for event in w.stream(core.list_namespaced_config_map, ns, **kwargs):
        if event["object"].metadata.name == ROOT_CA:
            continue
        yield event
        seen += 1
        if seen >= count:
            w.stop()


def test_watch_from_a_resource_version(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, _cm("x"))
    rv = cm.metadata.resource_version
    core.patch_namespaced_config_map("x", ns, {"data": {"a": "1"}})
    core.create_namespaced_config_map(ns, _cm("y"))
    core.delete_namespaced_config_map("x", ns)
    events = list(_stream(core, ns, 3, resource_version=rv, timeout_seconds=5))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("MODIFIED", "x"),
        ("ADDED", "y"),
        ("DELETED", "x"),
    ]
    assert events[0]["object"].data == {"a": "1"}


def test_watch_without_resource_version_starts_with_the_current_state(
    core: kubernetes.client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(ns, _cm("x", watch="me"))
    core.create_namespaced_config_map(ns, _cm("y", watch="me"))
    events = list(_stream(core, ns, 2, label_selector="watch", timeout_seconds=5))
    assert sorted((e["type"], e["object"].metadata.name) for e in events) == [("ADDED", "x"), ("ADDED", "y")]


def test_every_write_has_an_event_with_the_same_resource_version(
    cluster: ClusterUnderTest, core: kubernetes.client.CoreV1Api, ns: str
) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    rvs = [core.create_namespaced_config_map(ns, _cm("x")).metadata.resource_version]
    rvs.append(core.patch_namespaced_config_map("x", ns, {"data": {"a": "1"}}).metadata.resource_version)
    cm = core.read_namespaced_config_map("x", ns)
    cm.data = {"a": "2"}
    rvs.append(core.replace_namespaced_config_map("x", ns, cm).metadata.resource_version)
    core.patch_namespaced_config_map("x", ns, {"metadata": {"finalizers": ["example.com/f"]}})
    rvs.append(core.read_namespaced_config_map("x", ns).metadata.resource_version)
    deleting = core.delete_namespaced_config_map("x", ns)
    rvs.append(deleting["metadata"]["resourceVersion"])
    # Removing the last finalizer deletes the object: the answer is the object as last stored, and the
    # deletion's own resourceVersion is seen only in the watch.
    final = core.patch_namespaced_config_map("x", ns, {"metadata": {"finalizers": None}})
    assert final.metadata.resource_version == rvs[-1]
    assert not final.metadata.finalizers
    events = _watch(cluster, ns, f"resourceVersion={start}")
    assert [e["object"]["metadata"]["resourceVersion"] for e in events][: len(rvs)] == rvs
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"]
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) > int(rvs[-1])
    ordered = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert ordered == sorted(ordered)


def test_selector_transitions(cluster: ClusterUnderTest, core: kubernetes.client.CoreV1Api, ns: str) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, _cm("x"))
    core.patch_namespaced_config_map("x", ns, {"metadata": {"labels": {"sel": "on"}}})
    core.patch_namespaced_config_map("x", ns, {"data": {"a": "1"}})
    off = core.patch_namespaced_config_map("x", ns, {"metadata": {"labels": {"sel": "off"}}})
    core.patch_namespaced_config_map("x", ns, {"data": {"a": "2"}})
    events = _watch(cluster, ns, f"resourceVersion={start}&labelSelector=sel%3Don")
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    # The object as the watch last matched it, at the resourceVersion of the write that took it out.
    gone = events[-1]["object"]
    assert gone["metadata"]["labels"] == {"sel": "on"}
    assert gone["data"] == {"a": "1"}
    assert gone["metadata"]["resourceVersion"] == off.metadata.resource_version


def test_field_selector_watch_of_one_object(
    cluster: ClusterUnderTest, core: kubernetes.client.CoreV1Api, ns: str
) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, _cm("x"))
    core.create_namespaced_config_map(ns, _cm("y"))
    events = watch_events(
        cluster, f"{_cms(ns)}?watch=1&resourceVersion={start}&fieldSelector=metadata.name%3Dy", named("y")
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "y")]


def test_watch_timeout_seconds(cluster: ClusterUnderTest, ns: str) -> None:
    rv = http(cluster, "GET", _cms(ns)).json()["metadata"]["resourceVersion"]
    started = time.monotonic()
    resp = http(cluster, "GET", f"{_cms(ns)}?watch=1&timeoutSeconds=1&resourceVersion={rv}")
    assert resp.status == 200
    assert _ours(resp.lines()) == []
    assert 0.9 <= time.monotonic() - started < 5


def test_watch_is_namespaced(cluster: ClusterUnderTest, core: kubernetes.client.CoreV1Api, ns: str) -> None:
    other = f"{ns}-b"
    core.create_namespace({"metadata": {"name": other}})
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(other, _cm("x"))
    core.create_namespaced_config_map(ns, _cm("y"))
    names = [e["object"]["metadata"]["name"] for e in _watch(cluster, ns, f"resourceVersion={start}")]
    assert names == ["y"]
    all_ns = watch_events(cluster, f"/api/v1/configmaps?watch=1&resourceVersion={start}", named("zz-marker"))
    # Upstream is one cluster for the session: other namespaces' ConfigMaps come and go meanwhile.
    ours = [e for e in _ours(all_ns) if e["object"]["metadata"]["namespace"] in (ns, other)]
    assert [(e["object"]["metadata"]["namespace"], e["object"]["metadata"]["name"]) for e in ours] == [
        (other, "x"),
        (ns, "y"),
        (ns, "zz-marker"),
    ]


def _is_bookmark(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "BOOKMARK")


@contextlib.contextmanager
def _open_watch(cluster: Cluster, path: str) -> Iterator[Callable[[], dict[str, Any] | None]]:
    """A watch stream as a function returning its next event (None once the stream ended), for tests
    that write while they read."""
    req = urllib.request.Request(
        cluster.url + path,
        headers={"Accept": "application/json", "Authorization": f"Bearer {cluster.admin_token}"},
    )
    with urllib.request.urlopen(req, timeout=15, context=ssl_context(cluster)) as resp:

        def next_event() -> dict[str, Any] | None:
            while line := resp.readline():
                if line.strip():
                    event: dict[str, Any] = json.loads(line)
                    return event
            return None

        yield next_event


def test_bookmarks(cluster: ClusterUnderTest, ns: str) -> None:
    """A watch that allows bookmarks gets one 2 s before its timeout (the periodic ones come about once a
    minute upstream). It tells how far the watch is, past writes it was not sent. A watch that does not
    allow bookmarks gets none."""
    start = http(cluster, "GET", _cms(ns)).json()["metadata"]["resourceVersion"]
    http(cluster, "POST", _cms(ns), _cm("x", sel="on"))
    query = f"watch=1&resourceVersion={start}&timeoutSeconds=4&labelSelector=sel%3Don"
    started = time.monotonic()
    with _open_watch(cluster, f"{_cms(ns)}?{query}&allowWatchBookmarks=true") as next_event:
        first = next_event()
        assert first is not None
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "x")
        # Not selected: the watch is not sent its event, but its bookmark goes past it.
        skipped = http(cluster, "POST", _cms(ns), _cm("y")).json()["metadata"]["resourceVersion"]
        bookmark = next_event()
        assert time.monotonic() - started < 3.5  # before the timeout ended the watch
        assert bookmark is not None
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"]["kind"] == "ConfigMap"
        assert bookmark["object"]["apiVersion"] == "v1"
        assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(skipped)
        # Then only bookmarks (upstream's are timed to the second: another may come) until the timeout.
        assert {e["type"] for e in iter(next_event, None)} <= {"BOOKMARK"}
    resp = http(cluster, "GET", f"{_cms(ns)}?{query}")  # to the end of its timeout
    assert resp.status == 200
    assert [e["type"] for e in resp.lines()] == ["ADDED"]


def test_bookmark_interval_option() -> None:
    """kubesim's ``bookmark_interval``: a watch that allows bookmarks gets one that often (upstream: about
    once a minute, not configurable)."""
    with kubesim.Cluster(bookmark_interval=0.2) as sim:
        cms = _cms("default")
        start = http(sim, "GET", cms).json()["metadata"]["resourceVersion"]
        started = time.monotonic()
        with _open_watch(
            sim, f"{cms}?watch=1&resourceVersion={start}&allowWatchBookmarks=true&labelSelector=a"
        ) as next_event:
            http(sim, "POST", cms, _cm("x"))
            bookmark = next_event()
        assert time.monotonic() - started < 2
        assert bookmark is not None
        assert bookmark["type"] == "BOOKMARK"


def test_send_initial_events_ends_with_a_bookmark(cluster: ClusterUnderTest, ns: str) -> None:
    http(cluster, "POST", _cms(ns), {"metadata": {"name": "x"}})
    events = watch_events(
        cluster,
        f"{_cms(ns)}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        _is_bookmark,
    )
    added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert "x" in added
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    assert marks[0]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


@pytest.fixture
def widgets(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str, wait_for: Callable[..., Any]
) -> tuple[str, str]:
    """``(resourceVersion, path)``: a resourceVersion from before the Widget CRD existed, and the
    namespace's widgets. A watch cache is filled from a list when its resource comes to be served (for a
    custom resource: once its CRD is created), and a watch can only resume from what the cache holds."""
    before = http(cluster, "GET", _cms(ns)).json()["metadata"]["resourceVersion"]
    create_widget_crd(client, wait_for)
    return before, f"/apis/{GROUP}/v1/namespaces/{ns}/{WIDGETS}"


def create_widget_crd(client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]) -> None:
    """Create the Widget CRD and wait until it is Established (upstream establishes it a moment later)."""
    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.create_custom_resource_definition(widget_crd())

    def established() -> bool:
        crd = ext.read_custom_resource_definition(f"{WIDGETS}.{GROUP}")
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    wait_for(established, timeout=30, what="the Widget CRD Established")


def test_too_old_resource_version_is_410_in_stream(
    cluster: ClusterUnderTest, widgets: tuple[str, str]
) -> None:
    before, path = widgets
    http(cluster, "POST", path, widget("x"))
    resp = http(cluster, "GET", f"{path}?watch=1&resourceVersion={before}")
    assert resp.status == 200  # the error comes in the stream
    (event,) = resp.lines()
    assert event["type"] == "ERROR"
    status = event["object"]
    assert status["kind"] == "Status"
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {before} (")
    # A recent resourceVersion still resumes.
    recent = http(cluster, "GET", path).json()["metadata"]["resourceVersion"]
    http(cluster, "POST", path, widget("y"))
    events = watch_events(cluster, f"{path}?watch=1&resourceVersion={recent}", named("y"))
    assert [e["type"] for e in events] == ["ADDED"]


def test_official_client_raises_410_for_an_expired_watch(
    client: kubernetes.client.ApiClient, ns: str, widgets: tuple[str, str]
) -> None:
    before, _ = widgets
    custom = kubernetes.client.CustomObjectsApi(client)
    custom.create_namespaced_custom_object(GROUP, "v1", ns, WIDGETS, widget("x"))
    with pytest.raises(ApiException) as info:
        for _ in kubernetes.watch.Watch().stream(
            custom.list_namespaced_custom_object,
            GROUP,
            "v1",
            ns,
            WIDGETS,
            resource_version=before,
            timeout_seconds=5,
        ):
            pass
    assert info.value.status == 410


def test_history_size_option_bounds_resumable_watches() -> None:
    """kubesim's ``history_size``: each collection keeps that many events; a watch from an older
    resourceVersion gets 410 Expired (upstream's watch cache keeps at least 75 s of events)."""
    with kubesim.Cluster(history_size=5) as sim:
        cms = _cms("default")
        first = http(sim, "POST", cms, {"metadata": {"name": "x"}}).json()["metadata"]["resourceVersion"]
        for i in range(10):
            http(
                sim, "PATCH", f"{cms}/x", {"data": {"i": str(i)}}, content_type="application/merge-patch+json"
            )
        (event,) = http(sim, "GET", f"{cms}?watch=1&resourceVersion={first}").lines()
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410
        assert event["object"]["message"].startswith(f"too old resource version: {first} (")


def test_invalid_resource_version_for_watch(cluster: ClusterUnderTest, ns: str) -> None:
    """Refused before the stream starts, as an error of unknown reason (the watch path does not wrap the
    parse error as a list does)."""
    resp = http(cluster, "GET", f"{_cms(ns)}?watch=1&resourceVersion=abc")
    assert resp.status == 500
    body = resp.json()
    assert body["code"] == 500
    assert "reason" not in body
    assert (
        body["message"]
        == 'resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax'
    )
