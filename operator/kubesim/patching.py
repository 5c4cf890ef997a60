"""Patch semantics of the real API server: JSON merge patch, JSON patch, strategic merge patch and
server-side apply with ``metadata.managedFields``. Pure functions on JSON-like dicts, no I/O.

What each function follows
--------------------------
* :func:`apply_merge_patch` - RFC 7386 as ``evanphx/json-patch``'s ``MergePatch`` implements it (nulls
  delete; nulls inside values added where nothing was are pruned; a ``null`` or scalar patch is
  ``400 Invalid JSON Patch``).
* :func:`apply_json_patch` - RFC 6902 through the ``jsonpatch`` library, with the apiserver's status codes:
  a body that is not a list is 400 BadRequest, more than 10000 operations 413, and any operation that
  fails (failing ``test``, missing path, bad index, unknown op) 422 Invalid with the message
  ``the server rejected our request due to an error in our request`` and the json-patch error as an
  ``UnexpectedServerResponse`` cause, as ``NewGenericServerResponse`` builds it.
* :func:`apply_strategic_merge_patch` - ``k8s.io/apimachinery/pkg/util/strategicpatch`` (``mergeMap`` /
  ``mergeSlice``), driven by ``x-kubernetes-patch-strategy`` / ``x-kubernetes-patch-merge-key`` of the real
  type definitions (:mod:`kubesim.definitions`): lists with strategy ``merge`` merge by their key (or as a
  union for primitive lists such as finalizers), every other list is replaced; ``retainKeys``;
  directives ``$patch: replace|delete|merge``, ``$deleteFromPrimitiveList/<f>``, ``$setElementOrder/<f>``,
  ``$retainKeys``; upstream's element ordering (patch items before server-only items unless the live order
  says otherwise). Errors map as ``interpretStrategicMergePatchError`` does: malformed directives 400,
  list of lists 422, anything else 500 InternalError.
* :func:`apply_server_side` - structured-merge-diff as used by the apiserver's field manager: the applied
  configuration is merged into the live object (maps merge recursively; lists of type ``map`` merge by
  ``x-kubernetes-list-map-keys``, ``set`` lists union, ``atomic`` lists and ``x-kubernetes-map-type:
  atomic`` maps are replaced); fields this manager applied before and no longer applies are removed unless
  another manager owns them; a field owned by another manager whose value the applied configuration
  changes is a 409 Conflict (``Apply failed with 1 conflict: conflict with "mgr" using v1: .spec.x``, causes
  of type ``FieldManagerConflict``) unless ``force``, which moves ownership. Ownership is stored in
  ``metadata.managedFields`` as real ``FieldsV1`` sets (``f:``, ``k:{...}``, ``v:...``, ``.``).
* :func:`record_update_manager` - the field manager's ``Update`` for create/update/patch: the manager
  (operation ``Update``) gains the fields the write added or changed, every manager loses the fields the
  write removed, the entry's time moves only when it gained something, objects whose managedFields were
  cleared stay untracked, a request carrying ``managedFields: [{}]`` resets them, at most 10 Update
  entries are kept (older ones merge into ``ancient-changes``).

Simplifications in managed-field tracking and conflict detection
-----------------------------------------------------------------
* The type of every node comes from the OpenAPI-style schema (built-in definitions or the CRD's
  ``openAPIV3Schema``): lists with no ``x-kubernetes-list-type`` are atomic unless they carry a merge
  patch strategy (then ``map`` keyed by the merge key, or ``set``); fields a CRD schema does not describe
  are "deduced" as upstream does (maps granular, lists atomic). Schema version conversion is not modelled:
  sets recorded under another apiVersion are compared as if they were the current one.
* Upstream computes ``Update`` sets against a Go zero-value object, so whether a created node is itself a
  member (the ``.: {}`` entry) depends on whether Go holds it by value: for built-in types a struct held by
  value (``strategy``, ``template``, ``resources``: ``data/value_structs.json``, from upstream's OpenAPI v3
  ``"default": {}``) and a field listed as ``required`` are never members themselves; structs held by
  pointer (``rollingUpdate``, ``securityContext``), maps, lists and list items are; for custom resources
  every created node is a member (as upstream, which has no Go struct).
* A missing list-map key field takes its schema ``default`` (``protocol`` defaults to ``TCP``); duplicate
  keys or missing keys without default make ``apply_server_side`` answer 500, while Update tracking falls
  back to positional ``i:<n>`` elements instead of failing.
* No ``last-applied-configuration`` conflict resolution (upstream's ``lastAppliedManager`` lets a
  client-side-applied object be taken over when the values match the annotation); only the annotation
  update for the manager named ``kubectl`` is modelled.
* ``status`` is not ignored automatically: callers serving a status subresource should pass
  ``subresource="status"`` (or ``reset_status=True`` on the main endpoint) so ownership matches upstream's
  reset fields.
* Nulls in an applied configuration remove the field instead of storing ``null``; containers emptied by
  pruning are dropped for built-in types and kept (empty) for custom resources.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonpatch

from kubesim import definitions as k8sdefs
from kubesim.errors import ApiError
from kubesim.objectmeta import canonical_time

__all__ = [
    "apply_json_patch",
    "apply_merge_patch",
    "apply_server_side",
    "apply_strategic_merge_patch",
    "decode_fields_v1",
    "encode_fields_v1",
    "has_strategic_schema",
    "manager_from_user_agent",
    "record_update_manager",
]

MAX_JSON_PATCH_OPERATIONS = 10000
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES_MANAGER = "ancient-changes"
BEFORE_FIRST_APPLY_MANAGER = "before-first-apply"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
FIELD_MANAGER_MAX_LENGTH = 128

_MISSING: Any = object()


# ========================================================================================================
# Small helpers


def _clone(v: Any) -> Any:
    """Deep copy of JSON-like data (much faster than copy.deepcopy)."""
    if isinstance(v, dict):
        return {k: _clone(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clone(x) for x in v]
    return v


def _json_equal(a: Any, b: Any) -> bool:
    """Deep equality of decoded JSON where booleans are not numbers (as in Go)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(k in b and _json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    return bool(a == b)


def _go_fmt(v: Any) -> str:
    """Go's ``%v`` of a decoded JSON value (``map[a:1 b:x]``, ``[a b]``, ``<nil>``)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e21 else repr(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_fmt(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_fmt(x) for x in v) + "]"
    return str(v)


def _go_type(v: Any) -> str:
    """``reflect.TypeOf`` of a decoded JSON value as Go prints it."""
    if v is None:
        return "%!s(<nil>)"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    return type(v).__name__


def _json_kind(v: Any) -> str:
    """The JSON kind of a value, as encoding/json names it in ``cannot unmarshal X`` errors."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _generic_422() -> ApiError:
    """``NewGenericServerResponse(422, ..., isUnexpectedResponse=false)``: reason Invalid, a fixed message,
    empty details (the patcher's own words are not shown to the client)."""
    message = "the server rejected our request due to an error in our request"
    return ApiError(422, "Invalid", message, details={})


def patch_invalid(patched: Any, message: str) -> ApiError:
    """``NewInvalid(GroupKind{}, "", patch: Invalid value: ...)`` for a patched document that does not
    decode."""
    shown = json.dumps(patched, separators=(",", ":"))
    cause_msg = f"Invalid value: {json.dumps(shown)}: {message}"
    return ApiError(
        422,
        "Invalid",
        f' "" is invalid: patch: {cause_msg}',
        details={"causes": [{"reason": "FieldValueInvalid", "message": cause_msg, "field": "patch"}]},
    )


def _internal(message: str) -> ApiError:
    """A plain Go error returned by the patcher: a 500 with its text, no reason, no details."""
    return ApiError(500, "", message)


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


# ========================================================================================================
# JSON merge patch (RFC 7386)


def _prune_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _prune_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_prune_nulls(x) if x is not None else None for x in v]
    return v


def _merge_docs(doc: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
            continue
        cur = doc.get(k)
        if cur is None:
            doc[k] = _prune_nulls(_clone(v))
        elif isinstance(cur, dict) and isinstance(v, dict):
            _merge_docs(cur, v)
        elif isinstance(cur, dict):
            doc[k] = _clone(v)
        else:
            doc[k] = _prune_nulls(_clone(v))


def apply_merge_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a JSON merge patch (``application/merge-patch+json``); returns a new dict.

    Raises ApiError 400 ``Invalid JSON Patch`` for a ``null``/scalar patch and 422 Invalid when the result
    is not an object (an array patch), as the apiserver does.
    """
    if isinstance(patch, dict):
        doc = _clone(original)
        _merge_docs(doc, patch)
        return doc  # type: ignore[no-any-return]
    if isinstance(patch, list):
        result = _prune_nulls(_clone(patch))
        raise patch_invalid(
            result, "json: cannot unmarshal array into Go value of type map[string]interface {}"
        )
    raise _bad("Invalid JSON Patch")


# ========================================================================================================
# JSON patch (RFC 6902)


def _parent(doc: Any, path: str) -> tuple[Any, str] | None:
    """The container a JSON pointer points into and the last token; None when that container is missing."""
    try:
        parts = jsonpatch.JsonPointer(path).parts
    except jsonpatch.JsonPointerException:
        return None
    if not parts:
        return None
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            return None
    return (cur, parts[-1]) if isinstance(cur, (dict, list)) else None


def apply_json_patch(original: dict[str, Any], ops: Any) -> dict[str, Any]:
    """Apply a JSON patch (``application/json-patch+json``); returns a new dict.

    Raises ApiError 400 BadRequest for a malformed patch document, 413 RequestEntityTooLarge for more than
    10000 operations, and 422 Invalid (``the server rejected our request due to an error in our request``)
    when an operation fails, e.g. a failing ``test``.
    """
    if not isinstance(ops, list):
        raise _bad(f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise _bad(f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise ApiError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    doc: Any = _clone(original)
    for op in ops:
        norm = dict(op)
        if norm.get("op") in ("add", "replace", "test") and "value" not in norm:
            norm["value"] = None  # json-patch v4 treats a missing value as null
        if norm.get("op") == "replace" and isinstance(norm.get("path"), str):
            found = _parent(doc, norm["path"])
            if found is not None and isinstance(found[0], dict) and found[1] not in found[0]:
                norm["op"] = "add"  # json-patch v4 reads a missing key as null, so replace sets it
        try:
            if norm.get("op") == "test" and isinstance(norm.get("path"), str):
                # json-patch compares decoded JSON; Python would call True == 1.
                target = jsonpatch.JsonPointer(norm["path"]).resolve(doc, _MISSING)
                if target is _MISSING:
                    if norm["value"] is None and _parent(doc, norm["path"]) is not None:
                        continue
                    raise jsonpatch.JsonPatchTestFailed("test failed")
                if not _json_equal(target, norm["value"]):
                    raise jsonpatch.JsonPatchTestFailed("test failed")
                continue
            doc = jsonpatch.JsonPatch([norm]).apply(doc, in_place=True)
        except (
            jsonpatch.JsonPatchException,
            jsonpatch.JsonPointerException,
            KeyError,
            IndexError,
            TypeError,
            ValueError,
        ) as exc:
            raise _generic_422() from exc
    if not isinstance(doc, dict):
        raise patch_invalid(
            doc, f"json: cannot unmarshal {_json_kind(doc)} into Go value of type map[string]interface {{}}"
        )
    return doc


# ========================================================================================================
# Schemas: the built-in definitions and CRD structural schemas, seen through $refs.

_OBJECT_META_REF = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _resolve(schema: Any) -> Any:
    seen = 0
    while isinstance(schema, Mapping) and "$ref" in schema and seen < 64:
        try:
            schema = k8sdefs.resolve_ref(schema["$ref"])
        except KeyError:
            return None
        seen += 1
    if (
        isinstance(schema, Mapping)
        and "allOf" in schema
        and len(schema["allOf"]) == 1
        and "properties" not in schema
    ):
        return _resolve(schema["allOf"][0])
    return schema if isinstance(schema, Mapping) else None


@functools.cache
def _builtin_root(group: str, version: str, kind: str) -> dict[str, Any] | None:
    """The root schema of a built-in kind. One dict per kind (never changed), so that the types computed
    from it are cached (by identity) instead of computed again, and kept, on every write."""
    name = k8sdefs.definition_name(group, version, kind)
    if name is None:
        return None
    return {"$ref": f"#/$defs/{name}"}


def has_strategic_schema(group: str, version: str, kind: str) -> bool:
    """Whether strategic merge patch is possible: true for built-in kinds, false for custom resources
    (for which the server answers 415 UnsupportedMediaType)."""
    return k8sdefs.definition_name(group, version, kind) is not None


def _child_schema(schema: Any, key: str) -> Any:
    s = _resolve(schema)
    if s is None:
        return None
    props = s.get("properties")
    if props and key in props:
        return props[key]
    ap = s.get("additionalProperties")
    return ap if isinstance(ap, Mapping) else None


def _annotations(raw: Any) -> dict[str, Any]:
    """The x-kubernetes-* annotations of a property, on the property itself or its referenced definition."""
    out: dict[str, Any] = {}
    s = _resolve(raw)
    if isinstance(s, Mapping):
        out.update({k: v for k, v in s.items() if k.startswith("x-kubernetes-")})
    if isinstance(raw, Mapping):
        out.update({k: v for k, v in raw.items() if k.startswith("x-kubernetes-")})
    return out


# ========================================================================================================
# Strategic merge patch


class _SmpError(Exception):
    """An error of the strategic merge machinery; ``status`` is 400, 422 or 500 as upstream maps it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList"
_SET_ORDER_PREFIX = "$setElementOrder"

_ERR_BAD_PRIMITIVE_LIST = _SmpError(400, "invalid patch format of primitive list")
_ERR_BAD_RETAIN_KEYS = _SmpError(400, "invalid patch format of retainKeys")
_ERR_BAD_SET_ORDER = _SmpError(400, "invalid patch format of setElementOrder list")
_ERR_NO_LIST_OF_LISTS = _SmpError(422, "lists of lists are not supported")


def _err_bad_arg_type(expected: str, actual: Any) -> _SmpError:
    return _SmpError(500, f"expected a {expected}, but received a {_go_type(actual)}")


def _err_no_merge_key(m: Any, key: str) -> _SmpError:
    return _SmpError(500, f"map: {_go_fmt(m)} does not contain declared merge key: {key}")


def _err_bad_patch_type(t: Any, m: Any) -> _SmpError:
    return _SmpError(500, f"unknown patch type: {_go_fmt(t)} in map: {_go_fmt(m)}")


def _patch_meta(schema: Any, key: str) -> tuple[Any, str, str]:
    """(raw field schema, patch strategy without retainKeys, merge key) of a field."""
    raw = _child_schema(schema, key)
    if raw is None:
        return None, "", ""
    ann = _annotations(raw)
    strategies = [s for s in str(ann.get("x-kubernetes-patch-strategy", "")).split(",") if s]
    _, strategy = _extract_retain_keys(strategies)
    return raw, strategy, str(ann.get("x-kubernetes-patch-merge-key", ""))


def _extract_retain_keys(strategies: list[str]) -> tuple[bool, str]:
    if not strategies:
        return False, ""
    if len(strategies) == 1:
        return (True, "") if strategies[0] == "retainKeys" else (False, strategies[0])
    if len(strategies) == 2:
        if strategies[0] == "retainKeys":
            return True, strategies[1]
        if strategies[1] == "retainKeys":
            return True, strategies[0]
    raise _SmpError(500, f"unexpected patch strategy: [{' '.join(strategies)}]")


def _items_schema(raw: Any) -> Any:
    s = _resolve(raw)
    return s.get("items") if isinstance(s, Mapping) else None


def _strict_key(v: Any) -> tuple[type, Any]:
    """A hashable identity for a primitive as Go's interface{} equality sees it."""
    return (type(v), v)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and bool(a == b)


def _discard_nulls(v: Any) -> None:
    if isinstance(v, dict):
        for k in [k for k, x in v.items() if x is None]:
            del v[k]
        for x in v.values():
            _discard_nulls(x)
    elif isinstance(v, list):
        for x in v:
            _discard_nulls(x)


def _remove_directives(v: Any) -> tuple[Any, bool]:
    """Strip directive maps from a value taken from the patch as is; (value, keep)."""
    if isinstance(v, dict):
        if _DIRECTIVE in v:
            if v.get(_DIRECTIVE) == "replace":
                rest = {k: x for k, x in v.items() if k != _DIRECTIVE}
                return _remove_directives(rest)
            return None, False
        out: dict[str, Any] = {}
        for k, x in v.items():
            if k == _RETAIN_KEYS or k.startswith((_SET_ORDER_PREFIX, _DELETE_PRIMITIVE_PREFIX)):
                continue
            nx, keep = _remove_directives(x)
            if keep:
                out[k] = nx
        return out, True
    if isinstance(v, list):
        res = []
        for x in v:
            nx, keep = _remove_directives(x)
            if keep:
                res.append(nx)
        return res, True
    return v, True


def _extract_key(key: str, prefix: str) -> str:
    parts = key.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        if prefix == _DELETE_PRIMITIVE_PREFIX:
            raise _ERR_BAD_PRIMITIVE_LIST
        raise _ERR_BAD_SET_ORDER
    return parts[1]


def _slice_element_kind(*lists: list[Any]) -> str:
    prev: type | None = None
    for lst in lists:
        for v in lst:
            t = type(v)
            if prev is None:
                prev = t
                if t is list:
                    raise _ERR_NO_LIST_OF_LISTS
            elif prev is not t:
                raise _SmpError(
                    500, "list element types are not identical: [" + " ".join(_go_fmt(x) for x in lists) + "]"
                )
    if prev is None:
        raise _SmpError(500, "no elements in any of the given slices")
    return "map" if prev is dict else "primitive"


def _index(lst: list[Any], item: Any, merge_key: str, kind: str) -> int:
    if kind == "map":
        want = item.get(merge_key) if isinstance(item, dict) else None
        for i, v in enumerate(lst):
            if isinstance(v, dict) and _same(v.get(merge_key), want):
                return i
        return -1
    for i, v in enumerate(lst):
        if _same(v, item):
            return i
    return -1


def _find_by_key(lst: list[Any], merge_key: str, value: Any) -> int:
    for i, v in enumerate(lst):
        if not isinstance(v, dict):
            raise _SmpError(500, f"value for key {i} is not a map.")
        if merge_key in v and _same(v[merge_key], value):
            return i
    return -1


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    patch_items: list[Any] = []
    server_only: list[Any] = []
    if not merge_key:
        present = {_strict_key(v) for v in by if not isinstance(v, (dict, list))}
        for v in merged:
            (
                patch_items if not isinstance(v, (dict, list)) and _strict_key(v) in present else server_only
            ).append(v)
        return patch_items, server_only
    for v in merged:
        if not isinstance(v, dict):
            raise _err_bad_arg_type("map[string]interface {}", v)
        if merge_key not in v:
            raise _err_no_merge_key(v, merge_key)
        (patch_items if _find_by_key(by, merge_key, v[merge_key]) >= 0 else server_only).append(v)
    return patch_items, server_only


def _normalize_slice_order(to_sort: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    to_delete: list[Any] = []
    if kind == "map":
        for lst in (to_sort, order):
            for item in lst:
                if not isinstance(item, dict):
                    raise _err_bad_arg_type("map[string]interface {}", item)
                if merge_key not in item:
                    raise _err_no_merge_key(item, merge_key)
        keep = [v for v in to_sort if v.get(_DIRECTIVE) != "delete"]
        to_delete = [v for v in to_sort if v.get(_DIRECTIVE) == "delete"]
        to_sort = keep
    positions = [_index(order, v, merge_key, kind) for v in to_sort]
    if all(p >= 0 for p in positions):
        ranked = sorted(range(len(to_sort)), key=lambda i: positions[i])
        to_sort = [to_sort[i] for i in ranked]
    return to_sort + to_delete


def _merge_sorted(
    left: list[Any], right: list[Any], server_order: list[Any], merge_key: str, kind: str
) -> list[Any]:
    """Interleave server-only items (left) into patch items (right) following the live order."""
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], merge_key, kind)
            ri = _index(server_order, right[j], merge_key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _normalize_element_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    patch_items = _normalize_slice_order(patch_items, patch_order, merge_key, kind)
    server_only = _normalize_slice_order(server_only, server_order, merge_key, kind)
    return _merge_sorted(server_only, patch_items, server_order, merge_key, kind)


def _smp_map(original: dict[str, Any] | None, patch: dict[str, Any], schema: Any) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            rest = {k: v for k, v in patch.items() if k != _DIRECTIVE}
            cleaned, _ = _remove_directives(rest)
            _discard_nulls(cleaned)
            return cleaned  # type: ignore[no-any-return]
        if directive == "delete":
            return {}
        raise _err_bad_patch_type(directive, patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_set_element_order(original, patch, schema)

    for key, patch_v in list(patch.items()):
        is_delete_list = False
        k = key
        if key.startswith(_DELETE_PRIMITIVE_PREFIX):
            k = _extract_key(key, _DELETE_PRIMITIVE_PREFIX)
            is_delete_list = True
        if patch_v is None:
            original.pop(k, None)
            continue
        if k not in original or type(original[k]) is not type(patch_v):
            if not is_delete_list:
                _discard_nulls(patch_v)
                value, keep = _remove_directives(patch_v)
                if keep:
                    original[k] = value
                else:
                    original.pop(k, None)
            continue
        orig_v = original[k]
        if isinstance(orig_v, dict):
            raw, strategy, _ = _patch_meta(schema, k)
            if strategy == "replace":
                original[k] = patch_v
            else:
                original[k] = _smp_map(orig_v, patch_v, raw)
        elif isinstance(orig_v, list):
            raw, strategy, merge_key = _patch_meta(schema, k)
            if strategy == "merge":
                original[k] = _smp_slice(orig_v, patch_v, _items_schema(raw), merge_key, is_delete_list)
            else:
                cleaned, _ = _remove_directives(patch_v)
                original[k] = cleaned
        else:
            original[k] = patch_v
    return original


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _ERR_BAD_RETAIN_KEYS
    keep = {_strict_key(v) for v in retain if not isinstance(v, (dict, list))}
    for k, v in patch.items():
        if v is None or k.startswith((_DELETE_PRIMITIVE_PREFIX, _SET_ORDER_PREFIX)):
            continue
        if _strict_key(k) not in keep:
            raise _ERR_BAD_RETAIN_KEYS
    for k in [k for k in original if _strict_key(k) not in keep]:
        del original[k]


def _merge_set_element_order(original: dict[str, Any], patch: dict[str, Any], schema: Any) -> None:
    for key in [k for k in patch if k.startswith(_SET_ORDER_PREFIX)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _err_bad_arg_type("[]interface {}", order)
        field_key = _extract_key(key, _SET_ORDER_PREFIX)
        found_original = field_key in original
        found_patch = field_key in patch
        original_list: list[Any] = []
        patch_list: list[Any] = []
        if found_original:
            if not isinstance(original[field_key], list):
                raise _err_bad_arg_type("[]interface {}", original[field_key])
            original_list = original[field_key]
        if found_patch:
            if not isinstance(patch[field_key], list):
                raise _err_bad_arg_type("[]interface {}", patch[field_key])
            patch_list = patch[field_key]
        raw, strategy, merge_key = _patch_meta(schema, field_key)
        _validate_set_order(patch_list, order, merge_key)
        if found_original and not found_patch:
            merged = original_list
        elif not found_original and found_patch:
            merged, _ = _remove_directives(patch_list)
        elif found_original and found_patch:
            if strategy == "merge":
                merged = _smp_slice(original_list, patch_list, _items_schema(raw), merge_key, False)
            else:
                merged, _ = _remove_directives(patch_list)
        else:
            continue
        if not merged:
            original[field_key] = merged
            patch.pop(field_key, None)
            continue
        patch_items, server_only = _partition(merged, order, merge_key)
        kind = _slice_element_kind(original_list, patch_list)
        original[field_key] = _normalize_element_order(
            patch_items, server_only, order, original_list, merge_key, kind
        )
        patch.pop(field_key, None)


def _validate_set_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    if not order or not patch_list:
        return
    non_delete = patch_list
    if merge_key:
        for v in patch_list:
            if not isinstance(v, dict):
                raise _err_bad_arg_type("map[string]interface {}", v)
        non_delete = [v for v in patch_list if v.get(_DIRECTIVE) != "delete"]
    pi = si = 0
    while pi < len(non_delete) and si < len(order):
        item = non_delete[pi]
        if isinstance(item, dict) and _DIRECTIVE in item:
            pi += 1
            continue
        if merge_key:
            if not isinstance(order[si], dict):
                raise _err_bad_arg_type("map[string]interface {}", order[si])
            if merge_key not in item:
                raise _err_no_merge_key(item, merge_key)
            if merge_key not in order[si]:
                raise _err_no_merge_key(order[si], merge_key)
            equal = _same(item[merge_key], order[si][merge_key])
        else:
            equal = _same(item, order[si])
        if equal:
            pi += 1
        si += 1
    if pi < len(non_delete) and si >= len(order):
        raise _SmpError(
            500,
            f"The order in patch list:\n{_go_fmt(patch_list)}\n doesn't match {_SET_ORDER_PREFIX} list:\n"
            f"{_go_fmt(order)}\n",
        )


def _smp_slice(
    original: list[Any], patch: list[Any], elem_schema: Any, merge_key: str, is_delete_list: bool
) -> list[Any]:
    if not original and not patch:
        return original
    kind = _slice_element_kind(original, patch)
    if kind != "map":
        if is_delete_list:
            drop = {_strict_key(v) for v in patch}
            return [v for v in original if _strict_key(v) not in drop]
        merged: list[Any] = []
        seen: set[tuple[type, Any]] = set()
        for v in [*original, *patch]:
            if _strict_key(v) not in seen:
                seen.add(_strict_key(v))
                merged.append(v)
        patch_items, server_only = _partition(merged, patch, "")
        return _normalize_element_order(patch_items, server_only, patch, original, "", kind)
    if not merge_key:
        raise _SmpError(500, "cannot merge lists without merge key for type map")
    original, patch = _special_elements(original, patch, merge_key)
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _err_no_merge_key(item, merge_key)
        idx = _find_by_key(merged, merge_key, item[merge_key])
        if idx >= 0:
            merged[idx] = _smp_map(merged[idx], item, elem_schema)
        else:
            _discard_nulls(item)
            cleaned, _ = _remove_directives(item)
            merged.append(cleaned)
    patch_items, server_only = _partition(merged, patch, merge_key)
    return _normalize_element_order(patch_items, server_only, patch, original, merge_key, kind)


def _special_elements(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    without: list[Any] = []
    replace = False
    for item in patch:
        directive = item.get(_DIRECTIVE, _MISSING)
        if directive is _MISSING:
            without.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise _err_no_merge_key(item, merge_key)
            while (idx := _find_by_key(original, merge_key, item[merge_key])) >= 0:
                original = original[:idx] + original[idx + 1 :]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _SmpError(500, "merging lists cannot yet be specified in the patch")
        else:
            raise _err_bad_patch_type(directive, item)
    if replace:
        cleaned = [c for c, keep in (_remove_directives(v) for v in without) if keep]
        return cleaned, []
    return original, without


def apply_strategic_merge_patch(
    original: dict[str, Any], patch: Any, group: str, version: str, kind: str
) -> dict[str, Any]:
    """Apply a strategic merge patch to a built-in object; returns a new dict.

    Raises ApiError 400 for a patch that is not an object or has malformed directives, 422 for a list of
    lists, 500 InternalError for the other strategic-merge failures (e.g. an element without its merge
    key, an unknown ``$patch`` value), as the apiserver does. Callers must answer 415 themselves for kinds
    without a built-in schema (see :func:`has_strategic_schema`).
    """
    if not isinstance(patch, dict):
        raise _bad(
            f"json: cannot unmarshal {_json_kind(patch)} into Go value of type map[string]interface {{}}"
        )
    schema = _builtin_root(group, version, kind)
    try:
        result = _smp_map(_clone(original), _clone(patch), schema)
    except _SmpError as exc:
        if exc.status == 400:
            raise _bad(exc.message) from None
        if exc.status == 422:
            raise _generic_422() from None
        raise _internal(exc.message) from None
    return result


# ========================================================================================================
# Structured merge (server-side apply) - types

_STRUCT, _MAP, _LIST, _SCALAR, _UNTYPED = "struct", "map", "list", "scalar", "untyped"


@dataclass(frozen=True)
class _Type:
    kind: str
    props: Mapping[str, Any] = field(default_factory=dict)
    elem: Any = None  # raw schema of map values / list items (None: untyped)
    atomic: bool = False
    list_type: str = "atomic"
    keys: tuple[str, ...] = ()
    key_defaults: Mapping[str, Any] = field(default_factory=dict)
    required: frozenset[str] = frozenset()


_UNTYPED_T = _Type(_UNTYPED)
_SCALAR_T = _Type(_SCALAR)
_type_cache: dict[int, tuple[Any, _Type]] = {}


def _type_of(raw: Any) -> _Type:
    if raw is None:
        return _UNTYPED_T
    hit = _type_cache.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    t = _compute_type(raw)
    _type_cache[id(raw)] = (raw, t)
    return t


def _types_of(s: Mapping[str, Any]) -> set[str]:
    t = s.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def _compute_type(raw: Any) -> _Type:
    s = _resolve(raw)
    if s is None:
        return _UNTYPED_T
    ann = _annotations(raw)
    types = _types_of(s)
    if s.get("properties"):
        ap = s.get("additionalProperties")
        return _Type(
            _STRUCT,
            props=s["properties"],
            elem=ap if isinstance(ap, Mapping) else None,
            atomic=ann.get("x-kubernetes-map-type") == "atomic",
            required=frozenset(s.get("required") or ()),
        )
    if isinstance(s.get("additionalProperties"), Mapping):
        return _Type(
            _MAP, elem=s["additionalProperties"], atomic=ann.get("x-kubernetes-map-type") == "atomic"
        )
    if "array" in types or "items" in s:
        list_type = ann.get("x-kubernetes-list-type")
        keys: tuple[str, ...] = tuple(ann.get("x-kubernetes-list-map-keys") or ())
        if list_type is None:
            strategies = str(ann.get("x-kubernetes-patch-strategy", "")).split(",")
            merge_key = ann.get("x-kubernetes-patch-merge-key")
            if "merge" in strategies:
                list_type = "map" if merge_key else "set"
                keys = (str(merge_key),) if merge_key else ()
            else:
                list_type = "atomic"
        elif list_type == "map" and not keys and ann.get("x-kubernetes-patch-merge-key"):
            keys = (str(ann["x-kubernetes-patch-merge-key"]),)
        items = s.get("items")
        defaults: dict[str, Any] = {}
        item_schema = _resolve(items)
        if list_type == "map" and isinstance(item_schema, Mapping):
            for key in keys:
                prop = _resolve((item_schema.get("properties") or {}).get(key))
                if isinstance(prop, Mapping) and "default" in prop:
                    defaults[key] = prop["default"]
                elif key == "protocol":
                    defaults[key] = "TCP"  # the default kube-openapi publishes for ports' protocol
        return _Type(_LIST, elem=items, list_type=str(list_type), keys=keys, key_defaults=defaults)
    if ann.get("x-kubernetes-int-or-string") or "oneOf" in s or "anyOf" in s:
        return _SCALAR_T
    if "object" in types or not types or ann.get("x-kubernetes-preserve-unknown-fields"):
        return _UNTYPED_T
    return _SCALAR_T


def _child_type(t: _Type, key: str) -> _Type:
    if t.kind == _STRUCT:
        raw = t.props.get(key)
        if raw is not None:
            return _type_of(raw)
        return _type_of(t.elem)
    if t.kind == _MAP:
        return _type_of(t.elem)
    return _UNTYPED_T


def _declared(t: _Type, key: str) -> bool:
    return t.kind == _STRUCT and key in t.props


@functools.cache
def _value_struct_props() -> frozenset[int]:
    """The property schemas (by identity: the definitions are loaded once) of struct fields Go holds by
    value rather than by pointer."""
    table = json.loads((Path(__file__).parent / "data" / "value_structs.json").read_text())["structs"]
    ids: set[int] = set()
    for name, props in table.items():
        try:  # the very objects _resolve reaches (the definitions are cached per call signature)
            declared = k8sdefs.resolve_ref(f"#/$defs/{name}").get("properties") or {}
        except KeyError:
            continue
        ids.update(id(declared[prop]) for prop in props if prop in declared)
    return frozenset(ids)


def _created_child(t: _Type, key: str, ct: _Type, builtin: bool, skeleton: bool) -> tuple[bool, bool]:
    """(whether a created field is itself a member of the writer's set (``".": {}``), whether it is part
    of the Go zero-value object). Upstream compares against a zero-value Go object: a struct held by value
    under a node of that object (the root, ``spec``, ``spec.template``...) exists already, so creating it
    is no change of its own; in a created list item or pointer struct it is created like anything else. A
    required field is never a member. Custom resources have no Go struct: every created node is a
    member."""
    if not builtin or not _declared(t, key):
        return True, False
    if skeleton and ct.kind == _STRUCT and id(t.props[key]) in _value_struct_props():
        return False, True
    return key not in t.required, False


_root_cache: dict[int, tuple[Any, Any]] = {}


def _ssa_root(group: str, version: str, kind: str, schema: Mapping[str, Any] | None) -> Any:
    builtin = _builtin_root(group, version, kind)
    if builtin is not None and schema is None:
        return builtin
    key = id(schema)
    hit = _root_cache.get(key)
    if hit is not None and hit[0] is schema:
        return hit[1]
    base: dict[str, Any] = (
        dict(schema) if schema else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    )
    props = dict(base.get("properties") or {})
    props["metadata"] = {"$ref": _OBJECT_META_REF}
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    base["properties"] = props
    _root_cache[key] = (schema, base)
    return base


# ========================================================================================================
# Field paths: tuples of FieldsV1 path elements ("f:name", "k:{...}", "v:...", "i:N").

FieldPath = tuple[str, ...]


_KJSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # made once: json.dumps with options
# builds an encoder per call, a cost paid for every item of every keyed list on every write


def _kjson(v: Any) -> str:
    return _KJSON.encode(v)


class _KeyError(Exception):
    pass


def _item_pe(t: _Type, item: Any, index: int, strict: bool) -> str:
    if t.list_type == "map" and t.keys:
        if not isinstance(item, dict):
            if strict:
                raise _KeyError(
                    f"element {index}: associative list with keys has an element that is not a map"
                )
            return f"i:{index}"
        key: dict[str, Any] = {}
        for k in t.keys:
            if k in item and item[k] is not None:
                key[k] = item[k]
            elif k in t.key_defaults:
                key[k] = t.key_defaults[k]
            elif strict:
                raise _KeyError(
                    f"element {index}: associative list with keys has an element that omits key field "
                    f'"{k}" (and doesn\'t have default value)'
                )
        if not key:
            return f"i:{index}"
        return "k:" + _kjson({k: key[k] for k in sorted(key)})
    if t.list_type == "set":
        return "v:" + _kjson(item)
    return f"i:{index}"


def _effective(t: _Type, v: Any) -> str:
    """How a value is walked: "leaf", "fields" (a map/struct) or "items" (a non-atomic list)."""
    if isinstance(v, dict):
        if t.kind in (_STRUCT, _MAP):
            return "leaf" if t.atomic else "fields"
        return "fields" if t.kind == _UNTYPED else "leaf"
    if isinstance(v, list):
        return "items" if t.kind == _LIST and t.list_type != "atomic" else "leaf"
    return "leaf"


def _indexed_items(t: _Type, lst: list[Any], strict: bool) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(lst):
        pe = _item_pe(t, item, i, strict)
        if pe in seen:
            if strict:
                raise _KeyError(f"duplicate entries for key {_pe_string(pe)}")
            pe = f"i:{i}"
        seen.add(pe)
        out.append((pe, item))
    return out


def _to_set(v: Any, t: _Type, path: FieldPath, out: set[FieldPath], strict: bool) -> None:
    mode = _effective(t, v)
    if mode == "leaf":
        out.add(path)
    elif mode == "items":
        et = _type_of(t.elem)
        try:
            indexed = _indexed_items(t, v, strict)
        except _KeyError as exc:
            raise _KeyError(f"{_path_string(path)}: {exc}") from None
        for pe, item in indexed:
            p = (*path, pe)
            _to_set(item, et, p, out, strict)
            out.add(p)
    else:
        for key, val in v.items():
            p = (*path, "f:" + key)
            if val is None:
                out.add(p)
                continue
            _to_set(val, _child_type(t, key), p, out, strict)
            if (isinstance(val, dict) and not val) or not _declared(t, key):
                out.add(p)


@dataclass
class _Comparison:
    added: set[FieldPath] = field(default_factory=set)
    modified: set[FieldPath] = field(default_factory=set)
    removed: set[FieldPath] = field(default_factory=set)


def _emptyish(v: Any) -> bool:
    return v is _MISSING or v is None or (isinstance(v, (dict, list)) and not v)


def _mode(t: _Type, v: Any) -> str | None:
    return None if v is _MISSING or v is None else _effective(t, v)


def _compare(
    lhs: Any,
    rhs: Any,
    t: _Type,
    path: FieldPath,
    res: _Comparison,
    builtin: bool,
    member_if_created: bool,
    skeleton: bool = False,
) -> None:
    """structured-merge-diff's Compare: leaves added/modified/removed, plus created/deleted nodes.
    ``skeleton``: the node is part of the Go zero-value object (see :func:`_created_child`)."""
    if lhs is _MISSING:
        _one_sided(rhs, t, path, res.added, builtin, member_if_created, skeleton)
        return
    if rhs is _MISSING:
        _one_sided(lhs, t, path, res.removed, builtin, member_if_created, skeleton)
        return
    if (lhs is rhs or type(lhs) is type(rhs)) and isinstance(lhs, (dict, list)) and _same_json(lhs, rhs):
        return  # nothing below differs
    lmode, rmode = _mode(t, lhs), _mode(t, rhs)
    structural = lmode in ("fields", "items") or rmode in ("fields", "items")
    if structural and lmode is not None and rmode is not None and lmode != rmode:
        structural = False
    if structural and (lhs is None or rhs is None or (_emptyish(lhs) and _emptyish(rhs))):
        structural = False
    if not structural:
        if lhs is _MISSING:
            res.added.add(path)
        elif rhs is _MISSING:
            res.removed.add(path)
        elif not _json_equal(lhs, rhs):
            res.modified.add(path)
        return
    if (lmode or rmode) == "items":
        et = _type_of(t.elem)
        left = dict(_first_items(t, lhs if isinstance(lhs, list) else []))
        right = _first_items(t, rhs if isinstance(rhs, list) else [])
        seen: set[str] = set()
        for pe, rv in right:
            seen.add(pe)
            _compare(left.get(pe, _MISSING), rv, et, (*path, pe), res, builtin, True)
        for pe, lv in left.items():
            if pe not in seen:
                _compare(lv, _MISSING, et, (*path, pe), res, builtin, True)
    else:
        lmap: Mapping[str, Any] = lhs if isinstance(lhs, dict) else {}
        rmap: Mapping[str, Any] = rhs if isinstance(rhs, dict) else {}
        for key in {**lmap, **rmap}:
            ct = _child_type(t, key)
            member, child_skeleton = _created_child(t, key, ct, builtin, skeleton)
            _compare(
                lmap.get(key, _MISSING),
                rmap.get(key, _MISSING),
                ct,
                (*path, "f:" + key),
                res,
                builtin,
                member,
                child_skeleton,
            )
    if member_if_created:
        if lhs is _MISSING:
            res.added.add(path)
        elif rhs is _MISSING:
            res.removed.add(path)


def _one_sided(
    v: Any,
    t: _Type,
    path: FieldPath,
    out: set[FieldPath],
    builtin: bool,
    member_if_created: bool,
    skeleton: bool = False,
) -> None:
    """:func:`_compare` of a value with nothing on the other side (a created or a deleted subtree): its
    leaves and its member nodes go to ``out`` (``added`` or ``removed``)."""
    mode = "leaf" if v is None else _effective(t, v)
    if mode == "leaf" or not v:
        out.add(path)  # a leaf, null, or an empty map or list
        return
    if mode == "items":
        et = _type_of(t.elem)
        for pe, item in _first_items(t, v):
            _one_sided(item, et, (*path, pe), out, builtin, True)
    else:
        for key, val in v.items():
            ct = _child_type(t, key)
            member, child_skeleton = _created_child(t, key, ct, builtin, skeleton)
            _one_sided(val, ct, (*path, "f:" + key), out, builtin, member, child_skeleton)
    if member_if_created:
        out.add(path)


# Exact JSON of a value with object keys sorted; refuses NaN and infinities.
_EXACT_JSON = json.JSONEncoder(sort_keys=True, allow_nan=False, check_circular=False, separators=(",", ":"))


def _same_json(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are one JSON document (object key order aside): then :func:`_compare` finds
    nothing below them. Python's ``==`` is not enough (``True == 1 == 1.0``, and the field manager tells
    those apart) and a NaN is unequal to itself, so the encodings decide, NaN and infinities refused
    (compared the long way). False whenever unsure."""
    try:
        if a is b or (
            # a copy of a map whose values are the same objects (metadata: dict(stored["metadata"]))
            type(a) is dict
            and type(b) is dict
            and len(a) == len(b)
            and all(b.get(k, _MISSING) is v for k, v in a.items())
        ):
            _EXACT_JSON.encode(a)  # only NaN and infinities can still make it differ from itself
            return True
        return bool(a == b) and _EXACT_JSON.encode(a) == _EXACT_JSON.encode(b)
    except (TypeError, ValueError, RecursionError):
        return False


def _first_items(t: _Type, lst: list[Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(lst):
        pe = _item_pe(t, item, i, False)
        if pe not in seen:
            seen.add(pe)
            out.append((pe, item))
    return out


def _merge(lhs: Any, rhs: Any, t: _Type) -> Any:
    """structured-merge-diff's Merge: the applied configuration (rhs) merged into the live object (lhs).

    Shares unchanged subtrees with its inputs; callers pass private copies.
    """
    if rhs is _MISSING:
        return lhs
    if lhs is _MISSING or lhs is None or rhs is None:
        return _strip_nulls(rhs)
    rmode = _effective(t, rhs)
    if rmode == "leaf" or _effective(t, lhs) != rmode:
        return _strip_nulls(rhs)
    if rmode == "fields":
        out: dict[str, Any] = dict(lhs)
        for key, rv in rhs.items():
            if rv is None:
                out.pop(key, None)
                continue
            out[key] = _merge(lhs.get(key, _MISSING), rv, _child_type(t, key))
        return out
    return _merge_list(lhs, rhs, t)


def _strip_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _strip_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_strip_nulls(x) for x in v]
    return v


def _merge_list(lhs: list[Any], rhs: list[Any], t: _Type) -> list[Any]:
    et = _type_of(t.elem)
    lpes = [_item_pe(t, x, i, False) for i, x in enumerate(lhs)]
    rpes = [_item_pe(t, x, i, True) for i, x in enumerate(rhs)]
    lmap: dict[str, Any] = {}
    for pe, x in zip(lpes, lhs, strict=True):
        lmap.setdefault(pe, x)
    rmap: dict[str, Any] = {}
    for pe, x in zip(rpes, rhs, strict=True):
        rmap.setdefault(pe, x)
    shared = deque(pe for pe in rpes if pe in lmap)
    next_shared = shared.popleft() if shared else None
    merged_r: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                if pe not in merged_r:
                    merged_r.add(pe)
                    out.append(_merge(lmap.get(pe, _MISSING), rmap[pe], et))
                li += 1
                ri += 1
                next_shared = shared.popleft() if shared else None
                continue
            if pe in rmap and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in rmap:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged_r:
                li += 1
                continue
        if ri < len(rpes):
            pe = rpes[ri]
            if pe not in merged_r:
                merged_r.add(pe)
                out.append(_merge(lmap.get(pe, _MISSING), rmap[pe], et))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.popleft() if shared else None
    return out


_Trie = dict[str, Any]  # element -> (is_member, children trie)


def _trie(paths: Iterable[FieldPath]) -> _Trie:
    root: _Trie = {}
    for p in paths:
        node = root
        for i, pe in enumerate(p):
            entry = node.get(pe)
            if entry is None:
                entry = node[pe] = [False, {}]
            if i == len(p) - 1:
                entry[0] = True
            node = entry[1]
    return root


def _remove(v: Any, t: _Type, trie: _Trie, drop_empty: bool) -> Any:
    """Remove the member paths of ``trie`` from ``v``; returns the new value or _MISSING when emptied."""
    mode = _effective(t, v)
    if mode == "fields":
        out: dict[str, Any] = {}
        changed = False
        for key, val in v.items():
            entry = trie.get("f:" + key)
            if entry is None:
                out[key] = val
                continue
            changed = True
            if entry[0]:
                continue
            nv = _remove(val, _child_type(t, key), entry[1], drop_empty) if entry[1] else val
            if nv is not _MISSING:
                out[key] = nv
        if changed and not out and drop_empty:
            return _MISSING
        return out
    if mode == "items":
        et = _type_of(t.elem)
        items: list[Any] = []
        changed = False
        for pe, item in _indexed_items(t, v, False):
            entry = trie.get(pe)
            if entry is None:
                items.append(item)
                continue
            changed = True
            if entry[0]:
                continue
            ni = _remove(item, et, entry[1], drop_empty) if entry[1] else item
            items.append(ni if ni is not _MISSING else {})
        if changed and not items and drop_empty:
            return _MISSING
        return items
    return v


# ========================================================================================================
# FieldsV1 encoding

_PE_ORDER = {"f": 0, "k": 1, "v": 2, "i": 3}


def _pe_sort_key(pe: str) -> tuple[int, Any]:
    kind = pe[:1]
    if kind == "i":
        try:
            return (3, int(pe[2:]))
        except ValueError:
            return (3, 0)
    return (_PE_ORDER.get(kind, 4), pe[2:])


def encode_fields_v1(paths: Iterable[FieldPath]) -> dict[str, Any]:
    """Encode a set of field paths as a ``fieldsV1`` object (``{"f:spec": {"f:replicas": {}}}``)."""
    root: dict[str, Any] = {}
    members: set[FieldPath] = set(paths)
    member_nodes: set[int] = set()  # the trie nodes of the members (ids; the trie keeps them alive)
    for p in members:
        node = root
        for pe in p:
            child = node.get(pe)
            if child is None:
                child = node[pe] = {}
            node = child
        member_nodes.add(id(node))

    def finish(node: dict[str, Any]) -> dict[str, Any]:
        if not node:
            return {}
        out: dict[str, Any] = {".": {}} if id(node) in member_nodes else {}
        if len(node) == 1:
            for pe, child in node.items():
                out[pe] = finish(child)
        else:
            for pe in sorted(node, key=_pe_sort_key):
                out[pe] = finish(node[pe])
        return out

    return finish(root)


def decode_fields_v1(fields: Mapping[str, Any] | None) -> set[FieldPath]:
    """Decode a ``fieldsV1`` object into the set of member paths it contains."""
    out: set[FieldPath] = set()

    def walk(node: Mapping[str, Any], prefix: FieldPath) -> None:
        for pe, child in node.items():
            if pe == ".":
                if prefix:
                    out.add(prefix)
                continue
            p = (*prefix, pe)
            if isinstance(child, Mapping) and child:
                walk(child, p)
            else:
                out.add(p)

    if isinstance(fields, Mapping):
        walk(fields, ())
    return out


def _fv1_member(fields: Mapping[str, Any], path: FieldPath) -> bool:
    """Whether ``path`` is a member of ``fields``, a canonical fieldsV1 object (as encode_fields_v1 makes
    them: a member is a leaf ``{}`` or a node with a ``"."`` entry)."""
    node: Any = fields
    for pe in path:
        node = node.get(pe)
        if node is None:
            return False
    return bool(path) and (not node or "." in node)


def _fv1_edit(
    fields: Mapping[str, Any], remove: Iterable[FieldPath], add: Iterable[FieldPath]
) -> dict[str, Any]:
    """``encode_fields_v1((decode_fields_v1(fields) - remove) | add)`` for a canonical ``fields``, without
    decoding it: only the nodes on the edited paths are copied, the rest is shared with ``fields``."""
    root: dict[str, Any] = dict(fields)
    mine: set[int] = {id(root)}
    keep: list[dict[str, Any]] = [root]  # copies stay alive, so their ids stay theirs

    def child_of(node: dict[str, Any], pe: str) -> dict[str, Any]:
        child: dict[str, Any] = node[pe]
        if id(child) not in mine:
            child = dict(child)
            node[pe] = child
            mine.add(id(child))
            keep.append(child)
        return child

    for path in remove:
        if not _fv1_member(root, path):
            continue
        chain = [root]
        for pe in path:
            chain.append(child_of(chain[-1], pe))
        if chain[-1]:
            del chain[-1]["."]  # a member with children stays as their parent
            continue
        # A leaf goes, then every ancestor it leaves without members.
        for depth in range(len(path) - 1, -1, -1):
            parent = chain[depth]
            del parent[path[depth]]
            n = len(parent)
            if depth == 0 or n > 1 or (n == 1 and "." not in parent):
                break
            if n == 1:
                parent.clear()  # only "." left: a member without children is a leaf
                break

    unsorted: dict[int, dict[str, Any]] = {}
    intermediate: set[int] = set()  # nodes created here for their children only (not members)
    for path in add:
        node = root
        last = len(path) - 1
        for i, pe in enumerate(path):
            if pe in node:
                child = child_of(node, pe)
                if i < last:
                    if not child:  # a leaf member about to get children
                        child["."] = {}
                elif id(child) in intermediate or (child and "." not in child):
                    intermediate.discard(id(child))
                    child["."] = {}
                    unsorted[id(child)] = child
            else:
                child = node[pe] = {}
                mine.add(id(child))
                keep.append(child)
                unsorted[id(node)] = node
                if i < last:
                    intermediate.add(id(child))
            node = child
    for node in unsorted.values():
        keys = sorted((k for k in node if k != "."), key=_pe_sort_key)
        items = [(".", node["."])] if "." in node else []
        items.extend((k, node[k]) for k in keys)
        node.clear()
        node.update(items)
    return root


def _pe_string(pe: str) -> str:
    kind, body = pe[:2], pe[2:]
    if kind == "f:":
        return "." + body
    if kind == "k:":
        try:
            key = json.loads(body)
        except ValueError:
            return "[" + body + "]"
        return "[" + ",".join(f"{k}={_kjson(v)}" for k, v in sorted(key.items())) + "]"
    if kind == "v:":
        return "[=" + body + "]"
    if kind == "i:":
        return "[" + body + "]"
    return "{{invalid path element}}"


def _path_string(path: FieldPath) -> str:
    return "".join(_pe_string(pe) for pe in path)


# ========================================================================================================
# managedFields bookkeeping

_STRIP_PATHS: frozenset[FieldPath] = frozenset(
    {("f:apiVersion",), ("f:kind",), ("f:metadata",)}
    | {
        ("f:metadata", f"f:{f}")
        for f in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    }
)


class _Entry:
    """One managedFields entry. Its field set is held as decoded paths (``fields``), as the canonical
    ``fieldsV1`` object it was read from (``raw``: what :func:`encode_fields_v1` produces), or both; the
    raw form is edited in place of decoding and re-encoding when the entry came from a stored object."""

    __slots__ = ("_fields", "_raw", "api_version", "manager", "operation", "source", "subresource", "time")

    def __init__(
        self,
        manager: str,
        operation: str,
        api_version: str,
        subresource: str,
        time: str | None,
        fields: set[FieldPath] | None = None,
        *,
        raw: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.subresource = subresource
        self.time = time
        self._fields = fields if fields is not None or raw is not None else set()
        self._raw = raw
        self.source = source  # the stored entry this one was read from, answered again while unchanged

    @property
    def fields(self) -> set[FieldPath]:
        if self._fields is None:
            self._fields = decode_fields_v1(self._raw)
        return self._fields

    @fields.setter
    def fields(self, value: set[FieldPath]) -> None:
        self._fields = value
        self._raw = None

    def owns_anything(self) -> bool:
        if self._raw is not None:
            return bool(self._raw)
        return bool(self._fields)

    def discard(self, paths: Iterable[FieldPath]) -> None:
        """Stop owning ``paths`` (those it does not own are ignored)."""
        if self._raw is None:
            self.fields = self.fields - set(paths)
            return
        if self._fields is not None:
            hits = [p for p in paths if p in self._fields]
        else:
            hits = [p for p in paths if _fv1_member(self._raw, p)]
        if hits:
            self._raw = _fv1_edit(self._raw, hits, ())
            if self._fields is not None:
                self._fields = self._fields - set(hits)

    def gain(self, paths: set[FieldPath]) -> None:
        """Own ``paths`` too."""
        if self._raw is None or () in paths:
            self.fields = self.fields | paths
            return
        if self._fields is not None:
            new = [p for p in paths if p not in self._fields]
        else:
            new = [p for p in paths if not _fv1_member(self._raw, p)]
        if new:
            self._raw = _fv1_edit(self._raw, (), new)
            if self._fields is not None:
                self._fields = self._fields | paths

    def ident(self) -> tuple[str, str, str, str]:
        return (
            self.manager,
            self.operation,
            "" if self.operation == "Apply" else self.api_version,
            self.subresource,
        )

    def encode(self) -> dict[str, Any]:
        fields_v1 = self._raw if self._raw is not None else encode_fields_v1(self.fields)
        src = self.source
        if (
            src is not None
            and src.get("fieldsV1") is fields_v1
            and src.get("time") == (self.time or None)
            and src.get("manager") == self.manager
            and src.get("operation") == self.operation
            and src.get("apiVersion") == self.api_version
            and src.get("subresource", "") == self.subresource
        ):
            return src
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fields_v1
        if self.subresource:
            out["subresource"] = self.subresource
        return out

    def printable(self) -> str:
        s = json.dumps(self.manager)
        if self.subresource:
            s += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            s += f" using {self.api_version}"
        return s


def _decode_entries(raw: Any, stored: Any = None) -> list[_Entry] | None:
    """Decode metadata.managedFields; None when absent or undecodable.

    ``stored`` is the managedFields of a stored object, which this module encoded (so canonical) and nobody
    changed since: an entry of ``raw`` equal to one of them is taken as that entry, its ``fieldsV1`` kept
    encoded (decoded only if needed) instead of decoded and later re-encoded. Equality with a canonical
    entry (strings and objects only) means the same manager, operation, time and field set.
    """
    if not isinstance(raw, list) or not raw:
        return None
    pool: list[Any] = stored if isinstance(stored, list) else []
    entries: list[_Entry] = []
    for i, e in enumerate(raw):
        if not isinstance(e, Mapping):
            return None
        src = _stored_entry(pool, i, e)
        if src is not None:
            entries.append(
                _Entry(
                    src["manager"],
                    src["operation"],
                    src["apiVersion"],
                    src.get("subresource", ""),
                    src.get("time"),
                    raw=src["fieldsV1"],
                    source=src,
                )
            )
            continue
        op = e.get("operation")
        if op not in ("Apply", "Update"):
            return None
        if e.get("fieldsType", "FieldsV1") != "FieldsV1":
            return None
        entries.append(
            _Entry(
                manager=str(e.get("manager", "")),
                operation=str(op),
                api_version=str(e.get("apiVersion", "")),
                subresource=str(e.get("subresource", "")),
                # Go decodes the time and writes it back in its own form (UTC, seconds, "Z").
                time=(canonical_time(e["time"]) or e["time"]) if isinstance(e.get("time"), str) else None,
                fields=decode_fields_v1(e.get("fieldsV1")),
            )
        )
    return entries


def _stored_entry(pool: list[Any], index: int, e: Mapping[str, Any]) -> dict[str, Any] | None:
    """The entry of ``pool`` equal to ``e`` (tried at the same position first), or None."""
    if not pool:
        return None
    if index < len(pool):
        cand = pool[index]
        if isinstance(cand, dict) and (cand is e or cand == e):
            return cand
    for other in pool:
        if isinstance(other, dict) and other == e:
            return other
    return None


def _is_reset(raw: Any) -> bool:
    return isinstance(raw, list) and len(raw) == 1 and raw[0] == {}


def _sorted_entries(entries: list[_Entry]) -> list[_Entry]:
    return sorted(entries, key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))


def _without_managed(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    if not obj:
        return {}
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def _set_managed(obj: dict[str, Any], entries: list[_Entry]) -> None:
    meta = obj.setdefault("metadata", {})
    entries = [e for e in entries if e.owns_anything()]
    if entries:
        meta["managedFields"] = [e.encode() for e in _sorted_entries(entries)]
    else:
        meta.pop("managedFields", None)


def _cap_update_managers(entries: list[_Entry]) -> list[_Entry]:
    updaters = [e for e in entries if e.operation == "Update"]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return entries
    updaters.sort(key=lambda e: (e.time or "", e.manager))
    result = list(entries)
    count = len(updaters)
    for e in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        if e.manager == ANCIENT_CHANGES_MANAGER:
            continue
        result.remove(e)
        bucket = next(
            (
                b
                for b in result
                if b.manager == ANCIENT_CHANGES_MANAGER
                and b.operation == "Update"
                and b.api_version == e.api_version
                and b.subresource == ""
            ),
            None,
        )
        if bucket is None:
            result.append(_Entry(ANCIENT_CHANGES_MANAGER, "Update", e.api_version, "", e.time, set(e.fields)))
        else:
            bucket.fields |= e.fields
            bucket.time = max(bucket.time or "", e.time or "") or None
            count -= 1
    return result


def manager_from_user_agent(user_agent: str) -> str:
    """The default field manager: the user agent up to its first ``/``, printable, at most 128 bytes."""
    out = ""
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        if len((out + ch).encode()) > FIELD_MANAGER_MAX_LENGTH:
            break
        out += ch
    return out


def _is_builtin(group: str, version: str, kind: str) -> bool:
    return k8sdefs.definition_name(group, version, kind) is not None


def _strip_tree(paths: Iterable[FieldPath]) -> dict[str, Any]:
    """_STRIP_PATHS as a tree: path element -> [stripped itself, tree of its children]."""
    tree: dict[str, Any] = {}
    for p in paths:
        node = tree
        for i, pe in enumerate(p):
            entry = node.setdefault(pe, [False, {}])
            if i == len(p) - 1:
                entry[0] = True
            node = entry[1]
    return tree


_STRIP_TREE = _strip_tree(_STRIP_PATHS)


def _created_fields_v1(
    obj: dict[str, Any], root: _Type, builtin: bool, subresource: str, reset_status: bool
) -> dict[str, Any] | None:
    """What a create records, built directly: ``encode_fields_v1(_status_filter(added - _STRIP_PATHS))``
    where ``added`` is what :func:`_compare` finds created in ``obj``. None when the root is not a map of
    fields (the general path handles that)."""
    if not obj or _effective(root, obj) != "fields":
        return None
    children: list[tuple[str, dict[str, Any]]] = []
    for key, val in obj.items():
        if subresource == "status":
            if key != "status":
                continue  # _status_filter: the status subresource records status only...
        elif reset_status and key == "status":
            continue  # ...and the main resource none of it when status is a subresource
        ct = _child_type(root, key)
        member, skeleton = _created_child(root, key, ct, builtin, True)
        pe = "f:" + key
        strip = _STRIP_TREE.get(pe)
        node = _created_node(val, ct, builtin, member, strip, skeleton)
        if node is not None:
            children.append((pe, node))
    return _fv1_node(children, False)


def _created_node(
    v: Any, t: _Type, builtin: bool, member: bool, strip: list[Any] | None, skeleton: bool = False
) -> dict[str, Any] | None:
    """The encoded fieldsV1 node of a created value (see :func:`_one_sided`), None when nothing at or
    below it is a member. ``strip``: [whether the node itself is stripped, the tree of its children]."""
    stripped = strip is not None and strip[0]
    mode = "leaf" if v is None else _effective(t, v)
    if mode == "leaf" or not v:
        return None if stripped else {}
    below = strip[1] if strip is not None else None
    children: list[tuple[str, dict[str, Any]]] = []
    if mode == "items":
        et = _type_of(t.elem)
        for pe, item in _first_items(t, v):
            node = _created_node(item, et, builtin, True, below.get(pe) if below else None)
            if node is not None:
                children.append((pe, node))
    else:
        for key, val in v.items():
            ct = _child_type(t, key)
            m, child_skeleton = _created_child(t, key, ct, builtin, skeleton)
            pe = "f:" + key
            node = _created_node(val, ct, builtin, m, below.get(pe) if below else None, child_skeleton)
            if node is not None:
                children.append((pe, node))
    is_member = member and not stripped
    if not children:
        return {} if is_member else None
    return _fv1_node(children, is_member)


def _fv1_node(children: list[tuple[str, dict[str, Any]]], member: bool) -> dict[str, Any]:
    """A canonical fieldsV1 node: ``"."`` first for a member with children, then the children sorted."""
    if len(children) > 1:
        children.sort(key=lambda c: _pe_sort_key(c[0]))
    out: dict[str, Any] = {".": {}} if member and children else {}
    out.update(children)
    return out


def _status_filter(paths: set[FieldPath], subresource: str, reset_status: bool) -> set[FieldPath]:
    if subresource == "status":
        return {p for p in paths if p[:1] == ("f:status",)}
    if reset_status:
        return {p for p in paths if p[:1] != ("f:status",)}
    return paths


def record_update_manager(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    operation: str,
    now: str,
    *,
    subresource: str = "",
    schema: Mapping[str, Any] | None = None,
    reset_status: bool = False,
    stored_old: bool = False,
) -> dict[str, Any]:
    """Update ``new["metadata"]["managedFields"]`` in place for a create/update/patch by ``manager``.

    ``old`` is the live object (None on create); ``new`` the object about to be stored. ``operation`` is
    ``"Update"`` for ordinary writes; ``"Apply"`` leaves ``new`` untouched because
    :func:`apply_server_side` already recorded the apply. ``schema`` is a CRD's openAPIV3Schema (built-in
    kinds use their definitions). Returns ``new``. Never raises.

    ``stored_old`` says ``old`` is a stored object whose managedFields this module wrote and nobody has
    changed (the store's objects are immutable): the entries the write keeps are then edited as encoded
    (shared with ``old`` where unchanged) instead of decoded and re-encoded. The result is the same.
    """
    if operation == "Apply":
        return new
    api_version = str(new.get("apiVersion", "") or (old or {}).get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    kind = str(new.get("kind", "") or (old or {}).get("kind", ""))
    new_meta = new.setdefault("metadata", {})
    old_meta = (old or {}).get("metadata") or {}
    raw_new = new_meta.get("managedFields")
    raw_old = old_meta.get("managedFields")
    pool = raw_old if stored_old else None
    if subresource:
        base = _decode_entries(raw_old, pool)
    elif _is_reset(raw_new):
        base = []
    else:
        base = _decode_entries(raw_new, pool)
        if base is None:
            base = _decode_entries(raw_old, pool)
    new_meta.pop("managedFields", None)
    if old is not None and not base:
        return new  # objects whose managedFields were cleared are not tracked until the next apply
    entries = base or []
    root = _type_of(_ssa_root(group, version, kind, schema))
    builtin = _is_builtin(group, version, kind)
    if old is None and not entries:
        # A create keeping no managedFields of the request: the manager owns what it wrote, encoded as the
        # object is walked (no path sets to build, encode and sort).
        fields_v1 = _created_fields_v1(_without_managed(new), root, builtin, subresource, reset_status)
        if fields_v1 is not None:
            if fields_v1:
                _set_managed(new, [_Entry(manager, "Update", api_version, subresource, now, raw=fields_v1)])
            return new
    res = _Comparison()
    _compare(
        _without_managed(old) if old is not None else _MISSING,
        _without_managed(new),
        root,
        (),
        res,
        builtin,
        False,
        True,
    )
    changed = _status_filter((res.added | res.modified) - _STRIP_PATHS, subresource, reset_status)
    removed = res.removed
    ident = (manager, "Update", api_version, subresource)
    own = next((e for e in entries if e.ident() == ident), None)
    lost = removed | changed
    for e in entries:
        e.discard(lost if e is not own else removed)
    if changed:
        if own is None:
            own = _Entry(manager, "Update", api_version, subresource, now, set())
            entries.append(own)
        own.gain(changed)
        own.time = now
    entries = _cap_update_managers([e for e in entries if e.owns_anything()])
    _set_managed(new, entries)
    return new


def _conflict_error(conflicts: list[tuple[_Entry, FieldPath]]) -> ApiError:
    conflicts.sort(key=lambda c: (c[0].printable(), [_pe_sort_key(pe) for pe in c[1]]))
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {e.printable()}",
            "field": _path_string(p),
        }
        for e, p in conflicts
    ]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {e.printable()}: {_path_string(p)}"
    else:
        lines: list[str] = []
        by_manager: dict[str, list[str]] = {}
        for e, p in conflicts:
            by_manager.setdefault(e.printable(), []).append(_path_string(p))
        for m in sorted(by_manager):
            lines.append(f"conflicts with {m}:")
            lines.extend(f"- {p}" for p in by_manager[m])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, details={"causes": causes})


def apply_server_side(
    existing: dict[str, Any] | None,
    applied: dict[str, Any],
    field_manager: str,
    force: bool,
    group: str,
    version: str,
    kind: str,
    now: str,
    *,
    schema: Mapping[str, Any] | None = None,
    subresource: str = "",
    reset_status: bool = False,
) -> dict[str, Any]:
    """Server-side apply of ``applied`` (the decoded apply patch) by ``field_manager``.

    ``existing`` is the live object or None (create). Returns the object to store, with
    ``metadata.managedFields`` updated; server-owned metadata (uid, resourceVersion, ...) is left to the
    caller. ``schema`` is the CRD's openAPIV3Schema for custom resources (built-in kinds use their
    definitions; without either, lists are atomic and maps granular).

    Raises ApiError: 422 when ``field_manager`` is empty (``PatchOptions.meta.k8s.io "" is invalid``),
    400 when the patch is not an object, carries ``metadata.managedFields`` or another apiVersion,
    409 Conflict (causes of type ``FieldManagerConflict``) when another manager owns a field whose value
    would change and ``force`` is false, 500 for an associative list with duplicate or missing keys.
    """
    if not field_manager:
        raise ApiError(
            422,
            "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply '
            "patch",
            details={
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value: is required for apply patch",
                        "field": "fieldManager",
                    }
                ],
            },
        )
    if len(field_manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        raise ApiError(
            422,
            "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes',
            details={
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [
                    {
                        "reason": "FieldValueTooLong",
                        "message": "Too long: may not be more than 128 bytes",
                        "field": "fieldManager",
                    }
                ],
            },
        )
    if not isinstance(applied, dict):
        raise _bad(
            f"error decoding YAML: json: cannot unmarshal {_json_kind(applied)} into Go value of type "
            "map[string]interface {}"
        )
    expected_gv = f"{group}/{version}" if group else version
    if applied.get("apiVersion") != expected_gv:
        raise _bad(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{applied.get('apiVersion') or ''}, expected: {expected_gv}"
        )
    applied_meta = applied.get("metadata")
    if isinstance(applied_meta, dict) and applied_meta.get("managedFields") is not None:
        raise _bad("metadata.managedFields must be nil")

    builtin = _is_builtin(group, version, kind)
    root = _type_of(_ssa_root(group, version, kind, schema))
    config = _clone(applied)
    if subresource == "status":
        config = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "metadata", "status")}
    elif reset_status:
        config.pop("status", None)

    live = _clone(_without_managed(existing)) if existing is not None else {}
    entries = _decode_entries(((existing or {}).get("metadata") or {}).get("managedFields")) or []
    if existing is not None and not entries:
        # The object predates field tracking: someone owns what is there ("before-first-apply").
        res0 = _Comparison()
        _compare(_MISSING, live, root, (), res0, builtin, False, True)
        owned = _status_filter(res0.added - _STRIP_PATHS, subresource, reset_status)
        if owned:
            entries.append(
                _Entry(
                    BEFORE_FIRST_APPLY_MANAGER,
                    "Update",
                    str(live.get("apiVersion", expected_gv)),
                    subresource,
                    now,  # upstream stamps it with the apply's time
                    owned,
                )
            )

    try:
        new_set: set[FieldPath] = set()
        _to_set(config, root, (), new_set, True)
        merged = _merge(live if live else _MISSING, config, root)
    except _KeyError as exc:
        meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
        who = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
        what = f"{who}; {expected_gv}, Kind={kind}"
        raise _internal(f"failed to create typed patch object ({what}): {exc}") from None
    new_set = _status_filter(new_set - _STRIP_PATHS, subresource, reset_status)

    ident = (field_manager, "Apply", "", subresource)
    own = next((e for e in entries if e.ident() == ident), None)
    others = [e for e in entries if e is not own]
    last_set = own.fields if own is not None else set()
    owned_by_others: set[FieldPath] = set().union(*(e.fields for e in others)) if others else set()
    to_remove = last_set - new_set - owned_by_others
    if to_remove:
        pruned = _remove(merged, root, _trie(to_remove), builtin)
        merged = pruned if pruned is not _MISSING else {}

    res = _Comparison()
    _compare(live if existing is not None else _MISSING, merged, root, (), res, builtin, False, True)
    touched = res.modified | res.added
    conflicts = [(e, p) for e in others for p in sorted(e.fields & touched)]
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for e in others:
        e.fields -= touched
        e.fields -= res.removed
    changed = bool(res.modified or res.added or res.removed)
    if own is None:
        own = _Entry(field_manager, "Apply", expected_gv, subresource, now, new_set)
        entries.append(own)
    else:
        own.fields = new_set
        own.api_version = expected_gv
        if changed:
            own.time = now
    entries = _cap_update_managers([e for e in entries if e.owns_anything()])

    if field_manager == "kubectl":
        annotations = (merged.get("metadata") or {}).get("annotations") or {}
        if LAST_APPLIED_ANNOTATION in annotations:
            last = _clone(applied)
            last_ann = (last.get("metadata") or {}).get("annotations")
            if isinstance(last_ann, dict):
                last_ann.pop(LAST_APPLIED_ANNOTATION, None)
            annotations[LAST_APPLIED_ANNOTATION] = (
                json.dumps(last, sort_keys=True, separators=(",", ":")) + "\n"
            )

    _set_managed(merged, entries)
    return merged  # type: ignore[no-any-return]
