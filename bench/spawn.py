"""Spawn latency of JupyterHub spawners side by side, on this machine.

    python bench/spawn.py --users 20 [--cluster upstream]

One cluster and one Jupyternetes operator serve one JupyterHub per spawner, each with its own
configurable-http-proxy. The cluster is kubesim (``process`` runtime: every server is a real
``jupyterhub-singleuser`` process, as uid 1000 when kubesim runs as root) or, with ``--cluster upstream``,
upstream Kubernetes (k8s-local: etcd, kube-apiserver, kube-controller-manager, kube-scheduler) with kubesim's
kubelet as its node, same runtime. The hubs:

* ``jupyternetes``: the Jupyternetes spawner (the hub's least-privilege ServiceAccount, the demo's default
  template: a 1 Gi workspace PVC and the notebook pod; JupyterLab, as in the demo);
* ``jupyternetes-nolab``: the same, with the server's JupyterLab extensions turned off (the demo's server
  before it had JupyterLab: what JupyterLab adds to a spawn);
* ``kubespawner``: kubespawner 7 on the same cluster and kubelet (cluster-admin credentials, the same image,
  a 1 Gi PVC per user: ``storage_pvc_ensure``);
* ``kubespawner-poll``: the same kubespawner, with Jupyternetes' readiness check added (after its start,
  the server's URL is checked every 50 ms until it answers, as ``JupyternetesSpawner.wait_for_http`` does):
  how much of the difference between the two is that check against JupyterHub's own back-off;
* ``localprocess``: JupyterHub's SimpleLocalProcessSpawner (no cluster at all): the floor.

Latency of one spawn = from the REST request (``POST /hub/api/users/<name>/server``) until the server
answers ``GET /user/<name>/api/status`` with 200 through the hub's proxy (checked every 10 ms with the
user's token). Users spawn one at a time, the hubs taking turns (user i on each hub before user
i + 1), so that slow drift of the machine affects all alike. Servers are left running until the end.

Prints one line per spawn, a table (median, p95, min, max; ratios), and as its last line a JSON object
keyed by spawner, each with ``p50_s`` and ``p95_s``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from jupyternetes.demo import Stack, StackOptions, default_templates

SPAWNERS = ("jupyternetes", "jupyternetes-nolab", "kubespawner", "kubespawner-poll", "localprocess")

# jupyternetes-nolab's template: the demo's default template, its server started without the extensions
# JupyterLab brought (jupyter_server with its terminals is what the demo ran before).
NOLAB_TEMPLATE = "bench-nolab"
NOLAB_ARGS = [
    "jupyterhub-singleuser",
    # Braces doubled: a template's literal braces (the operator renders {variables}).
    '--ServerApp.jpserver_extensions={{"jupyterlab": False, "jupyter_lsp": False, "notebook_shim": False}}',
]

# kubespawner-poll: kubespawner, and after its start the check JupyternetesSpawner.wait_for_http makes.
POLLING_KUBESPAWNER = """
import asyncio, time
from kubespawner import KubeSpawner
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

class PollingKubeSpawner(KubeSpawner):
    async def _start(self):
        url = await super()._start()
        target = url.rstrip("/") + self.server.base_url + "api"
        deadline = time.monotonic() + max(self.http_timeout, 1)
        while time.monotonic() < deadline:
            try:
                await AsyncHTTPClient().fetch(target, request_timeout=2, follow_redirects=False)
                break
            except HTTPClientError as exc:
                if exc.code < 500:
                    break
            except OSError:
                pass
            await asyncio.sleep(0.05)
        return url

c.JupyterHub.spawner_class = PollingKubeSpawner
"""


def nolab_template() -> dict[str, Any]:
    template = copy.deepcopy(default_templates()[0])
    template["metadata"]["name"] = NOLAB_TEMPLATE
    container = template["spec"]["pods"][0]["spec"]["containers"][0]
    container["command"] = NOLAB_ARGS
    return template


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def status_code(url: str, token: str) -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def spawn_once(stack: Stack, user: str, timeout: float) -> float:
    status, body = stack.api("POST", f"/users/{user}")
    if status not in (201, 409):
        raise RuntimeError(f"creating user {user}: {status} {body}")
    status, body = stack.api("POST", f"/users/{user}/tokens", {"note": "bench"})
    if status != 201:
        raise RuntimeError(f"token for {user}: {status} {body}")
    token = body["token"]
    result: dict[str, Any] = {}

    def request() -> None:
        result["spawn"] = stack.api("POST", f"/users/{user}/server")

    url = f"{stack.hub_url}/user/{user}/api/status"
    started = time.perf_counter()
    thread = threading.Thread(target=request)
    thread.start()
    while True:
        if status_code(url, token) == 200:
            elapsed = time.perf_counter() - started
            break
        if "spawn" in result and result["spawn"][0] not in (201, 202):
            raise RuntimeError(f"spawn of {user} failed: {result['spawn']}")
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{user}'s server did not answer within {timeout} s")
        time.sleep(0.01)
    thread.join()
    return elapsed


def wait_for_default_service_account(stack: Stack, namespace: str, timeout: float = 60) -> None:
    """A pod needs its namespace's ``default`` ServiceAccount (upstream's controller makes it a moment
    after the namespace): kubespawner's first pod would be refused before."""

    async def exists(kube: Any) -> bool:
        from jupyternetes.adapters.kube import KubeError

        try:
            await kube.get("v1", "ServiceAccount", namespace, "default")
        except KubeError:
            return False
        return True

    deadline = time.monotonic() + timeout
    while not stack.admin_call(exists):
        if time.monotonic() > deadline:
            raise RuntimeError(f"namespace {namespace} has no default ServiceAccount after {timeout} s")
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10, help="spawns per spawner (default 10)")
    parser.add_argument("--spawners", default=",".join(SPAWNERS), help="comma-separated subset to run")
    parser.add_argument(
        "--warmup", type=int, default=1, help="unmeasured spawns per spawner first (default 1)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one spawn may take")
    parser.add_argument("--state-dir", help="keep state and logs here (default: a temporary directory)")
    parser.add_argument("--cluster", choices=("kubesim", "upstream"), default="kubesim")
    args = parser.parse_args(argv)
    chosen = [s for s in args.spawners.split(",") if s]
    for s in chosen:
        if s not in SPAWNERS:
            parser.error(f"unknown spawner {s!r}")

    tmp = None if args.state_dir else tempfile.TemporaryDirectory(prefix="bench-spawn-")
    state = Path(args.state_dir or (tmp.name if tmp else ".")).resolve()

    def say(msg: str) -> None:
        print(f"# {msg}", file=sys.stderr, flush=True)

    print(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {args.users} users per spawner, on {args.cluster}",
        flush=True,
    )

    main_stack = Stack(
        StackOptions(state_dir=state, hub_port=0, hub_name="hub-jupyternetes", cluster=args.cluster), say=say
    )
    stacks: dict[str, Stack] = {}
    try:
        main_stack.start_cluster()
        main_stack.install()
        for namespace in ("kubespawner", "kubespawner-poll"):
            main_stack.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            wait_for_default_service_account(main_stack, namespace)
        main_stack.start_operator()
        main_stack.apply(nolab_template())
        for name in chosen:
            if name == "jupyternetes":
                stack = main_stack
            else:
                spawner = name.split("-")[0]
                config: dict[str, Any] = {}
                extra = ""
                if name == "jupyternetes-nolab":
                    # Instances of their own names (the other Jupyternetes hub has the same user names).
                    config = {"template_name": NOLAB_TEMPLATE, "instance_name_prefix": "nolab"}
                elif name == "kubespawner-poll":
                    # A namespace of its own, for the same reason.
                    extra = POLLING_KUBESPAWNER + "c.KubeSpawner.namespace = 'kubespawner-poll'\n"
                stack = Stack(
                    StackOptions(
                        state_dir=state,
                        hub_port=0,
                        hub_name=f"hub-{name}",
                        spawner=spawner,
                        spawner_config=config,
                        extra_hub_config=extra,
                        cluster=args.cluster,
                    ),
                    say=say,
                )
                stack.admin_kubeconfig = main_stack.admin_kubeconfig
                stack.hub_kubeconfig = main_stack.hub_kubeconfig
            stack.start_proxy()
            stack.start_hub()
            stacks[name] = stack

        results: dict[str, list[float]] = {name: [] for name in chosen}
        for i in range(-args.warmup, args.users):
            order = chosen[i % len(chosen) :] + chosen[: i % len(chosen)] if i >= 0 else chosen
            for name in order:
                user = f"u{i}" if i >= 0 else f"warmup{-i}"
                took = spawn_once(stacks[name], user, args.timeout)
                label = "warmup" if i < 0 else f"user {i + 1:>3}"
                print(f"{name:>18} {label}: {took:6.3f} s", flush=True)
                if i >= 0:
                    results[name].append(took)
    finally:
        for name, stack in stacks.items():
            say(f"stopping {name}'s servers")
            status, body = stack.api("GET", "/users")
            for user in body if status == 200 else ():
                if user.get("servers"):
                    stack.api("DELETE", f"/users/{user['name']}/server")
        for stack in stacks.values():
            if stack is not main_stack:
                stack.stop()
        main_stack.stop()
        if tmp is not None:
            tmp.cleanup()

    summary: dict[str, dict[str, float]] = {}
    print(f"\n{'spawner':>18} {'p50 s':>7} {'p95 s':>7} {'mean s':>7} {'min s':>7} {'max s':>7}")
    for name, values in results.items():
        summary[name] = {
            "p50_s": round(statistics.median(values), 3),
            "p95_s": round(percentile(values, 95), 3),
        }
        print(
            f"{name:>18} {statistics.median(values):7.3f} {percentile(values, 95):7.3f} "
            f"{statistics.mean(values):7.3f} {min(values):7.3f} {max(values):7.3f}"
        )
    if "jupyternetes" in summary:
        for other in ("localprocess", "kubespawner", "kubespawner-poll", "jupyternetes-nolab"):
            if other in summary:
                ratio50 = summary["jupyternetes"]["p50_s"] / summary[other]["p50_s"]
                ratio95 = summary["jupyternetes"]["p95_s"] / summary[other]["p95_s"]
                print(f"jupyternetes / {other}: p50 {ratio50:.2f}x, p95 {ratio95:.2f}x")
    print(json.dumps({**summary, "cluster": args.cluster}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
