"""Bearer-token authentication: admin token, TokenRequest ServiceAccount tokens, anonymous paths."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubesim.authn import (
    ADMIN_USER,
    TokenAuthenticator,
    bearer_token,
    decode_token_claims,
    self_subject_review_status,
)
from kubesim.errors import ApiError
from kubesim.rbac import ANONYMOUS, UserInfo, service_account_user

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(clock: Clock) -> TokenAuthenticator:
    return TokenAuthenticator("admin-token", clock=clock)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_admin_token(auth: TokenAuthenticator) -> None:
    user = auth.authenticate("Bearer admin-token")
    assert user == ADMIN_USER
    assert user == UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
    assert auth.authenticate("bearer admin-token") == ADMIN_USER  # scheme is case-insensitive


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "admin-token", "Bearer wrong", "Bearer a.b.c"],
)
def test_bad_or_missing_credentials(auth: TokenAuthenticator, header: str | None) -> None:
    assert auth.authenticate(header) is None


def test_random_admin_token_by_default() -> None:
    a, b = TokenAuthenticator(), TokenAuthenticator()
    assert a.admin_token != b.admin_token
    assert len(a.admin_token) >= 32
    assert a.authenticate(bearer(a.admin_token)) == ADMIN_USER
    assert b.authenticate(bearer(a.admin_token)) is None


def test_token_request(auth: TokenAuthenticator) -> None:
    tr = auth.create_token("hub", "hub", "uid-1", {"audiences": [], "expirationSeconds": 7200})
    assert tr["kind"] == "TokenRequest"
    assert tr["apiVersion"] == "authentication.k8s.io/v1"
    assert tr["metadata"] == {
        "name": "hub",
        "namespace": "hub",
        "uid": "uid-1",
        "creationTimestamp": "2023-11-14T22:13:20Z",
    }
    assert tr["spec"] == {
        "audiences": ["https://kubernetes.default.svc.cluster.local"],
        "expirationSeconds": 7200,
        "boundObjectRef": None,
    }
    assert tr["status"]["expirationTimestamp"] == "2023-11-15T00:13:20Z"  # T0 (2023-11-14T22:13:20Z) + 2h
    user = auth.authenticate(bearer(tr["status"]["token"]))
    assert user is not None
    assert user.name == "system:serviceaccount:hub:hub"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:hub", "system:authenticated")
    assert user.uid == "uid-1"
    extra = dict(user.extra)
    assert extra["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")


def test_token_is_a_jwt_with_the_real_claims(auth: TokenAuthenticator) -> None:
    token = auth.issue_token("ns", "sa", "uid-9")
    header_b64, _, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    assert header["alg"] == "HS256"
    claims = decode_token_claims(token)
    assert claims is not None
    assert claims["sub"] == "system:serviceaccount:ns:sa"
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["kubernetes.io"] == {"namespace": "ns", "serviceaccount": {"name": "sa", "uid": "uid-9"}}
    assert claims["iat"] == claims["nbf"] == int(T0)
    assert claims["exp"] == int(T0) + 3600
    assert claims["jti"]
    assert decode_token_claims("not-a-jwt") is None


def test_tokens_expire(auth: TokenAuthenticator, clock: Clock) -> None:
    token = auth.issue_token("ns", "sa", "u", expiration_seconds=600)
    clock.now = T0 + 599
    assert auth.authenticate(bearer(token)) is not None
    clock.now = T0 + 600
    assert auth.authenticate(bearer(token)) is None


def test_deleting_the_service_account_invalidates_its_tokens(auth: TokenAuthenticator) -> None:
    token = auth.issue_token("ns", "sa", "uid-1")
    other = auth.issue_token("ns", "other", "uid-2")
    auth.invalidate_service_account("ns", "sa")
    assert auth.authenticate(bearer(token)) is None
    assert auth.authenticate(bearer(other)) is not None
    # recreated with a new uid: old tokens stay invalid, new ones work
    auth.register_service_account("ns", "sa", "uid-3")
    assert auth.authenticate(bearer(token)) is None
    new = auth.issue_token("ns", "sa", "uid-3")
    assert auth.authenticate(bearer(new)) == service_account_user("ns", "sa", "uid-3", dict_extra(auth, new))


def dict_extra(auth: TokenAuthenticator, token: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    claims = decode_token_claims(token)
    assert claims is not None
    return (("authentication.kubernetes.io/credential-id", (f"JTI={claims['jti']}",)),)


def test_uid_lookup_callable(clock: Clock) -> None:
    live: dict[tuple[str, str], str] = {("ns", "sa"): "uid-1"}
    auth = TokenAuthenticator(clock=clock, service_account_uid=lambda ns, n: live.get((ns, n)))
    token = auth.issue_token("ns", "sa", "uid-1")
    assert auth.authenticate(bearer(token)) is not None
    del live[("ns", "sa")]
    assert auth.authenticate(bearer(token)) is None


def test_forged_and_foreign_tokens_rejected(auth: TokenAuthenticator, clock: Clock) -> None:
    token = auth.issue_token("ns", "sa", "uid-1")
    h, p, s = token.split(".")
    claims = decode_token_claims(token)
    assert claims is not None
    claims["kubernetes.io"]["namespace"] = "kube-system"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert auth.authenticate(bearer(f"{h}.{forged_payload}.{s}")) is None
    assert auth.authenticate(bearer(f"{h}.{p}.")) is None
    assert auth.authenticate(bearer(f"{h}.{p}.!!!")) is None
    # another server (another signing key) does not accept it
    other = TokenAuthenticator(clock=clock)
    other.register_service_account("ns", "sa", "uid-1")
    assert other.authenticate(bearer(token)) is None
    # the same key (persisted across a restart) does, once the SA is known again
    restarted = TokenAuthenticator(clock=clock, signing_key=auth.signing_key)
    assert restarted.authenticate(bearer(token)) is None
    restarted.register_service_account("ns", "sa", "uid-1")
    assert restarted.authenticate(bearer(token)) is not None


def test_audiences(auth: TokenAuthenticator) -> None:
    vault = auth.create_token("ns", "sa", "u", {"audiences": ["vault"]})["status"]["token"]
    assert auth.authenticate(bearer(vault)) is None  # not for the API server
    both = auth.create_token(
        "ns", "sa", "u", {"audiences": ["vault", "https://kubernetes.default.svc.cluster.local"]}
    )
    assert auth.authenticate(bearer(both["status"]["token"])) is not None
    review = auth.token_review({"token": vault, "audiences": ["vault"]})
    assert review == {"authenticated": False, "user": {}, "error": "invalid bearer token"}


def test_expiration_validation(auth: TokenAuthenticator) -> None:
    with pytest.raises(ApiError) as exc:
        auth.create_token("ns", "sa", "u", {"expirationSeconds": 599})
    assert exc.value.code == 422
    assert exc.value.message == (
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
        "Invalid value: 599: may not specify a duration less than 10 minutes"
    )
    with pytest.raises(ApiError) as exc:
        auth.create_token("ns", "sa", "u", {"expirationSeconds": (1 << 32) + 1})
    assert "may not specify a duration larger than 2^32 seconds" in exc.value.message
    with pytest.raises(ApiError) as exc:
        auth.create_token("ns", "sa", "u", {}, metadata={"name": "other"})
    assert 'metadata.name: Invalid value: "other": must match the service account name' in exc.value.message
    capped = TokenAuthenticator(max_expiration_seconds=1000)
    assert (
        capped.create_token("ns", "sa", "u", {"expirationSeconds": 5000})["spec"]["expirationSeconds"] == 1000
    )


def test_pod_bound_tokens(auth: TokenAuthenticator) -> None:
    bound: dict[str, Any] = {"kind": "Pod", "apiVersion": "v1", "name": "jupyter-alice", "uid": "pod-uid"}
    tr = auth.create_token("ns", "sa", "u", {"boundObjectRef": bound})
    token = tr["status"]["token"]
    claims = decode_token_claims(token)
    assert claims is not None
    assert claims["kubernetes.io"]["pod"] == {"name": "jupyter-alice", "uid": "pod-uid"}
    user = auth.authenticate(bearer(token))
    assert user is not None
    assert dict(user.extra)["authentication.kubernetes.io/pod-name"] == ("jupyter-alice",)
    auth.invalidate_bound_object("pod-uid")
    assert auth.authenticate(bearer(token)) is None
    with pytest.raises(ApiError) as exc:
        auth.create_token("ns", "sa", "u", {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1"}})
    assert exc.value.code == 400


def test_static_tokens(auth: TokenAuthenticator) -> None:
    bench = UserInfo("bench", ("system:authenticated",))
    auth.add_static_token("bench-token", bench)
    assert auth.authenticate("Bearer bench-token") == bench
    auth.remove_static_token("bench-token")
    auth.remove_static_token("admin-token")  # the admin token cannot be removed
    assert auth.authenticate("Bearer bench-token") is None
    assert auth.authenticate("Bearer admin-token") == ADMIN_USER


def test_requests_without_a_token_are_anonymous(auth: TokenAuthenticator) -> None:
    for header in (None, "", "Basic Zm9vOmJhcg==", "Bearer "):
        assert auth.authenticate_request(header) == ANONYMOUS
    # a bad token is refused, not taken for anonymous
    assert auth.authenticate_request("Bearer nope") is None
    assert auth.authenticate_request("Bearer admin-token") == ADMIN_USER


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("BEARER abc") == "abc"
    assert bearer_token("Bearer abc extra") == "abc"
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None


def test_token_review_and_whoami(auth: TokenAuthenticator) -> None:
    token = auth.issue_token("ns", "sa", "uid-1")
    status = auth.token_review({"token": token})
    assert status["authenticated"] is True
    assert status["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert status["user"]["username"] == "system:serviceaccount:ns:sa"
    assert status["user"]["uid"] == "uid-1"
    assert status["user"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:ns",
        "system:authenticated",
    ]
    assert auth.token_review({"token": "nope"})["authenticated"] is False
    assert self_subject_review_status(ADMIN_USER) == {
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
    }
