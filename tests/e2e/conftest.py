"""End to end: a real JupyterHub (with the Jupyternetes spawner, on the hub's least-privilege
ServiceAccount token), configurable-http-proxy, the operator and kubesim in ``process`` mode, where each
single-user server is a real ``jupyterhub-singleuser`` process.

One stack serves the whole session (each test uses its own users): starting it takes a few seconds, and
the hub-restart test restarts only the hub.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from kubernetes import client, config

from jupyternetes.demo import HUB_NAMESPACE, Stack, StackOptions, default_templates
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]

ANNOUNCEMENT_HUB = "http://hub.{jupyterhub.namespace}.svc.cluster.local:8081"

PROFILES = [
    {
        "display_name": "Default",
        "slug": "default",
        "default": True,
        "description": "fixtures/demo-template.yaml",
    },
    {
        "display_name": "The announcement's template",
        "slug": "announcement",
        "template": "default-template",
        "template_namespace": "kadense",
    },
    {"display_name": "An image that does not exist", "slug": "broken", "template": "broken-image"},
]


def announcement_template(hub_api_url: str) -> dict[str, Any]:
    """fixtures/default-template.yaml (the announcement's, verbatim), its hub URLs pointing at this hub."""
    text = (ROOT / "fixtures" / "default-template.yaml").read_text()
    assert ANNOUNCEMENT_HUB in text
    data: dict[str, Any] = yaml.safe_load(text.replace(ANNOUNCEMENT_HUB, hub_api_url))
    return data


def broken_template() -> dict[str, Any]:
    template = copy.deepcopy(default_templates()[0])
    template["metadata"]["name"] = "broken-image"
    template["spec"]["pvcs"] = []
    pod = template["spec"]["pods"][0]["spec"]
    pod["volumes"] = []
    pod["containers"][0]["volumeMounts"] = []
    pod["containers"][0]["image"] = "quay.io/jupyter/doesnotexist-notebook:2024-01-01"
    return template


class Hub:
    """The running stack, seen the way the tests use it."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.url = stack.hub_url
        admin = config.new_client_from_config(stack.admin_kubeconfig)
        self.core = client.CoreV1Api(admin)
        self.custom = client.CustomObjectsApi(admin)
        self.hub_api_client = config.new_client_from_config(stack.hub_kubeconfig)

    # --- hub REST API (as the admin service)

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        return self.stack.api(method, path, body, token)

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
        self, name: str, server: str = "", options: dict[str, Any] | None = None, timeout: float = 60
    ) -> float:
        """Spawn through the REST API and wait until the hub reports the server ready; seconds taken."""
        self.create_user(name)
        started = time.monotonic()
        status, body = self.spawn(name, server, options)
        assert status in (201, 202), body
        wait_until(
            lambda: (self.server(name, server) or {}).get("ready"),
            timeout,
            message=f"{name}'s server {server!r} ready",
        )
        return time.monotonic() - started

    def stop(self, name: str, server: str = "") -> None:
        path = f"/users/{name}/servers/{server}" if server else f"/users/{name}/server"
        status, body = self.api("DELETE", path)
        assert status in (202, 204), body
        wait_until(
            lambda: self.server(name, server) is None, 60, message=f"{name}'s server {server!r} stopped"
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
            data={"username": name, "password": self.stack.password, "_xsrf": session.cookies.get("_xsrf")},
        )
        r.raise_for_status()
        assert session.cookies.get("jupyterhub-session-id"), "logged in"
        return session

    # --- the cluster (as its admin, for assertions)

    def instance(self, name: str) -> dict[str, Any] | None:
        try:
            out: dict[str, Any] = self.custom.get_namespaced_custom_object(
                "kadense.io", "v1", HUB_NAMESPACE, "jupyternotebookinstances", name
            )
            return out
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def pod(self, name: str) -> Any:
        return _or_none(lambda: self.core.read_namespaced_pod(name, HUB_NAMESPACE))

    def pvc(self, name: str) -> Any:
        return _or_none(lambda: self.core.read_namespaced_persistent_volume_claim(name, HUB_NAMESPACE))

    def secret(self, name: str) -> Any:
        return _or_none(lambda: self.core.read_namespaced_secret(name, HUB_NAMESPACE))


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
        hub.url + path, headers={"Authorization": f"token {hub.stack.api_token}"}, stream=True, timeout=limit
    ) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                events.append(json.loads(line[5:]))
    return events


def run_concurrently(fn: Any, args: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(args)) as pool:
        return list(pool.map(fn, args))


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if request.config.getoption("--cluster") == "kind":
        pytest.skip(
            "e2e on kind needs the hub and its proxy inside the cluster (the chart), which this suite "
            "does not deploy yet; it runs on kubesim (--cluster=sim)"
        )
    state = tmp_path_factory.mktemp("e2e")
    opts = StackOptions(
        state_dir=state,
        hub_port=0,
        template_namespaces=("jupyternetes", "kadense"),
        profiles=PROFILES,
        extra_hub_config="c.Spawner.poll_interval = 1\n",
        start_timeout=60,
    )
    s = Stack(opts, say=lambda msg: None)
    s.opts.templates = [*default_templates(), announcement_template(s.hub_api_url), broken_template()]
    with s:
        yield s


@pytest.fixture(scope="session")
def hub(stack: Stack) -> Hub:
    return Hub(stack)
