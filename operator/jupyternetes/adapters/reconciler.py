"""The reconciler: turns an instance and its template into children, and keeps the instance's status true.

Entry points (the kopf handlers) feed the watch caches and call :meth:`Reconciler.enqueue`; workers take
instance keys off a de-duplicating queue (one reconcile per instance at a time, bursts of events coalesced)
and do only the API writes that are needed: children that don't exist yet, and a status patch when the
status changed. Reads come from the caches; the only reads from the API are the instance's
``variablesFrom`` Secrets (never cached: the operator should not hold every Secret of the cluster).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from jupyternetes.adapters import objectvalidation
from jupyternetes.adapters.caches import Caches, Key
from jupyternetes.adapters.events import EventRecorder
from jupyternetes.adapters.kube import JSON_PATCH, Kube, KubeError
from jupyternetes.adapters.metrics import Metrics
from jupyternetes.core.drift import describe_drift, plan_drift, template_usage
from jupyternetes.core.lifetime import expires_at
from jupyternetes.core.models import (
    API_VERSION,
    INSTANCE_KIND,
    TEMPLATE_KIND,
    ConditionType,
    InstanceStatus,
    JupyterNotebookInstance,
    JupyterNotebookTemplate,
    parse_instance,
    parse_template,
    to_dict,
)
from jupyternetes.core.naming import ANNOTATION_PURGE, LABEL_INSTANCE, label_value
from jupyternetes.core.planning import (
    Failure,
    Observed,
    StatusInput,
    TemplateDrift,
    blocking_stale_child,
    compute_status,
    condition,
    created_entries,
    creations,
    is_recreation,
    merge_patch,
    restorable_others,
)
from jupyternetes.core.rendering import (
    PlannedObject,
    RenderContext,
    RenderFailed,
    RenderPlan,
    decode_secret_data,
    owner_reference,
    render_template,
    rendered_pvc_refs,
)
from jupyternetes.core.resources import GroupResource, api_group
from jupyternetes.core.scheduling import stale_claim_verdict
from jupyternetes.core.variables import VariablesRefused, check_variables

log = logging.getLogger("jupyternetes.reconciler")

PURGE_FINALIZER = "jupyternetes.kadense.io/purge"
# Rendered objects larger than this are refused before creation: etcd's default request limit is 1.5 MiB,
# and a notebook pod anywhere near it means a variable carries something it shouldn't.
MAX_OBJECT_BYTES = 1024 * 1024
INSTANCE_PLURAL = "jupyternotebookinstances"

# Failures that fix themselves when something else appears (a Secret the hub is about to write): retried
# with backoff. Failures caused by other objects we watch (templates) are retried by their watch events.
_RETRY_FAILURES = frozenset({"SecretNotFound", "SecretUnreadable"})


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class OperatorConfig:
    operator_namespace: str = "default"
    # Namespaces templates may be read from; empty: the operator's own and the instance's.
    template_namespaces: frozenset[str] = frozenset()
    # Namespaces whose instances are served; None: all.
    watched_namespaces: frozenset[str] | None = None
    kubernetes_version: str = objectvalidation.DEFAULT_KUBERNETES_VERSION
    workers: int = 32
    max_backoff: float = 30.0
    # Kinds of otherResources that are watched and re-created when deleted (option --other-resource);
    # other kinds are created once and not looked at again.
    other_resources: frozenset[GroupResource] = frozenset()

    def allowed_template_namespaces(self, instance_namespace: str) -> frozenset[str]:
        if self.template_namespaces:
            return self.template_namespaces
        return frozenset({self.operator_namespace, instance_namespace})

    def serves(self, namespace: str) -> bool:
        return self.watched_namespaces is None or namespace in self.watched_namespaces

    def instance_namespace_for(self, template_namespace: str) -> str:
        """A namespace where instances of a template in ``template_namespace`` are served: its own when
        served, else the first served namespace allowed to use it (where the operator may create objects,
        which it usually may not in a namespace holding only templates)."""
        if self.serves(template_namespace):
            return template_namespace
        for ns in sorted(self.watched_namespaces or ()):
            if template_namespace in self.allowed_template_namespaces(ns):
                return ns
        return template_namespace


@dataclass
class _PlanEntry:
    uid: str
    generation: int
    template_uid: str
    template_generation: int
    plan: RenderPlan
    # Rendered (after a restart) from a newer template generation than the instance's objects were: used
    # for their names only, nothing is created from it.
    newer_than_objects: bool = False


@dataclass
class _InstanceMemory:
    """What this process remembers of an instance between reconciles (lost on restart, by design:
    everything here can be rebuilt from the caches and the status)."""

    uid: str = ""
    plan: _PlanEntry | None = None
    # Created other resources of kinds that are not watched, by name (watched kinds are in the caches).
    others: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Other resources (of kinds not watched) of our names that belong to an earlier instance of this name:
    # looked at again after a delay until they are gone.
    stale_others: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Whether the other resources an earlier process created (per the status) were looked up again.
    others_recalled: bool = False
    # What the template's current generation would change in this instance's objects: ((template uid,
    # generation), aspects), rendered once per template generation.
    drift: tuple[tuple[str, int], list[str]] | None = None
    failures: int = 0
    # The last reconcile asked to be run again later (a Secret not there yet): not a success that resets
    # the back-off.
    retry_requested: bool = False
    ready_recorded: bool = False
    # Pods left unscheduled on an out-of-date verdict (core/scheduling.py): pod uid -> when first seen so
    # (monotonic); and how many of this instance's pods were created again for it.
    stuck_pods: dict[str, float] = field(default_factory=dict)
    pods_recreated: int = 0


class Reconciler:
    # How long a pod's out-of-date scheduling verdict is left for kube-scheduler to correct itself (an event
    # it has yet to process moves the pod within milliseconds), and how many of one instance's pods are
    # created again for it (a scheduler that loses each new pod too is not helped by more).
    STUCK_POD_GRACE = 3.0
    STUCK_POD_RECREATIONS = 3

    def __init__(
        self,
        kube: Kube,
        caches: Caches,
        config: OperatorConfig,
        *,
        metrics: Metrics | None = None,
        events: EventRecorder | None = None,
    ) -> None:
        self.kube = kube
        self.caches = caches
        self.config = config
        self.metrics = metrics or Metrics()
        self.events = events or EventRecorder(kube)
        # Two FIFO queues of instance keys: urgent (a child of the instance changed: its status should say
        # so now) before normal (new instances, retries, our own status writes echoed by the watch).
        # Without the urgent lane, an instance whose pod became Ready waited behind every instance queued
        # for its first reconcile: in a burst of N, nearly all became Ready together at the very end.
        self._urgent: deque[Key] = deque()
        self._normal: deque[Key] = deque()
        self._queued: dict[Key, bool] = {}  # key -> queued as urgent (a deque may hold stale entries)
        self._wakeup = asyncio.Event()
        self._running: set[Key] = set()
        self._dirty: dict[Key, bool] = {}  # changed while being reconciled -> urgent
        self._memory: dict[Key, _InstanceMemory] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._states: dict[Key, str] = {}
        self._state_counts: dict[str, int] = {"Ready": 0, "Pending": 0, "Failed": 0}
        # (apiVersion, kind) of other resources -> their group and resource (from discovery).
        self._kinds: dict[tuple[str, str], GroupResource] = {}
        # Kinds of other resources used by templates but not watched, already said so in the log.
        self._unwatched_reported: set[GroupResource] = set()
        # Reconciles at instances' expiry (their template's maxLifetime), apart from the retry timers.
        self._expiries: dict[Key, asyncio.TimerHandle] = {}
        # Templates whose status (instances using them, by generation) is to be counted again soon.
        self._template_counts: dict[Key, asyncio.TimerHandle] = {}
        self._count_tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ queue

    def enqueue(self, key: Key, delay: float = 0.0, *, urgent: bool = False) -> None:
        """Queue a reconcile of ``key`` (after ``delay`` seconds); ``urgent``: ahead of the normal queue
        (for changes of an instance's children, which only its status has to follow)."""
        if delay > 0:
            loop = asyncio.get_running_loop()
            old = self._timers.pop(key, None)
            if old is not None:
                old.cancel()
            self._timers[key] = loop.call_later(delay, self._enqueue_now, key, urgent)
            return
        self._enqueue_now(key, urgent)

    def _enqueue_now(self, key: Key, urgent: bool = False) -> None:
        # Runs now: a retry still pending is superseded (the reconcile sets a new one if it fails again).
        # Cancelled rather than only forgotten, or stop() and forget() could not cancel it any more.
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if key in self._running:
            self._dirty[key] = self._dirty.get(key, False) or urgent
            return
        if key in self._queued:
            if urgent and not self._queued[key]:
                self._queued[key] = True
                self._urgent.append(key)  # its entry in the normal queue becomes stale
                self._wakeup.set()
            return
        self._queued[key] = urgent
        (self._urgent if urgent else self._normal).append(key)
        self._wakeup.set()

    async def _next(self) -> Key:
        while True:
            for queue in (self._urgent, self._normal):
                while queue:
                    key = queue.popleft()
                    if self._queued.pop(key, None) is not None:
                        return key
            self._wakeup.clear()
            await self._wakeup.wait()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._workers = [
            loop.create_task(self._worker(), name=f"reconciler-{i}") for i in range(self.config.workers)
        ]

    async def stop(self) -> None:
        for t in self._workers:
            t.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        for timer in self._timers.values():
            timer.cancel()
        for timer in [*self._template_counts.values(), *self._expiries.values()]:
            timer.cancel()
        for task in list(self._count_tasks):
            task.cancel()
        await asyncio.gather(*self._count_tasks, return_exceptions=True)
        await self.events.flush()

    async def _worker(self) -> None:
        while True:
            key = await self._next()
            self._running.add(key)
            try:
                await self.reconcile(key)
                mem = self._memory.get(key)
                if mem is not None:
                    if mem.retry_requested:
                        mem.retry_requested = False
                    else:
                        mem.failures = 0
            except asyncio.CancelledError:
                raise
            except KubeError as exc:
                self._retry(key, f"API error: {exc}")
            except Exception:
                log.exception("reconcile of %s/%s failed", *key)
                self._retry(key, "internal error")
            finally:
                self._running.discard(key)
            if key in self._dirty:
                self._enqueue_now(key, self._dirty.pop(key))

    def _retry(self, key: Key, why: str) -> None:
        mem = self._memory.setdefault(key, _InstanceMemory())
        mem.failures += 1
        delay = min(self.config.max_backoff, 0.1 * 2 ** min(mem.failures, 10)) * (0.5 + random.random() / 2)
        log.info("retrying %s/%s in %.2fs: %s", key[0], key[1], delay, why)
        self.enqueue(key, delay)

    def forget(self, key: Key) -> None:
        for tkey, users in list(self.caches.template_users.items()):
            if key in users:
                users.discard(key)
                self.count_template(tkey)
        self._memory.pop(key, None)
        for timers in (self._timers, self._expiries):
            timer = timers.pop(key, None)
            if timer is not None:
                timer.cancel()
        old = self._states.pop(key, None)
        if old is not None:
            self._count_state(old, -1)

    # ------------------------------------------------------------------ template status

    # Instances change state in bursts (a hub starting many servers): a template's count is written once
    # per burst rather than once per instance status write.
    TEMPLATE_COUNT_DELAY = 0.3

    def count_template(self, tkey: Key) -> None:
        """Count the instances using template ``tkey`` again soon, and write its status if it changed."""
        if tkey in self._template_counts:
            return
        loop = asyncio.get_running_loop()
        self._template_counts[tkey] = loop.call_later(self.TEMPLATE_COUNT_DELAY, self._start_count, tkey)

    def _start_count(self, tkey: Key) -> None:
        self._template_counts.pop(tkey, None)
        task = asyncio.get_running_loop().create_task(self._write_template_status(tkey))
        self._count_tasks.add(task)
        task.add_done_callback(self._count_tasks.discard)

    async def _write_template_status(self, tkey: Key) -> None:
        template = self.caches.templates.get(*tkey)
        if template is None:
            return
        users = []
        for key in list(self.caches.template_users.get(tkey, ())):
            inst = self.caches.instances.get(*key)
            tref = ((inst or {}).get("spec") or {}).get("template") or {}
            if inst is not None and (tref.get("namespace") or key[0], tref.get("name")) == tkey:
                users.append(inst)
        tmeta = template["metadata"]
        new = to_dict(template_usage(users, str(tmeta.get("uid", "")), int(tmeta.get("generation", 1))))
        if (template.get("status") or {}) == new:
            return
        ops = [
            {"op": "test", "path": "/metadata/uid", "value": tmeta.get("uid")},
            {"op": "add", "path": "/status", "value": new},
        ]
        try:
            updated = await self.kube.patch(
                API_VERSION,
                TEMPLATE_KIND,
                tkey[0],
                tkey[1],
                ops,
                subresource="status",
                content_type=JSON_PATCH,
            )
        except KubeError as exc:
            # Gone or replaced meanwhile (its own events count again), or not allowed (an older chart's
            # RBAC): the count is a convenience, never a reason to fail a reconcile.
            log.info("status of template %s/%s not written: %s", tkey[0], tkey[1], exc)
            return
        except Exception:
            log.exception("status of template %s/%s not written", *tkey)
            return
        self.metrics.api_writes.labels("patch", "JupyterNotebookTemplate/status").inc()
        self.caches.templates.upsert(updated)

    # ------------------------------------------------------------------ reconcile

    async def reconcile(self, key: Key) -> None:
        self.metrics.reconciles.inc()
        inst = self.caches.instances.get(*key)
        if inst is None:
            self.forget(key)
            return
        ns = key[0]
        if not self.config.serves(ns):
            return
        meta = inst["metadata"]
        mem = self._memory.setdefault(key, _InstanceMemory())
        if mem.uid != meta.get("uid"):
            self._memory[key] = mem = _InstanceMemory(uid=meta.get("uid", ""))
        if meta.get("deletionTimestamp"):
            await self._finalize(inst)
            return
        if (meta.get("annotations") or {}).get(ANNOTATION_PURGE) == "true" and PURGE_FINALIZER not in (
            meta.get("finalizers") or ()
        ):
            await self._add_finalizer(inst)
        try:
            model = parse_instance(inst)
        except ValidationError as exc:
            await self._write_status(
                inst,
                None,
                StatusInput(
                    plan=None,
                    observed=Observed(),
                    instance_generation=meta.get("generation", 1),
                    now=_now(),
                    failure=Failure("InvalidInstance", pydantic_summary(exc)),
                ),
            )
            return
        prev_status = model.status
        plan, template_meta, failure = await self._plan(inst, model, mem)
        entry_errors: dict[str, str] = {}
        watched: dict[str, GroupResource] = {}
        expired = self._expired(key, inst, model) if plan is not None and failure is None else None
        if expired is not None:
            assert plan is not None
            await self._expire(inst, plan, mem)
        elif plan is not None and failure is None:
            watched = await self._watched_others(key, plan)
            await self._recall_others(inst, plan, prev_status, mem, watched)
            restorable = restorable_others(
                plan,
                watched,
                prev_status,
                template_meta[0] if template_meta else None,
                template_meta[1] if template_meta else None,
            )
            entry_errors = await self._create_missing(inst, plan, prev_status, mem, watched, restorable)
            await self._recreate_stuck_pods(key, inst, plan, mem)
        observed = self._observed(ns, plan, mem, watched)
        drift = await self._drift(inst, model, mem, plan, template_meta, observed)
        status_input = StatusInput(
            plan=plan,
            observed=observed,
            instance_generation=int(meta.get("generation", 1)),
            now=_now(),
            previous=prev_status,
            failure=failure,
            entry_errors=entry_errors,
            template_generation=template_meta[1] if template_meta else None,
            template_uid=template_meta[0] if template_meta else None,
            template_drift=drift,
            expired=expired,
        )
        await self._write_status(inst, plan, status_input)
        if failure is not None and failure.reason in _RETRY_FAILURES:
            self._retry(key, failure.message)
            self._memory[key].retry_requested = True

    async def _plan(
        self, inst: dict[str, Any], model: JupyterNotebookInstance, mem: _InstanceMemory
    ) -> tuple[RenderPlan | None, tuple[str, int] | None, Failure | None]:
        meta = inst["metadata"]
        ns = meta["namespace"]
        generation = int(meta.get("generation", 1))
        tref = model.spec.template
        tns = tref.resolve_namespace(ns)
        key = (ns, meta["name"])
        self.caches.template_users[(tns, tref.name)].add(key)
        allowed = self.config.allowed_template_namespaces(ns)
        if tns not in allowed:
            return (
                None,
                None,
                Failure(
                    "TemplateNotAllowed",
                    f'template namespace "{tns}" is not allowed: this operator reads templates only from '
                    f"{', '.join(sorted(allowed))} (operator option --template-namespace)",
                ),
            )
        bad_names = [
            f'{where}: "{name[:100]}" is not a valid object name (a DNS-1123 subdomain)'
            for where, name in (
                ("spec.template.name", tref.name),
                *(
                    (f"spec.variablesFrom[{i}].secretRef.name", source.secret_ref.name)
                    for i, source in enumerate(model.spec.variables_from)
                ),
            )
            if not _is_object_name(name)
        ]
        if bad_names:
            # Checked before any request: names are path segments of API URLs ("../" would lead elsewhere).
            return None, None, Failure("InvalidInstance", "; ".join(bad_names))
        template = self.caches.templates.get(tns, tref.name)
        cached = mem.plan
        provisioned = _is_true(condition(inst.get("status"), ConditionType.PROVISIONED))
        if (
            cached is not None
            and cached.uid == meta.get("uid")
            and cached.generation == generation
            and (
                provisioned
                or template is None
                or (
                    template["metadata"].get("uid") == cached.template_uid
                    and int(template["metadata"].get("generation", 1)) == cached.template_generation
                )
            )
        ):
            # Provisioned instances keep the plan they were rendered with: template edits don't disturb them.
            return cached.plan, (cached.template_uid, cached.template_generation), None
        if template is None:
            # The watch cache may lag a template created moments ago: ask once before failing the instance.
            template = await self.fetch_template(tns, tref.name)
        if template is None:
            return (
                None,
                None,
                Failure(
                    "TemplateNotFound",
                    f'JupyterNotebookTemplate "{tref.name}" not found in namespace "{tns}"',
                ),
            )
        try:
            parsed = parse_template(template)
        except ValidationError as exc:
            return (
                None,
                None,
                Failure("TemplateInvalid", f"template {tns}/{tref.name} is invalid: {pydantic_summary(exc)}"),
            )
        plan, failure = await self.render(inst, model, parsed, tns)
        if plan is None:
            return None, None, failure
        tmeta = (str(template["metadata"].get("uid", "")), int(template["metadata"].get("generation", 1)))
        prev = model.status
        newer = False
        if provisioned and prev is not None and prev.template_generation is not None:
            # Re-rendered after a restart: its objects were made from the generation its status records
            # (TemplateOutdated says what differs from the current one).
            recorded = (prev.template_uid or tmeta[0], prev.template_generation)
            newer = recorded != tmeta
            tmeta = recorded
        mem.plan = _PlanEntry(meta.get("uid", ""), generation, tmeta[0], tmeta[1], plan, newer)
        return plan, tmeta, None

    async def render(
        self, inst: dict[str, Any], model: JupyterNotebookInstance, parsed: JupyterNotebookTemplate, tns: str
    ) -> tuple[RenderPlan | None, Failure | None]:
        """The instance's objects rendered from ``parsed`` (its variables checked against the template's
        declarations and its Secrets read), each validated; or why not."""
        meta = inst["metadata"]
        ns = meta["namespace"]
        tref = model.spec.template
        secret_vars: list[dict[str, str]] = []
        for i, source in enumerate(model.spec.variables_from):
            sname = source.secret_ref.name
            try:
                secret = await self.kube.get("v1", "Secret", ns, sname)
            except KubeError as exc:
                if exc.status == 404:
                    return (
                        None,
                        Failure(
                            "SecretNotFound",
                            f'spec.variablesFrom[{i}]: Secret "{sname}" not found in namespace "{ns}"',
                        ),
                    )
                if exc.status == 403:
                    return (
                        None,
                        Failure(
                            "SecretUnreadable", f'spec.variablesFrom[{i}]: Secret "{sname}": {exc.message}'
                        ),
                    )
                raise
            try:
                secret_vars.append(decode_secret_data(secret.get("data"), secret.get("stringData")))
            except ValueError as exc:
                return (
                    None,
                    Failure("SecretInvalid", f'spec.variablesFrom[{i}]: Secret "{sname}": {exc}'),
                )
        try:
            # The webhook refuses such instances at admission, but it may be down (failurePolicy Ignore)
            # or installed after the instance was created: checked here too.
            variables = check_variables(
                parsed.spec.variables,
                model.spec.variables,
                optional=(k for source in secret_vars for k in source),
            )
        except VariablesRefused as exc:
            return (
                None,
                Failure("InvalidVariables", f"template {tns}/{tref.name} refuses: {exc.summary()}"),
            )
        ctx = RenderContext(
            instance_name=meta["name"],
            instance_namespace=ns,
            template_name=tref.name,
            template_namespace=tns,
            variables=variables,
            secret_variables=secret_vars,
        )
        try:
            plan = render_template(parsed.spec, ctx, owner=owner_reference(inst))
        except RenderFailed as exc:
            return None, Failure("RenderFailed", exc.summary())
        problems: list[str] = []
        for obj in plan.objects:
            size = len(json.dumps(obj.manifest, separators=(",", ":")).encode())
            if size > MAX_OBJECT_BYTES:
                problems.append(
                    f"{obj.object_kind} {obj.name} (entry {obj.entry}) is too large: {size} bytes rendered, "
                    f"at most {MAX_OBJECT_BYTES} (etcd refuses objects over 1.5 MiB; check variable sizes)"
                )
                continue
            for problem in objectvalidation.validate(obj.manifest, self.config.kubernetes_version):
                problems.append(f"{obj.object_kind} {obj.name} (entry {obj.entry}): {problem}")
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            return None, Failure("InvalidObject", "; ".join(problems[:5]) + more)
        return plan, None

    def _expired(self, key: Key, inst: dict[str, Any], model: JupyterNotebookInstance) -> str | None:
        """Why the instance is past its template's maxLifetime (the Expired condition's message), or None;
        a reconcile is set for the moment it will be. Once expired, always expired."""
        previous = condition(inst.get("status"), ConditionType.EXPIRED)
        if _is_true(previous):
            return str((previous or {}).get("message") or "expired")
        tref = model.spec.template
        tns = tref.resolve_namespace(key[0])
        template = self.caches.templates.get(tns, tref.name)
        lifetime = ((template or {}).get("spec") or {}).get("maxLifetime")
        created = inst["metadata"].get("creationTimestamp")
        if not lifetime or not created:
            return None
        try:
            deadline = expires_at(str(created), str(lifetime))
        except ValueError:
            return None  # refused by the CRD's pattern; a template from before it is not enforced
        left = (deadline - dt.datetime.now(dt.UTC)).total_seconds()
        if left > 0:
            old = self._expiries.pop(key, None)
            if old is not None:
                old.cancel()
            # A moment late rather than early: the creation time has whole seconds.
            self._expiries[key] = asyncio.get_running_loop().call_later(left + 0.05, self._enqueue_now, key)
            return None
        return (
            f"stopped: the server ran longer than the maxLifetime {lifetime} of template {tns}/{tref.name} "
            f"(started {created}); its pods were deleted, its volumes kept"
        )

    async def _expire(self, inst: dict[str, Any], plan: RenderPlan, mem: _InstanceMemory) -> None:
        """Delete the expired instance's pods (its PVCs stay, as on a stop; the rest goes when the hub
        deletes the instance)."""
        ns = inst["metadata"]["namespace"]
        for pod in plan.pods:
            obj = self.caches.pods.get(ns, pod.name)
            if (
                obj is None
                or blocking_stale_child(pod, obj, mem.uid)
                or obj["metadata"].get("deletionTimestamp")
            ):
                continue
            try:
                await self.kube.delete("v1", "Pod", ns, pod.name)
            except KubeError as exc:
                if exc.status != 404:
                    raise
            self.metrics.api_writes.labels("delete", "Pod").inc()

    async def _recreate_stuck_pods(
        self, key: Key, inst: dict[str, Any], plan: RenderPlan, mem: _InstanceMemory
    ) -> None:
        """Create again a pod that kube-scheduler left unscheduled on a verdict about its claims that is no
        longer true (core/scheduling.py says why and when), once it has stayed so for STUCK_POD_GRACE."""
        if mem.plan is not None and mem.plan.newer_than_objects:
            return  # rendered from a newer template than the pod: the pod is not ours to re-create
        ns = key[0]
        now = time.monotonic()
        seen: set[str] = set()
        for planned in plan.pods:
            pod = self.caches.pods.get(ns, planned.name)
            if pod is None or blocking_stale_child(planned, pod, mem.uid):
                continue
            claims = {name: self.caches.pvcs.get(ns, name) for name in rendered_pvc_refs(pod)}
            verdict = stale_claim_verdict(pod, claims)
            if verdict is None:
                continue
            uid = str(pod["metadata"].get("uid", ""))
            seen.add(uid)
            waited = now - mem.stuck_pods.setdefault(uid, now)
            if waited < self.STUCK_POD_GRACE:
                # No event may come (that is the trouble): look again when the grace is over.
                self.enqueue(key, delay=self.STUCK_POD_GRACE - waited + 0.05)
            elif mem.pods_recreated < self.STUCK_POD_RECREATIONS:
                await self._recreate_pod(inst, planned, pod, verdict, waited, mem)
        for uid in [u for u in mem.stuck_pods if u not in seen]:
            del mem.stuck_pods[uid]

    async def _recreate_pod(
        self,
        inst: dict[str, Any],
        planned: PlannedObject,
        pod: dict[str, Any],
        verdict: str,
        waited: float,
        mem: _InstanceMemory,
    ) -> None:
        ns = inst["metadata"]["namespace"]
        meta = pod["metadata"]
        try:
            # This pod as the cache holds it, and no other version (preconditions): one the scheduler has
            # just bound to a node is left alone. Never scheduled, so it goes at once.
            uid, version = meta.get("uid"), meta.get("resourceVersion")
            await self.kube.delete("v1", "Pod", ns, planned.name, uid=uid, resource_version=version)
        except KubeError as exc:
            if exc.status in (404, 409):
                return  # gone, changed or replaced meanwhile
            raise
        self.metrics.api_writes.labels("delete", "Pod").inc()
        self.caches.pods.remove(pod)
        mem.pods_recreated += 1
        # A create that fails here (the API server unavailable) is made by the next reconcile: a pod that
        # never left Pending is not one the status records as created, so its absence is no PodDeleted.
        errors: dict[str, str] = {}
        created, _ = await self._create(planned, errors)
        why = (
            f"kube-scheduler left pod {planned.name} unscheduled for {waited:.0f} s on a verdict its claims "
            f'no longer justify ("{verdict}"; they are bound)'
        )
        if created is None:
            problem = errors.get(planned.entry, "it could not be created again")
            log.warning("%s; deleted it, but %s", why, problem)
            self.events.record(inst, "Warning", "PodRecreationFailed", f"{why}; deleted it, but {problem}")
            return
        log.info("%s: created it again (instance %s/%s)", why, ns, inst["metadata"]["name"])
        self.events.record(inst, "Normal", "PodRecreated", f"{why}: created it again to be scheduled now")

    async def _drift(
        self,
        inst: dict[str, Any],
        model: JupyterNotebookInstance,
        mem: _InstanceMemory,
        plan: RenderPlan | None,
        template_meta: tuple[str, int] | None,
        observed: Observed,
    ) -> TemplateDrift | None:
        """A provisioned instance against its template's current generation: its objects are never
        changed (a running server is not restarted under its user); the TemplateOutdated condition says
        what the next start would change."""
        if plan is None or template_meta is None:
            return None
        if not _is_true(condition(inst.get("status"), ConditionType.PROVISIONED)):
            return None  # not provisioned yet: it is rendered from the current template anyway
        tref = model.spec.template
        tns = tref.resolve_namespace(inst["metadata"]["namespace"])
        template = self.caches.templates.get(tns, tref.name)
        if template is None:
            return None
        current = (str(template["metadata"].get("uid", "")), int(template["metadata"].get("generation", 1)))
        if current == template_meta:
            return TemplateDrift(
                False, "UpToDate", f"rendered from the current template (generation {current[1]})"
            )
        if mem.drift is not None and mem.drift[0] == current:
            aspects = mem.drift[1]
        else:
            try:
                parsed = parse_template(template)
            except ValidationError as exc:
                aspects = [f"the template is now invalid ({pydantic_summary(exc)})"]
            else:
                new_plan, failure = await self.render(inst, model, parsed, tns)
                if new_plan is None:
                    assert failure is not None
                    aspects = [f"it no longer renders for this server ({failure.reason}: {failure.message})"]
                else:
                    live = {**observed.pvcs, **observed.pods, **observed.others}
                    aspects = plan_drift(new_plan, live, created=live)
            mem.drift = (current, aspects)
        name = f"{tns}/{tref.name}"
        old_generation = template_meta[1] if template_meta[0] == current[0] else None
        if not aspects:
            return TemplateDrift(
                False,
                "NoChangeForThisServer",
                f"template {name} changed (now generation {current[1]}) but not what this server runs",
            )
        return TemplateDrift(
            True, "TemplateChanged", describe_drift(name, old_generation, current[1], aspects)
        )

    async def fetch_template(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A template the cache does not hold yet, read and cached (None: absent, or not ours to read)."""
        try:
            template = await self.kube.get(API_VERSION, TEMPLATE_KIND, namespace, name)
        except KubeError as exc:
            if exc.status in (403, 404):
                return None
            raise
        self.caches.templates.upsert(template)
        return template

    def _observed(
        self,
        ns: str,
        plan: RenderPlan | None,
        mem: _InstanceMemory,
        watched: dict[str, GroupResource] | None = None,
    ) -> Observed:
        """The children of this instance (by name, owned by its uid or retained) and, apart, objects of
        the same names that belong to an earlier instance of this name and are on their way out.
        ``watched``: entry -> kind of the other resources whose kinds are watched (read from the caches;
        other kinds from what this process created)."""
        if plan is None:
            return Observed()
        watched = watched or {}
        found: dict[str, dict[str, dict[str, Any]]] = {"pvc": {}, "pod": {}, "other": dict(mem.others)}
        stale: dict[str, dict[str, Any]] = dict(mem.stale_others)
        for planned in (*plan.pvcs, *plan.pods, *plan.others):
            if planned.kind == "other":
                kind = watched.get(planned.entry)
                if kind is None:
                    continue
                cache = self.caches.other(kind)
            else:
                cache = self.caches.pvcs if planned.kind == "pvc" else self.caches.pods
            obj = cache.get(ns, planned.name)
            if obj is None:
                continue
            if blocking_stale_child(planned, obj, mem.uid):
                stale[planned.name] = obj
            else:
                found[planned.kind][planned.name] = obj
        return Observed(pvcs=found["pvc"], pods=found["pod"], others=found["other"], stale=stale)

    async def _watched_others(self, key: Key, plan: RenderPlan) -> dict[str, GroupResource]:
        """entry -> kind, for the plan's other resources whose kinds are watched. A kind a template uses
        but the operator does not watch is said once in the log (its objects are created once, and one
        deleted later is not re-created)."""
        watched: dict[str, GroupResource] = {}
        for other in plan.others:
            kind = await self._group_resource(other.api_version, other.object_kind)
            if kind is None:
                continue  # not served by the API server: creating it fails with a clear error
            if kind in self.config.other_resources:
                watched[other.entry] = kind
            elif kind not in self._unwatched_reported:
                self._unwatched_reported.add(kind)
                log.warning(
                    "%s objects are created for templates' otherResources (first: instance %s/%s, entry %s) "
                    "but not watched: one deleted later is not re-created; operator option "
                    "--other-resource %s watches them",
                    other.object_kind,
                    key[0],
                    key[1],
                    other.entry,
                    kind,
                )
        return watched

    async def _group_resource(self, api_version: str, kind: str) -> GroupResource | None:
        """The group and resource (plural) of a kind, by discovery (cached, as the create's own lookup is);
        None when the API server does not serve it."""
        known = self._kinds.get((api_version, kind))
        if known is not None:
            return known
        try:
            info = await self.kube.resource(api_version, kind)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        known = self._kinds[(api_version, kind)] = GroupResource(api_group(api_version), info.plural)
        return known

    async def _recall_others(
        self,
        inst: dict[str, Any],
        plan: RenderPlan,
        prev: InstanceStatus | None,
        mem: _InstanceMemory,
        watched: dict[str, GroupResource],
    ) -> None:
        """Other resources of kinds that are not watched: this process knows those it created. Those an
        earlier process created (a restart; the status says so) are read once, so that the status does not
        call them deleted, and one that is really gone is reported as such. Those of an earlier instance
        of this name that were in the way are looked at again. (Watched kinds are in the caches, listed
        before any reconcile.)"""
        unwatched = [other for other in plan.others if other.entry not in watched]
        for other in unwatched:
            if other.name in mem.stale_others:
                mem.stale_others.pop(other.name)
                await self._existing(other)  # still there: noted as stale again, and looked at later
        if mem.others_recalled:
            return
        created = created_entries(prev)
        for other in unwatched:
            if created.get(other.entry) != other.name or other.name in mem.others:
                continue
            await self._existing(other)
        mem.others_recalled = True

    async def _create_missing(
        self,
        inst: dict[str, Any],
        plan: RenderPlan,
        prev: InstanceStatus | None,
        mem: _InstanceMemory,
        watched: dict[str, GroupResource],
        restorable: frozenset[str],
    ) -> dict[str, str]:
        errors: dict[str, str] = {}
        created_before = created_entries(prev)
        ns = inst["metadata"]["namespace"]
        # A provisioned instance whose template changed since is not touched (only its status is kept true,
        # and TemplateOutdated says what the next start changes): a new entry is not added to a running
        # server either.
        if _is_true(condition(inst.get("status"), ConditionType.PROVISIONED)) and (
            mem.plan is None or mem.plan.newer_than_objects
        ):
            return errors
        created_any: list[str] = []
        live: bool | None = None  # whether the instance is still there, asked before restoring anything
        # Two passes: PVCs created in the first pass unblock pods in the second without waiting for a watch.
        for _ in range(3):
            todo = creations(plan, self._observed(ns, plan, mem, watched), created_before, restorable)
            todo = [p for p in todo if p.entry not in errors]
            if not todo:
                break
            progressed = False
            for planned in todo:
                recreation = is_recreation(planned, created_before)
                if recreation:
                    if live is None:
                        live = await self._still_live(inst)
                    if not live:
                        continue
                result, created = await self._create(planned, errors, watched.get(planned.entry))
                if result is None:
                    continue
                progressed = True
                if recreation and created:
                    self._record_recreation(inst, planned, result)
                else:
                    created_any.append(f"{result['kind']} {planned.name}")
            if not progressed:
                break
        if created_any:
            self.events.record(inst, "Normal", "Created", "created " + ", ".join(created_any))
        return errors

    async def _still_live(self, inst: dict[str, Any]) -> bool:
        """Whether the instance still exists and is not being deleted, asked of the API server: the watch
        of the other resources may deliver the garbage collector's deletions of an instance's children
        before the instance watch delivers the instance's own deletion, and a child restored then would
        belong to a deleted instance. Asked only before restoring (a rare event), never per reconcile."""
        meta = inst["metadata"]
        try:
            current = await self.kube.get(API_VERSION, INSTANCE_KIND, meta["namespace"], meta["name"])
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        self.caches.instances.upsert(current)
        cmeta = current.get("metadata") or {}
        return cmeta.get("uid") == meta.get("uid") and not cmeta.get("deletionTimestamp")

    def _record_recreation(self, inst: dict[str, Any], planned: PlannedObject, obj: dict[str, Any]) -> None:
        what = f"{obj.get('kind') or planned.object_kind} {planned.name}"
        log.info(
            "re-created %s of instance %s/%s (entry %s): it had been deleted",
            what,
            inst["metadata"]["namespace"],
            inst["metadata"]["name"],
            planned.entry,
        )
        self.events.record(
            inst,
            "Normal",
            "OtherResourceRecreated",
            f"re-created {what} (otherResources entry {planned.entry}): it had been deleted",
        )

    async def _create(
        self, planned: PlannedObject, errors: dict[str, str], kind: GroupResource | None = None
    ) -> tuple[dict[str, Any] | None, bool]:
        """Create ``planned``; returns the object (None when there is none of ours) and whether this call
        created it (False: it existed already). ``kind``: the watched kind of an other resource."""
        manifest = planned.manifest
        ns = manifest["metadata"]["namespace"]
        obj: dict[str, Any] | None
        created = False
        try:
            obj = await self.kube.create(manifest)
            created = True
            self.metrics.api_writes.labels("create", planned.object_kind).inc()
        except KubeError as exc:
            if exc.reason == "AlreadyExists":
                obj = await self._existing(planned, kind)
                if obj is None:
                    return None, False
            elif exc.retriable:
                raise
            else:
                errors[planned.entry] = f"cannot create {planned.object_kind} {planned.name}: {exc.message}"
                self.metrics.errors.labels("CreateFailed").inc()
                return None, False
        self._remember(planned, obj, kind)
        mem = self._memory.get((ns, _owner_name(manifest)))
        if mem is not None and blocking_stale_child(planned, obj, mem.uid):
            return None, False  # an earlier instance's object of this name: _remember noted it as such
        return obj, created

    async def _existing(
        self, planned: PlannedObject, kind: GroupResource | None = None
    ) -> dict[str, Any] | None:
        """An object of our name exists already (a retained PVC, or our own create replayed after a restart
        before its watch event arrived): read it once so the next step sees it."""
        m = planned.manifest
        try:
            obj = await self.kube.get(m["apiVersion"], m["kind"], m["metadata"]["namespace"], planned.name)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        self._remember(planned, obj, kind)
        return obj

    def _remember(
        self, planned: PlannedObject, obj: dict[str, Any], kind: GroupResource | None = None
    ) -> None:
        if planned.kind == "pvc":
            self.caches.pvcs.upsert(obj)
        elif planned.kind == "pod":
            self.caches.pods.upsert(obj)
        elif kind is not None:
            # A watched kind: the cache holds it (an earlier instance's object is told apart when observed,
            # and its deletion is a watch event).
            self.caches.other(kind).upsert(obj)
        else:
            ns = planned.manifest["metadata"]["namespace"]
            key = (ns, _owner_name(planned.manifest))
            mem = self._memory.get(key)
            if mem is None:
                return
            if blocking_stale_child(planned, obj, mem.uid):
                # Not watched, so nothing will say when it is gone: look again in a moment.
                mem.stale_others[planned.name] = obj
                self.enqueue(key, 1.0)
            else:
                mem.stale_others.pop(planned.name, None)
                mem.others[planned.name] = obj

    async def _write_status(self, inst: dict[str, Any], plan: RenderPlan | None, inp: StatusInput) -> None:
        status = compute_status(inp)
        new = to_dict(status)
        old = inst.get("status") or {}
        patch = merge_patch(old, new)
        meta = inst["metadata"]
        key = (meta["namespace"], meta["name"])
        if patch is not None:
            # A JSON patch that first tests the uid: this reconcile may have read an instance that was deleted
            # and re-created under the same name meanwhile, and a patch naming the object by name only
            # wrote the old instance's status (children "created") into the new one, which then never
            # created them. The whole status is written (only this operator writes it).
            ops = [
                {"op": "test", "path": "/metadata/uid", "value": meta.get("uid")},
                {"op": "add", "path": "/status", "value": new},
            ]
            try:
                updated = await self.kube.patch(
                    API_VERSION,
                    INSTANCE_KIND,
                    meta["namespace"],
                    meta["name"],
                    ops,
                    subresource="status",
                    content_type=JSON_PATCH,
                )
                self.metrics.api_writes.labels("patch", "JupyterNotebookInstance/status").inc()
            except KubeError as exc:
                if exc.status == 404:
                    return
                current = self.caches.instances.get(*key)
                if exc.status == 422 and (
                    current is None or current["metadata"].get("uid") != meta.get("uid")
                ):
                    return  # replaced: the new instance has its own reconcile queued
                raise
            self.caches.instances.upsert(updated)
            tref = (inst.get("spec") or {}).get("template") or {}
            self.count_template((tref.get("namespace") or meta["namespace"], str(tref.get("name", ""))))
        self._record_transitions(inst, old, new)
        self._track_state(key, new)

    def _record_transitions(self, inst: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> None:
        key = (inst["metadata"]["namespace"], inst["metadata"]["name"])
        mem = self._memory.setdefault(key, _InstanceMemory())
        old_failed, new_failed = condition(old, "Failed"), condition(new, "Failed")
        if _is_true(new_failed) and (
            not _is_true(old_failed) or (old_failed or {}).get("reason") != (new_failed or {}).get("reason")
        ):
            assert new_failed is not None
            self.events.record(inst, "Warning", str(new_failed.get("reason")), str(new_failed.get("message")))
            self.metrics.errors.labels(str(new_failed.get("reason"))).inc()
        expired = condition(new, ConditionType.EXPIRED)
        if _is_true(expired) and not _is_true(condition(old, ConditionType.EXPIRED)):
            self.events.record(inst, "Normal", "Expired", str((expired or {}).get("message")))
        outdated = condition(new, ConditionType.TEMPLATE_OUTDATED)
        if _is_true(outdated) and (condition(old, ConditionType.TEMPLATE_OUTDATED) or {}).get("message") != (
            outdated or {}
        ).get("message"):
            self.events.record(inst, "Normal", "TemplateOutdated", str((outdated or {}).get("message")))
        if (
            _is_true(condition(new, "Ready"))
            and not _is_true(condition(old, "Ready"))
            and not mem.ready_recorded
        ):
            mem.ready_recorded = True
            ready = condition(new, "Ready") or {}
            self.events.record(inst, "Normal", "Ready", str(ready.get("message") or "ready"))
            created = inst["metadata"].get("creationTimestamp")
            if created:
                started = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
                self.metrics.provisioning_seconds.observe(
                    max((dt.datetime.now(dt.UTC) - started).total_seconds(), 0.0)
                )

    def _track_state(self, key: Key, status: dict[str, Any]) -> None:
        if _is_true(condition(status, "Failed")):
            state = "Failed"
        elif _is_true(condition(status, "Ready")):
            state = "Ready"
        else:
            state = "Pending"
        old = self._states.get(key)
        if old != state:
            self._states[key] = state
            if old is not None:
                self._count_state(old, -1)
            self._count_state(state, +1)

    def _count_state(self, state: str, delta: int) -> None:
        # Counted as states change: recounting every instance on each change cost O(N) per change.
        self._state_counts[state] = self._state_counts.get(state, 0) + delta
        self.metrics.instances.labels(state).set(self._state_counts[state])

    # ------------------------------------------------------------------ deletion

    async def _add_finalizer(self, inst: dict[str, Any]) -> None:
        meta = inst["metadata"]
        finalizers = [*(meta.get("finalizers") or ()), PURGE_FINALIZER]
        updated = await self.kube.patch(
            API_VERSION,
            INSTANCE_KIND,
            meta["namespace"],
            meta["name"],
            {"metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}},
        )
        self.caches.instances.upsert(updated)

    async def _finalize(self, inst: dict[str, Any]) -> None:
        """A deleted instance: pods and other resources go through ownerReferences; with the purge
        annotation, its retained PVCs are deleted here before the finalizer is released."""
        meta = inst["metadata"]
        if PURGE_FINALIZER not in (meta.get("finalizers") or ()):
            return
        ns = meta["namespace"]
        names = set(self._pvc_names(inst))
        for name in sorted(names):
            try:
                await self.kube.delete("v1", "PersistentVolumeClaim", ns, name)
            except KubeError as exc:
                if exc.status != 404:
                    raise
        self.events.record(
            inst,
            "Normal",
            "Purged",
            f"deleted PVC{'s' if len(names) != 1 else ''} {', '.join(sorted(names)) or '(none)'}",
        )
        finalizers = [f for f in meta.get("finalizers") or () if f != PURGE_FINALIZER]
        ops = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")},
            {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
        ]
        try:
            await self.kube.patch(API_VERSION, INSTANCE_KIND, ns, meta["name"], ops, content_type=JSON_PATCH)
        except KubeError as exc:
            if exc.status != 404:
                raise

    def _pvc_names(self, inst: dict[str, Any]) -> Iterable[str]:
        for st in ((inst.get("status") or {}).get("pvcs") or {}).values():
            if st.get("resourceName") and st.get("state") != "Skipped":
                yield str(st["resourceName"])
        key = (inst["metadata"]["namespace"], inst["metadata"]["name"])
        mem = self._memory.get(key)
        if mem is not None and mem.plan is not None:
            for p in mem.plan.plan.pvcs:
                yield p.name
        # Retained claims of an earlier instance of this name (the spawner's delete_forever creates a
        # purge-only instance that is never rendered): found by their instance label, never owned.
        ns, name = key
        for pvc in self.caches.pvcs:
            pmeta = pvc.get("metadata", {})
            if (
                pmeta.get("namespace") == ns
                and (pmeta.get("labels") or {}).get(LABEL_INSTANCE) == label_value(name)
                and not pmeta.get("ownerReferences")
            ):
                yield str(pmeta["name"])


_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _is_object_name(name: str) -> bool:
    return len(name) <= 253 and _DNS_SUBDOMAIN.fullmatch(name) is not None


def _is_true(cond: Any) -> bool:
    return bool(cond) and cond.get("status") == "True"


def _owner_name(manifest: dict[str, Any]) -> str:
    for ref in manifest["metadata"].get("ownerReferences") or ():
        return str(ref.get("name"))
    return str((manifest["metadata"].get("labels") or {}).get("jupyternetes.kadense.io/instance", ""))


def pydantic_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def monotonic() -> float:
    return time.monotonic()
