"""The RBAC authorizer, worded and deciding like Kubernetes' own (``plugin/pkg/auth/authorizer/rbac``).

Pure logic: the API server passes the Role, ClusterRole, RoleBinding and ClusterRoleBinding objects in (as
stored, plain dicts) and keeps an :class:`RBACIndex` in sync with its store by calling
:meth:`RBACIndex.upsert` / :meth:`RBACIndex.remove` on every change. No I/O happens here.

Decisions follow upstream exactly:

* the ``system:masters`` group is allowed everything before RBAC is consulted (upstream's privileged-group
  authorizer), with an empty reason;
* otherwise the ClusterRoleBindings that name the user (``User``), one of its groups (``Group``) or, for a
  ServiceAccount user, the ServiceAccount are visited, then, for a namespaced request, the RoleBindings of
  that namespace; the first rule that allows the request wins and the reason names it
  (``RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to Group "z"``);
* a rule matches on verb (or ``*``), API group (or ``*``), resource (``*``, exact ``pods`` / ``pods/log``,
  or ``*/scale`` for any resource's ``scale`` subresource), resourceNames (an empty list allows every name;
  a request without a name, like ``create`` or ``list``, never matches a rule that lists names) and, for
  non-resource requests, ``nonResourceURLs`` (exact, ``*``, or a prefix ending in ``*``);
* a binding whose role does not exist adds ``RBAC: clusterrole.rbac.authorization.k8s.io "x" not found``
  to the reason of a denial, as upstream does.

Bindings are indexed by subject (user name, group name; a ServiceAccount subject is the user
``system:serviceaccount:<ns>:<name>``), so a decision only looks at the bindings that can apply to the user,
however many bindings the cluster has.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from kubesim import errors
from kubesim.errors import ApiError

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API_VERSION = f"{RBAC_GROUP}/v1"
AUTHORIZATION_GROUP = "authorization.k8s.io"

SYSTEM_MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"

ROLE_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


# --------------------------------------------------------------------------------------------- identities


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated identity (``user.Info``): name, groups, and optionally uid and extra."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``UserInfo`` of TokenReview / SelfSubjectReview status (username, uid, groups, extra)."""
        out: dict[str, Any] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra}
        return out


ANONYMOUS = UserInfo(ANONYMOUS_USER, (UNAUTHENTICATED,))


def service_account_username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def parse_service_account_username(username: str) -> tuple[str, str] | None:
    """``system:serviceaccount:ns:name`` -> ``(ns, name)``; None for any other user name."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def service_account_groups(namespace: str) -> tuple[str, ...]:
    return (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}")


def service_account_user(
    namespace: str,
    name: str,
    uid: str = "",
    extra: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> UserInfo:
    """The identity a ServiceAccount token authenticates as (with ``system:authenticated``, as the
    authentication chain adds it)."""
    return UserInfo(
        service_account_username(namespace, name),
        (*service_account_groups(namespace), AUTHENTICATED),
        uid,
        extra,
    )


# ------------------------------------------------------------------------------------- request attributes


@dataclass(frozen=True, slots=True)
class RequestAttributes:
    """What a request asks to do (``authorizer.Attributes``).

    ``namespace`` is empty for cluster-scoped requests and for requests across all namespaces; for the
    ``namespaces`` resource itself it is the namespace's name when one is named (as upstream's request-info
    parsing does; :func:`request_attributes` does it for you). ``path`` is the URL path; it is what
    non-resource requests (``resource_request=False``) are authorized on.
    """

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""
    resource_request: bool = True

    @classmethod
    def non_resource(cls, verb: str, path: str) -> RequestAttributes:
        return cls(verb=verb, path=path, resource_request=False)


_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_SPECIAL_VERBS_NO_SUBRESOURCES = frozenset({"proxy"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def _exact_name_from_field_selector(selector: str) -> str:
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            continue
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if sep and key.strip() == "metadata.name":
            value = value.strip()
            if value and value not in (".", "..") and "/" not in value and "%" not in value:
                return value
    return ""


def request_attributes(method: str, path: str, query: Mapping[str, str] | None = None) -> RequestAttributes:
    """Parse a request the way upstream's ``RequestInfoFactory`` does (without the user).

    ``/api/v1/namespaces/ns/pods/x/log`` -> get pods/log "x" in ns; a GET without a name is ``list`` (or
    ``watch`` with ``watch=true`` or the ``/watch/`` prefix); a DELETE without a name is ``deletecollection``;
    a ``fieldSelector`` of ``metadata.name=x`` on list/watch sets the name, so rules with resourceNames can
    allow single-object watches. ``/api``, ``/apis``, ``/apis/<group>[/<version>]``, ``/version``,
    ``/openapi/v2`` ... are non-resource requests whose verb is the lower-cased HTTP method.
    """
    query = query or {}
    method = method.upper()
    parts = [p for p in path.strip("/").split("/") if p] if path.strip("/") else []
    non_resource = RequestAttributes(verb=method.lower(), path=path, resource_request=False)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(parts) < 3:
            return non_resource
        group, parts = parts[0], parts[1:]
    parts = parts[1:]  # the version
    if parts[0] in _SPECIAL_VERBS:
        if len(parts) < 2:
            return non_resource
        verb, parts = parts[0], parts[1:]
    else:
        verb = _METHOD_VERBS.get(method, "")
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    parts = [unquote(p) for p in parts]
    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    subresource = parts[2] if len(parts) >= 3 and verb not in _SPECIAL_VERBS_NO_SUBRESOURCES else ""
    if not name and verb == "get":
        verb = "watch" if _truthy(query.get("watch")) else "list"
        selector = query.get("fieldSelector")
        if selector:
            name = _exact_name_from_field_selector(selector)
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestAttributes(
        verb=verb,
        api_group=group,
        resource=resource,
        subresource=subresource,
        name=name,
        namespace=namespace,
        path=path,
        resource_request=True,
    )


# ------------------------------------------------------------------------------------------------- rules


def _str_list(value: Any) -> list[str]:
    if not value:
        return []
    return [str(v) for v in value]


def normalize_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A PolicyRule as the API server serializes it: ``verbs`` always, the other lists only when non-empty."""
    out: dict[str, Any] = {"verbs": _str_list(rule.get("verbs"))}
    for key in ("apiGroups", "resources", "resourceNames", "nonResourceURLs"):
        values = _str_list(rule.get(key))
        if values:
            out[key] = values
    return out


@dataclass(frozen=True, slots=True)
class _Rule:
    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: tuple[str, ...]
    resource_names: frozenset[str]
    urls: tuple[str, ...]
    raw: dict[str, Any]

    @classmethod
    def compile(cls, rule: Mapping[str, Any]) -> _Rule:
        raw = normalize_rule(rule)
        return cls(
            verbs=frozenset(raw["verbs"]),
            api_groups=frozenset(raw.get("apiGroups", ())),
            resources=tuple(raw.get("resources", ())),
            resource_names=frozenset(raw.get("resourceNames", ())),
            urls=tuple(raw.get("nonResourceURLs", ())),
            raw=raw,
        )

    def allows(self, attrs: RequestAttributes) -> bool:
        verbs = self.verbs
        if "*" not in verbs and attrs.verb not in verbs:
            return False
        if not attrs.resource_request:
            return _url_matches(self.urls, attrs.path)
        groups = self.api_groups
        if "*" not in groups and attrs.api_group not in groups:
            return False
        if not _resource_matches(self.resources, attrs.resource, attrs.subresource):
            return False
        return not self.resource_names or attrs.name in self.resource_names


def _resource_matches(rule_resources: tuple[str, ...], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for rr in rule_resources:
        if rr == "*" or rr == combined:
            return True
        if (
            subresource
            and len(rr) == len(subresource) + 2
            and rr.startswith("*/")
            and rr.endswith(subresource)
        ):
            return True
    return False


def _url_matches(rule_urls: tuple[str, ...], path: str) -> bool:
    for url in rule_urls:
        if url == "*" or url == path:
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(rule: Mapping[str, Any], attrs: RequestAttributes) -> bool:
    """Whether one PolicyRule (a plain dict) allows the request (upstream ``RuleAllows``)."""
    return _Rule.compile(rule).allows(attrs)


# ---------------------------------------------------------------------------------------------- bindings


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: str
    name: str
    namespace: str  # as written in the binding (may be empty for a ServiceAccount in a RoleBinding)
    key: tuple[str, str] | None  # ("u", user name) or ("g", group name); None: can never apply

    def describe(self, binding_namespace: str) -> str:
        if self.kind == "ServiceAccount":
            ns = self.namespace or binding_namespace
            return f'{self.kind} "{self.name}/{ns}"'
        return f'{self.kind} "{self.name}"'


def _subject(raw: Mapping[str, Any], binding_namespace: str) -> _Subject:
    kind = str(raw.get("kind", ""))
    name = str(raw.get("name", ""))
    ns = str(raw.get("namespace") or "")
    key: tuple[str, str] | None
    if kind == "User":
        key = ("u", name)
    elif kind == "Group":
        key = ("g", name)
    elif kind == "ServiceAccount":
        sa_ns = ns or binding_namespace
        key = ("u", service_account_username(sa_ns, name)) if sa_ns and name else None
    else:
        key = None
    return _Subject(kind, name, ns, key)


@dataclass(frozen=True, slots=True)
class _Binding:
    namespace: str  # "" for a ClusterRoleBinding
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[_Subject, ...]

    def applying_subject(self, keys: frozenset[tuple[str, str]]) -> _Subject | None:
        for s in self.subjects:
            if s.key is not None and s.key in keys:
                return s
        return None

    def describe(self, subject: _Subject) -> str:
        if self.namespace:
            return (
                f'RoleBinding "{self.name}/{self.namespace}" of {self.role_kind} "{self.role_name}" '
                f"to {subject.describe(self.namespace)}"
            )
        return (
            f'ClusterRoleBinding "{self.name}" of {self.role_kind} "{self.role_name}" '
            f"to {subject.describe('')}"
        )


def _binding(obj: Mapping[str, Any], namespace: str) -> _Binding:
    meta = obj.get("metadata") or {}
    ref = obj.get("roleRef") or {}
    subjects = tuple(_subject(s, namespace) for s in (obj.get("subjects") or ()))
    return _Binding(
        namespace, str(meta.get("name", "")), str(ref.get("kind", "")), str(ref.get("name", "")), subjects
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """An authorization decision; ``reason`` is what SubjectAccessReview reports."""

    allowed: bool
    reason: str = ""


def _aggregate_message(errs: Sequence[str]) -> str:
    """``utilerrors.NewAggregate(errs).Error()``: one message as is, several de-duplicated in brackets."""
    if not errs:
        return ""
    if len(errs) == 1:
        return errs[0]
    seen: list[str] = []
    for e in errs:
        if e not in seen:
            seen.append(e)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


def _user_keys(user: UserInfo) -> frozenset[tuple[str, str]]:
    return frozenset((("u", user.name), *(("g", g) for g in user.groups)))


class RBACIndex:
    """Roles and bindings indexed for authorization; kept in sync incrementally by the server.

    Thread-safe: mutations and reads take one lock (reads are short: a few dict look-ups per binding that
    names the user or one of its groups).
    """

    def __init__(self, objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self._lock = threading.RLock()
        self._roles: dict[tuple[str, str], tuple[_Rule, ...]] = {}
        self._cluster_roles: dict[str, tuple[_Rule, ...]] = {}
        self._rbs: dict[tuple[str, str], _Binding] = {}
        self._crbs: dict[str, _Binding] = {}
        # subject key -> names of ClusterRoleBindings; (namespace, subject key) -> names of RoleBindings
        self._crb_by_subject: dict[tuple[str, str], set[str]] = {}
        self._rb_by_subject: dict[tuple[str, tuple[str, str]], set[str]] = {}
        for obj in objects:
            self.upsert(obj)

    # ---- maintenance

    def upsert(self, obj: Mapping[str, Any], kind: str | None = None) -> None:
        """Add or replace one Role, ClusterRole, RoleBinding or ClusterRoleBinding (``kind`` defaults to
        ``obj["kind"]``). Other kinds are ignored."""
        kind = kind or str(obj.get("kind", ""))
        meta = obj.get("metadata") or {}
        name = str(meta.get("name", ""))
        namespace = str(meta.get("namespace") or "")
        with self._lock:
            if kind == "Role":
                self._roles[(namespace, name)] = tuple(_Rule.compile(r) for r in (obj.get("rules") or ()))
            elif kind == "ClusterRole":
                self._cluster_roles[name] = tuple(_Rule.compile(r) for r in (obj.get("rules") or ()))
            elif kind == "RoleBinding":
                self._remove_rb(namespace, name)
                b = _binding(obj, namespace)
                self._rbs[(namespace, name)] = b
                for s in b.subjects:
                    if s.key is not None:
                        self._rb_by_subject.setdefault((namespace, s.key), set()).add(name)
            elif kind == "ClusterRoleBinding":
                self._remove_crb(name)
                b = _binding(obj, "")
                self._crbs[name] = b
                for s in b.subjects:
                    if s.key is not None:
                        self._crb_by_subject.setdefault(s.key, set()).add(name)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        """Forget one object (no error if it was not known)."""
        with self._lock:
            if kind == "Role":
                self._roles.pop((namespace, name), None)
            elif kind == "ClusterRole":
                self._cluster_roles.pop(name, None)
            elif kind == "RoleBinding":
                self._remove_rb(namespace, name)
            elif kind == "ClusterRoleBinding":
                self._remove_crb(name)

    def remove_object(self, obj: Mapping[str, Any], kind: str | None = None) -> None:
        meta = obj.get("metadata") or {}
        self.remove(
            kind or str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", ""))
        )

    def _remove_rb(self, namespace: str, name: str) -> None:
        old = self._rbs.pop((namespace, name), None)
        if old is None:
            return
        for s in old.subjects:
            if s.key is None:
                continue
            names = self._rb_by_subject.get((namespace, s.key))
            if names is not None:
                names.discard(name)
                if not names:
                    del self._rb_by_subject[(namespace, s.key)]

    def _remove_crb(self, name: str) -> None:
        old = self._crbs.pop(name, None)
        if old is None:
            return
        for s in old.subjects:
            if s.key is None:
                continue
            names = self._crb_by_subject.get(s.key)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._crb_by_subject[s.key]

    # ---- resolution

    def role_rules(self, kind: str, namespace: str, name: str) -> list[dict[str, Any]] | None:
        """The rules of a Role (in ``namespace``) or ClusterRole as written; None when it does not exist."""
        with self._lock:
            rules = (
                self._cluster_roles.get(name) if kind == "ClusterRole" else self._roles.get((namespace, name))
            )
        return None if rules is None else [dict(r.raw) for r in rules]

    def _role_rules(self, b: _Binding) -> tuple[tuple[_Rule, ...] | None, str]:
        if b.role_kind == "ClusterRole":
            rules = self._cluster_roles.get(b.role_name)
            if rules is None:
                return None, f'clusterrole.{RBAC_GROUP} "{b.role_name}" not found'
            return rules, ""
        if b.role_kind == "Role":
            rules = self._roles.get((b.namespace, b.role_name))
            if rules is None:
                return None, f'role.{RBAC_GROUP} "{b.role_name}" not found'
            return rules, ""
        return None, f'unsupported role reference kind: "{b.role_kind}"'

    def _applicable(self, user: UserInfo, namespace: str) -> list[tuple[_Binding, _Subject]]:
        """The bindings that apply to the user, ClusterRoleBindings first, each sorted by name."""
        keys = _user_keys(user)
        out: list[tuple[_Binding, _Subject]] = []
        crb_names: set[str] = set()
        for key in keys:
            crb_names.update(self._crb_by_subject.get(key, ()))
        for n in sorted(crb_names):
            b = self._crbs[n]
            s = b.applying_subject(keys)
            if s is not None:
                out.append((b, s))
        if namespace:
            rb_names: set[str] = set()
            for key in keys:
                rb_names.update(self._rb_by_subject.get((namespace, key), ()))
            for n in sorted(rb_names):
                b = self._rbs[(namespace, n)]
                s = b.applying_subject(keys)
                if s is not None:
                    out.append((b, s))
        return out

    def authorize(self, user: UserInfo, attrs: RequestAttributes) -> Decision:
        """Allow or deny, as the API server's ``system:masters`` + RBAC authorizer chain would."""
        if SYSTEM_MASTERS in user.groups:
            return Decision(True, "")
        namespace = attrs.namespace if attrs.resource_request else ""
        errs: list[str] = []
        with self._lock:
            for b, s in self._applicable(user, namespace):
                rules, err = self._role_rules(b)
                if rules is None:
                    errs.append(err)
                    continue
                for rule in rules:
                    if rule.allows(attrs):
                        return Decision(True, f"RBAC: allowed by {b.describe(s)}")
        return Decision(False, f"RBAC: {_aggregate_message(errs)}" if errs else "")

    def allowed(self, user: UserInfo, attrs: RequestAttributes) -> bool:
        return self.authorize(user, attrs).allowed

    def check(self, user: UserInfo, attrs: RequestAttributes) -> None:
        """Raise the 403 the API server answers when the request is not allowed."""
        decision = self.authorize(user, attrs)
        if not decision.allowed:
            raise forbidden_error(user, attrs, decision.reason)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rules that apply to the user in a namespace, as SelfSubjectRulesReview reports them:
        ``([{verbs, apiGroups, resources, resourceNames}], [{verbs, nonResourceURLs}])``."""
        resource_rules, non_resource_rules, _ = self._rules_for(user, namespace)
        return resource_rules, non_resource_rules

    def _rules_for(
        self, user: UserInfo, namespace: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        resource_rules: list[dict[str, Any]] = []
        non_resource_rules: list[dict[str, Any]] = []
        errs: list[str] = []
        with self._lock:
            for b, _s in self._applicable(user, namespace):
                rules, err = self._role_rules(b)
                if rules is None:
                    errs.append(err)
                    continue
                for rule in rules:
                    raw = rule.raw
                    if "resources" in raw:
                        rr: dict[str, Any] = {"verbs": list(raw["verbs"])}
                        for key in ("apiGroups", "resources", "resourceNames"):
                            if key in raw:
                                rr[key] = list(raw[key])
                        resource_rules.append(rr)
                    if "nonResourceURLs" in raw:
                        non_resource_rules.append(
                            {"verbs": list(raw["verbs"]), "nonResourceURLs": list(raw["nonResourceURLs"])}
                        )
        return resource_rules, non_resource_rules, errs

    def rules_review_status(self, user: UserInfo, namespace: str) -> dict[str, Any]:
        """``status`` of a SelfSubjectRulesReview (``kubectl auth can-i --list``)."""
        resource_rules, non_resource_rules, errs = self._rules_for(user, namespace)
        status: dict[str, Any] = {
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": False,
        }
        if errs:
            status["evaluationError"] = _aggregate_message(errs)
        return status

    def self_subject_rules_review(self, user: UserInfo, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``status`` for a SelfSubjectRulesReview ``spec`` (``{"namespace": ...}``); 400 without one."""
        namespace = str(spec.get("namespace") or "")
        if not namespace:
            raise errors.bad_request("no namespace on request")
        return self.rules_review_status(user, namespace)

    # ---- access reviews

    def subject_access_review(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``status`` of a SubjectAccessReview: ``{"allowed": bool, "reason"?: str}``.

        The subject is ``spec.user`` / ``spec.groups`` as given (no group is added, as upstream). Raises
        the 422 the API server answers for an invalid spec.
        """
        causes = _validate_review_spec(spec, require_subject=True)
        if causes:
            raise errors.invalid("", "", causes, group=AUTHORIZATION_GROUP)
        extra = tuple((str(k), tuple(str(x) for x in v)) for k, v in (spec.get("extra") or {}).items())
        user = UserInfo(
            str(spec.get("user") or ""),
            tuple(str(g) for g in (spec.get("groups") or ())),
            str(spec.get("uid") or ""),
            extra,
        )
        return self._review(user, spec)

    def self_subject_access_review(self, user: UserInfo, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``status`` of a SelfSubjectAccessReview (what ``kubectl auth can-i`` creates) for the requester."""
        causes = _validate_review_spec(spec, require_subject=False)
        if causes:
            raise errors.invalid("", "", causes, group=AUTHORIZATION_GROUP)
        return self._review(user, spec)

    def local_subject_access_review(self, namespace: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``status`` of a LocalSubjectAccessReview created in ``namespace``."""
        causes = _validate_review_spec(spec, require_subject=True)
        ra = spec.get("resourceAttributes")
        if spec.get("nonResourceAttributes") is not None:
            causes.append(
                _invalid_cause(
                    "spec.nonResourceAttributes",
                    _go_value(spec.get("nonResourceAttributes")),
                    "disallowed on this kind of request",
                )
            )
        if isinstance(ra, Mapping) and str(ra.get("namespace") or "") != namespace:
            causes.append(
                _invalid_cause(
                    "spec.resourceAttributes.namespace",
                    _go_value(ra.get("namespace") or ""),
                    "must match metadata.namespace",
                )
            )
        if causes:
            raise errors.invalid("", "", causes, group=AUTHORIZATION_GROUP)
        return self.subject_access_review(spec)

    def _review(self, user: UserInfo, spec: Mapping[str, Any]) -> dict[str, Any]:
        decision = self.authorize(user, review_attributes(spec))
        status: dict[str, Any] = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        return status


def review_attributes(spec: Mapping[str, Any]) -> RequestAttributes:
    """The request a SubjectAccessReview spec describes (resourceAttributes or nonResourceAttributes)."""
    ra = spec.get("resourceAttributes")
    if isinstance(ra, Mapping):
        return RequestAttributes(
            verb=str(ra.get("verb") or ""),
            api_group=str(ra.get("group") or ""),
            resource=str(ra.get("resource") or ""),
            subresource=str(ra.get("subresource") or ""),
            name=str(ra.get("name") or ""),
            namespace=str(ra.get("namespace") or ""),
            resource_request=True,
        )
    nra = spec.get("nonResourceAttributes") or {}
    return RequestAttributes.non_resource(str(nra.get("verb") or ""), str(nra.get("path") or ""))


def _go_value(value: Any) -> str:
    """A bad value as field.Error prints it: nil is ``null``."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _invalid_cause(field: str, value: str, detail: str) -> errors.Cause:
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {value}: {detail}", "field": field}


def _validate_review_spec(spec: Mapping[str, Any], *, require_subject: bool) -> list[errors.Cause]:
    causes: list[errors.Cause] = []
    ra = spec.get("resourceAttributes")
    nra = spec.get("nonResourceAttributes")
    if ra is not None and nra is not None:
        # The internal NonResourceAttributes struct has no JSON tags: its fields print capitalized.
        internal = {"Path": (nra or {}).get("path", ""), "Verb": (nra or {}).get("verb", "")}
        causes.append(
            _invalid_cause(
                "spec.nonResourceAttributes",
                json.dumps(internal, separators=(",", ":")),
                "cannot be specified in combination with resourceAttributes",
            )
        )
    if ra is None and nra is None:
        causes.append(
            _invalid_cause(
                "spec.resourceAttributes",
                _go_value(nra),
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if require_subject and not spec.get("user") and not spec.get("groups"):
        causes.append(
            _invalid_cause(
                "spec.user",
                _go_value(spec.get("user") or ""),
                "at least one of user or group must be specified",
            )
        )
    return causes


# ------------------------------------------------------------------------------------------------ errors


def forbidden_error(user: UserInfo, attrs: RequestAttributes, reason: str = "") -> ApiError:
    """The 403 the API server answers when authorization denies a request.

    ``pods "x" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace "ns"``;
    cluster scope ends ``at the cluster scope``; non-resource requests read
    ``forbidden: User "u" cannot get path "/metrics"``. A non-empty ``reason`` (a denial's
    :attr:`Decision.reason`) is appended after ``": "``, as upstream does.
    """
    suffix = f": {reason}" if reason else ""
    if not attrs.resource_request:
        message = f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"{suffix}'
        return ApiError(403, "Forbidden", message, details={})
    err = errors.forbidden(
        user.name,
        attrs.verb,
        attrs.resource,
        attrs.api_group,
        attrs.namespace or None,
        attrs.name or None,
        attrs.subresource,
    )
    if suffix:
        return ApiError(err.code, err.reason, err.message + suffix, details=err.details, headers=err.headers)
    return err


# ----------------------------------------------------------------------------------- escalation prevention
#
# Upstream's RBAC storage refuses to create or update a Role/ClusterRole granting, or a (Cluster)RoleBinding
# binding, permissions the requester does not hold itself (pkg/registry/rbac: ConfirmNoEscalation), unless
# the requester is in system:masters, may ``escalate`` the role, or may ``bind`` the bound role.


def breakdown_rule(rule: Mapping[str, Any]) -> list[dict[str, list[str]]]:
    """BreakdownRule: one rule per verb, API group, resource (and resource name, or URL)."""
    out: list[dict[str, list[str]]] = []
    names = _str_list(rule.get("resourceNames"))
    for group in _str_list(rule.get("apiGroups")):
        for resource in _str_list(rule.get("resources")):
            for verb in _str_list(rule.get("verbs")):
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                if names:
                    out.extend({**base, "resourceNames": [n]} for n in names)
                else:
                    out.append(base)
    for url in _str_list(rule.get("nonResourceURLs")):
        for verb in _str_list(rule.get("verbs")):
            out.append({"nonResourceURLs": [url], "verbs": [verb]})
    return out


def _resource_covers(owner: list[str], servant: list[str]) -> bool:
    if "*" in owner:
        return True
    for path in servant:
        if path in owner:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _rule_covers(owner: Mapping[str, Any], sub: Mapping[str, list[str]]) -> bool:
    """ruleCovers (k8s.io/component-helpers/auth/rbac/validation)."""
    verbs, groups = _str_list(owner.get("verbs")), _str_list(owner.get("apiGroups"))
    resources, names = _str_list(owner.get("resources")), _str_list(owner.get("resourceNames"))
    urls = _str_list(owner.get("nonResourceURLs"))
    if not ("*" in verbs or set(sub.get("verbs", [])) <= set(verbs)):
        return False
    if not ("*" in groups or set(sub.get("apiGroups", [])) <= set(groups)):
        return False
    if not _resource_covers(resources, sub.get("resources", [])):
        return False
    if not all(any(_url_covers(o, p) for o in urls) for p in sub.get("nonResourceURLs", [])):
        return False
    if sub.get("resourceNames"):
        return not names or set(sub["resourceNames"]) <= set(names)
    return not names


def uncovered_rules(
    owner: Sequence[Mapping[str, Any]], servant: Sequence[Mapping[str, Any]]
) -> list[dict[str, list[str]]]:
    """Covers: the broken-down servant rules no owner rule covers."""
    return [
        sub
        for rule in servant
        for sub in breakdown_rule(rule)
        if not any(_rule_covers(o, sub) for o in owner)
    ]


def compact_rules(rules: Sequence[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
    """CompactRules: the verbs of one-group, one-resource (at most one name) rules merged, in order."""
    compacted: list[dict[str, list[str]]] = []
    simple: dict[tuple[str, str, tuple[str, ...]], dict[str, list[str]]] = {}
    for rule in rules:
        names = rule.get("resourceNames", [])
        is_simple = (
            len(names) <= 1
            and not rule.get("nonResourceURLs")
            and len(rule.get("apiGroups", [])) == 1
            and len(rule.get("resources", [])) == 1
        )
        if not is_simple:
            compacted.append(rule)
            continue
        key = (rule["apiGroups"][0], rule["resources"][0], tuple(names))
        if key in simple:
            simple[key]["verbs"] = simple[key]["verbs"] + rule.get("verbs", [])
        else:
            simple[key] = {k: list(v) for k, v in rule.items()}
    return compacted + list(simple.values())


def _go_strings(values: Sequence[str]) -> str:
    """Go's %q of a []string: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def compact_string(rule: Mapping[str, list[str]]) -> str:
    """rbacv1helpers.CompactString: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
    parts = [
        f"{label}:{_go_strings(rule[key])}"
        for label, key in (
            ("APIGroups", "apiGroups"),
            ("Resources", "resources"),
            ("NonResourceURLs", "nonResourceURLs"),
            ("ResourceNames", "resourceNames"),
            ("Verbs", "verbs"),
        )
        if rule.get(key)
    ]
    return "{" + ", ".join(parts) + "}"


def escalation_message(user: UserInfo, missing: Sequence[dict[str, list[str]]]) -> str:
    descriptions = sorted({compact_string(r) for r in compact_rules(missing)})
    return (
        f'user "{user.name}" (groups={_go_strings(user.groups)}) is attempting to grant RBAC permissions '
        "not currently held:\n" + "\n".join(descriptions)
    )


def rbac_forbidden(plural: str, name: str, message: str) -> ApiError:
    """errors.NewForbidden for an RBAC object: ``roles.rbac.authorization.k8s.io "x" is forbidden: ...``."""
    return ApiError(
        403,
        "Forbidden",
        f'{plural}.{RBAC_GROUP} "{name}" is forbidden: {message}',
        details={"name": name, "group": RBAC_GROUP, "kind": plural},
    )


_FULL_AUTHORITY = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
)


def _only_gc_fields_changed(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """IsOnlyMutatingGCFields: nothing but owner references and finalizers changed."""
    if old is None:
        return False

    def stripped(obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = {
            k: v
            for k, v in (obj.get("metadata") or {}).items()
            if k not in ("ownerReferences", "finalizers", "managedFields", "resourceVersion", "selfLink")
        }
        return {
            **{k: v for k, v in obj.items() if k not in ("metadata", "kind", "apiVersion")},
            "metadata": meta,
        }

    return stripped(new) == stripped(old)


def check_escalation(
    index: RBACIndex, user: UserInfo, plural: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    """Raise upstream's 403 (or the role reference's 404) when writing this Role, ClusterRole, RoleBinding
    or ClusterRoleBinding would grant ``user`` more than it holds."""
    if SYSTEM_MASTERS in user.groups or _only_gc_fields_changed(obj, old):
        return
    meta = obj.get("metadata") or {}
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace") or "")
    if plural in ("roles", "clusterroles"):
        # RoleEscalationAuthorized: on create the request names no object.
        asked = RequestAttributes(
            "escalate", RBAC_GROUP, plural, name=name if old is not None else "", namespace=namespace
        )
        if index.allowed(user, asked):
            return
        rules = list(obj.get("rules") or [])
        aggregated = plural == "clusterroles" and any(
            ((o or {}).get("aggregationRule") or {}).get("clusterRoleSelectors") for o in (obj, old)
        )
    else:
        ref = obj.get("roleRef") or {}
        ref_kind, ref_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        ref_plural = "clusterroles" if ref_kind == "ClusterRole" else "roles"
        asked = RequestAttributes(
            "bind", str(ref.get("apiGroup", "")), ref_plural, name=ref_name, namespace=namespace
        )
        if index.allowed(user, asked):
            return
        found = index.role_rules(ref_kind, namespace, ref_name)
        if found is None:
            # Upstream looks the role up with the binding request's context: the error names the binding's
            # resource.
            raise errors.not_found(plural, ref_name, RBAC_GROUP)
        rules, aggregated = found, False
    resource_rules, non_resource_rules, _ = index._rules_for(user, namespace)
    owner = [*resource_rules, *non_resource_rules]
    missing = uncovered_rules(owner, rules)
    if missing:
        raise rbac_forbidden(plural, name, escalation_message(user, missing))
    if aggregated and uncovered_rules(owner, _FULL_AUTHORITY):
        raise rbac_forbidden(plural, name, "must have cluster-admin privileges to use the aggregationRule")


# ----------------------------------------------------------------------------------------- impersonation


def impersonation_checks(
    username: str,
    groups: Sequence[str] = (),
    uid: str = "",
    extra: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[RequestAttributes], UserInfo]:
    """What upstream's impersonation filter authorizes for ``Impersonate-*`` headers, and the identity
    the request then runs as (``kubectl --as=... --as-group=...``).

    Each returned attribute set must be allowed for the *requesting* user (verb ``impersonate`` on
    ``users`` / ``serviceaccounts`` / ``groups`` / ``uids`` / ``userextras/<key>``).
    """
    checks: list[RequestAttributes] = []
    out_groups = list(groups)
    sa = parse_service_account_username(username)
    if sa is not None:
        checks.append(RequestAttributes("impersonate", "", "serviceaccounts", "", sa[1], sa[0]))
        out_groups = [*service_account_groups(sa[0]), *out_groups]
    else:
        checks.append(RequestAttributes("impersonate", "", "users", "", username))
    for g in groups:
        checks.append(RequestAttributes("impersonate", "", "groups", "", g))
    if uid:
        checks.append(RequestAttributes("impersonate", "authentication.k8s.io", "uids", "", uid))
    extra_items: list[tuple[str, tuple[str, ...]]] = []
    for key, values in (extra or {}).items():
        for v in values:
            checks.append(RequestAttributes("impersonate", "authentication.k8s.io", "userextras", key, v))
        extra_items.append((key, tuple(values)))
    if username == ANONYMOUS_USER:
        if UNAUTHENTICATED not in out_groups:
            out_groups.append(UNAUTHENTICATED)
    elif AUTHENTICATED not in out_groups and UNAUTHENTICATED not in out_groups:
        out_groups.append(AUTHENTICATED)
    return checks, UserInfo(username, tuple(out_groups), uid, tuple(extra_items))


# ------------------------------------------------------------------------------------------- aggregation


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = str(expr.get("key", ""))
    op = str(expr.get("operator", ""))
    values = {str(v) for v in (expr.get("values") or ())}
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def label_selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """A ``metav1.LabelSelector`` (matchLabels, matchExpressions); None matches nothing, ``{}`` all."""
    if selector is None:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    return all(_expression_matches(e, labels) for e in (selector.get("matchExpressions") or ()))


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def aggregate_rules(
    cluster_role: Mapping[str, Any], cluster_roles: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]] | None:
    """The rules an aggregated ClusterRole should have, as upstream's clusterrole-aggregation controller
    computes them: for each of ``aggregationRule.clusterRoleSelectors`` in order, the rules of the matching
    ClusterRoles (sorted by name, itself excluded), without duplicates. None when it has no aggregationRule.
    """
    agg = cluster_role.get("aggregationRule")
    if agg is None:
        return None
    own = _name(cluster_role)
    roles = sorted(cluster_roles, key=_name)
    out: list[dict[str, Any]] = []
    for selector in agg.get("clusterRoleSelectors") or ():
        for role in roles:
            if _name(role) == own or not label_selector_matches(selector, _labels(role)):
                continue
            for rule in role.get("rules") or ():
                n = normalize_rule(rule)
                if n not in out:
                    out.append(n)
    return out


def resolve_aggregation(cluster_roles: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """For the aggregated ClusterRoles among ``cluster_roles``, the new ``rules`` of each one whose stored
    rules differ from what aggregation gives, computed to a fixed point (aggregates of aggregates, like
    ``admin`` <- ``edit`` <- ``view``, settle in one call). The controller writes each into its ClusterRole.
    """
    current: dict[str, dict[str, Any]] = {_name(r): dict(r) for r in cluster_roles}
    original = {name: [normalize_rule(x) for x in (r.get("rules") or ())] for name, r in current.items()}
    for _ in range(len(current) + 1):
        changed = False
        for role in current.values():
            rules = aggregate_rules(role, current.values())
            if rules is not None and rules != [normalize_rule(x) for x in (role.get("rules") or ())]:
                role["rules"] = rules
                changed = True
        if not changed:
            break
    return {
        name: list(role["rules"])
        for name, role in current.items()
        if role.get("aggregationRule") is not None and list(role.get("rules") or []) != original[name]
    }


# --------------------------------------------------------------------------------------- bootstrap policy

_READ = ["get", "list", "watch"]
_WRITE = ["create", "update", "patch", "delete", "deletecollection"]
_READ_WRITE = _READ + _WRITE
_AGG = "rbac.authorization.k8s.io/aggregate-to-"


def _rule(
    verbs: Sequence[str],
    groups: Sequence[str] = (),
    resources: Sequence[str] = (),
    urls: Sequence[str] = (),
    names: Sequence[str] = (),
) -> dict[str, Any]:
    return normalize_rule(
        {
            "verbs": list(verbs),
            "apiGroups": list(groups),
            "resources": list(resources),
            "resourceNames": list(names),
            "nonResourceURLs": list(urls),
        }
    )


def _meta(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }


def _cluster_role(
    name: str,
    rules: list[dict[str, Any]] | None = None,
    labels: Mapping[str, str] | None = None,
    aggregate_from: str | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRole",
        "metadata": _meta(name, labels),
    }
    if aggregate_from is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {_AGG + aggregate_from: "true"}}]}
    obj["rules"] = rules or []
    return obj


def _cluster_role_binding(name: str, groups: Sequence[str] = (), users: Sequence[str] = ()) -> dict[str, Any]:
    subjects = [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups]
    subjects += [{"apiGroup": RBAC_GROUP, "kind": "User", "name": u} for u in users]
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": subjects,
    }


def _bootstrap_cluster_roles() -> list[dict[str, Any]]:
    view_rules = [
        _rule(
            _READ,
            [""],
            [
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "configmaps",
            ],
        ),
        _rule(
            _READ,
            [""],
            [
                "limitranges",
                "resourcequotas",
                "bindings",
                "events",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "replicationcontrollers/status",
                "pods/log",
            ],
        ),
        _rule(_READ, [""], ["namespaces"]),
        _rule(_READ, ["discovery.k8s.io"], ["endpointslices"]),
        _rule(
            _READ,
            ["apps"],
            [
                "controllerrevisions",
                "statefulsets",
                "statefulsets/status",
                "statefulsets/scale",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/status",
                "deployments/scale",
                "replicasets",
                "replicasets/status",
                "replicasets/scale",
            ],
        ),
        _rule(_READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        _rule(_READ, ["batch"], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
        _rule(_READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        _rule(_READ, ["networking.k8s.io"], ["networkpolicies", "ingresses", "ingresses/status"]),
    ]
    edit_rules = [
        _rule(
            _READ,
            [""],
            ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"],
        ),
        _rule(["impersonate"], [""], ["serviceaccounts"]),
        _rule(_WRITE, [""], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
        _rule(["create"], [""], ["pods/eviction"]),
        _rule(
            _WRITE,
            [""],
            [
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/proxy",
                "persistentvolumeclaims",
                "configmaps",
                "secrets",
                "events",
            ],
        ),
        _rule(["create"], [""], ["serviceaccounts/token"]),
        _rule(
            _WRITE,
            ["apps"],
            [
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "replicasets",
                "replicasets/scale",
            ],
        ),
        _rule(_WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
        _rule(_WRITE, ["batch"], ["jobs", "cronjobs"]),
        _rule(_WRITE, ["policy"], ["poddisruptionbudgets"]),
        _rule(_WRITE, ["networking.k8s.io"], ["networkpolicies", "ingresses"]),
        _rule(_READ_WRITE, ["coordination.k8s.io"], ["leases"]),
    ]
    admin_rules = [
        _rule(["create"], [AUTHORIZATION_GROUP], ["localsubjectaccessreviews"]),
        _rule(_READ_WRITE, [RBAC_GROUP], ["roles", "rolebindings"]),
    ]
    return [
        _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _rule(["*"], urls=["*"])]),
        _cluster_role(
            "system:discovery",
            [
                _rule(
                    ["get"],
                    urls=[
                        "/livez",
                        "/readyz",
                        "/healthz",
                        "/version",
                        "/version/",
                        "/openapi",
                        "/openapi/*",
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                    ],
                )
            ],
        ),
        _cluster_role(
            "system:monitoring",
            [
                _rule(
                    ["get"],
                    urls=[
                        "/metrics",
                        "/metrics/slis",
                        "/livez",
                        "/readyz",
                        "/healthz",
                        "/livez/*",
                        "/readyz/*",
                        "/healthz/*",
                    ],
                )
            ],
        ),
        _cluster_role(
            "system:basic-user",
            [
                _rule(
                    ["create"], [AUTHORIZATION_GROUP], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]
                ),
                _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
            ],
        ),
        _cluster_role(
            "system:public-info-viewer",
            [_rule(["get"], urls=["/livez", "/readyz", "/healthz", "/version", "/version/"])],
        ),
        # OIDC discovery of the ServiceAccount token issuer (kubesim serves neither URL: the rule is there so
        # that what a ServiceAccount may do reads as upstream's, e.g. in `kubectl auth can-i --list`).
        _cluster_role(
            "system:service-account-issuer-discovery",
            [
                _rule(
                    ["get"],
                    urls=[
                        "/.well-known/openid-configuration",
                        "/.well-known/openid-configuration/",
                        "/openid/v1/jwks",
                        "/openid/v1/jwks/",
                    ],
                )
            ],
        ),
        _cluster_role(
            "system:auth-delegator",
            [
                _rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
                _rule(["create"], [AUTHORIZATION_GROUP], ["subjectaccessreviews"]),
            ],
        ),
        _cluster_role("admin", aggregate_from="admin"),
        _cluster_role("edit", labels={_AGG + "admin": "true"}, aggregate_from="edit"),
        _cluster_role("view", labels={_AGG + "edit": "true"}, aggregate_from="view"),
        _cluster_role("system:aggregate-to-admin", admin_rules, labels={_AGG + "admin": "true"}),
        _cluster_role("system:aggregate-to-edit", edit_rules, labels={_AGG + "edit": "true"}),
        _cluster_role("system:aggregate-to-view", view_rules, labels={_AGG + "view": "true"}),
    ]


def bootstrap_policy() -> list[dict[str, Any]]:
    """The default ClusterRoles and ClusterRoleBindings a real API server creates that clients rely on,
    with the aggregated roles (``admin``, ``edit``, ``view``) already resolved. Fresh copies each call.

    Included: ``cluster-admin`` (bound to ``system:masters``), ``system:discovery`` and
    ``system:basic-user`` (bound to ``system:authenticated``), ``system:public-info-viewer`` (bound to
    ``system:authenticated`` and ``system:unauthenticated``), ``system:monitoring`` (bound to the
    ``system:monitoring`` group), ``system:service-account-issuer-discovery`` (bound to
    ``system:serviceaccounts``), ``system:auth-delegator`` (unbound), and ``admin``/``edit``/``view`` with
    their ``system:aggregate-to-*`` sources. Upstream's controller/node/scheduler roles are left out: kubesim
    runs those components in-process without identities.
    """
    roles = _bootstrap_cluster_roles()
    for name, rules in resolve_aggregation(roles).items():
        for r in roles:
            if _name(r) == name:
                r["rules"] = rules
    bindings = [
        _cluster_role_binding("cluster-admin", groups=[SYSTEM_MASTERS]),
        _cluster_role_binding("system:discovery", groups=[AUTHENTICATED]),
        _cluster_role_binding("system:basic-user", groups=[AUTHENTICATED]),
        _cluster_role_binding("system:public-info-viewer", groups=[AUTHENTICATED, UNAUTHENTICATED]),
        _cluster_role_binding("system:monitoring", groups=["system:monitoring"]),
        _cluster_role_binding("system:service-account-issuer-discovery", groups=["system:serviceaccounts"]),
    ]
    return copy.deepcopy(roles + bindings)
