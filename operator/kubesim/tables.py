"""``meta.k8s.io/v1`` Table responses, which ``kubectl get`` prints: the columns kubectl users know for
the common built-in kinds, and a CRD's ``additionalPrinterColumns`` for custom resources.

JSONPath here is the subset printer columns use (``.a.b``, escaped dots, ``[n]``, ``[*]``, ``.*``, and
filters such as ``[?(@.type=="Ready")]``); no maintained Python library evaluates Kubernetes' JSONPath
dialect with its escaping, hence this one.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubesim import errors
from kubesim.objectmeta import age, human_duration, parse_time
from kubesim.resources import ResourceType
from kubesim.validation import go_float

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


def _go_json(value: Any) -> str:
    """``json.Marshal``: compact, map keys sorted, ``<``, ``>`` and ``&`` escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _jsonpath_text(value: Any) -> str | None:
    """A value as client-go's JSONPath prints it: objects and arrays as JSON, the rest with fmt.Print."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return _go_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def _cell(values: list[Any], col_type: str) -> Any:
    """A custom resource's column (upstream's tableconvertor): the first value the JSONPath finds,
    converted for the column's type; null when missing or of another type."""
    if not values:
        return None
    value = values[0]
    if col_type == "string":
        return _jsonpath_text(value)
    if value is None or isinstance(value, bool) != (col_type == "boolean"):
        return None
    if col_type == "integer" and isinstance(value, int | float):
        return int(value)
    if col_type == "number" and isinstance(value, int | float):
        return float(value)
    if col_type == "boolean":
        return value
    if col_type == "date" and isinstance(value, str):
        try:
            return age(value, strict=True)
        except ValueError:
            return "<invalid>"
    return None


def _col(name: str, typ: str = "string", fmt: str = "", priority: int = 0, description: str = "") -> Obj:
    return {"name": name, "type": typ, "format": fmt, "description": description, "priority": priority}


# metav1.ObjectMeta's field docs, which upstream's printers use for these two columns.
NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATION_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
    "lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
NAME_COL = _col("Name", fmt="name", description=NAME_DESCRIPTION)
CREATED_AT_COL = _col("Created At", "date", description=CREATION_DESCRIPTION)


def _name(o: Obj) -> str:
    return str(o["metadata"]["name"])


def _age(o: Obj) -> str:
    return age(o["metadata"].get("creationTimestamp"))


def _spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def _status(o: Obj) -> Obj:
    return o.get("status") or {}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _containers(template_spec: Obj) -> list[str]:
    """layoutContainerCells: the containers' names and images, comma-separated."""
    containers = template_spec.get("containers") or []
    return [
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    ]


def _template_spec(o: Obj) -> Obj:
    return (_spec(o).get("template") or {}).get("spec") or {}


def _selector(sel: Any) -> str:
    """metav1.FormatLabelSelector: ``<none>`` for a missing or empty selector."""
    from kubesim.selectors import label_selector_from_object

    try:
        text = str(label_selector_from_object(sel))
    except errors.ApiError:  # upstream prints an invalid selector as <error>
        return "<error>"
    return text or "<none>"


def _labels(labels: Any) -> str:
    """labels.FormatLabels: ``k=v`` pairs sorted by key, ``<none>`` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _quantity(raw: Any) -> str:
    from kubesim.quota import Quantity
    from kubesim.validation import QuantityError

    if raw is None or raw == "":
        return "0"
    try:
        return str(Quantity.parse(raw))
    except (QuantityError, ArithmeticError, TypeError):  # a stored quantity is valid: as it is otherwise
        return str(raw)


def _access_modes(modes: Any) -> str:
    """helper.GetAccessModesAsString: the short forms, in a fixed order, without duplicates."""
    present = set(modes or ())
    return ",".join(
        short
        for mode, short in (
            ("ReadWriteOnce", "RWO"),
            ("ReadOnlyMany", "ROX"),
            ("ReadWriteMany", "RWX"),
            ("ReadWriteOncePod", "RWOP"),
        )
        if mode in present
    )


def _pod_row(pod: Obj) -> tuple[list[Any], list[Obj]]:
    """printPod (pkg/printers/internalversion), with the wide columns."""
    spec, status = _spec(pod), _status(pod)
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}

    def restartable(name: Any) -> bool:
        return (init_specs.get(name) or {}).get("restartPolicy") == "Always"

    total = len(spec.get("containers") or []) + sum(
        1 for c in init_specs.values() if c.get("restartPolicy") == "Always"
    )
    ready = 0
    restarts = 0
    restartable_restarts = 0
    last_restart = ""
    last_restartable_restart = ""
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or []
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"
    init_statuses = status.get("initContainerStatuses") or []
    initializing = False
    for i, container in enumerate(init_statuses):
        restarts += _int(container.get("restartCount"))
        finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""
        last_restart = max(last_restart, finished)
        if restartable(container.get("name")):
            restartable_restarts += _int(container.get("restartCount"))
            last_restartable_restart = max(last_restartable_restart, finished)
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and _int(terminated.get("exitCode")) == 0:
            continue
        if restartable(container.get("name")) and container.get("started"):
            if container.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if not terminated.get("reason"):
                if terminated.get("signal"):
                    reason = f"Init:Signal:{terminated['signal']}"
                else:
                    reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = "Init:" + str(terminated["reason"])
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += _int(container.get("restartCount"))
            finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""
            last_restart = max(last_restart, finished)
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"
    deleting = bool(pod["metadata"].get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({age(last_restart)} ago)"
    pod_ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        by_type: dict[Any, Obj] = {}
        for c in conditions:
            by_type.setdefault(c.get("type"), c)
        true = sum((by_type.get(g.get("conditionType")) or {}).get("status") == "True" for g in gates)
        gates_text = f"{true}/{len(gates)}"
    cells = [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(pod),
        (pod_ips[0].get("ip") if pod_ips else "") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]
    row_conditions: list[Obj] = []
    if phase == "Succeeded":
        row_conditions = [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    elif phase == "Failed":
        row_conditions = [
            {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
        ]
    return cells, row_conditions


def _pvc_row(pvc: Obj) -> list[Any]:
    spec, status = _spec(pvc), _status(pvc)
    phase = "Terminating" if pvc["metadata"].get("deletionTimestamp") else status.get("phase", "")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = _access_modes(status.get("accessModes"))
        capacity = _quantity((status.get("capacity") or {}).get("storage"))
    return [
        _name(pvc),
        phase,
        spec.get("volumeName", ""),
        capacity,
        modes,
        _storage_class(pvc),
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(pvc),
        spec.get("volumeMode") or "<unset>",
    ]


def _storage_class(obj: Obj) -> str:
    """GetPersistentVolume(Claim)Class: the field, else the beta annotation."""
    annotations = obj["metadata"].get("annotations") or {}
    beta = annotations.get("volume.beta.kubernetes.io/storage-class")
    if beta is not None:
        return str(beta)
    return str(_spec(obj).get("storageClassName") or "")


def _pv_row(pv: Obj) -> list[Any]:
    spec, status = _spec(pv), _status(pv)
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref is not None else ""
    phase = "Terminating" if pv["metadata"].get("deletionTimestamp") else status.get("phase", "")
    return [
        _name(pv),
        _quantity((spec.get("capacity") or {}).get("storage")),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        claim,
        _storage_class(pv),
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        _age(pv),
        spec.get("volumeMode") or "<unset>",
    ]


def _svc_row(svc: Obj) -> list[Any]:
    spec = _spec(svc)
    svc_type = spec.get("type", "")
    external_ips = spec.get("externalIPs") or []
    if svc_type in ("ClusterIP", "NodePort"):
        external = ",".join(external_ips) or "<none>"
    elif svc_type == "LoadBalancer":
        ingress = (_status(svc).get("loadBalancer") or {}).get("ingress") or []
        found = sorted(
            {i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")}
        )
        external = ",".join([*found, *external_ips]) if external_ips else ",".join(found) or "<pending>"
    elif svc_type == "ExternalName":
        external = spec.get("externalName", "")
    else:
        external = "<unknown>"
    ports = []
    for p in spec.get("ports") or []:
        node_port = _int(p.get("nodePort"))
        protocol = p.get("protocol", "")
        ports.append(
            f"{p.get('port')}:{node_port}/{protocol}" if node_port > 0 else f"{p.get('port')}/{protocol}"
        )
    cluster_ips = spec.get("clusterIPs") or []
    return [
        _name(svc),
        svc_type,
        cluster_ips[0] if cluster_ips else "<none>",
        external,
        ",".join(ports) or "<none>",
        _age(svc),
        _labels(spec.get("selector")),
    ]


def _event_row(ev: Obj) -> list[Any]:
    """printEvent (core/v1 and events.k8s.io/v1 Events are one object upstream; the latter's fields
    are read under their other names)."""
    first = ev.get("firstTimestamp") or ev.get("deprecatedFirstTimestamp")
    first_seen = age(first) if first else age(ev.get("eventTime"))
    last = ev.get("lastTimestamp") or ev.get("deprecatedLastTimestamp")
    last_seen = age(last) if last else first_seen
    count = _int(ev.get("count") if "count" in ev else ev.get("deprecatedCount"))
    series = ev.get("series")
    if series is not None:
        last_seen = age(series.get("lastObservedTime"))
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    kind = str(inv.get("kind", "")).lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    source = ev.get("source") or ev.get("deprecatedSource") or {}
    component = source.get("component") or ev.get("reportingComponent") or ev.get("reportingController") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    return [
        last_seen,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        inv.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        str(ev.get("message") if "message" in ev else ev.get("note", "")).strip(),
        first_seen,
        count,
        _name(ev),
    ]


def _quota_row(q: Obj) -> list[Any]:
    """printResourceQuota: ``name: used/hard`` per resource of status.hard, sorted; ``limits.*`` in the
    Limit column, everything else in the Request column."""
    status = _status(q)
    hard, used = status.get("hard") or {}, status.get("used") or {}
    request: list[str] = []
    limit: list[str] = []
    for name in sorted(hard):
        pieces = name.split(".")
        column = limit if len(pieces) > 1 and pieces[0] == "limits" else request
        column.append(f"{name}: {_quantity(used.get(name))}/{_quantity(hard[name])}")
    return [_name(q), ", ".join(request), ", ".join(limit), _age(q)]


def _node_row(node: Obj) -> list[Any]:
    status = _status(node)
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    states = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if _spec(node).get("unschedulable"):
        states.append("SchedulingDisabled")
    labels = node["metadata"].get("labels") or {}
    roles = {
        k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]
    }
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return next((a.get("address", "") for a in addresses if a.get("type") == kind), "<none>")

    return [
        _name(node),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _age(node),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _binding_row(b: Obj) -> list[Any]:
    ref = b.get("roleRef") or {}
    users, groups, sas = [], [], []
    for s in b.get("subjects") or []:
        if s.get("kind") == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif s.get("kind") == "User":
            users.append(s.get("name", ""))
        elif s.get("kind") == "Group":
            groups.append(s.get("name", ""))
    return [
        _name(b),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(b),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]


def _job_row(job: Obj) -> list[Any]:
    spec, status = _spec(job), _status(job)
    conditions = status.get("conditions") or []

    def has(kind: str) -> bool:
        found = next((c for c in conditions if c.get("type") == kind), None)
        return found is not None and found.get("status") == "True"

    if spec.get("completions") is not None:
        completions = f"{_int(status.get('succeeded'))}/{spec['completions']}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{_int(status.get('succeeded'))}/1 of {spec['parallelism']}"
    else:
        completions = f"{_int(status.get('succeeded'))}/1"
    took = ""
    if status.get("startTime"):
        if status.get("completionTime"):
            seconds = (parse_time(status["completionTime"]) - parse_time(status["startTime"])).total_seconds()
            took = human_duration(seconds)
        else:
            took = age(status["startTime"])
    if has("Complete"):
        state = "Complete"
    elif has("Failed"):
        state = "Failed"
    elif job["metadata"].get("deletionTimestamp"):
        state = "Terminating"
    elif has("Suspended"):
        state = "Suspended"
    elif has("FailureTarget"):
        state = "FailureTarget"
    elif has("SuccessCriteriaMet"):
        state = "SuccessCriteriaMet"
    else:
        state = "Running"
    return [
        _name(job),
        state,
        completions,
        took,
        _age(job),
        *_containers(_template_spec(job)),
        _selector(spec.get("selector")),
    ]


def _cronjob_row(cj: Obj) -> list[Any]:
    spec, status = _spec(cj), _status(cj)
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    suspend = spec.get("suspend")
    last = status.get("lastScheduleTime")
    return [
        _name(cj),
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>" if spec.get("timeZone") is not None else "<none>",
        "<unset>" if suspend is None else ("True" if suspend else "False"),
        len(status.get("active") or []),
        age(last) if last else "<none>",
        _age(cj),
        *_containers((job_spec.get("template") or {}).get("spec") or {}),
        _selector(job_spec.get("selector")),
    ]


def _deploy_row(d: Obj) -> list[Any]:
    spec, status = _spec(d), _status(d)
    from kubesim.selectors import label_selector_from_object

    try:
        selector = str(label_selector_from_object(spec.get("selector")))
    except errors.ApiError:  # upstream prints an invalid selector as <invalid>
        selector = "<invalid>"
    return [
        _name(d),
        f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        _age(d),
        *_containers(_template_spec(d)),
        selector,
    ]


def _limited(items: list[str], count: int, empty: str) -> str:
    """Up to three items, then ``+ N more...``."""
    text = ",".join(items[:3])
    if count > 3:
        return f"{text} + {count - 3} more..."
    return text or empty


def _endpoints_row(ep: Obj) -> list[Any]:
    subsets = ep.get("subsets") or []
    if not subsets:
        return [_name(ep), "<none>", _age(ep)]
    items: list[str] = []
    count = 0
    for ss in subsets:
        addresses = [a.get("ip", "") for a in ss.get("addresses") or []]
        ports = ss.get("ports") or []
        if not ports:
            count += len(addresses)
            items.extend(addresses)
            continue
        for port in ports:
            count += len(addresses)
            items.extend(
                f"[{ip}]:{port.get('port')}" if ":" in ip else f"{ip}:{port.get('port')}" for ip in addresses
            )
    text = ",".join(items[:3])
    if count > 3:
        text = f"{text} + {count - 3} more..."
    return [_name(ep), text, _age(ep)]


def _endpoint_slice_row(eps: Obj) -> list[Any]:
    ports = []
    for p in eps.get("ports") or []:
        ports.append(
            str(p["port"])
            if p.get("port") is not None
            else (p.get("name") if p.get("name") is not None else "*")
        )
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        _name(eps),
        eps.get("addressType", ""),
        _limited(ports, len(ports), "<unset>"),
        _limited(addresses, len(addresses), "<unset>"),
        _age(eps),
    ]


def _ingress_row(ing: Obj) -> list[Any]:
    spec = _spec(ing)
    rules = spec.get("rules") or []
    hosts: list[str] = []
    more = False
    for rule in rules:  # formatHosts: three hosts, then how many rules are left unread
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    hosts_text = ",".join(hosts) or "*"
    if hosts and more:
        hosts_text = f"{hosts_text} + {len(rules) - 3} more..."
    ingress = (_status(ing).get("loadBalancer") or {}).get("ingress") or []
    address = ",".join(
        sorted({i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")})
    )
    return [
        _name(ing),
        spec.get("ingressClassName") or "<none>",
        hosts_text,
        address,
        "80, 443" if spec.get("tls") else "80",
        _age(ing),
    ]


def _pdb_row(pdb: Obj) -> list[Any]:
    spec = _spec(pdb)
    return [
        _name(pdb),
        str(spec["minAvailable"]) if spec.get("minAvailable") is not None else "N/A",
        str(spec["maxUnavailable"]) if spec.get("maxUnavailable") is not None else "N/A",
        _int(_status(pdb).get("disruptionsAllowed")),
        _age(pdb),
    ]


def _storage_class_row(sc: Obj) -> list[Any]:
    annotations = sc["metadata"].get("annotations") or {}
    default = any(
        annotations.get(key) == "true"
        for key in (
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        )
    )
    return [
        _name(sc) + (" (default)" if default else ""),
        sc.get("provisioner", ""),
        sc.get("reclaimPolicy") or "Delete",
        sc.get("volumeBindingMode") or "Immediate",
        bool(sc.get("allowVolumeExpansion")),
        _age(sc),
    ]


def _controller_revision_row(cr: Obj) -> list[Any]:
    owner = next((r for r in cr["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    controller = "<none>"
    if owner is not None:
        group = (
            str(owner.get("apiVersion", "")).rpartition("/")[0]
            if "/" in str(owner.get("apiVersion", ""))
            else ""
        )
        kind = str(owner.get("kind", ""))
        qualified = f"{kind}.{group}" if group else kind
        controller = (
            f"{qualified.lower()}/{owner.get('name', '')}" if kind or group else owner.get("name", "")
        )
    return [_name(cr), controller, _int(cr.get("revision")), _age(cr)]


def _replicas_row(o: Obj) -> list[Any]:
    spec, status = _spec(o), _status(o)
    return [
        _name(o),
        _int(spec.get("replicas")),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        _age(o),
        *_containers(_template_spec(o)),
        _selector(spec.get("selector")),
    ]


def _daemonset_row(ds: Obj) -> list[Any]:
    spec, status = _spec(ds), _status(ds)
    return [
        _name(ds),
        _int(status.get("desiredNumberScheduled")),
        _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")),
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
        _labels(_template_spec(ds).get("nodeSelector")),
        _age(ds),
        *_containers(_template_spec(ds)),
        _selector(spec.get("selector")),
    ]


def _statefulset_row(sts: Obj) -> list[Any]:
    spec, status = _spec(sts), _status(sts)
    return [
        _name(sts),
        f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}",
        _age(sts),
        *_containers(_template_spec(sts)),
    ]


def _priority_class_row(pc: Obj) -> list[Any]:
    return [
        _name(pc),
        _int(pc.get("value")),
        bool(pc.get("globalDefault")),
        _age(pc),
        pc.get("preemptionPolicy") or "",
    ]


def _pod_template_row(pt: Obj) -> list[Any]:
    template = pt.get("template") or {}
    return [
        _name(pt),
        *_containers(template.get("spec") or {}),
        _labels((template.get("metadata") or {}).get("labels")),
    ]


# The printers of pkg/printers/internalversion, with their wide (priority 1) columns: the API server always
# sends those, kubectl shows them with -o wide. The columns are upstream's (data/table_columns.json).
_ROWS: dict[tuple[str, str], Callable[[Obj], Any]] = {
    ("", "pods"): _pod_row,
    ("", "podtemplates"): _pod_template_row,
    ("", "configmaps"): lambda o: [
        _name(o),
        len(o.get("data") or {}) + len(o.get("binaryData") or {}),
        _age(o),
    ],
    ("", "secrets"): lambda o: [_name(o), o.get("type", ""), len(o.get("data") or {}), _age(o)],
    ("", "serviceaccounts"): lambda o: [_name(o), len(o.get("secrets") or []), _age(o)],
    ("", "namespaces"): lambda o: [_name(o), _status(o).get("phase", ""), _age(o)],
    ("", "nodes"): _node_row,
    ("", "persistentvolumes"): _pv_row,
    ("", "persistentvolumeclaims"): _pvc_row,
    ("", "services"): _svc_row,
    ("", "endpoints"): _endpoints_row,
    ("", "events"): _event_row,
    ("events.k8s.io", "events"): _event_row,
    ("", "resourcequotas"): _quota_row,
    ("apps", "deployments"): _deploy_row,
    ("apps", "statefulsets"): _statefulset_row,
    ("apps", "replicasets"): _replicas_row,
    ("apps", "daemonsets"): _daemonset_row,
    ("apps", "controllerrevisions"): _controller_revision_row,
    ("batch", "jobs"): _job_row,
    ("batch", "cronjobs"): _cronjob_row,
    ("rbac.authorization.k8s.io", "rolebindings"): _binding_row,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _binding_row,
    ("coordination.k8s.io", "leases"): lambda o: [_name(o), _spec(o).get("holderIdentity") or "", _age(o)],
    ("storage.k8s.io", "storageclasses"): _storage_class_row,
    ("scheduling.k8s.io", "priorityclasses"): _priority_class_row,
    ("networking.k8s.io", "ingresses"): _ingress_row,
    ("networking.k8s.io", "networkpolicies"): lambda o: [
        _name(o),
        _selector(_spec(o).get("podSelector") or {}),
        _age(o),
    ],
    ("policy", "poddisruptionbudgets"): _pdb_row,
    ("discovery.k8s.io", "endpointslices"): _endpoint_slice_row,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): lambda o: [
        _name(o),
        len(o.get("webhooks") or []),
        _age(o),
    ],
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): lambda o: [
        _name(o),
        len(o.get("webhooks") or []),
        _age(o),
    ],
}


@functools.cache
def _builtin_columns() -> dict[str, list[Obj]]:
    """The column definitions kube-apiserver serves for each built-in resource (names, types, priorities,
    and descriptions from the API's field docs), captured from upstream by tools/capture_table_columns.py."""
    loaded: dict[str, list[Obj]] = json.loads(
        (Path(__file__).parent / "data" / "table_columns.json").read_text()
    )
    return loaded


def builtin_columns(rt: ResourceType) -> list[Obj]:
    """A built-in resource's columns; upstream's default (Name, Created At) for kinds without a printer."""
    return _builtin_columns().get(f"{rt.group}/{rt.plural}") or [NAME_COL, CREATED_AT_COL]


def _custom_columns(rt: ResourceType) -> list[Obj]:
    """A CRD's additionalPrinterColumns, or upstream's default when it has none: an Age column (a date,
    from ``.metadata.creationTimestamp``)."""
    return list(rt.printer_columns) or [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": CREATION_DESCRIPTION,
        }
    ]


def table(
    rt: ResourceType,
    objects: list[Obj],
    resource_version: str,
    include_object: str = "Metadata",
    continue_token: str = "",
    remaining: int | None = None,
) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects``; ``include_object`` is the ``includeObject`` parameter
    (``Metadata``, ``Object`` or ``None``)."""
    if include_object not in ("", "Metadata", "Object", "None"):
        raise errors.bad_request(
            f'Unable to convert to Table as requested: includeObject: Invalid value: "{include_object}": '
            "must be 'Metadata', 'Object', 'None', or empty"
        )
    columns: list[Obj]
    row_of: Callable[[Obj], Any]
    if rt.is_custom:
        printer = _custom_columns(rt)
        columns = [NAME_COL] + [
            _col(
                c["name"],
                c.get("type", "string"),
                c.get("format", ""),
                int(c.get("priority", 0)),
                c.get("description")
                or f"Custom resource definition column (in JSONPath format): {c.get('jsonPath', '')}",
            )
            for c in printer
        ]

        def custom_row(o: Obj) -> list[Any]:
            return [_name(o)] + [_cell(jsonpath(o, c["jsonPath"]), c.get("type", "string")) for c in printer]

        row_of = custom_row
    elif rt.key in _ROWS:
        columns, row_of = builtin_columns(rt), _ROWS[rt.key]
    else:
        # Kinds without a printer (roles, limit ranges, CRDs...): upstream's default table convertor.
        columns = [NAME_COL, CREATED_AT_COL]

        def generic_row(o: Obj) -> list[Any]:
            return [_name(o), o["metadata"].get("creationTimestamp")]

        row_of = generic_row

    rows = []
    for o in objects:
        produced = row_of(o)
        cells, conditions = produced if isinstance(produced, tuple) else (produced, [])
        row: Obj = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = o
        elif include_object == "None":
            row["object"] = None
        else:
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
