"""The Dockerfile's Python steps, rehearsed without Docker.

No image can be built here (no container engine), so this runs the ``build`` stage's own RUN command, read
from the Dockerfile, with its absolute paths moved into a temporary directory: the project's wheel is built
from the files the stage copies with the locked build backend, and installed without dependencies into a
fresh virtualenv holding exactly the operator's lock (requirements/operator.txt). Then, as the final stages
do, the operator's entry point is run from outside the checkout, and the hub stage's install (the spawner's
lock for JupyterHub 5.4.4, then the wheel alone, then pip check) is repeated in another fresh virtualenv,
where the spawner must import without kopf. What this cannot show: the base images themselves, the non-root
user, and the multi-arch builds (the kind and release workflows build those).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from tests.integration.chart.conftest import ROOT

pytestmark = pytest.mark.slow


def stage(dockerfile: str, name: str) -> str:
    """The text of one stage (``FROM ... AS <name>`` up to the next FROM), line continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    match = re.search(rf"^FROM \S+ AS {name}\n(.*?)(?=^FROM |\Z)", joined, re.MULTILINE | re.DOTALL)
    assert match, f"no stage {name!r} in the Dockerfile"
    return match.group(1)


def instruction(stage_text: str, keyword: str) -> list[str]:
    return [line[len(keyword) + 1 :] for line in stage_text.splitlines() if line.startswith(keyword + " ")]


def run(argv: list[str], cwd: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        **kw,
    )
    assert proc.returncode == 0, f"{argv}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build stage, run: ``<tmp>/wheels`` and the virtualenv ``<tmp>/opt/jupyternetes``."""
    tmp = tmp_path_factory.mktemp("image")
    build = stage((ROOT / "Dockerfile").read_text(), "build")
    assert instruction(build, "WORKDIR") == ["/src"]
    src = tmp / "src"
    src.mkdir()
    for copy in instruction(build, "COPY"):
        *sources, dest = copy.split()
        for s in sources:
            target = src / dest.removeprefix("./")
            if (ROOT / s).is_dir():
                shutil.copytree(ROOT / s, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            else:
                target.mkdir(parents=True, exist_ok=True) if dest.endswith("/") else None
                shutil.copy2(ROOT / s, target / Path(s).name if dest.endswith("/") else target)
    (commands,) = instruction(build, "RUN")
    commands = commands.replace("/wheels", str(tmp / "wheels")).replace("/opt/", str(tmp / "opt") + "/")
    # The stage's `python` is the image's; here the interpreter the tests run on, first on PATH.
    bindir = tmp / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(Path.home()), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run(["sh", "-c", commands], cwd=src, env=env)
    return tmp


def test_the_build_stage_makes_one_wheel_and_carries_the_spawners_lock(built: Path) -> None:
    wheels = sorted(p.name for p in (built / "wheels").glob("*.whl"))
    assert len(wheels) == 1, wheels
    lock = (ROOT / "requirements" / "spawner-jupyterhub5.txt").read_text()
    assert (built / "wheels" / "requirements-spawner.txt").read_text() == lock
    assert "\njupyterhub==5.4.4 \\\n" in lock


def test_the_operator_venv_holds_exactly_the_lock(built: Path) -> None:
    python = str(built / "opt" / "jupyternetes" / "bin" / "python")
    code = "import importlib.metadata as m; print(' '.join(d.name.lower() for d in m.distributions()))"
    installed = set(run([python, "-c", code], cwd=built).stdout.split())
    lock = (ROOT / "requirements" / "operator.txt").read_text()
    locked = {name.lower() for name in re.findall(r"^([A-Za-z0-9_.-]+)==", lock, re.MULTILINE)}
    normalize = lambda names: {re.sub(r"[-_.]+", "-", n) for n in names}  # noqa: E731
    # The lock is universal: packages for other platforms or Pythons (pywin32 ...) are not installed here.
    assert normalize(installed) - normalize(locked) == {"jupyternetes"}
    assert {"kopf", "kubernetes-asyncio", "aiohttp"} <= normalize(installed)


def test_the_operator_stage_entry_point_runs_outside_the_checkout(built: Path, tmp_path: Path) -> None:
    venv_dir = built / "opt" / "jupyternetes"
    assert not (venv_dir / "bin" / "pip").exists(), "the build stage removes pip from the image's venv"
    proc = run([str(venv_dir / "bin" / "jupyternetes"), "operator", "--help"], cwd=tmp_path)
    assert "--template-namespace" in proc.stdout
    # Installed into the image's venv, not imported from the checkout.
    proc = run(
        [
            str(venv_dir / "bin" / "python"),
            "-c",
            "import jupyternetes, kopf, jupyternetes.handlers; print(jupyternetes.__file__)",
        ],
        cwd=tmp_path,
    )
    assert str(venv_dir) in proc.stdout, proc.stdout


def test_the_hub_stage_installs_the_spawner_without_kopf(built: Path, tmp_path: Path) -> None:
    hub = stage((ROOT / "Dockerfile").read_text(), "hub")
    (commands,) = instruction(hub, "RUN")
    assert "--require-hashes --no-deps -r /tmp/wheels/requirements-spawner.txt" in commands
    assert 'python3 -c "import jupyternetes.spawner"' in commands
    venv.create(tmp_path / "hub", with_pip=True)
    # The stage's python3 is the hub image's; here a fresh virtualenv's, first on PATH.
    bindir = tmp_path / "hub" / "bin"
    (bindir / "python3").unlink(missing_ok=True)
    (bindir / "python3").symlink_to(bindir / "python")
    commands = commands.replace("/tmp/wheels", str(built / "wheels")).replace("rm -rf", "true")
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(Path.home()), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run(["sh", "-c", commands], cwd=tmp_path, env=env)
    python = str(bindir / "python")
    kopf = subprocess.run([python, "-c", "import kopf"], capture_output=True, text=True, check=False)
    assert kopf.returncode != 0, "the hub image must not carry kopf"
