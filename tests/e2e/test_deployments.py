"""What ``--cluster=kind`` reads from the kind workflow's environment (no cluster needed)."""

from __future__ import annotations

import sys

import pytest

from tests.e2e.deployments import KIND_VARIABLES, kind_deployment

ENV = {
    "JUPYTERNETES_E2E_HUB_URL": "http://127.0.0.1:8000/",
    "JUPYTERNETES_E2E_API_TOKEN": "t0ken",
    "JUPYTERNETES_E2E_NAMESPACE": "jhub",
    "JUPYTERNETES_E2E_PASSWORD": "change-me",
    "JUPYTERNETES_E2E_STOP_HUB": "true",
    "JUPYTERNETES_E2E_START_HUB": "true",
    "KUBECONFIG": "/tmp/kind-kubeconfig",
}


def test_a_missing_variable_is_named_with_what_it_is_for() -> None:
    env = {
        k: v for k, v in ENV.items() if k not in ("JUPYTERNETES_E2E_API_TOKEN", "JUPYTERNETES_E2E_PASSWORD")
    }
    with pytest.raises(ValueError, match="set these variables") as info:
        kind_deployment(env)
    message = str(info.value)
    assert "JUPYTERNETES_E2E_API_TOKEN: " + KIND_VARIABLES["JUPYTERNETES_E2E_API_TOKEN"] in message
    assert "JUPYTERNETES_E2E_PASSWORD" in message
    assert "JUPYTERNETES_E2E_HUB_URL" not in message


def test_the_deployment_zero_to_jupyterhub_gives() -> None:
    d = kind_deployment(ENV)
    assert d.url == "http://127.0.0.1:8000"
    assert d.namespace == d.template_namespace == "jhub"
    assert d.default_template == "default", "the Jupyternetes chart's defaultTemplate.name"
    assert d.hub_service_account == "hub"
    # The announcement's template is used verbatim: its hub URL is z2jh's hub Service.
    assert d.hub_api_url == d.announcement_hub_url == "http://hub.jhub.svc.cluster.local:8081"
    assert d.kubeconfig == "/tmp/kind-kubeconfig"
    assert not d.pods_reachable


def test_a_failing_hub_command_says_what_failed() -> None:
    d = kind_deployment(
        {**ENV, "JUPYTERNETES_E2E_STOP_HUB": f"{sys.executable} -c 'import sys; sys.exit(3)'"}
    )
    with pytest.raises(AssertionError, match=r"stopping the hub failed: .* exited with 3"):
        d.stop_hub()
