"""What a template change would change for a running instance, and how many instances use a template.

Pure functions. A template edit never touches running servers (a user's pod is not restarted under them):
the operator renders the new template for each running instance, compares it with the objects that exist,
and marks the instance ``TemplateOutdated`` naming what differs (``image``, ``resources``, ``env`` ...);
the next start (a new instance) uses the new template.

The comparison is "is what the template asks for still what runs": every field of the rendered object
must be in the live one with the same value (the API server adds defaults, so extra live fields are not
differences), quantities compared by value (the API server writes ``1Gi`` for ``1024Mi``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .models import TemplateStatus
from .rendering import RenderPlan
from .variables import parse_quantity

__all__ = ["describe_drift", "plan_drift", "template_usage"]

Obj = dict[str, Any]

# Container fields users care about, named as they are in a PodSpec; any other difference is named by its
# own field.
_CONTAINER_ASPECTS = ("image", "resources", "env", "envFrom", "command", "args", "ports", "volumeMounts")


# Added to pods by the API server's ServiceAccount admission plugin, not by the template.
_INJECTED = "kube-api-access-"


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)


def _same_quantity(want: Any, have: Any) -> bool:
    try:
        return parse_quantity(str(want)) == parse_quantity(str(have))
    except ValueError:
        return False


def _covered(want: Any, have: Any, *, quantities: bool = False) -> bool:
    """Whether ``have`` (live) holds everything ``want`` (rendered) says."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return False
        return all(
            _covered(v, have.get(k), quantities=quantities or k in ("requests", "limits", "capacity"))
            for k, v in want.items()
        )
    if isinstance(want, list):
        if not isinstance(have, list):
            return False
        if _named(want) and _named(have):
            # Volumes, mounts, env, ports ... by name: the order is not the point, and the API server adds
            # the ServiceAccount token's volume and mounts (kube-api-access-*) to every pod.
            wanted = {w["name"]: w for w in want}
            live = {h["name"]: h for h in have if not str(h["name"]).startswith(_INJECTED)}
            return set(wanted) == set(live) and all(
                _covered(w, live[n], quantities=quantities) for n, w in wanted.items()
            )
        if len(want) != len(have):
            return False
        return all(_covered(w, h, quantities=quantities) for w, h in zip(want, have, strict=True))
    if want == have:
        return True
    if quantities and isinstance(want, str | int | float) and isinstance(have, str | int | float):
        return _same_quantity(want, have)
    # The API server writes some scalars back as other types (an int-or-string port given as "8888").
    return str(want) == str(have) and not isinstance(want, bool)


def _pod_aspects(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[str]:
    aspects: list[str] = []
    wspec, hspec = want.get("spec") or {}, have.get("spec") or {}
    for field in ("initContainers", "containers"):
        wanted = {c.get("name"): c for c in wspec.get(field) or ()}
        live = {c.get("name"): c for c in hspec.get(field) or ()}
        if set(wanted) != set(live):
            aspects.append(field)
            continue
        for name, container in wanted.items():
            for key, value in container.items():
                if not _covered(value, live[name].get(key), quantities=key == "resources"):
                    aspects.append(key if key in _CONTAINER_ASPECTS else f"{field}.{key}")
    for key, value in wspec.items():
        if key not in ("initContainers", "containers") and not _covered(value, hspec.get(key)):
            aspects.append(key)
    for key in ("labels", "annotations"):
        wanted_meta = (want.get("metadata") or {}).get(key) or {}
        if not _covered(wanted_meta, (have.get("metadata") or {}).get(key) or {}):
            aspects.append(key)
    return aspects


def plan_drift(plan: RenderPlan, live: Mapping[str, Obj], *, created: Iterable[str] = ()) -> list[str]:
    """What differs between the objects ``plan`` (the new template, rendered for the instance) would
    create and the ``live`` ones (by generated name), as sorted unique aspect names: ``image``,
    ``resources``, ``env`` ... for pods, ``pvcs.<entry>`` for claims, ``pods``/``pvcs``/``otherResources``
    for entries added or removed. ``created``: names of the objects the instance has (removed entries)."""
    aspects: set[str] = set()
    planned_names = {p.name for p in plan.objects}
    for pod in plan.pods:
        have = live.get(pod.name)
        if have is None:
            aspects.add("pods")
            continue
        aspects.update(_pod_aspects(pod.manifest, have))
    for pvc in plan.pvcs:
        have = live.get(pvc.name)
        if have is None:
            aspects.add("pvcs")
        elif not _covered(pvc.manifest.get("spec") or {}, have.get("spec") or {}):
            aspects.add(f"pvcs.{pvc.entry}")
    for other in plan.others:
        have = live.get(other.name)
        if have is None:
            aspects.add("otherResources")
            continue
        body = {k: v for k, v in other.manifest.items() if k not in ("apiVersion", "kind", "metadata")}
        if not _covered(body, have):
            aspects.add(f"otherResources.{other.entry}")
    if any(name not in planned_names for name in created):
        aspects.add("entries removed")
    return sorted(aspects)


def describe_drift(template: str, old_generation: int | None, new_generation: int, aspects: list[str]) -> str:
    """The TemplateOutdated condition's message."""
    since = (
        f"generation {old_generation} -> {new_generation}"
        if old_generation
        else f"now generation {new_generation}"
    )
    return (
        f"template {template} changed since this server started ({since}): {', '.join(aspects)}; the running "
        "server is left as it is, its next start uses the new template"
    )


def template_usage(
    instances: Iterable[Mapping[str, Any]], template_uid: str, generation: int
) -> TemplateStatus:
    """The template's status from the instances that reference it: how many, how many outdated, and how
    many per generation they were rendered from (those not rendered yet are counted only in the total)."""
    total = 0
    outdated = 0
    by_generation: dict[str, int] = {}
    for inst in instances:
        if (inst.get("metadata") or {}).get("deletionTimestamp"):
            continue
        total += 1
        status = inst.get("status") or {}
        if status.get("templateUid") not in (None, template_uid):
            continue  # rendered from an earlier template of the same name (deleted and re-created)
        rendered = status.get("templateGeneration")
        if rendered is not None:
            by_generation[str(rendered)] = by_generation.get(str(rendered), 0) + 1
        for c in status.get("conditions") or ():
            if c.get("type") == "TemplateOutdated" and c.get("status") == "True":
                outdated += 1
    return TemplateStatus(
        instances=total,
        outdated=outdated,
        instances_by_generation=by_generation,
        observed_generation=generation,
    )
