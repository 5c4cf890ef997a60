"""Kubelet options (``Cluster(kubelet={...})`` / ``Kubelet(api, state_dir, runtime=..., **options)``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_PULL_FAIL_PATTERN = r".*(doesnotexist|invalid-image|:404).*"

# Images that carry no command of their own in kubesim (there are no images): what the image would run.
# Each entry may be ``(regex, argv)`` or a dict ``{"image": regex, "command": [...], "env": {...},
# "workingDir": "...", "user": uid, "group": gid, "rootArgs": [...], "hide": [...]}`` (the image's CMD, ENV,
# WORKDIR and USER; ``user``/``group`` apply only when kubesim runs as root with mount namespaces, where the
# Python running the command is made reachable for that user). ``hide`` names host programs the image does
# not have: with mount namespaces, each one found on the container's PATH is covered by an empty file that
# is not executable, so the container does not find it (Jupyter's images have no node: JupyterLab, finding
# one, runs `node yarn.js config` at every start, about 0.4 s). ``rootArgs`` are appended when the process
# runs as root and the program is the image's own command: the Jupyter images run as ``jovyan`` (uid 1000),
# and a Jupyter server started as root refuses to run without ``--allow-root``. ``$(VAR)`` in ``command``,
# ``env`` and ``workingDir`` is expanded with the container's environment, e.g.
# ``"workingDir": "/home/$(JUPYTERHUB_USER)"`` makes a Jupyter server's root the directory holding a
# ``/home/<user>/work`` volume.
JUPYTER_IMAGE = {
    "image": r"(^|/)(jupyter|jupyterhub)/|(^|[/-])(base|minimal|scipy|datascience|r|julia|tensorflow|pytorch|"
    r"pyspark|all-spark|docker-stacks-foundation)-notebook(:|@|$)|(^|/)singleuser(-sample)?(:|@|$)",
    "command": ["jupyterhub-singleuser"],
    "env": {
        "HOME": "/home/jovyan",
        "NB_USER": "jovyan",
        "NB_UID": "1000",
        "NB_GID": "100",
        "SHELL": "/bin/bash",
        "JUPYTER_PORT": "8888",
    },
    "workingDir": "/home/jovyan",
    "rootArgs": ["--allow-root"],
    "hide": ["node", "nodejs", "npm", "npx"],
}
DEFAULT_IMAGE_COMMANDS: tuple[Any, ...] = (JUPYTER_IMAGE,)

DEFAULT_CAPACITY = {
    "cpu": "16",
    "memory": "64Gi",
    "pods": "250",
    "ephemeral-storage": "100Gi",
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
}

DEFAULT_INHERIT_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR")


@dataclass(frozen=True)
class ImageConfig:
    pattern: re.Pattern[str]
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str = ""
    user: int | None = None
    group: int | None = None
    root_args: tuple[str, ...] = ()
    hide: tuple[str, ...] = ()


def parse_image_commands(entries: Sequence[Any]) -> tuple[ImageConfig, ...]:
    out = []
    for entry in entries:
        if isinstance(entry, ImageConfig):
            out.append(entry)
        elif isinstance(entry, Mapping):
            out.append(
                ImageConfig(
                    pattern=re.compile(str(entry["image"])),
                    command=tuple(str(a) for a in entry.get("command") or ()),
                    env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
                    working_dir=str(entry.get("workingDir") or ""),
                    user=int(entry["user"]) if entry.get("user") is not None else None,
                    group=int(entry["group"]) if entry.get("group") is not None else None,
                    root_args=tuple(str(a) for a in entry.get("rootArgs") or ()),
                    hide=tuple(str(a) for a in entry.get("hide") or ()),
                )
            )
        else:
            pattern, argv = entry
            if isinstance(argv, str):
                argv = [argv]
            out.append(ImageConfig(pattern=re.compile(str(pattern)), command=tuple(str(a) for a in argv)))
    return tuple(out)


@dataclass
class KubeletConfig:
    node_name: str = "kubesim-node"
    # fake runtime: seconds a container spends in ContainerCreating before it "runs".
    start_delay: float = 0.0
    # both runtimes: simulated image pull time, and the images whose pull fails.
    pull_delay: float = 0.0
    pull_fail_pattern: str = DEFAULT_PULL_FAIL_PATTERN
    # process runtime: image -> command (see DEFAULT_IMAGE_COMMANDS); replaces the defaults when given.
    image_commands: Sequence[Any] = DEFAULT_IMAGE_COMMANDS
    # crash-loop and image-pull back-off: base, doubling, capped (upstream: 10s and 300s).
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    # pod addresses; default: a free 127.X.0.0/16 (process: distinct loopback addresses, X claimed host-wide
    # with a lock file so clusters never overlap) or 10.244.0.0/16 (fake).
    pod_cidr: str | None = None
    node_capacity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    node_labels: Mapping[str, str] = field(default_factory=dict)
    # process runtime: "auto" (a private mount namespace with bind mounts when root, else remapping),
    # "namespace" or "remap".
    mounts: str = "auto"
    # process runtime: rewrite wildcard binds (0.0.0.0) to the pod's address.
    rewrite_bind: bool = True
    # process runtime: host environment variables passed to containers (besides PATH).
    inherit_env: Sequence[str] = DEFAULT_INHERIT_ENV
    # seconds between SIGTERM and SIGKILL when the cluster stops.
    stop_grace: float = 2.0
    # seconds between refreshes of the Node's status (its liveness is the Lease, renewed every 10 s).
    node_status_interval: float = 60.0
    # the port of the kubelet's own endpoint (logs, healthz) that the Node advertises.
    kubelet_port: int = 10250

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> KubeletConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"unknown kubelet option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        cfg = cls(**options)
        if cfg.mounts not in ("auto", "namespace", "remap"):
            raise ValueError(f"kubelet option mounts must be auto, namespace or remap, not {cfg.mounts!r}")
        capacity = dict(DEFAULT_CAPACITY)
        capacity.update({str(k): str(v) for k, v in cfg.node_capacity.items()})
        cfg.node_capacity = capacity
        return cfg

    @property
    def images(self) -> tuple[ImageConfig, ...]:
        return parse_image_commands(self.image_commands)
