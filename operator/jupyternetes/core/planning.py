"""What to do next for an instance, and what its status says, from the render plan and what exists.

Pure functions over plain dicts: the reconciler (an adapter) feeds in the children it sees in its watch
caches and applies the actions; nothing here talks to the API.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyternetes.core.models import (
    Condition,
    ConditionType,
    EntryState,
    InstanceStatus,
    OtherResourceStatus,
    PodStatus,
    ProvisioningState,
    PvcStatus,
    set_condition,
    to_dict,
)
from jupyternetes.core.rendering import PlannedObject, RenderPlan, pod_port, rendered_pvc_refs

Obj = dict[str, Any]

# Container waiting reasons that will not fix themselves: the spawner should fail fast on them.
_FATAL_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "CrashLoopBackOff",
        "RunContainerError",
    }
)


@dataclass(frozen=True)
class Failure:
    """Why an instance cannot become (or stay) Ready: a machine-readable reason and a human message."""

    reason: str
    message: str


@dataclass(frozen=True)
class Observed:
    """The children that exist now, by generated name (absent: not found).

    ``stale``: objects that carry one of this instance's generated names but belong to an earlier instance
    of the same name and are on their way out (see :func:`blocking_stale_child`); they are not this
    instance's children, and its own are created once they are gone."""

    pvcs: Mapping[str, Obj] = field(default_factory=dict)
    pods: Mapping[str, Obj] = field(default_factory=dict)
    others: Mapping[str, Obj] = field(default_factory=dict)
    stale: Mapping[str, Obj] = field(default_factory=dict)

    def of(self, planned: PlannedObject) -> Obj | None:
        source = {"pvc": self.pvcs, "pod": self.pods, "other": self.others}[planned.kind]
        return source.get(planned.name)


def _owned_by(obj: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in obj.get("metadata", {}).get("ownerReferences") or ())


def blocking_stale_child(planned: PlannedObject, existing: Obj | None, instance_uid: str) -> bool:
    """An object of the same name that belongs to an earlier instance of the same name: owned by another
    uid (a pod still terminating, an owned PVC or other resource the garbage collector is about to
    delete), or a retained PVC being deleted (a purge). It must be gone before ours is created, and is
    not reported as ours meanwhile. A retained PVC (no owner) that is not being deleted is adopted."""
    if existing is None:
        return False
    meta = existing.get("metadata", {})
    if meta.get("ownerReferences"):
        return not _owned_by(existing, instance_uid)
    return planned.kind == "pvc" and bool(meta.get("deletionTimestamp"))


def creations(
    plan: RenderPlan,
    observed: Observed,
    created_before: Mapping[str, str],
    restorable: Collection[str] = frozenset(),
) -> list[PlannedObject]:
    """The objects to create now, in order: PVCs; pods whose PVCs exist; other resources once every pod is
    created. ``created_before``: entry name -> resource name of children created earlier (from the status),
    which are not created again if they disappear (a deleted pod is reported, not resurrected), except the
    other resources whose entries are in ``restorable`` (see :func:`restorable_others`)."""
    todo: list[PlannedObject] = []
    for pvc in plan.pvcs:
        if observed.of(pvc) is None and pvc.name not in observed.stale:
            todo.append(pvc)
    all_pods_exist = True
    for pod in plan.pods:
        if observed.of(pod) is not None or created_before.get(pod.entry) == pod.name:
            continue
        all_pods_exist = False
        if pod.name in observed.stale:
            continue
        claims = set(rendered_pvc_refs(pod.manifest))
        planned_claims = {p.name for p in plan.pvcs}
        if all(observed.pvcs.get(c) is not None for c in claims & planned_claims):
            todo.append(pod)
    if all_pods_exist:
        for other in plan.others:
            if (
                observed.of(other) is None
                and (created_before.get(other.entry) != other.name or other.entry in restorable)
                and other.name not in observed.stale
            ):
                todo.append(other)
    return todo


def restorable_others(
    plan: RenderPlan,
    watched: Collection[str],
    previous: InstanceStatus | None,
    template_uid: str | None,
    template_generation: int | None,
) -> frozenset[str]:
    """The otherResources entries to create again when their object is deleted: those of a kind the
    operator watches (``watched``: entry names), as long as ``plan`` was rendered from the template version
    the instance was provisioned from (after a restart the plan is rendered again, and a template edited
    since would re-create something else than what was deleted: that is reported, not restored). Pods are
    never restored: a new pod would be a new server at a new address the hub does not know."""
    provisioned_from = (previous.template_uid, previous.template_generation) if previous else (None, None)
    if provisioned_from[0] is not None and provisioned_from != (template_uid, template_generation):
        return frozenset()
    return frozenset(o.entry for o in plan.others if o.entry in watched)


def is_recreation(planned: PlannedObject, created_before: Mapping[str, str]) -> bool:
    """Whether creating ``planned`` restores an object an earlier reconcile created (it was deleted)."""
    return created_before.get(planned.entry) == planned.name


def _waiting_for_stale(planned: PlannedObject, stale: Obj) -> str:
    what = {"pvc": "PVC", "pod": "pod", "other": str(stale.get("kind") or "object")}[planned.kind]
    return f"waiting for the {what} {planned.name} of a previous instance of this name to be deleted"


def _container_problem(pod: Obj) -> tuple[str, str] | None:
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in pod.get("status", {}).get(key) or ():
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in _FATAL_WAITING:
                return waiting["reason"], waiting.get("message") or waiting["reason"]
    return None


def _terminated_summary(pod: Obj) -> str:
    parts = []
    for cs in pod.get("status", {}).get("containerStatuses") or ():
        term = (cs.get("state") or {}).get("terminated")
        if term:
            parts.append(
                f"container {cs.get('name')} exited with code {term.get('exitCode')}"
                + (f" ({term['reason']})" if term.get("reason") else "")
            )
    return "; ".join(parts)


def _pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or ()
    )


def _container_image(pod: Obj, name: str) -> str:
    spec = pod.get("spec", {})
    for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        if c.get("name") == name:
            return str(c.get("image") or "?")
    return "?"


def pod_activity(pod: Obj) -> str | None:
    """A short account of what a pod is doing or waiting for, for progress messages."""
    status = pod.get("status", {})
    for c in status.get("conditions") or ():
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return f"unschedulable: {c.get('message') or c.get('reason') or 'waiting for a node'}"
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or ():
            waiting = (cs.get("state") or {}).get("waiting") or {}
            creating = waiting.get("reason") in ("ContainerCreating", "PodInitializing")
            if creating and not waiting.get("message"):
                # What a kubelet does before the container runs: fetch its image unless the node has it.
                image = cs.get("image") or _container_image(pod, str(cs.get("name")))
                return f"pulling image {image} and starting container {cs.get('name')}"
            if waiting.get("reason"):
                detail = waiting.get("message")
                return f"container {cs.get('name')}: {waiting['reason']}" + (f": {detail}" if detail else "")
    if status.get("phase") == "Running":
        return "running and ready" if _pod_ready(pod) else "running, waiting for readiness"
    node = pod.get("spec", {}).get("nodeName")
    if node:
        return f"scheduled to node {node}, starting containers"
    return "waiting to be scheduled"


def pod_status(
    planned: PlannedObject, pod: Obj | None, created_before: bool
) -> tuple[PodStatus, Failure | None]:
    port = pod_port(planned.manifest)
    if pod is None:
        if created_before:
            msg = f"pod {planned.name} was deleted"
            return PodStatus(
                resource_name=planned.name, state="Deleted", error_message=msg, ready=False, port_number=port
            ), Failure("PodDeleted", msg)
        return PodStatus(
            resource_name=planned.name, state=EntryState.PENDING, ready=False, port_number=port
        ), None
    status = pod.get("status", {})
    ip = status.get("podIP")
    phase = status.get("phase", "Pending")
    ready = _pod_ready(pod)
    base = {
        "resource_name": planned.name,
        "pod_address": ip,
        "port_number": port,
        "ready": ready,
        "phase": phase,
        "message": pod_activity(pod),
        "node_name": pod.get("spec", {}).get("nodeName") or None,
    }
    if pod["metadata"].get("deletionTimestamp"):
        msg = f"pod {planned.name} is being deleted"
        return PodStatus(**base, state="Terminating", error_message=msg), Failure("PodDeleted", msg)
    if phase in ("Failed", "Succeeded"):
        summary = _terminated_summary(pod) or status.get("message") or f"pod {phase.lower()}"
        reason = "PodFailed" if phase == "Failed" else "PodCompleted"
        msg = f"pod {planned.name} {'failed' if phase == 'Failed' else 'completed'}: {summary}"
        return PodStatus(**base, state=phase, error_message=msg), Failure(reason, msg)
    problem = _container_problem(pod)
    if problem is not None:
        reason, message = problem
        msg = f"pod {planned.name}: {reason}: {message}"
        failure_reason = "ImagePullFailed" if "Image" in reason else "ContainerFailing"
        return PodStatus(**base, state=EntryState.ERROR, error_message=msg), Failure(failure_reason, msg)
    if phase == "Running":
        return PodStatus(**base, state=EntryState.RUNNING), None
    return PodStatus(**base, state=EntryState.PENDING), None


@dataclass
class StatusInput:
    plan: RenderPlan | None
    observed: Observed
    instance_generation: int
    now: str
    previous: InstanceStatus | None = None
    template_generation: int | None = None
    template_uid: str | None = None
    # A failure found before or while creating (template missing, render failed, create rejected ...).
    failure: Failure | None = None
    # Per entry name: a creation error message.
    entry_errors: Mapping[str, str] = field(default_factory=dict)
    # A provisioned instance compared with its template's current generation: the TemplateOutdated
    # condition (None: not compared, the condition is left as it is).
    template_drift: TemplateDrift | None = None
    # The instance outlived its template's maxLifetime: the Expired condition's message (its pods are
    # deleted and not created again).
    expired: str | None = None


@dataclass(frozen=True)
class TemplateDrift:
    """Whether the template changed since the instance's objects were rendered in a way that changes
    them (``outdated``), with the condition's reason and message."""

    outdated: bool
    reason: str
    message: str


def created_entries(previous: InstanceStatus | None) -> dict[str, str]:
    """entry -> resourceName of pods and other resources an earlier reconcile created."""
    out: dict[str, str] = {}
    if previous is None:
        return out
    for entries in (previous.pods or {}, previous.other_resources or {}):
        for entry, st in entries.items():
            if st.resource_name and st.state not in (
                None,
                EntryState.PENDING,
                EntryState.ERROR,
                EntryState.SKIPPED,
            ):
                out[entry] = st.resource_name
    return out


def compute_status(inp: StatusInput) -> InstanceStatus:
    prev = inp.previous or InstanceStatus()
    conditions: list[Condition] = list(prev.conditions or [])
    gen = inp.instance_generation
    failure = inp.failure
    pvc_states: dict[str, PvcStatus] = dict(prev.pvcs or {})
    pod_states: dict[str, PodStatus] = dict(prev.pods or {})
    other_states: dict[str, OtherResourceStatus] = dict(prev.other_resources or {})
    others_provisioned: dict[str, str] = dict(prev.other_resources_provisioned or {})
    status = InstanceStatus(
        pods=pod_states,
        pvcs=pvc_states,
        other_resources=other_states,
        other_resources_provisioned=others_provisioned,
        observed_generation=gen,
        template_generation=inp.template_generation
        if inp.template_generation is not None
        else prev.template_generation,
        template_uid=inp.template_uid or prev.template_uid,
    )
    provisioned = False
    ready = False
    address = None
    if inp.plan is not None:
        created = created_entries(inp.previous)
        pvcs_bound = True
        pvcs_exist = True
        for pvc in inp.plan.pvcs:
            obj = inp.observed.of(pvc)
            err = inp.entry_errors.get(pvc.entry)
            phase = obj.get("status", {}).get("phase", "Pending") if obj else None
            if obj is None:
                pvcs_exist = False
            if phase != "Bound":
                pvcs_bound = False
            pvc_states[pvc.entry] = PvcStatus(
                resource_name=pvc.name,
                state=EntryState.ERROR if err else (EntryState.PROCESSED if obj else EntryState.PENDING),
                error_message=err,
                phase=phase,
            )
        pods_exist = True
        all_ready = bool(inp.plan.pods)
        for pod in inp.plan.pods:
            obj = inp.observed.of(pod)
            st, pod_failure = pod_status(pod, obj, created.get(pod.entry) == pod.name)
            if obj is None and pod.name in inp.observed.stale:
                st = PodStatus(
                    resource_name=pod.name,
                    state=EntryState.PENDING,
                    ready=False,
                    port_number=st.port_number,
                    message=_waiting_for_stale(pod, inp.observed.stale[pod.name]),
                )
                pod_failure = None
            err = inp.entry_errors.get(pod.entry)
            if err:
                st = PodStatus(
                    resource_name=pod.name,
                    state=EntryState.ERROR,
                    error_message=err,
                    ready=False,
                    port_number=st.port_number,
                )
            pod_states[pod.entry] = st
            if obj is None and created.get(pod.entry) != pod.name:
                pods_exist = False
            if not st.ready:
                all_ready = False
            if failure is None and pod_failure is not None and inp.expired is None:
                failure = pod_failure  # (an expired instance's pods were deleted on purpose)
            if address is None and st.pod_address and st.port_number:
                address = f"{st.pod_address}:{st.port_number}"
        others_exist = True
        for other in inp.plan.others:
            obj = inp.observed.of(other)
            err = inp.entry_errors.get(other.entry)
            state = EntryState.ERROR if err else (EntryState.PROCESSED if obj else EntryState.PENDING)
            if obj is None and created.get(other.entry) == other.name:
                state = "Deleted"
            if obj is None and state != "Deleted":
                others_exist = False
            other_states[other.entry] = OtherResourceStatus(
                resource_name=other.name, state=state, error_message=err
            )
            others_provisioned[other.entry] = (
                ProvisioningState.FAILED
                if err
                else ProvisioningState.COMPLETED
                if state in (EntryState.PROCESSED, "Deleted")
                else ProvisioningState.PENDING
            )
        for skipped in inp.plan.skipped:
            if skipped.kind == "pvc":
                pvc_states[skipped.entry] = PvcStatus(resource_name=skipped.name, state=EntryState.SKIPPED)
            elif skipped.kind == "pod":
                pod_states[skipped.entry] = PodStatus(resource_name=skipped.name, state=EntryState.SKIPPED)
            else:
                other_states[skipped.entry] = OtherResourceStatus(
                    resource_name=skipped.name, state=EntryState.SKIPPED
                )
        status.pvcs_provisioned = (
            ProvisioningState.COMPLETED if pvcs_exist and pvcs_bound else ProvisioningState.PENDING
        )
        status.pods_provisioned = ProvisioningState.COMPLETED if pods_exist else ProvisioningState.PENDING
        provisioned = pvcs_exist and pods_exist and others_exist
        ready = provisioned and all_ready and failure is None and not inp.entry_errors
    if failure is not None or inp.entry_errors:
        if failure is None:
            entry, msg = next(iter(inp.entry_errors.items()))
            failure = Failure("CreateFailed", f"{entry}: {msg}")
        if inp.plan is None or any(
            inp.entry_errors.get(p.entry) for p in (inp.plan.pods if inp.plan else ())
        ):
            status.pods_provisioned = ProvisioningState.FAILED
        elif failure.reason in (
            "ImagePullFailed",
            "ContainerFailing",
            "PodFailed",
            "PodDeleted",
            "PodCompleted",
        ):
            status.pods_provisioned = status.pods_provisioned or ProvisioningState.PENDING
        if inp.plan is None:
            status.pvcs_provisioned = prev.pvcs_provisioned or ProvisioningState.PENDING
        conditions = set_condition(
            conditions,
            ConditionType.FAILED,
            "True",
            reason=failure.reason,
            message=failure.message,
            now=inp.now,
            observed_generation=gen,
        )
    else:
        conditions = set_condition(
            conditions,
            ConditionType.FAILED,
            "False",
            reason="NoFailure",
            message="no failure",
            now=inp.now,
            observed_generation=gen,
        )
    if provisioned:
        conditions = set_condition(
            conditions,
            ConditionType.PROVISIONED,
            "True",
            reason="Provisioned",
            message="all objects of the template exist",
            now=inp.now,
            observed_generation=gen,
        )
    else:
        reason = failure.reason if failure else "Provisioning"
        message = failure.message if failure else "creating the objects of the template"
        conditions = set_condition(
            conditions,
            ConditionType.PROVISIONED,
            "False",
            reason=reason,
            message=message,
            now=inp.now,
            observed_generation=gen,
        )
    if ready:
        conditions = set_condition(
            conditions,
            ConditionType.READY,
            "True",
            reason="PodsReady",
            message=f"ready at {address}" if address else "all pods are ready",
            now=inp.now,
            observed_generation=gen,
        )
    else:
        reason = failure.reason if failure else ("PodsNotReady" if provisioned else "Provisioning")
        message = (
            failure.message
            if failure
            else (
                "waiting for the pods to become ready"
                if provisioned
                else "creating the objects of the template"
            )
        )
        conditions = set_condition(
            conditions,
            ConditionType.READY,
            "False",
            reason=reason,
            message=message,
            now=inp.now,
            observed_generation=gen,
        )
    if inp.expired is not None:
        for type_ in (ConditionType.PROVISIONED, ConditionType.READY):
            conditions = set_condition(
                conditions,
                type_,
                "False",
                reason="Expired",
                message=inp.expired,
                now=inp.now,
                observed_generation=gen,
            )
        conditions = set_condition(
            conditions,
            ConditionType.EXPIRED,
            "True",
            reason="MaxLifetime",
            message=inp.expired,
            now=inp.now,
            observed_generation=gen,
        )
        address = None
    if inp.template_drift is not None:
        conditions = set_condition(
            conditions,
            ConditionType.TEMPLATE_OUTDATED,
            "True" if inp.template_drift.outdated else "False",
            reason=inp.template_drift.reason,
            message=inp.template_drift.message,
            now=inp.now,
            observed_generation=gen,
        )
    # pydantic copied the dicts when the model was built: store the filled-in ones.
    status.pods = pod_states
    status.pvcs = pvc_states
    status.other_resources = other_states
    status.other_resources_provisioned = others_provisioned
    status.conditions = conditions
    status.address = address
    return status


def status_patch(status: InstanceStatus) -> dict[str, Any]:
    """The status as a merge-patch body: the full status (maps keyed by entry are stable)."""
    return {"status": to_dict(status)}


def condition(status: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any] | None:
    for c in (status or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch that turns ``old`` into ``new`` (``None`` when they are equal).

    Keys that disappear become ``null`` so the server removes them; lists are replaced whole.
    """
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None if old == new else new
    patch: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            sub = merge_patch(old[key], value)
            patch[key] = value if sub is None and value is None else sub
    for key in old:
        if key not in new:
            patch[key] = None
    return patch or None
