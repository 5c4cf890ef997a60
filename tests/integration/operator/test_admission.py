"""The operator's validating admission webhook (issue 15): instances and templates that break the contract
are refused at creation with a message naming the object, the field or variable, and the rule; deleting a
template that instances use is refused; good ones pass.

The operator serves the webhook over HTTPS with a certificate made here (as the chart makes one); the test
installs a ValidatingWebhookConfiguration with its CA, scoped to the test's namespaces. Both backends call
it (kubesim as the real API server does: its webhooks module)."""

from __future__ import annotations

import base64
import json
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kubernetes import client

from jupyternetes.core.webhook_configuration import validating_webhook_configuration
from kubesim.tls import CertificateAuthority
from tests.conftest import wait_until
from tests.integration.operator.conftest import Env, operator_runner
from tests.integration.operator.test_bad_input import _instance, _template

PLURALS = {
    "JupyterNotebookTemplate": "jupyternotebooktemplates",
    "JupyterNotebookInstance": "jupyternotebookinstances",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Webhook:
    def __init__(self, tmp_path: Path) -> None:
        self.ca = CertificateAuthority("jupyternetes-webhook-ca")
        leaf = self.ca.issue("jupyternetes-webhook", ip_addresses=("127.0.0.1",), server=True)
        self.cert_file, self.key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
        self.cert_file.write_bytes(leaf.cert_pem)
        self.key_file.write_bytes(leaf.key_pem)
        self.port = _free_port()

    def settings(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "addr": "127.0.0.1",
            "certFile": str(self.cert_file),
            "keyFile": str(self.key_file),
        }

    def configuration(self, env: Env) -> dict[str, Any]:
        """What the chart installs (charts/jupyternetes/templates/webhook.yaml), for the test's namespaces."""
        namespaces = [env.ns, env.tns]
        return validating_webhook_configuration(
            f"jupyternetes-{env.ns}",
            base_url=f"https://127.0.0.1:{self.port}",
            ca_bundle=base64.b64encode(self.ca.cert_pem).decode(),
            instance_namespaces=namespaces,
            template_namespaces=namespaces,
        )

    def serving(self) -> bool:
        context = ssl.create_default_context(cadata=self.ca.cert_pem.decode())
        try:
            with (
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                return True
        except OSError:
            return False


def _refusal(call: Callable[[], Any]) -> str:
    """The message of a request the webhook refuses (fails the test if it is not refused)."""
    with pytest.raises(client.ApiException) as info:
        call()
    body = json.loads(info.value.body)
    assert info.value.status == 422, (info.value.status, body)
    message: str = body["message"]
    assert "denied the request" in message, message
    return message


def _create(env: Env, body: dict[str, Any], dry_run: bool = False) -> Any:
    ns = body["metadata"]["namespace"]
    kwargs = {"dry_run": "All"} if dry_run else {}
    return env.custom.create_namespaced_custom_object(
        "kadense.io", "v1", ns, PLURALS[body["kind"]], body, **kwargs
    )


def _bad_template(env: Env) -> dict[str, Any]:
    t = _template(env, "probe")
    t["spec"]["variables"] = [{"name": "n", "type": "integer", "enum": ["1"]}]
    return t


@pytest.fixture
def hooked(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Env]:
    """The operator serving the webhook, and the webhook configuration installed and in effect."""
    webhook = Webhook(tmp_path)
    with operator_runner(env, monkeypatch, webhook=webhook.settings()) as runner:
        wait_until(webhook.serving, 30, message="the operator's webhook serving HTTPS")
        adm = client.AdmissionregistrationV1Api(env.api)
        adm.create_validating_webhook_configuration(webhook.configuration(env))
        # The API server picks new webhook configurations up from a watch: a refused dry-run says it did.
        wait_until(
            lambda: _refused(lambda: _create(env, _bad_template(env), dry_run=True)),
            15,
            message="the webhook configuration in effect",
        )
        yield env
    assert runner.exception is None, runner.output


def _refused(call: Callable[[], Any]) -> bool:
    try:
        call()
    except client.ApiException as exc:
        return exc.status == 422
    return False


def _declared_template(env: Env) -> dict[str, Any]:
    t = _template(env, "declared")
    t["spec"]["variables"] = [
        {"name": "user", "required": True, "pattern": "[a-z]+"},
        {"name": "size", "type": "enum", "enum": ["small", "large"], "default": "small"},
    ]
    return t


INSTANCE_CASES: dict[str, tuple[Callable[[Env], dict[str, Any]], tuple[str, ...]]] = {
    "value outside the enum": (
        lambda env: _instance(env, "bad", template="declared", size="huge"),
        ('variable "size": "huge" is not one of', "InvalidVariables"),
    ),
    "undeclared variable": (
        lambda env: _instance(env, "bad", template="declared", colour="red"),
        ('variable "colour" is not declared',),
    ),
    "pattern": (
        lambda env: _instance(env, "bad", template="declared", user="Ana"),
        ('variable "user": "Ana" does not match the pattern \'[a-z]+\'',),
    ),
    "missing template": (
        lambda env: _instance(env, "bad", template="nope"),
        ('spec.template: JupyterNotebookTemplate "nope" not found',),
    ),
    "template namespace not allowed": (
        lambda env: _instance(env, "bad", tns="default"),
        ('spec.template.namespace: template namespace "default" is not allowed',),
    ),
    "rendering fails": (
        lambda env: _instance(env, "bad", template="undefined"),
        ("RenderFailed", "jupyterhub.nope"),
    ),
    "object refused by the API server only": (
        lambda env: _instance(env, "bad", template="ghost-mount"),
        ("the API server would refuse its objects", "Pod bad-main (entry main)", "volumeMounts[1].name"),
    ),
}


@pytest.mark.parametrize("case", sorted(INSTANCE_CASES))
def test_bad_instances_are_refused_at_creation(hooked: Env, case: str) -> None:
    env = hooked
    _create(env, _declared_template(env))
    undefined = _template(env, "undefined")
    undefined["spec"]["pods"][0]["spec"]["containers"][0]["env"].append(
        {"name": "X", "value": "{jupyterhub.nope}"}
    )
    _create(env, undefined)
    ghost = _template(env, "ghost-mount")
    ghost["spec"]["pods"][0]["spec"]["containers"][0]["volumeMounts"].append(
        {"name": "ghost", "mountPath": "/g"}
    )
    _create(env, ghost)
    make, needles = INSTANCE_CASES[case]
    message = _refusal(lambda: _create(env, make(env)))
    assert f"JupyterNotebookInstance {env.ns}/bad" in message, message
    for needle in needles:
        assert needle in message, message
    assert env.instance(env.ns, "bad") is None


def test_good_instances_pass_and_run(hooked: Env) -> None:
    env = hooked
    _create(env, _declared_template(env))
    _create(env, _instance(env, "good", template="declared", size="large"))
    wait_until(lambda: env.is_true(env.ns, "good", "Provisioned"), 30, message="provisioned")
    # Metadata changes are admitted unchecked: a finalizer must come off even once the template is gone.
    env.custom.patch_namespaced_custom_object(
        "kadense.io", "v1", env.ns, "jupyternotebookinstances", "good", {"metadata": {"labels": {"a": "b"}}}
    )


TEMPLATE_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], tuple[str, ...]]] = {
    "declaration breaking its own rules": (
        lambda t: t["spec"].__setitem__(
            "variables", [{"name": "cpus", "type": "integer", "maximum": 4, "default": 8}]
        ),
        ('variable "cpus" (its default): "8" is more than the maximum 4',),
    ),
    "undeclared variable used": (
        lambda t: (
            t["spec"].__setitem__("variables", [{"name": "user", "default": "ana"}])
            or t["spec"]["pods"][0]["spec"]["containers"][0]["env"].append({"name": "S", "value": "{size}"})
        ),
        ("does not render with its variables' defaults", "size"),
    ),
    "invalid object with the defaults": (
        lambda t: (
            t["spec"].__setitem__(
                "variables", [{"name": "user", "default": "ana"}, {"name": "port", "default": "http"}]
            )
            or t["spec"]["pods"][0]["spec"]["containers"][0]["ports"].__setitem__(
                0, {"containerPort": "{port}"}
            )
        ),
        ("its objects are invalid", "containerPort"),
    ),
    "object refused by the API server only": (
        # Valid for the schemas; the API server refuses it (a mount of no volume). The template's namespace
        # is not one the operator serves: the dry-run runs where its instances would.
        lambda t: (
            t["spec"].__setitem__("variables", [{"name": "user", "default": "ana"}])
            or t["spec"]["pods"][0]["spec"]["containers"][0]["volumeMounts"].append(
                {"name": "ghost", "mountPath": "/g"}
            )
        ),
        ("its objects are invalid", "Pod admission-sample-main (entry main)", "volumeMounts[1].name"),
    ),
    "brace error": (
        lambda t: t["spec"]["pods"][0]["spec"]["containers"][0]["env"].append(
            {"name": "J", "value": '{"a": 1'}
        ),
        ("does not render", "env[1].value"),
    ),
}


@pytest.mark.parametrize("case", sorted(TEMPLATE_CASES))
def test_bad_templates_are_refused(hooked: Env, case: str) -> None:
    env = hooked
    mutate, needles = TEMPLATE_CASES[case]
    t = _template(env, "bad")
    mutate(t)
    message = _refusal(lambda: _create(env, t))
    assert f"JupyterNotebookTemplate {env.tns}/bad" in message, message
    for needle in needles:
        assert needle in message, message


def test_the_announcements_template_and_spawner_variables_pass(hooked: Env) -> None:
    """A template declaring nothing is checked for its structure only; one declaring variables and using
    the spawner's (jupyterhub.*) renders with placeholders for those."""
    env = hooked
    _create(env, _template(env, "plain"))
    t = _template(env, "spawned")
    t["spec"]["variables"] = [{"name": "user", "default": "ana"}]
    t["spec"]["pods"][0]["spec"]["containers"][0]["env"].append(
        {"name": "U", "value": "{jupyterhub.user.name}"}
    )
    _create(env, t)


def test_deleting_a_template_in_use_is_refused(hooked: Env) -> None:
    env = hooked
    _create(env, _template(env, "t"))
    _create(env, _instance(env, "user1"))
    wait_until(lambda: env.is_true(env.ns, "user1", "Provisioned"), 30, message="provisioned")
    delete = lambda: env.custom.delete_namespaced_custom_object(  # noqa: E731
        "kadense.io", "v1", env.tns, "jupyternotebooktemplates", "t"
    )
    message = _refusal(delete)
    assert f"JupyterNotebookTemplate {env.tns}/t is used by 1 instance ({env.ns}/user1)" in message, message
    env.delete_instance(env.ns, "user1")
    wait_until(lambda: env.instance(env.ns, "user1") is None, 60, message="the instance gone")
    wait_until(lambda: not _refused(delete), 30, message="the template deleted once unused")


def test_an_unreachable_webhook_follows_its_failure_policy(
    env: Env, operator: KopfRunner, tmp_path: Path
) -> None:
    """No operator serves the webhook (its port is closed). failurePolicy Ignore (the chart's): the API
    server lets a bad instance through, and the operator's reconcile refuses it (Failed, InvalidVariables,
    naming the variable). failurePolicy Fail: nothing is admitted, with the API server's own error."""
    webhook = Webhook(tmp_path)
    adm = client.AdmissionregistrationV1Api(env.api)
    config = webhook.configuration(env)
    adm.create_validating_webhook_configuration(config)
    _create(env, _declared_template(env))
    _create(env, _instance(env, "bad", template="declared", size="huge"))
    failed = wait_until(
        lambda: (c := env.condition(env.ns, "bad", "Failed")) and c["status"] == "True" and c,
        30,
        message="the reconcile refuses it",
    )
    assert failed["reason"] == "InvalidVariables", failed
    assert """variable "size": "huge" is not one of 'small', 'large'""" in failed["message"], failed

    for hook in config["webhooks"]:
        hook["failurePolicy"] = "Fail"
    current = adm.read_validating_webhook_configuration(config["metadata"]["name"])
    config["metadata"]["resourceVersion"] = current.metadata.resource_version
    adm.replace_validating_webhook_configuration(config["metadata"]["name"], config)

    def failing_closed() -> str | None:
        try:
            _create(env, _instance(env, "good", template="declared"), dry_run=True)
        except client.ApiException as exc:
            return str(json.loads(exc.body)["message"]) if exc.status == 500 else None
        return None

    message = wait_until(failing_closed, 15, message="requests refused while the webhook is unreachable")
    assert "failed calling webhook" in message, message
