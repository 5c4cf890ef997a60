"""Issue 2, behaviour 4: object semantics (uid, timestamps, resourceVersion, generation, generateName,
AlreadyExists, Conflict, namespaces, status subresources)."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

from tests.clusters import ClusterUnderTest

from .conformance_support import (
    GROUP,
    WIDGETS,
    api_exception_body,
    create_crd_over_http,
    http,
    named,
    watch_events,
    widget,
)


def test_server_sets_uid_timestamp_and_resource_version(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "x", "uid": "mine"}})
    uuid.UUID(cm.metadata.uid)
    assert cm.metadata.uid != "mine"
    assert isinstance(cm.metadata.creation_timestamp, dt.datetime)
    assert abs((dt.datetime.now(dt.UTC) - cm.metadata.creation_timestamp).total_seconds()) < 5
    assert re.fullmatch(r"[0-9]+", cm.metadata.resource_version)
    assert cm.metadata.generation is None  # ConfigMaps have no generation, as upstream


def test_create_carrying_a_resource_version_is_refused(cluster: ClusterUnderTest, ns: str) -> None:
    """The registry refuses it before storage, as an internal error without a reason (the client must
    not send one; a Status of code 500 and no ``reason``)."""
    body = {"metadata": {"name": "x", "resourceVersion": "7"}}
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert resp.status == 500
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "resourceVersion should not be set on objects to be created",
        "code": 500,
    }
    assert http(cluster, "GET", f"/api/v1/namespaces/{ns}/configmaps/x").status == 404


def test_resource_version_changes_only_when_something_changes(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
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


def test_generation_follows_spec_changes_only(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    """A custom resource with a status subresource (no controller rewrites its status, unlike a
    Deployment's): generation follows everything but metadata and status."""
    create_crd_over_http(cluster)
    custom = kubernetes.client.CustomObjectsApi(client)
    args = (GROUP, "v1", ns, WIDGETS)
    w = custom.create_namespaced_custom_object(*args, widget("w"))
    assert w["metadata"]["generation"] == 1
    w = custom.patch_namespaced_custom_object(*args, "w", {"metadata": {"labels": {"x": "y"}}})
    assert w["metadata"]["generation"] == 1
    w = custom.patch_namespaced_custom_object_status(*args, "w", {"status": {"replicas": 1}})
    assert w["metadata"]["generation"] == 1
    assert w["status"] == {"replicas": 1}
    w = custom.patch_namespaced_custom_object(*args, "w", {"spec": {"replicas": 3}})
    assert w["metadata"]["generation"] == 2
    assert w["status"] == {"replicas": 1}  # status kept by a main-endpoint write


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
    # The raw body, as the client prints it: Go's field order, no empty group, a trailing newline.
    assert info.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"x\\" '
        'already exists","reason":"AlreadyExists","details":{"name":"x","kind":"configmaps"},"code":409}\n'
    )
    # In a group: the qualified resource in the message, the group in the details.
    apps = kubernetes.client.AppsV1Api(client)
    labels = {"app": "d"}
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    apps.create_namespaced_deployment(ns, deployment)
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment(ns, deployment)
    assert api_exception_body(info.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "d" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "d", "group": "apps", "kind": "deployments"},
        "code": 409,
    }


def test_conflict_on_stale_resource_version(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    stale = core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("x", ns, {"data": {"a": "2"}})
    stale.data = {"a": "3"}
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("x", ns, stale)
    assert info.value.status == 409
    assert info.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be '
        'fulfilled on configmaps \\"x\\": the object has been modified; please apply your changes to the '
        'latest version and try again","reason":"Conflict","details":{"name":"x","kind":"configmaps"},'
        '"code":409}\n'
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


def test_missing_namespace_is_404(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    missing = f"{ns}-nope"
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(missing, {"metadata": {"name": "x"}})
    assert info.value.status == 404
    body = api_exception_body(info.value)
    assert body["reason"] == "NotFound"
    assert body["message"] == f'namespaces "{missing}" not found'
    assert body["details"] == {"name": missing, "kind": "namespaces"}


def test_creation_in_a_terminating_namespace_is_refused(
    client: kubernetes.client.ApiClient, ns: str, wait_for: Callable[..., Any]
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    doomed = f"{ns}-doomed"
    core.create_namespace({"metadata": {"name": doomed}})
    core.create_namespaced_config_map(
        doomed, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )
    try:
        core.delete_namespace(doomed)
        wait_for(
            lambda: core.read_namespace(doomed).status.phase == "Terminating", what="namespace Terminating"
        )
        with pytest.raises(ApiException) as info:
            core.create_namespaced_config_map(doomed, {"metadata": {"name": "new"}})
        assert info.value.status == 403
        body = api_exception_body(info.value)
        assert body["reason"] == "Forbidden"
        assert body["message"] == (
            f'configmaps "new" is forbidden: unable to create new content in namespace {doomed} '
            "because it is being terminated"
        )
        assert body["details"] == {
            "name": "new",
            "kind": "configmaps",
            "causes": [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {doomed} is being terminated",
                    "field": "metadata.namespace",
                }
            ],
        }
    finally:  # the namespace must go whatever happened (names of later tests' namespaces differ)
        core.patch_namespaced_config_map("held", doomed, {"metadata": {"finalizers": None}})

    def namespace_gone() -> bool:
        try:
            core.read_namespace(doomed)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(namespace_gone, timeout=60, what="namespace removed")


def test_status_subresource_on_builtin_kinds(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    """A Service: no controller writes its status on either backend (no load balancer here), so what is
    read back is what the API did."""
    core = kubernetes.client.CoreV1Api(client)
    ready = {
        "type": "Tested",
        "status": "True",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "reason": "Written",
        "message": "by the test",
    }
    body = {
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "s"}},
        "status": {"conditions": [ready]},
    }
    s = core.create_namespaced_service(ns, body)
    assert not s.status.conditions  # create drops status
    s.status = {"conditions": [ready]}
    s = core.replace_namespaced_service("s", ns, s)
    assert not s.status.conditions  # the main endpoint ignores status
    s.status = {"conditions": [ready]}
    s.spec.ports[0].port = 81
    s = core.replace_namespaced_service_status("s", ns, s)
    assert [(c.type, c.reason) for c in s.status.conditions] == [("Tested", "Written")]
    assert s.spec.ports[0].port == 80  # /status ignores everything but status
    assert core.read_namespaced_service("s", ns).to_dict() == s.to_dict()
    # Status is validated on /status writes.
    status = {"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}]}}
    resp = http(
        cluster,
        "PATCH",
        f"/api/v1/namespaces/{ns}/services/s/status",
        {"status": status},
        content_type="application/merge-patch+json",
    )
    assert resp.status == 422
    cause = {
        "reason": "FieldValueForbidden",
        "message": "Forbidden: may only be used when `spec.type` is 'LoadBalancer'",
        "field": "status.loadBalancer.ingress",
    }
    assert (
        resp.body
        == json.dumps(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f'Service "s" is invalid: {cause["field"]}: {cause["message"]}',
                "reason": "Invalid",
                "details": {"name": "s", "kind": "Service", "causes": [cause]},
                "code": 422,
            },
            separators=(",", ":"),
        ).encode()
        + b"\n"
    )


def test_namespace_defaults(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    name = f"{ns}-fresh"
    created = core.create_namespace({"metadata": {"name": name}})
    assert created.status.phase == "Active"
    assert created.spec.finalizers == ["kubernetes"]
    assert created.metadata.labels == {"kubernetes.io/metadata.name": name}


def test_cluster_scoped_and_namespaced_paths(cluster: ClusterUnderTest, ns: str) -> None:
    assert http(cluster, "GET", f"/api/v1/namespaces/{ns}/nodes").status == 404
    assert http(cluster, "GET", f"/api/v1/namespaces/{ns}").status == 200
    assert http(cluster, "GET", "/api/v1/configmaps").status == 200


_PORT_80 = {
    "f:ports": {
        ".": {},
        'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}},
    },
    "f:selector": {},
}


@pytest.mark.parametrize(
    ("spec", "keys", "owned"),
    [
        (
            {"type": "ClusterIP"},
            [
                "clusterIP",
                "clusterIPs",
                "internalTrafficPolicy",
                "ipFamilies",
                "ipFamilyPolicy",
                "ports",
                "selector",
                "sessionAffinity",
                "type",
            ],
            {"f:internalTrafficPolicy": {}, **_PORT_80, "f:sessionAffinity": {}, "f:type": {}},
        ),
        (
            {"type": "NodePort"},
            [
                "clusterIP",
                "clusterIPs",
                "externalTrafficPolicy",
                "internalTrafficPolicy",
                "ipFamilies",
                "ipFamilyPolicy",
                "ports",
                "selector",
                "sessionAffinity",
                "type",
            ],
            {
                "f:externalTrafficPolicy": {},
                "f:internalTrafficPolicy": {},
                **_PORT_80,
                "f:sessionAffinity": {},
                "f:type": {},
            },
        ),
        (
            {"type": "LoadBalancer"},
            [
                "allocateLoadBalancerNodePorts",
                "clusterIP",
                "clusterIPs",
                "externalTrafficPolicy",
                "internalTrafficPolicy",
                "ipFamilies",
                "ipFamilyPolicy",
                "ports",
                "selector",
                "sessionAffinity",
                "type",
            ],
            {
                "f:allocateLoadBalancerNodePorts": {},
                "f:externalTrafficPolicy": {},
                "f:internalTrafficPolicy": {},
                **_PORT_80,
                "f:sessionAffinity": {},
                "f:type": {},
            },
        ),
        (
            {"clusterIP": "None"},
            [
                "clusterIP",
                "clusterIPs",
                "internalTrafficPolicy",
                "ipFamilies",
                "ipFamilyPolicy",
                "ports",
                "selector",
                "sessionAffinity",
                "type",
            ],
            {
                "f:clusterIP": {},
                "f:internalTrafficPolicy": {},
                **_PORT_80,
                "f:sessionAffinity": {},
                "f:type": {},
            },
        ),
        (
            {"sessionAffinity": "ClientIP"},
            [
                "clusterIP",
                "clusterIPs",
                "internalTrafficPolicy",
                "ipFamilies",
                "ipFamilyPolicy",
                "ports",
                "selector",
                "sessionAffinity",
                "sessionAffinityConfig",
                "type",
            ],
            {
                "f:internalTrafficPolicy": {},
                **_PORT_80,
                "f:sessionAffinity": {},
                "f:sessionAffinityConfig": {".": {}, "f:clientIP": {".": {}, "f:timeoutSeconds": {}}},
                "f:type": {},
            },
        ),
        (
            {"type": "ExternalName", "externalName": "example.com"},
            ["externalName", "sessionAffinity", "type"],
            {"f:externalName": {}, "f:sessionAffinity": {}, "f:type": {}},
        ),
    ],
    ids=["cluster-ip", "node-port", "load-balancer", "headless", "client-ip", "external-name"],
)
def test_service_defaults_and_allocations(
    cluster: ClusterUnderTest, ns: str, spec: dict[str, Any], keys: list[str], owned: dict[str, Any]
) -> None:
    """Defaults are applied as the request is decoded, so its manager owns them; what the registry
    allocates afterwards (cluster IPs, IP families, node ports) belongs to no manager."""
    if spec.get("type") != "ExternalName":
        spec = {**spec, "ports": [{"port": 80}], "selector": {"app": "s"}}
    resp = http(
        cluster,
        "POST",
        f"/api/v1/namespaces/{ns}/services?fieldManager=creator",
        {"metadata": {"name": "s"}, "spec": spec},
    )
    assert resp.status == 201, resp.body
    created = resp.json()
    assert sorted(created["spec"]) == keys
    (entry,) = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["fieldsV1"]) == ("creator", {"f:spec": owned})
    assert created["status"] == {"loadBalancer": {}}
    if "clusterIPs" in created["spec"]:
        assert created["spec"]["clusterIPs"] == [created["spec"]["clusterIP"]]
        assert (created["spec"]["ipFamilies"], created["spec"]["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    node_ports = [p.get("nodePort") for p in created["spec"].get("ports", ())]
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        assert all(30000 <= p <= 32767 for p in node_ports), node_ports
        # A replace that leaves the node port out keeps it.
        body = {**created, "spec": {**created["spec"], "ports": [{"port": 80}]}}
        replaced = http(cluster, "PUT", f"/api/v1/namespaces/{ns}/services/s", body).json()
        assert [p["nodePort"] for p in replaced["spec"]["ports"]] == node_ports
    else:
        assert node_ports == [None] * len(node_ports)


def test_an_events_unset_go_struct_fields_are_served(cluster: ClusterUnderTest, ns: str) -> None:
    """A core Event keeps the fields Go's encoder always writes: its timestamps (metav1.Time) as null when
    unset, ``source`` as {}, the reporting component and instance (no omitempty) as "". Clients index them
    (kubespawner sorts a pod's events by ``event["lastTimestamp"] or event["eventTime"]``), so an Event
    posted the events.k8s.io way, with an eventTime and no timestamps (kube-scheduler's), must carry them."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "metadata": {"name": "scheduled.1"},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": "p", "apiVersion": "v1"},
        "reason": "Scheduled",
        "message": "assigned",
        "type": "Normal",
        "eventTime": now,
        "action": "Binding",
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-node",
    }
    status, created = cluster.request("POST", f"/api/v1/namespaces/{ns}/events", body)
    assert status == 201, created
    reporting = ("eventTime", "action", "reportingComponent", "reportingInstance")
    legacy = {k: v for k, v in body.items() if k not in reporting}
    legacy["metadata"] = {"name": "legacy.1"}
    status, plain = cluster.request("POST", f"/api/v1/namespaces/{ns}/events", legacy)
    assert status == 201, plain
    for event in (created, cluster.request("GET", f"/api/v1/namespaces/{ns}/events/scheduled.1")[1]):
        assert (event["firstTimestamp"], event["lastTimestamp"]) == (None, None), event
        assert event["source"] == {}, event
        assert event["eventTime"] == now, event
    assert plain["eventTime"] is None, plain
    assert (plain["reportingComponent"], plain["reportingInstance"]) == ("", ""), plain
