"""Issue 2, behaviour 2: the built-in resources are stored and validated as the real server does."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

import kubesim

from .conformance_support import api_exception_body, http

NS = "default"

# (apiVersion, kind, namespaced, minimal valid body)
BUILTINS: list[tuple[str, str, bool, dict[str, Any]]] = [
    ("v1", "Namespace", False, {}),
    ("v1", "Pod", True, {"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}),
    (
        "v1",
        "PersistentVolumeClaim",
        True,
        {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    ),
    (
        "v1",
        "PersistentVolume",
        False,
        {
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/tmp/pv"},
                "storageClassName": "manual",
            }
        },
    ),
    ("v1", "Service", True, {"spec": {"ports": [{"port": 80}], "selector": {"app": "x"}}}),
    ("v1", "ConfigMap", True, {"data": {"a": "b"}}),
    ("v1", "Secret", True, {"stringData": {"a": "b"}}),
    ("v1", "ServiceAccount", True, {}),
    (
        "v1",
        "Event",
        True,
        {"involvedObject": {"kind": "Pod", "name": "p", "namespace": NS}, "reason": "Tested", "message": "m"},
    ),
    (
        "events.k8s.io/v1",
        "Event",
        True,
        {
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "example.com/tester",
            "reportingInstance": "tester-1",
            "action": "Test",
            "reason": "Tested",
            "type": "Normal",
            "regarding": {"kind": "Pod", "name": "p", "namespace": NS},
        },
    ),
    ("v1", "Node", False, {}),
    (
        "apps/v1",
        "Deployment",
        True,
        {
            "spec": {
                "selector": {"matchLabels": {"app": "x"}},
                "template": {
                    "metadata": {"labels": {"app": "x"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
                },
            }
        },
    ),
    (
        "apps/v1",
        "StatefulSet",
        True,
        {
            "spec": {
                "serviceName": "x",
                "selector": {"matchLabels": {"app": "x"}},
                "template": {
                    "metadata": {"labels": {"app": "x"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
                },
            }
        },
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        True,
        {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        True,
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": NS}],
        },
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        False,
        {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        False,
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
        },
    ),
    ("coordination.k8s.io/v1", "Lease", True, {"spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}),
]


@pytest.mark.parametrize(
    ("api_version", "kind", "namespaced", "body"), BUILTINS, ids=[f"{a}/{k}" for a, k, _, _ in BUILTINS]
)
def test_builtin_kinds_round_trip_through_the_dynamic_client(
    client: kubernetes.client.ApiClient, api_version: str, kind: str, namespaced: bool, body: dict[str, Any]
) -> None:
    dyn = kubernetes.dynamic.DynamicClient(client)
    res = dyn.resources.get(api_version=api_version, kind=kind)
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "conformance"}, **body}
    kwargs = {"namespace": NS} if namespaced else {}
    created = res.create(body=obj, **kwargs)
    assert created.metadata.name == "conformance"
    assert created.metadata.uid
    got = res.get(name="conformance", **kwargs)
    assert got.metadata.uid == created.metadata.uid
    assert got.kind == kind
    assert got.apiVersion == api_version
    names = [o.metadata.name for o in res.get(**kwargs).items]
    assert "conformance" in names


def test_core_and_events_k8s_io_events_are_both_served(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_event(
        NS,
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": NS},
            "reason": "Tested",
            "message": "hello",
            "type": "Normal",
        },
    )
    assert core.read_namespaced_event("e1", NS).message == "hello"
    ev = kubernetes.client.EventsV1Api(client)
    ev.create_namespaced_event(
        NS,
        {
            "metadata": {"name": "e2"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "example.com/tester",
            "reportingInstance": "tester-1",
            "action": "Test",
            "reason": "Tested",
            "type": "Normal",
            "note": "hi",
            "regarding": {"kind": "Pod", "name": "p", "namespace": NS},
        },
    )
    assert ev.read_namespaced_event("e2", NS).note == "hi"


def _invalid(exc: ApiException) -> dict[str, Any]:
    assert exc.status == 422, exc.body
    body = api_exception_body(exc)
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["reason"] == "Invalid"
    assert body["code"] == 422
    return body


def test_pod_without_containers_is_invalid(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod(NS, {"metadata": {"name": "bad"}, "spec": {"containers": []}})
    body = _invalid(info.value)
    assert body["details"]["name"] == "bad"
    assert body["details"]["kind"] == "Pod"
    fields = {c["field"]: c for c in body["details"]["causes"]}
    assert fields["spec.containers"]["reason"] == "FieldValueRequired"
    assert body["message"].startswith('Pod "bad" is invalid: ')
    assert "spec.containers: Required value" in body["message"]


def test_container_without_image_names_the_field(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod(NS, {"metadata": {"name": "bad"}, "spec": {"containers": [{"name": "c"}]}})
    body = _invalid(info.value)
    causes = body["details"]["causes"]
    assert {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.containers[0].image",
    } in causes


def test_invalid_name_is_rejected(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(NS, {"metadata": {"name": "Not_Valid"}})
    body = _invalid(info.value)
    (cause,) = body["details"]["causes"]
    assert cause["field"] == "metadata.name"
    assert cause["reason"] == "FieldValueInvalid"
    assert 'Invalid value: "Not_Valid"' in cause["message"]


def test_service_port_out_of_range(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_service(
            NS, {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 70000}]}}
        )
    body = _invalid(info.value)
    assert any(c["field"] == "spec.ports[0].port" for c in body["details"]["causes"])


def test_deployment_selector_must_match_template(client: kubernetes.client.ApiClient) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment(
            NS,
            {
                "metadata": {"name": "d"},
                "spec": {
                    "selector": {"matchLabels": {"app": "x"}},
                    "template": {
                        "metadata": {"labels": {"app": "y"}},
                        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
                    },
                },
            },
        )
    body = _invalid(info.value)
    assert any(c["field"] == "spec.template.metadata.labels" for c in body["details"]["causes"])


def test_wrong_type_is_a_400_decode_error(cluster: kubesim.Cluster) -> None:
    resp = http(
        cluster,
        "POST",
        f"/api/v1/namespaces/{NS}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}},
    )
    assert resp.status == 400, resp.body
    status = resp.json()
    assert status["reason"] == "BadRequest"


def test_strict_field_validation_rejects_unknown_fields(cluster: kubesim.Cluster) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "bogus": 1}
    resp = http(cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps?fieldValidation=Strict", body)
    assert resp.status == 400, resp.body
    assert 'unknown field "bogus"' in resp.json()["message"]
    resp = http(cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps?fieldValidation=Warn", body)
    assert resp.status == 201, resp.body
    assert 'unknown field "bogus"' in resp.headers.get("Warning", "")
    assert "bogus" not in resp.json()
