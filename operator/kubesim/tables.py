"""``meta.k8s.io/v1`` Table responses, which ``kubectl get`` prints: the columns kubectl users know for
the common built-in kinds, and a CRD's ``additionalPrinterColumns`` for custom resources.

JSONPath here is the subset printer columns use (``.a.b``, escaped dots, ``[n]``, ``[*]``, ``.*``, and
filters such as ``[?(@.type=="Ready")]``); no maintained Python library evaluates Kubernetes' JSONPath
dialect with its escaping, hence this one.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubesim.objectmeta import age, human_duration, parse_time
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


_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def _name(o: Obj) -> str:
    return str(o["metadata"]["name"])


def _age(o: Obj) -> str:
    return age(o["metadata"].get("creationTimestamp"))


def _d(obj: Any, *path: str) -> Any:
    """obj[path...] or None (missing, or not a dict on the way)."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _access_modes(modes: Any) -> str:
    """``helper.GetAccessModesAsString``: each mode once, in a fixed order."""
    present = set(modes or ())
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def _quantity(raw: Any) -> str:
    from kubesim.quota import Quantity

    if raw is None:
        return "0"
    try:
        return str(Quantity.parse(raw))
    except (ValueError, TypeError, ArithmeticError):
        return str(raw)


def format_labels(labels: Any) -> str:
    """``labels.FormatLabels``: ``k=v`` sorted by key, ``<none>`` when empty."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def selector_string(selector: Any) -> str:
    """``metav1.LabelSelectorAsSelector(s).String()``: requirements sorted by key (``k=v``, ``k in (a,b)``,
    ``k notin (a,b)``, ``k``, ``!k``); empty for a missing or empty selector."""
    if not isinstance(selector, dict):
        return ""
    reqs: list[tuple[str, str]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        reqs.append((str(k), f"{k}={v}"))
    for expr in selector.get("matchExpressions") or ():
        if not isinstance(expr, dict):
            continue
        key, op, values = str(expr.get("key", "")), expr.get("operator"), sorted(expr.get("values") or ())
        if op == "In":
            reqs.append((key, f"{key} in ({','.join(values)})"))
        elif op == "NotIn":
            reqs.append((key, f"{key} notin ({','.join(values)})"))
        elif op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, f"!{key}"))
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs)


def format_label_selector(selector: Any) -> str:
    """``metav1.FormatLabelSelector``: the selector's string, ``<none>`` when it selects on nothing."""
    return selector_string(selector) or "<none>"


def _containers_and_images(spec: Any) -> list[str]:
    """``layoutContainerCells``: container names and images, each joined by commas."""
    containers = [c for c in (_d(spec, "containers") or ()) if isinstance(c, dict)]
    return [
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    ]


def _seconds_since(timestamp: str) -> float:
    return (dt.datetime.now(dt.UTC) - parse_time(timestamp)).total_seconds()


# ------------------------------------------------------------ rows: printers.go, GenerateOptions{Wide: true}


def _pod_row(pod: Obj) -> list[Any]:
    """``printPod``."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restarts = 0
    restartable_restarts = 0
    total = len(spec.get("containers") or ())
    ready = 0
    last_restart: str | None = None
    last_restartable_restart: str | None = None
    reason = status.get("reason") or status.get("phase", "")
    for cond in status.get("conditions") or ():
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or () if isinstance(c, dict)}
    restartable = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total += len(restartable)

    def later(current: str | None, candidate: Any) -> str | None:
        if isinstance(candidate, str) and candidate and (current is None or candidate > current):
            return candidate
        return current

    initializing = False
    init_statuses = status.get("initContainerStatuses") or ()
    for i, c in enumerate(init_statuses):
        restarts += int(c.get("restartCount", 0))
        finished = _d(c, "lastState", "terminated", "finishedAt")
        last_restart = later(last_restart, finished)
        if c.get("name") in restartable:
            restartable_restarts += int(c.get("restartCount", 0))
            last_restartable_restart = later(last_restartable_restart, finished)
            if c.get("started") and c.get("ready"):
                ready += 1
            continue
        state = c.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if terminated is not None:
            if not terminated.get("reason"):
                if terminated.get("signal"):
                    reason = f"Init:Signal:{terminated['signal']}"
                else:
                    reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
            else:
                reason = f"Init:{terminated['reason']}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or ())}"
        initializing = True
        break
    initialized = any(
        cond.get("type") == "Initialized" and cond.get("status") == "True"
        for cond in status.get("conditions") or ()
    )
    if not initializing or initialized:
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        running = False
        for c in reversed(status.get("containerStatuses") or ()):
            restarts += int(c.get("restartCount", 0))
            last_restart = later(last_restart, _d(c, "lastState", "terminated", "finishedAt"))
            state = c.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                reason = (
                    f"Signal:{terminated['signal']}"
                    if terminated.get("signal")
                    else f"ExitCode:{terminated.get('exitCode', 0)}"
                )
            elif c.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            ready_condition = any(
                cond.get("type") == "Ready" and cond.get("status") == "True"
                for cond in status.get("conditions") or ()
            )
            reason = "Running" if ready_condition else "NotReady"
    if pod["metadata"].get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({age(last_restart)} ago)"
    ips = status.get("podIPs") or ()
    pod_ip = (ips[0].get("ip") if ips and isinstance(ips[0], dict) else "") or "<none>"
    gates = spec.get("readinessGates") or ()
    readiness = "<none>"
    if gates:
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or ()}
        true = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        readiness = f"{true}/{len(gates)}"
    return [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(pod),
        pod_ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        readiness,
    ]


def _pvc_row(pvc: Obj) -> list[Any]:
    """``printPersistentVolumeClaim``."""
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    phase = "Terminating" if pvc["metadata"].get("deletionTimestamp") else status.get("phase", "")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = _access_modes(status.get("accessModes"))
        capacity = _quantity(_d(status, "capacity", "storage"))
    annotations = pvc["metadata"].get("annotations") or {}
    storage_class = (
        annotations.get("volume.beta.kubernetes.io/storage-class") or spec.get("storageClassName") or ""
    )
    return [
        _name(pvc),
        phase,
        spec.get("volumeName", ""),
        capacity,
        modes,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(pvc),
        spec.get("volumeMode") or "<unset>",
    ]


def _pv_row(pv: Obj) -> list[Any]:
    """``printPersistentVolume``."""
    spec, status = pv.get("spec") or {}, pv.get("status") or {}
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if isinstance(ref, dict) else ""
    annotations = pv["metadata"].get("annotations") or {}
    storage_class = (
        annotations.get("volume.beta.kubernetes.io/storage-class") or spec.get("storageClassName") or ""
    )
    return [
        _name(pv),
        _quantity(_d(spec, "capacity", "storage")),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        "Terminating" if pv["metadata"].get("deletionTimestamp") else status.get("phase", ""),
        claim,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        _age(pv),
        spec.get("volumeMode") or "<unset>",
    ]


def _load_balancer(status: Any) -> str:
    """``loadBalancerStatusStringer`` (wide): the ingress points' IPs or hostnames."""
    out = []
    for ingress in _d(status, "loadBalancer", "ingress") or ():
        if isinstance(ingress, dict):
            if ingress.get("ip"):
                out.append(str(ingress["ip"]))
            elif ingress.get("hostname"):
                out.append(str(ingress["hostname"]))
    return ",".join(out)


def _svc_row(svc: Obj) -> list[Any]:
    """``printService``."""
    spec = svc.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    ips = spec.get("clusterIPs") or ()
    external_ips = [str(ip) for ip in spec.get("externalIPs") or ()]
    if kind in ("ClusterIP", "NodePort"):
        external = ",".join(external_ips) or "<none>"
    elif kind == "LoadBalancer":
        lb = _load_balancer(svc.get("status"))
        external = ",".join([*(lb.split(",") if lb else []), *external_ips]) or "<pending>"
    elif kind == "ExternalName":
        external = spec.get("externalName", "")
    else:
        external = "<unknown>"
    ports = []
    for p in spec.get("ports") or ():
        if isinstance(p, dict):
            node = f":{p['nodePort']}" if p.get("nodePort") else ""
            ports.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return [
        _name(svc),
        kind,
        ips[0] if ips else "<none>",
        external,
        ",".join(ports) or "<none>",
        _age(svc),
        format_labels(spec.get("selector")),
    ]


def _endpoints_row(ep: Obj) -> list[Any]:
    """``printEndpoints`` (``formatEndpoints``: three addresses, then ``+ N more...``)."""
    subsets = ep.get("subsets") or ()
    if not subsets:
        return [_name(ep), "<none>", _age(ep)]
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [a for a in subset.get("addresses") or () if isinstance(a, dict)]
        ports = subset.get("ports") or ()
        if not ports:
            count += len(addresses)
            shown.extend(str(a.get("ip")) for a in addresses[: max(0, 3 - len(shown))])
            continue
        for port in ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == 3:
                    break
                ip = str(a.get("ip"))
                host = f"[{ip}]" if ":" in ip else ip
                shown.append(f"{host}:{port.get('port')}")
    text = ",".join(shown)
    return [_name(ep), f"{text} + {count - 3} more..." if count > 3 else text, _age(ep)]


def _event_fields(ev: Obj) -> Obj:
    """An events.k8s.io/v1 Event as the core Event fields the printer reads (upstream stores one object)."""
    if "involvedObject" in ev or ("regarding" not in ev and "note" not in ev):
        return ev
    return {
        "metadata": ev["metadata"],
        "involvedObject": ev.get("regarding") or {},
        "reason": ev.get("reason", ""),
        "message": ev.get("note", ""),
        "type": ev.get("type", ""),
        "firstTimestamp": ev.get("deprecatedFirstTimestamp"),
        "lastTimestamp": ev.get("deprecatedLastTimestamp"),
        "count": ev.get("deprecatedCount", 0),
        "eventTime": ev.get("eventTime"),
        "series": (
            {"lastObservedTime": ev["series"].get("lastObservedTime"), "count": ev["series"].get("count", 0)}
            if isinstance(ev.get("series"), dict)
            else None
        ),
        "source": ev.get("deprecatedSource") or {},
        "reportingComponent": ev.get("reportingController", ""),
        "reportingInstance": ev.get("reportingInstance", ""),
    }


def _event_row(event: Obj) -> list[Any]:
    """``printEvent``."""
    ev = _event_fields(event)
    first = age(ev.get("firstTimestamp")) if ev.get("firstTimestamp") else age(ev.get("eventTime"))
    last = age(ev.get("lastTimestamp")) if ev.get("lastTimestamp") else first
    count = int(ev.get("count") or 0)
    series = ev.get("series")
    if isinstance(series, dict):
        last = age(series.get("lastObservedTime"))
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1
    inv = ev.get("involvedObject") or {}
    kind = str(inv.get("kind", "")).lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    return [
        last,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        inv.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        str(ev.get("message") or "").strip(),
        first,
        count,
        _name(event),
    ]


def _node_row(node: Obj) -> list[Any]:
    """``printNode``."""
    status = node.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    states = ["Unknown"] if ready is None else ["Ready" if ready == "True" else "NotReady"]
    if _d(node, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    labels = node["metadata"].get("labels") or {}
    roles = {
        k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]
    }
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        return next(
            (a.get("address") for a in status.get("addresses") or () if a.get("type") == kind), "<none>"
        )

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
    """``printRoleBinding`` / ``printClusterRoleBinding`` (``rbac.SubjectsStrings``)."""
    ref = b.get("roleRef") or {}
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in b.get("subjects") or ():
        kind = subject.get("kind")
        if kind == "User":
            users.append(str(subject.get("name", "")))
        elif kind == "Group":
            groups.append(str(subject.get("name", "")))
        elif kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
    return [
        _name(b),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(b),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _job_row(job: Obj) -> list[Any]:
    """``printJob``."""
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    else:
        parallelism = int(spec.get("parallelism") or 0)
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    started, finished = status.get("startTime"), status.get("completionTime")
    duration = ""
    if started and not finished:
        duration = human_duration(_seconds_since(started))
    elif started and finished:
        duration = human_duration((parse_time(finished) - parse_time(started)).total_seconds())
    conditions = {c.get("type") for c in status.get("conditions") or () if c.get("status") == "True"}
    if "Complete" in conditions:
        state = "Complete"
    elif "Failed" in conditions:
        state = "Failed"
    elif job["metadata"].get("deletionTimestamp"):
        state = "Terminating"
    elif "Suspended" in conditions:
        state = "Suspended"
    elif "FailureTarget" in conditions:
        state = "FailureTarget"
    elif "SuccessCriteriaMet" in conditions:
        state = "SuccessCriteriaMet"
    else:
        state = "Running"
    template = _d(spec, "template", "spec")
    return [
        _name(job),
        state,
        completions,
        duration,
        _age(job),
        *_containers_and_images(template),
        format_label_selector(spec.get("selector")),
    ]


def _cronjob_row(cj: Obj) -> list[Any]:
    """``printCronJob``."""
    spec, status = cj.get("spec") or {}, cj.get("status") or {}
    last = status.get("lastScheduleTime")
    suspend = spec.get("suspend")
    job_spec = _d(spec, "jobTemplate", "spec")
    return [
        _name(cj),
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        "<unset>" if suspend is None else ("True" if suspend else "False"),
        len(status.get("active") or ()),
        age(last) if last else "<none>",
        _age(cj),
        *_containers_and_images(_d(job_spec, "template", "spec")),
        format_label_selector(_d(job_spec, "selector")),
    ]


def _deploy_row(d: Obj) -> list[Any]:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    return [
        _name(d),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(d),
        *_containers_and_images(_d(spec, "template", "spec")),
        selector_string(spec.get("selector")),
    ]


def _replicaset_row(rs: Obj) -> list[Any]:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    return [
        _name(rs),
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(rs),
        *_containers_and_images(_d(spec, "template", "spec")),
        selector_string(spec.get("selector")),
    ]


def _statefulset_row(ss: Obj) -> list[Any]:
    spec, status = ss.get("spec") or {}, ss.get("status") or {}
    return [
        _name(ss),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        _age(ss),
        *_containers_and_images(_d(spec, "template", "spec")),
    ]


def _daemonset_row(ds: Obj) -> list[Any]:
    spec, status = ds.get("spec") or {}, ds.get("status") or {}
    template = _d(spec, "template", "spec")
    return [
        _name(ds),
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        format_labels(_d(template, "nodeSelector")),
        _age(ds),
        *_containers_and_images(template),
        selector_string(spec.get("selector")),
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
        column.append(f"{name}: {_quantity(used.get(name))}/{_quantity(hard[name])}")
    return [_name(q), ", ".join(request), ", ".join(limit), _age(q)]


def _storage_class_row(sc: Obj) -> list[Any]:
    annotations = sc["metadata"].get("annotations") or {}
    default = "true" in (
        annotations.get("storageclass.kubernetes.io/is-default-class"),
        annotations.get("storageclass.beta.kubernetes.io/is-default-class"),
    )
    return [
        _name(sc) + (" (default)" if default else ""),
        sc.get("provisioner", ""),
        sc.get("reclaimPolicy") or "Delete",
        sc.get("volumeBindingMode") or "Immediate",
        bool(sc.get("allowVolumeExpansion")),
        _age(sc),
    ]


def _ingress_row(ing: Obj) -> list[Any]:
    spec = ing.get("spec") or {}
    rules = [r for r in spec.get("rules") or () if isinstance(r, dict)]
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 4:
            more = True
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    host_text = ",".join(hosts) if hosts else "*"
    if hosts and more:
        host_text = f"{host_text} + {len(rules) - 4} more..."
    return [
        _name(ing),
        spec.get("ingressClassName") or "<none>",
        host_text,
        _load_balancer(ing.get("status")),
        "80, 443" if spec.get("tls") else "80",
        _age(ing),
    ]


def _pdb_row(pdb: Obj) -> list[Any]:
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [
        _name(pdb),
        "N/A" if min_available is None else str(min_available),
        "N/A" if max_unavailable is None else str(max_unavailable),
        int(status.get("disruptionsAllowed") or 0),
        _age(pdb),
    ]


def _more(items: list[str], count: int) -> str:
    """``listWithMoreString``: three items, then ``+ N more...``; ``<unset>`` when empty."""
    text = ",".join(items[:3])
    if count > 3:
        return f"{text} + {count - 3} more..."
    return text or "<unset>"


def _endpoint_slice_row(es: Obj) -> list[Any]:
    ports = []
    for p in es.get("ports") or ():
        ports.append(str(p["port"]) if p.get("port") is not None else str(p.get("name") or "*"))
    addresses = [str(a) for e in es.get("endpoints") or () for a in e.get("addresses") or ()]
    return [
        _name(es),
        es.get("addressType", ""),
        _more(ports, len(ports)),
        _more(addresses, len(addresses)),
        _age(es),
    ]


def _revision_row(rev: Obj) -> list[Any]:
    controller = next((r for r in rev["metadata"].get("ownerReferences") or () if r.get("controller")), None)
    name = "<none>"
    if controller is not None:
        group = str(controller.get("apiVersion", "")).rpartition("/")[0]
        kind = str(controller.get("kind", ""))
        name = f"{(kind + '.' + group) if group else kind}".lower() + f"/{controller.get('name', '')}"
    return [_name(rev), name, rev.get("revision", 0), _age(rev)]


def _created_at(o: Obj) -> list[Any]:
    return [_name(o), o["metadata"].get("creationTimestamp")]


_ROWS: dict[tuple[str, str], Callable[[Obj], list[Any]]] = {
    ("", "pods"): _pod_row,
    ("", "persistentvolumeclaims"): _pvc_row,
    ("", "persistentvolumes"): _pv_row,
    ("", "services"): _svc_row,
    ("", "endpoints"): _endpoints_row,
    ("", "configmaps"): lambda o: [
        _name(o),
        len(o.get("data") or {}) + len(o.get("binaryData") or {}),
        _age(o),
    ],
    ("", "secrets"): lambda o: [_name(o), o.get("type", ""), len(o.get("data") or {}), _age(o)],
    ("", "serviceaccounts"): lambda o: [_name(o), len(o.get("secrets") or []), _age(o)],
    ("", "events"): _event_row,
    ("events.k8s.io", "events"): _event_row,
    ("", "nodes"): _node_row,
    ("", "namespaces"): lambda o: [_name(o), _d(o, "status", "phase") or "", _age(o)],
    ("", "limitranges"): _created_at,
    ("", "resourcequotas"): _quota_row,
    ("apps", "deployments"): _deploy_row,
    ("apps", "replicasets"): _replicaset_row,
    ("apps", "statefulsets"): _statefulset_row,
    ("apps", "daemonsets"): _daemonset_row,
    ("apps", "controllerrevisions"): _revision_row,
    ("rbac.authorization.k8s.io", "roles"): _created_at,
    ("rbac.authorization.k8s.io", "clusterroles"): _created_at,
    ("rbac.authorization.k8s.io", "rolebindings"): _binding_row,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _binding_row,
    ("apiextensions.k8s.io", "customresourcedefinitions"): _created_at,
    ("coordination.k8s.io", "leases"): lambda o: [_name(o), _d(o, "spec", "holderIdentity") or "", _age(o)],
    ("storage.k8s.io", "storageclasses"): _storage_class_row,
    ("networking.k8s.io", "networkpolicies"): lambda o: [
        _name(o),
        format_label_selector(_d(o, "spec", "podSelector")),
        _age(o),
    ],
    ("networking.k8s.io", "ingresses"): _ingress_row,
    ("policy", "poddisruptionbudgets"): _pdb_row,
    ("batch", "jobs"): _job_row,
    ("batch", "cronjobs"): _cronjob_row,
    ("scheduling.k8s.io", "priorityclasses"): lambda o: [
        _name(o),
        int(o.get("value") or 0),
        bool(o.get("globalDefault")),
        _age(o),
        o.get("preemptionPolicy") or "<unset>",
    ],
    ("discovery.k8s.io", "endpointslices"): _endpoint_slice_row,
}


@functools.cache
def _columns() -> dict[str, list[Obj]]:
    """Upstream's column definitions (captured by tools/capture_table_columns.py)."""
    data = Path(__file__).parent / "data" / "table_columns.json"
    loaded: dict[str, list[Obj]] = json.loads(data.read_text())
    return loaded


def _metadata_columns() -> tuple[Obj, Obj]:
    """The Name and Age columns every table has, described by ObjectMeta's field documentation."""
    namespaces = _columns()["/namespaces"]
    return namespaces[0], namespaces[-1]


def builtin_columns(rt: ResourceType) -> list[Obj] | None:
    return _columns().get(f"{rt.group}/{rt.plural}")


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
        name_col, age_col = _metadata_columns()
        columns = [name_col] + [
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
            columns.append(age_col)

        def custom_row(o: Obj) -> list[Any]:
            if not printer:
                return [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"))]
            return [o["metadata"]["name"]] + [
                _cell(jsonpath(o, c["jsonPath"]), c.get("type", "string")) for c in printer
            ]

        row_of = custom_row
    elif rt.key in _ROWS and builtin_columns(rt) is not None:
        columns, row_of = builtin_columns(rt) or [], _ROWS[rt.key]
    else:
        columns = list(_metadata_columns())

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
