"""The hardening scenarios' machinery, shared by the tests (small sizes) and bench/ (full sizes).

- :class:`SimEnv`: a kubesim cluster (served from a background thread) with the CRDs, the namespaces, a
  ServiceAccount for the operator and one for the hub, and a small REST client that retries what a real
  client retries (so the scenario itself survives the faults it injects).
- :class:`OperatorProcess`: ``jupyternetes operator`` as a real subprocess: started, SIGKILLed, restarted,
  its RSS sampled.
- :class:`ReadyClock`: a kubesim store listener that stamps each instance's creation and its first
  ``Ready=True`` on the server's side, so latencies need no polling.
- :func:`audit_children` / :func:`status_problems`: the checks that every instance has exactly the
  children its template asks for (by instance label and owner uid, read from the store directly, never
  through injected faults) and that its status says what the pods say.

Sizes: the tests run scaled down; ``JUPYTERNETES_HARDENING_FULL=1`` runs them at the issue's sizes (300
instances), and the bench scripts (bench/crash_restart.py, bench/faults.py, bench/burst.py) pass their own.
"""

from __future__ import annotations

import os
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

import kubesim
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
FULL = os.environ.get("JUPYTERNETES_HARDENING_FULL", "") not in ("", "0", "false")


def size(small: int, full: int) -> int:
    """The scenario size: ``small`` in ``make test``, ``full`` with JUPYTERNETES_HARDENING_FULL=1."""
    return full if FULL else small


# The template of the hardening scenarios: a retained PVC, a PVC deleted with the instance, one pod and
# one other resource, so each kind of child (owned or not) is checked for duplicates and strays.
def hardening_template(name: str = "hardened", namespace: str = TEMPLATE_NS) -> dict[str, Any]:
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


def simple_template(name: str = "simple", namespace: str = TEMPLATE_NS) -> dict[str, Any]:
    """A notebook server as most hubs run it: one retained PVC and one pod (bench/provision.py's)."""
    full = hardening_template(name, namespace)
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


def instance_body(
    name: str, *, template: str = "hardened", namespace: str = USERS_NS, **variables: str
) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": {"name": template, "namespace": TEMPLATE_NS},
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


@dataclass
class SimEnv:
    cluster: kubesim.Cluster
    admin: Rest
    operator_kubeconfig: str
    hub_kubeconfig: str
    hub_token: str
    operator_user: str = f"system:serviceaccount:{TEMPLATE_NS}:{OPERATOR_SA}"

    def objects(self, key: tuple[str, str], namespace: str | None = None) -> list[dict[str, Any]]:
        """Stored objects, read from kubesim's store (no HTTP, no injected faults)."""
        return self.cluster.store.list(key, namespace)

    def instance(self, name: str, namespace: str = USERS_NS) -> dict[str, Any] | None:
        return self.cluster.store.get(INSTANCES, namespace, name)

    def hub(self) -> Rest:
        return Rest(self.cluster.url, self.hub_token, self.cluster.ca_file)


@contextmanager
def sim_env(
    state_dir: Path, *, pods: int = 1000, history_size: int = 50000, extra_namespaces: Iterable[str] = ()
) -> Iterator[SimEnv]:
    """A kubesim cluster with the CRDs, namespaces ``kadense`` (templates, operator) and ``users``
    (instances), the operator's ServiceAccount (cluster-admin, as broad as any chart would grant: the
    scenarios check what the operator *does*, not what RBAC stops it from doing) and a hub ServiceAccount
    that may only create, read and delete instances in ``users``."""
    capacity = {"pods": str(pods), "cpu": "100000", "memory": "100000Gi"}
    with kubesim.Cluster(
        state_dir=state_dir, history_size=history_size, kubelet={"node_capacity": capacity}
    ) as cluster:
        admin = Rest(cluster.url, cluster.admin_token, cluster.ca_file)
        try:
            for crd in sorted((ROOT / "crds").glob("*.yaml")):
                admin.create(
                    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml.safe_load(crd.read_text())
                )
            for ns in (TEMPLATE_NS, USERS_NS, *extra_namespaces):
                admin.create("/api/v1/namespaces", {"metadata": {"name": ns}})
            admin.create(
                f"/api/v1/namespaces/{TEMPLATE_NS}/serviceaccounts", {"metadata": {"name": OPERATOR_SA}}
            )
            admin.create(f"/api/v1/namespaces/{USERS_NS}/serviceaccounts", {"metadata": {"name": HUB_SA}})
            admin.create(
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                {
                    "metadata": {"name": "jupyternetes-operator"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_SA, "namespace": TEMPLATE_NS}],
                },
            )
            admin.create(
                f"/apis/rbac.authorization.k8s.io/v1/namespaces/{USERS_NS}/roles",
                {
                    "metadata": {"name": "hub"},
                    "rules": [
                        {
                            "apiGroups": [GROUP],
                            "resources": ["jupyternotebookinstances"],
                            "verbs": ["create", "get", "list", "watch", "delete"],
                        }
                    ],
                },
            )
            admin.create(
                f"/apis/rbac.authorization.k8s.io/v1/namespaces/{USERS_NS}/rolebindings",
                {
                    "metadata": {"name": "hub"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "hub"},
                    "subjects": [{"kind": "ServiceAccount", "name": HUB_SA, "namespace": USERS_NS}],
                },
            )
            env = SimEnv(
                cluster=cluster,
                admin=admin,
                operator_kubeconfig=cluster.kubeconfig_for(OPERATOR_SA, TEMPLATE_NS),
                hub_kubeconfig=cluster.kubeconfig_for(HUB_SA, USERS_NS),
                hub_token=cluster.token_for(HUB_SA, USERS_NS),
            )
            yield env
        finally:
            admin.close()


# ---------------------------------------------------------------------------------------------- operator


class OperatorProcess:
    """``jupyternetes operator`` in a subprocess, as it runs in its pod."""

    def __init__(
        self, env: SimEnv, log_dir: Path, *, workers: int = 32, extra_args: Iterable[str] = ()
    ) -> None:
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
                    "--all-namespaces",
                    "--standalone",
                    "--template-namespace",
                    TEMPLATE_NS,
                    "--operator-namespace",
                    TEMPLATE_NS,
                    "--kubeconfig",
                    self.env.operator_kubeconfig,
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
        counts = self.env.cluster.requests.by("verb", "resource", user=self.env.operator_user)
        return {k: v for k, v in counts.items() if k.startswith("watch ")}

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
    """Server-side timestamps (time.monotonic) of each instance's creation and first Ready=True."""

    namespace: str = USERS_NS
    created: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    uids: dict[str, str] = field(default_factory=dict)

    def install(self, cluster: kubesim.Cluster) -> None:
        cluster.store.listeners.append(self._on_event)

    def _on_event(self, key: tuple[str, str], event: Any) -> None:
        if key != INSTANCES:
            return
        meta = event.obj["metadata"]
        if meta.get("namespace") != self.namespace:
            return
        name, uid = meta["name"], meta.get("uid", "")
        if event.type == "ADDED":
            self.created[name] = time.monotonic()
            self.uids[name] = uid
            self.ready.pop(name, None)
            return
        if event.type == "MODIFIED" and name not in self.ready and self.uids.get(name) == uid:
            for c in (event.obj.get("status") or {}).get("conditions") or ():
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


def not_ready(env: SimEnv, names: Iterable[str], namespace: str = USERS_NS) -> list[str]:
    return [n for n in names if not is_ready(env.instance(n, namespace))]


def describe_stragglers(env: SimEnv, names: Iterable[str], namespace: str = USERS_NS, limit: int = 3) -> str:
    late = not_ready(env, names, namespace)
    out = [f"{len(late)} not Ready: {late[:10]}"]
    for n in late[:limit]:
        inst = env.instance(n, namespace) or {}
        out.append(f"{n}: {yaml.safe_dump((inst.get('status') or {}).get('conditions'))}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- audits


def _owner_uids(obj: dict[str, Any]) -> set[str]:
    return {str(r.get("uid")) for r in obj["metadata"].get("ownerReferences") or ()}


def audit_children(env: SimEnv, names: Iterable[str], namespace: str = USERS_NS) -> list[str]:
    """Problems with the children of the instances ``names`` (all of which must exist): each must have
    exactly the children of :data:`EXPECTED_CHILDREN` — found by the instance label, owned by the
    instance's current uid when they should be — and nothing else may carry the label of one of them."""
    problems: list[str] = []
    wanted = set(names)
    uids: dict[str, str] = {}
    for n in wanted:
        inst = env.instance(n, namespace)
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


def leftover_children(env: SimEnv, namespace: str = USERS_NS) -> list[str]:
    """Children left in ``namespace`` once every instance is gone, other than retained PVCs."""
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


def status_problems(env: SimEnv, names: Iterable[str], namespace: str = USERS_NS) -> list[str]:
    """Where an instance's status disagrees with its pods and PVCs as stored."""
    problems = []
    for n in names:
        inst = env.instance(n, namespace)
        if inst is None:
            problems.append(f"{n}: gone")
            continue
        status = inst.get("status") or {}
        pod = env.cluster.store.get(PODS, namespace, f"{n}-notebook")
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
            pvc = env.cluster.store.get(PVCS, namespace, f"{n}-{entry}")
            vst = (status.get("pvcs") or {}).get(entry) or {}
            phase = ((pvc or {}).get("status") or {}).get("phase")
            if vst.get("phase") != phase:
                problems.append(f"{n}: status pvcs.{entry}.phase {vst.get('phase')} but the PVC is {phase}")
        cm = env.cluster.store.get(CONFIGMAPS, namespace, f"{n}-settings")
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


def delete_all(rest: Rest, names: Iterable[str], namespace: str = USERS_NS, *, threads: int = 8) -> None:
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
