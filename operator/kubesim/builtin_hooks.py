"""What the real API server's registry strategies and admission plugins do to built-in kinds on write:
defaults (pods, services, PVCs, namespaces), server-set status, ClusterIP allocation, CRD conditions.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from kubesim import errors
from kubesim.api import API, WriteOptions
from kubesim.objectmeta import now
from kubesim.resources import ResourceType

Obj = dict[str, Any]


def _image_pull_policy(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    if "@" in tail:
        return "IfNotPresent"
    if ":" not in tail or tail.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _default_container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    if isinstance(c.get("image"), str):
        c.setdefault("imagePullPolicy", _image_pull_policy(c["image"]))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or ():
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for env in c.get("env") or ():
        if isinstance(env, dict) and isinstance(env.get("valueFrom"), dict):
            ref = env["valueFrom"].get("fieldRef")
            if isinstance(ref, dict):
                ref.setdefault("apiVersion", "v1")
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = c.get(kind)
        if isinstance(probe, dict):  # SetDefaults_Probe
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)
            _default_http_get(probe)
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in (lifecycle.get("postStart"), lifecycle.get("preStop")):
            if isinstance(hook, dict):
                _default_http_get(hook)


def _default_http_get(handler: Obj) -> None:
    """SetDefaults_HTTPGetAction."""
    action = handler.get("httpGet")
    if isinstance(action, dict):
        action.setdefault("path", "/")
        action.setdefault("scheme", "HTTP")


def default_pod_spec(spec: Any) -> None:
    """SetDefaults_PodSpec and its containers': what pods and pod templates (of workloads, PodTemplates)
    both get."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            _default_container(c)
    for v in spec.get("volumes") or ():
        if isinstance(v, dict):
            for src in ("configMap", "secret"):
                if isinstance(v.get(src), dict):
                    v[src].setdefault("defaultMode", 420)
            if isinstance(v.get("hostPath"), dict):
                v["hostPath"].setdefault("type", "")


def _requests_from_limits(spec: Any) -> None:
    """``SetDefaults_Pod``: a container (or init container) with a limit and no request for a resource gets
    the limit as its request. Pods only: pod templates are not defaulted this way."""
    if not isinstance(spec, dict):
        return
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            res = c.get("resources") if isinstance(c, dict) else None
            if not isinstance(res, dict) or not isinstance(res.get("limits"), dict) or not res["limits"]:
                continue
            requests = res.get("requests")
            if requests is None:
                requests = res["requests"] = {}
            if isinstance(requests, dict):
                for name, value in res["limits"].items():
                    requests.setdefault(name, value)


def _qos_class(spec: Obj) -> str:
    containers = [c for c in spec.get("containers") or () if isinstance(c, dict)]
    requests_any = limits_all = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            requests_any = True
        if not (lim.get("cpu") and lim.get("memory")) or (
            req and any(req.get(k, lim.get(k)) != lim.get(k) for k in ("cpu", "memory"))
        ):
            guaranteed = False
        limits_all = limits_all or bool(lim)
    if guaranteed:
        return "Guaranteed"
    return "Burstable" if requests_any else "BestEffort"


def _pod_only_defaults(spec: Any) -> None:
    """What the ServiceAccount and Priority admission plugins set on pods (templates get none of it)."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    if spec.get("serviceAccountName") is None:
        spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
    spec.setdefault("serviceAccount", spec["serviceAccountName"])


def pod_create(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    spec = obj.get("spec")
    default_pod_spec(spec)
    if isinstance(spec, dict):
        spec.setdefault("enableServiceLinks", True)  # SetDefaults_Pod
    _service_account_admission(api, obj)
    _requests_from_limits(spec)


def pod_admit(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """After the field manager, as upstream's admission plugins and strategy: the ServiceAccount and
    Priority plugins' fields (no manager owns them) and the initial status."""
    spec = obj.get("spec")
    _pod_only_defaults(spec)
    obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec if isinstance(spec, dict) else {})}


def _service_account_admission(api: API, pod: Obj) -> None:
    """The ServiceAccount admission plugin: a pod runs as a ServiceAccount that exists (mirror pods
    aside). Upstream admits before the name is generated, so a generateName pod is not named."""
    meta = pod["metadata"]
    if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
        return
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    name = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
    namespace = str(meta.get("namespace", ""))
    if api.store.get(("", "serviceaccounts"), namespace, name) is not None:
        return
    pod_name = "" if meta.get("generateName") else str(meta.get("name", ""))
    target = f'pods "{pod_name}"' if pod_name else "pods"
    raise errors.ApiError(
        403,
        "Forbidden",
        f"{target} is forbidden: error looking up service account {namespace}/{name}: "
        f'serviceaccount "{name}" not found',
        details={"name": pod_name, "kind": "pods"},
    )


_POD_UPDATE_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
    "previously negative)"
)


def _mutable_pod_fields_applied(old_spec: Obj, new_spec: Obj) -> Obj:
    """old_spec with the fields a pod update may change taken from new_spec (upstream's ValidatePodUpdate)."""
    merged = copy.deepcopy(old_spec)
    for key in ("containers", "initContainers"):
        olds, news = merged.get(key) or [], new_spec.get(key) or []
        if len(olds) == len(news):
            for o, n in zip(olds, news, strict=True):
                if isinstance(o, dict) and isinstance(n, dict) and "image" in n:
                    o["image"] = n["image"]
    for key in ("activeDeadlineSeconds", "terminationGracePeriodSeconds", "schedulingGates"):
        if key in new_spec:
            merged[key] = new_spec[key]
        else:
            merged.pop(key, None)
    old_tol = old_spec.get("tolerations") or []
    new_tol = new_spec.get("tolerations") or []
    if all(t in new_tol for t in old_tol):  # only additions
        merged["tolerations"] = new_tol
        if "tolerations" not in new_spec:
            merged.pop("tolerations", None)
    if not old_spec.get("nodeName") and new_spec.get("nodeName"):
        merged["nodeName"] = new_spec["nodeName"]  # kubesim's scheduler binds by update
    # Container resources change through pods/resize only; ephemeral containers through their subresource.
    if "ephemeralContainers" in new_spec:
        merged["ephemeralContainers"] = new_spec["ephemeralContainers"]
    return merged


def pod_update(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    default_pod_spec(obj.get("spec"))
    spec = obj.get("spec")
    if isinstance(spec, dict):  # SetDefaults_Pod runs on every decode; the admission plugins on create only
        spec.setdefault("enableServiceLinks", True)
    _requests_from_limits(obj.get("spec"))
    old_spec, new_spec = (old or {}).get("spec"), obj.get("spec")
    if (
        isinstance(old_spec, dict)
        and isinstance(new_spec, dict)
        and new_spec != old_spec
        and _mutable_pod_fields_applied(old_spec, new_spec) != new_spec
    ):
        raise errors.invalid(
            "Pod",
            obj["metadata"].get("name", ""),
            [{"reason": "FieldValueForbidden", "message": _POD_UPDATE_FORBIDDEN, "field": "spec"}],
        )


def namespace_create(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """SetDefaults_Namespace: the name label, owned by the creator."""
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


def namespace_admit(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """After the field manager, as the namespace strategy's PrepareForCreate: the finalizer, the phase."""
    obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
    obj["status"] = {"phase": "Active"}


def pv_write(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """SetDefaults_PersistentVolume (and its host path's type)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    if isinstance(spec.get("hostPath"), dict):
        spec["hostPath"].setdefault("type", "")


def cronjob_write(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """SetDefaults_CronJob, and the pod defaults of its job template's pod template."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job = spec.get("jobTemplate")
    if isinstance(job, dict):
        _template_spec(job)


def service_create(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    _service_defaults(obj.setdefault("spec", {}))


def _service_defaults(spec: Obj) -> None:
    """SetDefaults_Service: applied as any request is decoded, so the writer owns these fields."""
    stype = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if stype in ("NodePort", "LoadBalancer") and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if stype in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if stype == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if spec.get("sessionAffinity") == "ClientIP":
        config = spec.setdefault("sessionAffinityConfig", {})
        if isinstance(config, dict):
            client_ip = config.setdefault("clientIP", {})
            if isinstance(client_ip, dict):
                client_ip.setdefault("timeoutSeconds", 10800)
    for p in spec.get("ports") or ():
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))


def service_allocate(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """The service registry's allocations, after the field manager: cluster IPs and IP families (not for
    ExternalName services) and node ports (NodePort, and LoadBalancer unless told not to)."""
    spec = obj.setdefault("spec", {})
    stype = spec.get("type")
    if stype != "ExternalName":
        if spec.get("clusterIP") in (None, ""):
            spec["clusterIP"] = api.allocate_service_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if stype == "NodePort" or (stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True)):
        ports = [p for p in spec.get("ports") or () if isinstance(p, dict)]
        taken = {p["nodePort"] for p in ports if isinstance(p.get("nodePort"), int)}
        for p in ports:
            if not p.get("nodePort"):
                p["nodePort"] = api.allocate_node_port(taken)
                taken.add(p["nodePort"])
    obj["status"] = {"loadBalancer": {}}


def service_update(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """Defaults as on create; what the registry allocated (cluster IPs, IP families, node ports) is kept
    when the request leaves it out."""
    spec = obj.setdefault("spec", {})
    old_spec = (old or {}).get("spec", {})
    # clusterIP is immutable once allocated; clients that omit it (kubectl apply) keep it.
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec.setdefault("clusterIPs", old_spec.get("clusterIPs", [old_spec["clusterIP"]]))
    for key in ("type", "ipFamilies", "ipFamilyPolicy"):
        if key not in spec and key in old_spec:
            spec[key] = old_spec[key]
    _service_defaults(spec)
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        allocated = {
            (p.get("port"), p.get("protocol", "TCP")): p["nodePort"]
            for p in old_spec.get("ports") or ()
            if isinstance(p, dict) and p.get("nodePort")
        }
        ports = [p for p in spec.get("ports") or () if isinstance(p, dict)]
        taken = {p["nodePort"] for p in ports if isinstance(p.get("nodePort"), int)}
        for p in ports:
            if not p.get("nodePort"):
                p["nodePort"] = allocated.get((p.get("port"), p.get("protocol"))) or api.allocate_node_port(
                    taken
                )
                taken.add(p["nodePort"])


def pv_create(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """SetDefaults_PersistentVolume."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")


def pvc_create(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")  # SetDefaults_PersistentVolumeClaim


def pvc_admit(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """After the field manager: the DefaultStorageClass admission plugin's class, the initial status."""
    spec = obj.setdefault("spec", {})
    if not spec.get("storageClassName"):
        default = _default_storage_class(api)
        if default:
            spec["storageClassName"] = default
    obj["status"] = {"phase": "Pending"}


def _default_storage_class(api: API) -> str | None:
    for sc in api.store.list(("storage.k8s.io", "storageclasses")):
        if (sc["metadata"].get("annotations") or {}).get(
            "storageclass.kubernetes.io/is-default-class"
        ) == "true":
            return str(sc["metadata"]["name"])
    return None


def crd_write(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    from kubesim.crdschema import validate_crd

    causes = validate_crd(obj)
    if causes:
        raise errors.invalid(rt.kind, obj["metadata"].get("name", ""), causes, rt.group)
    spec = obj["spec"]
    for ver in spec.get("versions") or ():
        ver.setdefault("served", True)
    spec.setdefault("scope", "Namespaced")
    names = spec["names"]
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    stamp = now()
    storage = [v["name"] for v in spec["versions"] if v.get("storage")]
    previous = (old or {}).get("status", {})
    stored_versions = list(previous.get("storedVersions") or [])
    for v in storage:
        if v not in stored_versions:
            stored_versions.append(v)
    obj["status"] = {
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": stamp,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": stamp,
            },
        ],
        "acceptedNames": {k: v for k, v in names.items()},
        "storedVersions": stored_versions,
    }
    if old is not None:
        # Keep transition times stable on no-op updates so they don't count as changes.
        old_conds = {c["type"]: c for c in previous.get("conditions") or ()}
        for cond in obj["status"]["conditions"]:
            prev = old_conds.get(cond["type"])
            if prev and prev.get("status") == cond["status"]:
                cond["lastTransitionTime"] = prev.get("lastTransitionTime", stamp)


def crd_delete(api: API, rt: ResourceType, obj: Obj) -> None:
    """Deleting a CRD deletes its objects (simplified: at once, without waiting on their finalizers)."""
    spec = obj["spec"]
    key = (spec["group"], spec["names"]["plural"])
    for cr in api.store.list(key):
        api.store.remove(key, cr)


def secret_write(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """Decoding a v1 Secret: stringData is write-only, merged into data (its keys win) and never stored."""
    if not obj.get("type"):
        obj["type"] = "Opaque"
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


# A core Event's fields that Go's encoder writes even when unset: struct-typed timestamps (metav1.Time and
# MicroTime encode their zero value as null; omitempty never omits a struct), the source struct, and the
# reporting fields, which have no omitempty. Clients index them (kubespawner reads event["lastTimestamp"]).
_EVENT_ZERO_FIELDS: tuple[tuple[str, Any], ...] = (
    ("firstTimestamp", None),
    ("lastTimestamp", None),
    ("eventTime", None),
    ("source", {}),
    ("reportingComponent", ""),
    ("reportingInstance", ""),
)


def event_write(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """v1 Event: the fields Go always serializes are there, as upstream serves them."""
    for name, zero in _EVENT_ZERO_FIELDS:
        if name not in obj:
            obj[name] = copy.deepcopy(zero)


def _template_spec(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("template"), dict):
        default_pod_spec(spec["template"].get("spec"))


def pod_template_write(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """v1 PodTemplate: its pod spec is defaulted as a pod's."""
    template = obj.get("template")
    if isinstance(template, dict):
        default_pod_spec(template.get("spec"))


def _rolling(strategy: Obj, kind: str) -> None:
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy["type"] = "RollingUpdate"
        rolling = strategy.setdefault("rollingUpdate", {})
        if isinstance(rolling, dict):
            if kind == "Deployment":
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
            elif kind == "DaemonSet":
                rolling.setdefault("maxUnavailable", 1)
                rolling.setdefault("maxSurge", 0)
            else:
                rolling.setdefault("partition", 0)


def workload_write(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """apps/v1 defaulting (SetDefaults_Deployment / _StatefulSet / _DaemonSet / _ReplicaSet)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _template_spec(obj)
    if rt.kind in ("Deployment", "StatefulSet", "ReplicaSet") and spec.get("replicas") is None:
        spec["replicas"] = 1
    if rt.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        spec.setdefault("revisionHistoryLimit", 10)
    if rt.kind == "Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            _rolling(strategy, rt.kind)
    elif rt.kind == "DaemonSet":
        strategy = spec.setdefault("updateStrategy", {})
        if isinstance(strategy, dict):
            _rolling(strategy, rt.kind)
        # apps/v1 carries the internal templateGeneration as an annotation, counted up when the template
        # changes (the DaemonSet strategy).
        annotations = obj["metadata"].setdefault("annotations", {})
        key = "deprecated.daemonset.template.generation"
        previous = ((old or {}).get("metadata") or {}).get("annotations") or {}
        if old is None:
            annotations[key] = "1"
        elif (old.get("spec") or {}).get("template") != spec.get("template"):
            annotations[key] = str(int(previous.get(key, "0") or 0) + 1)
        elif key in previous:
            annotations[key] = previous[key]
    elif rt.kind == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {})
        if isinstance(strategy, dict):
            _rolling(strategy, rt.kind)
        spec.setdefault(
            "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"}
        )
        for claim in spec.get("volumeClaimTemplates") or ():
            if isinstance(claim, dict):
                claim.setdefault("apiVersion", "v1")
                claim.setdefault("kind", "PersistentVolumeClaim")
                claim_spec = claim.setdefault("spec", {})
                if isinstance(claim_spec, dict):
                    claim_spec.setdefault("volumeMode", "Filesystem")
                claim.setdefault("status", {"phase": "Pending"})


def job_write(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """batch/v1 Job defaulting (SetDefaults_Job) and, on create, the generated selector and labels."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _template_spec(obj)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    elif spec.get("parallelism") is None:
        spec["parallelism"] = 1
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("manualSelector", False)
    if "podFailurePolicy" not in spec:
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")


def job_admit(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """After the field manager, as the Job strategy's PrepareForCreate: the generated selector and labels."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if old is None and not spec.get("manualSelector"):
        meta = obj["metadata"]
        uid, name = meta.get("uid", ""), meta.get("name", "")
        generated = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template = spec.setdefault("template", {})
        if isinstance(template, dict):
            tmeta = template.setdefault("metadata", {})
            if isinstance(tmeta, dict):
                tmeta["labels"] = {**(tmeta.get("labels") or {}), **generated}


def install(api: API) -> None:
    pods, nss, svcs, pvcs = ("", "pods"), ("", "namespaces"), ("", "services"), ("", "persistentvolumeclaims")
    crds = ("apiextensions.k8s.io", "customresourcedefinitions")
    api.create_hooks.setdefault(pods, []).append(pod_create)
    api.allocation_hooks.setdefault(nss, []).append(namespace_admit)
    api.allocation_hooks.setdefault(pods, []).append(pod_admit)
    api.allocation_hooks.setdefault(pvcs, []).append(pvc_admit)
    api.allocation_hooks.setdefault(("batch", "jobs"), []).append(job_admit)
    api.update_hooks.setdefault(pods, []).append(pod_update)
    api.create_hooks.setdefault(nss, []).append(namespace_create)
    api.create_hooks.setdefault(svcs, []).append(service_create)
    api.allocation_hooks.setdefault(svcs, []).append(service_allocate)
    api.update_hooks.setdefault(svcs, []).append(service_update)
    api.create_hooks.setdefault(pvcs, []).append(pvc_create)
    api.create_hooks.setdefault(("", "persistentvolumes"), []).append(pv_create)
    api.create_hooks.setdefault(crds, []).append(crd_write)
    api.update_hooks.setdefault(crds, []).append(crd_write)
    api.delete_hooks.setdefault(crds, []).append(crd_delete)
    for hooks in (api.create_hooks, api.update_hooks):
        hooks.setdefault(("", "secrets"), []).append(secret_write)
        hooks.setdefault(("", "events"), []).append(event_write)
        hooks.setdefault(("", "podtemplates"), []).append(pod_template_write)
        hooks.setdefault(("", "persistentvolumes"), []).append(pv_write)
        hooks.setdefault(("batch", "cronjobs"), []).append(cronjob_write)
        for plural in ("deployments", "statefulsets", "daemonsets", "replicasets"):
            hooks.setdefault(("apps", plural), []).append(workload_write)
        hooks.setdefault(("batch", "jobs"), []).append(job_write)
