"""Validation of rendered objects against the real Kubernetes schemas, before anything is created.

kubernetes-validate bundles the schemas, but its ``validate()`` re-reads and re-parses the 4.7 MB
definitions file on every call (tens of milliseconds); the operator validates every child of every
instance, so this module builds one validator per kind once and reuses it. It also adds the checks of the
API server that the JSON schema cannot express and users hit most: resource quantities and DNS names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

DEFAULT_KUBERNETES_VERSION = "1.34"

# Kubernetes' quantity grammar (resource.ParseQuantity): a decimal number and one valid suffix.
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_QUANTITY_HELP = "a quantity is a number with an optional suffix such as 500m, 1Gi, 2G or 1e3"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def schema_version(requested: str = DEFAULT_KUBERNETES_VERSION) -> str:
    """The newest bundled schema version not newer than ``requested`` (e.g. the cluster's minor)."""
    versions = kv_utils.all_versions()
    wanted = kv_utils.major_minor(requested.lstrip("v"))
    usable = [v for v in versions if _minor_key(kv_utils.major_minor(v)) <= _minor_key(wanted)]
    return str(usable[-1] if usable else versions[0])


def _minor_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


@functools.cache
def _definitions(schema_dir: str, version: str) -> Resource[Any]:
    return Resource.from_contents(
        kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    )


@functools.cache
def _validator(
    version: str, api_version: str, kind: str, strict: bool
) -> jsonschema.protocols.Validator | None:
    schema_dir = f"v{version}-local" + ("-strict" if strict else "")
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv_utils.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version
        )
    except (FileNotFoundError, kubernetes_validate.SchemaNotFoundError):
        return None
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = _definitions(schema_dir, version) @ registry
    cls = jsonschema.validators.Draft202012Validator
    validator: jsonschema.protocols.Validator = cls(schema, registry=registry)
    return validator


def is_builtin(api_version: str, kind: str, version: str = DEFAULT_KUBERNETES_VERSION) -> bool:
    return _validator(schema_version(version), api_version, kind, False) is not None


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


def _quantities(obj: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every value under a ``resources.requests|limits`` or PVC ``resources`` map, with its path."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            p = f"{path}.{key}" if path else str(key)
            if (key in ("requests", "limits") and isinstance(value, dict) and path.endswith("resources")) or (
                key == "capacity" and isinstance(value, dict)
            ):
                for res, q in value.items():
                    yield f"{p}.{res}", q
            else:
                yield from _quantities(value, p)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _quantities(value, f"{path}[{i}]")


def validate(
    obj: dict[str, Any], version: str = DEFAULT_KUBERNETES_VERSION, strict: bool = True
) -> list[str]:
    """Problems with a rendered object, each naming the field (``spec.containers[0].image: ...``).

    Kinds without a bundled schema (custom resources) are left to the API server and give no problems.
    """
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    validator = _validator(schema_version(version), api_version, kind, strict)
    if validator is None:
        return []
    problems = []
    for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        message = err.message
        if err.validator == "additionalProperties" and strict:
            message = f"unknown field ({message})"
        problems.append(f"{_path(err.absolute_path)}: {message}")
    for path, quantity in _quantities(obj.get("spec")):
        if isinstance(quantity, str) and not _QUANTITY.match(quantity):
            problems.append(
                f"spec.{path}: invalid quantity {quantity!r}: quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            )
    if kind == "Pod":
        for key in ("containers", "initContainers"):
            for i, c in enumerate((obj.get("spec") or {}).get(key) or ()):
                name = c.get("name") if isinstance(c, dict) else None
                if isinstance(name, str) and not (len(name) <= 63 and _DNS_LABEL.match(name)):
                    problems.append(
                        f"spec.{key}[{i}].name: {name!r} is not a valid DNS-1123 label "
                        "(lower case alphanumerics and '-', at most 63 characters)"
                    )
                mounts = c.get("volumeMounts") if isinstance(c, dict) else None
                for j, m in enumerate(mounts if isinstance(mounts, list) else ()):
                    sub = m.get("subPath") if isinstance(m, dict) else None
                    if isinstance(sub, str) and sub:
                        problem = _local_descending_path(sub)
                        if problem:
                            problems.append(
                                f"spec.{key}[{i}].volumeMounts[{j}].subPath: {sub[:100]!r}: {problem}"
                            )
    return problems


def _local_descending_path(path: str) -> str | None:
    """The API server's check of a volume's subPath (validateLocalDescendingPath): it must stay inside the
    volume, so a variable in a subPath cannot mount a directory outside it."""
    if path.startswith("/"):
        return "must be a relative path"
    if ".." in path.split("/"):
        return "must not contain '..'"
    return None
