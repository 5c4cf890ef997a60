"""Validation of ``metadata`` common to every kind, built-in or custom (upstream's ValidateObjectMeta)."""

from __future__ import annotations

import re
from typing import Any

from kubesim.errors import Cause

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.match(value))


def _qualified_name_errors(key: str) -> list[str]:
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character"
        ]
    errs: list[str] = []
    if len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        elif not is_dns1123_subdomain(prefix):
            errs.append("prefix part " + _SUBDOMAIN_MSG)
    else:
        name = parts[0]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME.match(name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return errs


def _path_segment_errors(name: str) -> str | None:
    if name in (".", ".."):
        return f"may not be '{name}'"
    for bad in ("/", "%"):
        if bad in name:
            return f"may not contain '{bad}'"
    return None


def validate_object_meta(
    meta: dict[str, Any], *, dns_label: bool = False, path_segment: bool = False
) -> list[Cause]:
    """``dns_label``: names must be DNS-1123 labels (namespaces, services); ``path_segment``: any name that
    is a valid URL path segment (RBAC kinds, whose names look like ``system:discovery``)."""
    causes: list[Cause] = []
    name = meta.get("name", "")
    if not isinstance(name, str) or not name:
        causes.append(
            {
                "reason": "FieldValueRequired",
                "message": "Required value: name or generateName is required",
                "field": "metadata.name",
            }
        )
    elif path_segment:
        problem = _path_segment_errors(name)
        if problem:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "message": f'Invalid value: "{name}": {problem}',
                    "field": "metadata.name",
                }
            )
    elif dns_label and not is_dns1123_label(name):
        msg = "must be no more than 63 characters" if len(name) > 63 else _LABEL_MSG
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "{name}": {msg}',
                "field": "metadata.name",
            }
        )
    elif not dns_label and not is_dns1123_subdomain(name):
        msg = "must be no more than 253 characters" if len(name) > 253 else _SUBDOMAIN_MSG
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "{name}": {msg}',
                "field": "metadata.name",
            }
        )
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        causes.append(
            {
                "reason": "FieldValueTypeInvalid",
                "message": "Invalid value: must be a map",
                "field": "metadata.labels",
            }
        )
    else:
        for key, value in labels.items():
            for err in _qualified_name_errors(str(key)):
                causes.append(
                    {
                        "reason": "FieldValueInvalid",
                        "message": f'Invalid value: "{key}": {err}',
                        "field": "metadata.labels",
                    }
                )
            if not isinstance(value, str):
                causes.append(
                    {
                        "reason": "FieldValueTypeInvalid",
                        "message": "Invalid value: must be a string",
                        "field": f"metadata.labels.{key}",
                    }
                )
            elif len(value) > 63 or not _LABEL_VALUE.match(value):
                detail = (
                    "must be no more than 63 characters"
                    if len(value) > 63
                    else "a valid label must be an empty string or consist of alphanumeric characters, '-', "
                    "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
                    "or 'my_value',  or '12345', regex used for validation is "
                    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                )
                causes.append(
                    {
                        "reason": "FieldValueInvalid",
                        "message": f'Invalid value: "{value}": {detail}',
                        "field": f"metadata.labels.{key}",
                    }
                )
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        total = 0
        for key, value in annotations.items():
            for err in _qualified_name_errors(str(key)):
                causes.append(
                    {
                        "reason": "FieldValueInvalid",
                        "message": f'Invalid value: "{key}": {err}',
                        "field": "metadata.annotations",
                    }
                )
            total += len(str(key)) + len(str(value))
        if total > 256 * 1024:
            causes.append(
                {
                    "reason": "FieldValueTooLong",
                    "message": "Too long: may not be more than 262144 bytes",
                    "field": "metadata.annotations",
                }
            )
    for i, ref in enumerate(meta.get("ownerReferences") or ()):
        for req in ("apiVersion", "kind", "name", "uid"):
            if not (isinstance(ref, dict) and ref.get(req)):
                causes.append(
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value",
                        "field": f"metadata.ownerReferences[{i}].{req}",
                    }
                )
    controllers = [
        r for r in meta.get("ownerReferences") or () if isinstance(r, dict) and r.get("controller")
    ]
    if len(controllers) > 1:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: only one reference can have Controller set to true",
                "field": "metadata.ownerReferences",
            }
        )
    return causes
