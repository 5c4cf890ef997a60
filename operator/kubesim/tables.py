"""``meta.k8s.io/v1`` Table responses, which ``kubectl get`` prints: the columns kubectl users know for
the common built-in kinds, and a CRD's ``additionalPrinterColumns`` for custom resources.

JSONPath here is the subset printer columns use (``.a.b``, escaped dots, ``[n]``, ``[*]``, ``.*``);
no maintained Python library evaluates Kubernetes' JSONPath dialect with its escaping, hence this one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from kubesim.objectmeta import age
from kubesim.resources import ResourceType

Obj = dict[str, Any]

_TOKEN = re.compile(r"\[(\*|-?\d+)\]|\.((?:\\.|[^.\[\\])+)|\.(\*)")


def jsonpath(obj: Any, path: str) -> list[Any]:
    """All values at a printer-column JSONPath (``{}`` braces optional)."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if not path.startswith(".") and not path.startswith("["):
        path = "." + path
    current = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            return []
        pos = m.end()
        nxt: list[Any] = []
        index, name, star = m.group(1), m.group(2), m.group(3)
        for value in current:
            if index is not None:
                if isinstance(value, list):
                    if index == "*":
                        nxt.extend(value)
                    else:
                        i = int(index)
                        if -len(value) <= i < len(value):
                            nxt.append(value[i])
            elif star is not None or name == "*":
                if isinstance(value, dict):
                    nxt.extend(value.values())
                elif isinstance(value, list):
                    nxt.extend(value)
            elif name is not None:
                key = name.replace("\\.", ".")
                if isinstance(value, dict) and key in value:
                    nxt.append(value[key])
        current = nxt
    return current


def _cell(values: list[Any], col_type: str) -> Any:
    if not values:
        return None
    if col_type == "date":
        return age(values[0]) if isinstance(values[0], str) else None
    if len(values) == 1:
        v = values[0]
    else:
        v = " ".join(json.dumps(x) if isinstance(x, dict | list) else str(x) for x in values)
    if col_type in ("integer", "number") and isinstance(v, int | float):
        return v
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if col_type in ("integer", "number", "boolean") else str(v)


def _col(name: str, typ: str = "string", fmt: str = "", priority: int = 0, description: str = "") -> Obj:
    return {"name": name, "type": typ, "format": fmt, "description": description, "priority": priority}


NAME_COL = _col("Name", fmt="name", description="Name must be unique within a namespace.")
AGE_COL = _col(
    "Age",
    description="CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def _pod_row(pod: Obj) -> list[Any]:
    spec = pod.get("spec", {})
    status = pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    total = len(spec.get("containers") or [])
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    reason = status.get("reason") or status.get("phase", "")
    for c in statuses:
        state = c.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and state["terminated"].get("reason") and reason == "Running":
            reason = state["terminated"]["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        reason,
        restarts,
        age(pod["metadata"].get("creationTimestamp")),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
    ]


def _pvc_row(pvc: Obj) -> list[Any]:
    spec, status = pvc.get("spec", {}), pvc.get("status", {})
    cap = (status.get("capacity") or {}).get("storage", "")
    modes = ",".join(
        {
            "ReadWriteOnce": "RWO",
            "ReadOnlyMany": "ROX",
            "ReadWriteMany": "RWX",
            "ReadWriteOncePod": "RWOP",
        }.get(m, m)
        for m in status.get("accessModes") or []
    )
    return [
        pvc["metadata"]["name"],
        status.get("phase", ""),
        spec.get("volumeName", ""),
        cap,
        modes,
        spec.get("storageClassName") or "<unset>",
        age(pvc["metadata"].get("creationTimestamp")),
    ]


def _svc_row(svc: Obj) -> list[Any]:
    spec = svc.get("spec", {})
    ports = (
        ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    )
    return [
        svc["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        "<none>",
        ports,
        age(svc["metadata"].get("creationTimestamp")),
    ]


def _ns_row(ns: Obj) -> list[Any]:
    return [
        ns["metadata"]["name"],
        ns.get("status", {}).get("phase", ""),
        age(ns["metadata"].get("creationTimestamp")),
    ]


def _event_row(ev: Obj) -> list[Any]:
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or ev["metadata"].get("creationTimestamp")
    return [
        age(last),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        ev.get("message") or ev.get("note", ""),
    ]


def _deploy_row(d: Obj) -> list[Any]:
    spec, status = d.get("spec", {}), d.get("status", {})
    return [
        d["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(d["metadata"].get("creationTimestamp")),
    ]


_BUILTIN: dict[tuple[str, str], tuple[list[Obj], Callable[[Obj], list[Any]]]] = {
    ("", "pods"): (
        [
            NAME_COL,
            _col("Ready"),
            _col("Status"),
            _col("Restarts", "string"),
            AGE_COL,
            _col("IP", priority=1),
            _col("Node", priority=1),
        ],
        _pod_row,
    ),
    ("", "persistentvolumeclaims"): (
        [
            NAME_COL,
            _col("Status"),
            _col("Volume"),
            _col("Capacity"),
            _col("Access Modes"),
            _col("StorageClass"),
            AGE_COL,
        ],
        _pvc_row,
    ),
    ("", "services"): (
        [NAME_COL, _col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), AGE_COL],
        _svc_row,
    ),
    ("", "namespaces"): ([NAME_COL, _col("Status"), AGE_COL], _ns_row),
    ("", "events"): (
        [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")],
        _event_row,
    ),
    ("apps", "deployments"): (
        [NAME_COL, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), AGE_COL],
        _deploy_row,
    ),
}


def table(
    rt: ResourceType,
    objects: list[Obj],
    resource_version: str,
    include_object: str = "Metadata",
    continue_token: str = "",
    remaining: int | None = None,
) -> Obj:
    columns: list[Obj]
    row_of: Callable[[Obj], list[Any]]
    if rt.is_custom:
        printer = list(rt.printer_columns)
        columns = [NAME_COL] + [
            _col(
                c["name"],
                c.get("type", "string"),
                c.get("format", ""),
                int(c.get("priority", 0)),
                c.get("description", ""),
            )
            for c in printer
        ]
        if not printer:
            columns.append(AGE_COL)

        def custom_row(o: Obj) -> list[Any]:
            if not printer:
                return [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"))]
            return [o["metadata"]["name"]] + [
                _cell(jsonpath(o, c["jsonPath"]), c.get("type", "string")) for c in printer
            ]

        row_of = custom_row
    elif rt.key in _BUILTIN:
        columns, row_of = _BUILTIN[rt.key]
    else:
        columns = [NAME_COL, AGE_COL]

        def generic_row(o: Obj) -> list[Any]:
            return [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"))]

        row_of = generic_row

    rows = []
    for o in objects:
        row: Obj = {"cells": row_of(o)}
        if include_object == "Object":
            row["object"] = o
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o["metadata"],
            }
        rows.append(row)
    meta: Obj = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": columns,
        "rows": rows,
    }
