"""``kubesim up`` serves a simulated cluster until SIGINT/SIGTERM; ``kubesim token`` issues SA tokens."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import shlex
import signal
import ssl
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml


def _parse_error_rule(text: str) -> dict[str, Any]:
    """``CODE[:VERB[:RESOURCE[:PROBABILITY[:COUNT]]]]``, ``*`` for any."""
    parts = text.split(":")
    rule: dict[str, Any] = {"code": int(parts[0])}
    if len(parts) > 1 and parts[1] != "*":
        rule["verb"] = parts[1]
    if len(parts) > 2 and parts[2] != "*":
        rule["resource"] = parts[2]
    if len(parts) > 3:
        rule["probability"] = float(parts[3])
    if len(parts) > 4:
        rule["count"] = int(parts[4])
    return rule


def _parse_latency_rule(text: str) -> dict[str, Any]:
    """``SECONDS[:VERB[:RESOURCE]]``, ``*`` for any."""
    parts = text.split(":")
    rule: dict[str, Any] = {"seconds": float(parts[0])}
    if len(parts) > 1 and parts[1] != "*":
        rule["verb"] = parts[1]
    if len(parts) > 2 and parts[2] != "*":
        rule["resource"] = parts[2]
    return rule


def _faults_from_args(args: argparse.Namespace) -> dict[str, Any]:
    spec: dict[str, Any] = {"errors": [_parse_error_rule(e) for e in args.fault_error]}
    spec["latency"] = [_parse_latency_rule(text) for text in args.fault_latency]
    cuts = {}
    if args.watch_cut_events:
        cuts["afterEvents"] = args.watch_cut_events
    if args.watch_cut_seconds:
        cuts["afterSeconds"] = args.watch_cut_seconds
    if cuts:
        spec["watchCuts"] = [cuts]
    if args.expire_watches:
        spec["expire"] = [{"resource": r, "count": 1} for r in args.expire_watches]
    return spec


def _kubelet_options(args: argparse.Namespace) -> dict[str, Any]:
    """The kubelet options the ``up`` and ``kubelet`` commands share."""
    kubelet: dict[str, Any] = {}
    if args.image_command:
        from kubesim.kubelet.config import DEFAULT_IMAGE_COMMANDS

        extra = []
        for spec in args.image_command:
            pattern, sep, command = spec.partition("=")
            if not sep or not command.strip():
                raise SystemExit(f"--image-command {spec!r}: expected REGEX=COMMAND [ARGS...]")
            extra.append((pattern, shlex.split(command)))
        kubelet["image_commands"] = [*extra, *DEFAULT_IMAGE_COMMANDS]
    if args.pull_fail_pattern is not None:
        kubelet["pull_fail_pattern"] = args.pull_fail_pattern
    if args.start_delay:
        kubelet["start_delay"] = args.start_delay
    for item in getattr(args, "kubelet_option", None) or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--kubelet-option {item!r}: expected KEY=JSON (e.g. backoff_base=0.3)")
        try:
            kubelet[key.strip()] = json.loads(value)
        except ValueError:
            kubelet[key.strip()] = value  # a plain string
    return kubelet


def _add_kubelet_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runtime",
        choices=("fake", "process"),
        default="fake",
        help="fake: containers 'run' without executing; process: each container's command runs "
        "as a local process on its pod's own loopback IP (default: fake)",
    )
    p.add_argument(
        "--image-command",
        action="append",
        default=[],
        metavar="REGEX=COMMAND",
        help="process runtime: run COMMAND for images matching REGEX that have no command "
        "(repeatable; Jupyter images map to jupyterhub-singleuser by default)",
    )
    p.add_argument(
        "--pull-fail-pattern",
        metavar="REGEX",
        help="images matching REGEX fail to pull (ErrImagePull, then ImagePullBackOff)",
    )
    p.add_argument(
        "--start-delay",
        type=float,
        default=0.0,
        help="fake runtime: seconds a container spends in ContainerCreating",
    )


async def _kubelet(args: argparse.Namespace) -> int:
    import tempfile

    from kubesim.kubelet.agent import Agent, run

    options = _kubelet_options(args)
    if args.pod_cidr:
        options["pod_cidr"] = args.pod_cidr
    tmp = None if args.state_dir else tempfile.TemporaryDirectory(prefix="kubesim-kubelet-")
    state_dir = args.state_dir or (tmp.name if tmp else "")
    try:
        agent = Agent(
            args.kubeconfig,
            state_dir=state_dir,
            runtime=args.runtime,
            node_name=args.node_name,
            host=args.address,
            port=args.port,
            client_ca_file=args.client_ca_file,
            **options,
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"kubesim kubelet: error: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run(agent, stop, lambda line: print(line, flush=True))
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


async def _up(args: argparse.Namespace) -> int:
    from kubesim import Cluster

    kwargs: dict[str, Any] = {"port": args.port, "host": args.host}
    if args.state_dir:
        kwargs["state_dir"] = args.state_dir
    if args.kubeconfig:
        kwargs["kubeconfig"] = args.kubeconfig
    if args.no_tls:
        kwargs["tls"] = False
    if args.history_size:
        kwargs["history_size"] = args.history_size
    kwargs["runtime"] = args.runtime
    kubelet = _kubelet_options(args)
    if kubelet:
        kwargs["kubelet"] = kubelet
    cluster = Cluster(**kwargs)
    cluster.faults.configure(_faults_from_args(args))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await cluster.start()
    print(f"kubesim serving at {cluster.url}", flush=True)
    print(f"kubeconfig: {cluster.kubeconfig}", flush=True)
    print(f"try: kubectl --kubeconfig {cluster.kubeconfig} get namespaces", flush=True)
    try:
        await stop.wait()
    finally:
        print("kubesim stopping", flush=True)
        await cluster.stop()
    return 0


def _token(args: argparse.Namespace) -> int:
    """Ask a running kubesim (via an admin kubeconfig) for a ServiceAccount token (TokenRequest)."""
    config = yaml.safe_load(Path(args.kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    server = cluster["server"]
    token = config["users"][0]["user"]["token"]
    context = None
    if server.startswith("https://"):
        # Trust exactly the CA the kubeconfig names (kubesim's own), as kubectl does.
        ca = cluster.get("certificate-authority-data")
        if ca:
            context = ssl.create_default_context(cadata=base64.b64decode(ca).decode())
        elif cluster.get("certificate-authority"):
            context = ssl.create_default_context(cafile=cluster["certificate-authority"])
    body = json.dumps(
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": args.duration},
        }
    ).encode()
    req = urllib.request.Request(
        f"{server}/api/v1/namespaces/{args.namespace}/serviceaccounts/{args.serviceaccount}/token",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, context=context) as resp:
            print(json.load(resp)["status"]["token"])
    except urllib.error.HTTPError as exc:
        print(f"error: {json.load(exc).get('message', exc)}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"error: cannot reach {server}: {exc.reason}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kubesim", description="A simulated Kubernetes cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="serve a cluster on 127.0.0.1 until interrupted")
    up.add_argument("--port", type=int, default=0, help="port (0 or omitted: a free port)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--kubeconfig", help="where to write the admin kubeconfig (written once serving)")
    up.add_argument(
        "--no-tls",
        action="store_true",
        help="serve plain HTTP (kubectl and helm then send no credentials: they talk as anonymous)",
    )
    up.add_argument(
        "--history-size",
        type=int,
        default=0,
        help="watch events kept per resource for resuming watches (default 20000)",
    )
    up.add_argument("--state-dir", help="directory for state (volumes, logs); default: a temporary one")
    _add_kubelet_arguments(up)
    up.add_argument(
        "--fault-error",
        action="append",
        default=[],
        metavar="CODE[:VERB[:RESOURCE[:P[:N]]]]",
        help="inject error responses, e.g. 500:create:pods:0.1 (repeatable)",
    )
    up.add_argument(
        "--fault-latency",
        action="append",
        default=[],
        metavar="SECONDS[:VERB[:RESOURCE]]",
        help="add latency to matching requests, e.g. 0.2 or 0.5:list:pods (repeatable)",
    )
    up.add_argument("--watch-cut-events", type=int, help="cut every watch stream after N events")
    up.add_argument("--watch-cut-seconds", type=float, help="cut every watch stream after N seconds")
    up.add_argument(
        "--expire-watches",
        action="append",
        default=[],
        metavar="RESOURCE",
        help="answer the next watch of RESOURCE that resumes from a resourceVersion with 410",
    )
    up.add_argument("-v", "--verbose", action="store_true")
    node = sub.add_parser(
        "kubelet", help="join a cluster (kubesim or any other) as a node running kubesim's kubelet"
    )
    node.add_argument("--kubeconfig", required=True, help="the node's kubeconfig (system:node:<name>)")
    node.add_argument("--node-name", default="", help="the Node's name (default: this host's name)")
    node.add_argument("--state-dir", help="pods' volumes and logs (default: a temporary directory)")
    node.add_argument(
        "--pod-cidr", help="pod addresses (default: a free 127.X.0.0/16, or 10.244.0.0/16 fake)"
    )
    node.add_argument("--address", default="127.0.0.1", help="the node's address and kubelet endpoint host")
    node.add_argument("--port", type=int, default=0, help="the kubelet endpoint's port (default: a free one)")
    node.add_argument(
        "--client-ca-file",
        help="CA of the API server's kubelet client certificate (container logs through the API server)",
    )
    _add_kubelet_arguments(node)
    node.add_argument(
        "--kubelet-option",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="any kubelet option (kubesim.kubelet.config.KubeletConfig), e.g. backoff_base=0.3 (repeatable)",
    )
    node.add_argument("-v", "--verbose", action="store_true")
    tok = sub.add_parser("token", help="print a token for a ServiceAccount (TokenRequest)")
    tok.add_argument("serviceaccount")
    tok.add_argument("-n", "--namespace", default="default")
    tok.add_argument("--kubeconfig", required=True, help="an admin kubeconfig of the running kubesim")
    tok.add_argument("--duration", type=int, default=3600, help="token lifetime in seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING)
    if args.command == "up":
        return asyncio.run(_up(args))
    if args.command == "kubelet":
        return asyncio.run(_kubelet(args))
    return _token(args)


if __name__ == "__main__":
    sys.exit(main())
