"""ResourceQuota through the official client and the real kubectl: object counts (custom resources, the
legacy names), compute resources with upstream's must-specify rule, PVC storage (also per storage class),
scopes, status.used kept current as objects come and go, concurrent creates that never over-admit, and
the 403 messages worded as kube-apiserver's ResourceQuota admission plugin words them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

import kubesim
from kubesim.errors import ApiError

from .conformance_support import GROUP, WIDGETS, Tool, make_tool, widget, widget_crd

NS = "default"
Wait = Callable[..., Any]
Obj = dict[str, Any]


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


def used(core: CoreV1Api, name: str, ns: str = NS) -> dict[str, str]:
    status = core.read_namespaced_resource_quota(name, ns).status
    return dict((status.used if status else None) or {})


def wait_used(wait_for: Wait, core: CoreV1Api, name: str, expected: dict[str, str], ns: str = NS) -> None:
    wait_for(lambda: used(core, name, ns) == expected, what=f"status.used of {name} == {expected}")


@pytest.fixture
def core(sim_client: ApiClient) -> CoreV1Api:
    return CoreV1Api(sim_client)


def test_count_quota_on_a_custom_resource(sim_client: ApiClient, core: CoreV1Api, wait_for: Wait) -> None:
    kubernetes.client.ApiextensionsV1Api(sim_client).create_custom_resource_definition(widget_crd())
    custom = CustomObjectsApi(sim_client)
    core.create_namespaced_resource_quota(NS, quota("widgets", {f"count/{WIDGETS}.{GROUP}": "2"}))
    wait_used(wait_for, core, "widgets", {f"count/{WIDGETS}.{GROUP}": "0"})

    def create(name: str) -> Any:
        return custom.create_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, widget(name))

    create("w1")
    create("w2")
    status = refusal(lambda: create("w3"))
    assert status["message"] == (
        'widgets.example.com "w3" is forbidden: exceeded quota: widgets, '
        "requested: count/widgets.example.com=1, used: count/widgets.example.com=2, "
        "limited: count/widgets.example.com=2"
    )
    assert status["details"] == {"name": "w3", "group": GROUP, "kind": WIDGETS}
    wait_used(wait_for, core, "widgets", {f"count/{WIDGETS}.{GROUP}": "2"})
    custom.delete_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, "w1")
    wait_used(wait_for, core, "widgets", {f"count/{WIDGETS}.{GROUP}": "1"})
    create("w3")
    # A quota in another namespace does not count here.
    core.create_namespace({"metadata": {"name": "other"}})
    custom.create_namespaced_custom_object(
        GROUP, "v1", "other", WIDGETS, {**widget("w4"), "metadata": {"name": "w4"}}
    )
    wait_used(wait_for, core, "widgets", {f"count/{WIDGETS}.{GROUP}": "2"})


def test_count_quota_before_its_resource_is_served(
    sim_client: ApiClient, core: CoreV1Api, wait_for: Wait
) -> None:
    """status.used names only resources that are served; a CRD created later joins it."""
    core.create_namespaced_resource_quota(NS, quota("q", {f"count/{WIDGETS}.{GROUP}": "1", "pods": "3"}))
    wait_used(wait_for, core, "q", {"pods": "0"})
    status = core.read_namespaced_resource_quota("q", NS).status
    assert status.hard == {f"count/{WIDGETS}.{GROUP}": "1", "pods": "3"}
    kubernetes.client.ApiextensionsV1Api(sim_client).create_custom_resource_definition(widget_crd())
    wait_used(wait_for, core, "q", {f"count/{WIDGETS}.{GROUP}": "0", "pods": "0"})


def test_pods_and_secrets(core: CoreV1Api, wait_for: Wait) -> None:
    core.create_namespaced_resource_quota(
        NS, quota("objects", {"pods": "2", "count/pods": "5", "secrets": "1", "count/secrets": "3"})
    )
    wait_used(
        wait_for, core, "objects", {"pods": "0", "count/pods": "0", "secrets": "0", "count/secrets": "0"}
    )
    core.create_namespaced_pod(NS, pod("p1"))
    core.create_namespaced_pod(NS, pod("p2"))
    status = refusal(lambda: core.create_namespaced_pod(NS, pod("p3")))
    assert status["message"] == (
        'pods "p3" is forbidden: exceeded quota: objects, requested: pods=1, used: pods=2, limited: pods=2'
    )
    assert status["details"] == {"name": "p3", "kind": "pods"}  # Go's omitempty: no empty group
    # A generated name is not known yet: the error names the generateName, as upstream.
    status = refusal(
        lambda: core.create_namespaced_pod(NS, {**pod(""), "metadata": {"generateName": "web-"}})
    )
    assert status["message"].startswith('pods "web-" is forbidden: exceeded quota: objects, ')
    core.create_namespaced_secret(NS, {"metadata": {"name": "s1"}, "stringData": {"a": "b"}})
    status = refusal(lambda: core.create_namespaced_secret(NS, {"metadata": {"name": "s2"}}))
    assert status["message"] == (
        'secrets "s2" is forbidden: exceeded quota: objects, requested: secrets=1, used: secrets=1, '
        "limited: secrets=1"
    )
    # A dry run is checked too, and counts nothing.
    status = refusal(lambda: core.create_namespaced_secret(NS, {"metadata": {"name": "s2"}}, dry_run="All"))
    assert "exceeded quota: objects" in status["message"]
    wait_used(
        wait_for, core, "objects", {"pods": "2", "count/pods": "2", "secrets": "1", "count/secrets": "1"}
    )
    core.delete_namespaced_pod("p1", NS)  # not on a node yet: removed at once
    wait_used(
        wait_for, core, "objects", {"pods": "1", "count/pods": "1", "secrets": "1", "count/secrets": "1"}
    )
    core.create_namespaced_pod(NS, pod("p3"))


def test_several_resources_exceeded_at_once(core: CoreV1Api) -> None:
    """Only the exceeded resources are listed, each list sorted by name."""
    core.create_namespaced_resource_quota(
        NS, quota("both", {"configmaps": "1", "count/configmaps": "1", "count/secrets": "1"})
    )
    core.create_namespaced_config_map(NS, {"metadata": {"name": "c1"}})
    status = refusal(lambda: core.create_namespaced_config_map(NS, {"metadata": {"name": "c2"}}))
    assert status["message"] == (
        'configmaps "c2" is forbidden: exceeded quota: both, requested: configmaps=1,count/configmaps=1, '
        "used: configmaps=1,count/configmaps=1, limited: configmaps=1,count/configmaps=1"
    )


def test_compute_quota_requests_and_limits(core: CoreV1Api, wait_for: Wait) -> None:
    core.create_namespaced_resource_quota(
        NS,
        quota(
            "compute",
            {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "2Gi"},
        ),
    )
    wait_used(
        wait_for,
        core,
        "compute",
        {"requests.cpu": "0", "requests.memory": "0", "limits.cpu": "0", "limits.memory": "0"},
    )
    # Every container must state each constrained resource (upstream's backward-compatibility rule).
    status = refusal(
        lambda: core.create_namespaced_pod(
            NS,
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
    core.create_namespaced_pod(NS, pod("a", big))
    wait_used(
        wait_for,
        core,
        "compute",
        {"requests.cpu": "600m", "requests.memory": "512Mi", "limits.cpu": "1", "limits.memory": "1Gi"},
    )
    status = refusal(lambda: core.create_namespaced_pod(NS, pod("b", big)))
    assert status["message"] == (
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
        "used: requests.cpu=600m, limited: requests.cpu=1"
    )
    # Limits without requests: the requests default to the limits (SetDefaults_Pod) and count as such.
    only_limits = container("app", limits={"cpu": "400m", "memory": "512Mi"})
    created = core.create_namespaced_pod(NS, pod("c", only_limits))
    assert created.spec.containers[0].resources.requests == {"cpu": "400m", "memory": "512Mi"}
    wait_used(
        wait_for,
        core,
        "compute",
        {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "1400m", "limits.memory": "1536Mi"},
    )


def test_terminal_pods_do_not_count(core: CoreV1Api, wait_for: Wait) -> None:
    core.create_namespaced_resource_quota(
        NS, quota("q", {"pods": "1", "count/pods": "5", "requests.cpu": "1"})
    )
    done = pod(
        "done",
        container(requests={"cpu": "800m"}),
        annotations={"kubesim.io/fake-exit-code": "0"},
        restartPolicy="Never",
    )
    core.create_namespaced_pod(NS, done)
    wait_for(lambda: core.read_namespaced_pod("done", NS).status.phase == "Succeeded")
    # Succeeded: out of pods and compute, still in count/pods (every stored pod).
    wait_used(wait_for, core, "q", {"pods": "0", "count/pods": "1", "requests.cpu": "0"})
    core.create_namespaced_pod(NS, pod("next", container(requests={"cpu": "1"})))
    wait_used(wait_for, core, "q", {"pods": "1", "count/pods": "2", "requests.cpu": "1"})


def test_scopes(core: CoreV1Api, wait_for: Wait) -> None:
    core.create_namespaced_resource_quota(NS, quota("best-effort", {"pods": "1"}, scopes=["BestEffort"]))
    core.create_namespaced_resource_quota(
        NS, quota("short", {"pods": "1"}, scopes=["Terminating", "NotBestEffort"])
    )
    core.create_namespaced_pod(NS, pod("be1"))
    status = refusal(lambda: core.create_namespaced_pod(NS, pod("be2")))
    assert "exceeded quota: best-effort, requested: pods=1" in status["message"]
    burstable = container(requests={"cpu": "100m"})
    core.create_namespaced_pod(NS, pod("long1", burstable))
    core.create_namespaced_pod(NS, pod("long2", burstable))  # NotTerminating: no quota selects it
    core.create_namespaced_pod(NS, pod("job1", burstable, activeDeadlineSeconds=60))
    status = refusal(lambda: core.create_namespaced_pod(NS, pod("job2", burstable, activeDeadlineSeconds=60)))
    assert "exceeded quota: short, requested: pods=1" in status["message"]
    wait_used(wait_for, core, "best-effort", {"pods": "1"})
    wait_used(wait_for, core, "short", {"pods": "1"})
    # A scoped quota counts pods only: a secret is never selected.
    core.create_namespaced_resource_quota(
        NS, quota("scoped-secrets", {"secrets": "0"}, scopes=["BestEffort"])
    )
    core.create_namespaced_secret(NS, {"metadata": {"name": "s"}})


def test_pvc_storage_quota(core: CoreV1Api, wait_for: Wait) -> None:
    core.create_namespaced_resource_quota(
        NS,
        quota(
            "storage",
            {
                "requests.storage": "3Gi",
                "persistentvolumeclaims": "5",
                "standard.storageclass.storage.k8s.io/requests.storage": "1Gi",
            },
        ),
    )

    def claim(name: str, size: str, cls: str | None = None) -> Obj:
        spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
        if cls:
            spec["storageClassName"] = cls
        return {"metadata": {"name": name}, "spec": spec}

    core.create_namespaced_persistent_volume_claim(NS, claim("c1", "1Gi"))  # default class: standard
    status = refusal(lambda: core.create_namespaced_persistent_volume_claim(NS, claim("c2", "512Mi")))
    assert status["message"] == (
        'persistentvolumeclaims "c2" is forbidden: exceeded quota: storage, '
        "requested: standard.storageclass.storage.k8s.io/requests.storage=512Mi, "
        "used: standard.storageclass.storage.k8s.io/requests.storage=1Gi, "
        "limited: standard.storageclass.storage.k8s.io/requests.storage=1Gi"
    )
    core.create_namespaced_persistent_volume_claim(NS, claim("c2", "1536Mi", cls="slow"))
    wait_used(
        wait_for,
        core,
        "storage",
        {
            "requests.storage": "2560Mi",
            "persistentvolumeclaims": "2",
            "standard.storageclass.storage.k8s.io/requests.storage": "1Gi",
        },
    )
    status = refusal(
        lambda: core.create_namespaced_persistent_volume_claim(NS, claim("c3", "1Gi", cls="slow"))
    )
    assert status["message"] == (
        'persistentvolumeclaims "c3" is forbidden: exceeded quota: storage, requested: requests.storage=1Gi, '
        "used: requests.storage=2560Mi, limited: requests.storage=3Gi"
    )
    # Growing a claim is checked against the quota (only the increase is charged).
    grow = {"spec": {"resources": {"requests": {"storage": "2100Mi"}}}}
    status = refusal(lambda: core.patch_namespaced_persistent_volume_claim("c2", NS, grow))
    assert status["message"] == (
        'persistentvolumeclaims "c2" is forbidden: exceeded quota: storage, '
        "requested: requests.storage=564Mi, used: requests.storage=2560Mi, limited: requests.storage=3Gi"
    )
    core.patch_namespaced_persistent_volume_claim(
        "c2", NS, {"spec": {"resources": {"requests": {"storage": "1600Mi"}}}}
    )
    wait_used(
        wait_for,
        core,
        "storage",
        {
            "requests.storage": "2624Mi",
            "persistentvolumeclaims": "2",
            "standard.storageclass.storage.k8s.io/requests.storage": "1Gi",
        },
    )


def test_services(core: CoreV1Api) -> None:
    core.create_namespaced_resource_quota(
        NS, quota("svc", {"services.loadbalancers": "1", "services.nodeports": "2"})
    )

    def service(name: str, kind: str = "ClusterIP") -> Obj:
        return {"metadata": {"name": name}, "spec": {"type": kind, "ports": [{"port": 80}]}}

    core.create_namespaced_service(NS, service("lb1", "LoadBalancer"))
    core.create_namespaced_service(NS, service("plain"))
    # An update that makes a service a load balancer is checked too.
    status = refusal(lambda: core.patch_namespaced_service("plain", NS, {"spec": {"type": "LoadBalancer"}}))
    assert status["message"] == (
        'services "plain" is forbidden: exceeded quota: svc, requested: services.loadbalancers=1, '
        "used: services.loadbalancers=1, limited: services.loadbalancers=1"
    )
    core.create_namespaced_service(NS, service("np", "NodePort"))
    status = refusal(lambda: core.create_namespaced_service(NS, service("np2", "NodePort")))
    assert (
        "requested: services.nodeports=1, used: services.nodeports=2, limited: services.nodeports=2"
        in (status["message"])
    )


def test_deleting_the_quota_lifts_the_limit(core: CoreV1Api, wait_for: Wait) -> None:
    core.create_namespaced_resource_quota(NS, quota("q", {"configmaps": "1"}))
    core.create_namespaced_config_map(NS, {"metadata": {"name": "c1"}})
    refusal(lambda: core.create_namespaced_config_map(NS, {"metadata": {"name": "c2"}}))
    # Raising the limit takes effect at once; status.hard follows.
    core.patch_namespaced_resource_quota("q", NS, {"spec": {"hard": {"configmaps": "2"}}})
    core.create_namespaced_config_map(NS, {"metadata": {"name": "c2"}})
    wait_for(lambda: core.read_namespaced_resource_quota("q", NS).status.hard == {"configmaps": "2"})
    refusal(lambda: core.create_namespaced_config_map(NS, {"metadata": {"name": "c3"}}))
    core.delete_namespaced_resource_quota("q", NS)
    for i in range(3, 10):
        core.create_namespaced_config_map(NS, {"metadata": {"name": f"c{i}"}})


def test_quota_on_quotas_counts_itself(core: CoreV1Api, wait_for: Wait) -> None:
    core.create_namespaced_resource_quota(NS, quota("q1", {"resourcequotas": "2"}))
    wait_used(wait_for, core, "q1", {"resourcequotas": "1"})
    core.create_namespaced_resource_quota(NS, quota("q2", {"pods": "9"}))
    status = refusal(lambda: core.create_namespaced_resource_quota(NS, quota("q3", {"pods": "1"})))
    assert status["message"] == (
        'resourcequotas "q3" is forbidden: exceeded quota: q1, requested: resourcequotas=1, '
        "used: resourcequotas=2, limited: resourcequotas=2"
    )
    wait_used(wait_for, core, "q1", {"resourcequotas": "2"})


def test_concurrent_creates_never_exceed_the_limit(
    sim: kubesim.Cluster, core: CoreV1Api, wait_for: Wait
) -> None:
    before = len(core.list_namespaced_config_map(NS).items)
    core.create_namespaced_resource_quota(NS, quota("five", {"count/configmaps": str(before + 5)}))
    outcomes: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def create(i: int) -> None:
        api_client = kubernetes.config.new_client_from_config(config_file=sim.kubeconfig)  # type: ignore[no-untyped-call]
        try:
            start.wait()
            try:
                CoreV1Api(api_client).create_namespaced_config_map(NS, {"metadata": {"name": f"cm-{i}"}})
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
    assert len(core.list_namespaced_config_map(NS).items) == before + 5
    wait_used(wait_for, core, "five", {"count/configmaps": str(before + 5)})


def test_concurrent_in_process_writers_never_exceed_the_limit(sim: kubesim.Cluster) -> None:
    """Writers on other threads than the server's (in-process controllers, tests) take the same lock."""
    rt = sim.registry.get("", "v1", "secrets")
    quotas = sim.registry.get("", "v1", "resourcequotas")
    assert rt is not None
    assert quotas is not None
    sim.api.create(quotas, NS, quota("three", {"count/secrets": "3"}))
    outcomes: list[int] = []
    start = threading.Barrier(16)

    def create(i: int) -> None:
        start.wait()
        try:
            sim.api.create(rt, NS, {"metadata": {"name": f"s-{i}"}})
            outcomes.append(201)
        except ApiError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == [201] * 3 + [403] * 13
    assert len(sim.store.list(("", "secrets"), NS)) == 3


@pytest.fixture
def kubectl(sim: kubesim.Cluster, tmp_path: Path) -> Tool:
    return make_tool("kubectl", sim.kubeconfig, tmp_path)


def test_kubectl_get_and_describe_quota(kubectl: Tool, core: CoreV1Api, wait_for: Wait) -> None:
    # kubectl create quota sends a protobuf body.
    kubectl("create", "quota", "q", "--hard=pods=3,count/configmaps=2,requests.cpu=2,limits.cpu=4", "-n", NS)
    kubectl("create", "configmap", "c1", "-n", NS)
    core.create_namespaced_pod(NS, pod("p", container(requests={"cpu": "500m"}, limits={"cpu": "1"})))
    wait_used(
        wait_for, core, "q", {"pods": "1", "count/configmaps": "1", "requests.cpu": "500m", "limits.cpu": "1"}
    )
    header, row = (
        line.split(None, 1) for line in kubectl("get", "resourcequota", "-n", NS).strip().splitlines()
    )
    assert header[0] == "NAME"
    assert header[1].split() == ["REQUEST", "LIMIT", "AGE"]
    assert row[0] == "q"
    assert row[1].startswith("count/configmaps: 1/2, pods: 1/3, requests.cpu: 500m/2   limits.cpu: 1/4   ")
    described = kubectl("describe", "resourcequota", "q", "-n", NS)
    lines = [line.split() for line in described.splitlines()]
    assert ["Name:", "q"] in lines
    assert ["Resource", "Used", "Hard"] in lines
    for expected in (
        ["count/configmaps", "1", "2"],
        ["limits.cpu", "1", "4"],
        ["pods", "1", "3"],
        ["requests.cpu", "500m", "2"],
    ):
        assert expected in lines
    kubectl("create", "configmap", "c2", "-n", NS)
    refused = kubectl.run("create", "configmap", "c3", "-n", NS, check=False)
    assert refused.returncode != 0
    assert (
        'configmaps "c3" is forbidden: exceeded quota: q, requested: count/configmaps=1, '
        "used: count/configmaps=2, limited: count/configmaps=2"
    ) in refused.stderr
