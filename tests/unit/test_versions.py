"""The versions the project is tested on, held together: the lock (requirements/) against pyproject.toml's
ranges, the JupyterHub axis against Zero to JupyterHub's hub image, the Kubernetes axis in k8s-local, tox,
GitHub Actions and the kubectl layers (docs/versions.md)."""

from __future__ import annotations

import configparser
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from k8slocal.versions import DEFAULT_VERSION, MATRIX, Release

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
JUPYTERHUB5 = "5.4.4"  # Zero to JupyterHub 4.3.3's hub image (docs/versions.md)

sys.path.insert(0, str(ROOT / "tools"))
import fetch_k8s_binaries  # noqa: E402


def pins(name: str) -> dict[str, Version]:
    """A lock file's ``package==version`` lines (markers ignored)."""
    text = (REQUIREMENTS / name).read_text()
    found = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", text, re.MULTILINE)
    return {canonicalize_name(n): Version(v) for n, v in found}


def requirements_of(extra: str) -> list[Requirement]:
    """An extra's requirements, the project's own extras expanded."""
    found = []
    for text in PYPROJECT["project"]["optional-dependencies"][extra]:
        req = Requirement(text)
        if canonicalize_name(req.name) == "jupyternetes":
            for inner in sorted(req.extras):
                found += requirements_of(inner)
        else:
            found.append(req)
    return found + [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]


@pytest.mark.parametrize(
    ("lock", "extra"),
    [
        ("dev.txt", "dev"),
        ("dev-jupyterhub5.txt", "dev"),
        ("operator.txt", "operator"),
        ("spawner-jupyterhub5.txt", "spawner"),
    ],
)
def test_each_lock_pins_every_direct_dependency_within_pyprojects_range(lock: str, extra: str) -> None:
    pinned = pins(lock)
    for req in requirements_of(extra):
        name = canonicalize_name(req.name)
        assert name in pinned, f"{lock} pins no {req.name}: run `make lock LOCK_ARGS=`"
        assert pinned[name] in req.specifier, f"{lock}: {req.name}=={pinned[name]} is outside {req}"


def test_every_lock_is_hashed() -> None:
    for lock in REQUIREMENTS.glob("*.txt"):
        if lock.name == "overrides.txt":
            continue
        text = lock.read_text()
        hashed = re.findall(r"^[A-Za-z0-9_.-]+==.*(?:\n\s+--hash=sha256:[0-9a-f]{64}.*)+", text, re.MULTILINE)
        pinned = re.findall(r"^[A-Za-z0-9_.-]+==", text, re.MULTILINE)
        assert len(hashed) == len(pinned) > 0, lock.name


def test_the_jupyterhub_axis() -> None:
    assert pins("dev.txt")["jupyterhub"].major == 6
    for lock in ("dev-jupyterhub5.txt", "spawner-jupyterhub5.txt"):
        assert pins(lock)["jupyterhub"] == Version(JUPYTERHUB5), lock
    assert f"jupyterhub=={JUPYTERHUB5}" in (REQUIREMENTS / "jupyterhub5.in").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG HUB_IMAGE=quay.io/jupyterhub/k8s-hub:4.3.3\n" in dockerfile
    assert "requirements/spawner-jupyterhub5.txt" in dockerfile


def test_the_images_run_what_the_tests_ran() -> None:
    """The operator's lock is held to the dev lock, the hub's to the dev lock of JupyterHub 5."""
    for image, dev in (("operator.txt", "dev.txt"), ("spawner-jupyterhub5.txt", "dev-jupyterhub5.txt")):
        tested = pins(dev)
        differ = {n: (v, tested[n]) for n, v in pins(image).items() if n in tested and tested[n] != v}
        assert differ == {}, f"{image} differs from {dev}: {differ}"


def test_the_lock_pins_uv_and_the_build_backend() -> None:
    assert "uv" in pins("dev.txt")
    assert "setuptools" in pins("build.txt")
    makefile = (ROOT / "Makefile").read_text()
    assert "tools/bootstrap_uv.py --lock $(LOCK)" in makefile
    assert "uv pip sync --quiet --python $(1)/bin/python --require-hashes $(2)" in makefile


def test_the_kubernetes_axis_is_the_same_everywhere() -> None:
    assert MATRIX[0] == DEFAULT_VERSION
    minors = [Release.parse(v).minor for v in MATRIX]
    assert minors == sorted(minors) == list(range(minors[0], minors[0] + 4)), MATRIX
    # GitHub Actions' upstream job.
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    include = ci["jobs"]["upstream"]["strategy"]["matrix"]["include"]
    assert [(i["kubernetes"], i["version"]) for i in include] == [
        (f"1.{Release.parse(v).minor}", v) for v in MATRIX
    ]
    # tox's upstream-1.3N environments.
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    setenv = tox["testenv:upstream-1.{34,35,36,37}"]["setenv"]
    found = re.findall(r"^\s*1\.(\d+): JUPYTERNETES_K8S_VERSION = (v\S+)$", setenv, re.MULTILINE)
    assert [(int(m), v) for m, v in found] == [(Release.parse(v).minor, v) for v in MATRIX]
    # A kubectl of each minor.
    assert set(minors) <= set(fetch_k8s_binaries.LAYERS)
    assert Release.parse(DEFAULT_VERSION).minor == fetch_k8s_binaries.DEFAULT_MINOR


@pytest.mark.parametrize(("text", "minor"), [("v1.36.5", 36), ("1.35", 35), ("v1.34.4", 34)])
def test_fetch_picks_the_layer_of_the_minor(text: str, minor: int) -> None:
    assert fetch_k8s_binaries.minor_of(text) == minor


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v2.1.0", "expected a Kubernetes version"),
        ("v1.20.0", "no kubectl layer is pinned for Kubernetes 1.20"),
    ],
)
def test_fetch_refuses_what_it_cannot_fetch(text: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        fetch_k8s_binaries.minor_of(text)
