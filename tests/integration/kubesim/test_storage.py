"""Storage through the official client: the default StorageClass, provisioning and binding by the
host-path provisioner (each PV a directory on this machine), reclaim policies, pvc-protection, and (kubesim
only) the ``volume_path`` contract with the kubelet and the bind delay.

Upstream runs the real PV controller with its in-tree host-path provisioner (volumes under
/tmp/hostpath_pv); kubesim stands for both, with volumes under its state directory. Pods whose status the
test writes are bound to an idle node of their own (``spec.nodeName``), as a scheduler would bind them."""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, CoreV1Api, StorageV1Api, V1DeleteOptions
from kubernetes.client.exceptions import ApiException

import kubesim
from kubesim.controllers.storage import volume_path
from tests.clusters import ClusterUnderTest

from .conformance_support import idle_node
from .conftest import wait_for as poll

PROVISIONER = "kubernetes.io/host-path"
# Upstream's PV controller retries a claim it could not provision at its resync (every 15 s).
STORAGE_TIMEOUT = 45.0
Wait = Callable[..., Any]


@pytest.fixture(name="wait_for")
def storage_wait_for() -> Wait:
    return functools.partial(poll, timeout=STORAGE_TIMEOUT)


@pytest.fixture
def node(cluster: ClusterUnderTest) -> Iterator[str]:
    with idle_node(cluster, f"{cluster.namespace}-node") as name:
        yield name


def pvc_body(name: str, storage_class: str | None = None, size: str = "1Gi") -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": name}, "spec": spec}


def pod_body(name: str, claim: str, node: str | None = None, scheduler: str | None = None) -> dict[str, Any]:
    """A pod using the claim; with ``node``, bound to that node (an idle node: the pod stays as written,
    and counts as a user of its claim, which only scheduled pods do); with ``scheduler``, left to a
    scheduler that does not run (never scheduled)."""
    placement: dict[str, Any] = {"nodeName": node} if node else {}
    if scheduler:
        placement["schedulerName"] = scheduler
    return {
        "metadata": {"name": name},
        "spec": {
            **placement,
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
    name: str, reclaim: str = "Delete", mode: str = "Immediate", provisioner: str = PROVISIONER
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "provisioner": provisioner,
        "reclaimPolicy": reclaim,
        "volumeBindingMode": mode,
    }


def read_pvc(core: Any, ns: str, name: str) -> Any:
    try:
        return core.read_namespaced_persistent_volume_claim(name, ns)
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


def bound(core: Any, ns: str, name: str) -> Callable[[], Any]:
    return lambda: (pvc := read_pvc(core, ns, name)) is not None and pvc.status.phase == "Bound" and pvc


def events_for(core: Any, ns: str, name: str) -> list[Any]:
    return [e for e in core.list_namespaced_event(ns).items if e.involved_object.name == name]


def delete_pod_now(core: Any, ns: str, name: str) -> None:
    core.delete_namespaced_pod(name, ns, body=V1DeleteOptions(grace_period_seconds=0))


def test_default_storage_class(client: ApiClient) -> None:
    storage: Any = StorageV1Api(client)
    sc = storage.read_storage_class("standard")
    assert sc.provisioner == PROVISIONER
    assert sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc.reclaim_policy == "Delete"
    assert sc.volume_binding_mode == "Immediate"


def test_pvc_is_bound_to_a_provisioned_pv(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    created = core.create_namespaced_persistent_volume_claim(ns, pvc_body("data", size="2Gi"))
    assert created.spec.storage_class_name == "standard"  # defaulted from the default class
    assert created.spec.volume_mode == "Filesystem"
    assert created.metadata.finalizers == ["kubernetes.io/pvc-protection"]  # at creation, as admission does

    pvc = wait_for(bound(core, ns, "data"), what="PVC Bound")
    pv_name = f"pvc-{created.metadata.uid}"
    assert pvc.spec.volume_name == pv_name
    assert pvc.status.capacity == {"storage": "2Gi"}
    assert pvc.status.access_modes == ["ReadWriteOnce"]
    assert pvc.metadata.annotations == {
        "pv.kubernetes.io/bind-completed": "yes",
        "pv.kubernetes.io/bound-by-controller": "yes",
        "volume.beta.kubernetes.io/storage-provisioner": PROVISIONER,
        "volume.kubernetes.io/storage-provisioner": PROVISIONER,
    }

    pv = core.read_persistent_volume(pv_name)
    assert pv.status.phase == "Bound"
    assert pv.spec.capacity == {"storage": "2Gi"}
    assert pv.spec.access_modes == ["ReadWriteOnce"]
    assert pv.spec.persistent_volume_reclaim_policy == "Delete"
    assert pv.spec.storage_class_name == "standard"
    assert pv.spec.volume_mode == "Filesystem"
    assert pv.metadata.annotations == {
        "kubernetes.io/createdby": "hostpath-dynamic-provisioner",
        "pv.kubernetes.io/bound-by-controller": "yes",
        "pv.kubernetes.io/provisioned-by": PROVISIONER,
    }
    # pv-controller: the volume is deleted (reclaim policy Delete) before the PV object goes.
    assert pv.metadata.finalizers == ["kubernetes.io/pv-controller", "kubernetes.io/pv-protection"]
    ref = pv.spec.claim_ref
    assert (ref.kind, ref.api_version, ref.namespace, ref.name, ref.uid) == (
        "PersistentVolumeClaim",
        "v1",
        ns,
        "data",
        created.metadata.uid,
    )
    assert ref.resource_version
    assert pv.spec.host_path.type == ""
    assert Path(pv.spec.host_path.path).is_dir()  # the provisioner runs on this machine on both backends
    event = wait_for(
        lambda: [e for e in events_for(core, ns, "data") if e.reason == "ProvisioningSucceeded"],
        what="ProvisioningSucceeded event",
    )[0]
    assert event.message == f"Successfully provisioned volume {pv_name} using {PROVISIONER}"
    assert event.source.component == "persistentvolume-controller"


def test_volume_path_contract(sim: kubesim.Cluster, sim_client: ApiClient, tmp_path: Path) -> None:
    """kubesim only: where its provisioner puts volumes and the ``volume_path`` contract with its kubelet."""
    core: Any = CoreV1Api(sim_client)
    ns = "default"
    created = core.create_namespaced_persistent_volume_claim(ns, pvc_body("data"))
    pvc = poll(bound(core, ns, "data"), what="PVC Bound")
    directory = Path(core.read_persistent_volume(pvc.spec.volume_name).spec.host_path.path)
    assert directory == Path(sim.state_dir) / "volumes" / f"pvc-{created.metadata.uid}"
    assert directory.is_dir()
    assert volume_path(sim.api, ns, "data") == directory
    assert volume_path(sim.api, ns, "missing") is None
    # A hand-made volume: its path, as written.
    core.create_persistent_volume(
        {
            "metadata": {"name": "handmade"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "hostPath": {"path": str(tmp_path)},
            },
        }
    )
    static = pvc_body("static", "")
    static["spec"]["volumeName"] = "handmade"
    core.create_namespaced_persistent_volume_claim(ns, static)
    poll(bound(core, ns, "static"), what="pre-bound PVC Bound")
    assert volume_path(sim.api, ns, "static") == tmp_path


def test_file_survives_pod_replacement(sim: kubesim.Cluster, sim_client: ApiClient) -> None:
    """The PV directory contract: what a pod writes through its claim, the next pod on that claim finds.
    Needs a node (pods that run), hence kubesim only."""
    core: Any = CoreV1Api(sim_client)
    ns = "default"
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("home"))
    poll(bound(core, ns, "home"), what="PVC Bound")
    core.create_namespaced_pod(ns, pod_body("first", "home"))
    first_dir = volume_path(sim.api, ns, "home")
    assert first_dir is not None
    (first_dir / "notebook.ipynb").write_text("saved work")
    delete_pod_now(core, ns, "first")
    poll(
        lambda: not core.list_namespaced_pod(ns, field_selector="metadata.name=first").items,
        what="first pod gone",
    )

    core.create_namespaced_pod(ns, pod_body("second", "home"))
    second_dir = volume_path(sim.api, ns, "home")
    assert second_dir == first_dir
    assert (second_dir / "notebook.ipynb").read_text() == "saved work"


def test_delete_reclaim_policy_removes_pv_and_directory(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("scratch"))
    pvc = wait_for(bound(core, ns, "scratch"), what="PVC Bound")
    directory = Path(core.read_persistent_volume(pvc.spec.volume_name).spec.host_path.path)
    (directory / "file").write_text("x")
    core.delete_namespaced_persistent_volume_claim("scratch", ns)
    wait_for(lambda: read_pvc(core, ns, "scratch") is None, what="PVC gone")
    wait_for(lambda: read_pv(core, pvc.spec.volume_name) is None, what="PV deleted")
    assert not directory.exists()


def test_retain_reclaim_policy_keeps_released_pv(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    storage: Any = StorageV1Api(client)
    storage.create_storage_class(storage_class("keep", reclaim="Retain"))
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("precious", "keep"))
    pvc = wait_for(bound(core, ns, "precious"), what="PVC Bound")
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    assert pv.spec.persistent_volume_reclaim_policy == "Retain"
    assert pv.metadata.finalizers == ["kubernetes.io/pv-protection"]  # nothing to delete on release
    directory = Path(pv.spec.host_path.path)
    try:
        (directory / "file").write_text("keep me")

        core.delete_namespaced_persistent_volume_claim("precious", ns)
        released = wait_for(
            lambda: (v := read_pv(core, pvc.spec.volume_name)) and v.status.phase == "Released" and v,
            what="PV Released",
        )
        assert released.spec.claim_ref.uid == pvc.metadata.uid
        assert read_pvc(core, ns, "precious") is None
        assert (directory / "file").read_text() == "keep me"

        # A Released PV is not in use: pv-protection lets it go; the data stays on disk (Retain).
        core.delete_persistent_volume(pvc.spec.volume_name)
        wait_for(lambda: read_pv(core, pvc.spec.volume_name) is None, what="released PV deleted")
        assert (directory / "file").read_text() == "keep me"
    finally:
        shutil.rmtree(directory, ignore_errors=True)  # retained: nobody else removes it


def test_pvc_protection_holds_claim_while_a_pod_uses_it(
    client: ApiClient, ns: str, wait_for: Wait, node: str
) -> None:
    core: Any = CoreV1Api(client)
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("used"))
    pvc = wait_for(bound(core, ns, "used"), what="PVC Bound")
    core.create_namespaced_pod(ns, pod_body("user", "used", node=node))
    # A pod no scheduler has placed yet does not hold its claim (the kubelet would not start it on a claim
    # being deleted).
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("unscheduled"))
    core.create_namespaced_pod(ns, pod_body("waiting", "unscheduled", scheduler="nobody"))
    core.delete_namespaced_persistent_volume_claim("used", ns)

    # Barrier: a claim deleted later whose only user is not scheduled is gone -> the first deletion was seen.
    core.delete_namespaced_persistent_volume_claim("unscheduled", ns)
    wait_for(lambda: read_pvc(core, ns, "unscheduled") is None, what="PVC of an unscheduled pod deleted")
    held = read_pvc(core, ns, "used")
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    assert read_pv(core, pvc.spec.volume_name).status.phase == "Bound"

    delete_pod_now(core, ns, "user")
    wait_for(lambda: read_pvc(core, ns, "used") is None, what="PVC released once its pod is gone")
    wait_for(lambda: read_pv(core, pvc.spec.volume_name) is None, what="PV reclaimed (Delete)")


def test_bind_delay() -> None:
    """kubesim only: its ``bind_delay`` option."""
    ns = "default"
    with kubesim.Cluster(storage={"bind_delay": 0.3}) as sim:
        api = sim.api
        rt = api.registry.get("", "v1", "persistentvolumeclaims")
        assert rt is not None
        started = time.monotonic()
        api.create(rt, ns, pvc_body("slow"))
        deadline = started + 5
        while (sim.get("persistentvolumeclaims", "slow", ns) or {}).get("status", {}).get("phase") != "Bound":
            assert time.monotonic() < deadline, "PVC never Bound"
            time.sleep(0.01)
        assert time.monotonic() - started >= 0.3


def test_claim_of_a_missing_class_waits_for_it(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    storage: Any = StorageV1Api(client)
    missing = f"{ns}-later"
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("later", missing))
    event = wait_for(
        lambda: [e for e in events_for(core, ns, "later") if e.reason == "ProvisioningFailed"],
        what="ProvisioningFailed event",
    )[0]
    assert event.type == "Warning"
    assert event.message == f'storageclass.storage.k8s.io "{missing}" not found'
    assert read_pvc(core, ns, "later").status.phase == "Pending"
    storage.create_storage_class(storage_class(missing))
    wait_for(bound(core, ns, "later"), what="PVC Bound once its class exists")


def test_claim_of_an_external_provisioner_stays_pending(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    storage: Any = StorageV1Api(client)
    storage.create_storage_class(storage_class("ebs", provisioner="ebs.csi.aws.com"))
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("cloud", "ebs"))
    event = wait_for(
        lambda: [e for e in events_for(core, ns, "cloud") if e.reason == "ExternalProvisioning"],
        what="ExternalProvisioning event",
    )[0]
    assert event.message == (
        "Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com' or "
        "manually by the system administrator. If volume creation is delayed, please verify that the "
        "provisioner is running and correctly registered."
    )
    pvc = read_pvc(core, ns, "cloud")
    assert pvc.status.phase == "Pending"
    assert not pvc.spec.volume_name
    assert pvc.metadata.annotations == {
        "volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
        "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
    }


def test_wait_for_first_consumer_waits(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    storage: Any = StorageV1Api(client)
    storage.create_storage_class(storage_class("lazy", mode="WaitForFirstConsumer"))
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("lazy-claim", "lazy"))
    event = wait_for(
        lambda: [e for e in events_for(core, ns, "lazy-claim") if e.reason == "WaitForFirstConsumer"],
        what="WaitForFirstConsumer event",
    )[0]
    assert event.message == "waiting for first consumer to be created before binding"
    assert read_pvc(core, ns, "lazy-claim").status.phase == "Pending"


def test_wait_for_first_consumer_binds_for_a_scheduled_pod(
    client: ApiClient, ns: str, wait_for: Wait
) -> None:
    """The scheduler picks a node for the consumer and says so on the claim; then it is provisioned."""
    core: Any = CoreV1Api(client)
    storage: Any = StorageV1Api(client)
    lazy = f"{ns}-lazy"
    storage.create_storage_class(storage_class(lazy, mode="WaitForFirstConsumer"))
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("lazy-claim", lazy))
    core.create_namespaced_pod(ns, pod_body("consumer", "lazy-claim"))
    pvc = wait_for(bound(core, ns, "lazy-claim"), what="PVC Bound once a pod uses it")
    node = wait_for(lambda: core.read_namespaced_pod("consumer", ns).spec.node_name, what="pod scheduled")
    assert pvc.metadata.annotations["volume.kubernetes.io/selected-node"] == node


def test_pre_bound_claim_binds_to_its_named_volume(
    client: ApiClient, ns: str, wait_for: Wait, tmp_path: Path
) -> None:
    core: Any = CoreV1Api(client)
    volume = f"{ns}-handmade"
    core.create_persistent_volume(
        {
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "hostPath": {"path": str(tmp_path)},
            },
        }
    )
    wait_for(lambda: core.read_persistent_volume(volume).status.phase == "Available", what="PV Available")
    body = pvc_body("static", "")
    body["spec"]["volumeName"] = volume
    body["spec"]["accessModes"] = ["ReadWriteMany"]
    core.create_namespaced_persistent_volume_claim(ns, body)
    pvc = wait_for(bound(core, ns, "static"), what="pre-bound PVC Bound")
    assert pvc.status.capacity == {"storage": "5Gi"}
    assert pvc.metadata.annotations == {"pv.kubernetes.io/bind-completed": "yes"}
    pv = core.read_persistent_volume(volume)
    assert pv.status.phase == "Bound"
    assert pv.spec.claim_ref.uid == pvc.metadata.uid


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_terminated_pod_still_holds_its_claim(
    client: ApiClient, ns: str, wait_for: Wait, node: str, phase: str
) -> None:
    """Upstream's pvc-protection counts every scheduled pod that names the claim, whatever its phase: a
    finished pod keeps its claim until the pod is deleted."""
    core: Any = CoreV1Api(client)
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("done"))
    wait_for(bound(core, ns, "done"), what="PVC Bound")
    body = pod_body("finished", "done", node=node)  # no kubelet runs it: the test owns its status
    body["spec"]["restartPolicy"] = "Never"
    core.create_namespaced_pod(ns, body)
    core.patch_namespaced_pod_status("finished", ns, {"status": {"phase": phase}})
    core.delete_namespaced_persistent_volume_claim("done", ns)
    # Barrier: a claim deleted later, with no user, is gone -> the first deletion was seen.
    core.create_namespaced_persistent_volume_claim(ns, pvc_body("barrier"))
    core.delete_namespaced_persistent_volume_claim("barrier", ns)
    wait_for(lambda: read_pvc(core, ns, "barrier") is None, what="unused PVC deleted")
    assert read_pvc(core, ns, "done").metadata.finalizers == ["kubernetes.io/pvc-protection"]
    assert core.read_namespaced_pod("finished", ns).status.phase == phase
    delete_pod_now(core, ns, "finished")
    wait_for(lambda: read_pvc(core, ns, "done") is None, what="PVC released once its pod is deleted")


def test_namespace_deletion_reclaims_its_volumes(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    project = f"{ns}-project"
    core.create_namespace({"metadata": {"name": project}})
    core.create_namespaced_persistent_volume_claim(project, pvc_body("work"))
    pvc = wait_for(bound(core, project, "work"), what="PVC Bound")
    directory = Path(core.read_persistent_volume(pvc.spec.volume_name).spec.host_path.path)
    core.create_namespaced_pod(project, pod_body("worker", "work"))
    core.delete_namespace(project)

    def namespace_gone() -> bool:
        return project not in {n.metadata.name for n in core.list_namespace().items}

    wait_for(namespace_gone, timeout=60, what="namespace, pod and claim deleted")
    wait_for(lambda: read_pv(core, pvc.spec.volume_name) is None, what="PV reclaimed")
    assert not directory.exists()
