"""``kubesim kubelet``: kubesim's kubelet as a node of any cluster, over HTTPS with a kubeconfig.

The agent registers its Node, runs what the cluster's scheduler binds to it (``fake`` or ``process``
runtime), and serves the kubelet's own HTTPS endpoint on ``host:port`` (the Node's
``daemonEndpoints.kubeletEndpoint``):

* ``/healthz``: ``ok`` once the node is registered and its pods listed (anyone may ask, as upstream's
  healthz port);
* ``/containerLogs/<namespace>/<pod>/<container>``: what the API server proxies ``pods/log`` to. Only a
  client certificate signed by ``client_ca_file`` and carrying the ``system:masters`` organization (the API
  server's ``--kubelet-client-certificate``) is served; upstream's kubelet asks the API server instead
  (webhook authorization of ``nodes/log``), which this agent does not do.

Stopping (SIGINT/SIGTERM) stops every container first: nothing the agent started outlives it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from kubesim import errors
from kubesim.errors import ApiError
from kubesim.kubelet import Kubelet
from kubesim.kubelet.remote import RemoteClient
from kubesim.tls import serving_certs

log = logging.getLogger("kubesim.kubelet")


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Agent:
    def __init__(
        self,
        kubeconfig: str | os.PathLike[str],
        *,
        state_dir: str | os.PathLike[str],
        runtime: str = "fake",
        node_name: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        client_ca_file: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port or _free_port(host)
        self.client_ca_file = Path(client_ca_file) if client_ca_file else None
        self.client = RemoteClient(self.kubeconfig)
        self.kubelet = Kubelet(
            self.client,
            self.state_dir,
            runtime=runtime,
            node_name=node_name or socket.gethostname(),
            kubelet_port=self.port,
            **options,
        )
        self._runner: web.AppRunner | None = None

    @property
    def node_name(self) -> str:
        return self.kubelet.node_name

    def _ssl(self) -> ssl.SSLContext:
        ctx = serving_certs(self.host).server_context()
        if self.client_ca_file is not None:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cafile=str(self.client_ca_file))
        return ctx

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port, ssl_context=self._ssl()).start()
        await self.kubelet.start()

    async def stop(self) -> None:
        await self.kubelet.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.client.close()

    async def _healthz(self, request: web.Request) -> web.Response:
        if self.kubelet.synced.is_set():
            return web.Response(text="ok")
        return web.Response(status=503, text="not synced with the API server yet")

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        organizations = {
            value
            for rdn in (peer or {}).get("subject", ())
            for key, value in rdn
            if key == "organizationName"
        }
        if "system:masters" not in organizations:
            return web.json_response(
                errors.forbidden_message(
                    "only the API server's kubelet client may read container logs", "nodes", self.node_name
                ).status(),
                status=403,
            )
        try:
            return await self.kubelet.serve_log(
                request,
                request.match_info["namespace"],
                request.match_info["pod"],
                request.match_info["container"],
            )
        except ApiError as exc:
            # Upstream's kubelet answers errors as plain text (go-restful's WriteError); the API server
            # turns that text into the message of its own Status.
            return web.Response(status=exc.code, text=exc.message)


async def run(agent: Agent, stop: asyncio.Event, say: Any = print) -> None:
    """Start the agent, report it, and serve until ``stop`` is set."""
    await agent.start()
    k = agent.kubelet
    say(f"kubesim kubelet: node {agent.node_name} registered with {agent.client.server_url}")
    say(f"kubesim kubelet: runtime {k.runtime_name}; pod addresses {k.ips.network}")
    say(f"kubesim kubelet: state in {agent.state_dir}")
    say(f"kubesim kubelet: kubelet endpoint https://{agent.host}:{agent.port} (/healthz, /containerLogs)")
    try:
        await stop.wait()
    finally:
        say("kubesim kubelet: stopping (containers first)")
        await agent.stop()
        say("kubesim kubelet: stopped")
