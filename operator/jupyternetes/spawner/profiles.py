"""``profile_list``: the choices a user sees on the spawn page, as kubespawner users know them.

A profile is a dict::

    {"display_name": "Data science", "slug": "datascience", "description": "Python, R and Julia",
     "default": True, "template": "datascience", "template_namespace": "jupyternetes",
     "variables": {"cpu": "2"}}

Only ``display_name`` is required. ``template`` / ``template_namespace`` override the spawner's
``template_name`` / ``template_namespace``; ``variables`` are added to the instance's variables (and so are
available to the template as ``{name}``). The chosen profile's slug is the variable ``jupyterhub.profile``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class ProfileError(ValueError):
    """An invalid profile list, or a user option that names no profile."""


@dataclass(frozen=True)
class Profile:
    display_name: str
    slug: str
    description: str = ""
    default: bool = False
    template: str | None = None
    template_namespace: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


_KNOWN = {"display_name", "slug", "description", "default", "template", "template_namespace", "variables"}


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
        variables = item.get("variables") or {}
        if not isinstance(variables, Mapping) or not all(isinstance(v, str) for v in variables.values()):
            raise ProfileError(f"profile_list[{i}]: variables must map names to strings")
        out.append(
            Profile(
                display_name=str(item["display_name"]),
                slug=slug,
                description=str(item.get("description") or ""),
                default=bool(item.get("default")),
                template=item.get("template") or None,
                template_namespace=item.get("template_namespace") or None,
                variables={str(k): v for k, v in variables.items()},
            )
        )
    return out


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


def options_form(profiles: Sequence[Profile], selected: str | None = None) -> str:
    """The spawn page's form: one radio button per profile ("" when there is nothing to choose)."""
    if len(profiles) < 2:
        return ""
    chosen = selected or (default_profile(profiles) or profiles[0]).slug
    rows = []
    for p in profiles:
        checked = " checked" if p.slug == chosen else ""
        ident = f"profile-item-{html.escape(p.slug)}"
        rows.append(
            f'<div class="profile">\n'
            f'  <input type="radio" name="profile" id="{ident}" value="{html.escape(p.slug)}"{checked}>\n'
            f'  <label for="{ident}"><strong>{html.escape(p.display_name)}</strong>'
            + (f" &mdash; {html.escape(p.description)}" if p.description else "")
            + "</label>\n</div>"
        )
    return '<div class="form-group jupyternetes-profiles">\n' + "\n".join(rows) + "\n</div>"


def options_from_form(formdata: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    values = formdata.get("profile") or []
    return {"profile": values[0]} if values else {}
