"""What the real API server's registry strategies and admission plugins do to built-in kinds on write:
defaults (pods, services, PVCs, namespaces), server-set status, ClusterIP allocation, CRD conditions.
"""

from __future__ import annotations

import base64
import copy
import difflib
import json
from decimal import Decimal
from typing import Any

from kubesim import errors
from kubesim.admission import default_configuration
from kubesim.api import API, WriteOptions
from kubesim.objectmeta import now
from kubesim.quota import Quantity
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
    # The deprecated serviceAccount mirrors serviceAccountName (v1 conversion), templates included.
    if spec.get("serviceAccountName") is None and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
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


# The DefaultTolerationSeconds admission plugin: pods tolerate an unready or unreachable node for 5 minutes.
_DEFAULT_TOLERATIONS = (
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
)


def _default_tolerations(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    tolerations = spec.get("tolerations")
    tolerations = list(tolerations) if isinstance(tolerations, list) else []
    for default in _DEFAULT_TOLERATIONS:
        if not any(
            isinstance(t, dict)
            and t.get("key") == default["key"]
            and t.get("effect") in (None, "", "NoExecute")
            for t in tolerations
        ):
            tolerations.append(dict(default))
    spec["tolerations"] = tolerations


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
    """After the field manager, as upstream's admission plugins and strategy: the ServiceAccount,
    Priority and DefaultTolerationSeconds plugins' fields (no manager owns them) and the initial status."""
    spec = obj.get("spec")
    _pod_only_defaults(spec)
    _default_tolerations(spec)
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
    if spec.get("storageClassName") == "":
        del spec["storageClassName"]  # omitempty: no class and an empty class are one
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
    if old is not None:  # on create, cronjob_admit: the stored object had them, no manager gains them
        _template_metadata(spec)


def _template_metadata(spec: Obj) -> None:
    """Go encodes the templates' ObjectMeta, a struct held by value, even when empty: ``metadata: {}``."""
    job = spec.get("jobTemplate")
    if isinstance(job, dict):
        job.setdefault("metadata", {})
        job_spec = job.get("spec")
        if isinstance(job_spec, dict) and isinstance(job_spec.get("template"), dict):
            job_spec["template"].setdefault("metadata", {})


def cronjob_admit(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """After the field manager (they are in the zero-value object upstream compares with, so no manager
    owns them): the templates' empty metadata and, as the CronJob strategy's PrepareForCreate, an empty
    status."""
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _template_metadata(spec)
    obj.setdefault("status", {})


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
    if spec.get("type") != "ExternalName":
        if spec.get("clusterIP") in (None, ""):
            spec["clusterIP"] = api.allocate_service_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec["clusterIP"] == "None" and not spec.get("selector"):
            # Headless and selectorless: dual-stack unless told otherwise (the registry's special case).
            policy = spec.setdefault("ipFamilyPolicy", "RequireDualStack")
            families = spec.setdefault("ipFamilies", ["IPv4"])
            if isinstance(families, list) and len(families) == 1 and policy != "SingleStack":
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    _allocate_node_ports(api, obj, None)
    obj["status"] = {"loadBalancer": {}}


def _allocate_node_ports(api: API, obj: Obj, old: Obj | None) -> None:
    """The registry's node ports: for NodePort services, and LoadBalancer ones unless
    ``allocateLoadBalancerNodePorts`` is false. A port the request names must be free (422); one it leaves
    out keeps what the service had for that port and protocol, else gets a free one."""
    spec = obj["spec"]
    stype = spec.get("type")
    if stype != "NodePort" and not (
        stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True)
    ):
        return
    meta = obj["metadata"]
    name = meta.get("name", "")
    old_spec = (old or {}).get("spec") or {}
    taken = api.node_ports_in_use(skip=(meta.get("namespace", ""), name) if old is not None else None)
    kept = {
        (p.get("port"), p.get("protocol", "TCP")): p["nodePort"]
        for p in old_spec.get("ports") or ()
        if isinstance(p, dict) and p.get("nodePort")
    }
    causes: list[errors.Cause] = []
    for i, p in enumerate(spec.get("ports") or ()):
        if not isinstance(p, dict):
            continue
        if p.get("nodePort"):
            if p["nodePort"] in taken:
                causes.append(
                    {
                        "reason": "FieldValueInvalid",
                        "message": f"Invalid value: {p['nodePort']}: provided port is already allocated",
                        "field": f"spec.ports[{i}].nodePort",
                    }
                )
            taken.add(p["nodePort"])
            continue
        previous = kept.get((p.get("port"), p.get("protocol", "TCP")))
        port = previous if previous is not None and previous not in taken else api.allocate_node_port(taken)
        if port is None:
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: 0: range is full",
                    "field": f"spec.ports[{i}].nodePort",
                }
            )
            continue
        taken.add(port)
        p["nodePort"] = port
    if causes:
        raise errors.invalid("Service", name, causes)


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
    _allocate_node_ports(api, obj, old)


def pvc_create(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")  # SetDefaults_PersistentVolumeClaim


def pvc_admit(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """After the field manager: the DefaultStorageClass admission plugin's class, the initial status."""
    spec = obj.setdefault("spec", {})
    # DefaultStorageClass admission: only a claim that names no class; "" asks for none.
    if spec.get("storageClassName") is None:
        default = _default_storage_class(api)
        if default:
            spec["storageClassName"] = default
    obj["status"] = {"phase": "Pending"}


_PVC_IMMUTABLE = (
    "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for "
    "bound claims\n"
)
_RESIZE_FORBIDDEN = (
    "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must "
    "support resize"
)


def _go_resource_list(raw: Any) -> Any:
    """A ResourceList as Go's JSON prints it: keys sorted, canonical quantities; null when absent."""
    if not isinstance(raw, dict):
        return None
    out: dict[str, Any] = {}
    for name in sorted(raw):
        try:
            out[name] = str(Quantity.parse(raw[name]))
        except (ValueError, TypeError, ArithmeticError):
            out[name] = raw[name]
    return out


def _go_ref(raw: Any, *fields: str) -> Any:
    if not isinstance(raw, dict):
        return None
    out: dict[str, Any] = {"APIGroup": raw.get("apiGroup")}
    for f in fields:
        out[f[0].upper() + f[1:]] = raw.get(f, "" if f != "namespace" else None)
    return out


def _go_pvc_spec(spec: Obj) -> dict[str, Any]:
    """The internal ``core.PersistentVolumeClaimSpec`` as ``diff.Diff`` marshals it (Go field names, nil
    pointers as null), for the immutability error's diff."""
    resources: Obj = spec["resources"] if isinstance(spec.get("resources"), dict) else {}
    return {
        "AccessModes": spec.get("accessModes"),
        "Selector": spec.get("selector"),
        "Resources": {
            "Limits": _go_resource_list(resources.get("limits")),
            "Requests": _go_resource_list(resources.get("requests")),
        },
        "VolumeName": spec.get("volumeName") or "",
        "StorageClassName": spec.get("storageClassName"),
        "VolumeMode": spec.get("volumeMode"),
        "DataSource": _go_ref(spec.get("dataSource"), "kind", "name"),
        "DataSourceRef": _go_ref(spec.get("dataSourceRef"), "kind", "name", "namespace"),
        "VolumeAttributesClassName": spec.get("volumeAttributesClassName"),
    }


def _go_diff(old: Any, new: Any) -> str:
    """``diff.Diff``: a unified diff (3 lines of context, no file header) of both as indented JSON."""
    a = (json.dumps(old, indent=1, ensure_ascii=False) + "\n").splitlines(keepends=True)
    b = (json.dumps(new, indent=1, ensure_ascii=False) + "\n").splitlines(keepends=True)
    return "".join(list(difflib.unified_diff(a, b, n=3))[2:])


def _storage(spec: Obj) -> Quantity | None:
    resources: Obj = spec["resources"] if isinstance(spec.get("resources"), dict) else {}
    requests: Obj = resources["requests"] if isinstance(resources.get("requests"), dict) else {}
    try:
        return Quantity.parse(requests["storage"]) if "storage" in requests else None
    except (ValueError, TypeError, ArithmeticError):
        return None


def pvc_update(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """``ValidatePersistentVolumeClaimUpdate`` (422), then the PersistentVolumeClaimResize admission plugin
    (403): a claim's spec is immutable but for a bound claim's storage request, which may grow only if its
    StorageClass allows volume expansion, and shrink only down to above its current capacity."""
    if old is None:
        return
    name = obj["metadata"].get("name", "")
    new_spec = copy.deepcopy(obj.get("spec") or {})
    old_spec = copy.deepcopy(old.get("spec") or {})
    bound = (old.get("status") or {}).get("phase") == "Bound"
    old_clone, new_clone = copy.deepcopy(old_spec), copy.deepcopy(new_spec)
    if not old_spec.get("volumeName"):
        old_clone["volumeName"] = new_clone.get("volumeName")  # set once, by the PV controller
    beta_class = "volume.beta.kubernetes.io/storage-class"
    if (
        old_spec.get("storageClassName") is None
        and new_spec.get("storageClassName") is not None
        and beta_class not in (old["metadata"].get("annotations") or {})
    ):
        new_clone["storageClassName"] = None  # a class may be given once to a claim created without one
    if bound:
        requests = (new_clone.get("resources") or {}).get("requests")
        if isinstance(requests, dict):
            old_requests = (old_spec.get("resources") or {}).get("requests") or {}
            if "storage" in old_requests:
                requests["storage"] = old_requests["storage"]
            else:
                requests.pop("storage", None)
        if new_clone.get("volumeAttributesClassName") is not None:
            new_clone["volumeAttributesClassName"] = old_clone.get("volumeAttributesClassName")
    causes: list[errors.Cause] = []
    before, after = _go_pvc_spec(old_clone), _go_pvc_spec(new_clone)
    if _semantic_pvc(before) != _semantic_pvc(after):
        message = _PVC_IMMUTABLE + _go_diff(before, after)
        causes.append({"reason": "FieldValueForbidden", "message": message, "field": "spec"})
    old_size, new_size = _storage(old_spec), _storage(new_spec)
    capacity = ((old.get("status") or {}).get("capacity") or {}).get("storage")
    if old_size is not None and new_size is not None and new_size.value < old_size.value:
        cap = Quantity.parse(capacity) if capacity is not None else Quantity(Decimal(0))
        if new_size.value <= cap.value:
            causes.append(
                {
                    "reason": "FieldValueForbidden",
                    "message": "Forbidden: field can not be less than status.capacity",
                    "field": "spec.resources.requests.storage",
                }
            )
    if new_spec.get("volumeMode") != old_spec.get("volumeMode"):
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {json.dumps(new_spec.get('volumeMode'))}: field is immutable",
                "field": "volumeMode",
            }
        )
    if causes:
        raise errors.invalid("PersistentVolumeClaim", name, causes)
    if old_size is None or new_size is None or new_size.value <= old_size.value:
        return
    if not bound:
        message = "Only bound persistent volume claims can be expanded"
        raise errors.forbidden_message(
            f'persistentvolumeclaims "{name}" is forbidden: {message}', rt.plural, name
        )
    class_name = new_spec.get("storageClassName") or ""
    sc = api.store.get(("storage.k8s.io", "storageclasses"), "", class_name) if class_name else None
    if (
        class_name != (old_spec.get("storageClassName") or "")
        or sc is None
        or not sc.get("allowVolumeExpansion")
    ):
        raise errors.forbidden_message(
            f'persistentvolumeclaims "{name}" is forbidden: {_RESIZE_FORBIDDEN}', rt.plural, name
        )


def _semantic_pvc(spec: dict[str, Any]) -> Any:
    """``apiequality.Semantic``: quantities compare by value."""
    out = copy.deepcopy(spec)
    for part in ("Limits", "Requests"):
        values = out["Resources"][part]
        if isinstance(values, dict):
            for k, v in values.items():
                try:
                    values[k] = Quantity.parse(v).value
                except (ValueError, TypeError, ArithmeticError):
                    pass
    return out


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


def _rbac_subjects(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """``SetDefaults_Subject``: users and groups belong to the rbac API group."""
    for subject in obj.get("subjects") or ():
        if isinstance(subject, dict) and subject.get("kind") in ("User", "Group"):
            subject.setdefault("apiGroup", "rbac.authorization.k8s.io")


def _priority_class(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def _network_policy(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """``SetDefaults_NetworkPolicy``: Ingress always, Egress when egress rules are given."""
    spec = obj.get("spec")
    if isinstance(spec, dict) and not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def ingress_admit(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """After the field manager, as the Ingress strategy's PrepareForCreate: an empty status."""
    obj.setdefault("status", {"loadBalancer": {}})


def _endpoints(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    for subset in obj.get("subsets") or ():
        for port in (subset.get("ports") or ()) if isinstance(subset, dict) else ():
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def _limit_range(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    """``SetDefaults_LimitRangeItem``: a container's default limit falls back to the max, its default request
    to the default limit, then to the min."""
    for item in (obj.get("spec") or {}).get("limits") or ():
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default = dict(item.get("default") or {})
        request = dict(item.get("defaultRequest") or {})
        for key, value in (item.get("max") or {}).items():
            default.setdefault(key, value)
        for key, value in default.items():
            request.setdefault(key, value)
        for key, value in (item.get("min") or {}).items():
            request.setdefault(key, value)
        if default:
            item["default"] = default
        if request:
            item["defaultRequest"] = request


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


def _webhook_configuration(api: API, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions) -> None:
    default_configuration(obj, mutating=rt.kind.startswith("Mutating"))


def install(api: API) -> None:
    pods, nss, svcs, pvcs = ("", "pods"), ("", "namespaces"), ("", "services"), ("", "persistentvolumeclaims")
    crds = ("apiextensions.k8s.io", "customresourcedefinitions")
    api.create_hooks.setdefault(pods, []).append(pod_create)
    api.allocation_hooks.setdefault(nss, []).append(namespace_admit)
    api.allocation_hooks.setdefault(pods, []).append(pod_admit)
    api.allocation_hooks.setdefault(pvcs, []).append(pvc_admit)
    api.allocation_hooks.setdefault(("batch", "jobs"), []).append(job_admit)
    api.allocation_hooks.setdefault(("batch", "cronjobs"), []).append(cronjob_admit)
    api.allocation_hooks.setdefault(("networking.k8s.io", "ingresses"), []).append(ingress_admit)
    api.update_hooks.setdefault(pods, []).append(pod_update)
    api.create_hooks.setdefault(nss, []).append(namespace_create)
    api.create_hooks.setdefault(svcs, []).append(service_create)
    api.allocation_hooks.setdefault(svcs, []).append(service_allocate)
    api.update_hooks.setdefault(svcs, []).append(service_update)
    api.create_hooks.setdefault(pvcs, []).append(pvc_create)
    api.update_hooks.setdefault(pvcs, []).append(pvc_update)
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
        hooks.setdefault(("rbac.authorization.k8s.io", "rolebindings"), []).append(_rbac_subjects)
        hooks.setdefault(("rbac.authorization.k8s.io", "clusterrolebindings"), []).append(_rbac_subjects)
        hooks.setdefault(("scheduling.k8s.io", "priorityclasses"), []).append(_priority_class)
        hooks.setdefault(("networking.k8s.io", "networkpolicies"), []).append(_network_policy)
        hooks.setdefault(("", "endpoints"), []).append(_endpoints)
        hooks.setdefault(("", "limitranges"), []).append(_limit_range)
        for plural in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
            hooks.setdefault(("admissionregistration.k8s.io", plural), []).append(_webhook_configuration)
