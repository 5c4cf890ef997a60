"""The parts of kopf's private internals the operator relies on, checked before it starts.

handlers.py wraps kopf's ``continuous_watch`` (kopf._cogs.clients.watching: one list-then-watch pass of a
resource) to make watch streams survive errors and to prune its caches after a relist, and edits the lists
of handlers in kopf's registries to unregister the watches of other resources. kopf has no public hook for
either (docs/kopf-proposal.md proposes one). A kopf release that moved any of it would leave the operator
running without watch recovery, quietly, so the operator refuses to start instead, naming what moved.

``problems()`` looks at modules given to it, so a test can hand it kopf as it is and kopf as it might
become.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

WATCHING = "kopf._cogs.clients.watching"
ERRORS = "kopf._cogs.clients.errors"
# What the wrapper reads of the keyword arguments kopf calls continuous_watch with.
WATCH_KEYWORDS = ("settings", "resource", "namespace")
# The range of kopf these internals were checked against (pyproject.toml's operator extra); the lock
# (requirements/operator.txt) names the one the tests ran.
TESTED = "kopf>=1.37,<1.46"


class KopfInternalsChanged(RuntimeError):
    """kopf's internals are not what the operator's patches expect."""


def problems(watching: ModuleType | None, errors: ModuleType | None, registry: object) -> list[str]:
    """What differs from what the patches expect, one sentence each; empty when all is as expected."""
    found: list[str] = []
    if watching is None:
        return [f"module {WATCHING} is gone"]
    original = getattr(watching, "continuous_watch", None)
    original = getattr(original, "jupyternetes_original", original)  # already wrapped: check kopf's own
    if original is None:
        found.append(f"{WATCHING}.continuous_watch is gone")
    elif not inspect.isasyncgenfunction(original):
        found.append(f"{WATCHING}.continuous_watch is no longer an async generator function")
    else:
        found += _signature_problems(original)
    infinite = getattr(watching, "infinite_watch", None)
    code = getattr(infinite, "__code__", None)
    if code is None:
        found.append(f"{WATCHING}.infinite_watch is gone")
    elif "continuous_watch" not in code.co_names:
        # Replacing the module attribute reroutes only callers that look the name up in the module.
        found.append(f"{WATCHING}.infinite_watch no longer calls continuous_watch by its module-level name")
    bookmark = getattr(watching, "Bookmark", None)
    if getattr(bookmark, "LISTED", None) is None:
        found.append(f"{WATCHING}.Bookmark.LISTED (the end of a listing) is gone")
    if not _is_exception(getattr(watching, "WatchingError", None)):
        found.append(f"{WATCHING}.WatchingError is gone")
    if errors is None:
        found.append(f"module {ERRORS} is gone")
    elif not _is_exception(getattr(errors, "APIError", None)):
        found.append(f"{ERRORS}.APIError is gone")
    # _webhooks: the admission handlers are registered only when the operator serves the webhook.
    for purpose in ("_indexing", "_watching", "_webhooks"):
        handlers = getattr(getattr(registry, purpose, None), "_handlers", None)
        if not isinstance(handlers, list):
            found.append(f"kopf.OperatorRegistry().{purpose}._handlers is no longer a list")
    return found


def _signature_problems(fn: Callable[..., Any]) -> list[str]:
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return []
    missing = [name for name in WATCH_KEYWORDS if name not in params]
    positional = [name for name, p in params.items() if p.kind is not p.KEYWORD_ONLY and p.default is p.empty]
    found = []
    if missing:
        found.append(f"{WATCHING}.continuous_watch takes no {', '.join(missing)} keyword")
    if positional:
        found.append(f"{WATCHING}.continuous_watch wants positional arguments ({', '.join(positional)})")
    return found


def _is_exception(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def check(registry: object) -> tuple[ModuleType, ModuleType]:
    """kopf's watching and errors modules, when they are as the patches expect; else KopfInternalsChanged
    with every difference and what to do."""
    import kopf

    watching, errors = _module(WATCHING), _module(ERRORS)
    found = problems(watching, errors, registry)
    if found or watching is None or errors is None:
        version = getattr(kopf, "__version__", "unknown")
        raise KopfInternalsChanged(
            f"kopf {version}'s internals are not what the Jupyternetes operator patches "
            f"(watch recovery, handlers.py): {'; '.join(found)}. The operator will not run without watch "
            f"recovery: install a kopf it was tested with ({TESTED}; the lock, requirements/operator.txt, "
            "names the exact one)"
        )
    return watching, errors
