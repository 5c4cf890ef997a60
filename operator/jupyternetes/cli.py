"""The ``jupyternetes`` command: ``jupyternetes operator`` runs the operator, ``jupyternetes up`` the demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path


def _operator_namespace(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    sa_ns = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    if sa_ns.exists():
        return sa_ns.read_text().strip()
    return "default"


def run_operator(args: argparse.Namespace) -> int:
    import kopf

    from jupyternetes.kopf_internals import KopfInternalsChanged

    try:
        from jupyternetes import handlers  # checks kopf's internals as it patches them
    except KopfInternalsChanged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from jupyternetes.adapters.reconciler import OperatorConfig
    from jupyternetes.core.resources import parse_group_resource

    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    if not args.all_namespaces and not args.namespace:
        print("error: give --namespace NS (repeatable) or --all-namespaces", file=sys.stderr)
        return 2
    try:
        other_resources = frozenset(parse_group_resource(r) for r in args.other_resource)
    except ValueError as exc:
        print(f"error: --other-resource {exc}", file=sys.stderr)
        return 2
    operator_ns = _operator_namespace(args.operator_namespace)
    config = OperatorConfig(
        operator_namespace=operator_ns,
        template_namespaces=frozenset(args.template_namespace),
        watched_namespaces=None if args.all_namespaces else frozenset(args.namespace),
        workers=args.workers,
        other_resources=other_resources,
    )
    webhook = None
    if args.webhook_port:
        if not (args.webhook_cert and args.webhook_key):
            print("error: --webhook-port needs --webhook-cert and --webhook-key (PEM files)", file=sys.stderr)
            return 2
        webhook = handlers.WebhookConfig(
            port=args.webhook_port,
            cert_file=args.webhook_cert,
            key_file=args.webhook_key,
            addr=args.webhook_addr,
        )
    runtime = handlers.Runtime(config, args.kubeconfig, args.metrics_port, webhook)
    kopf.configure(verbose=args.verbose, debug=False, log_format=kopf.LogFormat.PLAIN)
    # kopf logs every handler call at INFO; with one event per pod status change that drowns the log.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    namespaces: set[str] = set()
    if not args.all_namespaces:
        namespaces = set(args.namespace) | (set(args.template_namespace) or {operator_ns})
    liveness = f"http://0.0.0.0:{args.liveness_port}/healthz" if args.liveness_port else None
    asyncio.run(
        kopf.operator(
            registry=handlers.registry,
            clusterwide=args.all_namespaces,
            namespaces=sorted(namespaces),
            standalone=args.standalone,
            liveness_endpoint=liveness,
            memo=kopf.Memo(runtime=runtime),
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="jupyternetes", description="Jupyternetes: notebook servers by operator."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    op = sub.add_parser("operator", help="run the operator")
    scope = op.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace", "-n", action="append", default=[], help="serve instances in NS (repeatable)"
    )
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true", help="serve instances in every namespace"
    )
    op.add_argument(
        "--template-namespace",
        action="append",
        default=[],
        metavar="NS",
        help="read templates from NS (repeatable; default: the operator's and the instance's)",
    )
    op.add_argument("--operator-namespace", help="the operator's own namespace (default: its pod's)")
    op.add_argument(
        "--other-resource",
        action="append",
        default=[],
        metavar="RESOURCE[.GROUP]",
        help="watch this kind of templates' otherResources and re-create one when it is deleted "
        "(repeatable; named as in RBAC rules: services, networkpolicies.networking.k8s.io)",
    )
    op.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    op.add_argument("--liveness-port", type=int, help="serve /healthz on this port")
    op.add_argument(
        "--webhook-port",
        type=int,
        help="serve the validating admission webhook (HTTPS) on this port: /validate-instance and "
        "/validate-template (docs/operator.md)",
    )
    op.add_argument(
        "--webhook-cert", metavar="PEM", help="the webhook's serving certificate (with its chain)"
    )
    op.add_argument("--webhook-key", metavar="PEM", help="the webhook's private key")
    op.add_argument("--webhook-addr", default="0.0.0.0", help="address the webhook listens on (default: all)")
    op.add_argument("--standalone", action="store_true", help="no peering (a single replica)")
    op.add_argument("--kubeconfig", help="kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    op.add_argument("--workers", type=int, default=32, help="concurrent reconciles")
    op.add_argument("-v", "--verbose", action="store_true")
    up = sub.add_parser("up", help="the demo: simulated cluster, operator and JupyterHub on this machine")
    up.add_argument(
        "--state-dir", default="state", help="where state and logs go (default: ./state; cleared)"
    )
    up.add_argument("--hub-port", type=int, default=8000, help="JupyterHub's public port (default 8000)")
    up.add_argument("--password", help="the login password (default: generated, printed)")
    up.add_argument(
        "--cluster",
        choices=("kubesim", "upstream"),
        default="kubesim",
        help="kubesim: the simulated cluster (default); upstream: Kubernetes built from source with Go "
        "(k8s-local), with kubesim's kubelet as its node",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "operator":
        return run_operator(args)
    if args.command == "up":
        from jupyternetes.demo import run_up

        return run_up(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
