"""kopf entry points: watch instances, templates and children, feed the caches, queue reconciles.

Handlers are ``async``: kopf runs sync handlers in a thread pool, which costs a thread hop per event and
would touch the reconciler's asyncio queue from another thread. Only ``on.event`` handlers are used: they
keep no state in the objects (no kopf annotations, no kopf finalizers, no progress in status), so the
operator's API writes are exactly the reconciler's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import kopf
from prometheus_client import start_http_server

from jupyternetes import kopf_internals
from jupyternetes.adapters.admission import Admission, AdmissionRefused
from jupyternetes.adapters.caches import Caches, Key, key_of, owning_instance
from jupyternetes.adapters.events import EventRecorder
from jupyternetes.adapters.kube import Kube
from jupyternetes.adapters.metrics import Metrics
from jupyternetes.adapters.reconciler import OperatorConfig, Reconciler
from jupyternetes.core.models import GROUP, VERSION
from jupyternetes.core.naming import LABEL_INSTANCE
from jupyternetes.core.resources import GroupResource, parse_group_resource
from jupyternetes.core.webhook_configuration import INSTANCE_PATH, TEMPLATE_PATH

log = logging.getLogger("jupyternetes.operator")

# Our own registry, not kopf's global default: another operator in the same process (a test's example
# operator) must not pick up these handlers, nor we theirs. Run with kopf.operator(registry=registry) or
# KopfRunner(..., registry=registry).
registry = kopf.OperatorRegistry()


class _NoDiffBase(kopf.DiffBaseStorage):
    """kopf builds a "diff base" of every object on every event (a deep copy of the whole object) for
    change-detecting handlers; this operator has none (only on.event and index handlers), so the copies
    were pure cost: about a tenth of the operator's CPU when thousands of pods change at once."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


@dataclass(frozen=True)
class WebhookConfig:
    """Where the validating admission webhook listens, and its serving certificate (PEM files: the chart
    makes them, with the CA in its ValidatingWebhookConfiguration's caBundle)."""

    port: int
    cert_file: str
    key_file: str
    addr: str = "0.0.0.0"


class Runtime:
    """Everything the handlers share, kept in kopf's memo."""

    def __init__(
        self,
        config: OperatorConfig,
        kubeconfig: str | None,
        metrics_port: int | None,
        webhook: WebhookConfig | None = None,
    ) -> None:
        self.config = config
        self.kubeconfig = kubeconfig
        self.metrics_port = metrics_port
        self.webhook = webhook
        self.caches = Caches()
        self.metrics = Metrics()
        self.kube: Kube | None = None
        self.reconciler: Reconciler | None = None
        self.admission: Admission | None = None


CONFIG_ENV = "JUPYTERNETES_OPERATOR_CONFIG"


def runtime_from_env() -> Runtime:
    """The runtime when kopf is started by something other than ``jupyternetes operator`` (``kopf run -m
    jupyternetes.handlers``, or ``kopf.testing.KopfRunner`` in tests): configured by a JSON document in
    $JUPYTERNETES_OPERATOR_CONFIG with the keys of OperatorConfig plus ``kubeconfig`` and ``metricsPort``."""
    raw = json.loads(os.environ.get(CONFIG_ENV) or "{}")
    watched = raw.get("watchedNamespaces")
    config = OperatorConfig(
        operator_namespace=raw.get("operatorNamespace", "default"),
        template_namespaces=frozenset(raw.get("templateNamespaces") or ()),
        watched_namespaces=None if watched is None else frozenset(watched),
        workers=int(raw.get("workers", 32)),
        other_resources=frozenset(parse_group_resource(r) for r in raw.get("otherResources") or ()),
    )
    hook = raw.get("webhook")
    webhook = (
        WebhookConfig(
            port=int(hook["port"]),
            cert_file=hook["certFile"],
            key_file=hook["keyFile"],
            addr=hook.get("addr", "0.0.0.0"),
        )
        if hook
        else None
    )
    return Runtime(config, raw.get("kubeconfig"), raw.get("metricsPort"), webhook)


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is None:
        runtime = memo.runtime = runtime_from_env()
    return runtime


# ---------------------------------------------------------------------------------- watch streams
#
# Two gaps in kopf's watch streams, closed here because the operator's caches depend on the streams:
#
# 1. A watch stream that fails with an error kopf does not retry (a 4xx other than 403/429 on the LIST or
#    the WATCH request, or an ERROR event other than 410 inside the stream, such as an etcd timeout) ends
#    kopf's watcher task for that resource for good: the process lives on, but sees no more events of that
#    kind (a silent stall: every later instance waits forever). The stream is made to end normally
#    instead, so kopf lists and watches again after a pause.
# 2. After a 410 Expired (or the failure above) kopf lists again; a listing shows what exists but says
#    nothing of what was deleted while the watch was down, so the caches would keep those objects (a pod
#    deleted during the gap would be reported Running forever). The objects a listing misses are dropped
#    from the cache and their instances reconciled.
#
# Both wrap kopf's ``continuous_watch`` (one list-then-watch pass of one resource, which kopf's
# ``infinite_watch`` repeats); kopf has no public hook for either (docs/kopf-proposal.md proposes one).
# kopf_internals.check() verifies, on import, that kopf's internals are what the wrapper expects: if a kopf
# release moved them, the operator refuses to start, naming what moved, rather than run without recovery.

WATCH_FAILURE_PAUSE = 1.0
_active: Runtime | None = None  # the runtime whose caches listings refresh (set between startup/cleanup)


def _install_resilient_watches() -> None:
    watching, kopf_errors = kopf_internals.check(registry)
    original = watching.continuous_watch
    if getattr(original, "jupyternetes_resilient", False):
        return

    async def continuous_watch(**kwargs: Any) -> AsyncIterator[Any]:
        resource = kwargs["resource"]
        namespace = kwargs.get("namespace")
        rt = _active
        cache = rt.caches.by_resource(resource.group, resource.plural) if rt is not None else None
        since = cache.clock if cache is not None else 0
        listed: set[Key] | None = set() if cache is not None else None
        try:
            async for item in original(**kwargs):
                if listed is not None:
                    if item is watching.Bookmark.LISTED:
                        _listed(resource.group, resource.plural, namespace, listed, since)
                        listed = None
                    elif isinstance(item, dict) and item.get("type") is None:
                        listed.add(key_of(item["object"]))
                yield item
        except (kopf_errors.APIError, watching.WatchingError, json.JSONDecodeError) as exc:
            # JSONDecodeError: a stream cut in the middle of an event's line (kopf decodes each line as it
            # comes and lets the error end its watcher for good, as in gap 1 above).
            log.warning(
                "watch of %s failed, listing again in %.0fs: %s", resource.plural, WATCH_FAILURE_PAUSE, exc
            )
            await asyncio.sleep(WATCH_FAILURE_PAUSE)

    continuous_watch.jupyternetes_resilient = True  # type: ignore[attr-defined]
    continuous_watch.jupyternetes_original = original  # type: ignore[attr-defined]
    setattr(watching, "continuous_watch", continuous_watch)  # noqa: B010 - a module typed ModuleType


def _listed(group: str, plural: str, namespace: str | None, listed: set[Key], since: int) -> None:
    rt = _active
    if rt is None or rt.reconciler is None:
        return
    cache = rt.caches.by_resource(group, plural)
    if cache is None:
        return
    dropped = cache.prune(listed, since, namespace)
    if dropped:
        log.info("%d %s deleted while the watch was down", len(dropped), plural)
    for obj in dropped:
        key = key_of(obj)
        if plural == "jupyternotebookinstances":
            rt.reconciler.enqueue(key)
        elif plural == "jupyternotebooktemplates":
            for user in list(rt.caches.template_users.get(key, ())):
                rt.reconciler.enqueue(user)
        elif (owner := owning_instance(obj)) is not None:
            rt.reconciler.enqueue((key[0], owner), urgent=True)


_install_resilient_watches()


@kopf.on.login(registry=registry)
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    info = kopf.login_with_kubeconfig(**kwargs) or kopf.login_with_service_account(**kwargs)
    return info


@kopf.on.startup(registry=registry)
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    # Watches: server-side timeouts so streams are renewed regularly, and a short reconnect backoff.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.watching.reconnect_backoff = 0.2
    settings.networking.request_timeout = 30
    settings.networking.connect_timeout = 10
    # Only our labelled children are watched, filtered by the server.
    settings.watching.label_selectors["pods"] = LABEL_INSTANCE
    settings.watching.label_selectors["persistentvolumeclaims"] = LABEL_INSTANCE
    _watch_other_resources(rt.config.other_resources)
    for kind in rt.config.other_resources:
        settings.watching.label_selectors[kind.group, kind.resource] = LABEL_INSTANCE
        rt.caches.other(kind)  # exists before its first listing, which then prunes it like the others
    # The reconciler posts its own Events; kopf must not turn its handler logs into more of them.
    settings.posting.loggers = False
    settings.persistence.diffbase_storage = _NoDiffBase()
    settings.peering.name = "jupyternetes"
    settings.peering.mandatory = False
    rt.kube = await Kube.connect(rt.kubeconfig)
    events = EventRecorder(rt.kube)
    rt.reconciler = Reconciler(rt.kube, rt.caches, rt.config, metrics=rt.metrics, events=events)
    rt.reconciler.start()
    rt.admission = Admission(rt.kube, rt.caches, rt.config, rt.reconciler)
    if rt.webhook is not None:
        # The ValidatingWebhookConfiguration is the chart's (with the CA of this certificate), not kopf's
        # to manage: the operator needs no right to cluster-wide webhook configurations.
        settings.admission.server = kopf.WebhookServer(
            addr=rt.webhook.addr,
            port=rt.webhook.port,
            certfile=rt.webhook.cert_file,
            pkeyfile=rt.webhook.key_file,
        )
        settings.admission.managed = None
    _serve_admission(rt.webhook is not None)
    global _active
    _active = rt
    if rt.metrics_port is not None:
        start_http_server(rt.metrics_port, registry=rt.metrics.registry)
    log.info("jupyternetes operator started: %s", rt.config)


@kopf.on.cleanup(registry=registry)
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    global _active
    if _active is rt:
        _active = None
    _watch_other_resources(frozenset())
    _serve_admission(False)
    if rt.reconciler is not None:
        await rt.reconciler.stop()
    if rt.kube is not None:
        await rt.kube.close()


def _apply(cache: Any, event: kopf.RawEvent) -> dict[str, Any]:
    obj: dict[str, Any] = dict(event["object"])
    if event.get("type") == "DELETED":
        cache.remove(obj)
    else:
        cache.upsert(obj)
    return obj


# Readiness gates, not indexes (they store nothing: a handler returning None adds no entry). kopf holds
# every other handler until the initial listing of each indexed resource is complete, so no instance is
# reconciled before the caches know its children. Without them, a restarted operator could see an instance
# (whose status says its pod was created) before the pod watch had listed the pod, and report the pod
# Deleted (Failed=True, reason PodDeleted) until the listing arrived: a spawn failed by a restart.
@kopf.index(GROUP, VERSION, "jupyternotebookinstances", registry=registry)
async def instances_listed(**_: Any) -> None:
    return None


@kopf.index(GROUP, VERSION, "jupyternotebooktemplates", registry=registry)
async def templates_listed(**_: Any) -> None:
    return None


@kopf.index("", "v1", "pods", labels={LABEL_INSTANCE: kopf.PRESENT}, registry=registry)
async def pods_listed(**_: Any) -> None:
    return None


@kopf.index("", "v1", "persistentvolumeclaims", labels={LABEL_INSTANCE: kopf.PRESENT}, registry=registry)
async def pvcs_listed(**_: Any) -> None:
    return None


@kopf.on.event(GROUP, VERSION, "jupyternotebookinstances", registry=registry)
async def instance_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    obj = _apply(rt.caches.instances, event)
    key = key_of(obj)
    if not rt.config.serves(key[0]) or rt.reconciler is None:
        return
    rt.reconciler.enqueue(key)


@kopf.on.event(GROUP, VERSION, "jupyternotebooktemplates", registry=registry)
async def template_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    before = rt.caches.templates.get(*key_of(dict(event["object"])))
    obj = _apply(rt.caches.templates, event)
    if rt.reconciler is None:
        return
    key = key_of(obj)
    if event.get("type") != "DELETED":
        rt.reconciler.count_template(key)
    if (
        before is not None
        and event.get("type") == "MODIFIED"
        and before["metadata"].get("uid") == obj["metadata"].get("uid")
        and before["metadata"].get("generation") == obj["metadata"].get("generation")
    ):
        return  # its status (our count) or metadata: nothing its instances render from
    for user in list(rt.caches.template_users.get(key, ())):
        rt.reconciler.enqueue(user)


# ---------------------------------------------------------------------------------- admission
#
# Served only when the operator is given a webhook port and certificate (the chart does); the paths are the
# handler ids (/validate-instance, /validate-template), as kopf's WebhookServer routes them. Refusals are
# 422 (Invalid), with the message naming the object, the field or variable, and the rule.


def _admission() -> Admission:
    # kopf gives admission handlers a copy of the memo; the runtime of the running operator is the one.
    rt = _active
    if rt is None or rt.admission is None:
        raise kopf.AdmissionError("the jupyternetes operator is starting; try again", code=503)
    return rt.admission


async def validate_instance(body: kopf.Body, warnings: list[str], **kwargs: Any) -> None:
    old = kwargs.get("old")
    try:
        warnings.extend(await _admission().check_instance(dict(body), dict(old) if old else None))
    except AdmissionRefused as exc:
        raise kopf.AdmissionError(str(exc), code=422) from None


async def validate_template(body: kopf.Body, warnings: list[str], **kwargs: Any) -> None:
    old = kwargs.get("old")
    admission = _admission()
    try:
        if kwargs.get("operation") == "DELETE":
            admission.check_template_deletion(dict(body))
        else:
            warnings.extend(await admission.check_template(dict(body), dict(old) if old else None))
    except AdmissionRefused as exc:
        raise kopf.AdmissionError(str(exc), code=422) from None


def _serve_admission(serve: bool) -> None:
    """Register the admission handlers in ``registry`` (or remove them): only an operator given a webhook
    port and certificate has them, since kopf refuses to run admission handlers without a server."""
    handlers: list[Any] = registry._webhooks._handlers
    handlers[:] = [h for h in handlers if str(getattr(h, "id", "")) not in (INSTANCE_PATH, TEMPLATE_PATH)]
    if not serve:
        return
    kopf.on.validate(
        GROUP,
        VERSION,
        "jupyternotebookinstances",
        id=INSTANCE_PATH,
        operations=["CREATE", "UPDATE"],
        registry=registry,
    )(validate_instance)
    kopf.on.validate(
        GROUP,
        VERSION,
        "jupyternotebooktemplates",
        id=TEMPLATE_PATH,
        operations=["CREATE", "UPDATE", "DELETE"],
        registry=registry,
    )(validate_template)


def _child_event(cache: Any, event: kopf.RawEvent, memo: kopf.Memo) -> None:
    rt = _runtime(memo)
    obj = _apply(cache, event)
    owner = owning_instance(obj)
    if owner and rt.reconciler is not None:
        rt.reconciler.enqueue((obj["metadata"].get("namespace", ""), owner), urgent=True)


@kopf.on.event("", "v1", "pods", labels={LABEL_INSTANCE: kopf.PRESENT}, registry=registry)
async def pod_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    _child_event(_runtime(memo).caches.pods, event, memo)


@kopf.on.event("", "v1", "persistentvolumeclaims", labels={LABEL_INSTANCE: kopf.PRESENT}, registry=registry)
async def pvc_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    _child_event(_runtime(memo).caches.pvcs, event, memo)


# ---------------------------------------------------------------------------------- other resources
#
# The kinds of otherResources to watch are configuration (option --other-resource), so their handlers are
# registered when the operator starts rather than by decorators at import: kopf reads the registry's
# resource handlers only after the startup handlers ran (its resource observer and watchers are held until
# then), so the watches start with the others. They are removed again at cleanup (an operator started
# again in the same process, as tests do, may watch other kinds). kopf has no public way to remove a
# handler; its registries keep them in a list (kopf_internals.check() verifies that at import).

_OTHER_ID = "jupyternetes-other-resource"


async def other_resource_event(
    event: kopf.RawEvent, resource: kopf.Resource, memo: kopf.Memo, **_: Any
) -> None:
    cache = _runtime(memo).caches.other(GroupResource(resource.group, resource.plural))
    _child_event(cache, event, memo)


async def other_resource_listed(**_: Any) -> None:
    # A readiness gate like pods_listed: a restarted operator must not see an instance before its other
    # resources were listed (it would take them for deleted and try to restore them). It stores nothing:
    # kopf touches an index's storage only for handlers that return a value, so this gate registered
    # after kopf prepared its indices is safe.
    return None


def _watch_other_resources(kinds: frozenset[GroupResource]) -> None:
    """Register the handlers of exactly ``kinds`` in ``registry`` (an empty set: remove them all)."""
    for purpose in ("_indexing", "_watching"):
        handlers: list[Any] = getattr(registry, purpose)._handlers
        handlers[:] = [h for h in handlers if not str(getattr(h, "id", "")).startswith(_OTHER_ID)]
    labels = {LABEL_INSTANCE: kopf.PRESENT}
    for kind in sorted(kinds):
        group, plural = kind.group, kind.resource
        kopf.index(
            group=group, plural=plural, labels=labels, id=f"{_OTHER_ID}-listed/{kind}", registry=registry
        )(other_resource_listed)
        kopf.on.event(group=group, plural=plural, labels=labels, id=f"{_OTHER_ID}/{kind}", registry=registry)(
            other_resource_event
        )
    if kinds:
        log.info("watching other resources: %s", ", ".join(str(k) for k in sorted(kinds)))
