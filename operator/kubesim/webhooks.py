"""Calling admission webhooks: the I/O half of dynamic admission (the pure half is ``kubesim.admission``).

A write that may need webhooks runs as steps (``API.create_steps`` ...) that stop at admission points;
:meth:`Dispatcher.run` drives them on the server's event loop and, at each point, calls the matching
webhooks over HTTPS with aiohttp: the mutating ones one after the other in upstream's order (their
JSONPatch answers applied in turn), then the validating ones all at once. No store lock is held while a
webhook is called, so a webhook may itself call the API server.

``clientConfig.service`` is resolved as kube-apiserver resolves it with ``--enable-aggregator-routing``
(its endpoint resolver): to an address of the Service's endpoints (an EndpointSlice or Endpoints object
naming the Service, else, as kubesim has no endpoints controller, a Ready pod its selector picks, at the
target port), while the certificate is verified for ``<service>.<namespace>.svc`` as upstream does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import uuid
from collections.abc import Iterator
from typing import Any, TypeVar

import aiohttp

from kubesim import admission, errors, patching
from kubesim.admission import Attributes, CallFailed, Verdict, Webhook
from kubesim.api import API, AdmissionPoint, Steps
from kubesim.errors import ApiError
from kubesim.resources import version_priority

log = logging.getLogger("kubesim.webhooks")

T = TypeVar("T")
Obj = dict[str, Any]


class Dispatcher:
    """The server's webhook caller: one aiohttp session (made on first use, on the server's loop) and the
    SSL contexts of the caBundles met so far."""

    def __init__(self, api: API) -> None:
        self.api = api
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}

    def active(self) -> bool:
        """Whether any webhook is configured at all: a write without them takes the plain path."""
        store = self.api.store
        return bool(store.count(admission.VALIDATING) or store.count(admission.MUTATING))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(self, steps: Steps[T]) -> T:
        """Drive a write's steps, calling the webhooks at its admission points."""
        try:
            point = next(steps)
            while True:
                point = steps.send(await self.admit(point))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            steps.close()

    # ---------------------------------------------------------------------------------------- one point

    def _attributes(self, point: AdmissionPoint) -> Attributes:
        rt, opts = point.rt, point.opts
        user = opts.user
        return Attributes(
            operation=point.operation,
            group=rt.group,
            version=rt.version,
            resource=rt.plural,
            subresource=point.subresource,
            kind=rt.kind,
            # Upstream's request info names a Namespace's own name as the request's namespace.
            namespace=point.namespace
            if rt.namespaced
            else (point.name if rt.key == ("", "namespaces") else ""),
            name=point.name,
            obj=_served(rt.api_version, point.obj),
            old=_served(rt.api_version, point.old),
            user=admission.user_info(user.name, user.groups, user.uid, user.extra),
            dry_run=opts.dry_run,
            options=admission.operation_options(
                point.operation,
                dry_run=opts.dry_run,
                field_manager=opts.field_manager,
                extra=point.options,
            ),
        )

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = self.api.store.get(("", "namespaces"), "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", namespace)
        return dict(ns["metadata"].get("labels") or {})

    def _hooks(self, attrs: Attributes, *, mutating: bool) -> Iterator[tuple[Webhook, str]]:
        """The webhooks the request calls, in order, each with the version it is called at. Each is
        judged when reached, on ``attrs`` as they are then (the object as the mutating webhooks before it
        left it, as upstream)."""
        key = admission.MUTATING if mutating else admission.VALIDATING
        if admission.is_exempt(attrs.group, attrs.resource) or not self.api.store.count(key):
            return
        equivalents = sorted(
            {rt.version for rt in self.api.registry.all() if rt.key == (attrs.group, attrs.resource)},
            key=version_priority,
        )
        for hook in admission.webhooks_of(self.api.store.list(key), mutating=mutating):
            version = admission.invoked_version(hook, attrs, self._namespace_labels, equivalents)
            if version is not None:
                yield hook, version

    async def admit(self, point: AdmissionPoint) -> Obj | None:
        attrs = self._attributes(point)
        if point.phase == "mutate":
            return await self._mutate(point, attrs)
        hooks = list(self._hooks(attrs, mutating=False))
        if hooks:
            # All at once, as upstream; of several refusals the first webhook's is answered (upstream: the
            # first to arrive).
            outcomes = await asyncio.gather(
                *(self._call(h, attrs, v) for h, v in hooks), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
                if outcome is not None:
                    point.opts.warnings.extend(outcome.warnings)
        return point.obj

    async def _mutate(self, point: AdmissionPoint, attrs: Attributes) -> Obj | None:
        """The object after the mutating webhooks, each called with what the previous ones made of it
        (``point.obj`` itself when none changed it). As upstream, a webhook whose patch changes the object
        makes the webhooks with ``reinvocationPolicy: IfNeeded`` called before it be called once more, in
        a second round after the first."""
        obj = attrs.obj
        changed_any = False
        invoked: set[tuple[str, str]] = set()  # IfNeeded webhooks called since the last change
        reinvoke: set[tuple[str, str]] = set()
        for second_round in (False, True):
            if second_round and not reinvoke:
                break
            for hook, version in self._hooks(attrs, mutating=True):
                key = (hook.configuration, hook.name)
                if second_round and key not in reinvoke:
                    continue
                verdict = await self._call(hook, attrs, version)
                if verdict is not None:
                    point.opts.warnings.extend(verdict.warnings)
                    patched = self._patched(hook, attrs, obj, version, verdict)
                    # A change of the version the webhook was called at alone is no change.
                    if (
                        patched is not None
                        and obj is not None
                        and patched != {**obj, "apiVersion": patched.get("apiVersion")}
                    ):
                        obj = attrs.obj = patched
                        changed_any = True
                        reinvoke |= invoked
                        invoked = set()
                if hook.spec.get("reinvocationPolicy") == "IfNeeded":
                    invoked.add(key)
        return obj if changed_any else point.obj

    @staticmethod
    def _patched(
        hook: Webhook, attrs: Attributes, obj: Obj | None, version: str, verdict: Verdict
    ) -> Obj | None:
        """The object with the webhook's patch applied (None: no patch)."""
        if not verdict.patch:
            return None
        if obj is None:
            raise admission.modifies_deleted(hook.name)
        api_version = f"{attrs.group}/{version}" if attrs.group else version
        try:
            patched = patching.apply_json_patch({**obj, "apiVersion": api_version}, verdict.patch)
        except ApiError as exc:
            raise admission.internal_error(exc.message) from None
        if not isinstance(patched, dict):
            raise admission.internal_error("the patched object is not a JSON object")
        return patched

    async def _call(self, hook: Webhook, attrs: Attributes, version: str) -> Verdict | None:
        """One webhook's verdict; None when it failed and its failurePolicy is Ignore. A refusal, or a
        failure under Fail, raises the ApiError the client gets."""
        if attrs.dry_run and hook.side_effects not in ("None", "NoneOnDryRun"):
            raise admission.dry_run_unsupported(hook.name)
        try:
            verdict = await self._post(hook, attrs, version)
        except CallFailed as exc:
            if hook.failure_policy == "Ignore":
                log.warning("failed calling webhook, failing open %s: %s", hook.name, exc)
                return None
            raise admission.call_failed(hook.name, str(exc)) from None
        if not verdict.allowed:
            raise admission.denied(hook.name, verdict.result)
        return verdict

    async def _post(self, hook: Webhook, attrs: Attributes, version: str) -> Verdict:
        uid = str(uuid.uuid4())
        if "v1" not in hook.review_versions:
            # kubesim speaks only admission.k8s.io/v1 (upstream also v1beta1, which v1 configurations
            # rarely ask for alone).
            raise CallFailed("webhook does not accept known AdmissionReview versions (v1)")
        url, shown, server_name = self._url(hook)
        timeout = hook.timeout_seconds
        query = f"timeout={timeout}s"
        url, shown = f"{url}?{query}", f"{shown}?{query}"
        context = self._ssl_context(hook.client_config.get("caBundle"))
        review = admission.admission_review(uid, attrs, version)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        post = f"failed to call webhook: Post {_go_quote(shown)}"
        try:
            async with self._session.post(
                url,
                json=review,
                ssl=context,
                server_hostname=server_name,
                timeout=aiohttp.ClientTimeout(total=timeout),
                headers={"Accept": "application/json"},
            ) as resp:
                raw = await resp.read()
                if resp.status < 200 or resp.status > 299:
                    text = raw.decode("utf-8", "replace").strip()
                    raise CallFailed(
                        "failed to call webhook: an error on the server "
                        f"({_go_quote(text)}) has prevented the request from succeeding"
                    )
        except TimeoutError:
            raise CallFailed(f"{post}: context deadline exceeded") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise CallFailed(f"{post}: tls: {_tls_reason(exc, server_name or _host(url))}") from None
        except aiohttp.ClientConnectorError as exc:
            raise CallFailed(f"{post}: {_dial_error(exc)}") from None
        except aiohttp.ClientError as exc:
            raise CallFailed(f"{post}: {exc}") from None
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise CallFailed(f"received invalid webhook response: {exc}") from None
        return admission.read_response(body, uid, mutating=hook.mutating)

    def _url(self, hook: Webhook) -> tuple[str, str, str | None]:
        """The URL to post to, the URL errors name (upstream's: the service's DNS name) and the name the
        server's certificate must carry (None: the URL's host)."""
        config = hook.client_config
        if config.get("url"):
            return str(config["url"]), str(config["url"]), None
        service = config.get("service") or {}
        namespace, name = str(service.get("namespace", "")), str(service.get("name", ""))
        port = int(service.get("port") or 443)
        path = str(service.get("path") or "")
        server_name = f"{name}.{namespace}.svc"
        host, target = self._resolve_service(namespace, name, port)
        return f"https://{host}:{target}{path}", f"https://{server_name}:{port}{path}", server_name

    def _resolve_service(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        store = self.api.store
        svc = store.get(("", "services"), namespace, name)
        if svc is None:
            raise CallFailed(f'failed to call webhook: service "{name}" not found')
        spec = svc.get("spec") or {}
        svc_port = next((p for p in spec.get("ports") or () if p.get("port") == port), None)
        if svc_port is None:
            raise CallFailed(
                f"failed to call webhook: no service port {port} found for service {json_name(name)}"
            )
        # Hand-made endpoints first (a selectorless Service), as the endpoint resolver reads them.
        for ep in store.list(("", "endpoints"), namespace):
            if ep["metadata"]["name"] != name:
                continue
            for subset in ep.get("subsets") or ():
                ports = subset.get("ports") or ()
                target = next(
                    (p.get("port") for p in ports if p.get("name", "") == svc_port.get("name", "")), None
                )
                for address in subset.get("addresses") or ():
                    if target and address.get("ip"):
                        return str(address["ip"]), int(target)
        for eps in store.list(("discovery.k8s.io", "endpointslices"), namespace):
            if (eps["metadata"].get("labels") or {}).get("kubernetes.io/service-name") != name:
                continue
            ports = eps.get("ports") or ()
            target = next(
                (p.get("port") for p in ports if p.get("name", "") == svc_port.get("name", "")), None
            )
            for endpoint in eps.get("endpoints") or ():
                ready = (endpoint.get("conditions") or {}).get("ready", True)
                if target and ready and endpoint.get("addresses"):
                    return str(endpoint["addresses"][0]), int(target)
        selector = spec.get("selector") or {}
        if selector:
            for pod in store.list(("", "pods"), namespace):
                labels = pod["metadata"].get("labels") or {}
                if any(labels.get(k) != v for k, v in selector.items()):
                    continue
                status = pod.get("status") or {}
                ready = any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in status.get("conditions") or ()
                )
                if ready and status.get("podIP") and pod["metadata"].get("deletionTimestamp") is None:
                    target = _target_port(pod, svc_port)
                    if target is not None:
                        return str(status["podIP"]), target
        raise CallFailed(f'failed to call webhook: service "{namespace}/{name}" has no ready endpoints')

    def _ssl_context(self, ca_bundle: Any) -> ssl.SSLContext:
        key = str(ca_bundle or "")
        context = self._contexts.get(key)
        if context is None:
            if key:
                try:
                    pem = base64.b64decode(key).decode()
                    context = ssl.create_default_context(cadata=pem)
                except (ValueError, ssl.SSLError) as exc:
                    raise CallFailed(
                        f"failed to call webhook: unable to load root certificates: {exc}"
                    ) from None
            else:
                context = ssl.create_default_context()
            self._contexts[key] = context
        return context


def json_name(name: str) -> str:
    return f'"{name}"'


def _served(api_version: str, obj: Obj | None) -> Obj | None:
    """The object at the version the request names (a CRD's versions share storage)."""
    if obj is None or obj.get("apiVersion") == api_version:
        return obj
    return {**obj, "apiVersion": api_version}


def _target_port(pod: Obj, svc_port: Obj) -> int | None:
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    for container in (pod.get("spec") or {}).get("containers") or ():
        for cport in container.get("ports") or ():
            if cport.get("name") == target:
                return int(cport["containerPort"])
    return None


def _go_quote(text: str) -> str:
    """Go's %q of a string (what its url.Error prints around the URL)."""
    return json.dumps(text, ensure_ascii=False)


def _dial_error(exc: aiohttp.ClientConnectorError) -> str:
    host, port = exc.host, exc.port
    os_error = exc.os_error
    if isinstance(os_error, ConnectionRefusedError):
        return f"dial tcp {host}:{port}: connect: connection refused"
    return f"dial tcp {host}:{port}: {os_error.strerror or os_error}"


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]


def _tls_reason(exc: aiohttp.ClientConnectorCertificateError, host: str) -> str:
    """Go's words for the usual verification failures (OpenSSL's verify codes)."""
    cert_error = exc.certificate_error
    code = cert_error.verify_code if isinstance(cert_error, ssl.SSLCertVerificationError) else None
    if code in (19, 20, 21):
        return "failed to verify certificate: x509: certificate signed by unknown authority"
    if code == 62:
        return f"failed to verify certificate: x509: certificate is not valid for {host}"
    if code == 10:
        return "failed to verify certificate: x509: certificate has expired or is not yet valid"
    return f"failed to verify certificate: {cert_error}"
