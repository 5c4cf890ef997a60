"""The two API servers the suites run on: kubesim (ours) and upstream Kubernetes built from source.

A test that takes the ``cluster`` fixture runs once per backend (``[kubesim]`` and ``[upstream]``) with the
same code and the same assertions, against a ``ClusterUnderTest``: the URL, the admin credentials, a
kubeconfig and a namespace of its own. On kubesim every test gets a fresh cluster; on upstream one control
plane (k8s-local, with one kubesim kubelet node running the fake runtime, as kubesim has) serves the whole
session, so each test gets a fresh namespace and, afterwards, whatever
cluster-scoped objects it created are deleted (and waited for, since the next test may reuse their names).

Tests of kubesim's own features (fault injection, its CLI, its store) take ``sim`` instead: a plain
``kubesim.Cluster``, kubesim only.
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import k8slocal
import kubesim
from k8slocal.versions import Release
from kubesim import kubeconfig as kubeconfigs

BACKENDS = ("kubesim", "upstream")

# Cluster-scoped kinds tests create; what a test adds is removed after it (the session's own nodes are in
# the baseline; IP addresses are the cluster's own, APIServices follow their CRDs).
CLUSTER_SCOPED = (
    ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions"),
    ("/apis/rbac.authorization.k8s.io/v1", "clusterroles"),
    ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings"),
    ("/apis/storage.k8s.io/v1", "storageclasses"),
    ("/apis/scheduling.k8s.io/v1", "priorityclasses"),
    ("/apis/admissionregistration.k8s.io/v1", "validatingwebhookconfigurations"),
    ("/apis/admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations"),
    ("/api/v1", "persistentvolumes"),
    ("/api/v1", "nodes"),
    ("/api/v1", "namespaces"),
)


@dataclass
class ClusterUnderTest:
    """What a test sees of the cluster it runs on, whichever the backend."""

    backend: str
    url: str
    admin_token: str
    ca_file: str
    kubeconfig: str
    namespace: str
    state_dir: Path
    sim: kubesim.Cluster | None = None
    plane: k8slocal.ControlPlane | None = None
    # The namespaces of the test (``namespace`` and those of ``add_namespace``), deleted after it.
    namespaces: list[str] = field(default_factory=list)
    _ssl: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def upstream(self) -> bool:
        return self.backend == "upstream"

    @property
    def release(self) -> Release:
        """The Kubernetes release the cluster serves: upstream's build (the test matrix runs several), or
        the one kubesim emulates (k8s-local's default)."""
        if self.plane is not None and self.plane.binaries is not None:
            return Release.parse(self.plane.binaries.version)
        return Release.parse(k8slocal.DEFAULT_VERSION)

    def upstream_since(self, minor: int) -> bool:
        """Upstream at ``1.<minor>`` or later: where a test's expectation follows a change of upstream's
        behaviour in that minor (kubesim emulates 1.34; the test matrix runs the newer minors too)."""
        return self.upstream and self.release.minor >= minor

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self.ca_file)
        return self._ssl

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        """One JSON request as the admin (or ``token``): (status, decoded body); never raises on HTTP
        errors."""
        return _request(self.url, self.ssl_context(), token or self.admin_token, method, path, body)

    def add_namespace(self, suffix: str) -> str:
        """Another namespace of the test's own, ``<namespace>-<suffix>`` (unique like the first one),
        created with its ``default`` ServiceAccount and deleted after the test like the first one."""
        name = f"{self.namespace}-{suffix}"
        create_namespace(self, name)
        self.namespaces.append(name)
        return name

    def token_for(self, name: str, namespace: str | None = None, expiration_seconds: int = 3600) -> str:
        """A token of the ServiceAccount (which must exist) from the TokenRequest API."""
        ns = namespace or self.namespace
        status, body = self.request(
            "POST",
            f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": expiration_seconds},
            },
        )
        if status != 201:
            raise LookupError(f"TokenRequest for {ns}/{name} failed: HTTP {status} {body}")
        return str(body["status"]["token"])

    def kubeconfig_for(self, name: str, namespace: str | None = None, path: str | None = None) -> str:
        """A kubeconfig authenticating as the ServiceAccount ``namespace/name``; returns its path."""
        ns = namespace or self.namespace
        return kubeconfigs.write_kubeconfig(
            path or self.state_dir / f"kubeconfig-{ns}-{name}",
            cluster=kubeconfigs.cluster_entry(self.url, Path(self.ca_file).read_bytes()),
            user=kubeconfigs.token_user(self.token_for(name, ns)),
            user_name=f"system:serviceaccount:{ns}:{name}",
            cluster_name=self.backend,
            namespace=ns,
        )

    def node_kubeconfig(self, node: str) -> str:
        """A kubeconfig for a kubelet agent named ``node``: on upstream a client certificate of
        ``system:node:<node>`` in ``system:nodes`` (the Node authorizer and NodeRestriction check it); on
        kubesim, which has neither client certificates nor a Node authorizer, the admin's."""
        if self.plane is not None:
            path = self.state_dir / f"node-{node}.kubeconfig"
            return str(self.plane.add_user(f"system:node:{node}", ["system:nodes"], path=path))
        return self.kubeconfig


def _request(
    url: str, context: ssl.SSLContext, token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15, context=context) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def test_namespace_name(request: pytest.FixtureRequest) -> str:
    """A namespace name unique to the test, readable in logs: t-<test name>-<random>."""
    stem = "".join(ch if ch.isalnum() else "-" for ch in request.node.originalname.lower())
    stem = stem.removeprefix("test-").strip("-")[:40].strip("-")
    return f"t-{stem}-{secrets.token_hex(3)}"


def create_namespace(cut: ClusterUnderTest, name: str, timeout: float = 30.0) -> None:
    """Create the namespace and wait for its ``default`` ServiceAccount (pods need it: the ServiceAccount
    admission plugin refuses a pod whose ServiceAccount does not exist yet)."""
    status, body = cut.request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    if status != 201:
        raise AssertionError(f"creating namespace {name}: HTTP {status} {body}")
    deadline = time.monotonic() + timeout
    while cut.request("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default")[0] != 200:
        if time.monotonic() > deadline:
            raise AssertionError(f"namespace {name} got no default ServiceAccount within {timeout} s")
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------ upstream


@dataclass
class Upstream:
    """The session's upstream control plane and what it held before any test ran."""

    plane: k8slocal.ControlPlane
    baseline: dict[str, set[str]]
    # Per-test namespaces: unique names, so nothing waits for their deletion to finish.
    test_namespaces: set[str] = field(default_factory=set)

    def cluster_scoped(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for prefix, plural in CLUSTER_SCOPED:
            status, body = self.plane.request("GET", f"{prefix}/{plural}")
            if status != 200:
                raise AssertionError(f"listing {plural} on upstream: HTTP {status} {body}")
            found[plural] = {item["metadata"]["name"] for item in body.get("items", [])}
        return found

    def keep(self, prefix: str, plural: str, body: dict[str, Any]) -> None:
        """Create a cluster-scoped object that the session's tests share (the project's CRDs, say) and add
        it to the baseline, so it is not removed after each test. One that exists already is left as it
        is. Call it from a session fixture, between tests (not while a test's objects are present)."""
        name = body["metadata"]["name"]
        status, answer = self.plane.request("POST", f"{prefix}/{plural}", body)
        if status not in (201, 409):
            raise AssertionError(f"creating {plural}/{name} for the session: HTTP {status} {answer}")
        self.baseline[plural].add(name)

    def remove_leftovers(self, namespaces: Collection[str], timeout: float = 90.0) -> None:
        """Delete the cluster-scoped objects tests created; wait until they are gone (names get reused),
        except test namespaces (unique names: their deletion goes on in the background)."""
        waiting: list[str] = []
        for (prefix, plural), names in zip(CLUSTER_SCOPED, self.cluster_scoped().values(), strict=True):
            for name in sorted(names - self.baseline[plural]):
                path = f"{prefix}/{plural}/{name}"
                if plural == "namespaces" and name in self.test_namespaces:
                    if name in namespaces:
                        self.plane.request("DELETE", path)
                    continue
                status, body = self.plane.request("DELETE", path)
                if status not in (200, 202, 404, 409):
                    raise AssertionError(f"deleting {path} after the test: HTTP {status} {body}")
                if plural != "persistentvolumes":  # held by pv-protection until their claims go
                    waiting.append(path)
        deadline = time.monotonic() + timeout
        while waiting:
            waiting = [p for p in waiting if self.plane.request("GET", p)[0] != 404]
            if waiting and time.monotonic() > deadline:
                raise AssertionError(f"still present {timeout} s after deletion: {waiting}")
            time.sleep(0.05)


def k8s_version(config: pytest.Config) -> str:
    """The upstream release the session runs: --k8s-version, else $JUPYTERNETES_K8S_VERSION, else
    k8s-local's default (make test-matrix and tox's upstream-1.3N set the variable)."""
    chosen = config.getoption("--k8s-version") or os.environ.get("JUPYTERNETES_K8S_VERSION") or ""
    if not chosen.strip():
        return k8slocal.DEFAULT_VERSION
    try:
        return Release.parse(chosen).tag
    except ValueError as exc:
        raise pytest.UsageError(f"--k8s-version / JUPYTERNETES_K8S_VERSION: {exc}") from exc


def require_upstream(config: pytest.Config) -> None:
    """Upstream needs Go to build its binaries (or binaries in the cache). Without them the upstream half
    of the suite is skipped with the reason, and under CI it fails: CI must run both backends."""
    if k8slocal.find(k8s_version(config)) is not None:
        return
    import shutil

    if shutil.which("go") is None:
        reason = (
            "upstream Kubernetes is built from source and `go` is not on PATH: install Go 1.24+ "
            "(then `make k8s`), or run with --backends=kubesim"
        )
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def upstream(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    require_upstream(request.config)
    version = k8s_version(request.config)
    binaries = k8slocal.find(version)
    if binaries is None:  # `make test` builds them first (make k8s); a bare pytest run builds here
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            binaries = k8slocal.ensure(version)
    state = tmp_path_factory.mktemp("k8s-local")
    # One node running the fake runtime, as kubesim.Cluster() has: pods are scheduled and "run".
    with k8slocal.ControlPlane(
        version=version, state_dir=state, binaries=binaries, nodes=1, runtime="fake"
    ) as plane:
        up = Upstream(plane, {})
        up.baseline = up.cluster_scoped()
        yield up


def backends(config: pytest.Config) -> list[str]:
    chosen = [b.strip() for b in str(config.getoption("--backends")).split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown:
        raise pytest.UsageError(f"--backends: unknown {unknown}; choose from {', '.join(BACKENDS)}")
    return chosen


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClusterUnderTest]:
    """The cluster of one test: a fresh kubesim, or a fresh namespace on the session's upstream."""
    backend: str = request.param
    ns = test_namespace_name(request)
    if backend == "kubesim":
        with kubesim.Cluster(state_dir=tmp_path / "kubesim") as sim:
            cut = ClusterUnderTest(
                "kubesim", sim.url, sim.admin_token, sim.ca_file, sim.kubeconfig, ns, tmp_path, sim=sim
            )
            create_namespace(cut, ns)
            cut.namespaces.append(ns)
            _write_namespaced_kubeconfig(cut)
            yield cut
        return
    up: Upstream = request.getfixturevalue("upstream")
    plane = up.plane
    cut = ClusterUnderTest(
        "upstream", plane.url, plane.admin_token, plane.ca_file, plane.kubeconfig, ns, tmp_path, plane=plane
    )
    up.test_namespaces.add(ns)
    create_namespace(cut, ns)
    cut.namespaces.append(ns)
    _write_namespaced_kubeconfig(cut)
    try:
        yield cut
    finally:
        up.test_namespaces.update(cut.namespaces)
        up.remove_leftovers(cut.namespaces)


def _write_namespaced_kubeconfig(cut: ClusterUnderTest) -> None:
    """The admin kubeconfig with the test's namespace as its default (kubectl and helm use it)."""
    import yaml

    config = yaml.safe_load(Path(cut.kubeconfig).read_text())
    config["contexts"][0]["context"]["namespace"] = cut.namespace
    target = cut.state_dir / "admin.kubeconfig"
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    target.chmod(0o600)
    cut.kubeconfig = str(target)


@pytest.fixture
def ns(cluster: ClusterUnderTest) -> str:
    """The test's own namespace on its cluster (created, with its default ServiceAccount)."""
    return cluster.namespace
