"""Decoding of ``application/vnd.kubernetes.protobuf`` request bodies into the objects' JSON form.

client-go's typed clientsets send built-in objects as protobuf (kubectl ``create``/``auth can-i``, helm's
release Secrets, DeleteOptions of typed deletes) and do not fall back to JSON, so kubesim must read them.
Responses stay JSON: those clients accept both (``Accept: application/vnd.kubernetes.protobuf,
application/json``). The schemas (field numbers, names, types) come from ``data/proto_schema.json``,
extracted from kubectl's embedded descriptors by ``tools/extract_k8s_proto_schema.py``.

Simplification: Go's protobuf encoding writes every non-pointer field, empty or not, and the schema does
not say which fields are pointers; so empty strings, zero numbers, ``false`` and zero times are dropped
(as ``omitempty`` does in JSON) except for the pointer fields listed in ``_KEEP_ZERO``, where
``0``/``false`` mean something (``replicas: 0``, ``gracePeriodSeconds: 0``,
``automountServiceAccountToken: false``...). Empty objects are kept, as Go's JSON keeps structs.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
from functools import cache
from importlib import resources
from typing import Any

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
_TIME = f"{_META}.Time"
_MICRO_TIME = f"{_META}.MicroTime"
_DURATION = f"{_META}.Duration"
_FIELDS_V1 = f"{_META}.FieldsV1"
_QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"

# Pointer fields (Go *int32/*int64/*bool) whose zero value is meaningful and must survive decoding.
_KEEP_ZERO = frozenset(
    {
        "replicas",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
        "backoffLimit",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
        "defaultMode",
        "mode",
        "priority",
        "terminationGracePeriodSeconds",
        "runAsUser",
        "runAsGroup",
        "fsGroup",
        "expirationSeconds",
        "gracePeriodSeconds",
        "tolerationSeconds",
        "partition",
        "leaseDurationSeconds",
        "leaseTransitions",
        "automountServiceAccountToken",
        "immutable",
        "optional",
        "privileged",
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "readOnlyRootFilesystem",
        "enableServiceLinks",
        "shareProcessNamespace",
        "setHostnameAsFQDN",
        "hostUsers",
        "orphanDependents",
        "suspend",
        "manualSelector",
        "allocateLoadBalancerNodePorts",
        "controller",
        "blockOwnerDeletion",
        "ignoreDryRun",
        "ready",
        "serving",
        "terminating",
    }
)

# Go structs embedded with ``json:",inline"``: protobuf nests them under a field, JSON flattens them.
_INLINE = frozenset(
    {
        "k8s.io.api.core.v1.VolumeSource",
        "k8s.io.api.core.v1.PersistentVolumeSource",
        "k8s.io.api.core.v1.ProbeHandler",
        "k8s.io.api.core.v1.EphemeralContainerCommon",
        "k8s.io.api.networking.v1.IngressRuleValue",
    }
)

_INT_TYPES = frozenset({3, 4, 5, 13, 17, 18})  # int64 uint64 int32 uint32 sint32 sint64
_SINT = frozenset({17, 18})


class ProtobufError(ValueError):
    pass


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("kubesim").joinpath("data/proto_schema.json").read_text(encoding="utf-8")
    messages: dict[str, Any] = json.loads(text)["messages"]
    return {
        name: ({f[0]: (f[1], f[2], f[3], bool(f[4])) for f in m["fields"]}, bool(m.get("map")))
        for name, m in messages.items()
    }


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def wire_fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(number, wire type, value) of each field of a message; length-delimited values are bytes. Also
    what tools/extract_k8s_proto_schema.py reads kubectl's embedded descriptors with."""
    return _fields(buf)


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        value: Any
        if wt == 0:
            value, pos = _varint(buf, pos)
        elif wt == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wt == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wt == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wt}")
        if pos > n:
            raise ProtobufError("truncated message")
        out.append((num, wt, value))
    return out


def _scalar(ftype: int, wt: int, value: Any) -> Any:
    if ftype in _INT_TYPES:
        if ftype in _SINT:
            return (value >> 1) ^ -(value & 1)
        if ftype in (3, 5) and value >= 1 << 63:
            value -= 1 << 64
        return int(value)
    if ftype == 8:
        return bool(value)
    if ftype == 9:
        return bytes(value).decode("utf-8")
    if ftype == 12:
        return base64.b64encode(value).decode()
    if ftype == 1:
        return struct.unpack("<d", value)[0]
    if ftype == 2:
        return struct.unpack("<f", value)[0]
    if ftype in (6, 16):
        return struct.unpack("<q" if ftype == 16 else "<Q", value)[0]
    if ftype in (7, 15):
        return struct.unpack("<i" if ftype == 15 else "<I", value)[0]
    if ftype == 14:
        return int(value)
    raise ProtobufError(f"unsupported field type {ftype}")


def _packed(ftype: int, buf: bytes) -> list[Any]:
    out: list[Any] = []
    pos = 0
    while pos < len(buf):
        if ftype in (1, 6, 16):
            out.append(_scalar(ftype, 1, buf[pos : pos + 8]))
            pos += 8
        elif ftype in (2, 7, 15):
            out.append(_scalar(ftype, 5, buf[pos : pos + 4]))
            pos += 4
        else:
            v, pos = _varint(buf, pos)
            out.append(_scalar(ftype, 0, v))
    return out


def _time(buf: bytes, micro: bool) -> str | None:
    f = {n: v for n, _, v in _fields(buf)}
    seconds = f.get(1, 0)
    if seconds >= 1 << 63:
        seconds -= 1 << 64
    nanos = f.get(2, 0)
    if not seconds and not nanos:
        return None
    stamp = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    if micro:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _go_duration(nanos: int) -> str:
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    hours, rem = divmod(nanos, 3600 * 10**9)
    minutes, rem = divmod(rem, 60 * 10**9)
    seconds = rem / 10**9
    out = ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    out += f"{seconds:g}s"
    return sign + out


def _is_empty(value: Any) -> bool:
    # Empty objects stay: Go's JSON encoding never omits a struct, and an empty pointer struct means
    # something (``emptyDir: {}``).
    if isinstance(value, dict):
        return False
    return value is None or value == "" or value == 0 or value is False or value == []


def decode_message(type_name: str, buf: bytes) -> Any:
    """One message as its JSON value (a dict for ordinary messages; str/int/None for the special types)."""
    if type_name in (_TIME, _MICRO_TIME):
        return _time(buf, type_name == _MICRO_TIME)
    if type_name == _QUANTITY:
        f = {n: v for n, _, v in _fields(buf)}
        return bytes(f.get(1, b"")).decode() or None
    if type_name == _INT_OR_STRING:
        f = {n: v for n, _, v in _fields(buf)}
        if f.get(1, 0) == 1:
            return bytes(f.get(3, b"")).decode()
        v = f.get(2, 0)
        return v - (1 << 64) if v >= 1 << 63 else v
    if type_name == _DURATION:
        f = {n: v for n, _, v in _fields(buf)}
        v = f.get(1, 0)
        return _go_duration(v - (1 << 64) if v >= 1 << 63 else v)
    if type_name in (_FIELDS_V1, _RAW_EXTENSION):
        f = {n: v for n, _, v in _fields(buf)}
        raw = f.get(1, b"")
        return json.loads(raw) if raw else None
    schema = _schema().get(type_name)
    if schema is None:
        raise ProtobufError(f"no protobuf schema for {type_name}")
    field_defs, _ = schema
    out: dict[str, Any] = {}
    for num, wt, value in _fields(buf):
        fdef = field_defs.get(num)
        if fdef is None:
            continue  # a field newer than the schema: ignored
        name, ftype, ref, repeated = fdef
        if ftype == 11:
            sub_schema = _schema().get(ref)
            if sub_schema is not None and sub_schema[1]:  # a map entry
                entry = decode_map_entry(ref, value)
                out.setdefault(name, {})[entry[0]] = entry[1]
                continue
            item = decode_message(ref, value)
            if ref in _INLINE and isinstance(item, dict):
                out.update(item)
                continue
        elif repeated and wt == 2 and ftype not in (9, 12):
            out.setdefault(name, []).extend(_packed(ftype, value))
            continue
        else:
            item = _scalar(ftype, wt, value)
        if repeated:
            out.setdefault(name, []).append(item)
        else:
            out[name] = item
    return {k: v for k, v in out.items() if not _is_empty(v) or (k in _KEEP_ZERO and v in (0, False))}


def decode_map_entry(type_name: str, buf: bytes) -> tuple[str, Any]:
    field_defs, _ = _schema()[type_name]
    key: Any = ""
    value: Any = None
    for num, wt, raw in _fields(buf):
        _, ftype, ref, _ = field_defs[num]
        decoded = decode_message(ref, raw) if ftype == 11 else _scalar(ftype, wt, raw)
        if num == 1:
            key = decoded
        else:
            value = decoded
    if value is None:
        ftype = field_defs.get(2, ("", 9, "", False))[1]
        value = "" if ftype in (9, 12) else ({} if ftype == 11 else 0)
    return str(key), value


def _message_name(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    candidates = []
    if group in ("", "meta.k8s.io") or kind in ("DeleteOptions", "Status", "List"):
        candidates.append(f"{_META}.{kind}")
    package = (
        "core" if not group else ("rbac" if group == "rbac.authorization.k8s.io" else group.split(".")[0])
    )
    candidates.insert(0, f"k8s.io.api.{package}.{version}.{kind}")
    schema = _schema()
    for name in candidates:
        if name in schema:
            return name
    raise ProtobufError(f"protobuf is not supported for {api_version}, Kind={kind}; send JSON")


def decode(body: bytes) -> dict[str, Any]:
    """A whole request body (``k8s\\0`` + runtime.Unknown) as the object's JSON form."""
    if not body.startswith(MAGIC):
        raise ProtobufError("provided object is not a Kubernetes protobuf message (no k8s prefix)")
    fields = {n: v for n, _, v in _fields(body[len(MAGIC) :])}
    type_meta = {n: v for n, _, v in _fields(fields.get(1, b""))}
    api_version = bytes(type_meta.get(1, b"")).decode()
    kind = bytes(type_meta.get(2, b"")).decode()
    if fields.get(3):
        raise ProtobufError(f"unsupported content encoding {bytes(fields[3]).decode()!r}")
    obj = decode_message(_message_name(api_version, kind), fields.get(2, b""))
    if not isinstance(obj, dict):
        raise ProtobufError("the protobuf message is not an object")
    result: dict[str, Any] = {}
    if api_version:
        result["apiVersion"] = api_version
    if kind:
        result["kind"] = kind
    result.update(obj)
    return result
