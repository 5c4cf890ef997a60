"""Property-based tests: no variable value can change the structure of a rendered object, add a field, or
expand another variable; values appear verbatim."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyternetes.core.models import TemplateSpec, parse_instance, parse_template
from jupyternetes.core.rendering import RenderContext, RenderFailed, render_instance, render_template

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
# Loaded once here rather than through the function-scoped fixtures: hypothesis runs many examples per test.
SEED_TEMPLATE = yaml.safe_load((FIXTURES / "default-template.yaml").read_text(encoding="utf-8"))
SEED_INSTANCE = yaml.safe_load((FIXTURES / "instance.yaml").read_text(encoding="utf-8"))

ADVERSARIAL = [
    "{jupyterhub.api_token}",
    "{jupyterhub.user.name}",
    "{{jupyterhub.user.name}}",
    "{jupyternetes.pvcs.workspace}",
    "{JUPYTERNETES.INSTANCE.NAME}",
    "{",
    "}",
    "{{",
    "}}",
    "{}",
    '{"a": 1}',
    "[1, 2, {}]",
    "a: b\nc: [d]\n",
    "---\nkind: Pod\n",
    '", "injected": "',
    "'; DROP TABLE users; --",
    "\\",
    "\\n",
    "\x00",
    "\r\n",
    "${HOME}",
    "%(name)s",
    "🎉",
    "日本語",
    "",
    " ",
]

VALUES = st.one_of(
    st.text(),
    st.sampled_from(ADVERSARIAL),
    st.lists(st.one_of(st.sampled_from(ADVERSARIAL), st.text(max_size=5)), max_size=6).map("".join),
)
LABEL_SAFE = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,30}[A-Za-z0-9])?", fullmatch=True)
SEED_VARIABLES = [
    "jupyterhub.api_token",
    "jupyterhub.namespace",
    "jupyterhub.oauth_client_id",
    "jupyterhub.user.name",
]


def shape(v: Any) -> Any:
    """The structure of ``v``: dict keys, list lengths and scalar types, without the strings' text."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(x) for x in v]
    return type(v).__name__


_ORACLE = re.compile(r"\{\{|\}\}|\{([A-Za-z0-9_.\-]+)\}")


def oracle(v: Any, variables: dict[str, str]) -> Any:
    """An independent reference renderer for templates without errors: one regex substitution pass."""
    lookup = {k.lower(): x for k, x in variables.items()}

    def sub(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        return lookup[m.group(1).lower()]

    if isinstance(v, str):
        return _ORACLE.sub(sub, v)
    if isinstance(v, dict):
        return {oracle(k, variables): oracle(x, variables) for k, x in v.items()}
    if isinstance(v, list):
        return [oracle(x, variables) for x in v]
    return v


@settings(max_examples=150)
@given(values=st.fixed_dictionaries({k: VALUES for k in SEED_VARIABLES}), user_id=LABEL_SAFE)
def test_seed_structure_does_not_depend_on_values(values: dict[str, str], user_id: str) -> None:
    template = parse_template(SEED_TEMPLATE)
    neutral = parse_instance(SEED_INSTANCE)
    wild = parse_instance(copy.deepcopy(SEED_INSTANCE))
    wild.spec.variables.update(values, **{"jupyterhub.user.id": user_id})
    reference = render_instance(template, neutral)
    plan = render_instance(template, wild)
    assert [shape(o.manifest) for o in plan.objects] == [shape(o.manifest) for o in reference.objects]

    pod = plan.pods[0].manifest
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    name, token, ns = (
        values["jupyterhub.user.name"],
        values["jupyterhub.api_token"],
        values["jupyterhub.namespace"],
    )
    assert env["JUPYTERHUB_USER"] == name
    assert env["JPY_API_TOKEN"] == env["JUPYTERHUB_API_TOKEN"] == token
    assert env["JUPYTERHUB_CLIENT_ID"] == values["jupyterhub.oauth_client_id"]
    assert (
        env["JUPYTERHUB_ACTIVITY_URL"]
        == f"http://hub.{ns}.svc.cluster.local:8081/hub/api/users/{name}/activity"
    )
    assert (
        env["JUPYTERHUB_OAUTH_SCOPES"] == f'["access:servers!server={name}/", "access:servers!user={name}"]'
    )
    assert pod["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == f"/home/{name}/work"
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == plan.pvcs[0].name
    assert pod["metadata"]["labels"]["jupyternetes.kadense.io/userId"] == user_id
    assert pod["metadata"]["name"] == reference.pods[0].name


SYNTHETIC: dict[str, Any] = {
    "pvcs": [
        {
            "name": "data",
            "annotations": {"note": "{a}"},
            "spec": {"storageClassName": "{b}", "x": [1, True, None]},
        }
    ],
    "pods": [
        {
            "name": "nb",
            "condition": "{flag}",
            "annotations": {"a.example.org/x": "{a}{b}", "b": "{{literal}} {A}"},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "args": ["{a}", "--opt={b}", "{{}}", "{a}{a}{b}"],
                        "env": [{"name": "E", "value": '{{"k": "{a}", "n": {b}}}'}],
                        "ports": [{"containerPort": 8888}],
                    }
                ],
                "nodeSelector": {"{a}": "{b}"},
                "volumes": [
                    {"name": "d", "persistentVolumeClaim": {"claimName": "{jupyternetes.pvcs.data}"}}
                ],
                "priority": 3,
                "hostNetwork": False,
            },
        }
    ],
    "otherResources": [
        {
            "name": "cfg",
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "body": {"data": {"{b}": "{a}"}, "binaryData": {"static": "eA=="}, "immutable": True},
        }
    ],
}


@settings(max_examples=150)
@given(a=VALUES, b=VALUES)
def test_values_cannot_change_structure_or_expand(a: str, b: str) -> None:
    spec = TemplateSpec.model_validate(SYNTHETIC)
    ctx = RenderContext("inst", "ns", "tpl", "tns", {"a": a, "B": b, "flag": "yes"})
    plan = render_template(spec, ctx)
    builtins = {"jupyternetes.pvcs.data": "inst-data"}
    variables = {"a": a, "b": b, **builtins}
    for obj, entry in zip(
        plan.objects,
        [SYNTHETIC["pvcs"][0], SYNTHETIC["pods"][0], SYNTHETIC["otherResources"][0]],
        strict=True,
    ):
        manifest = obj.manifest
        body = entry.get("spec", entry.get("body"))
        rendered = manifest.get("spec") if "spec" in entry else {k: manifest[k] for k in body}
        # Exactly what a single substitution pass over the template gives: values verbatim, never rescanned.
        assert rendered == oracle(body, variables)
        assert manifest["metadata"].get("annotations", {}) == oracle(entry.get("annotations", {}), variables)
        # Same structure as the template: keys (except keys with placeholders), list lengths, scalar types.
        assert _same_structure(body, rendered)
        assert set(manifest) == {"apiVersion", "kind", "metadata", *(["spec"] if "spec" in entry else body)}
    pod = plan.pods[0].manifest["spec"]
    assert pod["containers"][0]["args"] == [a, f"--opt={b}", "{}", f"{a}{a}{b}"]
    assert pod["containers"][0]["env"][0]["value"] == f'{{"k": "{a}", "n": {b}}}'


def _same_structure(template: Any, output: Any) -> bool:
    if isinstance(template, dict):
        if not isinstance(output, dict) or len(template) != len(output):
            return False
        for (tk, tv), (ok, ov) in zip(template.items(), output.items(), strict=True):
            if "{" not in tk and tk != ok:
                return False
            if not _same_structure(tv, ov):
                return False
        return True
    if isinstance(template, list):
        return (
            isinstance(output, list)
            and len(template) == len(output)
            and all(_same_structure(t, o) for t, o in zip(template, output, strict=True))
        )
    return type(template) is type(output) and (isinstance(template, str) or template == output)


@given(text=st.text())
def test_escaped_text_renders_back_to_itself(text: str) -> None:
    escaped = text.replace("{", "{{").replace("}", "}}")
    spec = TemplateSpec.model_validate(
        {"pods": [{"name": "nb", "spec": {"containers": [{"name": "c", "command": [escaped]}]}}]}
    )
    plan = render_template(spec, RenderContext("i", "n", "t", "n"))
    assert plan.pods[0].manifest["spec"]["containers"][0]["command"] == [text]


@given(text=st.text(alphabet=st.sampled_from("{}ab.x -\"'")), value=VALUES)
def test_arbitrary_template_text_renders_or_fails_cleanly(text: str, value: str) -> None:
    spec = TemplateSpec.model_validate({"pods": [{"name": "nb", "spec": {"k": text}}]})
    errors: tuple[Any, ...] = ()
    try:
        plan = render_template(spec, RenderContext("i", "n", "t", "n", {"x": value, "a": value}))
    except RenderFailed as exc:
        errors = exc.errors
    if errors:
        assert {e.code for e in errors} <= {"unbalanced-brace", "undefined-variable"}
        assert all(e.path == "pods[nb].spec.k" for e in errors)
    else:
        assert plan.pods[0].manifest["spec"]["k"] == oracle(text, {"x": value, "a": value})


@given(data=st.data())
def test_variable_names_match_in_any_case(data: st.DataObject) -> None:
    name = "jupyterhub.user.name"
    written = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in name)
    spec = TemplateSpec.model_validate({"pods": [{"name": "nb", "spec": {"k": f"<{{{written}}}>"}}]})
    key = data.draw(st.sampled_from([name, name.upper(), "JupyterHub.User.Name"]))
    plan = render_template(spec, RenderContext("i", "n", "t", "n", {key: "jovyan"}))
    assert plan.pods[0].manifest["spec"]["k"] == "<jovyan>"
