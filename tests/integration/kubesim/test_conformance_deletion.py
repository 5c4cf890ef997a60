"""Issue 2, behaviour 5: deletion (finalizers, deletionTimestamp, preconditions, propagation policies,
deletecollection)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

from tests.clusters import ClusterUnderTest

from .conformance_support import api_exception_body, http


def _exists(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_finalizers_hold_an_object_until_removed(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "x", "finalizers": ["example.com/a", "example.com/b"]}}
    )
    # Deletion is pending: the answer is the object itself (the client returns it as a dict).
    resp = core.delete_namespaced_config_map("x", ns)
    assert resp["kind"] == "ConfigMap"
    assert resp["metadata"]["deletionTimestamp"]
    held = core.read_namespaced_config_map("x", ns)
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.deletion_grace_period_seconds == 0
    assert held.metadata.finalizers == ["example.com/a", "example.com/b"]
    # Deleting again changes nothing.
    core.delete_namespaced_config_map("x", ns)
    assert (
        core.read_namespaced_config_map("x", ns).metadata.resource_version == held.metadata.resource_version
    )
    # No new finalizers once deleting.
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map(
            "x", ns, {"metadata": {"finalizers": ["example.com/a", "example.com/b", "example.com/c"]}}
        )
    assert info.value.status == 422
    body = api_exception_body(info.value)
    cause = {
        "reason": "FieldValueForbidden",
        "message": "Forbidden: no new finalizers can be added if the object is being deleted, found new "
        'finalizers []string{"example.com/c"}',
        "field": "metadata.finalizers",
    }
    # Validated by the registry and by the kind's strategy: the cause comes twice, the message once. From
    # 1.37 a built-in kind's identical causes are reported once.
    causes = [cause] if cluster.upstream_since(37) else [cause, cause]
    assert body["details"] == {"name": "x", "kind": "ConfigMap", "causes": causes}
    assert body["message"] == f'ConfigMap "x" is invalid: metadata.finalizers: {cause["message"]}'
    merge = "application/merge-patch+json"
    core.patch_namespaced_config_map(
        "x", ns, {"metadata": {"finalizers": ["example.com/b"]}}, _content_type=merge
    )
    assert core.read_namespaced_config_map("x", ns).metadata.finalizers == ["example.com/b"]
    core.patch_namespaced_config_map("x", ns, {"metadata": {"finalizers": []}}, _content_type=merge)
    assert not _exists(lambda: core.read_namespaced_config_map("x", ns))


def test_delete_answers_status_or_object_as_upstream(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    status = core.delete_namespaced_config_map("x", ns)
    assert status["kind"] == "Status"
    assert status["status"] == "Success"
    assert status["details"] == {"name": "x", "kind": "configmaps", "uid": cm.metadata.uid}  # no empty group
    # Pods (and a few other kinds) answer the deleted object instead.
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    )
    pod = core.delete_namespaced_pod("p", ns, grace_period_seconds=0)
    assert pod.kind == "Pod"
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_config_map("x", ns)
    assert info.value.status == 404


def test_delete_preconditions(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_config_map("x", ns, body={"preconditions": {"uid": "not-the-uid"}})
    assert info.value.status == 409
    body = api_exception_body(info.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on ConfigMap "x": the UID in the precondition (not-the-uid) does not '
        f"match the UID in record ({cm.metadata.uid}). The object might have been deleted and then recreated"
    )
    assert body["details"] == {"name": "x", "kind": "ConfigMap"}  # the kind, not the resource
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_config_map("x", ns, body={"preconditions": {"resourceVersion": "1"}})
    assert info.value.status == 409
    assert api_exception_body(info.value)["message"] == (
        'Operation cannot be fulfilled on ConfigMap "x": the ResourceVersion in the precondition (1) '
        f"does not match the ResourceVersion in record ({cm.metadata.resource_version}). "
        "The object might have been modified"
    )
    core.delete_namespaced_config_map(
        "x",
        ns,
        body={"preconditions": {"uid": cm.metadata.uid, "resourceVersion": cm.metadata.resource_version}},
    )
    assert not _exists(lambda: core.read_namespaced_config_map("x", ns))


def _owner_and_child(core: kubernetes.client.CoreV1Api, ns: str, block: bool = False) -> tuple[Any, Any]:
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    if block:
        ref["blockOwnerDeletion"] = True
    child = core.create_namespaced_config_map(ns, {"metadata": {"name": "child", "ownerReferences": [ref]}})
    return owner, child


def test_propagation_background(
    client: kubernetes.client.ApiClient, wait_for: Callable[..., Any], ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    _owner_and_child(core, ns)
    core.delete_namespaced_config_map("owner", ns, propagation_policy="Background")
    assert not _exists(lambda: core.read_namespaced_config_map("owner", ns))
    wait_for(
        lambda: not _exists(lambda: core.read_namespaced_config_map("child", ns)), what="child collected"
    )


def test_propagation_foreground(
    client: kubernetes.client.ApiClient, wait_for: Callable[..., Any], ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    _owner_and_child(core, ns, block=True)
    core.patch_namespaced_config_map("child", ns, {"metadata": {"finalizers": ["example.com/hold"]}})
    core.delete_namespaced_config_map("owner", ns, propagation_policy="Foreground")
    owner = core.read_namespaced_config_map("owner", ns)
    assert owner.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in owner.metadata.finalizers
    wait_for(
        lambda: core.read_namespaced_config_map("child", ns).metadata.deletion_timestamp is not None,
        what="child being deleted",
    )
    assert _exists(lambda: core.read_namespaced_config_map("owner", ns))  # waits for its dependents
    core.patch_namespaced_config_map("child", ns, {"metadata": {"finalizers": None}})
    wait_for(lambda: not _exists(lambda: core.read_namespaced_config_map("owner", ns)), what="owner gone")


def test_propagation_orphan(
    client: kubernetes.client.ApiClient, wait_for: Callable[..., Any], ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    _owner_and_child(core, ns)
    core.delete_namespaced_config_map("owner", ns, propagation_policy="Orphan")
    wait_for(lambda: not _exists(lambda: core.read_namespaced_config_map("owner", ns)), what="owner gone")
    child = core.read_namespaced_config_map("child", ns)
    assert not child.metadata.owner_references
    assert child.metadata.deletion_timestamp is None


def test_invalid_propagation_policy(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    kubernetes.client.CoreV1Api(client).create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    resp = http(cluster, "DELETE", f"/api/v1/namespaces/{ns}/configmaps/x?propagationPolicy=Sideways")
    assert resp.status == 422
    assert 'Unsupported value: "Sideways"' in resp.json()["message"]


def test_delete_collection_with_selectors(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    for i in range(4):
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": f"cm{i}", "labels": {"batch": "a" if i < 3 else "b"}}}
        )
    core.delete_collection_namespaced_config_map(ns, label_selector="batch=a")
    left = sorted(c.metadata.name for c in core.list_namespaced_config_map(ns, label_selector="batch").items)
    assert left == ["cm3"]
    core.delete_collection_namespaced_config_map(ns, field_selector="metadata.name=cm3")
    assert core.list_namespaced_config_map(ns, label_selector="batch").items == []


def test_pod_graceful_deletion(
    client: kubernetes.client.ApiClient, ns: str, wait_for: Callable[..., Any]
) -> None:
    """A pod bound to a node is deleted gracefully: its deletionTimestamp is when the grace period ends;
    a shorter grace period moves it, and 0 removes the pod. The node does not exist, so no kubelet acts
    on either backend."""
    core = kubernetes.client.CoreV1Api(client)
    spec = {"nodeName": "absent-node", "containers": [{"name": "c", "image": "busybox:1.36"}]}
    core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": spec})
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    deleting = core.delete_namespaced_pod("p", ns)
    assert deleting.metadata.deletion_grace_period_seconds == 30
    deadline = deleting.metadata.deletion_timestamp
    assert before + dt.timedelta(seconds=30) <= deadline <= before + dt.timedelta(seconds=35)
    assert core.read_namespaced_pod("p", ns).metadata.deletion_timestamp == deadline
    core.delete_namespaced_pod("p", ns)  # the same grace period again changes nothing
    assert core.read_namespaced_pod("p", ns).metadata.resource_version == deleting.metadata.resource_version
    last = core.delete_namespaced_pod("p", ns, grace_period_seconds=0)
    assert last.metadata.deletion_grace_period_seconds == 0
    assert last.metadata.deletion_timestamp < deadline
    wait_for(lambda: not _exists(lambda: core.read_namespaced_pod("p", ns)), what="pod deleted")
