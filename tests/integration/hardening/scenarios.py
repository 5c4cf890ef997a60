"""The hardening scenarios as functions: each sets a situation up on a :class:`~.harness.Env`, drives
it, and returns what it measured. The tests call them small and assert; bench/ calls them at full size
and prints the figures. They run on either backend (an :class:`~.harness.Env`)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.hardening.harness import (
    INSTANCES,
    Env,
    OperatorProcess,
    ReadyClock,
    audit_children,
    condition,
    create_all,
    create_paced,
    delete_all,
    describe_stragglers,
    hardening_template,
    instance_body,
    leftover_children,
    load_average,
    not_ready,
    percentile,
    status_problems,
    wait_until,
)


class FailureLog:
    """Every Failed=True an instance's status ever showed (a spawner fails the spawn on it at once)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def install(self, env: Env) -> None:
        env.listen(self._on_event)

    def _on_event(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if kind == "DELETED":
            return
        c = condition(obj, "Failed")
        if c and c.get("status") == "True":
            before = condition(old, "Failed") if old else None
            if not (before and before.get("status") == "True" and before.get("reason") == c.get("reason")):
                with self._lock:
                    self.seen.append((obj["metadata"]["name"], str(c.get("reason")), str(c.get("message"))))


def operator_requests(env: Env) -> dict[str, int]:
    return env.operator_requests()


@dataclass
class CrashRestartResult:
    instances: int
    kills: int
    ready_at_kill: list[int] = field(default_factory=list)
    kill_after_s: list[float] = field(default_factory=list)
    total_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0
    child_problems: list[str] = field(default_factory=list)
    status_problems: list[str] = field(default_factory=list)
    failures_seen: list[tuple[str, str, str]] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    retained_pvcs: int = 0
    requests_per_instance: float = 0.0
    delete_s: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def figures(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("child_problems", "status_problems")} | {
            "child_problems": len(self.child_problems),
            "status_problems": len(self.status_problems),
            "failures_seen": len(self.failures_seen),
        }


def crash_restart(
    env: Env,
    log_dir: Path,
    *,
    instances: int,
    kills: int = 3,
    seed: int | None = None,
    timeout: float = 300,
) -> CrashRestartResult:
    """``instances`` created at once; the operator SIGKILLed at ``kills`` random moments while they are
    provisioned and restarted each time; then every instance must be Ready with exactly its children;
    then all are deleted and only retained PVCs may remain."""
    rng = random.Random(seed)
    result = CrashRestartResult(instances=instances, kills=kills, load=load_average())
    env.create_template(hardening_template(env))
    clock = ReadyClock()
    clock.install(env)
    failures = FailureLog()
    failures.install(env)
    op = OperatorProcess(env, log_dir)
    op.start()
    names = [f"c{i:05d}" for i in range(instances)]
    hub = env.hub()
    env.reset_requests()
    started = time.monotonic()
    creator = threading.Thread(
        target=create_all, args=(hub, [instance_body(env, n) for n in names]), name="creator", daemon=True
    )
    creator.start()
    # The kills land at random moments of the provisioning: the first soon after the creates begin
    # (creates still arriving, the operator creating children), the others when a random share (10-90%)
    # of the instances is Ready (at once if that many already are: a kill right after a restart); each
    # restart waits until the new process watches again, as a restarted pod would.
    thresholds = sorted(rng.uniform(0.1, 0.9) for _ in range(max(0, kills - 1)))
    try:
        for k in range(kills):
            if k == 0:
                time.sleep(rng.uniform(0.05, min(1.5, 0.02 * instances)))  # a random moment: the point
            else:
                target = max(1, int(thresholds[k - 1] * instances))

                def enough(t: int = target) -> bool:
                    return len(clock.ready) >= t

                wait_until(enough, timeout, interval=0.01, what=op.log_tail)
                time.sleep(rng.uniform(0.0, 0.3))
            result.kill_after_s.append(round(time.monotonic() - started, 2))
            result.ready_at_kill.append(len(clock.ready))
            op.kill()
            op.start()
        creator.join()
        wait_until(
            lambda: not not_ready(env, names),
            timeout,
            what=lambda: describe_stragglers(env, names) + "\n" + op.log_tail(),
        )
        result.total_s = round(time.monotonic() - started, 2)
        lat = clock.latencies_ms(names)
        result.p50_ms = round(percentile(lat, 50), 1)
        result.p95_ms = round(percentile(lat, 95), 1)
        result.max_ms = round(max(lat), 1) if lat else 0.0
        result.requests_per_instance = round(sum(operator_requests(env).values()) / instances, 2)
        result.child_problems = audit_children(env, names)
        # The status follows the pods within moments; wait for it rather than sample a transition.
        try:
            wait_until(lambda: not status_problems(env, names), 30)
        except AssertionError:
            pass
        result.status_problems = status_problems(env, names)
        result.failures_seen = list(failures.seen)
        deleting = time.monotonic()
        delete_all(hub, names, env.users_ns)
        wait_until(
            lambda: not env.objects(INSTANCES, env.users_ns) and not leftover_children(env),
            timeout,
            what=lambda: f"deletion: {leftover_children(env)[:10]}",
        )
        result.delete_s = round(time.monotonic() - deleting, 2)
        result.leftovers = leftover_children(env)
        result.retained_pvcs = sum(
            1
            for p in env.objects(("", "persistentvolumeclaims"), env.users_ns)
            if p["metadata"]["name"].endswith("-work")
        )
        assert op.alive, f"operator exited:\n{op.log_tail()}"
    finally:
        hub.close()
        op.stop()
    return result


@dataclass
class FaultsResult:
    instances: int
    total_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0
    injected: dict[str, int] = field(default_factory=dict)
    expirations_left: dict[str, int] = field(default_factory=dict)
    watch_requests: dict[str, int] = field(default_factory=dict)
    child_problems: list[str] = field(default_factory=list)
    status_problems: list[str] = field(default_factory=list)
    operator_alive: bool = True
    operator_exits: list[int] = field(default_factory=list)
    requests_per_instance: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def figures(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("child_problems", "status_problems")} | {
            "child_problems": len(self.child_problems),
            "status_problems": len(self.status_problems),
        }


WRITES = ["create", "update", "patch", "delete", "deletecollection"]
WATCHED = ("jupyternotebookinstances", "jupyternotebooktemplates", "pods", "persistentvolumeclaims")


def api_faults(
    env: Env,
    log_dir: Path,
    *,
    instances: int,
    error_rate: float = 0.10,
    cut_after_s: float = 2.0,
    spread_s: float = 8.0,
    timeout: float = 300,
    seed: int | None = None,
) -> FaultsResult:
    """Faults first, then the operator and the instances: ``error_rate`` of every request answered 500, 429
    or 409 in equal parts, 409 only to writes (an API server answers no read with a Conflict, and kopf
    rightly does not retry one: its namespace observer's first list stopped the operator when one was
    injected there); every watch stream cut after ``cut_after_s``; the first
    resumed watch of each resource the operator watches answered 410 Expired. The instances are created
    over ``spread_s`` seconds, so streams are cut and resumed while they are provisioned. The hub's own
    requests (retried) suffer the same faults."""
    result = FaultsResult(instances=instances, load=load_average())
    env.create_template(hardening_template(env))
    clock = ReadyClock()
    clock.install(env)
    faults = env.faults
    faults._random.seed(seed)
    # Three rules tried in turn: each takes its share of what the previous ones let through.
    per = error_rate / 3
    rules = {
        code: faults.add_error(code, verb=verbs, probability=per / (1 - per * i))
        for i, (code, verbs) in enumerate(((500, None), (429, None), (409, WRITES)))
    }
    faults.cut_watches(after_seconds=cut_after_s)
    for resource in WATCHED:
        faults.expire_watches(resource, 1)
    op = OperatorProcess(env, log_dir)
    names = [f"f{i:05d}" for i in range(instances)]
    hub = env.hub()
    try:
        op.start(timeout=120)
        env.reset_requests()
        started = time.monotonic()
        create_paced(hub, [instance_body(env, n) for n in names], rate=instances / spread_s)
        wait_until(
            lambda: not not_ready(env, names) or not op.alive,
            timeout,
            what=lambda: describe_stragglers(env, names) + "\n" + op.log_tail(),
        )
        assert op.alive, f"operator exited:\n{op.log_tail()}"
        result.total_s = round(time.monotonic() - started, 2)
        lat = clock.latencies_ms(names)
        result.p50_ms = round(percentile(lat, 50), 1)
        result.p95_ms = round(percentile(lat, 95), 1)
        result.max_ms = round(max(lat), 1) if lat else 0.0
        # Keep the faults on while the status settles: it must become true under them too.
        try:
            wait_until(lambda: not status_problems(env, names), 60)
        except AssertionError:
            pass
        result.status_problems = status_problems(env, names)
        result.child_problems = audit_children(env, names)
        result.injected = {str(code): rule.hits for code, rule in rules.items()}
        result.expirations_left = dict(faults.expirations)
        result.watch_requests = env.operator_requests(watches=True)
        result.requests_per_instance = round(sum(operator_requests(env).values()) / instances, 2)
        result.operator_alive = op.alive
    finally:
        faults.clear()
        hub.close()
        code = op.stop()
        result.operator_exits = op.exits + ([code] if code not in (0, None) else [])
    return result
