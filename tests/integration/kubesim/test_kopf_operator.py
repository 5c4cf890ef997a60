"""A tiny kopf operator under ``kopf.testing.KopfRunner``: it sets status fields of a custom resource on
creation and on a spec change, posts Events, and holds a finalizer until its delete handler ran. Exercises
watches, merge patches of the main and /status endpoints, finalizers and events, on both backends; and,
with kubesim's fault injection (kubesim only), cut watches, injected errors and a 410."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf
import kubernetes
import pytest
from kopf.testing import KopfRunner
from kubernetes.client import ApiException

import kubesim
from tests.clusters import ClusterUnderTest

from .conformance_support import GROUP, WIDGETS, create_crd, widget, widget_crd

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


@dataclass
class Widgets:
    api: kubernetes.client.CustomObjectsApi
    ns: str


@pytest.fixture
def custom(client: kubernetes.client.ApiClient, ns: str, wait_for: Callable[..., Any]) -> Widgets:
    create_crd(client, widget_crd(), wait_for)
    return Widgets(kubernetes.client.CustomObjectsApi(client), ns)


@pytest.fixture
def sim_custom(sim_client: kubernetes.client.ApiClient, wait_for: Callable[..., Any]) -> Widgets:
    create_crd(sim_client, widget_crd(), wait_for)
    return Widgets(kubernetes.client.CustomObjectsApi(sim_client), "default")


@contextlib.contextmanager
def _operator(
    kubeconfig: str, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KopfRunner]:
    path = tmp_path / "widget_operator.py"
    path.write_text(OPERATOR)
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    # kopf logs in through the kubernetes client, whose default kubeconfig path was read at import time.
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", kubeconfig)
    # A registry of its own: handlers other tests registered in kopf's default registry (the project's
    # operator) must not run here; the default registry is restored for the tests that come after.
    previous = kopf.get_default_registry()
    try:
        args = ["run", "--standalone", "--namespace", namespace, str(path)]
        with KopfRunner(args, timeout=60, registry=kopf.OperatorRegistry()) as runner:
            yield runner
    finally:
        kopf.set_default_registry(previous)
    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output


@pytest.fixture
def operator(
    cluster: ClusterUnderTest, custom: Widgets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KopfRunner]:
    with _operator(cluster.kubeconfig, custom.ns, tmp_path, monkeypatch) as runner:
        yield runner


@pytest.fixture
def sim_operator(
    sim: kubesim.Cluster, sim_custom: Widgets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KopfRunner]:
    with _operator(sim.kubeconfig, sim_custom.ns, tmp_path, monkeypatch) as runner:
        yield runner


def _get(custom: Widgets, name: str) -> dict[str, Any] | None:
    try:
        out: dict[str, Any] = custom.api.get_namespaced_custom_object(GROUP, "v1", custom.ns, WIDGETS, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return out


def test_operator_sets_status_and_finalizes(
    operator: KopfRunner,
    custom: Widgets,
    client: kubernetes.client.ApiClient,
    wait_for: Callable[..., Any],
) -> None:
    custom.api.create_namespaced_custom_object(
        GROUP, "v1", custom.ns, WIDGETS, widget("w", size=3, replicas=2)
    )

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
    custom.api.patch_namespaced_custom_object(
        GROUP,
        "v1",
        custom.ns,
        WIDGETS,
        "w",
        {"spec": {"size": 5}},
        _content_type="application/merge-patch+json",
    )
    wait_for(lambda: phase() == "Resized to 5", timeout=15, what="status.phase after resize")
    custom.api.delete_namespaced_custom_object(GROUP, "v1", custom.ns, WIDGETS, "w")
    wait_for(lambda: _get(custom, "w") is None, timeout=15, what="widget finalized and gone")
    core = kubernetes.client.CoreV1Api(client)

    def messages() -> list[str]:
        events = core.list_namespaced_event(
            custom.ns, field_selector="involvedObject.name=w,involvedObject.kind=Widget"
        )
        return [e.message for e in events.items if e.reason == "Provisioned"]

    wait_for(lambda: "widget of size 3 is ready" in messages(), timeout=10, what="the operator's Event")


def _all_ready(custom: Widgets, names: list[str]) -> bool:
    return all(((_get(custom, n) or {}).get("status") or {}).get("phase") == "Ready" for n in names)


def test_operator_survives_cut_watches_and_errors(
    sim_operator: KopfRunner,
    sim: kubesim.Cluster,
    sim_custom: Widgets,
    wait_for: Callable[..., Any],
) -> None:
    """kubesim's fault injection: cut watch streams and injected 503s."""
    custom = sim_custom
    sim.faults.cut_watches(after_events=2, resource="widgets.example.com")
    sim.faults.add_error(503, verb="patch", resource="widgets", count=2)
    names = [f"w{i}" for i in range(5)]
    for name in names:
        custom.api.create_namespaced_custom_object(GROUP, "v1", custom.ns, WIDGETS, widget(name))
    wait_for(lambda: _all_ready(custom, names), timeout=30, what="every widget Ready despite the faults")
    assert sim.requests.by("verb", "resource")["watch widgets.example.com"] >= 3  # streams re-established


def test_operator_relists_after_410(
    sim_operator: KopfRunner,
    sim: kubesim.Cluster,
    sim_custom: Widgets,
    wait_for: Callable[..., Any],
) -> None:
    """kubesim's fault injection: the next resumed watch gets 410 Expired."""
    custom = sim_custom
    sim.faults.expire_watches("widgets", count=1)
    names = [f"w{i}" for i in range(3)]
    for name in names:
        custom.api.create_namespaced_custom_object(GROUP, "v1", custom.ns, WIDGETS, widget(name))
    wait_for(lambda: _all_ready(custom, names), timeout=30, what="every widget Ready after the 410")
    assert sim.requests.by("verb", "resource")["list widgets.example.com"] >= 2  # relisted on 410
