"""Pure reading of a JupyterNotebookInstance's status for the spawner: is it ready (and where), has it
failed for good, what progress to show, and what ``poll()`` should answer.

Everything comes from the instance object alone: the hub's ServiceAccount may not read pods, PVCs, Secrets
or Events, and needs not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

Obj = Mapping[str, Any]

# Failed=True reasons that fix themselves (the Secret is written right after the instance, or the
# operator could not read it for a moment): the operator retries them, the spawner keeps waiting.
TRANSIENT_FAILURES: Final = frozenset({"SecretNotFound", "SecretUnreadable"})

# Reasons for which poll() reports a server as stopped.
_STOPPED_REASONS: Final = frozenset(
    {"PodFailed", "PodCompleted", "PodDeleted", "ContainerFailing", "ImagePullFailed"}
)
_EXIT_CODE = re.compile(r"exited with code (-?\d+)")


def condition(instance: Obj, type_: str) -> Obj | None:
    for c in (instance.get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def is_true(instance: Obj, type_: str) -> bool:
    c = condition(instance, type_)
    return bool(c) and c is not None and c.get("status") == "True"


@dataclass(frozen=True)
class Failure:
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


def failure(instance: Obj, transient: frozenset[str] = TRANSIENT_FAILURES) -> Failure | None:
    """The operator's failure, when it is one the spawner should give up on (Failed=True, not transient;
    or Expired: the server outlived its template's maxLifetime while starting)."""
    expired = condition(instance, "Expired")
    if expired and expired.get("status") == "True":
        return Failure("Expired", str(expired.get("message") or "the server outlived its maxLifetime"))
    c = condition(instance, "Failed")
    if not c or c.get("status") != "True":
        return None
    reason = str(c.get("reason") or "Failed")
    if reason in transient:
        return None
    return Failure(reason, str(c.get("message") or reason))


def ready_url(instance: Obj, scheme: str = "http") -> str | None:
    """The server's URL once the instance is Ready with an address, else None."""
    if instance.get("metadata", {}).get("deletionTimestamp"):
        return None
    address = (instance.get("status") or {}).get("address")
    if not address or not is_true(instance, "Ready"):
        return None
    return f"{scheme}://{address}"


def poll_status(instance: Obj | None) -> int | None:
    """``Spawner.poll()``'s answer for the instance as read now: None while it starts or runs, an exit
    status when it is gone, being deleted, or its pod failed, finished or disappeared."""
    if instance is None:
        return 0
    if instance.get("metadata", {}).get("deletionTimestamp"):
        return 0
    if is_true(instance, "Expired"):
        return 0  # stopped by the operator at its template's maxLifetime: a normal end
    c = condition(instance, "Failed")
    if c and c.get("status") == "True" and c.get("reason") in _STOPPED_REASONS:
        reason = c.get("reason")
        if reason in ("PodCompleted", "PodDeleted"):
            return 0
        match = _EXIT_CODE.search(str(c.get("message") or ""))
        code = int(match.group(1)) if match else 1
        return code if code != 0 else 1
    return None


@dataclass(frozen=True)
class Step:
    """One progress event: a stable key (shown once), a percentage and a message."""

    key: str
    progress: int
    message: str


def progress_steps(instance: Obj) -> list[Step]:
    """The progress the instance's status shows, in order; percentages rise with each stage.

    Stages: the operator took it up (rendered the template) → each PVC created → bound → pods created →
    each pod scheduled to a node (and its address) → what it is doing (pulling its image, creating the
    container) → running (image pulled, container started) → ready.
    """
    status = instance.get("status") or {}
    ns = instance.get("metadata", {}).get("namespace", "")
    name = instance.get("metadata", {}).get("name", "")
    steps: list[Step] = []
    template = (instance.get("spec") or {}).get("template") or {}
    tname = f"{template.get('namespace') or ns}/{template.get('name', '?')}"
    pods: Mapping[str, Any] = status.get("pods") or {}
    pvcs: Mapping[str, Any] = status.get("pvcs") or {}
    if pods or pvcs or is_true(instance, "Provisioned"):
        summary = ", ".join(
            [f"PVC {p.get('resourceName')}" for p in pvcs.values() if p.get("state") != "Skipped"]
            + [f"pod {p.get('resourceName')}" for p in pods.values() if p.get("state") != "Skipped"]
        )
        steps.append(
            Step("rendered", 20, f"Template {tname} rendered for {ns}/{name}: {summary or 'no objects'}")
        )
    for entry, pvc in sorted(pvcs.items()):
        rname = pvc.get("resourceName") or entry
        if pvc.get("state") in ("Processed", "Running") or pvc.get("phase"):
            steps.append(Step(f"pvc-created/{entry}", 30, f"PVC {rname} created"))
        if pvc.get("phase") == "Bound":
            steps.append(Step(f"pvc-bound/{entry}", 40, f"PVC {rname} bound"))
    if status.get("podsProvisioned") == "Completed":
        names = ", ".join(
            str(p.get("resourceName") or e) for e, p in sorted(pods.items()) if p.get("state") != "Skipped"
        )
        steps.append(Step("pods-created", 50, f"Pod {names} created" if names else "Pods created"))
    for entry, pod in sorted(pods.items()):
        rname = pod.get("resourceName") or entry
        node, address = pod.get("nodeName"), pod.get("podAddress")
        if node or address:
            where = f" to node {node}" if node else ""
            steps.append(
                Step(
                    f"pod-scheduled/{entry}",
                    60,
                    f"Pod {rname} scheduled{where}" + (f", address {address}" if address else ""),
                )
            )
        activity = pod.get("message")
        if activity and not pod.get("ready") and pod.get("state") != "Running":
            # What the operator saw the pod doing (scheduling, pulling the image, creating the container):
            # one event per change.
            steps.append(Step(f"pod-activity/{entry}/{activity}", 65, f"Pod {rname}: {activity}"))
        if pod.get("state") == "Running" or pod.get("ready"):
            steps.append(
                Step(f"pod-running/{entry}", 75, f"Pod {rname} running: image pulled, container started")
            )
        if pod.get("ready"):
            steps.append(Step(f"pod-ready/{entry}", 90, f"Pod {rname} ready"))
    if is_true(instance, "Ready") and status.get("address"):
        steps.append(Step("ready", 95, f"Server ready at {status['address']}; waiting for it to answer"))
    fail = failure(instance, frozenset())
    if fail is not None:
        steps.append(
            Step(
                f"failed/{fail.reason}",
                100 if fail.reason not in TRANSIENT_FAILURES else 15,
                f"{fail.reason}: {fail.message}",
            )
        )
    return steps
