"""Label and field selectors: the real apiserver's grammar, matching and error wording."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim.errors import ApiError
from kubesim.selectors import label_selector_from_object, parse_field_selector, parse_label_selector

LABELS = {"app": "web", "tier": "frontend", "env": "prod", "replicas": "3"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (web,db)", True),
        ("app in (db)", False),
        ("app notin (db,cache)", True),
        ("missing notin (x)", True),
        ("app notin (web)", False),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=web,tier=frontend", True),
        ("app=web,tier=backend", False),
        ("  app  =  web  ,  env in ( prod , staging )  ", True),
        ("replicas>2", True),
        ("replicas<3", False),
        ("app>2", False),  # non-integer label value never matches gt/lt
        ("example.com/app", False),
        ("x in (foo,,baz)", False),
        ("app in (in)", False),  # keywords are values inside the parentheses
    ],
)
def test_label_selector_matching(selector: str, expected: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is expected


def test_label_selector_empty_value_and_keywords_as_values() -> None:
    # As upstream's parser: "(,,)" is an error, "(,)" and "()" mean the empty value.
    with pytest.raises(ApiError, match="found '\\)', expected: ',', or identifier"):
        parse_label_selector("x in (,,)")
    assert parse_label_selector("x in ()").matches({"x": ""})
    assert parse_label_selector("app=").matches({"app": ""})
    assert not parse_label_selector("app=").matches({})
    assert parse_label_selector("x in (,a)").matches({"x": ""})
    assert parse_label_selector("notin in (in, notin)").matches({"notin": "notin"})


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("a in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        (
            "k>x",
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, "
            "the value must be an integer",
        ),
        (
            "app:monolith",
            'unable to parse requirement: <nil>: Invalid value: "app:monolith": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
        (
            "a=-b",
            'unable to parse requirement: values[0][a]: Invalid value: "-b": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation "
            "is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ],
)
def test_label_selector_errors_are_400_with_upstream_wording(selector: str, message: str) -> None:
    with pytest.raises(ApiError) as exc:
        parse_label_selector(selector)
    assert exc.value.code == 400
    assert exc.value.reason == "BadRequest"
    assert exc.value.message == message
    assert exc.value.status()["reason"] == "BadRequest"


def test_label_selector_prefix_validation() -> None:
    with pytest.raises(ApiError, match="prefix part a lowercase RFC 1123 subdomain"):
        parse_label_selector("app.kubernetes_io/name=x")
    assert parse_label_selector("app.kubernetes.io/name=x").matches({"app.kubernetes.io/name": "x"})


def test_label_selector_string_form_is_sorted_by_key() -> None:
    assert str(parse_label_selector("z=1,a in (y,x),!m")) == "a in (x,y),!m,z=1"


def test_label_selector_from_object() -> None:
    sel = label_selector_from_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "tier", "operator": "Exists"},
                {"key": "zone", "operator": "NotIn", "values": ["a"]},
            ],
        }
    )
    assert sel.matches(LABELS)
    assert not sel.matches({**LABELS, "legacy": "1"})
    assert not sel.matches({**LABELS, "env": "dev"})
    # nil selects nothing, {} selects everything (metav1.LabelSelectorAsSelector).
    assert not label_selector_from_object(None).matches(LABELS)
    assert label_selector_from_object({}).matches({})


def test_label_selector_from_object_errors() -> None:
    with pytest.raises(ApiError) as exc:
        label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
    assert exc.value.message == '"Foo" is not a valid label selector operator'
    with pytest.raises(ApiError) as exc:
        label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})
    assert exc.value.message == (
        "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
    )


def _pod(**over: Any) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "metadata": {"name": "nb-1", "namespace": "users"},
        "spec": {"nodeName": "node-a", "restartPolicy": "Always", "serviceAccountName": "default"},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]},
    }
    pod.update(over)
    return pod


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=nb-1", True),
        ("metadata.name==nb-1", True),
        ("metadata.name!=nb-1", False),
        ("metadata.namespace=users,status.phase=Running", True),
        ("status.phase!=Running", False),
        ("spec.nodeName=node-a", True),
        ("spec.nodeName=", False),
        ("spec.host=node-a", True),  # old clients' alias of spec.nodeName
        ("spec.hostNetwork=false", True),  # a missing bool reads as "false"
        ("status.podIP=10.0.0.5", True),
        ("status.nominatedNodeName=", True),  # a missing string reads as ""
        ("spec.schedulerName=", True),
    ],
)
def test_pod_field_selector(selector: str, expected: bool) -> None:
    assert parse_field_selector(selector, "pods", "").matches(_pod()) is expected


def test_unscheduled_pods_match_empty_node_name() -> None:
    sel = parse_field_selector("spec.nodeName=", "pods", "")
    assert sel.matches(_pod(spec={"containers": []}))
    assert not sel.matches(_pod())


@pytest.mark.parametrize(
    ("resource", "group", "selector", "message"),
    [
        ("pods", "", "foo=bar", "field label not supported: foo"),
        ("pods", "", "metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("pods", "", "metadata.name = x", "field label not supported: metadata.name "),
        (
            "configmaps",
            "",
            "data.x=1",
            '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        ("nodes", "", "metadata.namespace=x", "field label not supported: metadata.namespace"),
        (
            "events",
            "events.k8s.io",
            "involvedObject.name=x",
            "field label not supported: involvedObject.name",
        ),
        ("notebooks", "jupyternetes.io", "spec.image=x", "field label not supported: spec.image"),
        (
            "statefulsets",
            "apps",
            "spec.replicas=1",
            "field label not supported for appsv1.StatefulSet: spec.replicas",
        ),
        ("pods", "", "metadata.name=a\\b", "invalid field selector: invalid escape sequence: \\b"),
    ],
)
def test_field_selector_errors(resource: str, group: str, selector: str, message: str) -> None:
    with pytest.raises(ApiError) as exc:
        parse_field_selector(selector, resource, group)
    assert (exc.value.code, exc.value.reason, exc.value.message) == (400, "BadRequest", message)


def test_field_selector_escapes() -> None:
    sel = parse_field_selector(r"metadata.name=a\,b\=c", "configmaps", "")
    assert sel.matches({"metadata": {"name": "a,b=c"}})


def test_core_event_field_selectors() -> None:
    event = {
        "metadata": {"name": "e1", "namespace": "users"},
        "involvedObject": {"kind": "Pod", "name": "nb-1", "namespace": "users", "uid": "u1"},
        "reason": "Scheduled",
        "type": "Normal",
        "source": {"component": "default-scheduler"},
    }
    sel = parse_field_selector(
        "involvedObject.kind=Pod,involvedObject.name=nb-1,involvedObject.uid=u1,reason=Scheduled,type=Normal",
        "events",
        "",
    )
    assert sel.matches(event)
    assert parse_field_selector("source=default-scheduler", "events", "").matches(event)
    assert not parse_field_selector("involvedObject.name=other", "events", "").matches(event)


def test_events_k8s_io_field_selectors_use_regarding() -> None:
    event = {
        "metadata": {"name": "e1", "namespace": "users"},
        "regarding": {"kind": "Pod", "name": "nb-1"},
        "reportingController": "kubelet",
        "type": "Warning",
    }
    sel = parse_field_selector(
        "regarding.name=nb-1,reportingController=kubelet,type=Warning", "events", "events.k8s.io"
    )
    assert sel.matches(event)
    assert parse_field_selector("source=kubelet", "events", "events.k8s.io").matches(event)


def test_other_builtin_field_selectors() -> None:
    assert parse_field_selector("type=kubernetes.io/tls", "secrets", "").matches(
        {"metadata": {"name": "s"}, "type": "kubernetes.io/tls"}
    )
    assert parse_field_selector("status.phase=Active", "namespaces", "").matches(
        {"metadata": {"name": "ns"}, "status": {"phase": "Active"}}
    )
    assert parse_field_selector("spec.unschedulable=false", "nodes", "").matches({"metadata": {"name": "n"}})
    assert parse_field_selector("spec.unschedulable=true", "nodes", "").matches(
        {"metadata": {"name": "n"}, "spec": {"unschedulable": True}}
    )
    assert parse_field_selector("spec.type=ClusterIP", "services", "").matches(
        {"metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}}
    )


def test_custom_resource_field_selectors() -> None:
    obj = {"metadata": {"name": "n1", "namespace": "u"}, "spec": {"color": "blue", "size": 3, "on": True}}
    assert parse_field_selector("metadata.name=n1,metadata.namespace=u", "notebooks", "x.io").matches(obj)
    with pytest.raises(ApiError, match=r"field label not supported: metadata\.namespace"):
        parse_field_selector("metadata.namespace=u", "clusterthings", "x.io", cluster_scoped=True)
    sel = parse_field_selector(
        "spec.color=blue,spec.size=3,spec.on=true",
        "notebooks",
        "x.io",
        selectable_fields=[".spec.color", ".spec.size", ".spec.on"],
    )
    assert sel.matches(obj)


def test_field_selector_requires_exact() -> None:
    sel = parse_field_selector("spec.nodeName=node-a,status.phase!=Failed", "pods", "")
    assert sel.requires_exact("spec.nodeName") == "node-a"
    assert sel.requires_exact("status.phase") is None


_label_key = st.from_regex(r"\A[a-z][a-z0-9]{0,8}\Z")
_label_value = st.from_regex(r"\A[a-z0-9]{1,8}\Z")


@settings(max_examples=60, deadline=None)
@given(
    labels=st.dictionaries(_label_key, _label_value, max_size=5),
    key=_label_key,
    values=st.lists(_label_value, min_size=1, max_size=3),
)
def test_set_based_requirements_agree_with_their_definition(
    labels: dict[str, str], key: str, values: list[str]
) -> None:
    vals = ",".join(values)
    assert parse_label_selector(f"{key} in ({vals})").matches(labels) is (labels.get(key) in values)
    assert parse_label_selector(f"{key} notin ({vals})").matches(labels) is (labels.get(key) not in values)
    assert parse_label_selector(key).matches(labels) is (key in labels)
    assert parse_label_selector(f"!{key}").matches(labels) is (key not in labels)
    assert parse_label_selector(f"{key}={values[0]}").matches(labels) is (labels.get(key) == values[0])
    assert parse_label_selector(f"{key}!={values[0]}").matches(labels) is (labels.get(key) != values[0])
