"""The control plane's command lines, as lists (kubespawner's make_pod style)."""

from __future__ import annotations

from pathlib import Path

from k8slocal.flags import (
    Layout,
    Ports,
    apiserver_args,
    controller_manager_args,
    etcd_args,
    scheduler_args,
)

LAYOUT = Layout(Path("/state"))
PORTS = Ports(etcd_client=2379, etcd_peer=2380, apiserver=6443, controller_manager=10257, scheduler=10259)


def test_etcd_listens_on_loopback_without_fsync() -> None:
    args = etcd_args("etcd", LAYOUT, PORTS)
    assert args[0] == "etcd"
    assert "--listen-client-urls=http://127.0.0.1:2379" in args
    assert "--data-dir=/state/etcd" in args
    assert "--unsafe-no-fsync" in args


def test_apiserver_authenticates_authorizes_and_signs_service_account_tokens() -> None:
    args = apiserver_args("kube-apiserver", LAYOUT, PORTS, extra=("--v=2",))
    assert "--etcd-servers=http://127.0.0.1:2379" in args
    assert "--secure-port=6443" in args
    assert "--bind-address=127.0.0.1" in args
    assert "--authorization-mode=Node,RBAC" in args
    assert "--client-ca-file=/state/pki/ca.crt" in args
    assert "--service-account-signing-key-file=/state/pki/sa.key" in args
    assert "--service-account-issuer=https://kubernetes.default.svc.cluster.local" in args
    assert any(a.startswith("--service-cluster-ip-range=") for a in args)
    assert args[-1] == "--v=2"  # caller's flags come last, so they win


def test_controller_manager_runs_the_controllers_tests_rely_on() -> None:
    args = controller_manager_args("kcm", LAYOUT, PORTS)
    assert "--kubeconfig=/state/kubeconfigs/kube-controller-manager.kubeconfig" in args
    assert "--enable-hostpath-provisioner=true" in args
    assert "--service-account-private-key-file=/state/pki/sa.key" in args
    assert "--root-ca-file=/state/pki/ca.crt" in args
    assert "--leader-elect=false" in args
    assert "--secure-port=10257" in args


def test_scheduler_uses_its_own_identity() -> None:
    args = scheduler_args("sched", LAYOUT, PORTS)
    assert "--kubeconfig=/state/kubeconfigs/kube-scheduler.kubeconfig" in args
    assert "--secure-port=10259" in args
    assert "--leader-elect=false" in args
