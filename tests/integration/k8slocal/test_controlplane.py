"""k8slocal.ControlPlane: ready means ready, users by client certificate, a clean stop, a warm restart."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import yaml

import k8slocal
from k8slocal.controlplane import ADMIN_USER, HOSTPATH_PROVISIONER_DIR, STORAGE_CLASS
from kubesim.subprocesses import descendants


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_ready_control_plane(binaries: k8slocal.Binaries, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "admin.kubeconfig"
    plane = k8slocal.ControlPlane(binaries=binaries, kubeconfig=kubeconfig)
    assert not kubeconfig.exists()
    with plane:
        # The kubeconfig appears only once everything answers and the default ServiceAccount exists.
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == plane.url
        assert config["users"][0]["user"]["client-certificate-data"]
        status, version = plane.request("GET", "/version")
        assert (status, version["gitVersion"], version["gitTreeState"]) == (200, "v1.34.4", "archive")
        assert plane.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200
        status, sc = plane.request("GET", f"/apis/storage.k8s.io/v1/storageclasses/{STORAGE_CLASS}")
        assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
        assert sc["provisioner"] == "kubernetes.io/host-path"
        status, review = plane.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        assert review["status"]["userInfo"]["username"] == ADMIN_USER
        assert "system:masters" in review["status"]["userInfo"]["groups"]
        pids = plane.pids()
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
        assert f"Serving securely on 127.0.0.1:{plane.url.rsplit(':', 1)[1]}" in plane.logs("kube-apiserver")
        below = [pid for p in pids.values() for pid in descendants(p)]
    assert not [name for name, pid in pids.items() if _alive(pid)]
    assert not [pid for pid in below if _alive(pid)]


def test_users_authenticate_with_client_certificates(binaries: k8slocal.Binaries, tmp_path: Path) -> None:
    import kubernetes

    with k8slocal.ControlPlane(binaries=binaries, state_dir=tmp_path / "state") as plane:
        path = plane.add_user("alice", ["team-a"])
        api = kubernetes.config.new_client_from_config(config_file=str(path))
        try:
            review = kubernetes.client.AuthenticationV1Api(api).create_self_subject_review(
                {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
            )
            assert review.status.user_info.username == "alice"
            assert review.status.user_info.groups == ["team-a", "system:authenticated"]
            with pytest.raises(kubernetes.client.ApiException) as info:
                kubernetes.client.CoreV1Api(api).list_namespaced_secret("default")
            assert info.value.status == 403  # authenticated, not authorized: RBAC is on
        finally:
            api.close()


def test_a_kept_state_dir_restarts_warm(binaries: k8slocal.Binaries, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with k8slocal.ControlPlane(binaries=binaries, state_dir=state) as first:
        token = first.admin_token
        assert (
            first.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "kept"}})[0]
            == 201
        )
        kubeconfig = Path(first.kubeconfig).read_text()
    with k8slocal.ControlPlane(binaries=binaries, state_dir=state) as second:
        assert second.admin_token == token  # the same credentials: earlier kubeconfigs keep working
        assert second.request("GET", "/api/v1/namespaces/default/configmaps/kept")[0] == 200
        user = yaml.safe_load(kubeconfig)["users"][0]["user"]
        assert yaml.safe_load(Path(second.kubeconfig).read_text())["users"][0]["user"] == user


def test_provisioned_volumes_go_with_a_temporary_control_plane(binaries: k8slocal.Binaries) -> None:
    from tests.conftest import wait_until

    with k8slocal.ControlPlane(binaries=binaries) as plane:
        claim = {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}},
        }
        assert plane.request("POST", "/api/v1/namespaces/default/persistentvolumeclaims", claim)[0] == 201

        def bound_volume() -> str:
            _, pvc = plane.request("GET", "/api/v1/namespaces/default/persistentvolumeclaims/data")
            return (
                str(pvc.get("spec", {}).get("volumeName") or "")
                if pvc["status"].get("phase") == "Bound"
                else ""
            )

        volume = wait_until(bound_volume, timeout=60, message="the claim bound by the host-path provisioner")
        _, pv = plane.request("GET", f"/api/v1/persistentvolumes/{volume}")
        path = Path(pv["spec"]["hostPath"]["path"])
        assert path.parent == HOSTPATH_PROVISIONER_DIR
        assert path.is_dir()
    assert not path.exists()


async def test_async_context_manager(binaries: k8slocal.Binaries) -> None:
    async with k8slocal.ControlPlane(binaries=binaries) as plane:
        status, _ = await asyncio.to_thread(plane.request, "GET", "/readyz")
        assert status == 200
        pids = plane.pids()
    assert not [pid for pid in pids.values() if _alive(pid)]


def test_a_component_that_cannot_start_fails_the_start_with_its_log(
    binaries: k8slocal.Binaries, tmp_path: Path
) -> None:
    plane = k8slocal.ControlPlane(binaries=binaries, apiserver_flags=["--no-such-flag"])
    with pytest.raises(k8slocal.StartFailed) as info:
        plane.start()
    message = str(info.value)
    assert message.startswith("kube-apiserver exited with code")
    assert "unknown flag: --no-such-flag" in message
    assert not [pid for pid in plane.pids().values() if _alive(pid)]
