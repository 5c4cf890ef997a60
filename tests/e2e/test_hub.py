"""The issue's end-to-end list, against a real JupyterHub and real single-user servers (kubesim or kind)."""

from __future__ import annotations

import html
import socket
import time
from typing import Any

import pytest
import requests
from kubernetes import client

from tests.conftest import wait_until
from tests.e2e.conftest import Hub, progress_events, run_concurrently


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


# 1 ---------------------------------------------------------------------------------------------------


def test_the_hub_runs_the_jupyternetes_spawner(hub: Hub) -> None:
    status, info = hub.api("GET", "/info")
    assert status == 200, info
    assert info["spawner"]["class"] == "jupyternetes.spawner.spawner.JupyternetesSpawner", info["spawner"]
    assert info["spawner"]["version"], info["spawner"]


def test_spawn_answers_through_the_proxy_with_the_users_token_only(hub: Hub) -> None:
    hub.spawn_and_wait("ada")
    token = hub.user_token("ada")
    r = hub.get("/user/ada/api/status", token=token)
    assert r.status_code == 200, r.text
    assert "started" in r.json()
    assert hub.get("/user/ada/api/status").status_code == 403
    # Another user's token does not open ada's server.
    hub.create_user("eve")
    assert hub.get("/user/ada/api/status", token=hub.user_token("eve")).status_code == 403
    inst = hub.instance("jupyter-ada")
    assert inst is not None
    assert inst["status"]["conditions"]
    # The token never appears in the instance (it travels in the Secret).
    assert token not in str(inst)


def test_browser_login_spawn_and_oauth(hub: Hub) -> None:
    session = hub.login("grace")
    spawn = session.get(f"{hub.url}/hub/spawn", timeout=10)  # the options form (there are profiles)
    assert spawn.status_code == 200
    assert 'name="profile"' in spawn.text
    r = session.post(
        f"{hub.url}/hub/spawn/grace",
        timeout=30,
        data={"profile": "default", "_xsrf": session.cookies.get("_xsrf")},
    )
    assert r.status_code == 200, r.text[:500]
    wait_until(lambda: (hub.server("grace") or {}).get("ready"), 60, message="grace's server ready")
    # Not yet authorized at the server: its API refuses, a page sends the browser through OAuth.
    assert session.get(f"{hub.url}/user/grace/api/status", timeout=10).status_code == 403
    page = session.get(f"{hub.url}/user/grace/files/nothing.txt", timeout=10)
    hops = [h.headers.get("location", "") for h in page.history]
    assert any("/hub/api/oauth2/authorize" in h for h in hops), hops
    assert any("/user/grace/oauth_callback" in h for h in hops), hops
    r = session.get(f"{hub.url}/user/grace/api/status", timeout=10)
    assert r.status_code == 200, r.text
    assert "last_activity" in r.json()


# 2 ---------------------------------------------------------------------------------------------------


def test_the_announcements_template(hub: Hub) -> None:
    hub.spawn_and_wait("jovyan", options={"profile": "announcement"})
    token = hub.user_token("jovyan")
    assert hub.get("/user/jovyan/api/status", token=token).status_code == 200
    inst = hub.instance("jupyter-jovyan")
    assert inst is not None
    assert inst["spec"]["template"] == {"name": "default-template", "namespace": "kadense"}
    pod = hub.pod("jupyter-jovyan-notebook")
    env = {e.name: e.value for e in pod.spec.containers[0].env}
    assert env["JUPYTERHUB_API_URL"] == hub.deployment.hub_api_url + "/hub/api"
    assert env["JUPYTERHUB_USER"] == "jovyan"
    assert env["JUPYTERHUB_CLIENT_ID"] == "jupyterhub-user-jovyan"
    assert pod.spec.containers[0].volume_mounts[0].mount_path == "/home/jovyan/work"
    assert hub.pvc("jupyter-jovyan-workspace").status.phase == "Bound"


# 3 ---------------------------------------------------------------------------------------------------


def test_stop_keeps_the_workspace(hub: Hub) -> None:
    hub.spawn_and_wait("linus")
    token = hub.user_token("linus")
    body = {"type": "file", "format": "text", "content": "kept across restarts\n"}
    put = requests.put(
        f"{hub.url}/user/linus/api/contents/work/notes.txt",
        json=body,
        timeout=10,
        headers={"Authorization": f"token {token}"},
    )
    assert put.status_code in (200, 201), put.text
    address = hub.instance("jupyter-linus")["status"]["address"]
    if hub.deployment.pods_reachable:
        assert _listening(address)

    hub.stop("linus")
    assert hub.instance("jupyter-linus") is None
    assert hub.pod("jupyter-linus-notebook") is None, "stop returns once the pod is gone"
    assert hub.secret("jupyter-linus-hub-vars") is None
    if hub.deployment.pods_reachable:
        wait_until(lambda: not _listening(address), 10, message="the server's process gone")
    assert hub.pvc("jupyter-linus-workspace") is not None, "the PVC outlives the server"

    hub.spawn_and_wait("linus")
    token = hub.user_token("linus")
    r2 = hub.get("/user/linus/api/contents/work/notes.txt", token=token)
    assert r2.status_code == 200, r2.text
    assert r2.json()["content"] == "kept across restarts\n"


# 4 ---------------------------------------------------------------------------------------------------


def test_two_named_servers_at_once(hub: Hub) -> None:
    hub.create_user("barbara")
    run_concurrently(lambda s: hub.spawn_and_wait("barbara", s), ["left", "right"])
    token = hub.user_token("barbara")
    for s in ("left", "right"):
        r = hub.get(f"/user/barbara/{s}/api/status", token=token)
        assert r.status_code == 200, (s, r.text)
    a, b = hub.instance("jupyter-barbara--left"), hub.instance("jupyter-barbara--right")
    assert a
    assert b
    assert a["status"]["address"] != b["status"]["address"]
    hub.stop("barbara", "left")
    assert hub.get("/user/barbara/right/api/status", token=token).status_code == 200


def test_five_users_spawn_concurrently(hub: Hub) -> None:
    users = [f"crowd{i}" for i in range(5)]
    times = run_concurrently(hub.spawn_and_wait, users)
    for user in users:
        assert hub.get(f"/user/{user}/api/status", token=hub.user_token(user)).status_code == 200
    addresses = {hub.instance(f"jupyter-{u}")["status"]["address"] for u in users}
    assert len(addresses) == 5
    assert max(times) < 60


# 5 ---------------------------------------------------------------------------------------------------


def test_hub_restart_keeps_servers(hub: Hub) -> None:
    hub.spawn_and_wait("kept")
    hub.spawn_and_wait("lost")
    token_kept, token_lost = hub.user_token("kept"), hub.user_token("lost")
    hub.deployment.stop_hub()
    # The proxy still routes to the servers while the hub is down.
    assert hub.get("/user/kept/api").status_code == 200
    hub.deployment.start_hub()
    assert hub.get("/user/kept/api/status", token=token_kept).status_code == 200
    assert hub.get("/user/lost/api/status", token=token_lost).status_code == 200
    assert (hub.server("kept") or {}).get("ready")
    # poll() still tracks them: a server that disappears behind the hub's back is noticed.
    hub.custom.delete_namespaced_custom_object(
        "kadense.io", "v1", hub.namespace, "jupyternotebookinstances", "jupyter-lost"
    )
    wait_until(lambda: hub.server("lost") is None, 30, message="the hub noticing the lost server")
    # And stop still works on a server started by the previous hub process.
    hub.stop("kept")
    assert hub.instance("jupyter-kept") is None
    assert hub.pod("jupyter-kept-notebook") is None


def test_a_server_whose_pod_is_deleted_is_shown_stopped_and_leaves_only_its_workspace(hub: Hub) -> None:
    """A pod deleted behind the hub's back (an eviction, a drained node, an admin): poll() reports the server
    stopped and deletes its instance and Secret (JupyterHub calls stop() only for servers poll() says still
    run); the workspace stays, and the next start has nothing to clean up first."""
    hub.spawn_and_wait("evicted")
    hub.core.delete_namespaced_pod("jupyter-evicted-notebook", hub.namespace)
    wait_until(lambda: hub.server("evicted") is None, 60, message="the hub shows the server stopped")
    wait_until(
        lambda: hub.instance("jupyter-evicted") is None, 30, message="the instance deleted by the spawner"
    )
    assert hub.secret("jupyter-evicted-hub-vars") is None
    assert hub.pvc("jupyter-evicted-workspace") is not None, "the workspace outlives the server"
    hub.spawn_and_wait("evicted")
    assert (hub.server("evicted") or {}).get("ready")
    hub.stop("evicted")


# 6 ---------------------------------------------------------------------------------------------------


def _spawn_failing_fast(hub: Hub, user: str, profile: str) -> tuple[requests.Session, list[dict[str, Any]]]:
    """A new user's spawn of `profile` that fails within the deployment's fail-fast time and leaves no
    server: the user's browser session and the spawn's progress events (the last one the failure)."""
    hub.create_user(user)
    session = hub.login(user)
    started = time.monotonic()
    status, _body = hub.spawn(user, options={"profile": profile})
    if status in (201, 202):
        wait_until(lambda: not (hub.server(user) or {}).get("pending"), 30, message="the spawn to end")
    elapsed = time.monotonic() - started
    assert elapsed < hub.deployment.fail_fast_seconds, f"the spawn failed only after {elapsed:.1f} s"
    assert hub.server(user) is None
    events = progress_events(hub, user)
    assert events[-1].get("failed") is True, events
    return session, events


def test_unpullable_image_fails_fast_and_leaves_nothing(hub: Hub) -> None:
    session, events = _spawn_failing_fast(hub, "oops", "broken")
    assert "ImagePullFailed" in events[-1]["message"] or "ErrImagePull" in events[-1]["message"], events
    assert "doesnotexist" in events[-1]["message"]
    page = session.get(f"{hub.url}/hub/spawn-pending/oops", timeout=10)
    assert "Spawn failed" in page.text, page.text[-2000:]
    assert "ErrImagePull" in page.text, page.text[-2000:]
    wait_until(lambda: hub.instance("jupyter-oops") is None, 15, message="the instance deleted")
    assert hub.secret("jupyter-oops-hub-vars") is None
    wait_until(lambda: hub.pod("jupyter-oops-notebook") is None, 15, message="the pod deleted")


def test_a_value_the_template_refuses_is_shown_on_the_spawn_page(hub: Hub) -> None:
    """Issue 15: a profile setting a variable outside its template's declared enum. The operator's admission
    webhook refuses the instance at its creation (the API server answers the hub at once); the user reads
    the variable and the rule on the spawn page, and nothing is left behind."""
    session, events = _spawn_failing_fast(hub, "oversize", "oversized")
    rule = """variable "size": "huge" is not one of 'small', 'large'"""
    assert rule in events[-1]["message"], events
    assert "the server's settings were refused" in events[-1]["message"], "refused at admission"
    page = session.get(f"{hub.url}/hub/spawn-pending/oversize", timeout=10)
    assert "Spawn failed" in page.text, page.text[-2000:]
    assert rule in html.unescape(page.text), page.text[-2000:]
    wait_until(lambda: hub.instance("jupyter-oversize") is None, 15, message="no instance left")
    assert hub.secret("jupyter-oversize-hub-vars") is None


def _condition(inst: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((inst or {}).get("status") or {}).get("conditions") or ():
        if c["type"] == type_:
            return dict(c)
    return None


def test_a_server_outliving_its_templates_max_lifetime_is_stopped(hub: Hub) -> None:
    """Issue 15: the template "brief-template" has maxLifetime 20s. The operator deletes the server's pod and
    marks the instance Expired; the spawner's poll() reports it stopped (and deletes the instance: the hub
    calls stop() only for servers that poll() says still run), so the hub shows it stopped; the workspace
    is kept."""
    hub.spawn_and_wait("brevity", options={"profile": "brief"})
    assert hub.pod("jupyter-brevity-notebook") is not None
    wait_until(lambda: hub.server("brevity") is None, 90, message="the hub shows the server stopped")
    events = [
        e
        for e in hub.core.list_namespaced_event(hub.namespace).items
        if e.involved_object.name == "jupyter-brevity" and e.reason == "Expired"
    ]
    assert events, "the operator stopped it (an Expired event)"
    assert "maxLifetime 20s" in events[0].message, events[0].message
    wait_until(
        lambda: hub.instance("jupyter-brevity") is None, 30, message="the instance deleted by the spawner"
    )
    wait_until(
        lambda: hub.pod("jupyter-brevity-notebook") is None, 30, message="the pod gone (it terminates)"
    )
    assert hub.pvc("jupyter-brevity-workspace") is not None, "the workspace outlives the server"


def test_a_template_change_marks_the_running_server_and_the_next_start_uses_it(hub: Hub) -> None:
    """Issue 15: editing a template leaves running servers alone (TemplateOutdated says what changed) and the
    next start renders the new generation."""
    hub.spawn_and_wait("drifter", options={"profile": "changing"})
    uid = hub.pod("jupyter-drifter-notebook").metadata.uid
    tns = hub.deployment.template_namespace
    template = hub.custom.get_namespaced_custom_object(
        "kadense.io", "v1", tns, "jupyternotebooktemplates", "changing-template"
    )
    container = template["spec"]["pods"][0]["spec"]["containers"][0]
    container.setdefault("env", []).append({"name": "JUPYTERNETES_E2E_MARK", "value": "changed"})
    hub.custom.replace_namespaced_custom_object(
        "kadense.io", "v1", tns, "jupyternotebooktemplates", "changing-template", template
    )
    outdated = wait_until(
        lambda: (
            (c := _condition(hub.instance("jupyter-drifter"), "TemplateOutdated"))
            and c["status"] == "True"
            and c
        ),
        30,
        message="the running server marked TemplateOutdated",
    )
    assert "env" in outdated["message"], outdated
    assert hub.pod("jupyter-drifter-notebook").metadata.uid == uid, "the running server's pod is untouched"
    assert (hub.server("drifter") or {}).get("ready"), "and it still runs"
    hub.stop("drifter")
    hub.spawn_and_wait("drifter", options={"profile": "changing"})
    env = {e.name: e.value for e in hub.pod("jupyter-drifter-notebook").spec.containers[0].env}
    assert env.get("JUPYTERNETES_E2E_MARK") == "changed", "the next start renders the new template"
    hub.stop("drifter")


# 7 ---------------------------------------------------------------------------------------------------


def test_the_hubs_token_is_refused_everything_else(hub: Hub) -> None:
    core = client.CoreV1Api(hub.hub_api_client)
    custom = client.CustomObjectsApi(hub.hub_api_client)
    ns = hub.namespace
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "evil"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    forbidden = [
        lambda: core.create_namespaced_pod(ns, pod),
        lambda: core.read_namespaced_secret("jupyter-ada-hub-vars", ns),
        lambda: core.list_namespaced_secret(ns),
        lambda: custom.patch_namespaced_custom_object(
            "kadense.io",
            "v1",
            hub.deployment.template_namespace,
            "jupyternotebooktemplates",
            hub.deployment.default_template,
            {"metadata": {"labels": {"evil": "yes"}}},
        ),
        lambda: custom.create_namespaced_custom_object(
            "kadense.io",
            "v1",
            ns,
            "jupyternotebooktemplates",
            {
                "apiVersion": "kadense.io/v1",
                "kind": "JupyterNotebookTemplate",
                "metadata": {"name": "evil"},
                "spec": {"pods": []},
            },
        ),
        lambda: core.create_namespaced_persistent_volume_claim(
            ns,
            {
                "metadata": {"name": "evil"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            },
        ),
        lambda: core.list_namespaced_event(ns),
    ]
    for i, call in enumerate(forbidden):
        with pytest.raises(client.ApiException) as info:
            call()
        assert info.value.status == 403, (i, info.value.body)
    # What it may do, it can.
    custom.list_namespaced_custom_object("kadense.io", "v1", ns, "jupyternotebookinstances")


def test_deleting_the_user_purges_the_workspace(hub: Hub) -> None:
    hub.spawn_and_wait("gone")
    assert hub.pvc("jupyter-gone-workspace") is not None
    hub.stop("gone")
    assert hub.pvc("jupyter-gone-workspace") is not None, "a stop keeps the PVC"
    status, body = hub.api("DELETE", "/users/gone")  # JupyterHub calls spawner.delete_forever()
    assert status == 204, body
    wait_until(lambda: hub.pvc("jupyter-gone-workspace") is None, 30, message="the PVC purged")
    assert hub.instance("jupyter-gone") is None
