"""Run the benchmarks and write docs/benchmarks.md with the figures, the machine, and PNG plots.

    python bench/report.py                       # default sizes, about 10-15 minutes on 2 cores
    python bench/report.py --sizes 100,1000,5000 --burst-seconds 60
    python bench/report.py --reuse docs/benchmarks/raw.json   # rewrite the page and plots only

Every benchmark runs as its own subprocess (``bench/*.py``) and reports a JSON object; the load average is
recorded before and after each, since other work on the machine makes figures noisy. The raw results go
to docs/benchmarks/raw.json, the plots to docs/benchmarks/*.png, the page to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DEFAULT_SIZES = "100,300,1000,2000"


# ------------------------------------------------------------------------------------------------ running


def run_step(name: str, argv: list[str], timeout: float, json_out: bool) -> dict[str, Any]:
    """Run one benchmark; its result is the JSON it wrote (``--json-out``) or its last output line."""
    out_file = Path(tempfile.mkstemp(prefix=f"report-{name}-", suffix=".json")[1])
    cmd = [sys.executable, *argv, *(["--json-out", str(out_file)] if json_out else [])]
    load_before = os.getloadavg()
    started = time.monotonic()
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {' '.join(argv)} (load {load_before[0]:.2f})", flush=True)
    step: dict[str, Any] = {"name": name, "command": " ".join(["python", *argv]), "load_before": load_before}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
        step["exit_code"] = proc.returncode
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        step["output"] = "\n".join(lines[-40:-1])
        result: Any = None
        if json_out and out_file.stat().st_size:
            result = json.loads(out_file.read_text())
        elif lines:
            try:
                result = json.loads(lines[-1])
            except ValueError:
                result = None
        step["result"] = result
        if proc.returncode != 0:
            step["error"] = (proc.stderr or "")[-3000:]
    except subprocess.TimeoutExpired:
        step["exit_code"] = None
        step["result"] = None
        step["error"] = f"timed out after {timeout:.0f} s"
    finally:
        out_file.unlink(missing_ok=True)
    step["seconds"] = round(time.monotonic() - started, 1)
    step["load_after"] = os.getloadavg()
    status = "ok" if step.get("exit_code") == 0 else f"FAILED ({step.get('error', '')[-300:]})"
    print(f"    {step['seconds']} s, load after {step['load_after'][0]:.2f}: {status}", flush=True)
    return step


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    from importlib.metadata import version

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "kopf": version("kopf"),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
    }


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",") if s]
    skip = set(filter(None, args.skip.split(",")))
    steps: list[dict[str, Any]] = []
    started = time.monotonic()

    def want(name: str) -> bool:
        return name not in skip

    if want("provision"):
        steps.append(
            run_step(
                "provision-sequential",
                ["bench/provision.py", "--instances", str(args.sequential), "--sequential"],
                600,
                True,
            )
        )
        for n in sizes:
            steps.append(
                run_step(f"provision-{n}", ["bench/provision.py", "--instances", str(n)], 600 + n * 0.5, True)
            )
    if want("crash"):
        steps.append(
            run_step(
                "crash-restart", ["bench/crash_restart.py", "--instances", str(args.hardening)], 900, True
            )
        )
    if want("faults"):
        steps.append(run_step("faults", ["bench/faults.py", "--instances", str(args.hardening)], 900, True))
    if want("burst"):
        steps.append(
            run_step(
                "burst",
                ["bench/burst.py", "--rate", str(args.burst_rate), "--seconds", str(args.burst_seconds)],
                args.burst_seconds + 900,
                True,
            )
        )
    if want("spawn"):
        steps.append(run_step("spawn", ["bench/spawn.py", "--users", str(args.spawn_users)], 1200, False))
    if want("kubesim"):
        steps.append(run_step("kubesim-throughput", ["bench/kubesim_throughput.py"], 600, False))
        steps.append(run_step("kubesim-pods", ["bench/kubesim_pods.py"], 600, False))
    return {
        "machine": machine(),
        # Paths relative to the repository: the report is committed, the machine's layout is not its business.
        "arguments": {k: _relative(v) for k, v in vars(args).items()},
        "total_seconds": round(time.monotonic() - started, 1),
        "steps": steps,
    }


# ------------------------------------------------------------------------------------------------ plots


def plot(raw: dict[str, Any], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    prov = _provision_at_once(raw)
    if prov:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for r in prov:
            lat = sorted(x / 1000 for x in r.get("latencies_ms") or [])
            if lat:
                ys = [(i + 1) / len(lat) for i in range(len(lat))]
                ax.plot(lat, ys, label=f"{r['instances']} at once")
        seq = _step_result(raw, "provision-sequential")
        if seq and seq.get("latencies_ms"):
            lat = sorted(x / 1000 for x in seq["latencies_ms"])
            ax.plot(lat, [(i + 1) / len(lat) for i in range(len(lat))], "k--", label="one at a time")
        ax.set_xscale("log")
        ax.set_xlabel("creation → Ready (s, log scale)")
        ax.set_ylabel("share of instances Ready")
        ax.set_title("Provisioning latency distribution (kubesim, fake kubelet)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "latency_distribution.png", dpi=110)
        plt.close(fig)
        made.append("latency_distribution.png")

        ns = [r["instances"] for r in prov]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
        a1.plot(ns, [r["total_s"] for r in prov], "o-", label="all Ready (s)")
        a1.plot(ns, [r["p50_ms"] / 1000 for r in prov], "s-", label="p50 latency (s)")
        a1.plot(ns, [r["p95_ms"] / 1000 for r in prov], "^-", label="p95 latency (s)")
        a1.set_xscale("log")
        a1.set_yscale("log")
        a1.set_xlabel("instances created at once")
        a1.set_ylabel("seconds (log)")
        a1.set_title("Time to Ready vs number of instances")
        a1.grid(True, which="both", alpha=0.3)
        a1.legend()
        a2.plot(
            ns,
            [r["total_s"] * 1000 / r["instances"] for r in prov],
            "o-",
            label="ms per instance (all Ready / N)",
        )
        a2.plot(ns, [r["api_requests_per_instance"] for r in prov], "s-", label="API requests per instance")
        a2.set_xscale("log")
        a2.set_xlabel("instances created at once")
        a2.set_title("Cost per instance")
        a2.grid(True, which="both", alpha=0.3)
        a3 = a2.twinx()
        a3.plot(
            ns,
            [r["operator_peak_rss_mb"] for r in prov],
            "d:",
            color="tab:red",
            label="operator peak RSS (MB)",
        )
        a3.set_ylabel("MB", color="tab:red")
        lines = a2.get_legend_handles_labels()
        lines3 = a3.get_legend_handles_labels()
        a2.legend(lines[0] + lines3[0], lines[1] + lines3[1], fontsize=8, loc="upper left")
        fig.tight_layout()
        fig.savefig(out_dir / "time_to_ready_vs_instances.png", dpi=110)
        plt.close(fig)
        made.append("time_to_ready_vs_instances.png")
    burst = _step_result(raw, "burst")
    if burst and burst.get("timeline"):
        tl = burst["timeline"]
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        t = [r["t"] for r in tl]
        a1.plot(t, [r["created"] for r in tl], label="created")
        a1.plot(t, [r["ready"] for r in tl], label="Ready")
        a1.plot(t, [r["backlog"] for r in tl], label="backlog (created, not Ready)")
        a1.set_ylabel("instances")
        a1.set_title(f"Burst: {burst['rate_per_s']:g} instances/s for {burst['seconds']:g} s")
        a1.grid(True, alpha=0.3)
        a1.legend(fontsize=8)
        lat = burst["latency_by_creation_second"]
        a2.plot([r["second"] for r in lat], [r["p50_ms"] / 1000 for r in lat], label="p50")
        a2.plot([r["second"] for r in lat], [r["p95_ms"] / 1000 for r in lat], label="p95")
        a2.set_xlabel("seconds since the first create (latency: by creation second)")
        a2.set_ylabel("creation → Ready (s)")
        a2.grid(True, alpha=0.3)
        a2.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "burst.png", dpi=110)
        plt.close(fig)
        made.append("burst.png")
    spawn = _step_result(raw, "spawn")
    if spawn:
        names = list(spawn)
        fig, ax = plt.subplots(figsize=(6, 3.6))
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], [spawn[n]["p50_s"] for n in names], width=0.4, label="p50")
        ax.bar([x + 0.2 for x in xs], [spawn[n]["p95_s"] for n in names], width=0.4, label="p95")
        ax.set_xticks(list(xs), names)
        ax.set_ylabel("seconds")
        ax.set_title("Spawn latency through JupyterHub (process kubelet)")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "spawn.png", dpi=110)
        plt.close(fig)
        made.append("spawn.png")
    return made


# ------------------------------------------------------------------------------------------------ page


def _step(raw: dict[str, Any], name: str) -> dict[str, Any] | None:
    for s in raw["steps"]:
        if s["name"] == name:
            return dict(s)
    return None


def _step_result(raw: dict[str, Any], name: str) -> Any:
    s = _step(raw, name)
    return s.get("result") if s else None


def _provision_at_once(raw: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for s in raw["steps"]:
        if s["name"].startswith("provision-") and s["name"] != "provision-sequential" and s.get("result"):
            out.append({**s["result"], "_load": (s["load_before"][0], s["load_after"][0])})
    return sorted(out, key=lambda r: int(r["instances"]))


def _glance(raw: dict[str, Any], w: Any) -> None:
    rows: list[tuple[str, str]] = []
    seq = _step_result(raw, "provision-sequential")
    if seq:
        rows.append(("one instance, creation → Ready (p50, one at a time)", f"{seq['p50_ms']:.0f} ms"))
    prov = _provision_at_once(raw)
    if prov:
        top = prov[-1]
        rows.append(
            (
                f"{top['instances']} instances at once: all Ready after",
                f"{top['total_s']} s (p50 {top['p50_ms'] / 1000:.1f} s)",
            )
        )
        rows.append(
            (
                "operator API requests per instance",
                " / ".join(f"{r['api_requests_per_instance']} at {r['instances']}" for r in prov),
            )
        )
        rows.append(
            (
                "operator peak RSS",
                " / ".join(f"{r['operator_peak_rss_mb']:.0f} MB at {r['instances']}" for r in prov),
            )
        )
    cr = _step_result(raw, "crash-restart")
    if cr:
        rows.append(
            (
                f"crash-restart, {cr['instances']} instances, 3 SIGKILLs",
                "all checks passed" if cr.get("ok") else "**checks failed**",
            )
        )
    fr = _step_result(raw, "faults")
    if fr:
        rows.append(
            (
                f"10% API errors, cut and expired watches, {fr['instances']} instances",
                "all checks passed" if fr.get("ok") else "**checks failed**",
            )
        )
    b = _step_result(raw, "burst")
    if b:
        rows.append(
            (
                f"burst of {b['rate_per_s']:g}/s for {b['seconds']:g} s",
                f"{b['ready']}/{b['instances']} Ready, backlog peak {b['peak_backlog']}, drained "
                f"{b['drain_after_last_create_s']} s after the last create",
            )
        )
    if rows:
        w("## At a glance\n")
        w("| | |\n|---|---|")
        for k, v in rows:
            w(f"| {k} | {v} |")
        w("")


def _load(step: dict[str, Any] | None) -> str:
    if not step:
        return ""
    return f"{step['load_before'][0]:.2f} → {step['load_after'][0]:.2f}"


def _failed(step: dict[str, Any] | None) -> str:
    if step is None:
        return "not run"
    if step.get("exit_code") != 0:
        return f"**failed** (exit {step.get('exit_code')}): {str(step.get('error', ''))[-400:]}"
    return ""


# What the hardening tests and these benchmarks found (kept here so the page says it next to the figures).
FINDINGS = [
    "A restarted operator reconciled instances before its pod watch had listed their pods and reported "
    "them `Failed=True` (`PodDeleted`) until the listing arrived: a spawn failed by a restart. kopf now "
    "holds every handler until the initial listings are complete.",
    "A LIST or WATCH refused with an error kopf does not retry (a 4xx other than 403/429, an in-stream "
    "ERROR other than 410) ended kopf's watcher for that resource for good: the process lived on and "
    "never saw another event of that kind (a silent stall). Such a stream now ends normally and is "
    "listed again.",
    "After a 410 Expired the new listing says nothing of objects deleted while the watch was down; the "
    "caches kept them (a pod deleted then stayed Running in the status forever). What a listing misses "
    "is now dropped from the cache.",
    "An instance re-created under the same name while its old pod terminated showed that pod as its own "
    "(`Failed=True`, `PodDeleted`) and then never created its own; an other resource answered "
    "AlreadyExists was adopted whoever owned it; after a restart, other resources were reported "
    "`Deleted`. Objects of an earlier instance of the same name are now waited for, not adopted.",
    "A reconcile of an instance deleted a moment earlier could write its status into the new instance "
    "of the same name (a patch by name only); status writes now test the uid first.",
    "**Security**: a `variablesFrom` Secret name (or a template name) containing `../` made the operator "
    "read a Secret of another namespace (the HTTP client normalises `.../secrets/../../victim/secrets/x`) "
    "and use its keys as the instance's variables, rendered into the user's pod wherever the template "
    "uses them. Names must now be single path segments and DNS-1123 "
    "subdomains; the operator reads Secrets only in the instance's namespace.",
    "A variable in a volume's `subPath` could point outside the volume (`../../etc`); such pods are now "
    "refused before anything is created (kubesim accepted them then; it now refuses them as the API "
    "server does).",
    "At scale, an instance whose pod became Ready waited behind every instance queued for its first "
    "reconcile, so a batch turned Ready all at once at its end; children's changes now go ahead of new "
    "work. kopf's per-event deep copy (a diff base nobody used), an O(N) gauge recount per state "
    "change, and managedFields in the caches were removed.",
    "A watch cut right after a write could end with a BOOKMARK past an event still queued for the "
    "stream (kubesim sent the store's resourceVersion); kopf resumed from it and lost the event until "
    "its next relist: an instance first seen 10-65 s late, a PVC left `Pending` in a status. "
    "Bookmarks now wait for a marker queued behind every event already handed to the stream (a "
    "kubesim fix: the real API server keeps that promise).",
    "A missing `variablesFrom` Secret was read again every 0.1-0.2 s for as long as it was missing "
    "(the back-off was reset by the reconcile that asked for the retry); it now backs off, and a "
    "retry superseded by an earlier reconcile is cancelled rather than left to fire.",
]


def page(raw: dict[str, Any], plots: list[str], plot_dir: str) -> str:
    m = raw["machine"]
    a = raw["arguments"]
    out: list[str] = []
    w = out.append
    w("# Benchmarks\n")
    w(
        "Generated by `python bench/report.py` (this page, the "
        "plots and `docs/benchmarks/raw.json`); do not edit "
        "by hand. Every figure comes from the run described here, on a simulated cluster (kubesim) on one "
        "machine: kubesim's API server, controllers and kubelet run in one Python process, the operator in "
        "another, so on two cores the two processes compete with each other and with anything else running. "
        "The load average (1 min) before → after each benchmark is given with its figures: above the core "
        "count, figures are slower than the code.\n"
    )
    w("## Machine and run\n")
    w("| | |\n|---|---|")
    w(f"| CPU | {m['cpu']} |")
    w(f"| cores | {m['cores']} |")
    w(f"| RAM | {m['ram_gb']} GB |")
    w(f"| OS | {m['os']} |")
    w(f"| Python | {m['python']} (kopf {m['kopf']}) |")
    w(f"| date | {m['date']} |")
    w(f"| commit | {m['commit']} |")
    w(f"| report run time | {raw['total_seconds'] / 60:.1f} min |")
    w(
        f"| sizes | provisioning at once: {a['sizes']}; one at a time: {a['sequential']}; crash-restart and "
        f"faults: {a['hardening']} instances; burst: {a['burst_rate']:g}/s for {a['burst_seconds']:g} s; "
        f"spawn: {a['spawn_users']} users per spawner |"
    )
    w("")
    w(
        "Reproduce: `python bench/report.py --sizes "
        + str(a["sizes"])
        + "` (each benchmark alone: the commands below).\n"
    )
    _glance(raw, w)
    w("## What the hardening found\n")
    w(
        "The crash-restart, fault, replay and hostile-input tests (`tests/integration/hardening`, run "
        "scaled down in `make test`), the rendering fuzz and these benchmarks found, and the operator now "
        "fixes at the root:\n"
    )
    for finding in FINDINGS:
        w(f"- {finding}")
    w("")

    # Provisioning
    w("## Provisioning: N instances created at once\n")
    w(
        "`bench/provision.py --instances N`: the operator (a `jupyternetes operator` subprocess with its own "
        "ServiceAccount) provisions N instances of a template with one PVC and one pod, created at once "
        "(64 requests in flight). Latency is from each instance's creation to its `Ready` condition (a watch "
        "from the benchmark); API requests are the operator's, counted by kubesim (watches not counted).\n"
    )
    prov = _provision_at_once(raw)
    seq_step = _step(raw, "provision-sequential")
    w(
        "| instances | all Ready after | per instance | p50 | p95 | "
        "p99 | API requests / instance | operator peak RSS | load |"
    )
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    if seq_step and seq_step.get("result"):
        r = seq_step["result"]
        w(
            f"| {r['instances']} one at a time | {r['total_s']} "
            f"s | {r['total_s'] * 1000 / r['instances']:.0f} ms "
            f"| {r['p50_ms']} ms | {r['p95_ms']} ms | {r['p99_ms']} ms | {r['api_requests_per_instance']} "
            f"| {r['operator_peak_rss_mb']} MB | {_load(seq_step)} |"
        )
    for r in prov:
        w(
            f"| {r['instances']} | {r['total_s']} s | {r['total_s'] * 1000 / r['instances']:.1f} ms | "
            f"{r['p50_ms'] / 1000:.2f} s | {r['p95_ms'] / 1000:.2f} s | {r['p99_ms'] / 1000:.2f} s | "
            f"{r['api_requests_per_instance']} | {r['operator_peak_rss_mb']} MB | "
            f"{r['_load'][0]:.2f} → {r['_load'][1]:.2f} |"
        )
    for s in raw["steps"]:
        if s["name"].startswith("provision") and _failed(s):
            w(f"\n{s['name']}: {_failed(s)}")
    if len(prov) >= 2:
        lo, hi = prov[0], prov[-1]
        per_lo = lo["total_s"] / lo["instances"] * 1000
        per_hi = hi["total_s"] / hi["instances"] * 1000
        grown = hi["operator_peak_rss_mb"] - lo["operator_peak_rss_mb"]
        kb_per_instance = grown * 1024 / max(hi["instances"] - lo["instances"], 1)
        w(
            f"\nFrom {lo['instances']} to {hi['instances']} "
            f"instances ({hi['instances'] / lo['instances']:.0f}x): "
            f"the time until all are Ready grows {hi['total_s'] / lo['total_s']:.1f}x ({per_lo:.1f} → "
            f"{per_hi:.1f} ms per instance), API requests per instance go from "
            f"{lo['api_requests_per_instance']} to {hi['api_requests_per_instance']} (the operator reads "
            "from watch caches: requests are the writes each "
            "instance needs, whatever N), and the operator's "
            f"peak RSS from {lo['operator_peak_rss_mb']} to {hi['operator_peak_rss_mb']} MB "
            f"(≈{kb_per_instance:.0f} kB "
            "per instance: the cached instance, its pod and PVC, and its render plan). In a batch, latency "
            "is mostly waiting: at the largest size p50 is "
            f"{hi['p50_ms'] / 10 / hi['total_s']:.0f}% of the time until all are Ready (one instance alone "
            "takes the one-at-a-time figure above).\n"
        )
    if "latency_distribution.png" in plots:
        w(f"![latency distribution]({plot_dir}/latency_distribution.png)\n")
    if "time_to_ready_vs_instances.png" in plots:
        w(f"![time to ready vs instances]({plot_dir}/time_to_ready_vs_instances.png)\n")
    top = prov[-1] if prov else None
    if top and top.get("breakdown"):
        w(f"Requests per instance at {top['instances']}, by verb and resource:\n")
        w("| requests / instance | verb and resource |\n|---:|---|")
        for k, v in top["breakdown"].items():
            w(f"| {v / top['instances']:.2f} | `{k}` |")
        w("")

    # Crash-restart
    crash_step = _step(raw, "crash-restart")
    w("## Crash-restart: the operator SIGKILLed three times while provisioning\n")
    w(
        f"`bench/crash_restart.py --instances {a['hardening']}`: "
        "the instances are created at once; the operator "
        "process is SIGKILLed at three random moments (soon after the creates begin, then when a random "
        "10-90% of the instances is Ready) and restarted each time. Then every instance must be Ready "
        "with exactly the PVCs (one retained, one deleted with the instance), pod and ConfigMap of its "
        "template, found by the instance label and owner uid in kubesim's store (no duplicate, no stray, "
        "nothing missing); no instance may ever have shown `Failed=True`; the status must match the pods. "
        "Then all instances are deleted and only the retained PVCs may remain.\n"
    )
    cr = crash_step.get("result") if crash_step else None
    if cr:
        w("| | |\n|---|---|")
        w(f"| instances | {cr['instances']} |")
        kills = ", ".join(
            f"{t} s ({n} Ready)" for t, n in zip(cr["kill_after_s"], cr["ready_at_kill"], strict=False)
        )
        w(f"| kills at | {kills} |")
        w(
            f"| all Ready after | {cr['total_s']} s (p50 "
            f"{cr['p50_ms'] / 1000:.2f} s, p95 {cr['p95_ms'] / 1000:.2f} s) |"
        )
        w(f"| duplicates, strays, missing children | {cr['child_problems']} |")
        w(f"| status disagreeing with the pods | {cr['status_problems']} |")
        w(f"| instances that ever showed Failed=True | {cr['failures_seen']} |")
        w(f"| children left after deleting all (retained PVCs aside) | {len(cr['leftovers'])} |")
        w(f"| retained PVCs kept | {cr['retained_pvcs']} |")
        w(f"| operator API requests per instance (four processes) | {cr['requests_per_instance']} |")
        w(f"| result | {'all checks passed' if cr.get('ok') else '**checks failed**'} |")
        w(f"| load | {_load(crash_step)} |\n")
    elif crash_step:
        w(_failed(crash_step) + "\n")

    # Faults
    f_step = _step(raw, "faults")
    w("## API faults: 10% errors on every verb, watch streams cut, 410 Expired\n")
    w(
        f"`bench/faults.py --instances {a['hardening']}`: "
        "kubesim answers 10% of all requests (every verb, every "
        "resource, the hub's too) with 500, 429 or 409 in equal parts, cuts every watch stream after 2 s, "
        "and answers the first resumed watch of each resource the operator watches with 410 Expired. The "
        "instances are created over 8 s so that streams break while they are provisioned. All must become "
        "Ready with a status equal to what their pods and PVCs say, and the operator must never exit.\n"
    )
    fr = f_step.get("result") if f_step else None
    if fr:
        w("| | |\n|---|---|")
        w(f"| instances | {fr['instances']} |")
        w(f"| refused requests (all clients) | {', '.join(f'{k}: {v}' for k, v in fr['injected'].items())} |")
        w(
            "| 410 Expired answered per resource | "
            f"{', '.join(f'{k}: {1 - v}' for k, v in fr['expirations_left'].items())} |"
        )
        w(f"| operator watch requests (each cut or 410 is one more) | {sum(fr['watch_requests'].values())} |")
        w(
            f"| all Ready after | {fr['total_s']} s (p50 "
            f"{fr['p50_ms'] / 1000:.2f} s, p95 {fr['p95_ms'] / 1000:.2f} s) |"
        )
        w(f"| status disagreeing with the pods | {fr['status_problems']} |")
        w(f"| duplicates, strays, missing children | {fr['child_problems']} |")
        w(f"| operator alive / exits | {fr['operator_alive']} / {fr['operator_exits'] or 'none'} |")
        w(f"| operator API requests per instance (refused ones included) | {fr['requests_per_instance']} |")
        w(f"| result | {'all checks passed' if fr.get('ok') else '**checks failed**'} |")
        w(f"| load | {_load(f_step)} |\n")
    elif f_step:
        w(_failed(f_step) + "\n")

    # Burst
    b_step = _step(raw, "burst")
    w("## Burst: the hub creates instances at a fixed rate for a minute\n")
    b = b_step.get("result") if b_step else None
    if b:
        w(
            f"`bench/burst.py --rate {b['rate_per_s']:g} --seconds "
            f"{b['seconds']:g}`: {b['instances']} instances "
            f"(one PVC, one pod each) created at {b['rate_per_s']:g}/s by the hub's ServiceAccount "
            f"(achieved {b['achieved_create_rate_per_s']}/s; create "
            f"requests p50 {b['create_request_p50_ms']} ms, "
            f"p95 {b['create_request_p95_ms']} ms).\n"
        )
        w("| | |\n|---|---|")
        w(f"| Ready | {b['ready']} of {b['instances']} |")
        w(f"| backlog (created, not yet Ready): peak | {b['peak_backlog']} |")
        w(f"| all Ready | {b['drain_after_last_create_s']} s after the last create |")
        w(
            f"| creation → Ready | p50 {b['p50_ms'] / 1000:.2f} s, p95 {b['p95_ms'] / 1000:.2f} s, "
            f"p99 {b['p99_ms'] / 1000:.2f} s, max {b['max_ms'] / 1000:.2f} s |"
        )
        w(f"| operator peak RSS | {b['operator_peak_rss_mb']} MB |")
        w(f"| operator API requests per instance | {b['api_requests_per_instance']} |")
        w(f"| load | {_load(b_step)} |\n")
        tl = b["timeline"]
        lat = b["latency_by_creation_second"]
        if tl and lat:
            op_cpu = sorted(r["operator_cpu_pct"] for r in tl)
            sim_cpu = sorted(r["kubesim_cpu_pct"] for r in tl)
            first, last = lat[: max(1, len(lat) // 6)], lat[-max(1, len(lat) // 6) :]
            w(
                f"Latency of the instances created in the first {len(first)} s: p50 "
                f"{sum(r['p50_ms'] for r in first) / len(first) / 1000:.2f} s; in the last {len(last)} s: "
                f"{sum(r['p50_ms'] for r in last) / len(last) / 1000:.2f} s. CPU (median over the run, % of "
                f"one core): operator {op_cpu[len(op_cpu) // 2]:.0f}%, "
                f"kubesim {sim_cpu[len(sim_cpu) // 2]:.0f}%. "
                "When the backlog grows during the burst, instances "
                "arrive faster than this machine provisions "
                "them (the two processes share two cores); it drains once the burst ends, and no instance is "
                "lost or failed.\n"
            )
        if "burst.png" in plots:
            w(f"![burst]({plot_dir}/burst.png)\n")
    elif b_step:
        w(_failed(b_step) + "\n")

    # Spawn
    s_step = _step(raw, "spawn")
    w("## Spawn latency through JupyterHub\n")
    sp = s_step.get("result") if s_step else None
    if sp:
        w(
            f"`bench/spawn.py --users {a['spawn_users']}`: from "
            "`POST /hub/api/users/<name>/server` until the "
            "server answers through the hub's proxy; kubesim's "
            "process kubelet runs real `jupyterhub-singleuser` "
            "servers (see docs/spawner.md).\n"
        )
        w("| spawner | p50 | p95 |\n|---|---:|---:|")
        for n, v in sp.items():
            w(f"| {n} | {v['p50_s']} s | {v['p95_s']} s |")
        w(f"\nLoad: {_load(s_step)}.\n")
        if "spawn.png" in plots:
            w(f"![spawn]({plot_dir}/spawn.png)\n")
    elif s_step:
        w(_failed(s_step) + "\n")

    # kubesim
    t_step, p_step = _step(raw, "kubesim-throughput"), _step(raw, "kubesim-pods")
    if t_step or p_step:
        w("## The simulated cluster itself\n")
        w(
            "kubesim is the bottleneck of the figures above (one Python process serves the API, the "
            "controllers and the kubelet); its own throughput bounds them. In a py-spy profile of "
            "kubesim during a 2000-instance provisioning (after its scheduler stopped scanning every pod "
            "per decision), about a third of its CPU was managed-fields bookkeeping on every write "
            "(re-encoding every manager's field set; since reduced to about a seventh, see "
            'docs/kubesim.md, "managedFields bookkeeping"), and each PVC, Secret or ConfigMap event in a '
            "namespace wakes every pod worker of that namespace (reported to kubesim's maintainers).\n"
        )
    tr = t_step.get("result") if t_step else None
    if tr:
        w("`bench/kubesim_throughput.py`:\n")
        w("| GETs/s | pod creates/s | watch events/s (10 watchers) | RSS with 10k pods | load |")
        w("|---:|---:|---:|---:|---|")
        w(
            f"| {tr['get_per_s']} | {tr['create_per_s']} | {tr['watch_events_per_s']} | "
            f"{tr['rss_mb_10k_pods']} MB | {_load(t_step)} |\n"
        )
    elif t_step:
        w("kubesim_throughput: " + _failed(t_step) + "\n")
    pr = p_step.get("result") if p_step else None
    if pr:
        w("`bench/kubesim_pods.py` (pod create → Ready, pods created one after another):\n")
        w("| runtime | pods | p50 | p95 | max | all Ready after |\n|---|---:|---:|---:|---:|---:|")
        for runtime, r in sorted(pr.items()):
            w(
                f"| {runtime} | {r['pods']} | {r['p50_s']} s | "
                f"{r['p95_s']} s | {r['max_s']} s | {r['total_s']} s |"
            )
        w(f"\nLoad: {_load(p_step)}.\n")
    elif p_step:
        w("kubesim_pods: " + _failed(p_step) + "\n")
    w("## Commands and durations\n")
    w("| benchmark | command | took | load before → after | exit |\n|---|---|---:|---|---:|")
    for s in raw["steps"]:
        w(f"| {s['name']} | `{s['command']}` | {s['seconds']} s | {_load(s)} | {s.get('exit_code')} |")
    w("")
    return "\n".join(out)


def _relative(value: object) -> object:
    if isinstance(value, (str, Path)) and str(value).startswith(str(ROOT)):
        return str(Path(value).relative_to(ROOT))
    return value


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"provisioning sizes (default {DEFAULT_SIZES})"
    )
    parser.add_argument("--sequential", type=int, default=20, help="instances provisioned one at a time")
    parser.add_argument("--hardening", type=int, default=300, help="instances of crash-restart and faults")
    parser.add_argument("--burst-rate", type=float, default=50.0)
    parser.add_argument("--burst-seconds", type=float, default=60.0)
    parser.add_argument("--spawn-users", type=int, default=5)
    parser.add_argument(
        "--skip", default="", help="comma-separated: provision,crash,faults,burst,spawn,kubesim"
    )
    parser.add_argument("--reuse", help="a raw.json of an earlier run: only rewrite the page and plots")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--plots", default=str(ROOT / "docs" / "benchmarks"))
    args = parser.parse_args()
    plot_dir = Path(args.plots)
    if args.reuse:
        raw = json.loads(Path(args.reuse).read_text())
    else:
        raw = run_all(args)
        plot_dir.mkdir(parents=True, exist_ok=True)
        (plot_dir / "raw.json").write_text(json.dumps(raw, indent=1))
    plots = plot(raw, plot_dir)
    out = Path(args.out)
    rel = os.path.relpath(plot_dir, out.parent)
    out.write_text(page(raw, plots, rel))
    print(f"wrote {out} and {', '.join(plots)} in {plot_dir}")
    failed = [s["name"] for s in raw["steps"] if s.get("exit_code") != 0]
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
