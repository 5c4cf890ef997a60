"""Fixtures for integration tests against a simulated cluster.

- ``cluster``: a fresh ``kubesim.Cluster()`` per test, served from a background thread.
- ``client``: an official ``kubernetes`` ``ApiClient`` configured from ``cluster.kubeconfig``
  (wrap it: ``kubernetes.client.CoreV1Api(client)``).
- ``wait_for``: :func:`wait_for`, to poll a condition with a deadline instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import kubernetes
import pytest

import kubesim

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or predicate}; last: {result!r}"
            )
        time.sleep(interval)


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., object]:
    return wait_for


@pytest.fixture
def cluster() -> Iterator[kubesim.Cluster]:
    with kubesim.Cluster() as c:
        yield c


@pytest.fixture
def client(cluster: kubesim.Cluster) -> Iterator[kubernetes.client.ApiClient]:
    api_client = kubernetes.config.new_client_from_config(config_file=cluster.kubeconfig)  # type: ignore[no-untyped-call]
    try:
        yield api_client
    finally:
        api_client.close()
