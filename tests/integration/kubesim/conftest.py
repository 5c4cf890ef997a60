"""Fixtures for integration tests against a simulated cluster.

- ``cluster`` (tests/clusters.py): the test runs on kubesim and on upstream Kubernetes, in a namespace of
  its own (``cluster.namespace``).
- ``client``: an official ``kubernetes`` ``ApiClient`` configured from ``cluster.kubeconfig``
  (wrap it: ``kubernetes.client.CoreV1Api(client)``).
- ``sim`` / ``sim_client``: a fresh ``kubesim.Cluster()`` per test, served from a background thread, for
  tests of kubesim's own features (fault injection, options, its store); kubesim only.
- ``wait_for``: :func:`wait_for`, to poll a condition with a deadline instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import kubernetes
import pytest

import kubesim
from tests.clusters import ClusterUnderTest
from tests.conftest import wait_until

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    return wait_until(predicate, timeout, interval=interval, message=what or str(predicate))


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., object]:
    return wait_for


@pytest.fixture
def sim() -> Iterator[kubesim.Cluster]:
    with kubesim.Cluster() as c:
        yield c


def _client(kubeconfig: str) -> Iterator[kubernetes.client.ApiClient]:
    api_client = kubernetes.config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def client(cluster: ClusterUnderTest) -> Iterator[kubernetes.client.ApiClient]:
    yield from _client(cluster.kubeconfig)


@pytest.fixture
def sim_client(sim: kubesim.Cluster) -> Iterator[kubernetes.client.ApiClient]:
    yield from _client(sim.kubeconfig)
