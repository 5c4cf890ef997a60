"""JupyternetesSpawner against kubesim, as the hub's ServiceAccount, with the test playing the operator."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest

from jupyternetes.adapters.kube import KubeError
from jupyternetes.spawner import JupyternetesSpawner, SpawnFailed
from tests.unit.spawner.conftest import NS, Env, failed_status, ready_status, until

NAME = "jupyter-alice"
SECRET = "jupyter-alice-hub-vars"


async def _collect(spawner: Any) -> list[dict[str, Any]]:
    return [e async for e in spawner.progress()]


async def test_start_writes_secret_then_instance_and_returns_the_address(env: Env) -> None:
    spawner = env.spawner()
    task = asyncio.ensure_future(spawner.start())
    inst = await until(lambda: env.instance(NAME), what="the instance")
    spec = inst["spec"]
    assert spec["template"] == {"name": "default-template", "namespace": "kadense"}
    assert spec["variablesFrom"] == [{"secretRef": {"name": SECRET}}]
    variables = spec["variables"]
    assert variables["jupyterhub.user.name"] == "alice"
    assert variables["jupyterhub.user.id"] == "1"
    assert variables["jupyterhub.oauth_client_id"] == "jupyterhub-user-alice"
    assert variables["jupyterhub.namespace"] == NS
    assert variables["jupyternetes.instance.name"] == NAME
    assert variables["jupyternetes.instance.namespace"] == NS
    assert variables["jupyterhub.server.name"] == ""
    assert variables["jupyterhub.env.JUPYTERHUB_USER"] == "alice"
    assert variables["jupyterhub.env.JUPYTERHUB_CLIENT_ID"] == "jupyterhub-user-alice"
    # No secret in the spec: the token lives in the Secret only.
    assert "secret-token-of-alice" not in str(inst)
    assert not any("TOKEN" in k.upper() for k in variables)
    secret = await env.secret(SECRET)
    assert secret is not None
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["jupyterhub.api_token"] == "secret-token-of-alice"
    assert data["jupyterhub.env.JUPYTERHUB_API_TOKEN"] == "secret-token-of-alice"
    # The Secret is adopted by the instance (garbage-collected with it).
    secret = await until(lambda: _owned_secret(env, inst["metadata"]["uid"]), what="the Secret's owner")
    assert inst["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "jupyterhub"
    assert not task.done()
    await env.set_status(NAME, ready_status(NAME))
    url = await asyncio.wait_for(task, 5)
    assert url == "http://10.244.0.5:8888"
    assert spawner.get_state() == {"instance_name": NAME, "instance_namespace": NS}
    events = await _collect(spawner)
    percents = [e["progress"] for e in events]
    assert percents == sorted(percents)
    assert percents[-1] == 100
    messages = " | ".join(e["message"] for e in events)
    assert "created" in messages
    assert "ready" in messages.lower()
    assert await spawner.poll() is None


async def _owned_secret(env: Env, uid: str) -> dict[str, Any] | None:
    secret = await env.secret(SECRET)
    refs = (secret or {}).get("metadata", {}).get("ownerReferences") or []
    return secret if any(r["uid"] == uid for r in refs) else None


async def test_progress_follows_the_status(env: Env) -> None:
    spawner = env.spawner()
    task = asyncio.ensure_future(spawner.start())
    await until(lambda: env.instance(NAME), what="the instance")
    seen: list[dict[str, Any]] = []

    async def follow() -> None:
        async for event in spawner.progress():
            seen.append(event)

    follower = asyncio.ensure_future(follow())
    pending = ready_status(NAME)
    pending["pods"]["notebook"].update(state="Pending", ready=False, podAddress=None)
    pending["pvcs"]["workspace"]["phase"] = "Pending"
    pending["address"] = None
    pending["conditions"][2] = {"type": "Ready", "status": "False", "reason": "PodsNotReady", "message": "x"}
    await env.set_status(NAME, pending)
    await until(lambda: _has(seen, "PVC jupyter-alice-workspace created"), what="PVC created event")
    assert not _has_sync(seen, "bound")
    await env.set_status(NAME, ready_status(NAME))
    await asyncio.wait_for(task, 5)
    await asyncio.wait_for(follower, 5)
    texts = [e["message"] for e in seen]
    for fragment in (
        "rendered",
        "PVC jupyter-alice-workspace bound",
        "Pod jupyter-alice-notebook created",
        "scheduled, address 10.244.0.5",
        "running",
        "Pod jupyter-alice-notebook ready",
    ):
        assert any(fragment in t for t in texts), (fragment, texts)


async def _has(events: list[dict[str, Any]], fragment: str) -> bool:
    return _has_sync(events, fragment)


def _has_sync(events: list[dict[str, Any]], fragment: str) -> bool:
    return any(fragment in e["message"] for e in events)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("ImagePullFailed", "pod jupyter-alice-notebook: ErrImagePull: image doesnotexist:1 not found"),
        ("TemplateNotFound", 'JupyterNotebookTemplate "default-template" not found in namespace "kadense"'),
        ("RenderFailed", 'undefined variable "x" in pods[notebook].spec.containers[0].image'),
        ("PodFailed", "pod jupyter-alice-notebook failed: container notebook exited with code 3"),
    ],
)
async def test_failure_is_fast_and_cleans_up(env: Env, reason: str, message: str) -> None:
    spawner = env.spawner(start_timeout=60)
    task = asyncio.ensure_future(spawner.start())
    await until(lambda: env.instance(NAME), what="the instance")
    started = time.monotonic()
    await env.set_status(NAME, failed_status(reason, message))
    with pytest.raises(SpawnFailed) as info:
        await asyncio.wait_for(task, 10)
    assert time.monotonic() - started < 5
    assert info.value.reason == reason
    assert message in info.value.jupyterhub_message
    assert await env.instance(NAME) is None
    assert await env.secret(SECRET) is None
    events = await _collect(spawner)
    assert events[-1]["failed"] is True
    assert message in events[-1]["message"]


async def test_secret_not_found_is_transient(env: Env) -> None:
    spawner = env.spawner()
    task = asyncio.ensure_future(spawner.start())
    await until(lambda: env.instance(NAME), what="the instance")
    await env.set_status(NAME, failed_status("SecretNotFound", "Secret not found (yet)"))
    await asyncio.sleep(0.2)  # give a wrong implementation the chance to give up; not a wait for a condition
    assert not task.done()
    await env.set_status(NAME, ready_status(NAME))
    assert await asyncio.wait_for(task, 5) == "http://10.244.0.5:8888"


async def test_timeout_deletes_what_it_created(env: Env) -> None:
    spawner = env.spawner(start_timeout=1)
    with pytest.raises(SpawnFailed, match="start_timeout"):
        await spawner.start()
    assert await env.instance(NAME) is None
    assert await env.secret(SECRET) is None


async def test_cancelled_start_cleans_up(env: Env) -> None:
    spawner = env.spawner()
    task = asyncio.ensure_future(spawner.start())
    await until(lambda: env.instance(NAME), what="the instance")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: _gone(env), what="instance and Secret deleted")


async def _gone(env: Env) -> bool:
    return await env.instance(NAME) is None and await env.secret(SECRET) is None


async def test_poll_stop_and_state_after_a_hub_restart(env: Env) -> None:
    spawner = env.spawner()
    assert await spawner.poll() == 0  # never started
    task = asyncio.ensure_future(spawner.start())
    await until(lambda: env.instance(NAME), what="the instance")
    assert await spawner.poll() is None  # starting
    await env.set_status(NAME, ready_status(NAME))
    await task
    state = spawner.get_state()

    # A new hub process: a fresh spawner object with the saved state (that keeps ended servers' instances,
    # so that this one can be seen failing and then running again).
    again = env.spawner(delete_stopped_instances=False)
    again.load_state(state)
    assert await again.poll() is None
    await env.set_status(NAME, _pod_failed_with_code_7())
    assert await again.poll() == 7
    assert await env.instance(NAME) is not None, "kept to see why it ended"
    await env.set_status(NAME, ready_status(NAME))
    assert await again.poll() is None
    await again.stop()
    assert await env.instance(NAME) is None
    assert await env.secret(SECRET) is None
    await again.stop()  # safe twice
    assert await again.poll() == 0
    again.clear_state()
    assert again.get_state() == {}


def _pod_failed_with_code_7() -> dict[str, Any]:
    failed = ready_status(NAME)
    failed["conditions"][0] = {
        "type": "Failed",
        "status": "True",
        "reason": "PodFailed",
        "message": "pod x failed: container notebook exited with code 7",
    }
    return failed


async def test_poll_deletes_the_instance_of_a_server_that_ended_by_itself(env: Env) -> None:
    """JupyterHub calls stop() only for a server poll() says still runs: poll() deletes the instance and
    its Secret of a server whose pod failed, and keeps reporting its exit status once they are gone."""
    spawner = env.spawner()
    task = asyncio.ensure_future(spawner.start())
    await until(lambda: env.instance(NAME), what="the instance")
    await env.set_status(NAME, ready_status(NAME))
    await task
    await env.set_status(NAME, _pod_failed_with_code_7())
    assert await spawner.poll() == 7
    await until(lambda: _gone(env), what="the failed server's instance and Secret deleted")
    assert await spawner.poll() == 7  # JupyterHub's second poll, whose answer it logs
    spawner.clear_state()
    assert await spawner.poll() == 0


async def test_poll_reports_an_expired_server_stopped_and_deletes_its_instance(env: Env) -> None:
    """The operator stopped it at its template's maxLifetime. JupyterHub calls stop() only for a server
    poll() says still runs: poll() deletes the instance and its Secret itself."""
    spawner = env.spawner()
    task = asyncio.ensure_future(spawner.start())
    await until(lambda: env.instance(NAME), what="the instance")
    await env.set_status(NAME, ready_status(NAME))
    await task
    expired = ready_status(NAME)
    message = "stopped: the server ran longer than the maxLifetime 12h of template kadense/default-template"
    expired["conditions"] = [
        {"type": "Failed", "status": "False", "reason": "NoFailure", "message": "no failure"},
        {"type": "Ready", "status": "False", "reason": "Expired", "message": message},
        {"type": "Expired", "status": "True", "reason": "MaxLifetime", "message": message},
    ]
    await env.set_status(NAME, expired)
    assert await spawner.poll() == 0
    await until(lambda: _gone(env), what="the expired instance deleted")
    assert await env.secret(SECRET) is None


async def test_stop_waits_for_dependents(env: Env) -> None:
    spawner = env.spawner()
    task = asyncio.ensure_future(spawner.start())
    inst = await until(lambda: env.instance(NAME), what="the instance")
    await env.set_status(NAME, ready_status(NAME))
    await task
    # A child that holds the foreground deletion until it is gone (a pod in a real cluster).
    await env.admin.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "child",
                "namespace": NS,
                "finalizers": ["test/hold"],
                "ownerReferences": [
                    {
                        "apiVersion": "kadense.io/v1",
                        "kind": "JupyterNotebookInstance",
                        "name": NAME,
                        "uid": inst["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
        }
    )
    stop = asyncio.ensure_future(spawner.stop())
    await until(lambda: _deleting(env), what="the child being deleted")
    assert not stop.done()
    await env.admin.patch("v1", "ConfigMap", NS, "child", {"metadata": {"finalizers": None}})
    await asyncio.wait_for(stop, 10)
    assert await env.instance(NAME) is None


async def _deleting(env: Env) -> bool:
    cm = await env.get("v1", "ConfigMap", "child")
    return bool(cm and cm["metadata"].get("deletionTimestamp"))


async def test_named_servers_get_their_own_instances(env: Env) -> None:
    default, named = env.spawner(), env.spawner(servername="gpu-box")
    tasks = [asyncio.ensure_future(s.start()) for s in (default, named)]
    await until(lambda: env.instance("jupyter-alice--gpu-box"), what="the named instance")
    inst = await until(lambda: env.instance(NAME), what="the default instance")
    assert inst["spec"]["variables"]["jupyterhub.server.name"] == ""
    named_inst = await env.instance("jupyter-alice--gpu-box")
    assert named_inst is not None
    assert named_inst["spec"]["variables"]["jupyterhub.server.name"] == "gpu-box"
    assert named_inst["spec"]["variablesFrom"] == [{"secretRef": {"name": "jupyter-alice--gpu-box-hub-vars"}}]
    await env.set_status(NAME, ready_status(NAME, ip="10.244.0.6"))
    await env.set_status("jupyter-alice--gpu-box", ready_status("jupyter-alice--gpu-box", ip="10.244.0.7"))
    assert await asyncio.gather(*tasks) == ["http://10.244.0.6:8888", "http://10.244.0.7:8888"]


async def test_a_leftover_instance_is_replaced(env: Env) -> None:
    old = env.spawner()
    task = asyncio.ensure_future(old.start())
    before = await until(lambda: env.instance(NAME), what="the instance")
    await env.set_status(NAME, ready_status(NAME))
    await task
    # The hub forgot the server (its database was lost): a new start must not reuse the old instance.
    new = env.spawner()
    task = asyncio.ensure_future(new.start())
    after = await until(lambda: _replaced(env, before["metadata"]["uid"]), what="a new instance")
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    await env.set_status(NAME, ready_status(NAME))
    assert await asyncio.wait_for(task, 5) == "http://10.244.0.5:8888"


async def _replaced(env: Env, uid: str) -> dict[str, Any] | None:
    inst = await env.instance(NAME)
    return inst if inst and inst["metadata"]["uid"] != uid else None


async def test_profiles_choose_template_and_variables(env: Env) -> None:
    profile_list = [
        {"display_name": "Small", "slug": "small", "description": "1 CPU", "variables": {"cpu": "1"}},
        {
            "display_name": "Data science",
            "default": True,
            "template": "datascience",
            "template_namespace": "kadense",
            "variables": {"cpu": "4"},
        },
    ]
    spawner = env.spawner(profile_list=profile_list, extra_variables={"cpu": "0.5", "site": "lab"})
    form = await spawner.get_options_form()
    assert 'value="small"' in form
    assert 'value="data-science" checked' in form
    assert spawner.run_options_from_form({"profile": ["small"]}) == {"profile": "small"}
    spawner.user_options = {"profile": "small"}
    task = asyncio.ensure_future(spawner.start())
    inst = await until(lambda: env.instance(NAME), what="the instance")
    assert inst["spec"]["template"] == {"name": "default-template", "namespace": "kadense"}
    assert inst["spec"]["variables"]["cpu"] == "1"
    assert inst["spec"]["variables"]["site"] == "lab"
    assert inst["spec"]["variables"]["jupyterhub.profile"] == "small"
    await env.set_status(NAME, ready_status(NAME))
    await task
    await spawner.stop()

    spawner.user_options = {}
    task = asyncio.ensure_future(spawner.start())
    inst = await until(lambda: env.instance(NAME), what="the instance")
    assert inst["spec"]["template"] == {"name": "datascience", "namespace": "kadense"}
    assert inst["spec"]["variables"]["cpu"] == "4"
    await env.set_status(NAME, ready_status(NAME))
    await task

    spawner.user_options = {"profile": "huge"}
    with pytest.raises(SpawnFailed, match="no profile 'huge'"):
        await spawner.start()


async def test_profile_options_become_variables(env: Env) -> None:
    profile_list = [
        {"display_name": "Small", "slug": "small"},
        {
            "display_name": "Sized",
            "slug": "sized",
            "variables": {"cpu": "1"},
            "profile_options": {
                "size": {"choices": {"s": {"variables": {"cpu": "1"}}, "l": {"variables": {"cpu": "2"}}}}
            },
        },
    ]
    spawner = env.spawner(profile_list=profile_list)
    assert 'name="profile-option-sized--size"' in await spawner.get_options_form()
    spawner.user_options = spawner.run_options_from_form(
        {"profile": ["sized"], "profile-option-sized--size": ["l"]}
    )
    assert spawner.user_options == {"profile": "sized", "size": "l"}
    task = asyncio.ensure_future(spawner.start())
    inst = await until(lambda: env.instance(NAME), what="the instance")
    variables = inst["spec"]["variables"]
    assert (variables["cpu"], variables["jupyterhub.profile"], variables["jupyterhub.profile.options"]) == (
        "2",
        "sized",
        "size=l",
    )
    await env.set_status(NAME, ready_status(NAME))
    await task
    # The form offers the last choices again.
    assert '<option value="l" selected>' in await spawner.get_options_form()
    await spawner.stop()


async def test_namespace_per_user(env: Env) -> None:
    from tests.unit.spawner.conftest import apply_hub_rbac

    await env.admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "user-bob"}})
    await apply_hub_rbac(env.admin, "user-bob")
    spawner = env.spawner(username="bob", namespace="user-{username}", hub_namespace=NS)
    task = asyncio.ensure_future(spawner.start())
    inst = await until(lambda: env.instance("jupyter-bob", ns="user-bob"), what="the instance in user-bob")
    assert inst["spec"]["variables"]["jupyternetes.instance.namespace"] == "user-bob"
    assert inst["spec"]["variables"]["jupyterhub.namespace"] == NS
    await env.set_status("jupyter-bob", ready_status("jupyter-bob"), ns="user-bob")
    await task
    assert spawner.get_state() == {"instance_name": "jupyter-bob", "instance_namespace": "user-bob"}
    await spawner.stop()
    assert await env.instance("jupyter-bob", ns="user-bob") is None


async def test_forbidden_namespace_fails_with_a_clear_message(env: Env) -> None:
    spawner = env.spawner(namespace="kadense")
    with pytest.raises(SpawnFailed, match="the hub may not create the Secret"):
        await spawner.start()


async def test_delete_forever_requests_a_purge(env: Env) -> None:
    spawner = env.spawner(stop_timeout=10)
    forever = asyncio.ensure_future(spawner.delete_forever())
    inst = await until(lambda: _deleting_instance(env), what="the purge instance being deleted")
    assert inst["metadata"]["annotations"]["jupyternetes.kadense.io/purge"] == "true"
    assert "jupyternetes.kadense.io/purge" in inst["metadata"]["finalizers"]
    assert "variablesFrom" not in inst["spec"]
    # The operator would delete the retained PVCs now, then release its finalizer.
    await env.admin.patch(
        "kadense.io/v1", "JupyterNotebookInstance", NS, NAME, {"metadata": {"finalizers": None}}
    )
    await asyncio.wait_for(forever, 10)
    assert await env.instance(NAME) is None


async def _deleting_instance(env: Env) -> dict[str, Any] | None:
    inst = await env.instance(NAME)
    return inst if inst and inst["metadata"].get("deletionTimestamp") else None


@pytest.mark.parametrize(
    "faults",
    [
        {"watchCuts": [{"afterEvents": 1, "resource": "jupyternotebookinstances"}]},
        {
            "expire": [{"resource": "jupyternotebookinstances", "count": 1}],
            "watchCuts": [{"afterEvents": 1, "resource": "jupyternotebookinstances"}],
        },
        {"errors": [{"code": 500, "verb": "watch", "resource": "jupyternotebookinstances", "count": 2}]},
    ],
    ids=["cut-streams", "410-expired", "500-on-watch"],
)
async def test_start_survives_a_broken_watch(env: Env, faults: dict[str, Any]) -> None:
    env.cluster.faults.configure(faults)
    spawner = env.spawner()
    task = asyncio.ensure_future(spawner.start())
    await until(lambda: env.instance(NAME), what="the instance")
    pending = failed_status("SecretNotFound", "not yet")
    await env.set_status(NAME, pending)
    await env.set_status(NAME, {**pending, "podsProvisioned": "Completed"})
    await env.set_status(NAME, ready_status(NAME))
    assert await asyncio.wait_for(task, 10) == "http://10.244.0.5:8888"


async def test_a_used_up_instance_quota_fails_with_a_clear_message_and_leaves_nothing(env: Env) -> None:
    """The chart's hub.maxInstances: a ResourceQuota on count/jupyternotebookinstances.kadense.io."""
    await env.admin.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "hub-instances", "namespace": NS},
            "spec": {"hard": {"count/jupyternotebookinstances.kadense.io": "1"}},
        }
    )
    first = env.spawner(username="ada")
    task = asyncio.ensure_future(first.start())
    await until(lambda: env.instance("jupyter-ada"), what="ada's instance")
    await env.set_status("jupyter-ada", ready_status("jupyter-ada"))
    await task
    second = env.spawner(username="bob")
    with pytest.raises(SpawnFailed, match="an administrator's ResourceQuota is used up") as info:
        await second.start()
    assert "exceeded quota: hub-instances" in str(info.value)
    assert await env.instance("jupyter-bob") is None
    assert await env.secret("jupyter-bob-hub-vars") is None, "the Secret created first is removed again"


def test_an_uncounted_quota_is_not_reported_as_a_missing_right() -> None:
    """Upstream's quota admission refuses creates while the quota controller has not yet counted the quota
    (kubesim never does: docs/kubesim.md); the hub has the right, so the error must not say it lacks it."""
    message = (
        'jupyternotebookinstances.kadense.io "jupyter-ada" is forbidden: status unknown for quota: '
        "jn-jupyternetes-hub-instances, resources: count/jupyternotebookinstances.kadense.io"
    )
    failed = JupyternetesSpawner._api_failure(
        "create the JupyterNotebookInstance", KubeError(403, "Forbidden", message)
    )
    assert failed.reason == "QuotaNotCounted"
    assert "may not" not in str(failed)
    assert message in str(failed)


def test_an_admission_refusal_is_shown_to_the_user_as_it_is() -> None:
    """The operator's webhook names the variable and the rule: the user sees that, not "may not create"."""
    reason = (
        "JupyterNotebookInstance jupyterhub/jupyter-ada: InvalidVariables: template kadense/default refuses: "
        "variable \"size\": \"huge\" is not one of 'small', 'large'"
    )
    message = 'admission webhook "instances.jupyterhub.jupyternetes.kadense.io" denied the request: ' + reason
    failed = JupyternetesSpawner._api_failure(
        "create the JupyterNotebookInstance", KubeError(422, "Invalid", message)
    )
    assert failed.reason == "AdmissionDenied"
    assert failed.jupyterhub_message == f"the server's settings were refused: {reason}"


async def _grant_template_reading(env: Env) -> None:
    """What profile_options_from_template needs: the hub may read the templates (docs/spawner.md)."""
    rule = {"apiGroups": ["kadense.io"], "resources": ["jupyternotebooktemplates"], "verbs": ["get"]}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role"}
    await env.admin.create(
        {**role, "metadata": {"name": "read-templates", "namespace": "kadense"}, "rules": [rule]}
    )
    await env.admin.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "read-templates", "namespace": "kadense"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-templates"},
            "subjects": [{"kind": "ServiceAccount", "name": "jupyterhub", "namespace": NS}],
        }
    )


async def test_profile_options_from_the_templates_declared_enums(env: Env) -> None:
    await env.admin.create(
        {
            "apiVersion": "kadense.io/v1",
            "kind": "JupyterNotebookTemplate",
            "metadata": {"name": "default-template", "namespace": "kadense"},
            "spec": {
                "variables": [
                    {
                        "name": "size",
                        "type": "enum",
                        "enum": ["small", "large"],
                        "default": "small",
                        "description": "Server size",
                    },
                    {"name": "memory", "type": "quantity", "default": "1Gi"},
                ]
            },
        }
    )
    spawner = env.spawner(profile_options_from_template=True)
    # Without the right to read templates, the form has nothing from them (and says why in the log).
    assert await spawner.get_options_form() == ""
    await _grant_template_reading(env)
    form = await spawner.get_options_form()
    assert 'name="profile-option-default--size"' in form
    assert "Server size" in form
    assert '<option value="small" selected>' in form
    assert "memory" not in form  # only enum declarations become choices
    spawner.user_options = spawner.run_options_from_form(
        {"profile": ["default"], "profile-option-default--size": ["large"]}
    )
    task = asyncio.ensure_future(spawner.start())
    inst = await until(lambda: env.instance(NAME), what="the instance")
    variables = inst["spec"]["variables"]
    assert (variables["size"], variables["jupyterhub.profile.options"]) == ("large", "size=large")
    await env.set_status(NAME, ready_status(NAME))
    await task
    await spawner.stop()
