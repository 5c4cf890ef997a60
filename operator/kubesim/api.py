"""The semantics of the Kubernetes API on top of the store: create, read, update, patch, delete.

The HTTP layer (``server.py``) and the in-process controllers both go through this class, so a write by
the garbage collector follows exactly the rules a client's write does (resourceVersion, generation,
finalizers, validation, watch events).
"""

from __future__ import annotations

import base64
import builtins
import copy
import datetime as dt
import ipaddress
import json
import random
import re
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubesim import errors, patching, selectors
from kubesim.errors import ApiError, Cause, go_details
from kubesim.objectmeta import generate_name, new_uid, now
from kubesim.resources import REVIEW_KINDS, Registry, ResourceType
from kubesim.store import Obj, Store, dumps, storage_key
from kubesim.validation import err_invalid, name_validator, validate_object_meta

NAMESPACES = ("", "namespaces")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")

# Kinds whose DELETE answers the deleted object rather than a Status (upstream's ReturnDeletedObject).
# etcd's default request limit (--max-request-bytes, 1.5 MiB): a write of a larger object fails there.
MAX_OBJECT_BYTES = 1536 * 1024
NODE_PORT_RANGE = (30000, 32767)  # kube-apiserver's --service-node-port-range

_RETURNS_DELETED_OBJECT = frozenset(
    {"pods", "services", "namespaces", "customresourcedefinitions", "resourcequotas"}
)


@dataclass
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)


ADMIN = User("kubernetes-admin", ("system:masters", "system:authenticated"))
SYSTEM = User("system:kube-controller-manager", ("system:masters", "system:authenticated"))


@dataclass
class WriteOptions:
    user: User = field(default_factory=lambda: ADMIN)
    field_manager: str = ""
    dry_run: bool = False
    field_validation: str = ""  # "", Ignore, Warn, Strict
    # The manager of non-apply writes without ?fieldManager: upstream takes the User-Agent's prefix.
    default_manager: str = ""
    warnings: list[str] = field(default_factory=list)
    # A write that creates what it was not asked to create (a server-side apply of a missing object) needs
    # the ``create`` verb too: the server sets this check (raises ApiError 403) for the requesting user.
    authorize_create: Callable[[], None] | None = None
    # Webhooks may be called: the write's steps stop at the admission points (see AdmissionPoint) and never
    # hold the store lock across one; the driver (kubesim.webhooks) calls the webhooks there.
    admitting: bool = False


@dataclass
class AdmissionPoint:
    """Where a write asks dynamic admission, as upstream's handlers do: ``mutate`` (the object the mutating
    webhooks may patch; the driver sends the patched object back into the steps) and then ``validate``
    (the object as it will be stored, after kubesim's own validation). DELETE has no object, only the old
    one."""

    phase: str  # "mutate" | "validate"
    operation: str  # CREATE | UPDATE | DELETE
    rt: ResourceType
    subresource: str
    namespace: str
    name: str
    obj: Obj | None
    old: Obj | None
    opts: WriteOptions
    options: dict[str, Any] | None = None  # the DeleteOptions of a DELETE


T = TypeVar("T")
# A write as a generator: it yields AdmissionPoints (only with WriteOptions.admitting) and returns its result.
Steps = Generator[AdmissionPoint, Obj | None, T]


def run_steps(steps: Steps[T]) -> T:
    """Drive a write without webhooks: every admission point lets the object through unchanged."""
    try:
        point = next(steps)
        while True:
            point = steps.send(point.obj)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


class _Retry(Exception):
    """The object changed while webhooks were called: the write starts again from the stored object, as
    upstream's GuaranteedUpdate retries an update without a resourceVersion precondition."""


@dataclass
class ListResult:
    items: list[Obj]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


# A kind-specific hook: (api, resource type, new object, old object or None, options) -> None.
Hook = Callable[["API", ResourceType, Obj, Obj | None, WriteOptions], None]


def _strip_for_compare(obj: Obj) -> Obj:
    meta = dict(obj.get("metadata", {}))
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


def _spec_part(rt: ResourceType, obj: Obj) -> dict[str, Any]:
    """What a change of bumps ``metadata.generation``: for custom resources everything but metadata (and
    status when it is a subresource), for built-in kinds the spec (upstream's PrepareForUpdate)."""
    if rt.is_custom:
        skip = (
            ("metadata", "apiVersion", "kind", "status")
            if "status" in rt.subresources
            else ("metadata", "apiVersion", "kind")
        )
        return {k: v for k, v in obj.items() if k not in skip}
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


# Built-in kinds whose registry strategy maintains metadata.generation (custom resources always do).
_GENERATION_KINDS = frozenset(
    {
        ("", "pods"),
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "replicasets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "networkpolicies"),
        ("networking.k8s.io", "ingresses"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    }
)


def _sorted_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_json(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_json(item) for item in value]
    return value


def _as_served(rt: ResourceType, obj: Obj) -> Obj:
    """Custom resources as upstream stores and serves them: unstructured JSON, every object's keys sorted
    (managedFields entries included). Built-in kinds keep kubesim's key order."""
    return _sorted_json(obj) if rt.is_custom else obj


def _as_stored(rt: ResourceType, obj: Obj) -> Obj:
    """``_as_served`` with a resourceVersion slot in its sorted place, which the store fills in."""
    if not rt.is_custom:
        return obj
    obj["metadata"].setdefault("resourceVersion", "")
    return _as_served(rt, obj)


def _after(seconds: int) -> str:
    """The time ``seconds`` from now, as a metadata timestamp."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _internal_type(group: str, kind: str) -> tuple[str, str]:
    """The Go type a versioned kind converts to: events.k8s.io Events are core Events."""
    return ("", kind) if group == "events.k8s.io" and kind in ("Event", "EventList") else (group, kind)


def _internal_package(group: str) -> str:
    """The Go package name of a group's internal types, as conversion errors name it."""
    if not group:
        return "core"
    if group == "internal.apiserver.k8s.io":
        return "apiserverinternal"
    return group.split(".", 1)[0]


# etcd key prefixes that are not the resource's plural (the registries' storage prefixes).
_ETCD_PREFIXES = {
    ("", "services"): "services/specs",
    ("", "endpoints"): "services/endpoints",
    ("", "nodes"): "minions",
    ("", "replicationcontrollers"): "controllers",
    ("networking.k8s.io", "ingresses"): "ingress",
    ("apiextensions.k8s.io", "customresourcedefinitions"): "apiextensions.k8s.io/customresourcedefinitions",
    ("apiregistration.k8s.io", "apiservices"): "apiregistration.k8s.io/apiservices",
}


def _etcd_key(rt: ResourceType, namespace: str, name: str) -> str:
    """The object's etcd key, as storage errors quote it."""
    prefix = f"{rt.group}/{rt.plural}" if rt.is_custom else _ETCD_PREFIXES.get(rt.key, rt.plural)
    return f"/registry/{prefix}/{namespace}/{name}" if rt.namespaced else f"/registry/{prefix}/{name}"


def _propagation_policy(options: dict[str, Any]) -> str | None:
    """The deletion's propagation policy, after upstream's ValidateDeleteOptions (422 before the object is
    even looked up)."""
    policy = options.get("propagationPolicy")
    orphan = options.get("orphanDependents")
    causes: list[Cause] = []
    if policy is not None and orphan is not None:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {json.dumps(policy)}: "
                "orphanDependents and deletionPropagation cannot be both set",
                "field": "propagationPolicy",
            }
        )
    if policy not in (None, "Background", "Foreground", "Orphan"):
        causes.append(
            {
                "reason": "FieldValueNotSupported",
                "message": f"Unsupported value: {json.dumps(policy)}: supported values: "
                '"Foreground", "Background", "Orphan", "nil"',
                "field": "propagationPolicy",
            }
        )
    if causes:
        raise errors.invalid("DeleteOptions", "", causes, "meta.k8s.io")
    if policy is None and orphan is not None:
        policy = "Orphan" if orphan else "Background"
    return str(policy) if policy is not None else None


def _has_generation(rt: ResourceType) -> bool:
    return rt.is_custom or rt.key in _GENERATION_KINDS


class API:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._lock = threading.RLock()
        # Validation and defaulting, set by the server wiring (kept pluggable so the pure modules stay pure).
        # Built-in kinds: (object, type) -> kubesim.validation.BuiltinCheck (decode error, causes,
        # unknown fields).
        self.check_builtin: Callable[[Obj, ResourceType], Any] | None = None
        self.create_hooks: dict[tuple[str, str], list[Hook]] = {}
        # What the registry sets on create after the field manager has recorded the request (upstream: the
        # REST storage's allocations, e.g. a Service's cluster IP and node ports): no manager owns it.
        self.allocation_hooks: dict[tuple[str, str], list[Hook]] = {}
        self.update_hooks: dict[tuple[str, str], list[Hook]] = {}
        self.delete_hooks: dict[tuple[str, str], list[Callable[[API, ResourceType, Obj], None]]] = {}
        # Validating admission that must see the store as the write will find it (upstream's ResourceQuota
        # plugin): called under the store lock just before a create or a main-resource update is stored, so
        # the check and the write are one step; dry runs are checked too. Arguments: (type, new object,
        # stored object or None on create, options, the name errors give: the client's name, or its
        # generateName when the server generates the name). Raises ApiError to refuse.
        self.locked_admission: list[Callable[[ResourceType, Obj, Obj | None, WriteOptions, str], None]] = []
        self.review_handler: Callable[[ResourceType, Obj, WriteOptions, str], Obj] | None = None
        self._service_net = ipaddress.ip_network("10.96.0.0/16")
        self._next_service_ip = 10
        self._schemas: dict[tuple[str, str, str], Any] = {}
        # The largest object a write may store, measured as its compact JSON encoding (upstream: etcd's
        # request limit on the encoded object); 0 or less: no limit.
        self.max_object_bytes = MAX_OBJECT_BYTES

    # ------------------------------------------------------------------ reads

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt.plural, name, rt.group)
        return obj

    def try_get(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        return self.store.get(rt.key, namespace if rt.namespaced else "", name)

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> ListResult:
        lsel = selectors.parse_label_selector(label_selector) if label_selector else None
        fsel = selectors.parse_field_selector(field_selector, rt.plural, rt.group) if field_selector else None
        with self.store.lock:
            rv = self.store.resource_version
            items = self.store.list(rt.key, namespace if rt.namespaced else None)
        start_after: str | None = None
        if continue_token:
            try:
                token = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
                start_after = storage_key((token["ns"], token["name"]))
                rv = int(token["rv"])
            except (ValueError, KeyError, TypeError) as exc:
                raise errors.bad_request(f"invalid continue token: continue key is not valid: {exc}") from exc
        out: list[Obj] = []
        remaining = 0
        last: tuple[str, str] | None = None
        for obj in items:
            meta = obj["metadata"]
            ident = (meta.get("namespace", ""), meta["name"])
            if start_after is not None and storage_key(ident) <= start_after:
                continue
            if lsel is not None and not lsel.matches(meta.get("labels") or {}):
                continue
            if fsel is not None and not fsel.matches(obj):
                continue
            if limit and len(out) >= limit:
                remaining += 1
                continue
            out.append(obj)
            last = ident
        token_out = ""
        if limit and remaining and last is not None:
            token_out = base64.urlsafe_b64encode(
                json.dumps({"ns": last[0], "name": last[1], "rv": rv}).encode()
            ).decode()
        # Upstream counts what is left only without selectors: etcd counts keys, not the matches among them.
        counted = token_out and lsel is None and fsel is None
        return ListResult(out, str(rv), token_out, remaining if counted else None)

    # ------------------------------------------------------------------ helpers

    def _namespace_check(self, rt: ResourceType, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get(NAMESPACES, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            # Upstream names the qualified resource, and the object only when the client named it.
            target = f'{rt.qualified} "{name}"' if name else rt.qualified
            raise errors.forbidden_message(
                f"{target} is forbidden: unable to create new content in namespace "
                f"{namespace} because it is being terminated",
                rt.plural,
                name,
                rt.group,
                [
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {namespace} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            )

    def _check_type_meta(self, rt: ResourceType, body: Obj) -> None:
        """The body's apiVersion and kind as upstream's decoders judge them; both are then set to rt's.

        Built-in kinds decode with rt's group/version/kind as defaults for what the body leaves out; a kind
        the scheme does not know in that version, or one of another Go type, fails decoding (400); a known
        kind of the same type in another version fails the handler's check (400). Custom resources are
        decoded as they are: another kind is a 422 (the CRD's validation), another version a 400."""
        api_version = body.get("apiVersion") or ""
        kind = body.get("kind") or ""
        if api_version == rt.api_version and kind == rt.kind:
            return
        if rt.is_custom:
            if api_version != rt.api_version:
                # CRDs served at several versions share storage; a body may name any served version.
                group, _, version = str(api_version).rpartition("/")
                if group != rt.group or self.registry.get(rt.group, version, rt.plural) is None:
                    raise errors.bad_request(
                        f"the API version in the data ({api_version}) does not match the expected API "
                        f"version ({rt.api_version})"
                    )
            if kind and kind != rt.kind:
                name = (body.get("metadata") or {}).get("name") or ""
                cause: Cause = {
                    "reason": "FieldValueInvalid",
                    "message": f'Invalid value: "{kind}": must be {rt.kind}',
                    "field": "kind",
                }
                raise errors.invalid(str(kind), name, [cause], rt.group)
        else:
            api_version = api_version or rt.api_version
            kind = kind or rt.kind
            group, _, version = str(api_version).rpartition("/")
            prefix = f'{kind} in version "{version}" cannot be handled as a {rt.kind}: '
            if kind not in self.registry.kinds_in(group, version):
                raise errors.bad_request(
                    prefix
                    + f'no kind "{kind}" is registered for version "{api_version}" in scheme '
                    + errors.SCHEME
                )
            if _internal_type(group, kind) != _internal_type(rt.group, rt.kind):
                raise errors.bad_request(
                    prefix + f"converting ({version}.{kind}) to ({_internal_package(rt.group)}.{rt.kind}): "
                    "unknown conversion"
                )
            if api_version != rt.api_version:
                raise errors.bad_request(
                    f"the API version in the data ({api_version}) does not match the expected API version "
                    f"({rt.api_version})"
                )
        body["apiVersion"] = rt.api_version
        body["kind"] = rt.kind

    def _validate(
        self, rt: ResourceType, obj: Obj, opts: WriteOptions, subresource: str = "", *, patched: bool = False
    ) -> None:
        """Decode-check, drop unknown fields (built-in kinds) and validate; raises 400 or 422 as upstream.
        A ``status`` write is judged on its status only (upstream's status strategies)."""
        causes: list[Cause] = []
        meta = obj.get("metadata", {})
        name = meta.get("name", "")
        schema = self._structural(rt)
        if schema is not None:
            causes.extend(_validate_meta(rt, meta))
            causes.extend(schema.validate(obj))
        elif not rt.is_custom and self.check_builtin is not None:
            # Decoding into the Go type comes first upstream: wrong JSON types are a 400, unknown fields
            # are dropped (refused with fieldValidation=Strict, reported as warnings by default).
            check = self.check_builtin(obj, rt)
            if check.decode_error:
                if patched:
                    # The patched document fails to decode: a 422 quoting it (upstream quotes its own
                    # encoding of the document; kubesim's key order differs).
                    prefix = f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                    raise patching.patch_invalid(obj, check.decode_error.removeprefix(prefix))
                raise errors.bad_request(check.decode_error)
            if check.unknown_fields:
                if opts.field_validation == "Strict":
                    fields = ", ".join(f"unknown field {json.dumps(p)}" for p in check.unknown_fields)
                    raise errors.bad_request(
                        f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                        f"strict decoding error: {fields}"
                    )
                if opts.field_validation != "Ignore":
                    opts.warnings.extend(f"unknown field {json.dumps(p)}" for p in check.unknown_fields)
                for path in check.unknown_fields:
                    _delete_path(obj, path)
                check = self.check_builtin(obj, rt)
            causes.extend(check.causes)
        else:
            causes.extend(_validate_meta(rt, meta))
        if subresource == "status":
            causes = [c for c in causes if c.get("field", "").startswith("status")]
        elif not rt.is_custom and "status" in rt.subresources:
            # Built-in kinds validate their status on /status writes only (ValidateXStatusUpdate).
            causes = [c for c in causes if not c.get("field", "").startswith("status")]
        if causes:
            raise errors.invalid(rt.kind, name, causes, rt.group)

    def _check_stored_size(self, rt: ResourceType, obj: Obj) -> None:
        """etcd's request limit, as the API server reports it (a 500 "etcdserver: request is too large"),
        and, for a request over 2 MiB, its etcd client's gRPC send limit (a 500 carrying the request's size,
        estimated here). Dry runs never reach etcd and are not checked. Upstream measures the encoded etcd
        request (protobuf for built-in kinds, JSON for custom resources), so for built-in kinds the JSON
        measured here is a little stricter than the real limit."""
        limit = self.max_object_bytes
        if limit <= 0:
            return
        size = len(dumps(obj))
        meta = obj.get("metadata") or {}
        key = "/".join(
            p for p in ("/registry", rt.group, rt.plural, meta.get("namespace"), meta.get("name")) if p
        )
        # The etcd transaction names the key three times (compare, put, get) around the value.
        request = size + 3 * len(key) + 16
        if request > errors.ETCD_CLIENT_MAX_SEND:
            raise errors.etcd_client_message_too_large(request)
        if size > limit:
            raise errors.etcd_request_too_large()

    def _structural(self, rt: ResourceType) -> Any:
        if rt.schema is None:
            return None
        key = (rt.group, rt.version, rt.plural)
        cached = self._schemas.get(key)
        if cached is None or cached[0] is not rt.schema:
            from kubesim.crdschema import StructuralSchema

            cached = (rt.schema, StructuralSchema(rt.schema))
            self._schemas[key] = cached
        return cached[1]

    def _default_and_prune(self, rt: ResourceType, obj: Obj, opts: WriteOptions) -> Obj:
        schema = self._structural(rt)
        if schema is None:
            return obj
        if opts.field_validation in ("Strict", "Warn"):
            unknown = _unknown_after_prune(obj, schema)
            if unknown and opts.field_validation == "Strict":
                raise errors.bad_request(
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding '
                    "error: " + ", ".join(f'unknown field "{f}"' for f in unknown)
                )
            opts.warnings.extend(f'unknown field "{f}"' for f in unknown)
        obj = schema.prune(obj)
        obj = schema.default(obj)
        return obj

    def _run_hooks(
        self,
        hooks: dict[tuple[str, str], builtins.list[Hook]],
        rt: ResourceType,
        new: Obj,
        old: Obj | None,
        opts: WriteOptions,
    ) -> None:
        for hook in hooks.get(rt.key, ()):
            hook(self, rt, new, old, opts)

    # ------------------------------------------------------------------ create

    def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        opts: WriteOptions | None = None,
        *,
        operation: str = "Update",
    ) -> Obj:
        return run_steps(self.create_steps(rt, namespace, body, opts, operation=operation))

    def create_steps(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        opts: WriteOptions | None = None,
        *,
        operation: str = "Update",
    ) -> Steps[Obj]:
        opts = opts or WriteOptions()
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        obj = copy.deepcopy(body)
        self._check_type_meta(rt, obj)
        if rt.kind in REVIEW_KINDS:
            if self.review_handler is None:
                raise errors.method_not_allowed()
            return self.review_handler(rt, obj, opts, namespace)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        named_by_client = bool(meta.get("name"))
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = generate_name(meta["generateName"])
            else:
                raise errors.invalid(
                    rt.kind,
                    "",
                    [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: name or generateName is required",
                            "field": "metadata.name",
                        }
                    ],
                    rt.group,
                )
        name = meta["name"]
        # etcd3's store refuses a positive resourceVersion on create (ParseUint; anything else is ignored);
        # a dry run never reaches it and echoes it; an apply creating the object drops it.
        client_rv = str(meta.get("resourceVersion") or "")
        rv_set = operation != "Apply" and client_rv.isascii() and client_rv.isdigit() and int(client_rv) > 0
        for server_field in (
            "uid",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            meta.pop(server_field, None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now()
        if _has_generation(rt):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if "status" in rt.subresources:
            obj.pop("status", None)
        obj = self._default_and_prune(rt, obj, opts)
        self._run_hooks(self.create_hooks, rt, obj, None, opts)
        if opts.admitting:
            # The namespace lifecycle check comes before the webhooks upstream.
            with self.store.lock:
                self._namespace_check(rt, namespace, name if named_by_client else "")
            obj = yield from self._admit_create(rt, namespace, obj, opts, named_by_client)
            meta = obj["metadata"]
            name = meta["name"]
        self._validate(rt, obj, opts)
        _record_manager(rt, None, obj, opts, operation, "")
        self._run_hooks(self.allocation_hooks, rt, obj, None, opts)
        if opts.admitting:
            yield AdmissionPoint("validate", "CREATE", rt, "", namespace, name, obj, None, opts)
        with self.store.lock:
            self._namespace_check(rt, namespace, name if named_by_client else "")
            for admit in self.locked_admission:
                admit(rt, obj, None, opts, name)  # a generated name is generated before admission
            if not opts.dry_run:
                if rv_set:
                    raise errors.resource_version_set_on_create()
                self._check_stored_size(rt, obj)  # etcd refuses the request before looking at the key
            if self.store.get(rt.key, meta.get("namespace", ""), name) is not None:
                raise errors.already_exists(rt.plural, name, rt.group)
            if opts.dry_run:
                if client_rv and operation != "Apply":
                    meta["resourceVersion"] = client_rv
                return _as_served(rt, obj)
            return self.store.put(rt.key, _as_stored(rt, obj))

    def _admit_create(
        self, rt: ResourceType, namespace: str, obj: Obj, opts: WriteOptions, named_by_client: bool
    ) -> Steps[Obj]:
        """The mutating webhooks of a create. Upstream calls them before the registry fills in what the
        server owns (uid, creationTimestamp, generation, a generated name), so they see the object without
        them; whatever they set there is overwritten, as upstream's BeforeCreate does."""
        meta = obj["metadata"]
        server_owned = {k: meta[k] for k in ("uid", "creationTimestamp", "generation") if k in meta}
        view = {**obj, "metadata": {k: v for k, v in meta.items() if k not in server_owned}}
        if not named_by_client:
            view["metadata"].pop("name", None)
        mutated = yield AdmissionPoint(
            "mutate", "CREATE", rt, "", namespace, meta["name"] if named_by_client else "", view, None, opts
        )
        if mutated is None or mutated is view:
            return obj
        self._check_type_meta(rt, mutated)
        mmeta = mutated.get("metadata")
        if not isinstance(mmeta, dict):
            mmeta = mutated["metadata"] = {}
        if not mmeta.get("name"):
            mmeta["name"] = meta["name"]
        mmeta.update(server_owned)
        if rt.namespaced:
            mmeta["namespace"] = namespace
        return self._default_and_prune(rt, mutated, opts)

    # ------------------------------------------------------------------ update

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        opts: WriteOptions | None = None,
        subresource: str = "",
        *,
        operation: str = "Update",
    ) -> Obj:
        return run_steps(self.update_steps(rt, namespace, name, body, opts, subresource, operation=operation))

    def update_steps(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        opts: WriteOptions | None = None,
        subresource: str = "",
        *,
        operation: str = "Update",
        admission_subresource: str | None = None,
    ) -> Steps[Obj]:
        """``admission_subresource``: the subresource webhooks are told of when it is not ``subresource``
        (``namespaces/x/finalize`` writes as a status write)."""
        opts = opts or WriteOptions()
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a JSON object")
        new = copy.deepcopy(body, _stored_managed_fields_kept(body, self.try_get(rt, namespace, name)))
        self._check_type_meta(rt, new)
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        while True:
            with self.store.lock:
                old = self.try_get(rt, namespace, name)
                uid = meta.get("uid")
                if uid and old is not None and uid != old["metadata"].get("uid"):
                    # The body's uid is a storage precondition, checked before the update is tried.
                    raise errors.conflict(
                        rt.plural,
                        name,
                        rt.group,
                        f"StorageError: invalid object, Code: 4, Key: {_etcd_key(rt, namespace, name)}, "
                        "ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: "
                        f"UID in precondition: {uid}, "
                        f"UID in object meta: {old['metadata'].get('uid', '')}",
                    )
                if old is None:
                    raise errors.not_found(rt.plural, name, rt.group)
                if not opts.admitting:
                    return self._update_locked(rt, old, new, opts, subresource, operation)
            try:
                sub = subresource if admission_subresource is None else admission_subresource
                return (
                    yield from self._update_admitted(
                        rt,
                        old,
                        copy.deepcopy(new),
                        opts,
                        subresource,
                        operation,
                        admission_subresource=sub,
                        precondition=bool(meta.get("resourceVersion")),
                    )
                )
            except _Retry:
                continue

    def _update_admitted(
        self,
        rt: ResourceType,
        old: Obj,
        new: Obj,
        opts: WriteOptions,
        subresource: str,
        operation: str,
        *,
        patched: bool = False,
        admission_subresource: str = "",
        precondition: bool = False,
    ) -> Steps[Obj]:
        """An update with its webhooks, the store lock released while they are called: the mutating ones
        see the object as the client's PUT or patch made it, the validating ones the object as it will be
        stored; the write then goes through only if the object did not change in between (else _Retry, or
        409 for a write that named a resourceVersion: ``precondition``)."""
        old_meta = old["metadata"]
        namespace, name = old_meta.get("namespace", ""), old_meta["name"]
        sub = admission_subresource
        mutated = yield AdmissionPoint("mutate", "UPDATE", rt, sub, namespace, name, new, old, opts)
        if mutated is not None and mutated is not new:
            self._check_type_meta(rt, mutated)
            mmeta = mutated.get("metadata")
            if not isinstance(mmeta, dict):
                mmeta = mutated["metadata"] = {}
            mmeta["name"] = name
            new = mutated
        prepared = self._prepare_update(rt, old, new, opts, subresource, operation, patched=patched)
        yield AdmissionPoint("validate", "UPDATE", rt, sub, namespace, name, prepared, old, opts)
        with self.store.lock:
            current = self.try_get(rt, namespace, name)
            if current is None:
                raise errors.not_found(rt.plural, name, rt.group)
            if current["metadata"]["resourceVersion"] != old_meta["resourceVersion"]:
                if precondition:
                    raise errors.conflict(rt.plural, name, rt.group)
                raise _Retry
            return self._commit_update(rt, old, prepared, opts, subresource)

    def _update_locked(
        self,
        rt: ResourceType,
        old: Obj,
        new: Obj,
        opts: WriteOptions,
        subresource: str,
        operation: str,
        *,
        patched: bool = False,
    ) -> Obj:
        prepared = self._prepare_update(rt, old, new, opts, subresource, operation, patched=patched)
        return self._commit_update(rt, old, prepared, opts, subresource)

    def _prepare_update(
        self,
        rt: ResourceType,
        old: Obj,
        new: Obj,
        opts: WriteOptions,
        subresource: str,
        operation: str,
        *,
        patched: bool = False,
    ) -> Obj:
        """An update up to its storing: preconditions, what the server owns, defaults, validation and
        managedFields (reads the stored object ``old`` only)."""
        meta = new["metadata"]
        old_meta = old["metadata"]
        name = old_meta["name"]
        rv = meta.get("resourceVersion")
        if rv and rv != old_meta["resourceVersion"]:
            raise errors.conflict(rt.plural, name, rt.group)
        uid = meta.get("uid")
        if uid and uid != old_meta.get("uid") and not (rt.is_custom and subresource == "status"):
            # Checked twice upstream (the registry's common fields, then the kind's ObjectMeta update
            # validation), so the cause comes twice; custom resources' /status keeps the stored metadata.
            cause = err_invalid("metadata.uid", uid, "field is immutable")
            raise errors.invalid(rt.kind, name, [cause, cause], rt.group)
        # Fields the server owns.
        for keep in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if keep in old_meta:
                meta[keep] = old_meta[keep]
            else:
                meta.pop(keep, None)
        meta.pop("selfLink", None)
        if rt.namespaced:
            meta["namespace"] = old_meta.get("namespace", "")
        has_status = "status" in rt.subresources
        if subresource == "status":
            # Status writes change only status (upstream's ResetObjectMetaForStatus).
            status = new.get("status")
            managed = meta.get("managedFields")
            new = {k: v for k, v in old.items() if k != "status"}
            new["metadata"] = dict(old_meta)
            if managed is not None:
                new["metadata"]["managedFields"] = managed
            if status is not None:
                new["status"] = status
            meta = new["metadata"]
        elif has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        # Custom resources are pruned and defaulted on every write, /status included (the rest of the
        # object comes from the stored one there, so only status can change).
        new = self._default_and_prune(rt, new, opts)
        meta = new["metadata"]
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if added:
                found = ", ".join(map(json.dumps, sorted(added)))
                no_new: Cause = {
                    "reason": "FieldValueForbidden",
                    "message": _NO_NEW_FINALIZERS + f"[]string{{{found}}}",
                    "field": "metadata.finalizers",
                }
                raise errors.invalid(
                    rt.kind,
                    name,
                    # Twice, as the uid: the registry's and the kind's ObjectMeta update validations.
                    [no_new, no_new],
                    rt.group,
                )
        if _has_generation(rt) and _spec_part(rt, new) != _spec_part(rt, old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        self._run_hooks(self.update_hooks, rt, new, old, opts)
        self._validate(rt, new, opts, subresource, patched=patched)
        _record_manager(rt, old, new, opts, operation, subresource)
        return new

    def _commit_update(
        self, rt: ResourceType, old: Obj, new: Obj, opts: WriteOptions, subresource: str
    ) -> Obj:
        """Store an update prepared by _prepare_update (under the store lock)."""
        meta = new["metadata"]
        old_meta = old["metadata"]
        name = old_meta["name"]
        if not subresource:
            for admit in self.locked_admission:
                admit(rt, new, old, opts, name)
        if _strip_for_compare(new) == _strip_for_compare(old):
            return old  # a no-op write changes nothing and emits no event
        meta.pop("resourceVersion", None)
        if opts.dry_run:
            meta["resourceVersion"] = old_meta["resourceVersion"]
            return _as_served(rt, new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not _spec_finalizers(rt, new):
            # The last finalizer gone, the object is deleted: the DELETED event carries its last stored
            # state at the deletion's resourceVersion, the answer the update at the last stored version.
            self._remove(rt, new)
            meta["resourceVersion"] = old_meta["resourceVersion"]
            return new
        self._check_stored_size(rt, new)
        return self.store.put(rt.key, _as_stored(rt, new))

    # ------------------------------------------------------------------ patch

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        patch: Any,
        opts: WriteOptions | None = None,
        subresource: str = "",
        force: bool = False,
    ) -> tuple[Obj, bool]:
        """Apply a patch; returns (object, created) — server-side apply may create."""
        return run_steps(self.patch_steps(rt, namespace, name, patch_type, patch, opts, subresource, force))

    def patch_steps(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        patch: Any,
        opts: WriteOptions | None = None,
        subresource: str = "",
        force: bool = False,
    ) -> Steps[tuple[Obj, bool]]:
        opts = opts or WriteOptions()
        while True:
            old, new, operation = yield from self._patched(
                rt, namespace, name, patch_type, patch, opts, subresource, force
            )
            if old is None:  # stored without webhooks, or created by server-side apply
                return new, operation == "Create"
            try:
                updated = yield from self._update_admitted(
                    rt,
                    old,
                    new,
                    opts,
                    subresource,
                    operation,
                    patched=operation == "Update",
                    admission_subresource=subresource,
                    # A patch naming a resourceVersion is a precondition; others are tried again.
                    precondition="resourceVersion" in json.dumps(patch),
                )
                return updated, False
            except _Retry:
                continue

    def _patched(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        patch: Any,
        opts: WriteOptions,
        subresource: str,
        force: bool,
    ) -> Steps[tuple[Obj | None, Obj, str]]:
        """The patched object, the stored one it came from and the managedFields operation. Old None: the
        result is final (without webhooks the update is stored at once), operation "Create" if server-side
        apply created it."""
        create_body: Obj | None = None
        with self.store.lock:
            old = self.try_get(rt, namespace, name)
            if patch_type == "apply":
                if not opts.field_manager:
                    cause: Cause = {
                        "reason": "FieldValueRequired",
                        "message": "Required value: is required for apply patch",
                        "field": "fieldManager",
                    }
                    raise errors.invalid("PatchOptions", "", [cause], "meta.k8s.io")
                if not isinstance(patch, dict):
                    raise errors.bad_request("the body of the request was not a YAML/JSON object")
                if old is None and subresource == "":
                    applied = patching.apply_server_side(
                        None,
                        patch,
                        opts.field_manager,
                        force,
                        rt.group,
                        rt.version,
                        rt.kind,
                        now(),
                        schema=rt.schema,
                        reset_status="status" in rt.subresources,
                    )
                    applied.setdefault("metadata", {})["name"] = name
                    if opts.authorize_create is not None:
                        opts.authorize_create()
                    if not opts.admitting:
                        return None, self.create(rt, namespace, applied, opts, operation="Apply"), "Create"
                    create_body = applied
                elif old is None:
                    raise errors.not_found(rt.plural, name, rt.group)
                else:
                    new = patching.apply_server_side(
                        old,  # read only: apply_server_side works on its own copy
                        patch,
                        opts.field_manager,
                        force,
                        rt.group,
                        rt.version,
                        rt.kind,
                        now(),
                        schema=rt.schema,
                        subresource=subresource,
                        reset_status=not subresource and "status" in rt.subresources,
                    )
                    new = self._prepare_patched(rt, new, name)
                    if not opts.admitting:
                        return None, self._update_locked(rt, old, new, opts, subresource, "Apply"), ""
                    return old, new, "Apply"
            if create_body is None:
                if old is None:
                    raise errors.not_found(rt.plural, name, rt.group)
                base = old  # read only: each patch function works on its own copy (and returns it)
                if patch_type == "json":
                    new = patching.apply_json_patch(base, patch)
                elif patch_type == "merge":
                    new = patching.apply_merge_patch(base, patch)
                elif patch_type == "strategic":
                    if rt.is_custom or not patching.has_strategic_schema(rt.group, rt.version, rt.kind):
                        raise errors.unsupported_media_type(errors.PATCH_MEDIA_TYPES)
                    new = patching.apply_strategic_merge_patch(base, patch, rt.group, rt.version, rt.kind)
                else:
                    raise errors.unsupported_media_type(errors.PATCH_MEDIA_TYPES)
                if not isinstance(new, dict):
                    raise errors.bad_request("the patched object is not a JSON object")
                new = self._prepare_patched(rt, new, name)
                # A patch carrying metadata.resourceVersion is a precondition, as upstream.
                if not opts.admitting:
                    return (
                        None,
                        self._update_locked(rt, old, new, opts, subresource, "Update", patched=True),
                        "",
                    )
                return old, new, "Update"
        assert create_body is not None  # every other path returned under the lock
        created = yield from self.create_steps(rt, namespace, create_body, opts, operation="Apply")
        return None, created, "Create"

    def _prepare_patched(self, rt: ResourceType, new: Obj, name: str) -> Obj:
        self._check_type_meta(rt, new)
        meta = new.setdefault("metadata", {})
        if meta.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        return new

    # ------------------------------------------------------------------ delete

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: dict[str, Any] | None = None,
        opts: WriteOptions | None = None,
    ) -> tuple[Obj, bool]:
        """Delete; returns (object or Status, removed_now)."""
        return run_steps(self.delete_steps(rt, namespace, name, options, opts))

    def delete_steps(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: dict[str, Any] | None = None,
        opts: WriteOptions | None = None,
        *,
        collection: bool = False,
    ) -> Steps[tuple[Obj, bool]]:
        """``collection``: one deletion of a deletecollection, which webhooks are told of as upstream tells
        them (without the object's name: the request names none)."""
        opts = opts or WriteOptions()
        options = options or {}
        policy = _propagation_policy(options)
        while True:
            old, finalizers, grace, done = self._delete_checks(rt, namespace, name, options, opts, policy)
            if done is not None:
                return done
            # Upstream's deletion admission: the mutating webhooks, then the validating ones, both with the
            # object as oldObject, after the preconditions and before the object is marked or removed.
            for phase in ("mutate", "validate"):
                yield AdmissionPoint(
                    phase, "DELETE", rt, "", namespace, "" if collection else name, None, old, opts, options
                )
            with self.store.lock:
                current = self.get(rt, namespace, name)
                if current["metadata"].get("resourceVersion") != old["metadata"].get("resourceVersion"):
                    continue
                return self._delete_now(rt, old, finalizers, grace, opts)

    def _delete_checks(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: dict[str, Any],
        opts: WriteOptions,
        policy: str | None,
    ) -> tuple[Obj, builtins.list[str], int, tuple[Obj, bool] | None]:
        """The stored object, its finalizers after the deletion and its grace period, and the outcome when
        the deletion is decided without admission (no webhooks, or an object already being deleted)."""
        with self.store.lock:
            old = self.get(rt, namespace, name)
            meta = old["metadata"]
            pre = options.get("preconditions") or {}
            # rest.BeforeDelete: a Conflict on the kind (not the resource), UID first.
            if pre.get("uid") is not None and pre["uid"] != meta.get("uid"):
                raise errors.conflict(
                    rt.kind,
                    name,
                    rt.group,
                    f"the UID in the precondition ({pre['uid']}) does not match the UID in record "
                    f"({meta.get('uid')}). The object might have been deleted and then recreated",
                )
            pre_rv = pre.get("resourceVersion")
            if pre_rv is not None and pre_rv != meta.get("resourceVersion"):
                raise errors.conflict(
                    rt.kind,
                    name,
                    rt.group,
                    f"the ResourceVersion in the precondition ({pre['resourceVersion']}) does not match the "
                    f"ResourceVersion in record ({meta.get('resourceVersion')}). The object might have been "
                    "modified",
                )
            finalizers = list(meta.get("finalizers") or ())
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            grace = self._grace_period(rt, old, options)
            if meta.get("deletionTimestamp"):
                # Already deleting: a shorter grace period may be requested (pods), which moves the deadline
                # (and at 0 removes the pod once no finalizer holds it); otherwise nothing changes.
                current = meta.get("deletionGracePeriodSeconds")
                if rt.key != ("", "pods") or current is None or grace >= int(current):
                    return old, finalizers, grace, (old, False)
                shortened = copy.deepcopy(old)
                shortened["metadata"]["deletionTimestamp"] = _after(grace)
                shortened["metadata"]["deletionGracePeriodSeconds"] = grace
                if opts.dry_run:
                    return old, finalizers, grace, (shortened, False)
                shortened = self.store.put(rt.key, shortened)
                if grace == 0 and not finalizers:
                    return old, finalizers, grace, self._finish_delete(rt, shortened, opts)
                return old, finalizers, grace, (shortened, False)
            if not opts.admitting:
                return old, finalizers, grace, self._delete_now(rt, old, finalizers, grace, opts)
            return old, finalizers, grace, None

    def _delete_now(
        self, rt: ResourceType, old: Obj, finalizers: builtins.list[str], grace: int, opts: WriteOptions
    ) -> tuple[Obj, bool]:
        """Mark the object deleted (finalizers, a grace period) or remove it; under the store lock."""
        for hook in self.delete_hooks.get(rt.key, ()):
            hook(self, rt, old)
        if finalizers or grace or _spec_finalizers(rt, old):
            new = copy.deepcopy(old)
            nmeta = new["metadata"]
            nmeta["deletionTimestamp"] = _after(grace)  # when the grace period ends
            nmeta["deletionGracePeriodSeconds"] = grace
            if finalizers:
                nmeta["finalizers"] = finalizers
            if opts.dry_run:
                return _as_served(rt, new), False
            self._check_stored_size(rt, new)
            return self.store.put(rt.key, _as_stored(rt, new)), False
        return self._finish_delete(rt, old, opts)

    def _grace_period(self, rt: ResourceType, obj: Obj, options: dict[str, Any]) -> int:
        if rt.group or rt.plural != "pods":
            return 0
        # Graceful deletion applies to pods bound to a node: the kubelet stops them, then removes them.
        if not obj.get("spec", {}).get("nodeName"):
            return 0
        if obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = obj.get("spec", {}).get("terminationGracePeriodSeconds", 30)
        return max(int(grace), 0)

    def _finish_delete(self, rt: ResourceType, old: Obj, opts: WriteOptions) -> tuple[Obj, bool]:
        if opts.dry_run:
            return old, False
        final = self._remove(rt, old)
        if rt.plural in _RETURNS_DELETED_OBJECT or rt.is_custom:
            return final, True
        meta = old["metadata"]
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": go_details(
                {"name": meta["name"], "group": rt.group, "kind": rt.plural, "uid": meta.get("uid")}
            ),
        }, True

    def _remove(self, rt: ResourceType, obj: Obj) -> Obj:
        return self.store.remove(rt.key, obj)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
        options: dict[str, Any] | None = None,
        opts: WriteOptions | None = None,
    ) -> builtins.list[Obj]:
        return run_steps(
            self.delete_collection_steps(rt, namespace, label_selector, field_selector, options, opts)
        )

    def delete_collection_steps(
        self,
        rt: ResourceType,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
        options: dict[str, Any] | None = None,
        opts: WriteOptions | None = None,
    ) -> Steps[builtins.list[Obj]]:
        _propagation_policy(options or {})
        result = self.list(rt, namespace, label_selector, field_selector)
        deleted = []
        for obj in result.items:
            meta = obj["metadata"]
            try:
                out, _ = yield from self.delete_steps(
                    rt, meta.get("namespace", ""), meta["name"], options, opts, collection=True
                )
            except ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(out if out.get("kind") != "Status" else obj)
        return deleted

    # ------------------------------------------------------------------ services

    def allocate_service_ip(self) -> str:
        with self._lock:
            ip = self._service_net.network_address + self._next_service_ip
            self._next_service_ip += 1
            return str(ip)

    def node_ports_in_use(self, skip: tuple[str, str] | None = None) -> set[int]:
        """The node ports of stored services (but the service ``skip``: (namespace, name))."""
        used: set[int] = set()
        for svc in self.store.list(("", "services")):
            meta = svc["metadata"]
            if skip is not None and (meta.get("namespace", ""), meta["name"]) == skip:
                continue
            for port in (svc.get("spec") or {}).get("ports") or ():
                if isinstance(port, dict) and isinstance(port.get("nodePort"), int):
                    used.add(port["nodePort"])
        return used

    def allocate_node_port(self, taken: set[int]) -> int | None:
        """A free port of the default node-port range (30000-32767), at random as upstream picks them;
        None when the range is full."""
        with self._lock:
            free = sorted(set(range(NODE_PORT_RANGE[0], NODE_PORT_RANGE[1] + 1)) - taken)
            if not free:
                return None
            port = random.choice(free)
            taken.add(port)
            return port


def _spec_finalizers(rt: ResourceType, obj: Obj) -> bool:
    """Namespaces also wait for ``spec.finalizers`` (the namespace controller's "kubernetes")."""
    return rt.key == NAMESPACES and bool(obj.get("spec", {}).get("finalizers"))


def _stored_managed_fields_kept(body: Obj, stored: Obj | None) -> dict[int, Any]:
    """A deepcopy memo that leaves the stored object's managedFields list uncopied when the body carries
    that very list (in-process controllers update with ``{**stored, ...}``): stored objects are never
    changed, and nothing changes a managedFields list in place (record_update_manager reads it and stores
    a new one), so sharing it is safe and saves copying what is often half the object."""
    memo: dict[int, Any] = {}
    if stored is not None:
        kept = stored["metadata"].get("managedFields")
        meta = body.get("metadata")
        if kept is not None and isinstance(meta, dict) and meta.get("managedFields") is kept:
            memo[id(kept)] = kept
    return memo


def _record_manager(
    rt: ResourceType, old: Obj | None, new: Obj, opts: WriteOptions, operation: str, subresource: str
) -> None:
    patching.record_update_manager(
        old,
        new,
        opts.field_manager or _default_manager(opts),
        operation,
        now(),
        subresource=subresource,
        schema=rt.schema,
        reset_status=not subresource and "status" in rt.subresources,
        stored_old=old is not None,  # old is the stored object: its managedFields are kubesim's own
    )


def _default_manager(opts: WriteOptions) -> str:
    return opts.default_manager or opts.user.name.rsplit(":", 1)[-1] or "unknown"


def _unknown_after_prune(obj: Obj, schema: Any) -> list[str]:
    pruned = schema.prune(copy.deepcopy(obj))
    out: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict):
            for k, v in a.items():
                p = f"{path}.{k}" if path else k
                if not isinstance(b, dict) or k not in b:
                    out.append(p)
                else:
                    walk(v, b[k], p)
        elif isinstance(a, list) and isinstance(b, list):
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                walk(x, y, f"{path}[{i}]")

    walk(obj, pruned, "")
    return out


_NO_NEW_FINALIZERS = (
    "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers "
)

_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[([^\]]*)\]")


def _delete_path(obj: Any, path: str) -> None:
    """Remove the field at a validation path (``spec.containers[0].foo``, ``data[a.b]``) if present."""
    tokens = [m.group(1) if m.group(1) is not None else m.group(2) for m in _PATH_TOKEN.finditer(path)]
    cursor = obj
    for i, tok in enumerate(tokens):
        last = i == len(tokens) - 1
        if isinstance(cursor, list):
            try:
                idx = int(tok)
            except ValueError:
                return
            if not 0 <= idx < len(cursor):
                return
            if last:
                return
            cursor = cursor[idx]
        elif isinstance(cursor, dict):
            if tok not in cursor:
                return
            if last:
                del cursor[tok]
                return
            cursor = cursor[tok]
        else:
            return


def _validate_meta(rt: ResourceType, meta: dict[str, Any]) -> list[Cause]:
    return validate_object_meta(meta, name_fn=name_validator(rt.group, rt.kind))
