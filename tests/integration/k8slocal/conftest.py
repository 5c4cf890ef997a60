"""k8s-local's own tests need the upstream binaries (built by `make k8s`, or here on first use)."""

from __future__ import annotations

import pytest

import k8slocal
from tests.clusters import require_upstream


@pytest.fixture(scope="session")
def binaries(request: pytest.FixtureRequest) -> k8slocal.Binaries:
    require_upstream(request.config)
    found = k8slocal.find()
    if found is not None:
        return found
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        return k8slocal.ensure()
