"""The Dockerfile's Python steps, rehearsed without Docker.

No image can be built here (no container engine), so this runs the ``build`` stage's own RUN command, read
from the Dockerfile, with its absolute paths moved into a temporary directory: the project's wheel is built
from the files the stage copies, and installed with the operator extra into a fresh virtualenv. Then, as
the final stages do, the operator's entry point is run from outside the checkout, and the hub stage's
install (``jupyternetes[spawner]`` by the wheel's exact version) is repeated in another fresh virtualenv,
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
                shutil.copy2(ROOT / s, target / s if dest.endswith("/") else target)
    (commands,) = instruction(build, "RUN")
    commands = commands.replace("/wheels", str(tmp / "wheels")).replace("/opt/", str(tmp / "opt") + "/")
    # The stage's `python` is the image's; here the interpreter the tests run on, first on PATH.
    bindir = tmp / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(Path.home()), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run(["sh", "-c", commands], cwd=src, env=env)
    return tmp


def test_the_build_stage_makes_one_wheel_and_exact_requirements(built: Path) -> None:
    wheels = sorted(p.name for p in (built / "wheels").glob("*.whl"))
    assert len(wheels) == 1, wheels
    version = wheels[0].split("-")[1]
    for extra in ("operator", "spawner"):
        text = (built / "wheels" / f"requirements-{extra}.txt").read_text()
        assert text == f"jupyternetes[{extra}]=={version}\n"


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
    assert "-r /tmp/wheels/requirements-spawner.txt" in hub
    assert 'python3 -c "import jupyternetes.spawner"' in hub
    venv.create(tmp_path / "hub", with_pip=True)
    python = str(tmp_path / "hub" / "bin" / "python")
    wheels = built / "wheels"
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--find-links",
            str(wheels),
            "-r",
            str(wheels / "requirements-spawner.txt"),
        ],
        cwd=tmp_path,
    )
    run([python, "-c", "import jupyternetes.spawner"], cwd=tmp_path)
    kopf = subprocess.run([python, "-c", "import kopf"], capture_output=True, text=True, check=False)
    assert kopf.returncode != 0, "the hub image must not carry kopf"
