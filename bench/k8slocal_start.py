"""k8s-local start-up: a fresh control plane (new certificates, empty etcd) to ready, a warm restart on a
kept state dir, the stop, and the RSS of each component once idle.

"Ready" is what ``k8slocal.ControlPlane`` waits for before it writes the kubeconfig: /readyz ok, the
controller-manager and scheduler healthy, the default namespace's ServiceAccount created. The binaries come
from the cache (``make k8s``); their build is not timed here (see docs/upstream.md for the cold build).
The last line printed is a JSON object with the medians.

Usage: ``python bench/k8slocal_start.py [--runs 3] [--idle 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import psutil

import k8slocal


def _run(
    binaries: k8slocal.Binaries, state: Path, idle: float, rss: dict[str, list[float]]
) -> tuple[float, float]:
    t0 = time.monotonic()
    plane = k8slocal.ControlPlane(binaries=binaries, state_dir=state)
    plane.start()
    ready = time.monotonic() - t0
    try:
        if idle:
            deadline = time.monotonic() + idle
            while time.monotonic() < deadline:  # let the controllers settle before reading memory
                time.sleep(0.25)
            for name, pid in plane.pids().items():
                rss.setdefault(name, []).append(psutil.Process(pid).memory_info().rss / 2**20)
    finally:
        t1 = time.monotonic()
        plane.stop()
        stop = time.monotonic() - t1
    return ready, stop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before RSS is read")
    args = parser.parse_args()
    binaries = k8slocal.ensure()
    fresh: list[float] = []
    warm: list[float] = []
    stops: list[float] = []
    rss: dict[str, list[float]] = {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="k8s-local-bench-") as tmp:
            ready, stop = _run(binaries, Path(tmp), args.idle, rss)
            fresh.append(ready)
            stops.append(stop)
            ready, stop = _run(binaries, Path(tmp), 0, rss)
            warm.append(ready)
            stops.append(stop)
    med = statistics.median
    print(f"Kubernetes {binaries.version}, {args.runs} runs (median, min-max):")
    print(f"  fresh start to ready  {med(fresh):5.1f} s  ({min(fresh):.1f}-{max(fresh):.1f})")
    print(f"  warm restart to ready {med(warm):5.1f} s  ({min(warm):.1f}-{max(warm):.1f})")
    print(f"  stop                  {med(stops):5.1f} s  ({min(stops):.1f}-{max(stops):.1f})")
    print(f"  RSS after {args.idle:.0f} s idle:")
    total = 0.0
    for name, values in rss.items():
        total += med(values)
        print(f"    {name:<24} {med(values):6.0f} MiB")
    print(f"    {'total':<24} {total:6.0f} MiB")
    print(
        json.dumps(
            {
                "version": binaries.version,
                "fresh_start_s": round(med(fresh), 2),
                "warm_start_s": round(med(warm), 2),
                "stop_s": round(med(stops), 2),
                "rss_mb": {name: round(med(v)) for name, v in rss.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
