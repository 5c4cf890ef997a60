"""otherResources of the kinds the operator watches (option --other-resource) are restored when deleted
behind its back; other kinds are created once and left alone; nothing is restored for an instance that is
gone or being deleted.

"Not restored" is checked after a barrier, never after a sleep: the deletion of a watched object of
another instance (or of the same instance) is restored, so the operator has reconciled after the
deletion in question and did not bring it back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.conftest import wait_until
from tests.integration.operator.conftest import Env, operator_runner

HOLD = "test.jupyternetes.kadense.io/hold"


def _template(env: Env) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookTemplate",
        "metadata": {"name": "t", "namespace": env.tns},
        "spec": {
            "pods": [
                {
                    "name": "main",
                    "spec": {
                        "containers": [
                            {
                                "name": "nb",
                                "image": "jupyter/base:1",
                                "ports": [{"name": "http", "containerPort": 8888}],
                            }
                        ]
                    },
                }
            ],
            "otherResources": [
                {
                    "name": "svc",
                    "apiVersion": "v1",
                    "kind": "Service",
                    "body": {
                        "spec": {
                            "selector": {"jupyternetes.kadense.io/instance": "{jupyternetes.instance.name}"},
                            "ports": [{"port": 80, "targetPort": 8888}],
                        }
                    },
                },
                {
                    "name": "settings",
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "body": {"data": {"user": "{user}"}},
                },
            ],
        },
    }


def _instance(env: Env, name: str, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": name, "namespace": env.ns, **metadata},
        "spec": {"template": {"name": "t", "namespace": env.tns}, "variables": {"user": name}},
    }


def _configmap(env: Env, name: str) -> Any:
    try:
        return env.core.read_namespaced_config_map(name, env.ns)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _service(env: Env, name: str) -> Any:
    try:
        return env.core.read_namespaced_service(name, env.ns)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _delete_configmap(env: Env, name: str) -> None:
    try:
        env.core.delete_namespaced_config_map(name, env.ns)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def _ready(env: Env, name: str, **metadata: Any) -> dict[str, Any]:
    """Create the instance ``name`` and wait for it to be Ready."""
    env.create_instance(_instance(env, name, **metadata))
    wait_until(lambda: env.is_true(env.ns, name, "Ready"), 30, message=f"{name} Ready")
    return env.instance(env.ns, name) or {}


def _recreations(env: Env, name: str) -> list[Any]:
    return [e for e in env.events(env.ns, name) if e.reason == "OtherResourceRecreated"]


def _restored(env: Env, name: str, old_uid: str) -> Any:
    """Wait for the ConfigMap ``name`` to exist again as a new object (not the one of ``old_uid``)."""
    return wait_until(
        lambda: (cm := _configmap(env, name)) is not None and cm.metadata.uid != old_uid and cm,
        30,
        message=f"ConfigMap {name} re-created",
    )


def _barrier(env: Env, witness: str) -> None:
    """Delete the witness instance's ConfigMap and wait for it to be restored: the operator has handled a
    ConfigMap deletion made after everything done before this call."""
    old = _configmap(env, f"{witness}-settings")
    assert old is not None, "the witness's ConfigMap exists"
    env.core.delete_namespaced_config_map(f"{witness}-settings", env.ns)
    _restored(env, f"{witness}-settings", old.metadata.uid)


@pytest.fixture
def watching(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The operator watching Services and ConfigMaps (as `--other-resource services --other-resource
    configmaps`)."""
    env.create_template(_template(env))
    with operator_runner(env, monkeypatch, otherResources=["services", "configmaps"]) as runner:
        yield env
    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output


def test_deleted_other_resources_are_restored(watching: Env) -> None:
    env = watching
    inst = _ready(env, "alice")
    uid = inst["metadata"]["uid"]
    cm = _configmap(env, "alice-settings")
    svc = _service(env, "alice-svc")
    assert cm is not None
    assert svc is not None
    env.core.delete_namespaced_config_map("alice-settings", env.ns)
    again = _restored(env, "alice-settings", cm.metadata.uid)
    assert again.data == {"user": "alice"}, "from the same rendered plan"
    owners = [(o.kind, o.name, o.uid, o.controller) for o in again.metadata.owner_references]
    assert owners == [("JupyterNotebookInstance", "alice", uid, True)]
    assert again.metadata.labels["jupyternetes.kadense.io/instance"] == "alice"
    events = wait_until(lambda: _recreations(env, "alice"), 30, message="an OtherResourceRecreated event")
    assert "ConfigMap alice-settings" in events[0].message, events[0].message
    # A Service as well (a kind of another shape), and the instance stays Ready throughout.
    env.core.delete_namespaced_service("alice-svc", env.ns)
    wait_until(
        lambda: (s := _service(env, "alice-svc")) is not None and s.metadata.uid != svc.metadata.uid,
        30,
        message="Service alice-svc re-created",
    )
    wait_until(lambda: len(_recreations(env, "alice")) == 2, 30, message="a second OtherResourceRecreated")
    assert env.is_true(env.ns, "alice", "Ready")
    status = (env.instance(env.ns, "alice") or {})["status"]
    assert {e: s["state"] for e, s in status["otherResources"].items()} == {
        "svc": "Processed",
        "settings": "Processed",
    }


def test_deleted_pod_is_still_reported_not_restored(watching: Env) -> None:
    env = watching
    _ready(env, "bob")
    _ready(env, "witness")
    env.core.delete_namespaced_pod("bob-main", env.ns, grace_period_seconds=0)
    wait_until(
        lambda: (c := env.condition(env.ns, "bob", "Failed")) and c["reason"] == "PodDeleted",
        30,
        message="Failed=True, PodDeleted",
    )
    _barrier(env, "witness")
    assert env.pod(env.ns, "bob-main") is None, "pods are never resurrected, other resources or not"


def test_deleting_the_instance_removes_everything_and_restores_nothing(watching: Env) -> None:
    env = watching
    _ready(env, "gone")
    _ready(env, "witness")
    env.delete_instance(env.ns, "gone")
    wait_until(
        lambda: (
            env.instance(env.ns, "gone") is None
            and _configmap(env, "gone-settings") is None
            and _service(env, "gone-svc") is None
            and env.pod(env.ns, "gone-main") is None
        ),
        30,
        message="the instance and its children deleted (ownerReferences)",
    )
    _barrier(env, "witness")
    assert _configmap(env, "gone-settings") is None
    assert _service(env, "gone-svc") is None
    assert not _recreations(env, "gone"), "the garbage collector's deletions are not undone"


def test_other_resource_deleted_while_its_instance_is_deleted_is_not_restored(watching: Env) -> None:
    env = watching
    _ready(env, "leaving", finalizers=[HOLD])
    _ready(env, "witness")
    env.delete_instance(env.ns, "leaving")  # held by our finalizer: being deleted, not gone
    wait_until(
        lambda: ((env.instance(env.ns, "leaving") or {}).get("metadata") or {}).get("deletionTimestamp"),
        30,
        message="deletionTimestamp",
    )
    _delete_configmap(env, "leaving-settings")
    wait_until(lambda: _configmap(env, "leaving-settings") is None, 30, message="ConfigMap deleted")
    _barrier(env, "witness")
    assert _configmap(env, "leaving-settings") is None, "not restored for an instance being deleted"
    assert not _recreations(env, "leaving")
    env.custom.patch_namespaced_custom_object(
        "kadense.io", "v1", env.ns, "jupyternotebookinstances", "leaving", {"metadata": {"finalizers": None}}
    )
    wait_until(
        lambda: env.instance(env.ns, "leaving") is None and _service(env, "leaving-svc") is None,
        30,
        message="the instance and its Service gone",
    )


def test_kinds_not_configured_are_created_once_and_not_restored(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the option changes: ConfigMaps are not among the watched kinds here, so one deleted stays
    deleted (the operator does not even notice until it restarts), while a deleted Service (watched) is
    restored."""
    env.create_template(_template(env))
    with operator_runner(env, monkeypatch, otherResources=["services"]) as runner:
        _ready(env, "carol")
        svc = _service(env, "carol-svc")
        assert _configmap(env, "carol-settings") is not None, "created like any other resource"
        env.core.delete_namespaced_config_map("carol-settings", env.ns)
        # The barrier: a deletion of a watched kind of the same instance, made afterwards, is restored.
        env.core.delete_namespaced_service("carol-svc", env.ns)
        wait_until(
            lambda: (s := _service(env, "carol-svc")) is not None and s.metadata.uid != svc.metadata.uid,
            30,
            message="Service carol-svc re-created",
        )
        assert _configmap(env, "carol-settings") is None, "a kind that is not watched is not restored"
        status = (env.instance(env.ns, "carol") or {})["status"]
        assert status["otherResources"]["settings"]["state"] == "Processed", "nor noticed"
    assert runner.exception is None, runner.output
    assert "ConfigMap objects are created for templates' otherResources" in runner.output
    assert runner.output.count("--other-resource configmaps watches them") == 1, "said once"
    # On its next start the operator looks its unwatched other resources up once and reports the loss.
    with operator_runner(env, monkeypatch, otherResources=["services"]) as runner:
        wait_until(
            lambda: (
                (
                    ((env.instance(env.ns, "carol") or {}).get("status") or {})
                    .get("otherResources", {})
                    .get("settings")
                    or {}
                ).get("state")
                == "Deleted"
            ),
            30,
            message="otherResources.settings.state Deleted after a restart",
        )
        assert _configmap(env, "carol-settings") is None
    assert runner.exception is None, runner.output


@pytest.mark.kubesim_only(
    reason="slows the listings with kubesim's fault injection and counts requests with its request log"
)
def test_after_a_restart_existing_ones_are_left_alone_and_deleted_ones_restored(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarted operator waits for the listing of the watched kinds before reconciling (as for pods):
    it neither takes the existing objects for deleted (no create, no lookup), nor misses a deletion made
    while it was down."""
    env.create_template(_template(env))
    kinds = ["services", "configmaps"]
    with operator_runner(env, monkeypatch, otherResources=kinds):
        _ready(env, "dave")
        _ready(env, "erin")
        cm = _configmap(env, "erin-settings")
    env.core.delete_namespaced_config_map("erin-settings", env.ns)  # while the operator is down
    sim = env.cluster.sim
    assert sim is not None
    sim.requests.reset()
    # Slow listings of the watched kinds: without the wait, instances would be reconciled before them.
    sim.faults.configure(
        {"latency": [{"seconds": 1.0, "verb": ["list"], "resource": ["configmaps", "services"]}]}
    )
    with operator_runner(env, monkeypatch, otherResources=kinds) as runner:
        _restored(env, "erin-settings", cm.metadata.uid)
        wait_until(lambda: _recreations(env, "erin"), 30, message="an OtherResourceRecreated event")
        _barrier(env, "dave")
    assert runner.exception is None, runner.output
    counts = sim.requests.by("verb", "resource")  # (the test's own reads are GETs of ConfigMaps)
    assert counts.get("create configmaps") == 2, ("erin's and dave's, nothing else", counts)
    assert "create services" not in counts, counts
    assert "get services" not in counts, counts
    # The watch's listing in each watched namespace (instances' and templates'), never one per reconcile.
    assert counts.get("list configmaps") == 2, counts
    assert counts.get("get jupyternotebookinstances.kadense.io") == 2, ("one look per restoration", counts)
