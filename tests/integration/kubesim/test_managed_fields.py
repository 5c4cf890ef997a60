"""metadata.managedFields as clients read them, pinned byte for byte (key order included).

Writes go through the HTTP API — the official client, or raw requests for apply patches and ``/status`` —
under a fixed clock, so the recorded times are known. After each step the object is read back as raw JSON
and its ``managedFields`` compared with what kubesim answered when every write decoded and re-encoded
every manager's field set.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

import kubesim
import kubesim.api

from .conformance_support import GROUP, WIDGETS, http, widget, widget_crd

NS = "default"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


class Clock:
    def __init__(self) -> None:
        self.value = "2030-01-01T00:00:00Z"

    def at(self, minute: int) -> None:
        self.value = f"2030-01-01T00:{minute:02d}:00Z"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(kubesim.api, "now", lambda: c.value)
    return c


def _managed(cluster: kubesim.Cluster, path: str) -> str:
    resp = http(cluster, "GET", path)
    assert resp.status == 200, resp.body
    return json.dumps(resp.json()["metadata"].get("managedFields"))


# What each test's snapshots were when every write decoded and re-encoded every manager's field set.
EXPECTED: dict[str, list[Any]] = json.loads(
    (Path(__file__).parent / "managed_fields_expected.json").read_text()
)


def _check(snapshots: list[str], expected: list[Any]) -> None:
    assert len(snapshots) == len(expected)
    for i, (got, want) in enumerate(zip(snapshots, expected, strict=True)):
        assert got == json.dumps(want), f"step {i}: {got}"


def _apply(cluster: kubesim.Cluster, path: str, doc: dict[str, Any]) -> Any:
    return http(cluster, "PATCH", path, yaml.safe_dump(doc), content_type=APPLY)


def _steps(cluster: kubesim.Cluster, path: str) -> tuple[list[str], Callable[[], None]]:
    snapshots: list[str] = []

    def snap() -> None:
        snapshots.append(_managed(cluster, path))

    return snapshots, snap


def test_config_map_updates_by_several_managers(
    cluster: kubesim.Cluster, client: kubernetes.client.ApiClient, clock: Clock
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    path = f"/api/v1/namespaces/{NS}/configmaps/cm"
    snapshots, snap = _steps(cluster, path)
    clock.at(1)
    core.create_namespaced_config_map(
        NS,
        {"metadata": {"name": "cm", "labels": {"x": "1"}}, "data": {"a": "1", "b": "2"}},
        field_manager="alice",
    )
    snap()
    clock.at(2)  # a second manager changes a, adds c and removes alice's label
    cm = http(cluster, "GET", path).json()
    cm["data"]["a"] = "changed"
    cm["data"]["c"] = "3"
    del cm["metadata"]["labels"]
    core.replace_namespaced_config_map("cm", NS, cm, field_manager="bob")
    snap()
    clock.at(3)  # the same body again: nothing changes, times stay
    cm = http(cluster, "GET", path).json()
    rv = cm["metadata"]["resourceVersion"]
    core.replace_namespaced_config_map("cm", NS, cm, field_manager="bob")
    assert http(cluster, "GET", path).json()["metadata"]["resourceVersion"] == rv
    snap()
    clock.at(4)  # a merge patch by alice: she gains the label, her entry's time moves
    core.patch_namespaced_config_map(
        "cm", NS, {"metadata": {"labels": {"y": "2"}}}, field_manager="alice", _content_type=MERGE
    )
    snap()
    clock.at(5)  # bob changes a field he already owns: his time moves, his set stays
    core.patch_namespaced_config_map(
        "cm", NS, {"data": {"a": "again"}}, field_manager="bob", _content_type=MERGE
    )
    snap()
    clock.at(6)  # no fieldManager: the manager is the User-Agent's prefix
    core.patch_namespaced_config_map("cm", NS, {"data": {"b": "two"}}, _content_type=MERGE)
    snap()
    clock.at(7)  # a JSON patch removing a field takes it from its owner
    core.patch_namespaced_config_map(
        "cm", NS, [{"op": "remove", "path": "/data/c"}], field_manager="carol", _content_type=JSON_PATCH
    )
    snap()
    clock.at(8)  # a PUT whose body carries a reordered managedFields list changes nothing but the value
    cm = http(cluster, "GET", path).json()
    cm["metadata"]["managedFields"] = cm["metadata"]["managedFields"][::-1]
    cm["data"]["d"] = "4"
    resp = http(cluster, "PUT", path + "?fieldManager=dave", cm)
    assert resp.status == 200, resp.body
    snap()
    clock.at(9)  # managedFields: [{}] resets tracking; later updates stay untracked
    cm = http(cluster, "GET", path).json()
    cm["metadata"]["managedFields"] = [{}]
    cm["data"]["e"] = "5"
    assert http(cluster, "PUT", path + "?fieldManager=erin", cm).status == 200
    snap()
    clock.at(10)
    core.patch_namespaced_config_map(
        "cm", NS, {"data": {"f": "6"}}, field_manager="frank", _content_type=MERGE
    )
    snap()
    clock.at(11)  # an apply on an untracked object: before-first-apply owns what was there
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "applied"}}
    resp = _apply(cluster, path + "?fieldManager=gina&force=true", doc)
    assert resp.status == 200, resp.body
    snap()
    _check(snapshots, EXPECTED["config_map"])


def test_custom_resource_status_and_apply(
    cluster: kubesim.Cluster, client: kubernetes.client.ApiClient, clock: Clock
) -> None:
    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.create_custom_resource_definition(widget_crd())
    custom = kubernetes.client.CustomObjectsApi(client)
    path = f"/apis/{GROUP}/v1/namespaces/{NS}/{WIDGETS}/w"
    snapshots, snap = _steps(cluster, path)
    clock.at(1)
    custom.create_namespaced_custom_object(
        GROUP, "v1", NS, WIDGETS, widget("w", size=2, extra={"free": {"a": 1}}), field_manager="alice"
    )
    snap()
    clock.at(2)  # status through the subresource
    obj = http(cluster, "GET", path).json()
    obj["status"] = {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}
    resp = http(cluster, "PUT", path + "/status?fieldManager=operator", obj)
    assert resp.status == 200, resp.body
    snap()
    clock.at(3)  # a status merge patch changing what operator owns
    resp = http(
        cluster,
        "PATCH",
        path + "/status?fieldManager=operator",
        {"status": {"phase": "Busy", "replicas": 2}},
        content_type=MERGE,
    )
    assert resp.status == 200, resp.body
    snap()
    clock.at(4)  # the main resource by another manager: status is not its to change
    custom.patch_namespaced_custom_object(
        GROUP,
        "v1",
        NS,
        WIDGETS,
        "w",
        {"spec": {"size": 5, "extra": {"free": None, "more": [1, 2]}}, "status": {"phase": "Ignored"}},
        field_manager="bob",
    )
    snap()
    clock.at(5)  # an apply of a field alice set (by its default) conflicts...
    doc = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"color": "red"}}
    resp = _apply(cluster, path + "?fieldManager=carol", doc)
    assert resp.status == 409
    assert resp.json()["message"] == (
        'Apply failed with 1 conflict: conflict with "alice" using example.com/v1: .spec.color'
    )
    snap()
    clock.at(6)  # ...unless forced, which moves the field to carol
    assert _apply(cluster, path + "?fieldManager=carol&force=true", doc).status == 200
    snap()
    clock.at(7)  # changing bob's field conflicts with bob
    doc["spec"]["size"] = 7
    resp = _apply(cluster, path + "?fieldManager=carol", doc)
    assert resp.status == 409
    assert resp.json()["message"] == (
        'Apply failed with 1 conflict: conflict with "bob" using example.com/v1: .spec.size'
    )
    clock.at(8)
    assert _apply(cluster, path + "?fieldManager=carol&force=true", doc).status == 200
    snap()
    clock.at(9)  # a status apply
    sdoc = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "status": {"phase": "Done"},
    }
    assert _apply(cluster, path + "/status?fieldManager=ctrl&force=true", sdoc).status == 200
    snap()
    clock.at(10)  # the same apply again: no change, no new time
    assert _apply(cluster, path + "/status?fieldManager=ctrl", sdoc).status == 200
    snap()
    clock.at(
        11
    )  # carol drops color from her configuration: she was its only owner, it goes (and is defaulted)
    doc["spec"] = {"size": 7}
    resp = _apply(cluster, path + "?fieldManager=carol", doc)
    assert resp.status == 200, resp.body
    snap()
    _check(snapshots, EXPECTED["widget"])


def test_deployment_strategic_and_json_patches(
    cluster: kubesim.Cluster, client: kubernetes.client.ApiClient, clock: Clock
) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/web"
    snapshots, snap = _steps(cluster, path)
    clock.at(1)
    apps.create_namespaced_deployment(
        NS,
        {
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": "nginx:1",
                                "env": [{"name": "A", "value": "1"}],
                                "ports": [{"containerPort": 80}],
                            },
                            {"name": "side", "image": "proxy:1"},
                        ],
                        "volumes": [{"name": "data", "emptyDir": {}}],
                    },
                },
            },
        },
        field_manager="creator",
    )
    snap()
    clock.at(2)  # a strategic merge patch: containers and env merge by name
    apps.patch_namespaced_deployment(
        "web",
        NS,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "main", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]}
                        ]
                    }
                }
            }
        },
        field_manager="patcher",
    )
    snap()
    clock.at(3)  # scale by replacing
    dep = http(cluster, "GET", path).json()
    dep["spec"]["replicas"] = 5
    apps.replace_namespaced_deployment("web", NS, dep, field_manager="scaler")
    snap()
    clock.at(4)  # a JSON patch removing a container and a volume
    apps.patch_namespaced_deployment(
        "web",
        NS,
        [
            {"op": "remove", "path": "/spec/template/spec/containers/1"},
            {"op": "remove", "path": "/spec/template/spec/volumes"},
        ],
        field_manager="jp",
    )
    snap()
    clock.at(5)  # deletion with a finalizer: managedFields unchanged by the deletionTimestamp
    apps.patch_namespaced_deployment(
        "web", NS, {"metadata": {"finalizers": ["x.io/hold"]}}, field_manager="holder"
    )
    snap()
    clock.at(6)
    apps.delete_namespaced_deployment("web", NS)
    snap()
    _check(snapshots, EXPECTED["deployment"])
