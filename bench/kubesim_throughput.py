"""kubesim throughput: GETs/s of one object, pod creates/s, watch fan-out (events/s delivered to 10 watchers)
and the RSS of the server process once it stores 10k pods.

The server runs as ``kubesim up`` in a subprocess (so its RSS can be measured with psutil and the client
does not share its interpreter); the client is one lean aiohttp session with keep-alive connections and a
fixed number of requests in flight, so the client is not the bottleneck. The last line printed is a JSON
object with ``get_per_s``, ``create_per_s``, ``watch_events_per_s`` and ``rss_mb_10k_pods``.

Usage: ``python bench/kubesim_throughput.py [--seconds 3] [--concurrency 16] [--pods 10000]``
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import yaml

TARGETS = {"get_per_s": 1500, "create_per_s": 500, "rss_mb_10k_pods": 500}


class Server:
    def __init__(self, workdir: Path) -> None:
        self.kubeconfig = workdir / "kubeconfig"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubesim.cli",
                "up",
                "--kubeconfig",
                str(self.kubeconfig),
                "--state-dir",
                str(workdir / "state"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not self.kubeconfig.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"kubesim up did not start: {self.proc.stderr.read() if self.proc.stderr else ''}"
                )
            time.sleep(0.05)
        config = yaml.safe_load(self.kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        self.url: str = cluster["server"]
        self.token: str = config["users"][0]["user"]["token"]
        self.ssl = (
            ssl.create_default_context(
                cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
            )
            if "certificate-authority-data" in cluster
            else None
        )

    def rss_mb(self) -> float:
        return float(psutil.Process(self.proc.pid).memory_info().rss) / 2**20

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        # A scheduler nobody runs: the pods stay Pending, so the figures are the API server's own (kubesim's
        # scheduler/kubelet would otherwise add several writes per pod, and binds at most 250 per node).
        "spec": {
            "schedulerName": "kubesim-bench-unscheduled",
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "infinity"]}],
        },
    }


async def _run_for(seconds: float, concurrency: int, request: Any) -> int:
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


async def _run_n(n: int, concurrency: int, request: Any, start: int = 0) -> None:
    counter = iter(range(start, start + n))

    async def worker() -> None:
        for i in counter:
            await request(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def bench(args: argparse.Namespace, server: Server) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=args.concurrency + 20, ssl=server.ssl if server.ssl else False)
    async with aiohttp.ClientSession(server.url, headers=headers, connector=connector) as http:

        async def ok(resp: aiohttp.ClientResponse, *codes: int) -> None:
            if resp.status not in codes:
                raise SystemExit(f"{resp.method} {resp.url} -> {resp.status}: {await resp.text()}")

        for ns in ("bench", "watch"):
            async with http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}) as r:
                await ok(r, 201)
        async with http.post(
            "/api/v1/namespaces/bench/configmaps", json={"metadata": {"name": "target"}, "data": {"k": "v"}}
        ) as r:
            await ok(r, 201)

        # 1. GET of one object.
        async def get(_: int) -> None:
            async with http.get("/api/v1/namespaces/bench/configmaps/target") as r:
                await r.read()
                await ok(r, 200)

        await _run_for(0.5, args.concurrency, get)  # warm-up
        started = time.monotonic()
        gets = await _run_for(args.seconds, args.concurrency, get)
        get_per_s = gets / (time.monotonic() - started)
        print(f"GET one configmap: {gets} in {args.seconds:.1f}s -> {get_per_s:.0f}/s", flush=True)

        # 2. Pod creates.
        created = 0

        async def create(i: int) -> None:
            nonlocal created
            async with http.post("/api/v1/namespaces/bench/pods", json=_pod(f"pod-{i:05d}")) as r:
                await r.read()
                await ok(r, 201)
            created += 1

        started = time.monotonic()
        await _run_for(args.seconds, args.concurrency, lambda i: create(i))
        create_per_s = created / (time.monotonic() - started)
        print(f"create pod: {created} in {args.seconds:.1f}s -> {create_per_s:.0f}/s", flush=True)

        # 3. Watch fan-out: 10 watchers of one collection, N writes.
        async with http.get("/api/v1/namespaces/watch/configmaps") as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        n_events = args.watch_writes
        received = [0] * args.watchers
        finished = asyncio.Event()
        last_at = [0.0]

        async def watcher(k: int) -> None:
            async with http.get(
                f"/api/v1/namespaces/watch/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=120",
                timeout=aiohttp.ClientTimeout(total=None),
            ) as r:
                async for _ in r.content:
                    received[k] += 1
                    if received[k] >= n_events:
                        last_at[0] = max(last_at[0], time.monotonic())
                        if all(x >= n_events for x in received):
                            finished.set()
                        return

        watchers = [asyncio.create_task(watcher(k)) for k in range(args.watchers)]

        async def write(i: int) -> None:
            async with http.post(
                "/api/v1/namespaces/watch/configmaps", json={"metadata": {"name": f"cm-{i:05d}"}}
            ) as r:
                await r.read()
                await ok(r, 201)

        await asyncio.sleep(0)  # let the watch requests go out before the first write
        started = time.monotonic()
        await _run_n(n_events, args.concurrency, write)
        await asyncio.wait_for(finished.wait(), timeout=120)
        elapsed = last_at[0] - started
        watch_per_s = sum(received) / elapsed
        print(
            f"watch fan-out: {n_events} writes x {args.watchers} watchers = {sum(received)} events in "
            f"{elapsed:.2f}s -> {watch_per_s:.0f} events/s delivered",
            flush=True,
        )
        for t in watchers:
            t.cancel()

        # 4. Memory with 10k stored pods.
        remaining = max(args.pods - created, 0)
        started = time.monotonic()
        await _run_n(remaining, args.concurrency, create, start=created)
        async with http.get("/api/v1/namespaces/bench/pods?limit=1") as r:
            page = await r.json()
        stored = len(page["items"]) + int(page["metadata"].get("remainingItemCount", 0))
        rss = server.rss_mb()
        print(
            f"stored pods: {stored} (created {remaining} more in {time.monotonic() - started:.1f}s); "
            f"server RSS {rss:.0f} MB",
            flush=True,
        )
        return {
            "get_per_s": round(get_per_s, 1),
            "create_per_s": round(create_per_s, 1),
            "watch_events_per_s": round(watch_per_s, 1),
            "rss_mb_10k_pods": round(rss, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of the GET and create phases")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--watchers", type=int, default=10)
    parser.add_argument("--watch-writes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10000)
    args = parser.parse_args()
    print(
        f"kubesim throughput on {platform.node()}: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; "
        f"server: `kubesim up` subprocess (HTTPS); client: one aiohttp session, {args.concurrency} requests "
        "in flight (a lean async client, so the client is not the bottleneck)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="kubesim-bench-") as tmp:
        server = Server(Path(tmp))
        try:
            result = asyncio.run(bench(args, server))
        finally:
            server.stop()
    missed = [
        k
        for k, target in TARGETS.items()
        if (result[k] < target if k != "rss_mb_10k_pods" else result[k] > target)
    ]
    print(
        "targets: "
        + ", ".join(f"{k} {'<=' if k == 'rss_mb_10k_pods' else '>='} {v}" for k, v in TARGETS.items())
        + (f"; MISSED: {', '.join(missed)}" if missed else "; all met"),
        flush=True,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
