"""Issue 2, behaviour 4: object semantics (uid, timestamps, resourceVersion, generation, generateName,
AlreadyExists, Conflict, namespaces, status subresources)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

import kubesim

from .conformance_support import api_exception_body, http, named, watch_events

NS = "default"


def _deployment(name: str, image: str = "busybox:1.36") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


def test_server_sets_uid_timestamp_and_resource_version(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    cm = core.create_namespaced_config_map(
        ns, {"metadata": {"name": "x", "uid": "mine", "resourceVersion": "7"}}
    )
    uuid.UUID(cm.metadata.uid)
    assert cm.metadata.uid != "mine"
    assert isinstance(cm.metadata.creation_timestamp, dt.datetime)
    assert abs((dt.datetime.now(dt.UTC) - cm.metadata.creation_timestamp).total_seconds()) < 5
    assert re.fullmatch(r"[0-9]+", cm.metadata.resource_version)
    assert cm.metadata.generation is None  # ConfigMaps have no generation, as upstream


def test_resource_version_changes_only_when_something_changes(
    cluster: kubesim.Cluster, client: kubernetes.client.ApiClient, ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}, "data": {"a": "1"}})
    rv0 = cm.metadata.resource_version
    same = core.replace_namespaced_config_map("x", ns, cm)
    assert same.metadata.resource_version == rv0
    patched = core.patch_namespaced_config_map("x", ns, {"data": {"a": "1"}})
    assert patched.metadata.resource_version == rv0
    changed = core.patch_namespaced_config_map("x", ns, {"data": {"a": "2"}})
    assert int(changed.metadata.resource_version) > int(rv0)
    # The no-op writes emitted no watch event: a watch from rv0 sees exactly one MODIFIED.
    core.create_namespaced_config_map(ns, {"metadata": {"name": "marker"}})
    events = watch_events(
        cluster, f"/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={rv0}", named("marker")
    )
    assert [(e["type"], e["object"]["metadata"]["resourceVersion"]) for e in events[:-1]] == [
        ("MODIFIED", changed.metadata.resource_version)
    ]


def test_resource_version_is_one_global_counter(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    a = core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    b = core.create_namespaced_secret(ns, {"metadata": {"name": "b"}})
    assert int(b.metadata.resource_version) > int(a.metadata.resource_version)
    listed = core.list_namespaced_config_map(ns)
    assert int(listed.metadata.resource_version) >= int(b.metadata.resource_version)


def test_generation_follows_spec_changes_only(client: kubernetes.client.ApiClient, ns: str) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    d = apps.create_namespaced_deployment(ns, _deployment("d"))
    assert d.metadata.generation == 1
    d = apps.patch_namespaced_deployment("d", ns, {"metadata": {"labels": {"x": "y"}}})
    assert d.metadata.generation == 1
    d = apps.patch_namespaced_deployment_status("d", ns, {"status": {"replicas": 1, "observedGeneration": 1}})
    assert d.metadata.generation == 1
    assert d.status.replicas == 1
    d = apps.patch_namespaced_deployment("d", ns, {"spec": {"replicas": 3}})
    assert d.metadata.generation == 2
    assert d.status.replicas == 1  # status kept by a main-endpoint write


def test_generate_name(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    names = {
        core.create_namespaced_config_map(ns, {"metadata": {"generateName": "job-"}}).metadata.name
        for _ in range(5)
    }
    assert len(names) == 5
    for name in names:
        assert re.fullmatch(r"job-[a-z0-9]{5}", name), name


def test_already_exists(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    assert info.value.status == 409
    body = api_exception_body(info.value)
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "x" already exists'
    assert body["details"] == {"name": "x", "kind": "configmaps", "group": ""} or body["details"] == {
        "name": "x",
        "kind": "configmaps",
    }


def test_conflict_on_stale_resource_version(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    stale = core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("x", ns, {"data": {"a": "2"}})
    stale.data = {"a": "3"}
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("x", ns, stale)
    assert info.value.status == 409
    body = api_exception_body(info.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "x": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    # A patch carrying a stale resourceVersion is a precondition too.
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map(
            "x", ns, {"metadata": {"resourceVersion": stale.metadata.resource_version}, "data": {"a": "4"}}
        )
    assert info.value.status == 409
    assert core.read_namespaced_config_map("x", ns).data == {"a": "2"}
    # Without a resourceVersion an update is unconditional.
    stale.metadata.resource_version = None
    assert core.replace_namespaced_config_map("x", ns, stale).data == {"a": "3"}


def test_missing_namespace_is_404(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("nope", {"metadata": {"name": "x"}})
    assert info.value.status == 404
    body = api_exception_body(info.value)
    assert body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "nope" not found'
    assert body["details"]["kind"] == "namespaces"


def test_creation_in_a_terminating_namespace_is_refused(
    client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map(
        "doomed", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )
    core.delete_namespace("doomed")
    wait_for(
        lambda: core.read_namespace("doomed").status.phase == "Terminating", what="namespace Terminating"
    )
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("doomed", {"metadata": {"name": "new"}})
    assert info.value.status == 403
    body = api_exception_body(info.value)
    assert body["reason"] == "Forbidden"
    assert (
        "unable to create new content in namespace doomed because it is being terminated" in body["message"]
    )
    core.patch_namespaced_config_map("held", "doomed", {"metadata": {"finalizers": None}})

    def namespace_gone() -> bool:
        try:
            core.read_namespace("doomed")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(namespace_gone, what="namespace removed")


def test_status_subresource_on_builtin_kinds(client: kubernetes.client.ApiClient, ns: str) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    body = _deployment("d")
    body["status"] = {"replicas": 9}
    d = apps.create_namespaced_deployment(ns, body)
    assert d.status is None or not d.status.replicas  # create drops status
    d.status = kubernetes.client.V1DeploymentStatus(replicas=4)
    d = apps.replace_namespaced_deployment("d", ns, d)
    assert d.status is None or not d.status.replicas  # the main endpoint ignores status
    d.status = kubernetes.client.V1DeploymentStatus(replicas=2)
    d.spec.replicas = 5
    d = apps.replace_namespaced_deployment_status("d", ns, d)
    assert d.status.replicas == 2
    assert d.spec.replicas == 1  # /status ignores everything but status


def test_namespace_defaults(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    ns = core.create_namespace({"metadata": {"name": "fresh"}})
    assert ns.status.phase == "Active"
    assert ns.spec.finalizers == ["kubernetes"]
    assert ns.metadata.labels == {"kubernetes.io/metadata.name": "fresh"}


def test_cluster_scoped_and_namespaced_paths(cluster: kubesim.Cluster) -> None:
    assert http(cluster, "GET", "/api/v1/namespaces/default/nodes").status == 404
    assert http(cluster, "GET", "/api/v1/namespaces/default").status == 200
    assert http(cluster, "GET", "/api/v1/configmaps").status == 200
