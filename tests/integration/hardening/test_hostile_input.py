"""Hostile input from a breached hub: a ServiceAccount that may only create (read, delete) instances in its
namespace sends whatever it likes. Nothing escapes the template's structure, nothing is created outside
the instance's namespace, the operator reads Secrets only in the instance's namespace, its memory stays
bounded and it keeps serving others (issue 7, item 4).

One cluster and one operator serve the whole module per backend (starting them is most of a case's cost).
The operator has the chart's rights (no Secret of the victim namespace is readable to it); what it
*attempts* is checked too: every request it makes is recorded (kubesim: as it is authorized; upstream: at
the proxy it talks through), refused or not."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.hardening.harness import (
    CONFIGMAPS,
    INSTANCES,
    PODS,
    PVCS,
    ApiError,
    Env,
    OperatorProcess,
    Rest,
    condition,
    instance_body,
    is_ready,
    sim_env,
    upstream_env,
    wait_until,
)

VICTIM = "victim"
SECRET_TEXT = "TOPSECRET-do-not-leak"


@dataclass
class Hostile:
    env: Env
    op: OperatorProcess
    hub: Rest

    @property
    def victim_ns(self) -> str:
        return self.env.extra[VICTIM]

    def calls_of(self, resource: str) -> list[tuple[str, str, str, str]]:
        return [c for c in self.env.operator_calls() if c[1].split("/")[0] == resource]


def _template(namespace: str, name: str, pod_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "notebook",
        "image": "quay.io/jupyter/base-notebook:2025-01-01",
        "ports": [{"name": "http", "containerPort": 8888}],
        "env": [
            {"name": "JUPYTERHUB_USER", "value": "{user}"},
            {"name": "SETTINGS", "value": '{{"user": "{user}", "home": "/home/{user}"}}'},
        ],
        "volumeMounts": [{"name": "home", "mountPath": "/home/{user}"}],
        **(pod_extra or {}),
    }
    return {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "pvcs": [
                {
                    "name": "home",
                    "annotations": {"hub.jupyter.org/username": "{user}"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
            "pods": [
                {
                    "name": "notebook",
                    "annotations": {"hub.jupyter.org/username": "{user}"},
                    "spec": {
                        "containers": [container],
                        "volumes": [
                            {
                                "name": "home",
                                "persistentVolumeClaim": {"claimName": "{jupyternetes.pvcs.home}"},
                            }
                        ],
                    },
                }
            ],
            "otherResources": [
                {
                    "name": "settings",
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "body": {"data": {"user": "{user}"}},
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def hostile(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("hostile")
    with contextlib.ExitStack() as stack:
        env: Env
        if backend == "kubesim":
            env = stack.enter_context(sim_env(tmp / "sim", extra_namespaces=(VICTIM,)))
        else:
            plane = request.getfixturevalue("hardening_plane")
            env = stack.enter_context(upstream_env(plane, tmp / "upstream", extra_namespaces=(VICTIM,)))
        admin, victim, templates = env.admin, env.extra[VICTIM], env.template_ns
        secret = {
            "metadata": {"name": "token"},
            "data": {"token": base64.b64encode(SECRET_TEXT.encode()).decode()},
        }
        admin.create(f"/api/v1/namespaces/{victim}/secrets", secret)
        admin.create(f"/api/v1/namespaces/{templates}/secrets", secret)
        env.create_template(_template(templates, "hostile"))
        env.create_template(
            _template(
                templates,
                "subpath",
                {"volumeMounts": [{"name": "home", "mountPath": "/work", "subPath": "{user}"}]},
            )
        )
        env.create_template(_template(victim, "victim"))
        env.record_operator_calls()
        op = OperatorProcess(env, tmp)
        op.start()
        hub = env.hub()
        try:
            yield Hostile(env, op, hub)
            assert op.alive, op.log_tail()
        finally:
            hub.close()
            code = op.stop()
        assert code == 0, op.log_tail()


def _body(h: Hostile, name: str, template: str = "hostile", **variables: str) -> dict[str, Any]:
    body = instance_body(h.env, name, template=template)
    body["spec"]["variables"] = dict(variables)
    return body


def _settled(h: Hostile, name: str, timeout: float = 30) -> dict[str, Any]:
    """The instance once it is Ready or Failed."""

    def done() -> dict[str, Any] | None:
        inst = h.env.instance(name)
        failed = condition(inst, "Failed")
        if is_ready(inst) or (failed and failed["status"] == "True"):
            return inst
        return None

    out: dict[str, Any] = wait_until(
        done,
        timeout,
        what=lambda: f"{name} settled: {(h.env.instance(name) or {}).get('status')}\n{h.op.log_tail()}",
    )
    return out


def _shape(v: Any) -> Any:
    """Keys, list lengths and scalar types, without the text of strings."""
    if isinstance(v, dict):
        return {k: _shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_shape(x) for x in v]
    return type(v).__name__


def _children(h: Hostile, name: str) -> dict[str, dict[str, Any]]:
    out = {}
    for kind in (PODS, PVCS, CONFIGMAPS):
        for obj in h.env.objects(kind, h.env.users_ns):
            if (obj["metadata"].get("labels") or {}).get("jupyternetes.kadense.io/instance") == name:
                out[f"{kind[1]}/{obj['metadata']['name']}"] = obj
    return out


def _reference(h: Hostile) -> dict[str, dict[str, Any]]:
    """The children of a benign instance of the hostile template, to compare structures with."""
    if h.env.instance("benign") is None:
        h.hub.create_instance(_body(h, "benign", user="ana"))
    assert is_ready(_settled(h, "benign"))
    return _children(h, "benign")


INJECTIONS = {
    "yaml": 'ana"\n    securityContext: {privileged: true}\n  - name: x\n',
    "json": 'ana", "securityContext": {"privileged": true}, "x": "',
    "placeholders": "{jupyternetes.pvcs.home}{jupyterhub.api_token}{{user}}",
    "braces": "}}{{{",
    "traversal": "../../../../etc",
    "newlines-and-nul": "a\r\nb\x00c",
    "big": "x" * 100_000,
}


@pytest.mark.parametrize("case", sorted(INJECTIONS))
def test_values_stay_values(hostile: Hostile, case: str) -> None:
    """Each value lands verbatim where its placeholder was; every child has the structure the template
    gives a benign value (no field added, none removed), in the instance's namespace."""
    value = INJECTIONS[case]
    ref = _reference(hostile)
    name = f"inj-{case}"
    hostile.hub.create_instance(_body(hostile, name, user=value))
    inst = _settled(hostile, name)
    assert is_ready(inst), inst.get("status")
    children = _children(hostile, name)
    assert sorted(k.replace(name, "X") for k in children) == sorted(k.replace("benign", "X") for k in ref)
    for key, obj in children.items():
        twin = ref[key.replace(name, "benign")]
        assert obj["metadata"]["namespace"] == hostile.env.users_ns
        for part in ("spec", "data"):
            assert _shape(obj.get(part)) == _shape(twin.get(part)), (key, part)
        assert sorted(obj["metadata"].get("annotations") or {}) == sorted(
            twin["metadata"].get("annotations") or {}
        )
    pod = children[f"pods/{name}-notebook"]
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["JUPYTERHUB_USER"] == value
    assert env["SETTINGS"] == '{"user": "' + value + '", "home": "/home/' + value + '"}'
    assert pod["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == "/home/" + value
    assert pod["metadata"]["annotations"]["hub.jupyter.org/username"] == value
    assert children[f"configmaps/{name}-settings"]["data"] == {"user": value}


def test_subpath_traversal_is_refused_before_anything_is_created(hostile: Hostile) -> None:
    """``subPath: {user}`` with ``../``: the API server refuses such a pod (it would mount a directory
    outside the volume); the operator refuses it before creating anything, with a clear message."""
    hostile.hub.create_instance(_body(hostile, "subpath-ok", template="subpath", user="ana"))
    assert is_ready(_settled(hostile, "subpath-ok"))
    for i, value in enumerate(("../../../etc", "/etc", "a/../../b")):
        name = f"subpath-{i}"
        hostile.hub.create_instance(_body(hostile, name, template="subpath", user=value))
        inst = _settled(hostile, name)
        failed = condition(inst, "Failed") or {}
        assert failed.get("reason") == "InvalidObject", inst.get("status")
        assert "subPath" in failed.get("message", ""), failed
        assert _children(hostile, name) == {}, "nothing created half-way"


def test_ten_thousand_variables(hostile: Hostile) -> None:
    variables = {f"v{i:05d}": f"value-{i}-{{user}}" for i in range(10_000)}
    hostile.hub.create_instance(_body(hostile, "many", user="ana", **variables))
    assert is_ready(_settled(hostile, "many", timeout=60))
    # Case-insensitive duplicates with different values: a clear RenderFailed, nothing created.
    hostile.hub.create_instance(_body(hostile, "dupes", user="ana", USER="bob"))
    failed = condition(_settled(hostile, "dupes"), "Failed") or {}
    assert failed.get("reason") == "RenderFailed", failed
    assert _children(hostile, "dupes") == {}


def test_templates_of_forbidden_namespaces(hostile: Hostile) -> None:
    templates, victim = hostile.env.template_ns, hostile.victim_ns
    cases = {
        "tpl-victim": {"name": "victim", "namespace": victim},
        "tpl-kube-system": {"name": "victim", "namespace": "kube-system"},
        "tpl-own-ns": {"name": "hostile", "namespace": hostile.env.users_ns},
        "tpl-traversal-ns": {"name": "victim", "namespace": f"{templates}/../{victim}"},
    }
    for name, ref in cases.items():
        body = _body(hostile, name, user="ana")
        body["spec"]["template"] = ref
        hostile.hub.create_instance(body)
    for name in cases:
        failed = condition(_settled(hostile, name), "Failed") or {}
        assert failed.get("reason") == "TemplateNotAllowed", (name, failed)
        assert _children(hostile, name) == {}
    templates_read = {c[2] for c in hostile.calls_of("jupyternotebooktemplates") if c[0] == "get"}
    assert templates_read <= {templates}, templates_read


def test_path_traversal_in_names_reads_nothing_else(hostile: Hostile) -> None:
    """Names are path segments of API URLs: ``..`` in a template or Secret name must not make the operator
    read another object (HTTP clients normalise ``a/../b`` to ``b``)."""
    victim = hostile.victim_ns
    up = f"../../../../../api/v1/namespaces/{victim}/secrets/token"
    body = _body(hostile, "trav-template", user="ana")
    body["spec"]["template"]["name"] = up
    hostile.hub.create_instance(body)
    body = _body(hostile, "trav-secret", user="ana")
    body["spec"]["variablesFrom"] = [{"secretRef": {"name": f"../../{victim}/secrets/token"}}]
    hostile.hub.create_instance(body)
    body = _body(hostile, "trav-encoded", user="ana")
    body["spec"]["variablesFrom"] = [{"secretRef": {"name": f"..%2F..%2F{victim}%2Fsecrets%2Ftoken"}}]
    hostile.hub.create_instance(body)
    for name in ("trav-template", "trav-secret", "trav-encoded"):
        inst = _settled(hostile, name)
        assert not is_ready(inst)
        assert _children(hostile, name) == {}
        assert SECRET_TEXT not in repr(inst)
    calls = hostile.env.operator_calls()
    assert calls, "the operator's requests were recorded"
    assert [c for c in calls if c[2] == hostile.victim_ns] == [], "the operator touched the victim namespace"


def test_variables_from_secret_of_another_namespace(hostile: Hostile) -> None:
    body = _body(hostile, "other-secret", user="ana")
    # The schema has no namespace in secretRef: the API server prunes it, the operator looks in "users".
    body["spec"]["variablesFrom"] = [{"secretRef": {"name": "token", "namespace": hostile.victim_ns}}]
    created = hostile.hub.create_instance(body)
    assert created["spec"]["variablesFrom"] == [{"secretRef": {"name": "token"}}]
    failed = condition(_settled(hostile, "other-secret"), "Failed") or {}
    assert failed.get("reason") == "SecretNotFound", failed
    assert f'namespace "{hostile.env.users_ns}"' in failed.get("message", "")
    secrets_read = {(c[2], c[3]) for c in hostile.calls_of("secrets")}
    assert secrets_read, "the operator looked for the Secret"
    assert {ns for ns, _ in secrets_read} == {hostile.env.users_ns}, secrets_read


def test_the_hub_account_can_do_nothing_else(hostile: Hostile) -> None:
    """The breached hub's own reach (RBAC): no templates, pods or Secrets, no other namespace."""
    hub, users, victim = hostile.hub, hostile.env.users_ns, hostile.victim_ns
    attempts = [
        (
            "POST",
            f"/apis/kadense.io/v1/namespaces/{users}/jupyternotebooktemplates",
            _template(users, "mine"),
        ),
        ("POST", f"/api/v1/namespaces/{users}/pods", {"metadata": {"name": "p"}, "spec": {"containers": []}}),
        ("GET", f"/api/v1/namespaces/{victim}/secrets/token", None),
        ("POST", f"/apis/kadense.io/v1/namespaces/{victim}/jupyternotebookinstances", _body(hostile, "x")),
    ]
    for method, path, body in attempts:
        with pytest.raises(ApiError) as info:
            hub.request(method, path, body)
        assert info.value.status == 403, (method, path)


def test_memory_stays_bounded_and_others_are_served(hostile: Hostile) -> None:
    """Many large hostile instances at once: the operator's RSS grows by a bounded amount, it goes on
    serving a normal instance, and nothing was created outside the instance namespace."""
    env, hub, op = hostile.env, hostile.hub, hostile.op
    _reference(hostile)
    before = op.rss()
    big = "y" * 100_000
    names = [f"mem-{i:02d}" for i in range(20)]
    for n in names:
        hub.create_instance(_body(hostile, n, user=big, **{f"v{i:04d}": big[:50] for i in range(2000)}))
    hub.create_instance(_body(hostile, "after-storm", user="ana"))
    assert is_ready(_settled(hostile, "after-storm", timeout=60))
    for n in names:
        assert is_ready(_settled(hostile, n, timeout=60))
    after = op.rss()
    print(
        f"operator RSS {before / 2**20:.0f} MB -> {after / 2**20:.0f} MB after {len(names)} hostile instances"
    )
    # 20 instances of ~200 kB each (held in the watch cache, rendered once): a few MB, never hundreds.
    assert after - before < 100 * 2**20, f"RSS grew by {(after - before) / 2**20:.0f} MB"
    # Across all namespaces (other tests' namespaces may still be terminating on a shared cluster: only
    # the objects of this test's instances are looked at).
    ours = {*names, "after-storm"}
    for kind in (PODS, PVCS, CONFIGMAPS):
        for obj in env.objects(kind):
            if (obj["metadata"].get("labels") or {}).get("jupyternetes.kadense.io/instance") in ours:
                assert obj["metadata"]["namespace"] == env.users_ns, obj["metadata"]
    found = [i["metadata"]["namespace"] for i in env.objects(INSTANCES) if i["metadata"]["name"] in ours]
    assert found == [env.users_ns] * len(ours)


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", "a%2Fb"])
def test_instance_names_with_traversal_are_refused_by_the_api(hostile: Hostile, name: str) -> None:
    """Child names derive from the instance's name, which the API server holds to a DNS-1123 subdomain."""
    with pytest.raises(ApiError) as info:
        hostile.hub.create_instance(_body(hostile, name, user="ana"))
    assert info.value.status == 422
    assert all(i["metadata"]["name"] != name for i in hostile.env.objects(INSTANCES))
