"""A fault-injecting HTTPS proxy in front of any Kubernetes API server, with kubesim's fault rules.

kubesim injects faults inside its own API server (:mod:`kubesim.faults`); against another API server (upstream
Kubernetes) the same rules are applied by this proxy, which a client under test talks through while
everything else talks to the API server directly:

    with FaultProxy(plane.url, ca_file=plane.ca_file) as proxy:
        proxy.faults.add_error(500, verb="create", resource="pods", probability=0.1)
        proxy.faults.cut_watches(after_seconds=2)
        proxy.faults.expire_watches("pods", 1)
        kubeconfig = proxy.write_kubeconfig(path, token, user_name="system:serviceaccount:ns:sa")

What it does, rule by rule (the matching is :class:`kubesim.faults.Faults`', by verb and resource as
``plural`` or ``plural.group``):

- errors: the request is answered with the rule's Status (500, 429 with Retry-After, 409, ...) before it
  reaches the API server, so a refused write did not happen (as in kubesim);
- latency: the request waits that long before it is forwarded (a watch waits before its stream starts);
- watch cuts: a watch stream is ended (cleanly, as the API server ends a watch at its timeout) after N
  events (BOOKMARKs not counted) or N seconds;
- expirations: a watch that resumes from a resourceVersion (not ``0``, no ``sendInitialEvents``) is
  answered as upstream's watch cache answers a too old one: HTTP 200 and one ERROR event with a 410
  Expired Status, then the end of the stream.

It authenticates nothing: the client's bearer token is passed on (client certificates cannot be, TLS ends
here), and the API server authenticates and authorizes as usual. Every request is counted by verb and
resource (:attr:`requests`, as kubesim's request accounting) and recorded with its namespace, name and
status (:attr:`calls`). Watch events are counted on JSON streams; other encodings (protobuf) pass through
unparsed and are cut by time only. Connection upgrades (exec, attach, port-forward) are not proxied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from kubesim import kubeconfig as kubeconfigs
from kubesim.accounting import RequestCounter
from kubesim.errors import ApiError
from kubesim.faults import Faults
from kubesim.tls import SERVER_NAMES, CertificateAuthority

# Hop-by-hop headers and those the proxy recomputes. Content-Encoding passes through: bodies are relayed
# as they come (a gzipped LIST stays gzipped for the client that asked for it).
_DROP_REQUEST = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
_DROP_RESPONSE = {"content-length", "transfer-encoding", "connection", "keep-alive"}
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


@dataclass(frozen=True)
class RequestInfo:
    """What a request is, as the API server's request-info resolver reads its path."""

    verb: str
    group: str
    resource: str  # the plural
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def qualified(self) -> str:
        """``plural.group`` (``plural`` for the core group): how fault rules name resources."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def label(self) -> str:
        """The resource as kubesim's request accounting names it: ``plural.group/subresource``."""
        return self.qualified + (f"/{self.subresource}" if self.subresource else "")


def request_info(method: str, path: str, query: dict[str, str] | Any) -> RequestInfo | None:
    """The verb and resource of an API request; None for discovery, /version, /openapi and other
    non-resource paths."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    watch_prefix = bool(rest) and rest[0] == "watch"
    if watch_prefix:
        rest = rest[1:]
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]  # of a namespaced resource, or the Namespace itself (as upstream says)
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    watch = watch_prefix or str(query.get("watch", "")).lower() in ("true", "1")
    if method in ("GET", "HEAD"):
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = method.lower()
    return RequestInfo(verb, group, resource, subresource, namespace, name)


@dataclass(frozen=True)
class Call:
    """One request that went through the proxy."""

    verb: str
    resource: str  # plural.group/subresource
    namespace: str
    name: str
    status: int  # the HTTP status the client got (0: the connection failed)
    injected: bool  # answered by a fault rule, never forwarded


class _Stream:
    """An open watch stream, so it can be ended from outside (:meth:`FaultProxy.close_watches`)."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self.closed = asyncio.Event()


class FaultProxy:
    def __init__(
        self,
        upstream_url: str,
        *,
        ca_file: str | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: str | Path | None = None,
        max_calls: int = 200_000,
    ) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self.upstream_ca_file = ca_file
        self.faults = faults if faults is not None else Faults()
        self.host = host
        self._port = port
        self.requests = RequestCounter()
        self.calls: deque[Call] = deque(maxlen=max_calls)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fault-proxy-")
            state_dir = self._tmp.name
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ca = CertificateAuthority("fault-proxy-ca")
        self.ca_file = str(self.state_dir / "fault-proxy-ca.crt")
        Path(self.ca_file).write_bytes(self.ca.cert_pem)
        self.url = ""
        self._streams: set[_Stream] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        upstream_ssl: ssl.SSLContext | bool
        if self.upstream_url.startswith("https://"):
            upstream_ssl = ssl.create_default_context(cafile=self.upstream_ca_file)
        else:
            upstream_ssl = False
        # Watches hold their connection for as long as they last: no pool limit.
        connector = aiohttp.TCPConnector(limit=0, ssl=upstream_ssl)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)
        )
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A client that goes away (an operator SIGKILLed) cancels its handler, and so its upstream watch.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        pair = self.ca.issue(
            "fault-proxy", dns_names=SERVER_NAMES, ip_addresses=sorted({"127.0.0.1", self.host}), server=True
        )
        cert, key = self.state_dir / "fault-proxy.crt", self.state_dir / "fault-proxy.key"
        cert.write_bytes(pair.cert_pem)
        key.write_bytes(pair.key_pem)
        key.chmod(0o600)
        serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        serving.load_cert_chain(cert, key)
        site = web.TCPSite(self._runner, self.host, self._port, ssl_context=serving)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"https://{self.host}:{port}"

    async def stop(self) -> None:
        for stream in list(self._streams):
            stream.closed.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        self._cleanup()

    def __enter__(self) -> FaultProxy:
        """Serve from a thread of its own (for synchronous tests and benchmarks)."""
        ready: Future[None] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            stopped = asyncio.Event()
            self._stopped = stopped
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                ready.set_exception(exc)
                loop.close()
                return
            ready.set_result(None)
            loop.run_until_complete(stopped.wait())
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        ready.result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._thread is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout=30)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ------------------------------------------------------------------ use

    def write_kubeconfig(
        self, path: str | Path, token: str, *, user_name: str, namespace: str = "default"
    ) -> str:
        """A kubeconfig that reaches the API server through this proxy with ``token``."""
        return kubeconfigs.write_kubeconfig(
            path,
            cluster=kubeconfigs.cluster_entry(self.url, self.ca.cert_pem),
            user=kubeconfigs.token_user(token),
            user_name=user_name,
            cluster_name="fault-proxy",
            namespace=namespace,
        )

    def close_watches(self, resource: str | None = None) -> int:
        """End the open watch streams of ``resource`` (``plural`` or ``plural.group``; None: all) now, as a
        cut would; returns how many."""
        loop = self._loop
        if loop is None:
            return 0
        matching = [
            s
            for s in list(self._streams)
            if resource is None or resource in (s.resource, s.resource.split(".", 1)[0])
        ]
        for stream in matching:
            loop.call_soon_threadsafe(stream.closed.set)
        return len(matching)

    def open_watches(self, resource: str | None = None) -> int:
        return sum(
            1
            for s in list(self._streams)
            if resource is None or resource in (s.resource, s.resource.split(".", 1)[0])
        )

    def calls_of(self, resource: str) -> list[Call]:
        """Recorded calls of ``resource`` (a plural, any group and subresource)."""
        return [c for c in list(self.calls) if c.resource.split("/")[0].split(".")[0] == resource]

    # ------------------------------------------------------------------ serving

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        info = request_info(request.method, request.path, request.query)
        if info is not None:
            self.requests.add(info.verb, info.label, "")
            if self.faults.active:
                delay = self.faults.latency_for(info.verb, info.qualified)
                if delay:
                    await asyncio.sleep(delay)
                injected = self.faults.error_for(info.verb, info.qualified)
                if injected is not None:
                    self._record(info, injected.code, injected=True)
                    return _status_response(injected)
                if (
                    info.verb == "watch"
                    and self._resumes(request)
                    and self.faults.take_expiration(info.qualified)
                ):
                    self._record(info, 200, injected=True)
                    return await self._expired(request)
        try:
            if info is not None and info.verb == "watch":
                return await self._forward_watch(request, info)
            return await self._forward(request, info)
        except (aiohttp.ClientError, OSError) as exc:
            if info is not None:
                self._record(info, 0)
            return _status_response(ApiError(502, "InternalError", f"fault proxy: upstream failed: {exc}"))

    def _record(self, info: RequestInfo, status: int, *, injected: bool = False) -> None:
        self.calls.append(Call(info.verb, info.label, info.namespace, info.name, status, injected))

    @staticmethod
    def _resumes(request: web.Request) -> bool:
        rv = request.query.get("resourceVersion", "")
        return rv not in ("", "0") and request.query.get("sendInitialEvents", "") != "true"

    async def _expired(self, request: web.Request) -> web.StreamResponse:
        rv = request.query.get("resourceVersion", "")
        status = ApiError(410, "Expired", f"too old resource version: {rv} (injected by the fault proxy)")
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        event = {"type": "ERROR", "object": status.status()}
        await resp.write(json.dumps(event).encode() + b"\n")
        await resp.write_eof()
        return resp

    def _upstream(self, request: web.Request) -> tuple[URL, dict[str, str]]:
        # The path as the client sent it, encoded: the API server must see what it would have seen.
        url = URL(self.upstream_url + request.raw_path, encoded=True)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
        # What the client accepts, not the proxy's client's default (which would ask for gzip).
        headers.setdefault("Accept-Encoding", request.headers.get("Accept-Encoding", "identity"))
        return url, headers

    async def _forward(self, request: web.Request, info: RequestInfo | None) -> web.StreamResponse:
        assert self._session is not None
        url, headers = self._upstream(request)
        body = await request.read() if request.body_exists else None
        async with self._session.request(
            request.method, url, headers=headers, data=body, allow_redirects=False
        ) as upstream:
            resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            _copy_headers(upstream, resp)
            # Recorded before the client can have the answer: a client that reads calls right after its
            # request returns must find it there.
            if info is not None:
                self._record(info, upstream.status)
            await resp.prepare(request)
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
        return resp

    async def _forward_watch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        assert self._session is not None
        url, headers = self._upstream(request)
        headers["Accept-Encoding"] = "identity"  # events are counted as they pass
        cut = self.faults.watch_cut_for(info.qualified) if self.faults.active else None
        stream = _Stream(info.qualified)
        self._streams.add(stream)
        try:
            async with self._session.get(url, headers=headers, allow_redirects=False) as upstream:
                resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                _copy_headers(upstream, resp)
                self._record(info, upstream.status)
                await resp.prepare(request)
                if upstream.status != 200:
                    await resp.write(await upstream.read())
                    await resp.write_eof()
                    return resp
                json_lines = "json" in upstream.headers.get("Content-Type", "application/json")
                started = time.monotonic()
                counter = _EventCounter(cut.after_events if cut is not None else None)
                closed = asyncio.ensure_future(stream.closed.wait())
                try:
                    while True:
                        timeout = None
                        if cut is not None and cut.after_seconds is not None:
                            timeout = started + cut.after_seconds - time.monotonic()
                            if timeout <= 0:
                                break
                        read = asyncio.ensure_future(upstream.content.readany())
                        # A read left behind (the stream cut, the client gone) may fail later: nobody waits.
                        read.add_done_callback(_consume)
                        done, _ = await asyncio.wait(
                            {read, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                        )
                        if read not in done:
                            read.cancel()
                            with contextlib.suppress(asyncio.CancelledError, Exception):
                                await read
                            break
                        data = read.result()
                        if not data:
                            break  # the API server ended the watch
                        end = counter.feed(data) if json_lines else None
                        await resp.write(data if end is None else data[:end])
                        if end is not None:
                            break
                finally:
                    closed.cancel()
                with contextlib.suppress(ConnectionError):
                    await resp.write_eof()
                return resp
        finally:
            self._streams.discard(stream)


class _EventCounter:
    """Counts the events of a JSON watch stream as its bytes pass (lines of any length; BOOKMARKs not
    counted) and says where the stream must end when a cut after N events is due."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.sent = 0
        self.head = b""  # the start of the current line, enough to tell its type

    def feed(self, data: bytes) -> int | None:
        """The offset in ``data`` just after the event that reaches the limit, or None."""
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                if len(self.head) < 32:
                    self.head += data[start : start + 32 - len(self.head)]
                return None
            line_head = (self.head + data[start:newline])[:32]
            self.head = b""
            start = newline + 1
            if line_head.strip() and b'"BOOKMARK"' not in line_head:
                self.sent += 1
                if self.limit is not None and self.sent >= self.limit:
                    return start


def _consume(future: asyncio.Future[bytes]) -> None:
    if not future.cancelled():
        future.exception()


def _copy_headers(upstream: aiohttp.ClientResponse, resp: web.StreamResponse) -> None:
    for key, value in upstream.headers.items():
        if key.lower() not in _DROP_RESPONSE:
            resp.headers.add(key, value)


def _status_response(exc: ApiError) -> web.Response:
    return web.Response(
        status=exc.code,
        body=json.dumps(exc.status()).encode(),
        content_type="application/json",
        headers=exc.headers,
    )
