"""Namespace lifecycle and the default ServiceAccount, through the official client and kubectl.

Namespaces a test creates are named after its own (``<ns>-doomed``), so tests never share one; upstream's
namespace controller takes seconds to empty and remove a namespace, hence the long deadlines.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException

from tests.clusters import ClusterUnderTest
from tests.integration.kubesim.conformance_support import binary

Wait = Callable[..., Any]
HOLD = "example.com/hold"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def read_ns(core: Any, name: str) -> Any:
    try:
        return core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


@contextmanager
def held_namespace(core: Any, name: str) -> Iterator[None]:
    """A namespace holding a config map with a finalizer; the hold is released however the test ends, so
    the namespace can go."""
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, {"metadata": {"name": "held", "finalizers": [HOLD]}})
    try:
        yield
    finally:
        core.patch_namespaced_config_map("held", name, {"metadata": {"finalizers": None}})


def test_default_namespaces_exist(client: ApiClient) -> None:
    core: Any = CoreV1Api(client)
    found = {ns.metadata.name: ns for ns in core.list_namespace().items}
    for name in SYSTEM_NAMESPACES:
        assert found[name].status.phase == "Active"
        assert found[name].metadata.labels == {"kubernetes.io/metadata.name": name}


def test_namespace_deletion(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)
    doomed = f"{ns}-doomed"
    with held_namespace(core, doomed):
        core.create_namespaced_config_map(doomed, {"metadata": {"name": "plain"}})
        core.create_namespaced_secret(doomed, {"metadata": {"name": "secret"}, "stringData": {"a": "b"}})
        core.create_namespaced_pod(
            doomed,
            {"metadata": {"name": "pod"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}},
        )
        core.delete_namespace(doomed)

        terminating = wait_for(
            lambda: (n := read_ns(core, doomed)) and n.status.phase == "Terminating" and n,
            what="namespace Terminating",
        )
        assert terminating.metadata.deletion_timestamp is not None

        with pytest.raises(ApiException) as info:
            core.create_namespaced_config_map(doomed, {"metadata": {"name": "late"}})
        assert info.value.status == 403
        body = str(info.value.body)
        assert '"reason":"Forbidden"' in body.replace(" ", "")
        assert (
            f'configmaps \\"late\\" is forbidden: unable to create new content in namespace {doomed} '
            "because it is being terminated"
        ) in body

        def content_left() -> set[str]:
            names = {c.metadata.name for c in core.list_namespaced_config_map(doomed).items}
            names |= {s.metadata.name for s in core.list_namespaced_secret(doomed).items}
            names |= {p.metadata.name for p in core.list_namespaced_pod(doomed).items}
            return names - {"kube-root-ca.crt"}

        wait_for(
            lambda: content_left() == {"held"}, timeout=60, what="content deleted but the held config map"
        )
        held = core.read_namespaced_config_map("held", doomed)
        assert held.metadata.deletion_timestamp is not None
        assert read_ns(core, doomed) is not None  # still waiting for its last object
    wait_for(lambda: read_ns(core, doomed) is None, timeout=60, what="namespace removed")


def test_terminating_namespace_message_names_the_qualified_resource(
    client: ApiClient, ns: str, wait_for: Wait
) -> None:
    core: Any = CoreV1Api(client)
    apps: Any = AppsV1Api(client)
    closing = f"{ns}-closing"
    with held_namespace(core, closing):
        core.delete_namespace(closing)
        wait_for(lambda: read_ns(core, closing).status.phase == "Terminating", what="namespace Terminating")
        labels = {"app": "web"}
        with pytest.raises(ApiException) as info:
            apps.create_namespaced_deployment(
                closing,
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
        assert info.value.status == 403
        assert (
            f'deployments.apps \\"web\\" is forbidden: unable to create new content in namespace {closing} '
            "because it is being terminated"
        ) in str(info.value.body)


def test_kubectl_delete_namespace_waits_until_gone(
    cluster: ClusterUnderTest, client: ApiClient, ns: str
) -> None:
    kubectl = binary("kubectl")
    core: Any = CoreV1Api(client)
    bye = f"{ns}-bye"
    core.create_namespace({"metadata": {"name": bye}})
    core.create_namespaced_config_map(bye, {"metadata": {"name": "cm"}})
    result = subprocess.run(
        [kubectl, "--kubeconfig", cluster.kubeconfig, "delete", "namespace", bye, "--timeout=60s"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f'namespace "{bye}" deleted'
    assert read_ns(core, bye) is None


def test_default_service_account_in_every_namespace(client: ApiClient, ns: str, wait_for: Wait) -> None:
    core: Any = CoreV1Api(client)

    def default_sa(namespace: str) -> Any:
        return next(
            (
                sa
                for sa in core.list_namespaced_service_account(namespace).items
                if sa.metadata.name == "default"
            ),
            None,
        )

    for name in ("default", "kube-system", "kube-public"):
        wait_for(lambda name=name: default_sa(name), what=f"default SA in {name}")
    fresh = f"{ns}-fresh"
    core.create_namespace({"metadata": {"name": fresh}})
    first = wait_for(lambda: default_sa(fresh), timeout=30, what="default SA in a new namespace")
    core.delete_namespaced_service_account("default", fresh)
    second = wait_for(
        lambda: (sa := default_sa(fresh)) and sa.metadata.uid != first.metadata.uid and sa,
        timeout=30,
        what="default SA recreated",
    )
    assert second.metadata.namespace == fresh
    # Other service accounts are left alone.
    core.create_namespaced_service_account(fresh, {"metadata": {"name": "other"}})
    core.delete_namespaced_service_account("other", fresh)
    names = {sa.metadata.name for sa in core.list_namespaced_service_account(fresh).items}
    assert names == {"default"}
