"""CustomResourceDefinitions: CRD validation and structural schemas (validate, prune, default).

Mirrors what ``apiextensions-apiserver`` does with a CRD's ``openAPIV3Schema``:

- :func:`validate_crd` checks the CRD object itself (names, versions, scope, structural-schema rules).
- :class:`StructuralSchema` is built from one version's ``openAPIV3Schema`` and, for a custom resource,
  :meth:`~StructuralSchema.prune` drops unknown fields, :meth:`~StructuralSchema.default` applies ``default``
  values and :meth:`~StructuralSchema.validate` returns the causes of a 422 Invalid. The server calls them in
  upstream's order: prune, default, validate.

Causes are worded as kube-openapi's validator words them after apiextensions maps them to field errors
(``spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"``).
``x-kubernetes-validations`` (CEL rules) are accepted in schemas and **not evaluated**.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from kubesim.definitions import definitions
from kubesim.errors import Cause
from kubesim.validation import (
    err_duplicate,
    err_forbidden,
    err_invalid,
    err_not_supported,
    err_required,
    err_too_long,
    err_too_many,
    err_type_invalid,
    is_dns1035_label,
    is_dns1123_subdomain,
    name_validator,
    validate_labels,
    validate_object_meta,
)

__all__ = ["StructuralSchema", "validate_crd"]

_OBJECT_META_FIELDS = frozenset(
    definitions()["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
)
_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _go_num(value: float | int) -> str:
    if isinstance(value, float) and value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_RX_DATE_TIME = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
_RX_UUID = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_RX_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _is_date(text: str) -> bool:
    if not _RX_DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_date_time(text: str) -> bool:
    if len(text) < 4:
        return False
    parts = text.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    match = _RX_DATE_TIME.match(parts[1])
    if not match:
        return False
    hour, minute, second = (int(match.group(i)) for i in (1, 2, 3))
    return hour <= 23 and minute <= 59 and second <= 59


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_byte(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_FORMATS = {
    "date-time": _is_date_time,
    "datetime": _is_date_time,
    "date": _is_date,
    "uuid": lambda s: bool(_RX_UUID.match(s)),
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "byte": _is_byte,
}


class _S:
    """One compiled schema node."""

    __slots__ = (
        "additional",
        "additional_allowed",
        "all_of",
        "any_of",
        "default",
        "embedded",
        "enum",
        "excl_max",
        "excl_min",
        "fmt",
        "has_default",
        "int_or_string",
        "items",
        "list_keys",
        "list_type",
        "max_items",
        "max_length",
        "max_props",
        "maximum",
        "min_items",
        "min_length",
        "min_props",
        "minimum",
        "multiple_of",
        "not_",
        "nullable",
        "one_of",
        "pattern",
        "pattern_src",
        "preserve",
        "props",
        "required",
        "type",
    )

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.type: str = raw.get("type") or ""
        self.nullable = bool(raw.get("nullable"))
        self.int_or_string = bool(raw.get("x-kubernetes-int-or-string"))
        self.preserve = bool(raw.get("x-kubernetes-preserve-unknown-fields"))
        self.embedded = bool(raw.get("x-kubernetes-embedded-resource"))
        props = raw.get("properties")
        self.props: dict[str, _S] | None = (
            {k: _S(v) for k, v in props.items() if isinstance(v, Mapping)}
            if isinstance(props, Mapping)
            else None
        )
        extra = raw.get("additionalProperties")
        self.additional: _S | None = _S(extra) if isinstance(extra, Mapping) else None
        self.additional_allowed = extra is not False
        items = raw.get("items")
        self.items: _S | None = _S(items) if isinstance(items, Mapping) else None
        self.required: list[str] = list(raw.get("required") or ())
        self.enum: list[Any] | None = list(raw["enum"]) if isinstance(raw.get("enum"), list) else None
        self.pattern_src: str | None = raw.get("pattern")
        self.pattern: re.Pattern[str] | None = None
        if self.pattern_src:
            try:
                self.pattern = re.compile(self.pattern_src)
            except re.error:
                self.pattern = None
        self.minimum = raw.get("minimum")
        self.maximum = raw.get("maximum")
        self.excl_min = bool(raw.get("exclusiveMinimum"))
        self.excl_max = bool(raw.get("exclusiveMaximum"))
        self.multiple_of = raw.get("multipleOf")
        self.min_length = raw.get("minLength")
        self.max_length = raw.get("maxLength")
        self.min_items = raw.get("minItems")
        self.max_items = raw.get("maxItems")
        self.min_props = raw.get("minProperties")
        self.max_props = raw.get("maxProperties")
        self.fmt: str = raw.get("format") or ""
        self.has_default = "default" in raw
        self.default = raw.get("default")
        self.list_type: str | None = raw.get("x-kubernetes-list-type")
        self.list_keys: list[str] = list(raw.get("x-kubernetes-list-map-keys") or ())
        self.all_of = [_S(s) for s in raw.get("allOf") or () if isinstance(s, Mapping)]
        self.any_of = [_S(s) for s in raw.get("anyOf") or () if isinstance(s, Mapping)]
        self.one_of = [_S(s) for s in raw.get("oneOf") or () if isinstance(s, Mapping)]
        self.not_ = _S(raw["not"]) if isinstance(raw.get("not"), Mapping) else None

    def types(self) -> tuple[str, ...]:
        if self.int_or_string:
            return ("integer", "string")
        return (self.type,) if self.type else ()


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Validator:
    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def add(self, cause: Cause) -> None:
        self.causes.append(cause)

    def validate(self, s: _S, data: Any, path: str) -> None:
        name = path or "."
        types = s.types()
        if data is None:
            if types and not s.nullable:
                self.add(
                    err_type_invalid(
                        path, "null", f'{name} in body must be of type {",".join(types)}: "null"'
                    )
                )
            if s.enum is not None and None not in s.enum:
                self.add(err_not_supported(path, None, _enum_strings(s.enum)))
            return
        actual = _json_type(data)
        if types:
            ok = (
                actual in types
                or (actual == "number" and "integer" in types and float(data).is_integer())
                or (actual == "integer" and "number" in types)
            )
            if not ok:
                self.add(
                    err_type_invalid(
                        path, actual, f'{name} in body must be of type {",".join(types)}: "{actual}"'
                    )
                )
                return
        # allOf / anyOf / oneOf / not
        for sub in s.all_of:
            self.validate(sub, data, path)
        if s.any_of:
            results = [self._try(sub, data, path) for sub in s.any_of]
            if all(results):
                self.add(err_invalid(path, "", f"{name} in body must validate at least one schema (anyOf)"))
                self.causes.extend(results[0])
        if s.one_of:
            results = [self._try(sub, data, path) for sub in s.one_of]
            passing = sum(1 for r in results if not r)
            if passing != 1:
                self.add(
                    err_invalid(path, "", f"{name} in body must validate one and only one schema (oneOf)")
                )
                if passing == 0:
                    self.causes.extend(results[0])
        if s.not_ is not None and not self._try(s.not_, data, path):
            self.add(err_invalid(path, "", f"{name} in body must not validate the schema (not)"))
        if actual == "string":
            length = len(data)
            if s.max_length is not None and length > s.max_length:
                self.add(err_too_long(path, int(s.max_length)))
            if s.min_length is not None and length < s.min_length:
                self.add(
                    err_invalid(path, data, f"{name} in body should be at least {s.min_length} chars long")
                )
            if s.pattern is not None and not s.pattern.search(data):
                self.add(err_invalid(path, data, f"{name} in body should match '{s.pattern_src}'"))
            check = _FORMATS.get(s.fmt)
            if check is not None and not check(data):
                self.add(
                    err_type_invalid(
                        path, data, f"{name} in body must be of type {s.fmt}: {json.dumps(data)}"
                    )
                )
        elif actual in ("integer", "number"):
            self._number(s, data, path, name)
        elif actual == "array":
            if s.items is not None:
                for i, item in enumerate(data):
                    self.validate(s.items, item, f"{path}[{i}]")
            if s.min_items is not None and len(data) < s.min_items:
                self.add(
                    err_invalid(path, len(data), f"{name} in body should have at least {s.min_items} items")
                )
            if s.max_items is not None and len(data) > s.max_items:
                self.add(err_too_many(path, len(data), int(s.max_items)))
        if s.enum is not None and not any(_enum_equal(data, e) for e in s.enum):
            self.add(err_not_supported(path, data, _enum_strings(s.enum)))
        if actual == "object":
            self._object(s, data, path, name)

    def _try(self, s: _S, data: Any, path: str) -> list[Cause]:
        sub = _Validator()
        sub.validate(s, data, path)
        return sub.causes

    def _number(self, s: _S, data: int | float, path: str, name: str) -> None:
        def bound(b: float | int) -> str:
            return str(int(b)) if isinstance(data, int) else _go_num(float(b))

        if s.multiple_of:
            factor = s.multiple_of
            quotient = data / factor
            if not float(quotient).is_integer():
                self.add(err_invalid(path, data, f"{name} in body should be a multiple of {_go_num(factor)}"))
        if s.maximum is not None and (data >= s.maximum if s.excl_max else data > s.maximum):
            op = "less than" if s.excl_max else "less than or equal to"
            self.add(err_invalid(path, data, f"{name} in body should be {op} {bound(s.maximum)}"))
        if s.minimum is not None and (data <= s.minimum if s.excl_min else data < s.minimum):
            op = "greater than" if s.excl_min else "greater than or equal to"
            self.add(err_invalid(path, data, f"{name} in body should be {op} {bound(s.minimum)}"))

    def _object(self, s: _S, data: dict[str, Any], path: str, name: str) -> None:
        count = len(data)
        if s.min_props is not None and count < s.min_props:
            self.add(
                err_invalid(path, count, f"{name} in body should have at least {s.min_props} properties")
            )
            return
        if s.max_props is not None and count > s.max_props:
            self.add(err_too_many(path, count, int(s.max_props)))
            return
        props = s.props or {}
        for key, value in data.items():
            sub = props.get(key)
            if sub is not None:
                self.validate(sub, value, _child(path, key))
            elif s.additional is not None:
                self.validate(s.additional, value, _child(path, key))
            elif not s.additional_allowed:
                self.add(err_invalid(_child(path, key), key, f"{name}.{key} in body is a forbidden property"))
        for req in s.required:
            if req not in data:
                self.add(err_required(_child(path, req)))


def _enum_equal(data: Any, candidate: Any) -> bool:
    if isinstance(data, bool) or isinstance(candidate, bool):
        return data is candidate or (
            isinstance(data, bool) and isinstance(candidate, bool) and data == candidate
        )
    return bool(data == candidate)


def _enum_strings(values: list[Any]) -> list[str]:
    return [v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), sort_keys=True) for v in values]


def _list_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def _validate_list_types(s: _S, data: Any, path: str, out: list[Cause]) -> None:
    """``structurallisttype.ValidateListSetsAndMaps``: uniqueness of set items and map keys."""
    if isinstance(data, dict):
        props = s.props or {}
        for key, value in data.items():
            sub = props.get(key)
            if sub is not None:
                _validate_list_types(sub, value, _child(path, key), out)
            elif s.additional is not None:
                _validate_list_types(s.additional, value, f"{path}[{key}]", out)
        return
    if not isinstance(data, list):
        return
    if s.list_type == "set":
        seen: dict[str, int] = {}
        for i, item in enumerate(data):
            key = _list_key(item)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == 2:
                out.append(err_duplicate(f"{path}[{i}]", item))
    elif s.list_type == "map":
        bad = next(
            (i for i, item in enumerate(data) if item is not None and not isinstance(item, dict)), None
        )
        if bad is not None:
            out.append(
                err_invalid(f"{path}[{bad}]", data[bad], "must be an object for an array of list-type map")
            )
        else:
            seen = {}
            for i, item in enumerate(data):
                keys = {k: item[k] for k in s.list_keys if isinstance(item, dict) and k in item}
                key = _list_key(keys)
                seen[key] = seen.get(key, 0) + 1
                if seen[key] == 2:
                    out.append(err_duplicate(f"{path}[{i}]", keys))
    if s.items is not None:
        for i, item in enumerate(data):
            _validate_list_types(s.items, item, f"{path}[{i}]", out)


def _validate_embedded(s: _S, data: Any, path: str, out: list[Cause]) -> None:
    """``structuralobjectmeta.Validate``: embedded resources need apiVersion and kind; metadata syntax."""
    if isinstance(data, list):
        if s.items is not None:
            for i, item in enumerate(data):
                _validate_embedded(s.items, item, f"{path}[{i}]", out)
        return
    if not isinstance(data, dict):
        return
    if s.embedded:
        if "apiVersion" not in data:
            out.append(err_required(_child(path, "apiVersion"), "must not be empty"))
        elif data["apiVersion"] == "":
            out.append(err_invalid(_child(path, "apiVersion"), "", "must not be empty"))
        if "kind" not in data:
            out.append(err_required(_child(path, "kind"), "must not be empty"))
        elif isinstance(data["kind"], str):
            kind = data["kind"]
            if not kind:
                out.append(err_invalid(_child(path, "kind"), kind, "must not be empty"))
            elif errs := is_dns1035_label(kind.lower()):
                out.append(
                    err_invalid(
                        _child(path, "kind"),
                        kind,
                        "may have mixed case, but should otherwise match: " + ",".join(errs),
                    )
                )
        meta = data.get("metadata")
        if isinstance(meta, dict):
            mpath = _child(path, "metadata")
            name = meta.get("name")
            if isinstance(name, str) and name:
                for msg in is_dns1123_subdomain(name):
                    out.append(err_invalid(_child(mpath, "name"), name, msg))
            out.extend(validate_labels(meta.get("labels"), _child(mpath, "labels")))
    props = s.props or {}
    for key, value in data.items():
        if s.embedded and key in _ROOT_KEEP:
            continue
        sub = props.get(key)
        if sub is not None:
            _validate_embedded(sub, value, _child(path, key), out)
        elif s.additional is not None:
            _validate_embedded(s.additional, value, _child(path, key), out)


def _prune_meta(meta: dict[str, Any], path: str, dropped: list[str]) -> dict[str, Any]:
    out = {}
    for key, value in meta.items():
        if key in _OBJECT_META_FIELDS:
            out[key] = value
        else:
            dropped.append(_child(path, key))
    return out


def _prune(s: _S | None, data: Any, path: str, dropped: list[str], root: bool) -> Any:
    """``structuralpruning.Prune``: returns the pruned copy, appending dropped field paths."""
    if isinstance(data, dict):
        if s is None:
            return data
        keep_meta = root or s.embedded
        props = s.props or {}
        out: dict[str, Any] = {}
        for key, value in data.items():
            cpath = _child(path, key)
            if keep_meta and key in ("apiVersion", "kind"):
                out[key] = value
                continue
            if keep_meta and key == "metadata":
                out[key] = _prune_meta(value, cpath, dropped) if isinstance(value, dict) else value
                continue
            sub = props.get(key)
            if sub is not None:
                out[key] = _prune(sub, value, cpath, dropped, False)
            elif s.additional is not None:
                out[key] = _prune(s.additional, value, cpath, dropped, False)
            elif s.preserve:
                out[key] = value
            else:
                dropped.append(cpath)
        return out
    if isinstance(data, list):
        if s is None or s.items is None:
            return data
        return [_prune(s.items, item, f"{path}[{i}]", dropped, False) for i, item in enumerate(data)]
    return data


def _default(s: _S, data: Any) -> None:
    """``structuraldefaulting.Default`` followed by ``PruneNonNullableNullsWithoutDefaults``, in place."""
    if isinstance(data, dict):
        props = s.props or {}
        for key, prop in props.items():
            if not prop.has_default:
                continue
            if key not in data or (data[key] is None and not prop.nullable):
                data[key] = copy.deepcopy(prop.default)
        for key in list(data):
            found = props.get(key)
            sub = found if found is not None else s.additional
            if sub is None:
                continue
            if found is None and data[key] is None and not sub.nullable and sub.has_default:
                data[key] = copy.deepcopy(sub.default)
            if data[key] is None and not sub.nullable and not sub.has_default:
                del data[key]
                continue
            _default(sub, data[key])
    elif isinstance(data, list) and s.items is not None:
        items = s.items
        for i, item in enumerate(data):
            if item is None and not items.nullable and items.has_default:
                data[i] = copy.deepcopy(items.default)
            _default(items, data[i])


class StructuralSchema:
    """A CRD version's ``openAPIV3Schema``, compiled once and applied to custom resources.

    ``namespaced`` (when known) makes :meth:`validate` require ``metadata.namespace`` (True) or forbid it
    (False); None leaves it to the server, which fills it from the URL.
    """

    def __init__(self, openapi_v3_schema: Mapping[str, Any], *, namespaced: bool | None = None) -> None:
        self.raw = openapi_v3_schema
        self.namespaced = namespaced
        self._root = _S(openapi_v3_schema)

    def validate(self, obj: Mapping[str, Any], *, validate_metadata: bool = True) -> list[Cause]:
        """Causes for 422 Invalid (empty: valid): ObjectMeta rules for ``metadata`` (name a DNS-1123
        subdomain), the schema, list-type uniqueness, embedded resources. CEL rules are not evaluated."""
        out: list[Cause] = []
        if validate_metadata:
            out.extend(
                validate_object_meta(
                    obj.get("metadata"),
                    name_fn=name_validator("custom", "Custom"),
                    namespaced=self.namespaced,
                )
            )
        validator = _Validator()
        body = dict(obj)
        meta = body.get("metadata")
        if isinstance(meta, dict) and self._root.props is not None and "metadata" in self._root.props:
            # at the root only name/generateName constraints of the schema apply to metadata
            body["metadata"] = {k: v for k, v in meta.items() if k in ("name", "generateName")}
        validator.validate(self._root, body, "")
        out.extend(validator.causes)
        _validate_list_types(self._root, obj, "", out)
        _validate_embedded(self._root, obj, "", out)
        return out

    def prune(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A copy without the fields the schema does not know (unless x-kubernetes-preserve-unknown-fields).
        ``apiVersion``, ``kind`` and ``metadata`` survive at the root and in embedded resources;
        ``metadata`` is cut down to the ObjectMeta fields."""
        result = _prune(self._root, obj, "", [], True)
        assert isinstance(result, dict)
        return result

    def unknown_fields(self, obj: Mapping[str, Any]) -> list[str]:
        """The paths :meth:`prune` would drop (``spec.foo``, ``spec.items[0].bar``, ``metadata.x``): what
        ``fieldValidation=Strict`` refuses and ``Warn`` reports."""
        dropped: list[str] = []
        _prune(self._root, obj, "", dropped, True)
        return dropped

    def default(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A copy with ``default`` values applied where fields are absent (or null and not nullable), at every
        level of objects that exist, and non-nullable nulls without a default removed."""
        result = copy.deepcopy(dict(obj))
        _default(self._root, result)
        return result


# ---------------------------------------------------------------------------------------------------------
# CRD validation (apiextensions-apiserver/pkg/apis/apiextensions/validation)
# ---------------------------------------------------------------------------------------------------------

_PRINTER_TYPES = ["integer", "number", "string", "boolean", "date"]
_SCHEMA_TYPES = ("object", "array", "string", "integer", "number", "boolean")


def _validate_structural(raw: Any, path: str, level: str, out: list[Cause]) -> None:
    """The structural-schema rules that matter: a type everywhere, no $ref, object at the root, no
    additionalProperties next to properties, list-type map with keys, no uniqueItems."""
    if not isinstance(raw, Mapping):
        return
    if "$ref" in raw:
        out.append(err_forbidden(_child(path, "$ref"), "$ref is not supported"))
    stype = raw.get("type")
    int_or_string = bool(raw.get("x-kubernetes-int-or-string"))
    preserve = raw.get("x-kubernetes-preserve-unknown-fields")
    embedded = bool(raw.get("x-kubernetes-embedded-resource"))
    if stype and stype not in _SCHEMA_TYPES:
        out.append(err_not_supported(_child(path, "type"), stype, list(_SCHEMA_TYPES)))
    if not stype and not int_or_string and preserve is not True and not embedded:
        if level == "root":
            out.append(err_required(_child(path, "type"), "must not be empty at the root"))
        elif level in ("properties", "items", "additionalProperties"):
            noun = "array items" if level == "items" else "object fields"
            out.append(err_required(_child(path, "type"), f"must not be empty for specified {noun}"))
    if level == "root" and stype and stype != "object":
        out.append(err_invalid(_child(path, "type"), stype, "must be object at the root"))
    if int_or_string and stype:
        out.append(
            err_invalid(_child(path, "type"), stype, "must be empty if x-kubernetes-int-or-string is true")
        )
    if preserve is False:
        out.append(
            err_invalid(
                _child(path, "x-kubernetes-preserve-unknown-fields"), False, "must be true or undefined"
            )
        )
    if embedded and stype and stype != "object":
        out.append(
            err_invalid(
                _child(path, "type"), stype, "must be object if x-kubernetes-embedded-resource is true"
            )
        )
    if raw.get("uniqueItems") is True:
        out.append(
            err_forbidden(
                _child(path, "uniqueItems"),
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    extra_props = raw.get("additionalProperties")
    if "properties" in raw and isinstance(extra_props, (Mapping, bool)) and extra_props is not True:
        out.append(
            err_forbidden(
                _child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            )
        )
    list_type = raw.get("x-kubernetes-list-type")
    if list_type is not None:
        if list_type not in ("atomic", "set", "map"):
            out.append(
                err_not_supported(_child(path, "x-kubernetes-list-type"), list_type, ["atomic", "set", "map"])
            )
        if stype != "array":
            out.append(
                err_invalid(
                    _child(path, "type"), stype or "", "must be array if x-kubernetes-list-type is specified"
                )
            )
        if list_type == "map" and not raw.get("x-kubernetes-list-map-keys"):
            out.append(
                err_required(
                    _child(path, "x-kubernetes-list-map-keys"),
                    "must not be empty if x-kubernetes-list-type is map",
                )
            )
    if raw.get("x-kubernetes-list-map-keys") and list_type != "map":
        out.append(
            err_forbidden(
                _child(path, "x-kubernetes-list-type"),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )
        )
    props = raw.get("properties")
    if isinstance(props, Mapping):
        for key, sub in props.items():
            if level == "root" and key == "metadata" and isinstance(sub, Mapping):
                mpath = f"{path}.properties[metadata]"
                for mkey in sub.get("properties", {}) or {}:
                    if mkey not in ("name", "generateName"):
                        out.append(
                            err_forbidden(
                                f"{mpath}.properties[{mkey}]",
                                "must not be specified",
                            )
                        )
            _validate_structural(sub, f"{path}.properties[{key}]", "properties", out)
    items = raw.get("items")
    if isinstance(items, Mapping):
        _validate_structural(items, f"{path}.items", "items", out)
    elif isinstance(items, list):
        out.append(err_forbidden(_child(path, "items"), "items must be a schema object and not an array"))
    extra = raw.get("additionalProperties")
    if isinstance(extra, Mapping):
        _validate_structural(extra, f"{path}.additionalProperties", "additionalProperties", out)
    for combinator in ("allOf", "anyOf", "oneOf"):
        subs = raw.get(combinator)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                _validate_structural(sub, f"{path}.{combinator}[{i}]", "value", out)
    if isinstance(raw.get("not"), Mapping):
        _validate_structural(raw["not"], f"{path}.not", "value", out)


def validate_crd(crd: Mapping[str, Any]) -> list[Cause]:
    """Causes for 422 Invalid on a ``apiextensions.k8s.io/v1`` CustomResourceDefinition (empty: valid)."""
    out: list[Cause] = []
    meta: dict[str, Any] = crd["metadata"] if isinstance(crd.get("metadata"), dict) else {}
    out.extend(validate_object_meta(meta, namespaced=False))
    spec: dict[str, Any] = crd["spec"] if isinstance(crd.get("spec"), dict) else {}
    group = spec.get("group") or ""
    names: dict[str, Any] = spec["names"] if isinstance(spec.get("names"), dict) else {}
    plural = names.get("plural") or ""
    name = meta.get("name") or ""
    if name and plural and group and name != f"{plural}.{group}":
        out.append(err_invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        out.append(err_required("spec.group"))
    else:
        errs = is_dns1123_subdomain(group)
        if errs:
            out.append(err_invalid("spec.group", group, ",".join(errs)))
        elif len(group.split(".")) < 2:
            out.append(err_invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        out.append(err_required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        out.append(err_not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    # names
    if not plural:
        out.append(err_required("spec.names.plural"))
    else:
        errs = is_dns1035_label(plural)
        if errs:
            out.append(err_invalid("spec.names.plural", plural, ",".join(errs)))
    singular = names.get("singular") or ""
    if singular:
        errs = is_dns1035_label(singular)
        if errs:
            out.append(err_invalid("spec.names.singular", singular, ",".join(errs)))
    kind = names.get("kind") or ""
    if not kind:
        out.append(err_required("spec.names.kind"))
    else:
        errs = is_dns1035_label(kind.lower())
        if errs:
            out.append(
                err_invalid(
                    "spec.names.kind",
                    kind,
                    "may have mixed case, but should otherwise match: " + ",".join(errs),
                )
            )
    list_kind = names.get("listKind") or ""
    if list_kind:
        errs = is_dns1035_label(list_kind.lower())
        if errs:
            out.append(
                err_invalid(
                    "spec.names.listKind",
                    list_kind,
                    "may have mixed case, but should otherwise match: " + ",".join(errs),
                )
            )
        if list_kind == kind:
            out.append(err_invalid("spec.names.listKind", list_kind, "kind and listKind may not be the same"))
    for field_name in ("shortNames", "categories"):
        values = names.get(field_name)
        if isinstance(values, list):
            for i, value in enumerate(values):
                if isinstance(value, str):
                    errs = is_dns1035_label(value)
                    if errs:
                        out.append(err_invalid(f"spec.names.{field_name}[{i}]", value, ",".join(errs)))
    if spec.get("preserveUnknownFields") is True:
        out.append(
            err_invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        )
    conversion = spec.get("conversion")
    if isinstance(conversion, dict):
        strategy = conversion.get("strategy")
        if strategy and strategy not in ("None", "Webhook"):
            out.append(err_not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"]))
    # versions
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        out.append(err_required("spec.versions", "must have exactly one version marked as storage version"))
        return out
    storage = 0
    seen: set[str] = set()
    for i, version in enumerate(versions):
        vpath = f"spec.versions[{i}]"
        if not isinstance(version, dict):
            continue
        vname = version.get("name") or ""
        if not vname:
            out.append(err_required(f"{vpath}.name"))
        else:
            errs = is_dns1035_label(vname)
            if errs:
                out.append(err_invalid(f"{vpath}.name", vname, ",".join(errs)))
            if vname in seen:
                out.append(err_invalid(f"{vpath}.name", vname, "must be unique"))
            seen.add(vname)
        if version.get("storage") is True:
            storage += 1
        schema = version.get("schema")
        raw = schema.get("openAPIV3Schema") if isinstance(schema, dict) else None
        if not isinstance(raw, Mapping):
            out.append(err_required(f"{vpath}.schema.openAPIV3Schema", "schemas are required"))
        else:
            _validate_structural(raw, f"{vpath}.schema.openAPIV3Schema", "root", out)
        subresources = version.get("subresources")
        if isinstance(subresources, dict) and isinstance(subresources.get("scale"), dict):
            scale = subresources["scale"]
            spath = f"{vpath}.subresources.scale"
            spec_path = scale.get("specReplicasPath") or ""
            if not spec_path:
                out.append(err_required(f"{spath}.specReplicasPath"))
            elif not spec_path.startswith(".spec."):
                out.append(
                    err_invalid(f"{spath}.specReplicasPath", spec_path, "should be a json path under .spec")
                )
            status_path = scale.get("statusReplicasPath") or ""
            if not status_path:
                out.append(err_required(f"{spath}.statusReplicasPath"))
            elif not status_path.startswith(".status."):
                out.append(
                    err_invalid(
                        f"{spath}.statusReplicasPath", status_path, "should be a json path under .status"
                    )
                )
        columns = version.get("additionalPrinterColumns")
        if isinstance(columns, list):
            for j, column in enumerate(columns):
                if not isinstance(column, dict):
                    continue
                cpath = f"{vpath}.additionalPrinterColumns[{j}]"
                if not column.get("name"):
                    out.append(err_required(f"{cpath}.name"))
                ctype = column.get("type")
                if not ctype:
                    out.append(err_required(f"{cpath}.type"))
                elif ctype not in _PRINTER_TYPES:
                    out.append(err_not_supported(f"{cpath}.type", ctype, _PRINTER_TYPES))
                if not column.get("jsonPath"):
                    out.append(err_required(f"{cpath}.jsonPath"))
    if storage != 1:
        out.append(
            err_invalid("spec.versions", versions, "must have exactly one version marked as storage version")
        )
    return out
