"""``profile_list``: the choices a user sees on the spawn page, as kubespawner users know them.

A profile is a dict::

    {"display_name": "Data science", "slug": "datascience", "description": "Python, R and Julia",
     "default": True, "template": "datascience", "template_namespace": "jupyternetes",
     "variables": {"cpu": "2"}}

Only ``display_name`` is required. ``template`` / ``template_namespace`` override the spawner's
``template_name`` / ``template_namespace``; ``variables`` are added to the instance's variables (and so are
available to the template as ``{name}``). The chosen profile's slug is the variable ``jupyterhub.profile``.

A profile may offer ``profile_options``, as kubespawner's do, with ``variables`` where kubespawner has
``kubespawner_override``::

    {"display_name": "Data", "slug": "data", "template": "data-template",
     "profile_options": {
         "size": {"display_name": "Size", "choices": {
             "small": {"display_name": "1 CPU, 1 GiB", "default": True,
                       "variables": {"cpu": "1", "memory": "1Gi"}},
             "large": {"display_name": "2 CPUs, 4 GiB", "variables": {"cpu": "2", "memory": "4Gi"}}}}}}

The spawn page shows one drop-down per option; through the REST API the user options are
``{"profile": "data", "size": "large"}`` (an option left out takes its default choice). The chosen
choice's variables override the profile's; ``jupyterhub.profile.options`` records the choices
(``size=large``), shown with the profile by ``kubectl get jupyternotebookinstances``.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jupyternetes.core.models import VariableDeclaration


class ProfileError(ValueError):
    """An invalid profile list, or a user option that names no profile."""


@dataclass(frozen=True)
class Choice:
    slug: str
    display_name: str
    default: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileOption:
    key: str
    display_name: str
    choices: tuple[Choice, ...]

    def default_choice(self) -> Choice:
        return next((c for c in self.choices if c.default), self.choices[0])


@dataclass(frozen=True)
class Profile:
    display_name: str
    slug: str
    description: str = ""
    default: bool = False
    template: str | None = None
    template_namespace: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    options: tuple[ProfileOption, ...] = ()


@dataclass(frozen=True)
class Selection:
    """What a user chose: a profile (None without profiles) and a choice for each of its options."""

    profile: Profile | None
    choices: Mapping[str, Choice] = field(default_factory=dict)

    def variables(self) -> dict[str, str]:
        """The profile's variables, then each chosen choice's (in the options' order)."""
        out = dict(self.profile.variables) if self.profile else {}
        for option in self.profile.options if self.profile else ():
            out.update(self.choices[option.key].variables)
        return out

    def summary(self) -> str:
        """``size=large,image=scipy``: the choices, in the options' order ("" without options)."""
        options = self.profile.options if self.profile else ()
        return ",".join(f"{o.key}={self.choices[o.key].slug}" for o in options)


_KNOWN = {
    "display_name",
    "slug",
    "description",
    "default",
    "template",
    "template_namespace",
    "variables",
    "profile_options",
}
_KNOWN_OPTION = {"display_name", "choices"}
_KNOWN_CHOICE = {"display_name", "default", "variables"}
_KEY = re.compile(r"^[A-Za-z0-9][-_.A-Za-z0-9]*$")


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "profile"


def parse_profiles(raw: Sequence[Mapping[str, Any]]) -> list[Profile]:
    """Validate a ``profile_list``; unknown keys are errors (a typo must not silently do nothing)."""
    out: list[Profile] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ProfileError(f"profile_list[{i}] must be a dict, not {type(item).__name__}")
        unknown = sorted(set(item) - _KNOWN)
        if unknown:
            raise ProfileError(
                f"profile_list[{i}]: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KNOWN))})"
            )
        if not item.get("display_name"):
            raise ProfileError(f"profile_list[{i}]: display_name is required")
        slug = str(item.get("slug") or slugify(str(item["display_name"])))
        if slug in seen:
            raise ProfileError(f"profile_list[{i}]: duplicate slug {slug!r}")
        seen.add(slug)
        out.append(
            Profile(
                display_name=str(item["display_name"]),
                slug=slug,
                description=str(item.get("description") or ""),
                default=bool(item.get("default")),
                template=item.get("template") or None,
                template_namespace=item.get("template_namespace") or None,
                variables=_variables(item.get("variables"), f"profile_list[{i}]"),
                options=_options(item.get("profile_options"), f"profile_list[{i}]"),
            )
        )
    return out


def _variables(raw: Any, where: str) -> dict[str, str]:
    variables = raw or {}
    if not isinstance(variables, Mapping) or not all(isinstance(v, str) for v in variables.values()):
        raise ProfileError(f"{where}: variables must map names to strings")
    return {str(k): v for k, v in variables.items()}


def _options(raw: Any, where: str) -> tuple[ProfileOption, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}.profile_options must map option names to options")
    out = []
    for key, option in raw.items():
        here = f"{where}.profile_options.{key}"
        if not isinstance(key, str) or not _KEY.match(key) or key == "profile":
            raise ProfileError(
                f"{here}: an option's name is letters, digits, '-', '_' and '.', and not 'profile'"
            )
        if not isinstance(option, Mapping):
            raise ProfileError(f"{here} must be a dict")
        unknown = sorted(set(option) - _KNOWN_OPTION)
        if unknown:
            raise ProfileError(
                f"{here}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KNOWN_OPTION))}; "
                "free-form `unlisted_choice` is not supported)"
            )
        choices_raw = option.get("choices")
        if not isinstance(choices_raw, Mapping) or not choices_raw:
            raise ProfileError(f"{here}.choices must map choice names to choices (at least one)")
        choices = []
        for slug, choice in choices_raw.items():
            there = f"{here}.choices.{slug}"
            if not isinstance(slug, str) or not _KEY.match(slug):
                raise ProfileError(f"{there}: a choice's name is letters, digits, '-', '_' and '.'")
            if not isinstance(choice, Mapping):
                raise ProfileError(f"{there} must be a dict")
            unknown = sorted(set(choice) - _KNOWN_CHOICE)
            if unknown:
                raise ProfileError(
                    f"{there}: unknown key(s) {', '.join(unknown)} "
                    f"(known: {', '.join(sorted(_KNOWN_CHOICE))})"
                )
            choices.append(
                Choice(
                    slug=slug,
                    display_name=str(choice.get("display_name") or slug),
                    default=bool(choice.get("default")),
                    variables=_variables(choice.get("variables"), there),
                )
            )
        out.append(ProfileOption(key, str(option.get("display_name") or key), tuple(choices)))
    return tuple(out)


def with_declared_options(profile: Profile, declarations: Sequence[VariableDeclaration]) -> Profile:
    """``profile`` with one option per ``enum`` variable its template declares (the spawner's
    ``profile_options_from_template``): its choices are the allowed values, its default the declared
    default, its label the declaration's description. An option the profile defines itself, or a variable
    the profile sets, wins: nothing is added for it."""
    own = {o.key for o in profile.options}
    fixed = {k.lower() for k in profile.variables}
    for option in profile.options:
        for choice in option.choices:
            fixed.update(k.lower() for k in choice.variables)
    added: list[ProfileOption] = []
    for decl in declarations:
        if decl.type != "enum" or not decl.enum or decl.name in own or decl.name.lower() in fixed:
            continue
        if decl.name == "profile" or not _KEY.match(decl.name):
            continue  # not a form field's name: the variable stays the template's default
        choices = tuple(
            Choice(
                slug=value,
                display_name=value or "(empty)",
                default=value == decl.default,
                variables={decl.name: value},
            )
            for value in decl.enum
        )
        added.append(ProfileOption(decl.name, decl.description or decl.name, choices))
    return dataclasses.replace(profile, options=(*profile.options, *added)) if added else profile


def default_profile(profiles: Sequence[Profile]) -> Profile | None:
    if not profiles:
        return None
    return next((p for p in profiles if p.default), profiles[0])


def select_profile(profiles: Sequence[Profile], user_options: Mapping[str, Any] | None) -> Profile | None:
    """The profile a user asked for (``user_options["profile"]``: a slug), else the default."""
    wanted = (user_options or {}).get("profile")
    if wanted in (None, ""):
        return default_profile(profiles)
    for p in profiles:
        if p.slug == wanted:
            return p
    choices = ", ".join(p.slug for p in profiles) or "(none configured)"
    raise ProfileError(f"no profile {wanted!r}; choose one of: {choices}")


def select(profiles: Sequence[Profile], user_options: Mapping[str, Any] | None) -> Selection:
    """The profile and the choice for each of its options (``user_options[<option>]``: a choice's name;
    left out: the option's default). Options of other profiles are ignored, as kubespawner does."""
    profile = select_profile(profiles, user_options)
    chosen: dict[str, Choice] = {}
    for option in profile.options if profile else ():
        wanted = (user_options or {}).get(option.key)
        if wanted in (None, ""):
            chosen[option.key] = option.default_choice()
            continue
        match = next((c for c in option.choices if c.slug == wanted), None)
        if match is None:
            names = ", ".join(c.slug for c in option.choices)
            assert profile is not None
            raise ProfileError(
                f"no choice {wanted!r} for option {option.key!r} of profile {profile.slug!r}; "
                f"choose one of: {names}"
            )
        chosen[option.key] = match
    return Selection(profile, chosen)


def option_field(profile: str, option: str) -> str:
    """The form field of a profile's option (kubespawner's name for it)."""
    return f"profile-option-{profile}--{option}"


def options_form(
    profiles: Sequence[Profile],
    selected: str | None = None,
    choices: Mapping[str, Any] | None = None,
) -> str:
    """The spawn page's form: one radio button per profile, one drop-down per option of a profile
    ("" when there is nothing to choose). ``selected`` and ``choices`` preselect the user's last ones."""
    if len(profiles) < 2 and not any(p.options for p in profiles):
        return ""
    chosen = selected or (default_profile(profiles) or profiles[0]).slug
    rows = []
    for p in profiles:
        checked = " checked" if p.slug == chosen else ""
        slug = html.escape(p.slug)
        ident = f"profile-item-{slug}"
        description = (
            f'<span class="profile-description">{html.escape(p.description)}</span>' if p.description else ""
        )
        row = (
            f'<div class="profile" data-profile="{slug}">\n'
            f'  <input class="form-check-input" type="radio" name="profile" id="{ident}" value="{slug}"'
            f"{checked}>\n"
            f'  <label for="{ident}"><strong>{html.escape(p.display_name)}</strong>'
            + description
            + "</label>\n"
        )
        for option in p.options:
            name = html.escape(option_field(p.slug, option.key))
            last = (choices or {}).get(option.key) if p.slug == chosen else None
            pick = last if any(c.slug == last for c in option.choices) else option.default_choice().slug
            items = "".join(
                f'<option value="{html.escape(c.slug)}"{" selected" if c.slug == pick else ""}>'
                f"{html.escape(c.display_name)}</option>"
                for c in option.choices
            )
            row += (
                f'  <div class="profile-option">\n'
                f'    <label for="{name}">{html.escape(option.display_name)}</label>\n'
                f'    <select class="form-select" name="{name}" id="{name}">{items}</select>\n'
                "  </div>\n"
            )
        rows.append(row + "</div>")
    return FORM_STYLE + '<div class="form-group jupyternetes-profiles">\n' + "\n".join(rows) + "\n</div>"


# One box per profile, its description under its name, and its options shown only while it is chosen (CSS
# alone: the form works without scripts; the options of the other profiles are sent but ignored).
FORM_STYLE = """<style>
.jupyternetes-profiles .profile { border: 1px solid var(--bs-border-color, #dee2e6); border-radius: 0.5rem;
  padding: 0.75rem 1rem; margin-bottom: 0.75rem; }
.jupyternetes-profiles .profile:has(input[name=profile]:checked) { border-color: var(--bs-primary, #f37524); }
.jupyternetes-profiles .profile > label { margin-left: 0.5rem; }
.jupyternetes-profiles .profile-description { display: block; color: var(--bs-secondary-color, #6c757d); }
.jupyternetes-profiles .profile-option { display: flex; align-items: center; gap: 0.75rem;
  margin: 0.5rem 0 0 1.75rem; }
.jupyternetes-profiles .profile-option select { width: auto; }
.jupyternetes-profiles .profile:not(:has(input[name=profile]:checked)) .profile-option { display: none; }
</style>
"""


def options_from_form(formdata: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The user options of a submitted form: the profile, and the options of that profile only."""
    values = formdata.get("profile") or []
    if not values:
        return {}
    profile = values[0]
    options: dict[str, Any] = {"profile": profile}
    prefix = option_field(profile, "")
    for name, field_values in formdata.items():
        if name.startswith(prefix) and field_values:
            options[name[len(prefix) :]] = field_values[0]
    return options
