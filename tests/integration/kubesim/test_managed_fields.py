"""metadata.managedFields as clients read them, pinned byte for byte (key order included) against what
upstream Kubernetes answers.

Writes go through the HTTP API: the official client, or raw requests for apply patches and ``/status``.
After each step the object is read back as raw JSON and its ``managedFields`` compared with
``managed_fields_expected.json``, which holds upstream's answers.

Times: each write starts in a new second of the wall clock (the server's clock is the test's: same
machine), and an entry's ``time`` is replaced by the number of the write it falls in (``"step 3"``), so the
goldens say which write set or moved each time. A time that matches no write, or is not written as
upstream writes times (``2006-01-02T15:04:05Z``), fails the test.

Regenerating the goldens from upstream: ``RECORD_MANAGED_FIELDS=1 pytest --backends=upstream
tests/integration/kubesim/test_managed_fields.py`` rewrites the file with upstream's answers (the test then
checks nothing); review the diff before committing it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import yaml

from tests.clusters import ClusterUnderTest
from tests.conftest import wait_until

from .conformance_support import GROUP, WIDGETS, create_crd_over_http, http, widget

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
GOLDEN = Path(__file__).parent / "managed_fields_expected.json"
RECORD = os.environ.get("RECORD_MANAGED_FIELDS") == "1"
TIME_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


class Steps:
    """The writes of one test, each in a second of its own, and the object's managedFields after each."""

    def __init__(self, cluster: ClusterUnderTest, path: str) -> None:
        self.cluster = cluster
        self.path = path
        self.windows: list[tuple[int, int]] = []  # (first, last) second of each write
        self.snapshots: list[Any] = []
        self._started = 0

    def write(self) -> None:
        """Call before each write: waits for the next second of the wall clock, so that a time the write
        sets tells which write set it."""
        if self.windows:
            self.windows[-1] = (self.windows[-1][0], int(time.time()))
            last = self.windows[-1][1]
            wait_until(lambda: int(time.time()) > last, 2.0, interval=0.005, message="the next second")
        self.windows.append((int(time.time()), int(time.time())))

    def snap(self) -> None:
        """Record the object's managedFields (after a write; several snaps may follow one write)."""
        self.windows[-1] = (self.windows[-1][0], int(time.time()))
        resp = http(self.cluster, "GET", self.path)
        assert resp.status == 200, resp.body
        self.snapshots.append(resp.json()["metadata"].get("managedFields"))

    def step_of(self, stamp: str) -> str:
        assert TIME_FORMAT.fullmatch(stamp), f"managedFields time {stamp!r} is not written as upstream does"
        second = int(dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp())
        for number, (first, last) in enumerate(self.windows, start=1):
            if first <= second <= last:
                return f"step {number}"
        raise AssertionError(f"managedFields time {stamp} falls in no write: {self.windows}")

    def normalised(self) -> list[Any]:
        out = []
        for entries in self.snapshots:
            if entries is not None:
                entries = [{**e, "time": self.step_of(e["time"])} if "time" in e else e for e in entries]
            out.append(entries)
        return out

    def check(self, name: str) -> None:
        check_golden(self.cluster, name, self.normalised())


def check_golden(
    cluster: ClusterUnderTest,
    name: str,
    got: list[Any],
    release: Callable[[list[Any]], list[Any]] | None = None,
) -> None:
    """Compare with the golden snapshots (their JSON, key order included), or record them (upstream).
    ``release`` turns the goldens (kubesim's release, 1.34) into what the cluster's release answers."""
    if RECORD:
        if cluster.upstream:
            goldens = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
            goldens[name] = got
            GOLDEN.write_text(_golden_text(goldens))
        return
    expected = json.loads(GOLDEN.read_text())[name]
    if release is not None:
        expected = release(expected)
    assert len(got) == len(expected)
    for number, (have, want) in enumerate(zip(got, expected, strict=True), start=1):
        assert json.dumps(have) == json.dumps(want), f"snapshot {number}: {json.dumps(have)}"


def _golden_text(goldens: dict[str, list[Any]]) -> str:
    """One snapshot a line, key order kept (it is part of what is pinned)."""
    lines = ["{"]
    names = list(goldens)
    for i, name in enumerate(names):
        lines.append(f"  {json.dumps(name)}: [")
        snaps = goldens[name]
        for j, snap in enumerate(snaps):
            lines.append(f"    {json.dumps(snap)}" + ("," if j < len(snaps) - 1 else ""))
        lines.append("  ]" + ("," if i < len(names) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _apply(cluster: ClusterUnderTest, path: str, doc: dict[str, Any]) -> Any:
    return http(cluster, "PATCH", path, yaml.safe_dump(doc), content_type=APPLY)


def test_config_map_updates_by_several_managers(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    path = f"/api/v1/namespaces/{ns}/configmaps/cm"
    steps = Steps(cluster, path)
    steps.write()
    core.create_namespaced_config_map(
        ns,
        {"metadata": {"name": "cm", "labels": {"x": "1"}}, "data": {"a": "1", "b": "2"}},
        field_manager="alice",
    )
    steps.snap()
    steps.write()  # a second manager changes a, adds c and removes alice's label (the client's object back)
    cm = core.read_namespaced_config_map("cm", ns)
    cm.data["a"] = "changed"
    cm.data["c"] = "3"
    cm.metadata.labels = None
    core.replace_namespaced_config_map("cm", ns, cm, field_manager="bob")
    steps.snap()
    steps.write()  # the same body again: nothing changes, times stay
    cm = http(cluster, "GET", path).json()
    rv = cm["metadata"]["resourceVersion"]
    core.replace_namespaced_config_map("cm", ns, cm, field_manager="bob")
    assert http(cluster, "GET", path).json()["metadata"]["resourceVersion"] == rv
    steps.snap()
    steps.write()  # a merge patch by alice: she gains the label
    core.patch_namespaced_config_map(
        "cm", ns, {"metadata": {"labels": {"y": "2"}}}, field_manager="alice", _content_type=MERGE
    )
    steps.snap()
    steps.write()  # bob changes a field he already owns
    core.patch_namespaced_config_map(
        "cm", ns, {"data": {"a": "again"}}, field_manager="bob", _content_type=MERGE
    )
    steps.snap()
    steps.write()  # no fieldManager: the manager is the User-Agent's prefix
    core.patch_namespaced_config_map("cm", ns, {"data": {"b": "two"}}, _content_type=MERGE)
    steps.snap()
    steps.write()  # a JSON patch removing a field takes it from its owner
    core.patch_namespaced_config_map(
        "cm", ns, [{"op": "remove", "path": "/data/c"}], field_manager="carol", _content_type=JSON_PATCH
    )
    steps.snap()
    steps.write()  # alice removes a field of her own: she loses it (does her time move?)
    core.patch_namespaced_config_map(
        "cm", ns, {"metadata": {"labels": None}}, field_manager="alice", _content_type=MERGE
    )
    steps.snap()
    steps.write()  # a PUT whose body carries a reordered managedFields list
    cm = http(cluster, "GET", path).json()
    cm["metadata"]["managedFields"] = cm["metadata"]["managedFields"][::-1]
    cm["data"]["d"] = "4"
    resp = http(cluster, "PUT", path + "?fieldManager=dave", cm)
    assert resp.status == 200, resp.body
    steps.snap()
    steps.write()  # managedFields: [{}] resets tracking
    cm = http(cluster, "GET", path).json()
    cm["metadata"]["managedFields"] = [{}]
    cm["data"]["e"] = "5"
    assert http(cluster, "PUT", path + "?fieldManager=erin", cm).status == 200
    steps.snap()
    steps.write()
    core.patch_namespaced_config_map(
        "cm", ns, {"data": {"f": "6"}}, field_manager="frank", _content_type=MERGE
    )
    steps.snap()
    steps.write()  # a forced apply
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "applied"}}
    resp = _apply(cluster, path + "?fieldManager=gina&force=true", doc)
    assert resp.status == 200, resp.body
    steps.snap()
    steps.check("config_map")


def test_custom_resource_status_and_apply(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    create_crd_over_http(cluster)
    custom = kubernetes.client.CustomObjectsApi(client)
    path = f"/apis/{GROUP}/v1/namespaces/{ns}/{WIDGETS}/w"
    steps = Steps(cluster, path)
    steps.write()
    custom.create_namespaced_custom_object(
        GROUP, "v1", ns, WIDGETS, widget("w", size=2, extra={"free": {"a": 1}}), field_manager="alice"
    )
    steps.snap()
    steps.write()  # status through the subresource
    obj = http(cluster, "GET", path).json()
    obj["status"] = {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}
    resp = http(cluster, "PUT", path + "/status?fieldManager=operator", obj)
    assert resp.status == 200, resp.body
    steps.snap()
    steps.write()  # a status merge patch changing what operator owns
    resp = http(
        cluster,
        "PATCH",
        path + "/status?fieldManager=operator",
        {"status": {"phase": "Busy", "replicas": 2}},
        content_type=MERGE,
    )
    assert resp.status == 200, resp.body
    steps.snap()
    steps.write()  # the main resource by another manager: status is not its to change
    custom.patch_namespaced_custom_object(
        GROUP,
        "v1",
        ns,
        WIDGETS,
        "w",
        {"spec": {"size": 5, "extra": {"free": None, "more": [1, 2]}}, "status": {"phase": "Ignored"}},
        field_manager="bob",
    )
    steps.snap()
    steps.write()  # an apply of a field alice set (by its default) conflicts...
    doc = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"color": "red"}}
    resp = _apply(cluster, path + "?fieldManager=carol", doc)
    assert resp.status == 409
    assert resp.json()["message"] == (
        'Apply failed with 1 conflict: conflict with "alice" using example.com/v1: .spec.color'
    )
    steps.snap()
    steps.write()  # ...unless forced, which moves the field to carol
    assert _apply(cluster, path + "?fieldManager=carol&force=true", doc).status == 200
    steps.snap()
    steps.write()  # changing bob's field conflicts with bob
    doc["spec"]["size"] = 7
    resp = _apply(cluster, path + "?fieldManager=carol", doc)
    assert resp.status == 409
    assert resp.json()["message"] == (
        'Apply failed with 1 conflict: conflict with "bob" using example.com/v1: .spec.size'
    )
    steps.write()
    assert _apply(cluster, path + "?fieldManager=carol&force=true", doc).status == 200
    steps.snap()
    steps.write()  # a status apply
    sdoc = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "status": {"phase": "Done"},
    }
    assert _apply(cluster, path + "/status?fieldManager=ctrl&force=true", sdoc).status == 200
    steps.snap()
    steps.write()  # the same apply again: no change
    assert _apply(cluster, path + "/status?fieldManager=ctrl", sdoc).status == 200
    steps.snap()
    steps.write()  # carol drops color from her configuration: her field alone, it goes (then defaulted)
    doc["spec"] = {"size": 7}
    resp = _apply(cluster, path + "?fieldManager=carol", doc)
    assert resp.status == 200, resp.body
    steps.snap()
    steps.write()  # carol applies a new value of her own field: the same set, a new value
    doc["spec"] = {"size": 8}
    resp = _apply(cluster, path + "?fieldManager=carol", doc)
    assert resp.status == 200, resp.body
    steps.snap()
    steps.check("widget")


def test_pod_template_strategic_and_json_patches(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    """A PodTemplate: a pod spec with strategic merge keys that no controller writes (a Deployment's
    status and annotations would be rewritten by the deployment controller on upstream)."""
    core = kubernetes.client.CoreV1Api(client)
    path = f"/api/v1/namespaces/{ns}/podtemplates/web"
    steps = Steps(cluster, path)
    steps.write()
    core.create_namespaced_pod_template(
        ns,
        {
            "metadata": {"name": "web", "labels": {"app": "web"}},
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
        field_manager="creator",
    )
    steps.snap()
    steps.write()  # a strategic merge patch: containers and env merge by name
    core.patch_namespaced_pod_template(
        "web",
        ns,
        {
            "template": {
                "spec": {
                    "containers": [{"name": "main", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]}]
                }
            }
        },
        field_manager="patcher",
    )
    steps.snap()
    steps.write()  # a replace changing one field
    template = http(cluster, "GET", path).json()
    template["template"]["spec"]["activeDeadlineSeconds"] = 5
    core.replace_namespaced_pod_template("web", ns, template, field_manager="replacer")
    steps.snap()
    steps.write()  # a JSON patch removing a container and the volumes
    core.patch_namespaced_pod_template(
        "web",
        ns,
        [
            {"op": "remove", "path": "/template/spec/containers/1"},
            {"op": "remove", "path": "/template/spec/volumes"},
        ],
        field_manager="jp",
    )
    steps.snap()
    steps.write()  # a finalizer, then deletion: the deletionTimestamp is no manager's
    core.patch_namespaced_pod_template(
        "web", ns, {"metadata": {"finalizers": ["x.io/hold"]}}, field_manager="holder"
    )
    steps.snap()
    steps.write()
    core.delete_namespaced_pod_template("web", ns)
    steps.snap()
    core.patch_namespaced_pod_template("web", ns, {"metadata": {"finalizers": None}}, field_manager="holder")
    steps.check("pod_template")


def _pod_spec(**extra: Any) -> dict[str, Any]:
    return {"containers": [{"name": "c", "image": "busybox:1.36"}], **extra}


def _template(**extra: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"a": "b"}}, "spec": _pod_spec(**extra)}


# (path under the namespace, or absolute; body) of creates whose recorded sets are pinned.
CREATES: list[tuple[str, dict[str, Any]]] = [
    (
        "/apis/apps/v1/namespaces/{ns}/deployments",
        {"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": _template()}},
    ),
    (
        "/apis/apps/v1/namespaces/{ns}/deployments",
        {
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "strategy": {"rollingUpdate": {"maxSurge": 1}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {
                        "securityContext": {"runAsUser": 1000},
                        "containers": [
                            {
                                "name": "c",
                                "image": "busybox:1.36",
                                "securityContext": {"privileged": False},
                                "resources": {"limits": {"cpu": "1"}},
                                "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
                                "lifecycle": {"preStop": {"httpGet": {"port": 80}}},
                            }
                        ],
                    },
                },
            }
        },
    ),
    (
        "/apis/apps/v1/namespaces/{ns}/statefulsets",
        {"spec": {"serviceName": "x", "selector": {"matchLabels": {"a": "b"}}, "template": _template()}},
    ),
    (
        "/apis/apps/v1/namespaces/{ns}/daemonsets",
        {"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": _template()}},
    ),
    (
        "/apis/batch/v1/namespaces/{ns}/jobs",
        {"spec": {"template": {"spec": _pod_spec(restartPolicy="Never")}}},
    ),
    (
        "/apis/batch/v1/namespaces/{ns}/cronjobs",
        {
            "spec": {
                "schedule": "* * * * *",
                "jobTemplate": {"spec": {"template": {"spec": _pod_spec(restartPolicy="Never")}}},
            }
        },
    ),
    (
        "/api/v1/namespaces/{ns}/pods",
        {
            "spec": _pod_spec(
                volumes=[
                    {"name": "v", "configMap": {"name": "x"}},
                    {"name": "h", "hostPath": {"path": "/tmp"}},
                ]
            )
        },
    ),
    (
        "/api/v1/namespaces/{ns}/persistentvolumeclaims",
        {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    ),
    ("/api/v1/namespaces/{ns}/secrets", {"metadata": {"labels": {"a": "b"}}, "stringData": {"a": "b"}}),
    ("/api/v1/namespaces/{ns}/services", {"spec": {"type": "NodePort", "ports": [{"port": 80}]}}),
    ("/api/v1/namespaces", {"metadata": {"labels": {"a": "b"}}}),
    (
        "/api/v1/persistentvolumes",
        {
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/tmp/x"},
            }
        },
    ),
]


def test_created_field_sets_of_builtin_kinds(cluster: ClusterUnderTest, ns: str) -> None:
    """What a create records for its manager, kind by kind (dry runs: nothing is stored): the defaults
    applied as the request is decoded are the creator's; what the registry, its strategies and the
    admission plugins set afterwards (cluster IPs, node ports, a pod's service account, a claim's class
    and finalizer, a Job's selector) is no manager's; a struct created where Go holds none yet (a pointer,
    or inside a new list item) is a member itself."""
    got = []
    for path, body in CREATES:
        meta = {"name": f"{ns}-created", **body.get("metadata", {})}
        resp = http(
            cluster,
            "POST",
            path.format(ns=ns) + "?dryRun=All&fieldManager=creator",
            {**body, "metadata": meta},
        )
        assert resp.status == 201, resp.body
        (entry,) = resp.json()["metadata"]["managedFields"]
        assert (entry["manager"], entry["operation"]) == ("creator", "Update")
        got.append(entry["fieldsV1"])
    check_golden(cluster, "created_sets", got, _created_sets_since_37 if cluster.upstream_since(37) else None)


def _created_sets_since_37(expected: list[Any]) -> list[Any]:
    """From 1.37 (MaxUnavailableStatefulSet on by default) a StatefulSet's rolling update defaults its
    maxUnavailable as the request is decoded: the creator's, between the struct itself and partition."""
    statefulset = next(i for i, (path, _) in enumerate(CREATES) if path.endswith("/statefulsets"))
    rolling = expected[statefulset]["f:spec"]["f:updateStrategy"]["f:rollingUpdate"]
    assert rolling == {".": {}, "f:partition": {}}
    expected[statefulset]["f:spec"]["f:updateStrategy"]["f:rollingUpdate"] = {
        ".": {},
        "f:maxUnavailable": {},
        "f:partition": {},
    }
    return expected
