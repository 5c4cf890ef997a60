"""The reconciler restores a deleted other resource of a watched kind only for an instance that is still
there: the watch caches may still hold an instance the API server has deleted (the garbage collector's
deletions of its children can arrive before the instance's own DELETED event), so it asks the API server
before restoring. Against a fake API that answers what each case needs. And the operator command refuses
kinds it cannot watch."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from jupyternetes import cli
from jupyternetes.adapters.caches import Caches
from jupyternetes.adapters.events import EventRecorder
from jupyternetes.adapters.kube import Kube, KubeError, ResourceInfo
from jupyternetes.adapters.metrics import Metrics
from jupyternetes.adapters.reconciler import OperatorConfig, Reconciler
from jupyternetes.core.resources import GroupResource

NS = "users"
SERVICES = GroupResource("", "services")
CONFIGMAPS = GroupResource("", "configmaps")

TEMPLATE: dict[str, Any] = {
    "apiVersion": "kadense.io/v1",
    "kind": "JupyterNotebookTemplate",
    "metadata": {"name": "t", "namespace": "kadense", "uid": "t1", "generation": 1},
    "spec": {
        "pods": [{"name": "main", "spec": {"containers": [{"name": "nb", "image": "i"}]}}],
        "otherResources": [
            {
                "name": "svc",
                "apiVersion": "v1",
                "kind": "Service",
                "body": {"spec": {"ports": [{"port": 80}]}},
            },
            {"name": "settings", "apiVersion": "v1", "kind": "ConfigMap", "body": {"data": {"a": "b"}}},
        ],
    },
}


def _condition(type_: str) -> dict[str, Any]:
    return {"type": type_, "status": "True", "reason": type_, "message": "", "lastTransitionTime": "x"}


INSTANCE: dict[str, Any] = {
    "apiVersion": "kadense.io/v1",
    "kind": "JupyterNotebookInstance",
    "metadata": {"name": "alice", "namespace": NS, "uid": "u1", "generation": 1, "resourceVersion": "5"},
    "spec": {"template": {"name": "t", "namespace": "kadense"}},
    "status": {
        "pods": {"main": {"resourceName": "alice-main", "state": "Running"}},
        "otherResources": {
            "svc": {"resourceName": "alice-svc", "state": "Processed"},
            "settings": {"resourceName": "alice-settings", "state": "Processed"},
        },
        "templateUid": "t1",
        "templateGeneration": 1,
        "conditions": [_condition("Provisioned"), _condition("Ready")],
    },
}


def _owned(kind: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "uid": f"{name}-uid", "ownerReferences": [{"uid": "u1"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


class FakeKube:
    """The API server as the reconciler sees it: ``instance`` is what a GET of the instance answers
    (None: 404). Creations are recorded."""

    def __init__(self, instance: dict[str, Any] | None) -> None:
        self.instance = instance
        self.created: list[dict[str, Any]] = []
        self.instance_gets = 0

    async def resource(self, api_version: str, kind: str) -> ResourceInfo:
        return ResourceInfo(api_version, kind, kind.lower() + "s", True)

    async def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        if kind == "JupyterNotebookInstance":
            self.instance_gets += 1
            if self.instance is not None:
                return copy.deepcopy(self.instance)
        raise KubeError(404, "NotFound", f"{kind} {name} not found")

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.created.append(obj)
        return {**obj, "metadata": {**obj["metadata"], "uid": "new", "resourceVersion": "9"}}

    async def patch(
        self, api_version: str, kind: str, namespace: str | None, name: str, patch: Any, **_: Any
    ) -> Any:
        return copy.deepcopy(INSTANCE)


def _reconciler(kube: FakeKube, kinds: frozenset[GroupResource]) -> Reconciler:
    caches = Caches()
    caches.templates.upsert(copy.deepcopy(TEMPLATE))
    caches.instances.upsert(copy.deepcopy(INSTANCE))  # the cache still holds the instance
    caches.pods.upsert(_owned("Pod", "alice-main"))
    for kind in kinds:
        caches.other(kind)
    if SERVICES in kinds:
        caches.other(SERVICES).upsert(_owned("Service", "alice-svc"))
    # The ConfigMap is gone (its DELETED event removed it from the cache).
    config = OperatorConfig(operator_namespace="kadense", other_resources=kinds)
    fake: Any = kube
    real: Kube = fake
    return Reconciler(real, caches, config, metrics=Metrics(), events=EventRecorder(real))


def _created_kinds(kube: FakeKube) -> list[str]:
    return [f"{o['kind']} {o['metadata']['name']}" for o in kube.created if o["kind"] != "Event"]


def _event_reasons(kube: FakeKube) -> list[str]:
    return [o["reason"] for o in kube.created if o["kind"] == "Event"]


async def test_restored_for_an_instance_that_is_still_there() -> None:
    kube = FakeKube(copy.deepcopy(INSTANCE))
    r = _reconciler(kube, frozenset({SERVICES, CONFIGMAPS}))
    await r.reconcile((NS, "alice"))
    await r.events.flush()
    assert _created_kinds(kube) == ["ConfigMap alice-settings"]
    assert kube.created[0]["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert _event_reasons(kube) == ["OtherResourceRecreated"]
    assert (
        r.metrics.registry.get_sample_value(
            "jupyternetes_api_writes_total", {"verb": "create", "kind": "ConfigMap"}
        )
        == 1
    )
    # Restored: the next reconcile finds it in the cache and asks nothing.
    await r.reconcile((NS, "alice"))
    assert (_created_kinds(kube), kube.instance_gets) == (["ConfigMap alice-settings"], 1)


@pytest.mark.parametrize(
    "answer",
    [
        None,  # deleted: the garbage collector is removing its children
        {**INSTANCE, "metadata": {**INSTANCE["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}},
        {**INSTANCE, "metadata": {**INSTANCE["metadata"], "uid": "u2"}},  # replaced by a new instance
    ],
    ids=["deleted", "being-deleted", "replaced"],
)
async def test_not_restored_for_an_instance_that_is_gone_or_going(answer: dict[str, Any] | None) -> None:
    kube = FakeKube(answer)
    r = _reconciler(kube, frozenset({SERVICES, CONFIGMAPS}))
    await r.reconcile((NS, "alice"))
    await r.events.flush()
    assert _created_kinds(kube) == []
    assert "OtherResourceRecreated" not in _event_reasons(kube)
    assert kube.instance_gets == 1


async def test_kinds_not_watched_are_not_restored_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    kube = FakeKube(copy.deepcopy(INSTANCE))
    r = _reconciler(kube, frozenset({SERVICES}))
    with caplog.at_level(logging.WARNING, logger="jupyternetes.reconciler"):
        await r.reconcile((NS, "alice"))
        await r.reconcile((NS, "alice"))
    assert _created_kinds(kube) == []
    assert kube.instance_gets == 0
    said = [rec.getMessage() for rec in caplog.records if "not watched" in rec.getMessage()]
    assert len(said) == 1, said
    assert "--other-resource configmaps" in said[0]


@pytest.mark.parametrize("bad", ["pods", "services/status", "*", "deployments.v1.apps"])
def test_the_operator_command_refuses_a_kind_it_cannot_watch(
    bad: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command configures the root logger; not for the rest of this test session.
    monkeypatch.setattr(logging, "basicConfig", lambda **_: None)
    assert (
        cli.main(["operator", "--all-namespaces", "--other-resource", "services", "--other-resource", bad])
        == 2
    )
    assert f"error: --other-resource {bad!r}" in capsys.readouterr().err


def test_a_relist_finds_the_cache_of_a_watched_kind() -> None:
    """After a 410 or a failed watch, kopf lists again and the objects the listing misses are dropped from
    the cache of that kind (and their instances queued): the watch wrapper finds it by group and plural."""
    caches = Caches()
    assert caches.by_resource("", "configmaps") is None, "not watched"
    cms = caches.other(CONFIGMAPS)
    assert caches.by_resource("", "configmaps") is cms
    assert caches.by_resource("", "pods") is caches.pods
    assert caches.by_resource("kadense.io", "jupyternotebookinstances") is caches.instances
    netpol = caches.other(GroupResource("networking.k8s.io", "networkpolicies"))
    assert caches.by_resource("networking.k8s.io", "networkpolicies") is netpol
    assert caches.by_resource("", "networkpolicies") is None
