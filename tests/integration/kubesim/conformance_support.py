"""Helpers of the kubesim conformance suite: raw HTTP with the admin token, a sample CRD, kubectl/helm.

The suite asserts what a real API server answers (Kubernetes 1.34); the helpers only save typing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml

from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[3]
CHARTS = Path(__file__).resolve().parent / "charts"

GROUP = "example.com"
WIDGETS = "widgets"


def widget_crd(*, scope: str = "Namespaced") -> dict[str, Any]:
    """``widgets.example.com``: schema with validation, defaults, an unknown-fields island, status and
    scale subresources and printer columns."""
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "color": {"type": "string", "enum": ["red", "green", "blue"], "default": "blue"},
                    "replicas": {"type": "integer", "default": 1},
                    "labelSelector": {"type": "string"},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "phase": {"type": "string"},
                    "replicas": {"type": "integer"},
                    "selector": {"type": "string"},
                    "conditions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"type": {"type": "string"}, "status": {"type": "string"}},
                        },
                    },
                },
            },
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{WIDGETS}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "plural": WIDGETS,
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
                "categories": ["examples"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


def widget(name: str, size: int = 3, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size, **spec},
    }


class Cluster(Protocol):
    """What the helpers need of a cluster: Cluster and tests.clusters.ClusterUnderTest both fit."""

    url: str
    admin_token: str
    ca_file: str


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # the first value of each header
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)  # every header line, repeats included

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.header_list if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


def ssl_context(cluster: Cluster) -> ssl.SSLContext | None:
    return _context(cluster.ca_file) if cluster.ca_file else None


@functools.lru_cache(maxsize=64)
def _context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


def http(
    cluster: Cluster,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    token: str | None = None,
    timeout: float = 10.0,
) -> Response:
    """One request with the admin token (or ``token``; ``""`` for none); never raises on HTTP errors."""
    data: bytes | None
    if body is None:
        data = None
    elif isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = json.dumps(body).encode()
    hdrs = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        hdrs["Content-Type"] = content_type
    tok = cluster.admin_token if token is None else token
    if tok:
        hdrs["Authorization"] = f"Bearer {tok}"
    req = urllib.request.Request(cluster.url + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ssl_context(cluster)) as resp:
            return Response(resp.status, dict(resp.headers), resp.read(), list(resp.headers.items()))
    except urllib.error.HTTPError as exc:
        return Response(exc.code, dict(exc.headers), exc.read(), list(exc.headers.items()))


def watch_events(
    cluster: Cluster,
    path: str,
    until: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 10.0,
) -> list[dict[str, Any]]:
    """Read a watch stream (``path`` with its query) up to and including the first event for which
    ``until`` is true, then hang up; fails if the stream ends or ``timeout`` passes first."""
    hdrs = {"Accept": "application/json", "Authorization": f"Bearer {cluster.admin_token}"}
    req = urllib.request.Request(cluster.url + path, headers=hdrs)
    events: list[dict[str, Any]] = []
    with urllib.request.urlopen(req, timeout=timeout, context=ssl_context(cluster)) as resp:
        while True:
            line = resp.readline()
            if not line:
                raise AssertionError(f"watch ended before the expected event; got {events}")
            if not line.strip():
                continue
            event = json.loads(line)
            events.append(event)
            if until(event):
                return events


def named(name: str) -> Callable[[dict[str, Any]], bool]:
    """A watch_events predicate: the event is about the object ``name``."""
    return lambda e: bool(e["object"].get("metadata", {}).get("name") == name)


def api_exception_body(exc: Any) -> dict[str, Any]:
    """The Status object carried by an official client's ApiException."""
    body: dict[str, Any] = json.loads(exc.body)
    return body


@contextlib.contextmanager
def idle_node(cluster: Cluster, name: str) -> Iterator[str]:
    """A Node no kubelet runs and no scheduler uses (``unschedulable``), deleted afterwards. Pods bound to it
    by ``spec.nodeName`` count as scheduled (pvc-protection) and keep the status the test writes. It must
    exist: upstream's pod garbage collector deletes pods bound to nodes that do not."""
    resp = http(
        cluster, "POST", "/api/v1/nodes", {"metadata": {"name": name}, "spec": {"unschedulable": True}}
    )
    assert resp.status == 201, resp.body
    try:
        yield name
    finally:
        resp = http(cluster, "DELETE", f"/api/v1/nodes/{name}")
        assert resp.status in (200, 404), resp.body


# ------------------------------------------------------------------------------------------ binaries


def binary(name: str) -> str:
    """The kubectl/helm of $JUPYTERNETES_TOOLS (the test matrix puts the kubectl of the minor under test
    there), else the one fetched into the venv by tools/fetch_k8s_binaries.py, else one on PATH."""
    for directory in (os.environ.get("JUPYTERNETES_TOOLS", ""), str(Path(sys.executable).parent)):
        candidate = Path(directory) / name
        if directory and candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} binary not found (run `make venv` or tools/fetch_k8s_binaries.py to fetch it)")
    return found


@dataclass
class Tool:
    """kubectl or helm with an isolated HOME, KUBECONFIG and Helm cache/config/data directories."""

    path: str
    env: dict[str, str]
    cwd: Path

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.path, *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{Path(self.path).name} {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def __call__(self, *args: str, input: str | None = None) -> str:
        return self.run(*args, input=input).stdout


def tool_env(tmp_path: Path, kubeconfig: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM_"))}
    env.update(
        HOME=str(home),
        KUBECONFIG=kubeconfig,
        HELM_CACHE_HOME=str(tmp_path / "helm-cache"),
        HELM_CONFIG_HOME=str(tmp_path / "helm-config"),
        HELM_DATA_HOME=str(tmp_path / "helm-data"),
        NO_COLOR="1",
    )
    return env


def make_tool(name: str, kubeconfig: str, tmp_path: Path) -> Tool:
    """kubectl or helm using ``kubeconfig``, with HOME and Helm's directories under ``tmp_path``."""
    return Tool(binary(name), tool_env(tmp_path, kubeconfig), tmp_path)


def to_yaml(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False)


def create_crd(
    client: Any, crd: dict[str, Any], wait_for: Callable[..., Any], timeout: float = 30.0
) -> dict[str, Any]:
    """Create a CRD and wait, as real clients do, until it is Established with its names accepted and
    its group/version is discovered (upstream does both a moment after the creation; kubesim at once).
    ``client`` is an official ``kubernetes`` ApiClient."""
    import kubernetes

    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.create_custom_resource_definition(crd)
    name = crd["metadata"]["name"]

    def ready() -> Any:
        got = ext.read_custom_resource_definition(name)
        conditions = {c.type: c.status for c in (got.status.conditions or [])}
        if conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True":
            return got
        return None

    got = wait_for(ready, timeout=timeout, what=f"CRD {name} Established")
    group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
    version = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    custom = kubernetes.client.CustomObjectsApi(client)

    def discovered() -> bool:
        try:
            resources = custom.get_api_resources(group, version)
        except kubernetes.client.ApiException:
            return False
        return any(r.name == plural for r in resources.resources or [])

    wait_for(discovered, timeout=timeout, what=f"{plural}.{group} discovered")
    out: dict[str, Any] = client.sanitize_for_serialization(got)
    return out


def create_crd_over_http(
    cluster: Cluster, crd: dict[str, Any] | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """:func:`create_crd` for tests that hold a cluster rather than a client: create the CRD (the widget
    CRD by default) with the admin token and wait until it is Established and its resources are served
    (upstream serves them a moment after the creation)."""
    crd = crd or widget_crd()
    resp = http(cluster, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert resp.status == 201, resp.body
    name, spec = crd["metadata"]["name"], crd["spec"]
    version = next(v["name"] for v in spec["versions"] if v.get("served", True))
    path = f"/apis/{spec['group']}/{version}/{spec['names']['plural']}"

    def ready() -> bool:
        got = http(cluster, "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").json()
        conditions = {c["type"]: c["status"] for c in (got.get("status") or {}).get("conditions") or ()}
        established = conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"
        return established and http(cluster, "GET", path).status == 200

    wait_until(ready, timeout, message=f"CRD {name} Established and {path} served")
    created: dict[str, Any] = resp.json()
    return created
