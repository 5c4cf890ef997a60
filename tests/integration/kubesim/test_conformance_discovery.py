"""Issue 2, behaviour 1: discovery and OpenAPI as the real API server serves them."""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kubernetes
import pytest

from tests.clusters import ClusterUnderTest

from .conformance_support import GROUP, WIDGETS, http, widget_crd


def _resources(cluster: ClusterUnderTest, path: str) -> dict[str, dict[str, Any]]:
    resp = http(cluster, "GET", path)
    assert resp.status == 200, resp.body
    doc = resp.json()
    assert doc["kind"] == "APIResourceList"
    return {r["name"]: r for r in doc["resources"]}


def test_version_is_served_to_the_official_client(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient
) -> None:
    info = kubernetes.client.VersionApi(client).get_code()
    release = cluster.release  # kubesim emulates 1.34; upstream is the release under test
    assert (info.major, info.minor) == (str(release.major), str(release.minor))
    assert info.git_version.startswith(f"v{release.major}.{release.minor}.")
    assert info.platform


def test_version_and_health_need_no_credentials(cluster: ClusterUnderTest) -> None:
    assert http(cluster, "GET", "/version", token="").status == 200
    assert http(cluster, "GET", "/healthz", token="").body == b"ok"
    # Without credentials a request is system:anonymous's, which RBAC lets see only those.
    resp = http(cluster, "GET", "/api/v1/namespaces", token="")
    assert resp.status == 403
    assert resp.json()["reason"] == "Forbidden"


def test_api_and_apis_list_groups_with_preferred_versions(cluster: ClusterUnderTest) -> None:
    api = http(cluster, "GET", "/api").json()
    assert api["kind"] == "APIVersions"
    assert api["versions"] == ["v1"]
    groups = {g["name"]: g for g in http(cluster, "GET", "/apis").json()["groups"]}
    for name in (
        "apps",
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
        "authorization.k8s.io",
    ):
        assert groups[name]["preferredVersion"] == {"groupVersion": f"{name}/v1", "version": "v1"}
    one = http(cluster, "GET", "/apis/apps").json()
    assert one["kind"] == "APIGroup"
    assert one["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]


def test_core_resource_list_fields(cluster: ClusterUnderTest) -> None:
    res = _resources(cluster, "/api/v1")
    pods = res["pods"]
    assert pods["kind"] == "Pod"
    assert pods["singularName"] == "pod"
    assert pods["namespaced"] is True
    assert pods["shortNames"] == ["po"]
    assert pods["categories"] == ["all"]
    assert set(pods["verbs"]) == {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }
    assert res["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert res["pods/log"]["verbs"] == ["get"]
    assert res["namespaces"]["namespaced"] is False
    assert res["namespaces"]["shortNames"] == ["ns"]
    for name in (
        "namespaces",
        "pods",
        "persistentvolumeclaims",
        "persistentvolumes",
        "services",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "events",
        "nodes",
    ):
        assert name in res, name
    assert res["persistentvolumeclaims"]["shortNames"] == ["pvc"]


def test_group_resource_lists(cluster: ClusterUnderTest) -> None:
    apps = _resources(cluster, "/apis/apps/v1")
    assert apps["deployments"]["shortNames"] == ["deploy"]
    assert "deployments/scale" in apps
    assert "statefulsets/status" in apps
    rbac = _resources(cluster, "/apis/rbac.authorization.k8s.io/v1")
    assert {"roles", "rolebindings", "clusterroles", "clusterrolebindings"} <= set(rbac)
    assert rbac["clusterroles"]["namespaced"] is False
    assert "leases" in _resources(cluster, "/apis/coordination.k8s.io/v1")
    assert "events" in _resources(cluster, "/apis/events.k8s.io/v1")
    crds = _resources(cluster, "/apis/apiextensions.k8s.io/v1")["customresourcedefinitions"]
    assert crds["shortNames"] == ["crd", "crds"]


def test_unknown_group_version_is_404(cluster: ClusterUnderTest) -> None:
    # No such group: no handler serves the path, and Go's plain-text 404 answers.
    for path in ("/apis/nope.example.com", "/apis/nope.example.com/v1", "/apis/nope.example.com/v1/things"):
        resp = http(cluster, "GET", path)
        assert resp.status == 404
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert resp.body == b"404 page not found\n"
    # A group that exists, in a version or with a resource it does not serve: a Status.
    for path in ("/apis/apps/v9", "/apis/apps/v1/things", "/api/v1/namespaces/default/things"):
        resp = http(cluster, "GET", path)
        assert resp.status == 404
        assert resp.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound",
            "details": {},
            "code": 404,
        }


def test_crd_resources_are_discovered_with_subresources(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]
) -> None:
    kubernetes.client.ApiextensionsV1Api(client).create_custom_resource_definition(widget_crd())
    # Discovery serves the group once the CRD is established (upstream: a moment after its creation).
    wait_for(lambda: http(cluster, "GET", f"/apis/{GROUP}/v1").status == 200, timeout=30, what="discovery")
    res = _resources(cluster, f"/apis/{GROUP}/v1")
    w = res[WIDGETS]
    assert w["kind"] == "Widget"
    assert w["singularName"] == "widget"
    assert w["shortNames"] == ["wd"]
    assert w["categories"] == ["examples"]
    assert w["namespaced"] is True
    assert res[f"{WIDGETS}/status"]["verbs"] == ["get", "patch", "update"]
    assert res[f"{WIDGETS}/scale"]["kind"] == "Scale"
    groups = {g["name"] for g in http(cluster, "GET", "/apis").json()["groups"]}
    assert GROUP in groups


def test_dynamic_client_resolves_kinds_through_discovery(client: kubernetes.client.ApiClient) -> None:
    dyn = kubernetes.dynamic.DynamicClient(client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.name == "deployments"
    assert deployments.namespaced
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    assert pods.subresources["status"].name == "pods/status"


def test_openapi_v2_and_v3(cluster: ClusterUnderTest) -> None:
    v2 = http(cluster, "GET", "/openapi/v2")
    assert v2.status == 200
    doc = v2.json()
    assert doc["swagger"] == "2.0"
    pod = doc["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    index = http(cluster, "GET", "/openapi/v3").json()
    assert "api/v1" in index["paths"]
    assert "apis/apps/v1" in index["paths"]
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    v3 = http(cluster, "GET", url)
    assert v3.status == 200
    assert "io.k8s.api.apps.v1.Deployment" in v3.json()["components"]["schemas"]


@pytest.mark.parametrize("path", ["/api/v1/pods", "/apis/apps/v1/deployments"])
def test_cluster_wide_lists(cluster: ClusterUnderTest, path: str) -> None:
    resp = http(cluster, "GET", path)
    assert resp.status == 200
    assert resp.json()["kind"].endswith("List")


# ------------------------------------------------------------------------------------------ Table responses

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
AGE = re.compile(r"^[0-9]+s$")  # the age of an object created a moment ago
DATE = "<creationTimestamp>"  # the object's creationTimestamp, as the default table shows it
ANY = "<any>"  # not pinned: an allocated cluster IP, or written by a controller upstream (see the case)
_CONTAINER = {"name": "c", "image": "busybox:1.36"}
_TEMPLATE = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [_CONTAINER]}}
_SELECTOR = {"matchLabels": {"app": "a"}}


@dataclass
class TableCase:
    """An object of a built-in kind and what upstream's printer shows for it (kubectl get -o wide)."""

    id: str
    path: str  # "{ns}" is the test's namespace; cluster-scoped objects are named after it
    body: dict[str, Any]
    columns: list[tuple[str, str, str, int]]  # name, type, format, priority
    cells: list[Any]
    ready: Callable[[dict[str, Any]], bool] | None = None  # wait until the stored object satisfies it


def _c(name: str, typ: str = "string", fmt: str = "", priority: int = 0) -> tuple[str, str, str, int]:
    return (name, typ, fmt, priority)


NAME, AGE_C, CREATED = _c("Name", fmt="name"), _c("Age"), _c("Created At", "date")
WIDE = [_c("Containers", priority=1), _c("Images", priority=1)]
SELECTOR_W = _c("Selector", priority=1)

TABLE_CASES = [
    TableCase(
        "configmaps",
        "/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}},
        [NAME, _c("Data"), AGE_C],
        ["cm", 3, AGE],
    ),
    TableCase(
        "secrets",
        "/api/v1/namespaces/{ns}/secrets",
        {"metadata": {"name": "sec"}, "type": "Opaque", "data": {"a": "AA=="}},
        [NAME, _c("Type"), _c("Data"), AGE_C],
        ["sec", "Opaque", 1, AGE],
    ),
    TableCase(
        "serviceaccounts",
        "/api/v1/namespaces/{ns}/serviceaccounts",
        {"metadata": {"name": "sa"}},
        [NAME, _c("Secrets"), AGE_C],
        ["sa", 0, AGE],
    ),
    TableCase(
        "services",
        "/api/v1/namespaces/{ns}/services",
        {
            "metadata": {"name": "svc"},
            "spec": {
                "clusterIP": "None",
                "ports": [{"port": 80, "name": "http"}, {"port": 53, "protocol": "UDP", "name": "dns"}],
            },
        },
        [NAME, _c("Type"), _c("Cluster-IP"), _c("External-IP"), _c("Port(s)"), AGE_C, SELECTOR_W],
        ["svc", "ClusterIP", "None", "<none>", "80/TCP,53/UDP", AGE, "<none>"],
    ),
    TableCase(
        "services-selector",
        "/api/v1/namespaces/{ns}/services",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        [NAME, _c("Type"), _c("Cluster-IP"), _c("External-IP"), _c("Port(s)"), AGE_C, SELECTOR_W],
        ["web", "ClusterIP", ANY, "<none>", "80/TCP", AGE, "app=a"],
    ),
    TableCase(
        "services-loadbalancer",
        "/api/v1/namespaces/{ns}/services",
        # No node ports: the cell shows none. No load balancer controller runs: the address is pending.
        {
            "metadata": {"name": "lb"},
            "spec": {
                "type": "LoadBalancer",
                "allocateLoadBalancerNodePorts": False,
                "ports": [{"port": 82, "protocol": "UDP"}],
            },
        },
        [NAME, _c("Type"), _c("Cluster-IP"), _c("External-IP"), _c("Port(s)"), AGE_C, SELECTOR_W],
        ["lb", "LoadBalancer", ANY, "<pending>", "82/UDP", AGE, "<none>"],
    ),
    TableCase(
        "services-externalname",
        "/api/v1/namespaces/{ns}/services",
        {"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.com"}},
        [NAME, _c("Type"), _c("Cluster-IP"), _c("External-IP"), _c("Port(s)"), AGE_C, SELECTOR_W],
        ["ext", "ExternalName", "<none>", "example.com", "<none>", AGE, "<none>"],
    ),
    TableCase(
        "pods",
        "/api/v1/namespaces/{ns}/pods",
        # No scheduler of that name: the pod stays Pending on both backends.
        {"metadata": {"name": "pod"}, "spec": {"schedulerName": "nobody", "containers": [_CONTAINER]}},
        [
            NAME,
            _c("Ready"),
            _c("Status"),
            _c("Restarts"),
            AGE_C,
            _c("IP", priority=1),
            _c("Node", priority=1),
            _c("Nominated Node", priority=1),
            _c("Readiness Gates", priority=1),
        ],
        ["pod", "0/1", "Pending", "0", AGE, "<none>", "<none>", "<none>", "<none>"],
    ),
    TableCase(
        "podtemplates",
        "/api/v1/namespaces/{ns}/podtemplates",
        {
            "metadata": {"name": "pt"},
            "template": {
                "metadata": {"labels": {"app": "a", "tier": "b"}},
                "spec": {"containers": [_CONTAINER, {"name": "d", "image": "nginx:1.27"}]},
            },
        },
        [NAME, _c("Containers"), _c("Images"), _c("Pod Labels")],
        ["pt", "c,d", "busybox:1.36,nginx:1.27", "app=a,tier=b"],
    ),
    TableCase(
        "persistentvolumeclaims",
        "/api/v1/namespaces/{ns}/persistentvolumeclaims",
        {
            "metadata": {"name": "pvc"},
            "spec": {
                "storageClassName": "no-such-class",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        [
            NAME,
            _c("Status"),
            _c("Volume"),
            _c("Capacity"),
            _c("Access Modes"),
            _c("StorageClass"),
            _c("VolumeAttributesClass"),
            AGE_C,
            _c("VolumeMode", priority=1),
        ],
        ["pvc", "Pending", "", "", "", "no-such-class", "<unset>", AGE, "Filesystem"],
    ),
    TableCase(
        "events",
        "/api/v1/namespaces/{ns}/events",
        {
            "metadata": {"name": "ev"},
            "involvedObject": {"kind": "Pod", "name": "pod", "namespace": "{ns}"},
            "reason": "Tested",
            "message": "a message",
            "type": "Normal",
        },
        [
            _c("Last Seen"),
            _c("Type"),
            _c("Reason"),
            _c("Object"),
            _c("Subobject", priority=1),
            _c("Source", priority=1),
            _c("Message"),
            _c("First Seen", priority=1),
            _c("Count", priority=1),
            _c("Name", fmt="name", priority=1),
        ],
        # No timestamps were given: upstream does not make them up.
        ["<unknown>", "Normal", "Tested", "pod/pod", "", "", "a message", "<unknown>", 1, "ev"],
    ),
    TableCase(
        "events.k8s.io",
        "/apis/events.k8s.io/v1/namespaces/{ns}/events",
        {
            "metadata": {"name": "ev2"},
            "eventTime": "{now}",
            "reportingController": "example.com/ctl",
            "reportingInstance": "ctl-1",
            "action": "Did",
            "reason": "Tested",
            "note": " a note ",
            "type": "Warning",
            "regarding": {"kind": "Pod", "name": "p", "namespace": "{ns}"},
        },
        [
            _c("Last Seen"),
            _c("Type"),
            _c("Reason"),
            _c("Object"),
            _c("Subobject", priority=1),
            _c("Source", priority=1),
            _c("Message"),
            _c("First Seen", priority=1),
            _c("Count", priority=1),
            _c("Name", fmt="name", priority=1),
        ],
        [AGE, "Warning", "Tested", "pod/p", "", "example.com/ctl, ctl-1", "a note", AGE, 1, "ev2"],
    ),
    TableCase(
        "resourcequotas",
        "/api/v1/namespaces/{ns}/resourcequotas",
        {"metadata": {"name": "rq"}, "spec": {"hard": {"pods": "5", "limits.cpu": "2"}}},
        [NAME, _c("Request"), _c("Limit"), AGE_C],
        ["rq", "pods: 0/5", "limits.cpu: 0/2", AGE],
        ready=lambda o: "used" in (o.get("status") or {}),
    ),
    TableCase(
        "limitranges",
        "/api/v1/namespaces/{ns}/limitranges",
        {"metadata": {"name": "lr"}, "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]}},
        [NAME, CREATED],
        ["lr", DATE],
    ),
    TableCase(
        "endpoints",
        "/api/v1/namespaces/{ns}/endpoints",
        {
            "metadata": {"name": "ep"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
        },
        [NAME, _c("Endpoints"), AGE_C],
        ["ep", "10.0.0.1:80", AGE],
    ),
    TableCase(
        "endpoints-more",
        "/api/v1/namespaces/{ns}/endpoints",
        {
            "metadata": {"name": "many"},
            "subsets": [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 5)], "ports": [{"port": 80}]}],
        },
        [NAME, _c("Endpoints"), AGE_C],
        ["many", "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...", AGE],
    ),
    TableCase(
        "deployments",
        "/apis/apps/v1/namespaces/{ns}/deployments",
        {"metadata": {"name": "dep"}, "spec": {"replicas": 0, "selector": _SELECTOR, "template": _TEMPLATE}},
        [NAME, _c("Ready"), _c("Up-to-date"), _c("Available"), AGE_C, *WIDE, SELECTOR_W],
        ["dep", "0/0", 0, 0, AGE, "c", "busybox:1.36", "app=a"],
    ),
    TableCase(
        "statefulsets",
        "/apis/apps/v1/namespaces/{ns}/statefulsets",
        {
            "metadata": {"name": "sts"},
            "spec": {"replicas": 0, "serviceName": "svc", "selector": _SELECTOR, "template": _TEMPLATE},
        },
        [NAME, _c("Ready"), AGE_C, *WIDE],
        ["sts", "0/0", AGE, "c", "busybox:1.36"],
    ),
    TableCase(
        "replicasets",
        "/apis/apps/v1/namespaces/{ns}/replicasets",
        {"metadata": {"name": "rs"}, "spec": {"replicas": 0, "selector": _SELECTOR, "template": _TEMPLATE}},
        [
            NAME,
            _c("Desired", "integer"),
            _c("Current", "integer"),
            _c("Ready", "integer"),
            AGE_C,
            *WIDE,
            SELECTOR_W,
        ],
        ["rs", 0, 0, 0, AGE, "c", "busybox:1.36", "app=a"],
    ),
    TableCase(
        "daemonsets",
        "/apis/apps/v1/namespaces/{ns}/daemonsets",
        # A node selector no node matches: the daemon set controller schedules nothing (both have a node).
        {
            "metadata": {"name": "ds"},
            "spec": {
                "selector": _SELECTOR,
                "template": {
                    **_TEMPLATE,
                    "spec": {**_TEMPLATE["spec"], "nodeSelector": {"example.com/none": "x"}},
                },
            },
        },
        [
            NAME,
            _c("Desired", "integer"),
            _c("Current", "integer"),
            _c("Ready", "integer"),
            _c("Up-to-date", "integer"),
            _c("Available", "integer"),
            _c("Node Selector"),
            AGE_C,
            *WIDE,
            SELECTOR_W,
        ],
        ["ds", 0, 0, 0, 0, 0, "example.com/none=x", AGE, "c", "busybox:1.36", "app=a"],
    ),
    TableCase(
        "jobs",
        "/apis/batch/v1/namespaces/{ns}/jobs",
        {
            "metadata": {"name": "job"},
            "spec": {
                "suspend": True,
                "template": {"spec": {"restartPolicy": "Never", "containers": [_CONTAINER]}},
            },
        },
        [NAME, _c("Status"), _c("Completions"), _c("Duration"), AGE_C, *WIDE, SELECTOR_W],
        # Status: "Running" until upstream's job controller marks the job Suspended (kubesim has none).
        ["job", ANY, "0/1", "", AGE, "c", "busybox:1.36", "batch.kubernetes.io/controller-uid={uid}"],
    ),
    TableCase(
        "cronjobs",
        "/apis/batch/v1/namespaces/{ns}/cronjobs",
        {
            "metadata": {"name": "cj"},
            "spec": {
                "schedule": "*/5 * * * *",
                "suspend": True,
                "jobTemplate": {
                    "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [_CONTAINER]}}}
                },
            },
        },
        [
            NAME,
            _c("Schedule"),
            _c("Timezone"),
            _c("Suspend", "boolean"),
            _c("Active", "integer"),
            _c("Last Schedule"),
            AGE_C,
            *WIDE,
            SELECTOR_W,
        ],
        ["cj", "*/5 * * * *", "<none>", "True", 0, "<none>", AGE, "c", "busybox:1.36", "<none>"],
    ),
    TableCase(
        "roles",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
        {
            "metadata": {"name": "role"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
        [NAME, CREATED],
        ["role", DATE],
    ),
    TableCase(
        "rolebindings",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        {
            "metadata": {"name": "rb"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [
                {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "{ns}"},
                {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"},
            ],
        },
        [
            NAME,
            _c("Role"),
            AGE_C,
            _c("Users", priority=1),
            _c("Groups", priority=1),
            _c("ServiceAccounts", priority=1),
        ],
        ["rb", "ClusterRole/view", AGE, "alice", "devs", "{ns}/sa"],
    ),
    TableCase(
        "leases",
        "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
        {"metadata": {"name": "lease"}, "spec": {"holderIdentity": "me"}},
        [NAME, _c("Holder"), AGE_C],
        ["lease", "me", AGE],
    ),
    TableCase(
        "ingresses",
        "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
        {
            "metadata": {"name": "ing"},
            "spec": {
                "rules": [
                    {
                        "host": "a.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "svc", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
        [NAME, _c("Class"), _c("Hosts"), _c("Address"), _c("Ports"), AGE_C],
        ["ing", "<none>", "a.example.com", "", "80", AGE],
    ),
    TableCase(
        "ingresses-tls",
        "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
        {
            "metadata": {"name": "tls"},
            "spec": {
                "tls": [{"hosts": ["a.example.com"]}],
                "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
            },
        },
        [NAME, _c("Class"), _c("Hosts"), _c("Address"), _c("Ports"), AGE_C],
        ["tls", "<none>", "a.example.com,b.example.com", "", "80, 443", AGE],
    ),
    TableCase(
        "networkpolicies",
        "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
        {"metadata": {"name": "np"}, "spec": {"podSelector": _SELECTOR}},
        [NAME, _c("Pod-Selector"), AGE_C],
        ["np", "app=a", AGE],
    ),
    TableCase(
        "networkpolicies-expressions",
        "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
        {
            "metadata": {"name": "np2"},
            "spec": {
                "podSelector": {
                    **_SELECTOR,
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
                }
            },
        },
        [NAME, _c("Pod-Selector"), AGE_C],
        ["np2", "app=a,tier in (a,b)", AGE],
    ),
    TableCase(
        "poddisruptionbudgets",
        "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
        {"metadata": {"name": "pdb"}, "spec": {"minAvailable": 1, "selector": _SELECTOR}},
        [NAME, _c("Min Available"), _c("Max Unavailable"), _c("Allowed Disruptions", "integer"), AGE_C],
        ["pdb", "1", "N/A", 0, AGE],
    ),
    TableCase(
        "poddisruptionbudgets-max-unavailable",
        "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
        {"metadata": {"name": "pdb2"}, "spec": {"maxUnavailable": "25%", "selector": _SELECTOR}},
        [NAME, _c("Min Available"), _c("Max Unavailable"), _c("Allowed Disruptions", "integer"), AGE_C],
        ["pdb2", "N/A", "25%", 0, AGE],
    ),
    TableCase(
        "endpointslices",
        "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
        {
            "metadata": {"name": "eps"},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.2"]}],
            "ports": [{"port": 80, "name": "", "protocol": "TCP"}],
        },
        [NAME, _c("AddressType"), _c("Ports"), _c("Endpoints"), AGE_C],
        ["eps", "IPv4", "80", "10.0.0.2", AGE],
    ),
    TableCase(
        "controllerrevisions",
        "/apis/apps/v1/namespaces/{ns}/controllerrevisions",
        {"metadata": {"name": "rev"}, "revision": 3, "data": {}},
        [NAME, _c("Controller"), _c("Revision"), AGE_C],
        ["rev", "<none>", 3, AGE],
    ),
    TableCase(
        "storageclasses",
        "/apis/storage.k8s.io/v1/storageclasses",
        {
            "metadata": {"name": "{ns}-sc"},
            "provisioner": "example.com/none",
            "allowVolumeExpansion": True,
            "volumeBindingMode": "WaitForFirstConsumer",
        },
        [
            NAME,
            _c("Provisioner"),
            _c("ReclaimPolicy"),
            _c("VolumeBindingMode"),
            _c("AllowVolumeExpansion"),
            AGE_C,
        ],
        ["{ns}-sc", "example.com/none", "Delete", "WaitForFirstConsumer", True, AGE],
    ),
    TableCase(
        "priorityclasses",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        {"metadata": {"name": "{ns}-pc"}, "value": 1000, "preemptionPolicy": "Never"},
        [NAME, _c("Value", "integer"), _c("Global-Default", "boolean"), AGE_C, _c("PreemptionPolicy")],
        ["{ns}-pc", 1000, False, AGE, "Never"],
    ),
    TableCase(
        "priorityclasses-default-policy",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        {"metadata": {"name": "{ns}-pc2"}, "value": 10},
        [NAME, _c("Value", "integer"), _c("Global-Default", "boolean"), AGE_C, _c("PreemptionPolicy")],
        ["{ns}-pc2", 10, False, AGE, "PreemptLowerPriority"],
    ),
    TableCase(
        "clusterroles",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        {"metadata": {"name": "{ns}-cr"}, "rules": []},
        [NAME, CREATED],
        ["{ns}-cr", DATE],
    ),
    TableCase(
        "clusterrolebindings",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "metadata": {"name": "{ns}-crb"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "name": "g1", "apiGroup": "rbac.authorization.k8s.io"}],
        },
        [
            NAME,
            _c("Role"),
            AGE_C,
            _c("Users", priority=1),
            _c("Groups", priority=1),
            _c("ServiceAccounts", priority=1),
        ],
        ["{ns}-crb", "ClusterRole/view", AGE, "", "g1", ""],
    ),
    TableCase(
        "persistentvolumes",
        "/api/v1/persistentvolumes",
        {
            "metadata": {"name": "{ns}-pv"},
            "spec": {
                "capacity": {"storage": "1536Mi"},
                "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                # A class of its own: no other test's claim binds it.
                "storageClassName": "{ns}",
                "hostPath": {"path": "/tmp/nowhere"},
            },
        },
        [
            NAME,
            _c("Capacity"),
            _c("Access Modes"),
            _c("Reclaim Policy"),
            _c("Status"),
            _c("Claim"),
            _c("StorageClass"),
            _c("VolumeAttributesClass"),
            _c("Reason"),
            AGE_C,
            _c("VolumeMode", priority=1),
        ],
        ["{ns}-pv", "1536Mi", "RWO,ROX", "Retain", "Available", "", "{ns}", "<unset>", "", AGE, "Filesystem"],
        ready=lambda o: (o.get("status") or {}).get("phase") == "Available",
    ),
]


def _fill(value: Any, ns: str, now: str) -> Any:
    if isinstance(value, str):
        return value.replace("{ns}", ns).replace("{now}", now)
    if isinstance(value, dict):
        return {k: _fill(v, ns, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ns, now) for v in value]
    return value


def _as_upstream_prints(cluster: ClusterUnderTest, case: TableCase) -> TableCase:
    """The case as the cluster's release prints it: from 1.35 a ServiceAccount has no Secrets column."""
    if case.id == "serviceaccounts" and cluster.upstream_since(35):
        keep = [i for i, column in enumerate(case.columns) if column[0] != "Secrets"]
        return dataclasses.replace(
            case, columns=[case.columns[i] for i in keep], cells=[case.cells[i] for i in keep]
        )
    return case


@pytest.mark.parametrize("case", TABLE_CASES, ids=[c.id for c in TABLE_CASES])
def test_builtin_tables(
    cluster: ClusterUnderTest, ns: str, case: TableCase, wait_for: Callable[..., Any]
) -> None:
    """kubectl get asks for Tables: the columns and cells of upstream's printers (pkg/printers)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = _fill(case.body, ns, now)
    body["metadata"]["labels"] = {"table": ns}
    path = case.path.format(ns=ns)
    created = http(cluster, "POST", path, body)
    assert created.status == 201, created.body
    obj = created.json()
    name = obj["metadata"]["name"]
    if case.ready is not None:
        ready = case.ready
        wait_for(lambda: ready(http(cluster, "GET", f"{path}/{name}").json()), timeout=30, what=case.id)
        obj = http(cluster, "GET", f"{path}/{name}").json()
    resp = http(cluster, "GET", f"{path}?labelSelector=table%3D{ns}", headers={"Accept": TABLE})
    assert resp.status == 200, resp.body
    table = resp.json()
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [(c["name"], c["type"], c["format"], c["priority"]) for c in table["columnDefinitions"]]
    case = _as_upstream_prints(cluster, case)
    assert columns == case.columns
    (row,) = table["rows"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == name
    expected = _fill(case.cells, ns, now)
    for i, (got, want) in enumerate(zip(row["cells"], expected, strict=True)):
        column = case.columns[i][0]
        if want is AGE:
            assert isinstance(got, str), (column, got)
            assert AGE.match(got), (column, got)
        elif want == DATE:
            assert got == obj["metadata"]["creationTimestamp"], column
        elif want == ANY:
            continue
        else:
            if isinstance(want, str):
                want = want.replace("{uid}", obj["metadata"]["uid"])
            assert got == want, (column, got, want)
    assert len(row["cells"]) == len(expected)


def test_table_column_descriptions_and_object_forms(cluster: ClusterUnderTest, ns: str) -> None:
    """Name and Age carry the descriptions of metav1.ObjectMeta's fields; ``includeObject`` picks what
    each row carries (an invalid value is refused)."""
    http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "cm"}})
    path = f"/api/v1/namespaces/{ns}/configmaps/cm"
    table = http(cluster, "GET", path, headers={"Accept": TABLE}).json()
    name, _, age = table["columnDefinitions"]
    assert name["description"].startswith("Name must be unique within a namespace. Is required when creating")
    assert name["description"].endswith(
        "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
    )
    assert age["description"].startswith("CreationTimestamp is a timestamp representing the server time")
    (row,) = table["rows"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert table["metadata"]["resourceVersion"] == row["object"]["metadata"]["resourceVersion"]
    (row,) = http(cluster, "GET", f"{path}?includeObject=Object", headers={"Accept": TABLE}).json()["rows"]
    assert row["object"]["kind"] == "ConfigMap"
    (row,) = http(cluster, "GET", f"{path}?includeObject=None", headers={"Accept": TABLE}).json()["rows"]
    assert row == {"cells": ["cm", 0, row["cells"][2]], "object": None}
    resp = http(cluster, "GET", f"{path}?includeObject=Bogus", headers={"Accept": TABLE})
    assert resp.status == 400
    assert resp.json()["message"] == (
        'Unable to convert to Table as requested: includeObject: Invalid value: "Bogus": '
        "must be 'Metadata', 'Object', 'None', or empty"
    )
