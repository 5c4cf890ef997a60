"""Kinds of objects named the way RBAC and kubectl name them: ``plural[.group]``. Pure functions, no I/O.

The operator's option ``--other-resource`` names the kinds of ``otherResources`` it watches (and restores
when one is deleted) this way, so that a Helm chart can derive it from the RBAC rules that grant them:
``services``, ``configmaps``, ``networkpolicies.networking.k8s.io``. No version: the operator watches the
version the API server prefers, and an object is the same object in every version of its group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["OPERATOR_CHILDREN", "GroupResource", "api_group", "parse_group_resource"]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_VERSION = re.compile(r"v[0-9]+((alpha|beta)[0-9]+)?\Z")


@dataclass(frozen=True, order=True)
class GroupResource:
    """A kind by API group (``""``: the core group) and resource (the lowercase plural)."""

    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


OPERATOR_CHILDREN: Final = frozenset({GroupResource("", "pods"), GroupResource("", "persistentvolumeclaims")})
"""Kinds the operator always watches as its own children (and never re-creates as other resources)."""


def parse_group_resource(text: str) -> GroupResource:
    """``"services"`` -> ("", "services"); ``"networkpolicies.networking.k8s.io"`` -> ("networking.k8s.io",
    "networkpolicies"). ValueError, with the reason, for anything else: wildcards, subresources, a version
    (``deployments.v1.apps``), and pods or PVCs (the operator's own children, watched anyway)."""
    resource, _, group = text.strip().partition(".")
    if not resource or len(resource) > 63 or _DNS_LABEL.match(resource) is None:
        raise ValueError(
            f"{text!r} is not a resource: give the lowercase plural and, outside the core group, the API "
            "group, as RBAC rules name them (services, networkpolicies.networking.k8s.io); no wildcards "
            "or subresources"
        )
    if group:
        if len(group) > 253 or _DNS_SUBDOMAIN.match(group) is None:
            raise ValueError(f"{text!r}: {group!r} is not an API group name")
        if _VERSION.match(group.split(".", 1)[0]):
            raise ValueError(f"{text!r}: give plural.group without a version (the preferred one is watched)")
    gr = GroupResource(group, resource)
    if gr in OPERATOR_CHILDREN:
        raise ValueError(
            f"{text!r}: pods and persistentvolumeclaims are the operator's own children, always watched; "
            "a deleted pod is reported, never re-created"
        )
    return gr


def api_group(api_version: str) -> str:
    """The API group of an apiVersion: ``v1`` -> ``""``, ``networking.k8s.io/v1`` -> ``networking.k8s.io``."""
    return api_version.rpartition("/")[0]
