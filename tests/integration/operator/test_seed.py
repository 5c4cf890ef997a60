"""The announcement's template and instance, applied verbatim (moved into the test's namespaces), work end
to end: rendered into a claim and a pod, and Ready once the node runs the pod."""

from __future__ import annotations

import json
from typing import Any

from kopf.testing import KopfRunner

from tests.conftest import wait_until
from tests.integration.operator.conftest import Env, load_yaml

INSTANCE = "8dc366d8a0f05869bfdb6e7eb3d83f65"
POD = f"{INSTANCE}-notebook"
PVC = f"{INSTANCE}-workspace"


def _env(pod: Any) -> dict[str, str | None]:
    return {e.name: e.value for e in pod.spec.containers[0].env}


def _seed(env: Env) -> None:
    env.create_template(env.in_namespaces(load_yaml("fixtures/default-template.yaml")))
    env.create_instance(env.in_namespaces(load_yaml("fixtures/instance.yaml")))


def _provisioned(env: Env) -> dict[str, Any]:
    """Wait for the claim to be bound and the pod created (the real PV binder and host-path provisioner
    act on upstream, hence the long deadline); returns the instance's status."""

    def done() -> dict[str, Any] | None:
        status = (env.instance(env.ns, INSTANCE) or {}).get("status") or {}
        if env.is_true(env.ns, INSTANCE, "Provisioned") and status.get("pvcsProvisioned") == "Completed":
            return status
        return None

    status: dict[str, Any] = wait_until(
        done, 60, message=lambda: f"instance provisioned: {env.instance(env.ns, INSTANCE)}"
    )
    return status


def test_seed_provisions_pvc_and_pod(env: Env, operator: KopfRunner) -> None:
    _seed(env)
    status = _provisioned(env)

    pvc = env.pvc(env.ns, PVC)
    assert pvc.status.phase == "Bound"
    assert pvc.spec.storage_class_name, "the default StorageClass was filled in"
    assert pvc.metadata.labels["jupyternetes.kadense.io/userId"] == "1"
    assert pvc.metadata.labels["jupyternetes.kadense.io/instance"] == INSTANCE
    assert pvc.metadata.labels["jupyternetes.kadense.io/entry"] == "workspace"
    assert not pvc.metadata.owner_references, "PVCs outlive the instance by default"

    pod = env.pod(env.ns, POD)
    variables = _env(pod)
    assert variables["JUPYTERHUB_USER"] == "jovyan"
    assert variables["JUPYTERHUB_API_TOKEN"] == "852dc4bd4e4e4360b7ae94cffa4f1c76"
    assert variables["JUPYTERHUB_API_URL"] == "http://hub.kadense.svc.cluster.local:8081/hub/api"
    assert variables["JUPYTERHUB_SERVICE_PREFIX"] == "/user/jovyan/"
    assert json.loads(variables["JUPYTERHUB_OAUTH_SCOPES"] or "") == [
        "access:servers!server=jovyan/",
        "access:servers!user=jovyan",
    ]
    assert pod.spec.containers[0].volume_mounts[0].mount_path == "/home/jovyan/work"
    assert pod.spec.volumes[0].persistent_volume_claim.claim_name == PVC
    assert pod.metadata.labels["jupyternetes.kadense.io/userId"] == "1"
    (owner,) = pod.metadata.owner_references
    assert (owner.kind, owner.name, owner.controller) == ("JupyterNotebookInstance", INSTANCE, True)

    assert status["podsProvisioned"] == "Completed"
    assert status["pvcsProvisioned"] == "Completed"
    assert status["pods"]["notebook"]["resourceName"] == POD
    assert status["pods"]["notebook"]["portNumber"] == 8888
    assert status["pvcs"]["workspace"]["phase"] == "Bound"
    wait_until(
        lambda: "Created" in {e.reason for e in env.events(env.ns, INSTANCE)}, 10, message="a Created event"
    )


def test_seed_becomes_ready_with_the_pods_address(env: Env, operator: KopfRunner) -> None:
    _seed(env)
    wait_until(lambda: env.is_true(env.ns, INSTANCE, "Ready"), 15, message="instance Ready")
    pod = env.pod(env.ns, POD)
    status = (env.instance(env.ns, INSTANCE) or {})["status"]
    assert status["pods"]["notebook"]["podAddress"] == pod.status.pod_ip
    assert status["address"] == f"{pod.status.pod_ip}:8888"
    wait_until(
        lambda: {"Created", "Ready"} <= {e.reason for e in env.events(env.ns, INSTANCE)},
        10,
        message="Created and Ready events",
    )


def test_delete_keeps_pvc_and_purge_removes_it(env: Env, operator: KopfRunner) -> None:
    _seed(env)
    _provisioned(env)
    claim_uid = env.pvc(env.ns, PVC).metadata.uid

    env.delete_instance(env.ns, INSTANCE)
    # The garbage collector deletes the pod through its ownerReference (the real one on upstream).
    wait_until(lambda: env.pod(env.ns, POD) is None, 60, message="pod deleted with its instance")
    assert env.pvc(env.ns, PVC) is not None, "the PVC is retained"

    # The next instance of the same name adopts the retained claim.
    env.create_instance(env.in_namespaces(load_yaml("fixtures/instance.yaml")))
    _provisioned(env)
    assert env.pod(env.ns, POD).spec.volumes[0].persistent_volume_claim.claim_name == PVC
    assert env.pvc(env.ns, PVC).metadata.uid == claim_uid, "the same claim, not a new one"

    env.custom.patch_namespaced_custom_object(
        "kadense.io",
        "v1",
        env.ns,
        "jupyternotebookinstances",
        INSTANCE,
        {"metadata": {"annotations": {"jupyternetes.kadense.io/purge": "true"}}},
    )
    wait_until(
        lambda: (
            "jupyternetes.kadense.io/purge"
            in ((env.instance(env.ns, INSTANCE) or {}).get("metadata", {}).get("finalizers") or ())
        ),
        10,
        message="purge finalizer",
    )
    env.delete_instance(env.ns, INSTANCE)
    wait_until(lambda: env.instance(env.ns, INSTANCE) is None, 60, message="instance gone")
    wait_until(lambda: env.pvc(env.ns, PVC) is None, 60, message="PVC purged")
