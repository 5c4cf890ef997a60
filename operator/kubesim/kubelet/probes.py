"""Container probes (httpGet, tcpSocket, exec; grpc is checked as a TCP connect) and their thresholds.

Failure messages follow the kubelet's (``Get "http://10.0.0.1:80/": dial tcp 10.0.0.1:80: connect:
connection refused``), since users and tests read them in ``Unhealthy`` events.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Exec = Callable[[list[str], float], Awaitable[tuple[int, str]]]


@dataclass
class ProbeTarget:
    host: str
    ports: Mapping[str, int] = field(default_factory=dict)
    exec: Exec | None = None


def probe_settings(probe: Obj) -> tuple[float, float, float, int, int]:
    """(initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold, failureThreshold)."""
    return (
        float(probe.get("initialDelaySeconds") or 0),
        float(probe.get("periodSeconds") or 10),
        float(probe.get("timeoutSeconds") or 1),
        int(probe.get("successThreshold") or 1),
        int(probe.get("failureThreshold") or 3),
    )


def _port(value: Any, target: ProbeTarget) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    if text in target.ports:
        return int(target.ports[text])
    raise ValueError(f"unable to find port {text!r}")


def _dial_error(host: str, port: int, exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(exc, TimeoutError):
        return f"dial tcp {host}:{port}: i/o timeout"
    return f"dial tcp {host}:{port}: {exc}"


async def _http(probe: Obj, target: ProbeTarget, seconds: float) -> tuple[bool, str]:
    spec = probe["httpGet"]
    host = spec.get("host") or target.host
    port = _port(spec.get("port"), target)
    scheme = str(spec.get("scheme") or "HTTP").upper()
    path = spec.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme.lower()}://{host}:{port}{path}"
    ctx: ssl.SSLContext | None = None
    if scheme == "HTTPS":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    headers = {
        "Host": f"{host}:{port}",
        "User-Agent": "kube-probe/1.34",
        "Accept": "*/*",
        "Connection": "close",
    }
    for h in spec.get("httpHeaders") or ():
        if h.get("name"):
            headers[str(h["name"])] = str(h.get("value", ""))
    try:
        async with asyncio.timeout(seconds):
            try:
                reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
            except OSError as exc:
                return False, f'Get "{url}": {_dial_error(host, port, exc)}'
            try:
                head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                writer.write(head.encode("latin-1") + b"\r\n")
                await writer.drain()
                line = await reader.readline()
            finally:
                writer.close()
                try:
                    await writer.wait_closed()
                except (OSError, ssl.SSLError):
                    pass
    except TimeoutError:
        return (
            False,
            f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
        )
    except (OSError, ssl.SSLError) as exc:
        return False, f'Get "{url}": {exc}'
    parts = line.decode("latin-1").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return False, f'Get "{url}": malformed HTTP response {line[:80]!r}'
    code = int(parts[1])
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


async def _tcp(host: str, port: int, seconds: float) -> tuple[bool, str]:
    try:
        async with asyncio.timeout(seconds):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as exc:
        return False, _dial_error(host, port, exc)
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True, ""


async def probe_once(probe: Obj, target: ProbeTarget) -> tuple[bool, str]:
    """Run one probe: (success, failure message)."""
    _, _, timeout, _, _ = probe_settings(probe)
    try:
        if probe.get("httpGet") is not None:
            return await _http(probe, target, timeout)
        if probe.get("tcpSocket") is not None:
            spec = probe["tcpSocket"]
            return await _tcp(spec.get("host") or target.host, _port(spec.get("port"), target), timeout)
        if probe.get("grpc") is not None:
            return await _tcp(target.host, _port(probe["grpc"].get("port"), target), timeout)
        if probe.get("exec") is not None:
            argv = [str(a) for a in probe["exec"].get("command") or ()]
            if target.exec is None:
                return True, ""
            try:
                code, output = await target.exec(argv, timeout)
            except TimeoutError:
                return False, f"command {argv!r} timed out"
            if code == 0:
                return True, ""
            return False, output.strip() or f"command {argv!r} exited with {code}"
    except ValueError as exc:
        return False, str(exc)
    return False, "probe has no handler"


class ProbeResult:
    """Consecutive success/failure counting against successThreshold/failureThreshold."""

    def __init__(self, probe: Obj, initial: bool | None) -> None:
        _, _, _, self.success_threshold, self.failure_threshold = probe_settings(probe)
        self.value = initial
        self._successes = 0
        self._failures = 0

    def record(self, ok: bool) -> bool:
        """Record a result; True when the overall value changed."""
        before = self.value
        if ok:
            self._failures = 0
            self._successes += 1
            if self._successes >= self.success_threshold:
                self.value = True
        else:
            self._successes = 0
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self.value = False
        return before != self.value
