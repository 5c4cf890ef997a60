"""kubesim driven by kubernetes_asyncio, with the cluster served on the test's own event loop
(``async with kubesim.Cluster()``): CRUD, errors, watches and a 410 the client recognises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio import client as aclient
from kubernetes_asyncio import config as aconfig
from kubernetes_asyncio import watch as awatch
from kubernetes_asyncio.client.exceptions import ApiException

import kubesim

NS = "default"


@pytest.fixture
async def aapi() -> AsyncIterator[tuple[kubesim.Cluster, aclient.ApiClient]]:
    async with kubesim.Cluster() as sim:
        api = await aconfig.new_client_from_config(config_file=sim.kubeconfig)
        try:
            yield sim, api
        finally:
            await api.close()


async def test_crud_and_errors(aapi: tuple[kubesim.Cluster, aclient.ApiClient]) -> None:
    sim, api = aapi
    core = aclient.CoreV1Api(api)
    created = await core.create_namespaced_config_map(NS, {"metadata": {"name": "x"}, "data": {"a": "1"}})
    assert created.metadata.uid
    assert sim.get("configmaps", "x", NS) is not None  # the store, for direct assertions
    patched = await core.patch_namespaced_config_map("x", NS, {"data": {"a": "2"}})
    assert patched.data == {"a": "2"}
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map(NS, {"metadata": {"name": "x"}})
    assert info.value.status == 409
    with pytest.raises(ApiException) as info:
        await core.read_namespaced_config_map("missing", NS)
    assert info.value.status == 404
    await core.delete_namespaced_config_map("x", NS)
    assert sim.get("configmaps", "x", NS) is None


async def test_watch_stream(aapi: tuple[kubesim.Cluster, aclient.ApiClient]) -> None:
    _, api = aapi
    core = aclient.CoreV1Api(api)
    rv = (await core.list_namespaced_config_map(NS)).metadata.resource_version

    async def writes() -> None:
        await core.create_namespaced_config_map(NS, {"metadata": {"name": "w"}})
        await core.patch_namespaced_config_map("w", NS, {"data": {"k": "v"}})
        await core.delete_namespaced_config_map("w", NS)

    writer = asyncio.create_task(writes())
    seen: list[tuple[str, str]] = []
    w = awatch.Watch()
    async with asyncio.timeout(10):
        async for event in w.stream(
            core.list_namespaced_config_map, NS, resource_version=rv, timeout_seconds=10
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                w.stop()
    await writer
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


async def _drain(core: aclient.CoreV1Api, resource_version: str) -> None:
    async for _ in awatch.Watch().stream(
        core.list_namespaced_config_map, NS, resource_version=resource_version, timeout_seconds=2
    ):
        pass


async def test_expired_watch_raises_410() -> None:
    async with kubesim.Cluster(history_size=3) as sim:
        api = await aconfig.new_client_from_config(config_file=sim.kubeconfig)
        try:
            core = aclient.CoreV1Api(api)
            first = (
                await core.create_namespaced_config_map(NS, {"metadata": {"name": "x"}})
            ).metadata.resource_version
            for i in range(6):
                await core.patch_namespaced_config_map("x", NS, {"data": {"i": str(i)}})
            with pytest.raises(ApiException) as info:
                await asyncio.wait_for(_drain(core, first), timeout=10)
            assert info.value.status == 410
        finally:
            await api.close()
