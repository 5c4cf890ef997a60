"""``k8s-local build`` builds or finds the binaries; ``k8s-local up`` serves a control plane until
SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
from pathlib import Path

from k8slocal import build
from k8slocal.controlplane import ControlPlane, StartFailed
from k8slocal.versions import DEFAULT_VERSION, MATRIX


def _say(line: str) -> None:
    print(f"k8s-local: {line}", flush=True)


def _build(args: argparse.Namespace) -> int:
    if args.skip_without_go and build.find(args.version) is None and shutil.which("go") is None:
        _say(
            "`go` is not on PATH, so upstream Kubernetes cannot be built: tests on the upstream backend "
            "will be skipped (install Go 1.24 or newer to run them)"
        )
        return 0
    binaries = build.ensure(args.version, progress=_say)
    manifest = binaries.manifest
    print(binaries.directory)
    _say(
        f"Kubernetes {manifest['kubernetes']} and etcd {manifest['etcd']} (built with {manifest['go']} "
        f"in {manifest['buildSeconds']} s)"
    )
    return 0


def _versions(args: argparse.Namespace) -> int:
    for version in MATRIX:
        print(version)
    return 0


def _up(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    plane = ControlPlane(
        version=args.version,
        kubeconfig=args.kubeconfig,
        state_dir=args.state_dir,
        port=args.port,
        progress=_say,
        nodes=args.nodes,
        runtime=args.runtime,
    )
    _say(f"starting Kubernetes {args.version} (state in {plane.state_dir})")
    with plane:
        _say(f"ready in {plane.started_seconds['ready']:.1f} s; API server {plane.url}")
        for name, pid in plane.pids().items():
            _say(f"  {name:<24} pid {pid:<8} log {plane.layout.log(name)}")
        if plane.node_count:
            _say(f"nodes: {', '.join(plane.node_names())} (kubesim kubelet, {plane.runtime} runtime)")
        _say(f"kubeconfig (admin, system:masters): {plane.kubeconfig}")
        _say(f"  kubectl --kubeconfig {plane.kubeconfig} get nodes,ns")
        _say("Ctrl-C (SIGINT) or SIGTERM stops everything")
        while not stop.wait(0.5):
            failed = [name for name, c in plane.components.items() if c.exit_code() is not None]
            if failed:
                _say(f"{', '.join(failed)} exited; stopping\n{plane.components[failed[0]].log_tail()}")
                return 1
        _say("stopping")
    _say("stopped")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="k8s-local", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build (or find in the cache) the binaries; print their directory")
    b.add_argument(
        "--version", default=DEFAULT_VERSION, help=f"Kubernetes release (default {DEFAULT_VERSION})"
    )
    b.add_argument(
        "--skip-without-go",
        action="store_true",
        help="without `go` on PATH, say so and succeed (make test outside CI) instead of failing",
    )
    b.set_defaults(func=_build)
    v = sub.add_parser("versions", help="print the releases of the test matrix, one per minor (newest last)")
    v.set_defaults(func=_versions)
    u = sub.add_parser("up", help="run a local control plane until SIGINT/SIGTERM")
    u.add_argument("--kubeconfig", required=True, type=Path, help="where to write the admin kubeconfig")
    u.add_argument(
        "--version", default=DEFAULT_VERSION, help=f"Kubernetes release (default {DEFAULT_VERSION})"
    )
    u.add_argument("--port", type=int, default=0, help="the API server's port (default: a free one)")
    u.add_argument(
        "--state-dir", type=Path, help="certificates, etcd data and logs (default: a temporary dir)"
    )
    u.add_argument(
        "--nodes", type=int, default=1, help="kubesim kubelet agents to start as nodes (default 1; 0: none)"
    )
    u.add_argument(
        "--runtime",
        choices=("fake", "process"),
        default="fake",
        help="the nodes' runtime: fake (nothing executes) or process (containers run as local processes)",
    )
    u.set_defaults(func=_up)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (build.SetupError, StartFailed, ValueError) as exc:
        print(f"k8s-local: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
