"""Templates as a contract (issue 15), through the operator on both backends: declared variables' defaults
reach the objects, a template change marks running instances TemplateOutdated without touching their pods
(the next instance uses the new template, the template's status counts its users by generation and
``kubectl get jnt`` shows them), and instances outliving the template's maxLifetime are stopped."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kopf.testing import KopfRunner

from jupyternetes.spawner.status import poll_status
from tests.conftest import wait_until
from tests.integration.kubesim.conformance_support import make_tool
from tests.integration.operator.conftest import Env
from tests.integration.operator.test_bad_input import _instance, _template

PLURAL = "jupyternotebooktemplates"


def _template_obj(env: Env, name: str) -> dict[str, Any]:
    out: dict[str, Any] = env.custom.get_namespaced_custom_object("kadense.io", "v1", env.tns, PLURAL, name)
    return out


def _container(env: Env, pod: str) -> Any:
    return env.pod(env.ns, pod).spec.containers[0]


def test_declared_defaults_reach_the_objects(env: Env, operator: KopfRunner) -> None:
    t = _template(env, "sized")
    t["spec"]["variables"] = [
        {"name": "user", "required": True},
        {"name": "memory", "type": "quantity", "default": "512Mi", "maximum": "2Gi"},
        {"name": "debug", "type": "boolean", "default": True},
    ]
    pod = t["spec"]["pods"][0]["spec"]["containers"][0]
    pod["resources"] = {"limits": {"memory": "{memory}"}}
    pod["env"].append({"name": "DEBUG", "value": "{debug}"})
    env.create_template(t)
    stored = _template_obj(env, "sized")["spec"]["variables"]
    assert stored[2]["default"] is True  # any JSON scalar is kept as written (rendered as text: "true")
    env.create_instance(_instance(env, "defaults", template="sized"))
    wait_until(lambda: env.pod(env.ns, "defaults-main"), 30, message="the pod")
    container = _container(env, "defaults-main")
    assert container.resources.limits["memory"] == "512Mi"
    assert {e.name: e.value for e in container.env}["DEBUG"] == "true"


def test_template_change_marks_running_instances_and_the_next_start_uses_it(
    env: Env, operator: KopfRunner, tmp_path: Path
) -> None:
    ns = env.ns
    env.create_template(_template(env, "t"))
    env.create_instance(_instance(env, "first"))
    wait_until(lambda: env.is_true(ns, "first", "Provisioned"), 30, message="first provisioned")
    pod_uid = env.pod(ns, "first-main").metadata.uid
    assert (env.instance(ns, "first") or {})["status"]["templateGeneration"] == 1
    wait_until(
        lambda: (_template_obj(env, "t").get("status") or {}).get("instancesByGeneration") == {"1": 1},
        30,
        message="the template counts its instance",
    )
    up_to_date = env.condition(ns, "first", "TemplateOutdated")
    assert up_to_date is not None
    assert (up_to_date["status"], up_to_date["reason"]) == ("False", "UpToDate")

    changed = copy.deepcopy(_template_obj(env, "t"))
    container = changed["spec"]["pods"][0]["spec"]["containers"][0]
    container["image"] = "jupyter/base:2"
    container["resources"] = {"limits": {"memory": "1Gi"}}
    env.custom.replace_namespaced_custom_object("kadense.io", "v1", env.tns, PLURAL, "t", changed)

    outdated = wait_until(
        lambda: (c := env.condition(ns, "first", "TemplateOutdated")) and c["status"] == "True" and c,
        30,
        message="first marked TemplateOutdated",
    )
    assert outdated["reason"] == "TemplateChanged"
    assert "generation 1 -> 2" in outdated["message"], outdated
    assert "image, resources" in outdated["message"], outdated
    wait_until(
        lambda: any(e.reason == "TemplateOutdated" for e in env.events(ns, "first")),
        10,
        message="a TemplateOutdated event",
    )
    # The running server is not touched.
    pod = env.pod(ns, "first-main")
    assert (pod.metadata.uid, pod.spec.containers[0].image) == (pod_uid, "jupyter/base:1")
    assert (env.instance(ns, "first") or {})["status"]["templateGeneration"] == 1
    status = wait_until(
        lambda: (s := _template_obj(env, "t").get("status") or {}).get("outdated") == 1 and s,
        30,
        message="the template counts an outdated instance",
    )
    assert (status["instances"], status["instancesByGeneration"], status["observedGeneration"]) == (
        1,
        {"1": 1},
        2,
    )

    # The next start (a new instance) uses the new template.
    env.create_instance(_instance(env, "second"))
    wait_until(lambda: env.pod(ns, "second-main"), 30, message="second's pod")
    assert _container(env, "second-main").image == "jupyter/base:2"
    wait_until(lambda: env.is_true(ns, "second", "Provisioned"), 30, message="second provisioned")
    # Compared with its template once provisioned (the reconcile after the one that provisioned it).
    current = wait_until(
        lambda: env.condition(ns, "second", "TemplateOutdated"),
        30,
        message="second compared with its template",
    )
    assert (current["status"], current["reason"]) == ("False", "UpToDate"), current
    wait_until(
        lambda: (
            (_template_obj(env, "t").get("status") or {}).get("instancesByGeneration") == {"1": 1, "2": 1}
        ),
        30,
        message="the template counts both generations",
    )
    kubectl = make_tool("kubectl", env.cluster.kubeconfig, tmp_path)
    rows = [line.split() for line in kubectl("get", "jnt", "t", "-n", env.tns).strip().splitlines()]
    assert rows[0][:6] == ["NAME", "PODS", "PVCS", "GENERATION", "INSTANCES", "OUTDATED"], rows
    assert rows[1][:6] == ["t", "main", "work", "2", "2", "1"], rows

    env.delete_instance(ns, "first")
    wait_until(
        lambda: (_template_obj(env, "t").get("status") or {}).get("instancesByGeneration") == {"2": 1},
        60,
        message="the deleted instance is no longer counted",
    )


def test_a_change_that_does_not_touch_an_instance_leaves_it_up_to_date(
    env: Env, operator: KopfRunner
) -> None:
    ns = env.ns
    t = _template(env, "t")
    t["spec"]["pods"].append(
        {"name": "extra", "condition": "{extra}", "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    )
    env.create_template(t)
    env.create_instance(_instance(env, "plain", extra="false"))
    wait_until(lambda: env.is_true(ns, "plain", "Provisioned"), 30, message="provisioned")
    changed = copy.deepcopy(_template_obj(env, "t"))
    changed["spec"]["pods"][1]["spec"]["containers"][0]["image"] = "x:2"  # only the skipped entry
    env.custom.replace_namespaced_custom_object("kadense.io", "v1", env.tns, PLURAL, "t", changed)
    cond = wait_until(
        lambda: (c := env.condition(ns, "plain", "TemplateOutdated")) and c["reason"] != "UpToDate" and c,
        30,
        message="the change looked at",
    )
    assert (cond["status"], cond["reason"]) == ("False", "NoChangeForThisServer"), cond


def test_an_instance_outliving_max_lifetime_is_stopped_and_keeps_its_volumes(
    env: Env, operator: KopfRunner
) -> None:
    ns = env.ns
    t = _template(env, "short")
    t["spec"]["maxLifetime"] = "4s"
    env.create_template(t)
    env.create_instance(_instance(env, "brief", template="short"))
    wait_until(lambda: env.is_true(ns, "brief", "Provisioned"), 30, message="provisioned")
    assert env.pod(ns, "brief-main") is not None
    assert env.condition(ns, "brief", "Expired") is None
    expired = wait_until(
        lambda: (c := env.condition(ns, "brief", "Expired")) and c["status"] == "True" and c,
        30,
        message="Expired",
    )
    assert "maxLifetime 4s" in expired["message"], expired
    wait_until(lambda: env.pod(ns, "brief-main") is None, 60, message="the pod deleted")
    pvc = env.pvc(ns, "brief-work")
    assert pvc is not None
    assert pvc.metadata.deletion_timestamp is None
    ready = env.condition(ns, "brief", "Ready") or {}
    assert (ready.get("status"), ready.get("reason")) == ("False", "Expired"), ready
    # A pod deleted at expiry is no failure (the hub's poll() reports the server stopped, exit status 0).
    assert (env.condition(ns, "brief", "Failed") or {}).get("status") == "False"
    assert poll_status(env.instance(ns, "brief")) == 0
    wait_until(
        lambda: any(e.reason == "Expired" for e in env.events(ns, "brief")), 10, message="an Expired event"
    )
    # Still stopped a while later: nothing is created again.
    assert env.pod(ns, "brief-main") is None
