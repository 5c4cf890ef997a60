"""kubespawner, unchanged, spawns a user on the same clusters: a hub of its own next to the suite's, with
kubespawner's own (cluster-admin) credentials, its pod and PVC run by the same node. What Jupyternetes is
compared with in bench/spawn.py works on both backends."""

from __future__ import annotations

import requests

from jupyternetes.demo import Stack, StackOptions
from tests.conftest import wait_until


def test_kubespawner_spawns_a_reachable_server(stack: Stack) -> None:
    stack.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubespawner"}})
    other = Stack(
        StackOptions(
            state_dir=stack.state_dir,
            hub_port=0,
            hub_name="hub-kubespawner",
            spawner="kubespawner",
            start_timeout=90,
        ),
        say=lambda msg: None,
    )
    other.admin_kubeconfig = stack.admin_kubeconfig
    try:
        other.start_proxy()
        other.start_hub()
        assert other.api("POST", "/users/ks-ada")[0] in (201, 409)
        status, body = other.api("POST", "/users/ks-ada/server", {})
        assert status in (201, 202), body
        wait_until(
            lambda: ((other.api("GET", "/users/ks-ada")[1].get("servers") or {}).get("") or {}).get("ready"),
            90,
            message="ks-ada's kubespawner server ready",
        )
        status, body = other.api("POST", "/users/ks-ada/tokens", {"note": "e2e"})
        assert status == 201, body
        reply = requests.get(
            f"{other.hub_url}/user/ks-ada/api/status",
            headers={"Authorization": f"token {body['token']}"},
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        assert "started" in reply.json()
        status, body = other.api("DELETE", "/users/ks-ada/server")
        assert status in (202, 204), body
        wait_until(
            lambda: not (other.api("GET", "/users/ks-ada")[1].get("servers") or {}),
            90,
            message="ks-ada's server stopped",
        )
    finally:
        other.stop()
