"""End to end: a real JupyterHub with the Jupyternetes spawner (on the hub's least-privilege ServiceAccount),
its proxy, the operator and a cluster where each single-user server really runs.

By default the suite starts all of it here, twice: ``[kubesim]`` on kubesim in ``process`` mode and
``[upstream]`` on upstream Kubernetes built from source (k8s-local) with kubesim's kubelet as its node; in
both each single-user server is a real ``jupyterhub-singleuser`` process, with the operator, JupyterHub and
configurable-http-proxy (``--backends`` picks one). One stack per backend serves the session's tests (each
test uses its own users); the hub-restart test restarts only the hub.

``--cluster=kind`` runs the same tests against Zero to JupyterHub and the Jupyternetes chart on kind, as
.github/workflows/e2e-kind.yml deploys them (tests/e2e/deployments.py names the variables it reads).
The suite adds its own templates (the announcement's, and one whose image does not exist) in both cases.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
import yaml
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from jupyternetes.demo import (
    HUB_NAMESPACE,
    HUB_SERVICE_ACCOUNT,
    TEMPLATE_NAMESPACE,
    Process,
    Stack,
    StackOptions,
    demo_profiles,
)
from tests.clusters import backends, k8s_version, require_upstream
from tests.conftest import wait_until
from tests.e2e.browser import Screenshots, launch, pages, require_chromium, save_evidence
from tests.e2e.deployments import ANNOUNCEMENT_HUB, Deployment, kind_deployment

ROOT = Path(__file__).resolve().parents[2]

KIND_VALUES = Path(__file__).with_name("kind-values.yaml")

# The spawner's options, the same in both modes: the kind job's Zero to JupyterHub values hold them.
PROFILES: list[dict[str, Any]] = yaml.safe_load(KIND_VALUES.read_text())["hub"]["config"][
    "JupyternetesSpawner"
]["profile_list"]


def announcement_template(deployment: Deployment) -> dict[str, Any]:
    """fixtures/default-template.yaml, the announcement's template. On a cluster it is used verbatim; on
    kubesim, whose pods cannot resolve cluster DNS, its hub URLs point at the hub's address instead."""
    text = (ROOT / "fixtures" / "default-template.yaml").read_text()
    assert ANNOUNCEMENT_HUB in text
    if deployment.hub_api_url != deployment.announcement_hub_url:
        text = text.replace(ANNOUNCEMENT_HUB, deployment.hub_api_url)
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def data_template(namespace: str) -> dict[str, Any]:
    """The demo's second template (the profile "Data"), in the deployment's template namespace (on kind
    the chart brings only its default template)."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "fixtures" / "demo-data-template.yaml").read_text())
    data["metadata"]["namespace"] = namespace
    return data


def broken_template(namespace: str) -> dict[str, Any]:
    """One pod whose image cannot be pulled."""
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookTemplate",
        "metadata": {"name": "broken-image", "namespace": namespace},
        "spec": {
            "pods": [
                {
                    "name": "notebook",
                    "spec": {
                        "containers": [
                            {
                                "name": "notebook",
                                "image": "quay.io/jupyter/doesnotexist-notebook:2024-01-01",
                                "ports": [{"containerPort": 8888}],
                            }
                        ]
                    },
                }
            ]
        },
    }


def sized_template(namespace: str) -> dict[str, Any]:
    """A template declaring its one variable: ``size``, small or large (the profile "oversized" asks for
    huge)."""
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookTemplate",
        "metadata": {"name": "sized-template", "namespace": namespace},
        "spec": {
            "variables": [{"name": "size", "type": "enum", "enum": ["small", "large"], "default": "small"}],
            "pods": [
                {
                    "name": "notebook",
                    "labels": {"size": "{size}"},
                    "spec": {
                        "containers": [
                            {"name": "notebook", "image": "quay.io/jupyter/base-notebook:hub-5.2.1"}
                        ]
                    },
                }
            ],
        },
    }


def announcement_network_policy(namespace: str) -> dict[str, Any]:
    """Zero to JupyterHub's hub admits only pods labelled ``hub.jupyter.org/network-access-hub``; the
    announcement's template does not label its pods so, and an administrator using it adds this policy."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "e2e-announcement-template-to-hub", "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": {"component": "hub"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "podSelector": {
                                "matchExpressions": [
                                    {"key": "jupyternetes.kadense.io/userId", "operator": "Exists"}
                                ]
                            }
                        }
                    ],
                    "ports": [{"port": 8081, "protocol": "TCP"}],
                }
            ],
        },
    }


def hub_client(admin: client.ApiClient, deployment: Deployment) -> client.ApiClient:
    """A client authenticated as the hub's ServiceAccount (a TokenRequest token), nothing else: the admin
    kubeconfig's client certificate, if any, is dropped so that it cannot take precedence."""
    core = client.CoreV1Api(admin)
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    token = core.create_namespaced_service_account_token(
        deployment.hub_service_account, deployment.namespace, request
    ).status.token
    cfg = copy.copy(admin.configuration)
    cfg.cert_file = None
    cfg.key_file = None
    cfg.refresh_api_key_hook = None
    cfg.api_key = {"authorization": f"Bearer {token}"}
    cfg.api_key_prefix = {}
    return client.ApiClient(cfg)


class Hub:
    """The deployment, seen the way the tests use it."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.url = deployment.url
        self.namespace = deployment.namespace
        admin = config.new_client_from_config(deployment.kubeconfig)
        self.core = client.CoreV1Api(admin)
        self.custom = client.CustomObjectsApi(admin)
        self.dynamic = DynamicClient(admin)
        self.hub_api_client = hub_client(admin, deployment)

    # --- hub REST API (as the admin service)

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        r = requests.request(
            method,
            f"{self.url}/hub/api{path}",
            json=body,
            headers={"Authorization": f"token {token or self.deployment.api_token}"},
            timeout=30,
        )
        try:
            return r.status_code, r.json() if r.content else None
        except ValueError:
            return r.status_code, r.text

    def create_user(self, name: str) -> None:
        status, body = self.api("POST", f"/users/{name}")
        assert status in (201, 409), body

    def user_token(self, name: str) -> str:
        status, body = self.api("POST", f"/users/{name}/tokens", {"note": "e2e"})
        assert status == 201, body
        return str(body["token"])

    def server(self, name: str, server: str = "") -> dict[str, Any] | None:
        status, body = self.api("GET", f"/users/{name}")
        assert status == 200, body
        result: dict[str, Any] | None = (body.get("servers") or {}).get(server)
        return result

    def spawn(self, name: str, server: str = "", options: dict[str, Any] | None = None) -> tuple[int, Any]:
        path = f"/users/{name}/servers/{server}" if server else f"/users/{name}/server"
        return self.api("POST", path, options or {})

    def spawn_and_wait(
        self, name: str, server: str = "", options: dict[str, Any] | None = None, timeout: float = 90
    ) -> float:
        """Spawn through the REST API and wait until the hub reports the server ready; seconds taken."""
        self.create_user(name)
        started = time.monotonic()
        status, body = self.spawn(name, server, options)
        assert status in (201, 202), body
        wait_until(
            lambda: (self.server(name, server) or {}).get("ready"),
            timeout,
            message=lambda: f"{name}'s server {server!r} ready\n{self.diagnose(name, server)}",
        )
        return time.monotonic() - started

    def diagnose(self, name: str, server: str = "") -> str:
        """What a person would look at when a server does not come up: the hub's view of it, the user's
        instances, pods and their Events as the cluster has them, and the ends of the hub's and the
        operator's logs."""
        try:
            entry = f"the hub's server entry: {self.server(name, server)!r}\n"
        except (AssertionError, requests.RequestException) as exc:
            entry = f"the hub's server entry: not readable ({exc})\n"
        return entry + describe_user(self.core, self.custom, self.namespace, name) + self.deployment.logs()

    def stop(self, name: str, server: str = "") -> None:
        path = f"/users/{name}/servers/{server}" if server else f"/users/{name}/server"
        status, body = self.api("DELETE", path)
        assert status in (202, 204), body
        wait_until(
            lambda: self.server(name, server) is None,
            90,
            message=lambda: f"{name}'s server {server!r} stopped\n{self.diagnose(name, server)}",
        )

    # --- through the proxy

    def get(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"token {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=10, allow_redirects=False, **kw)

    def login(self, name: str) -> requests.Session:
        """A browser-like session (cookies, redirects) logged in to the hub with the password form."""
        session = requests.Session()
        session.get(f"{self.url}/hub/login", timeout=10).raise_for_status()
        r = session.post(
            f"{self.url}/hub/login",
            timeout=10,
            data={
                "username": name,
                "password": self.deployment.password,
                "_xsrf": session.cookies.get("_xsrf"),
            },
        )
        r.raise_for_status()
        assert session.cookies.get("jupyterhub-session-id"), "logged in"
        return session

    # --- the cluster (as its admin, for assertions)

    def instance(self, name: str) -> dict[str, Any] | None:
        try:
            out: dict[str, Any] = self.custom.get_namespaced_custom_object(
                "kadense.io", "v1", self.namespace, "jupyternotebookinstances", name
            )
            return out
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def pod(self, name: str) -> Any:
        return _or_none(lambda: self.core.read_namespaced_pod(name, self.namespace))

    def pvc(self, name: str) -> Any:
        return _or_none(lambda: self.core.read_namespaced_persistent_volume_claim(name, self.namespace))

    def secret(self, name: str) -> Any:
        return _or_none(lambda: self.core.read_namespaced_secret(name, self.namespace))

    def apply(self, obj: dict[str, Any]) -> None:
        """Server-side apply ``obj`` as the admin (created, or made so if it is there already)."""
        meta = obj["metadata"]
        resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        self.dynamic.server_side_apply(
            resource,
            body=obj,
            name=meta["name"],
            namespace=meta.get("namespace"),
            field_manager="jupyternetes-e2e",
            force_conflicts=True,
        )


def describe_user(core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, user: str) -> str:
    """The user's instances, pods and the Events about them (what `kubectl describe` would show), for the
    message of a failing test. What cannot be read is said so: the failure it explains stays the one shown."""
    try:
        return _describe_user(core, custom, namespace, user)
    except (client.ApiException, urllib3.exceptions.HTTPError) as exc:
        return f"the user's objects: not readable ({exc})"


def _describe_user(core: client.CoreV1Api, custom: client.CustomObjectsApi, namespace: str, user: str) -> str:
    prefix = f"jupyter-{user}"
    lines = []
    found = custom.list_namespaced_custom_object("kadense.io", "v1", namespace, "jupyternotebookinstances")
    for item in found.get("items", []):
        if item["metadata"]["name"].startswith(prefix):
            lines.append(f"instance {item['metadata']['name']}: {item.get('status')!r}")
    for pod in core.list_namespaced_pod(namespace).items:
        if pod.metadata.name.startswith(prefix):
            status = pod.status
            conditions = " ".join(
                f"{c.type}={c.status} {c.reason or ''} {c.message or ''}" for c in status.conditions or ()
            )
            states = [c.state.to_dict() for c in status.container_statuses or ()]
            lines.append(
                f"pod {pod.metadata.name}: {status.phase} node={pod.spec.node_name} {conditions} {states}"
            )
    for event in core.list_namespaced_event(namespace).items:
        if event.involved_object.name and event.involved_object.name.startswith(prefix):
            source = event.source.component if event.source else ""
            lines.append(
                f"event {event.last_timestamp or event.event_time} {event.involved_object.kind}/"
                f"{event.involved_object.name} {event.type} {event.reason} ({source}): {event.message}"
                f" (x{event.count or 1})"
            )
    return "\n".join(lines)


def _or_none(fn: Any) -> Any:
    try:
        return fn()
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def progress_events(hub: Hub, name: str, server: str = "", limit: float = 30) -> list[dict[str, Any]]:
    """The hub's progress stream (server-sent events) for a spawn, until it ends."""
    path = (
        f"/hub/api/users/{name}/servers/{server}/progress"
        if server
        else f"/hub/api/users/{name}/server/progress"
    )
    events = []
    with requests.get(
        hub.url + path,
        headers={"Authorization": f"token {hub.deployment.api_token}"},
        stream=True,
        timeout=limit,
    ) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                events.append(json.loads(line[5:]))
    return events


def run_concurrently(fn: Any, args: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(args)) as pool:
        return list(pool.map(fn, args))


def sim_deployment(stack: Stack) -> Deployment:
    return Deployment(
        url=stack.hub_url,
        api_token=stack.api_token,
        namespace=HUB_NAMESPACE,
        template_namespace=TEMPLATE_NAMESPACE,
        default_template="default-template",
        hub_service_account=HUB_SERVICE_ACCOUNT,
        hub_api_url=stack.hub_api_url,
        password=stack.password,
        kubeconfig=stack.admin_kubeconfig,
        pods_reachable=True,
        fail_fast_seconds=15,
        stop_hub=stack.stop_hub,
        start_hub=stack.start_hub,
        logs=lambda: _log_tails(stack),
    )


def _log_tails(stack: Stack, lines: int = 40) -> str:
    def tail(proc: Process) -> str:
        # Without the hub's access lines of the suite's own polling (a wait asks every 20 ms).
        kept = [line for line in proc.tail(lines * 50).splitlines() if not _POLLING.search(line)]
        return "\n".join(kept[-lines:])

    return "".join(
        f"\n--- the end of {proc.log_path} ({proc.name}):\n{tail(proc)}\n"
        for proc in (stack.hub, stack.operator)
        if proc is not None
    )


_POLLING = re.compile(r" 200 GET /hub/api/users/[^ ]+ \(")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """A browser test that fails leaves the page's screenshot and console log, named in its report."""
    report: pytest.TestReport = yield
    if report.when == "call":
        save_evidence(item, report)
    return report


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), for one test. Not for longer: Playwright's sync API keeps an asyncio
    loop running on the main thread while it is started, and every later test's ``asyncio.run`` (the
    stack's admin calls, pytest-asyncio) would fail with "cannot be called from a running event loop"."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as playwright:
        launched = launch(playwright, executable)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A new browser context and page; a failing test leaves a screenshot and the console log."""
    yield from pages(browser, request, tmp_path)


@pytest.fixture(scope="session")
def screenshots() -> Screenshots:
    return Screenshots(os.environ.get("JUPYTERNETES_SCREENSHOTS"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "local_stack: starts a local stack of its own (not with --cluster=kind)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every e2e test runs once per local backend (or once against the kind deployment)."""
    if "backend" not in metafunc.fixturenames:
        return
    params = ["kind"] if metafunc.config.getoption("--cluster") == "kind" else backends(metafunc.config)
    metafunc.parametrize("backend", params, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of the local stacks themselves (``stack``, or marked ``local_stack``: they start one of their
    own) have nothing to run against a kind deployment: with --cluster=kind they are deselected, not
    skipped."""
    if config.getoption("--cluster") != "kind":
        return
    local = [
        item
        for item in items
        if "stack" in getattr(item, "fixturenames", ()) or item.get_closest_marker("local_stack")
    ]
    if local:
        config.hook.pytest_deselected(items=local)
        items[:] = [item for item in items if item not in local]


@pytest.fixture(scope="session")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, backend: str
) -> Iterator[Stack]:
    """The local stack of one backend (kubesim or upstream), for the whole session."""
    if backend == "upstream":
        require_upstream(request.config)
    opts = StackOptions(
        cluster=backend,
        state_dir=tmp_path_factory.mktemp(f"e2e-{backend}"),
        hub_port=0,
        template_namespaces=(TEMPLATE_NAMESPACE, "kadense"),
        profiles=PROFILES,
        extra_hub_config="c.Spawner.poll_interval = 1\n",
        start_timeout=60,
        kubernetes_version=k8s_version(request.config) if backend == "upstream" else "",
    )
    with Stack(opts, say=lambda msg: None) as started:
        yield started


@pytest.fixture(scope="session")
def deployment(request: pytest.FixtureRequest, backend: str) -> Iterator[Deployment]:
    if backend == "kind":
        try:
            found = kind_deployment(os.environ)
        except ValueError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield found
        return
    yield sim_deployment(request.getfixturevalue("stack"))


@pytest.fixture(scope="session")
def hub(deployment: Deployment) -> Hub:
    """The deployment, with the suite's own templates in place."""
    hub = Hub(deployment)
    for obj in (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kadense"}},
        announcement_template(deployment),
        broken_template(deployment.template_namespace),
        data_template(deployment.template_namespace),
        sized_template(deployment.template_namespace),
        announcement_network_policy(deployment.namespace),
    ):
        hub.apply(obj)
    default = hub.custom.get_namespaced_custom_object(
        "kadense.io",
        "v1",
        deployment.template_namespace,
        "jupyternotebooktemplates",
        deployment.default_template,
    )
    for name, extra in (("brief-template", {"maxLifetime": "20s"}), ("changing-template", {})):
        hub.apply(
            {
                "apiVersion": "kadense.io/v1",
                "kind": "JupyterNotebookTemplate",
                "metadata": {"name": name, "namespace": deployment.template_namespace},
                "spec": {**copy.deepcopy(default["spec"]), **extra},
            }
        )
    return hub


@pytest.fixture(scope="session")
def demo_hub(request: pytest.FixtureRequest, hub: Hub, backend: str) -> Iterator[Hub]:
    """The hub as `make demo` configures it (its profiles, fixtures/demo-profiles.yaml), on the suite's
    cluster and operator: a second hub and proxy beside the suite's. What the browser test shows, and so
    the pictures in the docs, is what a visitor of the demo sees. With --cluster=kind: the deployment's
    hub (its values offer the demo's "Data" profile too)."""
    if backend == "kind":
        yield hub
        return
    stack: Stack = request.getfixturevalue("stack")
    other = Stack(
        StackOptions(
            state_dir=stack.state_dir,
            hub_port=0,
            hub_name="hub-demo",
            password=stack.password,
            profiles=demo_profiles(),
            extra_hub_config="c.Spawner.poll_interval = 1\n",
            start_timeout=60,
        ),
        say=lambda msg: None,
    )
    other.admin_kubeconfig = stack.admin_kubeconfig
    other.hub_kubeconfig = stack.hub_kubeconfig
    try:
        other.start_proxy()
        other.start_hub()
        yield Hub(sim_deployment(other))
    finally:
        other.stop()
