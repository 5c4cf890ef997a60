"""``--strict-skips``: a skipped test fails, unless the repository's allow-list names it with its reason.

A skip says what is missing; on a laptop that is information (no Go: the upstream half is skipped). Under
CI it would be a hole: a suite that passes while a layer never ran. ``.ci/run`` turns the option on
(``PYTEST_ADDOPTS``), so a skip there is a failure that names the test and its skip reason, unless
``tests/allowed-skips.toml`` lists the test (an fnmatch pattern of its node id) with the reason it may skip.
Expected failures (``xfail``) are not skips and are left alone; a strict xfail already fails when it
passes.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ALLOWLIST = Path(__file__).with_name("allowed-skips.toml")


@dataclass(frozen=True)
class Allowed:
    test: str  # an fnmatch pattern of node ids
    reason: str


def load_allowlist(path: Path) -> list[Allowed]:
    """The allow-list's entries; a malformed file is a usage error naming what is wrong."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise pytest.UsageError(f"--strict-skips: cannot read the allow-list {path}: {exc}") from exc
    entries = data.get("allowed", [])
    unknown = sorted(set(data) - {"allowed"})
    if unknown or not isinstance(entries, list):
        raise pytest.UsageError(f"{path}: only [[allowed]] tables belong here (found {unknown or entries!r})")
    allowed = []
    for i, entry in enumerate(entries):
        test, reason = entry.get("test"), entry.get("reason")
        extra = sorted(set(entry) - {"test", "reason"})
        if not isinstance(test, str) or not test.strip() or extra:
            raise pytest.UsageError(f"{path}: [[allowed]] #{i + 1} needs a `test` pattern (and nothing else)")
        if not isinstance(reason, str) or not reason.strip():
            raise pytest.UsageError(f"{path}: [[allowed]] {test!r} gives no reason why it may skip")
        allowed.append(Allowed(test.strip(), reason.strip()))
    return allowed


def _skip_reason(longrepr: Any) -> str:
    # A skip's longrepr is (path, line, "Skipped: reason").
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


class StrictSkips:
    """The plugin: registered by tests/conftest.py when --strict-skips is given."""

    def __init__(self, allowed: list[Allowed], allowlist: Path) -> None:
        self.allowed = allowed
        self.allowlist = allowlist
        self.used: set[Allowed] = set()
        self.refused: list[str] = []

    def _allowed(self, nodeid: str) -> Allowed | None:
        for entry in self.allowed:
            if fnmatch.fnmatchcase(nodeid, entry.test):
                self.used.add(entry)
                return entry
        return None

    def _refuse(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        reason = _skip_reason(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under --strict-skips ({reason}), and {self.allowlist.name} does not allow it: make "
            "what is missing available, or add the test there with the reason it may skip"
        )
        self.refused.append(f"{report.nodeid}: {reason}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if report.skipped and not hasattr(report, "wasxfail") and self._allowed(report.nodeid) is None:
            self._refuse(report)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None]:
        outcome = yield
        report: pytest.CollectReport = outcome.get_result()
        if report.skipped and self._allowed(report.nodeid) is None:
            self._refuse(report)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.refused:
            terminalreporter.section("skips refused by --strict-skips")
            for line in self.refused:
                terminalreporter.write_line(line)
        used = [entry for entry in self.allowed if entry in self.used]
        if used:
            terminalreporter.section("skips allowed by tests/allowed-skips.toml")
            for entry in used:
                terminalreporter.write_line(f"{entry.test}: {entry.reason}")
