"""Burst benchmark (issue 7, item 5): the hub creates instances at a fixed rate (50/s) for a minute, as a
hub does when a class logs in at once. The operator (a real ``jupyternetes operator`` subprocess) serves
them on kubesim or on upstream Kubernetes (k8s-local; both with a fake-runtime kubelet). Reports, second by
second: instances created, Ready, the backlog (created and not yet Ready), the creation -> Ready latency of
the instances created in that second, the operator's RSS and CPU, and the cluster's CPU (kubesim: this
process, where its API server, controllers and kubelet run; upstream: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and the kubelet agent together); then the time until the backlog is
empty, the operator's API requests per instance and each component's CPU seconds.

    python bench/burst.py [--rate 50] [--seconds 60] [--cluster upstream] [--json-out burst.json]

Each instance is one retained PVC and one pod. The last line of output is a JSON object with the summary
and the per-second series.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.hardening.harness import (  # noqa: E402
    Env,
    OperatorProcess,
    ReadyClock,
    bench_env,
    component_pids,
    cpu_seconds,
    instance_body,
    percentile,
    simple_template,
)


class Sampler(threading.Thread):
    """Once a second: created, Ready, backlog, operator RSS and CPU, this process' CPU."""

    def __init__(
        self, clock: ReadyClock, op: OperatorProcess, started: float, cluster: dict[str, int]
    ) -> None:
        super().__init__(daemon=True, name="sampler")
        self.clock = clock
        self.started = started
        assert op.proc is not None
        self.op = psutil.Process(op.proc.pid)
        self.cluster = cluster
        self.last = (time.monotonic(), sum(cpu_seconds(cluster).values()))
        self.rows: list[dict[str, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        self.op.cpu_percent()
        while True:
            stopping = self.stop.wait(1.0)
            self.sample()
            if stopping:
                return

    def sample(self) -> None:
        created, ready = len(self.clock.created), len(self.clock.ready)
        try:
            rss = self.op.memory_info().rss / 2**20
            op_cpu = self.op.cpu_percent()
        except psutil.Error:
            rss, op_cpu = 0.0, 0.0
        now, cpu = time.monotonic(), sum(cpu_seconds(self.cluster).values())
        cluster_pct = 100 * (cpu - self.last[1]) / max(now - self.last[0], 1e-6)
        self.last = (now, cpu)
        self.rows.append(
            {
                "t": round(time.monotonic() - self.started, 2),
                "created": created,
                "ready": ready,
                "backlog": created - ready,
                "operator_rss_mb": round(rss, 1),
                "operator_cpu_pct": round(op_cpu, 1),
                "cluster_cpu_pct": round(cluster_pct, 1),
            }
        )


def run(env: Env, work: Path, rate: float, seconds: float, workers: int, timeout: float) -> dict[str, Any]:
    env.create_template(simple_template(env))
    clock = ReadyClock()
    clock.install(env)
    op = OperatorProcess(env, work, workers=workers)
    op.start()
    hub = env.hub()
    total = int(rate * seconds)
    names = [f"b{i:05d}" for i in range(total)]
    sent_at: dict[str, float] = {}
    request_ms: list[float] = []
    lags: list[float] = []
    env.reset_requests()
    cluster_pids = component_pids(env)
    pids = {**cluster_pids, "operator": op.proc.pid if op.proc else 0}
    cpu_before = cpu_seconds(pids)
    started = time.monotonic()
    sampler = Sampler(clock, op, started, cluster_pids)
    sampler.start()

    def create(name: str) -> None:
        t0 = time.monotonic()
        hub.create_instance(instance_body(env, name, template="simple"))
        request_ms.append((time.monotonic() - t0) * 1000)

    try:
        with ThreadPoolExecutor(32) as pool:
            futures: list[Future[None]] = []
            for i, name in enumerate(names):
                due = started + i / rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)  # pacing: the hub's rate is the point of this benchmark
                lags.append(time.monotonic() - due)
                sent_at[name] = time.monotonic()
                futures.append(pool.submit(create, name))
            for f in futures:
                f.result()
        created_s = time.monotonic() - started
        deadline = time.monotonic() + timeout
        while len(clock.ready) < total and time.monotonic() < deadline and op.alive:
            time.sleep(0.1)
        drained_s = time.monotonic() - started
        cpu_after = cpu_seconds(pids)
    finally:
        sampler.stop.set()  # the sampler takes a last sample, with everything Ready
        sampler.join()
        hub.close()
        alive = op.alive
        op.stop()
    operator_requests = sum(
        v for k, v in env.operator_requests().items() if not k.startswith(("watch ", "list "))
    )
    latencies = clock.latencies_ms(names)
    # Latency by the second in which the instance was created.
    by_second: dict[int, list[float]] = {}
    for n in names:
        if n in clock.ready and n in clock.created:
            second = int(clock.created[n] - started)
            by_second.setdefault(second, []).append((clock.ready[n] - clock.created[n]) * 1000)
    latency_series = [
        {
            "second": s,
            "created": len(v),
            "p50_ms": round(percentile(v, 50), 1),
            "p95_ms": round(percentile(v, 95), 1),
            "max_ms": round(max(v), 1),
        }
        for s, v in sorted(by_second.items())
    ]
    peak_backlog = max((r["backlog"] for r in sampler.rows), default=0)
    return {
        "cluster": env.backend,
        "cpu_s": {k: round(cpu_after[k] - cpu_before[k], 2) for k in pids},
        "rate_per_s": rate,
        "seconds": seconds,
        "instances": total,
        "ready": len(clock.ready),
        "operator_alive": alive,
        "created_in_s": round(created_s, 2),
        "all_ready_after_s": round(drained_s, 2),
        "drain_after_last_create_s": round(drained_s - created_s, 2),
        "achieved_create_rate_per_s": round(total / created_s, 1),
        "create_request_p50_ms": round(percentile(request_ms, 50), 1),
        "create_request_p95_ms": round(percentile(request_ms, 95), 1),
        "max_pacing_lag_s": round(max(lags, default=0.0), 3),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "peak_backlog": peak_backlog,
        "operator_peak_rss_mb": round(op.peak_rss / 2**20, 1),
        "api_requests_per_instance": round(operator_requests / max(total, 1), 2),
        "timeline": sampler.rows,
        "latency_by_creation_second": latency_series,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=50.0, help="instances created per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the hub keeps that rate")
    parser.add_argument("--workers", type=int, default=32, help="operator reconcile workers")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the backlog to drain")
    parser.add_argument("--cluster", choices=("kubesim", "upstream"), default="kubesim")
    parser.add_argument("--json-out", help="also write the result to this file")
    args = parser.parse_args()
    load_before = os.getloadavg()
    # Everything the run writes (the cluster's state, the operator's log) goes with it.
    with tempfile.TemporaryDirectory(prefix="bench-burst-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        with bench_env(
            args.cluster, work, pods=max(1000, int(args.rate * args.seconds) * 2), history_size=200_000
        ) as env:
            result = run(env, work, args.rate, args.seconds, args.workers, args.timeout)
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print(
        f"{result['instances']} instances at {args.rate:g}/s for {args.seconds:g} s "
        f"(achieved {result['achieved_create_rate_per_s']}/s; create requests p50 "
        f"{result['create_request_p50_ms']} ms, p95 {result['create_request_p95_ms']} ms)"
    )
    print(
        f"{result['ready']} Ready; backlog peaked at {result['peak_backlog']}; all Ready "
        f"{result['drain_after_last_create_s']} s after the last create"
    )
    print(
        f"creation -> Ready: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms"
    )
    print(
        f"operator peak RSS {result['operator_peak_rss_mb']} MB; "
        f"{result['api_requests_per_instance']} API requests per instance"
    )
    print("CPU seconds during the run: " + ", ".join(f"{k} {v}" for k, v in result["cpu_s"].items()))
    print("  second  created  p50 ms   p95 ms | t      ready  backlog  op-cpu%  cluster-cpu%")
    rows = {int(r["t"]): r for r in result["timeline"]}
    for row in result["latency_by_creation_second"][
        :: max(1, len(result["latency_by_creation_second"]) // 15)
    ]:
        t = rows.get(row["second"] + 1, {})
        print(
            f"  {row['second']:6d} {row['created']:8d} {row['p50_ms']:8.0f} {row['p95_ms']:8.0f} | "
            f"{t.get('t', 0):5.0f} {t.get('ready', 0):6.0f} {t.get('backlog', 0):8.0f} "
            f"{t.get('operator_cpu_pct', 0):8.0f} {t.get('cluster_cpu_pct', 0):13.0f}"
        )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result))
    print(json.dumps(result))
    return 0 if result["ready"] == result["instances"] and result["operator_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())
