"""kubesim against upstream Kubernetes (k8s-local): the same workload on both, side by side.

Measured, on each backend: GETs/s of one ConfigMap; ConfigMap creates/s; the latency of listing a
namespace of 1000 ConfigMaps; watch events/s delivered to one watcher while ConfigMaps are being created;
and the resident memory of the server processes once the workload has run (kubesim: its one process;
upstream: etcd + kube-apiserver + kube-controller-manager + kube-scheduler).

kubesim is served as ``kubesim up`` does, in a process of its own rather than as a ``kubesim.Cluster`` in a
thread of this one: the client then does not share the server's interpreter lock (which would slow both and
make the figures the client's as much as the server's), and the server's RSS is its own — as upstream's
components are separate processes too. The client is one aiohttp session with ``--concurrency`` requests
in flight, the same for both backends. Upstream's start-up (about 10 s) is not measured. The last line
printed is a JSON object with the figures.

Usage: ``python bench/kubesim_vs_upstream.py [--seconds 3] [--concurrency 8] [--list-size 1000]
[--watch-writes 2000] [--backends kubesim,upstream]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
import yaml

import k8slocal

Request = Callable[[int], Awaitable[None]]


@dataclass
class Backend:
    """A running API server: where it is, how to authenticate, which processes serve it."""

    name: str
    url: str
    token: str
    ssl: ssl.SSLContext | None
    pids: dict[str, int]
    stop: Callable[[], None] = field(repr=False)

    def rss_mb(self) -> dict[str, float]:
        return {name: psutil.Process(pid).memory_info().rss / 2**20 for name, pid in self.pids.items()}


def start_kubesim(workdir: Path) -> Backend:
    kubeconfig = workdir / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesim.cli",
            "up",
            "--kubeconfig",
            str(kubeconfig),
            "--state-dir",
            str(workdir / "state"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():  # written once the server is up
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"kubesim up did not start: {proc.stderr.read() if proc.stderr else ''!r}")
        time.sleep(0.05)
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    context = None
    if "certificate-authority-data" in cluster:
        context = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )

    def stop() -> None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    return Backend(
        "kubesim",
        cluster["server"],
        config["users"][0]["user"]["token"],
        context,
        {"kubesim": proc.pid},
        stop,
    )


def start_upstream(workdir: Path) -> Backend:
    binaries = k8slocal.find() or k8slocal.ensure()
    plane = k8slocal.ControlPlane(state_dir=workdir / "k8s", binaries=binaries)
    plane.start()
    return Backend(
        "upstream",
        plane.url,
        plane.admin_token,
        ssl.create_default_context(cafile=plane.ca_file),
        plane.pids(),
        plane.stop,
    )


async def _run_for(seconds: float, concurrency: int, request: Request) -> int:
    """Run ``request(i)`` with ``concurrency`` in flight for ``seconds``; returns how many completed."""
    done = 0
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await request(next(counter))
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


async def _run_n(n: int, concurrency: int, request: Request) -> None:
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await request(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def workload(args: argparse.Namespace, backend: Backend) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {backend.token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=args.concurrency + 4, ssl=backend.ssl or False)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(
        backend.url, headers=headers, connector=connector, timeout=timeout
    ) as http:

        async def ok(resp: aiohttp.ClientResponse, *codes: int) -> None:
            if resp.status not in codes:
                raise SystemExit(
                    f"{backend.name}: {resp.method} {resp.url} -> {resp.status}: {await resp.text()}"
                )

        for ns in ("bench", "listing", "watching"):
            async with http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}) as r:
                await ok(r, 201)
        async with http.post(
            "/api/v1/namespaces/bench/configmaps", json={"metadata": {"name": "target"}, "data": {"k": "v"}}
        ) as r:
            await ok(r, 201)

        def config_map(namespace: str, name: str) -> Request:
            async def create(_: int) -> None:
                async with http.post(
                    f"/api/v1/namespaces/{namespace}/configmaps",
                    json={"metadata": {"name": name}, "data": {"key": "value"}},
                ) as r:
                    await r.read()
                    await ok(r, 201)

            return create

        # 1. GET of one object.
        async def get(_: int) -> None:
            async with http.get("/api/v1/namespaces/bench/configmaps/target") as r:
                await r.read()
                await ok(r, 200)

        await _run_for(0.5, args.concurrency, get)  # warm-up (connections, caches)
        started = time.monotonic()
        gets = await _run_for(args.seconds, args.concurrency, get)
        get_per_s = gets / (time.monotonic() - started)

        # 2. ConfigMap creates.
        async def create(i: int) -> None:
            await config_map("bench", f"cm-{i:06d}")(i)

        started = time.monotonic()
        creates = await _run_for(args.seconds, args.concurrency, create)
        create_per_s = creates / (time.monotonic() - started)

        # 3. Listing a namespace of list_size ConfigMaps (and its kube-root-ca.crt).
        async def fill(i: int) -> None:
            await config_map("listing", f"item-{i:06d}")(i)

        await _run_n(args.list_size, args.concurrency, fill)
        latencies = []
        for _ in range(args.lists):
            started = time.monotonic()
            async with http.get("/api/v1/namespaces/listing/configmaps") as r:
                listed = await r.json()
                await ok(r, 200)
            latencies.append(time.monotonic() - started)
        items = len(listed["items"])
        list_ms = statistics.median(latencies) * 1000

        # 4. Watch events delivered to one watcher while creating.
        async with http.get("/api/v1/namespaces/watching/configmaps") as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        received = 0
        finished = asyncio.Event()
        ready = asyncio.Event()
        last_at = 0.0

        async def watcher() -> None:
            nonlocal received, last_at
            async with http.get(
                f"/api/v1/namespaces/watching/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=300"
            ) as r:
                await ok(r, 200)
                ready.set()  # headers back: the watch is established
                async for line in r.content:
                    if not line.strip():
                        continue
                    received += 1
                    if received >= args.watch_writes:
                        last_at = time.monotonic()
                        finished.set()
                        return

        watch = asyncio.create_task(watcher())
        await asyncio.wait_for(ready.wait(), timeout=30)

        async def write(i: int) -> None:
            await config_map("watching", f"w-{i:06d}")(i)

        started = time.monotonic()
        await _run_n(args.watch_writes, args.concurrency, write)
        await asyncio.wait_for(finished.wait(), timeout=300)
        watch_per_s = received / (last_at - started)
        watch.cancel()

        rss = backend.rss_mb()
        stored = 1 + creates + args.list_size + args.watch_writes
        print(
            f"{backend.name}: {gets} GETs, {creates} creates, list of {items} items, "
            f"{received} watch events; {stored} ConfigMaps stored; RSS "
            + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sorted(rss.items())),
            flush=True,
        )
        return {
            "get_per_s": round(get_per_s, 1),
            "create_per_s": round(create_per_s, 1),
            "list_ms": round(list_ms, 1),
            "watch_events_per_s": round(watch_per_s, 1),
            "rss_mb": round(sum(rss.values()), 1),
        }


ROWS = (
    ("get_per_s", "GET one ConfigMap (/s)", "{:.0f}"),
    ("create_per_s", "create ConfigMap (/s)", "{:.0f}"),
    ("list_ms", "list {n} ConfigMaps (ms, median)", "{:.1f}"),
    ("watch_events_per_s", "watch events to 1 watcher (/s)", "{:.0f}"),
    ("rss_mb", "server RSS (MB)", "{:.0f}"),
)


def table(args: argparse.Namespace, results: dict[str, dict[str, float]]) -> str:
    names = list(results)
    header = ["metric", *names] + (["kubesim/upstream"] if len(names) == 2 else [])
    lines = [header]
    for key, label, fmt in ROWS:
        row = [label.format(n=args.list_size), *(fmt.format(results[n][key]) for n in names)]
        if len(names) == 2 and results[names[1]][key]:
            row.append(f"{results[names[0]][key] / results[names[1]][key]:.2f}x")
        lines.append(row)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of the GET and create phases")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--list-size", type=int, default=1000)
    parser.add_argument("--lists", type=int, default=10, help="list requests timed (the median is kept)")
    parser.add_argument("--watch-writes", type=int, default=2000)
    parser.add_argument("--backends", default="kubesim,upstream")
    args = parser.parse_args()
    chosen = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(
        f"kubesim vs upstream on {platform.node()}: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; "
        f"kubesim: `kubesim up` subprocess (HTTPS); upstream: k8s-local {k8slocal.DEFAULT_VERSION} "
        f"(etcd, kube-apiserver, kube-controller-manager, kube-scheduler); client: one aiohttp session, "
        f"{args.concurrency} requests in flight",
        flush=True,
    )
    starters = {"kubesim": start_kubesim, "upstream": start_upstream}
    results: dict[str, dict[str, float]] = {}
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            backend = starters[name](Path(tmp))
            try:
                started = time.monotonic()
                results[name] = asyncio.run(workload(args, backend))
                print(f"{name}: workload ran in {time.monotonic() - started:.1f} s", flush=True)
            finally:
                backend.stop()
    print(table(args, results), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
