"""kopf entry points: watch instances, templates and children, feed the caches, queue reconciles.

Handlers are ``async``: kopf runs sync handlers in a thread pool, which costs a thread hop per event and
would touch the reconciler's asyncio queue from another thread. Only ``on.event`` handlers are used: they
keep no state in the objects (no kopf annotations, no kopf finalizers, no progress in status), so the
operator's API writes are exactly the reconciler's.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import kopf
from prometheus_client import start_http_server

from jupyternetes.adapters.caches import Caches, key_of, owning_instance
from jupyternetes.adapters.events import EventRecorder
from jupyternetes.adapters.kube import Kube
from jupyternetes.adapters.metrics import Metrics
from jupyternetes.adapters.reconciler import OperatorConfig, Reconciler
from jupyternetes.core.models import GROUP, VERSION
from jupyternetes.core.naming import LABEL_INSTANCE

log = logging.getLogger("jupyternetes.operator")


class Runtime:
    """Everything the handlers share, kept in kopf's memo."""

    def __init__(self, config: OperatorConfig, kubeconfig: str | None, metrics_port: int | None) -> None:
        self.config = config
        self.kubeconfig = kubeconfig
        self.metrics_port = metrics_port
        self.caches = Caches()
        self.metrics = Metrics()
        self.kube: Kube | None = None
        self.reconciler: Reconciler | None = None


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
    )
    return Runtime(config, raw.get("kubeconfig"), raw.get("metricsPort"))


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is None:
        runtime = memo.runtime = runtime_from_env()
    return runtime


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    info = kopf.login_with_kubeconfig(**kwargs) or kopf.login_with_service_account(**kwargs)
    return info


@kopf.on.startup()
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
    # The reconciler posts its own Events; kopf's handler-log events would double them.
    settings.posting.enabled = False
    settings.peering.name = "jupyternetes"
    settings.peering.mandatory = False
    rt.kube = await Kube.connect(rt.kubeconfig)
    events = EventRecorder(rt.kube)
    rt.reconciler = Reconciler(rt.kube, rt.caches, rt.config, metrics=rt.metrics, events=events)
    rt.reconciler.start()
    if rt.metrics_port is not None:
        start_http_server(rt.metrics_port, registry=rt.metrics.registry)
    log.info("jupyternetes operator started: %s", rt.config)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
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


@kopf.on.event(GROUP, VERSION, "jupyternotebookinstances")
async def instance_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    obj = _apply(rt.caches.instances, event)
    key = key_of(obj)
    if not rt.config.serves(key[0]) or rt.reconciler is None:
        return
    rt.reconciler.enqueue(key)


@kopf.on.event(GROUP, VERSION, "jupyternotebooktemplates")
async def template_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    rt = _runtime(memo)
    obj = _apply(rt.caches.templates, event)
    if rt.reconciler is None:
        return
    for user in list(rt.caches.template_users.get(key_of(obj), ())):
        rt.reconciler.enqueue(user)


def _child_event(cache: Any, event: kopf.RawEvent, memo: kopf.Memo) -> None:
    rt = _runtime(memo)
    obj = _apply(cache, event)
    owner = owning_instance(obj)
    if owner and rt.reconciler is not None:
        rt.reconciler.enqueue((obj["metadata"].get("namespace", ""), owner))


@kopf.on.event("", "v1", "pods", labels={LABEL_INSTANCE: kopf.PRESENT})
async def pod_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    _child_event(_runtime(memo).caches.pods, event, memo)


@kopf.on.event("", "v1", "persistentvolumeclaims", labels={LABEL_INSTANCE: kopf.PRESENT})
async def pvc_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    _child_event(_runtime(memo).caches.pvcs, event, memo)
