"""Rendering: the announcement's objects, variables, escapes, errors, conditions, built-ins."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from jupyternetes.core.models import TemplateSpec, parse_instance, parse_template
from jupyternetes.core.naming import LABEL_ENTRY, LABEL_INSTANCE, LABEL_TEMPLATE
from jupyternetes.core.rendering import (
    RenderContext,
    RenderFailed,
    RenderPlan,
    check_template,
    condition_is_true,
    decode_secret_data,
    merge_variables,
    owner_reference,
    pod_port,
    render_instance,
    render_template,
    rendered_pvc_refs,
)

SEED_INSTANCE_NAME = "8dc366d8a0f05869bfdb6e7eb3d83f65"


def env_of(plan: RenderPlan, pod_entry: str = "notebook") -> dict[str, str | None]:
    pod = plan.get("pod", pod_entry)
    assert pod is not None
    return {e["name"]: e.get("value") for e in pod.manifest["spec"]["containers"][0]["env"]}


def iter_strings(*values: Any) -> list[str]:
    """Every string (dict keys included) in ``values``."""
    out: list[str] = []
    for v in values:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            out.extend(k for k in v if isinstance(k, str))
            out.extend(iter_strings(*v.values()))
        elif isinstance(v, list):
            out.extend(iter_strings(*v))
    return out


def ctx(variables: dict[str, str] | None = None, **kw: Any) -> RenderContext:
    args: dict[str, Any] = {
        "instance_name": "jupyter-jovyan",
        "instance_namespace": "users",
        "template_name": "tpl",
        "template_namespace": "admin",
        "variables": variables or {},
    }
    args.update(kw)
    return RenderContext(**args)


def pod_template(*strings: str, **entry: Any) -> TemplateSpec:
    """A template with one pod whose first container has one env var per string."""
    env = [{"name": f"V{i}", "value": s} for i, s in enumerate(strings)]
    pod = {"name": "nb", "spec": {"containers": [{"name": "c", "image": "img", "env": env}]}, **entry}
    return TemplateSpec.model_validate({"pods": [pod]})


def render_strings(*strings: str, variables: dict[str, str] | None = None) -> list[str | None]:
    plan = render_template(pod_template(*strings), ctx(variables))
    return list(env_of(plan, "nb").values())


def errors_of(spec: TemplateSpec, variables: dict[str, str] | None = None) -> list[Any]:
    with pytest.raises(RenderFailed) as info:
        render_template(spec, ctx(variables))
    return list(info.value.errors)


# --- the announcement's template and instance, verbatim -----------------------------------------------


def test_seed_renders_a_pvc_and_a_pod(seed_template: dict[str, Any], seed_instance: dict[str, Any]) -> None:
    plan = render_instance(parse_template(seed_template), parse_instance(seed_instance))
    assert [(o.kind, o.entry) for o in plan.objects] == [("pvc", "workspace"), ("pod", "notebook")]
    assert plan.skipped == ()
    assert plan.warnings == ()  # the seed's own jupyternetes.instance.* values equal the built-ins

    pvc, pod = plan.objects
    assert pvc.name == f"{SEED_INSTANCE_NAME}-workspace"
    assert pod.name == f"{SEED_INSTANCE_NAME}-notebook"
    assert pvc.manifest["apiVersion"] == "v1"
    assert pvc.manifest["kind"] == "PersistentVolumeClaim"
    assert pod.manifest["apiVersion"] == "v1"
    assert pod.manifest["kind"] == "Pod"
    for obj in (pvc, pod):
        meta = obj.manifest["metadata"]
        assert meta["namespace"] == "default"
        assert meta["labels"] == {
            "jupyternetes.kadense.io/userId": "1",
            LABEL_INSTANCE: SEED_INSTANCE_NAME,
            LABEL_TEMPLATE: "default-template",
            LABEL_ENTRY: obj.entry,
        }
        assert "ownerReferences" not in meta
        assert "annotations" not in meta
    assert pvc.manifest["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
    }
    assert not pvc.delete_with_instance
    assert pod.delete_with_instance

    spec = pod.manifest["spec"]
    container = spec["containers"][0]
    assert container["volumeMounts"] == [{"mountPath": "/home/jovyan/work", "name": "workspace-pvc"}]
    assert spec["volumes"][0]["persistentVolumeClaim"]["claimName"] == pvc.name
    assert rendered_pvc_refs(pod.manifest) == [pvc.name]
    assert plan.pvc_dependencies(pod) == [pvc]
    assert pod_port(pod.manifest) == 8888
    assert container["ports"] == [{"containerPort": 8888, "name": "http", "protocol": "TCP"}]

    env = env_of(plan)
    assert len(env) == len(seed_template["spec"]["pods"][0]["spec"]["containers"][0]["env"])
    assert env["JUPYTERHUB_USER"] == "jovyan"
    assert env["JPY_API_TOKEN"] == env["JUPYTERHUB_API_TOKEN"] == "852dc4bd4e4e4360b7ae94cffa4f1c76"
    assert env["JUPYTERHUB_CLIENT_ID"] == "jupyterhub-user-jovyan"
    assert (
        env["JUPYTERHUB_ACTIVITY_URL"]
        == "http://hub.kadense.svc.cluster.local:8081/hub/api/users/jovyan/activity"
    )
    assert env["JUPYTERHUB_API_URL"] == "http://hub.kadense.svc.cluster.local:8081/hub/api"
    assert env["JUPYTERHUB_SERVICE_PREFIX"] == "/user/jovyan/"
    assert env["JUPYTERHUB_OAUTH_CALLBACK_URL"] == "/user/jovyan/oauth_callback"
    assert env["JUPYTERHUB_SERVICE_URL"] == "http://0.0.0.0:8888/user/jovyan/"
    assert env["MEM_GUARANTEE"] == "1073741824"
    assert env["JUPYTERHUB_HOST"] is None  # entries without a value stay without a value
    assert json.loads(env["JUPYTERHUB_OAUTH_SCOPES"] or "") == [
        "access:servers!server=jovyan/",
        "access:servers!user=jovyan",
    ]
    assert json.loads(env["JUPYTERHUB_OAUTH_ACCESS_SCOPES"] or "") == json.loads(
        env["JUPYTERHUB_OAUTH_SCOPES"] or ""
    )
    assert json.loads(env["JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES"] or "") == []
    # Nothing of the template is left unrendered.
    assert not [s for s in iter_strings(plan.objects[0].manifest, pod.manifest) if "{" in s or "}" in s]


def test_render_does_not_modify_the_template_or_share_structure(
    seed_template: dict[str, Any], seed_instance: dict[str, Any]
) -> None:
    template = parse_template(seed_template)
    before = copy.deepcopy(template.spec.model_dump())
    plan1 = render_instance(template, parse_instance(seed_instance))
    plan1.objects[1].manifest["spec"]["containers"][0]["env"].clear()
    plan1.objects[0].manifest["spec"]["accessModes"].append("ReadOnlyMany")
    assert template.spec.model_dump() == before
    plan2 = render_instance(template, parse_instance(seed_instance))
    assert len(env_of(plan2)) == len(seed_template["spec"]["pods"][0]["spec"]["containers"][0]["env"]) == 22
    assert plan2.objects[0].manifest["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_owner_reference_goes_on_pods_and_opted_in_pvcs(seed_template: dict[str, Any]) -> None:
    seed_template["spec"]["pvcs"].append(
        {"name": "scratch", "deleteWithInstance": True, "spec": {"accessModes": ["ReadWriteOnce"]}}
    )
    owner = owner_reference(
        {
            "apiVersion": "kadense.io/v1",
            "kind": "JupyterNotebookInstance",
            "metadata": {"name": "jupyter-jovyan", "uid": "u-1"},
        }
    )
    assert owner == {
        "apiVersion": "kadense.io/v1",
        "kind": "JupyterNotebookInstance",
        "name": "jupyter-jovyan",
        "uid": "u-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    variables = {"jupyterhub.user.id": "1", "jupyterhub.user.name": "u", "jupyterhub.namespace": "hub"}
    variables |= {"jupyterhub.api_token": "t", "jupyterhub.oauth_client_id": "c"}
    plan = render_template(parse_template(seed_template).spec, ctx(variables), owner=owner)
    refs = {o.entry: o.manifest["metadata"].get("ownerReferences") for o in plan.objects}
    assert refs == {"workspace": None, "scratch": [owner], "notebook": [owner]}
    scratch = plan.get("pvc", "scratch")
    assert scratch is not None
    assert scratch.delete_with_instance


# --- placeholders and escapes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{literal}}", "{literal}"),
        ("{{{x}}}", "{X}"),
        ("{{", "{"),
        ("}}", "}"),
        ("a{{b}}c{x}d", "a{b}cXd"),
        ('{{"key": "{x}", "n": [1, 2]}}', '{"key": "X", "n": [1, 2]}'),
        ("{x}{x}{x}", "XXX"),
        ("no placeholders at all", "no placeholders at all"),
        ("", ""),
        ("{x}", "X"),
        ("{{x}}", "{x}"),
        ("{{{{x}}}}", "{{x}}"),
    ],
)
def test_escapes_and_substitution(template: str, expected: str) -> None:
    assert render_strings(template, variables={"x": "X"}) == [expected]


def test_variable_names_match_case_insensitively() -> None:
    got = render_strings(
        "{JupyterHub.User.Name}",
        "{jupyterhub.user.name}",
        "{MYVAR}",
        "{myvar}",
        variables={
            "jupyterhub.user.name": "jovyan",
            "MyVar": "v",
        },
    )
    assert got == ["jovyan", "jovyan", "v", "v"]


def test_variable_names_may_use_secret_key_characters() -> None:
    got = render_strings("{a-b_c.d}", "{0}", "{_x}", variables={"a-b_c.d": "1", "0": "zero", "_x": "u"})
    assert got == ["1", "zero", "u"]


def test_values_are_inserted_as_text_and_never_rendered_again() -> None:
    variables = {"a": "{b}", "b": "B", "c": "{{", "d": "}", "e": "{jupyternetes.instance.name}"}
    assert render_strings("{a}", "{c}{d}", "{e}", variables=variables) == [
        "{b}",
        "{{}",
        "{jupyternetes.instance.name}",
    ]


def test_placeholders_in_keys_names_and_every_string() -> None:
    spec = TemplateSpec.model_validate(
        {
            "pods": [
                {
                    "name": "nb",
                    "labels": {"{domain}/user": "{user}"},
                    "annotations": {"note.{domain}/by": "made for {user}"},
                    "spec": {
                        "containers": [
                            {
                                "name": "{user}-main",
                                "image": "{image}",
                                "command": ["sh", "-c", "echo {user}"],
                                "ports": [{"containerPort": 8888, "name": "http"}],
                            }
                        ],
                        "nodeSelector": {"{domain}/pool": "{pool}"},
                        "automountServiceAccountToken": False,
                    },
                }
            ]
        }
    )
    variables = {"domain": "example.org", "user": "alice", "image": "img:1", "pool": "cpu"}
    pod = render_template(spec, ctx(variables)).pods[0].manifest
    assert pod["metadata"]["labels"]["example.org/user"] == "alice"
    assert pod["metadata"]["annotations"] == {"note.example.org/by": "made for alice"}
    container = pod["spec"]["containers"][0]
    assert container["name"] == "alice-main"
    assert container["image"] == "img:1"
    assert container["command"] == ["sh", "-c", "echo alice"]
    assert container["ports"] == [{"containerPort": 8888, "name": "http"}]
    assert pod["spec"]["nodeSelector"] == {"example.org/pool": "cpu"}
    assert pod["spec"]["automountServiceAccountToken"] is False


def test_rendered_key_colliding_with_another_key_is_an_error() -> None:
    spec = TemplateSpec.model_validate(
        {"pods": [{"name": "nb", "spec": {"nodeSelector": {"{k}": "1", "zone": "2"}, "containers": []}}]}
    )
    (error,) = errors_of(spec, {"k": "zone"})
    assert error.code == "key-collision"
    assert error.path == 'pods[nb].spec.nodeSelector["{k}"]'
    assert '"zone"' in error.message


def test_one_mb_and_non_ascii_values_render_intact() -> None:
    big = "x" * (1 << 20)
    unicode_value = "Jöván 日本語 עברית 🎉 e\u0301 \u200b\t\n\"'\\ {not.a.placeholder} }{"
    got = render_strings(
        "{big}", "pre-{big}-post", "{u}", "/home/{u}/", variables={"big": big, "u": unicode_value}
    )
    assert got[0] == big
    assert got[1] == f"pre-{big}-post"
    assert len(got[1]) == (1 << 20) + 9
    assert got[2] == unicode_value
    assert got[3] == f"/home/{unicode_value}/"


# --- errors -------------------------------------------------------------------------------------------


def test_undefined_variable_names_the_variable_and_the_field_path(
    seed_template: dict[str, Any], seed_instance: dict[str, Any]
) -> None:
    env = seed_template["spec"]["pods"][0]["spec"]["containers"][0]["env"]
    env[3]["value"] = "{jupyterhub.user.nme}"
    with pytest.raises(RenderFailed) as info:
        render_instance(parse_template(seed_template), parse_instance(seed_instance))
    (error,) = info.value.errors
    assert error.code == "undefined-variable"
    assert error.variable == "jupyterhub.user.nme"
    assert error.path == "pods[notebook].spec.containers[0].env[3].value"
    assert (
        error.message
        == 'undefined variable "jupyterhub.user.nme" in pods[notebook].spec.containers[0].env[3].value'
    )
    assert str(info.value) == error.message


def test_all_errors_of_a_render_are_collected() -> None:
    spec = TemplateSpec.model_validate(
        {
            "pvcs": [{"name": "data", "labels": {"who": "{nope1}"}, "spec": {"storageClassName": "{nope2}"}}],
            "pods": [{"name": "nb", "spec": {"containers": [{"name": "{nope3}", "image": "oops}"}]}}],
            "otherResources": [{"name": "svc", "apiVersion": "v1", "kind": "{nope4}", "body": {}}],
        }
    )
    errors = errors_of(spec)
    assert [(e.code, e.path) for e in errors] == [
        ("undefined-variable", "pvcs[data].labels.who"),
        ("undefined-variable", "pvcs[data].spec.storageClassName"),
        ("undefined-variable", "pods[nb].spec.containers[0].name"),
        ("unbalanced-brace", "pods[nb].spec.containers[0].image"),
        ("undefined-variable", "otherResources[svc].kind"),
    ]
    with pytest.raises(RenderFailed) as info:
        render_template(spec, ctx())
    assert info.value.summary(limit=2).endswith("; and 3 more errors")


def test_undefined_variable_in_a_key_says_so() -> None:
    (error,) = errors_of(pod_template("x", labels={"{nope}/a": "b"}))
    assert error.message == 'undefined variable "nope" in the key pods[nb].labels["{nope}/a"]'


@pytest.mark.parametrize(
    ("template", "position", "fragment"),
    [
        ("a { b", 3, '"{" (no closing "}")'),
        ("a } b", 3, '"}"'),
        ('{"a": 1}', 1, '"{\\"a\\": 1}" is not a placeholder'),
        ("x{}", 2, '"{}" is not a placeholder'),
        ("{a b}", 1, '"{a b}" is not a placeholder'),
        ("{a{b}", 1, '"{a{b}" is not a placeholder'),
        ("{x}}", 4, '"}"'),
        ("{", 1, '"{" (no closing "}")'),
    ],
)
def test_unbalanced_brace_names_path_and_position(template: str, position: int, fragment: str) -> None:
    errors = errors_of(pod_template("ok", template), {"x": "1", "a": "2", "b": "3"})
    assert errors[0].code == "unbalanced-brace"
    assert errors[0].path == "pods[nb].spec.containers[0].env[1].value"
    message = errors[0].message
    assert message.startswith("unbalanced brace ")
    assert fragment in message
    assert f"at character {position} of pods[nb].spec.containers[0].env[1].value" in message
    assert 'write "{{" or "}}" for a literal brace' in message


@pytest.mark.parametrize(
    ("template", "positions"),
    [
        ("} and { and {x}", ["1", "7"]),
        ('{"a": 1}', ["1"]),  # one error for one bad "{...}", not a second one for its "}"
        ('{"a": {"b": 1}}', ["1", "7", "15"]),
        ("{{ok}} {bad one} {x} }", ["8", "22"]),
    ],
)
def test_every_brace_error_of_a_string_is_reported(template: str, positions: list[str]) -> None:
    errors = errors_of(pod_template(template), {"x": "1"})
    assert [e.message.split(" at character ")[1].split(" ")[0] for e in errors] == positions


def test_reference_to_an_undefined_pvc_entry(
    seed_template: dict[str, Any], seed_instance: dict[str, Any]
) -> None:
    volumes = seed_template["spec"]["pods"][0]["spec"]["volumes"]
    volumes[0]["persistentVolumeClaim"]["claimName"] = "{jupyternetes.pvcs.workspace2}"
    template = parse_template(seed_template)
    for errors in (check_template(template.spec), _render_errors(template, seed_instance)):
        (error,) = errors
        assert error.code == "undefined-entry"
        assert error.message.startswith(
            'pods[notebook] references PVC entry "workspace2" which the template does not define'
        )
        assert "pods[notebook].spec.volumes[0].persistentVolumeClaim.claimName" in error.message
        assert "pvcs entries: workspace" in error.message
        assert error.path == "pods[notebook].spec.volumes[0].persistentVolumeClaim.claimName"


def _render_errors(template: Any, instance: dict[str, Any]) -> list[Any]:
    with pytest.raises(RenderFailed) as info:
        render_instance(template, parse_instance(instance))
    return list(info.value.errors)


def test_references_to_pods_and_other_resources_entries() -> None:
    spec = TemplateSpec.model_validate(
        {
            "pods": [{"name": "nb", "spec": {"containers": []}}],
            "otherResources": [
                {
                    "name": "svc",
                    "apiVersion": "v1",
                    "kind": "Service",
                    "body": {
                        "spec": {
                            "selector": {"pod": "{jupyternetes.pods.nb}", "x": "{jupyternetes.pods.nope}"}
                        }
                    },
                },
                {
                    "name": "cm",
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "body": {
                        "data": {
                            "svc": "{JUPYTERNETES.OTHERRESOURCES.SVC}",
                            "y": "{jupyternetes.otherresources.z}",
                        }
                    },
                },
            ],
        }
    )
    errors = errors_of(spec)
    assert [e.message.split(" which")[0] for e in errors] == [
        'otherResources[svc] references pod entry "nope"',
        'otherResources[cm] references otherResources entry "z"',
    ]
    assert check_template(spec) == errors


def test_check_template_accepts_the_seed(seed_template: dict[str, Any]) -> None:
    assert check_template(parse_template(seed_template).spec) == []


def test_invalid_rendered_labels_and_annotation_keys_are_errors() -> None:
    spec = pod_template("x", labels={"user": "{name}", "{bad}": "v"}, annotations={"{bad}": "ok"})
    errors = errors_of(spec, {"name": "alice@example.org" + "x" * 100, "bad": "no spaces allowed"})
    assert [(e.code, e.path) for e in errors] == [
        ("invalid-label", "pods[nb].labels.user"),
        ("invalid-label", 'pods[nb].labels["no spaces allowed"]'),
        ("invalid-annotation", 'pods[nb].annotations["no spaces allowed"]'),
    ]
    assert "(117 characters)" in errors[0].message  # long values are shortened in messages


# --- conditions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "created"),
    [
        ("", False),
        ("   ", False),
        ("false", False),
        ("False", False),
        (" FALSE\n", False),
        ("0", False),
        ("no", False),
        ("NO", False),
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("00", True),
        ("off", True),
        ("n", True),
        ("anything", True),
    ],
)
def test_condition_truthiness(value: str, created: bool) -> None:
    assert condition_is_true(value) is created
    spec = pod_template("x", condition="{flag}")
    plan = render_template(spec, ctx({"flag": value}))
    assert (len(plan.pods) == 1) is created
    if not created:
        (skipped,) = plan.skipped
        assert (skipped.kind, skipped.entry, skipped.name) == ("pod", "nb", "jupyter-jovyan-nb")
        assert skipped.reason == f'condition "{{flag}}" rendered to {json.dumps(value)}'


def test_absent_condition_means_created() -> None:
    assert condition_is_true(None)
    assert len(render_template(pod_template("x"), ctx()).pods) == 1


def test_literal_conditions_and_text_around_variables() -> None:
    assert render_template(pod_template("x", condition="false"), ctx()).pods == ()
    assert len(render_template(pod_template("x", condition="{a}{b}"), ctx({"a": "n", "b": "o"})).pods) == 0
    assert len(render_template(pod_template("x", condition="{a}{b}"), ctx({"a": "1", "b": "0"})).pods) == 1


def test_skipped_entry_is_not_rendered_but_still_checked() -> None:
    # Variables used only by a skipped entry need not exist...
    plan = render_template(pod_template("{only.with.gpu}", condition="{gpu}"), ctx({"gpu": "no"}))
    assert plan.pods == ()
    # ...but template errors in it are reported.
    (error,) = errors_of(pod_template("bad {", condition="{gpu}"), {"gpu": "no"})
    assert error.code == "unbalanced-brace"
    # An undefined variable in the condition itself is an error.
    (error,) = errors_of(pod_template("x", condition="{gpu}"))
    assert error.path == "pods[nb].condition"


def test_pod_mounting_a_skipped_pvc_is_an_error(
    seed_template: dict[str, Any], seed_instance: dict[str, Any]
) -> None:
    seed_template["spec"]["pvcs"][0]["condition"] = "no"
    errors = _render_errors(parse_template(seed_template), seed_instance)
    assert [(e.code, e.message) for e in errors] == [
        (
            "skipped-pvc",
            'pods[notebook] mounts PVC entry "workspace", which is not created: '
            'condition "no" rendered to "no"',
        )
    ]


def test_builtins_of_skipped_entries_stay_defined() -> None:
    spec = TemplateSpec.model_validate(
        {
            "pods": [{"name": "nb", "condition": "0", "spec": {"containers": []}}],
            "otherResources": [
                {
                    "name": "cm",
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "body": {"data": {"pod": "{jupyternetes.pods.nb}"}},
                }
            ],
        }
    )
    plan = render_template(spec, ctx())
    assert plan.others[0].manifest["data"] == {"pod": "jupyter-jovyan-nb"}


# --- built-in variables and variable sources ----------------------------------------------------------


def test_builtin_variables() -> None:
    spec = TemplateSpec.model_validate(
        {
            "pvcs": [{"name": "home", "spec": {}}],
            "pods": [{"name": "nb", "spec": {"containers": []}}],
            "otherResources": [
                {
                    "name": "svc",
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "body": {
                        "data": {
                            "i": "{jupyternetes.instance.name}/{jupyternetes.instance.namespace}",
                            "t": "{jupyternetes.template.name}/{jupyternetes.template.namespace}",
                            "n": "{jupyternetes.pvcs.home} {jupyternetes.pods.nb} "
                            "{jupyternetes.otherresources.svc}",
                        }
                    },
                }
            ],
        }
    )
    plan = render_template(spec, ctx())
    assert plan.others[0].manifest["data"] == {
        "i": "jupyter-jovyan/users",
        "t": "tpl/admin",
        "n": "jupyter-jovyan-home jupyter-jovyan-nb jupyter-jovyan-svc",
    }
    assert [o.name for o in plan.objects] == [
        "jupyter-jovyan-home",
        "jupyter-jovyan-nb",
        "jupyter-jovyan-svc",
    ]


def test_builtins_override_instance_supplied_values() -> None:
    variables = {
        "jupyternetes.instance.name": "someone-else",
        "Jupyternetes.Pods.NB": "other-pod",
        "jupyternetes.instance.namespace": "users",  # same as the built-in: silently fine
        "jupyternetes.custom": "x",
    }
    plan = render_template(
        pod_template("{jupyternetes.instance.name}", "{jupyternetes.pods.nb}"), ctx(variables)
    )
    assert list(env_of(plan, "nb").values()) == ["jupyter-jovyan", "jupyter-jovyan-nb"]
    assert len(plan.warnings) == 3
    assert (
        'variable "jupyternetes.instance.name" ignored: the built-in value "jupyter-jovyan" is used'
        in plan.warnings[0]
    )
    assert (
        'variable "jupyternetes.custom" ignored: the prefix "jupyternetes." is reserved' in plan.warnings[2]
    )
    # A reserved key that is not a built-in is not defined.
    (error,) = errors_of(pod_template("{jupyternetes.custom}"), variables)
    assert error.code == "undefined-variable"


def test_variable_precedence_secrets_then_spec_then_builtins() -> None:
    lookup, errors, warnings = merge_variables(
        {"a": "spec", "Token": "spec-token"},
        [{"a": "s1", "b": "s1", "token": "s1"}, {"b": "s2", "c": "s2"}],
        {"jupyternetes.instance.name": "i"},
    )
    assert lookup == {
        "a": "spec",
        "b": "s2",
        "c": "s2",
        "token": "spec-token",
        "jupyternetes.instance.name": "i",
    }
    assert errors == []
    assert warnings == []
    plan = render_template(
        pod_template("{a}{b}{c}"), ctx({"a": "1"}, secret_variables=[{"a": "x", "b": "2"}, {"c": "3"}])
    )
    assert list(env_of(plan, "nb").values()) == ["123"]


def test_keys_differing_only_in_case_with_different_values_are_an_error() -> None:
    _, errors, _ = merge_variables({"user": "a", "USER": "b", "same": "1", "SAME": "1"})
    (error,) = errors
    assert error.code == "variable-conflict"
    assert '"user" and "USER"' in error.message
    with pytest.raises(RenderFailed, match="differ only in case"):
        render_template(pod_template("{user}"), ctx({"user": "a", "USER": "b"}))


def test_decode_secret_data() -> None:
    encoded = base64.b64encode("öä".encode()).decode()
    assert decode_secret_data({"token": "c2VjcmV0", "u": encoded}, {"plain": "p"}) == {
        "token": "secret",
        "u": "öä",
        "plain": "p",
    }
    with pytest.raises(ValueError, match='key "bad" of the Secret is not base64-encoded UTF-8 text'):
        decode_secret_data({"bad": "//8="})
    with pytest.raises(ValueError, match='key "bad2"'):
        decode_secret_data({"bad2": "not base64!"})


# --- other resources ----------------------------------------------------------------------------------


def test_other_resource_object_is_apiversion_kind_metadata_and_body() -> None:
    spec = TemplateSpec.model_validate(
        {
            "pods": [{"name": "nb", "spec": {"containers": []}}],
            "otherResources": [
                {
                    "name": "svc",
                    "apiVersion": "{svc.api}",
                    "kind": "Service",
                    "labels": {"app": "jupyter"},
                    "body": {
                        "spec": {
                            "selector": {"jupyternetes.kadense.io/instance": "{jupyternetes.instance.name}"},
                            "ports": [{"port": 80, "targetPort": 8888}],
                        }
                    },
                }
            ],
        }
    )
    owner = {"apiVersion": "kadense.io/v1", "kind": "JupyterNotebookInstance", "name": "9lives", "uid": "u"}
    plan = render_template(spec, ctx({"svc.api": "v1"}, instance_name="9lives"), owner=owner)
    (svc,) = plan.others
    assert svc.api_version == "v1"
    assert svc.object_kind == "Service"
    assert list(svc.manifest) == ["apiVersion", "kind", "metadata", "spec"]
    assert svc.manifest["spec"]["selector"] == {"jupyternetes.kadense.io/instance": "9lives"}
    assert svc.manifest["metadata"]["ownerReferences"] == [owner]
    assert svc.manifest["metadata"]["labels"]["app"] == "jupyter"
    # Other resources get DNS-1035 names (a Service's name starts with a letter); pods keep the plain form.
    assert svc.name[0].isalpha()
    assert svc.name.startswith("x-9lives-svc-")
    assert plan.pods[0].name == "9lives-nb"


def test_template_labels_cannot_override_jupyternetes_labels() -> None:
    plan = render_template(pod_template("x", labels={LABEL_INSTANCE: "fake"}), ctx())
    assert plan.pods[0].manifest["metadata"]["labels"][LABEL_INSTANCE] == "jupyter-jovyan"
    assert "is set by Jupyternetes" in plan.warnings[0]


# --- helpers on rendered pods -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("containers", "port"),
    [
        ([{"ports": [{"containerPort": 9000}, {"containerPort": 8888, "name": "http"}]}], 8888),
        ([{"ports": [{"containerPort": 9000}]}, {"ports": [{"containerPort": 8888, "name": "http"}]}], 8888),
        (
            [
                {"name": "sidecar"},
                {"ports": [{"containerPort": 9000, "name": "metrics"}, {"containerPort": 9001}]},
            ],
            9000,
        ),
        ([{"ports": [{"containerPort": "8080", "name": "http"}]}], 8080),
        ([{"name": "no-ports"}], None),
        ([], None),
    ],
)
def test_pod_port(containers: list[dict[str, Any]], port: int | None) -> None:
    assert pod_port({"containers": containers}) == port
    assert pod_port({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": containers}}) == port


def test_rendered_pvc_refs() -> None:
    spec = {
        "volumes": [
            {"name": "a", "persistentVolumeClaim": {"claimName": "one"}},
            {"name": "b", "emptyDir": {}},
            {"name": "c", "persistentVolumeClaim": {"claimName": "two", "readOnly": True}},
        ]
    }
    assert rendered_pvc_refs(spec) == ["one", "two"]
    assert rendered_pvc_refs({"spec": spec}) == ["one", "two"]
    assert rendered_pvc_refs({"spec": {"containers": []}}) == []
