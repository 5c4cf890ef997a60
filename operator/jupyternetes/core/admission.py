"""What the admission webhook checks of a template on its own, before any instance exists. Pure.

A template is rendered for a sample instance: its declared variables take their defaults (required ones
a value their declaration accepts, :func:`~jupyternetes.core.variables.sample_values`) and the variables
the spawner sets at each spawn (``jupyterhub.*``) a placeholder, since they are only known then. A
template that declares no variables is only checked for its structure (brace errors, references to
entries it does not define): its variables are the spawner's and the profiles' business, as before.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from .models import TemplateSpec
from .rendering import RenderContext, RenderError, RenderFailed, RenderPlan, check_template, render_template
from .variables import sample_values

__all__ = ["SAMPLE_INSTANCE", "render_with_defaults"]

SAMPLE_INSTANCE: Final = "admission-sample"
_SPAWNER_SAMPLE: Final = "sample"
SPAWNER_PREFIX: Final = "jupyterhub."


def render_with_defaults(
    spec: TemplateSpec, name: str, namespace: str, instance_namespace: str | None = None
) -> RenderPlan | None:
    """The objects of template ``namespace``/``name`` for a sample instance in ``instance_namespace`` (by
    default the template's; None: no declarations, nothing to render with). Raises :class:`RenderFailed`
    with every error."""
    errors = check_template(spec)
    if errors:
        raise RenderFailed(errors)
    if not spec.variables:
        return None
    variables = sample_values(spec.variables)
    ctx = RenderContext(
        instance_name=SAMPLE_INSTANCE,
        instance_namespace=instance_namespace or namespace,
        template_name=name,
        template_namespace=namespace,
        variables=variables,
    )
    try:
        return render_template(spec, ctx)
    except RenderFailed as exc:
        # The spawner's variables (jupyterhub.user.name ...) exist only at spawn: given a placeholder.
        if not all(_spawner_variable(e) for e in exc.errors):
            raise
        spawner = {str(e.variable): _SPAWNER_SAMPLE for e in exc.errors}
    return render_template(spec, dataclasses.replace(ctx, variables={**spawner, **variables}))


def _spawner_variable(error: RenderError) -> bool:
    return (
        error.code == "undefined-variable"
        and error.variable is not None
        and error.variable.lower().startswith(SPAWNER_PREFIX)
    )
