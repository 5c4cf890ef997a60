"""A k8s-local node (kubesim's kubelet agent, fake runtime) under pods created at once: every pod's status
ends Ready. Its status writers once wrote the same pod twice at a time; an older status could land after a
newer one and stay (13 of 40 pods never became Ready)."""

from __future__ import annotations

from typing import Any

import k8slocal
from tests.conftest import wait_until


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_pods_created_at_once_all_become_ready(binaries: k8slocal.Binaries) -> None:
    with k8slocal.ControlPlane(binaries=binaries, nodes=1, runtime="fake") as plane:
        for i in range(40):
            body = {
                "metadata": {"name": f"p{i}"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            }
            status, answer = plane.request("POST", "/api/v1/namespaces/default/pods", body)
            assert status == 201, answer

        def not_ready() -> list[str]:
            items = plane.request("GET", "/api/v1/namespaces/default/pods")[1]["items"]
            return [p["metadata"]["name"] for p in items if not _ready(p)]

        wait_until(lambda: not not_ready(), timeout=60, message=lambda: f"all Ready; not: {not_ready()}")


def test_a_pod_larger_than_a_stream_buffer_runs(binaries: k8slocal.Binaries) -> None:
    """A pod of about 500 kB (a hub user's 100-kB name in its annotations, environment and mount path, as
    tests/integration/hardening's hostile input makes) and one after it both run: the agent's pod watch
    read lines with aiohttp's line iterator, which refuses a line longer than its 128-KiB buffer, and the
    node never started another pod."""
    big = "x" * 100_000
    with k8slocal.ControlPlane(binaries=binaries, nodes=1, runtime="fake") as plane:
        for name, value in (("big", big), ("after", "a")):
            container = {
                "name": "c",
                "image": "busybox",
                "env": [
                    {"name": "USER", "value": value},
                    {"name": "SETTINGS", "value": f'{{"user": "{value}", "home": "/home/{value}"}}'},
                ],
                "volumeMounts": [{"name": "home", "mountPath": f"/home/{value}"}],
            }
            body = {
                "metadata": {"name": name, "annotations": {"user": value}},
                "spec": {"containers": [container], "volumes": [{"name": "home", "emptyDir": {}}]},
            }
            status, answer = plane.request("POST", "/api/v1/namespaces/default/pods", body)
            assert status == 201, answer
        for name in ("big", "after"):
            wait_until(
                lambda name=name: _ready(plane.request("GET", f"/api/v1/namespaces/default/pods/{name}")[1]),
                timeout=60,
                message=f"pod {name} Ready",
            )
