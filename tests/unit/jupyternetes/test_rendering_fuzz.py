"""Fuzz of rendering: random templates (any shape, placeholders anywhere, stray braces, references to
entries that may not exist, conditions) x random variables (adversarial values, names differing in case,
reserved names). Rendering never crashes: it raises RenderFailed with documented error codes, or returns
a plan in which every entry is created or skipped, every object has the structure of its template entry
(keys, list lengths, scalar types: nothing added, nothing removed), every string is the single-pass
substitution of its template string, and metadata is the operator's (name, namespace, labels, owner).
Part of issue 7 (hostile input); the properties of test_core_rendering_properties.py on fixed templates
are kept there."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jupyternetes.core.models import TemplateSpec
from jupyternetes.core.naming import LABEL_ENTRY, LABEL_INSTANCE, LABEL_TEMPLATE, child_name, label_value
from jupyternetes.core.rendering import (
    RenderContext,
    RenderFailed,
    builtin_variables,
    merge_variables,
    render_template,
)

ERROR_CODES = {
    "undefined-variable",
    "unbalanced-brace",
    "undefined-entry",
    "skipped-pvc",
    "key-collision",
    "invalid-label",
    "invalid-annotation",
    "variable-conflict",
}
ENTRY_NAMES = ["e0", "e1", "e2", "e3"]
USER_VARIABLES = ["user", "Home", "a.b", "a-b_c", "flag"]
BUILTINS = ["jupyternetes.instance.name", "jupyternetes.template.namespace"]
# Each entry name has one kind, so references to entries are right when the entry is drawn.
ENTRY_KINDS = {"e0": "pvcs", "e1": "pods", "e2": "pods", "e3": "otherResources"}
ENTRY_REFERENCES = [f"jupyternetes.{kind.lower()}.{e}" for e, kind in ENTRY_KINDS.items()]
RARE = ["USER", "missing", "jupyternetes.nope"]
VARIABLES = USER_VARIABLES + BUILTINS + ENTRY_REFERENCES + RARE
ADVERSARIAL = [
    "{user}",
    "{{",
    "}}",
    "{",
    "}",
    "{}",
    '{"a": 1}',
    "a: b\n- c\n",
    '", "injected": "',
    "../../etc",
    "\x00",
    "\r\n",
    "false",
    "0",
    "",
    " ",
    "日本語",
    "x" * 300,
]

_plain = st.text(alphabet=st.characters(exclude_characters="{}", exclude_categories=["Cs"]), max_size=6)
_reference = st.one_of(
    st.sampled_from(USER_VARIABLES),
    st.sampled_from(USER_VARIABLES),
    st.sampled_from(USER_VARIABLES),
    st.sampled_from(BUILTINS),
    st.sampled_from(ENTRY_REFERENCES),
    st.sampled_from(RARE),
).map(lambda n: "{" + n + "}")
_escape = st.sampled_from(["{{", "}}", "{{}}", '{{"k": 1}}'])
_stray = st.sampled_from(["{", "}", "{ user}", "{user", "{}", "}{"])


def _strategies(messy: bool) -> dict[str, st.SearchStrategy[Any]]:
    """Strings with placeholders and escapes, and with stray braces too in a messy template."""
    fragment = st.one_of(_plain, _plain, _reference, _escape, *([_stray] if messy else []))
    tstring = st.lists(fragment, max_size=4).map("".join)
    scalar = st.one_of(
        tstring,
        st.integers(-5, 5),
        st.booleans(),
        st.none(),
        st.floats(allow_nan=False, allow_infinity=False),
    )
    tree = st.recursive(
        scalar,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(tstring, inner, max_size=3)),
        max_leaves=12,
    )
    return {
        "string": tstring,
        "spec": st.dictionaries(tstring, tree, max_size=4),
        "body": st.dictionaries(
            tstring.filter(lambda k: k not in ("apiVersion", "kind", "metadata")), tree, max_size=3
        ),
    }


STRATEGIES = {messy: _strategies(messy) for messy in (False, True)}
VALUES = st.one_of(st.sampled_from(ADVERSARIAL), st.text(max_size=8), STRATEGIES[True]["string"])


@st.composite
def templates(draw: st.DrawFn) -> dict[str, Any]:
    strategies = STRATEGIES[draw(st.integers(0, 4)) == 0]  # one template in five has stray braces
    tstring = strategies["string"]
    names = draw(st.lists(st.sampled_from(ENTRY_NAMES), min_size=3, max_size=4, unique=True))
    spec: dict[str, Any] = {"pods": [], "pvcs": [], "otherResources": []}
    for name in names:
        entry: dict[str, Any] = {"name": name}
        # Mostly valid label and annotation keys (random text would nearly always be refused).
        keys = st.one_of(st.sampled_from(["app", "example.org/role", "team-{flag}", "x{{y}}"]), tstring)
        if draw(st.booleans()):
            entry["labels"] = draw(
                st.dictionaries(keys, st.one_of(st.sampled_from(["a", "b-1", ""]), tstring), max_size=2)
            )
        if draw(st.booleans()):
            entry["annotations"] = draw(st.dictionaries(keys, tstring, max_size=2))
        if draw(st.booleans()):
            entry["condition"] = draw(tstring)
        kind = ENTRY_KINDS[name]
        if kind == "otherResources":
            entry["apiVersion"] = draw(tstring) or "v1"
            entry["kind"] = draw(tstring) or "ConfigMap"
            entry["body"] = draw(strategies["body"])
        else:
            entry["spec"] = draw(strategies["spec"])
            if kind == "pvcs":
                entry["deleteWithInstance"] = draw(st.booleans())
        spec[kind].append(entry)
    return spec


_ORACLE = re.compile(r"\{\{|\}\}|\{([A-Za-z0-9_.\-]+)\}")


def oracle(v: Any, lookup: dict[str, str]) -> Any:
    """An independent renderer for successful renders: one regex pass, case-insensitive names."""
    if isinstance(v, str):
        return _ORACLE.sub(lambda m: m.group(0)[0] if m.group(1) is None else lookup[m.group(1).lower()], v)
    if isinstance(v, dict):
        return {oracle(k, lookup): oracle(x, lookup) for k, x in v.items()}
    if isinstance(v, list):
        return [oracle(x, lookup) for x in v]
    return v


def same_structure(rendered: Any, template: Any) -> bool:
    """Same containers, same sizes, same non-string scalars, strings where strings were; dict entries
    compared in order (keys are rendered too, so their text may differ)."""
    if isinstance(template, dict):
        return (
            isinstance(rendered, dict)
            and len(rendered) == len(template)
            and all(
                isinstance(rk, str) and same_structure(rv, tv)
                for (rk, rv), tv in zip(rendered.items(), template.values(), strict=True)
            )
        )
    if isinstance(template, list):
        return (
            isinstance(rendered, list)
            and len(rendered) == len(template)
            and all(same_structure(r, t) for r, t in zip(rendered, template, strict=True))
        )
    if isinstance(template, str):
        return isinstance(rendered, str)
    return type(rendered) is type(template) and rendered == template


OWNER = {
    "apiVersion": "kadense.io/v1",
    "kind": "JupyterNotebookInstance",
    "name": "jupyter-ana",
    "uid": "u-1",
    "controller": True,
    "blockOwnerDeletion": True,
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=templates(),
    variables=st.fixed_dictionaries(
        {name.lower(): VALUES for name in USER_VARIABLES},
        optional={name: VALUES for name in [*RARE, *BUILTINS, "jupyternetes.pvcs.e0", "other"]},
    ),
)
def test_random_templates_render_or_fail_cleanly(raw: dict[str, Any], variables: dict[str, str]) -> None:
    spec = TemplateSpec.model_validate(raw)
    ctx = RenderContext(
        instance_name="jupyter-ana",
        instance_namespace="users",
        template_name="t",
        template_namespace="kadense",
        variables=variables,
    )
    failed: RenderFailed | None = None
    try:
        plan = render_template(spec, ctx, owner=OWNER)
    except RenderFailed as exc:
        failed = exc
    if failed is not None:
        assert failed.errors
        for err in failed.errors:
            assert err.code in ERROR_CODES, err
            assert err.message
        event(f"RenderFailed: {sorted({e.code for e in failed.errors})[0]}")
        return
    event(f"rendered {len(plan.objects)} objects, {len(plan.skipped)} skipped")
    builtins = builtin_variables(
        spec,
        instance_name="jupyter-ana",
        instance_namespace="users",
        template_name="t",
        template_namespace="kadense",
    )
    lookup, errors, _ = merge_variables(variables, (), builtins)
    assert not errors
    entries = {e["name"]: (kind, e) for kind in ("pods", "pvcs", "otherResources") for e in raw[kind]}
    made = {o.entry: o for o in plan.objects}
    skipped = {s.entry for s in plan.skipped}
    assert set(made) | skipped == set(entries)
    assert not set(made) & skipped
    for entry, obj in made.items():
        kind, source = entries[entry]
        m = obj.manifest
        meta = m["metadata"]
        assert set(meta) <= {"name", "namespace", "labels", "annotations", "ownerReferences"}
        assert meta["namespace"] == "users"
        assert (
            meta["name"]
            == obj.name
            == child_name("jupyter-ana", entry, start_with_letter=kind == "otherResources")
        )
        labels = dict(meta["labels"])
        assert labels.pop(LABEL_INSTANCE) == label_value("jupyter-ana")
        assert labels.pop(LABEL_TEMPLATE) == "t"
        assert labels.pop(LABEL_ENTRY) == entry
        template_labels = oracle(source.get("labels") or {}, lookup)
        assert labels == {
            k: v for k, v in template_labels.items() if k not in (LABEL_INSTANCE, LABEL_TEMPLATE, LABEL_ENTRY)
        }
        assert meta.get("annotations", {}) == oracle(source.get("annotations") or {}, lookup)
        owned = kind != "pvcs" or bool(source.get("deleteWithInstance"))
        assert meta.get("ownerReferences") == ([OWNER] if owned else None)
        if kind == "otherResources":
            assert m["apiVersion"] == oracle(source["apiVersion"], lookup)
            assert m["kind"] == oracle(source["kind"], lookup)
            body = {k: v for k, v in m.items() if k not in ("apiVersion", "kind", "metadata")}
            assert same_structure(body, source["body"])
            assert body == oracle(source["body"], lookup)
        else:
            assert set(m) == {"apiVersion", "kind", "metadata", "spec"}
            assert m["kind"] == ("Pod" if kind == "pods" else "PersistentVolumeClaim")
            assert same_structure(m["spec"], source["spec"])
            assert m["spec"] == oracle(source["spec"], lookup)
