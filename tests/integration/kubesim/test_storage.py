"""Storage through the official client: the default StorageClass, provisioning and binding, each PV a
directory, reclaim policies, pvc-protection, and the ``volume_path`` contract with the kubelet."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, CoreV1Api, StorageV1Api, V1DeleteOptions
from kubernetes.client.exceptions import ApiException

import kubesim
from kubesim.controllers.storage import volume_path

NS = "default"
Wait = Callable[..., Any]


def pvc_body(name: str, storage_class: str | None = None, size: str = "1Gi") -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": name}, "spec": spec}


def pod_body(name: str, claim: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox:1.36",
                    "command": ["sleep", "3600"],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }


def storage_class(
    name: str, reclaim: str = "Delete", mode: str = "Immediate", provisioner: str = "kubesim.io/hostpath"
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "provisioner": provisioner,
        "reclaimPolicy": reclaim,
        "volumeBindingMode": mode,
    }


def read_pvc(core: Any, name: str) -> Any:
    try:
        return core.read_namespaced_persistent_volume_claim(name, NS)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def read_pv(core: Any, name: str) -> Any:
    try:
        return core.read_persistent_volume(name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def bound(core: Any, name: str) -> Callable[[], Any]:
    return lambda: (pvc := read_pvc(core, name)) is not None and pvc.status.phase == "Bound" and pvc


def events_for(core: Any, name: str) -> list[Any]:
    return [e for e in core.list_namespaced_event(NS).items if e.involved_object.name == name]


def delete_pod_now(core: Any, name: str) -> None:
    core.delete_namespaced_pod(name, NS, body=V1DeleteOptions(grace_period_seconds=0))


def test_default_storage_class(sim_client: ApiClient) -> None:
    storage: Any = StorageV1Api(sim_client)
    sc = storage.read_storage_class("standard")
    assert sc.provisioner == "kubesim.io/hostpath"
    assert sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc.reclaim_policy == "Delete"
    assert sc.volume_binding_mode == "Immediate"


def test_pvc_is_bound_to_a_provisioned_pv(
    sim: kubesim.Cluster, sim_client: ApiClient, wait_for: Wait
) -> None:
    core: Any = CoreV1Api(sim_client)
    created = core.create_namespaced_persistent_volume_claim(NS, pvc_body("data", size="2Gi"))
    assert created.spec.storage_class_name == "standard"  # defaulted from the default class
    assert "kubernetes.io/pvc-protection" in created.metadata.finalizers  # at creation, as admission does

    pvc = wait_for(bound(core, "data"), what="PVC Bound")
    pv_name = f"pvc-{created.metadata.uid}"
    assert pvc.spec.volume_name == pv_name
    assert pvc.status.capacity == {"storage": "2Gi"}
    assert pvc.status.access_modes == ["ReadWriteOnce"]
    annotations = pvc.metadata.annotations
    assert annotations["pv.kubernetes.io/bind-completed"] == "yes"
    assert annotations["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert annotations["volume.kubernetes.io/storage-provisioner"] == "kubesim.io/hostpath"

    pv = core.read_persistent_volume(pv_name)
    assert pv.status.phase == "Bound"
    assert pv.spec.capacity == {"storage": "2Gi"}
    assert pv.spec.access_modes == ["ReadWriteOnce"]
    assert pv.spec.persistent_volume_reclaim_policy == "Delete"
    assert pv.spec.storage_class_name == "standard"
    assert "kubernetes.io/pv-protection" in pv.metadata.finalizers
    ref = pv.spec.claim_ref
    assert (ref.kind, ref.api_version, ref.namespace, ref.name, ref.uid) == (
        "PersistentVolumeClaim",
        "v1",
        NS,
        "data",
        created.metadata.uid,
    )
    assert ref.resource_version
    directory = Path(pv.spec.host_path.path)
    assert directory == Path(sim.state_dir) / "volumes" / pv_name
    assert directory.is_dir()
    assert volume_path(sim.api, NS, "data") == directory
    assert volume_path(sim.api, NS, "missing") is None


def test_file_survives_pod_replacement(sim: kubesim.Cluster, sim_client: ApiClient, wait_for: Wait) -> None:
    """The PV directory contract: what a pod writes through its claim, the next pod on that claim finds."""
    core: Any = CoreV1Api(sim_client)
    core.create_namespaced_persistent_volume_claim(NS, pvc_body("home"))
    wait_for(bound(core, "home"), what="PVC Bound")
    core.create_namespaced_pod(NS, pod_body("first", "home"))
    first_dir = volume_path(sim.api, NS, "home")
    assert first_dir is not None
    (first_dir / "notebook.ipynb").write_text("saved work")
    delete_pod_now(core, "first")
    wait_for(
        lambda: not core.list_namespaced_pod(NS, field_selector="metadata.name=first").items,
        what="first pod gone",
    )

    core.create_namespaced_pod(NS, pod_body("second", "home"))
    second_dir = volume_path(sim.api, NS, "home")
    assert second_dir == first_dir
    assert (second_dir / "notebook.ipynb").read_text() == "saved work"


def test_delete_reclaim_policy_removes_pv_and_directory(sim_client: ApiClient, wait_for: Wait) -> None:
    core: Any = CoreV1Api(sim_client)
    core.create_namespaced_persistent_volume_claim(NS, pvc_body("scratch"))
    pvc = wait_for(bound(core, "scratch"), what="PVC Bound")
    directory = Path(core.read_persistent_volume(pvc.spec.volume_name).spec.host_path.path)
    (directory / "file").write_text("x")
    core.delete_namespaced_persistent_volume_claim("scratch", NS)
    wait_for(lambda: read_pvc(core, "scratch") is None, what="PVC gone")
    wait_for(lambda: read_pv(core, pvc.spec.volume_name) is None, what="PV deleted")
    assert not directory.exists()


def test_retain_reclaim_policy_keeps_released_pv(sim_client: ApiClient, wait_for: Wait) -> None:
    core: Any = CoreV1Api(sim_client)
    storage: Any = StorageV1Api(sim_client)
    storage.create_storage_class(storage_class("keep", reclaim="Retain"))
    core.create_namespaced_persistent_volume_claim(NS, pvc_body("precious", "keep"))
    pvc = wait_for(bound(core, "precious"), what="PVC Bound")
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    assert pv.spec.persistent_volume_reclaim_policy == "Retain"
    directory = Path(pv.spec.host_path.path)
    (directory / "file").write_text("keep me")

    core.delete_namespaced_persistent_volume_claim("precious", NS)
    released = wait_for(
        lambda: (v := read_pv(core, pvc.spec.volume_name)) and v.status.phase == "Released" and v,
        what="PV Released",
    )
    assert released.spec.claim_ref.uid == pvc.metadata.uid
    assert read_pvc(core, "precious") is None
    assert (directory / "file").read_text() == "keep me"

    # A Released PV is not in use: pv-protection lets it go; the data stays on disk (Retain).
    core.delete_persistent_volume(pvc.spec.volume_name)
    wait_for(lambda: read_pv(core, pvc.spec.volume_name) is None, what="released PV deleted")
    assert (directory / "file").read_text() == "keep me"


def test_pvc_protection_holds_claim_while_a_pod_uses_it(
    sim: kubesim.Cluster, sim_client: ApiClient, wait_for: Wait
) -> None:
    core: Any = CoreV1Api(sim_client)
    core.create_namespaced_persistent_volume_claim(NS, pvc_body("used"))
    pvc = wait_for(bound(core, "used"), what="PVC Bound")
    core.create_namespaced_pod(NS, pod_body("user", "used"))
    core.delete_namespaced_persistent_volume_claim("used", NS)

    # Barrier: a claim deleted later, with no user, is gone -> the controller has seen the first deletion.
    core.create_namespaced_persistent_volume_claim(NS, pvc_body("barrier"))
    core.delete_namespaced_persistent_volume_claim("barrier", NS)
    wait_for(lambda: read_pvc(core, "barrier") is None, what="unused PVC deleted")
    held = read_pvc(core, "used")
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    assert read_pv(core, pvc.spec.volume_name).status.phase == "Bound"
    assert volume_path(sim.api, NS, "used") is not None

    delete_pod_now(core, "user")
    wait_for(lambda: read_pvc(core, "used") is None, what="PVC released once its pod is gone")
    wait_for(lambda: read_pv(core, pvc.spec.volume_name) is None, what="PV reclaimed (Delete)")


def test_bind_delay() -> None:
    with kubesim.Cluster(storage={"bind_delay": 0.3}) as sim:
        api = sim.api
        rt = api.registry.get("", "v1", "persistentvolumeclaims")
        assert rt is not None
        started = time.monotonic()
        api.create(rt, NS, pvc_body("slow"))
        deadline = started + 5
        while (sim.get("persistentvolumeclaims", "slow", NS) or {}).get("status", {}).get("phase") != "Bound":
            assert time.monotonic() < deadline, "PVC never Bound"
            time.sleep(0.01)
        assert time.monotonic() - started >= 0.3


def test_claim_of_a_missing_class_waits_for_it(sim_client: ApiClient, wait_for: Wait) -> None:
    core: Any = CoreV1Api(sim_client)
    storage: Any = StorageV1Api(sim_client)
    core.create_namespaced_persistent_volume_claim(NS, pvc_body("later", "not-yet"))
    event = wait_for(
        lambda: [e for e in events_for(core, "later") if e.reason == "ProvisioningFailed"],
        what="ProvisioningFailed event",
    )[0]
    assert event.type == "Warning"
    assert event.message == 'storageclass.storage.k8s.io "not-yet" not found'
    assert read_pvc(core, "later").status.phase == "Pending"
    storage.create_storage_class(storage_class("not-yet"))
    wait_for(bound(core, "later"), what="PVC Bound once its class exists")


def test_claim_of_an_external_provisioner_stays_pending(sim_client: ApiClient, wait_for: Wait) -> None:
    core: Any = CoreV1Api(sim_client)
    storage: Any = StorageV1Api(sim_client)
    storage.create_storage_class(storage_class("ebs", provisioner="ebs.csi.aws.com"))
    core.create_namespaced_persistent_volume_claim(NS, pvc_body("cloud", "ebs"))
    event = wait_for(
        lambda: [e for e in events_for(core, "cloud") if e.reason == "ExternalProvisioning"],
        what="ExternalProvisioning event",
    )[0]
    assert "'ebs.csi.aws.com'" in event.message
    pvc = read_pvc(core, "cloud")
    assert pvc.status.phase == "Pending"
    assert not pvc.spec.volume_name


def test_wait_for_first_consumer(sim_client: ApiClient, wait_for: Wait) -> None:
    core: Any = CoreV1Api(sim_client)
    storage: Any = StorageV1Api(sim_client)
    storage.create_storage_class(storage_class("lazy", mode="WaitForFirstConsumer"))
    core.create_namespaced_persistent_volume_claim(NS, pvc_body("lazy-claim", "lazy"))
    wait_for(
        lambda: [e for e in events_for(core, "lazy-claim") if e.reason == "WaitForFirstConsumer"],
        what="WaitForFirstConsumer event",
    )
    assert read_pvc(core, "lazy-claim").status.phase == "Pending"
    core.create_namespaced_pod(NS, pod_body("consumer", "lazy-claim"))
    wait_for(bound(core, "lazy-claim"), what="PVC Bound once a pod uses it")


def test_pre_bound_claim_binds_to_its_named_volume(
    sim: kubesim.Cluster, sim_client: ApiClient, wait_for: Wait, tmp_path: Path
) -> None:
    core: Any = CoreV1Api(sim_client)
    core.create_persistent_volume(
        {
            "metadata": {"name": "handmade"},
            "spec": {
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "hostPath": {"path": str(tmp_path)},
            },
        }
    )
    wait_for(lambda: core.read_persistent_volume("handmade").status.phase == "Available", what="PV Available")
    body = pvc_body("static", "")
    body["spec"]["volumeName"] = "handmade"
    body["spec"]["accessModes"] = ["ReadWriteMany"]
    core.create_namespaced_persistent_volume_claim(NS, body)
    pvc = wait_for(bound(core, "static"), what="pre-bound PVC Bound")
    assert pvc.status.capacity == {"storage": "5Gi"}
    assert "pv.kubernetes.io/bound-by-controller" not in (pvc.metadata.annotations or {})
    pv = core.read_persistent_volume("handmade")
    assert pv.status.phase == "Bound"
    assert pv.spec.claim_ref.uid == pvc.metadata.uid
    assert volume_path(sim.api, NS, "static") == tmp_path


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_terminated_pod_does_not_hold_its_claim(
    sim: kubesim.Cluster, sim_client: ApiClient, wait_for: Wait, phase: str
) -> None:
    core: Any = CoreV1Api(sim_client)
    core.create_namespaced_persistent_volume_claim(NS, pvc_body("done"))
    wait_for(bound(core, "done"), what="PVC Bound")
    body = pod_body("finished", "done")
    body["spec"]["restartPolicy"] = "Never"
    body["spec"]["nodeName"] = "nowhere"  # not a node the kubelet runs: the test owns the pod's status
    core.create_namespaced_pod(NS, body)
    core.delete_namespaced_persistent_volume_claim("done", NS)
    core.patch_namespaced_pod_status("finished", NS, {"status": {"phase": phase}})
    wait_for(lambda: read_pvc(core, "done") is None, what="PVC released: its only pod is terminated")


def test_namespace_deletion_reclaims_its_volumes(sim_client: ApiClient, wait_for: Wait) -> None:
    core: Any = CoreV1Api(sim_client)
    core.create_namespace({"metadata": {"name": "project"}})
    core.create_namespaced_persistent_volume_claim("project", pvc_body("work"))
    pvc = wait_for(
        lambda: (
            (p := core.read_namespaced_persistent_volume_claim("work", "project")).status.phase == "Bound"
            and p
        ),
        what="PVC Bound",
    )
    directory = Path(core.read_persistent_volume(pvc.spec.volume_name).spec.host_path.path)
    body = pod_body("worker", "work")
    core.create_namespaced_pod("project", body)
    core.delete_namespace("project")

    def namespace_gone() -> bool:
        return "project" not in {ns.metadata.name for ns in core.list_namespace().items}

    wait_for(namespace_gone, timeout=10, what="namespace, pod and claim deleted")
    wait_for(lambda: read_pv(core, pvc.spec.volume_name) is None, what="PV reclaimed")
    assert not directory.exists()
