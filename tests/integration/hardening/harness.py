"""The hardening scenarios' machinery, shared by the tests (small sizes) and bench/ (full sizes).

- :class:`Env`: what a scenario sees of its cluster, on either backend: :class:`SimEnv` (kubesim, served
  from a background thread: reads from its store, its own fault injection and request accounting) or
  :class:`UpstreamEnv` (a k8s-local control plane with a kubesim kubelet node: reads as the admin, straight
  from the API server; the operator alone talks through a :class:`~kubesim.faultproxy.FaultProxy` that
  injects the same fault rules and counts its requests). Both have the CRDs, the scenario's namespaces,
  the chart's RBAC for the operator (a least-privilege ServiceAccount with a TokenRequest token) and for
  the hub, and a small REST client that retries what a real client retries (so the scenario itself
  survives the faults it injects).
- :class:`OperatorProcess`: ``jupyternetes operator`` as a real subprocess: started, SIGKILLed, restarted,
  its RSS sampled.
- :class:`ReadyClock`: stamps each instance's creation and its first ``Ready=True`` as the events happen
  (kubesim: a store listener, server-side; upstream: an admin watch, client-side), so latencies need no
  polling.
- :func:`audit_children` / :func:`status_problems`: the checks that every instance has exactly the
  children its template asks for (by instance label and owner uid, read directly as the admin, never
  through injected faults) and that its status says what the pods say.

Sizes: the tests run scaled down; ``JUPYTERNETES_HARDENING_FULL=1`` runs them at the issue's sizes (300
instances), and the bench scripts (bench/crash_restart.py, bench/faults.py, bench/burst.py) pass their own.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests
import yaml

import k8slocal
import kubesim
from kubesim import kubeconfig as kubeconfigs
from kubesim.faultproxy import FaultProxy
from kubesim.faults import Faults
from tests.conftest import wait_until as shared_wait_until

ROOT = Path(__file__).resolve().parents[3]
GROUP = "kadense.io"
INSTANCES = (GROUP, "jupyternotebookinstances")
PODS = ("", "pods")
PVCS = ("", "persistentvolumeclaims")
CONFIGMAPS = ("", "configmaps")
LABEL_INSTANCE = "jupyternetes.kadense.io/instance"
TEMPLATE_NS = "kadense"
USERS_NS = "users"
OPERATOR_SA = "jupyternetes-operator"
HUB_SA = "hub"
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
FULL = os.environ.get("JUPYTERNETES_HARDENING_FULL", "") not in ("", "0", "false")


def size(small: int, full: int) -> int:
    """The scenario size: ``small`` in ``make test``, ``full`` with JUPYTERNETES_HARDENING_FULL=1."""
    return full if FULL else small


# The template of the hardening scenarios: a retained PVC, a PVC deleted with the instance, one pod and
# one other resource, so each kind of child (owned or not) is checked for duplicates and strays.
def hardening_template(env: Env, name: str = "hardened") -> dict[str, Any]:
    namespace = env.template_ns
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "pvcs": [
                {
                    "name": "work",
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                },
                {
                    "name": "scratch",
                    "deleteWithInstance": True,
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                },
            ],
            "pods": [
                {
                    "name": "notebook",
                    "spec": {
                        "containers": [
                            {
                                "name": "notebook",
                                "image": "quay.io/jupyter/base-notebook:2025-01-01",
                                "ports": [{"name": "http", "containerPort": 8888}],
                                "env": [{"name": "JUPYTERHUB_USER", "value": "{user}"}],
                                "volumeMounts": [
                                    {"name": "work", "mountPath": "/home/jovyan/work"},
                                    {"name": "scratch", "mountPath": "/tmp/scratch"},
                                ],
                            }
                        ],
                        "volumes": [
                            {
                                "name": "work",
                                "persistentVolumeClaim": {"claimName": "{jupyternetes.pvcs.work}"},
                            },
                            {
                                "name": "scratch",
                                "persistentVolumeClaim": {"claimName": "{jupyternetes.pvcs.scratch}"},
                            },
                        ],
                    },
                }
            ],
            "otherResources": [
                {
                    "name": "settings",
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "body": {"data": {"user": "{user}"}},
                }
            ],
        },
    }


def simple_template(env: Env, name: str = "simple") -> dict[str, Any]:
    """A notebook server as most hubs run it: one retained PVC and one pod (bench/provision.py's)."""
    full = hardening_template(env, name)
    spec = full["spec"]
    spec["pvcs"] = spec["pvcs"][:1]
    container = spec["pods"][0]["spec"]["containers"][0]
    container["volumeMounts"] = container["volumeMounts"][:1]
    spec["pods"][0]["spec"]["volumes"] = spec["pods"][0]["spec"]["volumes"][:1]
    spec["otherResources"] = []
    return full


# What hardening_template creates per instance: kind -> (entry, owned by the instance?).
EXPECTED_CHILDREN: dict[tuple[str, str], list[tuple[str, bool]]] = {
    PVCS: [("work", False), ("scratch", True)],
    PODS: [("notebook", True)],
    CONFIGMAPS: [("settings", True)],
}


def instance_body(env: Env, name: str, *, template: str = "hardened", **variables: str) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": name, "namespace": env.users_ns},
        "spec": {
            "template": {"name": template, "namespace": env.template_ns},
            "variables": {"user": name, **variables},
        },
    }


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('reason')}: {body.get('message')}")
        self.status = status
        self.reason = str(body.get("reason") or "")
        self.body = body


class Rest:
    """A minimal Kubernetes REST client on requests, with a hub-like retry policy: 5xx, 429 and injected
    409 Conflicts are retried (kubesim injects errors before acting, so a retried write is safe; a create
    answered AlreadyExists on a retry had succeeded)."""

    def __init__(self, url: str, token: str, ca_file: str, *, retries: int = 20) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        # Per request: requests lets $REQUESTS_CA_BUNDLE override a session's verify.
        self.verify: str | bool = ca_file or False
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.retries = retries

    def close(self) -> None:
        self.session.close()

    def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json"
    ) -> dict[str, Any]:
        delay = 0.02
        for attempt in range(self.retries + 1):
            headers = {"Content-Type": content_type} if body is not None else {}
            resp = self.session.request(
                method, self.url + path, json=body, headers=headers, timeout=30, verify=self.verify
            )
            data: dict[str, Any] = resp.json() if resp.content else {}
            if resp.status_code < 300:
                return data
            retriable = resp.status_code >= 500 or resp.status_code == 429
            retriable |= resp.status_code == 409 and data.get("reason") != "AlreadyExists"
            if attempt > 0 and method == "POST" and data.get("reason") == "AlreadyExists":
                return self.request("GET", f"{path}/{body['metadata']['name']}")
            if not retriable or attempt == self.retries:
                raise ApiError(resp.status_code, data)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise AssertionError("unreachable")

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body)

    def create_instance(self, body: dict[str, Any]) -> dict[str, Any]:
        ns = body["metadata"]["namespace"]
        return self.create(f"/apis/kadense.io/v1/namespaces/{ns}/jupyternotebookinstances", body)

    def delete_instance(self, namespace: str, name: str) -> None:
        try:
            self.request(
                "DELETE",
                f"/apis/kadense.io/v1/namespaces/{namespace}/jupyternotebookinstances/{name}",
                {"propagationPolicy": "Background"},
            )
        except ApiError as exc:
            if exc.status != 404:
                raise


API_PREFIX = {"": "/api/v1", GROUP: f"/apis/{GROUP}/v1"}
RBAC = "/apis/rbac.authorization.k8s.io/v1"
# Every pod of the scenarios fits on the one node (a real cluster would spread them over many).
NODE_CAPACITY = {"pods": "6000", "cpu": "100000", "memory": "100000Gi"}


def collection(key: tuple[str, str], namespace: str | None = None) -> str:
    prefix = API_PREFIX[key[0]]
    return f"{prefix}/namespaces/{namespace}/{key[1]}" if namespace else f"{prefix}/{key[1]}"


def chart_rbac(release: str, template_ns: str, users_ns: str) -> list[dict[str, Any]]:
    """The chart's own ServiceAccount, roles and bindings (helm template) for an operator serving
    ``users_ns`` with templates from ``template_ns`` and ConfigMaps as otherResources, and for a hub whose
    ServiceAccount ``hub`` lives in ``users_ns``: the operator runs with exactly the rights a release
    gives it."""
    helm = shutil.which("helm") or str(ROOT / ".venv" / "bin" / "helm")
    sets = {
        "operator.watchNamespaces": f"{{{users_ns}}}",
        "operator.templateNamespaces": f"{{{template_ns}}}",
        "hub.namespaces": f"{{{users_ns}}}",
        "hub.serviceAccount.name": HUB_SA,
        "hub.serviceAccount.namespace": users_ns,
        "serviceAccount.name": OPERATOR_SA,
        "defaultTemplate.enabled": "false",
    }
    argv = [helm, "template", release, str(ROOT / "charts" / "jupyternetes"), "--namespace", template_ns]
    for key, value in sets.items():
        argv += ["--set", f"{key}={value}"]
    argv += ["--set-json", 'operator.otherResources=[{"apiGroups":[""],"resources":["configmaps"]}]']
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    kinds = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
    return [d for d in yaml.safe_load_all(out) if d and d.get("kind") in kinds]


def _create_path(obj: dict[str, Any]) -> str:
    ns = obj["metadata"].get("namespace")
    plural = {
        "ServiceAccount": "serviceaccounts",
        "ClusterRole": "clusterroles",
        "ClusterRoleBinding": "clusterrolebindings",
        "Role": "roles",
        "RoleBinding": "rolebindings",
    }[obj["kind"]]
    prefix = "/api/v1" if obj["kind"] == "ServiceAccount" else RBAC
    return f"{prefix}/namespaces/{ns}/{plural}" if ns else f"{prefix}/{plural}"


InstanceCallback = Callable[[str, dict[str, Any], "dict[str, Any] | None"], None]


class Env:
    """What a scenario sees of its cluster, whichever the backend: an admin client and reads that never go
    through injected faults, the namespaces, the operator's and the hub's credentials, the fault rules the
    operator's requests meet, the operator's request counts, and instance events as they happen."""

    backend = ""
    url = ""
    ca_file = ""
    admin: Rest
    template_ns = TEMPLATE_NS
    users_ns = USERS_NS
    extra: dict[str, str]
    operator_kubeconfig = ""
    hub_kubeconfig = ""
    hub_token = ""
    faults: Faults
    state_dir: Path

    @property
    def operator_user(self) -> str:
        return operator_user(self.template_ns)

    @property
    def upstream(self) -> bool:
        return self.backend == "upstream"

    def operator_args(self) -> list[str]:
        """``jupyternetes operator`` as the chart runs it for these namespaces."""
        return [
            "--namespace",
            self.users_ns,
            "--template-namespace",
            self.template_ns,
            "--operator-namespace",
            self.template_ns,
            "--other-resource",
            "configmaps",
            "--kubeconfig",
            self.operator_kubeconfig,
        ]

    # ------------------------------------------------------------ reads (admin, never faulted)

    def objects(self, key: tuple[str, str], namespace: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def get(self, key: tuple[str, str], namespace: str, name: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def instance(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.get(INSTANCES, namespace or self.users_ns, name)

    def instances(self, namespace: str | None = None) -> dict[str, dict[str, Any]]:
        return {i["metadata"]["name"]: i for i in self.objects(INSTANCES, namespace or self.users_ns)}

    def hub(self) -> Rest:
        return Rest(self.url, self.hub_token, self.ca_file)

    def create_template(self, body: dict[str, Any]) -> dict[str, Any]:
        ns = body["metadata"]["namespace"]
        return self.admin.create(f"/apis/{GROUP}/v1/namespaces/{ns}/jupyternotebooktemplates", body)

    # ------------------------------------------------------------ observation and faults

    def listen(self, callback: InstanceCallback, key: tuple[str, str] = INSTANCES) -> None:
        """``callback(type, object, previous)`` for every event of an instance (or of objects of ``key``)
        in ``users_ns``."""
        raise NotImplementedError

    def operator_requests(self, *, watches: bool = False) -> dict[str, int]:
        """The operator's requests since the last reset, by ``verb resource`` (watches only if asked)."""
        counts = self._request_counts()
        return {k: v for k, v in counts.items() if k.startswith("watch ") == watches}

    def _request_counts(self) -> dict[str, int]:
        raise NotImplementedError

    def reset_requests(self) -> None:
        raise NotImplementedError

    def end_watches(self, resource: str) -> None:
        """End the operator's open watch streams of ``resource`` now (as a cut would)."""
        raise NotImplementedError

    def record_operator_calls(self) -> None:
        """Start recording every request of the operator (:meth:`operator_calls`)."""

    def operator_calls(self) -> list[tuple[str, str, str, str]]:
        """(verb, plural[/subresource], namespace, name) of every request the operator made, refused or
        not, since recording started."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------- kubesim


@dataclass
class _Recorder:
    user: str
    calls: list[tuple[str, str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, authorize: Any) -> Any:
        def recording(
            user: Any, verb: str, rt: Any, sub: str, ns: str | None, name: str | None, path: str
        ) -> Any:
            if user.name == self.user and rt is not None:
                with self.lock:
                    self.calls.append((verb, rt.plural + (f"/{sub}" if sub else ""), ns or "", name or ""))
            return authorize(user, verb, rt, sub, ns, name, path)

        return recording


class SimEnv(Env):
    """kubesim, in this process: reads from its store, its own fault injection and request accounting,
    server-side event times (a store listener)."""

    backend = "kubesim"

    def __init__(self, cluster: kubesim.Cluster, admin: Rest, state_dir: Path) -> None:
        self.cluster = cluster
        self.admin = admin
        self.url = cluster.url
        self.ca_file = cluster.ca_file
        self.faults = cluster.faults
        self.state_dir = state_dir
        self.extra = {}
        self._recorder: _Recorder | None = None

    def objects(self, key: tuple[str, str], namespace: str | None = None) -> list[dict[str, Any]]:
        return self.cluster.store.list(key, namespace)

    def get(self, key: tuple[str, str], namespace: str, name: str) -> dict[str, Any] | None:
        return self.cluster.store.get(key, namespace, name)

    def listen(self, callback: InstanceCallback, key: tuple[str, str] = INSTANCES) -> None:
        users, wanted = self.users_ns, key

        def on_event(key: tuple[str, str], event: Any) -> None:
            if key == wanted and event.obj["metadata"].get("namespace") == users:
                callback(event.type, event.obj, event.old)

        self.cluster.store.listeners.append(on_event)

    def _request_counts(self) -> dict[str, int]:
        return self.cluster.requests.by("verb", "resource", user=self.operator_user)

    def reset_requests(self) -> None:
        self.cluster.requests.reset()

    def end_watches(self, resource: str) -> None:
        key = next(k for k in (INSTANCES, PODS, PVCS, CONFIGMAPS) if k[1] == resource)
        self.cluster.store.close_watchers(key)

    def record_operator_calls(self) -> None:
        if self._recorder is None:
            self._recorder = _Recorder(self.operator_user)
            self.cluster.server.authorize = self._recorder.wrap(self.cluster.server.authorize)

    def operator_calls(self) -> list[tuple[str, str, str, str]]:
        assert self._recorder is not None, "record_operator_calls() first"
        with self._recorder.lock:
            return list(self._recorder.calls)


def _install(admin: Rest, env: Env, namespaces: Iterable[str], release: str) -> list[str]:
    """CRD-independent set-up of a scenario's namespaces and accounts; returns the cluster-scoped objects
    it created (paths), for the caller to delete."""
    created: list[str] = []
    for ns in namespaces:
        admin.create("/api/v1/namespaces", {"metadata": {"name": ns}})
    admin.create(f"/api/v1/namespaces/{env.users_ns}/serviceaccounts", {"metadata": {"name": HUB_SA}})
    for obj in chart_rbac(release, env.template_ns, env.users_ns):
        path = _create_path(obj)
        admin.create(path, obj)
        if not obj["metadata"].get("namespace"):
            created.append(f"{path}/{obj['metadata']['name']}")
    # Pods need their namespace's default ServiceAccount (upstream's token controller makes it).
    for ns in namespaces:
        wait_until(
            lambda ns=ns: _exists(admin, f"/api/v1/namespaces/{ns}/serviceaccounts/default"),
            30,
            what=f"the default ServiceAccount of {ns}",
        )
    return created


def _exists(admin: Rest, path: str) -> bool:
    try:
        admin.request("GET", path)
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def install_crds(admin: Rest) -> None:
    names = []
    for crd in sorted((ROOT / "crds").glob("*.yaml")):
        body = yaml.safe_load(crd.read_text())
        admin.create(CRD_API, body)
        names.append(body["metadata"]["name"])

    def established() -> bool:
        for name in names:
            established = condition(admin.request("GET", f"{CRD_API}/{name}"), "Established")
            if not established or established.get("status") != "True":
                return False
        return True

    wait_until(established, 30, what="the CRDs Established")


@contextmanager
def sim_env(
    state_dir: Path, *, pods: int = 1000, history_size: int = 50000, extra_namespaces: Iterable[str] = ()
) -> Iterator[SimEnv]:
    """A kubesim cluster with the CRDs, namespaces ``kadense`` (templates, operator) and ``users``
    (instances), and the chart's RBAC: the operator's ServiceAccount with the rights a release gives it
    (:func:`chart_rbac`) and a hub ServiceAccount that may only do what the chart lets a hub do."""
    capacity = {"pods": str(pods), "cpu": "100000", "memory": "100000Gi"}
    with kubesim.Cluster(
        state_dir=state_dir, history_size=history_size, kubelet={"node_capacity": capacity}
    ) as cluster:
        admin = Rest(cluster.url, cluster.admin_token, cluster.ca_file)
        try:
            env = SimEnv(cluster, admin, state_dir)
            env.extra = {ns: ns for ns in extra_namespaces}
            install_crds(admin)
            _install(admin, env, (TEMPLATE_NS, USERS_NS, *extra_namespaces), "hardening")
            env.operator_kubeconfig = cluster.kubeconfig_for(OPERATOR_SA, TEMPLATE_NS)
            env.hub_kubeconfig = cluster.kubeconfig_for(HUB_SA, USERS_NS)
            env.hub_token = cluster.token_for(HUB_SA, USERS_NS)
            yield env
        finally:
            admin.close()


# ---------------------------------------------------------------------------------------------- upstream


class InstanceWatch(threading.Thread):
    """An admin watch of the instances (or objects of ``key``) of one namespace, handing every event to
    callbacks as it arrives (client-side) with the object as last seen before it. It resumes from the last
    resourceVersion when a stream ends; after a 410 it lists again and reports what it had not seen as
    new."""

    def __init__(self, env: UpstreamEnv, key: tuple[str, str] = INSTANCES) -> None:
        super().__init__(daemon=True, name=f"{key[1]}-watch")
        self.env = env
        self.key = key
        self.callbacks: list[InstanceCallback] = []
        self.known: dict[str, dict[str, Any]] = {}
        self.started_watching = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.error = exc
            self.started_watching.set()

    def _run(self) -> None:
        session = requests.Session()
        session.trust_env = False
        session.headers["Authorization"] = f"Bearer {self.env.admin_token}"
        session.verify = self.env.ca_file
        url = self.env.url + collection(self.key, self.env.users_ns)
        rv = ""
        while not self.stopping.is_set():
            params = {"watch": "true", "timeoutSeconds": "5", "allowWatchBookmarks": "true"}
            if rv:
                params["resourceVersion"] = rv
            with session.get(url, params=params, stream=True, timeout=30) as resp:
                if resp.status_code != 200:
                    raise AssertionError(f"watching instances: HTTP {resp.status_code} {resp.text}")
                self.started_watching.set()
                for line in resp.iter_lines():
                    if not line:
                        continue
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        rv = ""  # expired: start again, listing what exists
                        break
                    rv = obj["metadata"]["resourceVersion"]
                    if event["type"] == "BOOKMARK":
                        continue
                    self._deliver(event["type"], obj)
                    if self.stopping.is_set():
                        break
        session.close()

    def _deliver(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        old = self.known.get(name)
        if kind == "ADDED" and old is not None and old["metadata"]["uid"] == obj["metadata"]["uid"]:
            kind = "MODIFIED"  # listed again after a 410: not a new instance
        if kind == "DELETED":
            self.known.pop(name, None)
        else:
            self.known[name] = obj
        for callback in list(self.callbacks):
            callback(kind, obj, old)


class UpstreamEnv(Env):
    """Upstream Kubernetes (a k8s-local control plane with a kubesim kubelet node, fake runtime): reads
    as the admin, straight from the API server; the operator talks through a :class:`FaultProxy` (the
    only client that does), so its faults and its request counts are the proxy's; instance event times
    are client-side, when an admin watch delivers the event."""

    backend = "upstream"

    def __init__(self, plane: k8slocal.ControlPlane, admin: Rest, proxy: FaultProxy, state_dir: Path) -> None:
        self.plane = plane
        self.admin = admin
        self.admin_token = plane.admin_token
        self.proxy = proxy
        self.url = plane.url
        self.ca_file = plane.ca_file
        self.faults = proxy.faults
        self.state_dir = state_dir
        self.extra = {}
        self.audit: AuditCounter | None = None
        self._watches: dict[tuple[str, str], InstanceWatch] = {}

    def objects(self, key: tuple[str, str], namespace: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.admin.request("GET", collection(key, namespace))["items"]
        return items

    def get(self, key: tuple[str, str], namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.admin.request("GET", f"{collection(key, namespace)}/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def listen(self, callback: InstanceCallback, key: tuple[str, str] = INSTANCES) -> None:
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = InstanceWatch(self, key)
            watch.start()
            watch.started_watching.wait(30)
            if watch.error is not None:
                raise watch.error
        watch.callbacks.append(callback)

    def _request_counts(self) -> dict[str, int]:
        if self.audit is not None:
            return self.audit.counts()
        return self.proxy.requests.by("verb", "resource")

    def reset_requests(self) -> None:
        if self.audit is not None:
            self.audit.reset()
        self.proxy.requests.reset()

    def end_watches(self, resource: str) -> None:
        self.proxy.close_watches(resource)

    def operator_calls(self) -> list[tuple[str, str, str, str]]:
        def plural(label: str) -> str:
            resource, _, sub = label.partition("/")
            return resource.split(".", 1)[0] + (f"/{sub}" if sub else "")

        return [(c.verb, plural(c.resource), c.namespace, c.name) for c in list(self.proxy.calls)]

    def close(self) -> None:
        for watch in self._watches.values():
            watch.stopping.set()
        for watch in self._watches.values():
            watch.join(10)


AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    users: {users}
  - level: None
"""


@contextmanager
def upstream_plane(
    state_dir: Path | None = None,
    *,
    binaries: k8slocal.Binaries | None = None,
    audit_users: Iterable[str] = (),
    audit_dir: Path | None = None,
) -> Iterator[k8slocal.ControlPlane]:
    """A k8s-local control plane with one kubesim kubelet node (fake runtime) and the project's CRDs,
    returned once kube-controller-manager's garbage collector knows the instance kind (until then a
    deleted instance's pods would stay up to 30 s). With ``audit_users``, kube-apiserver writes an audit
    log of their requests (metadata only) to ``audit_dir``/audit.log: how the benchmarks count an
    operator's requests without a proxy in its way."""
    # k8s-local gives a fake-runtime node a /24 (253 pod addresses); the scenarios run thousands of pods on
    # one node (the last --pod-cidr wins).
    flags = [f"--kubelet-option=node_capacity={json.dumps(NODE_CAPACITY)}", "--pod-cidr=10.244.0.0/16"]
    apiserver_flags: list[str] = []
    users = list(audit_users)
    if users:
        assert audit_dir is not None, "audit_dir: where the audit policy and log go"
        audit_dir.mkdir(parents=True, exist_ok=True)
        policy = audit_dir / "audit-policy.yaml"
        policy.write_text(AUDIT_POLICY.format(users=json.dumps(users)))
        apiserver_flags = [
            f"--audit-policy-file={policy}",
            f"--audit-log-path={audit_dir / 'audit.log'}",
            "--audit-log-format=json",
            "--audit-log-maxsize=0",
        ]
    with k8slocal.ControlPlane(
        state_dir=state_dir,
        binaries=binaries,
        nodes=1,
        runtime="fake",
        kubelet_flags=flags,
        apiserver_flags=apiserver_flags,
    ) as plane:
        admin = Rest(plane.url, plane.admin_token, plane.ca_file)
        try:
            install_crds(admin)
        finally:
            admin.close()
        plane.wait_for_garbage_collector(f"{GROUP}/v1", "JupyterNotebookInstance", INSTANCES[1])
        yield plane


class AuditCounter:
    """Requests counted from kube-apiserver's audit log, by ``verb resource`` as kubesim counts them
    (``plural.group/subresource``): a watch when its stream starts, anything else when answered."""

    def __init__(self, path: Path, user: str) -> None:
        self.path = path
        self.user = user
        self.offset = 0

    def reset(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if not self.path.exists():
            return out
        with self.path.open("rb") as f:
            f.seek(self.offset)
            for line in f:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line still being written
                if event.get("user", {}).get("username") != self.user:
                    continue
                verb, stage = event.get("verb", ""), event.get("stage")
                if stage != ("ResponseStarted" if verb == "watch" else "ResponseComplete"):
                    continue
                ref = event.get("objectRef") or {}
                if not ref.get("resource"):
                    continue
                label = ref["resource"] + (f".{ref['apiGroup']}" if ref.get("apiGroup") else "")
                label += f"/{ref['subresource']}" if ref.get("subresource") else ""
                key = f"{verb} {label}"
                out[key] = out.get(key, 0) + 1
        return out


def operator_user(template_ns: str) -> str:
    return f"system:serviceaccount:{template_ns}:{OPERATOR_SA}"


@contextmanager
def upstream_env(
    plane: k8slocal.ControlPlane,
    state_dir: Path,
    *,
    extra_namespaces: Iterable[str] = (),
    suffix: str = "",
    audit_log: Path | None = None,
) -> Iterator[UpstreamEnv]:
    """A scenario's own namespaces (unique names: the plane is shared) on ``plane``, with the chart's RBAC,
    the operator's token from the TokenRequest API and a fault proxy for it. Afterwards its namespaces
    and cluster-scoped RBAC objects are deleted (namespaces in the background).

    With ``audit_log`` (a plane started with the operator among its ``audit_users``), the operator talks to
    the API server directly, not through the proxy (no faults then), and its requests are counted from
    the audit log: for benchmarks, where a proxy would add its own latency."""
    suffix = suffix or secrets.token_hex(3)
    admin = Rest(plane.url, plane.admin_token, plane.ca_file)
    state_dir.mkdir(parents=True, exist_ok=True)
    created: list[str] = []
    namespaces: list[str] = []
    try:
        with FaultProxy(plane.url, ca_file=plane.ca_file, state_dir=state_dir / "proxy") as proxy:
            env = UpstreamEnv(plane, admin, proxy, state_dir)
            env.template_ns = f"{TEMPLATE_NS}-{suffix}"
            env.users_ns = f"{USERS_NS}-{suffix}"
            env.extra = {ns: f"{ns}-{suffix}" for ns in extra_namespaces}
            if audit_log is not None:
                env.audit = AuditCounter(audit_log, env.operator_user)
            namespaces = [env.template_ns, env.users_ns, *env.extra.values()]
            try:
                created = _install(admin, env, namespaces, f"hardening-{suffix}")
                token = _token(admin, OPERATOR_SA, env.template_ns)
                if audit_log is None:
                    env.operator_kubeconfig = proxy.write_kubeconfig(
                        state_dir / "operator.kubeconfig",
                        token,
                        user_name=env.operator_user,
                        namespace=env.template_ns,
                    )
                else:
                    env.operator_kubeconfig = kubeconfigs.write_kubeconfig(
                        state_dir / "operator.kubeconfig",
                        cluster=kubeconfigs.cluster_entry(plane.url, Path(plane.ca_file).read_bytes()),
                        user=kubeconfigs.token_user(token),
                        user_name=env.operator_user,
                        cluster_name="upstream",
                        namespace=env.template_ns,
                    )
                env.hub_token = _token(admin, HUB_SA, env.users_ns)
                env.hub_kubeconfig = kubeconfigs.write_kubeconfig(
                    state_dir / "hub.kubeconfig",
                    cluster=kubeconfigs.cluster_entry(plane.url, Path(plane.ca_file).read_bytes()),
                    user=kubeconfigs.token_user(env.hub_token),
                    user_name=f"system:serviceaccount:{env.users_ns}:{HUB_SA}",
                    cluster_name="upstream",
                    namespace=env.users_ns,
                )
                yield env
            finally:
                env.close()
    finally:
        for path in [*created, *(f"/api/v1/namespaces/{ns}" for ns in namespaces)]:
            try:
                admin.request("DELETE", path)
            except ApiError as exc:
                if exc.status != 404:
                    raise
        admin.close()


@contextmanager
def bench_env(cluster: str, work: Path, *, pods: int = 1000, history_size: int = 50000) -> Iterator[Env]:
    """An environment for one benchmark run: a fresh kubesim, or a fresh k8s-local control plane whose
    operator talks to the API server directly (its requests counted from the audit log)."""
    if cluster == "kubesim":
        with sim_env(work / "sim", pods=pods, history_size=history_size) as env:
            yield env
        return
    if cluster != "upstream":
        raise ValueError(f"unknown cluster {cluster!r} (kubesim or upstream)")
    suffix = "bench"
    audit_dir = work / "audit"
    user = operator_user(f"{TEMPLATE_NS}-{suffix}")
    with (
        upstream_plane(audit_users=[user], audit_dir=audit_dir) as plane,
        upstream_env(plane, work / "upstream", suffix=suffix, audit_log=audit_dir / "audit.log") as uenv,
    ):
        yield uenv


@contextmanager
def scenario_env(cluster: str, work: Path, *, pods: int = 1000) -> Iterator[Env]:
    """An environment for a hardening scenario at bench size: a fresh kubesim, or a fresh k8s-local
    control plane whose operator talks through a fault proxy (as in the tests)."""
    if cluster == "kubesim":
        with sim_env(work / "sim", pods=pods) as env:
            yield env
        return
    with upstream_plane() as plane, upstream_env(plane, work / "upstream") as uenv:
        yield uenv


def component_pids(env: Env) -> dict[str, int]:
    """The processes that serve the cluster, for per-component CPU figures: kubesim runs in this process;
    upstream in etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the node's kubelet."""
    if isinstance(env, UpstreamEnv):
        return dict(env.plane.pids())
    return {"kubesim": os.getpid()}


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
            out[name] = t.user + t.system
        except psutil.Error:
            out[name] = 0.0
    return out


def _token(admin: Rest, name: str, namespace: str) -> str:
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 7200},
    }
    answer = admin.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body)
    return str(answer["status"]["token"])


# ---------------------------------------------------------------------------------------------- operator


class OperatorProcess:
    """``jupyternetes operator`` in a subprocess, as it runs in its pod."""

    def __init__(self, env: Env, log_dir: Path, *, workers: int = 32, extra_args: Iterable[str] = ()) -> None:
        self.env = env
        self.log_dir = log_dir
        self.workers = workers
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.exits: list[int] = []  # exit codes of runs that ended on their own (not killed by us)
        self.peak_rss = 0
        self._sampler: threading.Thread | None = None
        self._sampling = threading.Event()

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"operator-{self.starts}.log"

    def start(self, *, wait: bool = True, timeout: float = 60) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        before = self._watch_counts()
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child, closed at once below
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyternetes.cli",
                    "operator",
                    "--standalone",
                    *self.env.operator_args(),
                    "--workers",
                    str(self.workers),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            log.close()
        self._start_sampler()
        if wait:
            self.wait_watching(before, timeout)

    def _watch_counts(self) -> dict[str, int]:
        return self.env.operator_requests(watches=True)

    def wait_watching(self, before: dict[str, int], timeout: float = 60) -> None:
        """Until the operator watches instances, pods and PVCs (kopf lists before it watches)."""
        wanted = ("watch jupyternotebookinstances.kadense.io", "watch pods", "watch persistentvolumeclaims")
        deadline = time.monotonic() + timeout
        while True:
            now = self._watch_counts()
            if all(now.get(k, 0) > before.get(k, 0) for k in wanted):
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"operator did not start watching in {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def _start_sampler(self) -> None:
        proc = self.proc
        assert proc is not None
        self._sampling.clear()

        def sample() -> None:
            try:
                p = psutil.Process(proc.pid)
                while not self._sampling.is_set() and proc.poll() is None:
                    self.peak_rss = max(self.peak_rss, p.memory_info().rss)
                    self._sampling.wait(0.1)
            except psutil.Error:
                return

        self._sampler = threading.Thread(target=sample, daemon=True, name="rss-sampler")
        self._sampler.start()

    def rss(self) -> int:
        assert self.proc is not None
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup handler runs, in-flight requests are cut wherever they are."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.kills += 1
        self.proc.wait(30)
        self._sampling.set()

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL after 20 s); returns the exit code, None if it had to be killed."""
        if self.proc is None:
            return None
        code: int | None
        if self.proc.poll() is not None:
            code = self.proc.returncode
            self.exits.append(code)
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                code = None
        self._sampling.set()
        return code

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def log_text(self) -> str:
        parts = []
        for i in range(1, self.starts + 1):
            p = self.log_dir / f"operator-{i}.log"
            if p.exists():
                parts.append(p.read_text(errors="replace"))
        return "\n".join(parts)


# ---------------------------------------------------------------------------------------------- clocks


@dataclass
class ReadyClock:
    """Timestamps (time.monotonic) of each instance's creation and first Ready=True: server-side on kubesim
    (a store listener), client-side on upstream (when the admin watch delivers the event)."""

    created: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    uids: dict[str, str] = field(default_factory=dict)

    def install(self, env: Env) -> None:
        env.listen(self._on_event)

    def _on_event(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        meta = obj["metadata"]
        name, uid = meta["name"], meta.get("uid", "")
        if kind == "ADDED":
            self.created[name] = time.monotonic()
            self.uids[name] = uid
            self.ready.pop(name, None)
            return
        if kind == "MODIFIED" and name not in self.ready and self.uids.get(name) == uid:
            for c in (obj.get("status") or {}).get("conditions") or ():
                if c.get("type") == "Ready" and c.get("status") == "True":
                    self.ready[name] = time.monotonic()

    def latencies_ms(self, names: Iterable[str]) -> list[float]:
        return [
            (self.ready[n] - self.created[n]) * 1000 for n in names if n in self.ready and n in self.created
        ]


def wait_until(
    predicate: Callable[[], Any], timeout: float, *, interval: float = 0.1, what: str | Callable[[], str] = ""
) -> Any:
    return shared_wait_until(predicate, timeout, interval=interval, message=what)


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return dict(c)
    return None


def is_ready(obj: dict[str, Any] | None) -> bool:
    c = condition(obj, "Ready")
    return bool(c and c.get("status") == "True")


def not_ready(env: Env, names: Iterable[str], namespace: str | None = None) -> list[str]:
    found = env.instances(namespace)
    return [n for n in names if not is_ready(found.get(n))]


def describe_stragglers(env: Env, names: Iterable[str], namespace: str | None = None, limit: int = 3) -> str:
    late = not_ready(env, names, namespace)
    out = [f"{len(late)} not Ready: {late[:10]}"]
    for n in late[:limit]:
        inst = env.instance(n, namespace) or {}
        out.append(f"{n}: {yaml.safe_dump((inst.get('status') or {}).get('conditions'))}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- audits


def _owner_uids(obj: dict[str, Any]) -> set[str]:
    return {str(r.get("uid")) for r in obj["metadata"].get("ownerReferences") or ()}


def audit_children(env: Env, names: Iterable[str], namespace: str | None = None) -> list[str]:
    """Problems with the children of the instances ``names`` (all of which must exist): each must have
    exactly the children of :data:`EXPECTED_CHILDREN` — found by the instance label, owned by the
    instance's current uid when they should be — and nothing else may carry the label of one of them."""
    namespace = namespace or env.users_ns
    problems: list[str] = []
    wanted = set(names)
    uids: dict[str, str] = {}
    instances = env.instances(namespace)
    for n in wanted:
        inst = instances.get(n)
        if inst is None:
            problems.append(f"instance {n} does not exist")
            continue
        uids[n] = inst["metadata"]["uid"]
    for kind, entries in EXPECTED_CHILDREN.items():
        by_instance: dict[str, list[dict[str, Any]]] = {}
        for obj in env.objects(kind, namespace):
            label = (obj["metadata"].get("labels") or {}).get(LABEL_INSTANCE)
            if label in wanted:
                by_instance.setdefault(label, []).append(obj)
        for n in sorted(wanted):
            found = by_instance.get(n, [])
            expected = {f"{n}-{entry}": owned for entry, owned in entries}
            seen: dict[str, int] = {}
            for obj in found:
                name = obj["metadata"]["name"]
                seen[name] = seen.get(name, 0) + 1
                if name not in expected:
                    problems.append(f"stray {kind[1]} {name} labelled {n}")
                    continue
                owners = _owner_uids(obj)
                if expected[name] and owners != {uids.get(n)}:
                    problems.append(f"{kind[1]} {name} owned by {owners}, not by instance uid {uids.get(n)}")
                if not expected[name] and owners:
                    problems.append(f"retained {kind[1]} {name} has owners {owners}")
                if obj["metadata"].get("deletionTimestamp"):
                    problems.append(f"{kind[1]} {name} is being deleted")
            for name in expected:
                if name not in seen:
                    problems.append(f"missing {kind[1]} {name}")
    return problems


def leftover_children(env: Env, namespace: str | None = None) -> list[str]:
    """Children left in ``namespace`` once every instance is gone, other than retained PVCs."""
    namespace = namespace or env.users_ns
    out = []
    retained = {f"-{entry}" for entry, owned in EXPECTED_CHILDREN[PVCS] if not owned}
    for kind in (PODS, PVCS, CONFIGMAPS):
        for obj in env.objects(kind, namespace):
            meta = obj["metadata"]
            if LABEL_INSTANCE not in (meta.get("labels") or {}):
                continue
            if kind == PVCS and not meta.get("ownerReferences") and meta["name"].endswith(tuple(retained)):
                continue
            out.append(f"{kind[1]}/{meta['name']}")
    return out


def _pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


def _by_name(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs}


def status_problems(env: Env, names: Iterable[str], namespace: str | None = None) -> list[str]:
    """Where an instance's status disagrees with its pods and PVCs as stored."""
    namespace = namespace or env.users_ns
    problems = []
    instances = env.instances(namespace)
    pods = _by_name(env.objects(PODS, namespace))
    pvcs = _by_name(env.objects(PVCS, namespace))
    configmaps = _by_name(env.objects(CONFIGMAPS, namespace))
    for n in names:
        inst = instances.get(n)
        if inst is None:
            problems.append(f"{n}: gone")
            continue
        status = inst.get("status") or {}
        pod = pods.get(f"{n}-notebook")
        pst = (status.get("pods") or {}).get("notebook") or {}
        if pod is None:
            problems.append(f"{n}: no pod, status says {pst.get('state')}")
            continue
        ip = (pod.get("status") or {}).get("podIP")
        if pst.get("resourceName") != pod["metadata"]["name"]:
            problems.append(f"{n}: status pod name {pst.get('resourceName')}")
        if pst.get("podAddress") != ip:
            problems.append(f"{n}: status podAddress {pst.get('podAddress')} but the pod has {ip}")
        if bool(pst.get("ready")) != _pod_ready(pod):
            problems.append(f"{n}: status ready={pst.get('ready')} but the pod's Ready is {_pod_ready(pod)}")
        if is_ready(inst) and status.get("address") != f"{ip}:8888":
            problems.append(f"{n}: status address {status.get('address')} but the pod is at {ip}:8888")
        if is_ready(inst) != _pod_ready(pod):
            problems.append(f"{n}: instance Ready={is_ready(inst)} but the pod's Ready is {_pod_ready(pod)}")
        for entry in ("work", "scratch"):
            pvc = pvcs.get(f"{n}-{entry}")
            vst = (status.get("pvcs") or {}).get(entry) or {}
            phase = ((pvc or {}).get("status") or {}).get("phase")
            if vst.get("phase") != phase:
                problems.append(f"{n}: status pvcs.{entry}.phase {vst.get('phase')} but the PVC is {phase}")
        cm = configmaps.get(f"{n}-settings")
        ost = (status.get("otherResources") or {}).get("settings") or {}
        cm_ours = cm is not None and _owner_uids(cm) == {inst["metadata"]["uid"]}
        if (ost.get("state") == "Processed") != cm_ours:
            problems.append(
                f"{n}: status otherResources.settings.state {ost.get('state')}, ConfigMap ours: {cm_ours}"
            )
        failed = condition(inst, "Failed")
        if failed and failed.get("status") == "True":
            problems.append(f"{n}: Failed {failed.get('reason')}: {failed.get('message')}")
    return problems


def create_all(rest: Rest, bodies: list[dict[str, Any]], *, threads: int = 8) -> None:
    """Create instances concurrently (as many hub requests at once as ``threads``)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(rest.create_instance, bodies))


def create_paced(rest: Rest, bodies: list[dict[str, Any]], rate: float, *, threads: int = 16) -> list[float]:
    """Create instances at ``rate`` per second (a hub under a burst of logins); returns how late each
    create was sent compared with its schedule (seconds), so a caller can tell whether the rate held."""
    from concurrent.futures import ThreadPoolExecutor

    lags: list[float] = []
    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        futures = []
        for i, body in enumerate(bodies):
            due = start + i / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)  # pacing: the schedule is the point
            lags.append(max(0.0, time.monotonic() - due))
            futures.append(pool.submit(rest.create_instance, body))
        for f in futures:
            f.result()
    return lags


def delete_all(rest: Rest, names: Iterable[str], namespace: str, *, threads: int = 8) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda n: rest.delete_instance(namespace, n), names))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
