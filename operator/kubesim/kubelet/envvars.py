"""A container's environment as the kubelet computes it: ``envFrom``, ``env`` (``value`` with ``$(VAR)``
expansion, ``valueFrom``), and the expansion of ``command``/``args``.

Pure except for the two lookup callables (ConfigMaps and Secrets by namespace and name).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

Obj = dict[str, Any]
Lookup = Callable[[str, str], Obj | None]

# RelaxedEnvironmentVariableValidation (default since 1.32): printable ASCII except "=".
_ENV_NAME = re.compile(r"^[\x20-\x3c\x3e-\x7e]+$")


class ConfigError(Exception):
    """The container cannot be configured (upstream: waiting reason CreateContainerConfigError)."""


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion (third_party/forked/golang/expansion): ``$$`` escapes, unknown
    references stay as written."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            if nxt == "$":
                out.append("$")
                advance = 1
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close == -1:
                    out.append("$(")
                    advance = 1
                else:
                    name = text[cursor + 2 : close]
                    out.append(mapping.get(name, f"$({name})"))
                    advance = close - cursor
            else:
                out.append("$" + nxt)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _decode(value: str) -> str:
    try:
        return base64.b64decode(value).decode("utf-8", "surrogateescape")
    except (ValueError, UnicodeDecodeError):
        return value


def _secret_data(secret: Obj) -> dict[str, str]:
    data = {k: _decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def _configmap_data(cm: Obj) -> dict[str, str]:
    data = dict(cm.get("data") or {})
    for k, v in (cm.get("binaryData") or {}).items():
        data[k] = _decode(v)
    return data


def _referenced_data(ref: Obj, kind: str, ns: str, lookup: Lookup) -> dict[str, str] | None:
    """The data of the ConfigMap or Secret ``ref`` names; None when it is missing and ``optional``."""
    obj = lookup(ns, ref.get("name", ""))
    if obj is None:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
    return _configmap_data(obj) if kind == "ConfigMap" else _secret_data(obj)


def _referenced_key(ref: Obj, kind: str, ns: str, lookup: Lookup) -> str | None:
    """The value of ``ref``'s key in the ConfigMap or Secret it names; None when optional and missing."""
    data = _referenced_data(ref, kind, ns, lookup)
    if data is None:
        return None
    if ref.get("key") not in data:
        if ref.get("optional"):
            return None
        raise ConfigError(f"couldn't find key {ref.get('key')} in {kind} {ns}/{ref.get('name')}")
    return data[ref["key"]]


_FIELD_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


def field_ref(pod: Obj, path: str, pod_ip: str | None, host_ip: str) -> str:
    meta = pod.get("metadata", {})
    spec = pod.get("spec", {})
    m = _FIELD_SUBSCRIPT.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ip or "",
        "status.podIPs": pod_ip or "",
    }
    if path in simple:
        return str(simple[path])
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise ConfigError(f"unsupported fieldPath: {path}")


def resource_field_ref(pod: Obj, container: Obj, ref: Obj, allocatable: Mapping[str, str]) -> str:
    from kubesim.validation import parse_quantity

    name = ref.get("containerName") or container.get("name")
    target = next(
        (c for c in (pod.get("spec", {}).get("containers") or []) if c.get("name") == name), container
    )
    resource = str(ref.get("resource", ""))
    kind, _, res = resource.partition(".")
    resources = target.get("resources") or {}
    value = (resources.get(kind) or {}).get(res)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(res)
    if value is None:
        value = allocatable.get(res, "0") if kind == "limits" else "0"
    try:
        quantity = parse_quantity(str(value))
        divisor = parse_quantity(str(ref.get("divisor") or "1"))
    except (ValueError, ArithmeticError) as exc:
        raise ConfigError(f"invalid resource quantity for {resource}: {exc}") from exc
    if divisor == 0:
        divisor = Decimal(1)
    return str(math.ceil(quantity / divisor))


def resolve_env(
    pod: Obj,
    container: Obj,
    *,
    configmap: Lookup,
    secret: Lookup,
    pod_ip: str | None,
    host_ip: str,
    base: Mapping[str, str] | None = None,
    allocatable: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The container's environment (``base`` first: image env and kubelet-provided variables), or
    :class:`ConfigError` with upstream's message when a referenced object or key is missing."""
    ns = pod.get("metadata", {}).get("namespace", "")
    env: dict[str, str] = dict(base or {})
    for source in container.get("envFrom") or ():
        prefix = source.get("prefix") or ""
        if source.get("configMapRef") is not None:
            data = _referenced_data(source["configMapRef"], "ConfigMap", ns, configmap)
        elif source.get("secretRef") is not None:
            data = _referenced_data(source["secretRef"], "Secret", ns, secret)
        else:
            continue
        for k, v in (data or {}).items():
            name = prefix + k
            if _ENV_NAME.match(name):
                env[name] = v
    for var in container.get("env") or ():
        name = var.get("name")
        if not name:
            continue
        source = var.get("valueFrom")
        if source is None:
            env[name] = expand(str(var.get("value") or ""), env)
            continue
        if source.get("fieldRef") is not None:
            env[name] = field_ref(pod, str(source["fieldRef"].get("fieldPath", "")), pod_ip, host_ip)
        elif source.get("resourceFieldRef") is not None:
            env[name] = resource_field_ref(pod, container, source["resourceFieldRef"], allocatable or {})
        elif source.get("configMapKeyRef") is not None or source.get("secretKeyRef") is not None:
            is_cm = source.get("configMapKeyRef") is not None
            ref = source["configMapKeyRef" if is_cm else "secretKeyRef"]
            value = _referenced_key(
                ref, "ConfigMap" if is_cm else "Secret", ns, configmap if is_cm else secret
            )
            if value is not None:
                env[name] = value
    return env


def expand_argv(argv: list[str], env: Mapping[str, str]) -> list[str]:
    return [expand(str(a), env) for a in argv]
