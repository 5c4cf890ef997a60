"""Issue 2, behaviour 2: the built-in resources are stored and validated as the real server does."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

from tests.clusters import ClusterUnderTest

from .conformance_support import api_exception_body, http

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
        {
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "NAMESPACE"},
            "reason": "Tested",
            "message": "m",
        },
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
            "regarding": {"kind": "Pod", "name": "p", "namespace": "NAMESPACE"},
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
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "NAMESPACE"}],
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
    client: kubernetes.client.ApiClient,
    ns: str,
    api_version: str,
    kind: str,
    namespaced: bool,
    body: dict[str, Any],
) -> None:
    """Cluster-scoped objects are named after the test's namespace (names stay unique) and deleted at the
    end: a Node especially, which upstream's scheduler would otherwise consider."""
    dyn = kubernetes.dynamic.DynamicClient(client)
    res = dyn.resources.get(api_version=api_version, kind=kind)
    name = "conformance" if namespaced else f"{ns}-conformance"
    body = json.loads(json.dumps(body).replace("NAMESPACE", ns))
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **body}
    kwargs = {"namespace": ns} if namespaced else {}
    created = res.create(body=obj, **kwargs)
    try:
        assert created.metadata.name == name
        assert created.metadata.uid
        got = res.get(name=name, **kwargs)
        assert got.metadata.uid == created.metadata.uid
        assert got.kind == kind
        assert got.apiVersion == api_version
        names = [o.metadata.name for o in res.get(**kwargs).items]
        assert name in names
    finally:
        res.delete(name=name, **kwargs)


def test_core_and_events_k8s_io_events_are_both_served(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
            "reason": "Tested",
            "message": "hello",
            "type": "Normal",
        },
    )
    assert core.read_namespaced_event("e1", ns).message == "hello"
    # A core Event's involved object is in the event's namespace (only "default" may leave it out).
    for involved_ns in ("", "other"):
        involved = {"kind": "Pod", "name": "p", "namespace": involved_ns}
        event = {"metadata": {"name": "e0"}, "involvedObject": involved}
        resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/events", event)
        cause = {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "{involved_ns}": does not match event.namespace',
            "field": "involvedObject.namespace",
        }
        assert resp.status == 422
        assert resp.json()["details"] == {"name": "e0", "kind": "Event", "causes": [cause]}
    # Raw JSON: the typed EventsV1Api re-encodes eventTime without its six fractional digits, which a real
    # server refuses (test_times_parse_as_go_parses_them).
    resp = http(cluster, "POST", f"/apis/events.k8s.io/v1/namespaces/{ns}/events", _events_v1_event(ns, "e2"))
    assert resp.status == 201, resp.body
    assert kubernetes.client.EventsV1Api(client).read_namespaced_event("e2", ns).note == "hi"


def _events_v1_event(ns: str, name: str, event_time: str = "2026-01-01T00:00:00.000000Z") -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name},
        "eventTime": event_time,
        "reportingController": "example.com/tester",
        "reportingInstance": "tester-1",
        "action": "Test",
        "reason": "Tested",
        "type": "Normal",
        "note": "hi",
        "regarding": {"kind": "Pod", "name": "p", "namespace": ns},
    }


@pytest.mark.parametrize(
    ("value", "time_error", "micro_time_error"),
    [
        ("2026-01-01T00:00:00.000000Z", None, None),
        ("2026-01-01T00:00:00Z", None, 'cannot parse "Z" as ".000000"'),
        ("2026-01-01T00:00:00+00:00", None, 'cannot parse "+00:00" as ".000000"'),
        ("2026-01-01T1:00:00.5Z", None, 'cannot parse ".5Z" as ".000000"'),
        ("", 'cannot parse "" as "2006"', 'cannot parse "" as "2006"'),
        ("2026-01-01", 'cannot parse "" as "T"', 'cannot parse "" as "T"'),
        ("2026-01-01t00:00:00z", 'cannot parse "t00:00:00z" as "T"', 'cannot parse "t00:00:00z" as "T"'),
        ("2026-01-01T00:00:00", 'cannot parse "" as "Z07:00"', 'cannot parse "" as ".000000"'),
        ("2026-01-01T00:00:00+0100", 'cannot parse "+0100" as "Z07:00"', 'cannot parse "+0100" as ".000000"'),
        ("2026-01-01T00:00:00.0000000Z", None, 'cannot parse "0Z" as "Z07:00"'),
        ("2026-13-01T00:00:00Z", ": month out of range", ": month out of range"),
        ("2026-01-01T24:00:00Z", ": hour out of range", ": hour out of range"),
        ("2026-02-30T00:00:00.000000Z", ": day out of range", ": day out of range"),
        ("2026-01-01T00:00:00Zjunk", ': extra text: "junk"', 'cannot parse "Zjunk" as ".000000"'),
    ],
)
def test_times_parse_as_go_parses_them(
    cluster: ClusterUnderTest, ns: str, value: str, time_error: str | None, micro_time_error: str | None
) -> None:
    """metav1.Time is RFC 3339 (a fraction optional, the hour one or two digits); metav1.MicroTime needs
    exactly six fractional digits. A value Go's time.Parse refuses fails decoding: 400, in its words."""
    core_event = {
        "metadata": {"name": "t"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
        "firstTimestamp": value,
    }
    for path, body, error, layout in (
        (f"/api/v1/namespaces/{ns}/events", core_event, time_error, "2006-01-02T15:04:05Z07:00"),
        (
            f"/apis/events.k8s.io/v1/namespaces/{ns}/events",
            _events_v1_event(ns, "t", value),
            micro_time_error,
            "2006-01-02T15:04:05.000000Z07:00",
        ),
    ):
        resp = http(cluster, "POST", path + "?dryRun=All", body)
        if error is None:
            assert resp.status == 201, resp.body
            continue
        parsing = f"parsing time {json.dumps(value)}"
        detail = (
            f"{parsing}{error}" if error.startswith(":") else f"{parsing} as {json.dumps(layout)}: {error}"
        )
        assert resp.status == 400, resp.body
        assert resp.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f'Event in version "v1" cannot be handled as a Event: {detail}',
            "reason": "BadRequest",
            "code": 400,
        }


def _invalid(exc: ApiException) -> dict[str, Any]:
    assert exc.status == 422, exc.body
    body = api_exception_body(exc)
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["reason"] == "Invalid"
    assert body["code"] == 422
    return body


def test_pod_without_containers_is_invalid(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod(ns, {"metadata": {"name": "bad"}, "spec": {"containers": []}})
    body = _invalid(info.value)
    assert body["details"]["name"] == "bad"
    assert body["details"]["kind"] == "Pod"
    fields = {c["field"]: c for c in body["details"]["causes"]}
    assert fields["spec.containers"]["reason"] == "FieldValueRequired"
    assert body["message"].startswith('Pod "bad" is invalid: ')
    assert "spec.containers: Required value" in body["message"]


def test_container_without_image_names_the_field(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod(ns, {"metadata": {"name": "bad"}, "spec": {"containers": [{"name": "c"}]}})
    body = _invalid(info.value)
    causes = body["details"]["causes"]
    assert {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.containers[0].image",
    } in causes


def test_invalid_name_is_rejected(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "Not_Valid"}})
    body = _invalid(info.value)
    (cause,) = body["details"]["causes"]
    assert cause["field"] == "metadata.name"
    assert cause["reason"] == "FieldValueInvalid"
    assert 'Invalid value: "Not_Valid"' in cause["message"]


def test_service_port_out_of_range(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.create_namespaced_service(
            ns, {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 70000}]}}
        )
    body = _invalid(info.value)
    assert any(c["field"] == "spec.ports[0].port" for c in body["details"]["causes"])


def test_deployment_selector_must_match_template(client: kubernetes.client.ApiClient, ns: str) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment(
            ns,
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


def test_wrong_type_is_a_400_decode_error(cluster: ClusterUnderTest, ns: str) -> None:
    resp = http(
        cluster,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}},
    )
    assert resp.status == 400, resp.body
    status = resp.json()
    assert status["reason"] == "BadRequest"


def test_strict_field_validation_rejects_unknown_fields(cluster: ClusterUnderTest, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "bogus": 1}
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict", body)
    assert resp.status == 400, resp.body
    assert 'unknown field "bogus"' in resp.json()["message"]
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Warn", body)
    assert resp.status == 201, resp.body
    assert "bogus" not in resp.json()
    # One Warning header per field, the text quoted with its quotes and backslashes escaped.
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}, "bogus": 1, 'we"ird': 2}
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Warn", body)
    assert resp.status == 201, resp.body
    assert resp.header_values("Warning") == [
        '299 - "unknown field \\"bogus\\""',
        '299 - "unknown field \\"we\\\\\\"ird\\""',
    ]


def test_finalizers_must_be_qualified_on_builtin_kinds(cluster: ClusterUnderTest, ns: str) -> None:
    """A finalizer without a domain must be a standard one on built-in kinds (custom resources take any
    qualified name)."""
    path = f"/api/v1/namespaces/{ns}/configmaps?dryRun=All"
    resp = http(
        cluster, "POST", path, {"metadata": {"name": "x", "finalizers": ["kubernetes", "orphan", "hold"]}}
    )
    assert resp.status == 422, resp.body
    cause = {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "hold": name is neither a standard finalizer name nor is it '
        "fully qualified",
        "field": "metadata.finalizers[2]",
    }
    assert resp.json()["details"] == {"name": "x", "kind": "ConfigMap", "causes": [cause]}
    assert resp.json()["message"] == f'ConfigMap "x" is invalid: metadata.finalizers[2]: {cause["message"]}'
    ok = {"metadata": {"name": "x", "finalizers": ["kubernetes", "foregroundDeletion", "example.com/hold"]}}
    assert http(cluster, "POST", path, ok).status == 201


def test_owner_reference_fields_must_not_be_empty(cluster: ClusterUnderTest, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps?dryRun=All"
    resp = http(
        cluster, "POST", path, {"metadata": {"name": "x", "ownerReferences": [{"apiVersion": "a/b/c"}]}}
    )
    assert resp.status == 422, resp.body
    causes = resp.json()["details"]["causes"]
    if cluster.upstream_since(37):
        # 1.37 names the reference by its index, says how an apiVersion is formed, and reports each
        # missing field as Required.
        field = "metadata.ownerReferences[0]"
        assert causes == [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: "a/b/c": must be <group>/<version> or <version>',
                "field": f"{field}.apiVersion",
            },
            *(
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value: must not be empty",
                    "field": f"{field}.{key}",
                }
                for key in ("kind", "name", "uid")
            ),
        ]
        return
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "a/b/c": version must not be empty',
            "field": "metadata.ownerReferences.apiVersion",
        },
        *(
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: "": must not be empty',
                "field": f"metadata.ownerReferences.{key}",
            }
            for key in ("kind", "name", "uid")
        ),
    ]
