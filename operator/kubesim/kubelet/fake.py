"""The ``fake`` runtime: nothing executes; a container "runs" after ``start_delay`` until it is stopped
(an init container completes at once, with exit code 0).

For tests of clients' handling of container exits, a pod may ask a fake container to exit by itself with
annotations: ``kubesim.io/fake-exit-code`` (an int) and ``kubesim.io/fake-run-seconds`` (how long it runs
first, default 0); ``kubesim.io/fake-exit-code.<container>`` / ``kubesim.io/fake-run-seconds.<container>``
apply to one container.
"""

from __future__ import annotations

import asyncio

from kubesim.kubelet.runtime import Handle, Launch, Runtime, Sandbox


class FakeHandle(Handle):
    def __init__(self, container_id: str, exit_code: int | None, run_seconds: float) -> None:
        self.container_id = container_id
        self._exit_code = exit_code
        self._run_seconds = run_seconds
        self._stopped = asyncio.Event()
        self._done = False

    async def wait(self) -> tuple[int, int | None, str]:
        if self._exit_code is None:
            await self._stopped.wait()
            self._done = True
            return 0, None, ""
        try:
            await asyncio.wait_for(self._stopped.wait(), self._run_seconds)
            code = 0
        except TimeoutError:
            code = self._exit_code
        self._done = True
        return code, None, ""

    async def stop(self, grace: float) -> None:
        self._stopped.set()

    async def exec(self, argv: list[str], seconds: float) -> tuple[int, str]:
        return 0, ""

    def exited(self) -> bool:
        return self._done


class FakeRuntime(Runtime):
    name = "fake"
    probes = False
    writes_volumes = False

    def __init__(self, start_delay: float = 0.0) -> None:
        self.start_delay = start_delay

    async def start(self, sandbox: Sandbox, launch: Launch) -> Handle:
        if self.start_delay > 0:
            await asyncio.sleep(self.start_delay)
        annotations = launch.pod.get("metadata", {}).get("annotations") or {}
        name = launch.container.get("name", "")

        def pick(key: str) -> str | None:
            value = annotations.get(f"{key}.{name}", annotations.get(key))
            return str(value) if value is not None else None

        code_text, seconds_text = pick("kubesim.io/fake-exit-code"), pick("kubesim.io/fake-run-seconds")
        try:
            code = int(code_text) if code_text is not None else None
            seconds = float(seconds_text) if seconds_text is not None else 0.0
        except ValueError:
            code, seconds = None, 0.0
        if code is None and launch.init and launch.container.get("restartPolicy") != "Always":
            code = 0  # an init container (not a sidecar) completes
        launch.log.open()
        return FakeHandle(launch.container_id, code, seconds)
