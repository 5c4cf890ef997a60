"""One local process of the control plane: started, probed until healthy, stopped without leftovers.

Like envtest's ``process.State`` (controller-runtime pkg/internal/testing/process): a start fails at once
when the process exits early, showing the tail of its log; a stop is SIGTERM, a grace period, then SIGKILL
of the process and anything it started.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kubesim.subprocesses import descendants, die_with_parent

# Where listening ports are chosen: below the kernel's ephemeral range. A port the kernel hands out for
# `bind(0)` is also one it may give any outgoing connection as its local port (kube-apiserver opens many to
# etcd), so between choosing it and the component binding it seconds later, the port could be taken:
# kube-controller-manager then failed with "address already in use". Below the range only a process that
# binds that very number competes.
_LISTEN_RANGE_FLOOR = 10000


def _ephemeral_floor() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, outside the ephemeral range (envtest's ``addr.Suggest`` takes one in
    it); the caller binds it soon after."""
    ceiling = _ephemeral_floor()
    if ceiling - _LISTEN_RANGE_FLOOR >= 1000:
        rng = random.SystemRandom()
        for _ in range(100):
            port = rng.randrange(_LISTEN_RANGE_FLOOR, ceiling)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    continue
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ComponentFailed(Exception):
    """A component exited or never became healthy; the message carries the tail of its log."""


@dataclass
class Component:
    """A process with a health endpoint. ``context`` verifies (or authenticates to) the endpoint."""

    name: str
    argv: list[str]
    health_url: str
    log_path: Path
    context: ssl.SSLContext | None = None
    start_timeout: float = 90.0
    stop_timeout: float = 10.0
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def launch(self) -> None:
        """Start the process (from a thread that outlives it: see ``die_with_parent``)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env if self.env is not None else dict(os.environ),
                start_new_session=True,
                preexec_fn=die_with_parent(os.getpid()),
            )

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def healthy(self) -> bool:
        """One probe of the health endpoint (never raises)."""
        try:
            with urllib.request.urlopen(self.health_url, timeout=2, context=self.context) as resp:
                body = resp.read().strip()
                if resp.status != 200:
                    return False
        except (OSError, urllib.error.URLError, ssl.SSLError, ValueError):
            return False
        if body == b"ok":
            return True
        try:  # etcd's /health: {"health":"true","reason":""}
            return bool(json.loads(body).get("health") == "true")
        except (ValueError, AttributeError):
            return False

    def check_alive(self) -> None:
        code = self.exit_code()
        if code is not None:
            raise ComponentFailed(f"{self.name} exited with code {code} while starting\n{self.log_tail()}")

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        tail = text.strip().splitlines()[-lines:]
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(tail)

    def terminate(self) -> None:
        """SIGTERM to the process group; ``reap`` waits for it."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def reap(self, deadline: float) -> None:
        """Wait for the process until ``deadline`` (monotonic), then SIGKILL it and everything below it."""
        proc = self.proc
        if proc is None:
            return
        stragglers = descendants(proc.pid)
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stragglers += descendants(proc.pid)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        for pid in stragglers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

    def stop(self) -> None:
        self.terminate()
        self.reap(time.monotonic() + self.stop_timeout)
