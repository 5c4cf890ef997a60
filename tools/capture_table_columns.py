"""Capture the Table column definitions kube-apiserver serves (``kubectl get``'s columns) for every built-in
resource kubesim serves, from an upstream control plane (k8s-local), into
``operator/kubesim/data/table_columns.json`` (committed; re-run after upgrading Kubernetes).

The columns (names, types, formats, priorities, descriptions) are data: upstream's printers define them
once per kind (pkg/printers/internalversion/printers.go) with descriptions taken from the API's field
documentation. kubesim's ``tables`` module computes the cells.
Usage: ``python tools/capture_table_columns.py``.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import k8slocal
import kubesim

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "operator" / "kubesim" / "data" / "table_columns.json"
ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"


def columns(plane: k8slocal.ControlPlane, prefix: str, plural: str) -> list[dict[str, Any]]:
    req = urllib.request.Request(
        f"{plane.url}{prefix}/{plural}?limit=1",
        headers={"Accept": ACCEPT, "Authorization": f"Bearer {plane.admin_token}"},
    )
    with urllib.request.urlopen(req, timeout=30, context=plane._ca_context()) as resp:
        table = json.loads(resp.read())
    return [
        {k: c[k] for k in ("name", "type", "format", "description", "priority")}
        for c in table["columnDefinitions"]
    ]


def main() -> int:
    registry = kubesim.Cluster().registry
    out: dict[str, list[dict[str, Any]]] = {}
    with k8slocal.ControlPlane() as plane:
        for rt in registry.all():
            if rt.is_custom or "list" not in rt.verbs:
                continue
            prefix = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
            out[f"{rt.group}/{rt.plural}"] = columns(plane, prefix, rt.plural)
    TARGET.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"{len(out)} resources -> {TARGET.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
