"""``JupyternetesSpawner``: JupyterHub asks for a JupyterNotebookInstance; the operator does the rest.

A spawn, in order (each step is one API request; nothing polls the API):

1. the sensitive variables (the server's API token, secret-looking ``get_env()`` values) go into a Secret
   ``<instance>-hub-vars``;
2. the instance is created with ``variablesFrom`` pointing at that Secret and the plain variables in its
   spec;
3. the Secret is given an ownerReference to the instance (so Kubernetes deletes it with the instance),
   while
4. the spawner watches the instance until the operator reports ``Ready`` with an address (returns the
   URL), or ``Failed`` (gives up at once with the operator's message), or ``start_timeout`` passes; on
   failure or timeout it deletes the instance and the Secret.

Why the Secret comes first and is adopted afterwards (and not created after the instance with its owner
already set): the operator reads the Secret when it first renders the instance. Created first, it is
always there, so the first render succeeds. Created second, the operator's first reconcile often runs
before it exists, marks the instance Failed=True/SecretNotFound and retries after a backoff: slower, and a
false failure in the status and the Events. The cost of the order chosen is a window (between steps 1 and
3) in which a crashing hub would leave an ownerless Secret; its name is deterministic, so the next start of
that server replaces it, and ``stop()`` deletes it explicitly as well. Its token is revoked by the hub when
the server stops anyway.

The hub needs only: instances create/get/list/watch/patch/delete; secrets create/patch/delete (see
``fixtures/hub-rbac.yaml``). It reads no Secret, pod, PVC, template or Event: progress and ``poll()`` come
from the instance's status, which the operator keeps true.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from jupyterhub.spawner import Spawner
from pydantic import ValidationError
from traitlets import Bool, Callable, Dict, Float, List, Unicode, Union, default

from jupyternetes.adapters.kube import Kube, KubeError
from jupyternetes.core.models import API_VERSION, INSTANCE_KIND, TEMPLATE_KIND, parse_template
from jupyternetes.core.naming import instance_name
from jupyternetes.spawner import kubeapi, objects, profiles
from jupyternetes.spawner.status import Failure, failure, poll_status, progress_steps, ready_url

Obj = dict[str, Any]


class SpawnFailed(Exception):
    """A spawn the operator reported as failed (or that timed out). ``jupyterhub_message`` is what the
    hub shows on its error page and in the progress stream."""

    def __init__(self, message: str, reason: str = "Failed") -> None:
        super().__init__(message)
        self.reason = reason
        self.jupyterhub_message = message


class _Progress:
    """The events of one spawn, shared between ``start()`` (which appends) and any number of
    ``progress()`` readers (each reads from the beginning)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.keys: set[str] = set()
        self.done = False
        self._changed = asyncio.Event()
        self._percent = 0

    def add(self, key: str, percent: int, message: str, **extra: Any) -> None:
        if key in self.keys:
            return
        self.keys.add(key)
        self._percent = max(self._percent, min(percent, 100))
        self.events.append({"progress": self._percent, "message": message, **extra})
        self._changed.set()

    def finish(self) -> None:
        self.done = True
        self._changed.set()

    async def follow(self) -> AsyncIterator[dict[str, Any]]:
        i = 0
        while True:
            while i < len(self.events):
                yield self.events[i]
                i += 1
            if self.done:
                return
            self._changed.clear()
            await self._changed.wait()


class JupyternetesSpawner(Spawner):  # type: ignore[misc]
    """Spawns single-user servers as JupyterNotebookInstances rendered by the Jupyternetes operator."""

    template_name = Unicode(
        "default-template",
        help="The JupyterNotebookTemplate to render (a profile's `template` overrides it).",
    ).tag(config=True)

    template_namespace = Unicode(
        "",
        help="Namespace of the template; empty: the instance's namespace. The operator must allow it.",
    ).tag(config=True)

    namespace = Unicode(
        help="""Namespace of the instances (and their Secrets). `{username}` expands to a DNS-safe form of
        the user's name for a namespace per user (the namespaces, and the hub's Role in each, must exist).
        Default: $POD_NAMESPACE, else `default`.""",
    ).tag(config=True)

    @default("namespace")
    def _default_namespace(self) -> str:
        return os.environ.get("POD_NAMESPACE") or "default"

    hub_namespace = Unicode(
        help="The value of the variable `jupyterhub.namespace` (the hub's namespace). "
        "Default: $POD_NAMESPACE, else the instances' namespace (before `{username}` expansion).",
    ).tag(config=True)

    @default("hub_namespace")
    def _default_hub_namespace(self) -> str:
        return os.environ.get("POD_NAMESPACE") or self.namespace.replace("{username}", "default")

    profile_list = Union(
        [List(Dict()), Callable()],
        default_value=[],
        help="""Profiles the user chooses from (a list of dicts, or a callable taking the spawner and
        returning one, possibly async): `display_name` (required), `slug`, `description`, `default`,
        `template`, `template_namespace`, `variables`, `profile_options`. See
        jupyternetes.spawner.profiles.""",
    ).tag(config=True)

    profile_options_from_template = Bool(
        False,
        help="""Offer each `enum` variable a profile's template declares (`spec.variables`) as an option of
        the profile on the spawn page: its allowed values are the choices, its default is preselected (an
        option or a variable the profile sets itself wins). Without `profile_list`, one profile "Default"
        of `template_name` carries them. The hub then reads the templates (`get` on
        jupyternotebooktemplates in their namespaces).""",
    ).tag(config=True)

    extra_variables = Dict(
        value_trait=Unicode(),
        help="Variables added to every instance (profile variables override them).",
    ).tag(config=True)

    secret_variables = List(
        Unicode(),
        help="Names of variables (from `extra_variables` or a profile) to keep in the Secret rather than in "
        "the instance's spec. The API token and get_env() values whose names look secret always are.",
    ).tag(config=True)

    secret_env_pattern = Unicode(
        objects.DEFAULT_SECRET_ENV_PATTERN,
        help="Regular expression: get_env() names that match go into the Secret.",
    ).tag(config=True)

    extra_labels = Dict(value_trait=Unicode(), help="Labels added to the instance.").tag(config=True)
    extra_annotations = Dict(value_trait=Unicode(), help="Annotations added to the instance.").tag(
        config=True
    )

    kubeconfig = Unicode(
        None,
        allow_none=True,
        help="Kubeconfig file to use; default: $KUBECONFIG, ~/.kube/config, else the pod's ServiceAccount.",
    ).tag(config=True)

    stop_timeout = Float(60.0, help="Seconds stop() waits for the instance and its pods to be deleted.").tag(
        config=True
    )

    wait_for_http = Bool(
        True,
        help="""After the instance is Ready, wait (checking every 50 ms) until the server answers HTTP
        before returning from start(), so the hub's own, slower check finds it up at once.""",
    ).tag(config=True)

    delete_stopped_instances = Bool(
        True,
        help="""When poll() finds that a server ended by itself (its pod failed, completed, crash-loops or was
        deleted, or it outlived its template's maxLifetime), delete its instance and Secret, as stop() would:
        JupyterHub calls stop() only for a server poll() says still runs. The volumes stay, as on any stop.
        False keeps them (with the failed pod, if any) to see why the server ended, until the user's next
        start replaces them. kubespawner's `delete_stopped_pods`.""",
    ).tag(config=True)

    instance_name_prefix = Unicode("jupyter", help="Prefix of instance names.").tag(config=True)

    @default("ip")
    def _default_ip(self) -> str:
        return "0.0.0.0"

    @default("port")
    def _default_port(self) -> int:
        return 8888

    @default("options_form")
    def _default_options_form(self) -> Any:
        return self._render_options_form

    @default("options_from_form")
    def _default_options_from_form(self) -> Any:
        return profiles.options_from_form

    # --------------------------------------------------------------------- state

    _instance: str = ""
    _instance_namespace: str = ""
    _progress: _Progress | None = None
    _starting: bool = False
    # The exit status poll() reported when it deleted an ended server's instance: JupyterHub polls again
    # (and logs that answer) once it learns the server stopped, when the instance may be gone.
    _ended_status: int | None = None

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._instance = state.get("instance_name", "") or ""
        self._instance_namespace = state.get("instance_namespace", "") or ""

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        if self._instance:
            state["instance_name"] = self._instance
            state["instance_namespace"] = self._instance_namespace
        return state

    def clear_state(self) -> None:
        super().clear_state()
        self._instance = ""
        self._instance_namespace = ""
        self._ended_status = None

    # --------------------------------------------------------------------- helpers

    def _instance_key(self) -> tuple[str, str]:
        """(namespace, name) of this server's instance (from state, else computed)."""
        if self._instance and self._instance_namespace:
            return self._instance_namespace, self._instance
        name = instance_name(self.user.name, self.name or "", prefix=self.instance_name_prefix)
        return self._expand_namespace(), name

    def _expand_namespace(self) -> str:
        return self.namespace.replace("{username}", objects.dns_slug(self.user.name))

    async def _kube(self) -> Kube:
        return await kubeapi.shared_client(self.kubeconfig)

    async def _profiles(self) -> list[profiles.Profile]:
        raw = self.profile_list
        if callable(raw):
            raw = raw(self)
            if asyncio.iscoroutine(raw) or isinstance(raw, asyncio.Future):
                raw = await raw
        parsed = profiles.parse_profiles(raw or [])
        if not self.profile_options_from_template:
            return parsed
        implicit = not parsed
        if implicit:
            parsed = [profiles.Profile(display_name="Default", slug="default", default=True)]
        out = [await self._declared_options(p) for p in parsed]
        if implicit and not out[0].options:
            return []  # nothing to choose: no form, and no profile variable, as without the option
        return out

    async def _declared_options(self, profile: profiles.Profile) -> profiles.Profile:
        name = profile.template or self.template_name
        ns = profile.template_namespace or self.template_namespace or self._expand_namespace()
        kube = await self._kube()
        try:
            template = parse_template(await kube.get(API_VERSION, TEMPLATE_KIND, ns, name))
        except KubeError as exc:
            # The spawn itself reports a missing template (the operator or its webhook): the form just
            # has no options from it.
            self.log.warning(
                "profile %s: cannot read template %s/%s for its options: %s", profile.slug, ns, name, exc
            )
            return profile
        except ValidationError as exc:
            self.log.warning("profile %s: template %s/%s is invalid: %s", profile.slug, ns, name, exc)
            return profile
        return profiles.with_declared_options(profile, template.spec.variables)

    async def _render_options_form(self, spawner: Any = None) -> str:
        last = self.user_options or {}
        chosen = last.get("profile")
        return profiles.options_form(
            await self._profiles(), chosen if isinstance(chosen, str) else None, last
        )

    async def _spawn_request(self) -> objects.SpawnRequest:
        try:
            selection = profiles.select(await self._profiles(), self.user_options)
        except profiles.ProfileError as exc:
            raise SpawnFailed(str(exc), "InvalidProfile") from None
        profile = selection.profile
        namespace, name = (
            self._expand_namespace(),
            instance_name(self.user.name, self.name or "", prefix=self.instance_name_prefix),
        )
        variables = dict(self.extra_variables)
        variables.update(selection.variables())
        template = (profile.template if profile and profile.template else None) or self.template_name
        tns = (
            (profile.template_namespace if profile and profile.template_namespace else None)
            or self.template_namespace
            or namespace
        )
        return objects.SpawnRequest(
            instance=name,
            namespace=namespace,
            template=template,
            template_namespace=tns,
            username=self.user.name,
            user_id=int(self.user.id),
            server_name=self.name or "",
            hub_namespace=self.hub_namespace,
            oauth_client_id=self.oauth_client_id or "",
            api_token=self.api_token or "",
            env=self.get_env(),
            profile=profile.slug if profile else "",
            profile_options=selection.summary(),
            extra_variables=variables,
            secret_env_pattern=self.secret_env_pattern,
            secret_variable_names=tuple(self.secret_variables),
            labels=dict(self.extra_labels),
            annotations=dict(self.extra_annotations),
        )

    # --------------------------------------------------------------------- start

    async def start(self) -> str:
        self._progress = progress = _Progress()
        self._starting = True
        self._ended_status = None
        created: list[tuple[str, str, str]] = []  # (kind, namespace, name) to delete on failure
        try:
            req = await self._spawn_request()
            try:
                plain, secret = objects.split_variables(req)
            except ValueError as exc:
                raise SpawnFailed(str(exc), "InvalidVariables") from None
            self._instance, self._instance_namespace = req.instance, req.namespace
            progress.add(
                "request",
                5,
                f"Requesting JupyterNotebookInstance {req.namespace}/{req.instance} "
                f"(template {req.template_namespace}/{req.template})",
            )
            kube = await self._kube()
            await self._create_secret(kube, req, secret)
            created.append(("Secret", req.namespace, objects.secret_name(req.instance)))
            inst = await self._create_instance(kube, req, plain)
            created.append((INSTANCE_KIND, req.namespace, req.instance))
            progress.add(
                "created",
                10,
                f"JupyterNotebookInstance {req.namespace}/{req.instance} created; waiting for the operator",
            )
            adopt = asyncio.ensure_future(self._adopt_secret(kube, req, inst))
            try:
                url = await asyncio.wait_for(self._wait_ready(kube, inst, progress), self.start_timeout)
            except TimeoutError:
                raise SpawnFailed(
                    f"the server was not ready within start_timeout ({self.start_timeout:g} s)", "Timeout"
                ) from None
            finally:
                with contextlib.suppress(Exception):
                    await adopt
            if self.wait_for_http:
                await self._wait_http(url)
            progress.add("answered", 100, f"Server answering at {url}")
            return url
        except BaseException as exc:
            if isinstance(exc, SpawnFailed):
                progress.add("failed", 100, f"Spawn failed: {exc.jupyterhub_message}", failed=True)
                self.log.warning("spawn of %s failed: %s", self._log_name, exc)
            await asyncio.shield(self._cleanup(created))
            raise
        finally:
            self._starting = False
            progress.finish()

    async def _create_secret(self, kube: Kube, req: objects.SpawnRequest, data: dict[str, str]) -> None:
        manifest = objects.secret_manifest(req, data)
        try:
            await kube.create(manifest, field_manager="jupyterhub")
        except KubeError as exc:
            if exc.reason != "AlreadyExists":
                raise self._api_failure("create the Secret", exc) from None
            # Left by an earlier start that did not finish (a hub crash): replace it. (Patching could
            # leave stale keys: without `get` the hub cannot know which keys it has.)
            await self._delete(kube, "v1", "Secret", req.namespace, manifest["metadata"]["name"])
            try:
                await kube.create(manifest, field_manager="jupyterhub")
            except KubeError as exc2:
                raise self._api_failure("create the Secret", exc2) from None

    async def _create_instance(self, kube: Kube, req: objects.SpawnRequest, variables: dict[str, str]) -> Obj:
        manifest = objects.instance_manifest(req, variables)
        for attempt in range(2):
            try:
                return await kube.create(manifest, field_manager="jupyterhub")
            except KubeError as exc:
                if exc.reason != "AlreadyExists" or attempt:
                    raise self._api_failure("create the JupyterNotebookInstance", exc) from None
            # An instance of this name exists: a server the hub no longer tracks (its token is revoked) or
            # one still being deleted. Delete it, wait until it is gone, and create ours.
            assert self._progress is not None
            self._progress.add("replace", 7, f"Deleting the earlier instance {req.namespace}/{req.instance}")
            await self._delete_and_wait(kube, req.namespace, req.instance, self.stop_timeout)
        raise AssertionError("unreachable")

    async def _adopt_secret(self, kube: Kube, req: objects.SpawnRequest, inst: Obj) -> None:
        try:
            await kube.patch(
                "v1",
                "Secret",
                req.namespace,
                objects.secret_name(req.instance),
                objects.owner_patch(inst),
                field_manager="jupyterhub",
            )
        except KubeError as exc:
            self.log.warning(
                "could not set the owner of Secret %s/%s: %s",
                req.namespace,
                objects.secret_name(req.instance),
                exc,
            )

    async def _wait_ready(self, kube: Kube, inst: Obj, progress: _Progress) -> str:
        """Follow the instance's watch until it is Ready (its URL) or has failed (raises). A broken stream
        (API server restart, network) is resumed: from a fresh read of the instance after a short pause."""
        meta = inst["metadata"]
        ns, name, uid = meta["namespace"], meta["name"], meta.get("uid")
        current: Obj = inst
        resume_from: str | None = meta.get("resourceVersion")
        while True:
            try:
                async with contextlib.aclosing(kubeapi.watch_instance(kube, ns, name, resume_from)) as events:
                    while True:
                        url = self._check(current, progress)
                        if url:
                            return url
                        try:
                            etype, obj = await anext(events)
                        except StopAsyncIteration:
                            raise SpawnFailed(f"the watch of {ns}/{name} ended", "WatchEnded") from None
                        if etype == "DELETED" or (obj.get("metadata") or {}).get("uid") not in (None, uid):
                            raise SpawnFailed(
                                f"JupyterNotebookInstance {ns}/{name} was deleted while starting",
                                "InstanceDeleted",
                            )
                        current = obj
            except KubeError as exc:
                if not exc.retriable:
                    raise self._api_failure(f"watch JupyterNotebookInstance {ns}/{name}", exc) from None
                self.log.info("watch of %s/%s broke (%s); resuming", ns, name, exc)
                await asyncio.sleep(0.2)
                resume_from = None  # re-read the object first: events may have been missed

    def _check(self, inst: Obj, progress: _Progress) -> str | None:
        for step in progress_steps(inst):
            if not step.key.startswith("failed/"):
                progress.add(step.key, step.progress, step.message)
        fail: Failure | None = failure(inst)
        if fail is not None:
            raise SpawnFailed(f"{fail.reason}: {fail.message}", fail.reason)
        return ready_url(inst)

    async def _wait_http(self, url: str) -> None:
        """Until the server answers (any non-5xx answer at its API URL), or start_timeout."""
        target = url.rstrip("/") + (self.server.base_url if self.server else "/") + "api"
        deadline = time.monotonic() + max(self.http_timeout, 1)
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while time.monotonic() < deadline:
                try:
                    async with session.get(target, allow_redirects=False) as resp:
                        if resp.status < 500:
                            return
                except (aiohttp.ClientError, TimeoutError, OSError):
                    pass
                await asyncio.sleep(0.05)
        # Not fatal here: the hub checks again itself (http_timeout) and reports it.

    @staticmethod
    def _api_failure(what: str, exc: KubeError) -> SpawnFailed:
        # The operator's admission webhook refused the instance (its template's declared variables, a
        # missing template, objects that would not be valid): its message is for the user, as it is.
        denied = re.search(r'admission webhook "[^"]*" denied the request: (.*)', exc.message, re.S)
        if denied:
            return SpawnFailed(f"the server's settings were refused: {denied.group(1)}", "AdmissionDenied")
        # The ResourceQuota admission plugin answers 403 too; its message starts "... exceeded quota: ".
        if exc.status == 403 and "exceeded quota" in exc.message:
            return SpawnFailed(
                f"no room for another server: an administrator's ResourceQuota is used up ({exc.message})",
                "QuotaExceeded",
            )
        # Until the quota controller has counted a quota once, quota admission refuses every create it
        # covers: "status unknown for quota: <name>, resources: ...". Not a missing right: usually gone in
        # moments, but a quota created with the CRDs (a first `helm install` with hub.maxInstances) stays
        # uncounted until the controller's resync (`--resource-quota-sync-period`, 5 minutes by default).
        if exc.status == 403 and "status unknown for quota" in exc.message:
            return SpawnFailed(
                "the cluster has not yet counted the servers an administrator's ResourceQuota limits; "
                f"try again in a few minutes ({exc.message})",
                "QuotaNotCounted",
            )
        if exc.status == 403:
            return SpawnFailed(f"the hub may not {what}: {exc.message}", "Forbidden")
        return SpawnFailed(f"could not {what}: {exc.message}", exc.reason or "ApiError")

    async def _cleanup(self, created: list[tuple[str, str, str]]) -> None:
        """Delete what a failed start created (the instance first: its children go with it)."""
        try:
            kube = await self._kube()
            for kind, ns, name in reversed(created):
                if kind == INSTANCE_KIND:
                    await self._delete_and_wait(kube, ns, name, min(self.stop_timeout, 30.0))
                else:
                    await self._delete(kube, "v1", kind, ns, name)
        except Exception as exc:
            self.log.warning("cleanup after the failed start of %s: %s", self._log_name, exc)

    # --------------------------------------------------------------------- progress

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        tracker = self._progress
        if tracker is None:
            return
        async for event in tracker.follow():
            yield event

    # --------------------------------------------------------------------- poll

    async def poll(self) -> int | None:
        if self._starting:
            return None
        if not self._instance:
            return 0
        kube = await self._kube()
        try:
            inst = await kubeapi.get_instance(kube, self._instance_namespace, self._instance)
        except KubeError as exc:
            self.log.warning("poll of %s: %s; assuming it still runs", self._log_name, exc)
            return None
        result = poll_status(inst)
        if result is None:
            return None
        if inst is None or inst.get("metadata", {}).get("deletionTimestamp"):
            return self._ended_status if self._ended_status is not None else result
        if self.delete_stopped_instances:
            await self._delete_ended(kube, inst, result)
        return result

    async def _delete_ended(self, kube: Kube, inst: Obj, status: int) -> None:
        """Delete the instance (its pods, if any are left, with it; its PVCs stay) and the Secret of a server
        that ended without stop(), and remember its exit status for the polls that follow."""
        ns, name = self._instance_namespace, self._instance
        why = failure(inst, frozenset()) or "it ended"
        self.log.info(
            "%s ended (exit status %s; %s): deleting instance %s/%s", self._log_name, status, why, ns, name
        )
        self._ended_status = status
        try:
            await self._delete(kube, "v1", "Secret", ns, objects.secret_name(name))
            await self._delete(kube, API_VERSION, INSTANCE_KIND, ns, name)
        except KubeError as exc:
            self.log.warning("deleting the ended instance %s/%s: %s", ns, name, exc)

    # --------------------------------------------------------------------- stop

    async def stop(self, now: bool = False) -> None:
        """Delete the instance with foreground propagation (the API server keeps it until its pods are
        gone) and its Secret; return once the instance, and so its pods, are gone. Safe to call twice.

        ``now`` changes nothing: the hub may not delete pods itself, so how fast a pod ends is the
        template's ``terminationGracePeriodSeconds`` (the single-user server exits at once on SIGTERM)."""
        ns, name = self._instance_key()
        kube = await self._kube()
        await self._delete(kube, "v1", "Secret", ns, objects.secret_name(name))
        await self._delete_and_wait(kube, ns, name, self.stop_timeout)

    async def _delete(
        self, kube: Kube, api_version: str, kind: str, ns: str, name: str, propagation: str = "Background"
    ) -> Obj | None:
        try:
            return await kube.delete(api_version, kind, ns, name, propagation=propagation)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def _delete_and_wait(self, kube: Kube, ns: str, name: str, wait: float) -> None:
        """Delete an instance with foreground propagation and wait until it is gone (so are its pods)."""
        result = await self._delete(kube, API_VERSION, INSTANCE_KIND, ns, name, propagation="Foreground")
        if result is None or result.get("kind") != INSTANCE_KIND:
            return  # already gone, or deleted at once (a Status answer)
        uid = result["metadata"].get("uid")

        async def gone() -> None:
            async with contextlib.aclosing(
                kubeapi.watch_instance(kube, ns, name, result["metadata"].get("resourceVersion"))
            ) as events:
                async for etype, obj in events:
                    if etype == "DELETED" or (obj.get("metadata") or {}).get("uid") != uid:
                        return

        try:
            await asyncio.wait_for(gone(), wait)
        except TimeoutError:
            self.log.warning(
                "JupyterNotebookInstance %s/%s still exists %g s after its deletion", ns, name, wait
            )

    # --------------------------------------------------------------------- delete forever

    async def delete_forever(self) -> None:
        """Purge the server's retained PVCs: an instance of the same name, annotated for purge and carrying
        the operator's purge finalizer, is created and deleted at once; the operator deletes the PVCs the
        template names for it, then releases the finalizer."""
        ns, name = self._instance_key()
        kube = await self._kube()
        try:
            req = await self._spawn_request()
        except SpawnFailed:
            no_options: dict[str, Any] = {}
            self.user_options = no_options
            req = await self._spawn_request()
        manifest = objects.instance_manifest(req, {}, purge=True)
        manifest["metadata"]["name"], manifest["metadata"]["namespace"] = name, ns
        try:
            await kube.create(manifest, field_manager="jupyterhub")
        except KubeError as exc:
            if exc.reason != "AlreadyExists":
                self.log.warning("delete_forever of %s: %s", self._log_name, exc)
                return
            await kube.patch(
                API_VERSION,
                INSTANCE_KIND,
                ns,
                name,
                {"metadata": {"annotations": manifest["metadata"]["annotations"]}},
                field_manager="jupyterhub",
            )
        await self._delete_and_wait(kube, ns, name, self.stop_timeout)
        self.clear_state()
