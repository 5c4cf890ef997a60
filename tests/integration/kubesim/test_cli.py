"""``kubesim up``: serves until SIGINT/SIGTERM, writes the kubeconfig only once serving, prints the URL and
the kubeconfig path, and takes the fault-injection flags."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import yaml

from .conformance_support import make_tool


class Served:
    def __init__(self, proc: subprocess.Popen[str], kubeconfig: Path, lines: list[str]) -> None:
        self.proc = proc
        self.kubeconfig = kubeconfig
        self.lines = lines

    @property
    def url(self) -> str:
        config = yaml.safe_load(self.kubeconfig.read_text())
        server: str = config["clusters"][0]["cluster"]["server"]
        return server


def _read_lines(stream: IO[str], count: int, timeout: float = 20.0) -> list[str]:
    """The first ``count`` lines of ``stream``, read by a helper thread so a silent process fails the test."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        try:
            for line in stream:
                lines.put(line)
        except ValueError:
            pass  # the stream was closed under this thread (the Popen collected, or communicate())

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    out: list[str] = []
    while len(out) < count:
        try:
            out.append(lines.get(timeout=max(deadline - time.monotonic(), 0.01)))
        except queue.Empty:
            raise AssertionError(f"kubesim up printed only {out} in {timeout}s") from None
    return out


def _start(tmp_path: Path, *flags: str) -> Served:
    kubeconfig = tmp_path / "out" / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim.cli", "up", "--kubeconfig", str(kubeconfig), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return Served(proc, kubeconfig, _read_lines(proc.stdout, 2))


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    flags: tuple[str, ...] = getattr(request, "param", ())
    s = _start(tmp_path, *flags)
    try:
        yield s
    finally:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
            s.proc.communicate(timeout=20)


def test_up_prints_url_and_kubeconfig_and_serves(served: Served, tmp_path: Path) -> None:
    assert served.lines[0].startswith("kubesim serving at https://127.0.0.1:")
    assert served.lines[1].strip() == f"kubeconfig: {served.kubeconfig}"
    assert served.kubeconfig.exists()  # written before the URL was printed, once serving
    assert served.lines[0].split()[-1] == served.url
    kubectl = make_tool("kubectl", str(served.kubeconfig), tmp_path)
    assert "default" in kubectl("get", "namespaces", "-o", "name")


def test_sigint_and_sigterm_stop_cleanly(tmp_path: Path) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        served = _start(tmp_path / sig.name, "--port", "0")
        started = time.monotonic()
        served.proc.send_signal(sig)
        served.proc.wait(timeout=20)
        assert served.proc.returncode == 0
        assert served.proc.stderr is not None
        assert "Traceback" not in served.proc.stderr.read()
        assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "served",
    [("--fault-error", "503:list:configmaps:1.0:1", "--fault-latency", "0.3:get:namespaces")],
    indirect=True,
)
def test_fault_flags(served: Served, tmp_path: Path) -> None:
    kubectl = make_tool("kubectl", str(served.kubeconfig), tmp_path)
    kubectl.run("get", "configmaps", check=False)  # answered 503 once (kubectl may retry it)
    assert kubectl.run("get", "configmaps").returncode == 0  # count=1: only once
    faults = json.loads(kubectl("get", "--raw", "/kubesim/faults"))
    assert faults["errors"][0]["hits"] == 1
    assert faults["latency"] == [{"seconds": 0.3, "verb": ["get"], "resource": ["namespaces"]}]
    started = time.monotonic()
    kubectl("get", "namespace", "default")
    assert time.monotonic() - started >= 0.3
    requests = json.loads(kubectl("get", "--raw", "/kubesim/requests"))
    assert requests["byVerb"]["list"] >= 2


@pytest.mark.parametrize(
    "served", [("--watch-cut-events", "1", "--expire-watches", "configmaps")], indirect=True
)
def test_watch_fault_flags(served: Served, tmp_path: Path) -> None:
    kubectl = make_tool("kubectl", str(served.kubeconfig), tmp_path)
    faults = json.loads(kubectl("get", "--raw", "/kubesim/faults"))
    assert faults["watchCuts"] == [{"afterEvents": 1, "afterSeconds": None, "resource": "*"}]
    assert faults["expire"] == {"configmaps": 1}
    rv = json.loads(kubectl("get", "--raw", "/api/v1/namespaces/default/configmaps"))["metadata"][
        "resourceVersion"
    ]
    expired = kubectl("get", "--raw", f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}")
    assert json.loads(expired)["object"]["code"] == 410


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_process_runtime_leaves_no_process_behind(tmp_path: Path, sig: signal.Signals) -> None:

    served = _start(tmp_path, "--runtime", "process")
    try:
        _check_no_process_left(served, tmp_path, sig)
    finally:
        if served.proc.poll() is None:
            served.proc.kill()


def _check_no_process_left(served: Served, tmp_path: Path, sig: signal.Signals) -> None:
    import psutil

    from tests.conftest import wait_until

    kubectl = make_tool("kubectl", str(served.kubeconfig), tmp_path)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "containers": [
                {"name": "web", "image": "python:3", "command": [sys.executable, "-m", "http.server", "8888"]}
            ]
        },
    }
    kubectl.run("apply", "-f", "-", input=json.dumps(pod))
    wait_until(
        lambda: "Running" in kubectl("get", "pod", "web", "-o", "jsonpath={.status.phase}"),
        20,
        message="pod running",
    )

    def container_processes() -> list[psutil.Process]:
        # The process may still be kubesim's namespace helper for a moment before it execs the command.
        found = []
        for child in psutil.Process(served.proc.pid).children(recursive=True):
            try:
                if "http.server" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
        return found

    wait_until(container_processes, 20, message="the container running as a process")
    children = psutil.Process(served.proc.pid).children(recursive=True)
    served.proc.send_signal(sig)
    served.proc.wait(timeout=20)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"left behind: {[p.cmdline() for p in alive]}"


def test_token_command_issues_a_service_account_token(served: Served, tmp_path: Path) -> None:
    kubectl = make_tool("kubectl", str(served.kubeconfig), tmp_path)
    kubectl("create", "serviceaccount", "hub", "-n", "default")
    kubectl("create", "role", "reader", "-n", "default", "--verb=get,list", "--resource=configmaps")
    kubectl(
        "create",
        "rolebinding",
        "hub-reader",
        "-n",
        "default",
        "--role=reader",
        "--serviceaccount=default:hub",
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubesim.cli",
            "token",
            "hub",
            "-n",
            "default",
            "--kubeconfig",
            str(served.kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert token.count(".") == 2, "a JWT"
    as_hub = kubectl  # --token takes precedence over the kubeconfig's admin token
    assert as_hub.run("get", "configmaps", "-n", "default", f"--token={token}").returncode == 0
    denied = as_hub.run("get", "pods", "-n", "default", f"--token={token}", check=False)
    assert denied.returncode != 0
    assert 'User "system:serviceaccount:default:hub" cannot list resource "pods"' in denied.stderr
