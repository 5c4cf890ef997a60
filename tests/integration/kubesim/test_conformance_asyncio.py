"""The cluster driven by kubernetes_asyncio: CRUD, errors, watches and a 410 the client recognises; and
kubesim served on the test's own event loop (``async with kubesim.Cluster()``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import kubernetes
import pytest
from kubernetes_asyncio import client as aclient
from kubernetes_asyncio import config as aconfig
from kubernetes_asyncio import watch as awatch
from kubernetes_asyncio.client.exceptions import ApiException

import kubesim
from tests.clusters import ClusterUnderTest

from .conformance_support import GROUP, WIDGETS, create_crd, widget, widget_crd


@pytest.fixture
async def aapi(cluster: ClusterUnderTest) -> AsyncIterator[aclient.ApiClient]:
    api = await aconfig.new_client_from_config(config_file=cluster.kubeconfig)
    try:
        yield api
    finally:
        await api.close()


async def test_crud_and_errors(aapi: aclient.ApiClient, ns: str) -> None:
    core = aclient.CoreV1Api(aapi)
    created = await core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}, "data": {"a": "1"}})
    assert created.metadata.uid
    assert (await core.read_namespaced_config_map("x", ns)).metadata.uid == created.metadata.uid
    patched = await core.patch_namespaced_config_map("x", ns, {"data": {"a": "2"}})
    assert patched.data == {"a": "2"}
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    assert info.value.status == 409
    with pytest.raises(ApiException) as info:
        await core.read_namespaced_config_map("missing", ns)
    assert info.value.status == 404
    await core.delete_namespaced_config_map("x", ns)
    with pytest.raises(ApiException) as info:
        await core.read_namespaced_config_map("x", ns)
    assert info.value.status == 404


async def test_watch_stream(aapi: aclient.ApiClient, ns: str) -> None:
    core = aclient.CoreV1Api(aapi)
    rv = (await core.list_namespaced_config_map(ns)).metadata.resource_version

    async def writes() -> None:
        await core.create_namespaced_config_map(ns, {"metadata": {"name": "w"}})
        await core.patch_namespaced_config_map("w", ns, {"data": {"k": "v"}})
        await core.delete_namespaced_config_map("w", ns)

    writer = asyncio.create_task(writes())
    seen: list[tuple[str, str]] = []
    w = awatch.Watch()
    async with asyncio.timeout(10):
        async for event in w.stream(
            core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=10
        ):
            if event["object"].metadata.name == "kube-root-ca.crt":
                continue  # upstream's root-CA publisher writes it in every namespace at a time of its own
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                w.stop()
    await writer
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


async def test_expired_watch_raises_410(
    aapi: aclient.ApiClient,
    client: kubernetes.client.ApiClient,
    ns: str,
    wait_for: Callable[..., Any],
) -> None:
    """A watch cannot resume from before its resource's watch cache began: for a custom resource, before
    its CRD was created."""
    before = (await aclient.CoreV1Api(aapi).list_namespaced_config_map(ns)).metadata.resource_version
    create_crd(client, widget_crd(), wait_for)
    custom = aclient.CustomObjectsApi(aapi)
    await custom.create_namespaced_custom_object(GROUP, "v1", ns, WIDGETS, widget("x"))

    async def drain() -> None:
        async for _ in awatch.Watch().stream(
            custom.list_namespaced_custom_object,
            GROUP,
            "v1",
            ns,
            WIDGETS,
            resource_version=before,
            timeout_seconds=5,
        ):
            pass

    with pytest.raises(ApiException) as info:
        await asyncio.wait_for(drain(), timeout=10)
    assert info.value.status == 410


async def test_kubesim_serves_on_the_tests_event_loop() -> None:
    """kubesim only: ``async with kubesim.Cluster()`` serves from the running loop, no thread, and its
    store is at hand for direct assertions."""
    async with kubesim.Cluster() as sim:
        api = await aconfig.new_client_from_config(config_file=sim.kubeconfig)
        try:
            core = aclient.CoreV1Api(api)
            await core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
            assert sim.get("configmaps", "x", "default") is not None
            await core.delete_namespaced_config_map("x", "default")
            assert sim.get("configmaps", "x", "default") is None
        finally:
            await api.close()
