"""Container log files in the CRI format and the ``pods/log`` endpoint (``kubectl logs [-f] [--tail]``).

Each container instance writes ``<state>/kubelet/pods/<uid>/logs/<container>/<restartCount>.log`` with one
record per line, as containerd does: ``2024-01-01T00:00:00.000000001Z stdout F text`` (``P`` marks a
partial line). ``previous=true`` reads the instance before the current one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kubesim import errors
from kubesim.objectmeta import parse_time

MAX_LINE = 16 * 1024


def _stamp() -> str:
    t = dt.datetime.now(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


class LogFile:
    """One container instance's log; a writer appends records, followers wait for more."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.finished = False
        self._fh: Any = None
        self._changed = asyncio.Event()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115

    def write(self, stream: str, data: bytes) -> None:
        """Append output (may hold several lines; a missing final newline makes a partial record)."""
        if self._fh is None:
            self.open()
        stamp = _stamp().encode()
        out = bytearray()
        for line in data.splitlines(keepends=True):
            complete = line.endswith(b"\n")
            body = line[:-1] if complete else line
            if body.endswith(b"\r") and complete:
                body = body[:-1]
            while len(body) > MAX_LINE:
                out += stamp + b" " + stream.encode() + b" P " + body[:MAX_LINE] + b"\n"
                body = body[MAX_LINE:]
            out += stamp + b" " + stream.encode() + (b" F " if complete else b" P ") + body + b"\n"
        try:
            self._fh.write(bytes(out))
        except (OSError, ValueError):
            return
        self.notify()

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def close(self) -> None:
        self.finished = True
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
            self._fh = None
        self.notify()

    async def changed(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            pass


@dataclass
class Record:
    stamp: str
    stream: str
    partial: bool
    text: bytes


def parse(data: bytes) -> tuple[list[Record], bytes]:
    """Records in data and the unparsed tail (an incomplete last line)."""
    records = []
    lines = data.split(b"\n")
    rest = lines.pop()
    for line in lines:
        parts = line.split(b" ", 3)
        if len(parts) < 3:
            continue
        text = parts[3] if len(parts) > 3 else b""
        records.append(Record(parts[0].decode(), parts[1].decode(), parts[2] == b"P", text))
    return records, rest


@dataclass
class LogOptions:
    tail_lines: int | None = None
    since: dt.datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    follow: bool = False
    previous: bool = False


def parse_options(query: Any) -> LogOptions:
    opts = LogOptions()

    def flag(name: str) -> bool:
        return str(query.get(name, "")).lower() in ("true", "1")

    try:
        if query.get("tailLines") not in (None, ""):
            opts.tail_lines = max(int(query["tailLines"]), 0)
        if query.get("limitBytes") not in (None, ""):
            opts.limit_bytes = int(query["limitBytes"])
        if query.get("sinceSeconds") not in (None, ""):
            opts.since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=int(query["sinceSeconds"]))
        elif query.get("sinceTime"):
            opts.since = parse_time(str(query["sinceTime"]))
    except ValueError as exc:
        raise errors.bad_request(f"invalid log options: {exc}") from exc
    opts.timestamps = flag("timestamps")
    opts.follow = flag("follow")
    opts.previous = flag("previous")
    return opts


class Formatter:
    """Turns records into the bytes ``kubectl logs`` prints, applying since/timestamps/limitBytes."""

    def __init__(self, opts: LogOptions) -> None:
        self.opts = opts
        self.sent = 0
        self._at_line_start = True

    def _keep(self, rec: Record) -> bool:
        if self.opts.since is None:
            return True
        try:
            return parse_time(rec.stamp[:26] + "Z" if len(rec.stamp) > 27 else rec.stamp) >= self.opts.since
        except ValueError:
            return True

    def format(self, records: list[Record]) -> bytes:
        out = bytearray()
        for rec in records:
            if not self._keep(rec):
                continue
            if self.opts.timestamps and self._at_line_start:
                out += rec.stamp.encode() + b" "
            out += rec.text
            if not rec.partial:
                out += b"\n"
            self._at_line_start = not rec.partial
        if self.opts.limit_bytes is not None:
            room = max(self.opts.limit_bytes - self.sent, 0)
            del out[room:]
        self.sent += len(out)
        return bytes(out)

    @property
    def exhausted(self) -> bool:
        return self.opts.limit_bytes is not None and self.sent >= self.opts.limit_bytes


def tail(records: list[Record], lines: int) -> list[Record]:
    if lines == 0:
        return []
    count = 0
    for i in range(len(records) - 1, -1, -1):
        if not records[i].partial or i == len(records) - 1:
            count += 1
            if count > lines:
                return records[i + 1 :]
    return records


LogLookup = Callable[[str, str, str, bool], LogFile]


def _read_from(path: Path, offset: int) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read()
    except OSError:
        return None


async def serve(
    request: web.Request,
    log: LogFile,
    opts: LogOptions,
    still_current: Callable[[], bool],
    stopping: asyncio.Event,
) -> web.StreamResponse:
    """Answer a log request from log (streaming while following)."""
    formatter = Formatter(opts)
    try:
        data = log.path.read_bytes()
    except FileNotFoundError:
        data = b""
    records, rest = parse(data)
    offset = len(data) - len(rest)
    if opts.tail_lines is not None:
        records = tail(records, opts.tail_lines)
    body = formatter.format(records)
    if not opts.follow:
        return web.Response(body=body, content_type="text/plain", charset="utf-8")
    resp = web.StreamResponse(
        status=200,
        headers={"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache, private"},
    )
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        if body:
            await resp.write(body)
        while not formatter.exhausted and not stopping.is_set():
            finished = log.finished or not still_current()
            chunk = _read_from(log.path, offset)
            if chunk is None:
                break
            if chunk:
                records, rest = parse(chunk)
                offset += len(chunk) - len(rest)
                out = formatter.format(records)
                if out:
                    await resp.write(out)
                continue
            if finished:
                break
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            await log.changed(0.5)
    except (ConnectionResetError, asyncio.CancelledError):
        return resp
    try:
        await resp.write_eof()
    except ConnectionResetError:
        pass
    return resp
