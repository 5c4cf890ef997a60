"""Serves the OpenAPI documents of :mod:`kubesim.openapi` for what the registry serves right now."""

from __future__ import annotations

import json
from typing import Any

from kubesim import openapi_proto
from kubesim.openapi import OpenAPIBuilder, ServedResource
from kubesim.resources import Registry


class OpenAPIService:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.builder = OpenAPIBuilder()
        self._resources: tuple[int, list[ServedResource]] | None = None
        self._v2_proto: tuple[int, bytes] | None = None

    def _served(self) -> tuple[list[ServedResource], int]:
        gen = self.registry.generation
        if self._resources is None or self._resources[0] != gen:
            served = [
                ServedResource(
                    group=rt.group,
                    version=rt.version,
                    kind=rt.kind,
                    plural=rt.plural,
                    namespaced=rt.namespaced,
                    schema=rt.schema if rt.is_custom else None,
                    subresources=tuple(s for s in rt.subresources if s in ("status", "scale")),
                    verbs=rt.verbs,
                )
                for rt in self.registry.all()
                if not (rt.is_custom and rt.schema is None)
            ]
            self._resources = (gen, served)
        return self._resources[1], gen

    def v2_bytes(self) -> bytes:
        served, gen = self._served()
        return self.builder.v2(served, gen)

    def v2_protobuf(self) -> bytes:
        """``/openapi/v2`` as gnostic protobuf (what client-go asks for), cached per registry generation."""
        served, gen = self._served()
        if self._v2_proto is None or self._v2_proto[0] != gen:
            doc = json.loads(self.builder.v2(served, gen))
            self._v2_proto = (gen, openapi_proto.encode_v2(doc))
        return self._v2_proto[1]

    def v3_index(self) -> dict[str, Any]:
        served, gen = self._served()
        return self.builder.v3_index(served, gen)

    def v3_bytes(self, path: str) -> bytes | None:
        served, gen = self._served()
        return self.builder.v3(path, served, gen)
