"""The checks of the validating admission webhook (handlers.py serves them through kopf).

Instances are refused at creation (and when their spec changes) when their template is missing or not in an
allowed namespace, their variables break the template's declarations, or their objects do not render or
would be refused by the API server (a server-side dry-run of each rendered object). Templates are refused
when they are invalid or, declaring variables, do not render with their defaults; their deletion is
refused while instances use them. Every refusal names the object, the field or variable, and the rule.

The reconcile does all of the instance checks again (the webhook may be down: its failurePolicy is
Ignore, docs/operator.md), so nothing here is the only guard.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from jupyternetes.adapters import objectvalidation
from jupyternetes.adapters.caches import Caches
from jupyternetes.adapters.kube import Kube, KubeError
from jupyternetes.adapters.reconciler import OperatorConfig, Reconciler, pydantic_summary
from jupyternetes.core.admission import render_with_defaults
from jupyternetes.core.models import parse_instance, parse_template
from jupyternetes.core.naming import ANNOTATION_PURGE
from jupyternetes.core.rendering import PlannedObject, RenderFailed

Obj = dict[str, Any]

# Failures that fix themselves (the hub writes the variables' Secret just before the instance): admitted,
# with a warning.
_TRANSIENT = frozenset({"SecretNotFound", "SecretUnreadable"})
# Dry-run answers that say the object itself is wrong. Others (403: this operator may not create there,
# or a quota is used up; 409: an object of that name exists, an earlier instance's) are not the object's
# fault, and the reconcile reports them if they last.
_INVALID = frozenset({400, 404, 422})


class AdmissionRefused(Exception):
    """The request is refused; the message names the object, the field or variable, and the rule."""


@dataclass
class Admission:
    kube: Kube
    caches: Caches
    config: OperatorConfig
    reconciler: Reconciler

    # ---------------------------------------------------------------------- instances

    async def check_instance(self, obj: Obj, old: Obj | None) -> list[str]:
        """Refuse a bad instance (raises :class:`AdmissionRefused`); returns warnings for the client."""
        meta = obj.get("metadata") or {}
        ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        what = f"JupyterNotebookInstance {ns}/{name}"
        if meta.get("deletionTimestamp"):
            return []  # being deleted: its finalizer must be removable whatever its template became
        if old is not None and old.get("spec") == obj.get("spec"):
            return []  # metadata (finalizers, annotations): nothing that is rendered
        if (meta.get("annotations") or {}).get(ANNOTATION_PURGE) == "true":
            # The spawner's delete_forever: an instance created and deleted at once, never rendered, so
            # that the operator deletes the user's volumes; it carries no variables.
            return []
        try:
            model = parse_instance(obj)
        except ValidationError as exc:
            raise AdmissionRefused(f"{what}: {pydantic_summary(exc)}") from None
        if not self.config.serves(ns):
            return []  # another operator's instances
        tref = model.spec.template
        tns = tref.resolve_namespace(ns)
        allowed = self.config.allowed_template_namespaces(ns)
        if tns not in allowed:
            raise AdmissionRefused(
                f'{what}: spec.template.namespace: template namespace "{tns}" is not allowed: the operator '
                f"reads templates only from {', '.join(sorted(allowed))}"
            )
        template = self.caches.templates.get(tns, tref.name) or await self.reconciler.fetch_template(
            tns, tref.name
        )
        if template is None:
            raise AdmissionRefused(
                f'{what}: spec.template: JupyterNotebookTemplate "{tref.name}" not found in namespace "{tns}"'
            )
        try:
            parsed = parse_template(template)
        except ValidationError as exc:
            raise AdmissionRefused(
                f"{what}: template {tns}/{tref.name} is invalid: {pydantic_summary(exc)}"
            ) from None
        inst = copy.deepcopy(obj)
        # At CREATE the API server may not have given it a uid yet; the rendered owner reference needs one.
        inst["metadata"].setdefault("uid", "00000000-0000-0000-0000-000000000000")
        plan, failure = await self.reconciler.render(inst, model, parsed, tns)
        if plan is None:
            assert failure is not None
            if failure.reason in _TRANSIENT:
                return [f"{what}: not fully checked: {failure.message}"]
            raise AdmissionRefused(f"{what}: {failure.reason}: {failure.message}")
        problems = await self.dry_run(plan.objects)
        if problems:
            raise AdmissionRefused(f"{what}: the API server would refuse its objects: " + "; ".join(problems))
        return []

    async def dry_run(self, objects: Sequence[PlannedObject], namespace: str | None = None) -> list[str]:
        """Problems the API server finds creating each object (dryRun=All: validation and admission,
        nothing stored), named by object and entry; in ``namespace`` if given."""

        async def one(planned: PlannedObject) -> str | None:
            manifest = copy.deepcopy(planned.manifest)
            # Not the object's contents: the instance may not exist yet.
            manifest["metadata"].pop("ownerReferences", None)
            if namespace is not None:
                manifest["metadata"]["namespace"] = namespace
            try:
                await self.kube.create(manifest, dry_run=True)
            except KubeError as exc:
                if exc.status in _INVALID:
                    return f"{planned.object_kind} {planned.name} (entry {planned.entry}): {exc.message}"
            return None

        results = await asyncio.gather(*(one(p) for p in objects))
        return [r for r in results if r is not None]

    # ---------------------------------------------------------------------- templates

    async def check_template(self, obj: Obj, old: Obj | None) -> list[str]:
        meta = obj.get("metadata") or {}
        ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        what = f"JupyterNotebookTemplate {ns}/{name}"
        if meta.get("deletionTimestamp") or (old is not None and old.get("spec") == obj.get("spec")):
            return []
        try:
            spec = parse_template(obj).spec
        except ValidationError as exc:
            raise AdmissionRefused(f"{what}: {pydantic_summary(exc)}") from None
        # Rendered and dry-run where its instances would be: a template namespace is often one the
        # operator may not create objects in (a dry-run there answers 403, which checks nothing).
        target = self.config.instance_namespace_for(ns)
        try:
            plan = render_with_defaults(spec, name, ns, target)
        except RenderFailed as exc:
            raise AdmissionRefused(
                f"{what}: does not render with its variables' defaults: {exc.summary()}"
            ) from None
        if plan is None:
            return []
        problems = [
            f"{p.object_kind} (entry {p.entry}): {problem}"
            for p in plan.objects
            for problem in objectvalidation.validate(p.manifest, self.config.kubernetes_version)
        ]
        if not problems:
            problems = await self.dry_run(plan.objects, target)
        if problems:
            raise AdmissionRefused(
                f"{what}: rendered with its variables' defaults, its objects are invalid: "
                + "; ".join(problems[:5])
            )
        return []

    def check_template_deletion(self, obj: Obj) -> None:
        """Refuse deleting a template that instances use (their next start would fail)."""
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        users = sorted(f"{ns}/{name}" for ns, name in self.users(key))
        if users:
            more = f" and {len(users) - 10} more" if len(users) > 10 else ""
            raise AdmissionRefused(
                f"JupyterNotebookTemplate {key[0]}/{key[1]} is used by {len(users)} instance"
                f"{'s' if len(users) != 1 else ''} ({', '.join(users[:10])}{more}): stop them first "
                "(a running server keeps its objects, but it could not start again)"
            )

    def users(self, key: tuple[str, str]) -> list[tuple[str, str]]:
        """Instances (not being deleted) whose spec names the template ``key``."""
        out = []
        for inst in self.caches.instances:
            meta: Mapping[str, Any] = inst.get("metadata") or {}
            tref = (inst.get("spec") or {}).get("template") or {}
            ns = str(meta.get("namespace", ""))
            if meta.get("deletionTimestamp"):
                continue
            if (tref.get("namespace") or ns, tref.get("name")) == key:
                out.append((ns, str(meta.get("name", ""))))
        return out
