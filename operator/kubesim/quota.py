"""What ResourceQuota counts: the quota evaluators of kube-apiserver and kube-controller-manager.

Pure functions over objects (dicts), shared by the quota admission check and the quota controller
(``kubesim.controllers.quota``). Upstream counterparts: ``k8s.io/apiserver/pkg/quota/v1/generic`` (object
counts, ``count/<resource>[.<group>]``), ``pkg/quota/v1/evaluator/core`` (pods, services, PVCs and the legacy
names ``configmaps``, ``secrets``, ``resourcequotas``, ``replicationcontrollers``) and
``k8s.io/apimachinery/pkg/api/resource`` (how a quantity is printed).

Every quota resource name belongs to exactly one stored collection (``requests.cpu`` to pods,
``requests.storage`` to PVCs, ``count/widgets.example.com`` to widgets), so a quota is indexed by
collection: :func:`collection_of` says which.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from kubesim.errors import Cause
from kubesim.validation import QuantityError, parse_quantity

Obj = dict[str, Any]
Key = tuple[str, str]  # (group, plural)

PODS: Key = ("", "pods")
SERVICES: Key = ("", "services")
PVCS: Key = ("", "persistentvolumeclaims")
QUOTAS: Key = ("", "resourcequotas")

# Upstream's DefaultIgnoredResources (pkg/quota/v1/install): never counted, never refused.
IGNORED: frozenset[Key] = frozenset(
    {
        ("", "events"),
        ("events.k8s.io", "events"),
        ("", "bindings"),
        ("", "componentstatuses"),
        ("authentication.k8s.io", "tokenreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
    }
)

# ---------------------------------------------------------------------------------------------------------
# Quantities as resource.Quantity prints them
# ---------------------------------------------------------------------------------------------------------

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_SPLIT = re.compile(r"^\s*[+-]?[0-9.]+([eEinumkKMGTP]*[-+]?[0-9]*)\s*$")
_BINARY = frozenset({"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"})
_DECIMAL_SUFFIX = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIX = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
_NANO = Decimal("1e-9")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value and the format it prints in (``resource.Quantity``'s ``Format``)."""

    value: Decimal
    format: str = DECIMAL_SI

    @classmethod
    def parse(cls, raw: Any) -> Quantity:
        """``resource.ParseQuantity``: the format comes from the suffix (``Ki``.. binary, ``e3`` exponent,
        anything else decimal); values finer than a nano-unit are rounded up, as upstream."""
        value = parse_quantity(raw)
        fmt = DECIMAL_SI
        if isinstance(raw, str):
            m = _SPLIT.match(raw)
            suffix = m.group(1) if m else ""
            if suffix in _BINARY:
                fmt = BINARY_SI
            elif len(suffix) > 1 and suffix[0] in "eE":
                fmt = DECIMAL_EXPONENT
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -9:
            value = value.quantize(_NANO, rounding=ROUND_CEILING)
        return cls(value, fmt)

    def __add__(self, other: Quantity) -> Quantity:
        # Quantity.Add: a zero quantity takes the other's format.
        return Quantity(self.value + other.value, self.format if self.value else other.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format if self.value else other.format)

    def __str__(self) -> str:
        return canonical(self.value, self.format)


ZERO = Quantity(Decimal(0))
ONE = Quantity(Decimal(1))


def canonical(value: Decimal, fmt: str = DECIMAL_SI) -> str:
    """``Quantity.String()`` (CanonicalizeBytes): ``0.5`` -> ``500m``, ``1.5`` -> ``1500m``, ``2000`` ->
    ``2k``, 1.5Gi in BinarySI -> ``1536Mi``; binary values under 1024 or not whole print as DecimalSI."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 < value < 1024 or value != value.to_integral_value():
            fmt = DECIMAL_SI
        else:
            number, exponent = int(value), 0
            while exponent < 6 and number % 1024 == 0:
                number //= 1024
                exponent += 1
            return f"{number}{_BINARY_SUFFIX[exponent]}"
    sign, digits, exp = value.normalize().as_tuple()
    assert isinstance(exp, int)
    mantissa = int("".join(map(str, digits)))
    shift = exp % 3  # bring the exponent down to a multiple of 3 (AsCanonicalBytes)
    mantissa *= 10**shift
    exp -= shift
    text = f"{'-' if sign else ''}{mantissa}"
    if fmt == DECIMAL_SI and exp in _DECIMAL_SUFFIX:
        return text + _DECIMAL_SUFFIX[exp]
    return text if exp == 0 else f"{text}e{exp}"


def _qty(raw: Any) -> Quantity | None:
    if isinstance(raw, str | int) and not isinstance(raw, bool):
        return _parsed(raw)
    try:
        return Quantity.parse(raw)
    except (QuantityError, TypeError, AttributeError, ArithmeticError):
        return None


@functools.lru_cache(maxsize=4096)
def _parsed(raw: str | int) -> Quantity | None:
    """Quantities are immutable, and the same few strings ("500m", "1Gi") recur in every pod."""
    try:
        return Quantity.parse(raw)
    except (QuantityError, TypeError, AttributeError, ArithmeticError):
        return None


def _resource_list(raw: Any) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            q = _qty(value)
            if q is not None:
                out[str(name)] = q
    return out


def _add_into(total: dict[str, Quantity], more: dict[str, Quantity]) -> None:
    for name, q in more.items():
        total[name] = total[name] + q if name in total else q


def _max_into(total: dict[str, Quantity], more: dict[str, Quantity]) -> None:
    for name, q in more.items():
        if name not in total or q.value > total[name].value:
            total[name] = q


def pretty(resources: dict[str, Quantity]) -> str:
    """The admission plugin's ``prettyPrint``: ``name=value`` sorted by name, joined by commas."""
    return ",".join(f"{name}={resources[name]}" for name in sorted(resources))


# ---------------------------------------------------------------------------------------------------------
# Which collection a quota resource name counts
# ---------------------------------------------------------------------------------------------------------

_POD_NAMES = frozenset(
    {
        "count/pods",
        "pods",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    }
)
_POD_PREFIXES = ("hugepages-", "requests.hugepages-")
_SERVICE_NAMES = frozenset({"count/services", "services", "services.loadbalancers", "services.nodeports"})
_PVC_NAMES = frozenset({"count/persistentvolumeclaims", "persistentvolumeclaims", "requests.storage"})
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
_LEGACY_COUNTS: dict[str, Key] = {
    "configmaps": ("", "configmaps"),
    "secrets": ("", "secrets"),
    "resourcequotas": ("", "resourcequotas"),
    "replicationcontrollers": ("", "replicationcontrollers"),
}
_LEGACY_ALIAS = {key: name for name, key in _LEGACY_COUNTS.items()}


def _is_native(name: str) -> bool:
    """``helper.IsNativeResource``: no domain, or a ``kubernetes.io/`` one."""
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    """``helper.IsExtendedResourceName`` (a domain-qualified name outside kubernetes.io)."""
    return not _is_native(name) and not name.startswith("requests.")


def object_count_name(key: Key) -> str:
    """``generic.ObjectCountQuotaResourceNameFor``: ``count/pods``, ``count/deployments.apps``."""
    group, plural = key
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def collection_of(name: str) -> Key | None:
    """The collection whose objects a quota resource name counts, or None for a name nothing counts."""
    if name in _POD_NAMES or name.startswith(_POD_PREFIXES):
        return PODS
    if name.startswith("requests.") and not _is_native(name):
        return PODS  # extended resources: requests.example.com/gpu
    if name in _SERVICE_NAMES:
        return SERVICES
    if name in _PVC_NAMES or (
        STORAGE_CLASS_SUFFIX in name
        and name.endswith(
            (STORAGE_CLASS_SUFFIX + "requests.storage", STORAGE_CLASS_SUFFIX + "persistentvolumeclaims")
        )
    ):
        return PVCS
    if name in _LEGACY_COUNTS:
        return _LEGACY_COUNTS[name]
    if name.startswith("count/") and len(name) > len("count/"):
        plural, _, group = name[len("count/") :].partition(".")
        key = (group, plural)
        return None if key in IGNORED else key
    return None


# ---------------------------------------------------------------------------------------------------------
# Scopes
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScopeSelector:
    scope: str
    operator: str = "Exists"
    values: tuple[str, ...] = ()


def scope_selectors(quota: Obj) -> list[ScopeSelector]:
    """``spec.scopes`` (each as Exists) followed by ``spec.scopeSelector.matchExpressions``."""
    spec = quota.get("spec") or {}
    out = [ScopeSelector(str(s)) for s in spec.get("scopes") or () if isinstance(s, str)]
    for expr in (spec.get("scopeSelector") or {}).get("matchExpressions") or ():
        if isinstance(expr, dict):
            out.append(
                ScopeSelector(
                    str(expr.get("scopeName", "")),
                    str(expr.get("operator", "")),
                    tuple(str(v) for v in expr.get("values") or ()),
                )
            )
    return out


def _selector_matches(sel: ScopeSelector, labels: dict[str, str]) -> bool:
    """A scope selector as a label selector over ``{scopeName: value}`` (empty when the object has none)."""
    if sel.operator == "In":
        return sel.scope in labels and labels[sel.scope] in sel.values
    if sel.operator == "NotIn":
        return sel.scope not in labels or labels[sel.scope] not in sel.values
    if sel.operator == "Exists":
        return sel.scope in labels
    if sel.operator == "DoesNotExist":
        return sel.scope not in labels
    return False


def _pod_terminating(spec: Obj) -> bool:
    deadline = spec.get("activeDeadlineSeconds")
    return isinstance(deadline, int) and not isinstance(deadline, bool) and deadline >= 0


def _cross_namespace_affinity(spec: Obj) -> bool:
    affinity = spec.get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        section = affinity.get(kind) or {}
        terms = list(section.get("requiredDuringSchedulingIgnoredDuringExecution") or ())
        terms += [
            (w or {}).get("podAffinityTerm") or {}
            for w in section.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        ]
        if any(
            isinstance(t, dict) and (t.get("namespaces") or t.get("namespaceSelector") is not None)
            for t in terms
        ):
            return True
    return False


def _pod_scope(sel: ScopeSelector, pod: Obj) -> bool:
    """``podMatchesScopeFunc``."""
    spec = pod.get("spec") or {}
    if sel.scope == "Terminating":
        return _pod_terminating(spec)
    if sel.scope == "NotTerminating":
        return not _pod_terminating(spec)
    if sel.scope == "BestEffort":
        return _best_effort(spec)
    if sel.scope == "NotBestEffort":
        return not _best_effort(spec)
    if sel.scope == "PriorityClass":
        name = spec.get("priorityClassName") or ""
        if sel.operator == "Exists":
            return bool(name)
        return _selector_matches(sel, {"PriorityClass": name} if name else {})
    if sel.scope == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(spec)
    return False


def _pvc_scope(sel: ScopeSelector, pvc: Obj) -> bool:
    """``pvcMatchesScopeFunc``: VolumeAttributesClass, from spec, status and a pending modification."""
    if sel.scope != "VolumeAttributesClass":
        return False
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    names = {
        n
        for n in (
            spec.get("volumeAttributesClassName"),
            status.get("currentVolumeAttributesClassName"),
            (status.get("modifyVolumeStatus") or {}).get("targetVolumeAttributesClassName"),
        )
        if isinstance(n, str) and n
    }
    if sel.operator == "Exists":
        return bool(names)
    if not names:
        return _selector_matches(sel, {})
    return any(_selector_matches(sel, {"VolumeAttributesClass": n}) for n in names)


def scopes_match(key: Key, selectors: list[ScopeSelector], obj: Obj) -> bool:
    """Whether an object of the collection is selected by all of a quota's scopes (no scope: always).
    Only pods and PVCs have scopes; a scoped quota selects nothing else (``MatchesNoScopeFunc``)."""
    if not selectors:
        return True
    if key == PODS:
        return all(_pod_scope(s, obj) for s in selectors)
    if key == PVCS:
        return all(_pvc_scope(s, obj) for s in selectors)
    return False


# ---------------------------------------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------------------------------------


def _container_resources(c: Any) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    res = (c.get("resources") or {}) if isinstance(c, dict) else {}
    return _resource_list(res.get("requests")), _resource_list(res.get("limits"))


def _best_effort(spec: Obj) -> bool:
    """``qos.GetPodQOS(pod) == BestEffort``: no container (init included) requests or limits cpu/memory."""
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            req, lim = _container_resources(c)
            if any(n in req or n in lim for n in ("cpu", "memory")):
                return False
    return True


def _aggregate(spec: Obj, which: int) -> dict[str, Quantity]:
    """``AggregateContainerRequests``/``Limits``: the sum over containers, against the largest init container
    (restartable "sidecar" init containers add to the sum and to every later init container)."""
    total: dict[str, Quantity] = {}
    for c in spec.get("containers") or ():
        _add_into(total, _container_resources(c)[which])
    sidecars: dict[str, Quantity] = {}
    init_max: dict[str, Quantity] = {}
    for c in spec.get("initContainers") or ():
        own = _container_resources(c)[which]
        if isinstance(c, dict) and c.get("restartPolicy") == "Always":
            _add_into(total, own)
            _add_into(sidecars, own)
            current = dict(sidecars)
        else:
            current = dict(own)
            _add_into(current, sidecars)
        _max_into(init_max, current)
    _max_into(total, init_max)
    return total


def pod_requests(pod: Obj) -> dict[str, Quantity]:
    """``resourcehelper.PodRequests``: aggregated container requests plus ``spec.overhead``."""
    spec = pod.get("spec") or {}
    total = _aggregate(spec, 0)
    _add_into(total, _resource_list(spec.get("overhead")))
    return total


def pod_limits(pod: Obj) -> dict[str, Quantity]:
    """``resourcehelper.PodLimits``: aggregated container limits, overhead added to the limits set."""
    spec = pod.get("spec") or {}
    total = _aggregate(spec, 1)
    for name, q in _resource_list(spec.get("overhead")).items():
        if name in total:
            total[name] = total[name] + q
    return total


def _compute_usage(requests: dict[str, Quantity], limits: dict[str, Quantity]) -> dict[str, Quantity]:
    """``podComputeUsageHelper``."""
    out: dict[str, Quantity] = {"pods": ONE}
    for res in ("cpu", "memory", "ephemeral-storage"):
        if res in requests:
            out[res] = out[f"requests.{res}"] = requests[res]
        if res in limits:
            out[f"limits.{res}"] = limits[res]
    for name, q in requests.items():
        if name.startswith("hugepages-"):
            out[name] = out[f"requests.{name}"] = q
        if _is_extended(name):
            out[f"requests.{name}"] = q
    return out


def pod_counts(pod: Obj) -> bool:
    """``QuotaV1Pod``: a pod in a terminal phase (Succeeded, Failed) no longer counts against compute quota
    nor ``pods`` (``count/pods`` counts every stored pod)."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _pod_usage(pod: Obj) -> dict[str, Quantity]:
    out = {"count/pods": ONE}
    if pod_counts(pod):
        out.update(_compute_usage(pod_requests(pod), pod_limits(pod)))
    return out


def _service_usage(svc: Obj) -> dict[str, Quantity]:
    spec = svc.get("spec") or {}
    ports = [p for p in spec.get("ports") or () if isinstance(p, dict)]
    out = {"count/services": ONE, "services": ONE, "services.loadbalancers": ZERO, "services.nodeports": ZERO}
    kind = spec.get("type")
    if kind == "NodePort":
        out["services.nodeports"] = Quantity(Decimal(len(ports)))
    elif kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is False:
            out["services.nodeports"] = Quantity(Decimal(sum(1 for p in ports if p.get("nodePort"))))
        else:
            out["services.nodeports"] = Quantity(Decimal(len(ports)))
        out["services.loadbalancers"] = ONE
    return out


def _round_up(q: Quantity) -> Quantity:
    whole = q.value.to_integral_value(rounding=ROUND_CEILING)
    return q if whole == q.value else Quantity(whole, q.format)


def pvc_storage_class(pvc: Obj) -> str:
    """``GetPersistentVolumeClaimClass``: the beta annotation first, then ``spec.storageClassName``."""
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    beta = annotations.get("volume.beta.kubernetes.io/storage-class")
    if isinstance(beta, str) and beta:
        return beta
    name = (pvc.get("spec") or {}).get("storageClassName")
    return name if isinstance(name, str) else ""


def _pvc_usage(pvc: Obj) -> dict[str, Quantity]:
    out = {"persistentvolumeclaims": ONE, "count/persistentvolumeclaims": ONE}
    cls = pvc_storage_class(pvc)
    if cls:
        out[cls + STORAGE_CLASS_SUFFIX + "persistentvolumeclaims"] = ONE
    requested = _resource_list(((pvc.get("spec") or {}).get("resources") or {}).get("requests")).get(
        "storage"
    )
    storage = _round_up(requested) if requested is not None else None
    allocated = _resource_list((pvc.get("status") or {}).get("allocatedResources")).get("storage")
    if storage is not None and allocated is not None and allocated.value > storage.value:
        storage = _round_up(allocated)
    if storage is not None:
        out["requests.storage"] = storage
        if cls:
            out[cls + STORAGE_CLASS_SUFFIX + "requests.storage"] = storage
    return out


def usage(key: Key, obj: Obj) -> dict[str, Quantity]:
    """What one object of the collection uses, for every quota resource name that counts it."""
    if key == PODS:
        return _pod_usage(obj)
    if key == SERVICES:
        return _service_usage(obj)
    if key == PVCS:
        return _pvc_usage(obj)
    out = {object_count_name(key): ONE}
    alias = _LEGACY_ALIAS.get(key)
    if alias:
        out[alias] = ONE
    return out


def checked_on_update(key: Key) -> bool:
    """Whether the admission check runs on updates too (services change type, PVCs grow); for pods and
    plain object counts only creation is checked (upstream evaluators' ``Handles``)."""
    return key in (SERVICES, PVCS)


# The resources a quota on cpu or memory makes mandatory in every container: "it was a mistake, but if a
# quota tracks cpu or memory related resources, the incoming pod is required to have those values set".
_MUST_SPECIFY = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})


def constraints(key: Key, names: set[str] | frozenset[str], obj: Obj) -> str:
    """``podEvaluator.Constraints``: ``must specify limits.cpu for: a,b; requests.memory for: b``, or ""."""
    if key != PODS:
        return ""
    required = _MUST_SPECIFY & names
    if not required:
        return ""
    spec = obj.get("spec") or {}
    missing: dict[str, set[str]] = {}
    for kind in ("containers", "initContainers"):
        for c in spec.get(kind) or ():
            if not isinstance(c, dict):
                continue
            have = _compute_usage(*_container_resources(c))
            for name in required - set(have):
                missing.setdefault(name, set()).add(str(c.get("name", "")))
    if not missing:
        return ""
    return "must specify " + "; ".join(
        f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)
    )


# ---------------------------------------------------------------------------------------------------------
# Validation of ResourceQuota objects (ValidateResourceQuotaSpec)
# ---------------------------------------------------------------------------------------------------------

_STANDARD_RESOURCES = frozenset(
    {
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "storage",
        "requests.storage",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_STANDARD_QUOTA_RESOURCES = _STANDARD_RESOURCES - {"storage"}
_INTEGER_RESOURCES = frozenset(
    {
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "services.nodeports",
        "services.loadbalancers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
    }
)
_POD_COUNT = frozenset({"pods"})
_POD_COMPUTE = frozenset({"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"})
_PVC_RESOURCES = frozenset({"persistentvolumeclaims", "requests.storage"})
_SCOPES = (
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
    "VolumeAttributesClass",
)
_CONFLICTING_SCOPES = (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating"))


def _hugepages(name: str) -> bool:
    return name.startswith(("hugepages-", "requests.hugepages-", "limits.hugepages-"))


def _scope_valid_for(scope: str, resource: str) -> bool:
    """``helper.IsResourceQuotaScopeValidForResource``."""
    if scope == "BestEffort":
        return resource in _POD_COUNT
    if scope == "VolumeAttributesClass":
        return resource in _PVC_RESOURCES
    if scope in (
        "Terminating",
        "NotTerminating",
        "NotBestEffort",
        "PriorityClass",
        "CrossNamespacePodAffinity",
    ):
        return resource in _POD_COUNT or resource in _POD_COMPUTE
    return True


def validate_resource_quota(obj: Obj) -> list[Cause]:
    """Causes of a 422 for a ResourceQuota's spec, worded and ordered as ``ValidateResourceQuotaSpec``
    (resource names and values of ``spec.hard``, by name; then ``spec.scopes``). ``scopeSelector`` is not
    checked."""
    from kubesim.validation import err_invalid, is_qualified_name

    out: list[Cause] = []
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    hard = spec.get("hard")
    hard = hard if isinstance(hard, dict) else {}
    for name in sorted(hard, key=str):
        path = f"spec.hard[{name}]"
        name_errors = [err_invalid(path, name, msg) for msg in is_qualified_name(str(name))]
        if not name_errors and "/" not in name and name not in _STANDARD_RESOURCES and not _hugepages(name):
            name_errors.append(err_invalid(path, name, "must be a standard resource type or fully qualified"))
        if "/" not in name and name not in _STANDARD_QUOTA_RESOURCES and not _hugepages(name):
            name_errors.append(err_invalid(path, name, "must be a standard resource for quota"))
        out.extend(name_errors)
        q = _qty(hard[name])
        if q is None:
            continue  # not a quantity: a decoding error, reported before validation
        if q.value < 0:
            out.append(err_invalid(path, str(q), "must be greater than or equal to 0"))
        integer = name in _INTEGER_RESOURCES or (not _is_native(name) and not name.startswith("requests."))
        if integer and q.value != q.value.to_integral_value():
            out.append(err_invalid(path, str(q), "must be an integer"))
    scopes = spec.get("scopes")
    if isinstance(scopes, list) and scopes:
        standard = sorted(n for n in hard if n in _STANDARD_QUOTA_RESOURCES or _hugepages(n))
        for scope in scopes:
            if scope not in _SCOPES:
                out.append(err_invalid("spec.scopes", scopes, "unsupported scope"))
            for name in standard:
                if not _scope_valid_for(str(scope), name):
                    out.append(err_invalid("spec.scopes", scopes, "unsupported scope applied to resource"))
        for pair in _CONFLICTING_SCOPES:
            if all(s in scopes for s in pair):
                out.append(err_invalid("spec.scopes", scopes, "conflicting scopes"))
    return out
