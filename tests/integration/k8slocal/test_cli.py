"""``k8s-local build`` and ``k8s-local up``: one command each, clear output, nothing left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import k8slocal
from k8slocal import gomod
from k8slocal.build import REPO_MODULES
from k8slocal.versions import Release
from tests.integration.kubesim.conformance_support import make_tool

from .test_controlplane import _alive


def test_build_finds_the_cached_binaries_and_prints_where(binaries: k8slocal.Binaries) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "k8slocal.cli", "build"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert proc.stdout.splitlines()[0] == str(binaries.directory)
    assert "Kubernetes v1.34.4 and etcd v3.6.5" in proc.stdout
    assert "compiling" not in proc.stdout + proc.stderr  # found, not built


def test_up_serves_until_sigterm_and_leaves_no_process(binaries: k8slocal.Binaries, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "out" / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "k8slocal.cli",
            "up",
            "--kubeconfig",
            str(kubeconfig),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("k8s-local: Ctrl-C"):
                break
        text = "\n".join(lines)
        assert re.search(r"ready in \d+\.\d s; API server https://127\.0\.0\.1:\d+", text), text
        pids = [int(pid) for pid in re.findall(r"pid (\d+)", text)]
        assert len(pids) == 5, text  # etcd, kube-apiserver, kube-controller-manager, kube-scheduler, node-1
        assert "nodes: node-1 (kubesim kubelet, fake runtime)" in text
        assert kubeconfig.exists()
        kubectl = make_tool("kubectl", str(kubeconfig), tmp_path)
        assert "serviceaccount/default" in kubectl("get", "serviceaccounts", "-n", "default", "-o", "name")
        assert kubectl("get", "nodes", "-o", "name").split() == ["node/node-1"]
        for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            assert (tmp_path / "state" / "logs" / f"{component}.log").stat().st_size > 0
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert rest.strip().splitlines()[-1] == "k8s-local: stopped"
    assert not [pid for pid in pids if _alive(pid)]


def test_up_with_a_bad_version_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "k8slocal.cli",
            "up",
            "--kubeconfig",
            str(tmp_path / "k"),
            "--version",
            "latest",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "k8s-local: error: not a Kubernetes release version: 'latest' (expected vMAJOR.MINOR.PATCH)"
    )


def test_committed_module_matches_upstream_go_mod(binaries: k8slocal.Binaries) -> None:
    """tools/k8s/kubernetes replaces exactly the staging modules k8s.io/kubernetes names, at its release."""
    release = Release.parse(binaries.version)
    go = os.environ.get("GO", "go")
    upstream = k8slocal.build.download_kubernetes(release, go=go)
    expected = gomod.kubernetes_gomod(release, (upstream / "go.mod").read_text())
    committed = (REPO_MODULES / "kubernetes" / "go.mod").read_text()
    assert gomod.replacements(committed) == gomod.replacements(expected)
    assert gomod.go_directive(committed) == gomod.go_directive(expected)
    etcd = gomod.etcd_version_of((upstream / "build" / "dependencies.yaml").read_text())
    assert gomod.requirement((REPO_MODULES / "etcd" / "go.mod").read_text(), gomod.ETCD_SERVER) == etcd
