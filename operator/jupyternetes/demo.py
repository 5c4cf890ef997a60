"""``jupyternetes up``: the whole system on one machine, and the harness the e2e tests and the benchmark use.

:class:`Stack` starts, in order: a cluster whose pods really run — kubesim in ``process`` mode (in this
process, served from a thread; the default) or upstream Kubernetes built from source (``k8s-local``: etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, with kubesim's kubelet as its node) — the
namespaces and the hub's ServiceAccount, the Helm chart (``charts/jupyternetes``, installed with the real
helm: the CRDs, the operator's ServiceAccount and RBAC, the hub's least-privilege Role), the templates
(``fixtures/demo-template.yaml``), the operator (``jupyternetes operator``, a subprocess authenticated as
the chart's operator ServiceAccount, not the cluster admin; the chart's Deployment is scaled to 0),
configurable-http-proxy (a subprocess) and JupyterHub (a subprocess, configuration generated into the state
directory) with the Jupyternetes spawner, authenticating to the cluster with the hub ServiceAccount's token.
:meth:`Stack.stop` stops them in reverse order; the kubelet ends the servers' processes with the cluster.

Everything it writes lives in the state directory: ``cluster/`` (kubesim: kubeconfigs, volumes, pod logs),
``hub/`` (jupyterhub_config.py, the hub's database, ``hub.log``), ``operator.log``, ``proxy.log`` and
``demo.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HUB_NAMESPACE = "jupyterhub"
TEMPLATE_NAMESPACE = "jupyternetes"
HUB_SERVICE_ACCOUNT = "jupyterhub"
ADMIN_SERVICE = "demo-admin"
CHART_RELEASE = "jupyternetes"  # in TEMPLATE_NAMESPACE; its operator ServiceAccount is <release>-operator
OPERATOR_SERVICE_ACCOUNT = f"{CHART_RELEASE}-operator"


def repo_root() -> Path | None:
    """The source checkout this package runs from (editable install), if any."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "fixtures").is_dir() and (here / "crds").is_dir() else None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def find_proxy(explicit: str | None = None) -> str:
    """configurable-http-proxy: explicit, ./node_modules/.bin of the checkout, or $PATH."""
    candidates = [explicit] if explicit else []
    root = repo_root()
    if root is not None:
        candidates.append(str(root / "node_modules" / ".bin" / "configurable-http-proxy"))
    found = shutil.which("configurable-http-proxy")
    if found:
        candidates.append(found)
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    raise FileNotFoundError(
        "configurable-http-proxy not found: run `npm ci` in the checkout (make demo does)"
    )


@dataclass
class StackOptions:
    state_dir: Path
    hub_port: int = 8000
    password: str = ""
    templates: Sequence[dict[str, Any]] = ()
    template_namespaces: Sequence[str] = (TEMPLATE_NAMESPACE,)
    profiles: Sequence[dict[str, Any]] = ()
    spawner_config: dict[str, Any] = field(default_factory=dict)
    extra_hub_config: str = ""
    kubelet: dict[str, Any] = field(default_factory=dict)
    proxy_cmd: str | None = None
    start_timeout: int = 60
    # Which spawner the hub uses: "jupyternetes" (default), "kubespawner" or "localprocess" (bench).
    spawner: str = "jupyternetes"
    hub_name: str = "hub"
    # "kubesim" (the simulated cluster, in this process) or "upstream" (k8s-local, built from source).
    cluster: str = "kubesim"
    # The upstream release (k8s-local builds it; the test matrix runs each minor); "": k8s-local's default.
    kubernetes_version: str = ""


def find_tool(name: str) -> str:
    """kubectl or helm: the one in $JUPYTERNETES_TOOLS (the test matrix's kubectl of the minor under test),
    the one ``make venv`` fetched next to this Python, else one on $PATH."""
    for directory in (os.environ.get("JUPYTERNETES_TOOLS", ""), str(Path(sys.executable).parent)):
        candidate = Path(directory) / name
        if directory and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} not found: run `make venv` (tools/fetch_k8s_binaries.py fetches it)")


def chart_values(template_namespaces: Sequence[str]) -> dict[str, Any]:
    """The chart's values for the stack: instances in the hub's namespace, templates read from
    ``template_namespaces``, the hub's Role for the stack's hub ServiceAccount; the operator runs outside
    the cluster (as a local process with the chart's ServiceAccount), so its Deployment has no replica."""
    return {
        "operator": {
            "replicas": 0,
            "watchNamespaces": [HUB_NAMESPACE],
            "templateNamespaces": list(template_namespaces),
        },
        "hub": {
            "serviceAccount": {"name": HUB_SERVICE_ACCOUNT, "namespace": HUB_NAMESPACE},
            "namespaces": [HUB_NAMESPACE],
        },
        "defaultTemplate": {"enabled": False},
    }


def checkout() -> Path:
    """The source checkout; the demo stack needs its crds/ and fixtures/ (the wheel carries neither)."""
    root = repo_root()
    if root is None:
        raise RuntimeError(
            "the demo stack runs from a source checkout (it uses crds/, fixtures/, node_modules/): "
            "clone the repository and run `make demo`"
        )
    return root


DEMO_TEMPLATES = ("demo-template.yaml", "demo-data-template.yaml")


def default_templates() -> list[dict[str, Any]]:
    """The demo's templates: ``default-template`` (the profile "Small") and ``data-template`` ("Data")."""
    return [yaml.safe_load((checkout() / "fixtures" / name).read_text()) for name in DEMO_TEMPLATES]


def demo_profiles() -> list[dict[str, Any]]:
    """The spawn page's choices of the demo (``fixtures/demo-profiles.yaml``)."""
    profiles: list[dict[str, Any]] = yaml.safe_load(
        (checkout() / "fixtures" / "demo-profiles.yaml").read_text()
    )
    return profiles


class Process:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            list(argv), stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=cwd, stdin=subprocess.DEVNULL
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    check: Callable[[], None] | None = None,
    interval: float = 0.05,
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def http_get(url: str, token: str | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


class UpstreamCluster:
    """k8s-local with one kubesim kubelet node (process runtime), with the few helpers the stack uses of a
    kubesim.Cluster: an admin kubeconfig, TokenRequest tokens, kubeconfigs for tokens."""

    def __init__(
        self, state_dir: Path, kubelet: dict[str, Any], say: Callable[[str], None], version: str = ""
    ) -> None:
        import k8slocal

        flags = [f"--kubelet-option={key}={json.dumps(value)}" for key, value in kubelet.items()]
        self.plane = k8slocal.ControlPlane(
            version=version or k8slocal.DEFAULT_VERSION,
            state_dir=state_dir,
            nodes=1,
            runtime="process",
            kubelet_flags=flags,
            progress=say,
        )

    @property
    def kubeconfig(self) -> str:
        return self.plane.kubeconfig

    @property
    def url(self) -> str:
        return self.plane.url

    def __enter__(self) -> UpstreamCluster:
        self.plane.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.plane.__exit__(*exc)

    def wait_for_garbage_collector(self, say: Callable[[str], None]) -> None:
        """kube-controller-manager's garbage collector learns the instance kind at its discovery resync
        (every 30 s): until then a stopped server's instance, deleted with foreground propagation, keeps
        its pods, and the stop (or a failed start's clean-up) waits for that resync."""
        say("waiting for the garbage collector to learn JupyterNotebookInstances (it looks every 30 s)")
        waited = self.plane.wait_for_garbage_collector(
            "kadense.io/v1", "JupyterNotebookInstance", "jupyternotebookinstances"
        )
        say(f"the garbage collector knows JupyterNotebookInstances (waited {waited:.1f} s)")

    def token_for(self, name: str, namespace: str, expiration_seconds: int = 3600) -> str:
        body: dict[str, Any] = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": expiration_seconds},
        }
        status, answer = self.plane.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body
        )
        if status != 201:
            raise RuntimeError(f"TokenRequest for {namespace}/{name}: HTTP {status} {answer}")
        return str(answer["status"]["token"])

    def write_kubeconfig(self, path: str | Path, token: str, *, user: str, namespace: str = "default") -> str:
        from kubesim import kubeconfig

        return kubeconfig.write_kubeconfig(
            path,
            cluster=kubeconfig.cluster_entry(self.plane.url, Path(self.plane.ca_file).read_bytes()),
            user=kubeconfig.token_user(token),
            user_name=user,
            cluster_name="k8s-local",
            namespace=namespace,
        )


class Stack:
    """A cluster + operator + proxy + JupyterHub. ``with Stack(opts) as stack: ...``"""

    def __init__(self, opts: StackOptions, say: Callable[[str], None] = print) -> None:
        self.opts = opts
        self.say = say
        self.state_dir = Path(opts.state_dir).resolve()
        self.cluster: Any = None
        self.operator: Process | None = None
        self.proxy: Process | None = None
        self.hub: Process | None = None
        self.api_token = secrets.token_hex(24)
        self.proxy_token = secrets.token_hex(24)
        self.password = opts.password or secrets.token_urlsafe(9)
        self.hub_port = opts.hub_port or free_port()
        self.hub_internal_port = free_port()
        self.proxy_api_port = free_port()
        self.hub_kubeconfig = ""
        self.admin_kubeconfig = ""
        self.operator_kubeconfig = ""

    # ------------------------------------------------------------------ lifecycle

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

    @property
    def hub_api_url(self) -> str:
        """The hub's own API address (what single-user servers talk to)."""
        return f"http://127.0.0.1:{self.hub_internal_port}"

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.start_cluster()
        self.install()
        self.start_operator()
        self.start_proxy()
        self.start_hub()
        if isinstance(self.cluster, UpstreamCluster):
            self.cluster.wait_for_garbage_collector(self.say)

    def stop(self) -> None:
        for proc in (self.hub, self.proxy, self.operator):
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.stop()
        self.hub = self.proxy = self.operator = None
        if self.cluster is not None:
            self.say("stopping the cluster (and the servers it runs)")
            with contextlib.suppress(Exception):
                self.cluster.__exit__(None, None, None)
            self.cluster = None

    def start_cluster(self) -> None:
        # The kubelet runs `jupyterhub-singleuser` from $PATH: make it this environment's.
        bindir = str(Path(sys.executable).parent)
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        if self.opts.cluster == "upstream":
            self.say("starting upstream Kubernetes (k8s-local; a cold build of the binaries takes minutes)")
            self.cluster = UpstreamCluster(
                self.state_dir / "cluster", dict(self.opts.kubelet), self.say, self.opts.kubernetes_version
            )
            self.cluster.__enter__()
            self.say(f"Kubernetes {self.cluster.plane.version} at {self.cluster.url}; node: kubesim kubelet")
        elif self.opts.cluster == "kubesim":
            import kubesim

            self.say("starting kubesim (process runtime)")
            self.cluster = kubesim.Cluster(
                runtime="process", state_dir=self.state_dir / "cluster", kubelet=dict(self.opts.kubelet)
            )
            self.cluster.__enter__()
            self.say(f"kubesim serving at {self.cluster.url}")
        else:
            raise ValueError(f"unknown cluster {self.opts.cluster!r} (kubesim or upstream)")
        self.admin_kubeconfig = self.cluster.kubeconfig

    def admin_call(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``await fn(kube)`` with an admin client, from any thread that has no running loop."""
        from jupyternetes.adapters.kube import Kube

        async def run() -> Any:
            kube = await Kube.connect(self.admin_kubeconfig)
            try:
                return await fn(kube)
            finally:
                await kube.close()

        return asyncio.run(run())

    def apply(self, *objects: dict[str, Any]) -> None:
        """Create objects as the cluster's admin (ignore ones that exist)."""
        from jupyternetes.adapters.kube import KubeError

        async def create_all(kube: Any) -> None:
            for obj in objects:
                try:
                    await kube.create(obj)
                except KubeError as exc:
                    if exc.reason != "AlreadyExists":
                        raise

        self.admin_call(create_all)

    def install(self) -> None:
        root = checkout()
        self.say("installing the chart (CRDs, RBAC), the hub's ServiceAccount, the templates")
        namespaces = {HUB_NAMESPACE, *self.opts.template_namespaces}
        objs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in sorted(namespaces)
        ]
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": HUB_SERVICE_ACCOUNT, "namespace": HUB_NAMESPACE},
            }
        )
        self.apply(*objs)
        self.helm_install(root / "charts" / "jupyternetes")
        self.wait_established(["jupyternotebooktemplates.kadense.io", "jupyternotebookinstances.kadense.io"])
        self.apply(*list(self.opts.templates or default_templates()))
        # Tokens from TokenRequest (a demo may run for days: 30 days instead of the default hour).
        token = self.cluster.token_for(HUB_SERVICE_ACCOUNT, HUB_NAMESPACE, expiration_seconds=30 * 86400)
        self.hub_kubeconfig = self.cluster.write_kubeconfig(
            self.state_dir / "cluster" / "kubeconfig-hub",
            token,
            user=f"system:serviceaccount:{HUB_NAMESPACE}:{HUB_SERVICE_ACCOUNT}",
            namespace=HUB_NAMESPACE,
        )
        token = self.cluster.token_for(
            OPERATOR_SERVICE_ACCOUNT, TEMPLATE_NAMESPACE, expiration_seconds=30 * 86400
        )
        self.operator_kubeconfig = self.cluster.write_kubeconfig(
            self.state_dir / "cluster" / "kubeconfig-operator",
            token,
            user=f"system:serviceaccount:{TEMPLATE_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}",
            namespace=TEMPLATE_NAMESPACE,
        )

    def helm_install(self, chart: Path) -> None:
        values = self.state_dir / "chart-values.yaml"
        values.write_text(yaml.safe_dump(chart_values(self.opts.template_namespaces), sort_keys=False))
        helm_home = self.state_dir / "helm"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM_"))}
        env.update(
            KUBECONFIG=self.admin_kubeconfig,
            HOME=str(helm_home),
            HELM_CACHE_HOME=str(helm_home / "cache"),
            HELM_CONFIG_HOME=str(helm_home / "config"),
            HELM_DATA_HOME=str(helm_home / "data"),
        )
        argv = [
            find_tool("helm"),
            "upgrade",
            "--install",
            CHART_RELEASE,
            str(chart),
            "--namespace",
            TEMPLATE_NAMESPACE,
            "--values",
            str(values),
        ]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"helm install of {chart} failed: {(proc.stderr or proc.stdout).strip()}")

    def wait_established(self, names: Sequence[str], timeout: float = 60) -> None:
        """CRDs accept objects once Established (at once on kubesim, a moment later on upstream)."""

        async def established(kube: Any) -> bool:
            for name in names:
                crd = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, name)
                conditions = ((crd or {}).get("status") or {}).get("conditions") or ()
                if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                    return False
            return True

        _wait(lambda: bool(self.admin_call(established)), timeout, f"the CRDs {', '.join(names)} established")

    def start_operator(self) -> None:
        self.say("starting the operator")
        argv = [
            sys.executable,
            "-m",
            "jupyternetes.cli",
            "operator",
            "--standalone",
            "--kubeconfig",
            self.operator_kubeconfig,
            "--namespace",
            HUB_NAMESPACE,
            "--operator-namespace",
            TEMPLATE_NAMESPACE,
        ]
        for ns in self.opts.template_namespaces:
            argv += ["--template-namespace", ns]
        webhook = self.webhook_files()
        argv += ["--webhook-port", str(webhook["port"]), "--webhook-addr", "127.0.0.1"]
        argv += ["--webhook-cert", webhook["cert"], "--webhook-key", webhook["key"]]
        self.operator = Process("operator", argv, self.state_dir / "operator.log", env=self._env())
        self.install_webhook(webhook)

    def webhook_files(self) -> dict[str, Any]:
        """The admission webhook's serving certificate (a CA of its own, as the chart makes one) and port."""
        from kubesim.tls import CertificateAuthority

        directory = self.state_dir / "webhook"
        directory.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority("jupyternetes-demo-webhook-ca")
        leaf = ca.issue("jupyternetes-webhook", ip_addresses=("127.0.0.1",), server=True)
        (directory / "ca.crt").write_bytes(ca.cert_pem)
        (directory / "tls.crt").write_bytes(leaf.cert_pem)
        (directory / "tls.key").write_bytes(leaf.key_pem)
        return {
            "port": free_port(),
            "ca": ca.cert_pem,
            "cert": str(directory / "tls.crt"),
            "key": str(directory / "tls.key"),
        }

    def install_webhook(self, webhook: dict[str, Any]) -> None:
        """The chart's ValidatingWebhookConfiguration, pointing at the local operator (the chart's own is
        for an operator in the cluster; its Deployment is scaled to 0 here). Only on an API server that
        serves webhook configurations (every Kubernetes does, and kubesim)."""
        import base64

        from jupyternetes.adapters.kube import KubeError
        from jupyternetes.core.webhook_configuration import validating_webhook_configuration

        async def served(kube: Any) -> bool:
            try:
                await kube.resource("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
            except KubeError as exc:
                if exc.status == 404:
                    return False
                raise
            return True

        if not self.admin_call(served):
            self.say(
                "the cluster serves no admission webhook configurations: the operator's reconcile checks"
            )
            return
        namespaces = [HUB_NAMESPACE, *self.opts.template_namespaces]
        self.apply(
            validating_webhook_configuration(
                "jupyternetes-demo",
                base_url=f"https://127.0.0.1:{webhook['port']}",
                ca_bundle=base64.b64encode(webhook["ca"]).decode(),
                instance_namespaces=namespaces,
                template_namespaces=namespaces,
                hook_domain="demo.jupyternetes.kadense.io",
            )
        )
        self.say(f"admission webhook at https://127.0.0.1:{webhook['port']}")

    def start_proxy(self) -> None:
        self.say("starting configurable-http-proxy")
        argv = [
            find_proxy(self.opts.proxy_cmd),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.hub_port),
            "--api-ip",
            "127.0.0.1",
            "--api-port",
            str(self.proxy_api_port),
            "--default-target",
            self.hub_api_url,
            "--error-target",
            f"{self.hub_api_url}/hub/error",
            "--log-level",
            "warn",
        ]
        env = {**self._env(), "CONFIGPROXY_AUTH_TOKEN": self.proxy_token}
        self.proxy = Process("proxy", argv, self.state_dir / f"proxy-{self.opts.hub_name}.log", env=env)
        _wait(lambda: _port_open(self.proxy_api_port), 20, "the proxy", self._check_alive)

    def start_hub(self) -> None:
        hub_dir = self.state_dir / self.opts.hub_name
        hub_dir.mkdir(parents=True, exist_ok=True)
        config = hub_dir / "jupyterhub_config.py"
        config.write_text(self.hub_config(hub_dir))
        self.say(f"starting JupyterHub ({self.opts.spawner} spawner)")
        env = self._env()
        if self.opts.spawner == "kubespawner":
            env["KUBECONFIG"] = self.admin_kubeconfig
        self.hub = Process(
            "hub",
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            hub_dir / "hub.log",
            env=env,
            cwd=hub_dir,
        )
        _wait(self._hub_up, 60, "JupyterHub", self._check_alive, interval=0.1)

    def stop_hub(self) -> None:
        if self.hub is not None:
            self.hub.stop()
            self.hub = None

    def restart_hub(self) -> None:
        self.stop_hub()
        self.start_hub()

    def _hub_up(self) -> bool:
        try:
            status, _ = http_get(f"{self.hub_url}/hub/api/", timeout=2)
        except OSError:
            return False
        return status == 200

    def _check_alive(self) -> None:
        for proc in (self.operator, self.proxy, self.hub):
            if proc is not None and not proc.alive():
                raise RuntimeError(
                    f"{proc.name} exited with status {proc.popen.returncode}; its log "
                    f"({proc.log_path}) ends with:\n{proc.tail()}"
                )

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def hub_config(self, hub_dir: Path) -> str:
        o = self.opts
        lines = [
            "# Generated by `jupyternetes up` (jupyternetes.demo); rewritten at every start.",
            "c = get_config()  # noqa: F821",
            "c.JupyterHub.ip = '127.0.0.1'",
            f"c.JupyterHub.port = {self.hub_port}",
            "c.JupyterHub.hub_ip = '127.0.0.1'",
            f"c.JupyterHub.hub_port = {self.hub_internal_port}",
            "c.ConfigurableHTTPProxy.should_start = False",
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{self.proxy_api_port}'",
            f"c.ConfigurableHTTPProxy.auth_token = {self.proxy_token!r}",
            f"c.JupyterHub.db_url = {'sqlite:///' + str(hub_dir / 'jupyterhub.sqlite')!r}",
            f"c.JupyterHub.cookie_secret_file = {str(hub_dir / 'jupyterhub_cookie_secret')!r}",
            f"c.JupyterHub.pid_file = {str(hub_dir / 'jupyterhub.pid')!r}",
            "# Servers outlive a hub restart; `jupyternetes up` stops them with the cluster.",
            "c.JupyterHub.cleanup_servers = False",
            "c.JupyterHub.allow_named_servers = True",
            "c.JupyterHub.authenticator_class = 'dummy'",
            f"c.DummyAuthenticator.password = {self.password!r}",
            "c.Authenticator.allow_all = True",
            "c.Authenticator.admin_users = {'admin'}",
            f"c.JupyterHub.services = [{{'name': {ADMIN_SERVICE!r}, 'api_token': {self.api_token!r}}}]",
            f"c.JupyterHub.load_roles = [{{'name': 'admin', 'services': [{ADMIN_SERVICE!r}]}}]",
            f"c.Spawner.start_timeout = {o.start_timeout}",
            "c.Spawner.http_timeout = 30",
            "# The spawn page goes to the progress page at once (JupyterHub waits up to 10 s by default,",
            "# and a spawn that takes less shows no progress at all): it shows the operator's steps.",
            "c.JupyterHub.tornado_settings = {'slow_spawn_timeout': 0}",
        ]
        if o.spawner == "jupyternetes":
            lines += [
                "c.JupyterHub.spawner_class = 'jupyternetes.spawner.JupyternetesSpawner'",
                "# The hub's least-privilege ServiceAccount (the chart's hub Role), not the cluster admin.",
                f"c.JupyternetesSpawner.kubeconfig = {self.hub_kubeconfig!r}",
                f"c.JupyternetesSpawner.namespace = {HUB_NAMESPACE!r}",
                f"c.JupyternetesSpawner.hub_namespace = {HUB_NAMESPACE!r}",
                "c.JupyternetesSpawner.template_name = 'default-template'",
                f"c.JupyternetesSpawner.template_namespace = {TEMPLATE_NAMESPACE!r}",
            ]
            if o.profiles:
                lines.append(f"c.JupyternetesSpawner.profile_list = {list(o.profiles)!r}")
            for key, value in o.spawner_config.items():
                lines.append(f"c.JupyternetesSpawner.{key} = {value!r}")
        elif o.spawner == "kubespawner":
            lines += [
                "c.JupyterHub.spawner_class = 'kubespawner.KubeSpawner'",
                "c.KubeSpawner.namespace = 'kubespawner'",
                "c.KubeSpawner.image = 'quay.io/jupyter/datascience-notebook:hub-5.2.1'",
                "c.KubeSpawner.cmd = ['jupyterhub-singleuser']",
                "# As Zero to JupyterHub runs its users' servers: jovyan (uid 1000), group 100, never root.",
                "c.KubeSpawner.uid = 1000",
                "c.KubeSpawner.gid = 100",
                "c.KubeSpawner.fs_gid = 100",
                "c.KubeSpawner.storage_pvc_ensure = True",
                "c.KubeSpawner.storage_capacity = '1Gi'",
                "c.KubeSpawner.pvc_name_template = 'claim-{user_server}'",
                "c.KubeSpawner.volumes = [{'name': 'workspace', "
                "'persistentVolumeClaim': {'claimName': '{pvc_name}'}}]",
                "c.KubeSpawner.volume_mounts = [{'name': 'workspace', 'mountPath': '/home/jovyan/work'}]",
                "c.KubeSpawner.cpu_guarantee = 0.1",
                "c.KubeSpawner.mem_guarantee = '256M'",
                f"c.KubeSpawner.start_timeout = {o.start_timeout}",
            ]
        elif o.spawner == "localprocess":
            lines += [
                "c.JupyterHub.spawner_class = 'jupyterhub.spawner.SimpleLocalProcessSpawner'",
                "# Local processes do not outlive their hub usefully: stop them with it.",
                "c.JupyterHub.cleanup_servers = True",
                f"c.SimpleLocalProcessSpawner.home_dir_template = {str(hub_dir / 'homes' / '{username}')!r}",
                "c.Spawner.args = ['--allow-root']" if os.geteuid() == 0 else "",
            ]
        else:
            raise ValueError(f"unknown spawner {o.spawner!r}")
        if o.extra_hub_config:
            lines.append(o.extra_hub_config)
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ hub REST API helpers

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.hub_url}/hub/api{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {token or self.api_token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return int(resp.status), json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return int(exc.code), json.loads(raw) if raw else None
            except ValueError:
                return int(exc.code), raw.decode(errors="replace")

    def write_demo_json(self) -> Path:
        path = self.state_dir / "demo.json"
        path.write_text(
            json.dumps(
                {
                    "hub_url": self.hub_url + "/",
                    "api_token": self.api_token,
                    "kubeconfig": self.admin_kubeconfig,
                    "hub_kubeconfig": self.hub_kubeconfig,
                    "login": {"username": "admin (or any name)", "password": self.password},
                },
                indent=2,
            )
            + "\n"
        )
        path.chmod(0o600)
        return path


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGINT both raise KeyboardInterrupt, so one code path stops everything. SIGINT is set
    explicitly too: a process started in the background by a non-interactive shell inherits SIGINT
    ignored, and Python keeps it that way."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old_term = signal.signal(signal.SIGTERM, handler)
    old_int = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


def shell_hints(kubeconfig: str) -> list[str]:
    """The kubectl lines ``jupyternetes up`` prints: they work as printed from a fresh shell, which has
    neither the kubeconfig nor the virtualenv's kubectl (``make venv`` fetched it beside this Python)."""
    try:
        bindir = os.path.dirname(find_tool("kubectl"))
    except FileNotFoundError:
        bindir = ""
    path = f' PATH={shlex.quote(bindir)}:"$PATH"' if bindir else ""
    return [
        f"  kubectl:     export KUBECONFIG={shlex.quote(kubeconfig)}{path}",
        "               kubectl get jupyternotebookinstances,pods,pvc -n jupyterhub",
    ]


def _prepare_state_dir(path: Path) -> None:
    """A fresh state directory each run (the simulated cluster is in memory: nothing in an old one would
    match it). Only a directory that is empty or was made by an earlier `jupyternetes up` is cleared."""
    if path.exists() and any(path.iterdir()):
        if not (path / "demo.json").exists() and not (path / "cluster").exists():
            raise SystemExit(
                f"error: {path} is not empty and was not made by `jupyternetes up`; choose another "
                "--state-dir"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)


def run_up(args: argparse.Namespace) -> int:
    if repo_root() is None:
        print(
            "error: `jupyternetes up` runs from a source checkout (it uses crds/, fixtures/, node_modules/): "
            "clone the repository and run `make demo`",
            file=sys.stderr,
        )
        return 2
    state_dir = Path(args.state_dir).resolve()
    _prepare_state_dir(state_dir)

    def say(msg: str) -> None:
        print(f"[jupyternetes up] {msg}", flush=True)

    opts = StackOptions(
        state_dir=state_dir,
        hub_port=args.hub_port,
        password=args.password or "",
        cluster=args.cluster,
        profiles=demo_profiles(),
    )
    stack = Stack(opts, say=say)
    with _signals_raise():
        try:
            stack.start()
            path = stack.write_demo_json()
            print(flush=True)
            print(f"  JupyterHub:  {stack.hub_url}/", flush=True)
            print(f"  login:       any user name (admin is an admin), password: {stack.password}", flush=True)
            for line in shell_hints(stack.admin_kubeconfig):
                print(line, flush=True)
            print(f"  scripts:     {path} (hub_url, api_token, kubeconfig)", flush=True)
            print(f"  logs:        {state_dir}", flush=True)
            print("\nPress Ctrl-C to stop everything.", flush=True)
            while True:
                stack._check_alive()
                time.sleep(0.5)
        except KeyboardInterrupt:
            say("stopping")
        except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
            say(f"error: {exc}")
            return 1
        finally:
            stack.stop()
            say("stopped")
    return 0


__all__ = ["Stack", "StackOptions", "run_up"]
