"""Issue 2, behaviour 5: deletion (finalizers, deletionTimestamp, preconditions, propagation policies,
deletecollection)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

import kubesim

from .conformance_support import api_exception_body, http

NS = "default"


def _exists(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_finalizers_hold_an_object_until_removed(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_config_map(
        NS, {"metadata": {"name": "x", "finalizers": ["example.com/a", "example.com/b"]}}
    )
    # Deletion is pending: the answer is the object itself (the client returns it as a dict).
    resp = core.delete_namespaced_config_map("x", NS)
    assert resp["kind"] == "ConfigMap"
    assert resp["metadata"]["deletionTimestamp"]
    held = core.read_namespaced_config_map("x", NS)
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.deletion_grace_period_seconds == 0
    assert held.metadata.finalizers == ["example.com/a", "example.com/b"]
    # Deleting again changes nothing.
    core.delete_namespaced_config_map("x", NS)
    assert (
        core.read_namespaced_config_map("x", NS).metadata.resource_version == held.metadata.resource_version
    )
    # No new finalizers once deleting.
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map(
            "x", NS, {"metadata": {"finalizers": ["example.com/a", "example.com/b", "example.com/c"]}}
        )
    assert info.value.status == 422
    body = api_exception_body(info.value)
    (cause,) = body["details"]["causes"]
    assert cause["field"] == "metadata.finalizers"
    assert cause["reason"] == "FieldValueForbidden"
    expected = "no new finalizers can be added if the object is being deleted, found new finalizers "
    assert expected + '[]string{"example.com/c"}' in cause["message"]
    merge = "application/merge-patch+json"
    core.patch_namespaced_config_map(
        "x", NS, {"metadata": {"finalizers": ["example.com/b"]}}, _content_type=merge
    )
    assert core.read_namespaced_config_map("x", NS).metadata.finalizers == ["example.com/b"]
    core.patch_namespaced_config_map("x", NS, {"metadata": {"finalizers": []}}, _content_type=merge)
    assert not _exists(lambda: core.read_namespaced_config_map("x", NS))


def test_delete_answers_status_or_object_as_upstream(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "x"}})
    status = core.delete_namespaced_config_map("x", NS)
    assert status["kind"] == "Status"
    assert status["status"] == "Success"
    assert status["details"] == {"name": "x", "kind": "configmaps", "uid": cm.metadata.uid}
    # Pods (and a few other kinds) answer the deleted object instead.
    core.create_namespaced_pod(
        NS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    )
    pod = core.delete_namespaced_pod("p", NS, grace_period_seconds=0)
    assert pod.kind == "Pod"
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_config_map("x", NS)
    assert info.value.status == 404


def test_delete_preconditions(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "x"}})
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_config_map("x", NS, body={"preconditions": {"uid": "not-the-uid"}})
    assert info.value.status == 409
    body = api_exception_body(info.value)
    assert body["reason"] == "Conflict"
    assert "Precondition failed: UID in precondition: not-the-uid, UID in object meta: " in body["message"]
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_config_map("x", NS, body={"preconditions": {"resourceVersion": "1"}})
    assert info.value.status == 409
    assert (
        "Precondition failed: ResourceVersion in precondition: 1" in api_exception_body(info.value)["message"]
    )
    core.delete_namespaced_config_map(
        "x",
        NS,
        body={"preconditions": {"uid": cm.metadata.uid, "resourceVersion": cm.metadata.resource_version}},
    )
    assert not _exists(lambda: core.read_namespaced_config_map("x", NS))


def _owner_and_child(core: kubernetes.client.CoreV1Api, block: bool = False) -> tuple[Any, Any]:
    owner = core.create_namespaced_config_map(NS, {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    if block:
        ref["blockOwnerDeletion"] = True
    child = core.create_namespaced_config_map(NS, {"metadata": {"name": "child", "ownerReferences": [ref]}})
    return owner, child


def test_propagation_background(client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]) -> None:
    core = kubernetes.client.CoreV1Api(client)
    _owner_and_child(core)
    core.delete_namespaced_config_map("owner", NS, propagation_policy="Background")
    assert not _exists(lambda: core.read_namespaced_config_map("owner", NS))
    wait_for(
        lambda: not _exists(lambda: core.read_namespaced_config_map("child", NS)), what="child collected"
    )


def test_propagation_foreground(client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]) -> None:
    core = kubernetes.client.CoreV1Api(client)
    _owner_and_child(core, block=True)
    core.patch_namespaced_config_map("child", NS, {"metadata": {"finalizers": ["example.com/hold"]}})
    core.delete_namespaced_config_map("owner", NS, propagation_policy="Foreground")
    owner = core.read_namespaced_config_map("owner", NS)
    assert owner.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in owner.metadata.finalizers
    wait_for(
        lambda: core.read_namespaced_config_map("child", NS).metadata.deletion_timestamp is not None,
        what="child being deleted",
    )
    assert _exists(lambda: core.read_namespaced_config_map("owner", NS))  # waits for its dependents
    core.patch_namespaced_config_map("child", NS, {"metadata": {"finalizers": None}})
    wait_for(lambda: not _exists(lambda: core.read_namespaced_config_map("owner", NS)), what="owner gone")


def test_propagation_orphan(client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]) -> None:
    core = kubernetes.client.CoreV1Api(client)
    _owner_and_child(core)
    core.delete_namespaced_config_map("owner", NS, propagation_policy="Orphan")
    wait_for(lambda: not _exists(lambda: core.read_namespaced_config_map("owner", NS)), what="owner gone")
    child = core.read_namespaced_config_map("child", NS)
    assert not child.metadata.owner_references
    assert child.metadata.deletion_timestamp is None


def test_invalid_propagation_policy(cluster: kubesim.Cluster, client: kubernetes.client.ApiClient) -> None:
    kubernetes.client.CoreV1Api(client).create_namespaced_config_map(NS, {"metadata": {"name": "x"}})
    resp = http(cluster, "DELETE", f"/api/v1/namespaces/{NS}/configmaps/x?propagationPolicy=Sideways")
    assert resp.status == 422
    assert 'Unsupported value: "Sideways"' in resp.json()["message"]


def test_delete_collection_with_selectors(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    for i in range(4):
        core.create_namespaced_config_map(
            NS, {"metadata": {"name": f"cm{i}", "labels": {"batch": "a" if i < 3 else "b"}}}
        )
    core.delete_collection_namespaced_config_map(NS, label_selector="batch=a")
    left = sorted(c.metadata.name for c in core.list_namespaced_config_map(NS, label_selector="batch").items)
    assert left == ["cm3"]
    core.delete_collection_namespaced_config_map(NS, field_selector="metadata.name=cm3")
    assert core.list_namespaced_config_map(NS, label_selector="batch").items == []


def test_pod_graceful_deletion(client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_pod(
        NS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    )
    wait_for(lambda: core.read_namespaced_pod("p", NS).spec.node_name, what="pod scheduled")
    core.delete_namespaced_pod("p", NS, grace_period_seconds=0)
    wait_for(lambda: not _exists(lambda: core.read_namespaced_pod("p", NS)), what="pod deleted")
