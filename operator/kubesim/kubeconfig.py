"""Writing kubeconfig files: one cluster, one user, one context, written atomically."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def cluster_entry(server: str, ca_pem: bytes | None) -> dict[str, str]:
    entry = {"server": server}
    if ca_pem:
        entry["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return entry


def token_user(token: str) -> dict[str, str]:
    return {"token": token}


def certificate_user(cert_pem: bytes, key_pem: bytes) -> dict[str, str]:
    return {
        "client-certificate-data": base64.b64encode(cert_pem).decode(),
        "client-key-data": base64.b64encode(key_pem).decode(),
    }


def write_kubeconfig(
    path: str | os.PathLike[str],
    *,
    cluster: dict[str, str],
    user: dict[str, Any],
    user_name: str,
    cluster_name: str,
    namespace: str = "default",
) -> str:
    """Write the kubeconfig atomically (mode 0600), so a waiting script never reads half a file."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [
            {
                "name": cluster_name,
                "context": {"cluster": cluster_name, "user": user_name, "namespace": namespace},
            }
        ],
        "current-context": cluster_name,
        "preferences": {},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(target)
    return str(target)
