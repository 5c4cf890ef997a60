"""Validation of built-in objects, worded like kube-apiserver.

The real API server checks a request body in two stages, and clients see both:

1. **Decoding** into the Go type. A value of the wrong JSON type (``containerPort: "80"``), a malformed
   quantity (``memory: 1GG``) or bad base64 in ``Secret.data`` is a 400 BadRequest such as
   ``Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression ...``.
   Unknown fields are dropped silently, reported as ``Warning`` headers (``fieldValidation=Warn``, what
   kubectl asks for with ``--validate=warn``) or refused with 400 ``strict decoding error: unknown field
   "spec.foo"`` (``fieldValidation=Strict``, kubectl's default).
2. **Validation** of the decoded object: 422 Invalid with ``details.causes`` naming each field
   (``spec.containers[0].image: Required value``).

:func:`check_builtin` does both in one walk over the object against the real Kubernetes 1.34 type
definitions (bundled by kubernetes-validate, loaded by :mod:`kubesim.definitions`). The definitions are
compiled once per type into a small tree of :class:`_Node` objects, so a walk costs time proportional to the
object, not to the schema. :func:`validate_builtin` and :func:`unknown_fields` are thin wrappers.

The semantic checks are the handful real clients hit (object names, labels, annotations, finalizers, pod
containers/ports/resources/volumes and volume-mount sub-paths, services, PVCs, config maps, secrets,
deployments and stateful sets), worded as ``k8s.io/apimachinery/pkg/util/validation/field`` words them.
They are a subset of upstream's: anything not listed here is accepted.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kubesim.definitions import definition_name, definitions
from kubesim.errors import Cause
from kubesim.objectmeta import canonical_time

__all__ = [
    "BuiltinCheck",
    "QuantityError",
    "check_builtin",
    "err_duplicate",
    "err_forbidden",
    "err_invalid",
    "err_not_found",
    "err_not_supported",
    "err_required",
    "err_too_long",
    "err_too_many",
    "err_type_invalid",
    "format_value",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_label_value",
    "is_path_segment_name",
    "is_qualified_name",
    "name_validator",
    "parse_quantity",
    "strict_decoding_message",
    "unknown_field_warnings",
    "unknown_fields",
    "validate_builtin",
    "validate_labels",
    "validate_object_meta",
]

# ---------------------------------------------------------------------------------------------------------
# Field errors (k8s.io/apimachinery/pkg/util/validation/field)
# ---------------------------------------------------------------------------------------------------------


def go_float(value: float) -> str:
    """A float64 as Go's ``fmt.Print`` writes it: the shortest digits that read back the same, in
    exponent form (``1e+06``, ``1.5e-07``) when the decimal exponent is below -4 or from 6 on."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr() gives the shortest round-tripping digits; read them as digits and a decimal exponent.
    _, digit_tuple, exp = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    exponent = len(digits) - 1 + exp  # of the leading digit
    if exponent < -4 or exponent >= 6:
        tail = digits[1:]
        body = digits[0] + ("." + tail if tail else "")
        return f"{sign}{body}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    point = exponent + 1  # digits before the decimal point
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_value(value: Any) -> str:
    """A bad value as ``field.Error.ErrorBody`` prints it: strings quoted, numbers and bools bare,
    ``null`` for nil, anything else as compact JSON (Go's json.Marshal sorts map keys)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _cause(reason: str, path: str, message: str) -> Cause:
    return {"reason": reason, "message": message, "field": path}


def err_required(path: str, detail: str = "") -> Cause:
    """``field.Required``: ``Required value`` (``: detail`` when given)."""
    return _cause("FieldValueRequired", path, "Required value" + (f": {detail}" if detail else ""))


def err_invalid(path: str, value: Any, detail: str = "") -> Cause:
    """``field.Invalid``: ``Invalid value: "x": detail``."""
    return _cause(
        "FieldValueInvalid", path, f"Invalid value: {format_value(value)}" + (f": {detail}" if detail else "")
    )


def err_type_invalid(path: str, value: Any, detail: str = "") -> Cause:
    """``field.TypeInvalid``: worded like Invalid, reason ``FieldValueTypeInvalid``."""
    return _cause(
        "FieldValueTypeInvalid",
        path,
        f"Invalid value: {format_value(value)}" + (f": {detail}" if detail else ""),
    )


def err_not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    """``field.NotSupported``: ``Unsupported value: "x": supported values: "a", "b"``."""
    values = list(supported)
    detail = ("supported values: " + ", ".join(json.dumps(v) for v in values)) if values else ""
    return _cause(
        "FieldValueNotSupported",
        path,
        f"Unsupported value: {format_value(value)}" + (f": {detail}" if detail else ""),
    )


def err_duplicate(path: str, value: Any) -> Cause:
    """``field.Duplicate``: ``Duplicate value: "x"``."""
    return _cause("FieldValueDuplicate", path, f"Duplicate value: {format_value(value)}")


def err_not_found(path: str, value: Any) -> Cause:
    """``field.NotFound``: ``Not found: "x"``."""
    return _cause("FieldValueNotFound", path, f"Not found: {format_value(value)}")


def err_forbidden(path: str, detail: str) -> Cause:
    """``field.Forbidden``: ``Forbidden: detail``."""
    return _cause("FieldValueForbidden", path, "Forbidden" + (f": {detail}" if detail else ""))


def err_too_long(path: str, max_length: int) -> Cause:
    """``field.TooLong`` (1.32+ wording): ``Too long: may not be more than 63 bytes``."""
    unit = "byte" if max_length == 1 else "bytes"
    detail = f"may not be more than {max_length} {unit}" if max_length >= 0 else "value is too long"
    return _cause("FieldValueTooLong", path, f"Too long: {detail}")


def err_too_many(path: str, actual: int, max_items: int) -> Cause:
    """``field.TooMany``: ``Too many: 4: must have at most 3 items``."""
    unit = "item" if max_items == 1 else "items"
    detail = f"must have at most {max_items} {unit}" if max_items >= 0 else "has too many items"
    return _cause("FieldValueTooMany", path, f"Too many: {actual}: {detail}")


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# ---------------------------------------------------------------------------------------------------------
# Name and label syntax (k8s.io/apimachinery/pkg/util/validation, .../api/validate/content)
# ---------------------------------------------------------------------------------------------------------

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS1123_LABEL_RE = re.compile(f"^{_DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_DNS1035_LABEL_RE = re.compile(f"^{_DNS1035_LABEL_FMT}$")
_LABEL_KEY_RE = re.compile(f"^{_LABEL_KEY_FMT}$")
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_CONFIG_KEY_RE = re.compile(f"^{_CONFIG_KEY_FMT}$")
_PORT_NAME_CHARS_RE = re.compile("^[-a-z0-9]+$")
_PORT_NAME_LETTER_RE = re.compile("[a-z]")


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    msg += " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += f"'{example}', "
    return msg + f"regex used for validation is '{fmt}')"


def is_dns1123_label(value: str) -> list[str]:
    """``validation.IsDNS1123Label``: error strings, empty when valid."""
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1123_LABEL_RE.match(value):
        if _DNS1123_SUBDOMAIN_RE.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(
                _regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                    "and must start and end with an alphanumeric character",
                    _DNS1123_LABEL_FMT,
                    "my-name",
                    "123-abc",
                )
            )
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """``validation.IsDNS1123Subdomain``."""
    errs = []
    if len(value) > 253:
        errs.append(_max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                "'-' or '.', and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """``validation.IsDNS1035Label`` (service names)."""
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1035_LABEL_RE.match(value):
        errs.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs


def is_path_segment_name(value: str, prefix: bool = False) -> list[str]:
    """``path.IsValidPathSegmentName`` (RBAC object names)."""
    errs = []
    if not prefix and value in (".", ".."):
        errs.append(f"may not be '{value}'")
    for illegal in ("/", "%"):
        if illegal in value:
            errs.append(f"may not contain '{illegal}'")
    return errs


_LABEL_KEY_ERR = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def is_qualified_name(value: str) -> list[str]:
    """``validation.IsQualifiedName`` (label keys, annotation keys, finalizers)."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + _regex_error(_LABEL_KEY_ERR, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _LABEL_KEY_RE.match(name):
        errs.append(
            "name part " + _regex_error(_LABEL_KEY_ERR, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_label_value(value: str) -> list[str]:
    """``validation.IsValidLabelValue``."""
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def _is_config_map_key(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(_max_len_error(253))
    if not _CONFIG_KEY_RE.match(value):
        errs.append(
            _regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _is_port_name(value: str) -> list[str]:
    errs = []
    if len(value) > 15:
        errs.append(_max_len_error(15))
    if not _PORT_NAME_CHARS_RE.match(value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


NameFn = Callable[[str, bool], list[str]]


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def _name_fn(check: Callable[[str], list[str]]) -> NameFn:
    def fn(name: str, prefix: bool) -> list[str]:
        return check(_mask_trailing_dash(name) if prefix else name)

    return fn


_name_dns_subdomain = _name_fn(is_dns1123_subdomain)
_name_dns_label = _name_fn(is_dns1123_label)
_name_dns1035 = _name_fn(is_dns1035_label)


def _name_path_segment(name: str, prefix: bool) -> list[str]:
    return is_path_segment_name(name, prefix)


_CLUSTER_SCOPED = {
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("storage.k8s.io", "StorageClass"),
    ("scheduling.k8s.io", "PriorityClass"),
}


def name_validator(group: str, kind: str) -> NameFn:
    """The function upstream uses for ``metadata.name`` of a kind: DNS-1123 label for namespaces, DNS-1035
    label for services, path-segment names for RBAC objects, DNS-1123 subdomain for everything else."""
    if group == "" and kind == "Namespace":
        return _name_dns_label
    if group == "" and kind == "Service":
        return _name_dns1035
    if group == "rbac.authorization.k8s.io":
        return _name_path_segment
    return _name_dns_subdomain


def validate_labels(labels: Any, path: str) -> list[Cause]:
    """``ValidateLabels``: key and value syntax, reported against the map's path."""
    causes: list[Cause] = []
    if not isinstance(labels, dict):
        return causes
    for key, value in labels.items():
        for msg in is_qualified_name(key):
            causes.append(err_invalid(path, key, msg))
        if isinstance(value, str):
            for msg in is_label_value(value):
                causes.append(err_invalid(path, value, msg))
    return causes


_TOTAL_ANNOTATION_SIZE = 256 * 1024


def _validate_annotations(annotations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(annotations, dict):
        return causes
    total = 0
    for key, value in annotations.items():
        for msg in is_qualified_name(key.lower()):
            causes.append(err_invalid(path, key, msg))
        total += len(key) + (len(value) if isinstance(value, str) else 0)
    if total > _TOTAL_ANNOTATION_SIZE:
        causes.append(err_too_long(path, _TOTAL_ANNOTATION_SIZE))
    return causes


def validate_object_meta(
    meta: Any,
    *,
    name_fn: NameFn = _name_dns_subdomain,
    namespaced: bool | None = None,
    path: str = "metadata",
    kube_finalizers: bool = False,
) -> list[Cause]:
    """``ValidateObjectMetaAccessor``: name/generateName, namespace, labels, annotations, finalizers,
    ownerReferences. ``namespaced=None`` skips the namespace presence check (the server fills it from the URL
    before validating). ``kube_finalizers``: built-in kinds also refuse a finalizer that is neither
    standard nor domain-qualified (core's ValidateObjectMeta)."""
    causes: list[Cause] = []
    if not isinstance(meta, dict):
        meta = {}
    generate_name = meta.get("generateName") or ""
    name = meta.get("name") or ""
    if isinstance(generate_name, str) and generate_name:
        for msg in name_fn(generate_name, True):
            causes.append(err_invalid(_child(path, "generateName"), generate_name, msg))
    if not name:
        causes.append(err_required(_child(path, "name"), "name or generateName is required"))
    elif isinstance(name, str):
        for msg in name_fn(name, False):
            causes.append(err_invalid(_child(path, "name"), name, msg))
    namespace = meta.get("namespace") or ""
    if namespaced is True and not namespace:
        causes.append(err_required(_child(path, "namespace")))
    elif namespaced is False and namespace:
        causes.append(err_forbidden(_child(path, "namespace"), "not allowed on this type"))
    elif namespace and isinstance(namespace, str):
        for msg in is_dns1123_label(namespace):
            causes.append(err_invalid(_child(path, "namespace"), namespace, msg))
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        causes.append(
            err_invalid(_child(path, "generation"), generation, "must be greater than or equal to 0")
        )
    causes.extend(validate_labels(meta.get("labels"), _child(path, "labels")))
    causes.extend(_validate_annotations(meta.get("annotations"), _child(path, "annotations")))
    finalizers = meta.get("finalizers")
    if isinstance(finalizers, list):
        fpath = _child(path, "finalizers")
        seen: set[str] = set()
        for fin in finalizers:
            if not isinstance(fin, str):
                continue
            for msg in is_qualified_name(fin):
                causes.append(err_invalid(fpath, fin, msg))
            if fin in seen:
                causes.append(err_duplicate(fpath, fin))
            seen.add(fin)
        if "orphan" in seen and "foregroundDeletion" in seen:
            causes.append(
                err_invalid(
                    fpath,
                    sorted(seen),
                    "finalizer orphan and foregroundDeletion cannot be both set",
                )
            )
    owners = meta.get("ownerReferences")
    if isinstance(owners, list):
        opath = _child(path, "ownerReferences")
        controllers = 0
        for ref in owners:
            if not isinstance(ref, dict):
                continue
            api_version = ref.get("apiVersion") or ""
            if not _owner_version(api_version):
                causes.append(
                    err_invalid(_child(opath, "apiVersion"), api_version, "version must not be empty")
                )
            for key in ("kind", "name", "uid"):
                if not ref.get(key):
                    causes.append(err_invalid(_child(opath, key), ref.get(key) or "", "must not be empty"))
            if ref.get("controller") is True:
                controllers += 1
        if controllers > 1:
            causes.append(err_invalid(opath, owners, "Only one reference can have Controller set to true"))
    if kube_finalizers and isinstance(finalizers, list):
        for i, fin in enumerate(finalizers):
            if isinstance(fin, str) and "/" not in fin and fin not in _STANDARD_FINALIZERS:
                message = "name is neither a standard finalizer name nor is it fully qualified"
                causes.append(err_invalid(f"{_child(path, 'finalizers')}[{i}]", fin, message))
    return causes


_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def _owner_version(api_version: Any) -> str:
    """The version of an owner reference's apiVersion as schema.ParseGroupVersion reads it ("" when it
    does not parse: more than one "/", or nothing after it)."""
    if not isinstance(api_version, str) or api_version.count("/") > 1:
        return ""
    return api_version.rpartition("/")[2]


# ---------------------------------------------------------------------------------------------------------
# Quantities (k8s.io/apimachinery/pkg/api/resource)
# ---------------------------------------------------------------------------------------------------------

QUANTITY_FORMAT_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix"
QUANTITY_NUMERIC_ERROR = "unable to parse quantity's numeric part"

_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")


class QuantityError(ValueError):
    """A string that ``resource.ParseQuantity`` refuses; ``str()`` is upstream's message."""


def _split_quantity(text: str) -> tuple[str, str]:
    """``parseQuantityString``: the numeric part and the suffix, or QuantityError(format)."""
    pos, end = 0, len(text)
    if pos < end and text[0] in "+-":
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return text, ""
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end and text[pos] == ".":
        pos += 1
        while pos < end and text[pos] in _DIGITS:
            pos += 1
    if pos >= end:
        return text, ""
    value_end = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    return text[:value_end], text[value_end:]


def parse_quantity(value: str | int | float) -> Decimal:
    """``resource.ParseQuantity``: ``"500m"`` -> 0.5, ``"1Gi"`` -> 1073741824, ``"1e3"`` -> 1000.

    JSON numbers are accepted as the API server accepts them. Raises :class:`QuantityError` with upstream's
    message (``quantities must match the regular expression ...``, ``unable to parse quantity's suffix``)."""
    if isinstance(value, bool):
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise QuantityError(QUANTITY_FORMAT_ERROR)
        return Decimal(repr(value))
    text = value.strip()
    if not text:
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    if text == "0":
        return Decimal(0)
    number, suffix = _split_quantity(text)
    if suffix in _BINARY_SUFFIXES:
        multiplier = Decimal(2) ** _BINARY_SUFFIXES[suffix]
    elif suffix in _DECIMAL_SUFFIXES:
        multiplier = Decimal(10) ** _DECIMAL_SUFFIXES[suffix]
    elif len(suffix) > 1 and suffix[0] in "eE":
        try:
            exponent = int(suffix[1:])
        except ValueError:
            raise QuantityError(QUANTITY_SUFFIX_ERROR) from None
        multiplier = Decimal(10) ** exponent
    else:
        raise QuantityError(QUANTITY_SUFFIX_ERROR)
    try:
        number_value = Decimal(number)
    except InvalidOperation:
        raise QuantityError(QUANTITY_NUMERIC_ERROR) from None
    return number_value * multiplier


def _quantity_or_none(value: Any) -> Decimal | None:
    try:
        return parse_quantity(value)
    except (QuantityError, TypeError, AttributeError):
        return None


# ---------------------------------------------------------------------------------------------------------
# Compiled type tree for decoding checks
# ---------------------------------------------------------------------------------------------------------

_ANY, _OBJ, _MAP, _ARR, _STR, _INT, _NUM, _BOOL, _INTSTR, _QTY, _BYTES, _TIME, _ANYOBJ = range(13)

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"

# Definitions whose ``required`` lists are enforced as ``Required value`` (where upstream's hand-written
# validation rejects the zero value). Elsewhere Go decodes a missing field as its zero value and accepts it.
_REQUIRED_ENFORCED = frozenset(
    {
        "io.k8s.api.core.v1.PodSpec",
        "io.k8s.api.core.v1.Container",
        "io.k8s.api.core.v1.EphemeralContainer",
        "io.k8s.api.core.v1.EnvVar",
        "io.k8s.api.core.v1.KeyToPath",
        "io.k8s.api.core.v1.ConfigMapKeySelector",
        "io.k8s.api.core.v1.SecretKeySelector",
        "io.k8s.api.core.v1.ObjectFieldSelector",
        "io.k8s.api.core.v1.ResourceFieldSelector",
        "io.k8s.api.core.v1.PersistentVolumeClaimVolumeSource",
        "io.k8s.api.core.v1.HostPathVolumeSource",
        "io.k8s.api.core.v1.HTTPGetAction",
        "io.k8s.api.core.v1.TCPSocketAction",
        "io.k8s.api.core.v1.ServicePort",
        "io.k8s.api.rbac.v1.PolicyRule",
        "io.k8s.api.rbac.v1.RoleRef",
        "io.k8s.api.rbac.v1.Subject",
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
        "io.k8s.api.apps.v1.DeploymentSpec",
        "io.k8s.api.apps.v1.StatefulSetSpec",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
    }
)


class _Node:
    __slots__ = ("go", "item", "kind", "props", "required", "struct")

    def __init__(self, kind: int, go: str) -> None:
        self.kind = kind
        self.go = go  # Go type name, for decode error messages
        self.props: dict[str, _Node] = {}
        self.item: _Node | None = None
        self.required: tuple[str, ...] = ()
        self.struct = ""  # Go struct name (object nodes)


def _go_def_name(name: str) -> tuple[str, str]:
    parts = name.split(".")
    return parts[-2], parts[-1]


class _Compiler:
    def __init__(self) -> None:
        self.defs = definitions()
        self.nodes: dict[str, _Node] = {}

    def ref(self, name: str) -> _Node:
        node = self.nodes.get(name)
        if node is not None:
            return node
        if name == _INT_OR_STRING:
            node = _Node(_INTSTR, "intstr.IntOrString")
            self.nodes[name] = node
            return node
        if name == _QUANTITY:
            node = _Node(_QTY, "resource.Quantity")
            self.nodes[name] = node
            return node
        schema = self.defs[name]
        pkg, short = _go_def_name(name)
        types = _types(schema)
        if "object" in types and "properties" in schema:
            node = _Node(_OBJ, f"{pkg}.{short}")
            node.struct = short
            self.nodes[name] = node  # before recursing: the type graph has cycles
            node.props = {key: self.compile(sub) for key, sub in schema["properties"].items()}
            if name in _REQUIRED_ENFORCED:
                node.required = tuple(schema.get("required", ()))
            return node
        if name == _MICRO_TIME:
            node = _Node(_TIME, "v1.MicroTime")
            self.nodes[name] = node
            return node
        node = self.compile(schema)
        if (
            node.kind in (_STR, _TIME)
            and not types.isdisjoint({"string"})
            and schema.get("format") != "date-time"
        ):
            node.go = f"{pkg}.{short}"
        self.nodes[name] = node
        return node

    def compile(self, schema: Mapping[str, Any]) -> _Node:
        ref = schema.get("$ref")
        if ref:
            return self.ref(ref.rsplit("/", 1)[-1])
        types = _types(schema)
        if "object" in types:
            if "properties" in schema:
                node = _Node(_OBJ, "struct")
                node.props = {key: self.compile(sub) for key, sub in schema["properties"].items()}
                return node
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                item = self.compile(extra)
                node = _Node(_MAP, f"map[string]{item.go}")
                node.item = item
                return node
            return _Node(_ANYOBJ, "map[string]interface {}")
        if "array" in types:
            item = self.compile(schema.get("items") or {})
            node = _Node(_ARR, f"[]{item.go}")
            node.item = item
            return node
        if "string" in types:
            fmt = schema.get("format")
            if fmt == "byte":
                return _Node(_BYTES, "[]uint8")
            if fmt == "date-time":
                return _Node(_TIME, "v1.Time")
            return _Node(_STR, "string")
        if "integer" in types:
            return _Node(_INT, str(schema.get("format") or "int64"))
        if "number" in types:
            return _Node(_NUM, "float64")
        if "boolean" in types:
            return _Node(_BOOL, "bool")
        return _Node(_ANY, "interface {}")


def _types(schema: Mapping[str, Any]) -> frozenset[str]:
    t = schema.get("type")
    if t is None:
        return frozenset()
    if isinstance(t, str):
        return frozenset((t,))
    return frozenset(x for x in t if x != "null")


@functools.cache
def _compiler() -> _Compiler:
    return _Compiler()


@functools.cache
def _root(group: str, version: str, kind: str) -> _Node | None:
    name = definition_name(group, version, kind)
    if name is None:
        return None
    return _compiler().ref(name)


_JSON_KIND = {dict: "object", list: "array", str: "string", bool: "bool"}

_RFC3339 = "2006-01-02T15:04:05Z07:00"  # metav1.Time
_RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"  # metav1.MicroTime
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _go_quote(text: str) -> str:
    """Go's time package quoting: double quotes, backslash escapes, other bytes as ``\\xNN``."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif " " <= ch < "\x80":
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    return '"' + "".join(out) + '"'


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def go_time_error(value: str, *, micro: bool = False) -> str | None:
    """What Go's ``time.Parse`` says of a metav1.Time (RFC 3339) or metav1.MicroTime (RFC 3339 with exactly
    six fractional digits) value; None when it parses."""
    layout = _RFC3339_MICRO if micro else _RFC3339
    rest = value

    def cannot(elem: str) -> str:
        quoted = f"parsing time {_go_quote(value)} as {_go_quote(layout)}"
        return f"{quoted}: cannot parse {_go_quote(rest)} as {_go_quote(elem)}"

    def out_of_range(what: str) -> str:
        return f"parsing time {_go_quote(value)}: {what} out of range"

    sign = 1 if rest[:1] in ("+", "-") else 0  # Go's atoi takes a sign
    if len(rest) < 4 or not _digits(rest[sign:4]):
        return cannot("2006")
    year = int(rest[:4])
    rest = rest[4:]
    fields: dict[str, int] = {}
    for literal, name, elem, low, high in (
        ("-", "month", "01", 1, 12),
        ("-", "day", "02", 1, 31),
        ("T", "hour", "15", 0, 23),
        (":", "minute", "04", 0, 59),
        (":", "second", "05", 0, 59),
    ):
        if not rest.startswith(literal):
            return cannot(literal)
        rest = rest[len(literal) :]
        # Two digits, except the hour: "15" takes one or two.
        width = 2 if _digits(rest[:2]) else 1 if name == "hour" and _digits(rest[:1]) else 0
        if not width:
            return cannot(elem)
        fields[name] = number = int(rest[:width])
        rest = rest[width:]
        if name != "day" and not low <= number <= high:  # the day is checked against its month at the end
            return out_of_range(name)
    if micro:
        if len(rest) < 7 or rest[0] not in ".," or not _digits(rest[1:7]):
            return cannot(".000000")
        rest = rest[7:]
    elif len(rest) >= 2 and rest[0] in ".," and _digits(rest[1]):
        end = 2  # a fraction the layout does not name is accepted, any length
        while end < len(rest) and _digits(rest[end]):
            end += 1
        rest = rest[end:]
    if rest.startswith("Z"):
        rest = rest[1:]
    else:
        if len(rest) < 6 or rest[3] != ":" or rest[0] not in "+-" or not _digits(rest[1:3] + rest[4:6]):
            return cannot("Z07:00")
        if int(rest[1:3]) > 24:
            return out_of_range("time zone offset hour")
        if int(rest[4:6]) > 60:
            return out_of_range("time zone offset minute")
        rest = rest[6:]
    if rest:
        return f"parsing time {_go_quote(value)}: extra text: {_go_quote(rest)}"
    month, day = fields["month"], fields["day"]
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= day <= _DAYS_IN_MONTH[month - 1] + leap:
        return out_of_range("day")
    return None


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return _JSON_KIND.get(type(value), "object")


def _base64_error(text: str) -> str | None:
    """Go's ``base64.StdEncoding`` CorruptInputError offset for a bad string, or None when it decodes."""
    cleaned = text.replace("\r", "").replace("\n", "")
    try:
        base64.b64decode(cleaned, validate=True)
        return None
    except (binascii.Error, ValueError):
        pass
    for i, ch in enumerate(cleaned):
        if ch not in _B64_CHARS and ch != "=":
            return f"illegal base64 data at input byte {i}"
    pad = cleaned.find("=")
    if pad != -1 and pad < len(cleaned) - 2:
        return f"illegal base64 data at input byte {pad}"
    return f"illegal base64 data at input byte {len(cleaned) - len(cleaned) % 4}"


_SCHEMA_TYPE_NAME = {
    _STR: "string",
    _TIME: "string",
    _BYTES: "string",
    _INT: "integer",
    _NUM: "number",
    _BOOL: "boolean",
    _OBJ: "object",
    _MAP: "object",
    _ANYOBJ: "object",
    _ARR: "array",
    _INTSTR: "integer,string",
    _QTY: "string",
}
_VALUE_TYPE_NAME = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
}


class _Walk:
    __slots__ = ("canonicalize", "causes", "decode_error", "type_causes", "unknown")

    def __init__(self, canonicalize: bool = False) -> None:
        self.unknown: list[str] = []
        self.causes: list[Cause] = []
        self.type_causes: list[Cause] = []
        self.decode_error: str | None = None
        # Rewrite times as Go writes them back once decoded (UTC, "Z", seconds or microseconds).
        self.canonicalize = canonicalize

    def _time(self, node: _Node, value: Any) -> Any:
        """The canonical form of a valid time value (the value itself otherwise)."""
        if node.kind != _TIME or type(value) is not str:
            return value
        return canonical_time(value, micro=node.go == "v1.MicroTime") or value

    def type_error(self, node: _Node, value: Any, path: str, gopath: str, struct: str) -> None:
        value_kind = _json_kind(value)
        if node.kind == _INT and isinstance(value, float):
            value_kind = f"number {go_float(value) if value != int(value) else repr(value)}"
        if self.decode_error is None:
            if struct or gopath:
                self.decode_error = (
                    f"json: cannot unmarshal {value_kind} into Go struct field {struct}.{gopath} "
                    f"of type {node.go}"
                )
            else:
                self.decode_error = f"json: cannot unmarshal {value_kind} into Go value of type {node.go}"
        actual = _VALUE_TYPE_NAME.get(type(value), "object")
        expected = _SCHEMA_TYPE_NAME.get(node.kind, "object")
        self.type_causes.append(
            err_type_invalid(path, actual, f"{path} in body must be of type {expected}: {json.dumps(actual)}")
        )

    def custom_error(self, path: str, value: Any, message: str) -> None:
        if self.decode_error is None:
            self.decode_error = message
        self.type_causes.append(err_invalid(path, value, message))

    def walk(self, node: _Node, value: Any, path: str, gopath: str, struct: str) -> None:
        # value is never None here: JSON null decodes to the zero value in Go and is always accepted.
        kind = node.kind
        vtype = type(value)
        if kind == _OBJ:
            if vtype is not dict:
                self.type_error(node, value, path, gopath, struct)
                return
            props = node.props
            own = node.struct or struct
            for key, sub in value.items():
                child = props.get(key)
                cpath = f"{path}.{key}" if path else key
                if child is None:
                    self.unknown.append(cpath)
                    continue
                if sub is not None:
                    self.walk(child, sub, cpath, f"{gopath}.{key}" if gopath else key, own)
                    if self.canonicalize and child.kind == _TIME:
                        value[key] = self._time(child, sub)
            for req in node.required:
                if value.get(req) is None:
                    self.causes.append(err_required(f"{path}.{req}" if path else req))
            return
        if kind == _STR:
            if vtype is not str:
                self.type_error(node, value, path, gopath, struct)
            return
        if kind == _INT:
            if vtype is not int:
                self.type_error(node, value, path, gopath, struct)
            return
        if kind == _ARR:
            if vtype is not list:
                self.type_error(node, value, path, gopath, struct)
                return
            item = node.item
            assert item is not None
            if item.kind == _ANY:
                return
            for i, sub in enumerate(value):
                if sub is not None:
                    self.walk(item, sub, f"{path}[{i}]", gopath, struct)
                    if self.canonicalize and item.kind == _TIME:
                        value[i] = self._time(item, sub)
            return
        if kind == _MAP:
            if vtype is not dict:
                self.type_error(node, value, path, gopath, struct)
                return
            item = node.item
            assert item is not None
            for key, sub in value.items():
                if sub is not None:
                    self.walk(item, sub, f"{path}[{key}]", gopath, struct)
                    if self.canonicalize and item.kind == _TIME:
                        value[key] = self._time(item, sub)
            return
        if kind == _BOOL:
            if vtype is not bool:
                self.type_error(node, value, path, gopath, struct)
            return
        if kind == _NUM:
            if vtype is not int and vtype is not float:
                self.type_error(node, value, path, gopath, struct)
            return
        if kind == _INTSTR:
            if vtype is str or vtype is int:
                return
            if self.decode_error is None:
                self.decode_error = f"json: cannot unmarshal {_json_kind(value)} into Go value of type int32"
            self.type_causes.append(
                err_type_invalid(
                    path,
                    _VALUE_TYPE_NAME.get(vtype, "object"),
                    f"{path} in body must be of type integer,string: "
                    f"{json.dumps(_VALUE_TYPE_NAME.get(vtype, 'object'))}",
                )
            )
            return
        if kind == _QTY:
            if vtype is bool or vtype not in (str, int, float):
                self.custom_error(path, value, QUANTITY_FORMAT_ERROR)
                return
            try:
                parse_quantity(value)
            except QuantityError as exc:
                self.custom_error(path, value, str(exc))
            return
        if kind == _BYTES:
            if vtype is not str:
                self.type_error(node, value, path, gopath, struct)
                return
            problem = _base64_error(value)
            if problem:
                self.custom_error(path, value, problem)
            return
        if kind == _TIME:
            if vtype is not str:
                self.type_error(node, value, path, gopath, struct)
                return
            problem = go_time_error(value, micro=node.go == "v1.MicroTime")
            if problem:
                self.custom_error(path, value, problem)
            return
        if kind == _ANYOBJ and vtype is not dict:
            self.type_error(node, value, path, gopath, struct)


# ---------------------------------------------------------------------------------------------------------
# Semantic checks (pkg/apis/core/validation and friends: the subset clients hit)
# ---------------------------------------------------------------------------------------------------------

_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
_VOLUME_MODES = ["Block", "Filesystem"]
_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_MAX_SECRET_SIZE = 1 * 1024 * 1024


def _port_num_errors(port: Any) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return ["must be between 1 and 65535, inclusive"]


def _validate_resources(resources: Any, path: str, out: list[Cause]) -> None:
    if not isinstance(resources, dict):
        return
    parsed: dict[str, dict[str, Decimal]] = {}
    for part in ("limits", "requests"):
        values = resources.get(part)
        if not isinstance(values, dict):
            continue
        parsed[part] = {}
        for name, raw in values.items():
            qpath = f"{path}.{part}[{name}]"
            for msg in is_qualified_name(name):
                out.append(err_invalid(qpath, name, msg))
            q = _quantity_or_none(raw)
            if q is None:
                continue
            parsed[part][name] = q
            if q < 0:
                out.append(err_invalid(qpath, str(raw), "must be greater than or equal to 0"))
    limits = parsed.get("limits", {})
    raw_limits = resources.get("limits") or {}
    for name, q in parsed.get("requests", {}).items():
        limit = limits.get(name)
        if limit is not None and q > limit:
            out.append(
                err_invalid(
                    f"{path}.requests[{name}]",
                    str(resources["requests"][name]),
                    f"must be less than or equal to {name} limit of {raw_limits[name]}",
                )
            )


def _validate_containers(
    containers: Any, path: str, volumes: set[str], names: set[str], out: list[Cause], *, init: bool = False
) -> None:
    if not isinstance(containers, list):
        return
    for i, ctr in enumerate(containers):
        if not isinstance(ctr, dict):
            continue
        cpath = f"{path}[{i}]"
        name = ctr.get("name")
        if name:
            for msg in is_dns1123_label(name):
                out.append(err_invalid(f"{cpath}.name", name, msg))
            if name in names:
                out.append(err_duplicate(f"{cpath}.name", name))
            names.add(name)
        image = ctr.get("image")
        if not image:
            out.append(err_required(f"{cpath}.image"))
        elif image.strip() != image:
            out.append(err_invalid(f"{cpath}.image", image, "must not have leading or trailing whitespace"))
        policy = ctr.get("imagePullPolicy")
        if policy and policy not in _PULL_POLICIES:
            out.append(err_not_supported(f"{cpath}.imagePullPolicy", policy, _PULL_POLICIES))
        ports = ctr.get("ports")
        if isinstance(ports, list):
            port_names: set[str] = set()
            for j, port in enumerate(ports):
                if not isinstance(port, dict):
                    continue
                ppath = f"{cpath}.ports[{j}]"
                pname = port.get("name")
                if pname:
                    for msg in _is_port_name(pname):
                        out.append(err_invalid(f"{ppath}.name", pname, msg))
                    if pname in port_names:
                        out.append(err_duplicate(f"{ppath}.name", pname))
                    port_names.add(pname)
                cport = port.get("containerPort")
                if cport == 0:
                    out.append(err_required(f"{ppath}.containerPort"))
                elif cport is not None:
                    for msg in _port_num_errors(cport):
                        out.append(err_invalid(f"{ppath}.containerPort", cport, msg))
                host_port = port.get("hostPort")
                if host_port not in (None, 0):
                    for msg in _port_num_errors(host_port):
                        out.append(err_invalid(f"{ppath}.hostPort", host_port, msg))
                protocol = port.get("protocol")
                if protocol and protocol not in _PROTOCOLS:
                    out.append(err_not_supported(f"{ppath}.protocol", protocol, _PROTOCOLS))
        env = ctr.get("env")
        if isinstance(env, list):
            for j, var in enumerate(env):
                if isinstance(var, dict) and "name" in var and not var.get("name"):
                    out.append(err_required(f"{cpath}.env[{j}].name"))
        _validate_resources(ctr.get("resources"), f"{cpath}.resources", out)
        mounts = ctr.get("volumeMounts")
        if isinstance(mounts, list):
            mount_paths: set[str] = set()
            for j, mnt in enumerate(mounts):
                if not isinstance(mnt, dict):
                    continue
                mpath = f"{cpath}.volumeMounts[{j}]"
                mname = mnt.get("name")
                if not mname:
                    out.append(err_required(f"{mpath}.name"))
                elif mname not in volumes:
                    out.append(err_not_found(f"{mpath}.name", mname))
                mount_path = mnt.get("mountPath")
                if not mount_path:
                    out.append(err_required(f"{mpath}.mountPath"))
                elif mount_path in mount_paths:
                    out.append(err_invalid(f"{mpath}.mountPath", mount_path, "must be unique"))
                else:
                    mount_paths.add(mount_path)
                _validate_sub_paths(mnt, cpath, mpath, out)


def _local_descending_path(value: str, path: str, out: list[Cause]) -> None:
    """Upstream's validateLocalDescendingPath: a path that must stay inside its volume (no leading ``/``,
    no ``..`` element)."""
    if value.startswith("/"):
        out.append(err_invalid(path, value, "must be a relative path"))
    if ".." in value.split("/"):
        out.append(err_invalid(path, value, "must not contain '..'"))


def _validate_sub_paths(mnt: Mapping[str, Any], cpath: str, mpath: str, out: list[Cause]) -> None:
    """``subPath`` and ``subPathExpr`` of one volume mount (upstream's ValidateVolumeMounts). Upstream names
    the path errors without the mount's index (``spec.containers[0].volumeMounts.subPath``: it passes the
    list's path, not the item's), and kubectl prints exactly that, so kubesim does the same; the mutual
    exclusion error carries the index."""
    sub = mnt.get("subPath")
    if isinstance(sub, str) and sub:
        _local_descending_path(sub, f"{cpath}.volumeMounts.subPath", out)
    expr = mnt.get("subPathExpr")
    if isinstance(expr, str) and expr:
        if isinstance(sub, str) and sub:
            out.append(
                err_invalid(f"{mpath}.subPathExpr", expr, "subPathExpr and subPath are mutually exclusive")
            )
        _local_descending_path(expr, f"{cpath}.volumeMounts.subPathExpr", out)


def _validate_ephemeral_sub_paths(containers: Any, path: str, out: list[Cause]) -> None:
    """Ephemeral containers (the ``pods/ephemeralcontainers`` subresource): their mounts' sub-paths are
    checked as other containers' are, and then refused outright, as upstream's validateEphemeralContainers
    does. Nothing else of an ephemeral container is validated."""
    if not isinstance(containers, list):
        return
    for i, ctr in enumerate(containers):
        if not isinstance(ctr, dict) or not isinstance(ctr.get("volumeMounts"), list):
            continue
        cpath = f"{path}[{i}]"
        mounts = [(j, m) for j, m in enumerate(ctr["volumeMounts"]) if isinstance(m, dict)]
        for j, mnt in mounts:
            _validate_sub_paths(mnt, cpath, f"{cpath}.volumeMounts[{j}]", out)
        for j, mnt in mounts:
            for key in ("subPath", "subPathExpr"):
                if mnt.get(key):
                    out.append(
                        err_forbidden(
                            f"{cpath}.volumeMounts[{j}].{key}", "cannot be set for an Ephemeral Container"
                        )
                    )


def _validate_pod_spec(spec: Any, path: str, out: list[Cause], *, template: bool = False) -> None:
    if not isinstance(spec, dict):
        return
    volumes: set[str] = set()
    vols = spec.get("volumes")
    if isinstance(vols, list):
        for i, vol in enumerate(vols):
            if not isinstance(vol, dict):
                continue
            vpath = f"{path}.volumes[{i}]"
            vname = vol.get("name")
            if not vname:
                out.append(err_required(f"{vpath}.name"))
            else:
                for msg in is_dns1123_label(vname):
                    out.append(err_invalid(f"{vpath}.name", vname, msg))
                if vname in volumes:
                    out.append(err_duplicate(f"{vpath}.name", vname))
                volumes.add(vname)
            sources = [k for k, v in vol.items() if k != "name" and v is not None]
            if not sources:
                out.append(err_required(vpath, "must specify a volume type"))
            elif len(sources) > 1:
                out.append(err_forbidden(f"{vpath}.{sources[1]}", "may not specify more than 1 volume type"))
    containers = spec.get("containers")
    if not containers and not any(c.get("field") == f"{path}.containers" for c in out):
        out.append(err_required(f"{path}.containers"))
    names: set[str] = set()
    _validate_containers(spec.get("initContainers"), f"{path}.initContainers", volumes, names, out, init=True)
    _validate_containers(containers, f"{path}.containers", volumes, names, out)
    _validate_ephemeral_sub_paths(spec.get("ephemeralContainers"), f"{path}.ephemeralContainers", out)
    restart = spec.get("restartPolicy")
    if restart:
        if template:
            if restart != "Always":
                out.append(err_not_supported(f"{path}.restartPolicy", restart, ["Always"]))
        elif restart not in _RESTART_POLICIES:
            out.append(err_not_supported(f"{path}.restartPolicy", restart, _RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if dns and dns not in _DNS_POLICIES:
        out.append(err_not_supported(f"{path}.dnsPolicy", dns, _DNS_POLICIES))
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        out.append(
            err_invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0")
        )


def _selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    if not isinstance(selector, dict):
        return True
    match_labels = selector.get("matchLabels") or {}
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            continue
        key, op, values = str(expr.get("key")), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and (not present or labels.get(key) not in values):
            return False
        if op == "NotIn" and present and labels.get(key) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _validate_workload(obj: Mapping[str, Any], out: list[Cause]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        out.append(err_invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template")
    if (
        isinstance(selector, dict)
        and not selector.get("matchLabels")
        and not selector.get("matchExpressions")
    ):
        out.append(err_invalid("spec.selector", selector, "empty selector is invalid for deployment"))
    if isinstance(template, dict):
        tmeta: dict[str, Any] = template["metadata"] if isinstance(template.get("metadata"), dict) else {}
        labels = tmeta.get("labels") or {}
        has_terms = isinstance(selector, dict) and (
            selector.get("matchLabels") or selector.get("matchExpressions")
        )
        if has_terms and not _selector_matches(selector, labels):
            out.append(
                err_invalid(
                    "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
                )
            )
        out.extend(validate_labels(labels, "spec.template.metadata.labels"))
        _validate_pod_spec(template.get("spec"), "spec.template.spec", out, template=True)


def _validate_service(obj: Mapping[str, Any], out: list[Cause]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    stype = spec.get("type")
    if stype and stype not in _SERVICE_TYPES:
        out.append(err_not_supported("spec.type", stype, _SERVICE_TYPES))
    ports = spec.get("ports")
    headless = spec.get("clusterIP") == "None"
    if not ports and not headless and stype != "ExternalName":
        out.append(err_required("spec.ports"))
    if isinstance(ports, list):
        names: set[str] = set()
        for i, port in enumerate(ports):
            if not isinstance(port, dict):
                continue
            ppath = f"spec.ports[{i}]"
            pname = port.get("name")
            if len(ports) > 1 and not pname:
                out.append(err_required(f"{ppath}.name"))
            elif pname:
                for msg in is_dns1123_label(pname):
                    out.append(err_invalid(f"{ppath}.name", pname, msg))
                if pname in names:
                    out.append(err_duplicate(f"{ppath}.name", pname))
                names.add(pname)
            if "port" in port and port.get("port") is not None:
                for msg in _port_num_errors(port.get("port")):
                    out.append(err_invalid(f"{ppath}.port", port.get("port"), msg))
            protocol = port.get("protocol")
            if protocol and protocol not in _PROTOCOLS:
                out.append(err_not_supported(f"{ppath}.protocol", protocol, _PROTOCOLS))
            target = port.get("targetPort")
            if isinstance(target, int) and target != 0:
                for msg in _port_num_errors(target):
                    out.append(err_invalid(f"{ppath}.targetPort", target, msg))
            elif isinstance(target, str) and target:
                for msg in _is_port_name(target):
                    out.append(err_invalid(f"{ppath}.targetPort", target, msg))
    out.extend(validate_labels(spec.get("selector"), "spec.selector"))
    # ValidateLoadBalancerStatus (status writes only; the API layer ignores status causes elsewhere).
    status = obj.get("status")
    balancer = status.get("loadBalancer") if isinstance(status, dict) else None
    if isinstance(balancer, dict) and balancer.get("ingress") and stype != "LoadBalancer":
        detail = "may only be used when `spec.type` is 'LoadBalancer'"
        out.append(err_forbidden("status.loadBalancer.ingress", detail))


def _validate_core_event(obj: Mapping[str, Any], out: list[Cause]) -> None:
    """legacyValidateEvent's namespace rule: the involved object is in the event's namespace; an event
    naming none is allowed in ``default`` (and, for events with an eventTime, ``kube-system``)."""
    meta = obj.get("metadata")
    namespace = (meta.get("namespace") if isinstance(meta, dict) else "") or ""
    involved = obj.get("involvedObject")
    involved_ns = (involved.get("namespace") if isinstance(involved, dict) else "") or ""
    if obj.get("eventTime"):
        bad = not involved_ns and namespace not in ("default", "kube-system")
    else:
        bad = namespace not in ("", "default") if not involved_ns else namespace != involved_ns
    if bad:
        out.append(err_invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))


def _validate_pvc(obj: Mapping[str, Any], out: list[Cause]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    modes = spec.get("accessModes")
    if not modes:
        out.append(err_required("spec.accessModes", "at least 1 access mode is required"))
    elif isinstance(modes, list):
        for mode in modes:
            if mode not in _ACCESS_MODES:
                out.append(err_not_supported("spec.accessModes", mode, _ACCESS_MODES))
    volume_mode = spec.get("volumeMode")
    if volume_mode and volume_mode not in _VOLUME_MODES:
        out.append(err_not_supported("spec.volumeMode", volume_mode, _VOLUME_MODES))
    resources: dict[str, Any] = spec["resources"] if isinstance(spec.get("resources"), dict) else {}
    requests: dict[str, Any] = resources["requests"] if isinstance(resources.get("requests"), dict) else {}
    storage = requests.get("storage")
    if storage is None:
        out.append(err_required("spec.resources[storage]"))
    else:
        q = _quantity_or_none(storage)
        if q is not None and q <= 0:
            out.append(err_invalid("spec.resources[storage]", str(storage), "must be greater than zero"))


def _validate_data_keys(obj: Mapping[str, Any], out: list[Cause], *fields: str) -> None:
    seen: set[str] = set()
    for fname in fields:
        data = obj.get(fname)
        if not isinstance(data, dict):
            continue
        for key in data:
            for msg in _is_config_map_key(key):
                out.append(err_invalid(f"{fname}[{key}]", key, msg))
            if key in seen:
                out.append(err_invalid(f"{fname}[{key}]", key, "duplicate of key present in data"))
            seen.add(key)


def _validate_config_map_size(obj: Mapping[str, Any], out: list[Cause]) -> None:
    """``ValidateConfigMap``: data and binaryData together hold at most 1 MiB (UTF-8 bytes of the strings,
    decoded bytes of the binary values); the error names the whole object, whose path prints as ``[]``."""
    total = 0
    data = obj.get("data")
    if isinstance(data, dict):
        total += sum(len(v.encode()) for v in data.values() if isinstance(v, str))
    binary = obj.get("binaryData")
    if isinstance(binary, dict):
        total += sum(len(v) * 3 // 4 - v.count("=") for v in binary.values() if isinstance(v, str))
    if total > _MAX_SECRET_SIZE:
        out.append(err_too_long("[]", _MAX_SECRET_SIZE))


def _validate_secret(obj: Mapping[str, Any], out: list[Cause]) -> None:
    _validate_data_keys(obj, out, "data")
    data = obj.get("data")
    if isinstance(data, dict):
        total = 0
        for value in data.values():
            if isinstance(value, str):
                total += len(value) * 3 // 4
        if total > _MAX_SECRET_SIZE:
            out.append(err_too_long("data", _MAX_SECRET_SIZE))


def _validate_rbac_role(obj: Mapping[str, Any], out: list[Cause], namespaced: bool) -> None:
    """ValidatePolicyRule for each rule of a Role (namespaced) or ClusterRole."""
    rules = obj.get("rules")
    if not isinstance(rules, list):
        return
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        path = f"rules[{i}]"
        if not rule.get("verbs"):
            out.append(err_required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs")
        if urls:
            if namespaced:
                out.append(
                    err_invalid(
                        f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs"
                    )
                )
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                out.append(
                    err_invalid(
                        f"{path}.nonResourceURLs",
                        urls,
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
            continue
        if not rule.get("apiGroups"):
            out.append(err_required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            out.append(err_required(f"{path}.resources", "resource rules must supply at least one resource"))


def _validate_rbac_binding(obj: Mapping[str, Any], out: list[Cause], cluster: bool) -> None:
    ref = obj.get("roleRef")
    if isinstance(ref, dict):
        allowed = ["ClusterRole"] if cluster else ["Role", "ClusterRole"]
        kind = ref.get("kind")
        if kind and kind not in allowed:
            out.append(err_not_supported("roleRef.kind", kind, allowed))
        group = ref.get("apiGroup")
        if group and group != "rbac.authorization.k8s.io":
            out.append(err_not_supported("roleRef.apiGroup", group, ["rbac.authorization.k8s.io"]))
    subjects = obj.get("subjects")
    if isinstance(subjects, list):
        for i, subject in enumerate(subjects):
            if not isinstance(subject, dict):
                continue
            kind = subject.get("kind")
            if kind and kind not in ("ServiceAccount", "User", "Group"):
                out.append(
                    err_not_supported(f"subjects[{i}].kind", kind, ["ServiceAccount", "User", "Group"])
                )


def _semantic(
    obj: Mapping[str, Any], group: str, kind: str, namespaced: bool | None, include_metadata: bool
) -> list[Cause]:
    out: list[Cause] = []
    if include_metadata:
        out.extend(
            validate_object_meta(
                obj.get("metadata"),
                name_fn=name_validator(group, kind),
                namespaced=namespaced,
                kube_finalizers=True,
            )
        )
    key = (group, kind)
    if key == ("", "Pod"):
        _validate_pod_spec(obj.get("spec"), "spec", out)
    elif key in (
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "ReplicaSet"),
        ("apps", "DaemonSet"),
    ):
        _validate_workload(obj, out)
    elif key == ("", "Service"):
        _validate_service(obj, out)
    elif key == ("", "PersistentVolumeClaim"):
        _validate_pvc(obj, out)
    elif key == ("", "ConfigMap"):
        _validate_data_keys(obj, out, "data", "binaryData")
        _validate_config_map_size(obj, out)
    elif key == ("", "Event"):
        _validate_core_event(obj, out)
    elif key == ("", "Secret"):
        _validate_secret(obj, out)
    elif key == ("", "ResourceQuota"):
        from kubesim.quota import validate_resource_quota

        out.extend(validate_resource_quota(dict(obj)))
    elif key in (("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole")):
        _validate_rbac_role(obj, out, namespaced=kind == "Role")
    elif key == ("rbac.authorization.k8s.io", "RoleBinding"):
        _validate_rbac_binding(obj, out, cluster=False)
    elif key == ("rbac.authorization.k8s.io", "ClusterRoleBinding"):
        _validate_rbac_binding(obj, out, cluster=True)
    elif group == "admissionregistration.k8s.io" and kind in (
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ):
        from kubesim.admission import validate_configuration

        out.extend(validate_configuration(obj, mutating=kind.startswith("Mutating"), old=None))
    return out


# ---------------------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------------------


@dataclass
class BuiltinCheck:
    """The outcome of checking one built-in object.

    - ``decode_error``: when not None the real server answers **400 BadRequest** with exactly this message
      (``Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field
      ContainerPort.spec.containers.ports.containerPort of type int32``) and validates nothing else.
    - ``causes``: for **422 Invalid** (``kubesim.errors.invalid(kind, name, causes)``); empty when valid. When
      there is a decode error, ``causes`` holds one FieldValueTypeInvalid/FieldValueInvalid cause per
      decoding problem instead (for servers that prefer a 422).
    - ``unknown_fields``: paths of fields the type does not have (``spec.containers[0].foo``), in document
      order; see :func:`strict_decoding_message` and :func:`unknown_field_warnings`.
    """

    decode_error: str | None = None
    causes: list[Cause] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)


def check_builtin(
    obj: Mapping[str, Any],
    group: str,
    version: str,
    kind: str,
    *,
    namespaced: bool | None = None,
    include_metadata: bool = True,
    canonicalize: bool = False,
) -> BuiltinCheck:
    """Decode-check and validate a built-in object in one pass (see :class:`BuiltinCheck`).

    Unknown (group, version, kind) -> an empty result: the server decides what it serves. ``namespaced``:
    True requires ``metadata.namespace``, False forbids it, None (default) leaves it to the server.
    ``include_metadata=False`` skips the ObjectMeta checks (name, labels, annotations, finalizers, owners) for
    a server that validates metadata itself. ``canonicalize=True`` rewrites valid times in ``obj`` as Go
    writes them back (what a server stores)."""
    root = _root(group, version, kind)
    if root is None:
        return BuiltinCheck()
    walk = _Walk(canonicalize)
    walk.walk(root, obj, "", "", kind)
    if walk.decode_error is not None:
        return BuiltinCheck(
            decode_error=f'{kind} in version "{version}" cannot be handled as a {kind}: {walk.decode_error}',
            causes=walk.type_causes,
            unknown_fields=walk.unknown,
        )
    causes = walk.causes
    semantic = _semantic(obj, group, kind, namespaced, include_metadata)
    if causes:
        seen = {(c.get("field"), c.get("reason")) for c in semantic}
        causes = [c for c in causes if (c.get("field"), c.get("reason")) not in seen]
    return BuiltinCheck(causes=semantic + causes, unknown_fields=walk.unknown)


def validate_builtin(
    obj: Mapping[str, Any], group: str, version: str, kind: str, *, include_metadata: bool = True
) -> list[Cause]:
    """Causes for a 422 Invalid (empty list: valid). Decoding problems come back as FieldValueTypeInvalid /
    FieldValueInvalid causes; use :func:`check_builtin` to answer them as the real server does (400)."""
    return check_builtin(obj, group, version, kind, include_metadata=include_metadata).causes


def unknown_fields(obj: Mapping[str, Any], group: str, version: str, kind: str) -> list[str]:
    """Paths of fields the built-in type does not define, e.g. ``["spec.foo", "spec.containers[0].bar"]``."""
    return check_builtin(obj, group, version, kind).unknown_fields


def strict_decoding_message(kind: str, version: str, unknown: Iterable[str]) -> str:
    """The 400 BadRequest message for ``fieldValidation=Strict``:
    ``Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo"``."""
    fields = ", ".join(f"unknown field {json.dumps(p)}" for p in unknown)
    return f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {fields}'


def unknown_field_warnings(unknown: Iterable[str]) -> list[str]:
    """``fieldValidation=Warn``: one warning text per field (``unknown field "spec.foo"``); send each as a
    ``Warning: 299 - "<text, with quotes escaped>"`` header."""
    return [f"unknown field {json.dumps(p)}" for p in unknown]
