"""The real Kubernetes type definitions (OpenAPI-derived JSON schemas) bundled by kubernetes-validate.

kubernetes-validate ships, per Kubernetes version, ``_definitions.json``: every API type with its
properties, ``x-kubernetes-group-version-kind``, ``x-kubernetes-patch-merge-key``/``-patch-strategy`` and
``x-kubernetes-list-type``/``-list-map-keys``. kubesim uses it for validation, strategic merge patches and
the OpenAPI documents it serves, so all three agree with upstream for the same version.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

KUBERNETES_VERSION = "1.34.0"


def _schema_root() -> Path:
    # Locate the package without importing it: importing kubernetes_validate costs about a second.
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise ImportError("kubernetes-validate is not installed (pip install 'jupyternetes[sim]')")
    return Path(spec.origin).parent / "kubernetes-json-schema"


_SCHEMA_ROOT = _schema_root()


def schema_dir(version: str = KUBERNETES_VERSION, strict: bool = False) -> Path:
    return _SCHEMA_ROOT / f"v{version}-local{'-strict' if strict else ''}"


@functools.cache
def definitions(version: str = KUBERNETES_VERSION) -> dict[str, dict[str, Any]]:
    """All type definitions by their OpenAPI name (``io.k8s.api.core.v1.Pod``)."""
    with (schema_dir(version) / "_definitions.json").open() as fh:
        defs: dict[str, dict[str, Any]] = json.load(fh)["$defs"]
    return defs


@functools.cache
def _gvk_index(version: str) -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions(version).items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            key = (gvk.get("group", ""), gvk["version"], gvk["kind"])
            # meta types (DeleteOptions, WatchEvent) are listed under every group; keep the first, which
            # is fine because only top-level resource kinds are looked up here.
            index.setdefault(key, name)
    return index


def definition_name(group: str, version: str, kind: str, k8s_version: str = KUBERNETES_VERSION) -> str | None:
    """The definition name of a kind, e.g. ``("", "v1", "Pod")`` -> ``io.k8s.api.core.v1.Pod``."""
    return _gvk_index(k8s_version).get((group, version, kind))


def resolve_ref(ref: str, version: str = KUBERNETES_VERSION) -> dict[str, Any]:
    """Resolve ``#/$defs/<name>`` to its definition."""
    return definitions(version)[ref.rsplit("/", 1)[-1]]
