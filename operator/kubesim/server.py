"""The HTTP face of kubesim: Kubernetes REST paths, content types, discovery, watches and Status errors.

Routing is done by hand on the path segments (one catch-all route) because Kubernetes paths are
ambiguous for a generic router (``/api/v1/namespaces/x/status`` is a subresource, ``.../x/pods`` a
collection) and the hot path must stay cheap.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from aiohttp import web

from kubesim import admission, errors, gojson, openapi_proto, protobuf, tables
from kubesim.accounting import RequestCounter
from kubesim.api import API, ListResult, Steps, User, WriteOptions, run_steps
from kubesim.errors import ApiError
from kubesim.faults import Faults
from kubesim.resources import Registry, ResourceType
from kubesim.store import Event, Progress, dumps, go_json
from kubesim.webhooks import Dispatcher

log = logging.getLogger("kubesim.server")

T = TypeVar("T")

KUBERNETES_VERSION = {
    "major": "1",
    "minor": "34",
    "gitVersion": "v1.34.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
}

# The API server's default MaxRequestBodyBytes: a larger create/update/patch/delete body is a 413.
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024

Authenticator = Callable[[str | None], User | None]
# (user, verb, resource type or None, subresource, namespace, name, path) -> ApiError | None
Authorizer = Callable[[User, str, ResourceType | None, str, str | None, str | None, str], ApiError | None]
NonResourceHandler = Callable[[web.Request, User], Awaitable[web.StreamResponse]]


@dataclass
class Target:
    rt: ResourceType
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    subresource: str


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type="application/json", headers=headers)


class _PageNotFound(Exception):
    """A path no handler serves: Go's http.NotFound page, not a Status."""


def _page_not_found() -> web.Response:
    return web.Response(
        status=404,
        text="404 page not found\n",
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _error(exc: ApiError) -> web.Response:
    """A Status encoded byte for byte as upstream's (Go's encoding/json Encoder: HTML-safe escapes and a
    trailing newline): clients print the raw body of an error. Some errors upstream answers as plain text."""
    if isinstance(exc, errors.PlainTextError):
        return web.Response(
            status=exc.code,
            text=exc.text + "\n",
            content_type="text/plain",
            headers={"X-Content-Type-Options": "nosniff"},
        )
    return web.Response(
        body=go_json(exc.status()), status=exc.code, content_type="application/json", headers=exc.headers
    )


def _present(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """An object as served at rt's version (CRD versions share storage; only apiVersion differs here)."""
    if obj.get("apiVersion") != rt.api_version:
        return {**obj, "apiVersion": rt.api_version}
    return obj


class Server:
    def __init__(
        self,
        api: API,
        registry: Registry,
        *,
        authenticate: Authenticator,
        authorize: Authorizer | None = None,
        faults: Faults | None = None,
        counter: RequestCounter | None = None,
        bookmark_interval: float = 5.0,
        max_request_body_bytes: int = MAX_REQUEST_BODY_BYTES,
    ) -> None:
        self.api = api
        self.registry = registry
        self.authenticate = authenticate
        self.authorize = authorize
        self.faults = faults or Faults()
        self.counter = counter or RequestCounter()
        self.bookmark_interval = bookmark_interval
        # Request bodies larger than this are refused with 413 before they are decoded; 0 or less: no limit.
        self.max_request_body_bytes = max_request_body_bytes
        # (requesting user, request headers) -> the impersonated user; raises ApiError when not allowed.
        self.impersonate: Callable[[User, Any], User] | None = None
        self.openapi: Any = None  # set by the cluster wiring: an object with v2(), v3_index(), v3(path)
        self.non_resource: dict[str, NonResourceHandler] = {}
        self.url = ""
        self._shutting_down = asyncio.Event()
        self._discovery_cache: dict[tuple[str, int], bytes] = {}
        # Admission webhooks (Validating/MutatingWebhookConfigurations) are called by this dispatcher.
        self.webhooks = Dispatcher(api)

    def app(self) -> web.Application:
        # Bodies of resource requests are read by read_body() against max_request_body_bytes (which may change
        # later); aiohttp's own limit is a backstop for handlers that call request.read() themselves.
        app = web.Application(client_max_size=max(self.max_request_body_bytes, 0))
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, app: web.Application) -> None:
        self._shutting_down.set()
        self.api.store.close_watchers()
        await self.webhooks.close()

    async def _write(self, steps: Steps[T], opts: WriteOptions) -> T:
        """Run a write's steps, with the admission webhooks when the write may need them."""
        if opts.admitting:
            return await self.webhooks.run(steps)
        return run_steps(steps)

    # ------------------------------------------------------------------ entry

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        user: User | None
        try:
            user = self.authenticate(request.headers.get("Authorization"))
        except ApiError as exc:
            return _error(exc)
        if user is None:  # a token that does not authenticate; no token at all is system:anonymous's
            return _error(errors.unauthorized())
        try:
            if self.impersonate is not None and any(k.startswith("Impersonate-") for k in request.headers):
                user = self.impersonate(user, request.headers)
            return await self._dispatch(request, path, user)
        except errors.MalformedImpersonation as exc:
            return _error(errors.internal_server_error_text(request.path_qs, str(exc)))
        except ApiError as exc:
            return _error(exc)
        except _PageNotFound:
            return _page_not_found()
        except web.HTTPRequestEntityTooLarge:
            return _error(errors.request_entity_too_large(request.client_max_size))
        except asyncio.CancelledError:
            raise
        except ConnectionResetError:
            raise
        except Exception as exc:  # a bug in kubesim must reach the client as a 500, not a dropped connection
            log.exception("internal error serving %s %s", request.method, path)
            return _error(errors.internal_error(repr(exc)))

    async def _dispatch(self, request: web.Request, path: str, user: User) -> web.StreamResponse:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return _json({"paths": sorted(self._root_paths())})
        head = parts[0]
        if head in ("api", "apis") and (len(parts) > 2 if head == "apis" else len(parts) > 1):
            return await self._resource_request(request, parts, user)
        # Non-resource URLs.
        self._authorize_nonresource(user, request.method, path)
        if head in ("healthz", "livez", "readyz"):
            return web.Response(text="ok")
        if head == "version":
            return _json(KUBERNETES_VERSION)
        if head == "api" and len(parts) == 1:
            return _json(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}
                    ],
                }
            )
        if head == "apis" and len(parts) == 1:
            return self._cached_discovery("apis", self._group_list)
        if head == "apis" and len(parts) == 2:
            group = self._group(parts[1])
            if group is None:
                raise _PageNotFound
            return _json(group)
        if head == "openapi" and self.openapi is not None:
            return self._openapi(request, parts)
        handler = self.non_resource.get(path)
        if handler is not None:
            return await handler(request, user)
        raise _PageNotFound

    def _authorize_nonresource(self, user: User, method: str, path: str) -> None:
        if self.authorize is None:
            return
        verb = {
            "GET": "get",
            "HEAD": "get",
            "POST": "post",
            "PUT": "put",
            "PATCH": "patch",
            "DELETE": "delete",
        }.get(method, method.lower())
        exc = self.authorize(user, verb, None, "", None, None, path)
        if exc is not None:
            raise exc

    def _root_paths(self) -> list[str]:
        paths = [
            "/api",
            "/api/v1",
            "/apis",
            "/healthz",
            "/livez",
            "/readyz",
            "/version",
            "/openapi/v2",
            "/openapi/v3",
        ]
        for group, versions in self.registry.groups():
            paths.append(f"/apis/{group}")
            paths.extend(f"/apis/{group}/{v}" for v in versions)
        return paths

    # ------------------------------------------------------------------ discovery

    def _cached_discovery(self, key: str, build: Callable[[], Any]) -> web.Response:
        ck = (key, self.registry.generation)
        body = self._discovery_cache.get(ck)
        if body is None:
            body = dumps(build())
            self._discovery_cache[ck] = body
        return web.Response(body=body, content_type="application/json")

    def _group(self, group: str) -> dict[str, Any] | None:
        for name, versions in self.registry.groups():
            if name == group:
                gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
                return {
                    "kind": "APIGroup",
                    "apiVersion": "v1",
                    "name": name,
                    "versions": gvs,
                    "preferredVersion": gvs[0],
                }
        return None

    def _group_list(self) -> dict[str, Any]:
        groups = []
        for name, _ in self.registry.groups():
            g = self._group(name)
            if g is not None:
                g = {k: v for k, v in g.items() if k not in ("kind", "apiVersion")}
                groups.append(g)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources = []
        for rt in sorted(self.registry.in_group_version(group, version), key=lambda r: r.plural):
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular_name,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
                "storageVersionHash": hashlib.sha256(
                    f"{rt.group}/{rt.storage_version or rt.version}/{rt.kind}".encode()
                ).hexdigest()[:11],
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            for sub in rt.subresources:
                sub_entry: dict[str, Any] = {
                    "name": f"{rt.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": ["get", "patch", "update"],
                }
                if sub == "log":
                    sub_entry.update(kind="Pod", verbs=["get"])
                elif sub == "token":
                    sub_entry.update(
                        kind="TokenRequest", group="authentication.k8s.io", version="v1", verbs=["create"]
                    )
                elif sub == "binding":
                    sub_entry.update(kind="Binding", verbs=["create"])
                elif sub == "eviction":
                    sub_entry.update(kind="Eviction", group="policy", version="v1", verbs=["create"])
                elif sub == "scale":
                    sub_entry.update(kind="Scale", group="autoscaling", version="v1")
                elif sub == "finalize":
                    sub_entry.update(verbs=["update"])
                resources.append(sub_entry)
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    def _openapi(self, request: web.Request, parts: list[str]) -> web.Response:
        assert self.openapi is not None
        if parts[1:] == ["v2"]:
            accept = request.headers.get("Accept", "")
            if "proto-openapi.spec.v2" in accept and "json" not in accept.split("proto-openapi")[0]:
                return web.Response(
                    body=self.openapi.v2_protobuf(),
                    headers={"Content-Type": openapi_proto.CONTENT_TYPE},
                )
            return web.Response(body=self.openapi.v2_bytes(), content_type="application/json")
        if parts[1:] == ["v3"]:
            return _json(self.openapi.v3_index())
        if len(parts) > 2 and parts[1] == "v3":
            doc = self.openapi.v3_bytes("/".join(parts[2:]))
            if doc is None:
                raise _PageNotFound
            return web.Response(
                body=doc, content_type="application/json", headers={"Cache-Control": "public, immutable"}
            )
        raise _PageNotFound

    # ------------------------------------------------------------------ resources

    def _parse_target(self, parts: list[str]) -> tuple[str, str, list[str], bool]:
        watch_prefix = False
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        if rest and rest[0] == "watch":
            watch_prefix = True
            rest = rest[1:]
        return group, version, rest, watch_prefix

    async def _resource_request(
        self, request: web.Request, parts: list[str], user: User
    ) -> web.StreamResponse:
        group, version, rest, watch_prefix = self._parse_target(parts)
        if not self.registry.has_group_version(group, version):
            # Built-in groups answer a Status; unknown groups and CRDs' groups fall through to the
            # mux's plain-text page.
            if group and self._custom_group(group):
                raise _PageNotFound
            raise errors.resource_not_found()
        if not rest:
            self._authorize_nonresource(user, request.method, request.path)
            return self._cached_discovery(f"{group}/{version}", lambda: self._resource_list(group, version))
        target = self._resolve(group, version, rest)
        q = request.query
        method = request.method
        watch = watch_prefix or _flag(q.get("watch"))
        verb = self._verb(method, target, watch)
        resource_label = target.rt.qualified + (f"/{target.subresource}" if target.subresource else "")
        self.counter.add(verb, resource_label, user.name)
        if self.faults.active:
            delay = self.faults.latency_for(verb, target.rt.qualified)
            if delay:
                await asyncio.sleep(delay)
            injected = self.faults.error_for(verb, target.rt.qualified)
            if injected is not None:
                raise injected
        if self.authorize is not None:
            exc = self.authorize(
                user, verb, target.rt, target.subresource, target.namespace, target.name, request.path
            )
            if exc is not None:
                raise exc
        opts = WriteOptions(
            user=user,
            field_manager=q.get("fieldManager", ""),
            dry_run=q.get("dryRun") == "All",
            field_validation=q.get("fieldValidation", ""),
            default_manager=_manager_from_user_agent(request.headers.get("User-Agent", "")),
        )
        rt = target.rt
        ns = target.namespace or ""
        # Subresources that are not the object itself (scale, binding, eviction, token...) are written
        # without webhooks (see docs/kubesim.md).
        opts.admitting = (
            verb in ("create", "update", "patch", "delete", "deletecollection")
            and target.subresource in ("", "status", "finalize")
            and not admission.is_exempt(rt.group, rt.plural)
            and self.webhooks.active()
        )
        if verb == "patch" and self.authorize is not None:
            authorize = self.authorize

            def authorize_create() -> None:
                exc = authorize(
                    user, "create", rt, target.subresource, target.namespace, target.name, request.path
                )
                if exc is not None:
                    raise exc

            opts.authorize_create = authorize_create
        if verb == "watch":
            return await self._watch(request, target)
        if verb == "list":
            return self._list(request, target)
        if verb == "get":
            if target.subresource == "log":
                return await self._pod_log(request, target)
            if target.subresource == "scale":
                return _json(_scale_of(rt, self.api.get(rt, ns, target.name or "")))
            obj = self.api.get(rt, ns, target.name or "")
            return self._object_response(request, rt, obj)
        if verb == "create":
            body = await (self._body(request) if target.subresource else self._object_body(request, rt))
            if target.subresource:
                handler = self.non_resource.get(f"subresource:{rt.plural}/{target.subresource}")
                if handler is None:
                    raise errors.method_not_allowed()
                _stash(request, "kubesim.target", target)
                _stash(request, "kubesim.body", body)
                return await handler(request, user)
            obj = await self._write(self.api.create_steps(rt, ns, body, opts), opts)
            if obj.get("kind") in (
                "SelfSubjectAccessReview",
                "SubjectAccessReview",
                "SelfSubjectRulesReview",
                "LocalSubjectAccessReview",
                "SelfSubjectReview",
                "TokenReview",
            ):
                return _json(obj, 201)
            return self._write_response(rt, obj, 201, opts)
        if verb == "update":
            if target.subresource in ("", "status"):
                body = await self._object_body(request, rt)
            else:
                body = await self._body(request)
            if target.subresource == "scale":
                return _json(_scale_of(rt, self._update_scale(rt, ns, target.name or "", body, opts)))
            sub = "status" if target.subresource in ("status", "finalize") else target.subresource
            if target.subresource == "finalize":
                steps = self.api.update_steps(
                    rt,
                    ns,
                    target.name or "",
                    _only_spec_finalizers(self.api.get(rt, ns, target.name or ""), body),
                    opts,
                    admission_subresource="finalize",
                )
            else:
                if rt.is_custom or rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                    _require_resource_version(rt, target.name or "", body)
                steps = self.api.update_steps(rt, ns, target.name or "", body, opts, sub)
            obj = await self._write(steps, opts)
            return self._write_response(rt, obj, 200, opts)
        if verb == "patch":
            patch_type = _PATCH_TYPES.get(request.content_type)
            if patch_type is None:
                # Custom resources' handler words it; for built-in kinds the router refuses it.
                raise errors.unsupported_media_type(errors.PATCH_MEDIA_TYPES if rt.is_custom else "")
            patch = _decode_patch(patch_type, await self.read_body(request))
            if target.subresource == "scale":
                scale = _scale_of(rt, self.api.get(rt, ns, target.name or ""))
                from kubesim import patching

                new_scale = (
                    patching.apply_merge_patch(scale, patch)
                    if patch_type != "json"
                    else patching.apply_json_patch(scale, patch)
                )
                return _json(_scale_of(rt, self._update_scale(rt, ns, target.name or "", new_scale, opts)))
            obj, created = await self._write(
                self.api.patch_steps(
                    rt,
                    ns,
                    target.name or "",
                    patch_type,
                    patch,
                    opts,
                    target.subresource,
                    force=_flag(q.get("force")),
                ),
                opts,
            )
            return self._write_response(rt, obj, 201 if created else 200, opts)
        if verb == "delete":
            options = await self._delete_options(request)
            obj, _ = await self._write(self.api.delete_steps(rt, ns, target.name or "", options, opts), opts)
            return self._write_response(rt, obj, 200, opts)
        if verb == "deletecollection":
            options = await self._delete_options(request)
            deleted = await self._write(
                self.api.delete_collection_steps(
                    rt,
                    target.namespace,
                    q.get("labelSelector", ""),
                    q.get("fieldSelector", ""),
                    options,
                    opts,
                ),
                opts,
            )
            return _json(
                {
                    "kind": rt.list_kind,
                    "apiVersion": rt.api_version,
                    "metadata": {"resourceVersion": str(self.api.store.resource_version)},
                    "items": [_present(rt, o) for o in deleted],
                }
            )
        raise errors.method_not_allowed()

    def _resolve(self, group: str, version: str, rest: list[str]) -> Target:
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace = rest[1]
            rest = rest[2:]
        plural = rest[0]
        rt = self.registry.get(group, version, plural)
        if rt is None:
            if self._custom_group(group):
                raise _PageNotFound
            raise errors.resource_not_found()
        if rt.namespaced and namespace is None and len(rest) > 1:
            raise errors.resource_not_found()
        if not rt.namespaced and namespace is not None:
            raise errors.resource_not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in rt.subresources:
            raise errors.resource_not_found()
        if len(rest) > 3:
            raise errors.resource_not_found()
        return Target(rt, namespace, name, sub)

    def _custom_group(self, group: str) -> bool:
        """Whether the group is unknown or served by CRDs: the API server's own handlers do not know
        it, and the mux answers its plain-text 404 page."""
        types = [rt for rt in self.registry.all() if rt.group == group]
        return not types or any(rt.is_custom for rt in types)

    @staticmethod
    def _verb(method: str, target: Target, watch: bool) -> str:
        if method in ("GET", "HEAD"):
            if watch:
                return "watch"
            return "get" if target.name else "list"
        if method == "POST":
            if target.name and not target.subresource:
                raise errors.method_not_allowed()
            return "create"
        if method == "PUT":
            if not target.name:
                raise errors.method_not_allowed()
            return "update"
        if method == "PATCH":
            if not target.name:
                raise errors.method_not_allowed()
            return "patch"
        if method == "DELETE":
            return "delete" if target.name else "deletecollection"
        raise errors.method_not_allowed()

    async def read_body(self, request: web.Request) -> bytes:
        """The request body, refused with upstream's 413 once it is longer than max_request_body_bytes:
        at once when Content-Length says so, else (chunked bodies) as soon as more has been read."""
        limit = self.max_request_body_bytes
        if limit <= 0:
            return await request.content.read()
        if request.content_length is not None and request.content_length > limit:
            raise errors.request_entity_too_large(limit)
        body = bytearray()
        while chunk := await request.content.readany():
            body.extend(chunk)
            if len(body) > limit:
                raise errors.request_entity_too_large(limit)
        return bytes(body)

    async def _body(self, request: web.Request) -> Any:
        raw = await self.read_body(request)
        if not raw:
            raise errors.bad_request("the body of the request was empty")
        return _decode_body(request.content_type, raw)

    async def _object_body(self, request: web.Request, rt: ResourceType) -> Any:
        """A create or update body, refused as upstream's decoder refuses it."""
        ctype = request.content_type if request.headers.get("Content-Type") else "application/json"
        if ctype not in ("application/json", "application/yaml", protobuf.CONTENT_TYPE):
            raise errors.unsupported_media_type(errors.BODY_MEDIA_TYPES)
        raw = await self.read_body(request)
        if ctype != "application/json":
            if not raw:
                raise errors.bad_request("the body of the request was empty")
            return _decode_body(request.content_type, raw)
        unrecognized = f"the object provided is unrecognized (must be of type {rt.kind}): "
        body = _go_json(raw, unrecognized + _PARSE_ERROR, _TYPE_META_STRUCT)
        if body is None:
            return {}  # decodes as an empty object
        if rt.is_custom and not body.get("kind"):
            text = raw.decode("utf-8", "replace")
            summary = gojson.summarize(raw)
            raise errors.bad_request(unrecognized + f"Object 'Kind' is missing in '{text}' ({summary})")
        return body

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        raw = await self.read_body(request) if request.can_read_body else b""
        if raw:
            options.update(_decode_delete_options(request.content_type, raw))
        q = request.query
        if "propagationPolicy" in q:
            options["propagationPolicy"] = q["propagationPolicy"]
        if "gracePeriodSeconds" in q:
            options["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
        if "orphanDependents" in q:
            options["orphanDependents"] = _flag(q["orphanDependents"])
        return options

    def _wants_table(self, request: web.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def _object_response(self, request: web.Request, rt: ResourceType, obj: dict[str, Any]) -> web.Response:
        if self._wants_table(request):
            return _json(
                tables.table(
                    rt,
                    [obj],
                    obj["metadata"].get("resourceVersion", ""),
                    request.query.get("includeObject", "Metadata"),
                )
            )
        return _json(_present(rt, obj))

    def _write_response(
        self, rt: ResourceType, obj: dict[str, Any], status: int, opts: WriteOptions
    ) -> web.Response:
        response = _json(_present(rt, obj) if obj.get("kind") != "Status" else obj, status)
        for text in dict.fromkeys(opts.warnings):  # one header each, repeats dropped, as upstream
            quoted = text.replace("\\", "\\\\").replace('"', '\\"')
            response.headers.add("Warning", f'299 - "{quoted}"')
        return response

    def _list(self, request: web.Request, target: Target) -> web.Response:
        q = request.query
        rt = target.rt
        _parse_resource_version(
            q.get("resourceVersion", ""),
            lambda message: errors.bad_request(f"invalid resource version: {message}"),
        )
        try:
            limit = int(q.get("limit", "0") or 0)
        except ValueError as exc:
            raise errors.bad_request(f"invalid limit: {exc}") from exc
        result: ListResult = self.api.list(
            rt,
            target.namespace,
            q.get("labelSelector", ""),
            q.get("fieldSelector", ""),
            limit,
            q.get("continue", ""),
        )
        if self._wants_table(request):
            return _json(
                tables.table(
                    rt,
                    result.items,
                    result.resource_version,
                    q.get("includeObject", "Metadata"),
                    result.continue_token,
                    result.remaining,
                )
            )
        meta: dict[str, Any] = {"resourceVersion": result.resource_version}
        if result.continue_token:
            meta["continue"] = result.continue_token
        if result.remaining is not None:
            meta["remainingItemCount"] = result.remaining
        # Serialize items once each (cached per object version is not worth it: lists are rarer than gets).
        head = dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})[:-1]
        items = b",".join(dumps(_present(rt, o)) for o in result.items)
        return web.Response(body=head + b',"items":[' + items + b"]}", content_type="application/json")

    # ------------------------------------------------------------------ watch

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        from kubesim import selectors

        q = request.query
        rt = target.rt
        lsel = selectors.parse_label_selector(q["labelSelector"]) if q.get("labelSelector") else None
        fsel = (
            selectors.parse_field_selector(q["fieldSelector"], rt.plural, rt.group)
            if q.get("fieldSelector")
            else None
        )
        ns = target.namespace if rt.namespaced else None
        name = target.name  # watch on a single object (legacy path /watch/.../name)
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        bookmarks = _flag(q.get("allowWatchBookmarks"))
        rv_param = q.get("resourceVersion", "")
        send_initial = _flag(q.get("sendInitialEvents"))
        store = self.api.store
        loop = asyncio.get_running_loop()

        def matches(obj: dict[str, Any] | None) -> bool:
            if obj is None:
                return False
            meta = obj["metadata"]
            if ns is not None and meta.get("namespace") != ns:
                return False
            if name is not None and meta.get("name") != name:
                return False
            if lsel is not None and not lsel.matches(meta.get("labels") or {}):
                return False
            return fsel is None or fsel.matches(obj)

        # Refused before the stream starts, with upstream's unwrapped parse error: a 500 of unknown reason.
        since = _parse_resource_version(rv_param, lambda message: ApiError(500, "", message))
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        cut = self.faults.watch_cut_for(rt.qualified) if self.faults.active else None
        sent = 0
        started = time.monotonic()

        async def send(kind: str, obj_bytes: bytes) -> None:
            nonlocal sent
            await resp.write(b'{"type":"' + kind.encode() + b'","object":' + obj_bytes + b"}\n")
            if kind != "BOOKMARK":
                sent += 1
                if cut is not None and cut.after_events is not None and sent >= cut.after_events:
                    raise _WatchCut

        async def send_event(ev: Event) -> None:
            new_match = matches(ev.obj)
            if ev.type == "DELETED":
                if matches(ev.old) or new_match:
                    await send("DELETED", self._event_bytes(rt, ev))
                return
            old_match = matches(ev.old) if ev.old is not None else False
            if new_match and (ev.type == "ADDED" or not old_match):
                await send("ADDED", self._event_bytes(rt, ev))
            elif new_match:
                await send("MODIFIED", self._event_bytes(rt, ev))
            elif old_match and ev.old is not None:
                # Out of the selection: the object as the watch last matched it, at this write's version.
                left = {**ev.old, "metadata": {**ev.old["metadata"], "resourceVersion": str(ev.rv)}}
                await send("DELETED", dumps(_present(rt, left)))

        watcher = store.subscribe(rt.key, loop)
        try:
            with store.lock:
                current_rv = store.resource_version
                if since is not None and since != 0 and not send_initial:
                    expired = self.faults.active and self.faults.take_expiration(rt.qualified)
                    replay = None if expired else store.events_since(rt.key, since)
                    initial: list[dict[str, Any]] = []
                else:
                    replay = []
                    initial = store.list(rt.key, ns)
            if replay is None:
                status = errors.expired(
                    f"too old resource version: {rv_param} ({store.oldest_available(rt.key)})"
                ).status()
                await send("ERROR", dumps(status))
                return resp
            last_rv = current_rv
            for obj in initial:
                if matches(obj):
                    await send("ADDED", dumps(_present(rt, obj)))
            for ev in replay:
                await send_event(ev)
                last_rv = max(last_rv, ev.rv)
            if send_initial and bookmarks:
                await send(
                    "BOOKMARK",
                    dumps(
                        {
                            "kind": rt.kind,
                            "apiVersion": rt.api_version,
                            "metadata": {
                                "resourceVersion": str(current_rv),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        }
                    ),
                )
            deadline = started + timeout if timeout else None
            # Bookmarks carry a resourceVersion past the one the watch started from (upstream's cacher
            # sends none that would not take the client further), every bookmark_interval and once 2 s
            # before the watch's timeout.
            start_rv = last_rv
            next_bookmark = (
                _next_bookmark(time.monotonic(), self.bookmark_interval, deadline) if bookmarks else None
            )
            progress_requested = False
            while not self._shutting_down.is_set():
                now = time.monotonic()
                wait = 30.0
                if next_bookmark is not None:
                    wait = max(0.0, next_bookmark - now)
                if deadline is not None:
                    if deadline <= now:
                        break
                    wait = min(wait, deadline - now)
                if cut is not None and cut.after_seconds is not None:
                    remaining_cut = started + cut.after_seconds - now
                    if remaining_cut <= 0:
                        break
                    wait = min(wait, remaining_cut)
                if next_bookmark is not None and next_bookmark <= now:
                    # A bookmark promises every event up to its resourceVersion was sent: it waits for a
                    # marker queued behind the events already on their way to this stream.
                    if not progress_requested:
                        store.request_progress(watcher)
                        progress_requested = True
                    next_bookmark = _next_bookmark(now, self.bookmark_interval, deadline)
                    continue
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), timeout=wait)
                except TimeoutError:
                    continue
                if item is None:
                    break
                if isinstance(item, Progress):
                    progress_requested = False
                    if item.rv <= start_rv or item.rv < last_rv:
                        continue  # nothing new since the watch started, or an event sent went further
                    last_rv = item.rv
                    if deadline is None or time.monotonic() < deadline:
                        await send(
                            "BOOKMARK",
                            dumps(
                                {
                                    "kind": rt.kind,
                                    "apiVersion": rt.api_version,
                                    "metadata": {"resourceVersion": str(item.rv)},
                                }
                            ),
                        )
                    continue
                if item.rv <= last_rv:
                    continue
                last_rv = item.rv
                await send_event(item)
        except (ConnectionResetError, asyncio.CancelledError, _WatchCut):
            pass
        finally:
            store.unsubscribe(watcher)
        return resp

    def _event_bytes(self, rt: ResourceType, ev: Event) -> bytes:
        if ev.obj.get("apiVersion") == rt.api_version:
            return ev.encoded_object()
        return dumps(_present(rt, ev.obj))

    # ------------------------------------------------------------------ subresources

    async def _pod_log(self, request: web.Request, target: Target) -> web.StreamResponse:
        handler = self.non_resource.get("subresource:pods/log")
        if handler is None:
            pod = self.api.get(target.rt, target.namespace or "", target.name or "")
            del pod
            return web.Response(text="", content_type="text/plain")
        _stash(request, "kubesim.target", target)
        return await handler(request, User("system:kubelet"))

    def _update_scale(
        self, rt: ResourceType, ns: str, name: str, scale: Any, opts: WriteOptions
    ) -> dict[str, Any]:
        obj = self.api.get(rt, ns, name)
        replicas = (scale or {}).get("spec", {}).get("replicas")
        scale_rv = ((scale or {}).get("metadata") or {}).get("resourceVersion")
        path = (rt.scale_paths or {}).get("specReplicasPath", ".spec.replicas")
        new = json.loads(json.dumps(obj))
        cursor = new
        keys = [k for k in path.split(".") if k]
        for k in keys[:-1]:
            cursor = cursor.setdefault(k, {})
        cursor[keys[-1]] = replicas
        if scale_rv:  # a Scale carrying a resourceVersion is a precondition, as for the object itself
            new["metadata"]["resourceVersion"] = scale_rv
        return self.api.update(rt, ns, name, new, opts)


def _stash(request: web.Request, key: str, value: Any) -> None:
    """Hand a value to a subresource handler under a string key (the handlers in other modules read
    ``request["kubesim.target"]``; aiohttp would rather have RequestKey objects and warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        request[key] = value


def _require_resource_version(rt: ResourceType, name: str, body: Any) -> None:
    """Custom resources and CRDs refuse unconditional updates (their strategies'
    AllowUnconditionalUpdate is false): a PUT must carry metadata.resourceVersion."""
    meta = body.get("metadata") if isinstance(body, dict) else None
    if isinstance(meta, dict) and meta.get("resourceVersion"):
        return
    cause: errors.Cause = {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 0: must be specified for an update",
        "field": "metadata.resourceVersion",
    }
    raise errors.invalid(rt.plural, name, [cause], rt.group)  # named by the resource, not the kind


def _next_bookmark(now: float, interval: float, deadline: float | None) -> float | None:
    """When a watch that allows bookmarks gets its next one (upstream's cacheWatcher.nextBookmarkTime):
    after ``interval``, or 2 s before the watch's deadline if that comes first; none once that is past."""
    when = now + interval
    if deadline is not None:
        when = min(when, deadline - 2.0)
    return None if when < now else when


def _parse_resource_version(value: str, error: Callable[[str], ApiError]) -> int | None:
    """A resourceVersion query parameter as upstream parses it (Go's strconv.ParseUint); None when unset."""
    if not value:
        return None
    problem = ""
    if not value.isascii() or not value.isdigit():
        problem = "invalid syntax"
    elif int(value) >= 1 << 64:
        problem = "value out of range"
    if problem:
        raise error(
            f'resourceVersion: Invalid value: "{value}": strconv.ParseUint: parsing "{value}": {problem}'
        )
    return int(value)


def _flag(value: str | None) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it (``true``, ``True``, ``1``, ``t``...)."""
    return value in ("1", "t", "T", "true", "TRUE", "True")


class _WatchCut(Exception):
    """Fault injection ended a watch stream."""


def _manager_from_user_agent(agent: str) -> str:
    """Upstream's default field manager: the User-Agent up to its first "/", at most 128 bytes."""
    return agent.split("/", 1)[0][:128]


_PARSE_ERROR = "couldn't get version/kind; json parse error: "


def _unmarshal_error(value: Any, go_type: str) -> str:
    return f"json: cannot unmarshal {gojson.value_type(value)} into Go value of type {go_type}"


# The Go type upstream decodes a body into first, to find its apiVersion and kind.
_TYPE_META_STRUCT = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
)


def _go_json(raw: bytes, prefix: str, go_type: str, *, summary: bool = True) -> Any:
    """Decode JSON as upstream's decoders do: Go's syntax errors, and a type error for a value that is
    neither an object nor null; both as 400s worded ``prefix + error`` (and the body's summary)."""
    suffix = f" ({gojson.summarize(raw)})" if summary else ""
    err = gojson.syntax_error(raw)
    if err is not None:
        raise errors.bad_request(prefix + err + suffix)
    value = json.loads(raw.decode("utf-8", "replace"))
    if value is not None and not isinstance(value, dict):
        raise errors.bad_request(prefix + _unmarshal_error(value, go_type) + suffix)
    return value


def _patch_decoding(error: str) -> ApiError:
    return errors.bad_request(f"error decoding patch: {error}")


def _decode_patch(patch_type: str, raw: bytes) -> Any:
    """A patch body decoded, or refused with upstream's words."""
    if patch_type == "apply":
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}") from exc
    err = gojson.syntax_error(raw)
    if err is not None:
        # The strategic merge patcher reports the decoder's error as it is.
        raise errors.bad_request(err) if patch_type == "strategic" else _patch_decoding(err)
    patch = json.loads(raw.decode("utf-8", "replace"))
    if patch_type == "json":
        # The handler counts the operations first, decoding them as a list of structs.
        if patch is None:
            return []
        if not isinstance(patch, list):
            raise _patch_decoding(_unmarshal_error(patch, "[]handlers.jsonPatchOp"))
        for op in patch:
            if op is not None and not isinstance(op, dict):
                raise _patch_decoding(_unmarshal_error(op, "handlers.jsonPatchOp"))
        return [op or {} for op in patch]
    if patch is None:
        return None if patch_type == "merge" else {}  # a null merge patch is refused by the patcher
    if patch_type == "merge" and not isinstance(patch, dict):
        raise _patch_decoding(_unmarshal_error(patch, "map[string]interface {}"))
    return patch


def _decode_delete_options(content_type: str, raw: bytes) -> dict[str, Any]:
    """DeleteOptions from a body; upstream's failures to decode them are 500s without a reason."""
    if content_type in (protobuf.CONTENT_TYPE, "application/yaml"):
        body = _decode_body(content_type, raw)
        return body if isinstance(body, dict) else {}
    err = gojson.syntax_error(raw)
    if err is not None:
        raise ApiError(500, "", _PARSE_ERROR + err)
    body = json.loads(raw.decode("utf-8", "replace"))
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(500, "", _PARSE_ERROR + _unmarshal_error(body, _TYPE_META_STRUCT))
    kind = body.get("kind") or "DeleteOptions"
    if kind != "DeleteOptions":
        version = body.get("apiVersion") or "meta.k8s.io/v1"
        message = f'no kind "{kind}" is registered for version "{version}" in scheme {errors.SCHEME}'
        raise ApiError(500, "", message)
    return body


def _decode_body(content_type: str, raw: bytes) -> Any:
    try:
        if content_type == protobuf.CONTENT_TYPE:
            return protobuf.decode(raw)
        if content_type in ("application/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"error decoding request body: {exc}") from exc


def _scale_of(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    paths = rt.scale_paths or {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
    spec_vals = tables.jsonpath(obj, paths.get("specReplicasPath", ".spec.replicas"))
    status_vals = tables.jsonpath(obj, paths.get("statusReplicasPath", ".status.replicas"))
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": spec_vals[0] if spec_vals else 0},
        "status": {"replicas": status_vals[0] if status_vals else 0},
    }


def _only_spec_finalizers(current: dict[str, Any], body: Any) -> dict[str, Any]:
    """``namespaces/x/finalize`` changes only ``spec.finalizers``."""
    new: dict[str, Any] = json.loads(json.dumps(current))
    new.setdefault("spec", {})["finalizers"] = ((body or {}).get("spec") or {}).get("finalizers") or []
    return new
