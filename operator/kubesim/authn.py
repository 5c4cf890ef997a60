"""Bearer-token authentication: the admin token and ServiceAccount tokens issued by TokenRequest.

Pure logic; the API server calls :meth:`TokenAuthenticator.authenticate` with the ``Authorization`` header
of each request, :meth:`TokenAuthenticator.create_token` for ``POST .../serviceaccounts/<name>/token``, and
:meth:`TokenAuthenticator.invalidate_service_account` when a ServiceAccount is deleted.

ServiceAccount tokens are JWTs with the claims a real API server puts in them (``iss``, ``sub``
``system:serviceaccount:<ns>:<name>``, ``aud``, ``exp``, ``iat``, ``nbf``, ``jti`` and the
``kubernetes.io`` claim with the namespace, the ServiceAccount's name and uid and, for bound tokens, the
pod/secret/node), so clients that decode them see what they expect. They are signed with HMAC-SHA256
(``alg: HS256``) under a per-server random key instead of upstream's RS256 key pair: a client cannot forge
one, and no public key is published (no ``/openid/v1/jwks``). A token is accepted only while it has not
expired, names one of the API server's audiences, and the ServiceAccount it names still exists with the uid
it was issued for (so deleting the ServiceAccount, or recreating it, invalidates its tokens, as upstream).

Legacy Secret-based ServiceAccount tokens (Secrets of type ``kubernetes.io/service-account-token``) are not
implemented.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubesim import errors
from kubesim.errors import ApiError
from kubesim.rbac import (
    ANONYMOUS,
    AUTHENTICATED,
    SYSTEM_MASTERS,
    UserInfo,
    service_account_user,
    service_account_username,
)

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMIN_USER = UserInfo("kubernetes-admin", (SYSTEM_MASTERS, AUTHENTICATED))
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
# The kubelet asks for 3607 s; such pod-bound tokens last a year instead and carry a "warnafter" claim
# (kube-apiserver --service-account-extend-token-expiration, on by default).
WARN_ONLY_EXPIRATION_SECONDS = 60 * 60 + 7
EXTENDED_EXPIRATION_SECONDS = 24 * 365 * 60 * 60
AUTHENTICATION_GROUP = "authentication.k8s.io"

_EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
_EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
_EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
_EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
_EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
_BINDABLE_KINDS = {"Pod": "pod", "Secret": "secret", "Node": "node"}


def bearer_token(header_value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive, as upstream)."""
    if not header_value:
        return None
    parts = header_value.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer":
        return None
    token = parts[1].strip()
    return token or None


@dataclass(frozen=True, slots=True)
class BoundObject:
    """What a token is bound to: a Pod (and the node it runs on, if scheduled), a Secret or a Node."""

    kind: str
    name: str
    uid: str = ""
    api_version: str = "v1"
    node_name: str = ""
    node_uid: str = ""

    @property
    def bindable(self) -> bool:
        """Only core Pods, Secrets and Nodes bind tokens."""
        return "/" not in self.api_version and self.kind in _BINDABLE_KINDS

    @property
    def gvk(self) -> str:
        """schema.GroupVersionKind.String(): ``/v1, Kind=ConfigMap``, ``apps/v1, Kind=Deployment``."""
        group, _, version = self.api_version.rpartition("/")
        return f"{group}/{version}, Kind={self.kind}"


def bound_object_from_ref(ref: Mapping[str, Any]) -> BoundObject:
    return BoundObject(
        str(ref.get("kind") or ""),
        str(ref.get("name") or ""),
        str(ref.get("uid") or ""),
        str(ref.get("apiVersion") or ""),
    )


def token_request_metadata_causes(
    namespace: str, name: str, metadata: Mapping[str, Any] | None
) -> list[errors.Cause]:
    """A TokenRequest may name its ServiceAccount and namespace; if it does, they must match the path."""
    meta = metadata or {}
    causes: list[errors.Cause] = []
    if meta.get("name") and meta["name"] != name:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "field": "metadata.name",
                "message": f'Invalid value: "{meta["name"]}": '
                "must match the service account name if specified",
            }
        )
    if meta.get("namespace") and meta["namespace"] != namespace:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "field": "metadata.namespace",
                "message": f'Invalid value: "{meta["namespace"]}": '
                "must match the service account namespace if specified",
            }
        )
    return causes


def token_request_expiration(spec: Mapping[str, Any]) -> int:
    """A TokenRequest's expirationSeconds (default an hour), validated: the 422 upstream answers for less
    than 10 minutes or more than 2^32 seconds (named "": upstream validates an unnamed copy)."""
    raw = spec.get("expirationSeconds")
    expiration = DEFAULT_EXPIRATION_SECONDS if raw is None else raw
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        raise errors.bad_request(f"expirationSeconds must be an integer, got {expiration!r}")
    causes: list[errors.Cause] = []
    if expiration < MIN_EXPIRATION_SECONDS:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "field": "spec.expirationSeconds",
                "message": f"Invalid value: {expiration}: may not specify a duration less than 10 minutes",
            }
        )
    if expiration > MAX_EXPIRATION_SECONDS:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "field": "spec.expirationSeconds",
                "message": f"Invalid value: {expiration}: "
                "may not specify a duration larger than 2^32 seconds",
            }
        )
    if causes:
        raise errors.invalid("TokenRequest", "", causes, group=AUTHENTICATION_GROUP)
    return expiration


def _ref(name: str, uid: str) -> dict[str, str]:
    """A claim's reference, its fields omitted when empty (as upstream's omitempty)."""
    return {k: v for k, v in (("name", name), ("uid", uid)) if v}


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_b64(obj: Mapping[str, Any]) -> str:
    return _b64encode(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())


def decode_token_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT-shaped token, without verifying anything (what a client decoding it sees)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenAuthenticator:
    """Maps bearer tokens to identities.

    * the static admin token -> ``kubernetes-admin`` in ``system:masters`` and ``system:authenticated``;
    * tokens added with :meth:`add_static_token` -> the identity given;
    * ServiceAccount tokens from :meth:`create_token` -> ``system:serviceaccount:<ns>:<name>`` in
      ``system:serviceaccounts``, ``system:serviceaccounts:<ns>`` and ``system:authenticated``, with the
      ServiceAccount's uid and the ``credential-id`` (and bound pod) extras.

    Whether a ServiceAccount still exists with the uid a token was issued for is asked of
    ``service_account_uid(namespace, name)`` when given (e.g. a look-up in the store); otherwise the
    authenticator remembers the uid each :meth:`create_token` / :meth:`register_service_account` call saw,
    until :meth:`invalidate_service_account`. Keep ``signing_key`` (and re-register ServiceAccounts) to
    keep tokens valid across a restart. ``clock`` returns seconds since the epoch.
    """

    def __init__(
        self,
        admin_token: str | None = None,
        *,
        signing_key: bytes | None = None,
        issuer: str = DEFAULT_ISSUER,
        api_audiences: Sequence[str] | None = None,
        max_expiration_seconds: int | None = None,
        service_account_uid: Callable[[str, str], str | None] | None = None,
        bound_object_state: Callable[[str, str, str], tuple[str, float | None] | None] | None = None,
        extend_expiration: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.signing_key = signing_key or secrets.token_bytes(32)
        self.issuer = issuer
        self.api_audiences: tuple[str, ...] = tuple(api_audiences) if api_audiences else (issuer,)
        self.max_expiration_seconds = max_expiration_seconds
        self._sa_uid_lookup = service_account_uid
        # (kind, namespace, name) -> (uid, deletion time or None) of a bound object, None when it is gone.
        self._bound_lookup = bound_object_state
        self.extend_expiration = extend_expiration
        self._clock = clock
        self._kid = _b64encode(hashlib.sha256(self.signing_key).digest()[:16])
        self._lock = threading.Lock()
        self._static: dict[str, UserInfo] = {self.admin_token: ADMIN_USER}
        self._sa_uids: dict[tuple[str, str], str] = {}
        self._revoked_bound_uids: set[str] = set()

    # ---- registry

    def add_static_token(self, token: str, user: UserInfo) -> None:
        with self._lock:
            self._static[token] = user

    def remove_static_token(self, token: str) -> None:
        with self._lock:
            if token != self.admin_token:
                self._static.pop(token, None)

    def register_service_account(self, namespace: str, name: str, uid: str) -> None:
        """Record that the ServiceAccount exists with this uid (tokens issued for another uid are refused)."""
        with self._lock:
            self._sa_uids[(namespace, name)] = uid

    def invalidate_service_account(self, namespace: str, name: str) -> None:
        """The ServiceAccount is gone: every token issued for it stops authenticating."""
        with self._lock:
            self._sa_uids.pop((namespace, name), None)

    def invalidate_bound_object(self, uid: str) -> None:
        """The Pod/Secret/Node with this uid is gone: tokens bound to it stop authenticating."""
        with self._lock:
            self._revoked_bound_uids.add(uid)

    def _current_sa_uid(self, namespace: str, name: str) -> str | None:
        if self._sa_uid_lookup is not None:
            return self._sa_uid_lookup(namespace, name)
        with self._lock:
            return self._sa_uids.get((namespace, name))

    # ---- TokenRequest

    def create_token(
        self,
        namespace: str,
        name: str,
        uid: str,
        spec: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        bound_object: BoundObject | None = None,
    ) -> dict[str, Any]:
        """Answer ``POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`` for the ServiceAccount
        ``namespace/name`` (uid ``uid``), as upstream's TokenREST does.

        ``spec`` is the TokenRequest's spec (``audiences``, ``expirationSeconds``, ``boundObjectRef``);
        ``metadata`` its metadata if the client sent any (a name or namespace there must match).
        ``bound_object`` is the object ``boundObjectRef`` names, as found by the caller (which answers the
        404/409/400 of a missing or mismatched object); without it the reference is taken as it is. Returns
        the TokenRequest with ``spec`` defaulted and ``status.token`` / ``status.expirationTimestamp``;
        raises the 422/400 the API server answers for an invalid request.
        """
        spec = dict(spec or {})
        causes = token_request_metadata_causes(namespace, name, metadata)
        if causes:
            raise errors.invalid("TokenRequest", name, causes, group=AUTHENTICATION_GROUP)
        expiration = token_request_expiration(spec)
        audiences = [str(a) for a in (spec.get("audiences") or ())] or list(self.api_audiences)
        bound = spec.get("boundObjectRef")
        if bound is not None:
            if bound_object is None:
                bound_object = bound_object_from_ref(bound)
            if not bound_object.bindable:
                raise errors.bad_request(f"cannot bind token to object of type {bound_object.gvk}")
        if self.max_expiration_seconds is not None:
            expiration = min(expiration, self.max_expiration_seconds)
        lifetime, warn_after = expiration, 0
        if (
            self.extend_expiration
            and bound_object is not None
            and bound_object.kind == "Pod"
            and expiration == WARN_ONLY_EXPIRATION_SECONDS
            and set(audiences) <= set(self.api_audiences)
        ):
            # What the kubelet asks for its pods: a token that lasts a year, with a "warnafter" claim.
            lifetime, warn_after = EXTENDED_EXPIRATION_SECONDS, expiration
        token, now = self._sign(namespace, name, uid, audiences, lifetime, bound_object, warn_after)
        self.register_service_account(namespace, name, uid)
        out_spec: dict[str, Any] = {
            "audiences": audiences,
            "expirationSeconds": expiration,
            "boundObjectRef": bound,
        }
        return {
            "kind": "TokenRequest",
            "apiVersion": f"{AUTHENTICATION_GROUP}/v1",
            "metadata": {"name": name, "namespace": namespace, "uid": uid, "creationTimestamp": rfc3339(now)},
            "spec": out_spec,
            "status": {"token": token, "expirationTimestamp": rfc3339(now + expiration)},
        }

    def issue_token(
        self,
        namespace: str,
        name: str,
        uid: str,
        expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS,
        audiences: Sequence[str] = (),
    ) -> str:
        """Just the token (for ``kubesim token SA -n NS`` and tests)."""
        spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
        if audiences:
            spec["audiences"] = list(audiences)
        return str(self.create_token(namespace, name, uid, spec)["status"]["token"])

    def _sign(
        self,
        namespace: str,
        name: str,
        uid: str,
        audiences: list[str],
        expiration: int,
        bound: BoundObject | None,
        warn_after: int = 0,
    ) -> tuple[str, int]:
        """The signed token and the time it was issued at."""
        now = int(self._clock())
        k8s: dict[str, Any] = {"namespace": namespace, "serviceaccount": _ref(name, uid)}
        if bound is not None:
            k8s[_BINDABLE_KINDS[bound.kind]] = _ref(bound.name, bound.uid)
            if bound.node_name:
                k8s["node"] = _ref(bound.node_name, bound.node_uid)
        if warn_after:
            k8s["warnafter"] = now + warn_after
        claims = {
            "aud": audiences,
            "exp": now + expiration,
            "iat": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s,
            "nbf": now,
            "sub": service_account_username(namespace, name),
        }
        signing_input = f"{_json_b64({'alg': 'HS256', 'kid': self._kid})}.{_json_b64(claims)}"
        sig = hmac.new(self.signing_key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64encode(sig)}", now

    # ---- authentication

    def authenticate(self, header_value: str | None) -> UserInfo | None:
        """The identity of an ``Authorization`` header value; None (-> 401) when absent or not valid."""
        token = bearer_token(header_value)
        return None if token is None else self.authenticate_token(token)

    def authenticate_request(self, header_value: str | None) -> UserInfo | None:
        """Like :meth:`authenticate`, but a request without a bearer token is ``system:anonymous`` in
        ``system:unauthenticated`` (upstream's anonymous authenticator, on by default: what it may do is
        RBAC's business, so it gets 403 where it is not allowed); a token that does not authenticate is
        still refused (None: 401), whatever the path."""
        if bearer_token(header_value) is None:
            return ANONYMOUS
        return self.authenticate(header_value)

    def authenticate_token(self, token: str) -> UserInfo | None:
        with self._lock:
            static = self._static.get(token)
        if static is not None:
            return static
        return self._authenticate_jwt(token)

    def _authenticate_jwt(self, token: str) -> UserInfo | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self.signing_key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            sig = _b64decode(parts[2])
        except ValueError:
            return None
        if not hmac.compare_digest(sig, expected):
            return None
        claims = decode_token_claims(token)
        if claims is None or claims.get("iss") != self.issuer:
            return None
        now = self._clock()
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int) or now >= exp or not isinstance(nbf, int) or now < nbf:
            return None
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else list(aud or ())
        if not set(auds) & set(self.api_audiences):
            return None
        k8s = claims.get("kubernetes.io")
        if not isinstance(k8s, dict):
            return None
        namespace = k8s.get("namespace")
        sa = k8s.get("serviceaccount") or {}
        name, uid = sa.get("name"), sa.get("uid")
        if not isinstance(namespace, str) or not isinstance(name, str) or not isinstance(uid, str):
            return None
        if claims.get("sub") != service_account_username(namespace, name):
            return None
        if self._current_sa_uid(namespace, name) != uid:
            return None
        if not self._bound_objects_valid(namespace, k8s, now):
            return None
        extra: list[tuple[str, tuple[str, ...]]] = [(_EXTRA_CREDENTIAL_ID, (f"JTI={claims.get('jti', '')}",))]
        for kind in ("pod", "secret", "node"):
            ref = k8s.get(kind)
            if isinstance(ref, dict):
                with self._lock:
                    if ref.get("uid") in self._revoked_bound_uids:
                        return None
                if kind == "pod":
                    extra += [
                        (_EXTRA_POD_NAME, (str(ref.get("name", "")),)),
                        (_EXTRA_POD_UID, (str(ref.get("uid", "")),)),
                    ]
                elif kind == "node":
                    extra += [
                        (_EXTRA_NODE_NAME, (str(ref.get("name", "")),)),
                        (_EXTRA_NODE_UID, (str(ref.get("uid", "")),)),
                    ]
        return service_account_user(namespace, name, uid, tuple(sorted(extra)))

    def _bound_objects_valid(self, namespace: str, k8s: Mapping[str, Any], now: float) -> bool:
        """A bound token lives as long as its object: the Secret, the Pod, or (for a token bound to a Node
        alone; a pod's node is only informational) the Node exists with the claimed uid and was not deleted
        more than a minute ago (upstream's validator)."""
        if self._bound_lookup is None:
            return True
        checks = [("Secret", "secret", namespace), ("Pod", "pod", namespace)]
        if "pod" not in k8s:
            checks.append(("Node", "node", ""))
        for kind, claim, ns in checks:
            ref = k8s.get(claim)
            if not isinstance(ref, dict):
                continue
            state = self._bound_lookup(kind, ns, str(ref.get("name", "")))
            if state is None:
                return False
            uid, deleted_at = state
            if str(ref.get("uid", "")) != uid:
                return False
            if deleted_at is not None and deleted_at < now - 60:
                return False
        return True

    # ---- reviews

    def token_review(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``status`` of a TokenReview (``authentication.k8s.io``): ``{authenticated, user, audiences}``."""
        token = str(spec.get("token") or "")
        user = self.authenticate_token(token) if token else None
        if user is None:
            return {"authenticated": False, "user": {}, "error": "invalid bearer token"}
        requested = [str(a) for a in (spec.get("audiences") or ())]
        audiences = list(self.api_audiences)
        if requested:
            claims = decode_token_claims(token)
            token_auds = set(self.api_audiences)
            if claims is not None:
                aud = claims.get("aud")
                token_auds = {aud} if isinstance(aud, str) else set(aud or ())
            audiences = [a for a in requested if a in token_auds]
            if not audiences:
                return {"authenticated": False, "user": {}, "error": "token audiences do not match"}
        return {"authenticated": True, "user": user.to_dict(), "audiences": audiences}


def self_subject_review_status(user: UserInfo) -> dict[str, Any]:
    """``status`` of a SelfSubjectReview (``kubectl auth whoami``)."""
    return {"userInfo": user.to_dict()}


def invalid_token_error() -> ApiError:
    """The 401 for a missing or bad token."""
    return errors.unauthorized()
