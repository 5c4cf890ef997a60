"""Built-in object validation: decode errors, 422 causes and unknown fields worded like kube-apiserver."""

from __future__ import annotations

import copy
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubesim.errors import invalid
from kubesim.validation import (
    QuantityError,
    check_builtin,
    err_not_supported,
    err_too_long,
    err_too_many,
    format_value,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    parse_quantity,
    strict_decoding_message,
    unknown_field_warnings,
    unknown_fields,
    validate_builtin,
    validate_object_meta,
)

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
QUANTITY_MSG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def pod(**spec_overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": 1}},
                    "env": [{"name": "A", "value": "b"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "restartPolicy": "Always",
        },
    }
    obj["spec"].update(spec_overrides)
    return obj


def fields(causes: list[Any]) -> dict[str, str]:
    return {c["field"]: c["message"] for c in causes}


def test_valid_pod_has_no_causes_and_no_unknown_fields() -> None:
    result = check_builtin(pod(), "", "v1", "Pod")
    assert result.decode_error is None
    assert result.causes == []
    assert result.unknown_fields == []


def test_missing_image_and_unknown_volume_mount() -> None:
    obj = pod()
    del obj["spec"]["containers"][0]["image"]
    obj["spec"]["containers"][0]["volumeMounts"][0]["name"] = "x"
    causes = validate_builtin(obj, "", "v1", "Pod")
    assert {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.containers[0].image",
    } in causes
    assert {
        "reason": "FieldValueNotFound",
        "message": 'Not found: "x"',
        "field": "spec.containers[0].volumeMounts[0].name",
    } in causes


def test_status_message_for_one_cause_matches_upstream() -> None:
    obj = pod()
    del obj["spec"]["containers"][0]["image"]
    err = invalid("Pod", "web-1", validate_builtin(obj, "", "v1", "Pod"))
    assert err.code == 422
    assert err.message == 'Pod "web-1" is invalid: spec.containers[0].image: Required value'


def test_no_containers() -> None:
    causes = validate_builtin(pod(containers=[]), "", "v1", "Pod")
    assert fields(causes) == {"spec.containers": "Required value"}


@pytest.mark.parametrize(
    ("sub_path", "messages"),
    [
        ("a/b", []),
        ("a..b/..c/c..", []),
        ("./a/.", []),
        ("..", ["must not contain '..'"]),
        ("a/../b", ["must not contain '..'"]),
        ("a/..", ["must not contain '..'"]),
        ("/etc", ["must be a relative path"]),
        ("/../etc", ["must be a relative path", "must not contain '..'"]),
    ],
)
def test_sub_path_must_stay_in_its_volume(sub_path: str, messages: list[str]) -> None:
    """Upstream's validateLocalDescendingPath, under the field name upstream uses (without the mount's
    index: ValidateVolumeMounts passes the list's path)."""
    obj = pod()
    obj["spec"]["containers"][0]["volumeMounts"][0]["subPath"] = sub_path
    causes = validate_builtin(obj, "", "v1", "Pod")
    value = format_value(sub_path)
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "message": f"Invalid value: {value}: {m}",
            "field": "spec.containers[0].volumeMounts.subPath",
        }
        for m in messages
    ]


def test_sub_path_expr_init_and_ephemeral_containers() -> None:
    mount = {"name": "data", "mountPath": "/w", "subPath": "a", "subPathExpr": "$(USER)/../x"}
    init = {"name": "init", "image": "busybox", "volumeMounts": [mount]}
    debug = {
        "name": "debug",
        "image": "busybox",
        "volumeMounts": [{"name": "data", "mountPath": "/d", "subPath": "d"}],
    }
    causes = validate_builtin(pod(initContainers=[init], ephemeralContainers=[debug]), "", "v1", "Pod")
    assert [(c["field"], c["message"]) for c in causes] == [
        (
            "spec.initContainers[0].volumeMounts[0].subPathExpr",
            'Invalid value: "$(USER)/../x": subPathExpr and subPath are mutually exclusive',
        ),
        (
            "spec.initContainers[0].volumeMounts.subPathExpr",
            "Invalid value: \"$(USER)/../x\": must not contain '..'",
        ),
        (
            "spec.ephemeralContainers[0].volumeMounts[0].subPath",
            "Forbidden: cannot be set for an Ephemeral Container",
        ),
    ]


def test_workload_templates_check_sub_paths() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": pod()["spec"]}
    template["spec"]["containers"][0]["volumeMounts"][0]["subPath"] = "/abs"
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
    }
    causes = fields(validate_builtin(deployment, "apps", "v1", "Deployment"))
    field = "spec.template.spec.containers[0].volumeMounts.subPath"
    assert causes == {field: 'Invalid value: "/abs": must be a relative path'}


def test_container_names_must_be_dns_labels_and_unique() -> None:
    obj = pod()
    second = copy.deepcopy(obj["spec"]["containers"][0])
    second["ports"] = []
    second["volumeMounts"] = []
    obj["spec"]["containers"].append(second)
    obj["spec"]["initContainers"] = [{"name": "Init_1", "image": "busybox"}]
    got = fields(validate_builtin(obj, "", "v1", "Pod"))
    assert got["spec.containers[1].name"] == 'Duplicate value: "web"'
    assert got["spec.initContainers[0].name"] == f'Invalid value: "Init_1": {LABEL_MSG}'


def test_container_port_range_and_protocol() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["ports"] = [
        {"containerPort": 0},
        {"containerPort": 70000, "protocol": "HTTP"},
    ]
    got = fields(validate_builtin(obj, "", "v1", "Pod"))
    assert got["spec.containers[0].ports[0].containerPort"] == "Required value"
    assert got["spec.containers[0].ports[1].containerPort"] == (
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    )
    assert got["spec.containers[0].ports[1].protocol"] == (
        'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'
    )


def test_duplicate_volume_names_and_missing_volume_source() -> None:
    obj = pod(volumes=[{"name": "data", "emptyDir": {}}, {"name": "data"}])
    got = fields(validate_builtin(obj, "", "v1", "Pod"))
    assert got["spec.volumes[1].name"] == 'Duplicate value: "data"'
    assert got["spec.volumes[1]"] == "Required value: must specify a volume type"


def test_restart_policy_not_supported() -> None:
    got = fields(validate_builtin(pod(restartPolicy="Sometimes"), "", "v1", "Pod"))
    assert got["spec.restartPolicy"] == (
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'
    )


def test_requests_above_limits() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}
    got = fields(validate_builtin(obj, "", "v1", "Pod"))
    assert got["spec.containers[0].resources.requests[cpu]"] == (
        'Invalid value: "2": must be less than or equal to cpu limit of 1'
    )


def test_wrong_json_type_is_a_decode_error_like_the_go_decoder() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["ports"][0]["containerPort"] = "80"
    result = check_builtin(obj, "", "v1", "Pod")
    assert result.decode_error == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field '
        "ContainerPort.spec.containers.ports.containerPort of type int32"
    )
    assert result.causes == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec.containers[0].ports[0].containerPort in body must be '
            'of type integer: "string"',
            "field": "spec.containers[0].ports[0].containerPort",
        }
    ]


def test_top_level_type_error_names_the_kind_struct() -> None:
    obj = pod()
    obj["spec"] = "nope"
    result = check_builtin(obj, "", "v1", "Pod")
    assert result.decode_error == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field '
        "Pod.spec of type v1.PodSpec"
    )


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("abc", QUANTITY_MSG),
        ("1GG", "unable to parse quantity's suffix"),
        ("32MMi", "unable to parse quantity's suffix"),
        ("", QUANTITY_MSG),
        ("1.2.3", QUANTITY_MSG),
    ],
)
def test_bad_quantity_is_a_decode_error(quantity: str, message: str) -> None:
    obj = pod()
    obj["spec"]["containers"][0]["resources"]["limits"]["memory"] = quantity
    result = check_builtin(obj, "", "v1", "Pod")
    assert result.decode_error == f'Pod in version "v1" cannot be handled as a Pod: {message}'
    assert result.causes[0]["field"] == "spec.containers[0].resources.limits[memory]"
    assert result.causes[0]["message"] == f"Invalid value: {format_value(quantity)}: {message}"


def test_secret_data_must_be_base64() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"ok": "YQ==", "bad": "a$b"},
    }
    result = check_builtin(secret, "", "v1", "Secret")
    assert result.decode_error == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 1'
    )


def test_null_is_accepted_anywhere() -> None:
    obj = pod(nodeSelector=None, hostname=None)
    obj["metadata"]["annotations"] = None
    assert check_builtin(obj, "", "v1", "Pod").causes == []


def test_unknown_fields_in_document_order_with_indices() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["bar"] = 2
    obj["spec"]["foo"] = 1
    obj["metadata"]["x"] = True
    unknown = unknown_fields(obj, "", "v1", "Pod")
    assert unknown == ["metadata.x", "spec.containers[0].bar", "spec.foo"]
    assert strict_decoding_message("Pod", "v1", unknown[1:]) == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].bar", unknown field "spec.foo"'
    )
    assert unknown_field_warnings(["spec.foo"]) == ['unknown field "spec.foo"']


def test_object_names_per_kind() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}
    assert fields(validate_builtin(ns, "", "v1", "Namespace")) == {
        "metadata.name": 'Invalid value: "a.b": must not contain dots'
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "1svc"},
        "spec": {"ports": [{"port": 80}]},
    }
    msg = fields(validate_builtin(svc, "", "v1", "Service"))["metadata.name"]
    assert msg.startswith('Invalid value: "1svc": a DNS-1035 label must consist of lower case alphanumeric')
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:controller:x"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    assert validate_builtin(role, "rbac.authorization.k8s.io", "v1", "ClusterRole") == []
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}
    assert fields(validate_builtin(cm, "", "v1", "ConfigMap")) == {
        "metadata.name": f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}'
    }


def test_name_length_and_generate_name() -> None:
    long_name = "a" * 254
    got = fields(validate_object_meta({"name": long_name}))
    assert got["metadata.name"].startswith(
        f'Invalid value: "{long_name}": must be no more than 253 characters'
    )
    assert validate_object_meta({"generateName": "web-"}) == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: name or generateName is required",
            "field": "metadata.name",
        }
    ]


def test_labels_and_annotations() -> None:
    causes = validate_object_meta({"name": "x", "labels": {"bad key!": "ok", "app": "-bad"}})
    messages = [c["message"] for c in causes]
    assert all(c["field"] == "metadata.labels" for c in causes)
    assert any(
        m.startswith('Invalid value: "bad key!": name part must consist of alphanumeric') for m in messages
    )
    assert any(m.startswith('Invalid value: "-bad": a valid label must be an empty string') for m in messages)
    big = {"name": "x", "annotations": {"a": "x" * (256 * 1024)}}
    assert fields(validate_object_meta(big)) == {
        "metadata.annotations": "Too long: may not be more than 262144 bytes"
    }


def test_namespace_presence() -> None:
    assert fields(validate_object_meta({"name": "x"}, namespaced=True)) == {
        "metadata.namespace": "Required value"
    }
    assert fields(validate_object_meta({"name": "x", "namespace": "d"}, namespaced=False)) == {
        "metadata.namespace": "Forbidden: not allowed on this type"
    }


def test_pvc_access_modes_and_storage() -> None:
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"}, "spec": {}}
    assert fields(validate_builtin(pvc, "", "v1", "PersistentVolumeClaim")) == {
        "spec.accessModes": "Required value: at least 1 access mode is required",
        "spec.resources[storage]": "Required value",
    }
    pvc["spec"] = {"accessModes": ["ReadWriteSometimes"], "resources": {"requests": {"storage": "0"}}}
    got = fields(validate_builtin(pvc, "", "v1", "PersistentVolumeClaim"))
    assert got["spec.accessModes"] == (
        'Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", '
        '"ReadWriteOnce", "ReadWriteOncePod"'
    )
    assert got["spec.resources[storage]"] == 'Invalid value: "0": must be greater than zero'


def test_service_ports() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": []}}
    assert fields(validate_builtin(svc, "", "v1", "Service")) == {"spec.ports": "Required value"}
    svc["spec"] = {"clusterIP": "None"}
    assert validate_builtin(svc, "", "v1", "Service") == []
    svc["spec"] = {"ports": [{"port": 80}, {"port": 0, "name": "b"}]}
    got = fields(validate_builtin(svc, "", "v1", "Service"))
    assert got["spec.ports[0].name"] == "Required value"
    assert got["spec.ports[1].port"] == "Invalid value: 0: must be between 1 and 65535, inclusive"


def test_deployment_selector_must_match_template() -> None:
    deploy: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": pod()["spec"]},
        },
    }
    assert fields(validate_builtin(deploy, "apps", "v1", "Deployment")) == {
        "spec.template.metadata.labels": (
            'Invalid value: {"app":"y"}: `selector` does not match template `labels`'
        )
    }
    del deploy["spec"]["selector"]
    assert fields(validate_builtin(deploy, "apps", "v1", "Deployment")) == {"spec.selector": "Required value"}


def test_configmap_keys() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a b": "x"}}
    got = fields(validate_builtin(cm, "", "v1", "ConfigMap"))
    assert got["data[a b]"].startswith(
        'Invalid value: "a b": a valid config key must consist of alphanumeric'
    )


def test_rbac_binding_and_required_fields() -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "b", "namespace": "d"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Thing", "name": "r"},
        "subjects": [{"kind": "ServiceAccount"}],
    }
    got = fields(validate_builtin(binding, "rbac.authorization.k8s.io", "v1", "RoleBinding"))
    assert got["roleRef.kind"] == 'Unsupported value: "Thing": supported values: "Role", "ClusterRole"'
    assert got["subjects[0].name"] == "Required value"


def test_metadata_checks_can_be_left_to_the_server() -> None:
    obj = pod()
    obj["metadata"]["name"] = "Bad_Name"
    assert validate_builtin(obj, "", "v1", "Pod", include_metadata=False) == []
    assert [c["field"] for c in validate_builtin(obj, "", "v1", "Pod")] == ["metadata.name"]


def test_unknown_kind_is_accepted() -> None:
    assert check_builtin({"x": 1}, "example.com", "v1", "Nope").causes == []


def test_node_status_from_a_kubelet_is_not_over_validated() -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "sim-node"},
        "status": {"nodeInfo": {"kubeletVersion": "v1.34.0"}, "capacity": {"cpu": "4", "pods": "110"}},
    }
    assert check_builtin(node, "", "v1", "Node").causes == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("1Gi", Decimal(2**30)),
        ("1e3", Decimal(1000)),
        ("1.5k", Decimal(1500)),
        ("0", Decimal(0)),
        ("-2Mi", Decimal(-2 * 2**20)),
        ("100n", Decimal("0.0000001")),
        ("1.", Decimal(1)),
        (3, Decimal(3)),
        (0.25, Decimal("0.25")),
    ],
)
def test_parse_quantity(text: str | int | float, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1GG", "unable to parse quantity's suffix"),
        ("x", QUANTITY_MSG),
        (".", "unable to parse quantity's numeric part"),
    ],
)
def test_parse_quantity_errors(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert str(info.value) == message


@given(
    st.integers(min_value=0, max_value=10**12), st.sampled_from(["", "k", "M", "G", "Ki", "Mi", "Gi", "m"])
)
def test_parse_quantity_roundtrip(number: int, suffix: str) -> None:
    scale = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    expected = Decimal(number) / 1000 if suffix == "m" else Decimal(number) * scale[suffix]
    assert parse_quantity(f"{number}{suffix}") == expected


def test_name_helpers() -> None:
    assert is_dns1123_label("my-name") == []
    assert is_dns1123_subdomain("a.b-c") == []
    assert is_qualified_name("example.com/MyName") == []
    assert is_qualified_name("a/b/c")[0].startswith("a qualified name must consist of alphanumeric")
    assert is_qualified_name("/x") == ["prefix part must be non-empty"]


def test_field_error_wording() -> None:
    assert format_value(1.5) == "1.5"
    assert format_value(None) == "null"
    assert format_value({"b": 1, "a": [True]}) == '{"a":[true],"b":1}'
    assert err_too_long("x", 63)["message"] == "Too long: may not be more than 63 bytes"
    assert err_too_many("x", 4, 3)["message"] == "Too many: 4: must have at most 3 items"
    assert err_not_supported("x", 1, ["a"])["message"] == 'Unsupported value: 1: supported values: "a"'


def test_validation_is_fast() -> None:
    obj = pod()
    check_builtin(obj, "", "v1", "Pod")  # compile the Pod type tree once
    rounds = 500
    start = time.perf_counter()
    for _ in range(rounds):
        check_builtin(obj, "", "v1", "Pod")
    per_pod = (time.perf_counter() - start) / rounds
    assert per_pod < 0.001, f"{per_pod * 1e6:.0f} us per pod"
