"""``/openapi/v2`` in protobuf (gnostic's ``openapi.v2.Document``), which client-go asks for.

kubectl falls back to the v2 document, requested only as
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``, when its OpenAPI v3 index lacks a
group-version (a CRD created earlier in the same ``kubectl apply``). The encoding covers what clients read
from it: ``swagger``, ``info`` and every schema of ``definitions`` with its vendor extensions
(``x-kubernetes-group-version-kind``, patch strategies, list types); ``paths`` are left out. Field numbers
are those of ``openapiv2/OpenAPIv2.proto`` (checked against the descriptor embedded in kubectl 1.34).
Values of ``Any`` (defaults, enums, examples, vendor extensions) are carried as YAML text, as gnostic
does; JSON is valid YAML.
"""

from __future__ import annotations

import json
import struct
from typing import Any

# Clients ask for ".spec.v2@v1.0+protobuf"; kube-openapi answers with this spelling (Go's mime parser
# rejects "@").
CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

# openapi.v2.Schema fields: JSON key -> (number, kind)
_SCHEMA_FIELDS: dict[str, tuple[int, str]] = {
    "$ref": (1, "string"),
    "format": (2, "string"),
    "title": (3, "string"),
    "description": (4, "string"),
    "default": (5, "any"),
    "multipleOf": (6, "double"),
    "maximum": (7, "double"),
    "exclusiveMaximum": (8, "bool"),
    "minimum": (9, "double"),
    "exclusiveMinimum": (10, "bool"),
    "maxLength": (11, "int"),
    "minLength": (12, "int"),
    "pattern": (13, "string"),
    "maxItems": (14, "int"),
    "minItems": (15, "int"),
    "uniqueItems": (16, "bool"),
    "maxProperties": (17, "int"),
    "minProperties": (18, "int"),
    "required": (19, "strings"),
    "enum": (20, "anys"),
    "additionalProperties": (21, "additional"),
    "type": (22, "type"),
    "items": (23, "items"),
    "allOf": (24, "schemas"),
    "properties": (25, "properties"),
    "discriminator": (26, "string"),
    "readOnly": (27, "bool"),
    "example": (30, "any"),
}
_SCHEMA_VENDOR_EXTENSION = 31
_DOC_SWAGGER, _DOC_INFO, _DOC_DEFINITIONS = 1, 2, 9
_INFO_TITLE, _INFO_VERSION = 1, 2


def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _string(num: int, value: str) -> bytes:
    return _len(num, value.encode())


def _any(num: int, value: Any) -> bytes:
    return _len(num, _string(2, json.dumps(value, separators=(",", ":"), ensure_ascii=False)))


def _named(num: int, name: str, value: bytes) -> bytes:
    return _len(num, _string(1, name) + _len(2, value))


def schema(s: Any) -> bytes:
    """One ``openapi.v2.Schema`` message."""
    if not isinstance(s, dict):
        return b""
    out = bytearray()
    for key, value in s.items():
        spec = _SCHEMA_FIELDS.get(key)
        if spec is None:
            if key.startswith("x-"):
                out += _len(_SCHEMA_VENDOR_EXTENSION, _string(1, key) + _any(2, value))
            continue
        num, kind = spec
        if kind == "string":
            out += _string(num, str(value))
        elif kind == "bool":
            out += _varint(num << 3) + (b"\x01" if value else b"\x00")
        elif kind == "int":
            out += _varint(num << 3) + _varint(int(value))
        elif kind == "double":
            out += _varint(num << 3 | 1) + struct.pack("<d", float(value))
        elif kind == "any":
            out += _any(num, value)
        elif kind == "strings":
            for v in value or ():
                out += _string(num, str(v))
        elif kind == "anys":
            for v in value or ():
                out += _any(num, v)
        elif kind == "additional":
            out += _len(
                num,
                _len(1, schema(value))
                if isinstance(value, dict)
                else _varint(2 << 3) + (b"\x01" if value else b"\x00"),
            )
        elif kind == "type":
            types = [value] if isinstance(value, str) else list(value or ())
            out += _len(num, b"".join(_string(1, str(t)) for t in types))
        elif kind == "items":
            items = value if isinstance(value, list) else [value]
            out += _len(num, b"".join(_len(1, schema(i)) for i in items))
        elif kind == "schemas":
            for v in value or ():
                out += _len(num, schema(v))
        elif kind == "properties" and isinstance(value, dict):
            out += _len(num, b"".join(_named(1, name, schema(sub)) for name, sub in value.items()))
    return bytes(out)


def encode_v2(doc: dict[str, Any]) -> bytes:
    """The ``openapi.v2.Document`` of a v2 (Swagger) JSON document: swagger, info and definitions."""
    out = bytearray(_string(_DOC_SWAGGER, str(doc.get("swagger", "2.0"))))
    info = doc.get("info") or {}
    out += _len(
        _DOC_INFO,
        _string(_INFO_TITLE, str(info.get("title", "")))
        + _string(_INFO_VERSION, str(info.get("version", ""))),
    )
    definitions = doc.get("definitions") or {}
    out += _len(_DOC_DEFINITIONS, b"".join(_named(1, name, schema(s)) for name, s in definitions.items()))
    return bytes(out)
