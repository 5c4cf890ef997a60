"""The resource types kubesim serves: the built-in table and the ones CustomResourceDefinitions add.

Discovery, routing, RBAC and the OpenAPI documents all read this registry, so a CRD that becomes
Established is served everywhere at once, as on a real API server.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # Subresources beyond the main endpoint: "status", "scale", "log", "token", "binding", "eviction".
    subresources: tuple[str, ...] = ()
    # Custom resources: the CRD's printer columns and schema for this version.
    printer_columns: tuple[dict[str, Any], ...] = ()
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    crd_name: str = ""
    scale_paths: dict[str, str] | None = field(default=None, compare=False, hash=False)
    # Versions of the same stored resource (a CRD may serve several; objects are shared between them).
    storage_version: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """The storage key: one collection per group and plural, whatever the version."""
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def is_custom(self) -> bool:
        return bool(self.crd_name)

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    def path_prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"


def _rt(group: str, version: str, kind: str, plural: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    return ResourceType(group=group, version=version, kind=kind, plural=plural, namespaced=namespaced, **kw)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _rt(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        short_names=("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=("status", "finalize"),
    ),
    _rt(
        "",
        "v1",
        "Pod",
        "pods",
        short_names=("po",),
        categories=("all",),
        subresources=("status", "log", "binding", "eviction", "ephemeralcontainers"),
    ),
    _rt(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        short_names=("pvc",),
        subresources=("status",),
    ),
    _rt(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        False,
        short_names=("pv",),
        subresources=("status",),
    ),
    _rt(
        "",
        "v1",
        "Service",
        "services",
        short_names=("svc",),
        categories=("all",),
        subresources=("status",),
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
    ),
    _rt("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    _rt("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _rt("", "v1", "Secret", "secrets"),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",), subresources=("token",)),
    _rt("", "v1", "Event", "events", short_names=("ev",)),
    _rt("", "v1", "Node", "nodes", False, short_names=("no",), subresources=("status",)),
    _rt("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    _rt("", "v1", "PodTemplate", "podtemplates"),
    _rt("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",), subresources=("status",)),
    _rt("events.k8s.io", "v1", "Event", "events", short_names=("ev",)),
    _rt(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short_names=("deploy",),
        categories=("all",),
        subresources=("status", "scale"),
    ),
    _rt(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short_names=("sts",),
        categories=("all",),
        subresources=("status", "scale"),
    ),
    _rt(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        categories=("all",),
        subresources=("status", "scale"),
    ),
    _rt(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        short_names=("ds",),
        categories=("all",),
        subresources=("status",),
    ),
    _rt("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _rt(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        verbs=("create",),
    ),
    _rt(
        "authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False, verbs=("create",)
    ),
    _rt(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        False,
        verbs=("create",),
    ),
    _rt(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        True,
        verbs=("create",),
    ),
    _rt("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False, verbs=("create",)),
    _rt("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=("create",)),
    _rt("coordination.k8s.io", "v1", "Lease", "leases"),
    _rt("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, short_names=("sc",)),
    _rt("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",)),
    _rt("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",), subresources=("status",)),
    _rt(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short_names=("pdb",),
        subresources=("status",),
    ),
    _rt("batch", "v1", "Job", "jobs", categories=("all",), subresources=("status",)),
    _rt(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        short_names=("cj",),
        categories=("all",),
        subresources=("status",),
    ),
    _rt("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, short_names=("pc",)),
    _rt("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _rt("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _rt(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
    ),
    _rt(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
    ),
    _rt(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=("status",),
    ),
)

# Kinds whose "create" is a review: nothing is stored, the response is computed.
REVIEW_KINDS = frozenset(
    {
        "SelfSubjectAccessReview",
        "SubjectAccessReview",
        "SelfSubjectRulesReview",
        "LocalSubjectAccessReview",
        "SelfSubjectReview",
        "TokenReview",
    }
)


_KUBE_VERSION = re.compile(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key of upstream's version priority: GA before beta before alpha, higher numbers first, then
    versions that do not look like Kubernetes versions, alphabetically (``v2 > v1 > v1beta2 > v1alpha1``)."""
    m = _KUBE_VERSION.match(version)
    if m is None:
        return (3, 0, 0, version)
    stability = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stability, -int(m.group(1)), -int(m.group(3) or 0), version)


def _group_sort_key(group: str) -> tuple[int, str]:
    # The real server lists the legacy-like built-in groups first, then extensions in registration order;
    # clients only need a stable order, and preferring built-ins first keeps short names unambiguous.
    return (0 if "." not in group or group.endswith(".k8s.io") else 1, group)


class Registry:
    """Thread-safe registry of served resource types."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._group_versions: dict[str, list[str]] = {}
        self.generation = 0  # bumped on every change: caches of discovery/OpenAPI key on it
        for rt in BUILTIN_TYPES:
            self._add(rt)

    def _add(self, rt: ResourceType) -> None:
        self._by_path[(rt.group, rt.version, rt.plural)] = rt
        versions = self._group_versions.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)
        self.generation += 1

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, group: str, kind: str, version: str | None = None) -> ResourceType | None:
        for rt in self._by_path.values():
            if rt.group == group and rt.kind == kind and (version is None or rt.version == version):
                return rt
        return None

    def for_key(self, key: tuple[str, str]) -> ResourceType | None:
        """The storage-version type of a stored collection."""
        best: ResourceType | None = None
        for rt in self._by_path.values():
            if rt.key == key and (best is None or rt.version == (rt.storage_version or rt.version)):
                best = rt
        return best

    def all(self) -> Iterator[ResourceType]:
        return iter(list(self._by_path.values()))

    def groups(self) -> list[tuple[str, list[str]]]:
        with self._lock:
            return sorted(
                ((g, sorted(v, key=version_priority)) for g, v in self._group_versions.items() if g),
                key=lambda x: _group_sort_key(x[0]),
            )

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_path.values() if rt.group == group and rt.version == version]

    def kinds_in(self, group: str, version: str) -> set[str]:
        """The kinds (and their list kinds) served in a group version."""
        kinds: set[str] = set()
        for rt in self.in_group_version(group, version):
            kinds.update((rt.kind, rt.list_kind))
        return kinds

    def has_group_version(self, group: str, version: str) -> bool:
        return version in self._group_versions.get(group, [])

    def set_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        """Serve (or re-serve) the versions of a CRD; returns the types now served."""
        spec = crd["spec"]
        names = spec["names"]
        group = spec["group"]
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        storage = next((v["name"] for v in spec["versions"] if v.get("storage")), spec["versions"][0]["name"])
        added: list[ResourceType] = []
        with self._lock:
            self._remove_crd_locked(crd["metadata"]["name"])
            for ver in spec["versions"]:
                if not ver.get("served", True):
                    continue
                subs = ver.get("subresources") or {}
                subresources = tuple(s for s in ("status", "scale") if s in subs)
                schema = (ver.get("schema") or {}).get("openAPIV3Schema")
                rt = ResourceType(
                    group=group,
                    version=ver["name"],
                    kind=names["kind"],
                    plural=names["plural"],
                    namespaced=namespaced,
                    singular=names.get("singular", names["kind"].lower()),
                    short_names=tuple(names.get("shortNames") or ()),
                    categories=tuple(names.get("categories") or ()),
                    subresources=subresources,
                    printer_columns=tuple(ver.get("additionalPrinterColumns") or ()),
                    schema=schema,
                    crd_name=crd["metadata"]["name"],
                    scale_paths=subs.get("scale"),
                    storage_version=storage,
                )
                self._add(rt)
                added.append(rt)
        return added

    def remove_crd(self, crd_name: str) -> None:
        with self._lock:
            self._remove_crd_locked(crd_name)

    def _remove_crd_locked(self, crd_name: str) -> None:
        gone = [k for k, rt in self._by_path.items() if rt.crd_name == crd_name]
        for k in gone:
            rt = self._by_path.pop(k)
            if not any(o.group == rt.group and o.version == rt.version for o in self._by_path.values()):
                versions = self._group_versions.get(rt.group, [])
                if rt.version in versions:
                    versions.remove(rt.version)
                if not versions:
                    self._group_versions.pop(rt.group, None)
        if gone:
            self.generation += 1

    def resolve_name(self, name: str) -> list[ResourceType]:
        """Types a user-typed name (plural, singular, short name, kind) refers to, as kubectl resolves
        them."""
        name = name.lower()
        out = []
        for rt in self._by_path.values():
            if name in (rt.plural, rt.singular_name, rt.kind.lower()) or name in rt.short_names:
                out.append(rt)
        return out
