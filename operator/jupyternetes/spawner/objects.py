"""Pure builders of the objects the spawner writes: the JupyterNotebookInstance and its variables Secret.

No I/O and no JupyterHub here (kubespawner's ``objects.py`` idea): the spawner gathers the inputs, these
functions return plain dicts, and unit tests compare them with expected dicts.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jupyternetes.core.models import API_VERSION, INSTANCE_KIND
from jupyternetes.core.naming import ANNOTATION_PURGE, label_value

Obj = dict[str, Any]

# The reconciler's finalizer that deletes retained PVCs of an instance annotated for purge.
PURGE_FINALIZER: Final = "jupyternetes.kadense.io/purge"

LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_USER: Final = "hub.jupyter.org/username"
LABEL_SERVER: Final = "hub.jupyter.org/servername"
ANNOTATION_USER: Final = "hub.jupyter.org/username"
ANNOTATION_SERVER: Final = "hub.jupyter.org/servername"
MANAGED_BY: Final = "jupyterhub"

# Variables the announcement's instance carries (the operator adds jupyternetes.* itself, but the
# announcement's instance supplies the two instance ones too, so we do as well).
VAR_USER_ID: Final = "jupyterhub.user.id"
VAR_USER_NAME: Final = "jupyterhub.user.name"
VAR_API_TOKEN: Final = "jupyterhub.api_token"
VAR_NAMESPACE: Final = "jupyterhub.namespace"
VAR_OAUTH_CLIENT_ID: Final = "jupyterhub.oauth_client_id"
VAR_SERVER_NAME: Final = "jupyterhub.server.name"
VAR_PROFILE: Final = "jupyterhub.profile"
VAR_PROFILE_OPTIONS: Final = "jupyterhub.profile.options"
VAR_INSTANCE_NAME: Final = "jupyternetes.instance.name"
VAR_INSTANCE_NAMESPACE: Final = "jupyternetes.instance.namespace"
ENV_PREFIX: Final = "jupyterhub.env."

# Environment variables of a single-user server that a template may reference as {jupyterhub.env.NAME}
# even when JupyterHub's get_env() leaves them out (they are then empty), so one template works whatever
# the hub's configuration.
OPTIONAL_ENV: Final = (
    "JUPYTERHUB_ADMIN_ACCESS",
    "JUPYTERHUB_COOKIE_OPTIONS",
    "JUPYTERHUB_DEBUG",
    "JUPYTERHUB_DEFAULT_URL",
    "JUPYTERHUB_DISABLE_USER_CONFIG",
    "JUPYTERHUB_ROOT_DIR",
    "JUPYTERHUB_SERVICE_PREFIX",
    "JUPYTERHUB_PUBLIC_URL",
    "JUPYTERHUB_PUBLIC_HUB_URL",
    "JUPYTERHUB_HOST",
    "MEM_LIMIT",
    "MEM_GUARANTEE",
    "CPU_LIMIT",
    "CPU_GUARANTEE",
)

# get_env() names whose values are credentials: they go into the Secret, never into the instance's spec.
DEFAULT_SECRET_ENV_PATTERN: Final = r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|_KEY$|^KEY$)"

_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def secret_name(instance: str) -> str:
    """The Secret that carries an instance's sensitive variables (a DNS subdomain: at most 253 chars)."""
    return f"{instance}-hub-vars"


def dns_slug(text: str, max_length: int = 63) -> str:
    """``text`` when it is already a DNS-1123 label, else a lowercase slug plus 8 hex digits of its
    SHA-256 (so ``Alice`` and ``alice`` differ): safe for namespace names made from user names."""
    if len(text) <= max_length and _DNS_LABEL.match(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[: max_length - 9].rstrip("-")
    return f"{slug}-{digest}" if slug else f"x-{digest}"


@dataclass(frozen=True)
class SpawnRequest:
    """Everything the instance and its Secret are made of."""

    instance: str
    namespace: str
    template: str
    template_namespace: str
    username: str
    user_id: int
    server_name: str
    hub_namespace: str
    oauth_client_id: str
    api_token: str
    env: Mapping[str, str] = field(default_factory=dict)
    profile: str = ""
    # The choices made for the profile's options ("size=large,image=scipy"; "" without options).
    profile_options: str = ""
    # Profile and configured variables (lowest precedence among what the spawner supplies).
    extra_variables: Mapping[str, str] = field(default_factory=dict)
    secret_env_pattern: str = DEFAULT_SECRET_ENV_PATTERN
    # Extra variable names (besides the API token and secret-looking env) to keep in the Secret.
    secret_variable_names: Iterable[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def split_variables(req: SpawnRequest) -> tuple[dict[str, str], dict[str, str]]:
    """(plain variables for ``spec.variables``, sensitive ones for the Secret).

    Precedence (later wins): extra/profile variables, the hub's ``jupyterhub.env.*``, then the
    announcement's ``jupyterhub.*`` set: a profile cannot replace the user's name or token.
    """
    everything: dict[str, str] = {}
    secret_names: set[str] = {VAR_API_TOKEN, *req.secret_variable_names}
    for key, value in req.extra_variables.items():
        everything[str(key)] = str(value)
    env = {name: "" for name in OPTIONAL_ENV}
    env.update({str(k): "" if v is None else str(v) for k, v in req.env.items()})
    pattern = re.compile(req.secret_env_pattern)
    for name, value in env.items():
        key = ENV_PREFIX + name
        everything[key] = value
        if pattern.search(name):
            secret_names.add(key)
    everything.update(
        {
            VAR_USER_ID: str(req.user_id),
            VAR_USER_NAME: req.username,
            VAR_API_TOKEN: req.api_token,
            VAR_NAMESPACE: req.hub_namespace,
            VAR_OAUTH_CLIENT_ID: req.oauth_client_id,
            VAR_SERVER_NAME: req.server_name,
            VAR_PROFILE: req.profile,
            VAR_PROFILE_OPTIONS: req.profile_options,
            VAR_INSTANCE_NAME: req.instance,
            VAR_INSTANCE_NAMESPACE: req.namespace,
        }
    )
    plain = {k: v for k, v in everything.items() if k not in secret_names}
    secret = {k: v for k, v in everything.items() if k in secret_names}
    bad = sorted(k for k in secret if not _SECRET_KEY.match(k))
    if bad:
        raise ValueError(f"variable names not usable as Secret keys: {', '.join(bad)}")
    return plain, secret


def instance_labels(req: SpawnRequest) -> dict[str, str]:
    labels = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_COMPONENT: "singleuser-server",
        LABEL_USER: label_value(req.username),
        LABEL_SERVER: label_value(req.server_name),
    }
    labels.update(req.labels)
    return labels


def instance_manifest(req: SpawnRequest, variables: Mapping[str, str], *, purge: bool = False) -> Obj:
    """The JupyterNotebookInstance for a spawn: template reference, plain variables, the Secret as
    ``variablesFrom``. With ``purge`` it carries the purge annotation and the reconciler's purge finalizer
    (``delete_forever``: created only to be deleted at once)."""
    annotations = {ANNOTATION_USER: req.username, ANNOTATION_SERVER: req.server_name, **req.annotations}
    metadata: Obj = {
        "name": req.instance,
        "namespace": req.namespace,
        "labels": instance_labels(req),
        "annotations": annotations,
    }
    spec: Obj = {
        "template": {"name": req.template, "namespace": req.template_namespace},
        "variables": dict(variables),
    }
    if purge:
        annotations[ANNOTATION_PURGE] = "true"
        metadata["finalizers"] = [PURGE_FINALIZER]
    else:
        spec["variablesFrom"] = [{"secretRef": {"name": secret_name(req.instance)}}]
    return {"apiVersion": API_VERSION, "kind": INSTANCE_KIND, "metadata": metadata, "spec": spec}


def secret_manifest(req: SpawnRequest, secret_variables: Mapping[str, str]) -> Obj:
    """The Secret with the sensitive variables (``data``, base64-encoded here: every API server returns
    ``data``, and the operator reads it)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(req.instance),
            "namespace": req.namespace,
            "labels": instance_labels(req),
            "annotations": {ANNOTATION_USER: req.username, ANNOTATION_SERVER: req.server_name},
        },
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode("utf-8")).decode("ascii") for k, v in secret_variables.items()},
    }


def owner_patch(instance: Mapping[str, Any]) -> Obj:
    """A merge patch that makes the Secret owned by the instance (garbage-collected with it).

    Not a controller reference and no blockOwnerDeletion: the hub is not the instance's controller, and
    blocking owner deletion would need the ``update`` verb on instances' finalizers."""
    meta = instance["metadata"]
    return {
        "metadata": {
            "ownerReferences": [
                {
                    "apiVersion": instance.get("apiVersion", API_VERSION),
                    "kind": instance.get("kind", INSTANCE_KIND),
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ]
        }
    }
