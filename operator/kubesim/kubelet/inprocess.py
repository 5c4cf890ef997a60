"""The kubelet's client for kubesim's own node: calls into the API and the store of the same process.

The only kubelet module that touches kubesim's internals (an import-linter contract says so): everything
else goes through :class:`kubesim.kubelet.client.NodeClient`. Reads and writes are direct calls (no HTTP, no
JSON), so the in-process node costs what it did before the client existed. Writes run as the node's user
with the kubelet's field manager.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from kubesim import errors, selectors
from kubesim.api import API, User, WriteOptions
from kubesim.kubelet.client import Expired, Obj, Res, WatchEvent
from kubesim.resources import ResourceType
from kubesim.store import Event, Progress

# (namespace, service account, TokenRequest body) -> the TokenRequest the API server would answer.
TokenIssuer = Callable[[str, str, Obj], Obj]


class InProcessClient:
    def __init__(
        self,
        api: API,
        user: User,
        *,
        field_manager: str = "kubelet",
        server_url: Callable[[], str] = lambda: "",
        token_issuer: TokenIssuer | None = None,
    ) -> None:
        self.api = api
        self.opts = WriteOptions(user=user, field_manager=field_manager)
        self._server_url = server_url
        self._token_issuer = token_issuer

    @property
    def server_url(self) -> str:
        return self._server_url()

    def _rt(self, r: Res) -> ResourceType:
        rt = self.api.registry.get(r.group, r.version, r.plural)
        if rt is None:
            raise errors.not_found(r.plural, "", r.group)
        return rt

    async def get(self, r: Res, ns: str, name: str) -> Obj | None:
        return self.api.try_get(self._rt(r), ns if r.namespaced else "", name)

    async def list(self, r: Res, *, ns: str = "", fields: str = "") -> tuple[list[Obj], str]:
        result = self.api.list(self._rt(r), ns or None, field_selector=fields)
        return result.items, result.resource_version

    async def watch(self, r: Res, *, since: str, ns: str = "", fields: str = "") -> AsyncIterator[WatchEvent]:
        rt = self._rt(r)
        fsel = selectors.parse_field_selector(fields, rt.plural, rt.group) if fields else None

        def matches(obj: Obj | None) -> bool:
            if obj is None:
                return False
            if ns and obj["metadata"].get("namespace") != ns:
                return False
            return fsel is None or fsel.matches(obj)

        def translate(ev: Event) -> WatchEvent | None:
            # As the API server's watch does for a selector: an object that stops matching is DELETED
            # for this watch, one that starts matching is ADDED.
            new_match = matches(ev.obj)
            if ev.type == "DELETED":
                return WatchEvent("DELETED", ev.obj) if (matches(ev.old) or new_match) else None
            old_match = matches(ev.old)
            if new_match and (ev.type == "ADDED" or not old_match):
                return WatchEvent("ADDED", ev.obj)
            if new_match:
                return WatchEvent("MODIFIED", ev.obj)
            if old_match:
                return WatchEvent("DELETED", ev.obj)
            return None

        store = self.api.store
        watcher = store.subscribe(rt.key, asyncio.get_running_loop())
        try:
            with store.lock:
                replay = store.events_since(rt.key, int(since or 0))
                last = store.resource_version
            if replay is None:
                raise Expired(f"too old resource version: {since}")
            for ev in replay:
                out = translate(ev)
                if out is not None:
                    yield out
            while True:
                item = await watcher.queue.get()
                if item is None:
                    return  # the collection went away, or the store closed its watchers
                if isinstance(item, Progress) or item.rv <= last:
                    continue
                out = translate(item)
                if out is not None:
                    yield out
        finally:
            store.unsubscribe(watcher)

    async def create(self, r: Res, ns: str, body: Obj, *, name: str = "", subresource: str = "") -> Obj:
        if r.plural == "serviceaccounts" and subresource == "token":
            if self._token_issuer is None:
                raise errors.not_found("serviceaccounts/token", name, "")
            sa = self.api.get(self._rt(r), ns, name)  # 404 as the API server answers
            return self._token_issuer(ns, str(sa["metadata"]["name"]), body)
        if subresource:
            raise errors.bad_request(f"the in-process client does not create {r.plural}/{subresource}")
        return self.api.create(self._rt(r), ns if r.namespaced else "", body, self.opts)

    async def update(self, r: Res, ns: str, name: str, body: Obj, *, subresource: str = "") -> Obj:
        return self.api.update(self._rt(r), ns if r.namespaced else "", name, body, self.opts, subresource)

    async def patch(self, r: Res, ns: str, name: str, patch: Obj, *, subresource: str = "") -> Obj:
        obj, _ = self.api.patch(
            self._rt(r),
            ns if r.namespaced else "",
            name,
            "merge",
            patch,
            self.opts,
            subresource,
        )
        return obj

    async def delete(self, r: Res, ns: str, name: str, *, uid: str = "", grace: int | None = None) -> None:
        options: dict[str, Any] = {}
        if uid:
            options["preconditions"] = {"uid": uid}
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        self.api.delete(self._rt(r), ns if r.namespaced else "", name, options, self.opts)

    async def close(self) -> None:
        return None
