"""`make demo` as a visitor runs it: `jupyternetes up` in a process of its own, its printed hints used as
printed from a fresh shell, a server spawned, and, when it runs as root, that server's process under
uid 1000 (what `ps` shows); Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests
from kubernetes import client, config

from jupyternetes.demo import HUB_NAMESPACE, free_port
from kubesim.kubelet.process import namespace_mounts_available
from tests.conftest import wait_until
from tests.e2e.conftest import describe_user

pytestmark = pytest.mark.local_stack


class Demo:
    """`jupyternetes up` and what it printed so far."""

    def __init__(self, backend: str, state_dir: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyternetes.cli",
                "up",
                "--state-dir",
                str(state_dir),
                "--hub-port",
                str(free_port()),
                "--cluster",
                backend,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def printed(self, pattern: str) -> re.Match[str] | None:
        for line in list(self.lines):
            found = re.search(pattern, line)
            if found:
                return found
        if self.proc.poll() is not None:
            raise AssertionError(
                f"jupyternetes up exited ({self.proc.returncode}):\n" + "\n".join(self.lines)
            )
        return None


def fresh_shell(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    """A login-less shell with nothing of this test's environment: no KUBECONFIG, no virtualenv on PATH."""
    return subprocess.run(
        ["bash", "-c", script],
        env={"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _describe_visitor(kubeconfig: str) -> str:
    admin = config.new_client_from_config(kubeconfig)
    return describe_user(client.CoreV1Api(admin), client.CustomObjectsApi(admin), HUB_NAMESPACE, "visitor")


def test_the_demo_as_printed(backend: str, tmp_path: Path) -> None:
    demo = Demo(backend, tmp_path / "state")
    try:
        wait_until(lambda: demo.printed("Press Ctrl-C"), 300, message="jupyternetes up ready")
        hub_url = demo.printed(r"JupyterHub:\s+(\S+)")
        export = demo.printed(r"kubectl:\s+(export .*)$")
        get = demo.printed(r"^\s+(kubectl get .*)$")
        assert hub_url, demo.lines
        assert export, demo.lines
        assert get, demo.lines
        info = json.loads((tmp_path / "state" / "demo.json").read_text())
        headers = {"Authorization": f"token {info['api_token']}"}
        api = hub_url.group(1).rstrip("/") + "/hub/api"
        assert requests.post(f"{api}/users/visitor", headers=headers, timeout=30).status_code == 201
        spawned = requests.post(f"{api}/users/visitor/server", headers=headers, json={}, timeout=60)
        assert spawned.status_code in (201, 202), spawned.text
        wait_until(
            lambda: (
                requests.get(f"{api}/users/visitor", headers=headers, timeout=10).json()["servers"].get("")
                or {}
            ).get("ready"),
            120,
            message=lambda: "the visitor's server ready\n" + _describe_visitor(info["kubeconfig"]),
        )

        # The printed commands, as printed, from a fresh shell.
        shown = fresh_shell(f"{export.group(1)}\n{get.group(1)}", tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert re.search(r"jupyter-visitor\s+default-template\s+visitor\s+small\s", shown.stdout), (
            shown.stdout
        )
        assert re.search(r"pod/jupyter-visitor-notebook\s+1/1\s+Running", shown.stdout), shown.stdout

        # The user's server runs as uid 1000, not as root, when the demo runs as root.
        servers = [
            p
            for p in psutil.process_iter(["cmdline", "uids"])
            if any("jupyterhub-singleuser" in a for a in p.info["cmdline"] or ())
            and _environ(p).get("JUPYTERHUB_USER") == "visitor"
            and _environ(p).get("JUPYTERHUB_API_TOKEN", "") != ""
        ]
        assert servers, "the visitor's jupyterhub-singleuser process"
        if os.geteuid() == 0 and namespace_mounts_available():
            assert {p.info["uids"].real for p in servers} == {1000}, [p.info for p in servers]
        else:
            assert {p.info["uids"].real for p in servers} == {os.geteuid()}
    finally:
        demo.proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            demo.proc.wait(120)
        except subprocess.TimeoutExpired:
            demo.proc.kill()
            raise
    assert demo.proc.returncode == 0, "\n".join(demo.lines)
    assert demo.printed(r"\[jupyternetes up\] stopped")
    for p in servers:
        deadline = time.monotonic() + 10
        while p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, f"{p.pid} outlived the demo"
            time.sleep(0.05)


def _environ(process: psutil.Process) -> dict[str, str]:
    try:
        return dict(process.environ())
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return {}
