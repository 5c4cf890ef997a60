"""Fixtures shared by the integration suites."""

from __future__ import annotations

import pytest

from tests.clusters import Upstream
from tests.integration import crds


@pytest.fixture(scope="session")
def session_crds(upstream: Upstream) -> None:
    """The project's CRDs on the session's upstream control plane, kept across tests (in the baseline)."""
    crds.session_crds(upstream)
