"""--strict-skips (tests/strict_skips.py), run on a small suite of its own in a pytest subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import strict_skips

REPO = Path(__file__).resolve().parents[2]

CONFTEST = """
from pathlib import Path

from tests import strict_skips


def pytest_addoption(parser):
    parser.addoption("--strict-skips", action="store_true")


def pytest_configure(config):
    if config.getoption("--strict-skips"):
        path = Path(__file__).with_name("allowed.toml")
        config.pluginmanager.register(strict_skips.StrictSkips(strict_skips.load_allowlist(path), path))
"""

SUITE = """
import pytest


def test_runs():
    pass


def test_missing_tool():
    pytest.skip("frobnicate is not installed")


@pytest.mark.skipif(True, reason="needs a GPU")
def test_gpu():
    pass


@pytest.mark.xfail(reason="known", strict=True)
def test_known_failure():
    assert False
"""

ALLOW_GPU = """
[[allowed]]
test = "test_suite.py::test_gpu*"
reason = "no accelerator on CI's machine"
"""


def run(tmp_path: Path, allowlist: str, *args: str, suite: str = SUITE) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(suite))
    (tmp_path / "allowed.toml").write_text(allowlist)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_ADDOPTS", None)  # .ci/run's --strict-skips is for the outer run
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "--rootdir", str(tmp_path), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_without_the_option_a_skip_is_a_skip(tmp_path: Path) -> None:
    proc = run(tmp_path, "")
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in proc.stdout


def test_an_unlisted_skip_fails_naming_its_reason(tmp_path: Path) -> None:
    proc = run(tmp_path, ALLOW_GPU, "--strict-skips")
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in proc.stdout
    assert "skipped under --strict-skips (frobnicate is not installed), and allowed.toml" in proc.stdout
    assert "test_suite.py::test_missing_tool: frobnicate is not installed" in proc.stdout
    # The listed one stays a skip, and the summary says why it may.
    assert "test_suite.py::test_gpu*: no accelerator on CI's machine" in proc.stdout


def test_with_every_skip_listed_the_run_passes(tmp_path: Path) -> None:
    allow = ALLOW_GPU + '\n[[allowed]]\ntest = "*::test_missing_tool"\nreason = "optional tool"\n'
    proc = run(tmp_path, allow, "--strict-skips")
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in proc.stdout


def test_a_module_skipped_at_collection_fails_too(tmp_path: Path) -> None:
    suite = 'import pytest\npytest.skip("no database", allow_module_level=True)\n\ndef test_x():\n    pass\n'
    proc = run(tmp_path, "", "--strict-skips", suite=suite)
    assert proc.returncode != 0, proc.stdout
    assert "skipped under --strict-skips (no database)" in proc.stdout


@pytest.mark.parametrize(
    ("allowlist", "message"),
    [
        ('[[allowed]]\ntest = "x"\n', "[[allowed]] 'x' gives no reason why it may skip"),
        ('[[allowed]]\nreason = "r"\n', "[[allowed]] #1 needs a `test` pattern"),
        ('[skips]\ntest = "x"\n', "only [[allowed]] tables belong here"),
        ("[[allowed]\n", "cannot read the allow-list"),
    ],
)
def test_a_malformed_allowlist_is_a_usage_error(tmp_path: Path, allowlist: str, message: str) -> None:
    proc = run(tmp_path, allowlist, "--strict-skips")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert message in proc.stderr


def test_the_repositorys_allowlist_is_well_formed() -> None:
    for entry in strict_skips.load_allowlist(strict_skips.ALLOWLIST):
        assert entry.reason
