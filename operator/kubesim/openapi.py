"""The OpenAPI documents kube-apiserver serves, built from the Kubernetes 1.34 type definitions and CRDs.

Served at:

- ``/openapi/v2``: one Swagger 2.0 document (``definitions`` + ``paths``). kubectl/client-go ask for it as
  protobuf (``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``) and parse whatever comes
  back as protobuf; a JSON answer is an error on their side (see docs/kubesim.md). kubectl 1.34 only needs it
  where OpenAPI v3 is unavailable.
- ``/openapi/v3``: ``{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<H>"}, ...}}``
- ``/openapi/v3/<gv path>`` (``api/v1``, ``apis/apps/v1``, ``apis/<crd group>/<version>``): an OpenAPI 3.0
  document with ``components.schemas`` (the closure of the schemas the group version's resources use) and
  ``paths`` for each resource. kubectl uses these for ``explain``, for client-side ``apply`` (strategic
  merge patch metadata: ``x-kubernetes-patch-strategy``/``-merge-key``) and to check that PATCH supports
  ``fieldValidation`` (so it validates server-side instead of client-side).

The definitions come from :mod:`kubesim.definitions` (kubernetes-validate's JSON-schema flavour) and are
converted back to OpenAPI: ``#/$defs/X`` -> ``#/definitions/X`` (v2) or ``#/components/schemas/X`` (v3,
wrapped in ``allOf`` when the reference has sibling keys, as upstream does), ``type: [T, "null"]`` ->
``type: T``, the ``apiVersion``/``kind`` enums the JSON-schema conversion added are dropped, ``IntOrString``
and ``Quantity`` get upstream's shapes. Custom resources are published from each CRD version's
``openAPIV3Schema`` under upstream's name (``io.jupyternetes.v1alpha1.NotebookInstance`` for group
``jupyternetes.io``) with ``x-kubernetes-group-version-kind``.

Building is pure; :class:`OpenAPIBuilder` caches the serialized documents per ``generation`` (bump it whenever
the set of served resources or a CRD schema changes).
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubesim.definitions import KUBERNETES_VERSION, definition_name, definitions

__all__ = [
    "OpenAPIBuilder",
    "ServedResource",
    "build_v2",
    "build_v3",
    "crd_definition_name",
    "gv_path",
]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_OBJECT_META = f"{_META}.ObjectMeta"
_LIST_META = f"{_META}.ListMeta"
_STATUS = f"{_META}.Status"
_DELETE_OPTIONS = f"{_META}.DeleteOptions"
_PATCH = f"{_META}.Patch"
_WATCH_EVENT = f"{_META}.WatchEvent"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_API_VERSION_DESC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DESC = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this "
    "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
_METADATA_DESC = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


@dataclass(frozen=True)
class ServedResource:
    """One resource the server serves, as the OpenAPI builder needs it.

    ``schema`` is the CRD version's ``openAPIV3Schema`` for custom resources and None for built-ins (their
    schema comes from the bundled definitions). ``subresources``: e.g. ``("status",)`` or
    ``("status", "scale")``. ``list_kind`` defaults to ``kind + "List"``.
    """

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    schema: Mapping[str, Any] | None = None
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = _ALL_VERBS
    list_kind: str = ""

    @property
    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"

    @property
    def is_custom(self) -> bool:
        return self.schema is not None


def gv_path(group: str, version: str) -> str:
    """The key of a group version in ``/openapi/v3``: ``api/v1`` or ``apis/apps/v1``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def crd_definition_name(group: str, version: str, kind: str) -> str:
    """Upstream's REST-friendly name of a CRD type: (``jupyternetes.io``, ``v1``, ``X``) ->
    ``io.jupyternetes.v1.X``."""
    return ".".join([*reversed(group.split(".")), version, kind])


# ---------------------------------------------------------------------------------------------------------
# Schema conversion
# ---------------------------------------------------------------------------------------------------------


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _convert(schema: Any, v3: bool, refs: set[str], *, drop_enum: bool = False) -> Any:
    """A definitions (JSON-schema flavoured) schema converted to OpenAPI v2/v3; collects referenced names."""
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    ref = schema.get("$ref")
    for key, value in schema.items():
        if key == "$ref":
            continue
        if key == "type":
            if isinstance(value, list):
                types = [t for t in value if t != "null"]
                if types:
                    out["type"] = types[0]
            else:
                out["type"] = value
        elif key == "enum" and drop_enum:
            continue
        elif key == "properties" and isinstance(value, Mapping):
            out["properties"] = {
                name: _convert(sub, v3, refs, drop_enum=name in ("apiVersion", "kind"))
                for name, sub in value.items()
            }
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = _convert(value, v3, refs)
        elif key in ("oneOf", "anyOf", "allOf") and isinstance(value, list):
            if v3:
                out[key] = [_convert(sub, v3, refs) for sub in value]
        else:
            out[key] = copy.deepcopy(value)
    if ref:
        name = _ref_name(ref)
        refs.add(name)
        target = f"#/components/schemas/{name}" if v3 else f"#/definitions/{name}"
        if v3 and out:
            return {"allOf": [{"$ref": target}], **out}
        return {"$ref": target, **out}
    return out


def _definition(name: str, v3: bool, refs: set[str]) -> dict[str, Any]:
    raw = definitions()[name]
    description = raw.get("description")
    head: dict[str, Any] = {"description": description} if description else {}
    if name == _INT_OR_STRING:
        if v3:
            return {**head, "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
        return {**head, "format": "int-or-string", "type": "string"}
    if name == _QUANTITY:
        if v3:
            return {**head, "oneOf": [{"type": "string"}, {"type": "number"}]}
        return {**head, "type": "string"}
    converted = _convert(raw, v3, refs)
    assert isinstance(converted, dict)
    return converted


def _v2_crd_schema(schema: Any) -> Any:
    """OpenAPI v3 CRD schema -> what upstream publishes in v2: no nullable/oneOf/anyOf/allOf/not."""
    if isinstance(schema, list):
        return [_v2_crd_schema(x) for x in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("nullable", "oneOf", "anyOf", "allOf", "not"):
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {k: _v2_crd_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = _v2_crd_schema(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _crd_schemas(res: ServedResource, v3: bool, refs: set[str]) -> dict[str, dict[str, Any]]:
    """The object and list schemas of a custom resource, as upstream's CRD OpenAPI builder publishes them."""
    assert res.schema is not None
    name = crd_definition_name(res.group, res.version, res.kind)
    list_name = crd_definition_name(res.group, res.version, res.list_kind_name)
    body: dict[str, Any] = copy.deepcopy(dict(res.schema)) if v3 else _v2_crd_schema(res.schema)
    body.setdefault("type", "object")
    props: dict[str, Any] = dict(body.get("properties") or {})
    props["apiVersion"] = {"description": _API_VERSION_DESC, "type": "string"}
    props["kind"] = {"description": _KIND_DESC, "type": "string"}
    meta_ref = f"#/components/schemas/{_OBJECT_META}" if v3 else f"#/definitions/{_OBJECT_META}"
    props["metadata"] = (
        {"allOf": [{"$ref": meta_ref}], "description": _METADATA_DESC}
        if v3
        else {"$ref": meta_ref, "description": _METADATA_DESC}
    )
    body["properties"] = props
    body["x-kubernetes-group-version-kind"] = [{"group": res.group, "kind": res.kind, "version": res.version}]
    refs.add(_OBJECT_META)
    refs.add(_LIST_META)
    item_ref = f"#/components/schemas/{name}" if v3 else f"#/definitions/{name}"
    list_meta_ref = f"#/components/schemas/{_LIST_META}" if v3 else f"#/definitions/{_LIST_META}"
    listing: dict[str, Any] = {
        "description": f"{res.kind}List is a list of {res.kind}",
        "properties": {
            "apiVersion": {"description": _API_VERSION_DESC, "type": "string"},
            "items": {
                "description": f"List of {res.plural.lower()}. More info: "
                "https://git.k8s.io/community/contributors/devel/api-conventions.md",
                "items": {"$ref": item_ref},
                "type": "array",
            },
            "kind": {"description": _KIND_DESC, "type": "string"},
            "metadata": (
                {"allOf": [{"$ref": list_meta_ref}], "description": "Standard list metadata."}
                if v3
                else {"$ref": list_meta_ref, "description": "Standard list metadata."}
            ),
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [
            {"group": res.group, "kind": res.list_kind_name, "version": res.version}
        ],
    }
    return {name: body, list_name: listing}


def _close(names: Iterable[str], v3: bool, out: dict[str, dict[str, Any]]) -> None:
    """Add the named definitions and everything they reference to ``out``."""
    pending = [n for n in names if n not in out]
    while pending:
        name = pending.pop()
        if name in out or name not in definitions():
            continue
        refs: set[str] = set()
        out[name] = _definition(name, v3, refs)
        pending.extend(r for r in refs if r not in out)


# ---------------------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------------------


def _group_camel(group: str) -> str:
    if not group:
        return "Core"
    base = group.removesuffix(".k8s.io")
    return "".join(part[:1].upper() + part[1:] for part in base.replace("-", ".").split("."))


def _query(name: str, description: str, v3: bool, type_: str = "string") -> dict[str, Any]:
    if v3:
        return {
            "description": description,
            "in": "query",
            "name": name,
            "schema": {"type": type_, "uniqueItems": True},
        }
    return {"description": description, "in": "query", "name": name, "type": type_, "uniqueItems": True}


_DRY_RUN = (
    "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun "
    "directive will result in an error response and no further processing of the request. Valid values "
    "are: - All: all dry run stages will be processed"
)
_FIELD_MANAGER = (
    "fieldManager is a name associated with the actor or entity that is making these changes. The value "
    "must be less than or 128 characters long, and only contain printable characters, as defined by "
    "https://golang.org/pkg/unicode/#IsPrint."
)
_FIELD_VALIDATION = (
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) "
    "containing "
    "unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are "
    "silently dropped from the object, and will ignore all but the last duplicate field that the decoder "
    "encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the "
    "standard warning response header for each unknown field that is dropped from the object, and for each "
    "duplicate field that is encountered. The request will still succeed if there are no other errors, and "
    "will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will "
    "fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if "
    "any duplicate fields are present. The error returned from the server will contain all unknown and "
    "duplicate fields encountered."
)
_FORCE = (
    'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by '
    "other people. Force flag must be unset for non-apply patch requests."
)

_LIST_PARAMS = (
    ("allowWatchBookmarks", 'allowWatchBookmarks requests watch events with type "BOOKMARK".', "boolean"),
    ("continue", "The continue option should be set when retrieving more results from the server.", "string"),
    ("fieldSelector", "A selector to restrict the list of returned objects by their fields.", "string"),
    ("labelSelector", "A selector to restrict the list of returned objects by their labels.", "string"),
    ("limit", "limit is a maximum number of responses to return for a list call.", "integer"),
    (
        "resourceVersion",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
        "string",
    ),
    (
        "resourceVersionMatch",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
        "string",
    ),
    ("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.", "boolean"),
    ("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
    (
        "watch",
        "Watch for changes to the described resources and return them as a stream of add, update, and "
        "remove notifications. Specify resourceVersion.",
        "boolean",
    ),
)


def _write_params(v3: bool, *, patch: bool = False) -> list[dict[str, Any]]:
    params = [
        _query("dryRun", _DRY_RUN, v3),
        _query("fieldManager", _FIELD_MANAGER, v3),
        _query("fieldValidation", _FIELD_VALIDATION, v3),
    ]
    if patch:
        params.append(_query("force", _FORCE, v3, "boolean"))
    return params


def _ref(name: str, v3: bool) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}" if v3 else f"#/definitions/{name}"}


_MEDIA = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")


def _responses(codes: Mapping[str, str], v3: bool, media: Sequence[str] = _MEDIA) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, schema_name in codes.items():
        desc = {"200": "OK", "201": "Created", "202": "Accepted"}.get(code, "OK")
        if v3:
            out[code] = {
                "content": {m: {"schema": _ref(schema_name, v3)} for m in media},
                "description": desc,
            }
        else:
            out[code] = {"description": desc, "schema": _ref(schema_name, v3)}
    if not v3:
        out["401"] = {"description": "Unauthorized"}
    return out


def _operation(
    *,
    verb: str,
    op_id: str,
    description: str,
    gvk: Mapping[str, str],
    params: list[dict[str, Any]],
    responses: dict[str, Any],
    tag: str,
    v3: bool,
    body: tuple[Sequence[str], str] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"description": description, "operationId": op_id}
    if params:
        op["parameters"] = list(params)
    if body is not None:
        media, schema_name = body
        if v3:
            op["requestBody"] = {
                "content": {m: {"schema": _ref(schema_name, v3)} for m in media},
                "required": True,
            }
        else:
            op.setdefault("parameters", []).insert(
                0, {"in": "body", "name": "body", "required": True, "schema": _ref(schema_name, v3)}
            )
            op["consumes"] = list(media)
    if not v3:
        op["produces"] = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
        op["schemes"] = ["https"]
    op["responses"] = responses
    op["tags"] = [tag]
    op["x-kubernetes-action"] = verb
    op["x-kubernetes-group-version-kind"] = dict(gvk)
    return op


def _path_param(name: str, description: str, v3: bool) -> dict[str, Any]:
    if v3:
        return {
            "description": description,
            "in": "path",
            "name": name,
            "required": True,
            "schema": {"type": "string", "uniqueItems": True},
        }
    return {
        "description": description,
        "in": "path",
        "name": name,
        "required": True,
        "type": "string",
        "uniqueItems": True,
    }


def _resource_paths(res: ServedResource, object_name: str, list_name: str, v3: bool) -> dict[str, Any]:
    prefix = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    ns_part = "/namespaces/{namespace}" if res.namespaced else ""
    camel = _group_camel(res.group) + res.version[:1].upper() + res.version[1:]
    scope = "Namespaced" if res.namespaced else ""
    tag = f"{res.group.replace('.', '') or 'core'}_{res.version}"
    gvk = {"group": res.group, "kind": res.kind, "version": res.version}
    verbs = set(res.verbs)
    pretty = _query("pretty", "If 'true', then the output is pretty printed.", v3)
    ns_param = _path_param("namespace", "object name and auth scope, such as for teams and projects", v3)
    name_param = _path_param("name", f"name of the {res.kind}", v3)
    patch_media = [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ]
    if not res.is_custom:
        patch_media.append("application/strategic-merge-patch+json")
    if v3:
        patch_media.append("application/apply-patch+cbor")
    write_media = ["*/*"]
    paths: dict[str, Any] = {}

    collection: dict[str, Any] = {}
    list_params = [_query(n, d, v3, t) for n, d, t in _LIST_PARAMS]
    if "list" in verbs:
        collection["get"] = _operation(
            verb="list",
            op_id=f"list{camel}{scope}{res.kind}",
            description=f"list or watch objects of kind {res.kind}",
            gvk=gvk,
            params=list_params,
            responses=_responses({"200": list_name}, v3, (*_MEDIA, "application/json;stream=watch")),
            tag=tag,
            v3=v3,
        )
    if "create" in verbs:
        collection["post"] = _operation(
            verb="post",
            op_id=f"create{camel}{scope}{res.kind}",
            description=f"create a {res.kind}",
            gvk=gvk,
            params=_write_params(v3),
            responses=_responses({"200": object_name, "201": object_name, "202": object_name}, v3),
            tag=tag,
            v3=v3,
            body=(write_media, object_name),
        )
    if "deletecollection" in verbs:
        collection["delete"] = _operation(
            verb="deletecollection",
            op_id=f"delete{camel}Collection{scope}{res.kind}",
            description=f"delete collection of {res.kind}",
            gvk=gvk,
            params=[_query("dryRun", _DRY_RUN, v3), *list_params],
            responses=_responses({"200": _STATUS}, v3),
            tag=tag,
            v3=v3,
            body=(write_media, _DELETE_OPTIONS),
        )
    if collection:
        collection["parameters"] = ([ns_param] if res.namespaced else []) + [pretty]
        paths[f"{prefix}{ns_part}/{res.plural}"] = collection

    item: dict[str, Any] = {}
    if "get" in verbs:
        item["get"] = _operation(
            verb="get",
            op_id=f"read{camel}{scope}{res.kind}",
            description=f"read the specified {res.kind}",
            gvk=gvk,
            params=[],
            responses=_responses({"200": object_name}, v3),
            tag=tag,
            v3=v3,
        )
    if "update" in verbs:
        item["put"] = _operation(
            verb="put",
            op_id=f"replace{camel}{scope}{res.kind}",
            description=f"replace the specified {res.kind}",
            gvk=gvk,
            params=_write_params(v3),
            responses=_responses({"200": object_name, "201": object_name}, v3),
            tag=tag,
            v3=v3,
            body=(write_media, object_name),
        )
    if "patch" in verbs:
        item["patch"] = _operation(
            verb="patch",
            op_id=f"patch{camel}{scope}{res.kind}",
            description=f"partially update the specified {res.kind}",
            gvk=gvk,
            params=_write_params(v3, patch=True),
            responses=_responses({"200": object_name, "201": object_name}, v3),
            tag=tag,
            v3=v3,
            body=(patch_media, _PATCH),
        )
    if "delete" in verbs:
        item["delete"] = _operation(
            verb="delete",
            op_id=f"delete{camel}{scope}{res.kind}",
            description=f"delete a {res.kind}",
            gvk=gvk,
            params=[
                _query("dryRun", _DRY_RUN, v3),
                _query(
                    "gracePeriodSeconds",
                    "The duration in seconds before the object should be deleted.",
                    v3,
                    "integer",
                ),
                _query("propagationPolicy", "Whether and how garbage collection will be performed.", v3),
            ],
            responses=_responses({"200": _STATUS, "202": _STATUS}, v3),
            tag=tag,
            v3=v3,
            body=(write_media, _DELETE_OPTIONS),
        )
    if item:
        item["parameters"] = [name_param] + ([ns_param] if res.namespaced else []) + [pretty]
        paths[f"{prefix}{ns_part}/{res.plural}/{{name}}"] = item

    if res.namespaced and "list" in verbs:
        paths[f"{prefix}/{res.plural}"] = {
            "get": _operation(
                verb="list",
                op_id=f"list{camel}{res.kind}ForAllNamespaces",
                description=f"list or watch objects of kind {res.kind}",
                gvk=gvk,
                params=list_params,
                responses=_responses({"200": list_name}, v3, (*_MEDIA, "application/json;stream=watch")),
                tag=tag,
                v3=v3,
            ),
            "parameters": [pretty],
        }

    for sub in res.subresources:
        if sub not in ("status", "scale"):
            continue
        sub_kind = "Scale" if sub == "scale" else ""
        target = "io.k8s.api.autoscaling.v1.Scale" if sub == "scale" else object_name
        sub_gvk = {"group": "autoscaling", "kind": "Scale", "version": "v1"} if sub == "scale" else gvk
        suffix = sub_kind or "Status"
        paths[f"{prefix}{ns_part}/{res.plural}/{{name}}/{sub}"] = {
            "get": _operation(
                verb="get",
                op_id=f"read{camel}{scope}{res.kind}{suffix}",
                description=f"read {sub} of the specified {res.kind}",
                gvk=sub_gvk,
                params=[],
                responses=_responses({"200": target}, v3),
                tag=tag,
                v3=v3,
            ),
            "patch": _operation(
                verb="patch",
                op_id=f"patch{camel}{scope}{res.kind}{suffix}",
                description=f"partially update {sub} of the specified {res.kind}",
                gvk=sub_gvk,
                params=_write_params(v3, patch=True),
                responses=_responses({"200": target, "201": target}, v3),
                tag=tag,
                v3=v3,
                body=(patch_media, _PATCH),
            ),
            "put": _operation(
                verb="put",
                op_id=f"replace{camel}{scope}{res.kind}{suffix}",
                description=f"replace {sub} of the specified {res.kind}",
                gvk=sub_gvk,
                params=_write_params(v3),
                responses=_responses({"200": target, "201": target}, v3),
                tag=tag,
                v3=v3,
                body=(write_media, target),
            ),
            "parameters": [name_param] + ([ns_param] if res.namespaced else []) + [pretty],
        }
    return paths


def _names(res: ServedResource) -> tuple[str, str] | None:
    if res.is_custom:
        return (
            crd_definition_name(res.group, res.version, res.kind),
            crd_definition_name(res.group, res.version, res.list_kind_name),
        )
    object_name = definition_name(res.group, res.version, res.kind)
    list_name = definition_name(res.group, res.version, res.list_kind_name)
    if object_name is None:
        return None
    return object_name, list_name or _STATUS


# ---------------------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------------------

_INFO = {"title": "Kubernetes", "version": f"v{KUBERNETES_VERSION}"}
_BEARER = {
    "BearerToken": {
        "description": "Bearer Token authentication",
        "in": "header",
        "name": "authorization",
        "type": "apiKey",
    }
}


def _schemas_for(
    resources: Sequence[ServedResource], v3: bool
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    paths: dict[str, Any] = {}
    wanted: set[str] = {_STATUS, _DELETE_OPTIONS, _PATCH, _OBJECT_META, _LIST_META}
    for res in resources:
        names = _names(res)
        if names is None:
            continue
        object_name, list_name = names
        if res.is_custom:
            refs: set[str] = set()
            schemas.update(_crd_schemas(res, v3, refs))
            wanted |= refs
        else:
            wanted.add(object_name)
            wanted.add(list_name)
        if "scale" in res.subresources:
            wanted.add("io.k8s.api.autoscaling.v1.Scale")
        paths.update(_resource_paths(res, object_name, list_name, v3))
    _close(sorted(wanted), v3, schemas)
    return schemas, paths


def build_v2(resources: Sequence[ServedResource]) -> dict[str, Any]:
    """The ``/openapi/v2`` Swagger 2.0 document: every bundled definition (as upstream publishes all of
    them), the custom resources' definitions and the paths of the served resources."""
    schemas, paths = _schemas_for(resources, v3=False)
    _close(sorted(definitions()), False, schemas)
    return {
        "definitions": {name: schemas[name] for name in sorted(schemas)},
        "info": dict(_INFO),
        "paths": {p: paths[p] for p in sorted(paths)},
        "security": [{"BearerToken": []}],
        "securityDefinitions": copy.deepcopy(_BEARER),
        "swagger": "2.0",
    }


def build_v3(group: str, version: str, resources: Sequence[ServedResource]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of one group version (``/openapi/v3/api/v1``, ``/openapi/v3/apis/G/V``)."""
    mine = [r for r in resources if r.group == group and r.version == version]
    schemas, paths = _schemas_for(mine, v3=True)
    return {
        "components": {
            "schemas": {name: schemas[name] for name in sorted(schemas)},
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey",
                }
            },
        },
        "info": dict(_INFO),
        "openapi": "3.0.0",
        "paths": {p: paths[p] for p in sorted(paths)},
        "security": [{"BearerToken": []}],
    }


def _dumps(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


class OpenAPIBuilder:
    """Builds and caches the serialized documents; thread-safe.

    Every method takes the currently served resources and a ``generation`` counter; the cache is dropped
    whenever ``generation`` differs from the last call's (bump it when a CRD is created, changed or deleted).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._v2: bytes | None = None
        self._v3: dict[str, bytes] = {}
        self._hash: dict[str, str] = {}

    def _sync(self, generation: int) -> None:
        if generation != self._generation:
            self._generation = generation
            self._v2 = None
            self._v3 = {}
            self._hash = {}

    def v2(self, resources: Sequence[ServedResource], generation: int) -> bytes:
        """``/openapi/v2`` as JSON bytes."""
        with self._lock:
            self._sync(generation)
            if self._v2 is None:
                self._v2 = _dumps(build_v2(resources))
            return self._v2

    @staticmethod
    def group_versions(resources: Sequence[ServedResource]) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], None] = {}
        for res in resources:
            seen.setdefault((res.group, res.version), None)
        return sorted(seen, key=lambda gv: (gv[0] != "", gv[0], gv[1]))

    def v3(self, path: str, resources: Sequence[ServedResource], generation: int) -> bytes | None:
        """``/openapi/v3/<path>`` as JSON bytes (``path`` like ``api/v1`` or ``apis/apps/v1``, without the
        query string); None when no served resource belongs to that group version (answer 404)."""
        path = path.strip("/")
        with self._lock:
            self._sync(generation)
            cached = self._v3.get(path)
            if cached is not None:
                return cached
            for group, version in self.group_versions(resources):
                if gv_path(group, version) == path:
                    data = _dumps(build_v3(group, version, resources))
                    self._v3[path] = data
                    self._hash[path] = hashlib.sha512(data).hexdigest().upper()
                    return data
            return None

    def v3_hash(self, path: str, resources: Sequence[ServedResource], generation: int) -> str | None:
        """The content hash (upper-case hex SHA-512, like upstream) of one group version's document: the
        ``hash`` query parameter and the ETag. None when the group version is not served."""
        if self.v3(path, resources, generation) is None:
            return None
        with self._lock:
            return self._hash.get(path.strip("/"))

    def v3_index(self, resources: Sequence[ServedResource], generation: int) -> dict[str, Any]:
        """``/openapi/v3``:
        ``{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}``."""
        index: dict[str, Any] = {}
        for group, version in self.group_versions(resources):
            path = gv_path(group, version)
            digest = self.v3_hash(path, resources, generation)
            if digest is not None:
                index[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
        return {"paths": index}
