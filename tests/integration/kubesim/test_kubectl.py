"""The real kubectl (fetched into the venv by tools/fetch_k8s_binaries.py) against kubesim, with an
isolated HOME and KUBECONFIG: discovery, apply (client- and server-side), printer columns, explain, wait,
delete, auth can-i, imperative creates (protobuf request bodies), patch/label/scale and errors."""

from __future__ import annotations

import json
import re
import select
import subprocess
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from tests.clusters import ClusterUnderTest

from .conformance_support import GROUP, ROOT, WIDGETS, Tool, http, make_tool, to_yaml, widget, widget_crd
from .conftest import wait_for


@pytest.fixture
def kubectl(cluster: ClusterUnderTest, tmp_path: Path) -> Tool:
    """kubectl with the admin kubeconfig whose default namespace is the test's."""
    return make_tool("kubectl", cluster.kubeconfig, tmp_path)


def _rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def _cells(output: str) -> list[dict[str, str]]:
    """kubectl's table as one dict per row, cut at the header's column starts: an empty cell (a printer
    column without a value) stays in its column."""
    header, *lines = output.rstrip().splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    bounds = [*starts[1:], None]
    return [
        {name: line[a:b].strip() for name, a, b in zip(names, starts, bounds, strict=True)} for line in lines
    ]


def test_version_get_and_api_resources(cluster: ClusterUnderTest, kubectl: Tool, ns: str) -> None:
    version = yaml.safe_load(kubectl("version", "-o", "yaml"))
    assert version["serverVersion"]["minor"] == str(cluster.release.minor)
    # Other tests' namespaces may be listed too (upstream serves a whole session).
    names = [row[0] for row in _rows(kubectl("get", "namespaces"))[1:]]
    assert {"default", "kube-node-lease", "kube-public", "kube-system", ns} <= set(names)
    assert names == sorted(names)
    resources = kubectl("api-resources")
    pods = next(row for row in _rows(resources) if row[0] == "pods")
    assert pods == ["pods", "po", "v1", "true", "Pod"]
    assert "apps/v1" in kubectl("api-versions").split()


def _instance_yaml() -> str:
    """The announcement's instance, in the kubeconfig's namespace (the fixture names ``default``)."""
    doc = yaml.safe_load((ROOT / "fixtures" / "instance.yaml").read_text())
    del doc["metadata"]["namespace"]
    return to_yaml(doc)


def _explained(kubectl: Tool, *args: str) -> str:
    """``kubectl explain`` once the server publishes the schema: a CRD's OpenAPI is published
    asynchronously after the CRD is Established (kube-apiserver's CRD OpenAPI controllers)."""

    def attempt() -> str | None:
        proc = kubectl.run("explain", *args, check=False)
        return proc.stdout if proc.returncode == 0 else None

    return wait_for(attempt, timeout=30, interval=0.2, what=f"kubectl explain {' '.join(args)}")


def test_apply_project_crds_and_get_printer_columns(kubectl: Tool) -> None:
    out = kubectl("apply", "-f", str(ROOT / "crds"))
    # On upstream the session's plane may hold them already (the chart's and the operator's tests install
    # them): kubectl then says configured (created by another client) or unchanged.
    assert re.search(
        r"^customresourcedefinition\.apiextensions\.k8s\.io/jupyternotebookinstances\.kadense\.io "
        r"(created|configured|unchanged)$",
        out,
        re.M,
    ), out
    kubectl("wait", "--for=condition=Established", "crd/jupyternotebookinstances.kadense.io", "--timeout=30s")
    assert "created" in kubectl("apply", "-f", "-", input=_instance_yaml())
    header, row = _rows(kubectl("get", "jupyternotebookinstances"))
    assert header == ["NAME", "TEMPLATE", "USER", "PROFILE", "OPTIONS", "READY", "REASON", "ADDRESS", "AGE"]
    assert row[:3] == ["8dc366d8a0f05869bfdb6e7eb3d83f65", "default-template", "jovyan"]
    # READY and REASON filter the conditions by type (a JSONPath filter in the printer column).
    condition = {
        "status": "True",
        "reason": "Done",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    status = {
        "conditions": [
            {**condition, "type": "Provisioned"},
            {**condition, "type": "Ready", "status": "False", "reason": "PodPending"},
        ]
    }
    patch = json.dumps({"status": status})
    kubectl(
        "patch",
        "jni",
        "8dc366d8a0f05869bfdb6e7eb3d83f65",
        "--subresource=status",
        "--type=merge",
        "-p",
        patch,
    )
    (row,) = _cells(kubectl("get", "jupyternotebookinstances"))
    # No profile and no options: empty cells.
    assert [row[c] for c in ("PROFILE", "OPTIONS", "READY", "REASON")] == ["", "", "False", "PodPending"], row
    short = _rows(kubectl("get", "jni", "-A"))
    assert short[0][:2] == ["NAMESPACE", "NAME"]
    # Category "jupyternetes" from the CRD names.
    assert "jupyternotebookinstance.kadense.io/8dc366d8a0f05869bfdb6e7eb3d83f65" in kubectl(
        "get", "jupyternetes", "-o", "name"
    )
    # Re-applying unchanged is a no-op.
    assert "unchanged" in kubectl("apply", "-f", str(ROOT / "crds"))


def test_printer_columns_of_a_custom_resource(cluster: ClusterUnderTest, kubectl: Tool, ns: str) -> None:
    kubectl("apply", "-f", "-", input=to_yaml(widget_crd()))
    kubectl("wait", "--for=condition=Established", f"crd/{WIDGETS}.{GROUP}", "--timeout=30s")
    kubectl("apply", "-f", "-", input=to_yaml(widget("w", size=4, color="green")))
    header, row = _rows(kubectl("get", "widgets"))
    assert header == ["NAME", "SIZE", "COLOR", "PHASE", "AGE"]
    assert row[:3] == ["w", "4", "green"]
    assert len(row) == 4  # the missing phase is a null cell, which kubectl prints as nothing
    columns, rows = _table(cluster, f"/apis/{GROUP}/v1/namespaces/{ns}/{WIDGETS}")
    assert columns == ["Name", "Size", "Color", "Phase", "Age"]
    assert rows[0][:4] == ["w", 4, "green", None]


def test_explain(kubectl: Tool) -> None:
    kubectl("apply", "-f", str(ROOT / "crds"))
    out = _explained(kubectl, "jupyternotebookinstance.spec.template")
    assert "KIND:       JupyterNotebookInstance" in out
    assert "name\t<string> -required-" in out
    assert "Which JupyterNotebookTemplate to render." in out
    pods = kubectl("explain", "pods.spec.containers.image")
    assert "FIELD: image <string>" in pods


def test_client_side_apply_updates(kubectl: Tool, client: kubernetes.client.ApiClient, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}}
    assert "configmap/cfg created" in kubectl("apply", "-f", "-", input=to_yaml(cm))
    cm["data"] = {"a": "changed"}
    assert "configmap/cfg configured" in kubectl("apply", "-f", "-", input=to_yaml(cm))
    live = kubernetes.client.CoreV1Api(client).read_namespaced_config_map("cfg", ns)
    assert live.data == {"a": "changed"}  # b removed: it was in the last-applied configuration
    assert "kubectl.kubernetes.io/last-applied-configuration" in live.metadata.annotations


def test_server_side_apply(kubectl: Tool, client: kubernetes.client.ApiClient, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}
    assert "configmap/cfg serverside-applied" in kubectl(
        "apply", "--server-side", "-f", "-", input=to_yaml(cm)
    )
    live = kubernetes.client.CoreV1Api(client).read_namespaced_config_map("cfg", ns)
    (entry,) = live.metadata.managed_fields
    assert (entry.manager, entry.operation) == ("kubectl", "Apply")
    other = {**cm, "data": {"a": "2"}}
    proc = kubectl.run(
        "apply", "--server-side", "--field-manager=other", "-f", "-", input=to_yaml(other), check=False
    )
    assert proc.returncode != 0
    assert 'conflict with "kubectl"' in proc.stderr
    assert ".data.a" in proc.stderr
    kubectl(
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        "-",
        input=to_yaml(other),
    )
    assert kubernetes.client.CoreV1Api(client).read_namespaced_config_map("cfg", ns).data == {"a": "2"}
    # Server-side dry run changes nothing.
    kubectl("apply", "--server-side", "--dry-run=server", "--force-conflicts", "-f", "-", input=to_yaml(cm))
    assert kubernetes.client.CoreV1Api(client).read_namespaced_config_map("cfg", ns).data == {"a": "2"}


def test_server_side_apply_of_crds_and_custom_resources(kubectl: Tool) -> None:
    kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    kubectl("apply", "--server-side", "-f", "-", input=to_yaml(widget_crd()))
    kubectl("apply", "--server-side", "-f", "-", input=to_yaml(widget("w", size=2)))
    assert kubectl("get", "widget", "w", "-o", "jsonpath={.spec.size}/{.spec.color}") == "2/blue"


def test_wait_for_condition_and_delete(kubectl: Tool, client: kubernetes.client.ApiClient, ns: str) -> None:
    kubectl("apply", "-f", "-", input=to_yaml(widget_crd()))
    kubectl("apply", "-f", "-", input=to_yaml(widget("w")))
    waiter = subprocess.Popen(
        [kubectl.path, "wait", "--for=condition=Ready", f"{WIDGETS}/w", "--timeout=20s"],
        env=kubectl.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    custom = kubernetes.client.CustomObjectsApi(client)
    custom.patch_namespaced_custom_object_status(
        GROUP,
        "v1",
        ns,
        WIDGETS,
        "w",
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        _content_type="application/merge-patch+json",
    )
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert "widget.example.com/w condition met" in out
    assert 'widget.example.com "w" deleted' in kubectl("delete", "widget", "w")
    kubectl("wait", "--for=delete", f"{WIDGETS}/w", "--timeout=10s")


def test_delete_crds_removes_their_objects(kubectl: Tool) -> None:
    kubectl("apply", "-f", "-", input=to_yaml(widget_crd()))
    kubectl("apply", "-f", "-", input=to_yaml(widget("w")))
    kubectl("delete", "-f", "-", input=to_yaml(widget_crd()))
    proc = kubectl.run("get", "widgets", check=False)
    assert proc.returncode != 0
    # kubectl's discovery cache may still list the type (as against a real server): either error is right.
    assert (
        'the server doesn\'t have a resource type "widgets"' in proc.stderr
        or "the server could not find the requested resource" in proc.stderr
    )


def test_auth_can_i(cluster: ClusterUnderTest, kubectl: Tool, tmp_path: Path, ns: str) -> None:
    assert kubectl("auth", "can-i", "create", "pods").strip() == "yes"
    kubectl("create", "serviceaccount", "robot")
    sa = f"--as=system:serviceaccount:{ns}:robot"
    proc = kubectl.run("auth", "can-i", "list", "pods", sa, check=False)
    assert (proc.returncode, proc.stdout.strip()) == (1, "no")
    kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    kubectl("create", "rolebinding", "robot-reads", "--role=pod-reader", f"--serviceaccount={ns}:robot")
    assert kubectl("auth", "can-i", "list", "pods", sa).strip() == "yes"
    assert kubectl.run("auth", "can-i", "delete", "pods", sa, check=False).stdout.strip() == "no"
    # The ServiceAccount's own kubeconfig (a bearer token over TLS).
    (tmp_path / "robot").mkdir()
    robot = make_tool("kubectl", cluster.kubeconfig_for("robot"), tmp_path / "robot")
    assert robot("auth", "can-i", "list", "pods").strip() == "yes"
    listed = robot.run("get", "pods")
    assert (listed.stdout, listed.stderr) == ("", f"No resources found in {ns} namespace.\n")
    denied = robot.run("get", "secrets", check=False)
    assert denied.returncode == 1
    assert (
        f'Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:{ns}:robot" '
        f'cannot list resource "secrets" in API group "" in the namespace "{ns}"'
    ) in denied.stderr


def test_imperative_creates_send_protobuf(
    kubectl: Tool, client: kubernetes.client.ApiClient, ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    kubectl("create", "namespace", f"{ns}-more")
    assert core.read_namespace(f"{ns}-more").status.phase == "Active"
    kubectl("create", "configmap", "cfg", "--from-literal=a=b", "--from-literal=c=")
    assert core.read_namespaced_config_map("cfg", ns).data == {"a": "b", "c": ""}
    kubectl("create", "secret", "generic", "pw", "--from-literal=password=s3cret")
    secret = core.read_namespaced_secret("pw", ns)
    assert secret.type == "Opaque"
    assert secret.data == {"password": "czNjcmV0"}
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=0")
    deploy = kubernetes.client.AppsV1Api(client).read_namespaced_deployment("web", ns)
    assert deploy.spec.replicas == 0
    assert deploy.spec.template.spec.containers[0].image == "nginx:1.27"
    assert deploy.spec.selector.match_labels == {"app": "web"}
    kubectl("create", "serviceaccount", "robot")
    token = kubectl("create", "token", "robot").strip()
    assert token.count(".") == 2  # a JWT
    # Inline (embedded) structs: protobuf nests them, JSON flattens them.
    kubectl("create", "ingress", "ing", "--rule=example.com/app=web:8080")
    ingress = kubernetes.client.NetworkingV1Api(client).read_namespaced_ingress("ing", ns)
    assert ingress.spec.rules[0].http.paths[0].backend.service.port.number == 8080
    kubectl("create", "priorityclass", "high", "--value=1000")
    kubectl("create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=*/5 * * * *")
    kubectl("create", "job", "once", "--image=busybox:1.36", "--", "true")
    job = kubernetes.client.BatchV1Api(client).read_namespaced_job("once", ns)
    assert job.spec.template.spec.containers[0].command == ["true"]


def test_label_annotate_patch_and_scale(kubectl: Tool, client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    kubectl("create", "configmap", "cfg", "--from-literal=a=b")
    kubectl("label", "configmap", "cfg", "tier=web")
    kubectl("annotate", "configmap", "cfg", "note=hello")
    kubectl("patch", "configmap", "cfg", "--type=merge", "-p", '{"data":{"c":"d"}}')
    kubectl("patch", "configmap", "cfg", "--type=json", "-p", '[{"op":"remove","path":"/data/a"}]')
    cm = core.read_namespaced_config_map("cfg", ns)
    assert cm.metadata.labels == {"tier": "web"}
    assert cm.metadata.annotations == {"note": "hello"}
    assert cm.data == {"c": "d"}
    proc = kubectl.run(
        "patch",
        "configmap",
        "cfg",
        "--type=json",
        "-p",
        '[{"op":"test","path":"/data/c","value":"x"}]',
        check=False,
    )
    assert proc.returncode != 0
    kubectl("label", "configmap", "cfg", "tier-")
    assert not core.read_namespaced_config_map("cfg", ns).metadata.labels
    kubectl("apply", "-f", "-", input=to_yaml(widget_crd()))
    kubectl("apply", "-f", "-", input=to_yaml(widget("w")))
    kubectl("scale", f"{WIDGETS}/w", "--replicas=3")
    assert kubectl("get", "widget", "w", "-o", "jsonpath={.spec.replicas}") == "3"


def test_output_formats_and_selectors(kubectl: Tool) -> None:
    for name, tier in (("a", "web"), ("b", "db")):
        kubectl("create", "configmap", name)
        kubectl("label", "configmap", name, f"tier={tier}")
    assert kubectl("get", "cm", "-l", "tier=web", "-o", "name").split() == ["configmap/a"]
    assert (
        kubectl(
            "get", "cm", "--field-selector", "metadata.name=b", "-o", "jsonpath={.items[*].metadata.name}"
        )
        == "b"
    )
    doc = yaml.safe_load(kubectl("get", "cm", "a", "-o", "yaml"))
    assert doc["metadata"]["labels"] == {"tier": "web"}
    listed = yaml.safe_load(kubectl("get", "cm", "-l", "tier", "-o", "json"))
    assert listed["kind"] == "List"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]
    wide = _rows(kubectl("get", "cm", "-l", "tier", "--show-labels"))
    assert wide[0][-1] == "LABELS"


def test_errors_as_kubectl_prints_them(kubectl: Tool) -> None:
    proc = kubectl.run("get", "pod", "nope", check=False)
    assert proc.returncode == 1
    assert 'Error from server (NotFound): pods "nope" not found' in proc.stderr
    kubectl("create", "configmap", "x")
    proc = kubectl.run("create", "configmap", "x", check=False)
    assert 'configmaps "x" already exists' in proc.stderr
    bad = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad"},
        "spec": {"containers": [{"name": "c"}]},
    }
    proc = kubectl.run("apply", "-f", "-", input=to_yaml(bad), check=False)
    assert 'The Pod "bad" is invalid: spec.containers[0].image: Required value' in proc.stderr


def test_strict_validation_by_default(kubectl: Tool) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "bogus": True}
    proc = kubectl.run("apply", "-f", "-", input=to_yaml(cm), check=False)
    assert proc.returncode != 0
    assert 'unknown field "bogus"' in proc.stderr
    out = kubectl.run("apply", "--validate=false", "-f", "-", input=to_yaml(cm))
    assert "configmap/x created" in out.stdout


def test_watch_prints_changes(kubectl: Tool, client: kubernetes.client.ApiClient, ns: str) -> None:
    proc = subprocess.Popen(
        [kubectl.path, "get", "configmaps", "--watch-only", "-o", "name"],
        env=kubectl.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        core = kubernetes.client.CoreV1Api(client)
        lines: list[str] = []
        # kubectl starts its watch after its own list: keep creating until one shows up.
        for i in range(50):
            core.create_namespaced_config_map(ns, {"metadata": {"name": f"w{i}"}})
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                assert proc.stdout is not None
                lines.append(proc.stdout.readline().strip())
                break
        assert lines
        assert lines[0].startswith("configmap/w")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_describe_and_events(kubectl: Tool, client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    )
    out = kubectl("describe", "pod", "p")
    assert "Name:" in out
    assert "busybox:1.36" in out
    kubectl("get", "events")


def test_builtin_table_columns(cluster: ClusterUnderTest, kubectl: Tool) -> None:
    kubectl("create", "configmap", "cfg", "--from-literal=a=b")
    kubectl("create", "secret", "generic", "pw", "--from-literal=a=b")
    kubectl("apply", "-f", "-", input=to_yaml(widget_crd()))
    assert _rows(kubectl("get", "configmap", "cfg"))[0] == ["NAME", "DATA", "AGE"]
    assert _rows(kubectl("get", "configmap", "cfg"))[1][:2] == ["cfg", "1"]
    assert _rows(kubectl("get", "secret", "pw"))[1][:3] == ["pw", "Opaque", "1"]
    # From 1.37 the API server prints a CRD with its own table (scope and served versions; group, kind, short
    # names and Established with -o wide) instead of the default Name and Created At.
    crd_header = (
        ["NAME", "SCOPE", "VERSIONS", "CREATED", "AT"]
        if cluster.upstream_since(37)
        else ["NAME", "CREATED", "AT"]
    )
    assert _rows(kubectl("get", "crd"))[0] == crd_header
    assert _rows(kubectl("get", "clusterrolebinding", "cluster-admin"))[1][:2] == [
        "cluster-admin",
        "ClusterRole/cluster-admin",
    ]
    assert _rows(kubectl("get", "namespace", "default"))[1][:2] == ["default", "Active"]


def test_openapi_v2_protobuf(kubectl: Tool) -> None:
    """kubectl reads /openapi/v2 only as protobuf (explain's v2 output, validation fallbacks)."""
    out = kubectl("explain", "--output=plaintext-openapiv2", "pods.spec.containers.ports")
    assert "containerPort\t<integer> -required-" in out
    # A CRD and objects of its kind in one apply: the objects fail as on a real cluster (their kind was not
    # discoverable when kubectl mapped them), not with a decoding error.
    proc = kubectl.run("apply", "-f", "-", input=to_yaml(widget_crd(), widget("w")), check=False)
    assert "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created" in proc.stdout
    assert 'no matches for kind "Widget" in version "example.com/v1"' in proc.stderr
    assert "created" in kubectl("apply", "-f", "-", input=to_yaml(widget("w")))
    explained = kubectl("explain", "--output=plaintext-openapiv2", "widgets.spec.size")
    assert "FIELD:    size <integer>" in explained


def _table(cluster: ClusterUnderTest, path: str) -> tuple[list[str], list[list[Any]]]:
    resp = http(cluster, "GET", path, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert resp.status == 200, resp.body
    table = resp.json()
    return [c["name"] for c in table["columnDefinitions"]], [row["cells"] for row in table["rows"]]


def test_get_shows_wide_columns_with_o_wide(cluster: ClusterUnderTest, kubectl: Tool) -> None:
    """kubectl prints a Table's priority-0 columns, and the others with ``-o wide`` (the columns and cells of
    every built-in kind: test_conformance_discovery.py's test_builtin_tables)."""
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=0")
    assert _rows(kubectl("get", "deployment", "web"))[0] == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
    ]
    wide = _rows(kubectl("get", "deployment", "web", "-o", "wide"))
    assert wide[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1][5:] == ["nginx", "nginx:1.27", "app=web"]
    # The default class is marked in its Name cell. From 1.37 only a list marks it (the most recently created
    # of the classes annotated default, the one the admission plugin picks); a class read by name is not.
    standard = (
        ["standard", "kubernetes.io/host-path", "Delete"]
        if cluster.upstream_since(37)
        else ["standard", "(default)", "kubernetes.io/host-path"]
    )
    assert _rows(kubectl("get", "storageclass", "standard"))[1][:3] == standard
