"""Time from pod create to Ready on kubesim: 200 pods with the ``fake`` runtime, 20 with the ``process``
runtime each running ``python3 -m http.server`` behind an HTTP readiness probe (periodSeconds 1).

kubesim runs in a child process (as it would for real clients, so the bench's own client does not compete
with it for the GIL). Pods are created one after another with the official client while a watch records
when each turns Ready; for process pods the bench also records when each server first answers a GET from
here (polling from the moment the pod has an address). Prints the figures; the last line is a JSON object
of them.

    python bench/kubesim_pods.py [--fake 200] [--process 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import threading
import time
import urllib.request
from typing import Any

import kubernetes

import kubesim

NS = "bench"


def _summary(latencies: list[float], total: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "pods": len(ordered),
        "p50_s": round(statistics.median(ordered), 4),
        "p95_s": round(p95, 4),
        "max_s": round(ordered[-1], 4),
        "total_s": round(total, 3),
    }


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _serve(runtime: str, count: int, conn: Any) -> None:
    """Child process: run the cluster until the parent says stop."""
    options: dict[str, Any] = {"node_capacity": {"pods": str(count + 10)}}
    with kubesim.Cluster(runtime=runtime, kubelet=options) as cluster:
        conn.send(cluster.kubeconfig)
        conn.recv()


def run(runtime: str, count: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(runtime, count, child), daemon=True)
    server.start()
    kubeconfig = parent.recv()
    try:
        return _measure(runtime, count, kubeconfig)
    finally:
        parent.send("stop")
        server.join(30)


def _measure(runtime: str, count: int, kubeconfig: str) -> dict[str, Any]:
    client = kubernetes.config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    core: Any = kubernetes.client.CoreV1Api(client)
    try:
        core.create_namespace({"metadata": {"name": NS}})
        rv = core.list_namespaced_pod(NS).metadata.resource_version
        created: dict[str, float] = {}
        ready: dict[str, float] = {}
        serving: dict[str, float] = {}
        probing: set[str] = set()
        done = threading.Event()

        def watch() -> None:
            resp = core.list_namespaced_pod(
                NS, watch=True, resource_version=rv, timeout_seconds=300, _preload_content=False
            )
            buffer = b""
            for chunk in resp.stream(65536):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    pod = json.loads(line)["object"]
                    name = pod["metadata"]["name"]
                    if name not in ready and _ready(pod):
                        ready[name] = time.monotonic()
                    ip = (pod.get("status") or {}).get("podIP")
                    if runtime == "process" and ip and name not in probing:
                        probing.add(name)
                        threading.Thread(target=probe, args=(name, ip), daemon=True).start()
                if len(ready) >= count:
                    resp.release_conn()
                    break
            done.set()

        def probe(name: str, ip: str) -> None:
            while True:
                try:
                    with urllib.request.urlopen(f"http://{ip}:8888/", timeout=1) as resp:
                        if resp.status == 200:
                            serving[name] = time.monotonic()
                            return
                except OSError:
                    time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        container: dict[str, Any] = {"name": "main", "image": "nginx:1.27"}
        if runtime == "process":
            container = {
                "name": "main",
                "image": "python:3.11-slim",
                "command": ["python3", "-m", "http.server", "8888"],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8888}, "periodSeconds": 1},
            }
        start = time.monotonic()
        for i in range(count):
            name = f"p{i:04d}"
            body = {"metadata": {"name": name}, "spec": {"containers": [container]}}
            created[name] = time.monotonic()
            core.create_namespaced_pod(NS, body, _preload_content=False)
        if not done.wait(120):
            missing = sorted(set(created) - set(ready))
            raise SystemExit(f"{runtime}: only {len(ready)}/{count} pods Ready after 120 s: {missing[:10]}")
        end = max(ready.values())
        out = _summary([ready[n] - created[n] for n in created], end - start)
        if runtime == "process":
            deadline = time.monotonic() + 30
            while len(serving) < count and time.monotonic() < deadline:
                time.sleep(0.05)
            out["serving"] = _summary(
                [serving[n] - created[n] for n in serving], max(serving.values()) - start
            )
        return out
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fake", type=int, default=200, help="pods in fake mode (default 200)")
    parser.add_argument("--process", type=int, default=20, help="pods in process mode (default 20)")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for runtime, count in (("fake", args.fake), ("process", args.process)):
        if count <= 0:
            continue
        results[runtime] = run(runtime, count)
        r = results[runtime]
        print(
            f"{runtime:8s} {r['pods']:4d} pods  create->Ready p50 {r['p50_s']:.3f}s  p95 {r['p95_s']:.3f}s  "
            f"max {r['max_s']:.3f}s  all Ready after {r['total_s']:.2f}s"
        )
        if "serving" in r:
            s = r["serving"]
            print(
                f"{'':8s} {s['pods']:4d} pods  create->HTTP 200 p50 {s['p50_s']:.3f}s  "
                f"p95 {s['p95_s']:.3f}s  max {s['max_s']:.3f}s"
            )
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
