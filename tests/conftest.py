"""Shared test options and helpers for every layer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from tests import strict_skips
from tests.clusters import BACKENDS, backends, cluster, ns, upstream

__all__ = ["cluster", "ns", "upstream"]  # fixtures shared by every layer (tests/clusters.py)

T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cluster",
        choices=("sim", "kind"),
        default="sim",
        help="where e2e tests run: the local stacks (default) or a kind cluster from $KUBECONFIG "
        "(GitHub Actions)",
    )
    parser.addoption(
        "--strict-skips",
        action="store_true",
        default=False,
        help="a skipped test fails unless tests/allowed-skips.toml names it with its reason "
        "(.ci/run sets it)",
    )
    parser.addoption(
        "--upstream-only",
        action="store_true",
        default=False,
        help="deselect every test that does not run on the upstream backend (the test matrix: each minor "
        "runs the suites' upstream half)",
    )
    parser.addoption(
        "--k8s-version",
        default=None,
        help="the upstream Kubernetes release the upstream backend runs (built with k8s-local; default: "
        "$JUPYTERNETES_K8S_VERSION, else k8s-local's own)",
    )
    parser.addoption(
        "--backends",
        default=",".join(BACKENDS),
        help="API servers the `cluster` fixture's tests run on: kubesim, upstream (k8s-local), or both "
        "(default: kubesim,upstream)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--strict-skips"):
        allowlist = strict_skips.ALLOWLIST
        plugin = strict_skips.StrictSkips(strict_skips.load_allowlist(allowlist), allowlist)
        config.pluginmanager.register(plugin, "strict-skips")
    config.addinivalue_line(
        "markers",
        "kubesim_diverges(reason): kubesim knowingly differs from upstream here (docs/kubesim.md, "
        "'What is simplified'): strict xfail on kubesim, a plain test on upstream",
    )
    config.addinivalue_line("markers", "backend_not_chosen: internal (deselected): see kubesim_only")
    config.addinivalue_line(
        "markers",
        "kubesim_only(reason): measures with a kubesim instrument (fault injection, its request log): "
        "runs on kubesim only (no upstream case is generated; with --backends=upstream it is deselected)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take ``cluster`` run once per backend, same code, same assertions; so do tests that take
    ``node_backend`` (the backend's name, module scope: a module that starts its own clusters per backend,
    see tests/integration/kubesim/kubelet_support.py)."""
    if "cluster" in metafunc.fixturenames:
        metafunc.parametrize("cluster", backend_params(metafunc), indirect=True)
    elif "node_backend" in metafunc.fixturenames:
        metafunc.parametrize("node_backend", backend_params(metafunc), scope="module")


def backend_params(metafunc: pytest.Metafunc) -> list[Any]:
    """One parameter per chosen backend; ``kubesim_diverges`` makes the kubesim one a strict xfail."""
    diverges = metafunc.definition.get_closest_marker("kubesim_diverges")
    only = metafunc.definition.get_closest_marker("kubesim_only")
    params = []
    for backend in backends(metafunc.config):
        marks = []
        if diverges is not None and backend == "kubesim":
            reason = diverges.kwargs.get("reason") or (diverges.args[0] if diverges.args else "")
            if not reason:
                raise pytest.UsageError(f"{metafunc.definition.nodeid}: kubesim_diverges needs a reason")
            marks.append(pytest.mark.xfail(reason=f"kubesim diverges: {reason}", strict=True))
        if backend == "upstream" and only is not None:
            reason = only.kwargs.get("reason") or (only.args[0] if only.args else "")
            if not reason:
                raise pytest.UsageError(f"{metafunc.definition.nodeid}: kubesim_only needs a reason")
            continue
        params.append(pytest.param(backend, id=backend, marks=marks))
    if not params:  # kubesim only, and kubesim not chosen: the one case exists to be deselected
        params.append(pytest.param("kubesim", id="kubesim", marks=pytest.mark.backend_not_chosen))
    return params


BACKEND_PARAMS = ("cluster", "node_backend", "backend")  # the fixtures a test's backend comes through


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the kubesim-only cases of an unchosen backend, and with --upstream-only every test not
    parametrized with the upstream backend."""
    unchosen = [item for item in items if "backend_not_chosen" in item.keywords]
    if unchosen:
        config.hook.pytest_deselected(items=unchosen)
        items[:] = [item for item in items if "backend_not_chosen" not in item.keywords]
    if not config.getoption("--upstream-only"):
        return
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_upstream = any(params.get(name) == "upstream" for name in BACKEND_PARAMS)
        (keep if on_upstream else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


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
