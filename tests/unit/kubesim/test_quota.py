"""kubesim.quota: quantities printed as resource.Quantity prints them, which collection a quota resource
name counts, pod usage (init and sidecar containers, overhead, terminal phases) and scopes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kubesim.quota import (
    PODS,
    PVCS,
    SERVICES,
    Quantity,
    canonical,
    collection_of,
    constraints,
    scope_selectors,
    scopes_match,
    usage,
)


@pytest.mark.parametrize(
    ("raw", "printed"),
    [
        ("500m", "500m"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("1000m", "1"),
        ("2000", "2k"),
        ("1000k", "1M"),
        ("0.1", "100m"),
        ("1e3", "1e3"),
        ("1.5e3", "1500"),
        ("12e6", "12e6"),
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("1.5Ki", "1536"),
        ("0.0000000001", "1n"),
        (5, "5"),
        ("0", "0"),
    ],
)
def test_quantities_print_canonically(raw: Any, printed: str) -> None:
    assert str(Quantity.parse(raw)) == printed


def test_sums_keep_the_format_of_the_first_non_zero_term() -> None:
    zero = Quantity(Decimal(0))
    assert str(zero + Quantity.parse("512Mi") + Quantity.parse("512Mi")) == "1Gi"
    assert str(zero + Quantity.parse("1G")) == "1G"
    assert canonical(Decimal("1.25"), "DecimalSI") == "1250m"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("pods", PODS),
        ("count/pods", PODS),
        ("requests.cpu", PODS),
        ("limits.memory", PODS),
        ("hugepages-2Mi", PODS),
        ("requests.example.com/gpu", PODS),
        ("services.nodeports", SERVICES),
        ("requests.storage", PVCS),
        ("gold.storageclass.storage.k8s.io/requests.storage", PVCS),
        ("gold.storageclass.storage.k8s.io/persistentvolumeclaims", PVCS),
        ("secrets", ("", "secrets")),
        ("count/deployments.apps", ("apps", "deployments")),
        ("count/widgets.example.com", ("example.com", "widgets")),
        ("count/events", None),
        ("no-such-thing", None),
    ],
)
def test_collection_of_a_resource_name(name: str, key: tuple[str, str] | None) -> None:
    assert collection_of(name) == key


def _c(name: str, cpu: str | None = None, **extra: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": "i", **extra}
    if cpu:
        c["resources"] = {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}
    return c


def test_pod_usage_with_init_and_sidecar_containers_and_overhead() -> None:
    pod = {
        "spec": {
            "containers": [_c("app", "1")],
            "initContainers": [
                _c("first", "2"),
                _c("sidecar", "500m", restartPolicy="Always"),
                _c("second", "1"),
            ],
            "overhead": {"cpu": "100m"},
        }
    }
    got = {k: str(v) for k, v in usage(PODS, pod).items()}
    # max(1 + 0.5 sidecar, 2 for the first init container, 1 + 0.5 for the second) + 0.1 overhead.
    assert got == {
        "count/pods": "1",
        "pods": "1",
        "cpu": "2100m",
        "requests.cpu": "2100m",
        "limits.cpu": "2100m",
    }
    pod["status"] = {"phase": "Failed"}
    assert {k: str(v) for k, v in usage(PODS, pod).items()} == {"count/pods": "1"}


def test_pvc_usage_rounds_up_and_names_the_class() -> None:
    pvc = {
        "metadata": {"annotations": {}},
        "spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1.5"}}},
    }
    got = {k: str(v) for k, v in usage(PVCS, pvc).items()}
    assert got == {
        "persistentvolumeclaims": "1",
        "count/persistentvolumeclaims": "1",
        "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "requests.storage": "2",
        "gold.storageclass.storage.k8s.io/requests.storage": "2",
    }


def test_constraints_name_each_missing_resource_and_container() -> None:
    pod = {"spec": {"containers": [_c("a", "1"), _c("b")], "initContainers": [_c("init")]}}
    names = frozenset({"requests.cpu", "limits.memory", "pods"})
    assert (
        constraints(PODS, names, pod) == "must specify limits.memory for: a,b,init; requests.cpu for: b,init"
    )
    assert constraints(PODS, frozenset({"pods"}), pod) == ""
    assert constraints(SERVICES, names, pod) == ""


def test_pod_scopes() -> None:
    best_effort = {"spec": {"containers": [_c("a")]}}
    burstable_job = {
        "spec": {"containers": [_c("a", "1")], "activeDeadlineSeconds": 30, "priorityClassName": "high"}
    }
    quota = {
        "spec": {
            "scopes": ["NotBestEffort"],
            "scopeSelector": {
                "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]
            },
        }
    }
    selectors = scope_selectors(quota)
    assert scopes_match(PODS, selectors, burstable_job)
    assert not scopes_match(PODS, selectors, best_effort)
    terminating = scope_selectors({"spec": {"scopes": ["Terminating"]}})
    assert scopes_match(PODS, terminating, burstable_job)
    assert not scopes_match(PODS, terminating, best_effort)
    # Other kinds have no scopes: a scoped quota never selects them.
    assert not scopes_match(("", "secrets"), terminating, {})
    assert scopes_match(("", "secrets"), [], {})
