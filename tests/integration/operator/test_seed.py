"""The announcement's template and instance, applied verbatim, work end to end on kubesim."""

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


def test_seed_provisions_pvc_and_pod(env: Env, operator: KopfRunner) -> None:
    env.create_template(load_yaml("fixtures/default-template.yaml"))
    env.create_instance(load_yaml("fixtures/instance.yaml"))

    wait_until(lambda: env.is_true("default", INSTANCE, "Ready"), 15, message="instance Ready")

    pvc = env.pvc("default", PVC)
    assert pvc.status.phase == "Bound"
    assert pvc.metadata.labels["jupyternetes.kadense.io/userId"] == "1"
    assert pvc.metadata.labels["jupyternetes.kadense.io/instance"] == INSTANCE
    assert pvc.metadata.labels["jupyternetes.kadense.io/entry"] == "workspace"
    assert not pvc.metadata.owner_references, "PVCs outlive the instance by default"

    pod = env.pod("default", POD)
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

    status = (env.instance("default", INSTANCE) or {})["status"]
    assert status["podsProvisioned"] == "Completed"
    assert status["pvcsProvisioned"] == "Completed"
    notebook = status["pods"]["notebook"]
    assert notebook["resourceName"] == POD
    assert notebook["portNumber"] == 8888
    assert notebook["podAddress"] == pod.status.pod_ip
    assert status["address"] == f"{pod.status.pod_ip}:8888"
    assert status["pvcs"]["workspace"]["phase"] == "Bound"
    reasons = {e.reason for e in env.events("default", INSTANCE)}
    assert {"Created", "Ready"} <= reasons


def test_delete_keeps_pvc_and_purge_removes_it(env: Env, operator: KopfRunner) -> None:
    env.create_template(load_yaml("fixtures/default-template.yaml"))
    env.create_instance(load_yaml("fixtures/instance.yaml"))
    wait_until(lambda: env.is_true("default", INSTANCE, "Ready"), 15, message="instance Ready")

    env.delete_instance("default", INSTANCE)
    wait_until(lambda: env.pod("default", POD) is None, 15, message="pod deleted with its instance")
    assert env.pvc("default", PVC) is not None, "the PVC is retained"

    # The next instance of the same name adopts the retained claim.
    env.create_instance(load_yaml("fixtures/instance.yaml"))
    wait_until(lambda: env.is_true("default", INSTANCE, "Ready"), 15, message="instance Ready again")
    assert env.pod("default", POD).spec.volumes[0].persistent_volume_claim.claim_name == PVC

    env.custom.patch_namespaced_custom_object(
        "kadense.io",
        "v1",
        "default",
        "jupyternotebookinstances",
        INSTANCE,
        {"metadata": {"annotations": {"jupyternetes.kadense.io/purge": "true"}}},
    )
    wait_until(
        lambda: (
            "jupyternetes.kadense.io/purge"
            in ((env.instance("default", INSTANCE) or {}).get("metadata", {}).get("finalizers") or ())
        ),
        10,
        message="purge finalizer",
    )
    env.delete_instance("default", INSTANCE)
    wait_until(lambda: env.instance("default", INSTANCE) is None, 15, message="instance gone")
    wait_until(lambda: env.pvc("default", PVC) is None, 15, message="PVC purged")
