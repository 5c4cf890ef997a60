"""The default scheduler's decision for one pod, with upstream's FailedScheduling wording.

Checked: the pod's PVCs (exist, not being deleted, Bound — or, for a WaitForFirstConsumer class, the
claim is handed to the provisioner with the ``volume.kubernetes.io/selected-node`` annotation), then for
each node its taints, ``unschedulable``, ``nodeSelector`` and required node affinity, and its capacity
(pods, cpu, memory, ephemeral-storage requests). Of the nodes that fit, the one with the fewest pods wins;
when none fits, the reasons are counted per node as kube-scheduler 1.34 words them, with what its
PostFilter plugins add (``0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. no new
claims to deallocate, preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod,
1 Preemption is not helpful for scheduling.``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kubesim.api import API, User, WriteOptions
from kubesim.errors import ApiError

Obj = dict[str, Any]

PVCS = ("", "persistentvolumeclaims")
STORAGECLASSES = ("storage.k8s.io", "storageclasses")


@dataclass
class Verdict:
    ok: bool
    message: str = ""
    claims: list[str] = field(default_factory=list)  # PVCs the pod waits for
    wait_silently: bool = False  # waiting for a WaitForFirstConsumer claim to be provisioned
    node: str = ""  # where to bind it, when ok


def _quantity(value: Any) -> Decimal:
    from kubesim.validation import parse_quantity

    try:
        return parse_quantity(str(value))
    except (ValueError, ArithmeticError):
        return Decimal(0)


def pod_requests(pod: Obj) -> dict[str, Decimal]:
    """Effective requests: max(any init container, sum of containers) per resource, plus overhead."""
    spec = pod.get("spec", {})
    total: dict[str, Decimal] = {}
    for c in spec.get("containers") or ():
        for k, v in ((c.get("resources") or {}).get("requests") or {}).items():
            total[k] = total.get(k, Decimal(0)) + _quantity(v)
    for c in spec.get("initContainers") or ():
        for k, v in ((c.get("resources") or {}).get("requests") or {}).items():
            total[k] = max(total.get(k, Decimal(0)), _quantity(v))
    for k, v in (spec.get("overhead") or {}).items():
        total[k] = total.get(k, Decimal(0)) + _quantity(v)
    return total


def _match_expression(expr: Obj, labels: dict[str, str]) -> bool:
    key, op, values = (
        expr.get("key", ""),
        expr.get("operator", ""),
        [str(v) for v in expr.get("values") or ()],
    )
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, ValueError, IndexError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def _node_matches(pod: Obj, node: Obj) -> bool:
    spec = pod.get("spec", {})
    labels = node.get("metadata", {}).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if terms:
        fields = {"metadata.name": node["metadata"]["name"]}
        ok = False
        for term in terms:
            exprs = term.get("matchExpressions") or []
            field_exprs = term.get("matchFields") or []
            if not exprs and not field_exprs:
                continue
            if all(_match_expression(e, labels) for e in exprs) and all(
                _match_expression(e, fields) for e in field_exprs
            ):
                ok = True
                break
        if not ok:
            return False
    return True


def _tolerated(taint: Obj, tolerations: list[Obj]) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and str(t.get("value", "")) == str(taint.get("value", "")):
            return True
    return False


class NodeUsage:
    """What the pods placed on each node request, kept up to date from pod events.

    The scheduler asks for it once per pod; recomputing it from every stored pod made scheduling N pods
    cost O(N^2) (10 000 pods: minutes), so it is maintained incrementally instead."""

    def __init__(self) -> None:
        self._pods: dict[tuple[str, str], tuple[str, dict[str, Decimal]]] = {}
        self._count: dict[str, int] = {}
        self._requested: dict[str, dict[str, Decimal]] = {}

    def observe(self, pod: Obj, deleted: bool = False) -> None:
        meta = pod["metadata"]
        ident = (meta.get("namespace", ""), meta["name"])
        node = pod.get("spec", {}).get("nodeName")
        placed = (
            not deleted and bool(node) and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        )
        previous = self._pods.get(ident)
        if previous is not None and (not placed or previous[0] != node):
            self._take(ident, previous)
            previous = None
        if placed and previous is None:
            assert node is not None
            requests = pod_requests(pod)
            self._pods[ident] = (node, requests)
            self._count[node] = self._count.get(node, 0) + 1
            totals = self._requested.setdefault(node, {})
            for k, v in requests.items():
                totals[k] = totals.get(k, Decimal(0)) + v

    def _take(self, ident: tuple[str, str], entry: tuple[str, dict[str, Decimal]]) -> None:
        node, requests = entry
        del self._pods[ident]
        self._count[node] -= 1
        totals = self._requested.setdefault(node, {})
        for k, v in requests.items():
            totals[k] = totals.get(k, Decimal(0)) - v

    def count(self, node: str) -> int:
        return self._count.get(node, 0)

    def requested(self, node: str) -> dict[str, Decimal]:
        return dict(self._requested.get(node, {}))


# kube-scheduler 1.34's PostFilter plugins answer after a failed cycle: dynamic resources first ("no new
# claims to deallocate"; "not found" when its PreFilter never ran, an error that ends the PostFilter
# phase), then preemption, which counts per node whether evicting pods could help.
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


def _histogram(reasons: dict[str, int]) -> str:
    """``1 Insufficient cpu, 2 Too many pods``: counts and reasons, sorted as upstream sorts the strings."""
    return ", ".join(sorted(f"{n} {reason}" for reason, n in reasons.items()))


def _prefilter_fail(nodes: int, reason: str, claims: list[str]) -> Verdict:
    """A PreFilter plugin (volume binding) rejected the pod before any node was looked at."""
    return Verdict(False, f"0/{nodes} nodes are available: {reason}. not found", claims)


def node_reasons(pod: Obj, node: Obj, usage: NodeUsage) -> tuple[list[str], bool]:
    """Why ``pod`` does not fit ``node`` (empty: it fits), and whether that is resolvable by preemption
    (upstream's Unschedulable, as opposed to UnschedulableAndUnresolvable): only a shortage of resources
    the pod alone does not exceed is."""
    spec = pod.get("spec", {})
    taints = node.get("spec", {}).get("taints") or []
    tolerations = spec.get("tolerations") or []
    for taint in taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(taint, tolerations):
            return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"], False
    if node.get("spec", {}).get("unschedulable"):
        return ["node(s) were unschedulable"], False
    if not _node_matches(pod, node):
        return ["node(s) didn't match Pod's node affinity/selector"], False
    allocatable = node.get("status", {}).get("allocatable") or {}
    node_name = node["metadata"]["name"]
    reasons: list[str] = []
    resolvable = True
    if "pods" in allocatable:
        allowed = int(_quantity(allocatable["pods"]))
        if usage.count(node_name) + 1 > allowed:
            reasons.append("Too many pods")
            resolvable = resolvable and allowed >= 1
    wanted = pod_requests(pod)
    if any(wanted.values()):
        used = usage.requested(node_name)
        for k, v in sorted(wanted.items()):
            if v > 0 and k in allocatable and used.get(k, Decimal(0)) + v > _quantity(allocatable[k]):
                reasons.append(f"Insufficient {k}")
                resolvable = resolvable and v <= _quantity(allocatable[k])
    return reasons, bool(reasons) and resolvable


def check(api: API, pod: Obj, nodes: list[Obj], usage: NodeUsage) -> Verdict:
    ns = pod["metadata"].get("namespace", "")
    spec = pod.get("spec", {})
    count = len(nodes)
    claims = [
        str(v["persistentVolumeClaim"].get("claimName", ""))
        for v in spec.get("volumes") or ()
        if v.get("persistentVolumeClaim") is not None
    ]
    waiting_for_first_consumer: list[Obj] = []
    for claim in claims:
        pvc = api.store.get(PVCS, ns, claim)
        if pvc is None:
            return _prefilter_fail(count, f'persistentvolumeclaim "{claim}" not found', claims)
        if pvc["metadata"].get("deletionTimestamp"):
            return _prefilter_fail(count, f'persistentvolumeclaim "{claim}" is being deleted', claims)
        if pvc.get("status", {}).get("phase") == "Bound":
            continue
        sc = api.store.get(STORAGECLASSES, "", pvc.get("spec", {}).get("storageClassName") or "")
        if sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer" and nodes:
            waiting_for_first_consumer.append(pvc)
            continue
        return _prefilter_fail(count, "pod has unbound immediate PersistentVolumeClaims", claims)
    if not nodes:
        return Verdict(False, "no nodes available to schedule pods", claims)
    tally: dict[str, int] = {}
    preemption: dict[str, int] = {}
    fitting: list[Obj] = []
    for node in nodes:
        reasons, resolvable = node_reasons(pod, node, usage)
        if not reasons:
            fitting.append(node)
            continue
        for reason in reasons:
            tally[reason] = tally.get(reason, 0) + 1
        # Pods are not preempted here (no priorities): where eviction could help, there is no victim.
        verdict = NO_VICTIMS if resolvable else NOT_HELPFUL
        preemption[verdict] = preemption.get(verdict, 0) + 1
    if not fitting:
        message = (
            f"0/{count} nodes are available: {_histogram(tally)}. no new claims to deallocate, "
            f"preemption: 0/{count} nodes are available: {_histogram(preemption)}."
        )
        return Verdict(False, message, claims)
    chosen = min(fitting, key=lambda n: (usage.count(n["metadata"]["name"]), n["metadata"]["name"]))
    if waiting_for_first_consumer:
        for pvc in waiting_for_first_consumer:
            _select_node(api, pvc, chosen["metadata"]["name"])
        return Verdict(False, "", claims, wait_silently=True)
    return Verdict(True, claims=claims, node=chosen["metadata"]["name"])


def _select_node(api: API, pvc: Obj, node: str) -> None:
    annotations = pvc["metadata"].get("annotations") or {}
    if annotations.get("volume.kubernetes.io/selected-node") == node:
        return
    rt = api.registry.get("", "v1", "persistentvolumeclaims")
    if rt is None:
        return
    new = copy.deepcopy(pvc)
    new["metadata"].setdefault("annotations", {})["volume.kubernetes.io/selected-node"] = node
    try:
        api.update(
            rt,
            pvc["metadata"].get("namespace", ""),
            pvc["metadata"]["name"],
            new,
            WriteOptions(
                user=User("system:kube-scheduler", ("system:authenticated",)), field_manager="kube-scheduler"
            ),
        )
    except ApiError:
        pass
