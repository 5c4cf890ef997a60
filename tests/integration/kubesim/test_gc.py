"""The garbage collector through the official client: propagation policies, several owners, dangling and
invalid owner references, dependents' finalizers, and its cost with many owners."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client import (
    ApiClient,
    ApiextensionsV1Api,
    CoreV1Api,
    CustomObjectsApi,
    RbacAuthorizationV1Api,
    V1DeleteOptions,
)
from kubernetes.client.exceptions import ApiException

import kubesim

from .conftest import wait_for as poll

HOLD = "example.com/hold"
# Upstream's garbage collector acts within a second or so, more when it retries with a backoff.
GC_TIMEOUT = 30.0

Wait = Callable[..., Any]


@pytest.fixture(name="wait_for")
def gc_wait_for() -> Wait:
    return functools.partial(poll, timeout=GC_TIMEOUT)


def ref(
    obj: Any, *, block: bool | None = None, kind: str = "ConfigMap", api_version: str = "v1"
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj.metadata.name,
        "uid": obj.metadata.uid,
    }
    if block is not None:
        out["blockOwnerDeletion"] = block
    return out


def make_cm(
    core: Any,
    namespace: str,
    name: str,
    owners: list[dict[str, Any]] | None = None,
    finalizers: list[str] | None = None,
) -> Any:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = owners
    if finalizers:
        meta["finalizers"] = finalizers
    return core.create_namespaced_config_map(namespace, {"metadata": meta, "data": {"k": "v"}})


def get_cm(core: Any, namespace: str, name: str) -> Any:
    try:
        return core.read_namespaced_config_map(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def gone(core: Any, namespace: str, *names: str) -> Callable[[], bool]:
    return lambda: all(get_cm(core, namespace, n) is None for n in names)


def release(core: Any, namespace: str, name: str) -> None:
    core.patch_namespaced_config_map(name, namespace, {"metadata": {"finalizers": None}})


@pytest.mark.parametrize("policy", [None, "Background"])
def test_background_deletion_removes_dependents(
    client: ApiClient, ns: str, wait_for: Wait, policy: str | None
) -> None:
    core: Any = CoreV1Api(client)
    owner = make_cm(core, ns, "owner")
    make_cm(core, ns, "dep-a", [ref(owner)])
    make_cm(core, ns, "dep-b", [ref(owner, block=True)])
    unrelated = make_cm(core, ns, "unrelated")
    body = V1DeleteOptions(propagation_policy=policy) if policy else None
    core.delete_namespaced_config_map("owner", ns, body=body)
    assert get_cm(core, ns, "owner") is None  # background: the owner goes at once
    wait_for(gone(core, ns, "dep-a", "dep-b"), what="dependents deleted")
    assert get_cm(core, ns, "unrelated").metadata.uid == unrelated.metadata.uid


def test_foreground_deletion_waits_for_blocking_dependents(
    client: ApiClient, ns: str, wait_for: Wait
) -> None:
    core: Any = CoreV1Api(client)
    owner = make_cm(core, ns, "owner")
    make_cm(core, ns, "blocker", [ref(owner, block=True)], finalizers=[HOLD])
    make_cm(core, ns, "free", [ref(owner)])
    core.delete_namespaced_config_map("owner", ns, body=V1DeleteOptions(propagation_policy="Foreground"))

    held = get_cm(core, ns, "owner")
    assert held.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in held.metadata.finalizers
    # The GC deletes the dependents: the free one goes, the blocker waits on its own finalizer.
    wait_for(
        lambda: get_cm(core, ns, "blocker").metadata.deletion_timestamp is not None, what="blocker deleting"
    )
    wait_for(gone(core, ns, "free"), what="non-blocking dependent deleted")
    still = get_cm(core, ns, "owner")
    assert still is not None
    assert "foregroundDeletion" in still.metadata.finalizers

    release(core, ns, "blocker")
    wait_for(gone(core, ns, "blocker", "owner"), what="blocker then owner deleted")


def test_foreground_deletion_cascades_through_generations(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    owner = make_cm(core, ns, "grandparent")
    child = make_cm(core, ns, "parent", [ref(owner, block=True)])
    make_cm(core, ns, "child", [ref(child, block=True)], finalizers=[HOLD])
    core.delete_namespaced_config_map(
        "grandparent", ns, body=V1DeleteOptions(propagation_policy="Foreground")
    )
    # The middle generation has dependents of its own: the GC deletes it in the foreground too.
    wait_for(
        lambda: "foregroundDeletion" in (get_cm(core, ns, "parent").metadata.finalizers or ()),
        what="parent deleted in the foreground",
    )
    wait_for(lambda: get_cm(core, ns, "child").metadata.deletion_timestamp is not None, what="child deleting")
    assert get_cm(core, ns, "grandparent") is not None
    assert get_cm(core, ns, "parent") is not None
    release(core, ns, "child")
    wait_for(gone(core, ns, "child", "parent", "grandparent"), what="all three generations deleted")


def test_orphan_deletion_strips_owner_references(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    owner = make_cm(core, ns, "owner")
    other = make_cm(core, ns, "other-owner")
    make_cm(core, ns, "dep-a", [ref(owner, block=True)])
    make_cm(core, ns, "dep-b", [ref(owner), ref(other)])
    core.delete_namespaced_config_map("owner", ns, body=V1DeleteOptions(propagation_policy="Orphan"))
    wait_for(gone(core, ns, "owner"), what="owner deleted")
    a, b = get_cm(core, ns, "dep-a"), get_cm(core, ns, "dep-b")
    assert a.metadata.owner_references is None
    assert [r.uid for r in b.metadata.owner_references] == [other.metadata.uid]


def test_orphan_dependents_option_is_orphan_policy(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    owner = make_cm(core, ns, "owner")
    make_cm(core, ns, "dep", [ref(owner)])
    core.delete_namespaced_config_map("owner", ns, body=V1DeleteOptions(orphan_dependents=True))
    wait_for(gone(core, ns, "owner"), what="owner deleted")
    assert get_cm(core, ns, "dep").metadata.owner_references is None


def test_dependent_with_two_owners_survives_one(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    first, second = make_cm(core, ns, "first"), make_cm(core, ns, "second")
    make_cm(core, ns, "shared", [ref(first), ref(second)])
    core.delete_namespaced_config_map("first", ns)
    # The dependent is kept and only loses the dangling reference.
    wait_for(
        lambda: (
            [r.uid for r in get_cm(core, ns, "shared").metadata.owner_references or ()]
            == [second.metadata.uid]
        ),
        what="dangling reference removed",
    )
    core.delete_namespaced_config_map("second", ns)
    wait_for(gone(core, ns, "shared"), what="dependent deleted with its last owner")


def test_dangling_owner_reference_deletes_dependent(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    real = make_cm(core, ns, "real")
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
    make_cm(core, ns, "orphan-of-ghost", [ghost])
    # Right name, wrong uid: owners are matched by uid.
    make_cm(core, ns, "wrong-uid", [{**ref(real), "uid": str(uuid.uuid4())}])
    make_cm(core, ns, "half", [ghost, ref(real)])
    wait_for(gone(core, ns, "orphan-of-ghost", "wrong-uid"), what="dependents of absent owners deleted")
    wait_for(
        lambda: (
            [r.uid for r in get_cm(core, ns, "half").metadata.owner_references or ()] == [real.metadata.uid]
        ),
        what="dangling reference stripped from a dependent with a live owner",
    )
    assert get_cm(core, ns, "real") is not None


def test_owner_reference_to_another_namespace_is_absent(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    elsewhere = f"{ns}-elsewhere"
    core.create_namespace({"metadata": {"name": elsewhere}})
    foreign = make_cm(core, elsewhere, "foreign")
    dep = make_cm(core, ns, "cross", [ref(foreign)])
    wait_for(gone(core, ns, "cross"), what="dependent of an owner in another namespace deleted")
    assert get_cm(core, elsewhere, "foreign") is not None
    events = wait_for(
        lambda: core.list_namespaced_event(ns, field_selector="involvedObject.name=cross").items,
        what="OwnerRefInvalidNamespace event",
    )
    event = next(e for e in events if e.reason == "OwnerRefInvalidNamespace")
    assert event.type == "Warning"
    assert event.involved_object.uid == dep.metadata.uid
    assert event.source.component == "garbage-collector-controller"
    assert event.message == (
        f"ownerRef [v1/ConfigMap, namespace: {ns}, name: foreign, uid: {foreign.metadata.uid}] "
        f'does not exist in namespace "{ns}"'
    )


def test_cluster_scoped_dependent_of_namespaced_owner_is_not_collected(
    client: ApiClient, ns: str, wait_for: Wait
) -> None:
    core: Any = CoreV1Api(client)
    rbac: Any = RbacAuthorizationV1Api(client)
    owner = make_cm(core, ns, "ns-owner")
    role = rbac.create_cluster_role(
        {"metadata": {"name": "invalid-dependent", "ownerReferences": [ref(owner)]}, "rules": []}
    )
    events = wait_for(
        lambda: [
            e
            for e in core.list_namespaced_event("default").items
            if e.reason == "OwnerRefInvalidNamespace" and e.involved_object.name == "invalid-dependent"
        ],
        what="OwnerRefInvalidNamespace event in the default namespace",
    )
    assert events[0].involved_object.kind == "ClusterRole"
    assert events[0].involved_object.uid == role.metadata.uid
    # Upstream: an unresolvable reference; the dependent is never garbage collected, even once the owner goes.
    core.delete_namespaced_config_map("ns-owner", ns)
    # Barrier: a dependent of the deleted owner, created after, is collected -> the deletion was processed.
    make_cm(core, ns, "barrier", [ref(owner)])
    wait_for(gone(core, ns, "barrier"), what="barrier collected")
    assert rbac.read_cluster_role("invalid-dependent").metadata.uid == role.metadata.uid


def test_namespaced_dependent_of_cluster_scoped_owner(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    rbac: Any = RbacAuthorizationV1Api(client)
    owner = rbac.create_cluster_role({"metadata": {"name": "cluster-owner"}, "rules": []})
    owner_ref = ref(owner, kind="ClusterRole", api_version="rbac.authorization.k8s.io/v1")
    make_cm(core, ns, "dep-here", [owner_ref])
    there = f"{ns}-there"
    core.create_namespace({"metadata": {"name": there}})
    make_cm(core, there, "dep-there", [owner_ref])
    rbac.delete_cluster_role("cluster-owner")
    wait_for(
        lambda: get_cm(core, ns, "dep-here") is None and get_cm(core, there, "dep-there") is None,
        what="dependents in two namespaces deleted with their cluster-scoped owner",
    )


def test_dependents_finalizers_are_honoured(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    owner = make_cm(core, ns, "owner")
    make_cm(core, ns, "dep", [ref(owner)], finalizers=[HOLD])
    core.delete_namespaced_config_map("owner", ns)
    dep = wait_for(
        lambda: (d := get_cm(core, ns, "dep")) is not None and d.metadata.deletion_timestamp and d,
        what="dependent marked for deletion",
    )
    assert dep.metadata.finalizers == [HOLD]
    release(core, ns, "dep")
    wait_for(gone(core, ns, "dep"), what="dependent deleted once its finalizer is gone")


def test_owner_of_other_kind_and_group(client: ApiClient, ns: str, wait_for: Wait) -> None:
    """A Deployment owning a ConfigMap and a Pod. Upstream's deployment controller also gives it a ReplicaSet
    (and the ReplicaSet a pod), collected the same way; kubesim stores the Deployment only."""
    core: Any = CoreV1Api(client)
    from kubernetes.client import AppsV1Api

    apps: Any = AppsV1Api(client)
    labels = {"app": "x"}
    deploy = apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
                },
            },
        },
    )
    owner_ref = ref(deploy, kind="Deployment", api_version="apps/v1", block=True)
    make_cm(core, ns, "web-config", [owner_ref])
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "web-pod", "ownerReferences": [owner_ref]},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
        },
    )
    apps.delete_namespaced_deployment("web", ns, body=V1DeleteOptions(propagation_policy="Foreground"))

    def all_gone() -> bool:
        pods = core.list_namespaced_pod(ns, field_selector="metadata.name=web-pod").items
        deploys = apps.list_namespaced_deployment(ns).items
        return not pods and not deploys and get_cm(core, ns, "web-config") is None

    wait_for(all_gone, what="deployment, its pod and its configmap deleted")


def test_many_owners_cost_linear_time(sim: kubesim.Cluster, wait_for: Wait) -> None:
    """2000 owners each with one dependent, all owners deleted: kubesim's GC keeps up (no per-event scans).
    kubesim only: a cost bound on its own controller, with writes made in process."""
    ns = "default"
    api = sim.api
    rt = api.registry.get("", "v1", "configmaps")
    assert rt is not None
    n = 2000
    owners = [api.create(rt, ns, {"metadata": {"name": f"owner-{i}"}}) for i in range(n)]
    for i, owner in enumerate(owners):
        api.create(
            rt,
            ns,
            {
                "metadata": {
                    "name": f"dep-{i}",
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "ConfigMap",
                            "name": owner["metadata"]["name"],
                            "uid": owner["metadata"]["uid"],
                        }
                    ],
                }
            },
        )
    started = time.monotonic()
    for i in range(n):
        api.delete(rt, ns, f"owner-{i}")
    wait_for(
        lambda: not [c for c in sim.list("configmaps", ns) if c["metadata"]["name"].startswith("dep-")],
        timeout=30,
        what="all dependents collected",
    )
    assert time.monotonic() - started < 10


def widgets_crd(group: str = "example.com") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


def create_widgets_crd(client: ApiClient, wait_for: Wait, group: str = "example.com") -> Any:
    ext: Any = ApiextensionsV1Api(client)
    crd = ext.create_custom_resource_definition(widgets_crd(group))

    def established() -> bool:
        conditions = ext.read_custom_resource_definition(crd.metadata.name).status.conditions
        return any(c.type == "Established" and c.status == "True" for c in conditions or ())

    wait_for(established, what="widgets served")
    return CustomObjectsApi(client)


def widget_ref(widget: dict[str, Any]) -> dict[str, Any]:
    meta = widget["metadata"]
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "name": meta["name"],
        "uid": meta["uid"],
        "blockOwnerDeletion": True,
    }


def test_custom_resource_owner_foreground(client: ApiClient, ns: str, wait_for: Wait) -> None:
    """Upstream's garbage collector watches a custom resource once its discovery resync (every 30 s) has
    seen the CRD, which other tests of the session delete and create again: its first act may take that
    long, hence the first deadline."""
    core: Any = CoreV1Api(client)
    custom = create_widgets_crd(client, wait_for)
    widget = custom.create_namespaced_custom_object(
        "example.com",
        "v1",
        ns,
        "widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
    )
    make_cm(core, ns, "w-config", [widget_ref(widget)], finalizers=[HOLD])
    custom.delete_namespaced_custom_object(
        "example.com", "v1", ns, "widgets", "w", body=V1DeleteOptions(propagation_policy="Foreground")
    )
    wait_for(
        lambda: get_cm(core, ns, "w-config").metadata.deletion_timestamp is not None,
        timeout=90,
        what="dependent deleting",
    )
    held = custom.get_namespaced_custom_object("example.com", "v1", ns, "widgets", "w")
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    release(core, ns, "w-config")

    def widget_gone() -> bool:
        return not custom.list_namespaced_custom_object("example.com", "v1", ns, "widgets")["items"]

    wait_for(widget_gone, what="widget deleted after its dependent")


def test_deleting_a_crd_collects_dependents_of_its_objects(
    client: ApiClient, ns: str, wait_for: Wait
) -> None:
    core: Any = CoreV1Api(client)
    ext: Any = ApiextensionsV1Api(client)
    custom = create_widgets_crd(client, wait_for)
    widget = custom.create_namespaced_custom_object(
        "example.com",
        "v1",
        ns,
        "widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
    )
    make_cm(core, ns, "w-config", [widget_ref(widget)])
    ext.delete_custom_resource_definition(widgets_crd()["metadata"]["name"])
    wait_for(gone(core, ns, "w-config"), what="dependent of a custom resource whose CRD was deleted")


def test_owner_of_a_kind_not_served_yet(client: ApiClient, ns: str, wait_for: Wait) -> None:
    """A reference to an unknown kind is left alone (upstream retries until discovery knows the kind);
    once the CRD serves it, the owner is looked up: absent -> the dependent is collected. The group is the
    test's own: upstream's garbage collector remembers kinds other tests' CRDs served. Upstream takes ~40 s:
    its garbage collector learns new kinds at its discovery resync (every 30 s) and retries with a backoff."""
    core: Any = CoreV1Api(client)
    group = f"{ns}.example.com"
    ghost = {"apiVersion": f"{group}/v1", "kind": "Widget", "name": "ghost", "uid": str(uuid.uuid4())}
    make_cm(core, ns, "early", [ghost])
    # Barrier: a dependent of an absent ConfigMap, created after, is collected -> "early" was looked at.
    make_cm(
        core,
        ns,
        "barrier",
        [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": str(uuid.uuid4())}],
    )
    wait_for(gone(core, ns, "barrier"), what="barrier collected")
    assert get_cm(core, ns, "early") is not None
    create_widgets_crd(client, wait_for, group)
    wait_for(
        gone(core, ns, "early"),
        timeout=90,
        what="dependent of an absent Widget collected once Widgets are served",
    )


def test_foreground_owner_is_dropped_from_a_dependent_with_another_owner(
    client: ApiClient, ns: str, wait_for: Wait
) -> None:
    core: Any = CoreV1Api(client)
    leaving, staying = make_cm(core, ns, "leaving"), make_cm(core, ns, "staying")
    make_cm(core, ns, "shared", [ref(leaving, block=True), ref(staying)])
    core.delete_namespaced_config_map("leaving", ns, body=V1DeleteOptions(propagation_policy="Foreground"))
    wait_for(gone(core, ns, "leaving"), what="foreground owner deleted")
    shared = get_cm(core, ns, "shared")
    assert [r.uid for r in shared.metadata.owner_references] == [staying.metadata.uid]


def test_dangling_owner_found_at_startup() -> None:
    sim = kubesim.Cluster()
    rt = sim.registry.get("rbac.authorization.k8s.io", "v1", "clusterroles")
    assert rt is not None
    owner = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "name": "gone",
        "uid": str(uuid.uuid4()),
    }
    sim.api.create(rt, "", {"metadata": {"name": "stale", "ownerReferences": [owner]}, "rules": []})
    sim.api.create(rt, "", {"metadata": {"name": "fine"}, "rules": []})
    with sim:
        deadline = time.monotonic() + 5
        while sim.get("clusterroles", "stale", group="rbac.authorization.k8s.io") is not None:
            assert time.monotonic() < deadline, "dependent of an owner absent at startup not collected"
            time.sleep(0.01)
        assert sim.get("clusterroles", "fine", group="rbac.authorization.k8s.io") is not None
