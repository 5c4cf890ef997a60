"""The API of group ``kadense.io``, version ``v1``: JupyterNotebookTemplate and JupyterNotebookInstance.

Pydantic v2 models. Python attributes are snake_case; the wire format (and the CRDs generated from these
models by :mod:`jupyternetes.core.crdgen`) is camelCase through aliases. Parse plain dicts with
:func:`parse_template` / :func:`parse_instance` (or ``Model.model_validate``) and turn models back into
plain dicts with :func:`to_dict` (by alias, without ``None`` values).

Docstrings and field descriptions end up in the CRDs, so ``kubectl explain`` shows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .variables import declaration_problems

__all__ = [
    "API_VERSION",
    "ENTRY_NAME_PATTERN",
    "GROUP",
    "INSTANCE_KIND",
    "TEMPLATE_KIND",
    "VERSION",
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "EntryState",
    "InstanceSpec",
    "InstanceStatus",
    "JupyterNotebookInstance",
    "JupyterNotebookTemplate",
    "ObjectMeta",
    "OtherResourceEntry",
    "OtherResourceStatus",
    "PodEntry",
    "PodStatus",
    "ProvisioningState",
    "PvcEntry",
    "PvcStatus",
    "SecretRef",
    "TemplateRef",
    "TemplateSpec",
    "TemplateStatus",
    "VariableDeclaration",
    "VariablesFromSource",
    "parse_instance",
    "parse_template",
    "set_condition",
    "to_dict",
]

GROUP: Final = "kadense.io"
VERSION: Final = "v1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
TEMPLATE_KIND: Final = "JupyterNotebookTemplate"
INSTANCE_KIND: Final = "JupyterNotebookInstance"

ENTRY_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
"""Template entry names are DNS-1123 labels: they end up in child names, label values and status keys."""


class ProvisioningState:
    """Values of ``status.podsProvisioned`` / ``status.pvcsProvisioned`` (and the values of the
    ``otherResourcesProvisioned`` map). ``Pending`` and ``Completed`` are the original's values."""

    PENDING: Final = "Pending"
    COMPLETED: Final = "Completed"
    FAILED: Final = "Failed"
    PARTIALLY_PROCESSED: Final = "Partially Processed"
    """Written by the original .NET operator; accepted when read, not written by Jupyternetes."""


class EntryState:
    """Values of ``state`` in ``status.pods|pvcs|otherResources[entry]``.

    ``Processed``, ``Running`` and ``Error`` are the original's values."""

    PROCESSED: Final = "Processed"
    RUNNING: Final = "Running"
    ERROR: Final = "Error"
    PENDING: Final = "Pending"
    SKIPPED: Final = "Skipped"
    """The entry's ``condition`` rendered falsy: nothing was created for it."""


class ConditionType:
    """The standard condition types Jupyternetes writes on an instance."""

    PROVISIONED: Final = "Provisioned"
    READY: Final = "Ready"
    FAILED: Final = "Failed"
    TEMPLATE_OUTDATED: Final = "TemplateOutdated"
    """The template changed since the instance was rendered; its objects are left as they are (the next
    start uses the new template). The message says what changed."""
    EXPIRED: Final = "Expired"
    """The instance outlived its template's maxLifetime: its pods were deleted (its PVCs kept)."""


ConditionStatus = Literal["True", "False", "Unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )


class _StatusModel(BaseModel):
    # Status is written by operators (ours, or the original): unknown fields are tolerated and dropped.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )


class ObjectMeta(BaseModel):
    """The part of Kubernetes' ObjectMeta that Jupyternetes reads; other fields are kept as they are."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: list[str] | None = None


# --- JupyterNotebookTemplate -------------------------------------------------------------------------


class _Entry(_Model):
    name: str = Field(min_length=1, max_length=63, pattern=ENTRY_NAME_PATTERN)
    """Name of the entry, unique in the template. Literal (never templated), a DNS-1123 label. It keys the
    instance's status, names the built-in variable of the generated object name, and is part of that name."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels added to the generated object (keys and values may contain {variables})."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations added to the generated object (keys and values may contain {variables})."""
    condition: str | None = None
    """Create the object only if this renders to something other than "", "false", "0" or "no" (compared
    after stripping blanks, case-insensitively). Absent: always created."""


class PodEntry(_Entry):
    """A pod to create for each instance."""

    spec: dict[str, Any]
    """A Kubernetes PodSpec; any field is allowed and every string may contain {variables}."""


class PvcEntry(_Entry):
    """A PersistentVolumeClaim to create for each instance (kept when the instance is deleted, by default)."""

    spec: dict[str, Any]
    """A Kubernetes PersistentVolumeClaimSpec; every string may contain {variables}."""
    delete_with_instance: bool = False
    """Delete the claim together with the instance (an ownerReference). Default false: the claim outlives
    the instance so a user's work survives a server stop, and the next instance of the same name adopts it."""


class OtherResourceEntry(_Entry):
    """Any other namespaced object to create for each instance (a Service, a NetworkPolicy, a ConfigMap)."""

    api_version: str = Field(min_length=1)
    """apiVersion of the object, e.g. "v1" or "networking.k8s.io/v1"."""
    kind: str = Field(min_length=1)
    """kind of the object, e.g. "Service"."""
    body: dict[str, Any] = Field(default_factory=dict)
    """The object's top-level fields other than apiVersion, kind and metadata, e.g. {spec: {...}} for a
    Service or {data: {...}} for a ConfigMap. metadata comes from the entry's name, labels and annotations."""

    @field_validator("body")
    @classmethod
    def _body_has_no_reserved_fields(cls, body: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(k for k in body if k in ("apiVersion", "kind", "metadata"))
        if reserved:
            raise ValueError(
                f"body must not contain {', '.join(reserved)}: apiVersion and kind are fields of the entry, "
                "and metadata is generated from the entry's name, labels and annotations"
            )
        return body


def _scalar_text(value: Any) -> Any:
    # Instances carry text; a YAML default of true or 8 means "true" or "8".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


_AnyScalar = Annotated[
    str,
    BeforeValidator(_scalar_text),
    WithJsonSchema({"x-kubernetes-preserve-unknown-fields": True}),
]
_IntOrString = Annotated[
    int | str,
    WithJsonSchema({"x-kubernetes-int-or-string": True}),
]


class VariableDeclaration(_Model):
    """A variable the template accepts. When a template declares any, instances may set only declared
    variables (and the spawner's jupyterhub.* ones), and each value must follow its declaration."""

    name: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9_.\-]+$")
    """The variable's name, as in {name} placeholders (matched case-insensitively)."""
    type: Literal["string", "integer", "boolean", "quantity", "enum"] = "string"
    """string (any text, see pattern), integer, boolean (true or false), quantity (a Kubernetes quantity such
    as 2Gi or 500m) or enum (one of enum)."""
    enum: list[str] | None = None
    """The allowed values of an enum variable (the spawner can offer them as choices)."""
    pattern: str | None = None
    """A regular expression a string variable's whole value must match (Python syntax)."""
    minimum: _IntOrString | None = None
    """The smallest value of an integer (a number) or quantity (e.g. "1Gi") variable."""
    maximum: _IntOrString | None = None
    """The largest value of an integer (a number) or quantity (e.g. "16Gi") variable."""
    default: _AnyScalar | None = None
    """The value used when an instance does not give one."""
    required: bool = False
    """Instances must give the variable (a required variable has no default). An optional variable that
    is not given and has no default is the empty string."""
    description: str | None = None
    """What the variable is for (shown to users, e.g. as the label of a spawn page choice)."""

    @model_validator(mode="after")
    def _consistent(self) -> VariableDeclaration:
        problems = declaration_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class TemplateSpec(_Model):
    """What to create for each JupyterNotebookInstance that uses this template."""

    pods: list[PodEntry] = Field(default_factory=list)
    """Pods to create (after the PVCs they mount exist)."""
    pvcs: list[PvcEntry] = Field(default_factory=list)
    """PersistentVolumeClaims to create first."""
    other_resources: list[OtherResourceEntry] = Field(default_factory=list)
    """Other objects to create last."""
    variables: list[VariableDeclaration] = Field(default_factory=list)
    """The variables instances may set, with their types and rules. None declared: any variable is
    accepted (and nothing is checked)."""
    max_lifetime: str | None = Field(default=None, pattern=r"^([0-9]+(\.[0-9]+)?(h|m|s))+$")
    """The longest an instance may run, as a duration such as 12h, 90m or 1h30m: the operator then deletes
    its pods (keeping its PVCs, as a stop does) and marks it Expired. Absent: no limit."""

    @model_validator(mode="after")
    def _variable_names_unique(self) -> TemplateSpec:
        seen: set[str] = set()
        dup: set[str] = set()
        for v in self.variables:
            if v.name.lower() in seen:
                dup.add(v.name)
            seen.add(v.name.lower())
        if dup:
            names = ", ".join(sorted(dup))
            raise ValueError(f"variables: duplicate declaration of {names} (names match case-insensitively)")
        return self

    @model_validator(mode="after")
    def _entry_names_unique(self) -> TemplateSpec:
        seen: dict[str, str] = {}
        problems: list[str] = []
        for list_name, entries in (
            ("pvcs", self.pvcs),
            ("pods", self.pods),
            ("otherResources", self.other_resources),
        ):
            for entry in entries:
                where = f"{list_name}[{entry.name}]"
                if entry.name in seen:
                    problems.append(f'duplicate entry name "{entry.name}": {seen[entry.name]} and {where}')
                else:
                    seen[entry.name] = where
        if problems:
            raise ValueError(
                "; ".join(problems)
                + " (entry names must be unique across pods, pvcs and otherResources: they name the "
                "generated objects, their built-in variables and the instance's status keys)"
            )
        return self


class TemplateStatus(_StatusModel):
    """Which instances use the template, written by the operator."""

    instances: int | None = None
    """How many instances use the template (any generation)."""
    outdated: int | None = None
    """How many of them were rendered from an earlier generation (their condition TemplateOutdated is
    True): they keep running as they are until their next start."""
    instances_by_generation: dict[str, int] | None = None
    """Instances per template generation they were rendered from (keys are generations, as text)."""
    observed_generation: int | None = None
    """The template generation this status describes."""


class JupyterNotebookTemplate(_Model):
    """A template of the pods, PVCs and other resources created for each notebook server."""

    model_config = ConfigDict(extra="ignore")

    api_version: str = API_VERSION
    kind: str = TEMPLATE_KIND
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: TemplateSpec = Field(default_factory=TemplateSpec)
    status: TemplateStatus | None = None


# --- JupyterNotebookInstance -------------------------------------------------------------------------


class TemplateRef(_Model):
    """Which JupyterNotebookTemplate to render."""

    name: str = Field(min_length=1)
    """Name of the template."""
    namespace: str | None = None
    """Namespace of the template; absent or empty: the instance's own namespace. The operator only reads
    templates from the namespaces it is configured to allow."""

    def resolve_namespace(self, instance_namespace: str) -> str:
        """The template's namespace: ``namespace`` if set and not empty, else the instance's."""
        return self.namespace or instance_namespace


class SecretRef(_Model):
    """A Secret in the instance's namespace."""

    name: str = Field(min_length=1)


class VariablesFromSource(_Model):
    """A source of variables: each key of the Secret is a variable."""

    secret_ref: SecretRef


class InstanceSpec(_Model):
    """A request for one notebook server, rendered from a template with these variables."""

    template: TemplateRef
    variables: dict[str, str] = Field(default_factory=dict)
    """Variables substituted for {name} placeholders (names match case-insensitively). They override keys
    of the same name from variablesFrom; built-in jupyternetes.* variables override both."""
    variables_from: list[VariablesFromSource] = Field(default_factory=list)
    """Secrets whose keys are variables (later sources override earlier ones). Keeps secrets such as the
    hub API token out of the instance's spec."""


class _EntryStatus(_StatusModel):
    resource_name: str | None = None
    """Name of the generated object."""
    state: str | None = None
    """Processed, Running, Pending, Error or Skipped."""
    error_message: str | None = None
    """Why the entry is in state Error."""


class PodStatus(_EntryStatus):
    """State of the pod generated for one template entry."""

    pod_address: str | None = None
    """The pod's IP address."""
    port_number: int | None = None
    """The container port named "http", else the first declared container port."""
    ready: bool | None = None
    """The pod's Ready condition."""
    phase: str | None = None
    """The pod's phase: Pending, Running, Succeeded, Failed."""
    message: str | None = None
    """What the pod is doing or waiting for, from its conditions and container states (e.g. "scheduled to
    node n1", "ContainerCreating", "unschedulable: 0/1 nodes are available ...")."""
    node_name: str | None = None
    """The node the pod is scheduled to."""


class PvcStatus(_EntryStatus):
    """State of the PVC generated for one template entry."""

    phase: str | None = None
    """The claim's phase: Pending, Bound or Lost."""


class OtherResourceStatus(_EntryStatus):
    """State of the object generated for one otherResources entry."""


class Condition(_StatusModel):
    """A standard Kubernetes condition."""

    type: str
    status: ConditionStatus
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None
    """RFC 3339 time of the last change of status."""
    observed_generation: int | None = None


class InstanceStatus(_StatusModel):
    """Observed state of the instance's generated objects."""

    pods: dict[str, PodStatus] | None = None
    """Per pod entry name."""
    pvcs: dict[str, PvcStatus] | None = None
    """Per PVC entry name."""
    other_resources: dict[str, OtherResourceStatus] | None = None
    """Per otherResources entry name."""
    pods_provisioned: str | None = None
    """Pending, Completed or Failed."""
    pvcs_provisioned: str | None = None
    """Pending, Completed or Failed."""
    other_resources_provisioned: dict[str, str] | None = None
    """Per otherResources entry name: Pending, Completed or Failed."""
    conditions: list[Condition] | None = None
    """Provisioned, Ready, Failed."""
    observed_generation: int | None = None
    """The instance generation this status describes."""
    template_generation: int | None = None
    """metadata.generation of the template the objects were rendered from."""
    template_uid: str | None = None
    """metadata.uid of the template the objects were rendered from."""
    address: str | None = None
    """host:port of the first pod."""


class JupyterNotebookInstance(_Model):
    """One notebook server: a template reference and the variables to render it with."""

    model_config = ConfigDict(extra="ignore")

    api_version: str = API_VERSION
    kind: str = INSTANCE_KIND
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: InstanceSpec
    status: InstanceStatus | None = None


# --- helpers -----------------------------------------------------------------------------------------


def parse_template(obj: Mapping[str, Any]) -> JupyterNotebookTemplate:
    """A JupyterNotebookTemplate from a plain dict (raises ``pydantic.ValidationError``)."""
    return JupyterNotebookTemplate.model_validate(obj)


def parse_instance(obj: Mapping[str, Any]) -> JupyterNotebookInstance:
    """A JupyterNotebookInstance from a plain dict (raises ``pydantic.ValidationError``)."""
    return JupyterNotebookInstance.model_validate(obj)


def to_dict(model: BaseModel) -> dict[str, Any]:
    """A plain, JSON-compatible dict of ``model``: camelCase keys, ``None`` values left out."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def set_condition(
    conditions: Iterable[Condition] | None,
    type: str,
    status: ConditionStatus,
    *,
    reason: str,
    message: str,
    now: str,
    observed_generation: int | None = None,
) -> list[Condition]:
    """``conditions`` with the one of ``type`` set (a new list; the input is not changed).

    ``lastTransitionTime`` becomes ``now`` only when the status changes (or the condition is new), as
    Kubernetes conventions require; reason, message and observedGeneration are always updated.
    """
    result: list[Condition] = []
    found = False
    for c in conditions or ():
        if c.type == type:
            found = True
            changed = c.status != status
            result.append(
                Condition(
                    type=type,
                    status=status,
                    reason=reason,
                    message=message,
                    last_transition_time=now
                    if changed or not c.last_transition_time
                    else c.last_transition_time,
                    observed_generation=observed_generation,
                )
            )
        else:
            result.append(c)
    if not found:
        result.append(
            Condition(
                type=type,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=now,
                observed_generation=observed_generation,
            )
        )
    return result
