"""Extract the Kubernetes protobuf schemas (field numbers, names, types) that kubesim needs to decode the
``application/vnd.kubernetes.protobuf`` request bodies of Go clients, from a Go client binary.

client-go's typed clientsets (kubectl ``create``/``auth can-i``, helm's release storage) send built-in
objects as protobuf, and the real server accepts them. The schemas are the ``generated.proto`` files of
k8s.io/api and k8s.io/apimachinery; every Go binary that links them (kubectl, helm) embeds them as gzipped
``FileDescriptorProto`` blobs. This tool finds those blobs, parses them with a minimal protobuf reader and
writes a compact JSON table to ``operator/kubesim/data/proto_schema.json`` (committed; re-run after
upgrading kubectl). Usage: ``python tools/extract_k8s_proto_schema.py [--binary .venv/bin/kubectl]``.
"""

from __future__ import annotations

import argparse
import json
import re
import zlib
from pathlib import Path
from typing import Any

from kubesim.protobuf import wire_fields as fields

REPO = Path(__file__).resolve().parents[1]
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
# The API groups kubesim serves (stable versions) and the apimachinery packages they use.
WANTED = re.compile(
    r"^k8s\.io/(api/(core|apps|rbac|authorization|authentication|coordination|events|storage|networking|policy"
    r"|batch|autoscaling|scheduling|discovery)/v1|apimachinery/pkg/(apis/meta/v1|runtime|runtime/schema"
    r"|api/resource|util/intstr))/generated\.proto$"
)


def _message(buf: bytes, prefix: str, table: dict[str, Any]) -> None:
    name = ""
    raw_fields: list[bytes] = []
    nested: list[bytes] = []
    map_entry = False
    for num, _, value in fields(buf):
        if num == 1:
            name = value.decode()
        elif num == 2:
            raw_fields.append(value)
        elif num == 3:
            nested.append(value)
        elif num == 7:
            map_entry = any(n == 7 and v for n, _, v in fields(value))
    full = f"{prefix}.{name}"
    entry: list[list[Any]] = []
    for raw in raw_fields:
        f: dict[int, Any] = {n: v for n, _, v in fields(raw)}
        type_name = f.get(6, b"").decode().lstrip(".")
        entry.append([f[3], f[1].decode(), f[5], type_name, 1 if f.get(4) == 3 else 0])
    table[full] = {"fields": sorted(entry), **({"map": 1} if map_entry else {})}
    for sub in nested:
        _message(sub, full, table)


def extract(binary: Path) -> dict[str, Any]:
    data = binary.read_bytes()
    table: dict[str, Any] = {}
    files: list[str] = []
    for m in re.finditer(re.escape(GZIP_HEADER), data):
        try:
            blob = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[m.start() : m.start() + 4_000_000])
            top = fields(blob)
        except (zlib.error, ValueError, IndexError):
            continue
        names = [v for n, _, v in top if n == 1]
        if not names or not WANTED.match(names[0].decode(errors="replace")):
            continue
        files.append(names[0].decode())
        package = next(v.decode() for n, _, v in top if n == 2)
        for n, _, v in top:
            if n == 4:
                _message(v, package, table)
    return {"source": binary.name, "files": sorted(set(files)), "messages": dict(sorted(table.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=REPO / ".venv" / "bin" / "kubectl")
    parser.add_argument(
        "--out", type=Path, default=REPO / "operator" / "kubesim" / "data" / "proto_schema.json"
    )
    args = parser.parse_args()
    schema = extract(args.binary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(schema, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{len(schema['files'])} files, {len(schema['messages'])} messages -> {args.out}")


if __name__ == "__main__":
    main()
