"""ResourceQuota through the official client and the real kubectl: object counts (custom resources, the
legacy names), compute resources with upstream's must-specify rule, PVC storage (also per storage class),
scopes, status.used kept current as objects come and go, concurrent creates that never over-admit, and
the 403 messages worded as kube-apiserver's ResourceQuota admission plugin words them.

Upstream's admission plugin enforces a quota's ``status.hard`` (written by the quota controller), so tests
wait for a quota's status before relying on it; every namespace holds the ConfigMap ``kube-root-ca.crt``,
which ConfigMap counts include."""

from __future__ import annotations

import functools
import itertools
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi, StorageV1Api
from kubernetes.client.exceptions import ApiException

import kubesim
from kubesim.errors import ApiError
from tests.clusters import ClusterUnderTest

from .conformance_support import WIDGETS, Tool, idle_node, make_tool, widget, widget_crd
from .conftest import wait_for as poll

Wait = Callable[..., Any]
Obj = dict[str, Any]
# Upstream's quota controller recalculates status.used after each change (and learns new resources at its
# discovery resync, every 30 s).
QUOTA_TIMEOUT = 60.0


@pytest.fixture(name="wait_for")
def quota_wait_for() -> Wait:
    return functools.partial(poll, timeout=QUOTA_TIMEOUT)


def quota(name: str, hard: dict[str, str], **spec: Any) -> Obj:
    return {"metadata": {"name": name}, "spec": {"hard": hard, **spec}}


def container(
    name: str = "c", requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
) -> Obj:
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": "busybox:1.36", "resources": resources}


def pod(name: str, *containers: Obj, annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    meta: Obj = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {"containers": list(containers) or [container()], **spec}}


def refusal(call: Callable[[], Any]) -> Obj:
    """The Status of a call that must fail with 403 Forbidden."""
    with pytest.raises(ApiException) as info:
        call()
    assert info.value.status == 403, info.value.body
    status: Obj = json.loads(info.value.body)
    assert status["reason"] == "Forbidden"
    return status


def used(core: CoreV1Api, name: str, ns: str) -> dict[str, str]:
    status = core.read_namespaced_resource_quota(name, ns).status
    return dict((status.used if status else None) or {})


def wait_used(wait_for: Wait, core: CoreV1Api, ns: str, name: str, expected: dict[str, str]) -> None:
    wait_for(lambda: used(core, name, ns) == expected, what=f"status.used of {name} == {expected}")


def create_quota(core: CoreV1Api, ns: str, body: Obj, wait_for: Wait) -> None:
    """Create a quota and wait for its status: upstream's admission enforces ``status.hard``."""
    name = body["metadata"]["name"]
    core.create_namespaced_resource_quota(ns, body)
    wait_for(
        lambda: (s := core.read_namespaced_resource_quota(name, ns).status) is not None and s.hard,
        what=f"status.hard of {name}",
    )


def wait_counted(core: CoreV1Api, ns: str, resource: str, wait_for: Wait) -> None:
    """Wait until the quota controller counts ``resource``: a fresh quota in a namespace of its own shows it
    in status.used. Upstream's controller learns resources served since it started at its discovery
    resync (every 30 s)."""
    probe_ns = f"{ns}-probe"
    core.create_namespace({"metadata": {"name": probe_ns}})
    attempt = itertools.count()

    def counted() -> bool:
        name = f"probe-{next(attempt)}"
        core.create_namespaced_resource_quota(probe_ns, quota(name, {resource: "1"}))
        try:
            status = wait_for(lambda: core.read_namespaced_resource_quota(name, probe_ns).status)
            return resource in (status.used or {})
        finally:
            core.delete_namespaced_resource_quota(name, probe_ns)

    wait_for(counted, interval=1.0, what=f"the quota controller counting {resource}")


def created(call: Callable[[], Any]) -> bool:
    """Whether a create succeeds (True) or is refused by a quota (False)."""
    try:
        call()
    except ApiException as exc:
        if exc.status != 403:
            raise
        return False
    return True


def widgets_in(group: str) -> Obj:
    """widget_crd() in another group: upstream's quota controller remembers resources it has counted (other
    tests' widgets.example.com) until its next discovery resync."""
    crd = widget_crd()
    crd["metadata"]["name"] = f"{WIDGETS}.{group}"
    crd["spec"]["group"] = group
    return crd


def establish(client: ApiClient, crd: Obj, wait_for: Wait) -> None:
    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.create_custom_resource_definition(crd)

    def established() -> bool:
        conditions = ext.read_custom_resource_definition(crd["metadata"]["name"]).status.conditions
        return any(c.type == "Established" and c.status == "True" for c in conditions or ())

    wait_for(established, what=f"{crd['metadata']['name']} established")


@pytest.fixture
def core(client: ApiClient) -> CoreV1Api:
    return CoreV1Api(client)


def test_count_quota_on_a_custom_resource(
    client: ApiClient, core: CoreV1Api, ns: str, wait_for: Wait
) -> None:
    group = f"q{ns[-6:]}.example.com"  # the namespace's random suffix: short enough for a resource name
    count = f"count/{WIDGETS}.{group}"
    establish(client, widgets_in(group), wait_for)
    wait_counted(core, ns, count, wait_for)
    custom = CustomObjectsApi(client)
    create_quota(core, ns, quota("widgets", {count: "2"}), wait_for)
    wait_used(wait_for, core, ns, "widgets", {count: "0"})

    def create(name: str, namespace: str = ns) -> Any:
        body = {**widget(name), "apiVersion": f"{group}/v1"}
        return custom.create_namespaced_custom_object(group, "v1", namespace, WIDGETS, body)

    create("w1")
    create("w2")
    status = refusal(lambda: create("w3"))
    assert status["message"] == (
        f'{WIDGETS}.{group} "w3" is forbidden: exceeded quota: widgets, '
        f"requested: {count}=1, used: {count}=2, limited: {count}=2"
    )
    assert status["details"] == {"name": "w3", "group": group, "kind": WIDGETS}
    wait_used(wait_for, core, ns, "widgets", {count: "2"})
    custom.delete_namespaced_custom_object(group, "v1", ns, WIDGETS, "w1")
    wait_used(wait_for, core, ns, "widgets", {count: "1"})
    create("w3")
    # A quota in another namespace does not count here.
    other = f"{ns}-other"
    core.create_namespace({"metadata": {"name": other}})
    create("w4", other)
    wait_used(wait_for, core, ns, "widgets", {count: "2"})


def test_count_quota_before_its_resource_is_served(
    client: ApiClient, core: CoreV1Api, ns: str, wait_for: Wait
) -> None:
    """status.used names only resources counted when the quota was last calculated; a resource served
    later is unknown to it, and what it would count is refused, until the quota is recalculated (a change
    of spec.hard, or the controller's periodic resync)."""
    group = f"q{ns[-6:]}.example.com"  # the namespace's random suffix: short enough for a resource name
    count = f"count/{WIDGETS}.{group}"
    create_quota(core, ns, quota("q", {count: "1", "pods": "3"}), wait_for)
    wait_used(wait_for, core, ns, "q", {"pods": "0"})
    status = core.read_namespaced_resource_quota("q", ns).status
    assert status.hard == {count: "1", "pods": "3"}
    establish(client, widgets_in(group), wait_for)
    custom = CustomObjectsApi(client)

    def create(name: str) -> Any:
        body = {**widget(name), "apiVersion": f"{group}/v1"}
        return custom.create_namespaced_custom_object(group, "v1", ns, WIDGETS, body)

    status = refusal(lambda: create("w1"))
    assert status["message"] == (
        f'{WIDGETS}.{group} "w1" is forbidden: status unknown for quota: q, resources: {count}'
    )
    assert used(core, "q", ns) == {"pods": "0"}
    wait_counted(core, ns, count, wait_for)
    core.patch_namespaced_resource_quota("q", ns, {"spec": {"hard": {count: "2"}}})
    wait_used(wait_for, core, ns, "q", {count: "0", "pods": "0"})
    create("w1")
    wait_used(wait_for, core, ns, "q", {count: "1", "pods": "0"})


def test_pods_and_secrets(core: CoreV1Api, ns: str, wait_for: Wait) -> None:
    create_quota(
        core,
        ns,
        quota("objects", {"pods": "2", "count/pods": "5", "secrets": "1", "count/secrets": "3"}),
        wait_for,
    )
    wait_used(
        wait_for, core, ns, "objects", {"pods": "0", "count/pods": "0", "secrets": "0", "count/secrets": "0"}
    )
    core.create_namespaced_pod(ns, pod("p1"))
    core.create_namespaced_pod(ns, pod("p2"))
    status = refusal(lambda: core.create_namespaced_pod(ns, pod("p3")))
    assert status["message"] == (
        'pods "p3" is forbidden: exceeded quota: objects, requested: pods=1, used: pods=2, limited: pods=2'
    )
    assert status["details"] == {"name": "p3", "kind": "pods"}
    # A generated name is generated before admission: the error names it.
    status = refusal(
        lambda: core.create_namespaced_pod(ns, {**pod(""), "metadata": {"generateName": "web-"}})
    )
    assert re.fullmatch(
        'pods "web-[a-z0-9]{5}" is forbidden: exceeded quota: objects, requested: pods=1, used: pods=2, '
        "limited: pods=2",
        status["message"],
    ), status["message"]
    core.create_namespaced_secret(ns, {"metadata": {"name": "s1"}, "stringData": {"a": "b"}})
    status = refusal(lambda: core.create_namespaced_secret(ns, {"metadata": {"name": "s2"}}))
    assert status["message"] == (
        'secrets "s2" is forbidden: exceeded quota: objects, requested: secrets=1, used: secrets=1, '
        "limited: secrets=1"
    )
    # A dry run is checked too, and counts nothing.
    status = refusal(lambda: core.create_namespaced_secret(ns, {"metadata": {"name": "s2"}}, dry_run="All"))
    assert "exceeded quota: objects" in status["message"]
    wait_used(
        wait_for, core, ns, "objects", {"pods": "2", "count/pods": "2", "secrets": "1", "count/secrets": "1"}
    )
    core.delete_namespaced_pod("p1", ns, grace_period_seconds=0)
    wait_used(
        wait_for, core, ns, "objects", {"pods": "1", "count/pods": "1", "secrets": "1", "count/secrets": "1"}
    )
    core.create_namespaced_pod(ns, pod("p3"))


def test_several_resources_exceeded_at_once(core: CoreV1Api, ns: str, wait_for: Wait) -> None:
    """Only the exceeded resources are listed, each list sorted by name."""
    create_quota(
        core, ns, quota("both", {"configmaps": "2", "count/configmaps": "2", "count/secrets": "1"}), wait_for
    )
    wait_used(  # kube-root-ca.crt is one of them
        wait_for, core, ns, "both", {"configmaps": "1", "count/configmaps": "1", "count/secrets": "0"}
    )
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c1"}})
    status = refusal(lambda: core.create_namespaced_config_map(ns, {"metadata": {"name": "c2"}}))
    assert status["message"] == (
        'configmaps "c2" is forbidden: exceeded quota: both, requested: configmaps=1,count/configmaps=1, '
        "used: configmaps=2,count/configmaps=2, limited: configmaps=2,count/configmaps=2"
    )


def test_compute_quota_requests_and_limits(core: CoreV1Api, ns: str, wait_for: Wait) -> None:
    create_quota(
        core,
        ns,
        quota(
            "compute",
            {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "2Gi"},
        ),
        wait_for,
    )
    wait_used(
        wait_for,
        core,
        ns,
        "compute",
        {"requests.cpu": "0", "requests.memory": "0", "limits.cpu": "0", "limits.memory": "0"},
    )
    # Every container must state each constrained resource (upstream's backward-compatibility rule).
    status = refusal(
        lambda: core.create_namespaced_pod(
            ns,
            pod(
                "bare",
                container("app", requests={"cpu": "100m"}),
                container("side", requests={"cpu": "100m", "memory": "64Mi"}, limits={"cpu": "200m"}),
            ),
        )
    )
    assert status["message"] == (
        'pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: app; '
        "limits.memory for: app,side; requests.memory for: app"
    )
    big = container("app", requests={"cpu": "600m", "memory": "512Mi"}, limits={"cpu": "1", "memory": "1Gi"})
    core.create_namespaced_pod(ns, pod("a", big))
    wait_used(
        wait_for,
        core,
        ns,
        "compute",
        {"requests.cpu": "600m", "requests.memory": "512Mi", "limits.cpu": "1", "limits.memory": "1Gi"},
    )
    status = refusal(lambda: core.create_namespaced_pod(ns, pod("b", big)))
    assert status["message"] == (
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
        "used: requests.cpu=600m, limited: requests.cpu=1"
    )
    # Limits without requests: the requests default to the limits (SetDefaults_Pod) and count as such.
    only_limits = container("app", limits={"cpu": "400m", "memory": "512Mi"})
    defaulted = core.create_namespaced_pod(ns, pod("c", only_limits))
    assert defaulted.spec.containers[0].resources.requests == {"cpu": "400m", "memory": "512Mi"}
    wait_used(
        wait_for,
        core,
        ns,
        "compute",
        {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "1400m", "limits.memory": "1536Mi"},
    )


def test_terminal_pods_do_not_count(
    cluster: ClusterUnderTest, core: CoreV1Api, ns: str, wait_for: Wait
) -> None:
    create_quota(core, ns, quota("q", {"pods": "1", "count/pods": "5", "requests.cpu": "1"}), wait_for)
    with idle_node(cluster, f"{ns}-node") as node:
        # On an idle node no kubelet runs the pod: the test writes its status, as a kubelet would.
        done = pod("done", container(requests={"cpu": "800m"}), restartPolicy="Never", nodeName=node)
        core.create_namespaced_pod(ns, done)
        wait_used(wait_for, core, ns, "q", {"pods": "1", "count/pods": "1", "requests.cpu": "800m"})
        core.patch_namespaced_pod_status("done", ns, {"status": {"phase": "Succeeded"}})
        # Succeeded: out of pods and compute, still in count/pods (every stored pod).
        wait_used(wait_for, core, ns, "q", {"pods": "0", "count/pods": "1", "requests.cpu": "0"})
        core.create_namespaced_pod(ns, pod("next", container(requests={"cpu": "1"})))
        wait_used(wait_for, core, ns, "q", {"pods": "1", "count/pods": "2", "requests.cpu": "1"})


def test_scopes(cluster: ClusterUnderTest, core: CoreV1Api, ns: str, wait_for: Wait) -> None:
    create_quota(core, ns, quota("best-effort", {"pods": "1"}, scopes=["BestEffort"]), wait_for)
    create_quota(core, ns, quota("short", {"pods": "1"}, scopes=["Terminating", "NotBestEffort"]), wait_for)
    core.create_namespaced_pod(ns, pod("be1"))
    status = refusal(lambda: core.create_namespaced_pod(ns, pod("be2")))
    assert "exceeded quota: best-effort, requested: pods=1" in status["message"]
    burstable = container(requests={"cpu": "100m"})
    core.create_namespaced_pod(ns, pod("long1", burstable))
    core.create_namespaced_pod(ns, pod("long2", burstable))  # NotTerminating: no quota selects it
    core.create_namespaced_pod(ns, pod("job1", burstable, activeDeadlineSeconds=60))
    status = refusal(lambda: core.create_namespaced_pod(ns, pod("job2", burstable, activeDeadlineSeconds=60)))
    assert "exceeded quota: short, requested: pods=1" in status["message"]
    wait_used(wait_for, core, ns, "best-effort", {"pods": "1"})
    wait_used(wait_for, core, ns, "short", {"pods": "1"})
    # Scopes select pods: a quota may not apply one to another resource (ResourceQuota validation).
    with pytest.raises(ApiException) as info:
        core.create_namespaced_resource_quota(
            ns, quota("scoped-secrets", {"secrets": "0", "configmaps": "1"}, scopes=["BestEffort"])
        )
    assert info.value.status == 422
    invalid = json.loads(info.value.body)
    cause = {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: ["BestEffort"]: unsupported scope applied to resource',
        "field": "spec.scopes",
    }
    assert invalid["message"] == (
        'ResourceQuota "scoped-secrets" is invalid: spec.scopes: Invalid value: ["BestEffort"]: '
        "unsupported scope applied to resource"
    )
    # One per resource, the message says it once; from 1.37 a built-in kind's identical causes come once.
    assert invalid["details"]["causes"] == ([cause] if cluster.upstream_since(37) else [cause, cause])
    with pytest.raises(ApiException) as info:
        core.create_namespaced_resource_quota(
            ns, quota("conflict", {"pods": "1"}, scopes=["BestEffort", "NotBestEffort"])
        )
    assert json.loads(info.value.body)["message"] == (
        'ResourceQuota "conflict" is invalid: spec.scopes: Invalid value: ["BestEffort","NotBestEffort"]: '
        "conflicting scopes"
    )


def test_pvc_storage_quota(client: ApiClient, core: CoreV1Api, ns: str, wait_for: Wait) -> None:
    grow = f"{ns}-grow"  # a class whose claims may grow (the default class's may not)
    StorageV1Api(client).create_storage_class(
        {"metadata": {"name": grow}, "provisioner": "kubernetes.io/host-path", "allowVolumeExpansion": True}
    )
    create_quota(
        core,
        ns,
        quota(
            "storage",
            {
                "requests.storage": "3Gi",
                "persistentvolumeclaims": "5",
                "standard.storageclass.storage.k8s.io/requests.storage": "1Gi",
            },
        ),
        wait_for,
    )

    def claim(name: str, size: str, cls: str | None = None) -> Obj:
        spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
        if cls:
            spec["storageClassName"] = cls
        return {"metadata": {"name": name}, "spec": spec}

    def resize(name: str, size: str) -> Callable[[], Any]:
        body = {"spec": {"resources": {"requests": {"storage": size}}}}
        return lambda: core.patch_namespaced_persistent_volume_claim(name, ns, body)

    core.create_namespaced_persistent_volume_claim(ns, claim("c1", "1Gi"))  # default class: standard
    status = refusal(lambda: core.create_namespaced_persistent_volume_claim(ns, claim("c2", "512Mi")))
    assert status["message"] == (
        'persistentvolumeclaims "c2" is forbidden: exceeded quota: storage, '
        "requested: standard.storageclass.storage.k8s.io/requests.storage=512Mi, "
        "used: standard.storageclass.storage.k8s.io/requests.storage=1Gi, "
        "limited: standard.storageclass.storage.k8s.io/requests.storage=1Gi"
    )
    core.create_namespaced_persistent_volume_claim(ns, claim("c2", "1536Mi", cls=grow))
    wait_used(
        wait_for,
        core,
        ns,
        "storage",
        {
            "requests.storage": "2560Mi",
            "persistentvolumeclaims": "2",
            "standard.storageclass.storage.k8s.io/requests.storage": "1Gi",
        },
    )
    status = refusal(lambda: core.create_namespaced_persistent_volume_claim(ns, claim("c3", "1Gi", cls=grow)))
    assert status["message"] == (
        'persistentvolumeclaims "c3" is forbidden: exceeded quota: storage, requested: requests.storage=1Gi, '
        "used: requests.storage=2560Mi, limited: requests.storage=3Gi"
    )
    # Only a bound claim may grow, and only if its class allows volume expansion.
    wait_for(lambda: core.read_namespaced_persistent_volume_claim("c2", ns).status.phase == "Bound")
    wait_for(lambda: core.read_namespaced_persistent_volume_claim("c1", ns).status.phase == "Bound")
    status = refusal(resize("c1", "2Gi"))
    assert status["message"] == (
        'persistentvolumeclaims "c1" is forbidden: only dynamically provisioned pvc can be resized and the '
        "storageclass that provisions the pvc must support resize"
    )
    # Growing a claim is checked against the quota (only the increase is charged).
    status = refusal(resize("c2", "2100Mi"))
    assert status["message"] == (
        'persistentvolumeclaims "c2" is forbidden: exceeded quota: storage, '
        "requested: requests.storage=564Mi, used: requests.storage=2560Mi, limited: requests.storage=3Gi"
    )
    resize("c2", "1600Mi")()
    wait_used(
        wait_for,
        core,
        ns,
        "storage",
        {
            "requests.storage": "2624Mi",
            "persistentvolumeclaims": "2",
            "standard.storageclass.storage.k8s.io/requests.storage": "1Gi",
        },
    )


def test_pending_claim_spec_is_immutable(client: ApiClient, core: CoreV1Api, ns: str) -> None:
    """A claim's spec is immutable but for a bound claim's request: the 422 shows the change as a diff of
    the spec (Go field names, as ``diff.Diff`` prints it)."""
    body = {
        "metadata": {"name": "waiting"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": f"{ns}-missing",
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    core.create_namespaced_persistent_volume_claim(ns, body)
    grow = {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_persistent_volume_claim("waiting", ns, grow)
    assert info.value.status == 422
    message = (
        "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName "
        "for bound claims\n"
        "@@ -6,7 +6,7 @@\n"
        '  "Resources": {\n'
        '   "Limits": null,\n'
        '   "Requests": {\n'
        '-   "storage": "1Gi"\n'
        '+   "storage": "2Gi"\n'
        "   }\n"
        "  },\n"
        '  "VolumeName": "",\n'
    )
    invalid = json.loads(info.value.body)
    assert invalid["message"] == f'PersistentVolumeClaim "waiting" is invalid: spec: {message}'
    assert invalid["details"] == {
        "name": "waiting",
        "kind": "PersistentVolumeClaim",
        "causes": [{"reason": "FieldValueForbidden", "message": message, "field": "spec"}],
    }


def test_services(core: CoreV1Api, ns: str, wait_for: Wait) -> None:
    create_quota(core, ns, quota("svc", {"services.loadbalancers": "1", "services.nodeports": "2"}), wait_for)

    def service(name: str, kind: str = "ClusterIP") -> Obj:
        return {"metadata": {"name": name}, "spec": {"type": kind, "ports": [{"port": 80}]}}

    core.create_namespaced_service(ns, service("lb1", "LoadBalancer"))
    core.create_namespaced_service(ns, service("plain"))
    # An update that makes a service a load balancer is checked too.
    status = refusal(lambda: core.patch_namespaced_service("plain", ns, {"spec": {"type": "LoadBalancer"}}))
    assert status["message"] == (
        'services "plain" is forbidden: exceeded quota: svc, requested: services.loadbalancers=1, '
        "used: services.loadbalancers=1, limited: services.loadbalancers=1"
    )
    core.create_namespaced_service(ns, service("np", "NodePort"))
    status = refusal(lambda: core.create_namespaced_service(ns, service("np2", "NodePort")))
    assert (
        "requested: services.nodeports=1, used: services.nodeports=2, limited: services.nodeports=2"
        in (status["message"])
    )


def test_deleting_the_quota_lifts_the_limit(core: CoreV1Api, ns: str, wait_for: Wait) -> None:
    def config_map(name: str) -> Callable[[], Any]:
        return lambda: core.create_namespaced_config_map(ns, {"metadata": {"name": name}})

    create_quota(core, ns, quota("q", {"configmaps": "2"}), wait_for)  # kube-root-ca.crt is one
    config_map("c1")()
    refusal(config_map("c2"))
    # A raised limit holds once the quota controller has written it to status.hard (what admission reads).
    core.patch_namespaced_resource_quota("q", ns, {"spec": {"hard": {"configmaps": "3"}}})
    wait_for(lambda: core.read_namespaced_resource_quota("q", ns).status.hard == {"configmaps": "3"})
    config_map("c2")()
    refusal(config_map("c3"))
    core.delete_namespaced_resource_quota("q", ns)
    # Upstream's admission reads quotas from an informer: the deletion reaches it a moment later.
    wait_for(lambda: created(config_map("c3")), what="a create past the deleted quota's limit")
    for i in range(4, 10):
        config_map(f"c{i}")()


def test_quota_on_quotas_counts_itself(core: CoreV1Api, ns: str, wait_for: Wait) -> None:
    create_quota(core, ns, quota("q1", {"resourcequotas": "2"}), wait_for)
    wait_used(wait_for, core, ns, "q1", {"resourcequotas": "1"})
    create_quota(core, ns, quota("q2", {"pods": "9"}), wait_for)
    status = refusal(lambda: core.create_namespaced_resource_quota(ns, quota("q3", {"pods": "1"})))
    assert status["message"] == (
        'resourcequotas "q3" is forbidden: exceeded quota: q1, requested: resourcequotas=1, '
        "used: resourcequotas=2, limited: resourcequotas=2"
    )
    wait_used(wait_for, core, ns, "q1", {"resourcequotas": "2"})


def test_concurrent_creates_never_exceed_the_limit(
    cluster: ClusterUnderTest, core: CoreV1Api, ns: str, wait_for: Wait
) -> None:
    before = len(core.list_namespaced_config_map(ns).items)
    create_quota(core, ns, quota("five", {"count/configmaps": str(before + 5)}), wait_for)
    outcomes: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def create(i: int) -> None:
        api_client = kubernetes.config.new_client_from_config(config_file=cluster.kubeconfig)  # type: ignore[no-untyped-call]
        try:
            start.wait()
            try:
                CoreV1Api(api_client).create_namespaced_config_map(ns, {"metadata": {"name": f"cm-{i}"}})
                result = 201
            except ApiException as exc:
                result = exc.status
        finally:
            api_client.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == [201] * 5 + [403] * 15
    assert len(core.list_namespaced_config_map(ns).items) == before + 5
    wait_used(wait_for, core, ns, "five", {"count/configmaps": str(before + 5)})


def test_concurrent_in_process_writers_never_exceed_the_limit(sim: kubesim.Cluster) -> None:
    """Writers on other threads than the server's (in-process controllers, tests) take the same lock
    (kubesim only: its in-process API)."""
    ns = "default"
    rt = sim.registry.get("", "v1", "secrets")
    quotas = sim.registry.get("", "v1", "resourcequotas")
    assert rt is not None
    assert quotas is not None
    sim.api.create(quotas, ns, quota("three", {"count/secrets": "3"}))
    outcomes: list[int] = []
    start = threading.Barrier(16)

    def create(i: int) -> None:
        start.wait()
        try:
            sim.api.create(rt, ns, {"metadata": {"name": f"s-{i}"}})
            outcomes.append(201)
        except ApiError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == [201] * 3 + [403] * 13
    assert len(sim.store.list(("", "secrets"), ns)) == 3


@pytest.fixture
def kubectl(cluster: ClusterUnderTest, tmp_path: Path) -> Tool:
    return make_tool("kubectl", cluster.kubeconfig, tmp_path)


def test_kubectl_get_and_describe_quota(kubectl: Tool, core: CoreV1Api, ns: str, wait_for: Wait) -> None:
    # kubectl create quota sends a protobuf body.
    kubectl("create", "quota", "q", "--hard=pods=3,count/configmaps=3,requests.cpu=2,limits.cpu=4", "-n", ns)
    wait_used(  # kube-root-ca.crt counts
        wait_for,
        core,
        ns,
        "q",
        {"pods": "0", "count/configmaps": "1", "requests.cpu": "0", "limits.cpu": "0"},
    )
    kubectl("create", "configmap", "c1", "-n", ns)
    core.create_namespaced_pod(ns, pod("p", container(requests={"cpu": "500m"}, limits={"cpu": "1"})))
    wait_used(
        wait_for,
        core,
        ns,
        "q",
        {"pods": "1", "count/configmaps": "2", "requests.cpu": "500m", "limits.cpu": "1"},
    )
    header, row = (
        line.split(None, 1) for line in kubectl("get", "resourcequota", "-n", ns).strip().splitlines()
    )
    assert header[0] == "NAME"
    assert header[1].split() == ["REQUEST", "LIMIT", "AGE"]
    assert row[0] == "q"
    assert row[1].startswith("count/configmaps: 2/3, pods: 1/3, requests.cpu: 500m/2   limits.cpu: 1/4   ")
    described = kubectl("describe", "resourcequota", "q", "-n", ns)
    lines = [line.split() for line in described.splitlines()]
    assert ["Name:", "q"] in lines
    assert ["Resource", "Used", "Hard"] in lines
    for expected in (
        ["count/configmaps", "2", "3"],
        ["limits.cpu", "1", "4"],
        ["pods", "1", "3"],
        ["requests.cpu", "500m", "2"],
    ):
        assert expected in lines
    kubectl("create", "configmap", "c2", "-n", ns)
    refused = kubectl.run("create", "configmap", "c3", "-n", ns, check=False)
    assert refused.returncode != 0
    assert (
        'configmaps "c3" is forbidden: exceeded quota: q, requested: count/configmaps=1, '
        "used: count/configmaps=3, limited: count/configmaps=3"
    ) in refused.stderr
