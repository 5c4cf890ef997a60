"""The ``process`` runtime: a container is a local process.

* Command: ``command`` + ``args``; ``args`` alone; or, for a container with neither, the command of the
  first matching ``image_commands`` entry (which may also give the image's ENV, WORKDIR and USER).
* Network: the pod's own loopback address. Wildcard binds are rewritten to it: ``0.0.0.0`` in arguments
  and environment values (``--ip=0.0.0.0``, ``JUPYTERHUB_SERVICE_URL=http://0.0.0.0:8888/...``), and in
  any Python program through a ``sitecustomize`` that wraps ``socket.socket.bind`` (``KUBESIM_POD_IP``).
* Volumes, as root (``mounts="namespace"``, the default for root when mount namespaces work): a private
  mount namespace per container with bind mounts at the real ``mountPath`` (read-only when asked; a
  missing mount point is created in a throwaway overlay of its nearest existing ancestor, so the host is
  not changed); ``runAsUser``/``runAsGroup``/``fsGroup``/``supplementalGroups`` are honoured: the process
  runs with that uid and those groups, the Python running it and the pod's directory are made reachable for
  that uid inside the namespace (``nsinit._expose``), and volumes other than ``hostPath`` get the
  ``fsGroup`` as a kubelet gives it (group-owned, group-writable, setgid directories, recursively unless
  ``fsGroupChangePolicy: OnRootMismatch`` finds the root right). Without root (``mounts="remap"``):
  each ``mountPath`` is a symlink inside a per-pod root directory, and ``workingDir``, ``HOME`` and every
  argument or environment value naming a path under a ``mountPath`` are rewritten to point there; an
  image's ``hide`` programs stay visible; the identity fields cannot be honoured then, and the kubelet
  says so in a Warning Event on the pod (``SecurityContextNotHonoured``, see
  ``ProcessRuntime.unhonoured``). ``runAsNonRoot`` is checked in both modes.
* Lifetime: each container runs in its own session (process group) with ``PR_SET_PDEATHSIG=SIGKILL``, so
  it dies with kubesim even on SIGKILL; stopping sends SIGTERM to the group, waits the grace period, then
  SIGKILLs the group and any descendant; an ``atexit`` hook kills whatever is left.
"""

from __future__ import annotations

import asyncio
import atexit
import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubesim.kubelet.config import ImageConfig, KubeletConfig
from kubesim.kubelet.envvars import expand
from kubesim.kubelet.logs import MAX_LINE, LogFile
from kubesim.kubelet.runtime import (
    ConfigurationError,
    CreateError,
    Handle,
    Launch,
    Runtime,
    Sandbox,
    StartError,
)
from kubesim.subprocesses import descendants, die_with_parent

Obj = dict[str, Any]

NSINIT = Path(__file__).with_name("nsinit.py")
SHIM_DIR = Path(__file__).with_name("pyshim")

# Every live container process group, so nothing outlives the interpreter.
_LIVE: dict[int, ProcessHandle] = {}
# Top-level directories created on the host as mount points (namespace mode), removed when unused.
_CREATED_TOPS: set[str] = set()


def _kill_all_at_exit() -> None:
    for handle in list(_LIVE.values()):
        handle.kill_now()
    for top in list(_CREATED_TOPS):
        try:
            os.rmdir(top)
        except OSError:
            pass


atexit.register(_kill_all_at_exit)


_WILDCARD = re.compile(r"(?<![\w.])0\.0\.0\.0(?![\w.]|/\d)")


def rewrite_bind(text: str, pod_ip: str) -> str:
    """``0.0.0.0`` as an address (not part of a CIDR or a longer word) -> the pod's address."""
    return _WILDCARD.sub(pod_ip, text) if "0.0.0.0" in text else text


class PathMap:
    """``mounts="remap"``: container paths -> host paths under the pod's root directory."""

    def __init__(self, rootfs: Path, mounts: list[tuple[str, Path, bool]]) -> None:
        self.rootfs = rootfs
        self.mounts = sorted(((os.path.normpath(cp), hp) for cp, hp, _ in mounts), key=lambda m: -len(m[0]))
        if self.mounts:
            alternatives = "|".join(re.escape(cp) for cp, _ in self.mounts)
            self._pattern: re.Pattern[str] | None = re.compile(
                r"(?<![^=:\s,;\"'(])(" + alternatives + r")(?=$|[/:\s,;\"')])"
            )
        else:
            self._pattern = None
        self._hosts = dict(self.mounts)

    def to_host(self, path: str) -> str:
        norm = os.path.normpath(path) if path else "/"
        for cp, hp in self.mounts:
            if norm == cp or norm.startswith(cp.rstrip("/") + "/"):
                return str(hp) + norm[len(cp) :]
        return str(self.rootfs) + (norm if norm != "/" else "")

    def rewrite(self, text: str) -> str:
        if self._pattern is None or "/" not in text:
            return text
        return self._pattern.sub(lambda m: str(self._hosts[m.group(1)]), text)

    def materialize(self) -> None:
        """Create each mountPath as a symlink to its volume inside the pod's root directory."""
        for cp, hp in sorted(self.mounts, key=lambda m: m[0].count("/")):
            link = Path(str(self.rootfs) + cp)
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink():
                if os.readlink(link) == str(hp):
                    continue
                link.unlink()
            elif link.is_dir():
                try:
                    link.rmdir()
                except OSError:
                    continue
            elif link.exists():
                continue
            link.symlink_to(hp)


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _exec_problem(path: str | None) -> OSError | None:
    if path is None or not os.path.exists(path):
        return FileNotFoundError(2, "No such file or directory")
    if not _is_executable(path):
        return PermissionError(13, "Permission denied")
    return None


def _start_error(argv0: str, exc: OSError | None = None) -> str:
    if exc is not None and not isinstance(exc, FileNotFoundError):
        reason = f'exec: "{argv0}": {(exc.strerror or str(exc)).lower()}'
    elif "/" in argv0:
        reason = f'exec: "{argv0}": stat {argv0}: no such file or directory'
    else:
        reason = f'exec: "{argv0}": executable file not found in $PATH'
    return (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc "
        f"create failed: unable to start container process: error during container init: {reason}: unknown"
    )


class ProcessHandle(Handle):
    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        log: LogFile,
        container_id: str,
        exec_context: dict[str, Any],
        error_file: Path | None,
    ) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.log = log
        self.container_id = container_id
        self.exec_context = exec_context
        self.error_file = error_file
        self._done = False
        _LIVE[self.pid] = self
        assert proc.stdout is not None
        assert proc.stderr is not None
        self._pumps = [
            asyncio.create_task(self._pump(proc.stdout, "stdout")),
            asyncio.create_task(self._pump(proc.stderr, "stderr")),
        ]
        self._waiter: asyncio.Task[int] = asyncio.create_task(self._wait())

    async def _pump(self, stream: asyncio.StreamReader, name: str) -> None:
        while True:
            try:
                line = await stream.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    self.log.write(name, exc.partial)
                return
            except asyncio.LimitOverrunError as exc:
                chunk = await stream.read(max(exc.consumed, 1))
                if not chunk:
                    return
                self.log.write(name, chunk)
                continue
            except (OSError, ValueError):
                return
            self.log.write(name, line)

    async def _wait(self) -> int:
        try:
            code = await self.proc.wait()
        finally:
            # The container's main process is gone: like a container's PID 1, it takes the rest along.
            self._signal_group(signal.SIGKILL)
            _LIVE.pop(self.pid, None)
            self._done = True
        try:
            await asyncio.wait_for(asyncio.gather(*self._pumps, return_exceptions=True), 2.0)
        except TimeoutError:
            for pump in self._pumps:
                pump.cancel()
        self.log.close()
        return code

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_now(self) -> None:
        """SIGKILL the process group and every descendant (synchronous; safe at interpreter exit)."""
        stragglers = descendants(self.pid)
        self._signal_group(signal.SIGKILL)
        for pid in stragglers:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    async def wait(self) -> tuple[int, int | None, str]:
        code = await asyncio.shield(self._waiter)
        message = ""
        if self.error_file is not None and self.error_file.exists():
            message = self.error_file.read_text(errors="replace").strip()
            self.error_file.unlink()
        if code < 0:
            return 128 - code, -code, message
        return code, None, message

    async def stop(self, grace: float) -> None:
        if self._done:
            return
        stragglers = descendants(self.pid)
        self._signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self._waiter), max(grace, 0.0))
        except TimeoutError:
            self.kill_now()
            await asyncio.shield(self._waiter)
        for pid in stragglers:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    async def exec(self, argv: list[str], seconds: float) -> tuple[int, str]:
        ctx = self.exec_context
        env: dict[str, str] = ctx["env"]
        rewrite: Callable[[str], str] = ctx["rewrite"]
        argv = [rewrite(a) for a in argv]
        if not argv:
            return 1, "no command"
        program: list[str]
        if ctx.get("helper"):
            spec = {
                "enter_pid": self.pid if ctx.get("namespace") else None,
                "argv": argv,
                "env": env,
                "cwd": ctx["cwd"],
                "uid": ctx.get("uid"),
                "gid": ctx.get("gid"),
                "groups": ctx.get("groups"),
            }
            spec_file = Path(ctx["spec_dir"]) / f"exec-{os.getpid()}-{id(spec)}.json"
            spec_file.write_text(json.dumps(spec))
            program = [sys.executable, "-I", "-S", str(NSINIT), str(spec_file)]
        else:
            spec_file = None
            exe = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
            if exe is None or not _is_executable(
                exe if os.path.isabs(exe) else os.path.join(ctx["cwd"], exe)
            ):
                return 126, _start_error(argv[0])
            program = [exe, *argv[1:]]
        try:
            proc = await asyncio.create_subprocess_exec(
                *program,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=ctx["spawn_cwd"],
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(os.getpid()),
            )
        except OSError as exc:
            return 126, str(exc)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), seconds)
        except TimeoutError:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            await proc.wait()
            raise
        finally:
            if spec_file is not None:
                spec_file.unlink(missing_ok=True)
        return proc.returncode or 0, out.decode(errors="replace")

    def exited(self) -> bool:
        return self._done


_RW_MASK = 0o660
_RO_MASK = 0o440
_EXEC_MASK = 0o110


def _owned_by_fs_group(path: Path, fs_group: int, mask: int) -> bool:
    st = os.stat(path)
    return st.st_gid == fs_group and st.st_mode & (mask | _EXEC_MASK | 0o2000) == mask | _EXEC_MASK | 0o2000


def apply_fs_group(root: Path, fs_group: int, *, read_only: bool, policy: str = "Always") -> None:
    """Give a volume to ``fsGroup`` as the kubelet's SetVolumeOwnership does: every file and directory
    group-owned by it, group-readable (and -writable unless read-only), executables and directories
    group-executable, directories setgid (new files inherit the group). ``OnRootMismatch`` skips the walk
    when the volume's root already has that group and mode. Symbolic links are left alone."""
    mask = _RO_MASK if read_only else _RW_MASK
    if policy == "OnRootMismatch" and _owned_by_fs_group(root, fs_group, mask):
        return

    def fix(path: str, is_dir: bool) -> None:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return
        if st.st_gid != fs_group:
            os.chown(path, -1, fs_group, follow_symlinks=False)
        mode = st.st_mode & 0o7777
        wanted = mode | mask
        if is_dir:
            wanted |= 0o2000 | _EXEC_MASK
        elif mode & 0o100:
            wanted |= 0o010
        if wanted != mode:
            os.chmod(path, wanted)

    fix(str(root), True)
    for top, dirs, files in os.walk(root):
        for d in dirs:
            fix(os.path.join(top, d), True)
        for f in files:
            fix(os.path.join(top, f), False)


def _on_path(names: tuple[str, ...], path: str) -> list[str]:
    """Every file called one of ``names`` in the directories of ``path`` (what an image hides)."""
    found = []
    for directory in path.split(os.pathsep):
        for name in names:
            candidate = os.path.join(directory, name)
            if directory and os.path.isfile(candidate) and candidate not in found:
                found.append(candidate)
    return found


def runtime_paths() -> list[str]:
    """What a container's command needs of this host besides its volumes, when kubesim runs it: this
    Python (its prefixes, the real directory of the interpreter) and the directories on its import path
    (site-packages, an editable install's source root), with the shim the runtime puts on PYTHONPATH."""
    paths = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        str(SHIM_DIR),
        *(p for p in sys.path if p and os.path.isabs(p)),
    ]
    out: list[str] = []
    for p in paths:
        real = os.path.realpath(p)
        for q in (p, real):
            if os.path.isdir(q) and q not in out:
                out.append(q)
    return out


def namespace_mounts_available() -> bool:
    """Whether this process may create private mount namespaces (root on Linux, not in a locked-down
    container)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    try:
        result = subprocess.run(
            [sys.executable, "-I", "-S", str(NSINIT), "--probe"],
            timeout=10,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


class ProcessRuntime(Runtime):
    name = "process"

    def __init__(self, config: KubeletConfig) -> None:
        self.config = config
        self.images = config.images
        self.euid = os.geteuid() if hasattr(os, "geteuid") else -1
        if config.mounts == "auto":
            self.mount_mode = "namespace" if namespace_mounts_available() else "remap"
        else:
            self.mount_mode = config.mounts
        self._tops: dict[str, set[str]] = {}  # top-level mount point we created -> pods using it
        self._unused_tops: set[str] = set()  # created by us, no longer used, being removed
        path = [os.path.dirname(sys.executable)]
        path += [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p and p not in path]
        self.path = os.pathsep.join(path)

    def image_config(self, image: str) -> ImageConfig | None:
        for entry in self.images:
            if entry.pattern.search(image):
                return entry
        return None

    def _argv(self, launch: Launch, image: ImageConfig | None) -> list[str]:
        if launch.command:
            return [*launch.command, *(launch.args or [])]
        if launch.args:
            return list(launch.args)
        if image is not None and image.command:
            return [expand(a, launch.env) for a in image.command]
        raise CreateError(
            f'failed to generate container "{launch.container_id.rsplit("/", 1)[-1][:12]}" spec: no command '
            f'specified (kubesim process runtime: image "{launch.container.get("image", "")}" has no '
            "entry in the kubelet's image_commands and the container sets no command)"
        )

    def _identity(
        self, launch: Launch, image: ImageConfig | None
    ) -> tuple[int | None, int | None, list[int]]:
        pod_sc = launch.pod.get("spec", {}).get("securityContext") or {}
        sc = launch.container.get("securityContext") or {}

        def pick(key: str, default: int | None) -> int | None:
            value = sc.get(key, pod_sc.get(key))
            return int(value) if value is not None else default

        uid = pick("runAsUser", image.user if image else None)
        gid = pick("runAsGroup", image.group if image else None)
        groups = [int(g) for g in pod_sc.get("supplementalGroups") or ()]
        if pod_sc.get("fsGroup") is not None:
            groups.append(int(pod_sc["fsGroup"]))
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        switching = self.euid == 0 and self.mount_mode == "namespace"
        effective = uid if switching and uid is not None else self.euid
        if non_root and effective == 0:
            meta = launch.pod["metadata"]
            pod_ref = f"{meta['name']}_{meta.get('namespace', '')}({meta.get('uid', '')})"
            raise ConfigurationError(
                f'container has runAsNonRoot and image will run as root (pod: "{pod_ref}", '
                f"container: {launch.container.get('name')})"
            )
        if not switching:
            return None, None, []
        return uid, gid, groups

    def unhonoured(self, pod: Obj, container: Obj) -> str:
        """The identity fields of the container's securityContext this runtime cannot apply (it is not
        root, or has no mount namespaces: the process runs as kubesim's own user), as an Event message;
        "" when it honours them all. Fields that ask for kubesim's own uid or groups are honoured."""
        if self.euid == 0 and self.mount_mode == "namespace":
            return ""
        pod_sc = pod.get("spec", {}).get("securityContext") or {}
        sc = container.get("securityContext") or {}
        own_groups = {os.getegid(), *os.getgroups()}
        ignored = []
        for key, own in (("runAsUser", self.euid), ("runAsGroup", os.getegid())):
            value = sc.get(key, pod_sc.get(key))
            if value is not None and int(value) != own:
                ignored.append(f"{key}={value}")
        if pod_sc.get("fsGroup") is not None and int(pod_sc["fsGroup"]) not in own_groups:
            ignored.append(f"fsGroup={pod_sc['fsGroup']}")
        extra = [g for g in pod_sc.get("supplementalGroups") or () if int(g) not in own_groups]
        if extra:
            ignored.append(f"supplementalGroups={extra}")
        if not ignored:
            return ""
        why = (
            "kubesim is not running as root"
            if self.euid != 0
            else "kubesim has no mount namespaces here (mounts=remap)"
        )
        return (
            f"securityContext not honoured: {', '.join(ignored)}: {why}, so the process runtime runs "
            f"container {container.get('name')} as uid {self.euid}, gid {os.getegid()}"
        )

    def _base_env(self, sandbox: Sandbox, launch: Launch, image: ImageConfig | None) -> dict[str, str]:
        env = {k: os.environ[k] for k in self.config.inherit_env if k in os.environ}
        env["PATH"] = self.path
        if image is not None:
            env.update({k: expand(v, launch.env) for k, v in image.env.items()})
        env["HOSTNAME"] = self.config.node_name if sandbox.host_network else sandbox.name
        if launch.server_url:
            parts = urlsplit(launch.server_url)
            host, port = parts.hostname or "127.0.0.1", str(parts.port or 443)
            env.update(
                {
                    "KUBERNETES_SERVICE_HOST": host,
                    "KUBERNETES_SERVICE_PORT": port,
                    "KUBERNETES_SERVICE_PORT_HTTPS": port,
                    "KUBERNETES_PORT": f"tcp://{host}:{port}",
                    f"KUBERNETES_PORT_{port}_TCP": f"tcp://{host}:{port}",
                    f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
                    f"KUBERNETES_PORT_{port}_TCP_PORT": port,
                    f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
                }
            )
        env.update(launch.env)
        return env

    def _mounts(self, sandbox: Sandbox, launch: Launch, fs_group: int | None) -> list[tuple[str, Path, bool]]:
        out = []
        spec = launch.pod.get("spec", {})
        pod_sc = spec.get("securityContext") or {}
        host_paths = {v.get("name") for v in spec.get("volumes") or () if v.get("hostPath") is not None}
        volume_ro: dict[str, bool] = {}
        for vm in launch.container.get("volumeMounts") or ():
            name = str(vm.get("name"))
            volume_ro[name] = volume_ro.get(name, True) and bool(vm.get("readOnly"))
        if fs_group is not None and self.euid == 0 and self.mount_mode == "namespace":
            # hostPath volumes are the host's own directories: a kubelet never changes their ownership.
            for name, read_only in volume_ro.items():
                host = sandbox.volumes.get(name)
                if name not in host_paths and host is not None and host.is_dir():
                    try:
                        apply_fs_group(
                            host,
                            fs_group,
                            read_only=read_only,
                            policy=str(pod_sc.get("fsGroupChangePolicy") or "Always"),
                        )
                    except OSError as exc:
                        raise CreateError(
                            f'failed to set the ownership of volume "{name}" to fsGroup {fs_group}: {exc}'
                        ) from exc
        for vm in launch.container.get("volumeMounts") or ():
            host = sandbox.volumes.get(str(vm.get("name")))
            if host is None:
                raise CreateError(f"volume {vm.get('name')!r} is not available")
            sub = vm.get("subPath") or (
                expand(str(vm["subPathExpr"]), launch.env) if vm.get("subPathExpr") else ""
            )
            if sub:
                if os.path.isabs(sub) or ".." in Path(sub).parts:
                    raise CreateError(
                        f'failed to prepare subPath for volumeMount "{vm.get("name")}": '
                        f'invalid subpath "{sub}"'
                    )
                host = host / sub
                if not host.exists():
                    host.mkdir(parents=True, exist_ok=True)
                    if fs_group is not None and self.euid == 0 and self.mount_mode == "namespace":
                        apply_fs_group(host, fs_group, read_only=bool(vm.get("readOnly")))
            out.append((str(vm.get("mountPath")), host, bool(vm.get("readOnly"))))
        return out

    async def start(self, sandbox: Sandbox, launch: Launch) -> Handle:
        container = launch.container
        image = self.image_config(str(container.get("image", "")))
        argv = self._argv(launch, image)
        uid, gid, groups = self._identity(launch, image)
        runs_as_root = (uid if uid is not None else self.euid) == 0
        if (
            image is not None
            and image.root_args
            and runs_as_root
            and image.command
            and os.path.basename(argv[0]) == os.path.basename(image.command[0])
        ):
            argv += [a for a in image.root_args if a not in argv]
        pod_sc = launch.pod.get("spec", {}).get("securityContext") or {}
        fs_group = int(pod_sc["fsGroup"]) if pod_sc.get("fsGroup") is not None else None
        name = str(container.get("name"))
        rootfs = sandbox.pod_dir / "rootfs"
        tmp = rootfs / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        tmp.chmod(0o1777)
        mounts = self._mounts(sandbox, launch, fs_group)
        env = self._base_env(sandbox, launch, image)
        if self.config.rewrite_bind and not sandbox.host_network:
            env = {k: rewrite_bind(v, sandbox.pod_ip) for k, v in env.items()}
            argv = [rewrite_bind(a, sandbox.pod_ip) for a in argv]
            env["KUBESIM_POD_IP"] = sandbox.pod_ip
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SHIM_DIR), env.get("PYTHONPATH", "")) if p)
        env.setdefault("TMPDIR", str(tmp))
        working_dir = str(
            container.get("workingDir") or (expand(image.working_dir, launch.env) if image else "")
        )
        spec_dir = sandbox.pod_dir / "run"
        spec_dir.mkdir(parents=True, exist_ok=True)
        error_file: Path | None = None
        exec_context: dict[str, Any] = {
            "env": env,
            "uid": uid,
            "gid": gid,
            "groups": groups,
            "spec_dir": str(spec_dir),
            "spawn_cwd": str(rootfs),
        }
        if self.mount_mode == "remap":
            paths = PathMap(rootfs, mounts)
            paths.materialize()
            env = {k: paths.rewrite(v) for k, v in env.items()}
            argv = [paths.rewrite(a) for a in argv]
            home = paths.to_host(env.get("HOME") or "/root")
            env["HOME"] = home
            cwd = paths.to_host(working_dir or "/")
            for d in (home, cwd):
                os.makedirs(d, exist_ok=True)
            exec_context.update(env=env, rewrite=paths.rewrite, cwd=cwd, spawn_cwd=cwd, helper=False)
            exe = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
            if exe is not None and not os.path.isabs(exe):
                exe = os.path.join(cwd, exe)
            problem = _exec_problem(exe)
            if exe is None or problem is not None:
                raise StartError(_start_error(argv[0], problem))
            program = [exe, *argv[1:]]
            spawn_cwd = cwd
        else:
            home_dir = rootfs / "root"
            if "HOME" not in env:
                home_dir.mkdir(exist_ok=True)
                if uid is not None:
                    os.chown(home_dir, uid, gid if gid is not None else -1)
                env["HOME"] = str(home_dir)
            cwd = working_dir or str(rootfs)
            error_file = spec_dir / f"{name}.error"
            error_file.unlink(missing_ok=True)
            self._make_tops(sandbox.uid, [cp for cp, _, _ in mounts] + [cwd, env["HOME"]])
            scratch = sandbox.pod_dir / "scratch" / name
            scratch.mkdir(parents=True, exist_ok=True)
            spec = {
                "namespace": True,
                "argv": argv,
                "env": env,
                "cwd": cwd,
                "uid": uid,
                "gid": gid,
                "groups": groups,
                "dirs": [cwd, env["HOME"]],
                "scratch": str(scratch),
                "mounts": [{"source": str(hp), "target": cp, "readOnly": ro} for cp, hp, ro in mounts],
                "error_file": str(error_file),
                # For a runAsUser that cannot reach them where they are (nsinit._expose): the image's part
                # of the host (this Python) read-only, the pod's own root (its /tmp, a default HOME) not.
                "expose": [{"path": p, "readOnly": True} for p in runtime_paths()]
                + [{"path": str(rootfs), "readOnly": False}],
                "hide": _on_path(image.hide if image else (), env.get("PATH", "")),
            }
            spec_file = spec_dir / f"{name}.json"
            spec_file.write_text(json.dumps(spec))
            program = [sys.executable, "-I", "-S", str(NSINIT), str(spec_file)]
            spawn_cwd = str(rootfs)
            exec_context.update(env=env, rewrite=lambda s: s, cwd=cwd, helper=True, namespace=True)
        launch.log.open()
        try:
            proc = await asyncio.create_subprocess_exec(
                *program,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=spawn_cwd,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(os.getpid()),
                limit=MAX_LINE,
            )
        except OSError as exc:
            launch.log.close()
            raise StartError(_start_error(argv[0], exc)) from exc
        handle = ProcessHandle(proc, launch.log, launch.container_id, exec_context, error_file)
        if launch.on_spawn is not None:
            launch.on_spawn(handle)
        return handle

    def _make_tops(self, pod_uid: str, paths: list[str]) -> None:
        """A mount point whose top-level directory (``/data`` of ``/data/x``) does not exist cannot be made
        in an overlay of ``/``: create that one directory on the host, and remove it when no pod uses it."""
        for p in paths:
            parts = [x for x in os.path.normpath(p).split("/") if x]
            if not parts or not os.path.isabs(p):
                continue
            top = "/" + parts[0]
            if top in self._tops:
                self._tops[top].add(pod_uid)
            elif top in self._unused_tops:  # waiting to be removed: keep it
                self._unused_tops.discard(top)
                self._tops[top] = {pod_uid}
            elif not os.path.lexists(top):
                os.mkdir(top, 0o755)
                self._tops[top] = {pod_uid}
                _CREATED_TOPS.add(top)

    def _remove_top(self, top: str, attempt: int = 0) -> None:
        """rmdir a top-level mount point; right after the last container using it exited, the kernel may
        still hold the mount (EBUSY) for a moment, so retry for a few seconds."""
        if top not in self._unused_tops:
            return
        try:
            os.rmdir(top)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno == errno.EBUSY and attempt < 50:
                try:
                    asyncio.get_running_loop().call_later(0.1, self._remove_top, top, attempt + 1)
                    return
                except RuntimeError:
                    pass
        self._unused_tops.discard(top)
        _CREATED_TOPS.discard(top)

    def teardown(self, sandbox: Sandbox) -> None:
        shutil.rmtree(sandbox.pod_dir, ignore_errors=True)
        for top, users in list(self._tops.items()):
            users.discard(sandbox.uid)
            if not users:
                del self._tops[top]
                self._unused_tops.add(top)
                self._remove_top(top)
