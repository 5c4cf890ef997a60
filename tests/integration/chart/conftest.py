"""Helpers for the Helm chart tests: render it with the real ``helm``, read the repository's files."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "jupyternetes"
RELEASE = "jn"
NAMESPACE = "jhub"

Obj = dict[str, Any]


def helm_binary() -> str:
    """The real helm (installed into the venv by tools/fetch_k8s_binaries.py, which `make test` runs)."""
    found = shutil.which("helm") or shutil.which("helm", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(
            "helm not found: run `make test` (tools/fetch_k8s_binaries.py installs it into .venv/bin)"
        )
    return found


def kubectl_binary() -> str:
    """The real kubectl (installed into the venv beside helm)."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if found is None:
        pytest.fail(
            "kubectl not found: run `make test` (tools/fetch_k8s_binaries.py installs it into .venv/bin)"
        )
    return found


def helm_env(home: Path, kubeconfig: str | None = None) -> dict[str, str]:
    """An environment that keeps helm's cache and config out of the user's home."""
    env = dict(os.environ)
    env.update(
        {
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
    )
    if kubeconfig is not None:
        env["KUBECONFIG"] = kubeconfig
    else:
        env.pop("KUBECONFIG", None)
    return env


def helm(
    args: Iterable[str],
    home: Path,
    *,
    kubeconfig: str | None = None,
    check: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [helm_binary(), *args],
        env=helm_env(home, kubeconfig),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def values_file(tmp: Path, values: Mapping[str, Any], name: str = "values.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(dict(values), sort_keys=False))
    return path


def render(
    tmp: Path,
    values: Mapping[str, Any] | None = None,
    *,
    api_versions: Iterable[str] = (),
    namespace: str = NAMESPACE,
    include_crds: bool = False,
) -> list[Obj]:
    """``helm template`` the chart and return its objects."""
    args = ["template", RELEASE, str(CHART), "--namespace", namespace]
    if values:
        args += ["--values", str(values_file(tmp, values))]
    for api in api_versions:
        args += ["--api-versions", api]
    if include_crds:
        args.append("--include-crds")
    out = helm(args, tmp / "helm").stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def render_error(tmp: Path, values: Mapping[str, Any], *, api_versions: Iterable[str] = ()) -> str:
    """The error of a ``helm template`` that must fail."""
    args = [
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--values",
        str(values_file(tmp, values)),
    ]
    for api in api_versions:
        args += ["--api-versions", api]
    proc = helm(args, tmp / "helm", check=False)
    assert proc.returncode != 0, f"helm template should have failed with {values}:\n{proc.stdout}"
    return proc.stderr


def by_kind(objs: Iterable[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o.get("kind") == kind]


def one(objs: Iterable[Obj], kind: str, name: str, namespace: str | None = None) -> Obj:
    found = [
        o
        for o in objs
        if o.get("kind") == kind
        and o["metadata"]["name"] == name
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"expected one {kind} {namespace}/{name}, found {len(found)}"
    return found[0]


def operator_args(objs: Iterable[Obj]) -> list[str]:
    deployment = one(objs, "Deployment", f"{RELEASE}-jupyternetes-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return [str(a) for a in container["args"]]


def flag_values(args: Iterable[str], flag: str) -> list[str]:
    return [a.split("=", 1)[1] for a in args if a.startswith(flag + "=")]


def serve_webhook_locally(
    args: list[str], tls_data: Mapping[str, str], directory: Path, port: int
) -> list[str]:
    """The operator's arguments with its admission webhook served on 127.0.0.1:`port` from the chart's
    certificate (`tls_data`: the webhook Secret's base64 data, as the pod mounts it), written to
    `directory`. Arguments without a webhook are returned as they are."""
    if not any(a.startswith("--webhook-port=") for a in args):
        return args
    for key in ("tls.crt", "tls.key"):
        (directory / key).write_bytes(base64.b64decode(tls_data[key]))
    moved = {
        "--webhook-port=": f"--webhook-port={port}",
        "--webhook-cert=": f"--webhook-cert={directory / 'tls.crt'}",
        "--webhook-key=": f"--webhook-key={directory / 'tls.key'}",
    }
    return [next((v for k, v in moved.items() if a.startswith(k)), a) for a in args] + [
        "--webhook-addr=127.0.0.1"
    ]
