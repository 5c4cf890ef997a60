"""Declared variables: a template's ``spec.variables`` and the check of an instance's values against them.

Pure functions, no I/O. The rules (docs/api.md "Declared variables"):

- A template without declarations accepts any variable (the original behaviour, kept).
- A template with declarations refuses variables it does not declare, except the spawner's
  (``jupyterhub.*``) and the operator's built-ins (``jupyternetes.*``): the hub sets those on every
  instance, and an administrator declares one only to check it.
- Names match case-insensitively, as placeholders do.
- A declared variable that is not given takes its ``default``; one without a default is an error if
  ``required``, else it is the empty string.
- Values are text (instances carry strings). ``integer``: an optional sign and digits, within
  ``minimum``/``maximum``; ``boolean``: ``true`` or ``false`` (any case); ``quantity``: a Kubernetes quantity
  (``500m``, ``2Gi``, ``1e3``), compared by value with ``minimum``/``maximum``; ``enum``: one of ``enum``;
  ``string``: anything, matching ``pattern`` (a Python regular expression, whole value) if one is set.

Every error names the variable and the rule it breaks (:class:`VariableError`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .models import VariableDeclaration

__all__ = [
    "EXEMPT_PREFIXES",
    "VARIABLE_TYPES",
    "VariableError",
    "VariablesRefused",
    "check_variables",
    "declaration_problems",
    "parse_quantity",
    "sample_values",
]

VARIABLE_TYPES: Final = ("string", "integer", "boolean", "quantity", "enum")
EXEMPT_PREFIXES: Final = ("jupyterhub.", "jupyternetes.")
"""Variables the spawner (``jupyterhub.*``) and the operator (``jupyternetes.*``) set: never refused as
undeclared."""

_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_BOOLEANS: Final = frozenset({"true", "false"})
# Kubernetes' quantity grammar (resource.ParseQuantity): a decimal number and at most one suffix.
_QUANTITY = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?\Z"
)
_BINARY: Final = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL: Final = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
# Exponents beyond this are no sizes anyone means, and Decimal arithmetic on them is slow.
_MAX_EXPONENT: Final = 100


def parse_quantity(text: str) -> Decimal:
    """The value of a Kubernetes quantity (``"1Gi"`` -> 1073741824, ``"500m"`` -> 0.5).

    Raises ``ValueError`` naming the grammar when ``text`` is not one."""
    m = _QUANTITY.match(text.strip()) if len(text) <= 64 else None
    if m is None:
        raise ValueError(
            f"{text[:64]!r} is not a Kubernetes quantity (a number with an optional suffix such as 500m, "
            "1Gi, 2G or 1e3)"
        )
    number, suffix = m.group(1), m.group(2) or ""
    try:
        value = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regular expression admits only numbers
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from exc
    if suffix in _BINARY:
        return value * (Decimal(1024) ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return value.scaleb(_DECIMAL[suffix])
    exponent = int(suffix[1:])
    if abs(exponent) > _MAX_EXPONENT:
        raise ValueError(f"{text!r}: the exponent is out of range (at most {_MAX_EXPONENT} either way)")
    return value.scaleb(exponent)


@dataclass(frozen=True)
class VariableError:
    """One broken rule: ``variable`` (its declared or given name), ``rule`` (``undeclared``,
    ``required``, ``type``, ``enum``, ``pattern``, ``minimum``, ``maximum``) and a message naming both."""

    variable: str
    rule: str
    message: str

    def __str__(self) -> str:
        return self.message


class VariablesRefused(ValueError):
    """An instance's variables break its template's declarations; ``errors`` holds every broken rule."""

    def __init__(self, errors: Sequence[VariableError]) -> None:
        self.errors: tuple[VariableError, ...] = tuple(errors)
        super().__init__(self.summary())

    def summary(self, limit: int = 5) -> str:
        shown = "; ".join(e.message for e in self.errors[:limit])
        more = len(self.errors) - limit
        return shown + (f" (and {more} more)" if more > 0 else "")


def _bound(decl_type: str, value: int | str | None) -> Decimal | None:
    """A declaration's minimum/maximum as a number (raises ValueError when it is not one of its type)."""
    if value is None:
        return None
    if decl_type == "quantity":
        return parse_quantity(str(value))
    if isinstance(value, bool) or (isinstance(value, str) and not _INTEGER.match(value)):
        raise ValueError(f"{value!r} is not an integer")
    return Decimal(int(value))


def _value_errors(decl: VariableDeclaration, value: str, where: str) -> list[VariableError]:
    name = decl.name
    what = f'variable "{name}"{where}'
    shown = value if len(value) <= 64 else value[:61] + "..."
    if decl.type == "integer":
        if not _INTEGER.match(value.strip()):
            return [VariableError(name, "type", f'{what}: "{shown}" is not an integer')]
        number = Decimal(int(value.strip()))
    elif decl.type == "quantity":
        try:
            number = parse_quantity(value)
        except ValueError as exc:
            return [VariableError(name, "type", f"{what}: {exc}")]
    elif decl.type == "boolean":
        if value.strip().lower() not in _BOOLEANS:
            return [VariableError(name, "type", f'{what}: "{shown}" is not a boolean (true or false)')]
        return []
    elif decl.type == "enum":
        allowed = decl.enum or []
        if value not in allowed:
            return [
                VariableError(
                    name, "enum", f'{what}: "{shown}" is not one of {", ".join(repr(a) for a in allowed)}'
                )
            ]
        return []
    else:
        if decl.pattern is not None and re.fullmatch(decl.pattern, value) is None:
            return [
                VariableError(
                    name, "pattern", f'{what}: "{shown}" does not match the pattern {decl.pattern!r}'
                )
            ]
        return []
    errors: list[VariableError] = []
    low, high = _bound(decl.type, decl.minimum), _bound(decl.type, decl.maximum)
    if low is not None and number < low:
        errors.append(
            VariableError(name, "minimum", f'{what}: "{shown}" is less than the minimum {decl.minimum}')
        )
    if high is not None and number > high:
        errors.append(
            VariableError(name, "maximum", f'{what}: "{shown}" is more than the maximum {decl.maximum}')
        )
    return errors


def declaration_problems(decl: VariableDeclaration) -> list[str]:
    """What is wrong with one declaration itself (an ``enum`` on an integer, a minimum that is no
    quantity, a default breaking its own rules ...), each naming the variable."""
    what = f'variable "{decl.name}"'
    problems: list[str] = []
    if decl.type == "enum" and not decl.enum:
        problems.append(f"{what}: type enum needs a non-empty enum (the allowed values)")
    if decl.enum is not None and decl.type != "enum":
        problems.append(f"{what}: enum is only for type enum (type is {decl.type})")
    if decl.enum is not None and len(set(decl.enum)) != len(decl.enum):
        problems.append(f"{what}: enum has duplicate values")
    if decl.pattern is not None:
        if decl.type != "string":
            problems.append(f"{what}: pattern is only for type string (type is {decl.type})")
        else:
            try:
                re.compile(decl.pattern)
            except re.error as exc:
                problems.append(f"{what}: pattern {decl.pattern!r} is not a regular expression: {exc}")
    bounds: dict[str, Decimal | None] = {}
    for rule, bound in (("minimum", decl.minimum), ("maximum", decl.maximum)):
        if bound is None:
            continue
        if decl.type not in ("integer", "quantity"):
            problems.append(f"{what}: {rule} is only for types integer and quantity (type is {decl.type})")
            continue
        try:
            bounds[rule] = _bound(decl.type, bound)
        except ValueError as exc:
            problems.append(f"{what}: {rule}: {exc}")
    low, high = bounds.get("minimum"), bounds.get("maximum")
    if low is not None and high is not None and low > high:
        problems.append(f"{what}: minimum {decl.minimum} is more than maximum {decl.maximum}")
    if decl.required and decl.default is not None:
        problems.append(f"{what}: a required variable has no default (the instance must give it)")
    if decl.default is not None and not problems:
        problems.extend(e.message for e in _value_errors(decl, decl.default, " (its default)"))
    return problems


def check_variables(
    declarations: Sequence[VariableDeclaration],
    given: Mapping[str, str],
    *,
    optional: Iterable[str] = (),
) -> dict[str, str]:
    """``given`` checked against ``declarations``, with the defaults added: the variables to render with.

    ``optional``: names of variables supplied from elsewhere (the instance's ``variablesFrom`` Secrets)
    that count as given for ``required`` but are not checked here. Raises :class:`VariablesRefused`
    with every broken rule. No declarations: ``given`` as it is."""
    if not declarations:
        return dict(given)
    by_name = {d.name.lower(): d for d in declarations}
    given_lower = {k.lower(): k for k in given}
    elsewhere = {k.lower() for k in optional}
    errors: list[VariableError] = []
    for key in sorted(given):
        if key.lower() not in by_name and not key.lower().startswith(EXEMPT_PREFIXES):
            errors.append(
                VariableError(
                    key,
                    "undeclared",
                    f'variable "{key}" is not declared by the template (declared: '
                    f"{', '.join(sorted(d.name for d in declarations))})",
                )
            )
    result = dict(given)
    for low, decl in by_name.items():
        if low in given_lower:
            errors.extend(_value_errors(decl, given[given_lower[low]], ""))
        elif low in elsewhere:
            continue
        elif decl.default is not None:
            result[decl.name] = decl.default
        elif decl.required:
            errors.append(
                VariableError(decl.name, "required", f'variable "{decl.name}" is required and was not given')
            )
        else:
            result[decl.name] = ""
    if errors:
        raise VariablesRefused(errors)
    return result


_STRING_SAMPLES: Final = ("sample", "x", "a", "0", "1", "user", "")


def sample_values(declarations: Sequence[VariableDeclaration]) -> dict[str, str]:
    """A value for every declared variable that follows its declaration: its default, else (a required
    variable) the first allowed value, the minimum (or maximum, or 1), ``false``, or a string its pattern
    accepts (from a few candidates; none matching: "sample", and the render may then tell). Used to render
    a template at admission, when no instance exists yet."""
    out: dict[str, str] = {}
    for decl in declarations:
        if decl.default is not None:
            out[decl.name] = decl.default
        elif decl.type == "enum":
            out[decl.name] = (decl.enum or [""])[0]
        elif decl.type in ("integer", "quantity"):
            bound = decl.minimum if decl.minimum is not None else decl.maximum
            out[decl.name] = str(bound) if bound is not None else "1"
        elif decl.type == "boolean":
            out[decl.name] = "false"
        else:
            pattern = decl.pattern
            out[decl.name] = next(
                (c for c in _STRING_SAMPLES if pattern is None or re.fullmatch(pattern, c)), "sample"
            )
    return out
