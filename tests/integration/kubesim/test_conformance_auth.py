"""Authentication and authorization as the real API server answers them: anonymous requests, RBAC
escalation prevention (``escalate`` and ``bind``), ServiceAccount admission, the review APIs
(SelfSubjectReview, SelfSubjectAccessReview, SubjectAccessReview), TokenRequest and the use of its tokens,
and impersonation.

Every identity here is a ServiceAccount of the test's namespace (tokens from TokenRequest) or a user the
admin impersonates, so the same code runs on kubesim and on upstream."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.clusters import ClusterUnderTest

from .conformance_support import Response, http

RBAC = "/apis/rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
AUTHN = "/apis/authentication.k8s.io/v1"
AUTHZ = "/apis/authorization.k8s.io/v1"
ISSUER = "https://kubernetes.default.svc.cluster.local"  # both backends' ServiceAccount issuer and audience


def _sa_groups(ns: str) -> list[str]:
    return ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]


def _go_groups(ns: str) -> str:
    """The groups as Go's %q prints a []string."""
    return "[" + " ".join(f'"{g}"' for g in _sa_groups(ns)) + "]"


def _created(resp: Response) -> dict[str, Any]:
    assert resp.status == 201, resp.body
    body: dict[str, Any] = resp.json()
    return body


def _service_account(cluster: ClusterUnderTest, ns: str, name: str) -> tuple[str, str]:
    """Create a ServiceAccount; returns (its uid, a token of it)."""
    sa = _created(
        http(cluster, "POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": name}})
    )
    return str(sa["metadata"]["uid"]), cluster.token_for(name, ns)


def _role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "rules": rules}


def _binding(name: str, kind: str, role: str, subjects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": role},
        "subjects": subjects,
    }


def _sa_subject(ns: str, name: str) -> dict[str, Any]:
    return {"kind": "ServiceAccount", "name": name, "namespace": ns}


def _user(name: str) -> dict[str, Any]:
    return {"kind": "User", "name": name, "apiGroup": RBAC_GROUP}


def _grant(cluster: ClusterUnderTest, ns: str, sa: str, name: str, rules: list[dict[str, Any]]) -> None:
    """As the admin: a Role with these rules, bound to the ServiceAccount."""
    _created(http(cluster, "POST", f"{RBAC}/namespaces/{ns}/roles", _role(name, rules)))
    _created(
        http(
            cluster,
            "POST",
            f"{RBAC}/namespaces/{ns}/rolebindings",
            _binding(name, "Role", name, [_sa_subject(ns, sa)]),
        )
    )


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _whoami(
    cluster: ClusterUnderTest, token: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    return http(cluster, "POST", f"{AUTHN}/selfsubjectreviews", body, token=token, headers=headers)


# ------------------------------------------------------------------------------------------ anonymous


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/livez"])
def test_health_endpoints_answer_anonymous_requests(cluster: ClusterUnderTest, path: str) -> None:
    resp = http(cluster, "GET", path, token="")
    assert resp.status == 200
    assert resp.body == b"ok"


def test_anonymous_requests_are_system_anonymous(cluster: ClusterUnderTest, ns: str) -> None:
    """Without credentials a request is system:anonymous in system:unauthenticated (anonymous auth is on by
    default): RBAC lets it read /version and the health endpoints and answers 403 elsewhere."""
    version = http(cluster, "GET", "/version", token="")
    assert version.status == 200
    assert version.json()["gitVersion"].startswith(f"v1.{cluster.release.minor}.")
    resp = http(cluster, "GET", "/api", token="")
    assert resp.status == 403
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'forbidden: User "system:anonymous" cannot get path "/api"',
        "reason": "Forbidden",
        "details": {},
        "code": 403,
    }
    resp = http(cluster, "GET", f"/api/v1/namespaces/{ns}/pods", token="")
    assert resp.status == 403
    body = resp.json()
    assert body["message"] == (
        f'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the '
        f'namespace "{ns}"'
    )
    assert body["details"] == {"kind": "pods"}
    # Not even "who am I": system:basic-user is bound to system:authenticated only.
    resp = _whoami(cluster, token="")
    assert resp.status == 403
    assert resp.json()["message"] == (
        'selfsubjectreviews.authentication.k8s.io is forbidden: User "system:anonymous" cannot create '
        'resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope'
    )


@pytest.mark.parametrize("path", ["/healthz", "/version", "/api/v1/namespaces"])
def test_a_token_that_does_not_authenticate_is_401(cluster: ClusterUnderTest, path: str) -> None:
    """Anonymous is only for requests without credentials: a bad token is refused, whatever the path."""
    resp = http(cluster, "GET", path, token="not-a-token")
    assert resp.status == 401
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


# ------------------------------------------------------------------------------------------ escalation


@pytest.fixture
def creator(cluster: ClusterUnderTest, ns: str) -> str:
    """A ServiceAccount that may write Roles and RoleBindings and read ConfigMaps in the namespace; its
    token."""
    _, token = _service_account(cluster, ns, "creator")
    _grant(
        cluster,
        ns,
        "creator",
        "rbac-writer",
        [
            {
                "apiGroups": [RBAC_GROUP],
                "resources": ["roles", "rolebindings"],
                "verbs": ["create", "update", "get", "patch"],
            },
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
        ],
    )
    return token


def _escalation(ns: str, *rules: str) -> str:
    return (
        f'user "system:serviceaccount:{ns}:creator" (groups={_go_groups(ns)}) is attempting to grant RBAC '
        "permissions not currently held:\n" + "\n".join(rules)
    )


def test_a_role_granting_what_its_writer_lacks_is_refused(
    cluster: ClusterUnderTest, ns: str, creator: str
) -> None:
    roles = f"{RBAC}/namespaces/{ns}/roles"
    held = _role("held", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])
    _created(http(cluster, "POST", roles, held, token=creator))
    escalating = _role(
        "esc",
        [
            {"apiGroups": [""], "resources": ["secrets", "pods"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "delete"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"], "resourceNames": ["d1"]},
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
        ],
    )
    resp = http(cluster, "POST", roles, escalating, token=creator)
    assert resp.status == 403
    # What is missing, one line per group and resource, sorted; what the writer holds is left out.
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'roles.rbac.authorization.k8s.io "esc" is forbidden: '
        + _escalation(
            ns,
            '{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}',
            '{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
            '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}',
            '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["d1"], Verbs:["*"]}',
            '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
        ),
        "reason": "Forbidden",
        "details": {"name": "esc", "group": RBAC_GROUP, "kind": "roles"},
        "code": 403,
    }
    # An update is checked the same way, on all the rules it leaves...
    current = http(cluster, "GET", f"{roles}/held").json()
    current["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["watch"]})
    resp = http(cluster, "PUT", f"{roles}/held", current, token=creator)
    assert resp.status == 403
    assert resp.json()["message"] == 'roles.rbac.authorization.k8s.io "held" is forbidden: ' + _escalation(
        ns, '{APIGroups:[""], Resources:["secrets"], Verbs:["watch"]}'
    )
    # ...but a role it may escalate is written whatever it grants (once valid: the escalation check came
    # first, validation refuses a namespaced rule on non-resource URLs).
    _grant(
        cluster,
        ns,
        "creator",
        "escalator",
        [{"apiGroups": [RBAC_GROUP], "resources": ["roles"], "verbs": ["escalate"]}],
    )
    resp = http(cluster, "POST", roles, escalating, token=creator)
    assert resp.status == 422
    assert resp.json()["message"] == (
        'Role.rbac.authorization.k8s.io "esc" is invalid: rules[3].nonResourceURLs: Invalid value: '
        '["/metrics"]: namespaced rules cannot apply to non-resource URLs'
    )
    escalating["rules"].pop()
    _created(http(cluster, "POST", roles, escalating, token=creator))


def test_changing_only_what_the_garbage_collector_uses_needs_no_rights_over_the_rules(
    cluster: ClusterUnderTest, ns: str, creator: str
) -> None:
    roles = f"{RBAC}/namespaces/{ns}/roles"
    _created(
        http(
            cluster,
            "POST",
            roles,
            _role("admins", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]),
        )
    )
    patch = {"metadata": {"finalizers": ["example.com/keep"]}}
    resp = http(
        cluster, "PATCH", f"{roles}/admins", patch, content_type="application/merge-patch+json", token=creator
    )
    assert resp.status == 200, resp.body
    patch = {"metadata": {"labels": {"a": "b"}, "finalizers": None}}
    resp = http(
        cluster, "PATCH", f"{roles}/admins", patch, content_type="application/merge-patch+json", token=creator
    )
    assert resp.status == 403
    assert resp.json()["message"] == 'roles.rbac.authorization.k8s.io "admins" is forbidden: ' + _escalation(
        ns, '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    )


def test_a_binding_granting_what_its_writer_lacks_is_refused(
    cluster: ClusterUnderTest, ns: str, creator: str
) -> None:
    bindings = f"{RBAC}/namespaces/{ns}/rolebindings"
    _created(
        http(
            cluster,
            "POST",
            f"{RBAC}/namespaces/{ns}/roles",
            _role("held", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]),
        )
    )
    _created(
        http(
            cluster,
            "POST",
            f"{RBAC}/namespaces/{ns}/roles",
            _role("secret-reader", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]),
        )
    )
    _created(
        http(cluster, "POST", bindings, _binding("bob-held", "Role", "held", [_user("bob")]), token=creator)
    )
    resp = http(
        cluster,
        "POST",
        bindings,
        _binding("bob-secrets", "Role", "secret-reader", [_user("bob")]),
        token=creator,
    )
    assert resp.status == 403
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'rolebindings.rbac.authorization.k8s.io "bob-secrets" is forbidden: '
        + _escalation(ns, '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'),
        "reason": "Forbidden",
        "details": {"name": "bob-secrets", "group": RBAC_GROUP, "kind": "rolebindings"},
        "code": 403,
    }
    # A role that does not exist: its look-up fails, and the error names the binding's resource.
    resp = http(
        cluster, "POST", bindings, _binding("bob-nothing", "Role", "nope", [_user("bob")]), token=creator
    )
    assert resp.status == 404
    assert resp.json()["message"] == 'rolebindings.rbac.authorization.k8s.io "nope" not found'
    assert resp.json()["details"] == {"name": "nope", "group": RBAC_GROUP, "kind": "rolebindings"}
    # With bind on that role (by name), the binding is written.
    _grant(
        cluster,
        ns,
        "creator",
        "binder",
        [
            {
                "apiGroups": [RBAC_GROUP],
                "resources": ["roles"],
                "verbs": ["bind"],
                "resourceNames": ["secret-reader"],
            }
        ],
    )
    _created(
        http(
            cluster,
            "POST",
            bindings,
            _binding("bob-secrets", "Role", "secret-reader", [_user("bob")]),
            token=creator,
        )
    )
    resp = http(
        cluster, "POST", bindings, _binding("bob-view", "ClusterRole", "view", [_user("bob")]), token=creator
    )
    assert resp.status == 403


def test_an_aggregated_cluster_role_needs_full_authority(cluster: ClusterUnderTest, ns: str) -> None:
    _, token = _service_account(cluster, ns, "aggregator")
    role = f"{ns}-role-writer"
    _created(
        http(
            cluster,
            "POST",
            f"{RBAC}/clusterroles",
            _role(role, [{"apiGroups": [RBAC_GROUP], "resources": ["clusterroles"], "verbs": ["create"]}]),
        )
    )
    _created(
        http(
            cluster,
            "POST",
            f"{RBAC}/clusterrolebindings",
            _binding(role, "ClusterRole", role, [_sa_subject(ns, "aggregator")]),
        )
    )
    aggregated = {
        "metadata": {"name": f"{ns}-aggregated"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {f"{ns}/aggregate": "true"}}]},
    }
    resp = http(cluster, "POST", f"{RBAC}/clusterroles", aggregated, token=token)
    assert resp.status == 403
    assert resp.json()["message"] == (
        f'clusterroles.rbac.authorization.k8s.io "{ns}-aggregated" is forbidden: must have cluster-admin '
        "privileges to use the aggregationRule"
    )
    _created(
        http(
            cluster,
            "POST",
            f"{RBAC}/clusterroles",
            {"metadata": {"name": f"{ns}-plain"}, "rules": []},
            token=token,
        )
    )


# ------------------------------------------------------------------------------- ServiceAccount admission


@pytest.mark.parametrize("field", ["serviceAccountName", "serviceAccount"])
def test_a_pod_naming_a_missing_service_account_is_refused(
    cluster: ClusterUnderTest, ns: str, field: str
) -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {field: "missing", "containers": [{"name": "c", "image": "busybox:1.36"}]},
    }
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/pods", pod)
    assert resp.status == 403
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'pods "p" is forbidden: error looking up service account {ns}/missing: serviceaccount '
        '"missing" not found',
        "reason": "Forbidden",
        "details": {"name": "p", "kind": "pods"},
        "code": 403,
    }
    _service_account(cluster, ns, "missing")
    created = _created(
        http(
            cluster,
            "POST",
            f"/api/v1/namespaces/{ns}/pods",
            {**pod, "spec": {**pod["spec"], "schedulerName": "nobody"}},
        )
    )
    assert (created["spec"]["serviceAccountName"], created["spec"]["serviceAccount"]) == (
        "missing",
        "missing",
    )


# ------------------------------------------------------------------------------------------ reviews


def test_self_subject_review(cluster: ClusterUnderTest, ns: str) -> None:
    uid, token = _service_account(cluster, ns, "robot")
    review = _created(_whoami(cluster, token))
    assert (review["kind"], review["apiVersion"]) == ("SelfSubjectReview", "authentication.k8s.io/v1")
    assert "creationTimestamp" in review["metadata"]
    info = review["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{ns}:robot"
    assert info["uid"] == uid
    assert info["groups"] == _sa_groups(ns)
    # The credential id names the token (its jti claim).
    assert info["extra"] == {"authentication.kubernetes.io/credential-id": [f"JTI={_claims(token)['jti']}"]}


def test_self_subject_access_review(cluster: ClusterUnderTest, ns: str) -> None:
    _, token = _service_account(cluster, ns, "robot")
    path = f"{AUTHZ}/selfsubjectaccessreviews"
    spec = {"resourceAttributes": {"namespace": ns, "verb": "get", "resource": "pods"}}
    review = _created(http(cluster, "POST", path, {"spec": spec}, token=token))
    assert (review["kind"], review["apiVersion"]) == ("SelfSubjectAccessReview", "authorization.k8s.io/v1")
    assert review["spec"] == spec
    assert review["status"] == {"allowed": False}
    spec = {
        "resourceAttributes": {
            "group": "authorization.k8s.io",
            "verb": "create",
            "resource": "selfsubjectaccessreviews",
        }
    }
    review = _created(http(cluster, "POST", path, {"spec": spec}, token=token))
    assert review["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole '
        '"system:basic-user" to Group "system:authenticated"',
    }
    _grant(cluster, ns, "robot", "pod-reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    spec = {"resourceAttributes": {"namespace": ns, "verb": "get", "resource": "pods"}}
    review = _created(http(cluster, "POST", path, {"spec": spec}, token=token))
    assert review["status"] == {
        "allowed": True,
        "reason": f'RBAC: allowed by RoleBinding "pod-reader/{ns}" of Role "pod-reader" to '
        f'ServiceAccount "robot/{ns}"',
    }


def test_access_review_specs_are_validated(cluster: ClusterUnderTest, ns: str) -> None:
    """The review's kind is not in the error's message (upstream names it from the decoded object's type,
    which is empty there)."""
    _, token = _service_account(cluster, ns, "robot")
    # From 1.37 the two attributes are a union (declarative validation's): either error is the union's, on
    # the spec itself, with one message for none and for both.
    union = cluster.upstream_since(37)
    resp = http(cluster, "POST", f"{AUTHZ}/selfsubjectaccessreviews", {"spec": {}}, token=token)
    assert resp.status == 422
    field = "spec" if union else "spec.resourceAttributes"
    assert resp.json()["message"] == (
        f'.authorization.k8s.io "" is invalid: {field}: Invalid value: null: exactly one of '
        "nonResourceAttributes or resourceAttributes must be specified"
    )
    assert resp.json()["details"] == {
        "group": "authorization.k8s.io",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes "
                "must be specified",
                "field": field,
            }
        ],
    }
    both = {
        "resourceAttributes": {"verb": "get", "resource": "pods"},
        "nonResourceAttributes": {"path": "/x", "verb": "get"},
    }
    resp = http(cluster, "POST", f"{AUTHZ}/selfsubjectaccessreviews", {"spec": both}, token=token)
    assert resp.status == 422
    assert resp.json()["message"] == (
        '.authorization.k8s.io "" is invalid: spec: Invalid value: {"Path":"/x","Verb":"get"}: exactly one '
        "of nonResourceAttributes or resourceAttributes must be specified"
        if union
        else '.authorization.k8s.io "" is invalid: spec.nonResourceAttributes: Invalid value: '
        '{"Path":"/x","Verb":"get"}: cannot be specified in combination with resourceAttributes'
    )
    resp = http(
        cluster,
        "POST",
        f"{AUTHZ}/subjectaccessreviews",
        {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}},
    )
    assert resp.status == 422
    assert resp.json()["message"] == (
        '.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group '
        "must be specified"
    )


def test_subject_access_review(cluster: ClusterUnderTest, ns: str) -> None:
    _, token = _service_account(cluster, ns, "robot")
    path = f"{AUTHZ}/subjectaccessreviews"
    spec: dict[str, Any] = {
        "user": "alice",
        "resourceAttributes": {"namespace": ns, "verb": "get", "resource": "pods"},
    }
    # Asking about others is the business of system:auth-delegator holders and admins.
    resp = http(cluster, "POST", path, {"spec": spec}, token=token)
    assert resp.status == 403
    assert resp.json()["message"] == (
        f'subjectaccessreviews.authorization.k8s.io is forbidden: User "system:serviceaccount:{ns}:robot" '
        'cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster '
        "scope"
    )
    assert _created(http(cluster, "POST", path, {"spec": spec}))["status"] == {"allowed": False}
    masters = {**spec, "groups": ["system:masters"]}
    assert _created(http(cluster, "POST", path, {"spec": masters}))["status"] == {"allowed": True}
    _created(
        http(
            cluster,
            "POST",
            f"{RBAC}/namespaces/{ns}/rolebindings",
            _binding("alice-view", "ClusterRole", "view", [_user("alice")]),
        )
    )
    review = _created(http(cluster, "POST", path, {"spec": spec}))
    assert review["status"] == {
        "allowed": True,
        "reason": f'RBAC: allowed by RoleBinding "alice-view/{ns}" of ClusterRole "view" to User "alice"',
    }
    local = _created(
        http(
            cluster,
            "POST",
            f"{AUTHZ}/namespaces/{ns}/localsubjectaccessreviews",
            {"spec": {**spec, "resourceAttributes": {**spec["resourceAttributes"], "verb": "list"}}},
        )
    )
    assert local["kind"] == "LocalSubjectAccessReview"
    assert local["metadata"]["namespace"] == ns
    assert local["status"]["allowed"] is True


# ------------------------------------------------------------------------------------------ TokenRequest


def _token_request(cluster: ClusterUnderTest, ns: str, sa: str, spec: dict[str, Any]) -> Response:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    return http(cluster, "POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token", body)


def test_token_request_defaults_and_claims(cluster: ClusterUnderTest, ns: str) -> None:
    uid, _ = _service_account(cluster, ns, "robot")
    answer = _created(_token_request(cluster, ns, "robot", {}))
    assert (answer["kind"], answer["apiVersion"]) == ("TokenRequest", "authentication.k8s.io/v1")
    meta = answer["metadata"]
    assert (meta["name"], meta["namespace"], meta["uid"]) == ("robot", ns, uid)
    assert meta["creationTimestamp"]
    assert answer["spec"] == {"audiences": [ISSUER], "expirationSeconds": 3600, "boundObjectRef": None}
    token = answer["status"]["token"]
    claims = _claims(token)
    assert sorted(claims) == ["aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"]
    assert (claims["iss"], claims["aud"], claims["sub"]) == (
        ISSUER,
        [ISSUER],
        f"system:serviceaccount:{ns}:robot",
    )
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"] == {"namespace": ns, "serviceaccount": {"name": "robot", "uid": uid}}
    assert answer["status"]["expirationTimestamp"].endswith("Z")
    answer = _created(
        _token_request(cluster, ns, "robot", {"audiences": ["a", "b"], "expirationSeconds": 700})
    )
    assert answer["spec"] == {"audiences": ["a", "b"], "expirationSeconds": 700, "boundObjectRef": None}
    claims = _claims(answer["status"]["token"])
    assert (claims["aud"], claims["exp"] - claims["iat"]) == (["a", "b"], 700)


def test_token_request_errors(cluster: ClusterUnderTest, ns: str) -> None:
    _service_account(cluster, ns, "robot")
    resp = _token_request(cluster, ns, "robot", {"expirationSeconds": 10})
    assert resp.status == 422
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid '
        "value: 10: may not specify a duration less than 10 minutes",
        "reason": "Invalid",
        "details": {
            "group": "authentication.k8s.io",
            "kind": "TokenRequest",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: 10: may not specify a duration less than 10 minutes",
                    "field": "spec.expirationSeconds",
                }
            ],
        },
        "code": 422,
    }
    resp = _token_request(cluster, ns, "nobody", {})
    assert resp.status == 404
    assert resp.json()["message"] == 'serviceaccounts "nobody" not found'
    assert resp.json()["details"] == {"name": "nobody", "kind": "serviceaccounts"}


def test_bound_tokens(cluster: ClusterUnderTest, ns: str, wait_for: Callable[..., Any]) -> None:
    uid, _ = _service_account(cluster, ns, "robot")
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "serviceAccountName": "robot",
            "schedulerName": "nobody",
            "containers": [{"name": "c", "image": "busybox:1.36"}],
        },
    }
    pod_uid = _created(http(cluster, "POST", f"/api/v1/namespaces/{ns}/pods", pod))["metadata"]["uid"]
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": pod_uid}
    answer = _created(_token_request(cluster, ns, "robot", {"boundObjectRef": ref}))
    assert answer["spec"]["boundObjectRef"] == ref
    token = answer["status"]["token"]
    claims = _claims(token)
    assert claims["kubernetes.io"] == {
        "namespace": ns,
        "pod": {"name": "p", "uid": pod_uid},
        "serviceaccount": {"name": "robot", "uid": uid},
    }
    info = _created(_whoami(cluster, token))["status"]["userInfo"]
    assert info["extra"] == {
        "authentication.kubernetes.io/credential-id": [f"JTI={claims['jti']}"],
        "authentication.kubernetes.io/pod-name": ["p"],
        "authentication.kubernetes.io/pod-uid": [pod_uid],
    }
    # The bound object must exist, with that uid, and run as that ServiceAccount.
    resp = _token_request(cluster, ns, "robot", {"boundObjectRef": {**ref, "uid": "nope"}})
    assert resp.status == 409
    assert resp.json()["message"] == (
        'Operation cannot be fulfilled on Pod "p": the UID in the bound object reference (nope) does not '
        "match the UID in record. The object might have been deleted and then recreated"
    )
    assert resp.json()["details"] == {"name": "p", "kind": "Pod"}
    resp = _token_request(cluster, ns, "robot", {"boundObjectRef": {**ref, "name": "nopod", "uid": ""}})
    assert resp.status == 404
    assert resp.json()["message"] == 'pods "nopod" not found'
    resp = _token_request(
        cluster, ns, "robot", {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}
    )
    assert resp.status == 400
    assert resp.json()["message"] == "cannot bind token to object of type /v1, Kind=ConfigMap"
    _service_account(cluster, ns, "other")
    resp = _token_request(cluster, ns, "other", {"boundObjectRef": ref})
    assert resp.status == 400
    assert resp.json()["message"] == (
        'cannot bind token for serviceaccount "other" to pod running with different serviceaccount name.'
    )
    # The kubelet's request (3607 s, the API's audience): the token lasts a year, warning after 3607 s,
    # while the answer still says 3607 s.
    answer = _created(
        _token_request(cluster, ns, "robot", {"boundObjectRef": ref, "expirationSeconds": 3607})
    )
    assert answer["spec"]["expirationSeconds"] == 3607
    claims = _claims(answer["status"]["token"])
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] == claims["iat"] + 3607
    # A bound token dies with its object.
    assert http(cluster, "DELETE", f"/api/v1/namespaces/{ns}/pods/p?gracePeriodSeconds=0").status == 200
    wait_for(lambda: _whoami(cluster, token).status == 401, timeout=30, what="the bound token refused")


def test_tokens_are_accepted_for_the_api_server_audience_only(
    cluster: ClusterUnderTest, ns: str, wait_for: Callable[..., Any]
) -> None:
    _service_account(cluster, ns, "robot")
    other = _created(_token_request(cluster, ns, "robot", {"audiences": ["https://vault.example.com"]}))
    assert _whoami(cluster, other["status"]["token"]).status == 401
    mine = _created(
        _token_request(cluster, ns, "robot", {"audiences": ["https://vault.example.com", ISSUER]})
    )
    token = mine["status"]["token"]
    assert _whoami(cluster, token).status == 201
    # Deleting the ServiceAccount invalidates its tokens.
    assert http(cluster, "DELETE", f"/api/v1/namespaces/{ns}/serviceaccounts/robot").status == 200
    wait_for(lambda: _whoami(cluster, token).status == 401, timeout=30, what="the token refused")


# ------------------------------------------------------------------------------------------ impersonation


def test_impersonation(cluster: ClusterUnderTest, ns: str) -> None:
    as_alice = {"Impersonate-User": "alice"}
    resp = http(cluster, "GET", f"/api/v1/namespaces/{ns}/secrets", headers=as_alice)
    assert resp.status == 403
    assert resp.json()["message"] == (
        f'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace '
        f'"{ns}"'
    )
    headers = {**as_alice, "Impersonate-Group": "devs", "Impersonate-Extra-Scopes": "a"}
    review = _created(_whoami(cluster, headers=headers))
    assert review["status"]["userInfo"] == {
        "username": "alice",
        "groups": ["devs", "system:authenticated"],
        "extra": {"scopes": ["a"]},
    }
    _service_account(cluster, ns, "robot")
    review = _created(_whoami(cluster, headers={"Impersonate-User": f"system:serviceaccount:{ns}:robot"}))
    assert review["status"]["userInfo"] == {
        "username": f"system:serviceaccount:{ns}:robot",
        "groups": _sa_groups(ns),
    }


def test_impersonation_needs_the_impersonate_verb(cluster: ClusterUnderTest, ns: str) -> None:
    _, token = _service_account(cluster, ns, "robot")
    resp = http(
        cluster, "GET", f"/api/v1/namespaces/{ns}/pods", token=token, headers={"Impersonate-User": "alice"}
    )
    assert resp.status == 403
    # From 1.36 (constrained impersonation) the refusal names the request's own verb and resource, which
    # the impersonator may be granted as `impersonate-on:user-info:<verb>`, rather than the impersonated user.
    refused = (
        {
            "message": f'pods is forbidden: User "system:serviceaccount:{ns}:robot" cannot '
            f'impersonate-on:user-info:list resource "pods" in API group "" in the namespace "{ns}"',
            "details": {"kind": "pods"},
        }
        if cluster.upstream_since(36)
        else {
            "message": f'users "alice" is forbidden: User "system:serviceaccount:{ns}:robot" cannot '
            'impersonate resource "users" in API group "" at the cluster scope',
            "details": {"name": "alice", "kind": "users"},
        }
    )
    assert resp.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": refused["message"],
        "reason": "Forbidden",
        "details": refused["details"],
        "code": 403,
    }
    role = f"{ns}-impersonate-alice"
    _created(
        http(
            cluster,
            "POST",
            f"{RBAC}/clusterroles",
            _role(
                role,
                [
                    {
                        "apiGroups": [""],
                        "resources": ["users"],
                        "verbs": ["impersonate"],
                        "resourceNames": ["alice"],
                    }
                ],
            ),
        )
    )
    _created(
        http(
            cluster,
            "POST",
            f"{RBAC}/clusterrolebindings",
            _binding(role, "ClusterRole", role, [_sa_subject(ns, "robot")]),
        )
    )
    review = _created(_whoami(cluster, token, headers={"Impersonate-User": "alice"}))
    assert review["status"]["userInfo"] == {"username": "alice", "groups": ["system:authenticated"]}


def test_impersonating_groups_without_a_user_is_an_error(cluster: ClusterUnderTest, ns: str) -> None:
    """A malformed impersonation request: Go's plain-text 500 (the filter's InternalError); from 1.35
    upstream answers a BadRequest Status."""
    path = f"/api/v1/namespaces/{ns}/pods"
    resp = http(cluster, "GET", path, headers={"Impersonate-Group": "devs"})
    if cluster.upstream_since(35):
        assert resp.status == 400
        assert resp.json()["reason"] == "BadRequest"
        # 1.36's impersonation filter (constrained impersonation) prints the whole user it was asked for.
        message = (
            'requested &user.DefaultInfo{Name:"", UID:"", Groups:[]string{"devs"}, '
            "Extra:map[string][]string(nil)} without impersonating a user name"
            if cluster.upstream_since(36)
            else "requested [{Group  devs    }] without impersonating a user"
        )
        assert resp.json()["message"] == message
        return
    assert resp.status == 500
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.body.decode() == (
        f'Internal Server Error: "{path}": requested [{{Group  devs    }}] without impersonating a user\n'
    )
