"""Telling when kube-scheduler's verdict on one of our pods is out of date.

kube-scheduler tries a pod as soon as it is created; the operator creates a server's PVCs and then its pod
back to back, so the first attempts often find an Immediate claim not yet bound ("pod has unbound immediate
PersistentVolumeClaims") and park the pod until an event about its claims or volumes moves it back. That
event is sometimes lost: the pod then waits for the scheduler's periodic flush of unschedulable pods, five
minutes, although its claims are bound (seen on upstream v1.34 in this project's e2e tests and in its
sequential provisioning benchmark; cf. kubernetes/kubernetes#125762, open). JupyterHub gives up on a spawn
after its ``start_timeout`` (60 s by default), so the user sees a failed start.

Nothing in the scheduler's API can requeue one pod. The pod's only state is its spec (it never ran), so the
operator creates it again: a new pod is tried at once, with the claims bound. This module says when: pure
functions over the pod and claims as the watch caches hold them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jupyternetes.core.rendering import rendered_pvc_refs

Obj = Mapping[str, Any]

# What kube-scheduler's VolumeBinding (and VolumeRestrictions) write when the claims are the reason.
_CLAIM_VERDICT = re.compile(
    r'unbound immediate PersistentVolumeClaims|persistentvolumeclaim "[^"]+" not found'
)


def stale_claim_verdict(pod: Obj | None, claims: Mapping[str, Obj | None]) -> str | None:
    """The scheduler's message on ``pod`` when it is out of date: the pod is not scheduled, its last verdict
    blames its claims (unbound, or not found), and every claim it mounts is now Bound in ``claims`` (by
    name, as the caches hold them). None otherwise, including while any claim is still Pending (an
    Immediate claim being provisioned, or a WaitForFirstConsumer claim, which binds only after scheduling)."""
    if pod is None:
        return None
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if meta.get("deletionTimestamp") or spec.get("nodeName"):
        return None
    conditions = (pod.get("status") or {}).get("conditions") or ()
    verdict = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
    if verdict is None or verdict.get("status") != "False" or verdict.get("reason") != "Unschedulable":
        return None
    message = str(verdict.get("message") or "")
    if not _CLAIM_VERDICT.search(message):
        return None
    names = rendered_pvc_refs(pod)
    if not names:
        return None
    for name in names:
        claim = claims.get(name)
        if claim is None or (claim.get("metadata") or {}).get("deletionTimestamp"):
            return None
        if (claim.get("status") or {}).get("phase") != "Bound":
            return None
    return message
