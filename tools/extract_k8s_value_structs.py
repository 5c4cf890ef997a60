"""Extract which struct-typed fields of the built-in Kubernetes types are Go values (not pointers), from the
OpenAPI v3 documents in the Kubernetes source (``api/openapi-spec/v3``).

Server-side apply records a field a request creates as owned (``".": {}`` in fieldsV1) only when the field
did not exist before: a pointer-to-struct field (``rollingUpdate``, ``securityContext``) is absent until
set, while a struct value (``strategy``, ``template``, ``resources``) always exists in Go. The OpenAPI v3
documents tell them apart: a struct value carries ``"default": {}``. kubesim's type definitions (from
kubernetes-validate) do not, so this tool writes the list to ``operator/kubesim/data/value_structs.json``
(committed; re-run after upgrading Kubernetes). Usage:
``python tools/extract_k8s_value_structs.py [--spec-dir DIR]``; the default directory is the
k8s.io/kubernetes module that ``k8s-local`` builds from, in Go's module cache.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from k8slocal.versions import DEFAULT_VERSION

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "operator" / "kubesim" / "data" / "value_structs.json"


def default_spec_dir(version: str = DEFAULT_VERSION) -> Path:
    cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout
    return Path(cache.strip()) / f"k8s.io/kubernetes@{version}" / "api" / "openapi-spec" / "v3"


def extract(spec_dir: Path) -> dict[str, list[str]]:
    """{definition name: [its struct-valued (non-pointer) fields]}, sorted."""
    found: dict[str, set[str]] = {}
    documents = sorted(spec_dir.glob("*.json"))
    if not documents:
        raise SystemExit(f"no OpenAPI v3 documents in {spec_dir}")
    for document in documents:
        schemas = json.loads(document.read_text()).get("components", {}).get("schemas", {})
        for name, schema in schemas.items():
            for prop, prop_schema in (schema.get("properties") or {}).items():
                if prop_schema.get("default") == {} and "allOf" in prop_schema:
                    found.setdefault(name, set()).add(prop)
    return {name: sorted(props) for name, props in sorted(found.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec-dir", type=Path, default=None, help="the api/openapi-spec/v3 directory")
    args = parser.parse_args()
    spec_dir = args.spec_dir or default_spec_dir()
    table = extract(spec_dir)
    OUT.write_text(json.dumps({"source": f"k8s.io/kubernetes@{DEFAULT_VERSION}", "structs": table}) + "\n")
    print(f"{OUT}: {len(table)} types, {sum(map(len, table.values()))} struct-valued fields")


if __name__ == "__main__":
    main()
