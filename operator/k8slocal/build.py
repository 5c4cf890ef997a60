"""Build (or find) etcd, kube-apiserver, kube-controller-manager and kube-scheduler from source.

The binaries are test dependencies built with the machine's Go from the modules in ``tools/k8s/`` (the
default release) or from modules generated for another release, and cached outside the checkout:
``$JUPYTERNETES_CACHE`` (default ``~/.cache/jupyternetes``) ``/k8s/<version>-<os>-<arch>-<key>/``, where the
key hashes the go.mod and go.sum files and the build flags. A second build with the same inputs finds
them and compiles nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from k8slocal import gomod
from k8slocal.versions import DEFAULT_VERSION, Release

# Bump when the flags below change, so binaries built differently are not reused.
BUILD_SCHEME = "1"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
# Free space a cold build needs: Go's build cache (~3 GiB for the control plane), modules, binaries.
COLD_BUILD_BYTES = 6 * 1024**3
REPO_MODULES = Path(__file__).resolve().parents[2] / "tools" / "k8s"

Progress = Callable[[str], None]


class SetupError(Exception):
    """A problem with the machine or the build, said in one line (then, maybe, the tail of go's output)."""


@dataclass(frozen=True)
class Binaries:
    """Where the built binaries of one release are."""

    version: str
    directory: Path

    def path(self, component: str) -> Path:
        if component not in COMPONENTS:
            raise KeyError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")
        return self.directory / component

    @property
    def manifest(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.directory / "manifest.json").read_text())
        return data


def cache_root() -> Path:
    explicit = os.environ.get("JUPYTERNETES_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "jupyternetes"


def _stderr(line: str) -> None:
    print(f"k8s-local: {line}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ Go itself


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise SetupError(
            "`go` is not on PATH: install Go 1.24 or newer (https://go.dev/dl/ or your distribution's "
            "golang package) to build the upstream Kubernetes binaries"
        )
    return go


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def go_version(go: str) -> str:
    proc = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SetupError(f"`{go} env GOVERSION` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def check_go(go: str, required: str) -> str:
    """Go's version, if it is at least ``required`` (a go.mod ``go`` line). With ``GOTOOLCHAIN`` set, go
    fetches the toolchain a module needs itself, so any Go passes."""
    have = go_version(go)
    if os.environ.get("GOTOOLCHAIN", "") not in ("", "local", "auto") or _version_tuple(
        have.removeprefix("go")
    ) >= _version_tuple(required):
        return have
    raise SetupError(
        f"{have} is older than the Go {required} this release needs: install Go {required} or newer, "
        f"or set GOTOOLCHAIN=go{required} to let go fetch that toolchain"
    )


def _go_env(go: str, name: str) -> Path:
    proc = subprocess.run([go, "env", name], capture_output=True, text=True, check=False)
    return Path(proc.stdout.strip() or tempfile.gettempdir())


def check_disk(paths: Sequence[Path], needed: int = COLD_BUILD_BYTES) -> None:
    for path in paths:
        probe = path
        while not probe.exists():
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if free < needed:
            raise SetupError(
                f"only {free / 1024**3:.1f} GiB free on the disk holding {path}; a cold build of the "
                f"control plane needs about {needed / 1024**3:.0f} GiB (free some space, or point "
                "GOCACHE / JUPYTERNETES_CACHE at a bigger disk)"
            )


# ------------------------------------------------------------------------------------------ modules


@dataclass(frozen=True)
class Modules:
    """The two build modules of one release: k8s.io/kubernetes commands, and etcd."""

    release: Release
    kubernetes: Path
    etcd: Path

    def key(self) -> str:
        digest = hashlib.sha256(BUILD_SCHEME.encode())
        for directory in (self.kubernetes, self.etcd):
            for name in ("go.mod", "go.sum"):
                digest.update((directory / name).read_bytes())
        return digest.hexdigest()[:12]

    @property
    def etcd_version(self) -> str:
        version = gomod.requirement((self.etcd / "go.mod").read_text(), gomod.ETCD_SERVER)
        return version or "unknown"


def _run(argv: list[str], cwd: Path, what: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise _go_failure(what, proc.stdout + proc.stderr)
    return proc.stdout


def _go_failure(what: str, output: str) -> SetupError:
    if "no space left on device" in output:
        return SetupError(f"{what}: the disk is full (no space left on device); free some space")
    failing = re.findall(r"^# (\S+)", output, re.M)
    where = f" in package {failing[0]}" if failing else ""
    tail = "\n".join(output.strip().splitlines()[-20:])
    return SetupError(f"{what} failed{where}; the tail of go's output:\n{tail}")


def modules_for(release: Release, *, go: str, progress: Progress) -> Modules:
    """The committed modules for the default release; generated ones (cached) for any other."""
    if release.tag == DEFAULT_VERSION and (REPO_MODULES / "kubernetes" / "go.sum").exists():
        return Modules(release, REPO_MODULES / "kubernetes", REPO_MODULES / "etcd")
    root = cache_root() / "k8s" / "modules" / release.tag
    kube, etcd = root / "kubernetes", root / "etcd"
    if (kube / "go.sum").exists() and (etcd / "go.sum").exists():
        return Modules(release, kube, etcd)
    progress(f"writing build modules for Kubernetes {release} (go mod tidy; downloads its sources)")
    upstream = download_kubernetes(release, go=go)
    kube.mkdir(parents=True, exist_ok=True)
    etcd.mkdir(parents=True, exist_ok=True)
    kube_gomod = gomod.kubernetes_gomod(release, (upstream / "go.mod").read_text())
    etcd_version = gomod.etcd_version_of((upstream / "build" / "dependencies.yaml").read_text())
    (kube / "go.mod").write_text(kube_gomod)
    (etcd / "go.mod").write_text(gomod.etcd_gomod(etcd_version, gomod.go_directive(kube_gomod)))
    for directory in (kube, etcd):
        _run([go, "mod", "tidy"], directory, f"go mod tidy for {directory.name}")
    return Modules(release, kube, etcd)


def download_kubernetes(release: Release, *, go: str) -> Path:
    """The source of k8s.io/kubernetes at ``release`` in Go's module cache (downloaded if needed)."""
    with tempfile.TemporaryDirectory(prefix="k8s-local-") as tmp:
        out = _run(
            [go, "mod", "download", "-json", f"{gomod.KUBERNETES}@{release.tag}"],
            Path(tmp),
            f"downloading {gomod.KUBERNETES}@{release.tag}",
            env={**os.environ, "GO111MODULE": "on"},
        )
    info = json.loads(out)
    if info.get("Error"):
        raise SetupError(f"downloading {gomod.KUBERNETES}@{release.tag}: {info['Error']}")
    return Path(info["Dir"])


# ------------------------------------------------------------------------------------------ building


def _ldflags(release: Release, build_date: str) -> str:
    flags = ["-s", "-w"]
    # What hack/lib/version.sh stamps; "archive" is upstream's tree state for a build from a source archive.
    values = {
        "gitVersion": release.tag,
        "gitMajor": str(release.major),
        "gitMinor": str(release.minor),
        "gitTreeState": "archive",
        "buildDate": build_date,
    }
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        flags += [f"-X {package}.{key}={value}" for key, value in values.items()]
    return " ".join(flags)


def _release_date(release: Release, go: str) -> str:
    """The release's publication time from the module proxy (reproducible, unlike the build's clock)."""
    with tempfile.TemporaryDirectory(prefix="k8s-local-") as tmp:
        proc = subprocess.run(
            [go, "list", "-m", "-json", f"{gomod.KUBERNETES}@{release.tag}"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
    try:
        stamp = json.loads(proc.stdout)["Time"]
        return str(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%SZ"))
    except (ValueError, KeyError):
        return "1970-01-01T00:00:00Z"


def _compile(
    go: str,
    module: Path,
    packages: Sequence[str],
    output: str,
    ldflags: str,
    *,
    label: str,
    progress: Progress,
    log: Path,
) -> None:
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false"}
    listed = subprocess.run(
        [go, "list", "-deps", *packages], cwd=module, capture_output=True, text=True, check=False, env=env
    )
    if listed.returncode != 0:
        raise _go_failure(f"listing the packages of {label}", listed.stdout + listed.stderr)
    total = len(listed.stdout.split())
    argv = [go, "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", output, *packages]
    start = time.monotonic()
    last_report = start
    done = 0
    lines: list[str] = []
    with log.open("a") as log_file:
        log_file.write(f"$ {' '.join(argv)}\n")
        proc = subprocess.Popen(
            argv, cwd=module, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log_file.write(line)
            lines.append(line.rstrip("\n"))
            if re.fullmatch(r"[\w./~-]+", line.strip()):
                done += 1
            now = time.monotonic()
            if now - last_report >= 15:
                last_report = now
                progress(
                    f"{label}: compiled {done} of at most {total} packages "
                    f"({now - start:.0f} s so far; now {line.strip()[:80]})"
                )
        code = proc.wait()
    if code != 0:
        raise _go_failure(f"building {label}", "\n".join(lines))
    progress(f"{label}: built in {time.monotonic() - start:.0f} s ({done} packages compiled)")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build of a key at a time (make k8s and a test run may race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _complete(directory: Path) -> bool:
    return (directory / "manifest.json").exists() and all((directory / c).exists() for c in COMPONENTS)


def target_dir(modules: Modules) -> Path:
    arch = f"{platform.system().lower()}-{_goarch()}"
    return cache_root() / "k8s" / f"{modules.release.tag}-{arch}-{modules.key()}"


def _goarch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def find(version: str = DEFAULT_VERSION) -> Binaries | None:
    """The cached binaries of ``version``, or None; never builds, never runs go."""
    release = Release.parse(version)
    if release.tag == DEFAULT_VERSION and (REPO_MODULES / "kubernetes" / "go.sum").exists():
        modules = Modules(release, REPO_MODULES / "kubernetes", REPO_MODULES / "etcd")
    else:
        root = cache_root() / "k8s" / "modules" / release.tag
        if not (root / "kubernetes" / "go.sum").exists():
            return None
        modules = Modules(release, root / "kubernetes", root / "etcd")
    directory = target_dir(modules)
    return Binaries(release.tag, directory) if _complete(directory) else None


def ensure(version: str = DEFAULT_VERSION, *, progress: Progress = _stderr) -> Binaries:
    """The binaries of ``version``: found in the cache, or built (minutes when cold) and cached."""
    release = Release.parse(version)
    found = find(release.tag)
    if found is not None:
        return found
    go = _go()
    modules = modules_for(release, go=go, progress=progress)
    final = target_dir(modules)
    with _locked(final.with_name(final.name + ".lock")):
        if _complete(final):
            return Binaries(release.tag, final)
        have = check_go(go, gomod.go_directive((modules.kubernetes / "go.mod").read_text()))
        check_disk([final.parent, _go_env(go, "GOCACHE"), _go_env(go, "GOMODCACHE")])
        staging = final.with_name(final.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        log = final.parent / f"{final.name}.build.log"
        log.write_text("")
        progress(
            f"building Kubernetes {release} and etcd {modules.etcd_version} from source with {have} "
            f"into {final} (a cold build takes 10-20 minutes on 2 cores; go's output: {log})"
        )
        started = time.monotonic()
        progress("step 1/3: downloading modules")
        for directory in (modules.kubernetes, modules.etcd):
            _run([go, "mod", "download"], directory, f"downloading the modules of {directory.name}")
        ldflags = _ldflags(release, _release_date(release, go))
        progress("step 2/3: compiling etcd")
        _compile(
            go,
            modules.etcd,
            [gomod.ETCD_SERVER],
            str(staging / "etcd"),  # not "v3", the package path's last element
            "-s -w",
            label="etcd",
            progress=progress,
            log=log,
        )
        progress("step 3/3: compiling kube-apiserver, kube-controller-manager, kube-scheduler")
        _compile(
            go,
            modules.kubernetes,
            gomod.KUBERNETES_COMMANDS,
            str(staging) + os.sep,
            ldflags,
            label="kube-apiserver, kube-controller-manager, kube-scheduler",
            progress=progress,
            log=log,
        )
        reported = _verify(staging, release)
        sizes = {c: (staging / c).stat().st_size for c in COMPONENTS}
        manifest = {
            "kubernetes": release.tag,
            "etcd": modules.etcd_version,
            "go": have,
            "built": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "buildSeconds": round(time.monotonic() - started, 1),
            "sizes": sizes,
            "versions": reported,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        progress(f"built in {manifest['buildSeconds']} s; {sum(sizes.values()) / 1024**2:.0f} MiB in {final}")
        return Binaries(release.tag, final)


def _verify(directory: Path, release: Release) -> dict[str, str]:
    """Each binary runs and reports the release it was built as."""
    reported: dict[str, str] = {}
    for component in COMPONENTS:
        proc = subprocess.run(
            [str(directory / component), "--version"], capture_output=True, text=True, check=False
        )
        text = (proc.stdout + proc.stderr).strip()
        if proc.returncode != 0:
            raise SetupError(f"the freshly built {component} does not run: {text[-300:]}")
        reported[component] = text.splitlines()[0] if text else ""
        if component != "etcd" and release.tag not in text:
            raise SetupError(f"{component} --version says {text!r}, not {release.tag}")
    return reported
