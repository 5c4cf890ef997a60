"""The Kubernetes release k8s-local builds by default, and how a release's version splits."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The minor kubesim emulates and the kubectl of the PyPI layer speaks.
DEFAULT_VERSION = "v1.34.4"

# The Kubernetes axis (make test-matrix, tox's upstream-1.3N, the Actions matrix): one release of each of
# the four newest minors, built from source; docs/versions.md says which ran here and when. The default
# stands for its minor (kubesim is held to it); the others are each minor's newest patch when chosen.
MATRIX = (DEFAULT_VERSION, "v1.35.8", "v1.36.5", "v1.37.2")

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Release:
    """A Kubernetes release, ``v1.34.4``: its staging modules are ``v0.34.4``."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Release:
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a Kubernetes release version: {text!r} (expected vMAJOR.MINOR.PATCH)")
        major, minor, patch = (int(g) for g in match.groups())
        return cls(major, minor, patch)

    @property
    def tag(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"

    @property
    def staging(self) -> str:
        """The version of the staging modules (k8s.io/api, k8s.io/client-go, ...) of this release."""
        return f"v0.{self.minor}.{self.patch}"

    def __str__(self) -> str:
        return self.tag
