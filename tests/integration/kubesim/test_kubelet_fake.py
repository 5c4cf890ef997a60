"""kubesim's kubelet with the ``fake`` runtime (nothing executes): node, status, events, and the scheduler's
verdicts about its node, on kubesim and on upstream (one node each: kubelet_support)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from .kubelet_support import (
    NodeCluster,
    Obj,
    condition,
    container_status,
    core_api,
    is_ready,
    node_cluster,
    phase,
    wait_for,
    waiting_reason,
)

OPTIONS = {"backoff_base": 0.3, "backoff_max": 2.0}


@pytest.fixture(scope="module")
def node(
    request: pytest.FixtureRequest, node_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeCluster]:
    state = tmp_path_factory.mktemp("fake")
    with node_cluster(request.config, node_backend, "fake", OPTIONS, state) as c:
        yield c


@pytest.fixture(scope="module")
def core(node: NodeCluster) -> Iterator[Any]:
    with core_api(node) as api:
        yield api


@pytest.fixture
def ns(node: NodeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = node.new_namespace(request)
    yield name
    node.delete_namespace(name)


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


def failed_scheduling(node: NodeCluster, ns: str, name: str) -> list[Obj]:
    return [e for e in node.events(ns, name) if e["reason"] == "FailedScheduling"]


def test_node_is_registered_and_ready(node: NodeCluster) -> None:
    found = json.loads(node.kubectl("get", "node", node.node_name, "-o", "json").stdout)
    status = found["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert ready["reason"] == "KubeletReady"
    assert {"cpu", "memory", "pods"} <= set(status["capacity"])
    assert status["allocatable"]["pods"] == status["capacity"]["pods"]
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    assert status["nodeInfo"]["kubeletVersion"] == "v1.34.0"
    assert found["metadata"]["labels"]["kubernetes.io/hostname"] == node.node_name


def test_pod_runs_with_status_and_events(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("web"))
    p = wait_for(lambda: (x := node.pod(ns, "web")) and is_ready(x) and x, what="web Ready")
    status = p["status"]
    assert p["spec"]["nodeName"] == node.node_name
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
    wait_for(lambda: {"Scheduled", "Pulling", "Pulled", "Created", "Started"} <= set(node.reasons(ns, "web")))
    evs = {e["reason"]: e for e in node.events(ns, "web")}
    scheduled = evs["Scheduled"]
    assert scheduled["message"] == f"Successfully assigned {ns}/web to {node.node_name}"
    # kube-scheduler posts events.k8s.io Events: read as core Events they have a reporting component and
    # an action, and no source.
    assert scheduled["reportingComponent"] == "default-scheduler"
    assert scheduled["action"] == "Binding"
    assert not (scheduled.get("source") or {}).get("component")
    assert scheduled["eventTime"]
    assert (scheduled["firstTimestamp"], scheduled["lastTimestamp"]) == (None, None), "present, null"
    started = evs["Started"]
    assert started["source"] == {"component": "kubelet", "host": node.node_name}
    assert (started["reportingComponent"], started["reportingInstance"]) == ("kubelet", node.node_name)
    assert started["involvedObject"]["fieldPath"] == "spec.containers{main}"
    assert started["involvedObject"]["uid"] == p["metadata"]["uid"]
    assert started["message"] == "Started container main"
    assert evs["Pulling"]["message"] == 'Pulling image "nginx:1.27"'
    assert started["count"] == 1
    assert started["firstTimestamp"]
    assert started["lastTimestamp"]
    table = node.kubectl("get", "pod", "web", "-n", ns).stdout
    assert "1/1" in table
    assert "Running" in table


def test_graceful_deletion_removes_pod_and_posts_killing(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("doomed"))
    uid = wait_for(lambda: (x := node.pod(ns, "doomed")) and is_ready(x) and x)["metadata"]["uid"]
    node.kubectl("delete", "pod", "doomed", "-n", ns)  # waits for the object to be gone
    assert node.pod(ns, "doomed") is None
    killing = wait_for(lambda: [e for e in node.events(ns, "doomed") if e["reason"] == "Killing"])
    assert killing[0]["message"] == "Stopping container main"
    assert killing[0]["involvedObject"]["uid"] == uid


def test_missing_pvc_fails_scheduling_until_created(node: NodeCluster, core: Any, ns: str) -> None:
    body = pod("needs-pvc", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "work"}}])
    body["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    core.create_namespaced_pod(ns, body)
    failed = wait_for(lambda: failed_scheduling(node, ns, "needs-pvc"))
    assert failed[0]["type"] == "Warning"
    # kube-scheduler 1.34: the volume binding plugin's PreFilter verdict, then what the first PostFilter
    # plugin (dynamic resources, whose PreFilter never ran) answers.
    message = '0/1 nodes are available: persistentvolumeclaim "work" not found. not found'
    assert failed[0]["message"] == message
    # The condition is written apart from the Event (upstream: in no set order).
    p = wait_for(lambda: (x := node.pod(ns, "needs-pvc")) and condition(x, "PodScheduled") and x)
    assert p["status"]["phase"] == "Pending"
    assert not p["spec"].get("nodeName")
    sched = condition(p, "PodScheduled")
    assert sched is not None
    assert (sched["status"], sched["reason"], sched["message"]) == ("False", "Unschedulable", message)
    # An unscheduled pod has no node to read logs from: empty, not an error.
    assert node.kubectl("logs", "needs-pvc", "-n", ns).stdout == ""
    core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "metadata": {"name": "work"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    wait_for(
        lambda: is_ready(node.pod(ns, "needs-pvc")), timeout=60, what="needs-pvc Ready after the PVC is bound"
    )
    assert "Scheduled" in node.reasons(ns, "needs-pvc")


def test_unbound_pvc_message(node: NodeCluster, core: Any, ns: str) -> None:
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
    # The scheduler may look at the pod before its cache has the claim (upstream: then `persistentvolumeclaim
    # "nowhere" not found`, and again once the claim arrives).
    message = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found"
    wait_for(lambda: any(e["message"] == message for e in failed_scheduling(node, ns, "waits")))


def test_insufficient_cpu(node: NodeCluster, core: Any, ns: str) -> None:
    """More than the node has at all: evicting pods could not help (upstream's NodeResourcesFit calls
    that unresolvable), and the node has no claims to deallocate."""
    body = pod("greedy")
    body["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "10000"}}
    core.create_namespaced_pod(ns, body)
    failed = wait_for(lambda: failed_scheduling(node, ns, "greedy"))
    assert failed[0]["message"] == (
        "0/1 nodes are available: 1 Insufficient cpu. no new claims to deallocate, preemption: 0/1 nodes "
        "are available: 1 Preemption is not helpful for scheduling."
    )
    assert failed[0]["reportingComponent"] == "default-scheduler"
    assert failed[0]["action"] == "Scheduling"
    assert "count" not in failed[0]
    # A pod leaving the node makes the scheduler try again. The first attempt wrote the pod's PodScheduled
    # condition, so the second is about another version of the pod: a new Event. The third, about the
    # same version, makes the second a series (events.k8s.io).
    for i in range(2):
        core.create_namespaced_pod(ns, pod(f"passing-{i}"))
        wait_for(lambda i=i: is_ready(node.pod(ns, f"passing-{i}")))
        core.delete_namespaced_pod(f"passing-{i}", ns, grace_period_seconds=0)
        wait_for(
            lambda i=i: (
                len(failed_scheduling(node, ns, "greedy")) == 2
                and (i == 0 or "series" in failed_scheduling(node, ns, "greedy")[1])
            )
        )
    first, second = failed_scheduling(node, ns, "greedy")
    assert first["metadata"]["name"] == failed[0]["metadata"]["name"]
    assert "series" not in first
    assert second["series"]["count"] == 2
    assert second["series"]["lastObservedTime"]
    assert second["message"] == first["message"]
    greedy = node.pod(ns, "greedy")
    assert greedy is not None
    assert second["involvedObject"]["resourceVersion"] == greedy["metadata"]["resourceVersion"]
    assert first["involvedObject"]["resourceVersion"] != second["involvedObject"]["resourceVersion"]


def test_image_pull_failure(node: NodeCluster, core: Any, ns: str) -> None:
    created = core.create_namespaced_pod(ns, pod("bad", image="registry.example/doesnotexist:1.0"))
    history = node.watch_pod(ns, "bad", created.metadata.resource_version)
    try:
        waiting = wait_for(
            lambda: (
                waiting_reason(node.pod(ns, "bad")) == "ImagePullBackOff"
                and container_status(node.pod(ns, "bad"))["state"]["waiting"]
            )
        )
    finally:
        history.close()
    assert waiting["message"].startswith('Back-off pulling image "registry.example/doesnotexist:1.0"')
    # The status went through ErrImagePull first (every version written, from a watch: no race).
    reasons_seen = [waiting_reason(version) for version in history.versions]
    assert "ErrImagePull" in reasons_seen
    assert reasons_seen.index("ErrImagePull") < reasons_seen.index("ImagePullBackOff")
    p = node.pod(ns, "bad")
    assert p is not None
    assert p["status"]["phase"] == "Pending"
    assert not is_ready(p)
    # Events are posted in the background: they may come after the status.
    failed = wait_for(
        lambda: len(x := [e for e in node.events(ns, "bad") if e["reason"] == "Failed"]) >= 3 and x
    )
    assert any(
        e["message"].startswith('Failed to pull image "registry.example/doesnotexist:1.0": ') for e in failed
    )
    assert any(e["message"] == "Error: ErrImagePull" for e in failed)
    assert any(e["message"] == "Error: ImagePullBackOff" for e in failed)
    assert all(e["type"] == "Warning" for e in failed)
    # Retries are aggregated into the same Event (count), as upstream's event correlator does.
    pulling = wait_for(
        lambda: [e for e in node.events(ns, "bad") if e["reason"] == "Pulling" and e["count"] >= 2]
    )
    assert len([e for e in node.events(ns, "bad") if e["reason"] == "Pulling"]) == 1
    assert pulling[0]["lastTimestamp"] >= pulling[0]["firstTimestamp"]
    logs = node.kubectl("logs", "bad", "-n", ns, check=False)
    assert logs.returncode != 0
    assert logs.stderr.startswith(
        'Error from server (BadRequest): container "main" in pod "bad" is waiting to start: '
    )


def test_restart_policy_never_fails_with_exit_code(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(
        ns, pod("once", restartPolicy="Never", annotations={"kubesim.io/fake-exit-code": "3"})
    )
    p = wait_for(lambda: (x := node.pod(ns, "once")) and phase(x) == "Failed" and x)
    term = container_status(p)["state"]["terminated"]
    assert term["exitCode"] == 3
    assert term["reason"] == "Error"
    ready = condition(p, "Ready")
    assert ready is not None
    assert ready["status"] == "False"
    core.create_namespaced_pod(
        ns, pod("done", restartPolicy="Never", annotations={"kubesim.io/fake-exit-code": "0"})
    )
    p = wait_for(lambda: (x := node.pod(ns, "done")) and phase(x) == "Succeeded" and x)
    assert container_status(p)["state"]["terminated"]["reason"] == "Completed"
    ready = condition(p, "Ready")
    assert ready is not None
    assert (ready["status"], ready.get("reason")) == ("False", "PodCompleted")


def test_crash_loop_back_off(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("crash", annotations={"kubesim.io/fake-exit-code": "1"}))
    waiting = wait_for(
        lambda: (
            waiting_reason(node.pod(ns, "crash")) == "CrashLoopBackOff"
            and container_status(node.pod(ns, "crash"))
        ),
        what="CrashLoopBackOff",
    )
    assert waiting["lastState"]["terminated"]["exitCode"] == 1
    assert "restarting failed container=main" in waiting["state"]["waiting"]["message"]
    wait_for(lambda: container_status(node.pod(ns, "crash")).get("restartCount", 0) >= 3)
    p = node.pod(ns, "crash")
    assert p is not None
    assert p["status"]["phase"] == "Running"  # restartPolicy Always: restarting, not failed
    backoff = wait_for(lambda: [e for e in node.events(ns, "crash") if e["reason"] == "BackOff"])
    assert backoff[0]["message"].startswith("Back-off restarting failed container main in pod crash_")


def test_missing_secret_is_a_config_error_until_created(node: NodeCluster, core: Any, ns: str) -> None:
    body = pod("cfg")
    body["spec"]["containers"][0]["env"] = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}
    ]
    core.create_namespaced_pod(ns, body)
    waiting = wait_for(
        lambda: (
            waiting_reason(node.pod(ns, "cfg")) == "CreateContainerConfigError"
            and container_status(node.pod(ns, "cfg"))["state"]["waiting"]
        )
    )
    assert waiting["message"] == 'secret "creds" not found'
    wait_for(lambda: any(e["message"] == 'Error: secret "creds" not found' for e in node.events(ns, "cfg")))
    core.create_namespaced_secret(ns, {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}})
    wait_for(lambda: is_ready(node.pod(ns, "cfg")), what="Ready once the Secret exists")


def test_start_delay_shows_container_creating(
    request: pytest.FixtureRequest, node_backend: str, tmp_path: Path
) -> None:
    with node_cluster(request.config, node_backend, "fake", {"start_delay": 0.5}, tmp_path) as slow_node:
        slow_node.kubectl("run", "slow", "--image=busybox:1.36")
        cs = wait_for(lambda: container_status(slow_node.pod("default", "slow"), "slow"))
        assert cs["state"]["waiting"]["reason"] == "ContainerCreating"
        wait_for(lambda: is_ready(slow_node.pod("default", "slow")))


def test_binding_subresource_and_foreign_scheduler(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("manual", schedulerName="my-scheduler"))
    p = wait_for(lambda: node.pod(ns, "manual"))
    assert not p["spec"].get("nodeName")
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "manual"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node.node_name},
    }
    # The answer is a Status, which the client cannot read as a V1Binding (kubernetes-client/python#547).
    resp = core.create_namespaced_pod_binding("manual", ns, binding, _preload_content=False)
    assert json.loads(resp.data)["status"] == "Success"
    wait_for(lambda: is_ready(node.pod(ns, "manual")))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("manual", ns, binding, _preload_content=False)
    assert err.value.status == 409


def test_logs_of_fake_container_are_empty(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("quiet"))
    wait_for(lambda: is_ready(node.pod(ns, "quiet")))
    assert node.kubectl("logs", "quiet", "-n", ns).stdout == ""
    assert core.read_namespaced_pod_log("quiet", ns) == ""
    bad = node.kubectl("logs", "quiet", "-n", ns, "--previous", check=False)
    assert bad.returncode != 0
    assert bad.stderr == (
        'Error from server (BadRequest): previous terminated container "main" in pod "quiet" not found\n'
    )


def test_namespace_deletion_stops_pods(node: NodeCluster, core: Any, ns: str) -> None:
    """The namespace controller deletes the pods gracefully; only the node removes such a pod (once its
    containers stopped), so the namespace is gone only once the node stopped them."""
    core.create_namespaced_pod(ns, pod("p1"))
    ready = wait_for(lambda: (x := node.pod(ns, "p1")) and is_ready(x) and x)
    history = node.watch_pod(ns, "p1", ready["metadata"]["resourceVersion"])
    try:
        core.delete_namespace(ns)
        wait_for(lambda: history.deleted, timeout=60, what="the pod deleted")
    finally:
        history.close()
    deleting = [v for v in history.versions if v["metadata"].get("deletionTimestamp")]
    assert deleting, "the pod was deleted gracefully"
    assert deleting[0]["metadata"]["deletionGracePeriodSeconds"] == 30  # left to the node
    wait_for(
        lambda: node.request("GET", f"/api/v1/namespaces/{ns}")[0] == 404,
        timeout=60,
        what="namespace removed",
    )


def test_init_containers_complete_before_containers_start(node: NodeCluster, core: Any, ns: str) -> None:
    body = pod("with-init")
    body["spec"]["initContainers"] = [{"name": "setup", "image": "busybox:1.36"}]
    created = core.create_namespaced_pod(ns, body)
    history = node.watch_pod(ns, "with-init", created.metadata.resource_version)
    try:
        p = wait_for(lambda: (x := node.pod(ns, "with-init")) and is_ready(x) and x)
    finally:
        history.close()
    # Every status written, in order: once the init container has completed, no later version says
    # otherwise (the kubelet's writes of one pod never overtake each other).
    states = [
        next(iter((v["status"].get("initContainerStatuses") or [{}])[0].get("state") or {"none": 0}))
        for v in history.versions
    ]
    assert "terminated" in states
    assert set(states[states.index("terminated") :]) == {"terminated"}, states
    init = p["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert init["ready"] is True
    initialized = condition(p, "Initialized")
    assert initialized is not None
    assert initialized["status"] == "True"
    started = wait_for(
        lambda: len(x := [e for e in node.events(ns, "with-init") if e["reason"] == "Started"]) == 2 and x
    )
    assert {e["involvedObject"]["fieldPath"] for e in started} == {
        "spec.initContainers{setup}",
        "spec.containers{main}",
    }


def test_node_capacity_holds_pods_until_room_is_freed(
    request: pytest.FixtureRequest, node_backend: str, tmp_path: Path
) -> None:
    options = {"node_capacity": {"pods": "2"}}
    with (
        node_cluster(request.config, node_backend, "fake", options, tmp_path) as small,
        core_api(small) as core,
    ):
        for i in range(3):
            core.create_namespaced_pod(
                "default",
                {"metadata": {"name": f"p{i}"}, "spec": {"containers": [{"name": "c", "image": "img:1"}]}},
            )

        def unschedulable() -> Obj | None:
            sched = condition(small.pod("default", "p2"), "PodScheduled")
            return sched if sched and sched["status"] == "False" else None

        sched = wait_for(unschedulable, what="third pod unschedulable: Too many pods")
        assert sched["message"] == (
            "0/1 nodes are available: 1 Too many pods. no new claims to deallocate, preemption: 0/1 nodes "
            "are available: 1 No preemption victims found for incoming pod."
        )
        assert core.read_namespaced_pod("p2", "default").spec.node_name is None
        core.delete_namespaced_pod("p0", "default", grace_period_seconds=0)
        wait_for(
            lambda: core.read_namespaced_pod("p2", "default").spec.node_name,
            timeout=60,
            what="third pod scheduled once room is freed",
        )
