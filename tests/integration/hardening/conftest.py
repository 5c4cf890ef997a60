"""Fixtures of the hardening tests: a kubesim cluster prepared for the scenarios (see harness.py)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.hardening.harness import SimEnv, sim_env


@pytest.fixture
def henv(tmp_path: Path) -> Iterator[SimEnv]:
    with sim_env(tmp_path / "sim") as env:
        yield env


@pytest.fixture
def seed() -> int:
    """The seed of a scenario's random choices: $JUPYTERNETES_HARDENING_SEED replays a failed run."""
    value = os.environ.get("JUPYTERNETES_HARDENING_SEED")
    return int(value) if value else random.randrange(1 << 30)
