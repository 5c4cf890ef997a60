"""``pods/log`` of a pod on another node: the API server's proxy to that node's kubelet endpoint.

Upstream's API server answers ``pods/log`` by calling ``https://<node address>:<kubelet port>/containerLogs/
<namespace>/<pod>/<container>`` with its kubelet client certificate and streaming the answer back; kubesim
does the same for pods on nodes that are ``kubesim kubelet`` agents (its own node serves logs in-process).
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from kubesim import errors
from kubesim.errors import ApiError
from kubesim.kubelet import log_container

Obj = dict[str, Any]

LOG_QUERY = (
    "container",
    "follow",
    "previous",
    "sinceSeconds",
    "sinceTime",
    "timestamps",
    "tailLines",
    "limitBytes",
)


MAX_ERROR_BODY = 4096  # upstream reads at most this much of a kubelet's error answer


def _kubelet_error(code: int, text: str, name: str) -> ApiError:
    """A kubelet's error answer (plain text) as the API server's pods/log response checker reports it
    (apimachinery's GenericHttpResponseChecker): 400 and 500 carry the kubelet's text as their message,
    other codes are a generic server response about ``pods/log <name>``."""
    if code == 400:
        return errors.bad_request(text)
    if code == 500:
        return errors.internal_error(text)
    reason, message = (
        "",
        f"the server responded with the status code {code} but did not return more information",
    )
    if code == 404:
        reason, message = "NotFound", "the server could not find the requested resource"
    elif code == 403:
        reason, message = "Forbidden", text
    return ApiError(code, reason, f"{message} ( pods/log {name})", details={"name": name, "kind": "pods/log"})


def kubelet_endpoint(node: Obj | None) -> str:
    """``https://address:port`` of a node's kubelet, preferring its InternalIP (as the API server does
    with ``--kubelet-preferred-address-types=InternalIP,...``)."""
    status = (node or {}).get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or ()}
    address = addresses.get("InternalIP") or addresses.get("Hostname")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not address or not port:
        return ""
    return f"https://{address}:{port}"


async def proxy_container_log(
    request: web.Request, pod: Obj, node: Obj | None, client_ssl: ssl.SSLContext
) -> web.StreamResponse:
    meta = pod["metadata"]
    endpoint = kubelet_endpoint(node)
    if not endpoint:
        raise errors.internal_error(f"no kubelet endpoint known for node {pod['spec'].get('nodeName')!r}")
    container = log_container(pod, request.query.get("container", ""))
    query = {k: request.query[k] for k in LOG_QUERY if k in request.query and k != "container"}
    path = "/".join(quote(part) for part in (meta.get("namespace", ""), meta["name"], container))
    url = f"{endpoint}/containerLogs/{path}"
    connector = aiohttp.TCPConnector(ssl=client_ssl)
    try:
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(url, params=query) as upstream,
        ):
            if not 200 <= upstream.status <= 206:
                text = (await upstream.content.read(MAX_ERROR_BODY)).decode(errors="replace")
                raise _kubelet_error(upstream.status, text, meta["name"])
            resp = web.StreamResponse(
                status=200,
                headers={
                    "Content-Type": "text/plain; charset=utf-8",
                    "Cache-Control": "no-cache, private",
                },
            )
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp
    except ApiError:
        raise
    except (aiohttp.ClientError, OSError) as exc:
        raise errors.internal_error(f"Get {url!r}: {exc}") from exc
