"""The helper the process runtime runs in place of a container's command when it needs privileges
(as root): ``python -I -S nsinit.py SPEC.json``. It is a standalone script (no kubesim imports, so it
starts in a few milliseconds) that

* ``run``: enters a private mount namespace, bind-mounts each volume at its ``mountPath`` (creating a
  missing mount point inside a throwaway overlay of its nearest existing ancestor, so the host's
  filesystem is not changed), makes read-only mounts read-only, makes the ``expose`` paths (the Python
  running the command, the pod's own directory) reachable for ``runAsUser`` (see ``_expose``), switches to
  ``runAsUser``/``runAsGroup`` when given, hides the image's ``hide`` programs, changes to the working
  directory and ``exec``\\ s the container's command;
* ``enter``: joins the mount namespace of a running container (for exec probes) and execs a command;
* ``probe``: checks that mount namespaces can be created here (exit status 0).

If the command cannot be started it writes the reason to the spec's ``error_file`` and exits 128, which
the kubelet reports as a ``StartError``.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            ctypes.c_ulong(flags),
            data.encode() if data is not None else None,
        ),
        f"mount {target}",
    )


def _private_namespace() -> None:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _existing_ancestor(path: str) -> str:
    cur = os.path.dirname(path.rstrip("/")) or "/"
    while not os.path.lexists(cur):
        cur = os.path.dirname(cur) or "/"
    return cur


def _makedirs(path: str, owner: tuple[int, int] | None) -> None:
    missing = []
    cur = path
    while not os.path.lexists(cur):
        missing.append(cur)
        cur = os.path.dirname(cur) or "/"
    for p in reversed(missing):
        os.mkdir(p, 0o755)
        if owner is not None:
            os.chown(p, *owner)


def _identity(spec: dict[str, Any]) -> tuple[int | None, set[int]]:
    """The uid the command will run as and its groups (as ``_drop_privileges`` sets them)."""
    uid: int | None = spec.get("uid")
    gid: int | None = spec.get("gid")
    if uid is None and gid is None:
        return None, set()
    group = gid if gid is not None else (uid or 0)
    return uid, {group, *(int(g) for g in spec.get("groups") or ())}


def _searchable(path: str, uid: int, groups: set[int]) -> bool:
    st = os.stat(path)
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & 0o100)
    if st.st_gid in groups:
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def _closed_ancestor(path: str, uid: int, groups: set[int]) -> str | None:
    """The highest directory above ``path`` that ``uid`` may not search (enter), if any."""
    cur = ""
    for part in [p for p in path.split("/") if p][:-1]:
        cur += "/" + part
        if not _searchable(cur, uid, groups):
            return cur
    return None


def _expose(spec: dict[str, Any], keep: list[str]) -> None:
    """Make the ``expose`` paths reachable at their own path for the user the command runs as.

    A container's image holds its own interpreter; a process container runs the host's, and the user of
    ``runAsUser`` may be unable to reach it (``/root/.pyenv/...`` under a ``/root`` of mode 0700). For each
    highest closed directory above an exposed path, this mount namespace gets a tmpfs over it (mode 0755)
    holding only the exposed paths, bind-mounted back (read-only unless asked otherwise): the user reaches
    them, and nothing else of that directory, and the host's permissions are not changed. ``keep`` are
    mount points made earlier in this namespace (the scratch tmpfs) that the new tmpfs must not hide."""
    uid, groups = _identity(spec)
    if uid is None or uid == 0:
        return
    by_closed: dict[str, list[dict[str, Any]]] = {}
    for entry in spec.get("expose") or ():
        path = os.path.normpath(entry["path"])
        if not os.path.isdir(path):
            continue
        closed = _closed_ancestor(path, uid, groups)
        if closed is not None:
            by_closed.setdefault(closed, []).append({**entry, "path": path})
    for closed, entries in sorted(by_closed.items()):
        entries.sort(key=lambda e: len(e["path"]))
        binds: list[dict[str, Any]] = []
        for entry in entries:
            if not any(_under(entry["path"], b["path"]) for b in binds):
                binds.append(entry)
        binds += [{"path": k, "readOnly": False} for k in keep if _under(k, closed) and k != closed]
        fds = [os.open(b["path"], os.O_PATH | os.O_CLOEXEC) for b in binds]
        _mount("tmpfs", closed, "tmpfs", 0, "mode=0755")
        for b, fd in zip(binds, fds, strict=True):
            os.makedirs(b["path"], mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", b["path"], None, MS_BIND | MS_REC)
            if b.get("readOnly", True):
                _mount(None, b["path"], None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
            os.close(fd)


def _setup_mounts(spec: dict[str, Any]) -> None:
    mounts: list[dict[str, Any]] = sorted(spec.get("mounts") or (), key=lambda m: m["target"].count("/"))
    targets = [m["target"] for m in mounts]
    owner = (
        (spec["uid"], spec["gid"] if spec.get("gid") is not None else spec["uid"])
        if spec.get("uid") is not None
        else None
    )
    # Sources are opened before anything is mounted: a later overlay must not shadow them.
    fds = [os.open(m["source"], os.O_PATH | os.O_CLOEXEC) for m in mounts]
    scratch = spec["scratch"]
    _mount("tmpfs", scratch, "tmpfs", 0, "mode=0755")
    _expose(spec, [scratch])
    # Directories that must exist before the binds (mount points not nested in another mount, the
    # working directory and HOME when they are outside every mount).
    tops = [t for t in targets if not any(o != t and _under(t, o) for o in targets)]
    extra = [d for d in spec.get("dirs") or () if not any(_under(d, t) for t in targets)]
    missing = [p for p in tops + extra if not os.path.lexists(p)]
    bases: list[str] = []
    for p in missing:
        base = _existing_ancestor(p)
        if base != "/" and base not in bases:
            bases.append(base)
    bases = [b for b in bases if not any(o != b and _under(b, o) for o in bases)]
    if bases:
        for i, base in enumerate(bases):
            upper, work = f"{scratch}/{i}/upper", f"{scratch}/{i}/work"
            os.makedirs(upper)
            os.makedirs(work)
            st = os.stat(base)
            os.chown(upper, st.st_uid, st.st_gid)
            os.chmod(upper, st.st_mode & 0o7777)
            try:
                _mount("overlay", base, "overlay", 0, f"lowerdir={base},upperdir={upper},workdir={work}")
            except OSError as exc:
                sys.stderr.write(
                    f"kubesim: overlay on {base} failed ({exc}); creating mount points on the host\n"
                )
    # The working directory and HOME first, owned by the user (an image makes its user's home theirs); a
    # mount point's missing parents are root's, as a container runtime makes them.
    for p in sorted(missing, key=lambda p: p not in extra):
        _makedirs(p, owner if p in extra else None)
    for m, fd in zip(mounts, fds, strict=True):
        target = m["target"]
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            _makedirs(target, None)
        elif not os.path.lexists(target):
            _makedirs(os.path.dirname(target), None)
            with open(target, "a"):
                pass
        _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        if m.get("readOnly"):
            _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
        os.close(fd)
    for d in spec.get("dirs") or ():
        if not os.path.lexists(d):
            _makedirs(d, owner)


def _hide(spec: dict[str, Any]) -> None:
    """Cover each of the image's ``hide`` files with an empty one that nobody may execute: a program the
    image would not have is not found on PATH (``which`` and ``execvp`` skip what is not executable)."""
    paths = spec.get("hide") or ()
    if not paths:
        return
    empty = os.path.join(spec["scratch"], "hidden")
    with open(empty, "w"):
        pass
    os.chmod(empty, 0o444)
    for path in paths:
        if os.path.isfile(path):
            _mount(empty, path, None, MS_BIND)


def _drop_privileges(spec: dict[str, Any]) -> None:
    uid: int | None = spec.get("uid")
    gid: int | None = spec.get("gid")
    if uid is None and gid is None:
        return
    groups = [int(g) for g in spec.get("groups") or ()]
    group = gid if gid is not None else (uid or 0)
    os.setgroups(sorted({group, *groups}))
    os.setgid(group)
    if uid is not None:
        os.setuid(uid)


def _fail(spec: dict[str, Any], message: str) -> None:
    fd = spec.get("error_fd")
    if fd is not None:
        try:
            os.write(fd, message.encode())
        except OSError:
            pass
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(128)


def main(argv: list[str]) -> None:
    if argv[1:] == ["--probe"]:
        try:
            _private_namespace()
        except OSError:
            os._exit(1)
        os._exit(0)
    with open(argv[1]) as fh:
        spec: dict[str, Any] = json.load(fh)
    if spec.get("error_file"):
        # Opened before any mount: a tmpfs of _expose may cover the directory it is in.
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
            spec["error_fd"] = os.open(spec["error_file"], flags)
        except OSError:
            pass
    try:
        if spec.get("enter_pid"):
            fd = os.open(f"/proc/{int(spec['enter_pid'])}/ns/mnt", os.O_RDONLY)
            _check(_libc.setns(fd, CLONE_NEWNS), "setns")
            os.close(fd)
        elif spec.get("namespace"):
            _private_namespace()
            _setup_mounts(spec)
            _hide(spec)
        elif spec.get("dirs"):
            for d in spec["dirs"]:
                os.makedirs(d, exist_ok=True)
    except OSError as exc:
        _fail(
            spec,
            f"failed to create containerd task: failed to create shim task: OCI runtime create "
            f"failed: runc create failed: unable to start container process: error during container "
            f"init: {exc}: unknown",
        )
    try:
        os.chdir(spec.get("cwd") or "/")
    except OSError as exc:
        _fail(
            spec,
            f"failed to create containerd task: failed to create shim task: OCI runtime create failed: "
            f"runc create failed: unable to start container process: chdir to cwd "
            f'("{spec.get("cwd")}") set in config.json failed: {exc.strerror.lower()}: unknown'
            if exc.strerror
            else str(exc),
        )
    try:
        _drop_privileges(spec)
    except OSError as exc:
        _fail(spec, f"failed to create containerd task: cannot switch user: {exc}")
    args: list[str] = spec["argv"]
    env: dict[str, str] = spec["env"]
    try:
        os.execvpe(args[0], args, env)
    except FileNotFoundError:
        where = "in $PATH" if "/" not in args[0] else ""
        reason = (
            f'exec: "{args[0]}": executable file not found {where}'.rstrip()
            if where
            else f'exec: "{args[0]}": stat {args[0]}: no such file or directory'
        )
        _fail(
            spec,
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
            f"runc create failed: unable to start container process: {reason}: unknown",
        )
    except OSError as exc:
        _fail(
            spec,
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
            f'runc create failed: unable to start container process: exec: "{args[0]}": '
            f"{(exc.strerror or str(exc)).lower()}: unknown",
        )


if __name__ == "__main__":
    main(sys.argv)
