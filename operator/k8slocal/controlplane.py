"""``k8slocal.ControlPlane``: etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from
source, run as local processes on loopback, as a sync or an async context manager.

with ControlPlane() as cp:                  # builds (or finds) the binaries, starts, waits until ready
    subprocess.run(["kubectl", "--kubeconfig", cp.kubeconfig, "get", "ns"])

async with ControlPlane() as cp:            # the same, waiting without blocking the event loop
    ...

Ready means: ``/readyz`` answers ok, the controller-manager and scheduler are healthy, the ``default``
namespace and its ``default`` ServiceAccount exist, and the default StorageClass is in place. Only then is
the admin kubeconfig written (a script may wait for the file to appear).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k8slocal import build
from k8slocal.components import Component, ComponentFailed, free_port
from k8slocal.flags import (
    Layout,
    Ports,
    apiserver_args,
    controller_manager_args,
    etcd_args,
    scheduler_args,
)
from k8slocal.versions import DEFAULT_VERSION
from kubesim import kubeconfig as kubeconfigs
from kubesim.tls import SERVER_NAMES, CertificateAuthority, new_signing_key

ADMIN_USER = "kubernetes-admin"
STORAGE_CLASS = "standard"
# Where the upstream host-path provisioner puts volumes; the path is compiled into kube-controller-manager
# (pkg/volume/hostpath: "/tmp/hostpath_pv/<uuid>"), it cannot follow the state directory.
HOSTPATH_PROVISIONER_DIR = Path("/tmp/hostpath_pv")


class StartFailed(Exception):
    """The control plane did not come up; the message names the component and shows its log's tail."""


@dataclass
class _Wait:
    what: str
    probe: Callable[[], bool]
    component: Component | None
    timeout: float


class ControlPlane:
    def __init__(
        self,
        *,
        version: str = DEFAULT_VERSION,
        kubeconfig: str | Path | None = None,
        state_dir: str | Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        binaries: build.Binaries | None = None,
        progress: build.Progress | None = None,
        apiserver_flags: Sequence[str] = (),
        controller_manager_flags: Sequence[str] = (),
        scheduler_flags: Sequence[str] = (),
        nodes: int = 0,
        runtime: str = "fake",
        kubelet_flags: Sequence[str] = (),
    ) -> None:
        if runtime not in ("fake", "process"):
            raise ValueError(f"unknown runtime {runtime!r} (fake or process)")
        self.version = version
        self.node_count = nodes
        self.runtime = runtime
        self.kubelet_flags = tuple(kubelet_flags)
        self.host = host
        self._requested_port = port
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="k8s-local-")
            state_dir = self._tmp.name
        self.layout = Layout(Path(state_dir).resolve())
        self.state_dir = self.layout.state_dir
        self.kubeconfig = str(kubeconfig) if kubeconfig else str(self.layout.kubeconfig("admin"))
        self.binaries = binaries
        self._progress = progress or (lambda line: None)
        self._extra = {
            "kube-apiserver": tuple(apiserver_flags),
            "kube-controller-manager": tuple(controller_manager_flags),
            "kube-scheduler": tuple(scheduler_flags),
        }
        self.admin_token = secrets.token_urlsafe(32)
        self.url = ""
        self.ca_file = ""
        self.components: dict[str, Component] = {}
        self.ca: CertificateAuthority | None = None
        self.ports: Ports | None = None
        self.started_seconds: dict[str, float] = {}
        self._ca_ctx: ssl.SSLContext | None = None

    # ------------------------------------------------------------------ context managers

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> ControlPlane:
        await self.astart()
        return self

    async def __aexit__(self, *exc: object) -> None:
        volumes = await asyncio.to_thread(self._provisioned_volumes)
        await asyncio.to_thread(self._stop_components)  # waiting for exits only; no process is started
        self._cleanup(volumes)

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        try:
            for wait in self._steps():
                self._wait(wait)
        except BaseException:
            self.stop()
            raise

    def _wait(self, wait: _Wait) -> None:
        deadline = time.monotonic() + wait.timeout
        while not wait.probe():
            self._check(wait, deadline)
            time.sleep(0.05)

    async def astart(self) -> None:
        try:
            if self.binaries is None:
                self.binaries = await asyncio.to_thread(build.ensure, self.version, progress=self._progress)
            for wait in self._steps():
                deadline = time.monotonic() + wait.timeout
                while not await asyncio.to_thread(wait.probe):
                    self._check(wait, deadline)
                    await asyncio.sleep(0.05)
        except BaseException:
            await asyncio.to_thread(self._stop_components)
            self._cleanup()
            raise

    def _check(self, wait: _Wait, deadline: float) -> None:
        for component in self.components.values():
            try:
                component.check_alive()
            except ComponentFailed as exc:
                raise StartFailed(str(exc)) from None
        if time.monotonic() > deadline:
            tail = f"\n{wait.component.log_tail()}" if wait.component else ""
            raise StartFailed(f"timed out after {wait.timeout:.0f} s waiting for {wait.what}{tail}")

    def _steps(self) -> Iterator[_Wait]:
        """The start, as launches and the conditions to wait for; the caller's loop waits (sync or async),
        and every process is launched from the caller's thread."""
        if self.binaries is None:
            self.binaries = build.ensure(self.version, progress=self._progress)
        binaries = self.binaries
        t0 = time.monotonic()
        ports = self._prepare()
        layout = self.layout
        admin_context = self._admin_context()
        insecure = ssl.create_default_context()
        # The controller-manager and scheduler serve /healthz with self-signed certificates of their own.
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE

        def component(name: str, argv: list[str], health: str, ctx: ssl.SSLContext | None) -> Component:
            comp = Component(name, argv, health, layout.log(name), context=ctx)
            self.components[name] = comp
            comp.launch()
            return comp

        etcd = component(
            "etcd",
            etcd_args(str(binaries.path("etcd")), layout, ports, self.host),
            f"http://{self.host}:{ports.etcd_client}/health",
            None,
        )
        yield _Wait("etcd to answer /health", etcd.healthy, etcd, 30)
        self.started_seconds["etcd"] = time.monotonic() - t0
        apiserver = component(
            "kube-apiserver",
            apiserver_args(
                str(binaries.path("kube-apiserver")), layout, ports, self.host, self._extra["kube-apiserver"]
            ),
            f"{self.url}/readyz",
            admin_context,
        )
        yield _Wait("kube-apiserver /readyz", apiserver.healthy, apiserver, 90)
        self.started_seconds["kube-apiserver"] = time.monotonic() - t0
        kcm = component(
            "kube-controller-manager",
            controller_manager_args(
                str(binaries.path("kube-controller-manager")),
                layout,
                ports,
                self.host,
                self._extra["kube-controller-manager"],
            ),
            f"https://{self.host}:{ports.controller_manager}/healthz",
            insecure,
        )
        scheduler = component(
            "kube-scheduler",
            scheduler_args(
                str(binaries.path("kube-scheduler")), layout, ports, self.host, self._extra["kube-scheduler"]
            ),
            f"https://{self.host}:{ports.scheduler}/healthz",
            insecure,
        )
        self._ensure_storage_class()
        yield _Wait("kube-controller-manager /healthz", kcm.healthy, kcm, 60)
        yield _Wait("kube-scheduler /healthz", scheduler.healthy, scheduler, 60)
        yield _Wait(
            "the default ServiceAccount of the default namespace",
            lambda: self.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
            kcm,
            60,
        )
        for index in range(1, self.node_count + 1):
            yield from self._node_steps(f"node-{index}", index)
        self.started_seconds["ready"] = time.monotonic() - t0
        self._write_admin_kubeconfig()

    # ------------------------------------------------------------------ nodes

    def node_names(self) -> list[str]:
        return [name for name in self.components if name.startswith("node-")]

    def _node_steps(self, name: str, index: int) -> Iterator[_Wait]:
        """Start kubesim's kubelet as the node ``name`` (an agent process with a node identity), and wait
        until the Node is Ready with no ``not-ready`` taint (kube-scheduler places nothing before)."""
        kubeconfig = self.add_user(f"system:node:{name}", ["system:nodes"], path=self.layout.kubeconfig(name))
        port = free_port(self.host)
        argv = [
            sys.executable,
            "-m",
            "kubesim.cli",
            "kubelet",
            f"--kubeconfig={kubeconfig}",
            f"--node-name={name}",
            f"--runtime={self.runtime}",
            f"--state-dir={self.state_dir / 'nodes' / name}",
            f"--port={port}",
            f"--client-ca-file={self.ca_file}",
        ]
        if self.runtime == "fake":
            argv.append(f"--pod-cidr=10.244.{index}.0/24")
        argv += list(self.kubelet_flags)
        insecure = ssl.create_default_context()
        insecure.check_hostname = False  # the agent's serving certificate is its own
        insecure.verify_mode = ssl.CERT_NONE
        node = Component(
            name, argv, f"https://{self.host}:{port}/healthz", self.layout.log(name), context=insecure
        )
        node.stop_timeout = 20.0  # the agent stops its containers first
        self.components[name] = node
        node.launch()
        yield _Wait(f"the kubelet of {name} (healthz)", node.healthy, node, 60)
        yield _Wait(f"{name} Ready and schedulable", lambda: self._node_ready(name), node, 90)

    def _node_ready(self, name: str) -> bool:
        status, node = self.request("GET", f"/api/v1/nodes/{name}")
        if status != 200:
            return False
        conditions = (node.get("status") or {}).get("conditions") or ()
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        taints = (node.get("spec") or {}).get("taints") or ()
        return ready and not any(t.get("key") == "node.kubernetes.io/not-ready" for t in taints)

    def restart(self, component: str) -> None:
        """Stop a component (SIGTERM) and start it again with the same command line and port; returns once
        it is healthy (for tests of clients that must survive an API server restart)."""
        comp = self.components[component]
        comp.stop()
        comp.launch()
        self._wait(_Wait(f"{component} after its restart", comp.healthy, comp, 90))

    def start_node(self, name: str) -> None:
        """Start (or restart, on its kept state dir) the node ``name``; returns once it is Ready."""
        index = int(name.rsplit("-", 1)[1]) if name.startswith("node-") and name[5:].isdigit() else 0
        for wait in self._node_steps(name, index):
            self._wait(wait)

    def stop_node(self, name: str, *, kill: bool = False) -> None:
        """Stop the node's agent (SIGTERM: it stops its containers first), or SIGKILL it."""
        node = self.components.pop(name)
        if kill and node.proc is not None:
            node.proc.kill()
        node.stop()

    def _prepare(self) -> Ports:
        for directory in (self.layout.pki, self.layout.logs, self.layout.etcd_data):
            directory.mkdir(parents=True, exist_ok=True)
        ports = Ports(
            etcd_client=free_port(self.host),
            etcd_peer=free_port(self.host),
            apiserver=self._requested_port or free_port(self.host),
            controller_manager=free_port(self.host),
            scheduler=free_port(self.host),
        )
        self.url = f"https://{self.host}:{ports.apiserver}"
        self._write_pki()
        for who, user in (
            ("kube-controller-manager", "system:kube-controller-manager"),
            ("kube-scheduler", "system:kube-scheduler"),
        ):
            self.add_user(user, (), path=self.layout.kubeconfig(who))
        self.ports = ports
        return ports

    def _write_pki(self) -> None:
        """The CA and what it signs. A state directory that has them keeps them (a warm restart: the
        kubeconfigs written before stay valid); the serving certificate is made anew for the host."""
        layout = self.layout
        ca_cert, ca_key = layout.cert("ca"), layout.key("ca")
        if ca_cert.exists() and ca_key.exists():
            ca = self.ca = CertificateAuthority(pem=(ca_cert.read_bytes(), ca_key.read_bytes()))
        else:
            ca = self.ca = CertificateAuthority("k8s-local-ca")
            _write(ca_cert, ca.cert_pem)
            _write(ca_key, ca.key_pem, private=True)
        self.ca_file = str(ca_cert)
        serving = ca.issue(
            "kube-apiserver",
            dns_names=SERVER_NAMES,
            ip_addresses=sorted({"127.0.0.1", self.host}),
            server=True,
        )
        _write(layout.cert("apiserver"), serving.cert_pem)
        _write(layout.key("apiserver"), serving.key_pem, private=True)
        for name, user in (
            ("apiserver-kubelet-client", "kube-apiserver-kubelet-client"),
            ("admin", ADMIN_USER),
        ):
            if not layout.cert(name).exists():
                pair = ca.issue(user, organizations=["system:masters"], client=True)
                _write(layout.cert(name), pair.cert_pem)
                _write(layout.key(name), pair.key_pem, private=True)
        if not (layout.pki / "sa.key").exists():
            sa_private, sa_public = new_signing_key()
            _write(layout.pki / "sa.key", sa_private, private=True)
            _write(layout.pki / "sa.pub", sa_public)
        tokens = layout.pki / "tokens.csv"
        if tokens.exists():
            self.admin_token = tokens.read_text().split(",", 1)[0]
        else:
            _write(tokens, f"{self.admin_token},{ADMIN_USER},admin,system:masters\n".encode(), private=True)

    def _admin_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.load_cert_chain(self.layout.cert("admin"), self.layout.key("admin"))
        return ctx

    def _write_admin_kubeconfig(self) -> None:
        assert self.ca is not None
        kubeconfigs.write_kubeconfig(
            self.kubeconfig,
            cluster=kubeconfigs.cluster_entry(self.url, self.ca.cert_pem),
            user=kubeconfigs.certificate_user(
                self.layout.cert("admin").read_bytes(), self.layout.key("admin").read_bytes()
            ),
            user_name=ADMIN_USER,
            cluster_name="k8s-local",
        )

    def _ensure_storage_class(self) -> None:
        body = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kubernetes.io/host-path",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        }
        status, answer = self.request("POST", "/apis/storage.k8s.io/v1/storageclasses", body)
        if status not in (201, 409):
            raise StartFailed(f"creating the default StorageClass failed: HTTP {status} {answer}")

    # ------------------------------------------------------------------ use

    def request(self, method: str, path: str, body: Any = None, *, timeout: float = 10) -> tuple[int, Any]:
        """One request as the admin; returns (HTTP status, decoded JSON body or text). Never raises on
        HTTP errors."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self.admin_token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._ca_context()) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError as exc:
            return 0, str(exc)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def _ca_context(self) -> ssl.SSLContext:
        if self._ca_ctx is None:
            self._ca_ctx = ssl.create_default_context(cafile=self.ca_file)
        return self._ca_ctx

    def add_user(self, name: str, groups: Sequence[str] = (), *, path: str | Path | None = None) -> Path:
        """A kubeconfig authenticating as ``name`` in ``groups`` with a client certificate of our CA."""
        assert self.ca is not None, "the control plane's CA exists once it starts"
        pair = self.ca.issue(name, organizations=list(groups), client=True)
        target = Path(path) if path else self.state_dir / "kubeconfigs" / f"user-{_safe(name)}.kubeconfig"
        kubeconfigs.write_kubeconfig(
            target,
            cluster=kubeconfigs.cluster_entry(self.url, self.ca.cert_pem),
            user=kubeconfigs.certificate_user(pair.cert_pem, pair.key_pem),
            user_name=name,
            cluster_name="k8s-local",
        )
        return target

    def wait_for_garbage_collector(
        self,
        api_version: str,
        kind: str,
        plural: str,
        *,
        namespace: str = "default",
        timeout: float = 90.0,
    ) -> float:
        """Wait until kube-controller-manager's garbage collector knows the kind ``api_version``/``kind``
        (served as ``plural``); returns the seconds waited.

        The collector learns new kinds (a CRD just installed) only at its discovery resync, every 30 s
        (not configurable): until then the dependents of a deleted object of that kind stay. The probe is a
        ConfigMap in ``namespace`` owned by an object of the kind that does not exist (a random uid): the
        collector deletes it as soon as it can look the owner up. A fresh probe every 2 s: the collector's
        attempts on one owner back off exponentially while its kind is unknown, so a probe left waiting
        would be seen late; a new one is looked at within milliseconds of the resync."""
        import uuid

        started = time.monotonic()
        deadline = started + timeout
        group = api_version.rpartition("/")[0]
        prefix = f"/apis/{api_version}" if group else f"/api/{api_version}"
        while self.request("GET", f"{prefix}/{plural}?limit=1")[0] != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API server does not serve {plural} ({api_version})")
            time.sleep(0.1)
        configmaps = f"/api/v1/namespaces/{namespace}/configmaps"
        probes: list[str] = []
        try:
            while True:
                name = f"k8s-local-gc-probe-{uuid.uuid4().hex[:10]}"
                owner = {"apiVersion": api_version, "kind": kind, "name": name, "uid": str(uuid.uuid4())}
                status, body = self.request(
                    "POST", configmaps, {"metadata": {"name": name, "ownerReferences": [owner]}}
                )
                if status != 201:
                    raise RuntimeError(f"creating the garbage collector's probe: HTTP {status} {body}")
                probes.append(name)
                probe_deadline = min(time.monotonic() + 2.0, deadline)
                while time.monotonic() < probe_deadline:
                    if any(self.request("GET", f"{configmaps}/{p}")[0] == 404 for p in probes[-2:]):
                        return time.monotonic() - started
                    time.sleep(0.05)
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"the garbage collector did not learn {kind}.{api_version} in {timeout:.0f} s "
                        "(a dependent of a missing owner of that kind was never collected)"
                    )
        finally:
            for p in probes:
                self.request("DELETE", f"{configmaps}/{p}")

    def logs(self, component: str) -> str:
        return self.layout.log(component).read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        return {name: c.pid for name, c in self.components.items() if c.pid is not None}

    # ------------------------------------------------------------------ stop

    def stop(self) -> None:
        volumes = self._provisioned_volumes()
        self._stop_components()
        self._cleanup(volumes)

    def _stop_components(self) -> None:
        """Reverse order: the controllers, then the apiserver, then etcd."""
        order = ["kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]
        groups = [self.node_names(), order[:2], order[2:3], order[3:]]
        for group in groups:
            members = [self.components[name] for name in group if name in self.components]
            for member in members:
                member.terminate()
            deadline = time.monotonic() + max((m.stop_timeout for m in members), default=0)
            for member in members:
                member.reap(deadline)

    def _provisioned_volumes(self) -> list[str]:
        """Host paths of the volumes the host-path provisioner made, when this control plane's state is
        temporary (its etcd, and so its PersistentVolumes, go away with it); a kept state dir keeps them."""
        if self._tmp is None or "kube-apiserver" not in self.components:
            return []
        status, body = self.request("GET", "/api/v1/persistentvolumes", timeout=5)
        if status != 200:
            return []
        paths = [
            ((pv.get("spec") or {}).get("hostPath") or {}).get("path", "") for pv in body.get("items", [])
        ]
        return [p for p in paths if p]

    def _cleanup(self, volumes: Sequence[str] = ()) -> None:
        remove_provisioned_volumes(volumes)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def remove_provisioned_volumes(paths: Sequence[str]) -> None:
    """Remove host-path volumes the provisioner made under /tmp/hostpath_pv (and nothing else)."""
    for path in paths:
        target = Path(path)
        if target.parent == HOSTPATH_PROVISIONER_DIR:
            shutil.rmtree(target, ignore_errors=True)
