"""API-fault benchmark (issue 7, item 2) at full size: 10% of every request answered 500, 429 or 409 (in equal
parts; 409 to writes only, as an API server does), every watch stream cut after a few seconds, the first
resumed watch of each resource the operator watches answered 410 Expired. On kubesim its own fault injection
does it (the hub's requests are refused too); with ``--cluster upstream`` (k8s-local) a fault proxy that the
operator alone talks through. N instances are created over a few seconds; all must converge to Ready with a
status that matches their pods, and the operator (a real subprocess) must never exit. The same scenario runs
scaled down in ``make test`` (tests/integration/hardening).

    python bench/faults.py --instances 300 [--error-rate 0.1] [--cut-after 2] [--spread 8]
    python bench/faults.py --instances 300 --cluster upstream

The last line of output is a JSON object with the figures; the exit status is 1 if a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.hardening.harness import scenario_env  # noqa: E402
from tests.integration.hardening.scenarios import api_faults  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--error-rate", type=float, default=0.10, help="share of requests refused")
    parser.add_argument("--cut-after", type=float, default=2.0, help="seconds before a watch stream is cut")
    parser.add_argument("--spread", type=float, default=8.0, help="seconds over which instances are created")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--cluster", choices=("kubesim", "upstream"), default="kubesim")
    parser.add_argument("--json-out", help="also write the figures and every problem found to this file")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(3), "big")
    # Everything the run writes (the cluster's state, the operator's log) goes with it.
    with tempfile.TemporaryDirectory(prefix="bench-faults-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        with scenario_env(args.cluster, work, pods=max(1000, args.instances * 2)) as env:
            r = api_faults(
                env,
                work,
                instances=args.instances,
                error_rate=args.error_rate,
                cut_after_s=args.cut_after,
                spread_s=args.spread,
                timeout=args.timeout,
                seed=seed,
            )
    figures = {"cluster": args.cluster, "seed": seed, **r.figures(), "load_after": os.getloadavg()}
    ok = (
        r.operator_alive
        and not r.operator_exits
        and not r.child_problems
        and not r.status_problems
        and all(v == 0 for v in r.expirations_left.values())
    )
    print(
        f"{args.instances} instances created over {args.spread} s; {args.error_rate:.0%} of requests refused "
        f"(injected: {r.injected}); watch streams cut every {args.cut_after} s; one 410 per resource"
    )
    print(
        f"all Ready after {r.total_s} s; creation -> Ready p50 {r.p50_ms} ms, p95 {r.p95_ms} ms, "
        f"max {r.max_ms} ms"
    )
    print(f"operator watch requests: {r.watch_requests}")
    print(
        "operator API requests per instance (watches not counted, refused ones included): "
        f"{r.requests_per_instance}"
    )
    print(
        f"operator alive: {r.operator_alive}, exits: {r.operator_exits}; children problems: "
        f"{len(r.child_problems)}; status disagreements: {len(r.status_problems)}"
    )
    for problem in (r.child_problems + r.status_problems)[:20]:
        print("  PROBLEM", problem)
    if args.json_out:
        detail = {"child_problems": r.child_problems, "status_problems": r.status_problems}
        Path(args.json_out).write_text(json.dumps({**figures, "ok": ok, "details": detail}))
    print(json.dumps({**figures, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
