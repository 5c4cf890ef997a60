"""The kubesim kubelet with the ``fake`` runtime (nothing executes): node, scheduling, status, events."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client.exceptions import ApiException

import kubesim

Obj = dict[str, Any]
WaitFor = Callable[..., Any]


@pytest.fixture(scope="module")
def sim() -> Iterator[kubesim.Cluster]:
    with kubesim.Cluster(kubelet={"backoff_base": 0.3, "backoff_max": 2.0}) as c:
        yield c


@pytest.fixture(scope="module")
def core(sim: kubesim.Cluster) -> Iterator[Any]:
    sim_client: ApiClient = kubernetes.config.new_client_from_config(config_file=sim.kubeconfig)  # type: ignore[no-untyped-call]
    try:
        yield CoreV1Api(sim_client)
    finally:
        sim_client.close()  # type: ignore[no-untyped-call]


_counter = iter(range(10**6))


@pytest.fixture
def ns(sim: kubesim.Cluster, core: Any) -> str:
    name = f"kt{next(_counter)}"
    core.create_namespace({"metadata": {"name": name}})
    return name


def kubectl(sim: kubesim.Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", sim.kubeconfig, *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=30,
    )


def pod(name: str, image: str = "nginx:1.27", **spec: Any) -> Obj:
    annotations = spec.pop("annotations", None)
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": image}], **spec},
    }
    if annotations:
        body["metadata"]["annotations"] = annotations
    return body


def get(sim: kubesim.Cluster, ns: str, name: str) -> Obj | None:
    obj: Obj | None = sim.get("pods", name, ns)
    return obj


def condition(p: Obj | None, ctype: str) -> Obj | None:
    for c in ((p or {}).get("status") or {}).get("conditions") or ():
        if c["type"] == ctype:
            return dict(c)
    return None


def is_ready(p: Obj | None) -> bool:
    c = condition(p, "Ready")
    return bool(c and c["status"] == "True")


def container_status(p: Obj | None, name: str = "main") -> Obj:
    for cs in ((p or {}).get("status") or {}).get("containerStatuses") or ():
        if cs["name"] == name:
            return dict(cs)
    return {}


def events(sim: kubesim.Cluster, ns: str, name: str) -> list[Obj]:
    return [e for e in sim.list("events", ns) if e["involvedObject"]["name"] == name]


def reasons(sim: kubesim.Cluster, ns: str, name: str) -> list[str]:
    return [e["reason"] for e in events(sim, ns, name)]


def test_node_is_registered_and_ready(sim: kubesim.Cluster) -> None:
    node = json.loads(kubectl(sim, "get", "node", "kubesim-node", "-o", "json").stdout)
    status = node["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert ready["reason"] == "KubeletReady"
    assert {"cpu", "memory", "pods"} <= set(status["capacity"])
    assert status["allocatable"]["pods"] == status["capacity"]["pods"]
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    assert status["nodeInfo"]["kubeletVersion"] == "v1.34.0"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "kubesim-node"


def test_pod_runs_with_status_and_events(sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor) -> None:
    core.create_namespaced_pod(ns, pod("web"))
    p = wait_for(lambda: (x := get(sim, ns, "web")) and is_ready(x) and x, what="web Ready")
    status = p["status"]
    assert p["spec"]["nodeName"] == "kubesim-node"
    assert status["phase"] == "Running"
    assert status["hostIP"] == "127.0.0.1"
    assert status["hostIPs"] == [{"ip": "127.0.0.1"}]
    assert status["podIP"].startswith("10.244.")
    assert status["podIPs"] == [{"ip": status["podIP"]}]
    assert status["startTime"]
    assert status["qosClass"] == "BestEffort"
    types = [c["type"] for c in status["conditions"]]
    assert set(types) == {
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    }
    assert all(c["status"] == "True" for c in status["conditions"])
    cs = container_status(p)
    assert cs["ready"] is True
    assert cs["started"] is True
    assert cs["restartCount"] == 0
    assert "startedAt" in cs["state"]["running"]
    assert cs["image"] == "docker.io/library/nginx:1.27"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert cs["containerID"].startswith("containerd://")
    # The official client deserializes the status.
    read = core.read_namespaced_pod("web", ns)
    assert read.status.container_statuses[0].state.running is not None
    wait_for(lambda: {"Scheduled", "Pulling", "Pulled", "Created", "Started"} <= set(reasons(sim, ns, "web")))
    evs = {e["reason"]: e for e in events(sim, ns, "web")}
    assert evs["Scheduled"]["message"] == f"Successfully assigned {ns}/web to kubesim-node"
    assert evs["Scheduled"]["source"]["component"] == "default-scheduler"
    started = evs["Started"]
    assert started["source"] == {"component": "kubelet", "host": "kubesim-node"}
    assert started["involvedObject"]["fieldPath"] == "spec.containers{main}"
    assert started["involvedObject"]["uid"] == p["metadata"]["uid"]
    assert started["message"] == "Started container main"
    assert evs["Pulling"]["message"] == 'Pulling image "nginx:1.27"'
    assert started["count"] == 1
    assert started["firstTimestamp"]
    assert started["lastTimestamp"]
    table = kubectl(sim, "get", "pod", "web", "-n", ns).stdout
    assert "1/1" in table
    assert "Running" in table


def test_graceful_deletion_removes_pod_and_posts_killing(
    sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor
) -> None:
    core.create_namespaced_pod(ns, pod("doomed"))
    uid = wait_for(lambda: (x := get(sim, ns, "doomed")) and is_ready(x) and x)["metadata"]["uid"]
    kubectl(sim, "delete", "pod", "doomed", "-n", ns)  # waits for the object to be gone
    assert get(sim, ns, "doomed") is None
    killing = wait_for(lambda: [e for e in events(sim, ns, "doomed") if e["reason"] == "Killing"])
    assert killing[0]["message"] == "Stopping container main"
    assert killing[0]["involvedObject"]["uid"] == uid


def test_missing_pvc_fails_scheduling_until_created(
    sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor
) -> None:
    body = pod("needs-pvc", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "work"}}])
    body["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    core.create_namespaced_pod(ns, body)
    failed = wait_for(lambda: [e for e in events(sim, ns, "needs-pvc") if e["reason"] == "FailedScheduling"])
    assert failed[0]["type"] == "Warning"
    assert failed[0]["message"].startswith('0/1 nodes are available: persistentvolumeclaim "work" not found.')
    p = get(sim, ns, "needs-pvc")
    assert p is not None
    assert p["status"]["phase"] == "Pending"
    assert not p["spec"].get("nodeName")
    sched = condition(p, "PodScheduled")
    assert sched is not None
    assert (sched["status"], sched["reason"]) == ("False", "Unschedulable")
    assert "not found" in sched["message"]
    core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "metadata": {"name": "work"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    wait_for(lambda: is_ready(get(sim, ns, "needs-pvc")), what="needs-pvc Ready after the PVC is bound")
    assert "Scheduled" in reasons(sim, ns, "needs-pvc")


def test_unbound_pvc_message(sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor) -> None:
    core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "metadata": {"name": "nowhere"},
            "spec": {
                "storageClassName": "no-such-class",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    core.create_namespaced_pod(
        ns, pod("waits", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "nowhere"}}])
    )
    failed = wait_for(lambda: [e for e in events(sim, ns, "waits") if e["reason"] == "FailedScheduling"])
    assert failed[0]["message"].startswith(
        "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    )


def test_insufficient_cpu(sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor) -> None:
    body = pod("greedy")
    body["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "10000"}}
    core.create_namespaced_pod(ns, body)
    failed = wait_for(lambda: [e for e in events(sim, ns, "greedy") if e["reason"] == "FailedScheduling"])
    assert failed[0]["message"].startswith("0/1 nodes are available: 1 Insufficient cpu.")


def test_image_pull_failure(sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor) -> None:
    core.create_namespaced_pod(ns, pod("bad", image="registry.example/doesnotexist:1.0"))
    waiting = wait_for(
        lambda: (
            (container_status(get(sim, ns, "bad")).get("state", {}).get("waiting") or {}).get("reason")
            == "ImagePullBackOff"
            and container_status(get(sim, ns, "bad"))["state"]["waiting"]
        )
    )
    assert waiting["message"].startswith('Back-off pulling image "registry.example/doesnotexist:1.0"')
    # The status went through ErrImagePull first (read from the store's event history: no race).
    history = sim.call(lambda: sim.store.events_since(("", "pods"), 0) or [])
    reasons_seen = [
        (container_status(ev.obj).get("state", {}).get("waiting") or {}).get("reason")
        for ev in history
        if ev.obj["metadata"].get("namespace") == ns and ev.obj["metadata"]["name"] == "bad"
    ]
    assert "ErrImagePull" in reasons_seen
    assert reasons_seen.index("ErrImagePull") < reasons_seen.index("ImagePullBackOff")
    p = get(sim, ns, "bad")
    assert p is not None
    assert p["status"]["phase"] == "Pending"
    assert not is_ready(p)
    evs = events(sim, ns, "bad")
    failed = [e for e in evs if e["reason"] == "Failed"]
    assert any(
        e["message"].startswith('Failed to pull image "registry.example/doesnotexist:1.0": ') for e in failed
    )
    assert any(e["message"] == "Error: ErrImagePull" for e in failed)
    assert all(e["type"] == "Warning" for e in failed)
    # Retries are aggregated into the same Event (count), as upstream's event correlator does.
    pulling = wait_for(
        lambda: [e for e in events(sim, ns, "bad") if e["reason"] == "Pulling" and e["count"] >= 2]
    )
    assert len([e for e in events(sim, ns, "bad") if e["reason"] == "Pulling"]) == 1
    assert pulling[0]["lastTimestamp"] >= pulling[0]["firstTimestamp"]
    logs = kubectl(sim, "logs", "bad", "-n", ns, check=False)
    assert logs.returncode != 0
    assert "is waiting to start: " in logs.stderr


def test_restart_policy_never_fails_with_exit_code(
    sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor
) -> None:
    core.create_namespaced_pod(
        ns, pod("once", restartPolicy="Never", annotations={"kubesim.io/fake-exit-code": "3"})
    )
    p = wait_for(lambda: (x := get(sim, ns, "once")) and x["status"].get("phase") == "Failed" and x)
    term = container_status(p)["state"]["terminated"]
    assert term["exitCode"] == 3
    assert term["reason"] == "Error"
    ready = condition(p, "Ready")
    assert ready is not None
    assert ready["status"] == "False"
    core.create_namespaced_pod(
        ns, pod("done", restartPolicy="Never", annotations={"kubesim.io/fake-exit-code": "0"})
    )
    p = wait_for(lambda: (x := get(sim, ns, "done")) and x["status"].get("phase") == "Succeeded" and x)
    assert container_status(p)["state"]["terminated"]["reason"] == "Completed"
    ready = condition(p, "Ready")
    assert ready is not None
    assert (ready["status"], ready.get("reason")) == ("False", "PodCompleted")


def test_crash_loop_back_off(sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor) -> None:
    core.create_namespaced_pod(ns, pod("crash", annotations={"kubesim.io/fake-exit-code": "1"}))
    waiting = wait_for(
        lambda: (
            (container_status(get(sim, ns, "crash")).get("state", {}).get("waiting") or {}).get("reason")
            == "CrashLoopBackOff"
            and container_status(get(sim, ns, "crash"))
        ),
        what="CrashLoopBackOff",
    )
    assert waiting["lastState"]["terminated"]["exitCode"] == 1
    assert "restarting failed container=main" in waiting["state"]["waiting"]["message"]
    wait_for(lambda: container_status(get(sim, ns, "crash")).get("restartCount", 0) >= 3, timeout=10)
    p = get(sim, ns, "crash")
    assert p is not None
    assert p["status"]["phase"] == "Running"  # restartPolicy Always: restarting, not failed
    backoff = [e for e in events(sim, ns, "crash") if e["reason"] == "BackOff"]
    assert backoff
    assert backoff[0]["message"].startswith("Back-off restarting failed container main in pod crash_")


def test_missing_secret_is_a_config_error_until_created(
    sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor
) -> None:
    body = pod("cfg")
    body["spec"]["containers"][0]["env"] = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}
    ]
    core.create_namespaced_pod(ns, body)
    waiting = wait_for(
        lambda: (
            (container_status(get(sim, ns, "cfg")).get("state", {}).get("waiting") or {}).get("reason")
            == "CreateContainerConfigError"
            and container_status(get(sim, ns, "cfg"))["state"]["waiting"]
        )
    )
    assert waiting["message"] == 'secret "creds" not found'
    assert any(e["message"] == 'Error: secret "creds" not found' for e in events(sim, ns, "cfg"))
    core.create_namespaced_secret(ns, {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}})
    wait_for(lambda: is_ready(get(sim, ns, "cfg")), what="Ready once the Secret exists")


def test_start_delay_shows_container_creating(wait_for: WaitFor) -> None:
    with kubesim.Cluster(kubelet={"start_delay": 0.5}) as sim:
        kubectl(sim, "run", "slow", "--image=busybox:1.36")
        cs = wait_for(lambda: container_status(get(sim, "default", "slow"), "slow"))
        assert cs["state"]["waiting"]["reason"] == "ContainerCreating"
        wait_for(lambda: is_ready(get(sim, "default", "slow")))


def test_binding_subresource_and_foreign_scheduler(
    sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor
) -> None:
    core.create_namespaced_pod(ns, pod("manual", schedulerName="my-scheduler"))
    p = wait_for(lambda: get(sim, ns, "manual"))
    assert not p["spec"].get("nodeName")
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "manual"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "kubesim-node"},
    }
    # The answer is a Status, which the client cannot read as a V1Binding (kubernetes-client/python#547).
    resp = core.create_namespaced_pod_binding("manual", ns, binding, _preload_content=False)
    assert json.loads(resp.data)["status"] == "Success"
    wait_for(lambda: is_ready(get(sim, ns, "manual")))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("manual", ns, binding, _preload_content=False)
    assert err.value.status == 409


def test_logs_of_fake_container_are_empty(
    sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor
) -> None:
    core.create_namespaced_pod(ns, pod("quiet"))
    wait_for(lambda: is_ready(get(sim, ns, "quiet")))
    assert kubectl(sim, "logs", "quiet", "-n", ns).stdout == ""
    assert core.read_namespaced_pod_log("quiet", ns) == ""
    bad = kubectl(sim, "logs", "quiet", "-n", ns, "--previous", check=False)
    assert bad.returncode != 0
    assert 'previous terminated container "main" in pod "quiet" not found' in bad.stderr


def test_namespace_deletion_stops_pods(sim: kubesim.Cluster, core: Any, wait_for: WaitFor) -> None:
    core.create_namespace({"metadata": {"name": "gone"}})
    core.create_namespaced_pod("gone", pod("p1"))
    wait_for(lambda: is_ready(get(sim, "gone", "p1")))
    core.delete_namespace("gone")
    wait_for(lambda: sim.get("namespaces", "gone") is None, timeout=10, what="namespace removed")
    assert sim.call(lambda: ("gone", "p1") not in sim.kubelet.workers)


def test_init_containers_complete_before_containers_start(
    sim: kubesim.Cluster, core: Any, ns: str, wait_for: WaitFor
) -> None:
    body = pod("with-init")
    body["spec"]["initContainers"] = [{"name": "setup", "image": "busybox:1.36"}]
    core.create_namespaced_pod(ns, body)
    p = wait_for(lambda: (x := get(sim, ns, "with-init")) and is_ready(x) and x)
    init = p["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert init["ready"] is True
    initialized = condition(p, "Initialized")
    assert initialized is not None
    assert initialized["status"] == "True"
    started = [e for e in events(sim, ns, "with-init") if e["reason"] == "Started"]
    assert {e["involvedObject"]["fieldPath"] for e in started} == {
        "spec.initContainers{setup}",
        "spec.containers{main}",
    }


def test_node_capacity_holds_pods_until_room_is_freed() -> None:
    from tests.conftest import wait_until

    with kubesim.Cluster(kubelet={"node_capacity": {"pods": "2"}}) as sim:
        api = kubernetes.config.new_client_from_config(sim.kubeconfig)
        core = CoreV1Api(api)
        for i in range(3):
            core.create_namespaced_pod(
                "default",
                {"metadata": {"name": f"p{i}"}, "spec": {"containers": [{"name": "c", "image": "img:1"}]}},
            )

        def unschedulable() -> bool:
            conds = core.read_namespaced_pod("p2", "default").status.conditions or []
            return any(
                c.type == "PodScheduled" and c.status == "False" and "Too many pods" in (c.message or "")
                for c in conds
            )

        wait_until(unschedulable, 10, message="third pod unschedulable: Too many pods")
        assert core.read_namespaced_pod("p2", "default").spec.node_name is None
        core.delete_namespaced_pod("p0", "default", grace_period_seconds=0)
        wait_until(
            lambda: core.read_namespaced_pod("p2", "default").spec.node_name,
            10,
            message="third pod scheduled once room is freed",
        )
