"""Issue 2, behaviour 6: JSON merge patch, JSON patch, strategic merge patch, server-side apply."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest
import yaml
from kubernetes.client import ApiException

from tests.clusters import ClusterUnderTest
from tests.conftest import wait_until

from .conformance_support import GROUP, WIDGETS, api_exception_body, create_crd_over_http, http, widget

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def _deployment(name: str = "d") -> dict[str, Any]:
    pod_spec = {
        "containers": [
            {
                "name": "main",
                "image": "busybox:1.36",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80, "name": "http"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            },
            {"name": "sidecar", "image": "busybox:1.36"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "a", "operator": "Exists"}],
        "imagePullSecrets": [{"name": "one"}],
    }
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        },
    }


def _patch(cluster: ClusterUnderTest, path: str, body: Any, content_type: str, query: str = "") -> Any:
    resp = http(cluster, "PATCH", path + query, body, content_type=content_type)
    return resp


def test_json_merge_patch(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}}
    )
    cm = core.patch_namespaced_config_map(
        "x", ns, {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"k2": "v2"}}, _content_type=MERGE
    )
    assert cm.metadata.labels == {"b": "2", "c": "3"}
    assert cm.data == {"k": "v", "k2": "v2"}


def test_json_patch_and_failing_test_op(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}, "data": {"k": "v"}})
    cm = core.patch_namespaced_config_map(
        "x",
        ns,
        [
            {"op": "test", "path": "/data/k", "value": "v"},
            {"op": "replace", "path": "/data/k", "value": "w"},
            {"op": "add", "path": "/metadata/labels", "value": {"new": "label"}},
        ],
    )
    assert cm.data == {"k": "w"}
    assert cm.metadata.labels == {"new": "label"}
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map("x", ns, [{"op": "test", "path": "/data/k", "value": "nope"}])
    assert info.value.status == 422
    body = api_exception_body(info.value)
    assert body["reason"] == "Invalid"
    assert body["message"] == "the server rejected our request due to an error in our request"
    assert body["details"] == {}  # the patcher's own words are not shown
    assert core.read_namespaced_config_map("x", ns).data == {"k": "w"}
    resp = _patch(cluster, f"/api/v1/namespaces/{ns}/configmaps/x", {"op": "add"}, JSON_PATCH)
    assert resp.status == 400  # not a list of operations


def test_strategic_merge_patch_uses_merge_keys(client: kubernetes.client.ApiClient, ns: str) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    apps.create_namespaced_deployment(ns, _deployment())
    pod_patch = {
        "containers": [
            {
                "name": "main",
                "image": "busybox:1.37",
                "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
                "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
            }
        ],
        "volumes": [{"name": "cache", "emptyDir": {}}],
        "tolerations": [{"key": "b", "operator": "Exists"}],
        "imagePullSecrets": [{"name": "two"}],
    }
    patch = {"metadata": {"finalizers": ["example.com/f"]}, "spec": {"template": {"spec": pod_patch}}}
    d = apps.patch_namespaced_deployment("d", ns, patch)  # a dict body is sent as a strategic merge patch
    pod = d.spec.template
    containers = {c.name: c for c in pod.spec.containers}
    assert set(containers) == {"main", "sidecar"}  # containers merge by name
    main = containers["main"]
    assert main.image == "busybox:1.37"
    assert [(e.name, e.value) for e in main.env] == [("A", "1"), ("B", "two"), ("C", "3")]
    assert sorted(m.mount_path for m in main.volume_mounts) == ["/cache", "/data"]  # merged by mountPath
    assert [p.container_port for p in main.ports] == [80]
    assert sorted(v.name for v in pod.spec.volumes) == ["cache", "data"]  # merged by name
    assert sorted(s.name for s in pod.spec.image_pull_secrets) == ["one", "two"]  # merged by name
    assert [(t.key, t.operator) for t in pod.spec.tolerations] == [("b", "Exists")]  # no merge key: replaced
    assert d.metadata.finalizers == ["example.com/f"]
    d = apps.patch_namespaced_deployment(
        "d",
        ns,
        {
            "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}},
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/f"]},
        },
    )
    assert [c.name for c in d.spec.template.spec.containers] == ["main"]
    assert not d.metadata.finalizers


def test_pod_spec_is_immutable_but_images(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    )
    pod = core.patch_namespaced_pod(
        "p", ns, {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}
    )
    assert pod.spec.containers[0].image == "busybox:1.37"
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_pod("p", ns, {"spec": {"containers": [{"name": "c", "env": [{"name": "A"}]}]}})
    assert info.value.status == 422
    (cause,) = api_exception_body(info.value)["details"]["causes"]
    assert cause["field"] == "spec"
    assert cause["message"].startswith("Forbidden: pod updates may not change fields other than")


def test_strategic_merge_patch_owner_references_and_ports(
    client: kubernetes.client.ApiClient, ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_service(
        ns,
        {"metadata": {"name": "s"}, "spec": {"ports": [{"name": "a", "port": 80}], "selector": {"app": "x"}}},
    )
    svc = core.patch_namespaced_service("s", ns, {"spec": {"ports": [{"name": "b", "port": 81}]}})
    assert sorted(p.port for p in svc.spec.ports) == [80, 81]  # service ports merge by port
    o1 = core.create_namespaced_config_map(ns, {"metadata": {"name": "o1"}})
    o2 = core.create_namespaced_config_map(ns, {"metadata": {"name": "o2"}})
    ref1 = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o1", "uid": o1.metadata.uid}
    ref2 = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o2", "uid": o2.metadata.uid}
    core.patch_namespaced_service("s", ns, {"metadata": {"ownerReferences": [ref1]}})
    svc = core.patch_namespaced_service("s", ns, {"metadata": {"ownerReferences": [ref2]}})
    assert sorted(r.name for r in svc.metadata.owner_references) == ["o1", "o2"]  # merged by uid


def test_strategic_merge_patch_on_custom_resources_is_415(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    create_crd_over_http(cluster)
    kubernetes.client.CustomObjectsApi(client).create_namespaced_custom_object(
        GROUP, "v1", ns, WIDGETS, widget("w")
    )
    path = f"/apis/{GROUP}/v1/namespaces/{ns}/{WIDGETS}/w"
    resp = _patch(cluster, path, {"spec": {"size": 4}}, SMP)
    assert resp.status == 415
    status = resp.json()
    assert status["reason"] == "UnsupportedMediaType"
    assert status["code"] == 415
    resp = _patch(cluster, path, {"spec": {"size": 4}}, MERGE)
    assert resp.status == 200
    assert resp.json()["spec"]["size"] == 4


def test_unknown_patch_type_is_415(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    kubernetes.client.CoreV1Api(client).create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    resp = _patch(cluster, f"/api/v1/namespaces/{ns}/configmaps/x", {}, "text/plain")
    assert resp.status == 415


def test_server_side_apply_create_update_and_conflicts(cluster: ClusterUnderTest, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/applied"
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied"},
        "data": {"a": "1", "b": "2"},
    }
    resp = _patch(cluster, path, yaml.safe_dump(doc), APPLY, "?fieldManager=alice")
    assert resp.status == 201, resp.body  # apply creates
    created = resp.json()
    (entry,) = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("alice", "Apply")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}
    # Re-applying the same configuration changes nothing.
    resp = _patch(cluster, path, yaml.safe_dump(doc), APPLY, "?fieldManager=alice")
    assert resp.status == 200
    assert resp.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    # Another manager changing alice's field conflicts...
    bob = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "changed"}}
    resp = _patch(cluster, path, yaml.safe_dump(bob), APPLY, "?fieldManager=bob")
    assert resp.status == 409
    status = resp.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "alice": .data.a'
    assert status["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".data.a"}
    ]
    # ...unless forced, which moves ownership.
    resp = _patch(cluster, path, yaml.safe_dump(bob), APPLY, "?fieldManager=bob&force=true")
    assert resp.status == 200
    obj = resp.json()
    assert obj["data"] == {"a": "changed", "b": "2"}
    managers = {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}
    assert managers["bob"] == {"f:data": {"f:a": {}}}
    assert managers["alice"] == {"f:data": {"f:b": {}}}
    # Dropping a field from alice's configuration removes it (she is its only owner).
    resp = _patch(cluster, path, yaml.safe_dump({**doc, "data": {}}), APPLY, "?fieldManager=alice")
    assert resp.json()["data"] == {"a": "changed"}


def test_server_side_apply_requires_a_field_manager(cluster: ClusterUnderTest, ns: str) -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    resp = _patch(cluster, f"/api/v1/namespaces/{ns}/configmaps/x", yaml.safe_dump(doc), APPLY)
    assert resp.status == 422
    cause = {
        "reason": "FieldValueRequired",
        "message": "Required value: is required for apply patch",
        "field": "fieldManager",
    }
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'PatchOptions.meta.k8s.io "" is invalid: fieldManager: {cause["message"]}',
        "reason": "Invalid",
        "details": {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [cause]},
        "code": 422,
    }


def test_server_side_apply_that_creates_needs_the_create_verb(cluster: ClusterUnderTest, ns: str) -> None:
    """An apply patch is authorized as ``patch``; when it creates the object the user must also be allowed
    to ``create`` it (dry runs included)."""
    base = f"/api/v1/namespaces/{ns}"
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}"
    assert http(cluster, "POST", f"{base}/serviceaccounts", {"metadata": {"name": "robot"}}).status == 201
    role = {
        "metadata": {"name": "patcher"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]}],
    }
    assert http(cluster, "POST", f"{rbac}/roles", role).status == 201
    binding = {
        "metadata": {"name": "patcher"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "patcher"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": ns}],
    }
    assert http(cluster, "POST", f"{rbac}/rolebindings", binding).status == 201
    token = cluster.token_for("robot", ns)

    def apply(name: str, query: str = "") -> Any:
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}
        path = f"{base}/configmaps/{name}?fieldManager=robot{query}"
        return http(cluster, "PATCH", path, yaml.safe_dump(doc), content_type=APPLY, token=token)

    for query in ("", "&dryRun=All"):
        resp = apply("fresh", query)
        assert resp.status == 403
        assert resp.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f'configmaps "fresh" is forbidden: User "system:serviceaccount:{ns}:robot" cannot '
            f'create resource "configmaps" in API group "" in the namespace "{ns}"',
            "reason": "Forbidden",
            "details": {"name": "fresh", "kind": "configmaps"},
            "code": 403,
        }
    assert http(cluster, "GET", f"{base}/configmaps/fresh").status == 404
    # An object that exists is only patched: the patch verb is enough.
    assert http(cluster, "POST", f"{base}/configmaps", {"metadata": {"name": "there"}}).status == 201
    resp = apply("there")
    assert resp.status == 200, resp.body
    assert resp.json()["data"] == {"a": "1"}
    # With create granted, the apply creates.
    role["rules"][0]["verbs"] = ["patch", "create"]
    assert http(cluster, "PUT", f"{rbac}/roles/patcher", role).status == 200
    resp = wait_until(
        lambda: (r := apply("fresh")).status == 201 and r, 30, message="apply allowed to create"
    )
    assert resp.json()["data"] == {"a": "1"}


def test_server_side_apply_on_custom_resources_and_status(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    create_crd_over_http(cluster)
    path = f"/apis/{GROUP}/v1/namespaces/{ns}/{WIDGETS}/w"
    resp = _patch(cluster, path, yaml.safe_dump(widget("w", size=2)), APPLY, "?fieldManager=ctl")
    assert resp.status == 201, resp.body
    assert resp.json()["spec"] == {"size": 2, "color": "blue", "replicas": 1}
    status = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "status": {"phase": "Ok"},
    }
    resp = _patch(cluster, path + "/status", yaml.safe_dump(status), APPLY, "?fieldManager=operator")
    assert resp.status == 200, resp.body
    obj = resp.json()
    assert obj["status"] == {"phase": "Ok"}
    assert obj["metadata"]["generation"] == 1
    entries = {(e["manager"], e.get("subresource", "")) for e in obj["metadata"]["managedFields"]}
    assert entries == {("ctl", ""), ("operator", "status")}


def test_patch_of_missing_object_is_404(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map("missing", ns, {"data": {"a": "b"}}, _content_type=MERGE)
    assert info.value.status == 404
    assert api_exception_body(info.value)["message"] == 'configmaps "missing" not found'
