"""One pod's life on the node: sandbox, volumes, image pulls, init containers, containers, probes,
restarts with back-off, and termination. Shared by both runtimes; the runtime only starts and stops
container instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubesim import errors
from kubesim.kubelet.envvars import ConfigError, expand_argv
from kubesim.kubelet.events import container_field_path
from kubesim.kubelet.logs import LogFile, parse
from kubesim.kubelet.probes import ProbeResult, ProbeTarget, probe_once, probe_settings
from kubesim.kubelet.runtime import ConfigurationError, CreateError, Handle, Launch, Sandbox, StartError
from kubesim.kubelet.status import (
    ContainerState,
    container_id,
    go_duration,
    image_id,
    normalize_image,
    volume_mount_statuses,
)
from kubesim.kubelet.volumes import VolumeError
from kubesim.objectmeta import now

if TYPE_CHECKING:
    from kubesim.kubelet import Kubelet

log = logging.getLogger("kubesim.kubelet")

Obj = dict[str, Any]

NORMAL, WARNING = "Normal", "Warning"


def _image_size(image: str) -> int:
    return 10_000_000 + (sum(image.encode()) * 7919) % 90_000_000


class PodWorker:
    def __init__(self, kubelet: Kubelet, pod: Obj) -> None:
        self.kubelet = kubelet
        self.pod = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.namespace: str = meta.get("namespace", "")
        self.name: str = meta["name"]
        spec = pod.get("spec", {})
        self.spec: Obj = spec
        has_init = bool(spec.get("initContainers"))
        self.init_states = [
            ContainerState(
                c["name"],
                c.get("image", ""),
                init=True,
                sidecar=c.get("restartPolicy") == "Always",
                reason="PodInitializing",
                volume_mounts=volume_mount_statuses(c),
            )
            for c in spec.get("initContainers") or ()
        ]
        self.states = [
            ContainerState(
                c["name"],
                c.get("image", ""),
                reason="PodInitializing" if has_init else "ContainerCreating",
                volume_mounts=volume_mount_statuses(c),
            )
            for c in spec.get("containers") or ()
        ]
        self._adopt(pod.get("status") or {})
        self.pod_dir: Path = kubelet.pods_dir / self.uid
        self.pod_ip: str | None = None
        self.sandbox: Sandbox | None = None
        self.sandbox_ready = False
        self.start_time: str | None = None
        self.terminal = False
        self.terminating = False
        self.handles: dict[str, Handle] = {}
        self.current_log: dict[str, LogFile] = {}
        self.previous_log: dict[str, LogFile] = {}
        self._instances: dict[str, int] = {}
        self._unhonoured_told: set[str] = set()  # containers whose SecurityContextNotHonoured was posted
        self.task: asyncio.Task[None] | None = None
        self._terminate_task: asyncio.Task[None] | None = None
        self._poke = asyncio.Event()
        self._changed = asyncio.Event()
        self._side_tasks: list[asyncio.Task[Any]] = []
        self._grace_requested = 0.0

    def _adopt(self, status: Obj) -> None:
        """A pod this node ran before it restarted: its containers died with the kubelet (they run as its
        children), so each one that was running is started again, and that counts as a restart."""
        before = {
            cs.get("name"): cs
            for cs in (*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ()))
        }
        for st in (*self.init_states, *self.states):
            cs = before.get(st.name)
            if cs is None:
                continue
            st.restart_count = int(cs.get("restartCount") or 0)
            if "running" in (cs.get("state") or {}):
                st.restart_count += 1
        if status.get("startTime"):
            self.adopted_start_time: str | None = str(status["startTime"])
        else:
            self.adopted_start_time = None

    # ------------------------------------------------------------------ plumbing

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"pod {self.namespace}/{self.name}"
        )
        self.task.add_done_callback(self._report)

    def _report(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the worker of pod %s/%s failed", self.namespace, self.name, exc_info=task.exception())

    def poke(self) -> None:
        """Something this pod may wait for changed (a ConfigMap, Secret or PVC in its namespace)."""
        self._poke.set()

    async def _wait_poke(self, seconds: float) -> None:
        self._poke.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._poke.wait(), seconds)

    def sync(self) -> None:
        """Write the pod's status (skipped once the pod is being deleted)."""
        if self.terminating:
            return
        self.kubelet.write_pod_status(self)
        self._changed.set()
        self._changed = asyncio.Event()

    def event(self, type_: str, reason: str, message: str, field_path: str = "") -> None:
        self.kubelet.events.event(self.pod, type_, reason, message, field_path)

    def _backoff(self, current: float | None) -> float:
        cfg = self.kubelet.config
        return cfg.backoff_base if current is None else min(current * 2, cfg.backoff_max)

    # ------------------------------------------------------------------ the pod

    async def _run(self) -> None:
        k = self.kubelet
        self.start_time = self.adopted_start_time or now()
        host_network = bool(self.spec.get("hostNetwork"))
        previous_ip = (self.pod.get("status") or {}).get("podIP")
        self.pod_ip = k.host_ip if host_network else k.ips.allocate(self.uid, prefer=previous_ip)
        self.sandbox = Sandbox(
            self.uid, self.namespace, self.name, self.pod_dir, self.pod_ip, k.host_ip, host_network
        )
        delay: float | None = None
        while True:
            try:
                self.sandbox.volumes = await k.resolver.resolve(
                    self.pod,
                    self.pod_dir,
                    write=k.runtime.writes_volumes,
                    pod_ip=self.pod_ip,
                    host_ip=k.host_ip,
                )
                break
            except (VolumeError, OSError) as exc:
                if delay is None:
                    self.sync()  # Pending, ContainerCreating
                self.event(WARNING, "FailedMount", str(exc))
                delay = self._backoff(delay)
                await self._wait_poke(min(delay, 10.0))
        self.sandbox_ready = True
        self.sync()
        init_specs = self.spec.get("initContainers") or []
        for c, st in zip(init_specs, self.init_states, strict=True):
            if st.sidecar:
                self._side_tasks.append(asyncio.create_task(self._container_loop(c, st, init=True)))
                while not st.started:
                    changed = self._changed
                    await changed.wait()
                continue
            code = await self._container_loop(c, st, init=True)
            if code != 0:  # restartPolicy Never: the pod failed
                await self._finish()
                return
        for st in self.states:
            if st.state == "waiting" and st.reason == "PodInitializing":
                st.reason = "ContainerCreating"
        if init_specs:
            self.sync()
        main = [
            asyncio.create_task(self._container_loop(c, st, init=False))
            for c, st in zip(self.spec.get("containers") or [], self.states, strict=True)
        ]
        try:
            await asyncio.gather(*main)
        except asyncio.CancelledError:
            for t in main:
                t.cancel()
            raise
        await self._finish()

    async def _finish(self) -> None:
        """All containers are done and none restarts: the pod is Succeeded or Failed."""
        for t in self._side_tasks:
            t.cancel()
        sidecars = [(n, h) for n, h in self.handles.items() if not h.exited()]
        for n, _ in sidecars:
            self.event(NORMAL, "Killing", f"Stopping container {n}", container_field_path(n, True))
        await asyncio.gather(*(h.stop(self._grace()) for _, h in sidecars), return_exceptions=True)
        for st in self.init_states:
            if st.sidecar and st.state == "running":
                st.terminated(0, now())
        self.terminal = True
        self.sandbox_ready = False
        self.sync()

    def _grace(self) -> float:
        return float(self.spec.get("terminationGracePeriodSeconds", 30) or 0)

    # ------------------------------------------------------------------ one container

    async def _container_loop(self, c: Obj, st: ContainerState, init: bool) -> int:
        k = self.kubelet
        cfg = k.config
        name = str(c["name"])
        fp = container_field_path(name, init)
        policy = "Always" if st.sidecar else str(self.spec.get("restartPolicy") or "Always")
        backoff: float | None = None
        create_backoff: float | None = None
        while True:
            await self._pull(c, st, fp)
            try:
                env = await k.container_env(self.pod, c, self.pod_ip)
                command = expand_argv([str(a) for a in c["command"]], env) if c.get("command") else None
                args = expand_argv([str(a) for a in c["args"]], env) if c.get("args") else None
            except ConfigError as exc:
                await self._config_error(st, fp, str(exc))
                continue
            instance = self._instances.get(name, 0)
            logfile = LogFile(self.pod_dir / "logs" / name / f"{instance}.log")
            cid = container_id(self.uid, name, instance)

            def on_spawn(handle: Handle, name: str = name) -> None:
                self.handles[name] = handle

            if name not in self._unhonoured_told:
                self._unhonoured_told.add(name)
                unhonoured = k.runtime.unhonoured(self.pod, c)
                if unhonoured:
                    self.event(WARNING, "SecurityContextNotHonoured", unhonoured, fp)
            launch = Launch(
                self.pod,
                c,
                init,
                st.restart_count,
                env,
                command,
                args,
                logfile,
                cid,
                server_url=k.server_url,
                on_spawn=on_spawn,
            )
            started = time.monotonic()
            message = ""
            signal_: int | None = None
            try:
                assert self.sandbox is not None
                handle = await k.runtime.start(self.sandbox, launch)
            except ConfigurationError as exc:
                await self._config_error(st, fp, str(exc))
                continue
            except (CreateError, OSError) as exc:
                st.waiting("CreateContainerError", str(exc))
                self.event(WARNING, "Failed", f"Error: {exc}", fp)
                self.sync()
                create_backoff = self._backoff(create_backoff)
                await asyncio.sleep(create_backoff)
                continue
            except StartError as exc:
                self._new_instance(name, logfile)
                logfile.close()
                code, message = 128, str(exc)
                st.running(now(), cid)
            else:
                self._new_instance(name, logfile)
                self.handles[name] = handle
                self.event(NORMAL, "Created", f"Created container: {name}", fp)
                st.running(now(), cid)
                st.image_ref, st.image_id = normalize_image(st.image), image_id(st.image)
                self.event(NORMAL, "Started", f"Started container {name}", fp)
                probing = k.runtime.probes and any(
                    c.get(p) for p in ("startupProbe", "readinessProbe", "livenessProbe")
                )
                if not probing:
                    st.started = True
                    st.ready = not init or st.sidecar
                self.sync()
                probe_task = asyncio.create_task(self._probes(c, st, handle, fp, init)) if probing else None
                try:
                    code, signal_, message = await handle.wait()
                finally:
                    if probe_task is not None:
                        probe_task.cancel()
                if self.handles.get(name) is handle:
                    self.handles.pop(name, None)
            reason = "StartError" if message else ""
            if not message and code != 0 and c.get("terminationMessagePolicy") == "FallbackToLogsOnError":
                message = _tail_text(logfile.path)
            st.terminated(code, now(), reason, message, signal_)
            if reason == "StartError":
                self.event(WARNING, "Failed", f"Error: {message}", fp)
            if init and not st.sidecar and code == 0:
                st.ready = True
            self.sync()
            if init and not st.sidecar:
                restart = code != 0 and policy != "Never"
            else:
                restart = policy == "Always" or (policy == "OnFailure" and code != 0)
            if not restart:
                return code
            if backoff is not None and time.monotonic() - started > 2 * cfg.backoff_max:
                backoff = None
            if backoff is None:
                backoff = cfg.backoff_base
            else:
                pod_ref = f"{self.name}_{self.namespace}({self.uid})"
                st.waiting(
                    "CrashLoopBackOff",
                    f"back-off {go_duration(backoff)} restarting failed container={name} pod={pod_ref}",
                )
                self.event(
                    WARNING, "BackOff", f"Back-off restarting failed container {name} in pod {pod_ref}", fp
                )
                self.sync()
                await asyncio.sleep(backoff)
                backoff = self._backoff(backoff)
            st.restart_count += 1

    def _new_instance(self, name: str, logfile: LogFile) -> None:
        self._instances[name] = self._instances.get(name, 0) + 1
        if name in self.current_log:
            self.previous_log[name] = self.current_log[name]
        self.current_log[name] = logfile

    async def _config_error(self, st: ContainerState, fp: str, message: str) -> None:
        first = not (
            st.state == "waiting" and st.reason == "CreateContainerConfigError" and st.message == message
        )
        st.waiting("CreateContainerConfigError", message)
        self.event(WARNING, "Failed", f"Error: {message}", fp)
        if first:
            self.sync()
        await self._wait_poke(min(max(self.kubelet.config.backoff_base, 0.5), 10.0))

    async def _pull(self, c: Obj, st: ContainerState, fp: str) -> None:
        k = self.kubelet
        image = str(c.get("image", ""))
        policy = str(c.get("imagePullPolicy") or "IfNotPresent")
        backoff: float | None = None
        while True:
            if policy == "Never" or (policy == "IfNotPresent" and image in k.images):
                self.event(NORMAL, "Pulled", f'Container image "{image}" already present on machine', fp)
                break
            self.event(NORMAL, "Pulling", f'Pulling image "{image}"', fp)
            t0 = time.monotonic()
            if k.config.pull_delay > 0:
                await asyncio.sleep(k.config.pull_delay)
            if k.pull_fails(image):
                ref = normalize_image(image)
                err = (
                    f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": failed to '
                    f'resolve reference "{ref}": {ref}: not found'
                )
                self.event(WARNING, "Failed", f'Failed to pull image "{image}": {err}', fp)
                self.event(WARNING, "Failed", "Error: ErrImagePull", fp)
                st.waiting("ErrImagePull", err)
                self.sync()
                backoff = self._backoff(backoff)
                await asyncio.sleep(min(backoff / 2, 1.0))
                st.waiting("ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: {err}')
                self.event(NORMAL, "BackOff", f'Back-off pulling image "{image}"', fp)
                self.event(WARNING, "Failed", "Error: ImagePullBackOff", fp)
                self.sync()
                await asyncio.sleep(backoff)
                continue
            took = go_duration(time.monotonic() - t0)
            self.event(
                NORMAL,
                "Pulled",
                f'Successfully pulled image "{image}" in {took} ({took} including '
                f"waiting). Image size: {_image_size(image)} bytes.",
                fp,
            )
            k.images.add(image)
            break
        if st.state == "waiting" and st.reason in ("ErrImagePull", "ImagePullBackOff"):
            st.waiting("ContainerCreating")
            self.sync()

    # ------------------------------------------------------------------ probes

    async def _probes(self, c: Obj, st: ContainerState, handle: Handle, fp: str, init: bool) -> None:
        ports = {
            str(p["name"]): int(p["containerPort"])
            for p in c.get("ports") or ()
            if p.get("name") and p.get("containerPort")
        }
        target = ProbeTarget(self.pod_ip or self.kubelet.host_ip, ports, handle.exec)
        started = asyncio.Event()
        has_readiness = bool(c.get("readinessProbe"))
        if not c.get("startupProbe"):
            st.started = True
            started.set()
            if not has_readiness:
                st.ready = not init or st.sidecar
            self.sync()
        tasks = [
            asyncio.create_task(self._probe(kind, c[key], c, st, handle, target, started, fp, has_readiness))
            for kind, key in (
                ("Startup", "startupProbe"),
                ("Readiness", "readinessProbe"),
                ("Liveness", "livenessProbe"),
            )
            if c.get(key)
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    async def _probe(
        self,
        kind: str,
        probe: Obj,
        c: Obj,
        st: ContainerState,
        handle: Handle,
        target: ProbeTarget,
        started: asyncio.Event,
        fp: str,
        has_readiness: bool,
    ) -> None:
        delay, period, _, _, _ = probe_settings(probe)
        if kind != "Startup":
            await started.wait()
        if delay > 0:
            await asyncio.sleep(delay)
        result = ProbeResult(probe, True if kind == "Liveness" else None)
        name = str(c["name"])
        while not handle.exited():
            ok, message = await probe_once(probe, target)
            if handle.exited():
                return
            if not ok:
                self.event(WARNING, "Unhealthy", f"{kind} probe failed: {message}", fp)
            changed = result.record(ok)
            if kind == "Startup":
                if result.value is True:
                    st.started = True
                    if not has_readiness:
                        st.ready = True
                    started.set()
                    self.sync()
                    return
                if result.value is False:
                    await self._kill_for_probe(name, "startup", probe, handle, fp)
                    return
            elif kind == "Readiness":
                if changed or result.value is None:
                    st.ready = bool(result.value)
                    self.sync()
            elif result.value is False:
                await self._kill_for_probe(name, "liveness", probe, handle, fp)
                return
            await asyncio.sleep(period)

    async def _kill_for_probe(self, name: str, which: str, probe: Obj, handle: Handle, fp: str) -> None:
        self.event(NORMAL, "Killing", f"Container {name} failed {which} probe, will be restarted", fp)
        grace = probe.get("terminationGracePeriodSeconds")
        await handle.stop(float(grace) if grace is not None else self._grace())

    # ------------------------------------------------------------------ termination

    def terminate(self, grace: float, remove: bool) -> asyncio.Task[None]:
        """Stop everything (idempotent); with remove, then delete the pod object (grace 0). A second call
        with a shorter grace period (a forced deletion) shortens the wait for running containers."""
        loop = asyncio.get_running_loop()
        if self._terminate_task is None:
            self._grace_requested = grace
            self._terminate_task = loop.create_task(self._terminate(grace, remove))
        elif grace < self._grace_requested:
            self._grace_requested = grace
            for handle in list(self.handles.values()):
                if not handle.exited():
                    self._side_tasks.append(loop.create_task(handle.stop(grace)))
        return self._terminate_task

    async def _terminate(self, grace: float, remove: bool) -> None:
        self.terminating = True
        tasks = [t for t in (self.task, *self._side_tasks) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        live = [(n, h) for n, h in self.handles.items() if not h.exited()]
        init_names = {st.name for st in self.init_states}
        for n, _ in live:
            self.event(NORMAL, "Killing", f"Stopping container {n}", container_field_path(n, n in init_names))
        results = await asyncio.gather(*(h.stop(grace) for _, h in live), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                log.warning("stopping a container of %s/%s failed: %r", self.namespace, self.name, r)
        self.handles.clear()
        for logfile in (*self.current_log.values(), *self.previous_log.values()):
            if not logfile.finished:
                logfile.close()
        if remove:
            await self.kubelet.remove_pod(self)
        self.kubelet.forget_worker(self)

    # ------------------------------------------------------------------ logs

    def log_for(self, container: str, previous: bool) -> LogFile:
        st = next((s for s in (*self.states, *self.init_states) if s.name == container), None)
        if st is None:
            raise errors.bad_request(f"container {container} is not valid for pod {self.name}")
        current = self.current_log.get(container)
        if previous:
            target = current if st.state == "waiting" else self.previous_log.get(container)
            if not st.last or target is None:
                raise errors.bad_request(
                    f'previous terminated container "{container}" in pod "{self.name}" not found'
                )
            return target
        if current is not None and (st.state != "waiting" or st.last):
            return current
        raise errors.bad_request(waiting_message(container, self.name, st.reason))


def waiting_message(container: str, pod: str, reason: str) -> str:
    if reason == "ErrImagePull":
        why = "image can't be pulled"
    elif reason == "ImagePullBackOff":
        why = "trying and failing to pull image"
    else:
        why = reason or "ContainerCreating"
    return f'container "{container}" in pod "{pod}" is waiting to start: {why}'


_ANSI = re.compile(rb"\x1b\[[0-9;]*m")


def _tail_text(path: Path, lines: int = 80, limit: int = 2048) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    records, _ = parse(data)
    text = b"".join(r.text + (b"" if r.partial else b"\n") for r in records[-lines:])
    return _ANSI.sub(b"", text[-limit:]).decode(errors="replace")
