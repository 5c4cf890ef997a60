"""The RBAC authorizer: each behaviour with concrete outcomes, and the exact upstream wording."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.errors import ApiError
from kubesim.rbac import (
    ANONYMOUS,
    Decision,
    RBACIndex,
    RequestAttributes,
    UserInfo,
    aggregate_rules,
    bootstrap_policy,
    forbidden_error,
    impersonation_checks,
    label_selector_matches,
    parse_service_account_username,
    request_attributes,
    resolve_aggregation,
    rule_allows,
    service_account_user,
)

HUB = service_account_user("hub", "hub")
JNI_GROUP = "kadense.io"


def role(name: str, ns: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": ns},
        "rules": list(rules),
    }


def cluster_role(name: str, *rules: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta,
        "rules": list(rules),
    }


def rule(
    verbs: list[str],
    groups: list[str] | None = None,
    resources: list[str] | None = None,
    names: list[str] | None = None,
    urls: list[str] | None = None,
) -> dict[str, Any]:
    r: dict[str, Any] = {"verbs": verbs}
    if groups is not None:
        r["apiGroups"] = groups
    if resources is not None:
        r["resources"] = resources
    if names is not None:
        r["resourceNames"] = names
    if urls is not None:
        r["nonResourceURLs"] = urls
    return r


def sa(name: str, ns: str | None = None) -> dict[str, Any]:
    s = {"kind": "ServiceAccount", "name": name}
    if ns is not None:
        s["namespace"] = ns
    return s


def user(name: str) -> dict[str, Any]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


def group(name: str) -> dict[str, Any]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def role_binding(
    name: str, ns: str, ref_kind: str, ref_name: str, *subjects: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref_name},
        "subjects": list(subjects),
    }


def cluster_role_binding(name: str, ref_name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ref_name},
        "subjects": list(subjects),
    }


def res(
    verb: str, resource: str, ns: str = "", name: str = "", group: str = "", sub: str = ""
) -> RequestAttributes:
    return RequestAttributes(
        verb=verb, api_group=group, resource=resource, subresource=sub, name=name, namespace=ns
    )


# ------------------------------------------------------------------------------------------ the one-verb SA


@pytest.fixture
def one_verb() -> RBACIndex:
    """The hub SA bound to a Role that allows only create on jupyternotebookinstances.kadense.io in hub."""
    return RBACIndex(
        [
            role("create-jni", "hub", rule(["create"], [JNI_GROUP], ["jupyternotebookinstances"])),
            role_binding("hub-create-jni", "hub", "Role", "create-jni", sa("hub")),
        ]
    )


def test_one_verb_allowed(one_verb: RBACIndex) -> None:
    d = one_verb.authorize(HUB, res("create", "jupyternotebookinstances", "hub", group=JNI_GROUP))
    assert d == Decision(
        True,
        'RBAC: allowed by RoleBinding "hub-create-jni/hub" of Role "create-jni" to ServiceAccount "hub/hub"',
    )


@pytest.mark.parametrize(
    "attrs",
    [
        res("create", "pods", "hub"),
        res("get", "secrets", "hub", name="token"),
        res("list", "secrets", "hub"),
        res("get", "jupyternotebookinstances", "hub", name="x", group=JNI_GROUP),
        res("delete", "jupyternotebookinstances", "hub", name="x", group=JNI_GROUP),
        res("create", "jupyternotebookinstances", "other", group=JNI_GROUP),  # another namespace
        res("create", "jupyternotebookinstances", "", group=JNI_GROUP),  # all namespaces
        res("create", "jupyternotebookinstances", "hub", group="other.io"),  # same plural, other group
        res("create", "jupyternotebookinstances", "hub", name="x", group=JNI_GROUP, sub="status"),
    ],
)
def test_one_verb_denied_everything_else(one_verb: RBACIndex, attrs: RequestAttributes) -> None:
    assert one_verb.authorize(HUB, attrs) == Decision(False, "")


def test_other_service_account_in_same_namespace_denied(one_verb: RBACIndex) -> None:
    other = service_account_user("hub", "default")
    assert not one_verb.allowed(other, res("create", "jupyternotebookinstances", "hub", group=JNI_GROUP))


# ----------------------------------------------------------------------------------------- 403 wording


def test_forbidden_message_create_pods() -> None:
    err = forbidden_error(service_account_user("hub", "hub"), res("create", "pods", "default"))
    assert err.code == 403
    assert err.reason == "Forbidden"
    assert err.message == (
        'pods is forbidden: User "system:serviceaccount:hub:hub" cannot create resource "pods" '
        'in API group "" in the namespace "default"'
    )
    assert err.status()["details"]["kind"] == "pods"


def test_forbidden_message_named_resource_with_group() -> None:
    err = forbidden_error(HUB, res("get", "jupyternotebooktemplates", "hub", name="t", group=JNI_GROUP))
    assert err.message == (
        'jupyternotebooktemplates.kadense.io "t" is forbidden: User "system:serviceaccount:hub:hub" '
        'cannot get resource "jupyternotebooktemplates" in API group "kadense.io" in the namespace "hub"'
    )
    assert err.details == {"group": JNI_GROUP, "kind": "jupyternotebooktemplates", "name": "t"}


def test_forbidden_message_cluster_scope_and_subresource() -> None:
    err = forbidden_error(HUB, res("list", "nodes"))
    assert err.message == (
        'nodes is forbidden: User "system:serviceaccount:hub:hub" cannot list resource "nodes" '
        'in API group "" at the cluster scope'
    )
    err = forbidden_error(HUB, res("get", "pods", "ns", name="p", sub="log"))
    assert err.message == (
        'pods "p" is forbidden: User "system:serviceaccount:hub:hub" cannot get resource "pods/log" '
        'in API group "" in the namespace "ns"'
    )


def test_forbidden_message_non_resource_and_reason() -> None:
    err = forbidden_error(ANONYMOUS, RequestAttributes.non_resource("get", "/metrics"))
    assert err.message == 'forbidden: User "system:anonymous" cannot get path "/metrics"'
    assert err.status()["details"] == {}
    err = forbidden_error(HUB, res("get", "pods", "ns"), 'RBAC: role.rbac.authorization.k8s.io "r" not found')
    assert err.message.endswith('in the namespace "ns": RBAC: role.rbac.authorization.k8s.io "r" not found')


def test_check_raises_the_403(one_verb: RBACIndex) -> None:
    with pytest.raises(ApiError) as exc:
        one_verb.check(HUB, res("create", "pods", "hub"))
    assert exc.value.code == 403
    one_verb.check(HUB, res("create", "jupyternotebookinstances", "hub", group=JNI_GROUP))


# ------------------------------------------------------------------------------------- matching details


def test_resource_names() -> None:
    idx = RBACIndex(
        [
            role("one-cm", "ns", rule(["get", "update", "list"], [""], ["configmaps"], names=["settings"])),
            role_binding("b", "ns", "Role", "one-cm", user("alice")),
        ]
    )
    alice = UserInfo("alice", ("system:authenticated",))
    assert idx.allowed(alice, res("get", "configmaps", "ns", name="settings"))
    assert idx.allowed(alice, res("update", "configmaps", "ns", name="settings"))
    assert not idx.allowed(alice, res("get", "configmaps", "ns", name="other"))
    # no name on the request: a rule listing names does not match (create, plain list)
    assert not idx.allowed(alice, res("list", "configmaps", "ns"))
    # a list with fieldSelector=metadata.name=settings carries the name
    attrs = request_attributes(
        "GET", "/api/v1/namespaces/ns/configmaps", {"fieldSelector": "metadata.name=settings"}
    )
    assert attrs.verb == "list"
    assert attrs.name == "settings"
    assert idx.allowed(alice, attrs)


def test_subresources_are_separate() -> None:
    idx = RBACIndex(
        [
            role("logs", "ns", rule(["get"], [""], ["pods/log"])),
            role("pods", "ns", rule(["get"], [""], ["pods"])),
            role_binding("logs", "ns", "Role", "logs", user("log-reader")),
            role_binding("pods", "ns", "Role", "pods", user("pod-reader")),
        ]
    )
    logs, pods = UserInfo("log-reader"), UserInfo("pod-reader")
    assert idx.allowed(logs, res("get", "pods", "ns", name="p", sub="log"))
    assert not idx.allowed(logs, res("get", "pods", "ns", name="p"))
    assert idx.allowed(pods, res("get", "pods", "ns", name="p"))
    assert not idx.allowed(pods, res("get", "pods", "ns", name="p", sub="log"))
    assert not idx.allowed(pods, res("get", "pods", "ns", name="p", sub="status"))


def test_wildcards() -> None:
    idx = RBACIndex(
        [
            cluster_role("everything-in-apps", rule(["*"], ["apps"], ["*"])),
            cluster_role("any-scale", rule(["get", "update"], ["*"], ["*/scale"])),
            cluster_role("all-groups-pods", rule(["get"], ["*"], ["pods"])),
            cluster_role_binding("a", "everything-in-apps", user("a")),
            cluster_role_binding("s", "any-scale", user("s")),
            cluster_role_binding("g", "all-groups-pods", user("g")),
        ]
    )
    a, s, g = UserInfo("a"), UserInfo("s"), UserInfo("g")
    assert idx.allowed(a, res("deletecollection", "deployments", "x", group="apps"))
    assert idx.allowed(a, res("patch", "statefulsets", "x", name="y", group="apps", sub="scale"))
    assert not idx.allowed(a, res("get", "pods", "x"))
    assert idx.allowed(s, res("update", "deployments", "x", name="d", group="apps", sub="scale"))
    assert idx.allowed(s, res("get", "jupyternotebookinstances", "x", name="d", group=JNI_GROUP, sub="scale"))
    assert not idx.allowed(s, res("get", "deployments", "x", name="d", group="apps"))
    assert not idx.allowed(s, res("get", "deployments", "x", name="d", group="apps", sub="status"))
    assert idx.allowed(g, res("get", "pods", "x", name="p"))
    assert idx.allowed(g, res("get", "pods", "x", name="p", group="metrics.k8s.io"))
    assert not idx.allowed(g, res("list", "pods", "x"))


def test_rule_allows_upstream_cases() -> None:
    r = rule(["get"], [""], ["*"])
    assert rule_allows(r, res("get", "pods", sub="log"))  # "*" covers subresources too
    assert not rule_allows(rule(["get"], [""], ["*/log"]), res("get", "pods"))
    assert not rule_allows(rule(["get"], [""], ["*/scale"]), res("get", "pods", sub="xscale"))
    assert rule_allows(rule(["*"], ["*"], ["*"]), res("escalate", "roles", group="rbac.authorization.k8s.io"))
    # verbs and resources compare exactly: can-i '*' only matches a '*' rule
    assert not rule_allows(rule(["get"], [""], ["pods"]), res("*", "pods"))
    assert rule_allows(rule(["*"], [""], ["pods"]), res("*", "pods"))


def test_non_resource_urls() -> None:
    idx = RBACIndex(
        [
            cluster_role("urls", rule(["get"], urls=["/healthz", "/logs/*", "/exact"])),
            cluster_role_binding("urls", "urls", user("u")),
        ]
    )
    u = UserInfo("u")
    assert idx.allowed(u, RequestAttributes.non_resource("get", "/healthz"))
    assert idx.allowed(u, RequestAttributes.non_resource("get", "/logs/kube.log"))
    assert idx.allowed(u, RequestAttributes.non_resource("get", "/logs/"))
    assert not idx.allowed(u, RequestAttributes.non_resource("get", "/logs"))
    assert not idx.allowed(u, RequestAttributes.non_resource("get", "/exact/more"))
    assert not idx.allowed(u, RequestAttributes.non_resource("post", "/healthz"))
    # a resource rule never allows a path, a URL rule never allows a resource
    assert not idx.allowed(u, res("get", "healthz"))


def test_cluster_role_via_role_binding_only_in_that_namespace() -> None:
    idx = RBACIndex(
        [
            cluster_role("pod-reader", rule(["get", "list"], [""], ["pods"])),
            role_binding("read-pods", "team-a", "ClusterRole", "pod-reader", user("bob")),
        ]
    )
    bob = UserInfo("bob")
    d = idx.authorize(bob, res("list", "pods", "team-a"))
    assert d == Decision(
        True, 'RBAC: allowed by RoleBinding "read-pods/team-a" of ClusterRole "pod-reader" to User "bob"'
    )
    assert not idx.allowed(bob, res("list", "pods", "team-b"))
    assert not idx.allowed(bob, res("list", "pods"))  # across all namespaces needs a ClusterRoleBinding


def test_role_ref_resolves_in_the_binding_namespace() -> None:
    idx = RBACIndex(
        [
            role("r", "a", rule(["get"], [""], ["pods"])),
            role_binding("b", "b", "Role", "r", user("carol")),  # Role "r" does not exist in "b"
        ]
    )
    d = idx.authorize(UserInfo("carol"), res("get", "pods", "b", name="p"))
    assert d == Decision(False, 'RBAC: role.rbac.authorization.k8s.io "r" not found')


def test_cluster_role_binding_applies_everywhere() -> None:
    idx = RBACIndex(
        [
            cluster_role("pod-reader", rule(["get", "list", "watch"], [""], ["pods"])),
            cluster_role_binding("read-pods", "pod-reader", sa("mon", "monitoring")),
        ]
    )
    mon = service_account_user("monitoring", "mon")
    for ns in ("a", "b", ""):
        assert idx.allowed(mon, res("watch", "pods", ns))
    assert idx.authorize(mon, res("get", "pods", "a", name="p")).reason == (
        'RBAC: allowed by ClusterRoleBinding "read-pods" of ClusterRole "pod-reader" '
        'to ServiceAccount "mon/monitoring"'
    )
    # a ServiceAccount subject without namespace in a ClusterRoleBinding never applies
    idx.upsert(cluster_role_binding("broken", "pod-reader", sa("x")))
    assert not idx.allowed(service_account_user("default", "x"), res("get", "pods", "a"))


def test_groups() -> None:
    idx = RBACIndex(
        [
            cluster_role("ns-reader", rule(["list"], [""], ["namespaces"])),
            cluster_role_binding("devs", "ns-reader", group("devs")),
            role("cm", "ns", rule(["get"], [""], ["configmaps"])),
            role_binding("all-sas", "ns", "Role", "cm", group("system:serviceaccounts:ns")),
        ]
    )
    assert idx.allowed(UserInfo("dan", ("devs",)), res("list", "namespaces"))
    assert not idx.allowed(UserInfo("dan", ("ops",)), res("list", "namespaces"))
    assert not idx.allowed(UserInfo("devs"), res("list", "namespaces"))  # a user named like the group
    assert idx.allowed(service_account_user("ns", "anything"), res("get", "configmaps", "ns", name="c"))
    assert not idx.allowed(
        service_account_user("other", "anything"), res("get", "configmaps", "ns", name="c")
    )


def test_service_account_subject_defaults_to_binding_namespace() -> None:
    idx = RBACIndex(
        [
            role("r", "ns", rule(["get"], [""], ["pods"])),
            role_binding("b", "ns", "Role", "r", sa("worker"), sa("remote", "elsewhere")),
        ]
    )
    assert idx.allowed(service_account_user("ns", "worker"), res("get", "pods", "ns", name="p"))
    assert not idx.allowed(service_account_user("other", "worker"), res("get", "pods", "ns", name="p"))
    d = idx.authorize(service_account_user("elsewhere", "remote"), res("get", "pods", "ns", name="p"))
    assert d.reason == 'RBAC: allowed by RoleBinding "b/ns" of Role "r" to ServiceAccount "remote/elsewhere"'
    # a User subject named like the SA is the same identity (upstream compares user names)
    idx.upsert(role_binding("u", "ns", "Role", "r", user("system:serviceaccount:x:y")))
    assert idx.allowed(service_account_user("x", "y"), res("get", "pods", "ns", name="p"))


def test_system_masters_allowed_everything() -> None:
    idx = RBACIndex()
    admin = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
    assert idx.authorize(admin, res("delete", "nodes", name="n")) == Decision(True, "")
    assert idx.allowed(admin, RequestAttributes.non_resource("get", "/anything"))


def test_missing_cluster_role_reasons_aggregate() -> None:
    idx = RBACIndex(
        [
            cluster_role_binding("b1", "gone", user("eve")),
            cluster_role_binding("b2", "gone", user("eve")),
            cluster_role_binding("b3", "also-gone", user("eve")),
        ]
    )
    d = idx.authorize(UserInfo("eve"), res("get", "pods", "ns"))
    assert d == Decision(
        False,
        'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
        'clusterrole.rbac.authorization.k8s.io "also-gone" not found]',
    )


def test_unknown_subject_kinds_and_unsupported_role_kind() -> None:
    b = role_binding("b", "ns", "Thing", "r", user("u"), {"kind": "Robot", "name": "u"})
    idx = RBACIndex([b])
    assert idx.authorize(UserInfo("u"), res("get", "pods", "ns")) == Decision(
        False, 'RBAC: unsupported role reference kind: "Thing"'
    )


# --------------------------------------------------------------------------------- incremental updates


def test_incremental_add_update_remove() -> None:
    idx = RBACIndex()
    u = UserInfo("u")
    a = res("get", "pods", "ns", name="p")
    idx.upsert(role_binding("b", "ns", "Role", "r", user("u")))
    assert idx.authorize(u, a) == Decision(False, 'RBAC: role.rbac.authorization.k8s.io "r" not found')
    idx.upsert(role("r", "ns", rule(["get"], [""], ["pods"])))
    assert idx.allowed(u, a)
    idx.upsert(role("r", "ns", rule(["list"], [""], ["pods"])))  # rules replaced
    assert not idx.allowed(u, a)
    idx.upsert(role("r", "ns", rule(["get"], [""], ["pods"])))
    idx.upsert(role_binding("b", "ns", "Role", "r", user("someone-else")))  # subjects replaced
    assert not idx.allowed(u, a)
    idx.upsert(role_binding("b", "ns", "Role", "r", user("u")))
    assert idx.allowed(u, a)
    idx.remove("RoleBinding", "ns", "b")
    assert not idx.allowed(u, a)
    idx.upsert(cluster_role("cr", rule(["get"], [""], ["pods"])))
    crb = cluster_role_binding("crb", "cr", user("u"))
    idx.upsert(crb)
    assert idx.allowed(u, a)
    idx.remove_object(crb)
    assert not idx.allowed(u, a)
    idx.remove("Role", "ns", "nope")  # unknown: no error
    idx.upsert({"kind": "ConfigMap", "metadata": {"name": "x"}})  # other kinds ignored


def _objects_strategy() -> st.SearchStrategy[list[tuple[str, dict[str, Any]]]]:
    names = st.sampled_from(["a", "b", "c"])
    nss = st.sampled_from(["n1", "n2"])
    subjects = st.one_of(
        names.map(lambda n: user("u-" + n)),
        names.map(lambda n: group("g-" + n)),
        st.tuples(names, st.one_of(st.none(), nss)).map(lambda t: sa("s-" + t[0], t[1])),
    )
    rules = st.builds(
        lambda v, r: rule([v], [""], [r]),
        st.sampled_from(["get", "list", "*"]),
        st.sampled_from(["pods", "secrets", "*", "pods/log"]),
    )
    objs = st.one_of(
        st.builds(lambda n, ns, rs: role(n, ns, *rs), names, nss, st.lists(rules, max_size=2)),
        st.builds(lambda n, rs: cluster_role(n, *rs), names, st.lists(rules, max_size=2)),
        st.builds(
            lambda n, ns, k, r, ss: role_binding(n, ns, k, r, *ss),
            names,
            nss,
            st.sampled_from(["Role", "ClusterRole"]),
            names,
            st.lists(subjects, max_size=3),
        ),
        st.builds(
            lambda n, r, ss: cluster_role_binding(n, r, *ss), names, names, st.lists(subjects, max_size=3)
        ),
    )
    return st.lists(st.tuples(st.sampled_from(["upsert", "remove"]), objs), max_size=25)


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


@settings(max_examples=60, deadline=None)
@given(_objects_strategy())
def test_incremental_index_equals_fresh_index(ops: list[tuple[str, dict[str, Any]]]) -> None:
    """Any sequence of upserts/removes decides exactly like an index built from the surviving objects."""
    live: dict[tuple[str, str, str], dict[str, Any]] = {}
    idx = RBACIndex()
    for op, obj in ops:
        if op == "upsert":
            idx.upsert(obj)
            live[_key(obj)] = obj
        else:
            idx.remove_object(obj)
            live.pop(_key(obj), None)
    fresh = RBACIndex(live.values())
    users = [
        UserInfo("u-a", ("g-b",)),
        UserInfo("u-c"),
        service_account_user("n1", "s-a"),
        service_account_user("n2", "s-b"),
        UserInfo("x", ("g-c", "g-a")),
    ]
    for u in users:
        for ns in ("n1", "n2", ""):
            for verb in ("get", "list"):
                for resource, sub in (("pods", ""), ("secrets", ""), ("pods", "log")):
                    a = res(verb, resource, ns, name="o", sub=sub)
                    assert idx.authorize(u, a) == fresh.authorize(u, a)
            assert idx.rules_for(u, ns) == fresh.rules_for(u, ns)


def test_many_bindings_is_fast() -> None:
    objs: list[dict[str, Any]] = [cluster_role("reader", rule(["get"], [""], ["pods"]))]
    for i in range(5000):
        ns = f"ns{i % 500}"
        objs.append(role(f"r{i}", ns, rule(["get"], [""], ["configmaps"])))
        objs.append(role_binding(f"b{i}", ns, "Role", f"r{i}", sa(f"sa{i}")))
        objs.append(cluster_role_binding(f"crb{i}", "reader", user(f"user{i}")))
    idx = RBACIndex(objs)
    me = service_account_user("ns7", "sa4007")
    start = time.perf_counter()
    for _ in range(2000):
        assert idx.allowed(me, res("get", "configmaps", "ns7", name="c"))
        assert not idx.allowed(me, res("get", "pods", "ns7", name="c"))
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed


# ------------------------------------------------------------------------------------- reviews and rules


def test_subject_access_review() -> None:
    idx = RBACIndex(
        [
            role("r", "hub", rule(["create"], [JNI_GROUP], ["jupyternotebookinstances"])),
            role_binding("b", "hub", "Role", "r", sa("hub")),
        ]
    )
    spec = {
        "user": "system:serviceaccount:hub:hub",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:hub", "system:authenticated"],
        "resourceAttributes": {
            "namespace": "hub",
            "verb": "create",
            "group": JNI_GROUP,
            "resource": "jupyternotebookinstances",
        },
    }
    assert idx.subject_access_review(spec) == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "b/hub" of Role "r" to ServiceAccount "hub/hub"',
    }
    spec["resourceAttributes"] = {"namespace": "hub", "verb": "create", "resource": "pods"}
    assert idx.subject_access_review(spec) == {"allowed": False}
    nr = {"user": "u", "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}
    assert idx.subject_access_review(nr) == {"allowed": False}


def test_subject_access_review_validation() -> None:
    idx = RBACIndex()
    with pytest.raises(ApiError) as exc:
        idx.subject_access_review({"resourceAttributes": {"verb": "get", "resource": "pods"}})
    assert exc.value.code == 422
    # Upstream names the kind of the decoded internal object, which is empty: ".authorization.k8s.io".
    assert exc.value.message == (
        '.authorization.k8s.io "" is invalid: '
        'spec.user: Invalid value: "": at least one of user or group must be specified'
    )
    with pytest.raises(ApiError) as exc:
        idx.self_subject_access_review(UserInfo("u"), {})
    assert exc.value.message == (
        '.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
        "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified"
    )


def test_local_subject_access_review() -> None:
    idx = RBACIndex(
        [role("r", "a", rule(["get"], [""], ["pods"])), role_binding("b", "a", "Role", "r", user("u"))]
    )
    spec = {"user": "u", "resourceAttributes": {"namespace": "a", "verb": "get", "resource": "pods"}}
    assert idx.local_subject_access_review("a", spec)["allowed"] is True
    with pytest.raises(ApiError) as exc:
        idx.local_subject_access_review("b", spec)
    assert 'spec.resourceAttributes.namespace: Invalid value: "a": must match metadata.namespace' in (
        exc.value.message
    )


def test_bootstrap_lets_any_service_account_discover_and_ask() -> None:
    idx = RBACIndex(bootstrap_policy())
    me = service_account_user("hub", "hub")
    for path in (
        "/api",
        "/api/v1",
        "/apis",
        "/apis/kadense.io/v1",
        "/version",
        "/openapi/v2",
        "/openapi/v3/apis/apps/v1",
        "/healthz",
        "/livez",
        "/readyz",
    ):
        assert idx.allowed(me, RequestAttributes.non_resource("get", path)), path
    assert not idx.allowed(me, RequestAttributes.non_resource("get", "/metrics"))
    assert not idx.allowed(me, RequestAttributes.non_resource("post", "/api"))
    # kubectl auth can-i: create selfsubjectaccessreviews / selfsubjectrulesreviews; auth whoami
    assert idx.allowed(me, res("create", "selfsubjectaccessreviews", group="authorization.k8s.io"))
    assert idx.allowed(me, res("create", "selfsubjectrulesreviews", group="authorization.k8s.io"))
    assert idx.allowed(me, res("create", "selfsubjectreviews", group="authentication.k8s.io"))
    assert not idx.allowed(me, res("create", "subjectaccessreviews", group="authorization.k8s.io"))
    assert not idx.allowed(me, res("list", "pods", "hub"))
    # anonymous: only the public info
    assert idx.allowed(ANONYMOUS, RequestAttributes.non_resource("get", "/version"))
    assert not idx.allowed(ANONYMOUS, RequestAttributes.non_resource("get", "/api"))
    d = idx.self_subject_access_review(me, {"nonResourceAttributes": {"path": "/apis", "verb": "get"}})
    assert d == {
        "allowed": True,
        "reason": 'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" '
        'to Group "system:authenticated"',
    }


def test_bootstrap_admin_edit_view() -> None:
    objs = bootstrap_policy()
    by_name = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterRole"}
    assert {
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
    } <= set(by_name)
    crbs = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterRoleBinding"}
    assert crbs["cluster-admin"]["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
    ]
    assert resolve_aggregation(by_name.values()) == {}  # already resolved
    idx = RBACIndex(
        [
            *objs,
            role_binding("v", "team", "ClusterRole", "view", user("viewer")),
            role_binding("e", "team", "ClusterRole", "edit", user("editor")),
            role_binding("a", "team", "ClusterRole", "admin", user("admin")),
        ]
    )
    viewer, editor, admin = UserInfo("viewer"), UserInfo("editor"), UserInfo("admin")
    assert idx.allowed(viewer, res("get", "pods", "team", name="p", sub="log"))
    assert not idx.allowed(viewer, res("get", "secrets", "team", name="s"))
    assert not idx.allowed(viewer, res("create", "pods", "team"))
    assert idx.allowed(editor, res("create", "pods", "team"))
    assert idx.allowed(editor, res("list", "secrets", "team"))  # edit includes view plus secrets
    assert idx.allowed(editor, res("get", "deployments", "team", name="d", group="apps"))
    assert not idx.allowed(editor, res("create", "rolebindings", "team", group="rbac.authorization.k8s.io"))
    assert idx.allowed(admin, res("create", "rolebindings", "team", group="rbac.authorization.k8s.io"))
    assert idx.allowed(admin, res("get", "pods", "team", name="p"))  # admin aggregates edit aggregates view
    assert not idx.allowed(admin, res("get", "pods", "elsewhere", name="p"))
    master = UserInfo("root", ("system:masters",))
    assert idx.rules_for(master, "x")[0][0] == {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}


def test_rules_for_and_rules_review() -> None:
    idx = RBACIndex(
        [
            *bootstrap_policy(),
            role(
                "r",
                "hub",
                rule(["create"], [JNI_GROUP], ["jupyternotebookinstances"]),
                rule(["get"], [""], ["configmaps"], names=["c"]),
            ),
            role_binding("b", "hub", "Role", "r", sa("hub")),
            role_binding("missing", "hub", "Role", "gone", sa("hub")),
        ]
    )
    resource_rules, non_resource_rules = idx.rules_for(HUB, "hub")
    assert {
        "verbs": ["create"],
        "apiGroups": [JNI_GROUP],
        "resources": ["jupyternotebookinstances"],
    } in resource_rules
    assert {
        "verbs": ["get"],
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": ["c"],
    } in resource_rules
    assert {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    } in resource_rules
    assert any("/apis/*" in r["nonResourceURLs"] for r in non_resource_rules)
    status = idx.self_subject_rules_review(HUB, {"namespace": "hub"})
    assert status["incomplete"] is False
    assert status["evaluationError"] == 'role.rbac.authorization.k8s.io "gone" not found'
    other_ns, _ = idx.rules_for(HUB, "other")
    assert not any(JNI_GROUP in r.get("apiGroups", []) for r in other_ns)
    with pytest.raises(ApiError) as exc:
        idx.self_subject_rules_review(HUB, {})
    assert (exc.value.code, exc.value.message) == (400, "no namespace on request")


def test_hub_least_privilege_role() -> None:
    """Issue 5's Role: JNIs create/get/list/watch/patch/delete; Secrets create/patch/delete only."""
    idx = RBACIndex(
        [
            *bootstrap_policy(),
            role(
                "jupyternetes-hub",
                "hub",
                rule(
                    ["create", "get", "list", "watch", "patch", "delete"],
                    [JNI_GROUP],
                    ["jupyternotebookinstances"],
                ),
                rule(["create", "patch", "delete"], [""], ["secrets"]),
            ),
            role_binding("jupyternetes-hub", "hub", "Role", "jupyternetes-hub", sa("hub")),
        ]
    )
    allowed = [
        ("create", "jupyternotebookinstances", "", JNI_GROUP),
        ("watch", "jupyternotebookinstances", "", JNI_GROUP),
        ("patch", "jupyternotebookinstances", "x", JNI_GROUP),
        ("create", "secrets", "", ""),
        ("delete", "secrets", "x", ""),
    ]
    denied = [
        ("get", "secrets", "x", ""),
        ("list", "secrets", "", ""),
        ("create", "pods", "", ""),
        ("get", "pods", "x", ""),
        ("create", "persistentvolumeclaims", "", ""),
        ("patch", "jupyternotebooktemplates", "t", JNI_GROUP),
        ("update", "jupyternotebookinstances", "x", JNI_GROUP),
        ("deletecollection", "jupyternotebookinstances", "", JNI_GROUP),
    ]
    for verb, resource, name, grp in allowed:
        assert idx.allowed(HUB, res(verb, resource, "hub", name=name, group=grp)), (verb, resource)
    for verb, resource, name, grp in denied:
        assert not idx.allowed(HUB, res(verb, resource, "hub", name=name, group=grp)), (verb, resource)


# ------------------------------------------------------------------------------------- aggregation helper


def test_label_selectors() -> None:
    labels = {"a": "1", "b": "2"}
    assert label_selector_matches({}, labels)
    assert not label_selector_matches(None, labels)
    assert label_selector_matches({"matchLabels": {"a": "1"}}, labels)
    assert not label_selector_matches({"matchLabels": {"a": "2"}}, labels)
    assert label_selector_matches(
        {"matchExpressions": [{"key": "b", "operator": "In", "values": ["2", "3"]}]}, labels
    )
    assert label_selector_matches(
        {"matchExpressions": [{"key": "c", "operator": "NotIn", "values": ["1"]}]}, labels
    )
    assert label_selector_matches({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, labels)
    assert not label_selector_matches(
        {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, labels
    )


def test_aggregation() -> None:
    agg = {
        "kind": "ClusterRole",
        "metadata": {"name": "monitoring"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "monitoring"}}]},
        "rules": [],
    }
    r1 = cluster_role("z-pods", rule(["get"], [""], ["pods"]), labels={"agg": "monitoring"})
    r2 = cluster_role(
        "a-svc",
        rule(["get"], [""], ["services"]),
        rule(["get"], [""], ["pods"]),
        labels={"agg": "monitoring"},
    )
    r3 = cluster_role("unrelated", rule(["*"], ["*"], ["*"]))
    assert aggregate_rules(agg, [agg, r1, r2, r3]) == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["services"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
    ]
    assert aggregate_rules(r1, [r1]) is None
    assert resolve_aggregation([agg, r1, r2, r3]) == {"monitoring": aggregate_rules(agg, [r1, r2])}


# ----------------------------------------------------------------------------------- request parsing etc.


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/ns/pods/p/log", {}, res("get", "pods", "ns", name="p", sub="log")),
        ("GET", "/api/v1/namespaces/ns/pods", {}, res("list", "pods", "ns")),
        ("GET", "/api/v1/pods", {"watch": "true"}, res("watch", "pods")),
        ("GET", "/api/v1/watch/namespaces/ns/pods", {}, res("watch", "pods", "ns")),
        (
            "POST",
            "/apis/kadense.io/v1/namespaces/hub/jupyternotebookinstances",
            {},
            res("create", "jupyternotebookinstances", "hub", group="kadense.io"),
        ),
        ("DELETE", "/api/v1/namespaces/ns/secrets", {}, res("deletecollection", "secrets", "ns")),
        ("DELETE", "/api/v1/namespaces/ns/secrets/s", {}, res("delete", "secrets", "ns", name="s")),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
            {},
            res("patch", "deployments", "ns", name="d", group="apps", sub="scale"),
        ),
        (
            "PUT",
            "/api/v1/namespaces/ns/status",
            {},
            res("update", "namespaces", "ns", name="ns", sub="status"),
        ),
        ("GET", "/api/v1/namespaces/ns", {}, res("get", "namespaces", "ns", name="ns")),
        ("GET", "/api/v1/namespaces", {}, res("list", "namespaces")),
        (
            "POST",
            "/api/v1/namespaces/ns/serviceaccounts/hub/token",
            {},
            res("create", "serviceaccounts", "ns", name="hub", sub="token"),
        ),
        (
            "GET",
            "/api/v1/namespaces/ns/pods/p/proxy/some/path",
            {},
            res("get", "pods", "ns", name="p", sub="proxy"),
        ),
        ("GET", "/api/v1/nodes/n", {}, res("get", "nodes", name="n")),
    ],
)
def test_request_attributes(
    method: str, path: str, query: dict[str, str], expected: RequestAttributes
) -> None:
    got = request_attributes(method, path, query)
    assert got == RequestAttributes(
        expected.verb,
        expected.api_group,
        expected.resource,
        expected.subresource,
        expected.name,
        expected.namespace,
        path,
        True,
    )


@pytest.mark.parametrize(
    "path", ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/openapi/v2", "/healthz"]
)
def test_request_attributes_non_resource(path: str) -> None:
    assert request_attributes("GET", path) == RequestAttributes.non_resource("get", path)


def test_impersonation_checks() -> None:
    checks, who = impersonation_checks("system:serviceaccount:hub:hub")
    assert checks == [RequestAttributes("impersonate", "", "serviceaccounts", "", "hub", "hub")]
    assert who == service_account_user("hub", "hub")
    checks, who = impersonation_checks("jane", ["devs"], extra={"scopes": ["a"]})
    assert [c.resource for c in checks] == ["users", "groups", "userextras"]
    assert checks[2].subresource == "scopes"
    assert who.groups == ("devs", "system:authenticated")
    _, anon = impersonation_checks("system:anonymous")
    assert anon == ANONYMOUS


def test_service_account_names() -> None:
    assert parse_service_account_username("system:serviceaccount:ns:name") == ("ns", "name")
    assert parse_service_account_username("system:serviceaccount:ns") is None
    assert parse_service_account_username("alice") is None
    assert service_account_user("ns", "n").groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:ns",
        "system:authenticated",
    )
