"""kubesim's kubelet with the ``process`` runtime (containers are real local processes), on kubesim and on
upstream (one node each: kubelet_support)."""

from __future__ import annotations

import http.server
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubesim
from kubesim.kubelet.config import JUPYTER_IMAGE
from kubesim.kubelet.process import namespace_mounts_available

from .conformance_support import binary
from .kubelet_support import (
    NodeCluster,
    Obj,
    condition,
    core_api,
    is_ready,
    node_cluster,
    phase,
    wait_for,
    waiting_reason,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the process runtime needs Linux"
)

PY = "python3"
OPTIONS = {"backoff_base": 0.3, "backoff_max": 2.0, "stop_grace": 1.0}
MOUNT_MODES = ["remap", *(["namespace"] if namespace_mounts_available() else [])]


@pytest.fixture(scope="module")
def node(
    request: pytest.FixtureRequest, node_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeCluster]:
    state = tmp_path_factory.mktemp("process")
    with node_cluster(request.config, node_backend, "process", OPTIONS, state) as c:
        yield c


@pytest.fixture(scope="module")
def core(node: NodeCluster) -> Iterator[Any]:
    with core_api(node) as api:
        yield api


@pytest.fixture
def ns(node: NodeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = node.new_namespace(request)
    yield name
    node.delete_namespace(name)  # stops the test's processes in the background


def pod(name: str, command: list[str], **spec: Any) -> Obj:
    container: Obj = {"name": "main", "image": "python:3.11-slim", "command": command}
    for key in (
        "env",
        "envFrom",
        "volumeMounts",
        "readinessProbe",
        "livenessProbe",
        "startupProbe",
        "workingDir",
        "args",
        "ports",
    ):
        if key in spec:
            container[key] = spec.pop(key)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 5, **spec},
    }


def cstatus(p: Obj | None) -> Obj:
    statuses = ((p or {}).get("status") or {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


def http_get(url: str, deadline: float = 5.0) -> tuple[int, bytes]:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return resp.status, resp.read()
        except (urllib.error.URLError, OSError):
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def pids_with(marker: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        out.append(int(entry))
            except OSError:
                pass
    return out


def script(code: str) -> list[str]:
    return [PY, "-u", "-c", textwrap.dedent(code)]


# ---------------------------------------------------------------------------------------------------------


def test_two_pods_serve_the_same_port(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("a", [PY, "-u", "-m", "http.server", "8888", "--bind", "0.0.0.0"]))
    core.create_namespaced_pod(ns, pod("b", [PY, "-m", "http.server", "8888"]))
    a = wait_for(lambda: (x := node.pod(ns, "a")) and is_ready(x) and x, what="pod a Ready")
    b = wait_for(lambda: (x := node.pod(ns, "b")) and is_ready(x) and x, what="pod b Ready")
    ip_a, ip_b = a["status"]["podIP"], b["status"]["podIP"]
    assert ip_a != ip_b
    assert ip_a.startswith("127.")
    assert ip_a != "127.0.0.1"
    assert http_get(f"http://{ip_a}:8888/")[0] == 200
    assert http_get(f"http://{ip_b}:8888/")[0] == 200
    wait_for(
        lambda: "GET / HTTP/1.1" in node.kubectl("logs", "a", "-n", ns).stdout, what="request in a's log"
    )
    assert f"Serving HTTP on {ip_a} port 8888" in node.kubectl("logs", "a", "-n", ns).stdout


@pytest.mark.parametrize("mode", MOUNT_MODES)
def test_pvc_data_outlives_the_pod(
    mode: str, request: pytest.FixtureRequest, node_backend: str, tmp_path: Path
) -> None:
    mount = f"/kubesim-test-{uuid.uuid4().hex[:8]}/work"
    options = {**OPTIONS, "mounts": mode}
    with (
        node_cluster(request.config, node_backend, "process", options, tmp_path) as own,
        core_api(own) as core,
    ):
        pvc = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
        volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
        mounts = [{"name": "data", "mountPath": mount}]
        writer = pod(
            "writer",
            script(f"""
            import os
            open("{mount}/greeting.txt", "w").write("hello from the first pod")
            open("relative.txt", "w").write("written in the working directory")
            print("cwd", os.getcwd())
            """),
            volumes=volumes,
            volumeMounts=mounts,
            workingDir=mount,
            restartPolicy="Never",
        )
        core.create_namespaced_persistent_volume_claim("default", pvc)
        core.create_namespaced_pod("default", writer)
        wait_for(lambda: phase(own.pod("default", "writer")) in ("Succeeded", "Failed"), timeout=60)
        out = own.kubectl("logs", "writer").stdout
        assert phase(own.pod("default", "writer")) == "Succeeded", out
        # The mode, seen from the process: mounted at the mountPath itself in a mount namespace; remapped
        # to a directory of the pod's elsewhere.
        assert (out == f"cwd {mount}\n") == (mode == "namespace"), out
        own.kubectl("delete", "pod", "writer")
        reader = pod(
            "reader",
            script(f"""
            print(open("{mount}/greeting.txt").read())
            print(open("relative.txt").read())
            """),
            volumes=volumes,
            volumeMounts=mounts,
            workingDir=mount,
            restartPolicy="Never",
        )
        core.create_namespaced_pod("default", reader)
        wait_for(lambda: phase(own.pod("default", "reader")) in ("Succeeded", "Failed"), timeout=60)
        out = own.kubectl("logs", "reader").stdout
        assert "hello from the first pod" in out
        assert "written in the working directory" in out
    assert not os.path.exists(os.path.dirname(mount)), "the mount point must not be created on the host"


def test_logs_follow_and_tail(node: NodeCluster, core: Any, ns: str, tmp_path: Path) -> None:
    core.create_namespaced_pod(
        ns,
        pod(
            "talker",
            script("""
        import os, time
        for i in range(1, 4):
            print(f"line {i}")
        while not os.path.exists("/var/lib/kubesim-test/trigger/go"):
            time.sleep(0.02)
        print("line 4")
        print("to stderr", file=__import__("sys").stderr)
        """),
            volumes=[{"name": "t", "hostPath": {"path": str(tmp_path)}}],
            volumeMounts=[{"name": "t", "mountPath": "/var/lib/kubesim-test/trigger"}],
            restartPolicy="Never",
        ),
    )
    wait_for(lambda: phase(node.pod(ns, "talker")) == "Running")
    follower = subprocess.Popen(
        [binary("kubectl"), "--kubeconfig", node.kubeconfig, "logs", "-f", "talker", "-n", ns],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(follower.stdout or ()), daemon=True)
        reader.start()
        wait_for(lambda: len(lines) >= 3, what="the first lines while the container still runs")
        assert lines == ["line 1\n", "line 2\n", "line 3\n"]
        assert follower.poll() is None  # still following
        (tmp_path / "go").touch()
        assert follower.wait(timeout=10) == 0  # ends when the container ends
        reader.join(timeout=5)
        assert lines == ["line 1\n", "line 2\n", "line 3\n", "line 4\n", "to stderr\n"]
    finally:
        follower.kill()
    wait_for(lambda: phase(node.pod(ns, "talker")) == "Succeeded")
    assert node.kubectl("logs", "talker", "-n", ns, "--tail=2").stdout == "line 4\nto stderr\n"
    stamped = node.kubectl("logs", "talker", "-n", ns, "--timestamps", "--tail=1").stdout
    assert stamped.endswith(" to stderr\n")
    assert stamped[:4].isdigit()
    assert "T" in stamped.split()[0]
    assert core.read_namespaced_pod_log("talker", ns, tail_lines=1) == "to stderr\n"


def test_readiness_probe_gates_ready(node: NodeCluster, core: Any, ns: str, tmp_path: Path) -> None:
    core.create_namespaced_pod(
        ns,
        pod(
            "slow",
            script("""
            import os, runpy, sys, time
            while not os.path.exists("/var/lib/kubesim-test/trigger/go"):
                time.sleep(0.02)
            sys.argv = ["http.server", "8080"]
            runpy.run_module("http.server", run_name="__main__")
            """),
            volumes=[{"name": "t", "hostPath": {"path": str(tmp_path)}}],
            volumeMounts=[{"name": "t", "mountPath": "/var/lib/kubesim-test/trigger"}],
            ports=[{"name": "http", "containerPort": 8080}],
            readinessProbe={"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
        ),
    )
    wait_for(lambda: phase(node.pod(ns, "slow")) == "Running")
    wait_for(lambda: any(e["reason"] == "Unhealthy" for e in node.events(ns, "slow")), what="a failed probe")
    p = node.pod(ns, "slow")
    assert not is_ready(p)
    assert cstatus(p)["ready"] is False
    unhealthy = next(e for e in node.events(ns, "slow") if e["reason"] == "Unhealthy")
    assert unhealthy["message"].startswith('Readiness probe failed: Get "http://')
    assert "connection refused" in unhealthy["message"]
    ready_cond = condition(p, "Ready")
    assert ready_cond is not None
    assert ready_cond["reason"] == "ContainersNotReady"
    (tmp_path / "go").touch()
    p = wait_for(lambda: (x := node.pod(ns, "slow")) and is_ready(x) and x, what="Ready after the probe")
    assert http_get(f"http://{p['status']['podIP']}:8080/")[0] == 200


def test_crash_loop_back_off_and_previous_logs(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("crash", script("print('boom'); raise SystemExit(2)")))
    wait_for(lambda: waiting_reason(node.pod(ns, "crash")) == "CrashLoopBackOff", what="CrashLoopBackOff")
    wait_for(lambda: cstatus(node.pod(ns, "crash")).get("restartCount", 0) >= 2)
    cs = cstatus(node.pod(ns, "crash"))
    assert cs["lastState"]["terminated"]["exitCode"] == 2
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    wait_for(lambda: any(e["reason"] == "BackOff" for e in node.events(ns, "crash")))
    assert node.kubectl("logs", "crash", "-n", ns, "--previous").stdout == "boom\n"
    # kubectl's STATUS column: the waiting reason while it backs off (Error once it exits, Running while
    # it runs: both brief).
    wait_for(lambda: "CrashLoopBackOff" in node.kubectl("get", "pod", "crash", "-n", ns).stdout)


def test_restart_policies_end_in_terminal_phases(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("fails", script("raise SystemExit(3)"), restartPolicy="Never"))
    core.create_namespaced_pod(ns, pod("works", script("print('ok')"), restartPolicy="OnFailure"))
    wait_for(lambda: phase(node.pod(ns, "fails")) == "Failed")
    term = cstatus(node.pod(ns, "fails"))["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")
    wait_for(lambda: phase(node.pod(ns, "works")) == "Succeeded")
    term = cstatus(node.pod(ns, "works"))["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert cstatus(node.pod(ns, "works"))["restartCount"] == 0


def test_missing_executable_is_a_start_error(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, pod("nocmd", ["no-such-program-kubesim"], restartPolicy="Never"))
    wait_for(lambda: phase(node.pod(ns, "nocmd")) == "Failed")
    term = cstatus(node.pod(ns, "nocmd"))["state"]["terminated"]
    assert term["reason"] == "StartError"
    assert term["exitCode"] == 128
    assert 'exec: "no-such-program-kubesim": executable file not found in $PATH' in term["message"]


def test_image_without_a_command_is_a_create_container_error(node: NodeCluster, core: Any, ns: str) -> None:
    """The process runtime has no images: an image it knows no command for, in a container that sets none,
    cannot be created (CreateContainerError, retried with back-off, the pod stays Pending)."""
    body = pod("nocommand", [])
    del body["spec"]["containers"][0]["command"]
    body["spec"]["containers"][0]["image"] = "busybox:1.36"
    core.create_namespaced_pod(ns, body)
    wait_for(lambda: waiting_reason(node.pod(ns, "nocommand")) == "CreateContainerError")
    p = node.pod(ns, "nocommand")
    waiting = cstatus(p)["state"]["waiting"]
    assert waiting["message"].startswith('failed to generate container "')
    assert 'spec: no command specified (kubesim process runtime: image "busybox:1.36"' in waiting["message"]
    assert phase(p) == "Pending"
    assert cstatus(p)["restartCount"] == 0
    failed = wait_for(lambda: [e for e in node.events(ns, "nocommand") if e["reason"] == "Failed"])
    assert failed[0]["type"] == "Warning"
    assert failed[0]["message"] == f"Error: {waiting['message']}"
    assert failed[0]["involvedObject"]["fieldPath"] == "spec.containers{main}"


def test_image_pull_failure(node: NodeCluster, core: Any, ns: str) -> None:
    body = pod("nopull", [PY, "-c", "pass"])
    body["spec"]["containers"][0]["image"] = "quay.io/nobody/invalid-image:1"
    core.create_namespaced_pod(ns, body)
    wait_for(lambda: waiting_reason(node.pod(ns, "nopull")) in ("ErrImagePull", "ImagePullBackOff"))
    wait_for(lambda: waiting_reason(node.pod(ns, "nopull")) == "ImagePullBackOff")
    assert phase(node.pod(ns, "nopull")) == "Pending"
    wait_for(
        lambda: any(
            e["reason"] == "Failed"
            and e["message"].startswith('Failed to pull image "quay.io/nobody/invalid')
            for e in node.events(ns, "nopull")
        )
    )


def test_graceful_deletion_sends_sigterm_then_sigkill(
    node: NodeCluster, core: Any, ns: str, tmp_path: Path
) -> None:
    marker = f"kubesim-{uuid.uuid4().hex}"
    core.create_namespaced_pod(
        ns,
        pod(
            "polite",
            script(f"""
        import signal, sys, time
        def bye(*_):
            open("/var/lib/kubesim-test/out/terminated", "w").write("SIGTERM")
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print("ready", flush=True)
        time.sleep(600)  # {marker}-polite
        """),
            volumes=[{"name": "o", "hostPath": {"path": str(tmp_path)}}],
            volumeMounts=[{"name": "o", "mountPath": "/var/lib/kubesim-test/out"}],
            terminationGracePeriodSeconds=30,
        ),
    )
    core.create_namespaced_pod(
        ns,
        pod(
            "stubborn",
            script(f"""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(600)  # {marker}-stubborn
        """),
            terminationGracePeriodSeconds=1,
        ),
    )
    for name in ("polite", "stubborn"):
        wait_for(lambda name=name: node.kubectl("logs", name, "-n", ns, check=False).stdout == "ready\n")
    polite, stubborn = pids_with(f"{marker}-polite"), pids_with(f"{marker}-stubborn")
    assert polite
    assert stubborn
    started = time.monotonic()
    node.kubectl("delete", "pod", "polite", "-n", ns)  # returns once the object is gone
    assert node.pod(ns, "polite") is None
    assert (tmp_path / "terminated").read_text() == "SIGTERM"
    assert not any(pid_alive(p) for p in polite)
    assert time.monotonic() - started < 10  # the process exited on SIGTERM, no 30 s wait
    node.kubectl("delete", "pod", "stubborn", "-n", ns)
    assert not any(pid_alive(p) for p in stubborn)
    killing = wait_for(lambda: [e for e in node.events(ns, "stubborn") if e["reason"] == "Killing"])
    assert killing[0]["message"] == "Stopping container main"


def test_environment(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_secret(ns, {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret"}})
    core.create_namespaced_config_map(
        ns,
        {
            "metadata": {"name": "settings"},
            "data": {"MODE": "fast", "LEVEL": "3", "dashed-name": "x", "config.json": '{"a": 1}'},
        },
    )
    body = pod(
        "env",
        script("""
        import json, os, sys
        print(json.dumps(dict(os.environ)))
        print(open("/etc/app/config.json").read())
        print(os.getcwd())
        print(json.dumps(sys.argv[1:]))
        """),
        env=[
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {"name": "MODE_COPY", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
            {
                "name": "OPTIONAL",
                "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "x", "optional": True}},
            },
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "GREETING", "value": "hello $(POD_NAME) in $(POD_NAMESPACE), $$(POD_NAME) $(UNDEFINED)"},
            {"name": "JUPYTERHUB_SERVICE_URL", "value": "http://0.0.0.0:8888/user/alice/"},
            {"name": "ALLOWED_NETS", "value": "0.0.0.0/0"},
        ],
        envFrom=[{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}, {"secretRef": {"name": "creds"}}],
        args=["ignored-by-python", "$(POD_NAME)"],
        volumes=[
            {
                "name": "cfg",
                "configMap": {"name": "settings", "items": [{"key": "config.json", "path": "config.json"}]},
            }
        ],
        volumeMounts=[{"name": "cfg", "mountPath": "/etc/app", "readOnly": True}],
        workingDir="/opt/kubesim-workdir-test",
        restartPolicy="Never",
    )
    core.create_namespaced_pod(ns, body)
    wait_for(lambda: phase(node.pod(ns, "env")) in ("Succeeded", "Failed"))
    p = node.pod(ns, "env")
    assert p is not None
    out = node.kubectl("logs", "env", "-n", ns).stdout.splitlines()
    assert phase(p) == "Succeeded", out
    env = json.loads(out[0])
    ip = p["status"]["podIP"]
    assert env["TOKEN"] == "s3cret"
    assert env["MODE_COPY"] == "fast"
    assert "OPTIONAL" not in env
    assert (env["POD_NAME"], env["POD_NAMESPACE"], env["POD_UID"]) == ("env", ns, p["metadata"]["uid"])
    assert env["POD_IP"] == ip
    assert env["NODE"] == node.node_name
    assert env["SA"] == "default"
    assert env["GREETING"] == f"hello env in {ns}, $(POD_NAME) $(UNDEFINED)"
    assert env["CFG_MODE"] == "fast"
    assert env["token"] == "s3cret"  # envFrom a Secret, no prefix
    assert env["CFG_LEVEL"] == "3"
    assert env["CFG_dashed-name"] == "x"  # relaxed environment variable names (default since 1.32)
    assert env["HOSTNAME"] == "env"
    assert env["JUPYTERHUB_SERVICE_URL"] == f"http://{ip}:8888/user/alice/"  # wildcard bind -> pod address
    assert env["ALLOWED_NETS"] == "0.0.0.0/0"
    assert out[1] == '{"a": 1}'
    assert out[2].endswith("/opt/kubesim-workdir-test")
    assert json.loads(out[3]) == ["ignored-by-python", "env"]  # $(POD_NAME) expanded in args
    assert not os.path.exists("/opt/kubesim-workdir-test")


def test_liveness_probe_restarts_the_container(node: NodeCluster, core: Any, ns: str) -> None:
    core.create_namespaced_pod(
        ns,
        pod(
            "sick",
            script("""
            import os, time
            open("/var/lib/kubesim-test/cache/healthy", "w").close()
            time.sleep(0.5)
            os.remove("/var/lib/kubesim-test/cache/healthy")
            time.sleep(600)
            """),
            volumes=[{"name": "cache", "emptyDir": {}}],
            volumeMounts=[{"name": "cache", "mountPath": "/var/lib/kubesim-test/cache"}],
            livenessProbe={
                "exec": {
                    "command": [
                        PY,
                        "-c",
                        "import os,sys; sys.exit(not os.path.exists('/var/lib/kubesim-test/cache/healthy'))",
                    ]
                },
                "periodSeconds": 1,
                "failureThreshold": 1,
                "initialDelaySeconds": 1,
            },
        ),
    )
    wait_for(lambda: cstatus(node.pod(ns, "sick")).get("restartCount", 0) >= 1, what="a restart")
    # Events are posted in the background: they may come after the status.
    reasons = wait_for(
        lambda: {"Unhealthy", "Killing"} <= set(x := {e["reason"]: e for e in node.events(ns, "sick")}) and x
    )
    assert reasons["Unhealthy"]["message"].startswith("Liveness probe failed")
    assert reasons["Killing"]["message"] == "Container main failed liveness probe, will be restarted"


def test_no_process_outlives_the_cluster(
    request: pytest.FixtureRequest, node_backend: str, tmp_path: Path
) -> None:
    marker = f"kubesim-{uuid.uuid4().hex}"
    with node_cluster(request.config, node_backend, "process", OPTIONS, tmp_path) as own:
        own.kubectl(
            "run",
            "sleeper",
            "--image=python:3.11",
            "--command",
            "--",
            PY,
            "-c",
            f"import time; time.sleep(600)  # {marker}",
        )
        pids = wait_for(lambda: pids_with(marker), what="the container's process")
    assert not any(pid_alive(p) for p in pids)


def test_no_process_outlives_a_killed_kubesim(tmp_path: Path) -> None:
    """Even when the Python process running kubesim is SIGKILLed (no cleanup code runs). kubesim only: its
    node runs in the API server's process; the agent's counterpart (a SIGKILLed ``kubesim kubelet`` takes
    its containers with it) is tests/integration/k8slocal/test_nodes.py's."""
    marker = f"kubesim-{uuid.uuid4().hex}"
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(f"""
        import subprocess, sys, time
        import kubesim
        with kubesim.Cluster(runtime="process") as sim:
            command = ["python3", "-c", "import time; time.sleep(600)  # {marker}"]
            kubectl = [{binary("kubectl")!r}, "--kubeconfig", sim.kubeconfig]
            subprocess.run([*kubectl, "run", "sleeper", "--image=python:3.11", "--command", "--", *command],
                           check=True, capture_output=True)
            while True:
                p = sim.get("pods", "sleeper", "default")
                if p and p.get("status", {{}}).get("phase") == "Running":
                    break
                time.sleep(0.02)
            print("running", flush=True)
            time.sleep(600)
        """)
    )
    proc = subprocess.Popen(
        [sys.executable, str(driver)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(kubesim.__file__).parent.parent)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "running\n"
        pids = wait_for(lambda: pids_with(marker), what="the container's process")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_for(
            lambda: not any(pid_alive(p) for p in pids), what="the container's process to die with kubesim"
        )
    finally:
        proc.kill()


class _FakeHub(http.server.BaseHTTPRequestHandler):
    """Just enough of the Hub API for a single-user server: the version check and token lookups."""

    def do_GET(self) -> None:
        if self.path.startswith("/hub/api/user"):
            scopes = ["access:servers!user=alice", "access:servers!server=alice/"]
            body = json.dumps(
                {
                    "kind": "user",
                    "name": "alice",
                    "admin": False,
                    "groups": [],
                    "scopes": scopes,
                    "session_id": None,
                }
            ).encode()
        else:
            body = b'{"version": "5.2.1"}'
        self.send_response(200)
        self.send_header("X-JupyterHub-Version", "5.2.1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


def test_jupyter_single_user_server_from_the_announcement_template(
    request: pytest.FixtureRequest, node_backend: str, tmp_path: Path
) -> None:
    """The announcement's template (image without a command, JUPYTERHUB_SERVICE_URL on 0.0.0.0, a PVC at
    /home/<user>/work) runs a real jupyterhub-singleuser; a file saved through it survives the pod.
    (Default mount mode only: both modes' volume handling is covered by test_pvc_data_outlives_the_pod.)"""
    pytest.importorskip("jupyterhub")
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if shutil.which("jupyterhub-singleuser", path=search) is None:
        pytest.skip("jupyterhub-singleuser is not installed")
    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeHub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    template = yaml.safe_load((Path(__file__).parents[3] / "fixtures" / "default-template.yaml").read_text())
    values = {
        "{jupyterhub.user.name}": "alice",
        "{jupyterhub.user.id}": "1",
        "{jupyterhub.api_token}": "secret-token",
        "{jupyterhub.oauth_client_id}": "jupyterhub-user-alice",
        "{jupyternetes.pvcs.workspace}": "workspace-alice",
        "http://hub.{jupyterhub.namespace}.svc.cluster.local:8081": f"http://127.0.0.1:{hub.server_address[1]}",
    }
    text = json.dumps(template["spec"]["pods"][0]["spec"])
    for key, value in values.items():
        text = text.replace(key, value)
    pod_body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "notebook"}, "spec": json.loads(text)}
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "workspace-alice"},
        "spec": template["spec"]["pvcs"][0]["spec"],
    }
    jupyter = {**JUPYTER_IMAGE, "workingDir": "/home/$(JUPYTERHUB_USER)"}  # the server's root holds work/
    options = {**OPTIONS, "image_commands": [jupyter]}
    headers = {"Authorization": "token secret-token", "Content-Type": "application/json"}
    try:
        with (
            node_cluster(request.config, node_backend, "process", options, tmp_path) as own,
            core_api(own) as core,
        ):

            def serving() -> str:
                ip = str((own.pod("default", "notebook") or {}).get("status", {}).get("podIP", ""))
                if ip:
                    try:
                        with urllib.request.urlopen(f"http://{ip}:8888/user/alice/api", timeout=1):
                            return ip
                    except OSError:
                        pass
                return ""

            core.create_namespaced_persistent_volume_claim("default", pvc)
            core.create_namespaced_pod("default", pod_body)
            ip = wait_for(serving, timeout=60, what="the single-user server to answer on its pod IP")
            url = f"http://{ip}:8888/user/alice/api/contents/work/hello.txt"
            content = json.dumps({"type": "file", "format": "text", "content": "kept"}).encode()
            put = urllib.request.Request(url, data=content, headers=headers, method="PUT")
            with urllib.request.urlopen(put, timeout=10) as resp:
                assert resp.status == 201
            own.kubectl("delete", "pod", "notebook")
            core.create_namespaced_pod("default", pod_body)
            ip = wait_for(serving, timeout=60, what="the second single-user server")
            url = f"http://{ip}:8888/user/alice/api/contents/work/hello.txt"
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
                assert json.loads(resp.read())["content"] == "kept"
    finally:
        hub.shutdown()


def test_clusters_on_one_host_get_distinct_pod_addresses(
    node: NodeCluster, request: pytest.FixtureRequest, node_backend: str, tmp_path: Path
) -> None:
    """Each node takes a loopback range of its own (the Node's podCIDR), held host-wide while it runs."""

    def pod_cidr(cluster: NodeCluster) -> ipaddress.IPv4Network:
        found = cluster.request("GET", f"/api/v1/nodes/{cluster.node_name}")[1]
        return ipaddress.IPv4Network(found["spec"]["podCIDR"])

    with node_cluster(request.config, node_backend, "process", OPTIONS, tmp_path) as other:
        mine, theirs = pod_cidr(node), pod_cidr(other)
        assert mine.subnet_of(ipaddress.IPv4Network("127.0.0.0/8"))
        assert theirs.subnet_of(ipaddress.IPv4Network("127.0.0.0/8"))
        assert not mine.overlaps(theirs)


def test_init_container_runs_first(node: NodeCluster, core: Any, ns: str) -> None:
    shared = [{"name": "shared", "mountPath": "/var/lib/kubesim-test/shared"}]
    body = pod(
        "ordered",
        script("print(open('/var/lib/kubesim-test/shared/from-init').read())"),
        volumeMounts=shared,
        restartPolicy="Never",
        volumes=[{"name": "shared", "emptyDir": {}}],
    )
    body["spec"]["initContainers"] = [
        {
            "name": "setup",
            "image": "python:3.11-slim",
            "volumeMounts": shared,
            "command": script("open('/var/lib/kubesim-test/shared/from-init', 'w').write('prepared')"),
        }
    ]
    core.create_namespaced_pod(ns, body)
    wait_for(lambda: phase(node.pod(ns, "ordered")) in ("Succeeded", "Failed"))
    assert phase(node.pod(ns, "ordered")) == "Succeeded"
    assert node.kubectl("logs", "ordered", "-n", ns).stdout == "prepared\n"


def test_startup_probe_holds_started_and_ready(node: NodeCluster, core: Any, ns: str, tmp_path: Path) -> None:
    core.create_namespaced_pod(
        ns,
        pod(
            "late",
            script("""
            import os, socket, time
            while not os.path.exists("/var/lib/kubesim-test/trigger/go"):
                time.sleep(0.02)
            server = socket.create_server(("0.0.0.0", 7000))
            while True:
                server.accept()[0].close()
            """),
            volumes=[{"name": "t", "hostPath": {"path": str(tmp_path)}}],
            volumeMounts=[{"name": "t", "mountPath": "/var/lib/kubesim-test/trigger"}],
            startupProbe={"tcpSocket": {"port": 7000}, "periodSeconds": 1, "failureThreshold": 30},
        ),
    )
    wait_for(lambda: phase(node.pod(ns, "late")) == "Running")
    wait_for(lambda: any(e["reason"] == "Unhealthy" for e in node.events(ns, "late")))
    cs = cstatus(node.pod(ns, "late"))
    assert (cs["started"], cs["ready"]) == (False, False)
    unhealthy = next(e for e in node.events(ns, "late") if e["reason"] == "Unhealthy")
    assert unhealthy["message"].startswith("Startup probe failed: dial tcp ")
    (tmp_path / "go").touch()
    wait_for(lambda: is_ready(node.pod(ns, "late")), what="Ready once the startup probe passes")
    assert cstatus(node.pod(ns, "late"))["started"] is True


def test_forced_deletion_cuts_the_grace_period_short(node: NodeCluster, core: Any, ns: str) -> None:
    marker = f"kubesim-{uuid.uuid4().hex}"
    core.create_namespaced_pod(
        ns,
        pod(
            "slowpoke",
            script(f"""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(600)  # {marker}
        """),
            terminationGracePeriodSeconds=300,
        ),
    )
    wait_for(lambda: node.kubectl("logs", "slowpoke", "-n", ns, check=False).stdout == "ready\n")
    pids = pids_with(marker)
    node.kubectl("delete", "pod", "slowpoke", "-n", ns, "--wait=false")
    p = node.pod(ns, "slowpoke")
    assert p is not None
    assert p["metadata"]["deletionGracePeriodSeconds"] == 300
    started = time.monotonic()
    node.kubectl("delete", "pod", "slowpoke", "-n", ns, "--grace-period=0", "--force")
    wait_for(lambda: not any(pid_alive(x) for x in pids), what="the process killed")
    assert time.monotonic() - started < 15  # not the 300 s grace period
    assert node.pod(ns, "slowpoke") is None


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# In-cluster configuration, as client libraries do it: the projected token, CA and namespace, and the API
# server at KUBERNETES_SERVICE_HOST:PORT; the ServiceAccount asks who it is (SelfSubjectReview).
IN_CLUSTER = script("""
    import json, os, ssl, urllib.request
    d = os.environ["SA_DIR"]
    token = open(d + "/token").read()
    namespace = open(d + "/namespace").read()
    context = ssl.create_default_context(cafile=d + "/ca.crt")
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
    url = f"https://{host}:{port}/apis/authentication.k8s.io/v1/selfsubjectreviews"
    body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode()
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    review = json.load(urllib.request.urlopen(request, context=context, timeout=10))
    print(json.dumps({"namespace": namespace, "user": review["status"]["userInfo"]}))
    """)


def kube_api_access(name: str, configmap: str = "kube-root-ca.crt") -> Obj:
    """The projected volume kube-apiserver's ServiceAccount admission plugin gives every pod."""
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": configmap, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


def in_cluster_identity(node: NodeCluster, ns: str, name: str) -> Obj:
    """What the pod's IN_CLUSTER program printed, once it succeeded."""
    wait_for(lambda: phase(node.pod(ns, name)) in ("Succeeded", "Failed"))
    out = node.kubectl("logs", name, "-n", ns).stdout
    assert phase(node.pod(ns, name)) == "Succeeded", out
    found: Obj = json.loads(out)
    return found


def assert_bound_to(identity: Obj, node: NodeCluster, ns: str, p: Obj) -> None:
    """The token is the pod's ServiceAccount's, bound to the pod (TokenRequest with a boundObjectRef)."""
    assert identity["namespace"] == ns
    user = identity["user"]
    assert user["username"] == f"system:serviceaccount:{ns}:default"
    assert set(user["groups"]) == {
        "system:serviceaccounts",
        f"system:serviceaccounts:{ns}",
        "system:authenticated",
    }
    assert user["extra"]["authentication.kubernetes.io/pod-name"] == [p["metadata"]["name"]]
    assert user["extra"]["authentication.kubernetes.io/pod-uid"] == [p["metadata"]["uid"]]
    assert user["extra"]["authentication.kubernetes.io/node-name"] == [node.node_name]


def test_projected_service_account_volume(node: NodeCluster, core: Any, ns: str) -> None:
    """The kubelet projects a ServiceAccount token (TokenRequest bound to the pod), a ConfigMap's key and
    the pod's namespace (downward API) into one volume: the volume kube-apiserver's ServiceAccount
    admission adds to every pod (see the next test), declared here with a ConfigMap of the test's own
    holding the cluster's CA, so that it runs wherever the pod runs."""
    ca = Path(node.ca_file).read_text()
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cluster-ca"}, "data": {"ca.crt": ca}})
    body = pod(
        "projected",
        IN_CLUSTER,
        env=[{"name": "SA_DIR", "value": SERVICE_ACCOUNT_DIR}],
        volumes=[kube_api_access("kube-api-access-test", configmap="cluster-ca")],
        volumeMounts=[{"name": "kube-api-access-test", "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True}],
        restartPolicy="Never",
    )
    core.create_namespaced_pod(ns, body)
    identity = in_cluster_identity(node, ns, "projected")
    p = node.pod(ns, "projected")
    assert p is not None
    assert_bound_to(identity, node, ns, p)


@pytest.mark.kubesim_diverges(
    reason="kubesim has no ServiceAccount admission mutation: pods get no kube-api-access volume "
    "(docs/kubesim.md, What is simplified)"
)
def test_service_account_admission_mounts_kube_api_access(node: NodeCluster, core: Any, ns: str) -> None:
    """Every pod gets the ``kube-api-access-<random>`` projected volume, mounted read-only in every
    container at the well-known path, unless it opts out (``automountServiceAccountToken: false``); the
    kubelet projects it, and a program uses it as in-cluster configuration."""
    body = pod(
        "in-cluster",
        IN_CLUSTER,
        env=[{"name": "SA_DIR", "value": SERVICE_ACCOUNT_DIR}],
        restartPolicy="Never",
    )
    core.create_namespaced_pod(ns, body)
    p = node.pod(ns, "in-cluster")
    assert p is not None
    (volume,) = p["spec"]["volumes"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", volume["name"])
    assert volume == kube_api_access(volume["name"])
    mount = {"name": volume["name"], "readOnly": True, "mountPath": SERVICE_ACCOUNT_DIR}
    assert p["spec"]["containers"][0]["volumeMounts"] == [mount]
    assert_bound_to(in_cluster_identity(node, ns, "in-cluster"), node, ns, p)
    opted_out = pod(
        "opted-out", [PY, "-c", "pass"], automountServiceAccountToken=False, restartPolicy="Never"
    )
    core.create_namespaced_pod(ns, opted_out)
    p = node.pod(ns, "opted-out")
    assert p is not None
    assert not p["spec"].get("volumes")
    assert not p["spec"]["containers"][0].get("volumeMounts")


def _identity_script(mount: str) -> list[str]:
    return script(f"""
    import json, os, tempfile
    # A file the pod creates, and one already in the volume (written by the root pod before).
    open("{mount}/mine.txt", "w").write("mine")
    # HOME holds the volume's mount point and is the user's, as an image's home is.
    os.makedirs(os.path.expanduser("~/.local/share"))
    with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir()) as tmp:
        tmp_ok = True
    st = {{name: os.stat(f"{mount}/" + name) for name in ("mine.txt", "before.txt", ".")}}
    print(json.dumps({{
        "uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
        "home": os.environ.get("HOME"), "tmp_ok": tmp_ok,
        "files": {{name: [s.st_uid, s.st_gid, oct(s.st_mode & 0o7777)] for name, s in st.items()}},
        "root_listing": sorted(os.listdir("/root")) if os.path.isdir("/root") else None,
    }}))
    """)


def test_run_as_user_group_and_fs_group(node: NodeCluster, core: Any, ns: str) -> None:
    """As root with mount namespaces, a pod's runAsUser/runAsGroup/supplementalGroups are the process's
    identity and its volumes belong to its fsGroup, as under a kubelet. The interpreter the command runs
    (this test's, possibly under a /root the uid may not enter) is reachable for that uid, and nothing else
    of such a directory is."""
    if os.geteuid() != 0 or not namespace_mounts_available():
        pytest.skip("needs root with mount namespaces (the process runtime switches user only then)")
    home = f"/kubesim-test-{uuid.uuid4().hex[:8]}/home"
    mount = f"{home}/data"
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    mounts = [{"name": "data", "mountPath": mount}]
    core.create_namespaced_persistent_volume_claim(ns, pvc)
    core.create_namespaced_pod(
        ns,
        pod(
            "root-writer",
            script(f"open('{mount}/before.txt', 'w').write('root was here')"),
            volumes=volumes,
            volumeMounts=mounts,
            restartPolicy="Never",
        ),
    )
    wait_for(lambda: phase(node.pod(ns, "root-writer")) == "Succeeded", what="the root pod's write")
    body = pod(
        "unprivileged",
        _identity_script(mount),
        env=[{"name": "HOME", "value": home}],
        volumes=volumes,
        volumeMounts=mounts,
        restartPolicy="Never",
        securityContext={
            "runAsUser": 1000,
            "runAsGroup": 100,
            "fsGroup": 2000,
            "supplementalGroups": [3000],
            "runAsNonRoot": True,
        },
    )
    core.create_namespaced_pod(ns, body)
    wait_for(lambda: phase(node.pod(ns, "unprivileged")) in ("Succeeded", "Failed"), what="the pod's end")
    out = node.kubectl("logs", "unprivileged", "-n", ns).stdout
    assert phase(node.pod(ns, "unprivileged")) == "Succeeded", out
    seen = json.loads(out)
    assert (seen["uid"], seen["gid"]) == (1000, 100), seen
    assert seen["groups"] == [100, 2000, 3000], seen
    assert seen["tmp_ok"]
    assert seen["home"] == home
    # Created by uid 1000 in a setgid directory of the fsGroup; the root pod's file was given to the group.
    assert seen["files"]["mine.txt"][:2] == [1000, 2000], seen
    assert seen["files"]["before.txt"][:2] == [0, 2000], seen
    assert int(seen["files"]["before.txt"][2], 8) & 0o060 == 0o060, seen
    assert seen["files"]["."][1] == 2000, seen
    assert int(seen["files"]["."][2], 8) & 0o2070 == 0o2070, seen
    # Where the interpreter lives under a closed directory, only the interpreter shows through.
    prefixes = {p.split("/")[2] for p in (sys.base_prefix, sys.prefix) if p.startswith("/root/")}
    if seen["root_listing"] is not None and prefixes:
        assert set(seen["root_listing"]) == prefixes, seen
    assert "SecurityContextNotHonoured" not in node.reasons(ns, "unprivileged")


def test_the_container_process_runs_as_run_as_user(node: NodeCluster, core: Any, ns: str) -> None:
    """What `ps` shows: the container's process itself has the pod's uid and gid."""
    if os.geteuid() != 0 or not namespace_mounts_available():
        pytest.skip("needs root with mount namespaces (the process runtime switches user only then)")
    marker = f"kubesim-{uuid.uuid4().hex}"
    body = pod(
        "sleeper",
        script(f"import time  # {marker}\nwhile True: time.sleep(1)"),
        securityContext={"runAsUser": 1000, "runAsGroup": 100},
    )
    core.create_namespaced_pod(ns, body)
    wait_for(lambda: phase(node.pod(ns, "sleeper")) == "Running", what="the pod running")
    pids = wait_for(lambda: pids_with(marker), what="the container's process")
    for pid in pids:
        with open(f"/proc/{pid}/status") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        assert fields["Uid"].split()[:2] == ["1000", "1000"], fields["Uid"]
        assert fields["Gid"].split()[:2] == ["100", "100"], fields["Gid"]


def test_run_as_non_root_refuses_a_root_container(node: NodeCluster, core: Any, ns: str) -> None:
    """runAsNonRoot with nothing that makes the process non-root: CreateContainerConfigError, as a
    kubelet answers (on both mount modes and whoever runs kubesim, if that is root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: as another user every container runs as that user, never as root")
    body = pod("rooted", [PY, "-c", "pass"], securityContext={"runAsNonRoot": True})
    core.create_namespaced_pod(ns, body)
    wait_for(lambda: waiting_reason(node.pod(ns, "rooted")) == "CreateContainerConfigError")
    message = cstatus(node.pod(ns, "rooted"))["state"]["waiting"]["message"]
    assert message.startswith("container has runAsNonRoot and image will run as root"), message


def test_unhonoured_security_context_is_an_event(
    request: pytest.FixtureRequest, node_backend: str, tmp_path: Path
) -> None:
    """Where the runtime cannot switch user (not root, or no mount namespaces: mounts=remap), the pod
    still runs, as kubesim's own user, and a Warning Event names the fields it could not honour."""
    options = {**OPTIONS, "mounts": "remap"}
    with (
        node_cluster(request.config, node_backend, "process", options, tmp_path) as own,
        core_api(own) as core,
    ):
        body = pod(
            "asks",
            script("import os; print(os.getuid())"),
            restartPolicy="Never",
            securityContext={"runAsUser": 4242, "runAsGroup": 4343, "fsGroup": 4444},
        )
        core.create_namespaced_pod("default", body)
        wait_for(lambda: phase(own.pod("default", "asks")) == "Succeeded", what="the pod's end")
        assert own.kubectl("logs", "asks").stdout == f"{os.geteuid()}\n"
        told = wait_for(
            lambda: [e for e in own.events("default", "asks") if e["reason"] == "SecurityContextNotHonoured"],
            what="the SecurityContextNotHonoured Event",
        )
        assert told[0]["type"] == "Warning"
        message = told[0]["message"]
        assert "runAsUser=4242, runAsGroup=4343, fsGroup=4444" in message, message
        assert f"as uid {os.geteuid()}" in message, message
        # One that asks for kubesim's own identity is honoured: no Event.
        body = pod(
            "own",
            [PY, "-c", "pass"],
            restartPolicy="Never",
            securityContext={"runAsUser": os.geteuid(), "runAsGroup": os.getegid()},
        )
        core.create_namespaced_pod("default", body)
        wait_for(lambda: phase(own.pod("default", "own")) == "Succeeded", what="the second pod's end")
        assert "SecurityContextNotHonoured" not in own.reasons("default", "own")


def test_an_image_hides_host_programs_it_does_not_have(node: NodeCluster, core: Any, ns: str) -> None:
    """Jupyter's images have no node (JUPYTER_IMAGE's ``hide``): with mount namespaces their containers do
    not find the host's, while other images' containers still do."""
    if not namespace_mounts_available():
        pytest.skip("needs root with mount namespaces (hiding covers the file in the container's namespace)")
    if shutil.which("node") is None:
        pytest.skip("node is not on this host's PATH: nothing to hide")
    which = [PY, "-c", "import shutil; print(shutil.which('node'))"]
    jupyter = pod("jupyter", which, restartPolicy="Never")
    jupyter["spec"]["containers"][0]["image"] = "quay.io/jupyter/base-notebook:2025-01-01"
    core.create_namespaced_pod(ns, jupyter)
    core.create_namespaced_pod(ns, pod("plain", which, restartPolicy="Never"))
    for name in ("jupyter", "plain"):
        wait_for(lambda name=name: phase(node.pod(ns, name)) == "Succeeded", what=f"pod {name}")
    assert node.kubectl("logs", "jupyter", "-n", ns).stdout == "None\n"
    assert node.kubectl("logs", "plain", "-n", ns).stdout.strip().endswith("/node")
