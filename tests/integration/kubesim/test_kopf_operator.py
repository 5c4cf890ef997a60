"""A tiny kopf operator under ``kopf.testing.KopfRunner`` against kubesim: it sets status fields of a
custom resource on creation and on a spec change, posts Events, and holds a finalizer until its delete
handler ran. Exercises watches, merge patches of the main and /status endpoints, finalizers and events."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kopf
import kubernetes
import pytest
from kopf.testing import KopfRunner
from kubernetes.client import ApiException

import kubesim

from .conformance_support import GROUP, WIDGETS, widget, widget_crd

NS = "default"

OPERATOR = textwrap.dedent(
    """
    import kopf

    @kopf.on.login()
    def login(**kwargs):
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup()
    def configure(settings, **_):
        settings.watching.server_timeout = 30

    @kopf.on.create("example.com", "v1", "widgets")
    def created(body, spec, patch, **_):
        patch.status["phase"] = "Ready"
        patch.status["replicas"] = spec.get("replicas", 1)
        kopf.info(body, reason="Provisioned", message=f"widget of size {spec['size']} is ready")
        return {"size": spec["size"]}

    @kopf.on.field("example.com", "v1", "widgets", field="spec.size")
    def resized(old, new, patch, **_):
        if old is not None:
            patch.status["phase"] = f"Resized to {new}"

    @kopf.on.delete("example.com", "v1", "widgets")
    def deleted(name, logger, **_):
        logger.info(f"widget {name} deleted")
    """
)


@pytest.fixture
def custom(sim_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    kubernetes.client.ApiextensionsV1Api(sim_client).create_custom_resource_definition(widget_crd())
    return kubernetes.client.CustomObjectsApi(sim_client)


@pytest.fixture
def operator(
    sim: kubesim.Cluster,
    custom: kubernetes.client.CustomObjectsApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[KopfRunner]:
    path = tmp_path / "widget_operator.py"
    path.write_text(OPERATOR)
    monkeypatch.setenv("KUBECONFIG", sim.kubeconfig)
    # kopf logs in through the kubernetes client, whose default kubeconfig path was read at import time.
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", sim.kubeconfig)
    # A registry of its own: handlers other tests registered in kopf's default registry (the project's
    # operator) must not run here; the default registry is restored for the tests that come after.
    previous = kopf.get_default_registry()
    try:
        args = ["run", "--standalone", "--namespace", NS, str(path)]
        with KopfRunner(args, timeout=60, registry=kopf.OperatorRegistry()) as runner:
            yield runner
    finally:
        kopf.set_default_registry(previous)
    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output


def _get(custom: kubernetes.client.CustomObjectsApi, name: str) -> dict[str, Any] | None:
    try:
        out: dict[str, Any] = custom.get_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return out


def test_operator_sets_status_and_finalizes(
    operator: KopfRunner,
    custom: kubernetes.client.CustomObjectsApi,
    sim_client: kubernetes.client.ApiClient,
    wait_for: Callable[..., Any],
) -> None:
    custom.create_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, widget("w", size=3, replicas=2))

    def phase() -> str | None:
        obj = _get(custom, "w") or {}
        return (obj.get("status") or {}).get("phase")

    wait_for(lambda: phase() == "Ready", timeout=15, what="status.phase Ready")
    obj = _get(custom, "w")
    assert obj is not None
    assert obj["status"]["replicas"] == 2
    # kopf stores a handler's result in status.<handler>; the CRD's structural schema prunes it, as upstream.
    assert "created" not in obj["status"]
    assert obj["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
    custom.patch_namespaced_custom_object(
        GROUP, "v1", NS, WIDGETS, "w", {"spec": {"size": 5}}, _content_type="application/merge-patch+json"
    )
    wait_for(lambda: phase() == "Resized to 5", timeout=15, what="status.phase after resize")
    custom.delete_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, "w")
    wait_for(lambda: _get(custom, "w") is None, timeout=15, what="widget finalized and gone")
    core = kubernetes.client.CoreV1Api(sim_client)

    def messages() -> list[str]:
        events = core.list_namespaced_event(
            NS, field_selector="involvedObject.name=w,involvedObject.kind=Widget"
        )
        return [e.message for e in events.items if e.reason == "Provisioned"]

    wait_for(lambda: "widget of size 3 is ready" in messages(), timeout=10, what="the operator's Event")


def _all_ready(custom: kubernetes.client.CustomObjectsApi, names: list[str]) -> bool:
    return all(((_get(custom, n) or {}).get("status") or {}).get("phase") == "Ready" for n in names)


def test_operator_survives_cut_watches_and_errors(
    operator: KopfRunner,
    sim: kubesim.Cluster,
    custom: kubernetes.client.CustomObjectsApi,
    wait_for: Callable[..., Any],
) -> None:
    sim.faults.cut_watches(after_events=2, resource="widgets.example.com")
    sim.faults.add_error(503, verb="patch", resource="widgets", count=2)
    names = [f"w{i}" for i in range(5)]
    for name in names:
        custom.create_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, widget(name))
    wait_for(lambda: _all_ready(custom, names), timeout=30, what="every widget Ready despite the faults")
    assert sim.requests.by("verb", "resource")["watch widgets.example.com"] >= 3  # streams re-established


def test_operator_relists_after_410(
    operator: KopfRunner,
    sim: kubesim.Cluster,
    custom: kubernetes.client.CustomObjectsApi,
    wait_for: Callable[..., Any],
) -> None:
    sim.faults.expire_watches("widgets", count=1)
    names = [f"w{i}" for i in range(3)]
    for name in names:
        custom.create_namespaced_custom_object(GROUP, "v1", NS, WIDGETS, widget(name))
    wait_for(lambda: _all_ready(custom, names), timeout=30, what="every widget Ready after the 410")
    assert sim.requests.by("verb", "resource")["list widgets.example.com"] >= 2  # relisted on 410
