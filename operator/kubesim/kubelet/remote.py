"""The kubelet's client for any API server: JSON over HTTPS with a kubeconfig, as a real kubelet talks.

Credentials come from the kubeconfig's current context: a client certificate (a node's identity is
``system:node:<name>`` in the ``system:nodes`` group, which upstream's Node authorizer and NodeRestriction
admission plugin check) or a bearer token. Watches ask for bookmarks and resume from the last
resourceVersion seen; a 410 raises :class:`~kubesim.kubelet.client.Expired` and the informer relists.

aiohttp rather than kubernetes_asyncio: the kubelet needs six verbs on plain JSON, watches it can resume by
resourceVersion, and no generated models; kubesim already depends on aiohttp for its server.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import yaml

from kubesim.errors import ApiError
from kubesim.kubelet.client import Expired, Obj, Res, WatchEvent

WATCH_TIMEOUT_SECONDS = 290  # the server ends each watch a little before client-go's 5-minute ceiling


@dataclass(frozen=True)
class Credentials:
    server: str
    ssl: ssl.SSLContext | bool
    token: str = ""


def _data_or_file(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        path = Path(entry[key])
        return (path if path.is_absolute() else base / path).read_bytes()
    return None


def load_kubeconfig(path: str | os.PathLike[str], context: str = "") -> Credentials:
    """The server, TLS settings and token of a kubeconfig's context (its current one by default)."""
    file = Path(path)
    config = yaml.safe_load(file.read_text()) or {}
    name = context or config.get("current-context", "")
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or ()}
    if name not in contexts:
        raise ValueError(f"kubeconfig {file}: no context {name!r}")
    ctx = contexts[name]
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or ()}
    users = {u["name"]: u.get("user") or {} for u in config.get("users") or ()}
    cluster = clusters.get(ctx.get("cluster", ""))
    if cluster is None:
        raise ValueError(f"kubeconfig {file}: context {name!r} names no known cluster")
    user = users.get(ctx.get("user", ""), {})
    base = file.parent
    server = str(cluster.get("server", "")).rstrip("/")
    tls: ssl.SSLContext | bool = True
    if server.startswith("https://"):
        ca = _data_or_file(cluster, "certificate-authority", base)
        context_ = ssl.create_default_context(cadata=ca.decode() if ca else None)
        if cluster.get("insecure-skip-tls-verify"):
            context_.check_hostname = False
            context_.verify_mode = ssl.CERT_NONE
        cert = _data_or_file(user, "client-certificate", base)
        key = _data_or_file(user, "client-key", base)
        if cert and key:
            # load_cert_chain reads files only: the key lives in a private temporary directory for a moment.
            with tempfile.TemporaryDirectory(prefix="kubesim-kubelet-") as tmp:
                cert_file, key_file = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
                cert_file.write_bytes(cert)
                key_file.write_bytes(key)
                key_file.chmod(0o600)
                context_.load_cert_chain(cert_file, key_file)
        tls = context_
    token = str(user.get("token") or "")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).read_text().strip()
    return Credentials(server, tls, token)


class RemoteClient:
    def __init__(self, kubeconfig: str | os.PathLike[str], *, field_manager: str = "kubelet") -> None:
        self.credentials = load_kubeconfig(kubeconfig)
        self.field_manager = field_manager
        self._session: aiohttp.ClientSession | None = None

    @property
    def server_url(self) -> str:
        return self.credentials.server

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Accept": "application/json", "User-Agent": "kubelet/v1.34.0 (kubesim)"}
            if self.credentials.token:
                headers["Authorization"] = f"Bearer {self.credentials.token}"
            self._session = aiohttp.ClientSession(
                headers=headers,
                connector=aiohttp.TCPConnector(ssl=self.credentials.ssl, limit=32),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        url = self.credentials.server + path + (f"?{urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        try:
            async with self._http().request(
                method, url, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=30)
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ConnectionError(f"{method} {path}: {exc}") from exc
        if status >= 400:
            raise _api_error(status, raw)
        return json.loads(raw) if raw else None

    async def get(self, r: Res, ns: str, name: str) -> Obj | None:
        try:
            obj: Obj = await self._call("GET", r.path(ns, quote(name)))
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        return obj

    async def list(self, r: Res, *, ns: str = "", fields: str = "") -> tuple[list[Obj], str]:
        query = {"fieldSelector": fields} if fields else None
        body = await self._call("GET", r.path(ns), query=query)
        items: list[Obj] = body.get("items") or []
        kind = body.get("kind", "").removesuffix("List")
        for item in items:  # list items carry no apiVersion/kind on the wire
            item.setdefault("apiVersion", r.api_version)
            item.setdefault("kind", kind)
        return items, str(body.get("metadata", {}).get("resourceVersion", ""))

    async def watch(self, r: Res, *, since: str, ns: str = "", fields: str = "") -> AsyncIterator[WatchEvent]:
        query = {
            "watch": "1",
            "resourceVersion": since,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_TIMEOUT_SECONDS),
        }
        if fields:
            query["fieldSelector"] = fields
        url = self.credentials.server + r.path(ns) + "?" + urlencode(query)
        try:
            async with self._http().get(
                url, timeout=aiohttp.ClientTimeout(total=None, sock_read=WATCH_TIMEOUT_SECONDS + 30)
            ) as resp:
                if resp.status >= 400:
                    raise _api_error(resp.status, await resp.read())
                async for line in _lines(resp.content):
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    if kind == "ERROR":
                        error = _api_error(int(obj.get("code") or 500), json.dumps(obj).encode())
                        if error.code == 410:
                            raise Expired(error.message)
                        raise error
                    if kind == "BOOKMARK":
                        continue
                    if kind in ("ADDED", "MODIFIED", "DELETED"):
                        yield WatchEvent(kind, obj)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ConnectionError(f"watch {r.plural}: {exc}") from exc

    async def create(self, r: Res, ns: str, body: Obj, *, name: str = "", subresource: str = "") -> Obj:
        path = r.path(ns, quote(name), subresource) if subresource else r.path(ns)
        obj: Obj = await self._call("POST", path, body, query={"fieldManager": self.field_manager})
        return obj

    async def update(self, r: Res, ns: str, name: str, body: Obj, *, subresource: str = "") -> Obj:
        obj: Obj = await self._call(
            "PUT", r.path(ns, quote(name), subresource), body, query={"fieldManager": self.field_manager}
        )
        return obj

    async def patch(self, r: Res, ns: str, name: str, patch: Obj, *, subresource: str = "") -> Obj:
        obj: Obj = await self._call(
            "PATCH",
            r.path(ns, quote(name), subresource),
            patch,
            query={"fieldManager": self.field_manager},
            content_type="application/merge-patch+json",
        )
        return obj

    async def delete(self, r: Res, ns: str, name: str, *, uid: str = "", grace: int | None = None) -> None:
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            options["preconditions"] = {"uid": uid}
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        await self._call("DELETE", r.path(ns, quote(name)), options)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _api_error(status: int, raw: bytes) -> ApiError:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return ApiError(
            int(body.get("code") or status),
            str(body.get("reason") or ""),
            str(body.get("message") or ""),
            details=body.get("details"),
        )
    return ApiError(status, "", raw.decode(errors="replace")[:500])


async def _lines(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The lines of a watch stream, however long: aiohttp's own line iterator refuses a line longer than
    its buffer (128 KiB: LineTooLong, which nothing here retried), and one large pod (a large annotation or
    environment, as a hub's user data can make) stopped the node's pod watch for good."""
    pending = b""
    async for chunk in content.iter_any():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line
    if pending:
        yield pending
