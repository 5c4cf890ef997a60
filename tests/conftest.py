"""Shared test options and helpers for every layer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cluster",
        choices=("sim", "kind"),
        default="sim",
        help="where e2e tests run: kubesim (default) or a kind cluster from $KUBECONFIG (GitHub Actions)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sim_only: runs only against kubesim")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cluster = config.getoption("--cluster")
    for item in items:
        if "kind" in item.keywords and cluster != "kind":
            item.add_marker(
                pytest.mark.skip(
                    reason="needs a kind cluster (Docker); runs in GitHub Actions with --cluster=kind"
                )
            )
        if "sim_only" in item.keywords and cluster != "sim":
            item.add_marker(pytest.mark.skip(reason="exercises kubesim internals; runs with --cluster=sim"))


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy (returned) or fail after ``timeout`` seconds.
    The one polling helper of the suites (and of bench/, through the hardening harness): it raises a plain
    AssertionError, so code outside pytest can use it and catch it."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s waiting for {text} (last value: {last!r})")
        time.sleep(interval)


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_until
