"""Pure functions that turn the kubelet's view of a pod into ``status``: container statuses,
conditions, phase.

Ported from the upstream kubelet (``pkg/kubelet/kubelet_pods.go`` ``getPhase``,
``pkg/kubelet/status/generate.go``) so clients see exactly the transitions a real node produces.
No I/O here: the worker keeps :class:`ContainerState` records and asks this module for the status.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

# Upstream's order of pod conditions in status.
CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass
class ContainerState:
    """What the kubelet knows about one container (the current instance and the previous one)."""

    name: str
    image: str
    init: bool = False
    sidecar: bool = False  # an init container with restartPolicy Always
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"  # waiting or terminated reason
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    container_id: str = ""
    image_ref: str = ""  # the normalized image once pulled (docker.io/library/x:tag)
    image_id: str = ""
    last: Obj | None = None  # lastState.terminated
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    volume_mounts: list[Obj] = field(default_factory=list)

    # ------------------------------------------------------------------ transitions

    def waiting(self, reason: str, message: str = "") -> None:
        if self.state == "terminated":
            self.last = self.terminated_dict()
        self.state, self.reason, self.message = "waiting", reason, message
        self.ready = self.started = False

    def running(self, started_at: str, container_id: str) -> None:
        if self.state == "terminated":
            self.last = self.terminated_dict()
        self.state, self.reason, self.message = "running", "", ""
        self.started_at, self.finished_at, self.exit_code, self.signal = started_at, None, None, None
        self.container_id = container_id
        self.ready = self.started = False

    def terminated(
        self, exit_code: int, finished_at: str, reason: str = "", message: str = "", signal: int | None = None
    ) -> None:
        self.state = "terminated"
        self.exit_code = exit_code
        self.signal = signal
        self.reason = reason or ("Completed" if exit_code == 0 else "Error")
        self.message = message
        self.finished_at = finished_at
        if self.started_at is None:
            self.started_at = finished_at
        self.ready = self.started = False

    def terminated_dict(self) -> Obj:
        out: Obj = {"exitCode": self.exit_code if self.exit_code is not None else 0, "reason": self.reason}
        if self.signal:
            out["signal"] = self.signal
        if self.message:
            out["message"] = self.message
        out["startedAt"] = self.started_at
        out["finishedAt"] = self.finished_at
        if self.container_id:
            out["containerID"] = self.container_id
        return out

    # ------------------------------------------------------------------ status

    def status(self) -> Obj:
        state: Obj
        if self.state == "running":
            state = {"running": {"startedAt": self.started_at}}
        elif self.state == "terminated":
            state = {"terminated": self.terminated_dict()}
        else:
            waiting: Obj = {"reason": self.reason}
            if self.message:
                waiting["message"] = self.message
            state = {"waiting": waiting}
        out: Obj = {
            "name": self.name,
            "state": state,
            "lastState": {"terminated": self.last} if self.last else {},
            "ready": self.ready,
            "restartCount": self.restart_count,
            "image": self.image_ref or self.image,
            "imageID": self.image_id,
            "started": self.started,
        }
        if self.container_id and self.state != "waiting":
            out["containerID"] = self.container_id
        elif self.container_id and self.last:
            out["containerID"] = self.last.get("containerID", self.container_id)
        if self.volume_mounts:
            out["volumeMounts"] = self.volume_mounts
        return out


def normalize_image(image: str) -> str:
    """``busybox`` -> ``docker.io/library/busybox:latest``, as containerd reports images."""
    name, digest = [*image.split("@", 1), ""][:2]
    first = name.split("/", 1)[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if "/" in name else f"docker.io/library/{name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    ref = normalize_image(image)
    if "@" in ref:
        return ref
    repo = ref.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(ref.encode()).hexdigest()}"


def container_id(pod_uid: str, name: str, restart: int) -> str:
    return "containerd://" + hashlib.sha256(f"{pod_uid}/{name}/{restart}".encode()).hexdigest()


def volume_mount_statuses(container: Obj) -> list[Obj]:
    out = []
    for m in container.get("volumeMounts") or ():
        entry: Obj = {"name": m.get("name"), "mountPath": m.get("mountPath")}
        if m.get("readOnly"):
            entry["readOnly"] = True
            entry["recursiveReadOnly"] = "Disabled"
        out.append(entry)
    return out


# ---------------------------------------------------------------------------------------------- phase


def pod_phase(spec: Obj, init: list[ContainerState], main: list[ContainerState], terminal: bool) -> str:
    """Upstream's ``getPhase`` (kubelet_pods.go) for the given container states."""
    restart_policy = spec.get("restartPolicy", "Always")
    pending_init = failed_init = 0
    for c in init:
        if c.sidecar:
            continue
        if c.state == "running":
            pending_init += 1
        elif c.state == "terminated":
            if c.exit_code:
                failed_init += 1
        elif c.last is not None:
            if c.last.get("exitCode"):
                failed_init += 1
        else:
            pending_init += 1
    running = waiting = stopped = succeeded = unknown = 0
    for c in main:
        if c.state == "running":
            running += 1
        elif c.state == "terminated":
            stopped += 1
            if c.exit_code == 0:
                succeeded += 1
        elif c.last is not None:
            stopped += 1
        else:
            waiting += 1
    if not main:
        unknown += 1
    if failed_init and restart_policy == "Never":
        return "Failed"
    if pending_init or waiting:
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


# ---------------------------------------------------------------------------------------------- conditions


def _condition(ctype: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    cond: Obj = {"type": ctype, "status": "True" if ok else "False", "lastProbeTime": None}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _names(cs: list[ContainerState]) -> str:
    return "[" + " ".join(c.name for c in cs) + "]"


def pod_conditions(
    phase: str, sandbox_ready: bool, init: list[ContainerState], main: list[ContainerState]
) -> list[Obj]:
    """Conditions generated by the kubelet (PodScheduled is the scheduler's and is added by the caller)."""
    conds: list[Obj] = [_condition("PodReadyToStartContainers", sandbox_ready)]
    incomplete = [c for c in init if not c.sidecar and not (c.state == "terminated" and c.exit_code == 0)]
    incomplete += [c for c in init if c.sidecar and not c.started]
    if phase == "Succeeded" and not incomplete:
        conds.append(_condition("Initialized", True, "PodCompleted"))
    elif incomplete:
        conds.append(
            _condition(
                "Initialized",
                False,
                "ContainersNotInitialized",
                f"containers with incomplete status: {_names(incomplete)}",
            )
        )
    else:
        conds.append(_condition("Initialized", True))
    if phase == "Succeeded":
        ready = _condition("ContainersReady", False, "PodCompleted")
    else:
        unready = [c for c in main if not c.ready] + [c for c in init if c.sidecar and not c.ready]
        if incomplete and not unready:
            unready = list(main)
        if unready:
            ready = _condition(
                "ContainersReady",
                False,
                "ContainersNotReady",
                f"containers with unready status: {_names(unready)}",
            )
        else:
            ready = _condition("ContainersReady", True)
    conds.append({**ready, "type": "Ready"})
    conds.append(ready)
    return conds


def scheduled_condition(ok: bool, reason: str = "", message: str = "") -> Obj:
    return _condition("PodScheduled", ok, reason, message)


def merge_conditions(
    previous: list[Obj] | None, current: list[Obj], stamp: str, generation: int | None = None
) -> list[Obj]:
    """Order conditions as upstream and keep lastTransitionTime of those whose status did not change."""
    prev = {c.get("type"): c for c in previous or ()}
    out = []
    by_type = {c["type"]: c for c in current}
    for ctype in CONDITION_ORDER:
        cond = by_type.get(ctype)
        if cond is None:
            old = prev.get(ctype)
            if old is not None:
                out.append(old)
            continue
        old = prev.get(ctype)
        cond = dict(cond)
        if generation is not None:
            cond["observedGeneration"] = generation
        if old is not None and old.get("status") == cond["status"] and old.get("lastTransitionTime"):
            cond["lastTransitionTime"] = old["lastTransitionTime"]
        else:
            cond["lastTransitionTime"] = stamp
        out.append(cond)
    for ctype, cond in by_type.items():
        if ctype not in CONDITION_ORDER:
            out.append(cond)
    return out


def pod_status(
    pod: Obj,
    *,
    init: list[ContainerState],
    main: list[ContainerState],
    sandbox_ready: bool,
    terminal: bool,
    pod_ip: str | None,
    host_ip: str,
    start_time: str | None,
    stamp: str,
) -> Obj:
    """The full ``status`` the kubelet writes for pod (keeps fields others own, like ``qosClass``)."""
    old: Obj = dict(pod.get("status") or {})
    spec = pod.get("spec") or {}
    phase = pod_phase(spec, init, main, terminal)
    conds = pod_conditions(phase, sandbox_ready, init, main)
    sched = next((c for c in old.get("conditions") or () if c.get("type") == "PodScheduled"), None)
    if sched is None or sched.get("status") != "True":
        conds.append(scheduled_condition(True))
    generation = pod.get("metadata", {}).get("generation")
    status: Obj = {
        k: v
        for k, v in old.items()
        if k
        not in (
            "phase",
            "conditions",
            "hostIP",
            "hostIPs",
            "podIP",
            "podIPs",
            "startTime",
            "containerStatuses",
            "initContainerStatuses",
            "reason",
            "message",
            "observedGeneration",
        )
    }
    status["observedGeneration"] = generation
    status["phase"] = phase
    status["conditions"] = merge_conditions(old.get("conditions"), conds, stamp, generation)
    status["hostIP"] = host_ip
    status["hostIPs"] = [{"ip": host_ip}]
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if start_time:
        status["startTime"] = start_time
    if init:
        status["initContainerStatuses"] = [c.status() for c in init]
    status["containerStatuses"] = [c.status() for c in main]
    return status


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration prints it: ``200ms``, ``10s``, ``1m20s``, ``5m0s``, ``1.5s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:.3f}".rstrip("0").rstrip(".") + "ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    if hours >= 1:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes >= 1:
        return f"{int(minutes)}m{text}"
    return text
