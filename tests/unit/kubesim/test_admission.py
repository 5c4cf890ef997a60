"""kubesim.admission: which webhooks a request calls, the review sent, how answers are read (pure logic;
the calls themselves are in tests/integration/kubesim/test_admission_webhooks.py, on both backends)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubesim import admission
from kubesim.admission import Attributes, CallFailed, Webhook
from kubesim.errors import ApiError


def attrs(
    operation: str = "CREATE",
    *,
    group: str = "",
    resource: str = "configmaps",
    subresource: str = "",
    namespace: str = "ns",
    name: str = "x",
    obj: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
) -> Attributes:
    return Attributes(
        operation=operation,
        group=group,
        version="v1",
        resource=resource,
        subresource=subresource,
        kind="ConfigMap",
        namespace=namespace,
        name=name,
        obj=obj,
        old=old,
        user={"username": "u"},
    )


def rule(**fields: Any) -> dict[str, Any]:
    return {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], **fields}


def hook(**spec: Any) -> Webhook:
    return Webhook("h.example.com", "config", False, {"rules": [rule()], **spec})


@pytest.mark.parametrize(
    ("resources", "resource", "subresource", "expected"),
    [
        (["*"], "pods", "", True),
        (["*"], "pods", "status", False),  # "*" is every resource, no subresource
        (["*/*"], "pods", "status", True),
        (["pods/*"], "pods", "", True),
        (["pods/*"], "pods", "log", True),
        (["*/status"], "deployments", "status", True),
        (["*/status"], "deployments", "", False),
        (["pods/status"], "pods", "status", True),
        (["pods/status"], "pods", "", False),
        (["pods"], "pods", "status", False),
        (["services"], "pods", "", False),
    ],
)
def test_rule_resources(resources: list[str], resource: str, subresource: str, expected: bool) -> None:
    assert (
        admission.rule_matches(rule(resources=resources), attrs(resource=resource, subresource=subresource))
        is expected
    )


@pytest.mark.parametrize(
    ("scope", "resource", "namespace", "expected"),
    [
        ("*", "configmaps", "ns", True),
        ("Namespaced", "configmaps", "ns", True),
        ("Cluster", "configmaps", "ns", False),
        ("Namespaced", "nodes", "", False),
        ("Cluster", "nodes", "", True),
        # Namespace objects are cluster-scoped, whatever namespace the request names.
        ("Namespaced", "namespaces", "ns", False),
        ("Cluster", "namespaces", "ns", True),
    ],
)
def test_rule_scope(scope: str, resource: str, namespace: str, expected: bool) -> None:
    assert (
        admission.rule_matches(rule(scope=scope), attrs(resource=resource, namespace=namespace)) is expected
    )


def test_rule_operations_groups_versions() -> None:
    assert admission.rule_matches(rule(operations=["CREATE", "UPDATE"]), attrs("UPDATE"))
    assert not admission.rule_matches(rule(operations=["CREATE"]), attrs("DELETE"))
    assert admission.rule_matches(rule(apiGroups=["", "apps"]), attrs())
    assert not admission.rule_matches(rule(apiGroups=["apps"]), attrs())
    assert not admission.rule_matches(rule(apiVersions=["v2"]), attrs())


def _namespaces(labels: dict[str, dict[str, str]]) -> Any:
    def lookup(name: str) -> dict[str, str]:
        if name not in labels:
            raise ApiError(404, "NotFound", f'namespaces "{name}" not found')
        return labels[name]

    return lookup


def test_namespace_selector() -> None:
    selected = hook(namespaceSelector={"matchLabels": {"team": "a"}})
    lookup = _namespaces({"ns": {"team": "a"}, "other": {}})
    assert admission.namespace_selector_matches(selected, attrs(namespace="ns"), lookup)
    assert not admission.namespace_selector_matches(selected, attrs(namespace="other"), lookup)
    # Cluster-scoped objects other than namespaces always match.
    assert admission.namespace_selector_matches(selected, attrs(resource="nodes", namespace=""), lookup)
    # A Namespace being created is judged by its own labels, a deleted one by the stored ones.
    new_ns = {"metadata": {"name": "new", "labels": {"team": "a"}}}
    assert admission.namespace_selector_matches(
        selected, attrs(resource="namespaces", namespace="", name="new", obj=new_ns), lookup
    )
    assert not admission.namespace_selector_matches(
        selected, attrs("DELETE", resource="namespaces", namespace="", name="other"), lookup
    )
    with pytest.raises(ApiError) as err:
        admission.namespace_selector_matches(selected, attrs(namespace="gone"), lookup)
    assert err.value.code == 404
    # An empty selector never looks the namespace up.
    assert admission.namespace_selector_matches(hook(namespaceSelector={}), attrs(namespace="gone"), lookup)


def test_object_selector_new_or_old() -> None:
    selected = hook(
        objectSelector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}
    )
    web = {"metadata": {"labels": {"app": "web"}}}
    plain: dict[str, Any] = {"metadata": {}}
    assert admission.object_selector_matches(selected, attrs(obj=web))
    assert admission.object_selector_matches(selected, attrs("UPDATE", obj=plain, old=web))
    assert admission.object_selector_matches(selected, attrs("DELETE", old=web))
    assert not admission.object_selector_matches(selected, attrs(obj=plain))
    assert admission.object_selector_matches(hook(), attrs())


def test_configuration_kinds_are_exempt() -> None:
    request = attrs(group=admission.GROUP, resource="validatingwebhookconfigurations", namespace="")
    assert not admission.matches(hook(), request, _namespaces({}))


def test_webhooks_in_configuration_name_order() -> None:
    configs = [
        {"metadata": {"name": "b"}, "webhooks": [{"name": "b1"}, {"name": "b2"}]},
        {"metadata": {"name": "a"}, "webhooks": [{"name": "a1"}]},
    ]
    assert [h.name for h in admission.webhooks_of(configs, mutating=True)] == ["a1", "b1", "b2"]


def test_defaults() -> None:
    config = {"webhooks": [{"name": "x", "rules": [{}], "clientConfig": {"service": {"name": "s"}}}]}
    admission.default_configuration(config, mutating=True)
    [got] = config["webhooks"]
    assert got["failurePolicy"] == "Fail"
    assert got["matchPolicy"] == "Equivalent"
    assert got["timeoutSeconds"] == 10
    assert got["reinvocationPolicy"] == "Never"
    assert got["rules"] == [{"scope": "*"}]
    assert got["clientConfig"]["service"]["port"] == 443


def test_validation_of_rules_and_service() -> None:
    config = {
        "webhooks": [
            {
                "name": "a.b.c",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "rules": [
                    {
                        "operations": ["*", "CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["*", "pods"],
                        "scope": "Everywhere",
                    }
                ],
                "clientConfig": {"service": {"name": "s", "path": "x"}},
            },
            {
                "name": "a.b.c",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "clientConfig": {"url": "https://h"},
            },
        ]
    }
    causes = {
        (c["field"], c["message"]) for c in admission.validate_configuration(config, mutating=False, old=None)
    }
    assert causes == {
        (
            "webhooks[0].rules[0].operations",
            'Invalid value: ["*","CREATE"]: if \'*\' is present, must not specify other operations',
        ),
        (
            "webhooks[0].rules[0].resources",
            'Invalid value: ["*","pods"]: '
            "if '*' is present, must not specify other resources without subresources",
        ),
        (
            "webhooks[0].rules[0].scope",
            'Unsupported value: "Everywhere": supported values: "*", "Cluster", "Namespaced"',
        ),
        ("webhooks[0].clientConfig.service.namespace", "Required value: service namespace is required"),
        ("webhooks[0].clientConfig.service.path", "Invalid value: \"x\": must start with a '/'"),
        ("webhooks[1].name", 'Duplicate value: "a.b.c"'),
    }


def _answer(**response: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "u", **response},
    }


def test_read_response() -> None:
    ops = [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]
    patch = base64.b64encode(json.dumps(ops).encode()).decode()
    verdict = admission.read_response(
        _answer(allowed=True, patchType="JSONPatch", patch=patch, warnings=["w"]), "u", mutating=True
    )
    assert (verdict.allowed, verdict.patch, verdict.warnings) == (True, ops, ["w"])
    assert not admission.read_response(_answer(allowed=False), "u", mutating=False).allowed


@pytest.mark.parametrize(
    ("body", "mutating", "reason"),
    [
        (
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
            False,
            "webhook response was absent",
        ),
        (
            _answer(allowed=True) | {"response": {"uid": "other", "allowed": True}},
            False,
            'expected response.uid="u"',
        ),
        (_answer(allowed=True, patch="W10="), False, "validating webhook may not return response.patch"),
        (
            _answer(allowed=True, patch="W10="),
            True,
            "webhook returned response.patch but not response.patchType",
        ),
        (
            _answer(allowed=True, patchType="JSONPatch"),
            True,
            "returned response.patchType but not response.patch",
        ),
        (_answer(allowed=True, patchType="Merge", patch="e30="), True, 'unsupported patch type "Merge"'),
        (
            {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "response": {"uid": "u"}},
            False,
            "expected webhook response of",
        ),
    ],
)
def test_read_response_refuses(body: dict[str, Any], mutating: bool, reason: str) -> None:
    with pytest.raises(CallFailed, match=reason.replace("(", r"\(").replace(")", r"\)")):
        admission.read_response(body, "u", mutating=mutating)


def test_denied_status() -> None:
    err = admission.denied("w.example.com", {"message": "no", "code": 200})
    assert (err.code, err.reason, err.message) == (
        400,
        "",
        'admission webhook "w.example.com" denied the request: no',
    )
    err = admission.denied("w.example.com", {"reason": "Forbidden", "code": 403})
    assert (err.code, err.message) == (403, 'admission webhook "w.example.com" denied the request: Forbidden')
    assert admission.denied("w.example.com", None).message == (
        'admission webhook "w.example.com" denied the request without explanation'
    )


def test_review_of_a_delete() -> None:
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    request = attrs("DELETE", old=old)
    request.options = admission.operation_options(
        "DELETE", dry_run=True, extra={"propagationPolicy": "Orphan"}
    )
    review = admission.admission_review("uid-1", request)["request"]
    assert review["uid"] == "uid-1"
    assert review["operation"] == "DELETE"
    assert review["object"] is None
    assert review["oldObject"] == old
    assert review["options"] == {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "propagationPolicy": "Orphan",
        "dryRun": ["All"],
    }


def _dispatcher() -> Any:
    from kubesim.api import API
    from kubesim.resources import Registry
    from kubesim.store import Store
    from kubesim.webhooks import Dispatcher

    return Dispatcher(API(Store(), Registry()))


def test_dry_run_with_side_effects_is_a_bad_request() -> None:
    """Only configurations stored before v1's rule can have such a webhook: kubesim refuses it as upstream,
    before any call and whatever the failurePolicy."""
    import asyncio

    request = attrs()
    request.dry_run = True
    for policy in ("Fail", "Ignore"):
        some = Webhook("some.example.com", "c", False, {"sideEffects": "Some", "failurePolicy": policy})
        with pytest.raises(ApiError) as err:
            asyncio.run(_dispatcher()._call(some, request, "v1"))
        assert (err.value.code, err.value.message) == (
            400,
            'admission webhook "some.example.com" does not support dry run',
        )


def _put(dispatcher: Any, key: tuple[str, str], obj: dict[str, Any]) -> None:
    obj.setdefault("metadata", {}).setdefault("namespace", "ns")
    dispatcher.api.store.put(key, obj)


def test_service_resolution() -> None:
    """A Service is resolved to its endpoints: an Endpoints object, an EndpointSlice, else a Ready pod its
    selector picks (kubesim has no endpoints controller), at the target port (a named one included)."""
    d = _dispatcher()
    _put(
        d,
        ("", "services"),
        {
            "metadata": {"name": "hooks"},
            "spec": {"selector": {"app": "hooks"}, "ports": [{"port": 443, "targetPort": "https"}]},
        },
    )
    with pytest.raises(CallFailed, match='service "ns/hooks" has no ready endpoints'):
        d._resolve_service("ns", "hooks", 443)
    pod = {
        "metadata": {"name": "p", "labels": {"app": "hooks"}},
        "spec": {"containers": [{"name": "c", "ports": [{"name": "https", "containerPort": 8443}]}]},
        "status": {"podIP": "127.1.0.5", "conditions": [{"type": "Ready", "status": "False"}]},
    }
    _put(d, ("", "pods"), pod)
    with pytest.raises(CallFailed):
        d._resolve_service("ns", "hooks", 443)
    ready = {**pod, "status": {**pod["status"], "conditions": [{"type": "Ready", "status": "True"}]}}
    _put(d, ("", "pods"), ready)
    assert d._resolve_service("ns", "hooks", 443) == ("127.1.0.5", 8443)
    slice_ = {
        "metadata": {"name": "hooks-abc", "labels": {"kubernetes.io/service-name": "hooks"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.9"], "conditions": {"ready": True}}],
        "ports": [{"port": 9443}],
    }
    _put(d, ("discovery.k8s.io", "endpointslices"), slice_)
    assert d._resolve_service("ns", "hooks", 443) == ("127.0.0.9", 9443)
    with pytest.raises(CallFailed, match="no service port 80"):
        d._resolve_service("ns", "hooks", 80)
    with pytest.raises(CallFailed, match='service "missing" not found'):
        d._resolve_service("ns", "missing", 443)
