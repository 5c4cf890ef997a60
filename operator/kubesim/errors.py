"""Kubernetes ``Status`` errors, with the reasons, codes and message wording of the real API server.

Client libraries (the official clients, kopf, kubectl) decide what to do from ``reason`` and ``code``,
and users read ``message``; both must match upstream for clients to behave as they do on a real cluster.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

# How upstream's runtime scheme names itself in decoding errors.
SCHEME = '"pkg/runtime/scheme.go:110"'


class Cause(TypedDict, total=False):
    """One entry of ``details.causes``: what is wrong (reason, message) and where (field)."""

    reason: str
    message: str
    field: str


class ApiError(Exception):
    """An error answered to the client as a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """The ``Status`` as upstream encodes it: Go's field order (kind, apiVersion, metadata, status,
        message, reason, details, code) with its ``omitempty`` rules, so a client printing the raw body
        shows the same bytes."""
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        if self.message:
            body["message"] = self.message
        if self.reason:  # metav1.StatusReasonUnknown is "", which Go's omitempty leaves out
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = go_details(self.details)
        body["code"] = self.code
        return body


# metav1.StatusDetails and metav1.StatusCause fields in Go's order; every one is omitempty.
_DETAILS_ORDER = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")
_CAUSE_ORDER = ("reason", "message", "field")


def go_details(details: dict[str, Any]) -> dict[str, Any]:
    """``metav1.StatusDetails`` as Go encodes it: its fields in order, empty ones left out."""
    out = {key: details[key] for key in _DETAILS_ORDER if details.get(key)}
    if "causes" in out:
        out["causes"] = [
            {key: cause[key] for key in _CAUSE_ORDER if cause.get(key)} for cause in out["causes"]
        ]
    return out


class PlainTextError(ApiError):
    """An error upstream answers in plain text rather than as a Status (Go's http.Error, as its filters'
    InternalError does: ``Internal Server Error: "<request URI>": <error>``)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, "", text)
        self.text = text


class MalformedImpersonation(Exception):
    """Impersonation headers without Impersonate-User: the server answers internal_server_error_text."""


def internal_server_error_text(request_uri: str, error: str) -> PlainTextError:
    """responsewriters.InternalError: the message with <, > and & HTML-escaped."""
    text = f"Internal Server Error: {json.dumps(request_uri, ensure_ascii=False)}: {error}"
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(raw, escaped)
    return PlainTextError(500, text)


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str | None, resource: str, group: str, **extra: Any) -> dict[str, Any]:
    return {"name": name or "", "group": group, "kind": resource, **extra}


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        details=_details(name, resource, group),
    )


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        details=_details(name, resource, group),
    )


def conflict(resource: str, name: str, group: str = "", why: str = "") -> ApiError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version and try again"
    )
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        details=_details(name, resource, group),
    )


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> ApiError:
    """422 Invalid, worded like the real server:
    ``Pod "x" is invalid: spec.containers[0].image: Required value``."""
    parts: list[str] = []
    for cause in causes:
        field = cause.get("field", "")
        msg = cause.get("message", "")
        part = f"{field}: {msg}" if field else msg
        if part not in parts:  # field.ErrorList.ToAggregate drops repeated messages (the causes keep them)
            parts.append(part)
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    qualified = _qualified(kind, group)
    return ApiError(
        422,
        "Invalid",
        f'{qualified} "{name}" is invalid: {summary}',
        details={"name": name, "group": group, "kind": kind, "causes": list(causes)},
    )


def forbidden(
    user: str,
    verb: str,
    resource: str,
    group: str,
    namespace: str | None,
    name: str | None = None,
    subresource: str = "",
) -> ApiError:
    """403 worded like the RBAC authorizer: ``pods is forbidden: User "u" cannot create resource ...``."""
    res = f"{resource}/{subresource}" if subresource else resource
    target = f'{_qualified(resource, group)} "{name}"' if name else _qualified(resource, group)
    scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    message = (
        f'{target} is forbidden: User "{user}" cannot {verb} resource "{res}" in API group "{group}"{scope}'
    )
    return ApiError(403, "Forbidden", message, details=_details(name, resource, group))


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, details={})


def resource_not_found() -> ApiError:
    """404 for a path the API serves nothing at (not an object that does not exist)."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", details={})


def unsupported_media_type(accepted: str = "") -> ApiError:
    """415: worded by the handler when it knows what it accepts (``accepted``), else by the router
    (``415: Unsupported Media Type``, empty details)."""
    if not accepted:
        return ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", details={})
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {accepted}",
    )


PATCH_MEDIA_TYPES = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
BODY_MEDIA_TYPES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_many_requests(retry_after: int = 1) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
        details={"retryAfterSeconds": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


def internal_error(
    message: str = "an error on the server has prevented the request from succeeding",
) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")


def request_entity_too_large(limit: int) -> ApiError:
    """413 for a request body over the API server's ``MaxRequestBodyBytes`` (3 MiB by default), answered
    before the body is decoded: ``Request entity too large: limit is 3145728``."""
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def etcd_request_too_large() -> ApiError:
    """What the API server answers when etcd refuses a write over its request limit (``--max-request-bytes``,
    1.5 MiB by default): etcd's error is not a Status, so the server wraps it as a 500 with an empty
    (Unknown) reason and etcd's own message."""
    return ApiError(500, "", "etcdserver: request is too large")


ETCD_CLIENT_MAX_SEND = 2 * 1024 * 1024


def etcd_client_message_too_large(size: int) -> ApiError:
    """What the API server answers when a write's etcd request is over its etcd client's gRPC send limit
    (2 MiB, ``MaxCallSendMsgSize``): the client refuses to send it, whatever etcd's own limit."""
    return ApiError(
        500,
        "",
        "rpc error: code = ResourceExhausted desc = trying to send message larger than max "
        f"({size} vs. {ETCD_CLIENT_MAX_SEND})",
    )


def resource_version_set_on_create() -> ApiError:
    """etcd3's store refuses a create carrying a resourceVersion (storage.ErrResourceVersionSetOnCreate);
    the API server answers it as a 500 with an empty (Unknown) reason."""
    return ApiError(500, "", "resourceVersion should not be set on objects to be created")


def forbidden_message(
    message: str, resource: str, name: str, group: str = "", causes: list[Cause] | None = None
) -> ApiError:
    """403 raised by admission (e.g. creation in a terminating namespace), not by RBAC."""
    return ApiError(403, "Forbidden", message, details=_details(name, resource, group, causes=causes or []))
