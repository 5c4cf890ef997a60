"""The spawner's Kubernetes access: one shared API client per hub process, and a watch of one instance.

The hub runs one event loop; every spawner of the process shares one :class:`~jupyternetes.adapters.kube.Kube`
(one connection pool), created on first use. A spawn waits on a watch of its own instance (a streaming GET
with ``fieldSelector=metadata.name=...`` from the resourceVersion its create returned), so it sees every
status change as the operator writes it, without polling.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

from jupyternetes.adapters.kube import Kube, KubeError
from jupyternetes.core.models import API_VERSION, INSTANCE_KIND

log = logging.getLogger("jupyternetes.spawner")

Obj = dict[str, Any]

INSTANCE_PLURAL = "jupyternotebookinstances"

_clients: dict[tuple[str, int], Kube] = {}
_lock: asyncio.Lock | None = None


async def shared_client(kubeconfig: str | None) -> Kube:
    """The process's API client for ``kubeconfig`` (None: $KUBECONFIG, ~/.kube/config or in-cluster)."""
    global _lock
    loop = asyncio.get_running_loop()
    key = (kubeconfig or "", id(loop))
    kube = _clients.get(key)
    if kube is not None:
        return kube
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        kube = _clients.get(key)
        if kube is None:
            kube = await Kube.connect(kubeconfig)
            _clients[key] = kube
    return kube


async def close_shared_clients() -> None:
    """Close every shared client (tests, hub shutdown)."""
    global _lock
    clients = list(_clients.values())
    _clients.clear()
    _lock = None
    for kube in clients:
        await kube.close()


def instance_path(namespace: str, name: str | None = None) -> str:
    base = f"/apis/{API_VERSION}/namespaces/{namespace}/{INSTANCE_PLURAL}"
    return f"{base}/{name}" if name else base


async def get_instance(kube: Kube, namespace: str, name: str) -> Obj | None:
    try:
        return await kube.request("GET", instance_path(namespace, name))
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


async def watch_instance(
    kube: Kube, namespace: str, name: str, resource_version: str | None, *, server_timeout: float = 300.0
) -> AsyncGenerator[tuple[str, Obj], None]:
    """``(type, object)`` for each change of one instance after ``resource_version``, until the caller
    stops iterating. Reconnects when the server ends the stream; on 410 Gone (or without a version) it
    reads the object once and yields it as ``("SYNC", obj)`` (``("DELETED", {})`` if it is gone) before
    watching again from there.
    """
    rv = resource_version
    while True:
        if not rv:
            obj = await get_instance(kube, namespace, name)
            if obj is None:
                yield "DELETED", {}
                return
            rv = obj["metadata"].get("resourceVersion")
            yield "SYNC", obj
        query = [
            ("watch", "true"),
            ("fieldSelector", f"metadata.name={name}"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(int(server_timeout))),
        ]
        if rv:
            query.append(("resourceVersion", rv))
        try:
            resp = await kube.api_client.call_api(
                instance_path(namespace),
                "GET",
                query_params=query,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=server_timeout + 30,
            )
        except ApiException as exc:
            raise KubeError.from_exception(exc) from None
        except (TimeoutError, OSError) as exc:
            raise KubeError(0, "ConnectionError", f"{type(exc).__name__}: {exc}") from None
        try:
            if resp.status == 410:
                rv = None
                continue
            if resp.status != 200:
                body = await resp.read()
                try:
                    status = json.loads(body)
                except ValueError:
                    status = {}
                raise KubeError(
                    resp.status,
                    str(status.get("reason") or resp.reason),
                    str(status.get("message") or body[:200]),
                    status,
                )
            while True:
                line = await resp.content.readline()
                if not line:
                    break  # the server closed the stream: reconnect from rv
                if not line.strip():
                    continue
                event = json.loads(line)
                etype, obj = event.get("type"), event.get("object") or {}
                if etype == "ERROR":
                    if obj.get("code") == 410:
                        rv = None
                        break
                    raise KubeError(
                        int(obj.get("code") or 500),
                        str(obj.get("reason") or "Error"),
                        str(obj.get("message") or obj),
                    )
                rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                if etype == "BOOKMARK":
                    continue
                yield str(etype), obj
        finally:
            resp.release()


def is_instance(obj: Obj) -> bool:
    return obj.get("kind") == INSTANCE_KIND
