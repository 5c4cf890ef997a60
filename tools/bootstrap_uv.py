"""Install uv, the lock's tool, into a fresh venv with pip: the version and hashes requirements/dev.txt names.

``make venv`` runs it once, in a venv that ``python -m venv`` just made (it has pip); uv then makes that venv
exactly what the lock says (``uv pip sync``), uv itself included. Usage:
``python tools/bootstrap_uv.py [--lock requirements/dev.txt]`` (the Python that runs it is the one uv goes
into).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "requirements" / "dev.txt"


def uv_requirement(lock_text: str) -> str:
    """uv's entry of a hashed requirements file: its ``uv==X`` line and the ``--hash`` lines continuing
    it."""
    match = re.search(r"^uv==\S+(?: ;[^\\\n]*)?(?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+", lock_text, re.M)
    if match is None:
        raise SystemExit("the lock names no hashed uv==VERSION: run `make lock` (uv is in the dev extra)")
    return match.group(0) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lock", type=Path, default=LOCK)
    args = parser.parse_args()
    requirement = uv_requirement(args.lock.read_text())
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as req:
        req.write(requirement)
        req.flush()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--require-hashes",
                "-r",
                req.name,
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
