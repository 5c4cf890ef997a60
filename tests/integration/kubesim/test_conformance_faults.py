"""Issue 2, behaviours 9 and 10: fault injection (Python API and endpoint) and request accounting.
The CLI flags are exercised in test_cli.py."""

from __future__ import annotations

import time

import kubernetes
import pytest
from kubernetes.client import ApiException

import kubesim

from .conformance_support import http, named, watch_events

NS = "default"
CM = f"/api/v1/namespaces/{NS}/configmaps"


def _create(sim: kubesim.Cluster, name: str) -> int:
    return http(sim, "POST", CM, {"metadata": {"name": name}}).status


def test_latency(sim: kubesim.Cluster) -> None:
    sim.faults.add_latency(0.3, verb="list", resource="configmaps")
    started = time.monotonic()
    assert http(sim, "GET", CM).status == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert http(sim, "GET", "/api/v1/namespaces/default/secrets").status == 200  # other resources: no delay
    assert time.monotonic() - started < 0.3


def test_errors_by_verb_resource_and_count(sim: kubesim.Cluster) -> None:
    rule = sim.faults.add_error(503, verb="create", resource="configmaps", count=2)
    assert [_create(sim, f"cm{i}") for i in range(3)] == [503, 503, 201]
    assert rule.hits == 2
    assert http(sim, "GET", CM).status == 200  # other verbs unaffected
    body = http(sim, "POST", f"/api/v1/namespaces/{NS}/secrets", {"metadata": {"name": "s"}})
    assert body.status == 201


def test_error_status_objects_and_client_exceptions(
    sim: kubesim.Cluster, sim_client: kubernetes.client.ApiClient
) -> None:
    sim.faults.add_error(429, verb="get", resource="configmaps", count=1)
    resp = http(sim, "GET", f"{CM}/x")
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "1"
    status = resp.json()
    assert status["reason"] == "TooManyRequests"
    assert status["details"]["retryAfterSeconds"] == 1
    sim.faults.add_error(500, verb="list", resource="pods", count=1)
    with pytest.raises(ApiException) as info:
        kubernetes.client.CoreV1Api(sim_client).list_namespaced_pod(NS)
    assert info.value.status == 500


def test_error_probability(sim: kubesim.Cluster) -> None:
    sim.faults.add_error(500, verb="get", resource="namespaces", probability=0.5)
    codes = [http(sim, "GET", "/api/v1/namespaces/default").status for _ in range(60)]
    assert set(codes) == {200, 500}
    sim.faults.clear()
    sim.faults.add_error(500, verb="get", resource="namespaces", probability=0.0)
    assert {http(sim, "GET", "/api/v1/namespaces/default").status for _ in range(10)} == {200}


def test_watch_cut_after_events(sim: kubesim.Cluster) -> None:
    sim.faults.cut_watches(after_events=2, resource="configmaps")
    for i in range(4):
        _create(sim, f"cm{i}")
    # Every namespace holds kube-root-ca.crt (the root CA publisher's), left out here.
    mine = "fieldSelector=metadata.name!=kube-root-ca.crt"
    events = http(sim, "GET", f"{CM}?watch=1&resourceVersion=1&timeoutSeconds=5&{mine}").lines()
    assert [e["object"]["metadata"]["name"] for e in events] == ["cm0", "cm1"]


def test_watch_cut_after_seconds(sim: kubesim.Cluster) -> None:
    sim.faults.cut_watches(after_seconds=0.3)
    started = time.monotonic()
    http(sim, "GET", f"{CM}?watch=1&timeoutSeconds=30")
    assert time.monotonic() - started < 3


def test_forced_410(sim: kubesim.Cluster) -> None:
    rv = http(sim, "GET", CM).json()["metadata"]["resourceVersion"]
    sim.faults.expire_watches("configmaps", count=1)
    (event,) = http(sim, "GET", f"{CM}?watch=1&resourceVersion={rv}").lines()
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    _create(sim, "after")
    events = watch_events(sim, f"{CM}?watch=1&resourceVersion={rv}", named("after"))
    assert [e["type"] for e in events] == ["ADDED"]  # only the next watch was expired


def test_faults_endpoint(sim: kubesim.Cluster, sim_client: kubernetes.client.ApiClient) -> None:
    spec = {
        "errors": [{"code": 500, "verb": "create", "resource": "configmaps", "count": 1}],
        "latency": [{"seconds": 0.01, "verb": "get"}],
        "watchCuts": [{"afterEvents": 3}],
        "expire": [{"resource": "pods", "count": 2}],
    }
    resp = http(sim, "POST", "/kubesim/faults", spec)
    assert resp.status == 200
    described = resp.json()
    assert described["errors"][0]["code"] == 500
    assert described["errors"][0]["resource"] == ["configmaps"]
    assert described["expire"] == {"pods": 2}
    assert http(sim, "GET", "/kubesim/faults").json() == described
    assert _create(sim, "x") == 500
    assert http(sim, "DELETE", "/kubesim/faults").json()["errors"] == []
    assert _create(sim, "x") == 201
    assert http(sim, "POST", "/kubesim/faults", {"errors": [{"verb": "get"}]}).status == 400
    # Not for ordinary users.
    kubernetes.client.CoreV1Api(sim_client).create_namespaced_service_account(
        NS, {"metadata": {"name": "robot"}}
    )
    token = sim.token_for("robot", NS)
    resp = http(sim, "GET", "/kubesim/faults", token=token)
    assert resp.status == 403
    assert resp.json()["message"] == (
        'forbidden: User "system:serviceaccount:default:robot" cannot get path "/kubesim/faults"'
    )


def test_request_accounting(sim: kubesim.Cluster, sim_client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(sim_client)
    core.create_namespaced_service_account(NS, {"metadata": {"name": "robot"}})
    sim.requests.reset()
    for i in range(3):
        core.create_namespaced_config_map(NS, {"metadata": {"name": f"cm{i}"}})
    core.list_namespaced_config_map(NS)
    core.read_namespaced_config_map("cm0", NS)
    core.patch_namespaced_config_map("cm0", NS, {"data": {"a": "b"}})
    core.delete_namespaced_config_map("cm1", NS)
    apps = kubernetes.client.AppsV1Api(sim_client)
    apps.list_namespaced_deployment(NS)
    robot = sim.token_for("robot", NS)
    http(sim, "GET", CM, token=robot)  # denied, still counted
    by = sim.requests.by("verb", "resource")
    assert by["create configmaps"] == 3
    assert by["list configmaps"] == 2
    assert by["get configmaps"] == 1
    assert by["patch configmaps"] == 1
    assert by["delete configmaps"] == 1
    assert by["list deployments.apps"] == 1
    users = sim.requests.by("user")
    assert users["kubernetes-admin"] == 8
    assert users["system:serviceaccount:default:robot"] == 1
    assert sim.requests.total(user="kubernetes-admin", exclude_verbs=("list",)) == 6
    resp = http(sim, "GET", "/kubesim/requests")
    assert resp.status == 200
    doc = resp.json()
    assert doc["total"] == 9
    assert doc["byVerb"]["create"] == 3
    assert doc["byResource"]["configmaps"] == 8
    assert doc["byUser"]["system:serviceaccount:default:robot"] == 1
    assert {"verb": "create", "resource": "configmaps", "user": "kubernetes-admin", "count": 3} in doc[
        "items"
    ]
    assert http(sim, "DELETE", "/kubesim/requests").json()["total"] == 0
    assert sim.requests.total() == 0


def test_watches_are_counted_once(sim: kubesim.Cluster) -> None:
    sim.requests.reset()
    _create(sim, "x")
    watch_events(sim, f"{CM}?watch=1&resourceVersion=1", named("x"))
    assert sim.requests.by("verb") == {"create": 1, "watch": 1}
