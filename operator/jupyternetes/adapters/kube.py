"""A small async Kubernetes REST client over kubernetes_asyncio's ApiClient.

kubernetes_asyncio has typed APIs per built-in kind, but the operator creates objects of any kind an
administrator's template names (``otherResources``), so it needs generic REST verbs plus discovery of a
kind's plural; kubernetes_asyncio's DynamicClient does that with a heavy, synchronous-style discovery
cache. This module fills that gap with a few verbs on plain dicts and a per-group-version discovery cache.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

_CORE_PLURALS = {
    "Pod": "pods",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "Secret": "secrets",
    "ConfigMap": "configmaps",
    "Service": "services",
    "Event": "events",
    "ServiceAccount": "serviceaccounts",
    "Namespace": "namespaces",
}


class KubeError(Exception):
    """An error answer of the API server: HTTP status, Status reason and message."""

    def __init__(self, status: int, reason: str, message: str, body: Obj | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}

    @classmethod
    def from_exception(cls, exc: ApiException) -> KubeError:
        body: Obj = {}
        try:
            body = json.loads(exc.body) if exc.body else {}
        except (TypeError, ValueError):
            body = {}
        return cls(
            int(exc.status or 0),
            str(body.get("reason") or exc.reason or ""),
            str(body.get("message") or exc.reason or ""),
            body,
        )

    @property
    def retriable(self) -> bool:
        return self.status in (0, 409, 429, 500, 502, 503, 504) and self.reason != "AlreadyExists"


@dataclass(frozen=True)
class ResourceInfo:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None, name: str | None = None, subresource: str = "") -> str:
        base = f"/apis/{self.api_version}" if "/" in self.api_version else f"/api/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{path_segment(namespace, 'namespace')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{path_segment(name, 'name')}"
        if subresource:
            base += f"/{subresource}"
        return base


def path_segment(value: str, what: str = "name") -> str:
    """``value`` as one segment of a request path, or KubeError 400 when it cannot be one.

    Names come from users (a template or Secret named in an instance): ``../../kube-system/secrets/x`` as
    a Secret name would make the HTTP client normalise the URL to another namespace's Secret. client-go
    refuses the same names (``IsValidPathSegmentName``): ".", "..", and anything with "/" or "%"."""
    if value in ("", ".", "..") or "/" in value or "%" in value:
        raise KubeError(400, "BadRequest", f"invalid {what} {value[:100]!r}: not a valid path segment")
    return value


def _default_kubeconfig_exists() -> bool:
    return os.path.exists(os.path.expanduser("~/.kube/config"))


class Kube:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self._discovery: dict[str, dict[str, ResourceInfo]] = {}
        self._discovery_lock = asyncio.Lock()

    @classmethod
    async def connect(cls, kubeconfig: str | None = None, *, pool_size: int = 64) -> Kube:
        """From a kubeconfig (argument, $KUBECONFIG, ~/.kube/config) or, inside a pod, the ServiceAccount."""
        configuration = client.Configuration()
        path = kubeconfig or os.environ.get("KUBECONFIG")
        if path or _default_kubeconfig_exists():
            await config.load_kube_config(config_file=path, client_configuration=configuration)
        else:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        configuration.connection_pool_maxsize = pool_size
        return cls(client.ApiClient(configuration))

    async def close(self) -> None:
        await self.api_client.close()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        request_timeout: float = 30.0,
    ) -> Obj:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            result = await self.api_client.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                response_types_map={200: "object", 201: "object", 202: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _preload_content=True,
                _request_timeout=request_timeout,
            )
        except ApiException as exc:
            raise KubeError.from_exception(exc) from None
        except (TimeoutError, OSError) as exc:
            raise KubeError(0, "ConnectionError", f"{type(exc).__name__}: {exc}") from None
        return result if isinstance(result, dict) else {}

    # -------------------------------------------------------------- discovery

    async def resource(self, api_version: str, kind: str) -> ResourceInfo:
        if api_version == "v1" and kind in _CORE_PLURALS:
            return ResourceInfo("v1", kind, _CORE_PLURALS[kind], kind != "Namespace")
        kinds = self._discovery.get(api_version)
        if kinds is None:
            async with self._discovery_lock:
                kinds = self._discovery.get(api_version)
                if kinds is None:
                    path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
                    try:
                        listing = await self.request("GET", path)
                    except KubeError as exc:
                        if exc.status == 404:
                            raise KubeError(
                                404, "NotFound", f'the server does not serve the API version "{api_version}"'
                            ) from None
                        raise
                    kinds = {}
                    for r in listing.get("resources") or ():
                        if "/" not in r["name"]:
                            kinds[r["kind"]] = ResourceInfo(
                                api_version, r["kind"], r["name"], r["namespaced"]
                            )
                    self._discovery[api_version] = kinds
        info = kinds.get(kind)
        if info is None:
            raise KubeError(404, "NotFound", f'the server has no kind "{kind}" in "{api_version}"')
        return info

    def forget_discovery(self, api_version: str) -> None:
        self._discovery.pop(api_version, None)

    # -------------------------------------------------------------- verbs on plain dicts

    async def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj:
        info = await self.resource(api_version, kind)
        return await self.request("GET", info.path(namespace, name))

    async def create(self, obj: Obj, *, field_manager: str = "jupyternetes", dry_run: bool = False) -> Obj:
        """Create ``obj``; ``dry_run``: the API server validates and admits it (every admission plugin and
        webhook) without storing it."""
        info = await self.resource(obj["apiVersion"], obj["kind"])
        ns = obj.get("metadata", {}).get("namespace")
        query = {"fieldManager": field_manager, **({"dryRun": "All"} if dry_run else {})}
        return await self.request("POST", info.path(ns), obj, query=query)

    async def patch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        subresource: str = "",
        content_type: str = MERGE_PATCH,
        field_manager: str = "jupyternetes",
    ) -> Obj:
        info = await self.resource(api_version, kind)
        return await self.request(
            "PATCH",
            info.path(namespace, name, subresource),
            patch,
            content_type=content_type,
            query={"fieldManager": field_manager},
        )

    async def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> Obj:
        """``uid``, ``resource_version``: delete only that object, only as it was at that version (else
        409 Conflict)."""
        info = await self.resource(api_version, kind)
        body: Obj = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        preconditions = {"uid": uid, "resourceVersion": resource_version}
        if any(preconditions.values()):
            body["preconditions"] = {k: v for k, v in preconditions.items() if v}
        return await self.request("DELETE", info.path(namespace, name), body)
