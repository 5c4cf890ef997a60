"""Fixtures of the pure layer's unit tests: the announcement's template and instance, verbatim."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures"

_SEED_TEMPLATE: dict[str, Any] = yaml.safe_load(
    (FIXTURES / "default-template.yaml").read_text(encoding="utf-8")
)
_SEED_INSTANCE: dict[str, Any] = yaml.safe_load((FIXTURES / "instance.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def seed_template() -> dict[str, Any]:
    """fixtures/default-template.yaml as a dict (a fresh copy per test)."""
    return copy.deepcopy(_SEED_TEMPLATE)


@pytest.fixture
def seed_instance() -> dict[str, Any]:
    """fixtures/instance.yaml as a dict (a fresh copy per test)."""
    return copy.deepcopy(_SEED_INSTANCE)
