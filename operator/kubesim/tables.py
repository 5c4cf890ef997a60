"""``meta.k8s.io/v1`` Table responses, which ``kubectl get`` prints: the columns kubectl users know for
the common built-in kinds, and a CRD's ``additionalPrinterColumns`` for custom resources.

JSONPath here is the subset printer columns use (``.a.b``, escaped dots, ``[n]``, ``[*]``, ``.*``, and
filters such as ``[?(@.type=="Ready")]``); no maintained Python library evaluates Kubernetes' JSONPath
dialect with its escaping, hence this one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from kubesim.objectmeta import age
from kubesim.resources import ResourceType

Obj = dict[str, Any]

_TOKEN = re.compile(
    r"\[(\*|-?\d+)\]|\.((?:\\.|[^.\[\\])+)|\.(\*)"
    # A filter: [?(@.a.b == "x")], [?(@.a != 'x')], [?(@.n == 3)], [?(@.a)] (the field is present).
    r"|\[\?\(@((?:\.(?:\\.|[^.\[\\=!)\s])+)+)\s*(?:(==|!=)\s*(\"[^\"]*\"|'[^']*'|[^)\s]+))?\s*\)\]"
)


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
        field, op, literal = m.group(4), m.group(5), m.group(6)
        for value in current:
            if field is not None:
                if isinstance(value, list):
                    nxt.extend(item for item in value if _matches(item, field, op, literal))
            elif index is not None:
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


def _matches(item: Any, field: str, op: str | None, literal: str | None) -> bool:
    found = jsonpath(item, field)
    if op is None:
        return bool(found)
    assert literal is not None
    want = literal[1:-1] if literal[:1] in ("'", '"') else literal
    equal = any(_scalar(v) == want for v in found)
    return equal if op == "==" else (bool(found) and not equal)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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


def _quota_row(q: Obj) -> list[Any]:
    """``printResourceQuota``: ``name: used/hard`` per resource of status.hard, sorted; ``limits.*`` in the
    Limit column, everything else in the Request column."""
    status = q.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    request: list[str] = []
    limit: list[str] = []
    for name in sorted(hard):
        pieces = name.split(".")
        column = limit if len(pieces) > 1 and pieces[0] == "limits" else request
        column.append(f"{name}: {used.get(name, '0')}/{hard[name]}")
    return [_name(q), ", ".join(request), ", ".join(limit), _age(q)]


def _name(o: Obj) -> str:
    return str(o["metadata"]["name"])


def _age(o: Obj) -> str:
    return age(o["metadata"].get("creationTimestamp"))


_ACCESS_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def _pv_row(pv: Obj) -> list[Any]:
    spec, status = pv.get("spec", {}), pv.get("status", {})
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    modes = ",".join(_ACCESS_MODES.get(m, m) for m in spec.get("accessModes") or [])
    return [
        _name(pv),
        (spec.get("capacity") or {}).get("storage", ""),
        modes,
        spec.get("persistentVolumeReclaimPolicy", ""),
        status.get("phase", ""),
        claim,
        spec.get("storageClassName", ""),
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        _age(pv),
    ]


def _node_row(node: Obj) -> list[Any]:
    conds = {c.get("type"): c.get("status") for c in node.get("status", {}).get("conditions") or ()}
    status = "Ready" if conds.get("Ready") == "True" else "NotReady"
    if node.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = node["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    version = node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
    return [_name(node), status, ",".join(roles) or "<none>", _age(node), version]


def _binding_row(b: Obj) -> list[Any]:
    ref = b.get("roleRef") or {}
    return [_name(b), f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(b)]


def _job_row(job: Obj) -> list[Any]:
    spec, status = job.get("spec", {}), job.get("status", {})
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or ()}
    state = next((t for t in ("Complete", "Failed", "Suspended") if conds.get(t) == "True"), "Running")
    completions = spec.get("completions")
    done = (
        f"{status.get('succeeded', 0)}/{completions}"
        if completions is not None
        else str(status.get("succeeded", 0))
    )
    return [_name(job), state, done, "", _age(job)]


_BUILTIN: dict[tuple[str, str], tuple[list[Obj], Callable[[Obj], list[Any]]]] = {
    ("", "configmaps"): (
        [NAME_COL, _col("Data", "integer"), AGE_COL],
        lambda o: [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o)],
    ),
    ("", "secrets"): (
        [NAME_COL, _col("Type"), _col("Data", "integer"), AGE_COL],
        lambda o: [_name(o), o.get("type", ""), len(o.get("data") or {}), _age(o)],
    ),
    ("", "serviceaccounts"): (
        [NAME_COL, _col("Secrets", "integer"), AGE_COL],
        lambda o: [_name(o), len(o.get("secrets") or []), _age(o)],
    ),
    ("", "nodes"): (
        [NAME_COL, _col("Status"), _col("Roles"), AGE_COL, _col("Version")],
        _node_row,
    ),
    ("", "persistentvolumes"): (
        [
            NAME_COL,
            _col("Capacity"),
            _col("Access Modes"),
            _col("Reclaim Policy"),
            _col("Status"),
            _col("Claim"),
            _col("StorageClass"),
            _col("VolumeAttributesClass"),
            _col("Reason"),
            AGE_COL,
        ],
        _pv_row,
    ),
    ("apps", "statefulsets"): (
        [NAME_COL, _col("Ready"), AGE_COL],
        lambda o: [
            _name(o),
            f"{o.get('status', {}).get('readyReplicas', 0)}/{o.get('spec', {}).get('replicas', 1)}",
            _age(o),
        ],
    ),
    ("apps", "replicasets"): (
        [NAME_COL, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), AGE_COL],
        lambda o: [
            _name(o),
            o.get("spec", {}).get("replicas", 1),
            o.get("status", {}).get("replicas", 0),
            o.get("status", {}).get("readyReplicas", 0),
            _age(o),
        ],
    ),
    ("batch", "jobs"): (
        [NAME_COL, _col("Status"), _col("Completions"), _col("Duration"), AGE_COL],
        _job_row,
    ),
    ("rbac.authorization.k8s.io", "roles"): (
        [NAME_COL, _col("Created At", "date")],
        lambda o: [_name(o), o["metadata"].get("creationTimestamp")],
    ),
    ("rbac.authorization.k8s.io", "clusterroles"): (
        [NAME_COL, _col("Created At", "date")],
        lambda o: [_name(o), o["metadata"].get("creationTimestamp")],
    ),
    ("rbac.authorization.k8s.io", "rolebindings"): ([NAME_COL, _col("Role"), AGE_COL], _binding_row),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): ([NAME_COL, _col("Role"), AGE_COL], _binding_row),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        [NAME_COL, _col("Created At", "date")],
        lambda o: [_name(o), o["metadata"].get("creationTimestamp")],
    ),
    ("coordination.k8s.io", "leases"): (
        [NAME_COL, _col("Holder"), AGE_COL],
        lambda o: [_name(o), (o.get("spec") or {}).get("holderIdentity", ""), _age(o)],
    ),
    ("storage.k8s.io", "storageclasses"): (
        [
            NAME_COL,
            _col("Provisioner"),
            _col("ReclaimPolicy"),
            _col("VolumeBindingMode"),
            _col("AllowVolumeExpansion"),
            AGE_COL,
        ],
        lambda o: [
            _name(o),
            o.get("provisioner", ""),
            o.get("reclaimPolicy", "Delete"),
            o.get("volumeBindingMode", "Immediate"),
            str(bool(o.get("allowVolumeExpansion"))).lower(),
            _age(o),
        ],
    ),
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
    ("", "resourcequotas"): (
        [
            NAME_COL,
            _col(
                "Request",
                description="Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            _col(
                "Limit",
                description="Limits control the maximum amount of cpu/memory that a container may use "
                "independent of contention on the node.",
            ),
            AGE_COL,
        ],
        _quota_row,
    ),
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
