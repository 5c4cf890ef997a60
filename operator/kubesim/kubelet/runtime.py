"""What the pod worker needs from a container runtime (``fake`` or ``process``)."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubesim.kubelet.logs import LogFile

Obj = dict[str, Any]


class CreateError(Exception):
    """The container cannot be created (waiting reason ``CreateContainerError``; retried)."""


class ConfigurationError(Exception):
    """The container's configuration is wrong (waiting reason ``CreateContainerConfigError``; retried)."""


class StartError(Exception):
    """The container was created but its process could not start (terminated, reason ``StartError``,
    exit code 128; restarted per restartPolicy)."""


@dataclass
class Sandbox:
    """A pod on this node: its address, directory and volumes."""

    uid: str
    namespace: str
    name: str
    pod_dir: Path
    pod_ip: str
    host_ip: str
    host_network: bool = False
    volumes: dict[str, Path] = field(default_factory=dict)


@dataclass
class Launch:
    pod: Obj
    container: Obj
    init: bool
    restart: int
    env: dict[str, str]  # the pod spec's environment, resolved
    command: list[str] | None  # container.command, expanded (None when unset)
    args: list[str] | None  # container.args, expanded (None when unset)
    log: LogFile
    container_id: str
    server_url: str = ""
    on_spawn: Callable[[Handle], None] | None = None


class Handle(abc.ABC):
    """A started container instance."""

    container_id: str = ""

    @abc.abstractmethod
    async def wait(self) -> tuple[int, int | None, str]:
        """Wait for the container to exit: (exit code, signal or None, StartError message or "")."""

    @abc.abstractmethod
    async def stop(self, grace: float) -> None:
        """Stop the container: SIGTERM, up to grace seconds, then SIGKILL. Returns once it exited."""

    @abc.abstractmethod
    async def exec(self, argv: list[str], seconds: float) -> tuple[int, str]:
        """Run a command in the container's context (exec probes): (exit code, combined output)."""

    def exited(self) -> bool:
        return False


class Runtime(abc.ABC):
    name = ""
    # Whether probes are run (fake: containers are ready as soon as they run).
    probes = True
    # Whether volumes are written to disk.
    writes_volumes = True

    @abc.abstractmethod
    async def start(self, sandbox: Sandbox, launch: Launch) -> Handle:
        """Create and start a container; raises CreateError, ConfigurationError or StartError."""

    def unhonoured(self, pod: Obj, container: Obj) -> str:
        """Why the runtime cannot apply some of the container's securityContext (an Event message), or
        "" when it applies it all. A kubelet that ignored such fields silently would run a pod meant to be
        unprivileged with more rights than its author asked for, and nobody would know."""
        return ""

    def teardown(self, sandbox: Sandbox) -> None:  # noqa: B027 - optional hook
        """Release what the pod used on the host (after all its containers stopped)."""
