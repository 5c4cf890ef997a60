"""Dynamic admission as kube-apiserver's MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins do
it, the pure half: which webhooks a request calls, the ``AdmissionReview`` it sends, how an answer is read
and the ``Status`` a refusal or a failure becomes. The HTTP calls are in ``kubesim.webhooks``.

Upstream's sources of truth (k8s.io/apiserver/pkg/admission/plugin/webhook): ``generic/webhook.go``
(ShouldCallHook), ``predicates/rules``, ``predicates/namespace``, ``predicates/object``,
``request/admissionreview.go``, ``errors/statuserror.go``; the configuration objects' defaults and
validation are k8s.io/kubernetes ``pkg/apis/admissionregistration/v1/defaults.go`` and ``.../validation``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubesim import errors, selectors
from kubesim.errors import ApiError, Cause
from kubesim.validation import (
    err_duplicate,
    err_invalid,
    err_not_supported,
    err_required,
    is_dns1035_label,
    is_dns1123_subdomain,
    validate_labels,
)

Obj = dict[str, Any]

GROUP = "admissionregistration.k8s.io"
VALIDATING = (GROUP, "validatingwebhookconfigurations")
MUTATING = (GROUP, "mutatingwebhookconfigurations")

# Requests for these are never sent to webhooks (rules.IsExemptAdmissionConfigurationResource), so a broken
# webhook can always be removed.
_EXEMPT = frozenset(
    {
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    }
)

DEFAULT_TIMEOUT_SECONDS = 10
_OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
_SCOPES = ("*", "Cluster", "Namespaced")
_NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")
_REVIEW_VERSIONS = ("v1", "v1beta1")


def is_exempt(group: str, resource: str) -> bool:
    return group == GROUP and resource in _EXEMPT


# ------------------------------------------------------------------------------------------ configuration


def default_configuration(obj: Obj, *, mutating: bool) -> None:
    """The v1 defaults (SetDefaults_ValidatingWebhook / _MutatingWebhook / _Rule / _ServiceReference)."""
    for hook in obj.get("webhooks") or ():
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        if hook.get("namespaceSelector") is None:
            hook["namespaceSelector"] = {}
        if hook.get("objectSelector") is None:
            hook["objectSelector"] = {}
        if hook.get("timeoutSeconds") is None:
            hook["timeoutSeconds"] = DEFAULT_TIMEOUT_SECONDS
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in hook.get("rules") or ():
            if isinstance(rule, dict) and rule.get("scope") is None:
                rule["scope"] = "*"
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443


def _has_wildcard(values: Iterable[Any]) -> bool:
    return any(v == "*" for v in values)


def _validate_resources(resources: list[Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    if not resources:
        out.append(err_required(path))
    with_wild_sub: set[str] = set()
    sub_with_wild_res: set[str] = set()
    double = single = plain = False
    for i, res_sub in enumerate(resources):
        res_sub = str(res_sub)
        if not res_sub:
            out.append(err_required(f"{path}[{i}]"))
            continue
        double = double or res_sub == "*/*"
        single = single or res_sub == "*"
        if "/" not in res_sub:
            plain = res_sub != "*"
            continue
        res, sub = res_sub.split("/", 1)
        if res in with_wild_sub:
            out.append(
                err_invalid(f"{path}[{i}]", res_sub, f"if '{res}/*' is present, must not specify {res_sub}")
            )
        if sub in sub_with_wild_res:
            out.append(
                err_invalid(f"{path}[{i}]", res_sub, f"if '*/{sub}' is present, must not specify {res_sub}")
            )
        if sub == "*":
            with_wild_sub.add(res)
        if res == "*":
            sub_with_wild_res.add(sub)
    if len(resources) > 1 and double:
        out.append(err_invalid(path, resources, "if '*/*' is present, must not specify other resources"))
    if single and plain:
        out.append(
            err_invalid(
                path, resources, "if '*' is present, must not specify other resources without subresources"
            )
        )
    return out


def _validate_rule(rule: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(rule, dict):
        return [err_required(path)]
    operations = list(rule.get("operations") or ())
    if not operations:
        out.append(err_required(f"{path}.operations"))
    if len(operations) > 1 and _has_wildcard(operations):
        out.append(
            err_invalid(
                f"{path}.operations", operations, "if '*' is present, must not specify other operations"
            )
        )
    for i, op in enumerate(operations):
        if op not in _OPERATIONS:
            out.append(err_not_supported(f"{path}.operations[{i}]", op, _OPERATIONS))
    groups = list(rule.get("apiGroups") or ())
    if not groups:
        out.append(err_required(f"{path}.apiGroups"))
    if len(groups) > 1 and _has_wildcard(groups):
        out.append(
            err_invalid(f"{path}.apiGroups", groups, "if '*' is present, must not specify other API groups")
        )
    versions = list(rule.get("apiVersions") or ())
    if not versions:
        out.append(err_required(f"{path}.apiVersions"))
    if len(versions) > 1 and _has_wildcard(versions):
        out.append(
            err_invalid(
                f"{path}.apiVersions", versions, "if '*' is present, must not specify other API versions"
            )
        )
    for i, version in enumerate(versions):
        if not version:
            out.append(err_required(f"{path}.apiVersions[{i}]"))
    out.extend(_validate_resources(list(rule.get("resources") or ()), f"{path}.resources"))
    scope = rule.get("scope")
    if scope is not None and scope not in _SCOPES:
        out.append(err_not_supported(f"{path}.scope", scope, _SCOPES))
    return out


def _validate_selector(selector: Any, path: str) -> list[Cause]:
    """metav1validation.ValidateLabelSelector, for what a configuration can get wrong."""
    out: list[Cause] = []
    if not isinstance(selector, dict):
        return out
    out.extend(validate_labels(selector.get("matchLabels"), f"{path}.matchLabels"))
    for i, expr in enumerate(selector.get("matchExpressions") or ()):
        epath = f"{path}.matchExpressions[{i}]"
        if not isinstance(expr, dict):
            continue
        op, values = expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            out.append(
                err_required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
        elif op in ("Exists", "DoesNotExist") and values:
            out.append(
                _forbidden(
                    f"{epath}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )
            )
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            out.append(err_invalid(f"{epath}.operator", op, "not a valid selector operator"))
    return out


def _forbidden(path: str, detail: str) -> Cause:
    return {"reason": "FieldValueForbidden", "message": f"Forbidden: {detail}", "field": path}


def _validate_url(url: str, path: str) -> list[Cause]:
    form = "; desired format: https://host[/path]"
    parsed = urllib.parse.urlsplit(url)
    out: list[Cause] = []
    if parsed.scheme != "https":
        out.append(err_invalid(path, parsed.scheme, "'https' is the only allowed URL scheme" + form))
    if not parsed.netloc:
        out.append(err_invalid(path, parsed.netloc, "host must be specified" + form))
    if "@" in parsed.netloc:
        out.append(
            err_invalid(path, parsed.netloc.rsplit("@", 1)[0], "user information is not permitted in the URL")
        )
    if parsed.fragment:
        out.append(err_invalid(path, parsed.fragment, "fragments are not permitted in the URL"))
    if parsed.query:
        out.append(err_invalid(path, parsed.query, "query parameters are not permitted in the URL"))
    return out


def _validate_service(service: Mapping[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    if not service.get("name"):
        out.append(err_required(f"{path}.name", "service name is required"))
    if not service.get("namespace"):
        out.append(err_required(f"{path}.namespace", "service namespace is required"))
    port = service.get("port", 443)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        out.append(
            err_invalid(f"{path}.port", port, "port is not valid: must be between 1 and 65535, inclusive")
        )
    url_path = service.get("path")
    if url_path and url_path != "/" and not str(url_path).startswith("/"):
        out.append(err_invalid(f"{path}.path", url_path, "must start with a '/'"))
    return out


def _fully_qualified_name(name: Any, path: str) -> list[Cause]:
    if not name:
        return [err_required(path)]
    name = str(name).removesuffix(".")
    problems = is_dns1123_subdomain(name)
    if problems:
        return [err_invalid(path, name, ",".join(problems))]
    if len(name.split(".")) < 3:
        return [err_invalid(path, name, "should be a domain with at least three segments separated by dots")]
    return []


def validate_configuration(
    obj: Mapping[str, Any], *, mutating: bool, old: Mapping[str, Any] | None
) -> list[Cause]:
    """The causes of a 422 for a Validating/MutatingWebhookConfiguration (metadata aside). On an update the
    stricter create-time rules apply only if the stored object already met them, as upstream."""
    out: list[Cause] = []
    old_hooks = [h for h in (old or {}).get("webhooks") or () if isinstance(h, dict)]
    require_no_side_effects = old is None or all(h.get("sideEffects") in _NO_SIDE_EFFECTS for h in old_hooks)
    require_known_version = old is None or all(
        not h.get("admissionReviewVersions")
        or any(v in _REVIEW_VERSIONS for v in h["admissionReviewVersions"])
        for h in old_hooks
    )
    names: set[str] = set()
    old_names = [h.get("name") for h in old_hooks]
    require_unique = old is None or len(old_names) == len(set(old_names))
    allowed_side_effects = (
        _NO_SIDE_EFFECTS if require_no_side_effects else ("None", "NoneOnDryRun", "Some", "Unknown")
    )
    for i, hook in enumerate(obj.get("webhooks") or ()):
        path = f"webhooks[{i}]"
        if not isinstance(hook, dict):
            continue
        out.extend(_fully_qualified_name(hook.get("name"), f"{path}.name"))
        for j, rule in enumerate(hook.get("rules") or ()):
            out.extend(_validate_rule(rule, f"{path}.rules[{j}]"))
        policy = hook.get("failurePolicy")
        if policy is not None and policy not in ("Fail", "Ignore"):
            out.append(err_not_supported(f"{path}.failurePolicy", policy, ("Fail", "Ignore")))
        match_policy = hook.get("matchPolicy")
        if match_policy is not None and match_policy not in ("Equivalent", "Exact"):
            out.append(err_not_supported(f"{path}.matchPolicy", match_policy, ("Equivalent", "Exact")))
        side_effects = hook.get("sideEffects")
        if side_effects is None:
            out.append(
                err_required(
                    f"{path}.sideEffects", "must specify one of " + ", ".join(sorted(allowed_side_effects))
                )
            )
        elif side_effects not in allowed_side_effects:
            out.append(err_not_supported(f"{path}.sideEffects", side_effects, sorted(allowed_side_effects)))
        timeout = hook.get("timeoutSeconds")
        if timeout is not None and (not isinstance(timeout, int) or not 1 <= timeout <= 30):
            out.append(
                err_invalid(
                    f"{path}.timeoutSeconds", timeout, "the timeout value must be between 1 and 30 seconds"
                )
            )
        out.extend(_validate_selector(hook.get("namespaceSelector"), f"{path}.namespaceSelector"))
        out.extend(_validate_selector(hook.get("objectSelector"), f"{path}.objectSelector"))
        if mutating:
            reinvocation = hook.get("reinvocationPolicy")
            if reinvocation is not None and reinvocation not in ("IfNeeded", "Never"):
                out.append(
                    err_not_supported(f"{path}.reinvocationPolicy", reinvocation, ("IfNeeded", "Never"))
                )
        client = hook.get("clientConfig") or {}
        url, service = client.get("url"), client.get("service")
        if (url is None) == (service is None):
            out.append(err_required(f"{path}.clientConfig", "exactly one of url or service is required"))
        elif url is not None:
            out.extend(_validate_url(str(url), f"{path}.clientConfig.url"))
        elif isinstance(service, dict):
            out.extend(_validate_service(service, f"{path}.clientConfig.service"))
        out.extend(
            _validate_review_versions(hook.get("admissionReviewVersions"), require_known_version, path)
        )
        name = hook.get("name")
        if require_unique and name:
            if name in names:
                out.append(err_duplicate(f"{path}.name", name))
            names.add(name)
    return out


def _validate_review_versions(versions: Any, require_known: bool, hook_path: str) -> list[Cause]:
    path = f"{hook_path}.admissionReviewVersions"
    if not versions:
        return [err_required(path, "must specify one of " + ", ".join(_REVIEW_VERSIONS))]
    out: list[Cause] = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        version = str(version)
        if version in seen:
            out.append(err_invalid(f"{path}[{i}]", version, "duplicate version"))
            continue
        seen.add(version)
        out.extend(err_invalid(f"{path}[{i}]", version, problem) for problem in is_dns1035_label(version))
    if require_known and not seen & set(_REVIEW_VERSIONS):
        out.append(
            err_invalid(path, list(versions), "must include at least one of " + ", ".join(_REVIEW_VERSIONS))
        )
    return out


# ------------------------------------------------------------------------------------------------ matching


@dataclass
class Attributes:
    """One admission request (admission.Attributes): what is done to which object by whom."""

    operation: str  # CREATE, UPDATE, DELETE
    group: str
    version: str
    resource: str  # the plural
    subresource: str
    kind: str
    namespace: str  # "" for cluster-scoped objects but Namespaces (their own name, as upstream)
    name: str
    obj: Obj | None
    old: Obj | None
    user: Mapping[str, Any]  # authentication.k8s.io/v1 UserInfo
    dry_run: bool = False
    options: Obj | None = None  # CreateOptions, UpdateOptions or DeleteOptions


@dataclass
class Webhook:
    """One webhook of a configuration, defaulted."""

    name: str
    configuration: str
    mutating: bool
    spec: Obj = field(repr=False)

    @property
    def failure_policy(self) -> str:
        return str(self.spec.get("failurePolicy") or "Fail")

    @property
    def timeout_seconds(self) -> int:
        return int(self.spec.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)

    @property
    def side_effects(self) -> str:
        return str(self.spec.get("sideEffects") or "")

    @property
    def client_config(self) -> Obj:
        return dict(self.spec.get("clientConfig") or {})

    @property
    def review_versions(self) -> list[str]:
        return [str(v) for v in self.spec.get("admissionReviewVersions") or ()]


def webhooks_of(configurations: Iterable[Obj], *, mutating: bool) -> list[Webhook]:
    """The webhooks of the configurations, in upstream's order: configurations by name, then each one's
    webhooks as listed (the mutating ones are called one after the other in this order)."""
    out: list[Webhook] = []
    for config in sorted(configurations, key=lambda c: str(c["metadata"]["name"])):
        for hook in config.get("webhooks") or ():
            if isinstance(hook, dict):
                out.append(
                    Webhook(str(hook.get("name", "")), str(config["metadata"]["name"]), mutating, hook)
                )
    return out


def rule_matches(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    """predicates/rules Matcher.Matches: scope, operation, group, version and resource/subresource."""
    scope = rule.get("scope") or "*"
    is_namespace = attrs.group == "" and attrs.resource == "namespaces"
    if scope == "Namespaced" and (is_namespace or not attrs.namespace):
        return False
    if scope == "Cluster" and not (is_namespace or not attrs.namespace):
        return False
    operations = rule.get("operations") or ()
    if "*" not in operations and attrs.operation not in operations:
        return False
    groups = rule.get("apiGroups") or ()
    if "*" not in groups and attrs.group not in groups:
        return False
    versions = rule.get("apiVersions") or ()
    if "*" not in versions and attrs.version not in versions:
        return False
    for res_sub in rule.get("resources") or ():
        res, _, sub = str(res_sub).partition("/")
        if res in ("*", attrs.resource) and sub in ("*", attrs.subresource):
            return True
    return False


def _selector(spec: Any) -> selectors.LabelSelector:
    # The configuration was validated when stored; an empty or absent selector selects everything.
    return selectors.label_selector_from_object(spec if isinstance(spec, dict) else {})


def _labels(obj: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not isinstance(obj, dict):
        return None
    return dict((obj.get("metadata") or {}).get("labels") or {})


def namespace_selector_matches(
    hook: Webhook, attrs: Attributes, namespace_labels: Callable[[str], dict[str, str]]
) -> bool:
    """predicates/namespace: cluster-scoped objects other than Namespaces always match; a Namespace being
    created or updated is judged by its own labels, any other request by its namespace's stored labels
    (``namespace_labels`` raises the 404 of a missing namespace)."""
    selector = _selector(hook.spec.get("namespaceSelector"))
    is_namespace = attrs.group == "" and attrs.resource == "namespaces"
    if not attrs.namespace and not is_namespace:
        return True
    if selector.empty():
        return True
    if is_namespace and not attrs.subresource and attrs.operation in ("CREATE", "UPDATE"):
        return selector.matches(_labels(attrs.obj) or {})
    return selector.matches(namespace_labels(attrs.namespace or attrs.name))


def object_selector_matches(hook: Webhook, attrs: Attributes) -> bool:
    """predicates/object: the new object's labels or the old one's."""
    selector = _selector(hook.spec.get("objectSelector"))
    if selector.empty():
        return True
    return any(
        labels is not None and selector.matches(labels) for labels in (_labels(attrs.obj), _labels(attrs.old))
    )


def invoked_version(
    hook: Webhook,
    attrs: Attributes,
    namespace_labels: Callable[[str], dict[str, str]],
    equivalents: Sequence[str] = (),
) -> str | None:
    """ShouldCallHook: the version of the resource the webhook is called at, None when it is not called.
    A rule of the request's own version comes first; with ``matchPolicy: Equivalent`` (the default) a rule
    naming another served version of the same resource (``equivalents``: a CRD's versions, which share
    storage in kubesim) calls the webhook at that version. ``matchConditions`` are not evaluated (kubesim
    has no CEL): the webhook is called as if they all held."""
    if is_exempt(attrs.group, attrs.resource):
        return None
    rules = [r for r in hook.spec.get("rules") or () if isinstance(r, dict)]
    version: str | None = None
    if any(rule_matches(r, attrs) for r in rules):
        version = attrs.version
    elif (hook.spec.get("matchPolicy") or "Equivalent") == "Equivalent":
        version = next(
            (
                v
                for r in rules
                for v in equivalents
                if v != attrs.version and rule_matches(r, dataclasses.replace(attrs, version=v))
            ),
            None,
        )
    if version is None:
        return None
    if not namespace_selector_matches(hook, attrs, namespace_labels):
        return None
    return version if object_selector_matches(hook, attrs) else None


def matches(hook: Webhook, attrs: Attributes, namespace_labels: Callable[[str], dict[str, str]]) -> bool:
    return invoked_version(hook, attrs, namespace_labels) is not None


# ---------------------------------------------------------------------------------------------- the review


def admission_review(uid: str, attrs: Attributes, version: str | None = None) -> Obj:
    """The ``admission.k8s.io/v1`` AdmissionReview request (request.CreateV1AdmissionReview); ``version``:
    the version the webhook is called at when it is another than the request's (the objects are sent at
    that version; ``requestKind`` and ``requestResource`` keep the request's)."""
    user = dict(attrs.user)
    version = version or attrs.version
    request: Obj = {
        "uid": uid,
        "kind": {"group": attrs.group, "version": version, "kind": attrs.kind},
        "resource": {"group": attrs.group, "version": version, "resource": attrs.resource},
        "requestKind": {"group": attrs.group, "version": attrs.version, "kind": attrs.kind},
        "requestResource": {"group": attrs.group, "version": attrs.version, "resource": attrs.resource},
    }
    if attrs.subresource:
        request["subResource"] = attrs.subresource
        request["requestSubResource"] = attrs.subresource
    if attrs.name:
        request["name"] = attrs.name
    if attrs.namespace:
        request["namespace"] = attrs.namespace
    request["operation"] = attrs.operation
    request["userInfo"] = user
    api_version = f"{attrs.group}/{version}" if attrs.group else version
    request["object"] = at_version(api_version, attrs.obj)
    request["oldObject"] = at_version(api_version, attrs.old)
    request["dryRun"] = attrs.dry_run
    request["options"] = attrs.options
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


def at_version(api_version: str, obj: Obj | None) -> Obj | None:
    """The object at another version of its resource (a CRD's versions share storage in kubesim, with no
    conversion beyond the apiVersion)."""
    if obj is None or obj.get("apiVersion") == api_version:
        return obj
    return {**obj, "apiVersion": api_version}


@dataclass
class Verdict:
    allowed: bool
    result: Obj | None
    patch: list[Any] | None
    warnings: list[str]


class CallFailed(Exception):
    """The webhook could not be called or answered nonsense (webhookutil.ErrCallingWebhook): its
    failurePolicy decides. The message is the reason, as upstream words it."""


def _go_base64(raw: str) -> bytes:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CallFailed(f"received invalid webhook response: illegal base64 data: {exc}") from None


def read_response(body: Any, uid: str, *, mutating: bool) -> Verdict:
    """request.VerifyAdmissionResponse for an admission.k8s.io/v1 answer (kubesim sends only v1)."""
    if not isinstance(body, dict):
        raise CallFailed("received invalid webhook response: unexpected response type")
    response = body.get("response")
    if not isinstance(response, dict):
        raise CallFailed("received invalid webhook response: webhook response was absent")
    if response.get("uid", "") != uid:
        raise CallFailed(
            f"received invalid webhook response: expected response.uid={json.dumps(uid)}, "
            f"got {json.dumps(response.get('uid', ''))}"
        )
    gvk = f"{body.get('apiVersion', '')}, Kind={body.get('kind', '')}"
    if gvk != "admission.k8s.io/v1, Kind=AdmissionReview":
        raise CallFailed(
            "received invalid webhook response: expected webhook response of "
            f"admission.k8s.io/v1, Kind=AdmissionReview, got {gvk}"
        )
    raw_patch, patch_type = response.get("patch"), response.get("patchType")
    patch: list[Any] | None = None
    if mutating:
        if raw_patch and patch_type is None:
            raise CallFailed(
                "received invalid webhook response: "
                "webhook returned response.patch but not response.patchType"
            )
        if not raw_patch and patch_type is not None:
            raise CallFailed(
                "received invalid webhook response: "
                "webhook returned response.patchType but not response.patch"
            )
        if raw_patch:
            if patch_type != "JSONPatch":
                raise CallFailed(f"unsupported patch type {json.dumps(patch_type)}")
            try:
                decoded = json.loads(_go_base64(str(raw_patch)))
            except ValueError as exc:
                raise CallFailed(f"received undecodable patch in webhook response: {exc}") from None
            if not isinstance(decoded, list):
                raise CallFailed(
                    "received undecodable patch in webhook response: the patch is not a JSON array"
                )
            patch = decoded
    else:
        if raw_patch:
            raise CallFailed(
                "received invalid webhook response: validating webhook may not return response.patch"
            )
        if patch_type is not None:
            raise CallFailed(
                "received invalid webhook response: validating webhook may not return response.patchType"
            )
    result = response.get("status")
    return Verdict(
        allowed=bool(response.get("allowed")),
        result=result if isinstance(result, dict) else None,
        patch=patch,
        warnings=[str(w) for w in response.get("warnings") or ()],
    )


def denied(webhook: str, result: Mapping[str, Any] | None) -> ApiError:
    """webhookerrors.ToStatusErr: the webhook's Status with its message prefixed, a code of at least 400."""
    result = dict(result or {})
    code = result.get("code")
    code = code if isinstance(code, int) and code >= 400 else 400
    denied_by = f"admission webhook {json.dumps(webhook)} denied the request"
    if result.get("message"):
        message = f"{denied_by}: {result['message']}"
    elif result.get("reason"):
        message = f"{denied_by}: {result['reason']}"
    else:
        message = f"{denied_by} without explanation"
    details = result.get("details")
    return ApiError(
        code, str(result.get("reason") or ""), message, details=details if isinstance(details, dict) else None
    )


def internal_error(message: str) -> ApiError:
    """apierrors.NewInternalError: the error as the message and as the one cause."""
    return ApiError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        details={"causes": [{"message": message}]},
    )


def call_failed(webhook: str, reason: str) -> ApiError:
    """A Fail-policy webhook that could not be called: an InternalError."""
    return internal_error(f"failed calling webhook {json.dumps(webhook)}: {reason}")


def dry_run_unsupported(webhook: str) -> ApiError:
    return errors.bad_request(f"admission webhook {json.dumps(webhook)} does not support dry run")


def modifies_deleted(webhook: str) -> ApiError:
    return internal_error(
        f"admission webhook {json.dumps(webhook)} attempted to modify the object, which is not supported for "
        "this operation"
    )


def user_info(name: str, groups: Iterable[str], uid: str, extra: Mapping[str, list[str]]) -> Obj:
    info: Obj = {"username": name}
    if uid:
        info["uid"] = uid
    groups = list(groups)
    if groups:
        info["groups"] = groups
    if extra:
        info["extra"] = {k: list(v) for k, v in extra.items()}
    return info


def operation_options(
    operation: str, *, dry_run: bool, field_manager: str = "", extra: Obj | None = None
) -> Obj:
    """The request's options as a webhook sees them (CreateOptions, UpdateOptions, DeleteOptions)."""
    kind = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}[operation]
    options: Obj = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if operation == "DELETE":
        options.update({k: v for k, v in (extra or {}).items() if k not in ("kind", "apiVersion")})
    if dry_run:
        options["dryRun"] = ["All"]
    if field_manager and operation != "DELETE":
        options["fieldManager"] = field_manager
    return options
