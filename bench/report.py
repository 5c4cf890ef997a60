"""Run the benchmarks on kubesim and on upstream Kubernetes and write docs/benchmarks.md with the figures
side by side, the machine, and PNG plots.

    python bench/report.py          # default sizes, both clusters, about 30-40 minutes on 2 cores
    python bench/report.py --sizes 100,1000 --clusters kubesim,upstream
    python bench/report.py --reuse docs/benchmarks/raw.json   # rewrite the page and plots only

Every benchmark runs as its own subprocess (``bench/*.py --cluster C``) and reports a JSON object; each size
runs on kubesim and then on upstream, one after the other, in the same run. The load average is recorded
before and after each, since other work on the machine makes figures noisy. The raw results go to
docs/benchmarks/raw.json, the plots to docs/benchmarks/*.png, the page to docs/benchmarks.md.
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
DEFAULT_SIZES = "100,300,1000"
CLUSTERS = ("kubesim", "upstream")
# The goals on upstream (issue): creation → Ready p50 of one instance, 1000 at once all Ready, API requests
# per instance, and spawn → reachable no slower than kubespawner on the same control plane.
GOAL_P50_MS = 100.0
GOAL_1000_S = 60.0
GOAL_REQUESTS = 10.0


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

    import k8slocal

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "kopf": version("kopf"),
        "kubernetes": k8slocal.DEFAULT_VERSION,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
    }


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",") if s]
    clusters = [c for c in args.clusters.split(",") if c]
    skip = set(filter(None, args.skip.split(",")))
    steps: list[dict[str, Any]] = []
    started = time.monotonic()

    def want(name: str) -> bool:
        return name not in skip

    if want("provision"):
        for c in clusters:
            steps.append(
                run_step(
                    f"provision-sequential@{c}",
                    [
                        "bench/provision.py",
                        "--instances",
                        str(args.sequential),
                        "--sequential",
                        "--cluster",
                        c,
                    ],
                    900,
                    True,
                )
            )
            steps.append(
                run_step(
                    f"provision-sequential-nopvc@{c}",
                    [
                        "bench/provision.py",
                        "--instances",
                        str(args.sequential),
                        "--sequential",
                        "--no-pvc",
                        "--cluster",
                        c,
                    ],
                    900,
                    True,
                )
            )
        for n in sizes:
            for c in clusters:
                steps.append(
                    run_step(
                        f"provision-{n}@{c}",
                        ["bench/provision.py", "--instances", str(n), "--cluster", c],
                        900 + n * 0.5,
                        True,
                    )
                )
    for c in clusters:
        if want("crash"):
            steps.append(
                run_step(
                    f"crash-restart@{c}",
                    ["bench/crash_restart.py", "--instances", str(args.hardening), "--cluster", c],
                    1200,
                    True,
                )
            )
        if want("faults"):
            steps.append(
                run_step(
                    f"faults@{c}",
                    ["bench/faults.py", "--instances", str(args.hardening), "--cluster", c],
                    1200,
                    True,
                )
            )
    if want("burst"):
        for c in clusters:
            argv = ["bench/burst.py", "--rate", str(args.burst_rate), "--seconds", str(args.burst_seconds)]
            steps.append(run_step(f"burst@{c}", [*argv, "--cluster", c], args.burst_seconds + 1200, True))
    if want("spawn"):
        for c in clusters:
            argv = ["bench/spawn.py", "--users", str(args.spawn_users), "--cluster", c]
            steps.append(run_step(f"spawn@{c}", argv, 1800, False))
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


# ------------------------------------------------------------------------------------------------ lookups


def _step(raw: dict[str, Any], name: str) -> dict[str, Any] | None:
    for s in raw["steps"]:
        if s["name"] == name:
            return dict(s)
    return None


def _result(raw: dict[str, Any], name: str, cluster: str) -> Any:
    s = _step(raw, f"{name}@{cluster}")
    return s.get("result") if s else None


def _clusters(raw: dict[str, Any]) -> list[str]:
    found = {s["name"].rpartition("@")[2] for s in raw["steps"] if "@" in s["name"]}
    return [c for c in CLUSTERS if c in found]


def _provision_at_once(raw: dict[str, Any], cluster: str) -> list[dict[str, Any]]:
    out = []
    for s in raw["steps"]:
        name, _, c = s["name"].rpartition("@")
        if (
            c == cluster
            and name.startswith("provision-")
            and not name.startswith("provision-sequential")
            and s.get("result")
        ):
            out.append({**s["result"], "_load": (s["load_before"][0], s["load_after"][0])})
    return sorted(out, key=lambda r: int(r["instances"]))


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


def _fmt_s(ms: float | None) -> str:
    return "—" if ms is None else (f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s")


# ------------------------------------------------------------------------------------------------ plots

STYLE = {"kubesim": "-", "upstream": "--"}


def plot(raw: dict[str, Any], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    clusters = _clusters(raw)
    provs = {c: _provision_at_once(raw, c) for c in clusters}
    if any(provs.values()):
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        for c in clusters:
            for r in provs[c]:
                lat = sorted(x / 1000 for x in r.get("latencies_ms") or [])
                if lat:
                    ax.plot(
                        lat,
                        [(i + 1) / len(lat) for i in range(len(lat))],
                        STYLE[c],
                        label=f"{c}: {r['instances']}",
                    )
            seq = _result(raw, "provision-sequential", c)
            if seq and seq.get("latencies_ms"):
                lat = sorted(x / 1000 for x in seq["latencies_ms"])
                ax.plot(
                    lat,
                    [(i + 1) / len(lat) for i in range(len(lat))],
                    "k" + STYLE[c],
                    label=f"{c}: one at a time",
                )
        ax.set_xscale("log")
        ax.set_xlabel("creation → Ready (s, log scale)")
        ax.set_ylabel("share of instances Ready")
        ax.set_title("Provisioning latency (fake runtime): kubesim solid, upstream dashed")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / "latency_distribution.png", dpi=110)
        plt.close(fig)
        made.append("latency_distribution.png")

        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
        for c in clusters:
            prov = provs[c]
            if not prov:
                continue
            ns = [r["instances"] for r in prov]
            a1.plot(ns, [r["total_s"] for r in prov], "o" + STYLE[c], label=f"{c}: all Ready (s)")
            a1.plot(ns, [r["p50_ms"] / 1000 for r in prov], "s" + STYLE[c], label=f"{c}: p50 (s)")
            a2.plot(
                ns,
                [r["api_requests_per_instance"] for r in prov],
                "s" + STYLE[c],
                label=f"{c}: requests / instance",
            )
        a1.set_xscale("log")
        a1.set_yscale("log")
        a1.set_xlabel("instances created at once")
        a1.set_ylabel("seconds (log)")
        a1.set_title("Time to Ready vs number of instances")
        a1.grid(True, which="both", alpha=0.3)
        a1.legend(fontsize=7)
        a2.set_xscale("log")
        a2.set_xlabel("instances created at once")
        a2.set_title("Operator API requests per instance")
        a2.axhline(GOAL_REQUESTS, color="tab:red", lw=0.8, label="goal")
        a2.set_ylim(bottom=0)
        a2.grid(True, which="both", alpha=0.3)
        a2.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / "time_to_ready_vs_instances.png", dpi=110)
        plt.close(fig)
        made.append("time_to_ready_vs_instances.png")
    bursts = {c: _result(raw, "burst", c) for c in clusters}
    if any(b and b.get("timeline") for b in bursts.values()):
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
        for c, b in bursts.items():
            if not (b and b.get("timeline")):
                continue
            tl = b["timeline"]
            t = [r["t"] for r in tl]
            a1.plot(t, [r["ready"] for r in tl], STYLE[c], label=f"{c}: Ready")
            a1.plot(t, [r["backlog"] for r in tl], STYLE[c], label=f"{c}: backlog")
            lat = b["latency_by_creation_second"]
            a2.plot(
                [r["second"] for r in lat], [r["p50_ms"] / 1000 for r in lat], STYLE[c], label=f"{c}: p50"
            )
            a2.plot(
                [r["second"] for r in lat], [r["p95_ms"] / 1000 for r in lat], STYLE[c], label=f"{c}: p95"
            )
        some = next(b for b in bursts.values() if b)
        a1.set_ylabel("instances")
        a1.set_title(f"Burst: {some['rate_per_s']:g} instances/s for {some['seconds']:g} s")
        a1.grid(True, alpha=0.3)
        a1.legend(fontsize=7)
        a2.set_xlabel("seconds since the first create (latency: by creation second)")
        a2.set_ylabel("creation → Ready (s)")
        a2.grid(True, alpha=0.3)
        a2.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / "burst.png", dpi=110)
        plt.close(fig)
        made.append("burst.png")
    spawns = {c: _result(raw, "spawn", c) for c in clusters}
    if any(spawns.values()):
        fig, ax = plt.subplots(figsize=(7, 3.8))
        labels, p50, p95 = [], [], []
        for c, sp in spawns.items():
            for n, v in (sp or {}).items():
                if isinstance(v, dict):
                    labels.append(f"{n}\n{c}")
                    p50.append(v["p50_s"])
                    p95.append(v["p95_s"])
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50")
        ax.bar([x + 0.2 for x in xs], p95, width=0.4, label="p95")
        ax.set_xticks(list(xs), labels, fontsize=7)
        ax.set_ylabel("seconds")
        ax.set_title("Spawn → reachable through JupyterHub (process runtime)")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "spawn.png", dpi=110)
        plt.close(fig)
        made.append("spawn.png")
    return made


# ------------------------------------------------------------------------------------------------ page


def _goals(raw: dict[str, Any], w: Any) -> None:
    seq = _result(raw, "provision-sequential", "upstream")
    prov = {r["instances"]: r for r in _provision_at_once(raw, "upstream")}
    spawn = _result(raw, "spawn", "upstream") or {}
    rows: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "—" if ok is None else ("met" if ok else "**missed**")

    if seq:
        rows.append(
            (
                f"one instance, creation → Ready (fake runtime), p50 ≤ {GOAL_P50_MS:.0f} ms",
                _fmt_s(seq["p50_ms"]),
                verdict(seq["p50_ms"] <= GOAL_P50_MS),
            )
        )
    big = prov.get(1000)
    if big:
        ok = big["ready"] == big["instances"] and big["total_s"] <= GOAL_1000_S
        rows.append(
            (f"1000 instances at once, all Ready ≤ {GOAL_1000_S:.0f} s", f"{big['total_s']} s", verdict(ok))
        )
    measured = [r for r in [seq, *prov.values()] if r]
    if measured:
        worst = max(r["api_requests_per_instance"] for r in measured)
        rows.append(
            (
                f"operator API requests per instance ≤ {GOAL_REQUESTS:.0f}",
                " / ".join(f"{r['api_requests_per_instance']} at {r['instances']}" for r in measured),
                verdict(worst <= GOAL_REQUESTS),
            )
        )
    jn, ks = spawn.get("jupyternetes"), spawn.get("kubespawner")
    if jn and ks:
        rows.append(
            (
                "spawn → reachable no slower than kubespawner (p50, same control plane)",
                f"{jn['p50_s']} s vs {ks['p50_s']} s",
                verdict(jn["p50_s"] <= ks["p50_s"]),
            )
        )
    if rows:
        w("## Goals on upstream Kubernetes\n")
        w("| goal | measured on upstream | |\n|---|---|---|")
        for goal, value, ok in rows:
            w(f"| {goal} | {value} | {ok} |")
        w("")


def _glance(raw: dict[str, Any], w: Any) -> None:
    clusters = _clusters(raw)
    rows: dict[str, dict[str, str]] = {}

    def put(label: str, cluster: str, value: str) -> None:
        rows.setdefault(label, {})[cluster] = value

    for c in clusters:
        seq = _result(raw, "provision-sequential", c)
        if seq:
            put("one instance, creation → Ready (p50, one at a time, fake runtime)", c, _fmt_s(seq["p50_ms"]))
        for r in _provision_at_once(raw, c):
            put(
                f"{r['instances']} instances at once: all Ready after (p50)",
                c,
                f"{r['total_s']} s ({_fmt_s(r['p50_ms'])})",
            )
        for r in _provision_at_once(raw, c)[-1:]:
            put("operator API requests per instance (largest size)", c, str(r["api_requests_per_instance"]))
            put("operator peak RSS (largest size)", c, f"{r['operator_peak_rss_mb']:.0f} MB")
        cr = _result(raw, "crash-restart", c)
        if cr:
            put(
                f"crash-restart, {cr['instances']} instances, 3 SIGKILLs",
                c,
                "all checks passed" if cr.get("ok") else "**checks failed**",
            )
        fr = _result(raw, "faults", c)
        if fr:
            put(
                f"10% API errors, cut and expired watches, {fr['instances']} instances",
                c,
                "all checks passed" if fr.get("ok") else "**checks failed**",
            )
        b = _result(raw, "burst", c)
        if b:
            put(
                f"burst of {b['rate_per_s']:g}/s for {b['seconds']:g} s",
                c,
                f"{b['ready']}/{b['instances']} Ready, backlog peak {b['peak_backlog']}, drained "
                f"{b['drain_after_last_create_s']} s after the last create",
            )
        sp = _result(raw, "spawn", c) or {}
        for n in ("jupyternetes", "kubespawner"):
            if isinstance(sp.get(n), dict):
                put(f"spawn → reachable, {n} (p50)", c, f"{sp[n]['p50_s']} s")
    if rows:
        w("## At a glance\n")
        w("| | " + " | ".join(clusters) + " |")
        w("|---|" + "---|" * len(clusters))
        for label, vals in rows.items():
            w(f"| {label} | " + " | ".join(vals.get(c, "—") for c in clusters) + " |")
        w("")


UPSTREAM_NOTES = [
    "**The upstream cluster.** k8s-local runs etcd, kube-apiserver, kube-controller-manager and "
    "kube-scheduler {version} built from source, as local processes, with kubesim's kubelet as its one "
    "node (an agent process; fake runtime for the provisioning benchmarks, process runtime for the spawn "
    "benchmark). The operator has the chart's RBAC (a least-privilege ServiceAccount, TokenRequest token), "
    "as on kubesim. Volumes are provisioned by kube-controller-manager's host-path provisioner.",
    "**Times on upstream are client-side.** kubesim stamps an instance's creation and Ready on the server "
    "(a store listener); on upstream an admin watch stamps both when the events arrive (both through the "
    "same "
    "watch, so the latency is not skewed, but each carries the watch's delivery delay).",
    "**Requests on upstream** are counted from kube-apiserver's audit log (metadata level, the operator's "
    "ServiceAccount only); the operator talks to the API server directly. The crash-restart and fault "
    "benchmarks put a fault-injecting proxy (`kubesim.faultproxy`) between the operator and the API server.",
    "**The garbage collector.** kube-controller-manager learns a new CRD's kind only at its 30-s discovery "
    "resync; every upstream benchmark waits for it (`ControlPlane.wait_for_garbage_collector`) before it "
    "starts, so deletions behave as in a cluster where the CRDs have long been installed.",
]


def _cpu_table(raw: dict[str, Any], w: Any) -> None:
    """Where the time goes: CPU seconds of each process while the largest batch was provisioned."""
    rows = []
    for c in _clusters(raw):
        prov = _provision_at_once(raw, c)
        if prov and prov[-1].get("cpu_s"):
            rows.append((c, prov[-1]))
    if not rows:
        return
    w(
        "CPU seconds each process spent while the largest batch was provisioned (from /proc; on kubesim its "
        "API server, controllers and kubelet are one process, this benchmark's):\n"
    )
    names: list[str] = []
    for _, r in rows:
        names += [n for n in r["cpu_s"] if n not in names]
    w("| cluster | instances | wall s | " + " | ".join(names) + " | total |")
    w("|---|---:|---:|" + "---:|" * (len(names) + 1))
    for c, r in rows:
        cpu = r["cpu_s"]
        w(
            f"| {c} | {r['instances']} | {r['total_s']} | "
            + " | ".join(str(cpu.get(n, "—")) for n in names)
            + f" | {round(sum(cpu.values()), 1)} |"
        )
    w("")


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
    "On upstream (the same tests and benchmarks on k8s-local): kubesim's kubelet agent lost pod statuses "
    "written twice at once (an older status landing last: 13 of 40 pods never Ready; fixed on main) and "
    "stopped starting pods after one larger than its stream reader's 128-KiB line limit (a hostile 100-kB "
    "user name: fixed); the operator in namespaced mode watches each resource in two namespaces, which a "
    "fault test expiring 'the next pod watch' had not allowed for; kube-scheduler can leave a pod whose "
    "first attempts ran before it saw the pod's new claim Pending for its 5-minute flush (see below).",
    "A missing `variablesFrom` Secret was read again every 0.1-0.2 s for as long as it was missing "
    "(the back-off was reset by the reconcile that asked for the retry); it now backs off, and a "
    "retry superseded by an earlier reconcile is cancelled rather than left to fire.",
]


def page(raw: dict[str, Any], plots: list[str], plot_dir: str) -> str:
    m = raw["machine"]
    a = raw["arguments"]
    clusters = _clusters(raw)
    out: list[str] = []
    w = out.append
    w("# Benchmarks\n")
    w(
        "Generated by `python bench/report.py` (this page, the plots and `docs/benchmarks/raw.json`); do not "
        "edit by hand. Every figure comes from the run described here, on one machine, on two clusters side "
        "by side: **kubesim** (the simulated cluster: its API server, controllers and kubelet in one Python "
        "process) and **upstream** Kubernetes (k8s-local). The operator runs as its own process on both; on "
        "two cores everything competes with everything else. The load average (1 min) before → after each "
        "benchmark is given with its figures: above the core count, figures are slower than the code.\n"
    )
    for note in UPSTREAM_NOTES:
        w(f"- {note.format(version=m.get('kubernetes', '?'))}")
    w("")
    w("## Machine and run\n")
    w("| | |\n|---|---|")
    w(f"| CPU | {m['cpu']} |")
    w(f"| cores | {m['cores']} |")
    w(f"| RAM | {m['ram_gb']} GB |")
    w(f"| OS | {m['os']} |")
    w(f"| Python | {m['python']} (kopf {m['kopf']}) |")
    w(f"| Kubernetes (upstream) | {m.get('kubernetes', '?')} |")
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
        f"Reproduce: `python bench/report.py --sizes {a['sizes']} --clusters "
        f"{a.get('clusters', 'kubesim,upstream')}` (each benchmark alone: the commands below).\n"
    )
    _goals(raw, w)
    _glance(raw, w)
    w("## What the hardening found\n")
    w(
        "The crash-restart, fault, replay and hostile-input tests (`tests/integration/hardening`, run "
        "scaled down in `make test` on both clusters), the rendering fuzz and these benchmarks found, and "
        "the operator now fixes at the root:\n"
    )
    for finding in FINDINGS:
        w(f"- {finding}")
    w("")

    # Provisioning
    w("## Provisioning: N instances created at once\n")
    w(
        "`bench/provision.py --instances N --cluster C`: the operator (a `jupyternetes operator` subprocess "
        "with "
        "the chart's RBAC) provisions N instances of a template with one PVC and one pod, created at once by "
        "the hub's ServiceAccount (32 requests in flight), fake runtime. Latency is from each instance's "
        "creation to its `Ready` condition; API requests are the operator's, watches and lists not counted.\n"
    )
    w(
        "| cluster | instances | all Ready after | per instance | p50 | p95 | p99 | API requests / instance "
        "| operator peak RSS | load |"
    )
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in clusters:
        seq_step = _step(raw, f"provision-sequential@{c}")
        if seq_step and seq_step.get("result"):
            r = seq_step["result"]
            w(
                f"| {c} | {r['instances']} one at a time | {r['total_s']} s | "
                f"{r['total_s'] * 1000 / r['instances']:.0f} ms "
                f"| {_fmt_s(r['p50_ms'])} | {_fmt_s(r['p95_ms'])} | {_fmt_s(r['p99_ms'])} | "
                f"{r['api_requests_per_instance']} "
                f"| {r['operator_peak_rss_mb']} MB | {_load(seq_step)} |"
            )
        for r in _provision_at_once(raw, c):
            w(
                f"| {c} | {r['instances']} | {r['total_s']} s | {r['total_s'] * 1000 / r['instances']:.1f} "
                "ms | "
                f"{_fmt_s(r['p50_ms'])} | {_fmt_s(r['p95_ms'])} | {_fmt_s(r['p99_ms'])} | "
                f"{r['api_requests_per_instance']} | {r['operator_peak_rss_mb']} MB | "
                f"{r['_load'][0]:.2f} → {r['_load'][1]:.2f} |"
            )
    for s in raw["steps"]:
        if s["name"].startswith("provision") and _failed(s):
            w(f"\n{s['name']}: {_failed(s)}")
    w("")
    if "latency_distribution.png" in plots:
        w(f"![latency distribution]({plot_dir}/latency_distribution.png)\n")
    if "time_to_ready_vs_instances.png" in plots:
        w(f"![time to ready vs instances]({plot_dir}/time_to_ready_vs_instances.png)\n")
    _cpu_table(raw, w)
    for c in clusters:
        prov = _provision_at_once(raw, c)
        top = prov[-1] if prov else None
        if top and top.get("breakdown"):
            w(f"Requests per instance at {top['instances']} on {c}, by verb and resource:\n")
            w("| requests / instance | verb and resource |\n|---:|---|")
            for k, v in top["breakdown"].items():
                w(f"| {v / top['instances']:.2f} | `{k}` |")
            w("")
    hop_rows = [(c, _result(raw, "provision-sequential", c)) for c in clusters]
    hop_rows += [(f"{c}, no PVC", _result(raw, "provision-sequential-nopvc", c)) for c in clusters]
    hop_rows = [(c, r) for c, r in hop_rows if r and r.get("hops_ms")]
    if hop_rows:
        w(
            "One instance at a time, hop by hop (p50 / p95 ms; each hop from two watch events of the same "
            "clock: the instance's and its pod's):\n"
        )
        hops = list(hop_rows[0][1]["hops_ms"])
        w("| cluster | " + " | ".join(hops) + " | creation → Ready |")
        w("|---|" + "---:|" * (len(hops) + 1))
        for c, r in hop_rows:
            cells = [
                f"{r['hops_ms'][h]['p50']} / {r['hops_ms'][h]['p95']}" if h in r["hops_ms"] else "—"
                for h in hops
            ]
            w(f"| {c} | " + " | ".join(cells) + f" | {r['p50_ms']} / {r['p95_ms']} |")
        w("")
    analysis = raw.get("analysis")
    if analysis:
        w("### Where the time goes on upstream\n")
        for para in analysis:
            w(para + "\n")

    # Crash-restart and faults
    w("## Crash-restart: the operator SIGKILLed three times while provisioning\n")
    w(
        f"`bench/crash_restart.py --instances {a['hardening']} --cluster C`: the instances are created at "
        "once; "
        "the operator process is SIGKILLed at three random moments (soon after the creates begin, then when "
        "a "
        "random 10-90% of the instances is Ready) and restarted each time. Then every instance must be Ready "
        "with exactly the PVCs (one retained, one deleted with the instance), pod and ConfigMap of its "
        "template, found by the instance label and owner uid (no duplicate, no stray, nothing missing); no "
        "instance may ever have shown `Failed=True`; the status must match the pods. Then all instances are "
        "deleted and only the retained PVCs may remain (on upstream the garbage collector deletes the "
        "children).\n"
    )
    _two_column(
        raw,
        "crash-restart",
        clusters,
        w,
        [
            (
                "kills at",
                lambda r: ", ".join(
                    f"{t} s ({n} Ready)" for t, n in zip(r["kill_after_s"], r["ready_at_kill"], strict=False)
                ),
            ),
            (
                "all Ready after",
                lambda r: f"{r['total_s']} s (p50 {_fmt_s(r['p50_ms'])}, p95 {_fmt_s(r['p95_ms'])})",
            ),
            ("duplicates, strays, missing children", lambda r: str(r["child_problems"])),
            ("status disagreeing with the pods", lambda r: str(r["status_problems"])),
            ("instances that ever showed Failed=True", lambda r: str(r["failures_seen"])),
            ("children left after deleting all (retained PVCs aside)", lambda r: str(len(r["leftovers"]))),
            ("retained PVCs kept", lambda r: str(r["retained_pvcs"])),
            ("deleting all took", lambda r: f"{r['delete_s']} s"),
            (
                "operator API requests per instance (four processes)",
                lambda r: str(r["requests_per_instance"]),
            ),
            ("result", lambda r: "all checks passed" if r.get("ok") else "**checks failed**"),
        ],
    )
    w("## API faults: 10% errors, watch streams cut, 410 Expired\n")
    w(
        f"`bench/faults.py --instances {a['hardening']} --cluster C`: 10% of all requests (every resource) "
        "answered 500, 429 or 409 in equal parts, 409 to writes only (an API server answers no read with a "
        "Conflict; when one was injected into kopf's first list of namespaces, the operator stopped, as kopf "
        "retries 5xx, 429 and 403 but rightly not a 409). Every watch stream is cut after 2 s, and the first "
        "resumed watch of each resource the operator watches is answered 410 Expired. The faults come from "
        "kubesim's fault injection on kubesim (the hub's requests suffer them too) and from the fault proxy "
        "the operator talks through on upstream. The instances are created over 8 s so that streams break "
        "while they are provisioned. All must become Ready with a status equal to what their pods and PVCs "
        "say, and the operator must never exit.\n"
    )
    _two_column(
        raw,
        "faults",
        clusters,
        w,
        [
            ("refused requests", lambda r: ", ".join(f"{k}: {v}" for k, v in r["injected"].items())),
            (
                "410 Expired answered per resource",
                lambda r: ", ".join(f"{k}: {1 - v}" for k, v in r["expirations_left"].items()),
            ),
            (
                "operator watch requests (each cut or 410 is one more)",
                lambda r: str(sum(r["watch_requests"].values())),
            ),
            (
                "all Ready after",
                lambda r: f"{r['total_s']} s (p50 {_fmt_s(r['p50_ms'])}, p95 {_fmt_s(r['p95_ms'])})",
            ),
            ("status disagreeing with the pods", lambda r: str(r["status_problems"])),
            ("duplicates, strays, missing children", lambda r: str(r["child_problems"])),
            ("operator alive / exits", lambda r: f"{r['operator_alive']} / {r['operator_exits'] or 'none'}"),
            (
                "operator API requests per instance (refused ones included)",
                lambda r: str(r["requests_per_instance"]),
            ),
            ("result", lambda r: "all checks passed" if r.get("ok") else "**checks failed**"),
        ],
    )

    # Burst
    w("## Burst: the hub creates instances at a fixed rate for a minute\n")
    w(
        f"`bench/burst.py --rate {a['burst_rate']:g} --seconds {a['burst_seconds']:g} --cluster C`: "
        "instances (one "
        "PVC, one pod each) created at a fixed rate by the hub's ServiceAccount; fake runtime.\n"
    )
    _two_column(
        raw,
        "burst",
        clusters,
        w,
        [
            (
                "instances (achieved rate)",
                lambda r: f"{r['instances']} ({r['achieved_create_rate_per_s']}/s)",
            ),
            (
                "create requests",
                lambda r: f"p50 {r['create_request_p50_ms']} ms, p95 {r['create_request_p95_ms']} ms",
            ),
            ("Ready", lambda r: f"{r['ready']} of {r['instances']}"),
            ("backlog (created, not yet Ready): peak", lambda r: str(r["peak_backlog"])),
            ("all Ready", lambda r: f"{r['drain_after_last_create_s']} s after the last create"),
            (
                "creation → Ready",
                lambda r: f"p50 {_fmt_s(r['p50_ms'])}, p95 {_fmt_s(r['p95_ms'])}, max {_fmt_s(r['max_ms'])}",
            ),
            ("operator peak RSS", lambda r: f"{r['operator_peak_rss_mb']} MB"),
            ("operator API requests per instance", lambda r: str(r["api_requests_per_instance"])),
            (
                "CPU seconds during the run",
                lambda r: ", ".join(f"{k} {v}" for k, v in (r.get("cpu_s") or {}).items()),
            ),
        ],
    )
    if "burst.png" in plots:
        w(f"![burst]({plot_dir}/burst.png)\n")

    # Spawn
    w("## Spawn latency through JupyterHub\n")
    w(
        f"`bench/spawn.py --users {a['spawn_users']} --cluster C`: from `POST /hub/api/users/<name>/server` "
        "until the server answers through the hub's proxy, users one at a time, the hubs taking turns. One "
        "cluster and one operator serve a hub per spawner: `jupyternetes` (the demo's template, JupyterLab "
        "included), `jupyternetes-nolab` (the same with JupyterLab's extensions off: what JupyterLab adds "
        "to a spawn), `kubespawner` (kubespawner 7, the same image and a PVC per user), `kubespawner-poll` "
        "(the same kubespawner with Jupyternetes' readiness check added) and `localprocess` (no cluster: "
        "the floor). kubesim's process kubelet runs real `jupyterhub-singleuser` servers (on upstream as "
        "the node's agent), as uid 1000 when it runs as root.\n"
    )
    w(
        "Part of the spawner's lead over kubespawner is its readiness check, not the cluster work: after "
        "the pod is Ready, `JupyternetesSpawner` checks the server's URL every 50 ms, while JupyterHub's "
        "own wait for a spawner's server backs off (`exponential_backoff`: 0.2 s doubling up to 5 s, with "
        "random jitter). `kubespawner-poll` is kubespawner with the same 50 ms check: the gap between it "
        "and `kubespawner` is what the check is worth, the gap between it and `jupyternetes` what the "
        "operator model costs or saves.\n"
    )
    w("| cluster | spawner | p50 | p95 | load |\n|---|---|---:|---:|---|")
    for c in clusters:
        s_step = _step(raw, f"spawn@{c}")
        sp = s_step.get("result") if s_step else None
        if sp:
            for n, v in sp.items():
                if isinstance(v, dict):
                    w(f"| {c} | {n} | {v['p50_s']} s | {v['p95_s']} s | {_load(s_step)} |")
        elif s_step:
            w(f"| {c} | {_failed(s_step)} | | | |")
    w("")
    if "spawn.png" in plots:
        w(f"![spawn]({plot_dir}/spawn.png)\n")

    # kubesim
    t_step, p_step = _step(raw, "kubesim-throughput"), _step(raw, "kubesim-pods")
    if t_step or p_step:
        w("## The simulated cluster itself\n")
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
                f"| {runtime} | {r['pods']} | {r['p50_s']} s | {r['p95_s']} s | {r['max_s']} s | "
                f"{r['total_s']} s |"
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


def _two_column(
    raw: dict[str, Any], name: str, clusters: list[str], w: Any, rows: list[tuple[str, Any]]
) -> None:
    results = {c: _result(raw, name, c) for c in clusters}
    steps = {c: _step(raw, f"{name}@{c}") for c in clusters}
    if not any(steps.values()):
        w("not run\n")
        return
    w("| | " + " | ".join(clusters) + " |")
    w("|---|" + "---|" * len(clusters))
    for label, fn in rows:
        cells = []
        for c in clusters:
            r = results[c]
            try:
                cells.append(fn(r) if r else _failed(steps[c]) or "—")
            except (KeyError, TypeError):
                cells.append("—")
        w(f"| {label} | " + " | ".join(cells) + " |")
    w("| load | " + " | ".join(_load(steps[c]) for c in clusters) + " |\n")


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
    parser.add_argument("--clusters", default=",".join(CLUSTERS), help="kubesim, upstream or both (default)")
    parser.add_argument("--hardening", type=int, default=300, help="instances of crash-restart and faults")
    parser.add_argument("--burst-rate", type=float, default=50.0)
    parser.add_argument("--burst-seconds", type=float, default=60.0)
    parser.add_argument("--spawn-users", type=int, default=20)
    parser.add_argument(
        "--skip", default="", help="comma-separated: provision,crash,faults,burst,spawn,kubesim"
    )
    parser.add_argument("--reuse", help="a raw.json of an earlier run: only rewrite the page and plots")
    parser.add_argument(
        "--analysis", help="a JSON list of paragraphs: where the time goes on upstream (kept in raw.json)"
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--plots", default=str(ROOT / "docs" / "benchmarks"))
    args = parser.parse_args()
    plot_dir = Path(args.plots)
    raw = json.loads(Path(args.reuse).read_text()) if args.reuse else run_all(args)
    if args.analysis:
        raw["analysis"] = json.loads(Path(args.analysis).read_text())
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
