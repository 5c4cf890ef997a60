"""The start-up guard of the operator's kopf patches (jupyternetes.kopf_internals), both ways: on the kopf the
lock installs, the patch is in place and kopf's watcher goes through it; on a kopf whose internals moved,
the operator refuses to start and says what moved."""

from __future__ import annotations

import sys
import types
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest
from kopf._cogs.clients import errors as kopf_errors
from kopf._cogs.clients import watching

import jupyternetes
from jupyternetes import cli, kopf_internals
from jupyternetes.kopf_internals import KopfInternalsChanged, problems


def copy_of(module: types.ModuleType, **changes: Any) -> types.ModuleType:
    """A module with ``module``'s attributes, some replaced (a value of None removes the attribute)."""
    fake = types.ModuleType(module.__name__)
    fake.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    for name, value in changes.items():
        if value is None:
            delattr(fake, name)
        else:
            setattr(fake, name, value)
    return fake


def test_the_installed_kopf_is_as_the_patches_expect() -> None:
    assert problems(watching, kopf_errors, kopf.OperatorRegistry()) == []


def test_the_patch_is_installed_and_kopf_watches_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import jupyternetes.handlers  # noqa: F401 - importing it installs the patch

    assert getattr(watching.continuous_watch, "jupyternetes_resilient", False)
    # kopf's infinite_watch finds continuous_watch in its module at call time: what it calls is what the
    # module holds, so the patch is on kopf's path (checked with a stand-in that records the call).
    calls: list[dict[str, Any]] = []

    async def stand_in(**kwargs: Any) -> AsyncIterator[Any]:
        calls.append(kwargs)
        yield watching.Bookmark.LISTED

    monkeypatch.setattr(watching, "continuous_watch", stand_in)
    resource = kopf.Resource("kadense.io", "v1", "jupyternotebookinstances")

    async def one_pass() -> list[Any]:
        stream = watching.infinite_watch(
            settings=kopf.OperatorSettings(), resource=resource, namespace=None, _iterations=1
        )
        return [item async for item in stream]

    import asyncio

    assert asyncio.run(one_pass()) == [watching.Bookmark.LISTED]
    assert [sorted(c) for c in calls] == [["namespace", "operator_pause_waiter", "resource", "settings"]]


async def _watch(*, settings: Any, resource: Any, namespace: Any) -> AsyncIterator[Any]:
    yield None


async def _positional(settings: Any, resource: Any, namespace: Any) -> AsyncIterator[Any]:
    yield None


async def _renamed_keywords(*, config: Any, resource: Any) -> AsyncIterator[Any]:
    yield None


async def _not_a_generator(**kwargs: Any) -> None:
    return None


async def _calls_something_else(**kwargs: Any) -> AsyncIterator[Any]:
    async for item in _watch(**kwargs):  # no longer looks up `continuous_watch`
        yield item


class _NoListed:
    OTHER = 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"continuous_watch": None}, "continuous_watch is gone"),
        ({"continuous_watch": _not_a_generator}, "no longer an async generator function"),
        ({"continuous_watch": _positional}, "wants positional arguments (settings, resource, namespace)"),
        ({"continuous_watch": _renamed_keywords}, "takes no settings, namespace keyword"),
        ({"infinite_watch": _calls_something_else}, "no longer calls continuous_watch by its module-level"),
        ({"infinite_watch": None}, "infinite_watch is gone"),
        ({"Bookmark": _NoListed}, "Bookmark.LISTED (the end of a listing) is gone"),
        ({"WatchingError": None}, "WatchingError is gone"),
    ],
)
def test_a_moved_internal_is_named(changes: dict[str, Any], expected: str) -> None:
    found = problems(copy_of(watching, **changes), kopf_errors, kopf.OperatorRegistry())
    assert len(found) == 1, found
    assert expected in found[0]


def test_moved_modules_and_registries_are_named() -> None:
    assert problems(None, kopf_errors, kopf.OperatorRegistry()) == [
        "module kopf._cogs.clients.watching is gone"
    ]
    assert problems(watching, None, kopf.OperatorRegistry()) == ["module kopf._cogs.clients.errors is gone"]
    registry = kopf.OperatorRegistry()
    registry._watching = types.SimpleNamespace(_handlers=())  # type: ignore[assignment]
    assert problems(watching, kopf_errors, registry) == [
        "kopf.OperatorRegistry()._watching._handlers is no longer a list"
    ]


def test_check_refuses_with_what_moved_and_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(watching, "continuous_watch")
    with pytest.raises(KopfInternalsChanged) as info:
        kopf_internals.check(kopf.OperatorRegistry())
    message = str(info.value)
    assert message.startswith(f"kopf {kopf.__version__}'s internals are not what the Jupyternetes operator")
    assert "kopf._cogs.clients.watching.continuous_watch is gone" in message
    assert "kopf>=1.37,<1.46" in message
    assert "requirements/operator.txt" in message


def _forget_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next ``from jupyternetes import handlers`` imports the module afresh (restored afterwards)."""
    monkeypatch.delitem(sys.modules, "jupyternetes.handlers", raising=False)
    monkeypatch.delattr(jupyternetes, "handlers", raising=False)


def test_the_operator_refuses_to_start_when_kopf_moved(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _forget_handlers(monkeypatch)
    monkeypatch.delattr(watching, "continuous_watch")
    started: list[Any] = []
    monkeypatch.setattr(kopf, "operator", lambda **kw: started.append(kw))

    assert cli.main(["operator", "--all-namespaces"]) == 2

    assert started == []
    err = capsys.readouterr().err
    assert err.startswith("error: kopf ")
    assert "continuous_watch is gone" in err
    assert "will not run without watch recovery" in err


def test_the_operator_starts_when_kopf_is_as_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    _forget_handlers(monkeypatch)
    started: list[dict[str, Any]] = []

    async def operator(**kwargs: Any) -> None:
        started.append(kwargs)

    monkeypatch.setattr(kopf, "operator", operator)
    monkeypatch.setattr(kopf, "configure", lambda **kw: None)

    assert cli.main(["operator", "--all-namespaces"]) == 0

    handlers = sys.modules["jupyternetes.handlers"]
    assert [kw["registry"] for kw in started] == [handlers.registry]
    assert getattr(watching.continuous_watch, "jupyternetes_resilient", False)
