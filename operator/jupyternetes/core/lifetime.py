"""Lifetime limits: a template's ``maxLifetime`` and when an instance outlives it. Pure functions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

__all__ = ["expires_at", "parse_duration"]

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|m|s)")
_SECONDS: Final = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> dt.timedelta:
    """A duration as Go writes them, in hours, minutes and seconds (``12h``, ``1h30m``, ``90s``).

    Raises ``ValueError`` naming the form when ``text`` is not one (the CRD's pattern refuses those
    already; this is for values read from elsewhere)."""
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration such as 12h, 90m, 1h30m or 45s")
    return dt.timedelta(seconds=total)


def expires_at(created: str, max_lifetime: str) -> dt.datetime:
    """When an instance created at ``created`` (RFC 3339, as metadata.creationTimestamp) outlives
    ``max_lifetime``."""
    start = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    return start + parse_duration(max_lifetime)
