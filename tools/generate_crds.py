"""Write the two CRDs of Jupyternetes to crds/, generated from the pydantic models.

python tools/generate_crds.py           # (re)write crds/*.yaml
python tools/generate_crds.py --check   # exit 1 if crds/ differs from the models
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "operator"))

from jupyternetes.core.crdgen import all_crds, crd_yaml  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check that crds/ is up to date")
    parser.add_argument("--dest", type=Path, default=ROOT / "crds", help="output directory (default: crds/)")
    args = parser.parse_args(argv)
    stale = []
    for file, crd in all_crds().items():
        path = args.dest / file
        text = crd_yaml(crd)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
            continue
        args.dest.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python tools/generate_crds.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
