"""``kubesim.Cluster``: a whole simulated cluster in one object, as a sync or an async context manager.

with kubesim.Cluster() as cluster:          # served from a background thread
    subprocess.run(["kubectl", "--kubeconfig", cluster.kubeconfig, "get", "ns"])

async with kubesim.Cluster() as cluster:    # served on the running event loop
    ...
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from kubesim import builtin_hooks, errors, kubeconfig
from kubesim.accounting import RequestCounter
from kubesim.api import ADMIN, API, CRDS, MAX_OBJECT_BYTES, NAMESPACES, SYSTEM, User, WriteOptions
from kubesim.authn import (
    BoundObject,
    TokenAuthenticator,
    bound_object_from_ref,
    self_subject_review_status,
    token_request_expiration,
    token_request_metadata_causes,
)
from kubesim.controllers.base import Controller
from kubesim.controllers.namespaces import DEFAULT_NAMESPACES, NamespaceController
from kubesim.errors import ApiError
from kubesim.faults import Faults
from kubesim.objectmeta import now, parse_time
from kubesim.openapi_serving import OpenAPIService
from kubesim.rbac import (
    RBACIndex,
    RequestAttributes,
    UserInfo,
    bootstrap_policy,
    check_escalation,
    forbidden_error,
    impersonation_checks,
)
from kubesim.resources import Registry, ResourceType
from kubesim.server import MAX_REQUEST_BODY_BYTES, Server
from kubesim.store import Event, Key, Store, dumps
from kubesim.tls import serving_certs

_RBAC_KINDS = {
    "roles": "Role",
    "rolebindings": "RoleBinding",
    "clusterroles": "ClusterRole",
    "clusterrolebindings": "ClusterRoleBinding",
}

T = TypeVar("T")


class Cluster:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig: str | os.PathLike[str] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        history_size: int = 20000,
        bookmark_interval: float = 5.0,
        rbac: bool = True,
        runtime: str = "fake",
        kubelet: dict[str, Any] | None = None,
        storage: dict[str, Any] | None = None,
        tls: bool = True,
        max_request_body_bytes: int = MAX_REQUEST_BODY_BYTES,
        max_object_bytes: int = MAX_OBJECT_BYTES,
    ) -> None:
        self.host = host
        # HTTPS by default: kubectl and helm (client-go) send a kubeconfig's token only over TLS.
        self.tls = tls
        self.port = port
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kubesim-")
            state_dir = self._tmp.name
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = str(kubeconfig) if kubeconfig else str(self.state_dir / "kubeconfig")
        # The CA that signed the serving certificate (PEM), for clients and in-cluster configs;
        # "" with tls=False.
        self.ca_file = ""
        self._ca_pem: bytes | None = None
        self.admin_token = secrets.token_urlsafe(32)
        self.store = Store(history_size=history_size)
        self.registry = Registry()
        self.api = API(self.store, self.registry)
        self.api.max_object_bytes = max_object_bytes
        self.faults = Faults()
        self.requests = RequestCounter()
        self.authn = TokenAuthenticator(
            self.admin_token, service_account_uid=self._sa_uid, bound_object_state=self._bound_object_state
        )
        self.rbac = RBACIndex()
        self.server = Server(
            self.api,
            self.registry,
            authenticate=self._authenticate,
            authorize=self._authorize,
            faults=self.faults,
            counter=self.requests,
            bookmark_interval=bookmark_interval,
            max_request_body_bytes=max_request_body_bytes,
        )
        self.rbac_enabled = rbac
        self.runtime = runtime
        # Kubelet options (see kubesim.kubelet.Kubelet): start_delay, image_commands, pull_fail_pattern, ...
        self.kubelet_options = dict(kubelet or {})
        # Storage options (see kubesim.controllers.storage.StorageController): bind_delay, ...
        self.storage_options = dict(storage or {})
        self.controllers: list[Controller] = []
        self._kubelet_ssl: ssl.SSLContext | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._wire()

    # ------------------------------------------------------------------ wiring

    def _wire(self) -> None:
        builtin_hooks.install(self.api)
        from kubesim.validation import BuiltinCheck, check_builtin

        def check(obj: dict[str, Any], rt: ResourceType) -> BuiltinCheck:
            return check_builtin(obj, rt.group, rt.version, rt.kind, canonicalize=True)

        self.api.check_builtin = check
        for plural in _RBAC_KINDS:
            for hooks in (self.api.create_hooks, self.api.update_hooks):
                hooks.setdefault(("rbac.authorization.k8s.io", plural), []).append(self._no_escalation)
        self.api.review_handler = self._review
        self.server.impersonate = self._impersonate
        self.server.non_resource["subresource:serviceaccounts/token"] = self._token_request
        # Admin endpoints (RBAC: nonResourceURLs; only system:masters by default).
        self.server.non_resource["/kubesim/requests"] = self._requests_endpoint
        self.server.non_resource["/kubesim/faults"] = self._faults_endpoint
        self.store.listeners.append(self._on_store_event)
        self.controllers.append(NamespaceController(self.api))
        from kubesim.controllers.gc import GarbageCollector
        from kubesim.controllers.quota import QuotaController
        from kubesim.controllers.rootca import RootCAPublisher
        from kubesim.controllers.scheduler import Scheduler
        from kubesim.controllers.serviceaccounts import ServiceAccountController
        from kubesim.controllers.storage import StorageController
        from kubesim.kubelet import Kubelet
        from kubesim.kubelet.inprocess import InProcessClient

        self.controllers.append(GarbageCollector(self.api))
        self.controllers.append(ServiceAccountController(self.api))
        self.controllers.append(RootCAPublisher(self.api, lambda: self._ca_pem))
        self.controllers.append(QuotaController(self.api))  # also installs the quota admission check
        self.controllers.append(
            StorageController(self.api, self.state_dir / "volumes", **self.storage_options)
        )
        self.scheduler = Scheduler(self.api)
        self.scheduler.install(self.server)
        self.controllers.append(self.scheduler)
        node = str(self.kubelet_options.get("node_name") or "kubesim-node")
        self.kubelet = Kubelet(
            InProcessClient(
                self.api,
                User(f"system:node:{node}", ("system:nodes", "system:authenticated")),
                server_url=lambda: self.url,
                token_issuer=self._issue_token,
            ),
            self.state_dir,
            runtime=self.runtime,
            **self.kubelet_options,
        )
        self.server.non_resource["subresource:pods/log"] = self._pod_log
        self.server.openapi = OpenAPIService(self.registry)

    async def _pod_log(self, request: web.Request, user: User) -> web.StreamResponse:
        """``pods/log``: from the in-process node, or proxied to the kubelet endpoint of the node the pod
        runs on (an agent: ``kubesim kubelet``), with this server's kubelet client certificate, as the
        API server proxies to kubelets."""
        target = request["kubesim.target"]
        pod = self.api.get(target.rt, target.namespace or "", target.name or "")
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        from kubesim.kubelet import log_container

        if not node_name:
            # Not scheduled: no node to ask, an empty log (as upstream's API server answers).
            log_container(pod, request.query.get("container", ""))
            return web.Response(text="")
        if node_name == self.kubelet.node_name:
            return await self.kubelet.serve_log(
                request, target.namespace or "", target.name or "", request.query.get("container", "")
            )
        from kubesim.kubelet_proxy import proxy_container_log

        node = self.store.get(("", "nodes"), "", node_name)
        return await proxy_container_log(request, pod, node, self._kubelet_client_ssl())

    def _kubelet_client_ssl(self) -> ssl.SSLContext:
        if self._kubelet_ssl is None:
            certs = serving_certs(self.host)
            ctx = ssl.create_default_context()
            ctx.check_hostname = False  # kubelets serve certificates of their own (as upstream without
            ctx.verify_mode = ssl.CERT_NONE  # --kubelet-certificate-authority)
            if certs.ca is not None:
                pair = certs.ca.issue(
                    "kube-apiserver-kubelet-client", organizations=["system:masters"], client=True
                )
                with tempfile.TemporaryDirectory(prefix="kubesim-tls-") as tmp:
                    cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
                    cert.write_bytes(pair.cert_pem)
                    key.write_bytes(pair.key_pem)
                    key.chmod(0o600)
                    ctx.load_cert_chain(cert, key)
            self._kubelet_ssl = ctx
        return self._kubelet_ssl

    def _issue_token(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """TokenRequest for the in-process kubelet (projected ServiceAccount tokens)."""
        return self._answer_token_request(namespace, name, body)

    def _sa_uid(self, namespace: str, name: str) -> str | None:
        sa = self.store.get(("", "serviceaccounts"), namespace, name)
        return None if sa is None else str(sa["metadata"].get("uid"))

    def _authenticate(self, header: str | None) -> User | None:
        """The requester: None (401) for a token that does not authenticate; a request without one is
        system:anonymous's, which RBAC then judges (upstream's defaults)."""
        info = self.authn.authenticate_request(header)
        if info is None:
            return None
        if info.name == ADMIN.name and "system:masters" in info.groups:
            return ADMIN
        return User(info.name, tuple(info.groups), info.uid, {k: list(v) for k, v in info.extra})

    @staticmethod
    def _info(user: User) -> UserInfo:
        return UserInfo(
            user.name, tuple(user.groups), user.uid, tuple((k, tuple(v)) for k, v in user.extra.items())
        )

    def _authorize(
        self,
        user: User,
        verb: str,
        rt: ResourceType | None,
        subresource: str,
        namespace: str | None,
        name: str | None,
        path: str,
    ) -> ApiError | None:
        if not self.rbac_enabled or "system:masters" in user.groups:
            return None
        info = self._info(user)
        if rt is None:
            attrs = RequestAttributes.non_resource(verb, path)
        else:
            attrs = RequestAttributes(
                verb=verb,
                api_group=rt.group,
                resource=rt.plural,
                subresource=subresource,
                name=name or "",
                namespace=namespace or "",
                path=path,
            )
        decision = self.rbac.authorize(info, attrs)
        if decision.allowed:
            return None
        return forbidden_error(info, attrs, decision.reason)

    def _no_escalation(
        self, api: API, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, opts: WriteOptions
    ) -> None:
        """Upstream's RBAC escalation prevention: a role or binding granting more than the writer holds is
        refused unless it may ``escalate`` / ``bind``."""
        if self.rbac_enabled:
            check_escalation(self.rbac, self._info(opts.user), rt.plural, obj, old)

    def _impersonate(self, user: User, headers: Any) -> User:
        """Upstream's impersonation filter: ``Impersonate-User/-Group/-Uid/-Extra-*`` headers, each
        authorized for the requesting user with verb ``impersonate``."""
        name = headers.get("Impersonate-User", "")
        groups = list(headers.getall("Impersonate-Group", []))
        uid = headers.get("Impersonate-Uid", "")
        extra: dict[str, list[str]] = {}
        for key in headers:
            if key.lower().startswith("impersonate-extra-"):
                extra[urllib.parse.unquote(key[len("impersonate-extra-") :]).lower()] = list(
                    headers.getall(key)
                )
        if not name:
            if groups or uid or extra:
                # Go's %v of the []ObjectReference requested: {Kind Namespace Name UID APIVersion
                # ResourceVersion FieldPath} each.
                refs = [f"{{Group  {g}    }}" for g in groups]
                refs += [
                    f"{{UserExtra  {v}  authentication.k8s.io/v1  {k}}}"
                    for k, vs in extra.items()
                    for v in vs
                ]
                if uid:
                    refs.append(f"{{UID  {uid}  authentication.k8s.io/v1  }}")
                raise errors.MalformedImpersonation(
                    f"requested [{' '.join(refs)}] without impersonating a user"
                )
            return user
        checks, info = impersonation_checks(name, groups, uid, extra)
        if self.rbac_enabled and "system:masters" not in user.groups:
            requester = self._info(user)
            for attrs in checks:
                decision = self.rbac.authorize(requester, attrs)
                if not decision.allowed:
                    raise forbidden_error(requester, attrs, decision.reason)
        return User(info.name, tuple(info.groups), info.uid, {k: list(v) for k, v in info.extra})

    def _review(
        self, rt: ResourceType, obj: dict[str, Any], opts: WriteOptions, namespace: str
    ) -> dict[str, Any]:
        info = self._info(opts.user)
        spec = obj.get("spec") or {}
        if rt.kind == "SelfSubjectAccessReview":
            status = self.rbac.self_subject_access_review(info, spec)
        elif rt.kind == "SubjectAccessReview":
            status = self.rbac.subject_access_review(spec)
        elif rt.kind == "LocalSubjectAccessReview":
            status = self.rbac.local_subject_access_review(namespace, spec)
        elif rt.kind == "SelfSubjectRulesReview":
            status = self.rbac.self_subject_rules_review(info, spec)
        elif rt.kind == "SelfSubjectReview":
            status = self_subject_review_status(info)
        elif rt.kind == "TokenReview":
            status = self.authn.token_review(spec)
        else:
            raise ApiError(405, "MethodNotAllowed", "not supported")
        meta = dict(obj.get("metadata") or {})
        if rt.kind == "SelfSubjectReview":
            meta["creationTimestamp"] = now()  # the one review upstream stamps
        if rt.kind == "LocalSubjectAccessReview":
            meta["namespace"] = namespace
        return {**obj, "metadata": meta, "status": status}

    async def _token_request(self, request: web.Request, user: User) -> web.StreamResponse:
        target = request["kubesim.target"]
        token = self._answer_token_request(
            target.namespace or "", target.name or "", request["kubesim.body"] or {}
        )
        return web.Response(body=dumps(token), status=201, content_type="application/json")

    def _answer_token_request(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """TokenRequest (upstream's TokenREST): the request's names checked, the ServiceAccount looked up,
        the bound object (if any) resolved, then the token issued."""
        causes = token_request_metadata_causes(namespace, name, body.get("metadata"))
        if causes:
            raise errors.invalid("TokenRequest", name, causes, group="authentication.k8s.io")
        rt = self.registry.get("", "v1", "serviceaccounts")
        assert rt is not None
        sa = self.api.get(rt, namespace, name)
        spec = body.get("spec") or {}
        bound = None
        if isinstance(spec.get("boundObjectRef"), dict):
            bound = bound_object_from_ref(spec["boundObjectRef"])
            token_request_expiration(spec)  # upstream validates the spec before it looks the object up
            if bound.bindable:
                bound = self._resolve_bound_object(namespace, name, bound)
        return self.authn.create_token(
            namespace, name, sa["metadata"]["uid"], spec, body.get("metadata") or {}, bound_object=bound
        )

    def _resolve_bound_object(self, namespace: str, sa_name: str, ref: BoundObject) -> BoundObject:
        """The object a token is to be bound to: it must exist (404), carry the uid the reference gives
        (409), and, for a Pod, run as this ServiceAccount (400); a scheduled pod's node goes in too."""
        plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}[ref.kind]
        obj = self.store.get(("", plural), "" if ref.kind == "Node" else namespace, ref.name)
        if obj is None:
            raise errors.not_found(plural, ref.name)
        uid = str(obj["metadata"].get("uid", ""))
        if ref.kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName") != sa_name:
            raise errors.bad_request(
                f'cannot bind token for serviceaccount "{sa_name}" to pod running with different '
                "serviceaccount name."
            )
        if ref.uid and ref.uid != uid:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {ref.kind} "{ref.name}": the UID in the bound object '
                f"reference ({ref.uid}) does not match the UID in record. The object might have been deleted "
                "and then recreated",
                details={"name": ref.name, "kind": ref.kind},
            )
        node_name = node_uid = ""
        if ref.kind == "Pod":
            node_name = str((obj.get("spec") or {}).get("nodeName") or "")
            node = self.store.get(("", "nodes"), "", node_name) if node_name else None
            node_uid = str(node["metadata"].get("uid", "")) if node is not None else ""
        return BoundObject(ref.kind, ref.name, uid, ref.api_version, node_name, node_uid)

    def _bound_object_state(self, kind: str, namespace: str, name: str) -> tuple[str, float | None] | None:
        """For token validation: the bound object's uid and deletion time, None once it is gone."""
        plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}[kind]
        obj = self.store.get(("", plural), namespace, name)
        if obj is None:
            return None
        deleted = obj["metadata"].get("deletionTimestamp")
        return str(obj["metadata"].get("uid", "")), parse_time(deleted).timestamp() if deleted else None

    async def _requests_endpoint(self, request: web.Request, user: User) -> web.StreamResponse:
        """GET: request counts ({"total", "byVerb", "byResource", "byUser", "items"}); DELETE: reset."""
        if request.method == "DELETE":
            self.requests.reset()
        elif request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        body = {
            "total": self.requests.total(),
            "byVerb": self.requests.by("verb"),
            "byResource": self.requests.by("resource"),
            "byUser": self.requests.by("user"),
            "items": self.requests.snapshot(),
        }
        return web.Response(body=dumps(body), content_type="application/json")

    async def _faults_endpoint(self, request: web.Request, user: User) -> web.StreamResponse:
        """GET: the active fault rules; POST: add rules (the JSON of Faults.configure); DELETE: clear."""
        if request.method == "POST":
            try:
                spec = json.loads(await self.server.read_body(request) or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("expected a JSON object")
                self.faults.configure(spec)
            except (ValueError, KeyError, TypeError) as exc:
                raise errors.bad_request(f"invalid fault specification: {exc}") from exc
        elif request.method == "DELETE":
            self.faults.clear()
        elif request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        return web.Response(body=dumps(self.faults.describe()), content_type="application/json")

    @property
    def max_request_body_bytes(self) -> int:
        """Request bodies over this many bytes get 413 RequestEntityTooLarge (upstream default 3 MiB)."""
        return self.server.max_request_body_bytes

    @max_request_body_bytes.setter
    def max_request_body_bytes(self, value: int) -> None:
        self.server.max_request_body_bytes = value

    @property
    def max_object_bytes(self) -> int:
        """Writes of objects whose JSON encoding is over this many bytes fail as etcd makes them fail
        (500 ``etcdserver: request is too large``; etcd's default 1.5 MiB)."""
        return self.api.max_object_bytes

    @max_object_bytes.setter
    def max_object_bytes(self, value: int) -> None:
        self.api.max_object_bytes = value

    def token_for(self, name: str, namespace: str = "default", expiration_seconds: int = 3600) -> str:
        """A token of the ServiceAccount (which must exist), as the TokenRequest API issues."""
        sa = self.store.get(("", "serviceaccounts"), namespace, name)
        if sa is None:
            raise LookupError(f'serviceaccount "{name}" not found in namespace "{namespace}"')
        return self.authn.issue_token(namespace, name, sa["metadata"]["uid"], expiration_seconds)

    def kubeconfig_for(self, name: str, namespace: str = "default", path: str | None = None) -> str:
        """Write a kubeconfig that authenticates as the ServiceAccount; returns its path."""
        target = path or str(self.state_dir / f"kubeconfig-{namespace}-{name}")
        return self.write_kubeconfig(
            target,
            self.token_for(name, namespace),
            user=f"system:serviceaccount:{namespace}:{name}",
            namespace=namespace,
        )

    def _on_store_event(self, key: Key, event: Event) -> None:
        if key[0] == "rbac.authorization.k8s.io":
            kind = _RBAC_KINDS[key[1]]
            if event.type == "DELETED":
                self.rbac.remove_object(event.obj, kind)
            else:
                self.rbac.upsert(event.obj, kind)
        if key == CRDS:
            if event.type == "DELETED":
                self.registry.remove_crd(event.obj["metadata"]["name"])
                spec = event.obj["spec"]
                self.store.drop_collection((spec["group"], spec["names"]["plural"]))
            else:
                self.registry.set_crd(event.obj)
                if event.type == "ADDED":
                    spec = event.obj["spec"]
                    self.store.begin_history((spec["group"], spec["names"]["plural"]))
        for controller in self.controllers:
            controller.on_event(key, event)

    def _bootstrap(self) -> None:
        ns_rt = self.registry.get("", "v1", "namespaces")
        assert ns_rt is not None
        opts = WriteOptions(user=SYSTEM)
        for name in DEFAULT_NAMESPACES:
            if self.store.get(NAMESPACES, "", name) is None:
                self.api.create(ns_rt, "", {"metadata": {"name": name}}, opts)
        for obj in bootstrap_policy():
            group, _, version = obj["apiVersion"].partition("/")
            rt = self.registry.by_kind(group, obj["kind"], version)
            assert rt is not None
            if self.store.get(rt.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]) is None:
                self.api.create(rt, obj["metadata"].get("namespace", ""), obj, opts)

    # ------------------------------------------------------------------ async lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._bootstrap()
        self._runner = web.AppRunner(
            self.server.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        ssl_context = None
        if self.tls:
            certs = serving_certs(self.host)
            ssl_context = certs.server_context()
            ca_path = self.state_dir / "ca.crt"
            ca_path.write_bytes(certs.ca_pem)
            self.ca_file = str(ca_path)
            self._ca_pem = certs.ca_pem
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        self.url = f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"
        self.server.url = self.url
        for controller in self.controllers:
            controller.start(self._loop)
        await self.kubelet.start()
        self.write_kubeconfig(self.kubeconfig, self.admin_token, user="kubernetes-admin")

    async def stop(self) -> None:
        await self.kubelet.stop()
        for controller in self.controllers:
            await controller.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._stopped.set()

    async def __aenter__(self) -> Cluster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        self._cleanup_tmp()

    # ------------------------------------------------------------------ sync lifecycle (background thread)

    def __enter__(self) -> Cluster:
        ready: Future[None] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()
            loop.run_until_complete(self.stop())
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="kubesim", daemon=True)
        self._thread.start()
        ready.result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._cleanup_tmp()

    def _cleanup_tmp(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def call(self, fn: Callable[[], T]) -> T:
        """Run fn on the cluster's event loop thread (for direct store access from a sync test)."""
        if self._loop is None:
            raise RuntimeError("cluster not started")
        try:
            if asyncio.get_running_loop() is self._loop:
                return fn()
        except RuntimeError:
            pass

        async def wrapper() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout=30)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            raise RuntimeError("cluster not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    # ------------------------------------------------------------------ helpers

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        token: str,
        *,
        user: str = "kubernetes-admin",
        namespace: str = "default",
    ) -> str:
        """Write a kubeconfig for this cluster atomically, so a waiting script never reads half a file."""
        return kubeconfig.write_kubeconfig(
            path,
            cluster=self._cluster_entry(),
            user=kubeconfig.token_user(token),
            user_name=user,
            cluster_name="kubesim",
            namespace=namespace,
        )

    def _cluster_entry(self) -> dict[str, str]:
        return kubeconfig.cluster_entry(self.url, Path(self.ca_file).read_bytes() if self.ca_file else None)

    def get(self, plural: str, name: str, namespace: str = "", group: str = "") -> dict[str, Any] | None:
        """A stored object by plural/name (for assertions)."""
        return self.store.get((group, plural), namespace, name)

    def list(self, plural: str, namespace: str | None = None, group: str = "") -> list[dict[str, Any]]:
        return self.store.list((group, plural), namespace)
