"""Provisioning benchmark: N JupyterNotebookInstances created at once, on kubesim or on upstream Kubernetes
(k8s-local with a kubesim kubelet node; both with the fake runtime: pods are Ready once scheduled).

Reports the latency from each instance's creation to its Ready condition (p50/p95/p99), the time until
all are Ready, the operator's peak RSS, the API requests the operator made per instance (watches and lists
not counted; kubesim: its request accounting; upstream: kube-apiserver's audit log of the operator's
ServiceAccount), broken down by verb and resource, and the CPU time each process spent meanwhile.

    python bench/provision.py --instances 1000 [--cluster upstream]
    python bench/provision.py --instances 20 --sequential      # one at a time
    python bench/provision.py --instances 500 --json-out r.json  # also every latency, for plots

The operator (a ``jupyternetes operator`` subprocess with the chart's RBAC) serves one namespace; the hub's
ServiceAccount creates the instances (32 requests in flight) of a template with one PVC and one pod.
Times: kubesim stamps creation and Ready on the server (a store listener); on upstream an admin watch
stamps them when it receives the events (client-side: both stamps come through the same watch).

The last line of output is a JSON object with the figures; ``--json-out`` writes the same object plus
``latencies_ms`` (one per instance, in creation order), ``ready_after_s`` (each instance's Ready time
from the first create) and ``load_average`` (before, after) to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.hardening.harness import (  # noqa: E402
    LABEL_INSTANCE,
    PODS,
    Env,
    OperatorProcess,
    ReadyClock,
    bench_env,
    component_pids,
    cpu_seconds,
    create_all,
    describe_stragglers,
    instance_body,
    is_ready,
    percentile,
    simple_template,
    wait_until,
)


def pod_only_template(env: Env, name: str) -> dict[str, Any]:
    """The template without its PVC: what the operator, the scheduler and the kubelet cost alone (on
    upstream a pod with an unbound claim waits for the volume binder, then the scheduler's back-off)."""
    body = simple_template(env, name)
    spec = body["spec"]
    spec["pvcs"] = []
    spec["pods"][0]["spec"]["volumes"] = []
    spec["pods"][0]["spec"]["containers"][0]["volumeMounts"] = []
    return body


class Trace:
    """When each instance's pod was first seen, bound to a node and Ready (the same clock as ReadyClock's):
    the hops of one provisioning, to say where the time goes."""

    def __init__(self) -> None:
        self.added: dict[str, float] = {}
        self.bound: dict[str, float] = {}
        self.ready: dict[str, float] = {}

    def on_pod(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        owner = (obj["metadata"].get("labels") or {}).get(LABEL_INSTANCE)
        if owner is None or kind == "DELETED":
            return
        now = time.monotonic()
        self.added.setdefault(owner, now)
        if (obj.get("spec") or {}).get("nodeName"):
            self.bound.setdefault(owner, now)
        if is_ready(obj):
            self.ready.setdefault(owner, now)

    def hops(self, clock: ReadyClock, names: list[str]) -> dict[str, dict[str, float]]:
        """p50 and p95 milliseconds of each hop, over the instances that went through all of them."""
        stamps = [clock.created, self.added, self.bound, self.ready, clock.ready]
        labels = [
            "operator: instance -> pod created",
            "scheduler: pod created -> bound",
            "kubelet: bound -> pod Ready",
            "operator: pod Ready -> instance Ready",
        ]
        complete = [n for n in names if all(n in s for s in stamps)]
        out: dict[str, dict[str, float]] = {}
        for i, label in enumerate(labels):
            values = [(stamps[i + 1][n] - stamps[i][n]) * 1000 for n in complete]
            if values:
                out[label] = {
                    "p50": round(percentile(values, 50), 1),
                    "p95": round(percentile(values, 95), 1),
                }
        return out


def run(env: Env, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    template = pod_only_template if args.no_pvc else simple_template
    env.create_template(template(env, "bench"))
    clock = ReadyClock()
    clock.install(env)
    trace = Trace()
    env.listen(trace.on_pod, PODS)
    op = OperatorProcess(env, work, workers=args.workers)
    op.start(timeout=120)
    hub = env.hub()
    names = [f"i{n:05d}" for n in range(args.instances)]
    bodies = [instance_body(env, n, template="bench") for n in names]
    pids = {**component_pids(env), "operator": op.proc.pid if op.proc else 0}
    try:
        env.reset_requests()
        cpu_before = cpu_seconds(pids)
        started = time.monotonic()
        if args.sequential:
            for name, body in zip(names, bodies, strict=True):
                hub.create_instance(body)
                wait_until(lambda n=name: n in clock.ready, args.timeout, interval=0.002, what=op.log_tail)
        else:
            create_all(hub, bodies, threads=32)
            wait_until(
                lambda: len(clock.ready) >= len(names),
                args.timeout,
                interval=0.01,
                what=lambda: describe_stragglers(env, names) + "\n" + op.log_tail(),
            )
        total = time.monotonic() - started
        cpu_after = cpu_seconds(pids)
        breakdown = {
            k: v for k, v in env.operator_requests().items() if not k.startswith(("watch ", "list "))
        }
        assert op.alive, op.log_tail()
    finally:
        hub.close()
        op.stop()
    latencies = clock.latencies_ms(names)
    ready_after = sorted(clock.ready[n] - started for n in names if n in clock.ready)
    return {
        "cluster": env.backend,
        "instances": args.instances,
        "mode": "sequential" if args.sequential else "all at once",
        "template": "pod only" if args.no_pvc else "pvc and pod",
        "ready": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "total_s": round(total, 2),
        "operator_peak_rss_mb": round(op.peak_rss / 2**20, 1),
        "api_requests_per_instance": round(sum(breakdown.values()) / max(args.instances, 1), 2),
        "breakdown": dict(sorted(breakdown.items(), key=lambda kv: -kv[1])),
        "cpu_s": {k: round(cpu_after[k] - cpu_before[k], 2) for k in pids},
        "hops_ms": trace.hops(clock, names),
        "latencies_ms": [round(x, 1) for x in latencies],
        "ready_after_s": [round(x, 3) for x in ready_after],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--sequential", action="store_true", help="one instance at a time")
    parser.add_argument("--cluster", choices=("kubesim", "upstream"), default="kubesim")
    parser.add_argument("--no-pvc", action="store_true", help="a template of one pod, no PVC")
    parser.add_argument("--workers", type=int, default=32, help="operator reconcile workers")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json-out", help="also write the figures with every latency to this file")
    args = parser.parse_args()
    load_before = os.getloadavg()
    # Everything the run writes (the cluster's state, the operator's log) goes with it.
    with tempfile.TemporaryDirectory(prefix="bench-provision-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        pods = max(250, args.instances * 2)
        with bench_env(args.cluster, work, pods=pods, history_size=max(20000, args.instances * 20)) as env:
            result = run(env, work, args)
    details = {"latencies_ms": result.pop("latencies_ms"), "ready_after_s": result.pop("ready_after_s")}
    if args.json_out:
        extra = {"load_average": {"before": load_before, "after": os.getloadavg()}}
        Path(args.json_out).write_text(json.dumps({**result, **details, **extra}))
    breakdown = result.pop("breakdown")
    print(
        f"{result['instances']} instances ({result['mode']}, {result['template']}) on {result['cluster']}: "
        f"{result['ready']} Ready"
    )
    print(
        f"latency creation -> Ready: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"p99 {result['p99_ms']} ms; all Ready after {result['total_s']} s"
    )
    print(
        f"operator peak RSS {result['operator_peak_rss_mb']} MB; "
        f"{result['api_requests_per_instance']} API requests per instance (watches and lists not counted):"
    )
    for key, n in breakdown.items():
        print(f"  {n / max(result['instances'], 1):6.2f}/instance  {key}")
    hops = result["hops_ms"].items()
    print("ms per hop (p50/p95): " + ", ".join(f"{k} {v['p50']}/{v['p95']}" for k, v in hops))
    print("CPU seconds while provisioning: " + ", ".join(f"{k} {v}" for k, v in result["cpu_s"].items()))
    print(json.dumps({**result, "breakdown": breakdown}))


if __name__ == "__main__":
    main()
