"""Deterministic, DNS-safe names and label values. Pure functions, no I/O.

Why 63 characters: a pod's name becomes its hostname, which is a DNS label (at most 63 characters);
Services need DNS-1035 labels (63, starting with a letter); and every child carries the instance name in
the label ``jupyternetes.kadense.io/instance``, whose value is limited to 63 characters. Capping every
generated name at 63 keeps it valid for all of these uses.

Names are never random (no ``generateName``): the operator finds its children again by name, so replays,
restarts and a user's next server start all land on the same objects (this is how retained PVCs are
adopted again).
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

__all__ = [
    "ANNOTATION_PURGE",
    "LABEL_ENTRY",
    "LABEL_INSTANCE",
    "LABEL_TEMPLATE",
    "MAX_NAME_LENGTH",
    "child_name",
    "instance_name",
    "is_dns_label",
    "is_label_value",
    "is_qualified_name",
    "label_value",
]

LABEL_INSTANCE: Final = "jupyternetes.kadense.io/instance"
"""Label on every child: the (label-safe) name of the owning JupyterNotebookInstance."""
LABEL_TEMPLATE: Final = "jupyternetes.kadense.io/template"
"""Label on every child: the (label-safe) name of the JupyterNotebookTemplate it was rendered from."""
LABEL_ENTRY: Final = "jupyternetes.kadense.io/entry"
"""Label on every child: the name of the template entry (``pods[].name`` etc.) it was rendered from."""
ANNOTATION_PURGE: Final = "jupyternetes.kadense.io/purge"
"""Annotation on an instance: ``"true"`` deletes its retained PVCs when the instance is deleted."""

MAX_NAME_LENGTH: Final = 63
_HASH_LENGTH: Final = 8

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?\Z")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_QUALIFIED_NAME_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
_NOT_LOWER_ALNUM = re.compile(r"[^a-z0-9]+")
_NOT_LABEL_CHAR = re.compile(r"[^A-Za-z0-9._-]+")
_LABEL_EDGES = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")


def is_dns_label(s: str) -> bool:
    """True if ``s`` is a DNS-1123 label: 1-63 of ``[a-z0-9-]``, starting and ending alphanumeric."""
    return len(s) <= MAX_NAME_LENGTH and _DNS_LABEL.match(s) is not None


def is_label_value(s: str) -> bool:
    """True if ``s`` is a valid Kubernetes label value (may be empty)."""
    return len(s) <= MAX_NAME_LENGTH and _LABEL_VALUE.match(s) is not None


def is_qualified_name(key: str) -> bool:
    """True if ``key`` is a valid label/annotation key: ``[prefix/]name``, prefix a DNS subdomain."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or _DNS_SUBDOMAIN.match(prefix) is None):
        return False
    return 0 < len(name) <= MAX_NAME_LENGTH and _QUALIFIED_NAME_PART.match(name) is not None


def _digest(*parts: str) -> str:
    """A short stable hash of ``parts``; ``\\xff`` (never a byte of UTF-8) separates them."""
    h = hashlib.sha256()
    for i, part in enumerate(parts):
        if i:
            h.update(b"\xff")
        h.update(part.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:_HASH_LENGTH]


def _lower_slug(s: str, max_length: int) -> str:
    """Lowercase alphanumerics of ``s``, runs of anything else turned into one '-', no '-' at the ends."""
    return _NOT_LOWER_ALNUM.sub("-", s.lower()).strip("-")[:max_length].rstrip("-")


def child_name(instance_name: str, entry_name: str, *, start_with_letter: bool = False) -> str:
    """The name of the object an instance creates for one template entry.

    ``f"{instance_name}-{entry_name}"`` when that is a valid DNS-1123 label (at most 63 characters, and,
    with ``start_with_letter``, starting with a letter as Service names must). Otherwise the same text,
    lowercased, with runs of other characters replaced by '-', truncated, and suffixed with ``-`` and 8 hex
    digits of a SHA-256 of both inputs, so two different (instance, entry) pairs get different names.

    The renderer passes ``start_with_letter=True`` for ``otherResources`` entries (a Service's name must be
    a DNS-1035 label) and ``False`` for pods and PVCs.
    """
    candidate = f"{instance_name}-{entry_name}"
    if is_dns_label(candidate) and (not start_with_letter or candidate[0].isalpha()):
        return candidate
    digest = _digest(instance_name, entry_name)
    room = MAX_NAME_LENGTH - _HASH_LENGTH - 1
    slug = _lower_slug(candidate, room)
    if start_with_letter and not slug[:1].isalpha():
        slug = _lower_slug("x-" + slug, room)
    return f"{slug}-{digest}" if slug else f"x-{digest}"


_PLAIN_SLUG = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


def _is_plain_slug(s: str) -> bool:
    # Plain slugs never contain "--": that is the user/server separator, and escaped slugs contain "---".
    return _PLAIN_SLUG.match(s) is not None and "--" not in s


def instance_name(username: str, servername: str = "", *, prefix: str = "jupyter") -> str:
    """The JupyterNotebookInstance name for a JupyterHub user's (named) server.

    kubespawner-style safe slugs, at most 63 characters:

    - ``{prefix}-{user}`` for the default server, ``{prefix}-{user}--{server}`` for a named one, when
      ``user`` and ``server`` are already lowercase alphanumerics and single '-' (no "--") and it fits;
    - otherwise ``{prefix}-{slug}---{hash}`` where ``slug`` is a lowercased, '-'-joined, truncated rendering
      of the inputs and ``hash`` 8 hex digits of a SHA-256 of (username, servername).

    Distinct inputs never produce the same name (short of a hash collision): an escaped name contains
    "---" which no plain one does, a named server's plain name contains "--" which no default server's plain
    name does, and the hash covers both inputs. ``"a.b"`` and ``"a-b"`` therefore differ, and so do
    ``("a", "")`` and ``("a", "b")``. ``prefix`` must itself be a plain slug.
    """
    if not _is_plain_slug(prefix) or len(prefix) > 20:
        raise ValueError(f"instance name prefix {prefix!r} must be a short DNS label without '--'")
    parts = [username] if not servername else [username, servername]
    plain = f"{prefix}-{'--'.join(parts)}"
    if all(_is_plain_slug(p) for p in parts) and len(plain) <= MAX_NAME_LENGTH:
        return plain
    digest = _digest(*parts)
    room = MAX_NAME_LENGTH - len(prefix) - 1 - 3 - _HASH_LENGTH
    slug = _lower_slug("-".join(parts), room) or "x"
    return f"{prefix}-{slug}---{digest}"


def label_value(s: str) -> str:
    """``s`` if it is a valid label value, else a valid one derived from it (at most 63 characters).

    Invalid characters become '-', the text is truncated and trimmed to start and end alphanumeric, and
    8 hex digits of a SHA-256 of ``s`` are appended, so different inputs keep different values.
    """
    if is_label_value(s):
        return s
    digest = _digest(s)
    slug = _NOT_LABEL_CHAR.sub("-", s)[: MAX_NAME_LENGTH - _HASH_LENGTH - 1]
    slug = _LABEL_EDGES.sub("", slug)
    return f"{slug}-{digest}" if slug else digest
