"""Crash-restart benchmark (issue 7, item 1) at full size: N instances created at once, the operator (a
real ``jupyternetes operator`` subprocess) SIGKILLed at three random moments while they are provisioned
and restarted each time; on kubesim, or with ``--cluster upstream`` on upstream Kubernetes (k8s-local with
a kubesim kubelet node, fake runtime). Checks that every instance ends Ready with exactly the pods, PVCs
and other resources of its template (by instance label and owner uid: no duplicate, no stray), that no
status ever said Failed, that the status matches the pods; then deletes all and checks that only retained
PVCs remain. The same scenario runs scaled down in ``make test`` (tests/integration/hardening).

    python bench/crash_restart.py --instances 300 [--kills 3] [--seed 7] [--cluster upstream]

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
from tests.integration.hardening.scenarios import crash_restart  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill moments (default: random)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--cluster", choices=("kubesim", "upstream"), default="kubesim")
    parser.add_argument("--json-out", help="also write the figures and every problem found to this file")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(3), "big")
    # Everything the run writes (the cluster's state, the operator's log) goes with it.
    with tempfile.TemporaryDirectory(prefix="bench-crash-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        with scenario_env(args.cluster, work, pods=max(1000, args.instances * 2)) as env:
            r = crash_restart(
                env, work, instances=args.instances, kills=args.kills, seed=seed, timeout=args.timeout
            )
    figures = {"cluster": args.cluster, "seed": seed, **r.figures(), "load_after": os.getloadavg()}
    ok = not (r.child_problems or r.status_problems or r.failures_seen or r.leftovers) and (
        r.retained_pvcs == args.instances
    )
    print(f"{args.instances} instances, operator SIGKILLed {r.kills} times (seed {seed})")
    for t, ready in zip(r.kill_after_s, r.ready_at_kill, strict=True):
        print(f"  kill at {t:6.2f} s, {ready} instances Ready then")
    print(
        f"all Ready after {r.total_s} s; creation -> Ready p50 {r.p50_ms} ms, p95 {r.p95_ms} ms, "
        f"max {r.max_ms} ms"
    )
    print(f"operator API requests per instance (all runs, watches not counted): {r.requests_per_instance}")
    print(
        f"children: {len(r.child_problems)} problems (duplicates, strays, missing); status: "
        f"{len(r.status_problems)} disagreements; Failed seen: {len(r.failures_seen)}"
    )
    print(
        f"deleted all in {r.delete_s} s: {len(r.leftovers)} children left, "
        f"{r.retained_pvcs} retained PVCs kept"
    )
    for problem in (r.child_problems + r.status_problems + [str(f) for f in r.failures_seen] + r.leftovers)[
        :20
    ]:
        print("  PROBLEM", problem)
    if args.json_out:
        detail = {
            "child_problems": r.child_problems,
            "status_problems": r.status_problems,
            "failures_seen": r.failures_seen,
        }
        Path(args.json_out).write_text(json.dumps({**figures, "ok": ok, "details": detail}))
    print(json.dumps({**figures, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
