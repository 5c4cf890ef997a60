"""The command lines of the control plane's components (pure: a configuration in, argv out).

Tested as lists, like kubespawner's ``make_pod``: what each flag is for is said here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass(frozen=True)
class Layout:
    """Where a control plane keeps its files, under one state directory."""

    state_dir: Path

    @property
    def pki(self) -> Path:
        return self.state_dir / "pki"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def etcd_data(self) -> Path:
        return self.state_dir / "etcd"

    def kubeconfig(self, who: str) -> Path:
        return self.state_dir / "kubeconfigs" / f"{who}.kubeconfig"

    def cert(self, name: str) -> Path:
        return self.pki / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.pki / f"{name}.key"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int


def etcd_args(binary: str, layout: Layout, ports: Ports, host: str = "127.0.0.1") -> list[str]:
    client = f"http://{host}:{ports.etcd_client}"
    peer = f"http://{host}:{ports.etcd_peer}"
    return [
        binary,
        "--name=default",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        # A test cluster on one disk: fsync buys nothing but latency.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def apiserver_args(
    binary: str,
    layout: Layout,
    ports: Ports,
    host: str = "127.0.0.1",
    extra: tuple[str, ...] = (),
) -> list[str]:
    return [
        binary,
        f"--etcd-servers=http://{host}:{ports.etcd_client}",
        f"--bind-address={host}",
        f"--secure-port={ports.apiserver}",
        f"--advertise-address={host}",
        f"--tls-cert-file={layout.cert('apiserver')}",
        f"--tls-private-key-file={layout.key('apiserver')}",
        # Client certificates (admin, controller-manager, scheduler, nodes) signed by the one CA.
        f"--client-ca-file={layout.cert('ca')}",
        # A static bearer token for the admin (system:masters): raw-HTTP tests send a token, as on kubesim.
        f"--token-auth-file={layout.pki / 'tokens.csv'}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        # ServiceAccount tokens (TokenRequest, projected volumes) signed with our key.
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={layout.pki / 'sa.pub'}",
        f"--service-account-signing-key-file={layout.pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        # The apiserver talks to kubelets (logs, exec) with this client certificate.
        f"--kubelet-client-certificate={layout.cert('apiserver-kubelet-client')}",
        f"--kubelet-client-key={layout.key('apiserver-kubelet-client')}",
        # Nodes here are all 127.0.0.1 with names nothing resolves: reach kubelets by address.
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        # The `kubernetes` Service's endpoints may not be loopback addresses (Endpoints validation), and
        # a loopback control plane has no other: leave them unmanaged rather than log errors forever.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        *extra,
    ]


def controller_manager_args(
    binary: str, layout: Layout, ports: Ports, host: str = "127.0.0.1", extra: tuple[str, ...] = ()
) -> list[str]:
    kubeconfig = layout.kubeconfig("kube-controller-manager")
    return [
        binary,
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={host}",
        f"--secure-port={ports.controller_manager}",
        f"--cert-dir={layout.state_dir / 'kube-controller-manager'}",
        "--leader-elect=false",
        # Each controller acts with its own ServiceAccount, as in kubeadm clusters.
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={layout.pki / 'sa.key'}",
        f"--root-ca-file={layout.cert('ca')}",
        f"--cluster-signing-cert-file={layout.cert('ca')}",
        f"--cluster-signing-key-file={layout.key('ca')}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # Dynamic provisioning for the default StorageClass (kubernetes.io/host-path).
        "--enable-hostpath-provisioner=true",
        # The client's default of 20 requests/s (burst 30) makes the PV controller bind a thousand claims
        # in minutes while idle; a cluster that provisions for many users raises it, as here.
        "--kube-api-qps=100",
        "--kube-api-burst=200",
        "--profiling=false",
        *extra,
    ]


def scheduler_args(
    binary: str, layout: Layout, ports: Ports, host: str = "127.0.0.1", extra: tuple[str, ...] = ()
) -> list[str]:
    kubeconfig = layout.kubeconfig("kube-scheduler")
    return [
        binary,
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={host}",
        f"--secure-port={ports.scheduler}",
        f"--cert-dir={layout.state_dir / 'kube-scheduler'}",
        "--leader-elect=false",
        # Binding a burst of pods at the default 50 requests/s queues them; see the controller-manager's.
        "--kube-api-qps=100",
        "--kube-api-burst=200",
        "--profiling=false",
        *extra,
    ]
