"""Bad input gets a clear answer: a Failed condition and an Event naming the problem, nothing created
half-way, and the operator keeps serving other instances."""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Callable
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kubernetes.client import ApiException

from tests.conftest import wait_until
from tests.integration.operator.conftest import Env, operator_runner


def _template(env: Env, name: str = "t", **pod_overrides: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "notebook",
        "image": "jupyter/base:1",
        "ports": [{"containerPort": 8888, "name": "http"}],
        "env": [{"name": "USER", "value": "{user}"}],
        "volumeMounts": [{"name": "work", "mountPath": "/home/{user}"}],
    }
    container.update(pod_overrides)
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookTemplate",
        "metadata": {"name": name, "namespace": env.tns},
        "spec": {
            "pvcs": [
                {
                    "name": "work",
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
            "pods": [
                {
                    "name": "main",
                    "spec": {
                        "containers": [container],
                        "volumes": [
                            {
                                "name": "work",
                                "persistentVolumeClaim": {"claimName": "{jupyternetes.pvcs.work}"},
                            }
                        ],
                    },
                }
            ],
        },
    }


def _instance(
    env: Env,
    name: str,
    template: str = "t",
    namespace: str | None = None,
    tns: str | None = None,
    **variables: str,
) -> dict[str, Any]:
    """An instance in ``env.ns`` (or ``namespace``) of the template ``tns/template`` (``env.tns`` by
    default)."""
    spec: dict[str, Any] = {"template": {"name": template}, "variables": {"user": "ana", **variables}}
    spec["template"]["namespace"] = tns or env.tns
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": name, "namespace": namespace or env.ns},
        "spec": spec,
    }


def _failed(env: Env, name: str) -> dict[str, Any]:
    cond: dict[str, Any] = wait_until(
        lambda: (c := env.condition(env.ns, name, "Failed")) and c["status"] == "True" and c,
        30,
        message=f"instance {name} Failed",
    )
    return cond


def _assert_clean_failure(env: Env, name: str, reason: str, *needles: str) -> dict[str, Any]:
    cond = _failed(env, name)
    assert cond["reason"] == reason, cond
    needles = tuple(n.replace("<tns>", env.tns) for n in needles)
    for needle in needles:
        assert needle in cond["message"], cond["message"]
    wait_until(
        lambda: any(
            e.reason == reason and all(n in e.message for n in needles) for e in env.events(env.ns, name)
        ),
        10,
        message=f"a {reason} event on {name}",
    )
    pods = [
        p.metadata.name
        for p in env.core.list_namespaced_pod(env.ns).items
        if p.metadata.name.startswith(name)
    ]
    pvcs = [
        p.metadata.name
        for p in env.core.list_namespaced_persistent_volume_claim(env.ns).items
        if p.metadata.name.startswith(name)
    ]
    assert pods == [], f"nothing is created half-way: {pods}"
    assert pvcs == [], f"nothing is created half-way: {pvcs}"
    return cond


def _still_serving(env: Env) -> None:
    env.create_instance(_instance(env, "healthy"))
    wait_until(
        lambda: env.is_true(env.ns, "healthy", "Provisioned"), 30, message="another instance provisioned"
    )


@pytest.fixture
def setup(env: Env, operator: KopfRunner) -> Env:
    env.create_template(_template(env))
    return env


Case = tuple[Callable[[Env], dict[str, Any]], str, tuple[str, ...]]


def _template_with(name: str, mutate: Callable[[dict[str, Any]], None]) -> Callable[[Env], dict[str, Any]]:
    def make(env: Env) -> dict[str, Any]:
        t = _template(env, name)
        mutate(t)
        env.create_template(t)
        return _instance(env, "bad", template=name)

    return make


def _pod(t: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = t["spec"]["pods"][0]["spec"]["containers"][0]
    return pod


def _declared(env: Env, **variables: str) -> dict[str, Any]:
    """An instance of a template declaring its variables (user: required, size: an enum)."""
    t = _template(env, "declared")
    t["spec"]["variables"] = [
        {"name": "user", "required": True, "pattern": "[a-z]+"},
        {"name": "size", "type": "enum", "enum": ["small", "large"], "default": "small"},
    ]
    try:
        env.create_template(t)
    except ApiException as exc:
        if exc.status != 409:  # made once per case (the case's lambda may call this twice)
            raise
    return _instance(env, "bad", template="declared", **variables)


CASES: dict[str, Case] = {
    "template missing": (
        lambda env: _instance(env, "bad", template="nope"),
        "TemplateNotFound",
        ('"nope" not found', '"<tns>"'),
    ),
    "template namespace not allowed": (
        lambda env: _instance(env, "bad", tns="default"),
        "TemplateNotAllowed",
        ('"default" is not allowed',),
    ),
    "undefined variable": (
        _template_with("undef", lambda t: _pod(t)["env"].append({"name": "X", "value": "{jupyterhub.nope}"})),
        "RenderFailed",
        ("jupyterhub.nope", "pods[main].spec.containers[0].env[1].value"),
    ),
    "unbalanced braces": (
        _template_with("brace", lambda t: _pod(t)["env"].append({"name": "J", "value": '{"a": 1'})),
        "RenderFailed",
        ("env[1].value", "{{"),
    ),
    "string where an integer belongs": (
        _template_with("port", lambda t: _pod(t)["ports"].__setitem__(0, {"containerPort": "{user}"})),
        "InvalidObject",
        ("containerPort",),
    ),
    "bad resource quantity": (
        _template_with("qty", lambda t: _pod(t).__setitem__("resources", {"requests": {"memory": "1GG"}})),
        "InvalidObject",
        ("1GG",),
    ),
    "container name too long": (
        _template_with("long", lambda t: _pod(t).__setitem__("name", "c{user}" + "x" * 70)),
        "InvalidObject",
        ("containers[0].name",),
    ),
    "PVC entry that does not exist": (
        _template_with(
            "nopvc",
            lambda t: t["spec"]["pods"][0]["spec"]["volumes"][0]["persistentVolumeClaim"].__setitem__(
                "claimName", "{jupyternetes.pvcs.scratch}"
            ),
        ),
        "RenderFailed",
        ("scratch",),
    ),
    "two entries with the same name": (
        _template_with(
            "dup", lambda t: t["spec"]["pods"].__setitem__(0, {**t["spec"]["pods"][0], "name": "work"})
        ),
        "TemplateInvalid",
        ('duplicate entry name "work"',),
    ),
    "variable outside its declared enum": (
        lambda env: _declared(env, size="huge"),
        "InvalidVariables",
        ('variable "size"', "\"huge\" is not one of 'small', 'large'"),
    ),
    "undeclared variable": (
        lambda env: _declared(env, colour="red"),
        "InvalidVariables",
        ('variable "colour" is not declared',),
    ),
    "required variable missing": (
        lambda env: {**_declared(env), "spec": {**_declared(env)["spec"], "variables": {"size": "small"}}},
        "InvalidVariables",
        ('variable "user" is required',),
    ),
    "missing variablesFrom secret": (
        lambda env: {
            **_instance(env, "bad"),
            "spec": {**_instance(env, "bad")["spec"], "variablesFrom": [{"secretRef": {"name": "absent"}}]},
        },
        "SecretNotFound",
        ('"absent" not found',),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_cleanly(setup: Env, case: str) -> None:
    make, reason, needles = CASES[case]
    setup.create_instance(make(setup))
    _assert_clean_failure(setup, "bad", reason, *needles)
    _still_serving(setup)


def test_other_resource_of_unknown_kind_is_an_entry_error(setup: Env) -> None:
    t = _template(setup, "other")
    t["spec"]["otherResources"] = [
        {"name": "gadget", "apiVersion": "example.com/v1", "kind": "Gadget", "body": {"spec": {"size": 1}}}
    ]
    setup.create_template(t)
    setup.create_instance(_instance(setup, "bad", template="other"))
    cond = _failed(setup, "bad")
    assert "example.com/v1" in cond["message"], cond
    status = (setup.instance(setup.ns, "bad") or {})["status"]
    assert status["otherResources"].get("gadget", {}).get("state") == "Error", (status, cond)
    assert "Gadget" in status["otherResources"]["gadget"]["errorMessage"]
    _still_serving(setup)


def test_huge_and_non_ascii_values(setup: Env) -> None:
    ns = setup.ns
    setup.create_instance(_instance(setup, "unicode", user="ana", greeting="héllo wörld ✓ 日本語"))
    t = _template(setup, "greet")
    _pod(t)["env"].append({"name": "GREETING", "value": "{greeting}"})
    setup.create_template(t)
    setup.delete_instance(ns, "unicode")
    setup.create_instance(_instance(setup, "unicode2", template="greet", greeting="héllo wörld ✓ 日本語"))
    wait_until(lambda: setup.pod(ns, "unicode2-main"), 30, message="pod with non-ASCII env")
    env = {e.name: e.value for e in setup.pod(ns, "unicode2-main").spec.containers[0].env}
    assert env["GREETING"] == "héllo wörld ✓ 日本語"

    big = "x" * (1024 * 1024)
    setup.create_instance(_instance(setup, "huge", template="greet", greeting=big))
    cond = _failed(setup, "huge")
    assert cond["reason"] == "InvalidObject", cond
    assert "too large" in cond["message"], cond
    assert setup.pod(ns, "huge-main") is None
    _still_serving(setup)


def test_secret_variables(setup: Env) -> None:
    ns = setup.ns
    setup.core.create_namespaced_secret(
        ns, {"metadata": {"name": "vars"}, "data": {"token": base64.b64encode(b"s3cret").decode()}}
    )
    t = _template(setup, "sec")
    _pod(t)["env"].append({"name": "TOKEN", "value": "{token}"})
    setup.create_template(t)
    inst = _instance(setup, "sec", template="sec")
    inst["spec"]["variablesFrom"] = [{"secretRef": {"name": "vars"}}]
    setup.create_instance(inst)
    wait_until(lambda: setup.pod(ns, "sec-main"), 30, message="pod rendered with a secret variable")
    env = {e.name: e.value for e in setup.pod(ns, "sec-main").spec.containers[0].env}
    assert env["TOKEN"] == "s3cret"


def test_instance_in_unwatched_namespace_is_left_alone(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = env.add_namespace("elsewhere")
    env.create_template(_template(env))
    with operator_runner(env, monkeypatch, watchedNamespaces=[env.ns]) as runner:
        env.create_instance(_instance(env, "ignored", namespace=elsewhere))
        env.create_instance(_instance(env, "served"))
        wait_until(
            lambda: env.is_true(env.ns, "served", "Provisioned"), 30, message="watched instance served"
        )
        assert (env.instance(elsewhere, "ignored") or {}).get("status") is None
        assert env.core.list_namespaced_pod(elsewhere).items == []
    assert runner.exit_code == 0, runner.output


def test_template_change_does_not_disturb_running_instance(setup: Env) -> None:
    ns, tns = setup.ns, setup.tns
    setup.create_instance(_instance(setup, "first"))
    wait_until(lambda: setup.pod(ns, "first-main"), 30, message="first pod")
    # The operator renders from its watch cache, and watches of different kinds are not ordered with each
    # other (upstream: separate streams), so an instance created right after the edit may be rendered from
    # the previous version. A barrier in the templates' own stream: an instance waiting for a template that
    # does not exist yet is reconciled again only when that template's creation comes through the watch,
    # after the edit.
    setup.create_instance(_instance(setup, "probe", template="barrier"))
    assert _failed(setup, "probe")["reason"] == "TemplateNotFound"
    t = copy.deepcopy(_template(setup))
    _pod(t)["image"] = "jupyter/base:2"
    current = setup.custom.get_namespaced_custom_object(
        "kadense.io", "v1", tns, "jupyternotebooktemplates", "t"
    )
    t["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    setup.custom.replace_namespaced_custom_object("kadense.io", "v1", tns, "jupyternotebooktemplates", "t", t)
    setup.create_template(_template(setup, "barrier"))
    wait_until(
        lambda: setup.is_true(ns, "probe", "Provisioned"), 30, message="the barrier's instance provisioned"
    )
    setup.create_instance(_instance(setup, "second"))
    wait_until(lambda: setup.pod(ns, "second-main"), 30, message="second pod")
    assert setup.pod(ns, "first-main").spec.containers[0].image == "jupyter/base:1"
    assert setup.pod(ns, "second-main").spec.containers[0].image == "jupyter/base:2"

    def generation(name: str) -> object:
        return ((setup.instance(ns, name) or {}).get("status") or {}).get("templateGeneration")

    # The operator writes the status after it creates the pod: the second's may not be there yet.
    wait_until(lambda: generation("second") is not None, 30, message="second's status")
    assert (generation("first"), generation("second")) == (1, 2)


def test_a_missing_secret_is_looked_for_again_with_back_off(setup: Env) -> None:
    """The operator cannot watch Secrets (it may only read them), so it looks again: less and less often
    (0.1 s doubling), not in a loop, and the instance provisions once the Secret exists."""
    before = setup.missing_secret_gets()
    body = _instance(setup, "late")
    body["spec"]["variablesFrom"] = [{"secretRef": {"name": "late-vars"}}]
    started = time.monotonic()
    setup.create_instance(body)

    wait_until(lambda: setup.missing_secret_gets() - before >= 6, 30, message="six looks for the Secret")
    elapsed = time.monotonic() - started
    # Back-off before the sixth: 0.2 + 0.4 + 0.8 + 1.6 + 3.2 s, jitter taking off half of each at most.
    assert elapsed > 1.5, f"six GETs of the missing Secret in {elapsed:.2f} s: no back-off"
    assert _failed(setup, "late")["reason"] == "SecretNotFound"
    setup.core.create_namespaced_secret(
        setup.ns, {"metadata": {"name": "late-vars"}, "stringData": {"x": "1"}}
    )
    wait_until(
        lambda: setup.is_true(setup.ns, "late", "Provisioned"),
        30,
        message="provisioned once the Secret exists",
    )
