"""kubesim.faultproxy.FaultProxy in front of either API server: kubesim's fault rules applied to requests
on their way, everything else passed through unchanged (the hardening tests' faults on upstream)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from kubesim.faultproxy import FaultProxy, request_info
from tests.clusters import ClusterUnderTest
from tests.conftest import wait_until


@pytest.fixture
def proxy(cluster: ClusterUnderTest) -> Iterator[FaultProxy]:
    with FaultProxy(cluster.url, ca_file=cluster.ca_file, state_dir=cluster.state_dir / "proxy") as p:
        yield p


@pytest.fixture
def http(cluster: ClusterUnderTest, proxy: FaultProxy) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {cluster.admin_token}"
    session.verify = proxy.ca_file
    session.trust_env = False  # $REQUESTS_CA_BUNDLE would override verify
    yield session
    session.close()


# Watches select the tests' own ConfigMaps: upstream publishes kube-root-ca.crt in every namespace.
MINE = "fault-proxy-test=1"


def _cm(name: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"fault-proxy-test": "1"}}, "data": data or {}}


def test_request_info_reads_paths_as_the_api_server_does() -> None:
    info = request_info("PATCH", "/apis/kadense.io/v1/namespaces/u/jupyternotebookinstances/a/status", {})
    assert info is not None
    assert (info.verb, info.label, info.namespace, info.name) == (
        "patch",
        "jupyternotebookinstances.kadense.io/status",
        "u",
        "a",
    )
    info = request_info("GET", "/api/v1/namespaces/u/pods", {"watch": "true"})
    assert info is not None
    assert (info.verb, info.qualified, info.namespace) == ("watch", "pods", "u")
    info = request_info("GET", "/api/v1/watch/namespaces/u/pods", {})
    assert info is not None
    assert info.verb == "watch"
    info = request_info("DELETE", "/api/v1/namespaces/u", {})
    assert info is not None
    assert (info.verb, info.resource, info.name, info.namespace) == (
        "delete",
        "namespaces",
        "u",
        "u",
    )
    info = request_info("PUT", "/api/v1/namespaces/u/finalize", {})
    assert info is not None
    assert (info.resource, info.subresource) == ("namespaces", "finalize")
    assert request_info("GET", "/apis/kadense.io/v1", {}) is None
    assert request_info("GET", "/version", {}) is None


def test_errors_latency_and_accounting(
    cluster: ClusterUnderTest, proxy: FaultProxy, http: requests.Session
) -> None:
    base = f"{proxy.url}/api/v1/namespaces/{cluster.namespace}/configmaps"
    rule = proxy.faults.add_error(429, verb="create", resource="configmaps", count=1)
    refused = http.post(base, json=_cm("a"))
    assert refused.status_code == 429, refused.text
    assert refused.headers.get("Retry-After") == "1"
    assert refused.json()["reason"] == "TooManyRequests"
    assert rule.hits == 1
    # Refused before it reached the API server: nothing was created.
    assert cluster.request("GET", f"/api/v1/namespaces/{cluster.namespace}/configmaps/a")[0] == 404
    assert http.post(base, json=_cm("a")).status_code == 201
    proxy.faults.add_latency(0.3, verb="get", resource="configmaps")
    started = time.monotonic()
    got = http.get(f"{base}/a")
    assert got.status_code == 200
    assert got.json()["metadata"]["name"] == "a"
    assert time.monotonic() - started >= 0.3
    # The API server's own answers pass through as they are.
    missing = http.get(f"{base}/nope")
    assert missing.status_code == 404
    assert missing.json()["reason"] == "NotFound"
    counts = proxy.requests.by("verb", "resource")
    assert counts == {"create configmaps": 2, "get configmaps": 2}
    assert [(c.verb, c.name, c.status, c.injected) for c in proxy.calls] == [
        ("create", "", 429, True),
        ("create", "", 201, False),
        ("get", "a", 200, False),
        ("get", "nope", 404, False),
    ]


def _watch(http: requests.Session, url: str, **params: str) -> Iterator[dict[str, Any]]:
    with http.get(
        url, params={"watch": "true", "labelSelector": MINE, **params}, stream=True, timeout=30
    ) as resp:
        assert resp.status_code == 200, resp.text
        for line in resp.iter_lines():
            if line:
                yield json.loads(line)


def test_watches_cut_after_events_and_seconds(
    cluster: ClusterUnderTest, proxy: FaultProxy, http: requests.Session
) -> None:
    base = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    big = "x" * 300_000  # one event far longer than a stream reader's default line limit
    for i in range(3):
        assert cluster.request("POST", base, _cm(f"c{i}", {"big": big}))[0] == 201
    # A large LIST comes gzipped from upstream to a client that accepts it: relayed as it came.
    listing = http.get(proxy.url + base, params={"labelSelector": MINE}, timeout=30)
    assert listing.status_code == 200
    assert [c["metadata"]["name"] for c in listing.json()["items"]] == ["c0", "c1", "c2"]
    proxy.faults.cut_watches(after_events=2, resource="configmaps")
    events = list(_watch(http, proxy.url + base))
    assert [e["object"]["metadata"]["name"] for e in events] == ["c0", "c1"]
    assert events[1]["object"]["data"]["big"] == big
    proxy.faults.clear()
    proxy.faults.cut_watches(after_seconds=1.0)
    started = time.monotonic()
    events = list(_watch(http, proxy.url + base))
    assert 1.0 <= time.monotonic() - started < 10
    assert len(events) == 3


def test_a_resumed_watch_is_answered_410_once(
    cluster: ClusterUnderTest, proxy: FaultProxy, http: requests.Session
) -> None:
    base = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    _status, listing = cluster.request("GET", base)
    rv = listing["metadata"]["resourceVersion"]
    proxy.faults.expire_watches("configmaps", 1)
    # A watch from the start (no resourceVersion) is not a resume: it is not expired.
    proxy.faults.cut_watches(after_seconds=0.5)
    assert list(_watch(http, proxy.url + base)) == []
    (event,) = list(_watch(http, proxy.url + base, resourceVersion=rv))
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert proxy.faults.expirations["configmaps"] == 0
    assert cluster.request("POST", base, _cm("after"))[0] == 201
    events = list(_watch(http, proxy.url + base, resourceVersion=rv))
    assert [e["object"]["metadata"]["name"] for e in events] == ["after"]


def test_close_watches_ends_open_streams_now(
    cluster: ClusterUnderTest, proxy: FaultProxy, http: requests.Session
) -> None:
    base = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    ended: list[float] = []

    def watch() -> None:
        list(_watch(http, proxy.url + base))
        ended.append(time.monotonic())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    wait_until(lambda: proxy.open_watches("configmaps") == 1, 10, message="the watch open")
    assert proxy.close_watches("pods") == 0
    closed_at = time.monotonic()
    assert proxy.close_watches("configmaps") == 1
    thread.join(10)
    assert ended
    assert ended[0] - closed_at < 5
    wait_until(lambda: proxy.open_watches() == 0, 10, message="no watch left open")
