"""Rendering a JupyterNotebookTemplate for one instance: pure functions, no I/O.

The rules (DESIGN.md section 3, docs/api.md "Rendering"):

- ``{name}`` is replaced in every string of an entry: values, dict keys (label and annotation keys
  included), names, ``condition``, an otherResources entry's ``apiVersion``/``kind``/``body``. Only the
  entry's own ``name`` is literal.
- Variable names are ``[A-Za-z0-9_.-]+`` and match case-insensitively.
- ``{{`` and ``}}`` are a literal ``{`` and ``}``. Any other ``{`` or ``}`` (a lone one, or ``{...}`` whose
  content is not a variable name, such as JSON) is an "unbalanced brace" error.
- A value is inserted as text in a single pass and never scanned again: no value can add fields, change
  the structure, or expand another variable.
- Built-in variables (``jupyternetes.instance.name|namespace``, ``jupyternetes.template.name|namespace``,
  ``jupyternetes.pvcs.<entry>``, ``jupyternetes.pods.<entry>``, ``jupyternetes.otherresources.<entry>``)
  override anything an instance supplies under the same key; other ``jupyternetes.*`` keys an instance
  supplies are ignored (the prefix is reserved), with a warning.
- An entry is created only if its rendered ``condition``, stripped and lowercased, is not one of
  ``""``, ``"false"``, ``"0"``, ``"no"``; no condition: created. The spec of a skipped entry is not
  rendered (so it may use variables that are only defined when it is wanted), but it is still checked for
  brace errors and references to entries the template does not define.
- All errors of a render are collected and raised together as :class:`RenderFailed`.

The result is a :class:`RenderPlan`: the full objects to create, in creation order (PVCs, pods, other
resources), and the skipped entries with the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Literal, NamedTuple, TypeAlias

from .models import (
    JupyterNotebookInstance,
    JupyterNotebookTemplate,
    OtherResourceEntry,
    PodEntry,
    PvcEntry,
    TemplateSpec,
)
from .naming import (
    LABEL_ENTRY,
    LABEL_INSTANCE,
    LABEL_TEMPLATE,
    child_name,
    is_label_value,
    is_qualified_name,
    label_value,
)

__all__ = [
    "FALSY_CONDITIONS",
    "RESERVED_PREFIX",
    "EntryKind",
    "PlannedObject",
    "RenderContext",
    "RenderError",
    "RenderFailed",
    "RenderPlan",
    "SkippedEntry",
    "builtin_variables",
    "check_template",
    "child_names",
    "condition_is_true",
    "decode_secret_data",
    "merge_variables",
    "owner_reference",
    "pod_port",
    "render_instance",
    "render_template",
    "rendered_pvc_refs",
]

EntryKind: TypeAlias = Literal["pvc", "pod", "other"]

FALSY_CONDITIONS: Final = frozenset({"", "false", "0", "no"})
RESERVED_PREFIX: Final = "jupyternetes."

_LIST_NAMES: Final[dict[EntryKind, str]] = {"pvc": "pvcs", "pod": "pods", "other": "otherResources"}
_BUILTIN_GROUPS: Final[dict[str, EntryKind]] = {"pvcs": "pvc", "pods": "pod", "otherresources": "other"}
_KIND_WORDS: Final[dict[EntryKind, str]] = {"pvc": "PVC", "pod": "pod", "other": "otherResources"}
_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]+\Z")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ENTRY_REF = re.compile(r"jupyternetes\.(pvcs|pods|otherresources)\.(.*)\Z")


# --- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderError:
    """One problem found while rendering.

    ``code`` is one of ``undefined-variable``, ``unbalanced-brace``, ``undefined-entry``,
    ``skipped-pvc``, ``key-collision``, ``invalid-label``, ``invalid-annotation``, ``variable-conflict``.
    ``path`` is the template field, e.g. ``pods[notebook].spec.containers[0].env[3].value``.
    """

    code: str
    path: str
    message: str
    variable: str | None = None

    def __str__(self) -> str:
        return self.message


class RenderFailed(ValueError):
    """Rendering found errors; ``errors`` holds all of them."""

    def __init__(self, errors: Sequence[RenderError]) -> None:
        self.errors: tuple[RenderError, ...] = tuple(errors)
        super().__init__(self.summary())

    def summary(self, limit: int = 5) -> str:
        """One line: the first ``limit`` messages, and how many more there are."""
        shown = "; ".join(e.message for e in self.errors[:limit])
        more = len(self.errors) - limit
        return f"{shown}; and {more} more error{'s' if more > 1 else ''}" if more > 0 else shown


@dataclass(frozen=True)
class PlannedObject:
    """One object to create: ``manifest`` is the complete object (apiVersion, kind, metadata, ...)."""

    kind: EntryKind
    entry: str
    name: str
    manifest: dict[str, Any]
    delete_with_instance: bool
    """Pods and other resources: always True. PVCs: the entry's ``deleteWithInstance``."""

    @property
    def api_version(self) -> str:
        return str(self.manifest["apiVersion"])

    @property
    def object_kind(self) -> str:
        """The Kubernetes kind (``Pod``, ``PersistentVolumeClaim``, ``Service`` ...)."""
        return str(self.manifest["kind"])


@dataclass(frozen=True)
class SkippedEntry:
    """An entry whose condition rendered falsy: nothing is created for it."""

    kind: EntryKind
    entry: str
    name: str
    """The name its object would have had (its built-in variable is still defined)."""
    reason: str


@dataclass(frozen=True)
class RenderPlan:
    """Everything to create for one instance, in creation order."""

    pvcs: tuple[PlannedObject, ...]
    pods: tuple[PlannedObject, ...]
    others: tuple[PlannedObject, ...]
    skipped: tuple[SkippedEntry, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def objects(self) -> tuple[PlannedObject, ...]:
        """All objects: PVCs, then pods, then other resources."""
        return self.pvcs + self.pods + self.others

    def get(self, kind: EntryKind, entry: str) -> PlannedObject | None:
        for obj in self.objects:
            if obj.kind == kind and obj.entry == entry:
                return obj
        return None

    def pvc_dependencies(self, pod: PlannedObject) -> list[PlannedObject]:
        """The PVCs of this plan that ``pod`` mounts (claims it mounts that the plan does not create, e.g.
        a shared claim made by an administrator, are not listed)."""
        claims = set(rendered_pvc_refs(pod.manifest))
        return [p for p in self.pvcs if p.name in claims]


@dataclass(frozen=True)
class RenderContext:
    """Who the template is rendered for. ``variables`` are the instance's, already merged with its Secrets
    (see :func:`merge_variables`); built-ins are added by the renderer."""

    instance_name: str
    instance_namespace: str
    template_name: str
    template_namespace: str
    variables: Mapping[str, str] = field(default_factory=dict)
    secret_variables: Sequence[Mapping[str, str]] = ()
    """Variables of the instance's ``variablesFrom`` Secrets, in order (later ones win); ``variables``
    override them."""


# --- placeholder scanning -----------------------------------------------------------------------------


class _Var(NamedTuple):
    name: str  # as written
    key: str  # lowercased, for the lookup
    pos: int  # 0-based index of its "{"


class _BraceError(NamedTuple):
    pos: int
    message: str  # "... at character N of " is prepended with the path


_Parts: TypeAlias = tuple["str | _Var", ...]


@lru_cache(maxsize=16384)
def _scan(s: str) -> tuple[_Parts, tuple[_BraceError, ...]]:
    """Split a template string into literal text and placeholders, and find brace errors."""
    parts: list[str | _Var] = []
    errors: list[_BraceError] = []
    buf: list[str] = []
    i, n = 0, len(s)
    while i < n:
        j_open = s.find("{", i)
        j_close = s.find("}", i)
        j = min(j_open if j_open >= 0 else n, j_close if j_close >= 0 else n)
        if j > i:
            buf.append(s[i:j])
        if j >= n:
            break
        c = s[j]
        if j + 1 < n and s[j + 1] == c:  # "{{" or "}}"
            buf.append(c)
            i = j + 2
            continue
        if c == "}":
            errors.append(_BraceError(j, 'unbalanced brace "}"'))
            i = j + 1
            continue
        end = s.find("}", j + 1)
        nested = s.find("{", j + 1)
        if end < 0:
            errors.append(_BraceError(j, 'unbalanced brace "{" (no closing "}")'))
            i = j + 1
            continue
        content = s[j + 1 : end]
        has_nested = 0 <= nested < end
        if has_nested or _VARIABLE_NAME.match(content) is None:
            shown = s[j : end + 1] if len(content) <= 40 else s[j : j + 41] + "..."
            errors.append(
                _BraceError(
                    j,
                    f'unbalanced brace "{{": {json.dumps(shown, ensure_ascii=False)} is not a placeholder '
                    "(a variable name is letters, digits, '.', '_' and '-')",
                )
            )
            # Without a nested "{", the "}" belongs to this error: do not report it again as a lone one.
            i = j + 1 if has_nested else end + 1
            continue
        if buf:
            parts.append("".join(buf))
            buf = []
        parts.append(_Var(content, content.lower(), j))
        i = end + 1
    if buf:
        parts.append("".join(buf))
    return tuple(parts), tuple(errors)


# --- paths --------------------------------------------------------------------------------------------

# A path is a linked list (parent, component) built as the walker descends; it is only turned into text
# when an error is reported.
_Path: TypeAlias = tuple[Any, str | int] | str


def _path_text(path: _Path) -> str:
    comps: list[str | int] = []
    while not isinstance(path, str):
        path, comp = path
        comps.append(comp)
    out = [path]
    for comp in reversed(comps):
        if isinstance(comp, int):
            out.append(f"[{comp}]")
        elif _IDENTIFIER.match(comp):
            out.append(f".{comp}")
        else:
            out.append(f"[{json.dumps(comp, ensure_ascii=False)}]")
    return "".join(out)


def _short(value: str, limit: int = 80) -> str:
    text = value if len(value) <= limit else value[:limit] + f"... ({len(value)} characters)"
    return json.dumps(text, ensure_ascii=False)


# --- the walker ---------------------------------------------------------------------------------------


class _EntryInfo(NamedTuple):
    kind: EntryKind
    entry: str
    path: str  # "pods[notebook]"


class _Walker:
    """Renders (``lookup`` given) or only checks (``lookup`` None) the strings of one entry."""

    def __init__(
        self,
        info: _EntryInfo,
        lookup: Mapping[str, str] | None,
        entries: Mapping[EntryKind, Sequence[str]],
        errors: list[RenderError],
    ) -> None:
        self.info = info
        self.lookup = lookup
        self.entries = entries
        self.errors = errors

    def string(self, s: str, path: _Path, *, is_key: bool = False) -> str:
        if "{" not in s and "}" not in s:
            return s
        parts, brace_errors = _scan(s)
        where = f"the key {_path_text(path)}" if is_key else _path_text(path)
        for be in brace_errors:
            self.errors.append(
                RenderError(
                    "unbalanced-brace",
                    _path_text(path),
                    f'{be.message} at character {be.pos + 1} of {where}: write "{{{{" or "}}}}" '
                    "for a literal brace",
                )
            )
        lookup = self.lookup
        out: list[str] = []
        ok = not brace_errors
        for p in parts:
            if isinstance(p, str):
                out.append(p)
                continue
            value = lookup.get(p.key) if lookup is not None else None
            if value is not None:
                out.append(value)
                continue
            ok = False
            ref = _ENTRY_REF.match(p.key)
            if ref is not None:
                kind = _BUILTIN_GROUPS[ref.group(1)]
                if ref.group(2) not in self.entries[kind]:
                    self._undefined_entry(kind, ref.group(2), p, where, _path_text(path))
                    continue
            if lookup is not None:
                self.errors.append(
                    RenderError(
                        "undefined-variable",
                        _path_text(path),
                        f'undefined variable "{p.name}" in {where}',
                        variable=p.name,
                    )
                )
        return "".join(out) if ok else s

    def _undefined_entry(self, kind: EntryKind, entry: str, p: _Var, where: str, path: str) -> None:
        defined = ", ".join(self.entries[kind]) or "none"
        plural = _LIST_NAMES[kind]
        self.errors.append(
            RenderError(
                "undefined-entry",
                path,
                f'{self.info.path} references {_KIND_WORDS[kind]} entry "{entry}" which the template does '
                f"not define (placeholder {{{p.name}}} in {where}; the built-in variable "
                f"jupyternetes.{plural.lower()}.<entry> exists only for the template's {plural} entries: "
                f"{defined})",
                variable=p.name,
            )
        )

    def value(self, v: Any, path: _Path) -> Any:
        if isinstance(v, str):
            return self.string(v, path)
        if isinstance(v, dict):
            return self.mapping(v, path)
        if isinstance(v, list):
            return [self.value(item, (path, i)) for i, item in enumerate(v)]
        return v

    def mapping(self, d: Mapping[Any, Any], path: _Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for k, v in d.items():
            sub = (path, k)
            if isinstance(k, str) and ("{" in k or "}" in k):
                new_k = self.string(k, sub, is_key=True)
                if new_k in out or (new_k != k and new_k in d):
                    self.errors.append(
                        RenderError(
                            "key-collision",
                            _path_text(sub),
                            f"the key {_path_text(sub)} renders to {_short(new_k)}, which another key of "
                            f"{_path_text(path)} already has",
                        )
                    )
                    continue
                k = new_k
            out[k] = self.value(v, sub)
        return out


# --- variables ----------------------------------------------------------------------------------------


def child_names(spec: TemplateSpec, instance_name: str) -> dict[tuple[EntryKind, str], str]:
    """The generated object name of every entry of ``spec`` (skipped or not), keyed by (kind, entry)."""
    names: dict[tuple[EntryKind, str], str] = {}
    for pvc in spec.pvcs:
        names["pvc", pvc.name] = child_name(instance_name, pvc.name)
    for pod in spec.pods:
        names["pod", pod.name] = child_name(instance_name, pod.name)
    for other in spec.other_resources:
        names["other", other.name] = child_name(instance_name, other.name, start_with_letter=True)
    return names


def builtin_variables(
    spec: TemplateSpec,
    *,
    instance_name: str,
    instance_namespace: str,
    template_name: str,
    template_namespace: str,
) -> dict[str, str]:
    """The built-in variables for rendering ``spec`` for an instance (keys as documented, lowercase)."""
    out = {
        "jupyternetes.instance.name": instance_name,
        "jupyternetes.instance.namespace": instance_namespace,
        "jupyternetes.template.name": template_name,
        "jupyternetes.template.namespace": template_namespace,
    }
    group = {"pvc": "pvcs", "pod": "pods", "other": "otherresources"}
    for (kind, entry), name in child_names(spec, instance_name).items():
        out[f"jupyternetes.{group[kind]}.{entry}"] = name
    return out


def merge_variables(
    variables: Mapping[str, str],
    secret_variables: Sequence[Mapping[str, str]] = (),
    builtins: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], list[RenderError], list[str]]:
    """The case-insensitive lookup table (lowercased key -> value), errors and warnings.

    Precedence, lowest first: each ``variablesFrom`` Secret in order, ``spec.variables``, built-ins.
    Two keys of one source that differ only in case and have different values are an error. Keys under
    the reserved prefix ``jupyternetes.`` supplied by the instance are ignored (built-ins win); a warning
    says so when the supplied value differs from the built-in one or there is no such built-in.
    """
    lookup: dict[str, str] = {}
    errors: list[RenderError] = []
    warnings: list[str] = []
    builtins = builtins or {}
    sources: list[tuple[str, Mapping[str, str]]] = [
        (f"spec.variablesFrom[{i}]", s) for i, s in enumerate(secret_variables)
    ]
    sources.append(("spec.variables", variables))
    for where, source in sources:
        seen: dict[str, str] = {}
        for key, value in source.items():
            low = key.lower()
            if low in seen and source[seen[low]] != value:
                errors.append(
                    RenderError(
                        "variable-conflict",
                        where,
                        f'{where} has variables "{seen[low]}" and "{key}", which differ only in case '
                        "(names match case-insensitively) and have different values",
                        variable=key,
                    )
                )
                continue
            seen[low] = key
            if low.startswith(RESERVED_PREFIX):
                if low not in builtins:
                    warnings.append(
                        f'{where}: variable "{key}" ignored: the prefix "{RESERVED_PREFIX}" is reserved '
                        "for built-in variables"
                    )
                elif builtins[low] != value:
                    warnings.append(
                        f'{where}: variable "{key}" ignored: the built-in value {_short(builtins[low])} '
                        "is used"
                    )
                continue
            lookup[low] = value
    for key, value in builtins.items():
        lookup[key.lower()] = value
    return lookup, errors, warnings


def decode_secret_data(
    data: Mapping[str, str] | None, string_data: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Variables from a Secret's ``data`` (base64) and ``stringData``. Raises ``ValueError`` naming the key
    whose value is not base64 or not UTF-8 text."""
    out: dict[str, str] = {}
    for key, encoded in (data or {}).items():
        try:
            out[key] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f'key "{key}" of the Secret is not base64-encoded UTF-8 text ({exc})') from None
    out.update(string_data or {})
    return out


# --- rendering ----------------------------------------------------------------------------------------


def condition_is_true(rendered: str | None) -> bool:
    """The truthiness of a rendered ``condition``: absent is true; "", "false", "0", "no" (any case,
    surrounding blanks ignored) are false; anything else is true."""
    return rendered is None or rendered.strip().lower() not in FALSY_CONDITIONS


def owner_reference(instance: Mapping[str, Any]) -> dict[str, Any]:
    """The ownerReference to put on an instance's children (controller, blocking owner deletion).

    ``instance`` is the instance object as a dict (apiVersion, kind, metadata.name, metadata.uid).
    """
    meta = instance["metadata"]
    return {
        "apiVersion": instance.get("apiVersion", "kadense.io/v1"),
        "kind": instance.get("kind", "JupyterNotebookInstance"),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


_Entry: TypeAlias = PvcEntry | PodEntry | OtherResourceEntry


def _entries(spec: TemplateSpec) -> Iterator[tuple[_EntryInfo, _Entry]]:
    for pvc in spec.pvcs:
        yield _EntryInfo("pvc", pvc.name, f"pvcs[{pvc.name}]"), pvc
    for pod in spec.pods:
        yield _EntryInfo("pod", pod.name, f"pods[{pod.name}]"), pod
    for other in spec.other_resources:
        yield _EntryInfo("other", other.name, f"otherResources[{other.name}]"), other


def _entry_names(spec: TemplateSpec) -> dict[EntryKind, list[str]]:
    return {
        "pvc": [e.name for e in spec.pvcs],
        "pod": [e.name for e in spec.pods],
        "other": [e.name for e in spec.other_resources],
    }


def _walk_entry(walker: _Walker, entry: _Entry, *, with_condition: bool = True) -> dict[str, Any]:
    """Render (or check) every templated field of ``entry``; returns the rendered fields by wire name."""
    root = walker.info.path
    out: dict[str, Any] = {
        "labels": walker.mapping(entry.labels, (root, "labels")),
        "annotations": walker.mapping(entry.annotations, (root, "annotations")),
    }
    if with_condition and entry.condition is not None:
        out["condition"] = walker.string(entry.condition, (root, "condition"))
    if isinstance(entry, OtherResourceEntry):
        out["apiVersion"] = walker.string(entry.api_version, (root, "apiVersion"))
        out["kind"] = walker.string(entry.kind, (root, "kind"))
        out["body"] = walker.mapping(entry.body, (root, "body"))
    else:
        out["spec"] = walker.mapping(entry.spec, (root, "spec"))
    return out


def check_template(spec: TemplateSpec) -> list[RenderError]:
    """Errors of a template that no instance can fix: brace errors anywhere, and built-in references
    ``{jupyternetes.pvcs|pods|otherresources.<entry>}`` to entries the template does not define.

    Undefined ordinary variables are not reported (they depend on the instance).
    """
    errors: list[RenderError] = []
    names = _entry_names(spec)
    for info, entry in _entries(spec):
        _walk_entry(_Walker(info, None, names, errors), entry)
    return errors


def _check_metadata(
    info: _EntryInfo, labels: Mapping[str, str], annotations: Mapping[str, str], errors: list[RenderError]
) -> None:
    for key, value in labels.items():
        path = _path_text(((info.path, "labels"), key))
        if not is_qualified_name(key):
            errors.append(
                RenderError(
                    "invalid-label",
                    path,
                    f"label key {_short(key)} of {info.path} is not a valid label key "
                    "([prefix/]name: name at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric)",
                )
            )
        if not is_label_value(value):
            errors.append(
                RenderError(
                    "invalid-label",
                    path,
                    f"label {path} renders to {_short(value)}, which is not a valid label value (at most 63 "
                    "of [A-Za-z0-9._-], starting and ending alphanumeric, or empty)",
                )
            )
    for key in annotations:
        if not is_qualified_name(key):
            errors.append(
                RenderError(
                    "invalid-annotation",
                    _path_text(((info.path, "annotations"), key)),
                    f"annotation key {_short(key)} of {info.path} is not a valid annotation key",
                )
            )


def render_template(
    spec: TemplateSpec,
    ctx: RenderContext,
    *,
    owner: Mapping[str, Any] | None = None,
) -> RenderPlan:
    """Render ``spec`` for the instance described by ``ctx``; raises :class:`RenderFailed` with all errors.

    ``owner``: an ownerReference (see :func:`owner_reference`) put on pods, other resources and the PVCs
    with ``deleteWithInstance``; ``None``: no ownerReferences (the caller adds them).
    """
    builtins = builtin_variables(
        spec,
        instance_name=ctx.instance_name,
        instance_namespace=ctx.instance_namespace,
        template_name=ctx.template_name,
        template_namespace=ctx.template_namespace,
    )
    lookup, errors, warnings = merge_variables(ctx.variables, ctx.secret_variables, builtins)
    names = child_names(spec, ctx.instance_name)
    entry_names = _entry_names(spec)
    instance_label = label_value(ctx.instance_name)
    template_label = label_value(ctx.template_name)
    planned: dict[EntryKind, list[PlannedObject]] = {"pvc": [], "pod": [], "other": []}
    skipped: list[SkippedEntry] = []

    for info, entry in _entries(spec):
        name = names[info.kind, info.entry]
        walker = _Walker(info, lookup, entry_names, errors)
        if entry.condition is not None:
            n_errors = len(errors)
            cond = walker.string(entry.condition, (info.path, "condition"))
            if len(errors) == n_errors and not condition_is_true(cond):
                skipped.append(
                    SkippedEntry(
                        info.kind,
                        info.entry,
                        name,
                        f"condition {_short(entry.condition)} rendered to {_short(cond)}",
                    )
                )
                # Not rendered, but template-level errors are still reported.
                _walk_entry(_Walker(info, None, entry_names, errors), entry, with_condition=False)
                continue
        n_errors = len(errors)
        fields = _walk_entry(walker, entry, with_condition=False)
        labels: dict[str, str] = fields["labels"]
        annotations: dict[str, str] = fields["annotations"]
        if len(errors) == n_errors:  # (a string that failed to render is left as it was: not checked)
            _check_metadata(info, labels, annotations, errors)
        for reserved in (LABEL_INSTANCE, LABEL_TEMPLATE, LABEL_ENTRY):
            if reserved in labels:
                warnings.append(
                    f'{info.path}: label "{reserved}" is set by Jupyternetes; the template\'s is ignored'
                )
        labels[LABEL_INSTANCE] = instance_label
        labels[LABEL_TEMPLATE] = template_label
        labels[LABEL_ENTRY] = info.entry
        metadata: dict[str, Any] = {"name": name, "namespace": ctx.instance_namespace, "labels": labels}
        if annotations:
            metadata["annotations"] = annotations
        delete_with_instance = not isinstance(entry, PvcEntry) or entry.delete_with_instance
        if owner is not None and delete_with_instance:
            metadata["ownerReferences"] = [dict(owner)]
        manifest: dict[str, Any]
        if info.kind == "pvc":
            manifest = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata}
            manifest["spec"] = fields["spec"]
        elif info.kind == "pod":
            manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}
            manifest["spec"] = fields["spec"]
        else:
            manifest = {"apiVersion": fields["apiVersion"], "kind": fields["kind"], "metadata": metadata}
            manifest.update(fields["body"])
        planned[info.kind].append(PlannedObject(info.kind, info.entry, name, manifest, delete_with_instance))

    skipped_pvcs = {s.name: s for s in skipped if s.kind == "pvc"}
    if skipped_pvcs:
        for pod in planned["pod"]:
            for claim in rendered_pvc_refs(pod.manifest):
                if claim in skipped_pvcs:
                    s = skipped_pvcs[claim]
                    errors.append(
                        RenderError(
                            "skipped-pvc",
                            f"pods[{pod.entry}].spec.volumes",
                            f'pods[{pod.entry}] mounts PVC entry "{s.entry}", which is not created: '
                            + s.reason,
                        )
                    )
    if errors:
        raise RenderFailed(errors)
    return RenderPlan(
        pvcs=tuple(planned["pvc"]),
        pods=tuple(planned["pod"]),
        others=tuple(planned["other"]),
        skipped=tuple(skipped),
        warnings=tuple(warnings),
    )


def render_instance(
    template: JupyterNotebookTemplate,
    instance: JupyterNotebookInstance,
    *,
    secret_variables: Sequence[Mapping[str, str]] = (),
    owner: Mapping[str, Any] | None = None,
) -> RenderPlan:
    """Render a :class:`~jupyternetes.core.models.JupyterNotebookTemplate` for a
    :class:`~jupyternetes.core.models.JupyterNotebookInstance` (both parsed models, with metadata name and
    namespace set). ``secret_variables``: the decoded Secrets of ``spec.variablesFrom``, in order."""
    inst_ns = instance.metadata.namespace or "default"
    ctx = RenderContext(
        instance_name=instance.metadata.name or "",
        instance_namespace=inst_ns,
        template_name=template.metadata.name or instance.spec.template.name,
        template_namespace=template.metadata.namespace or instance.spec.template.resolve_namespace(inst_ns),
        variables=instance.spec.variables,
        secret_variables=secret_variables,
    )
    return render_template(template.spec, ctx, owner=owner)


# --- helpers on rendered pods -------------------------------------------------------------------------


def _pod_spec(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept a pod object (with ``spec``) or a bare PodSpec."""
    if "containers" not in pod and isinstance(pod.get("spec"), Mapping):
        spec: Mapping[str, Any] = pod["spec"]
        return spec
    return pod


def _as_port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def pod_port(pod: Mapping[str, Any]) -> int | None:
    """The port of the notebook server: the container port named ``http`` (in any container), else the
    first declared container port, else ``None``. Takes a pod object or a bare PodSpec."""
    first: int | None = None
    for container in _pod_spec(pod).get("containers") or ():
        for port in container.get("ports") or ():
            number = _as_port(port.get("containerPort"))
            if number is None:
                continue
            if port.get("name") == "http":
                return number
            if first is None:
                first = number
    return first


def rendered_pvc_refs(pod: Mapping[str, Any]) -> list[str]:
    """The ``claimName`` of every ``persistentVolumeClaim`` volume of a pod (object or bare PodSpec)."""
    refs: list[str] = []
    for volume in _pod_spec(pod).get("volumes") or ():
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if isinstance(claim, str):
            refs.append(claim)
    return refs
