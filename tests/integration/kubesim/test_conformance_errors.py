"""Issue 2, behaviour 8: every error is a Status object with upstream's reason, code, details and wording,
so client libraries raise their usual exceptions."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException
from kubernetes.client import exceptions as client_exceptions

from tests.clusters import ClusterUnderTest

from .conformance_support import (
    GROUP,
    WIDGETS,
    Response,
    api_exception_body,
    create_crd_over_http,
    http,
    widget,
)

MERGE = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def _status(resp_body: dict[str, Any], code: int, reason: str) -> dict[str, Any]:
    assert resp_body["kind"] == "Status"
    assert resp_body["apiVersion"] == "v1"
    assert resp_body["status"] == "Failure"
    assert resp_body["metadata"] == {}
    assert resp_body["code"] == code
    assert resp_body["reason"] == reason
    return resp_body


def test_not_found(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(client_exceptions.NotFoundException) as info:
        core.read_namespaced_pod("x", ns)
    body = _status(api_exception_body(info.value), 404, "NotFound")
    assert body["message"] == 'pods "x" not found'
    assert body["details"] == {"name": "x", "kind": "pods"}


def test_not_found_in_a_group(client: kubernetes.client.ApiClient, ns: str) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    with pytest.raises(ApiException) as info:
        apps.read_namespaced_deployment("x", ns)
    body = _status(api_exception_body(info.value), 404, "NotFound")
    assert body["message"] == 'deployments.apps "x" not found'
    assert body["details"]["group"] == "apps"
    assert body["details"]["kind"] == "deployments"


def test_custom_resource_not_found(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    create_crd_over_http(cluster)
    with pytest.raises(ApiException) as info:
        kubernetes.client.CustomObjectsApi(client).get_namespaced_custom_object(GROUP, "v1", ns, WIDGETS, "x")
    body = _status(api_exception_body(info.value), 404, "NotFound")
    assert body["message"] == f'{WIDGETS}.{GROUP} "x" not found'


def test_unknown_resource_is_a_plain_404(cluster: ClusterUnderTest, ns: str) -> None:
    resp = http(cluster, "GET", f"/api/v1/namespaces/{ns}/nothings")
    assert resp.status == 404
    body = _status(resp.json(), 404, "NotFound")
    assert body["message"] == "the server could not find the requested resource"


def test_unauthorized(cluster: ClusterUnderTest, ns: str) -> None:
    resp = http(cluster, "GET", "/api/v1/pods", token="not-a-token")
    assert resp.status == 401
    _status(resp.json(), 401, "Unauthorized")
    config = kubernetes.client.Configuration()
    config.host = cluster.url
    config.ssl_ca_cert = cluster.ca_file
    config.api_key = {"authorization": "Bearer not-a-token"}
    with kubernetes.client.ApiClient(config) as api, pytest.raises(client_exceptions.UnauthorizedException):
        kubernetes.client.CoreV1Api(api).list_namespaced_pod(ns)


def test_forbidden_for_a_service_account(
    cluster: ClusterUnderTest, client: kubernetes.client.ApiClient, ns: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_service_account(ns, {"metadata": {"name": "robot"}})
    token = cluster.token_for("robot", ns)
    resp = http(cluster, "GET", f"/api/v1/namespaces/{ns}/pods", token=token)
    assert resp.status == 403
    body = _status(resp.json(), 403, "Forbidden")
    assert body["message"] == (
        f'pods is forbidden: User "system:serviceaccount:{ns}:robot" cannot list resource "pods" '
        f'in API group "" in the namespace "{ns}"'
    )
    assert body["details"] == {"kind": "pods"}
    resp = http(cluster, "GET", f"/api/v1/namespaces/{ns}/pods/p", token=token)
    assert 'pods "p" is forbidden' in resp.json()["message"]
    assert resp.json()["details"] == {"name": "p", "kind": "pods"}


def status_bytes(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> bytes:
    """A failure Status as upstream sends it, byte for byte: Go's field order, empty fields left out,
    Go's HTML-safe escapes and its trailing newline (clients print the raw body of an error)."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    body["message"] = message
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return (text + "\n").encode()


def assert_status(resp: Response, code: int, reason: str, message: str, details: Any = None) -> None:
    assert (resp.status, resp.body) == (code, status_bytes(code, reason, message, details))


TYPE_META = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
)
UNRECOGNIZED = "the object provided is unrecognized (must be of type ConfigMap): "
PARSE = "couldn't get version/kind; json parse error: "
SCHEME = '"pkg/runtime/scheme.go:110"'


def scheme_of(cluster: ClusterUnderTest) -> str:
    """The scheme's name in decoding errors: where apimachinery creates it (one line lower from 1.35)."""
    return '"pkg/runtime/scheme.go:111"' if cluster.upstream_since(35) else SCHEME


DECODING = "error decoding patch: json: "


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid character 'n' looking for beginning of object key string ({not json)"),
        (b"", "unexpected end of JSON input (<empty>)"),
        (b'{"a":NaN}', "invalid character 'N' looking for beginning of value ({\"a\":NaN})"),
        (b'{"a":1}}', "invalid character '}' after top-level value ({\"a\":1}})"),
        (
            b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}',
            'unexpected end of JSON input ({"apiVersion":"v1","kind":"Con ...)',
        ),
        (b"[]", f"json: cannot unmarshal array into Go value of type {TYPE_META} (5b5d)"),
        (b"true", f"json: cannot unmarshal bool into Go value of type {TYPE_META} (74727565)"),
    ],
    ids=["object-key", "empty", "nan", "trailing", "truncated", "array", "bool"],
)
def test_undecodable_bodies(cluster: ClusterUnderTest, ns: str, body: bytes, message: str) -> None:
    """Go's JSON scanner judges the body (Python's also reads NaN); the message quotes its error and the
    body's first 30 bytes (as hex unless it starts like an object)."""
    for method, path in (("POST", ""), ("PUT", "/x")):
        resp = http(cluster, method, f"/api/v1/namespaces/{ns}/configmaps{path}", body)
        assert_status(resp, 400, "BadRequest", UNRECOGNIZED + PARSE + message)


def test_a_null_body_decodes_as_an_empty_object(cluster: ClusterUnderTest, ns: str) -> None:
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", b"null")
    cause = {
        "reason": "FieldValueRequired",
        "message": "Required value: name or generateName is required",
        "field": "metadata.name",
    }
    message = 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    assert_status(resp, 422, "Invalid", message, {"kind": "ConfigMap", "causes": [cause]})


@pytest.mark.parametrize(
    ("api_version", "kind", "message"),
    [
        (
            "v1",
            "Secret",
            'Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) to '
            "(core.ConfigMap): unknown conversion",
        ),
        (
            None,
            "Secret",
            'Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) to '
            "(core.ConfigMap): unknown conversion",
        ),
        (
            "v1",
            "ConfigMapList",
            'ConfigMapList in version "v1" cannot be handled as a ConfigMap: converting '
            "(v1.ConfigMapList) to (core.ConfigMap): unknown conversion",
        ),
        (
            "v1",
            "Bogus",
            'Bogus in version "v1" cannot be handled as a ConfigMap: no kind "Bogus" is registered '
            f'for version "v1" in scheme {SCHEME}',
        ),
        (
            "apps/v1",
            "ConfigMap",
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind '
            f'"ConfigMap" is registered for version "apps/v1" in scheme {SCHEME}',
        ),
        (
            "apps/v1",
            None,
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind '
            f'"ConfigMap" is registered for version "apps/v1" in scheme {SCHEME}',
        ),
        (
            "v2",
            "ConfigMap",
            'ConfigMap in version "v2" cannot be handled as a ConfigMap: no kind '
            f'"ConfigMap" is registered for version "v2" in scheme {SCHEME}',
        ),
    ],
    ids=[
        "other-kind",
        "other-kind-no-version",
        "list-kind",
        "unknown-kind",
        "other-group",
        "other-group-no-kind",
        "unknown-version",
    ],
)
def test_type_meta_mismatches(
    cluster: ClusterUnderTest, ns: str, api_version: str | None, kind: str | None, message: str
) -> None:
    """The body's apiVersion and kind (rt's where it leaves them out) must decode into the resource's Go
    type, on create and on update."""
    body: dict[str, Any] = {"metadata": {"name": "x"}}
    if api_version:
        body["apiVersion"] = api_version
    if kind:
        body["kind"] = kind
    message = message.replace(SCHEME, scheme_of(cluster))
    for method, path in (("POST", ""), ("PUT", "/x")):
        resp = http(cluster, method, f"/api/v1/namespaces/{ns}/configmaps{path}", body)
        assert_status(resp, 400, "BadRequest", message)


def test_a_kind_of_the_same_type_in_another_version(cluster: ClusterUnderTest, ns: str) -> None:
    """events.k8s.io Events decode into the core Event type; the handler then refuses the version."""
    body = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}}
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/events", body)
    message = "the API version in the data (events.k8s.io/v1) does not match the expected API version (v1)"
    assert_status(resp, 400, "BadRequest", message)


def test_mismatched_namespace(cluster: ClusterUnderTest, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}}
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    message = "the namespace of the provided object does not match the namespace sent on the request"
    assert_status(resp, 400, "BadRequest", message)


def test_routing_errors(cluster: ClusterUnderTest, ns: str) -> None:
    """Paths and methods the API does not serve: Statuses with empty details for the built-in API,
    the mux's plain-text page elsewhere (unknown groups, CRD groups, non-API paths)."""
    http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "x"}})
    not_found = "the server could not find the requested resource"
    not_allowed = "the server does not allow this method on the requested resource"
    for path in (
        f"/api/v1/namespaces/{ns}/nothings",
        f"/api/v1/namespaces/{ns}/configmaps/x/status",
        f"/api/v1/namespaces/{ns}/nodes/x",
        "/apis/apps/v9/deployments",
        "/api/v2/pods",
    ):
        assert_status(http(cluster, "GET", path), 404, "NotFound", not_found, {})
    for path in ("/nonexistent-path", "/apis/nope.example.com/v1/things", "/apis/nope.example.com"):
        resp = http(cluster, "GET", path)
        assert (resp.status, resp.body) == (404, b"404 page not found\n")
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps/x", {"metadata": {"name": "x"}})
    assert_status(resp, 405, "MethodNotAllowed", not_allowed, {})
    resp = http(cluster, "PUT", f"/api/v1/namespaces/{ns}/configmaps", {})
    assert_status(resp, 405, "MethodNotAllowed", not_allowed, {})
    # Media types: the router refuses a patch type it does not know; the handler words a body it cannot read.
    resp = http(cluster, "PATCH", f"/api/v1/namespaces/{ns}/configmaps/x", {}, content_type="text/plain")
    assert_status(resp, 415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
    resp = http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", {}, content_type="text/plain")
    accepted = "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    unknown = "the body of the request was in an unknown format - accepted media types include: "
    assert_status(resp, 415, "UnsupportedMediaType", unknown + accepted)


def test_custom_resource_decoding_errors(cluster: ClusterUnderTest, ns: str) -> None:
    """Custom resources are decoded as they come: the kind must be there and be the CRD's (else the CRD's
    validation refuses it), the apiVersion one the CRD serves."""
    create_crd_over_http(cluster)
    path = f"/apis/{GROUP}/v1/namespaces/{ns}/{WIDGETS}"
    unrecognized = "the object provided is unrecognized (must be of type Widget): "
    raw = b'{"apiVersion": "example.com/v1", "metadata": {"name": "w"}, "spec": {"size": 1}}'
    message = unrecognized + f"Object 'Kind' is missing in '{raw.decode()}' ({raw[:30].decode()} ...)"
    assert_status(http(cluster, "POST", path, raw), 400, "BadRequest", message)
    resp = http(cluster, "POST", path, b"{not json")
    message = (
        unrecognized + PARSE + "invalid character 'n' looking for beginning of object key string ({not json)"
    )
    assert_status(resp, 400, "BadRequest", message)
    body = {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    cause = {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "Gadget": must be Widget',
        "field": "kind",
    }
    message = f'Gadget.{GROUP} "w" is invalid: kind: {cause["message"]}'
    details = {"name": "w", "group": GROUP, "kind": "Gadget", "causes": [cause]}
    assert_status(http(cluster, "POST", path, body), 422, "Invalid", message, details)
    for api_version in ("", f"{GROUP}/v2", "v1"):
        body = {"apiVersion": api_version, "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
        message = f"the API version in the data ({api_version}) does not match the expected API version "
        message += f"({GROUP}/v1)"
        assert_status(http(cluster, "POST", path, body), 400, "BadRequest", message)
    # The CRD's group: unknown versions and resources get the plain-text page.
    for unknown in (f"/apis/{GROUP}/v2/{WIDGETS}", f"/apis/{GROUP}/v1/nothings"):
        assert (http(cluster, "GET", unknown).status, http(cluster, "GET", unknown).body) == (
            404,
            b"404 page not found\n",
        )
    # Patch types: custom resources' handler words its refusal (strategic merge patches included).
    http(cluster, "POST", path, widget("w"))
    accepted = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    unknown_format = (
        f"the body of the request was in an unknown format - accepted media types include: {accepted}"
    )
    for content_type in ("application/strategic-merge-patch+json", "text/plain"):
        resp = http(cluster, "PATCH", f"{path}/w", {"spec": {"size": 2}}, content_type=content_type)
        assert_status(resp, 415, "UnsupportedMediaType", unknown_format)
    # An update must carry a resourceVersion; the error names the resource, not the kind.
    body = {**widget("w"), "apiVersion": f"{GROUP}/v1", "kind": "Widget"}
    cause = {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 0: must be specified for an update",
        "field": "metadata.resourceVersion",
    }
    message = f'{WIDGETS}.{GROUP} "w" is invalid: metadata.resourceVersion: {cause["message"]}'
    details = {"name": "w", "group": GROUP, "kind": WIDGETS, "causes": [cause]}
    assert_status(http(cluster, "PUT", f"{path}/w", body), 422, "Invalid", message, details)


def test_patch_decoding_errors(cluster: ClusterUnderTest, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/x"
    http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "x"}})
    merge, smp, json_patch = MERGE, SMP, JSON_PATCH
    cases: list[tuple[str, bytes, str]] = [
        (
            merge,
            b"{x",
            "error decoding patch: invalid character 'x' looking for beginning of object key string",
        ),
        (merge, b"", "error decoding patch: unexpected end of JSON input"),
        (
            merge,
            b"[1]",
            DECODING + "cannot unmarshal array into Go value of type map[string]interface {}",
        ),
        (
            merge,
            b"1",
            DECODING + "cannot unmarshal number into Go value of type map[string]interface {}",
        ),
        (merge, b"null", "Invalid JSON Patch"),
        (smp, b"{x", "invalid character 'x' looking for beginning of object key string"),
        (smp, b"1", "json: cannot unmarshal number into Go value of type map[string]interface {}"),
        (json_patch, b"[x", "error decoding patch: invalid character 'x' looking for beginning of value"),
        (json_patch, b"", "error decoding patch: unexpected end of JSON input"),
        (
            json_patch,
            b'{"op":"add"}',
            DECODING + "cannot unmarshal object into Go value of type []handlers.jsonPatchOp",
        ),
        (
            json_patch,
            b"[1]",
            DECODING + "cannot unmarshal number into Go value of type handlers.jsonPatchOp",
        ),
    ]
    for content_type, body, message in cases:
        # From 1.37 a body that is not JSON at all is refused before any decoding, whatever the patch type;
        # JSON of the wrong shape still fails as its decoder says.
        if cluster.upstream_since(37) and body in (b"{x", b"", b"[x"):
            message = "invalid JSON patch"
        assert_status(
            http(cluster, "PATCH", path, body, content_type=content_type), 400, "BadRequest", message
        )
    # Null strategic merge and JSON patches change nothing.
    for content_type in (smp, json_patch):
        assert http(cluster, "PATCH", path, b"null", content_type=content_type).status == 200


def test_json_patch_operation_failures(cluster: ClusterUnderTest, ns: str) -> None:
    """A failing operation is a 422 with a fixed message and empty details (the patcher's words are not
    shown); replacing a missing key of an object sets it (json-patch v4 reads it as null)."""
    path = f"/api/v1/namespaces/{ns}/configmaps/x"
    http(
        cluster,
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "x"}, "data": {"k": "v"}},
    )
    rejected = "the server rejected our request due to an error in our request"
    for ops in (
        [{"op": "test", "path": "/data/k", "value": "nope"}],
        [{"op": "remove", "path": "/data/zz"}],
        [{"op": "frob", "path": "/data/zz"}],
        [{"op": "add", "path": "/metadata/finalizers/5", "value": "x"}],
        [{"op": "move", "from": "/data/nope", "path": "/data/x"}],
        [{"op": "add", "value": "x"}],
    ):
        resp = http(cluster, "PATCH", path, ops, content_type=JSON_PATCH)
        assert_status(resp, 422, "Invalid", rejected, {})
    resp = http(
        cluster, "PATCH", path, [{"op": "replace", "path": "/data/zz", "value": "x"}], content_type=JSON_PATCH
    )
    assert resp.status == 200
    assert resp.json()["data"] == {"k": "v", "zz": "x"}


def test_delete_option_errors(cluster: ClusterUnderTest, ns: str) -> None:
    """Options are validated before the object is looked up; options that do not decode are 500s
    without a reason."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    http(cluster, "POST", path, {"metadata": {"name": "x"}})
    supported = '"Foreground", "Background", "Orphan", "nil"'
    for name in ("x", "missing"):
        resp = http(cluster, "DELETE", f"{path}/{name}?propagationPolicy=Sideways")
        cause = {
            "reason": "FieldValueNotSupported",
            "message": f'Unsupported value: "Sideways": supported values: {supported}',
            "field": "propagationPolicy",
        }
        message = f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: {cause["message"]}'
        details = {"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": [cause]}
        assert_status(resp, 422, "Invalid", message, details)
    resp = http(cluster, "DELETE", f"{path}/x", {"propagationPolicy": "Orphan", "orphanDependents": True})
    cause = {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "Orphan": orphanDependents and deletionPropagation cannot be both set',
        "field": "propagationPolicy",
    }
    message = f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: {cause["message"]}'
    assert_status(
        resp, 422, "Invalid", message, {"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": [cause]}
    )
    # From 1.35 upstream answers a DeleteOptions body that does not decode as a BadRequest.
    code, reason = (400, "BadRequest") if cluster.upstream_since(35) else (500, "")
    resp = http(cluster, "DELETE", f"{path}/x", b"{not json")
    assert_status(
        resp, code, reason, PARSE + "invalid character 'n' looking for beginning of object key string"
    )
    resp = http(cluster, "DELETE", f"{path}/x", {"kind": "Secret"})
    message = f'no kind "Secret" is registered for version "meta.k8s.io/v1" in scheme {scheme_of(cluster)}'
    assert_status(resp, code, reason, message)
    assert http(cluster, "GET", f"{path}/x").status == 200


def test_uid_in_an_update(cluster: ClusterUnderTest, ns: str) -> None:
    """A PUT's uid is a storage precondition (409); a patch changing it fails validation, which checks it
    twice (two causes, one message; from 1.37 a built-in kind's identical causes are reported once)."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    uid = http(cluster, "POST", path, {"metadata": {"name": "x"}}).json()["metadata"]["uid"]
    resp = http(cluster, "PUT", f"{path}/x", {"metadata": {"name": "x", "uid": "other"}})
    message = (
        'Operation cannot be fulfilled on configmaps "x": StorageError: invalid object, Code: 4, '
        f"Key: /registry/configmaps/{ns}/x, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: "
        f"UID in precondition: other, UID in object meta: {uid}"
    )
    assert_status(resp, 409, "Conflict", message, {"name": "x", "kind": "configmaps"})
    resp = http(cluster, "PATCH", f"{path}/x", {"metadata": {"uid": "other"}}, content_type=MERGE)
    cause = {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "other": field is immutable',
        "field": "metadata.uid",
    }
    message = f'ConfigMap "x" is invalid: metadata.uid: {cause["message"]}'
    causes = [cause] if cluster.upstream_since(37) else [cause, cause]
    assert_status(resp, 422, "Invalid", message, {"name": "x", "kind": "ConfigMap", "causes": causes})
    # Without a uid, or with the object's own, the update goes through.
    resp = http(cluster, "PUT", f"{path}/x", {"metadata": {"name": "x", "uid": uid}, "data": {"a": "b"}})
    assert resp.status == 200


def test_update_of_a_missing_object(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("x", ns, {"metadata": {"name": "x"}})
    body = _status(api_exception_body(info.value), 404, "NotFound")
    assert body["message"] == 'configmaps "x" not found'


def test_name_mismatch_on_update(cluster: ClusterUnderTest, ns: str) -> None:
    http(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "x"}})
    resp = http(cluster, "PUT", f"/api/v1/namespaces/{ns}/configmaps/x", {"metadata": {"name": "y"}})
    assert resp.status == 400
    assert resp.json()["message"] == "the name of the object (y) does not match the name on the URL (x)"
