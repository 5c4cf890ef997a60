"""Provisioning benchmark: N JupyterNotebookInstances created at once on kubesim (fake runtime).

Reports the latency from each instance's creation to its Ready condition (p50/p95/p99), the time until
all are Ready, the operator's peak RSS, and the API requests the operator made per instance (from kubesim's
request accounting; watches are not counted), broken down by verb and resource.

    python bench/provision.py --instances 1000
    python bench/provision.py --instances 20 --sequential      # one at a time
    python bench/provision.py --instances 500 --json-out r.json  # also every latency, for plots

The last line of output is a JSON object with the figures; ``--json-out`` writes the same object plus
``latencies_ms`` (one per instance, in creation order), ``ready_after_s`` (each instance's Ready time
from the first create) and ``load_average`` (before, after) to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import yaml

import kubesim

ROOT = Path(__file__).resolve().parents[1]
NS = "bench"
TEMPLATE = {
    "apiVersion": "kadense.io/v1",
    "kind": "JupyterNotebookTemplate",
    "metadata": {"name": "bench", "namespace": NS},
    "spec": {
        "pvcs": [
            {
                "name": "work",
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ],
        "pods": [
            {
                "name": "notebook",
                "spec": {
                    "containers": [
                        {
                            "name": "notebook",
                            "image": "quay.io/jupyter/base-notebook:2025-01-01",
                            "ports": [{"name": "http", "containerPort": 8888}],
                            "env": [{"name": "JUPYTERHUB_USER", "value": "{user}"}],
                            "volumeMounts": [{"name": "work", "mountPath": "/home/{user}/work"}],
                        }
                    ],
                    "volumes": [
                        {"name": "work", "persistentVolumeClaim": {"claimName": "{jupyternetes.pvcs.work}"}}
                    ],
                },
            }
        ],
    },
}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            self.stop.wait(0.05)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    # The cluster's state (one volume directory per instance) and the operator's log go with the run.
    with tempfile.TemporaryDirectory(prefix="bench-provision-", ignore_cleanup_errors=True) as tmp:
        return await _run(args, Path(tmp))


async def _run(args: argparse.Namespace, state: Path) -> dict[str, Any]:
    # kubesim has one node; give it room for every pod (a real cluster would spread them over many nodes).
    capacity = {"pods": str(max(250, args.instances * 2)), "cpu": "10000", "memory": "100000Gi"}
    async with kubesim.Cluster(
        state_dir=state, history_size=max(20000, args.instances * 20), kubelet={"node_capacity": capacity}
    ) as cluster:
        headers = {"Authorization": f"Bearer {cluster.admin_token}"}
        ssl_context = ssl.create_default_context(cafile=cluster.ca_file) if cluster.ca_file else None
        connector = aiohttp.TCPConnector(limit=64, ssl=ssl_context if ssl_context else False)
        async with aiohttp.ClientSession(cluster.url, headers=headers, connector=connector) as http:
            for crd in sorted((ROOT / "crds").glob("*.yaml")):
                await _ok(
                    http.post(
                        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                        json=yaml.safe_load(crd.read_text()),
                    )
                )
            await _ok(http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}))
            await _ok(
                http.post("/api/v1/namespaces/bench/serviceaccounts", json={"metadata": {"name": "operator"}})
            )
            await _ok(
                http.post(
                    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                    json={
                        "metadata": {"name": "bench-operator"},
                        "roleRef": {
                            "apiGroup": "rbac.authorization.k8s.io",
                            "kind": "ClusterRole",
                            "name": "cluster-admin",
                        },
                        "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": NS}],
                    },
                )
            )
            await _ok(
                http.post(f"/apis/kadense.io/v1/namespaces/{NS}/jupyternotebooktemplates", json=TEMPLATE)
            )
            kubeconfig = cluster.kubeconfig_for("operator", NS)
            operator_user = f"system:serviceaccount:{NS}:operator"
            log = open(state / "operator.log", "w")  # noqa: SIM115, ASYNC230 - closed below; setup only
            op = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
                [
                    sys.executable,
                    "-m",
                    "jupyternetes.cli",
                    "operator",
                    "--all-namespaces",
                    "--standalone",
                    "--template-namespace",
                    NS,
                    "--kubeconfig",
                    kubeconfig,
                    "--workers",
                    str(args.workers),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            sampler = RssSampler(op.pid)
            sampler.start()
            try:
                await _wait_operator_ready(cluster, operator_user)
                cluster.requests.reset()
                ready_at: dict[str, float] = {}
                created_at: dict[str, float] = {}
                watcher = asyncio.create_task(_watch_ready(http, ready_at))
                await asyncio.sleep(0)  # let the watch start before the first create
                started = time.monotonic()
                names = [f"i{n:05d}" for n in range(args.instances)]
                if args.sequential:
                    for name in names:
                        created_at[name] = time.monotonic()
                        await _create(http, name)
                        await _until(lambda n=name: n in ready_at, args.timeout)
                else:
                    sem = asyncio.Semaphore(64)

                    async def create(name: str) -> None:
                        async with sem:
                            created_at[name] = time.monotonic()
                            await _create(http, name)

                    await asyncio.gather(*(create(n) for n in names))
                    try:
                        await _until(lambda: len(ready_at) >= len(names), args.timeout)
                    except TimeoutError:
                        await _explain_stragglers(http, [n for n in names if n not in ready_at])
                        raise
                total = time.monotonic() - started
                watcher.cancel()
                latencies = [(ready_at[n] - created_at[n]) * 1000 for n in names if n in ready_at]
                ready_after = sorted(ready_at[n] - started for n in names if n in ready_at)
                breakdown = {
                    k: v
                    for k, v in cluster.requests.by("verb", "resource", user=operator_user).items()
                    if not k.startswith(("watch ", "list "))
                }
                operator_requests = sum(breakdown.values())
            finally:
                sampler.stop.set()
                op.terminate()
                try:
                    op.wait(10)
                except subprocess.TimeoutExpired:
                    op.kill()
                log.close()
    return {
        "instances": args.instances,
        "mode": "sequential" if args.sequential else "all at once",
        "ready": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "total_s": round(total, 2),
        "operator_peak_rss_mb": round(sampler.peak / 2**20, 1),
        "api_requests_per_instance": round(operator_requests / max(args.instances, 1), 2),
        "breakdown": dict(sorted(breakdown.items(), key=lambda kv: -kv[1])),
        "latencies_ms": [round(x, 1) for x in latencies],
        "ready_after_s": [round(x, 3) for x in ready_after],
    }


async def _ok(req: Any) -> dict[str, Any]:
    async with req as resp:
        body: dict[str, Any] = await resp.json()
        if resp.status >= 300:
            raise RuntimeError(f"{resp.status}: {body.get('message')}")
        return body


async def _create(http: aiohttp.ClientSession, name: str) -> None:
    await _ok(
        http.post(
            f"/apis/kadense.io/v1/namespaces/{NS}/jupyternotebookinstances",
            json={
                "apiVersion": "kadense.io/v1",
                "kind": "JupyterNotebookInstance",
                "metadata": {"name": name, "namespace": NS},
                "spec": {"template": {"name": "bench"}, "variables": {"user": name}},
            },
        )
    )


async def _watch_ready(http: aiohttp.ClientSession, ready_at: dict[str, float]) -> None:
    async with http.get(
        f"/apis/kadense.io/v1/namespaces/{NS}/jupyternotebookinstances",
        params={"watch": "true"},
        timeout=aiohttp.ClientTimeout(total=None),
    ) as resp:
        async for line in resp.content:
            event = json.loads(line)
            obj = event["object"]
            name = obj["metadata"]["name"]
            if name in ready_at:
                continue
            for c in (obj.get("status") or {}).get("conditions") or ():
                if c["type"] == "Ready" and c["status"] == "True":
                    ready_at[name] = time.monotonic()


async def _explain_stragglers(http: aiohttp.ClientSession, names: list[str]) -> None:
    """Say where the instances that never became Ready are stuck, so a timeout is a diagnosis."""
    print(f"{len(names)} instances not Ready, e.g. {names[:5]}", file=sys.stderr)
    for name in names[:3]:
        inst = await _ok(http.get(f"/apis/kadense.io/v1/namespaces/{NS}/jupyternotebookinstances/{name}"))
        print(json.dumps(inst.get("status"), indent=1)[:2000], file=sys.stderr)
        async with http.get(f"/api/v1/namespaces/{NS}/pods/{name}-notebook") as resp:
            pod = await resp.json()
            print(resp.status, json.dumps(pod.get("status"), indent=1)[:1500], file=sys.stderr)


async def _until(predicate: Any, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("instances did not become Ready in time")
        await asyncio.sleep(0.005)


async def _wait_operator_ready(cluster: kubesim.Cluster, user: str) -> None:
    # The operator is ready once it watches instances and pods.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = cluster.requests.by("verb", "resource", user=user)
        if counts.get("watch jupyternotebookinstances.kadense.io") and counts.get("watch pods"):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("operator did not start watching")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--sequential", action="store_true", help="one instance at a time")
    parser.add_argument("--workers", type=int, default=32, help="operator reconcile workers")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json-out", help="also write the figures with every latency to this file")
    args = parser.parse_args()
    load_before = os.getloadavg()
    result = asyncio.run(run(args))
    details = {"latencies_ms": result.pop("latencies_ms"), "ready_after_s": result.pop("ready_after_s")}
    if args.json_out:
        extra = {"load_average": {"before": load_before, "after": os.getloadavg()}}
        Path(args.json_out).write_text(json.dumps({**result, **details, **extra}))
    breakdown = result.pop("breakdown")
    print(f"{result['instances']} instances ({result['mode']}): {result['ready']} Ready")
    print(
        f"latency creation -> Ready: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"p99 {result['p99_ms']} ms; all Ready after {result['total_s']} s"
    )
    print(
        f"operator peak RSS {result['operator_peak_rss_mb']} MB; "
        f"{result['api_requests_per_instance']} API requests per instance (watches not counted):"
    )
    for key, n in breakdown.items():
        print(f"  {n / max(result['instances'], 1):6.2f}/instance  {key}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
