"""Label and field selectors, parsed and matched as the real API server does.

Label selectors follow ``k8s.io/apimachinery/pkg/labels``: the same lexer (identifiers end at whitespace or
one of ``= ! ( ) , > <``), the same grammar (``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
``k``, ``!k``, ``k>1``, ``k<1``, comma = AND), the same key/value validation and the same error wording
(``unable to parse requirement: ...``, ``found 'x', expected: ...``). Errors are raised as
:class:`~kubesim.errors.ApiError` 400 BadRequest, which is what the list/watch handlers answer.

Field selectors follow ``k8s.io/apimachinery/pkg/fields`` for the syntax (``=``, ``==``, ``!=``, comma = AND,
backslash escapes, no whitespace trimming) and the per-kind field label conversion functions registered in
``pkg/apis/*/conversion.go`` for the allowed fields, with upstream's error wording. Values are compared
against the object's selectable field set (``ToSelectableFields`` in the registries): a missing field reads
as ``""`` (a missing bool as ``"false"``), exactly as the Go zero values do.

Both are parsed once into small immutable objects whose ``matches`` does plain dict lookups, because
they run for every object of a list and every watch event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubesim.errors import ApiError
from kubesim.validation import is_label_value, is_qualified_name

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "label_selector_from_object",
    "parse_field_selector",
    "parse_label_selector",
]


# Name and label checks (worded as upstream) come from kubesim.validation.


def _go_quote(s: str) -> str:
    """Go's ``%q`` for the strings that occur here (close enough: JSON escaping of a str)."""
    return json.dumps(s, ensure_ascii=False)


def _go_value(v: Any) -> str:
    """How ``field.Invalid`` prints a bad value (``%q`` for strings, ``%#v`` for string slices)."""
    if isinstance(v, str):
        return _go_quote(v)
    if isinstance(v, (list, tuple)):
        return "[]string{" + ", ".join(_go_quote(str(x)) for x in v) + "}"
    return str(v)


def _field_invalid(path: str | None, value: Any, detail: str) -> str:
    return f"{'<nil>' if path is None else path}: Invalid value: {_go_value(value)}: {detail}"


def _aggregate(errs: list[str]) -> str:
    # utilerrors.NewAggregate: one message as is, several as "[a, b]" (deduplicated, in order).
    seen: list[str] = []
    for e in errs:
        if e not in seen:
            seen.append(e)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


# --------------------------------------------------------------------------------------------------------
# Label selectors.

# Operators, spelled as k8s.io/apimachinery/pkg/selection spells them.
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_INT64_RE = re.compile(r"^[+-]?[0-9]+$")


def _parse_int64(s: str) -> int | None:
    if not _INT64_RE.match(s):
        return None
    v = int(s)
    return v if -(2**63) <= v < 2**63 else None


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term; ``values`` keeps the order given, deduplicated and sorted as upstream."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            v = labels.get(self.key)
            return v is not None and v in self.values
        if op in (NOT_IN, NOT_EQUALS):
            v = labels.get(self.key)
            return v is None or v not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            v = labels.get(self.key)
            if v is None or len(self.values) != 1:
                return False
            lv, rv = _parse_int64(v), _parse_int64(self.values[0])
            if lv is None or rv is None:
                return False
            return lv > rv if op == GREATER_THAN else lv < rv
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        vals = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({vals})"
        sym = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{sym}{vals}"


def _new_requirement(key: str, op: str, values: list[str]) -> Requirement:
    """labels.NewRequirement: validates and raises the aggregated error message as ValueError."""
    errs: list[str] = []
    key_errs = is_qualified_name(key)
    if key_errs:
        errs.append(_field_invalid("key", key, "; ".join(key_errs)))
    if op in (IN, NOT_IN):
        if not values:
            errs.append(
                _field_invalid("values", values, "for 'in', 'notin' operators, values set can't be empty")
            )
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(values) != 1:
            errs.append(
                _field_invalid("values", values, "exact-match compatibility requires one single value")
            )
    elif op in (EXISTS, DOES_NOT_EXIST):
        if values:
            errs.append(
                _field_invalid("values", values, "values set must be empty for exists and does not exist")
            )
    elif op in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            errs.append(
                _field_invalid("values", values, "for 'Gt', 'Lt' operators, exactly one value is required")
            )
        for i, v in enumerate(values):
            if _parse_int64(v) is None:
                errs.append(
                    _field_invalid(
                        f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                )
    else:
        errs.append(
            f"operator: Unsupported value: {_go_quote(op)}: supported values: "
            + ", ".join(_go_quote(o) for o in (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST))
        )
    for i, v in enumerate(values):
        value_errs = is_label_value(v)
        if value_errs:
            errs.append(_field_invalid(f"values[{i}][{key}]", v, "; ".join(value_errs)))
    if errs:
        raise ValueError(_aggregate(errs))
    return Requirement(key, op, tuple(values))


# Lexer tokens.
(
    _ERROR,
    _END,
    _CLOSE_PAR,
    _COMMA,
    _NOT,
    _DOUBLE_EQ,
    _EQ,
    _GT,
    _IDENT,
    _IN,
    _LT,
    _NOT_EQ,
    _NOT_IN,
    _OPEN_PAR,
) = range(14)
_STRING_TO_TOKEN = {
    ")": _CLOSE_PAR,
    ",": _COMMA,
    "!": _NOT,
    "==": _DOUBLE_EQ,
    "=": _EQ,
    ">": _GT,
    "in": _IN,
    "<": _LT,
    "!=": _NOT_EQ,
    "notin": _NOT_IN,
    "(": _OPEN_PAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(s: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos, n = 0, len(s)
    while True:
        while pos < n and s[pos] in _WHITESPACE:
            pos += 1
        if pos >= n or s[pos] == "\x00":
            items.append((_END, ""))
            return items
        if s[pos] in _SPECIAL:
            # Longest run of special symbols that still forms a token; one char of lookahead, as upstream.
            buf = ""
            last: tuple[int, str] | None = None
            while pos < n and s[pos] in _SPECIAL:
                buf += s[pos]
                pos += 1
                tok = _STRING_TO_TOKEN.get(buf)
                if tok is not None:
                    last = (tok, buf)
                elif last is not None:
                    pos -= 1
                    break
            items.append(last if last is not None else (_ERROR, f"error expected: keyword found '{buf}'"))
        else:
            start = pos
            while pos < n and s[pos] not in _SPECIAL and s[pos] not in _WHITESPACE and s[pos] != "\x00":
                pos += 1
            word = s[start:pos]
            items.append((_STRING_TO_TOKEN.get(word, _IDENT), word))


class _Parser:
    def __init__(self, s: str) -> None:
        self.items = _lex(s)
        self.pos = 0

    def _peek(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_IN, _NOT_IN):
            tok = _IDENT
        return tok, lit

    def _next(self, values: bool = True) -> tuple[int, str]:
        item = self._peek(values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._peek()
            if tok in (_IDENT, _NOT):
                try:
                    reqs.append(self._requirement())
                except ValueError as exc:
                    raise ValueError(f"unable to parse requirement: {exc}") from None
                tok, lit = self._next()
                if tok == _END:
                    return reqs
                if tok == _COMMA:
                    tok2, lit2 = self._peek()
                    if tok2 not in (_IDENT, _NOT):
                        raise ValueError(f"found '{lit2}', expected: identifier after ','")
                else:
                    raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            elif tok == _END:
                return reqs
            else:
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        op = ""
        tok, lit = self._next()
        if tok == _NOT:
            op = DOES_NOT_EXIST
            tok, lit = self._next()
        if tok != _IDENT:
            raise ValueError(f"found '{lit}', expected: identifier")
        key_errs = is_qualified_name(lit)
        if key_errs:
            raise ValueError(_field_invalid(None, lit, "; ".join(key_errs)))
        key = lit
        if self._peek()[0] in (_END, _COMMA) and op != DOES_NOT_EXIST:
            op = EXISTS
        if op in (EXISTS, DOES_NOT_EXIST):
            return _new_requirement(key, op, [])
        tok, lit = self._next(values=False)
        ops = {
            _IN: IN,
            _EQ: EQUALS,
            _DOUBLE_EQ: DOUBLE_EQUALS,
            _GT: GREATER_THAN,
            _LT: LESS_THAN,
            _NOT_IN: NOT_IN,
            _NOT_EQ: NOT_EQUALS,
        }
        if tok not in ops:
            raise ValueError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        op = ops[tok]
        values = self._set_values() if op in (IN, NOT_IN) else self._exact_value()
        return _new_requirement(key, op, sorted(values))

    def _set_values(self) -> set[str]:
        tok, lit = self._next()
        if tok != _OPEN_PAR:
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self._peek()
        if tok in (_IDENT, _COMMA):
            values = self._identifiers()
            if self._next()[0] != _CLOSE_PAR:
                raise ValueError(f"found '{lit}', expected: ')'")
            return values
        if tok == _CLOSE_PAR:
            self._next()
            return {""}
        raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")

    def _identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self._next()
            if tok == _IDENT:
                values.add(lit)
                tok2, lit2 = self._peek()
                if tok2 == _COMMA:
                    continue
                if tok2 == _CLOSE_PAR:
                    return values
                raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not values:
                    values.add("")
                tok2 = self._peek()[0]
                if tok2 == _CLOSE_PAR:
                    values.add("")
                    return values
                if tok2 == _COMMA:
                    self._next()
                    values.add("")
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._peek()[0] in (_END, _COMMA):
            return {""}
        tok, lit = self._next()
        if tok == _IDENT:
            return {lit}
        raise ValueError(f"found '{lit}', expected: identifier")


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed label selector. ``nothing`` is ``labels.Nothing()`` (a nil metav1.LabelSelector)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        if labels is None:
            labels = {}
        for r in self.requirements:  # noqa: SIM110 - a plain loop is the fastest form here
            if not r.matches(labels):
                return False
        return True

    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.nothing and not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


_EVERYTHING = LabelSelector()
_NOTHING = LabelSelector(nothing=True)


def parse_label_selector(s: str) -> LabelSelector:
    """Parse the ``labelSelector`` query parameter; raises ApiError 400 BadRequest as the server does."""
    if not s or not s.strip():
        return _EVERYTHING
    try:
        reqs = _Parser(s).parse()
    except ValueError as exc:
        raise _bad_request(str(exc)) from None
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


_OBJECT_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: ``None`` selects nothing, ``{}`` selects everything.

    Invalid selectors raise ApiError 400 with upstream's message (e.g. ``"Foo" is not a valid label
    selector operator``).
    """
    if sel is None:
        return _NOTHING
    match_labels = sel.get("matchLabels") or {}
    match_expressions = sel.get("matchExpressions") or []
    if not match_labels and not match_expressions:
        return _EVERYTHING
    reqs: list[Requirement] = []
    try:
        for k, v in match_labels.items():
            reqs.append(_new_requirement(str(k), EQUALS, [str(v)]))
        for expr in match_expressions:
            op = _OBJECT_OPERATORS.get(expr.get("operator", ""))
            if op is None:
                raise ValueError(
                    f"{_go_quote(str(expr.get('operator', '')))} is not a valid label selector operator"
                )
            reqs.append(
                _new_requirement(str(expr.get("key", "")), op, [str(x) for x in expr.get("values") or []])
            )
    except ValueError as exc:
        raise _bad_request(str(exc)) from None
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# --------------------------------------------------------------------------------------------------------
# Field selectors.

_Getter = Callable[[Mapping[str, Any]], str]


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _path_getter(path: str, default: str = "") -> _Getter:
    parts = tuple(path.split("."))

    def get(obj: Mapping[str, Any]) -> str:
        cur: Any = obj
        for p in parts:
            if not isinstance(cur, Mapping):
                return default
            cur = cur.get(p)
            if cur is None:
                return default
        return _fmt(cur)

    return get


def _first_getter(*getters: _Getter) -> _Getter:
    def get(obj: Mapping[str, Any]) -> str:
        for g in getters:
            v = g(obj)
            if v:
                return v
        return ""

    return get


def _pod_ip(obj: Mapping[str, Any]) -> str:
    status = obj.get("status") or {}
    ips = status.get("podIPs") or []
    if ips and isinstance(ips[0], Mapping):
        return _fmt(ips[0].get("ip"))
    return _fmt(status.get("podIP"))


def _empty(obj: Mapping[str, Any]) -> str:
    return ""


def _event_getters() -> dict[str, _Getter]:
    """Selectable fields of an Event; reads the core/v1 shape or the events.k8s.io/v1 shape."""
    g: dict[str, _Getter] = {}
    for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
        g[f"involvedObject.{f}"] = _first_getter(
            _path_getter(f"involvedObject.{f}"), _path_getter(f"regarding.{f}")
        )
    g["reason"] = _path_getter("reason")
    g["type"] = _path_getter("type")
    reporting = _first_getter(_path_getter("reportingComponent"), _path_getter("reportingController"))
    g["reportingComponent"] = reporting
    g["source"] = _first_getter(
        _path_getter("source.component"), _path_getter("deprecatedSource.component"), reporting
    )
    return g


_META = {
    "metadata.name": _path_getter("metadata.name"),
    "metadata.namespace": _path_getter("metadata.namespace"),
}


@dataclass(frozen=True)
class _Kind:
    """The field label conversion of one kind: label -> (canonical label, getter)."""

    fields: Mapping[str, tuple[str, _Getter]]
    error: Callable[[str], str]


def _not_supported(label: str) -> str:
    return f"field label not supported: {label}"


def _kind(
    fields: Mapping[str, _Getter],
    aliases: Mapping[str, str] | None = None,
    error: Callable[[str], str] = _not_supported,
) -> _Kind:
    table = {label: (label, getter) for label, getter in fields.items()}
    for alias, target in (aliases or {}).items():
        table[alias] = (target, fields[target])
    return _Kind(table, error)


def _build_kinds() -> dict[tuple[str, str], _Kind]:
    ev = _event_getters()
    pod_fields: dict[str, _Getter] = {
        **_META,
        "spec.nodeName": _path_getter("spec.nodeName"),
        "spec.restartPolicy": _path_getter("spec.restartPolicy"),
        "spec.schedulerName": _path_getter("spec.schedulerName"),
        "spec.serviceAccountName": _path_getter("spec.serviceAccountName"),
        "spec.hostNetwork": _path_getter("spec.hostNetwork", "false"),
        "status.phase": _path_getter("status.phase"),
        "status.podIP": _pod_ip,
        # Accepted by the conversion but absent from the selectable field set: always "".
        "status.podIPs": _empty,
        "status.nominatedNodeName": _path_getter("status.nominatedNodeName"),
    }
    core_event = {**_META, **ev}
    # events.k8s.io accepts its own spellings only, mapped onto the core Event's selectable field set.
    regarding = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    events_table: dict[str, tuple[str, _Getter]] = {
        label: (label, ev_or_meta)
        for label, ev_or_meta in {
            **_META,
            "reason": ev["reason"],
            "type": ev["type"],
            "source": ev["source"],
        }.items()
    }
    for f in regarding:
        events_table[f"regarding.{f}"] = (f"involvedObject.{f}", ev[f"involvedObject.{f}"])
    events_table["reportingController"] = ("reportingComponent", ev["reportingComponent"])
    return {
        ("", "pods"): _kind(pod_fields, {"spec.host": "spec.nodeName"}),
        ("", "nodes"): _kind(
            {
                "metadata.name": _META["metadata.name"],
                "spec.unschedulable": _path_getter("spec.unschedulable", "false"),
            }
        ),
        ("", "replicationcontrollers"): _kind(
            {**_META, "status.replicas": _path_getter("status.replicas", "0")}
        ),
        ("", "events"): _kind(core_event),
        ("", "namespaces"): _kind(
            {"metadata.name": _META["metadata.name"], "status.phase": _path_getter("status.phase")}
        ),
        ("", "secrets"): _kind({**_META, "type": _path_getter("type")}),
        ("", "services"): _kind(
            {
                **_META,
                "spec.clusterIP": _path_getter("spec.clusterIP"),
                "spec.type": _path_getter("spec.type"),
            }
        ),
        ("events.k8s.io", "events"): _Kind(events_table, _not_supported),
        ("apps", "statefulsets"): _kind(
            {**_META, "status.successful": _empty},
            error=lambda label: f"field label not supported for appsv1.StatefulSet: {label}",
        ),
    }


_KINDS = _build_kinds()
_DEFAULT_KIND = _kind(
    _META,
    error=lambda label: (
        f'{_go_quote(label)} is not a known field selector: only "metadata.name", "metadata.namespace"'
    ),
)


def _is_builtin_group(group: str) -> bool:
    return group == "" or "." not in group or group.endswith(".k8s.io")


def _split_terms(s: str) -> list[str]:
    terms: list[str] = []
    start, escaped = 0, False
    for i, c in enumerate(s):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c in "\\,=":
                out.append(c)
            else:
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{c}")
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            raise ValueError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise ValueError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class FieldTerm:
    field: str
    value: str
    negate: bool
    getter: _Getter

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (self.getter(obj) == self.value) != self.negate


@dataclass(frozen=True, slots=True)
class FieldSelector:
    terms: tuple[FieldTerm, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for t in self.terms:  # noqa: SIM110 - a plain loop is the fastest form here
            if (t.getter(obj) == t.value) == t.negate:
                return False
        return True

    def empty(self) -> bool:
        return not self.terms

    def requires_exact(self, field: str) -> str | None:
        """The value a ``field=value`` term demands, if any (lets a store use an index)."""
        for t in self.terms:
            if t.field == field and not t.negate:
                return t.value
        return None

    def __str__(self) -> str:
        def esc(v: str) -> str:
            return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")

        return ",".join(f"{t.field}{'!=' if t.negate else '='}{esc(t.value)}" for t in self.terms)


def parse_field_selector(
    s: str,
    resource: str,
    group: str,
    *,
    custom: bool | None = None,
    cluster_scoped: bool = False,
    selectable_fields: Iterable[str] = (),
) -> FieldSelector:
    """Parse the ``fieldSelector`` query parameter for a resource (plural) of an API group.

    ``custom`` says whether the resource comes from a CRD; by default any group that is not a built-in
    one (no dot, or ending in ``.k8s.io``) is taken as custom. Custom resources accept ``metadata.name``,
    ``metadata.namespace`` (namespaced only) and the CRD's ``selectableFields`` (JSON paths such as
    ``.spec.color``). Unknown fields and syntax errors raise ApiError 400 BadRequest, worded as upstream.
    """
    if custom is None:
        custom = not _is_builtin_group(group)
    if custom:
        table: dict[str, tuple[str, _Getter]] = {"metadata.name": ("metadata.name", _META["metadata.name"])}
        if not cluster_scoped:
            table["metadata.namespace"] = ("metadata.namespace", _META["metadata.namespace"])
        for jp in selectable_fields:
            label = jp.lstrip(".")
            table[label] = (label, _path_getter(label))
        kind = _Kind(table, _not_supported)
    else:
        kind = _KINDS.get((group, resource), _DEFAULT_KIND)
    parts = sorted(_split_terms(s))
    terms: list[FieldTerm] = []
    for part in parts:
        if part == "":
            continue
        split = _split_term(part)
        if split is None:
            raise _bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
        lhs, op, rhs = split
        try:
            value = _unescape(rhs)
        except ValueError as exc:
            raise _bad_request(str(exc)) from None
        entry = kind.fields.get(lhs)
        if entry is None:
            raise _bad_request(kind.error(lhs))
        label, getter = entry
        terms.append(FieldTerm(label, value, op == "!=", getter))
    return FieldSelector(tuple(terms))
