"""Declared variables (issue 15): a template's ``spec.variables``, and instances checked against them.

Fixed cases for each rule, then a fuzz (hypothesis) of declarations x values, as rendering is fuzzed in
test_rendering_fuzz.py: a declaration is accepted or refused with a message naming the variable; an
accepted one checks values without crashing, every refusal names a variable and a documented rule, and
every value it accepts (defaults included) follows its declaration when checked independently here."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jupyternetes.core.admission import render_with_defaults
from jupyternetes.core.models import parse_template
from jupyternetes.core.rendering import RenderFailed
from jupyternetes.core.variables import VariablesRefused, check_variables, parse_quantity, sample_values

ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")
E = TypeVar("E", bound=Exception)
RULES = {"undeclared", "required", "type", "enum", "pattern", "minimum", "maximum"}


def _decls(*raw: dict[str, Any]) -> Any:
    return parse_template({"spec": {"variables": list(raw)}}).spec.variables


def _refusal(decls: Any, given: dict[str, str]) -> list[tuple[str, str, str]]:
    with pytest.raises(VariablesRefused) as info:
        check_variables(decls, given)
    return [(e.variable, e.rule, e.message) for e in info.value.errors]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("1Gi", Decimal(1024**3)),
        ("1.5Ki", Decimal(1536)),
        ("500m", Decimal("0.5")),
        ("2G", Decimal(2 * 10**9)),
        ("1e3", Decimal(1000)),
        ("1E-3", Decimal("0.001")),
        ("+.5", Decimal("0.5")),
        ("-2k", Decimal(-2000)),
    ],
)
def test_quantities_parse_as_kubernetes_does(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1GG", "Gi", "1 Gi", "1.2.3", "1gi", "1e", "1e999", "x" * 100, "0x10"])
def test_non_quantities_are_refused_with_the_grammar(text: str) -> None:
    with pytest.raises(ValueError, match=r"quantity|exponent"):
        parse_quantity(text)


def test_no_declarations_accept_anything() -> None:
    """The announcement's template declares nothing: every variable passes, none is added."""
    seed = yaml.safe_load((ROOT / "fixtures" / "default-template.yaml").read_text())
    spec = parse_template(seed).spec
    assert spec.variables == []
    given = {"anything": "goes", "Size": "{not checked}"}
    assert check_variables(spec.variables, given) == given


def test_defaults_are_applied_and_values_checked() -> None:
    decls = _decls(
        {"name": "size", "type": "enum", "enum": ["small", "large"], "default": "small"},
        {"name": "memory", "type": "quantity", "minimum": "512Mi", "maximum": "8Gi", "default": "1Gi"},
        {"name": "cpus", "type": "integer", "minimum": 1, "maximum": 8, "default": 2},
        {"name": "gpu", "type": "boolean", "default": False},
        {"name": "user", "required": True, "pattern": "[a-z][a-z0-9]*"},
        {"name": "note"},
    )
    got = check_variables(decls, {"USER": "ana", "Memory": "2048Mi", "jupyterhub.user.name": "ana"})
    assert got == {
        "USER": "ana",
        "Memory": "2048Mi",
        "jupyterhub.user.name": "ana",
        "size": "small",
        "cpus": "2",
        "gpu": "false",
        "note": "",
    }


def test_each_rule_is_named_with_its_variable() -> None:
    decls = _decls(
        {"name": "size", "type": "enum", "enum": ["small", "large"]},
        {"name": "memory", "type": "quantity", "minimum": "512Mi", "maximum": "8Gi"},
        {"name": "cpus", "type": "integer", "minimum": 1, "maximum": 8},
        {"name": "gpu", "type": "boolean"},
        {"name": "user", "required": True, "pattern": "[a-z]+"},
    )
    errors = _refusal(decls, {"size": "huge", "memory": "16Gi", "cpus": "0", "gpu": "maybe", "colour": "red"})
    assert [(v, r) for v, r, _ in errors] == [
        ("colour", "undeclared"),
        ("size", "enum"),
        ("memory", "maximum"),
        ("cpus", "minimum"),
        ("gpu", "type"),
        ("user", "required"),
    ]
    for variable, _, message in errors:
        assert f'variable "{variable}"' in message
    assert _refusal(decls, {"user": "Ana1"})[0][1:] == (
        "pattern",
        'variable "user": "Ana1" does not match the pattern \'[a-z]+\'',
    )
    assert _refusal(decls, {"user": "a", "memory": "lots"})[0][1] == "type"
    assert _refusal(decls, {"user": "a", "cpus": "1.5"})[0][1] == "type"


def test_spawner_and_builtin_variables_are_never_undeclared() -> None:
    decls = _decls({"name": "size", "default": "s"})
    given = {"jupyterhub.user.name": "ana", "jupyterhub.env.X": "1", "jupyternetes.instance.name": "x"}
    assert check_variables(decls, given) == {**given, "size": "s"}


def test_variables_from_secrets_count_as_given() -> None:
    decls = _decls({"name": "token", "required": True})
    assert check_variables(decls, {}, optional=["TOKEN"]) == {}


@pytest.mark.parametrize(
    ("declaration", "needle"),
    [
        ({"name": "a", "type": "enum"}, "needs a non-empty enum"),
        ({"name": "a", "type": "integer", "enum": ["1"]}, "enum is only for type enum"),
        ({"name": "a", "type": "enum", "enum": ["x", "x"]}, "duplicate values"),
        ({"name": "a", "type": "integer", "pattern": "x"}, "pattern is only for type string"),
        ({"name": "a", "pattern": "("}, "is not a regular expression"),
        ({"name": "a", "minimum": 1}, "minimum is only for types integer and quantity"),
        (
            {"name": "a", "type": "quantity", "maximum": "lots"},
            "maximum: 'lots' is not a Kubernetes quantity",
        ),
        ({"name": "a", "type": "integer", "minimum": "1Gi"}, "minimum: '1Gi' is not an integer"),
        ({"name": "a", "type": "integer", "minimum": 5, "maximum": 1}, "minimum 5 is more than maximum 1"),
        ({"name": "a", "required": True, "default": "x"}, "a required variable has no default"),
        ({"name": "a", "type": "integer", "maximum": 3, "default": 4}, '(its default): "4" is more than'),
        ({"name": "a", "type": "enum", "enum": ["x"], "default": "y"}, '(its default): "y" is not one of'),
    ],
)
def test_bad_declarations_are_refused_naming_the_variable(declaration: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        _decls(declaration)
    assert 'variable "a"' in str(info.value)
    assert needle in str(info.value)


def test_duplicate_declarations_are_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate declaration of Size"):
        _decls({"name": "size"}, {"name": "Size"})


# --- fuzz ----------------------------------------------------------------------------------------------

NAMES = ["size", "Size", "memory", "cpus", "flag", "user", "jupyterhub.profile"]
PATTERNS = ["[a-z]+", ".*", "a|b", "(", "[0-9]{2,3}", "x+?"]
QUANTITIES = ["0", "1", "512Mi", "1Gi", "1.5Gi", "500m", "2G", "1e3", "-1", "1GG", "lots", "", "1e999"]
INTEGERS: list[int | str] = [0, 1, -5, 8, 100, "3", "x", "1.5"]
VALUES = [
    *QUANTITIES,
    "true",
    "FALSE",
    "yes",
    "small",
    "large",
    "ab",
    "42",
    "007",
    " 4 ",
    "{user}",
    "\x00",
    "日本",
]

any_declaration = st.fixed_dictionaries(
    {"name": st.sampled_from(NAMES)},
    optional={
        "type": st.sampled_from(["string", "integer", "boolean", "quantity", "enum"]),
        "enum": st.lists(st.sampled_from(["small", "large", "42", ""]), max_size=3),
        "pattern": st.sampled_from(PATTERNS),
        "minimum": st.one_of(st.sampled_from(INTEGERS), st.sampled_from(QUANTITIES)),
        "maximum": st.one_of(st.sampled_from(INTEGERS), st.sampled_from(QUANTITIES)),
        "default": st.one_of(st.sampled_from(VALUES), st.booleans(), st.integers(-10, 10)),
        "required": st.booleans(),
        "description": st.text(max_size=5),
    },
)

_NAME = {"name": st.sampled_from(NAMES)}
_OPTIONAL = {"description": st.text(max_size=5)}
# Declarations that are well formed more often than not, so that values are checked against every type.
consistent_declaration = st.one_of(
    st.fixed_dictionaries(
        {**_NAME, "type": st.just("string")},
        optional={
            "pattern": st.sampled_from([p for p in PATTERNS if p != "("]),
            "default": st.sampled_from(VALUES),
            **_OPTIONAL,
        },
    ),
    st.fixed_dictionaries(
        {**_NAME, "type": st.just("integer")},
        optional={
            "minimum": st.integers(-3, 3),
            "maximum": st.integers(0, 50),
            "default": st.integers(-3, 50),
            **_OPTIONAL,
        },
    ),
    st.fixed_dictionaries(
        {**_NAME, "type": st.just("quantity")},
        optional={
            "minimum": st.sampled_from(QUANTITIES[:9]),
            "maximum": st.sampled_from(QUANTITIES[:9]),
            "default": st.sampled_from(QUANTITIES[:9]),
            **_OPTIONAL,
        },
    ),
    st.fixed_dictionaries(
        {**_NAME, "type": st.just("boolean")}, optional={"default": st.booleans(), **_OPTIONAL}
    ),
    st.fixed_dictionaries(
        {
            **_NAME,
            "type": st.just("enum"),
            "enum": st.lists(st.sampled_from(VALUES), min_size=1, max_size=3, unique=True),
        },
        optional={"default": st.sampled_from(VALUES), **_OPTIONAL},
    ),
)
declaration_lists = st.one_of(
    st.lists(any_declaration, max_size=4),
    st.lists(consistent_declaration, max_size=4, unique_by=lambda d: str(d["name"]).lower()),
)


def _outcome(call: Callable[[], T], error: type[E]) -> T | E:
    try:
        return call()
    except error as exc:
        return exc


def _follows(decl: Any, value: str) -> bool:
    """The declaration's rule, written independently of the module under test."""
    if decl.type == "boolean":
        return value.strip().lower() in ("true", "false")
    if decl.type == "enum":
        return value in decl.enum
    if decl.type == "string":
        return decl.pattern is None or re.fullmatch(decl.pattern, value) is not None
    number = Decimal(int(value)) if decl.type == "integer" else parse_quantity(value)
    bound = int if decl.type == "integer" else parse_quantity
    low = None if decl.minimum is None else Decimal(bound(decl.minimum))
    high = None if decl.maximum is None else Decimal(bound(decl.maximum))
    return (low is None or number >= low) and (high is None or number <= high)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=declaration_lists,
    given_values=st.dictionaries(
        st.sampled_from([*NAMES, "colour", "jupyterhub.user.name"]), st.sampled_from(VALUES), max_size=5
    ),
)
def test_fuzz_declarations_and_values(raw: list[dict[str, Any]], given_values: dict[str, str]) -> None:
    parsed = _outcome(lambda: _decls(*raw), ValidationError)
    if isinstance(parsed, ValidationError):
        event("declaration refused")
        for err in parsed.errors():
            # A field of one declaration (its type, enum ...), or the rules across them.
            assert err["loc"][:2] == ("spec", "variables") or err["loc"] == ("spec",), err
            if err["type"] == "value_error":
                assert 'variable "' in err["msg"] or "duplicate declaration" in err["msg"], err
        return
    decls = parsed
    event(f"{len(decls)} declarations accepted")
    for decl in decls:
        if decl.default is not None:
            assert _follows(decl, decl.default), decl
    result = _outcome(lambda: check_variables(decls, given_values), VariablesRefused)
    if isinstance(result, VariablesRefused):
        event("values refused")
        assert result.errors
        named = {d.name.lower() for d in decls} | {k.lower() for k in given_values}
        for err in result.errors:
            assert err.rule in RULES, err
            assert err.variable.lower() in named, err
            assert f'variable "{err.variable}"' in err.message, err
        return
    event("values accepted" if decls else "no declarations")
    assert {k: v for k, v in result.items() if k in given_values} == given_values
    lowered = {k.lower(): v for k, v in result.items()}
    for decl in decls:
        assert decl.name.lower() in lowered
        value = lowered[decl.name.lower()]
        if decl.name.lower() in {k.lower() for k in given_values} or decl.default is not None:
            assert _follows(decl, value), (decl, value)
        else:
            assert value == ""
            assert not decl.required
    if decls:
        declared = {d.name.lower() for d in decls}
        for key in given_values:
            assert key.lower() in declared or key.startswith("jupyterhub."), key


# --- admission: a template rendered on its own ------------------------------------------------------


def _spec(env_value: str, *variables: dict[str, Any]) -> Any:
    return parse_template(
        {
            "spec": {
                "variables": list(variables),
                "pods": [
                    {
                        "name": "main",
                        "spec": {
                            "containers": [
                                {"name": "c", "image": "i", "env": [{"name": "X", "value": env_value}]}
                            ]
                        },
                    }
                ],
            }
        }
    ).spec


def test_sample_values_follow_their_declarations() -> None:
    decls = _decls(
        {"name": "size", "type": "enum", "enum": ["s", "l"], "required": True},
        {"name": "n", "type": "integer", "minimum": 3, "required": True},
        {"name": "q", "type": "quantity", "maximum": "1Gi", "required": True},
        {"name": "b", "type": "boolean", "required": True},
        {"name": "p", "pattern": "[0-9]+", "required": True},
        {"name": "d", "default": "given"},
    )
    values = sample_values(decls)
    assert values == {"size": "s", "n": "3", "q": "1Gi", "b": "false", "p": "0", "d": "given"}
    assert check_variables(decls, values) == values


def test_a_template_without_declarations_is_only_checked_for_its_structure() -> None:
    assert render_with_defaults(_spec("{anything}"), "t", "ns") is None
    with pytest.raises(RenderFailed, match="unbalanced"):
        render_with_defaults(_spec('{"a": 1'), "t", "ns")


def test_a_template_with_declarations_renders_with_defaults_and_spawner_placeholders() -> None:
    plan = render_with_defaults(
        _spec("{size}/{jupyterhub.user.name}", {"name": "size", "default": "small"}), "t", "ns"
    )
    assert plan is not None
    assert plan.pods[0].manifest["spec"]["containers"][0]["env"][0]["value"] == "small/sample"
    with pytest.raises(RenderFailed, match="colour"):
        render_with_defaults(_spec("{colour}", {"name": "size", "default": "small"}), "t", "ns")
