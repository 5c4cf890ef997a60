"""Where the e2e suite's hub runs, and what differs between the places it can run.

The tests only ever talk to a deployment the way an administrator or a user would: the hub's REST API
and its proxy over HTTP, the cluster through an admin kubeconfig, and the hub's own ServiceAccount (a
token from TokenRequest). So one test body serves both:

* ``--cluster=sim``: the stack of ``jupyternetes up`` (kubesim in process mode, the operator, a real
  JupyterHub and configurable-http-proxy), started by the suite itself;
* ``--cluster=kind``: a hub deployed with Zero to JupyterHub and the Jupyternetes chart
  (.github/workflows/e2e-kind.yml), described by the ``JUPYTERNETES_E2E_*`` variables below.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

from tests.conftest import wait_until

# The announcement's template reaches the hub at this URL; on a real cluster it resolves as it is.
ANNOUNCEMENT_HUB = "http://hub.{jupyterhub.namespace}.svc.cluster.local:8081"

KIND_VARIABLES = {
    "JUPYTERNETES_E2E_HUB_URL": "the proxy's public URL, e.g. http://127.0.0.1:8000 (a port-forward)",
    "JUPYTERNETES_E2E_API_TOKEN": "a hub service token with admin:users, admin:servers, access:servers, "
    "read:hub and tokens",
    "JUPYTERNETES_E2E_NAMESPACE": "the hub's namespace (where instances go and templates are read)",
    "JUPYTERNETES_E2E_PASSWORD": "the DummyAuthenticator password (for the browser login test)",
    "JUPYTERNETES_E2E_STOP_HUB": "a shell command that stops the hub and returns once it is gone",
    "JUPYTERNETES_E2E_START_HUB": "a shell command that starts the hub again",
}


@dataclass(frozen=True)
class Deployment:
    """A running hub with the Jupyternetes spawner, and how to reach and handle it."""

    url: str
    """The proxy's public URL (browsers and the REST API go through it)."""
    api_token: str
    """A hub service token allowed to manage users and servers."""
    namespace: str
    """Where the spawner creates instances (the hub's namespace here)."""
    template_namespace: str
    """The spawner's default template namespace; the suite's own templates go there."""
    default_template: str
    """The name of the template a spawn without a profile uses."""
    hub_service_account: str
    """The ServiceAccount the hub runs as: the tests check its rights with a token of its own."""
    hub_api_url: str
    """The hub as single-user pods reach it (what the announcement's template must point at)."""
    password: str
    """The DummyAuthenticator's password."""
    kubeconfig: str | None
    """The cluster admin's kubeconfig (None: $KUBECONFIG or ~/.kube/config)."""
    pods_reachable: bool
    """Whether the tests' own process can connect to pod addresses (not so from outside kind's network)."""
    fail_fast_seconds: float
    """How soon an unpullable image must fail a spawn (a real kubelet's first pull takes a few seconds)."""
    stop_hub: Callable[[], None]
    start_hub: Callable[[], None]
    logs: Callable[[], str] = lambda: ""
    """The ends of the hub's and the operator's logs, for a failing test's message (empty where the suite
    cannot read them: a kind deployment's are in its pods)."""

    @property
    def announcement_hub_url(self) -> str:
        return ANNOUNCEMENT_HUB.replace("{jupyterhub.namespace}", self.namespace)


def kind_deployment(env: Mapping[str, str]) -> Deployment:
    """The deployment the kind workflow describes in the environment; a clear error names what is missing."""
    missing = [name for name in KIND_VARIABLES if not env.get(name)]
    if missing:
        lines = "\n".join(f"  {name}: {KIND_VARIABLES[name]}" for name in missing)
        raise ValueError(
            f"--cluster=kind runs against a deployed hub; set these variables "
            f"(.github/workflows/e2e-kind.yml shows how):\n{lines}"
        )
    url = env["JUPYTERNETES_E2E_HUB_URL"].rstrip("/")
    namespace = env["JUPYTERNETES_E2E_NAMESPACE"]

    def start() -> None:
        run_shell(env["JUPYTERNETES_E2E_START_HUB"], "starting the hub")
        wait_until(lambda: hub_answers(url), 300, message="the hub answering again through the proxy")

    return Deployment(
        url=url,
        api_token=env["JUPYTERNETES_E2E_API_TOKEN"],
        namespace=namespace,
        template_namespace=env.get("JUPYTERNETES_E2E_TEMPLATE_NAMESPACE", namespace),
        default_template=env.get("JUPYTERNETES_E2E_DEFAULT_TEMPLATE", "default"),
        hub_service_account=env.get("JUPYTERNETES_E2E_HUB_SERVICE_ACCOUNT", "hub"),
        # Zero to JupyterHub's hub Service, which is what the announcement's template names.
        hub_api_url=ANNOUNCEMENT_HUB.replace("{jupyterhub.namespace}", namespace),
        password=env["JUPYTERNETES_E2E_PASSWORD"],
        kubeconfig=env.get("KUBECONFIG") or None,
        pods_reachable=False,
        fail_fast_seconds=30,
        stop_hub=lambda: run_shell(env["JUPYTERNETES_E2E_STOP_HUB"], "stopping the hub"),
        start_hub=start,
    )


def hub_answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/hub/api/", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def run_shell(command: str, what: str) -> None:
    # A shell command: the workflow's own (kubectl scale, rollout status), from its environment.
    result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise AssertionError(
            f"{what} failed: `{command}` exited with {result.returncode}\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
