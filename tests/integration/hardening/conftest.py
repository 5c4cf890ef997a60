"""Fixtures of the hardening tests: an :class:`~.harness.Env` on each backend (see harness.py).

``henv`` (and the module-scoped ``backend`` of test_hostile_input) runs a test once per backend chosen
with ``--backends``: ``[kubesim]`` on a fresh kubesim cluster, ``[upstream]`` in fresh namespaces of one
k8s-local control plane (with a kubesim kubelet node, fake runtime) shared by the hardening tests of the
session; it starts with the first of them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

import k8slocal
import kubesim
from tests.clusters import backends, require_upstream
from tests.integration.hardening.harness import Env, sim_env, upstream_env, upstream_plane


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        scope = "module" if metafunc.module.__name__.endswith("test_hostile_input") else "function"
        metafunc.parametrize("backend", backends(metafunc.config), indirect=True, scope=scope)


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def hardening_plane(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[k8slocal.ControlPlane]:
    require_upstream(request.config)
    binaries = k8slocal.find()
    if binaries is None:
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():
            binaries = k8slocal.ensure()
    with upstream_plane(tmp_path_factory.mktemp("hardening-k8s"), binaries=binaries) as plane:
        yield plane


@pytest.fixture
def henv(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Env]:
    if backend == "kubesim":
        with sim_env(tmp_path / "sim") as env:
            yield env
        return
    plane = request.getfixturevalue("hardening_plane")
    with upstream_env(plane, tmp_path / "upstream") as uenv:
        yield uenv


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[kubesim.Cluster]:
    """A plain kubesim cluster, for tests of kubesim's own behaviour (kubesim only)."""
    with kubesim.Cluster(state_dir=tmp_path / "kubesim") as cluster:
        yield cluster


@pytest.fixture
def seed() -> int:
    """The seed of a scenario's random choices: $JUPYTERNETES_HARDENING_SEED replays a failed run."""
    value = os.environ.get("JUPYTERNETES_HARDENING_SEED")
    return int(value) if value else random.randrange(1 << 30)
