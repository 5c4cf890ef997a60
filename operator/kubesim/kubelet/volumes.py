"""A pod's volumes on the host: each volume of the pod spec resolved to a host directory (or file).

* ``emptyDir``: ``<pod dir>/volumes/kubernetes.io~empty-dir/<name>`` (``medium: Memory`` too: no tmpfs);
* ``configMap`` / ``secret`` / ``downwardAPI`` / ``projected`` (configMap, secret, downwardAPI and
  serviceAccountToken sources: a token the API server issues through TokenRequest, bound to the pod):
  files written once when the pod starts (later changes to the ConfigMap are not propagated, and a
  projected token is not renewed);
* ``hostPath``: the path itself (``DirectoryOrCreate`` / ``FileOrCreate`` create it);
* ``persistentVolumeClaim``: the directory of the bound PersistentVolume (its ``hostPath`` or ``local``
  path), read through the API: what kubesim's storage controller or upstream's host-path provisioner made;
* any other type: an empty per-pod directory.

In ``fake`` mode nothing is written, but missing ConfigMaps/Secrets/PVCs still hold the pod in
``ContainerCreating`` with ``FailedMount`` events, as on a real node.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubesim.errors import ApiError
from kubesim.kubelet.client import PVCS, PVS, SERVICEACCOUNTS, NodeClient
from kubesim.kubelet.envvars import ConfigError, field_ref, resource_field_ref

Obj = dict[str, Any]
Lookup = Callable[[str, str], Awaitable[Obj | None]]


class VolumeError(Exception):
    """A volume cannot be set up (upstream: a ``FailedMount`` event, the pod stays ContainerCreating)."""


def bound_path(pvc: Obj | None, pv: Obj | None) -> Path | None:
    """The directory backing a claim: the PV it is Bound to, if that PV is bound back to this claim and
    has a ``hostPath`` or ``local`` path (the storage controller's contract; upstream's host-path
    provisioner makes such PVs too)."""
    if pvc is None or pv is None or (pvc.get("status") or {}).get("phase") != "Bound":
        return None
    if (pvc.get("spec") or {}).get("volumeName") != pv["metadata"]["name"]:
        return None
    spec = pv.get("spec") or {}
    claim_ref = spec.get("claimRef") or {}
    if claim_ref.get("uid") and claim_ref["uid"] != pvc["metadata"].get("uid"):
        return None
    path = (spec.get("hostPath") or {}).get("path") or (spec.get("local") or {}).get("path")
    return Path(path) if path else None


def _decode(value: str) -> bytes:
    try:
        return base64.b64decode(value)
    except ValueError:
        return value.encode()


def _write_files(directory: Path, files: dict[str, tuple[bytes, int]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for rel, (content, mode) in files.items():
        target = directory / rel
        if ".." in Path(rel).parts:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(content)
        tmp.chmod(mode)
        tmp.replace(target)


def _keyed_files(
    kind: str, ns: str, name: str, data: dict[str, bytes], items: Any, default_mode: int, optional: bool
) -> dict[str, tuple[bytes, int]]:
    out: dict[str, tuple[bytes, int]] = {}
    if items:
        for item in items:
            key = item.get("key")
            if key not in data:
                if optional:
                    continue
                raise VolumeError(
                    f"configmap references non-existent config key: {key}"
                    if kind == "configmap"
                    else f"references non-existent secret key: {key}"
                )
            out[str(item.get("path") or key)] = (data[key], int(item.get("mode") or default_mode))
    else:
        for key, value in data.items():
            out[key] = (value, default_mode)
    return out


def _configmap_data(cm: Obj) -> dict[str, bytes]:
    data = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    data.update({k: _decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return data


def _secret_data(secret: Obj) -> dict[str, bytes]:
    data = {k: _decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()})
    return data


class VolumeResolver:
    """Resolves a pod's volumes: ConfigMaps and Secrets from the node's watched objects (``configmap``,
    ``secret``: synchronous lookups of what was fetched for the pod), claims and tokens through the API."""

    def __init__(
        self, client: NodeClient, configmap: Lookup, secret: Lookup, allocatable: dict[str, str]
    ) -> None:
        self.client = client
        self.configmap = configmap
        self.secret = secret
        self.allocatable = allocatable

    async def claim_path(self, namespace: str, claim: str) -> Path | None:
        try:
            pvc = await self.client.get(PVCS, namespace, claim)
            volume = ((pvc or {}).get("spec") or {}).get("volumeName")
            pv = await self.client.get(PVS, "", volume) if volume else None
        except (ApiError, ConnectionError):
            return None
        return bound_path(pvc, pv)

    async def service_account_token(self, pod: Obj, vol_name: str, src: Obj) -> bytes:
        """A token for the pod's ServiceAccount, bound to the pod (TokenRequest), as the kubelet projects."""
        meta = pod["metadata"]
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        spec: Obj = {
            "expirationSeconds": int(src.get("expirationSeconds") or 3600),
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]},
        }
        if src.get("audience"):
            spec["audiences"] = [str(src["audience"])]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        try:
            answer = await self.client.create(
                SERVICEACCOUNTS, meta.get("namespace", ""), body, name=account, subresource="token"
            )
        except (ApiError, ConnectionError) as exc:
            raise VolumeError(
                f'MountVolume.SetUp failed for volume "{vol_name}" : failed to fetch token: {exc}'
            ) from exc
        return str((answer.get("status") or {}).get("token") or "").encode()

    async def _source_files(
        self,
        pod: Obj,
        vol_name: str,
        kind: str,
        src: Obj,
        default_mode: int,
        pod_ip: str | None,
        host_ip: str,
    ) -> dict[str, tuple[bytes, int]]:
        ns = pod["metadata"].get("namespace", "")
        optional = bool(src.get("optional"))
        if kind == "configMap":
            cm = await self.configmap(ns, src.get("name", ""))
            if cm is None:
                if optional:
                    return {}
                raise VolumeError(
                    f'MountVolume.SetUp failed for volume "{vol_name}" : configmap '
                    f'"{src.get("name", "")}" not found'
                )
            return _keyed_files(
                "configmap",
                ns,
                src.get("name", ""),
                _configmap_data(cm),
                src.get("items"),
                default_mode,
                optional,
            )
        if kind == "secret":
            name = src.get("secretName") or src.get("name") or ""
            sec = await self.secret(ns, name)
            if sec is None:
                if optional:
                    return {}
                raise VolumeError(
                    f'MountVolume.SetUp failed for volume "{vol_name}" : secret "{name}" not found'
                )
            return _keyed_files(
                "secret", ns, name, _secret_data(sec), src.get("items"), default_mode, optional
            )
        if kind == "downwardAPI":
            out: dict[str, tuple[bytes, int]] = {}
            for item in src.get("items") or ():
                try:
                    if item.get("fieldRef"):
                        value = field_ref(pod, str(item["fieldRef"].get("fieldPath", "")), pod_ip, host_ip)
                    elif item.get("resourceFieldRef"):
                        containers = pod.get("spec", {}).get("containers") or [{}]
                        value = resource_field_ref(
                            pod, containers[0], item["resourceFieldRef"], self.allocatable
                        )
                    else:
                        continue
                except ConfigError as exc:
                    raise VolumeError(f'MountVolume.SetUp failed for volume "{vol_name}" : {exc}') from exc
                out[str(item.get("path"))] = (value.encode(), int(item.get("mode") or default_mode))
            return out
        return {}

    async def resolve(
        self, pod: Obj, pod_dir: Path, *, write: bool, pod_ip: str | None, host_ip: str
    ) -> dict[str, Path]:
        """Host paths of the pod's volumes by name; raises :class:`VolumeError` (first failure)."""
        ns = pod["metadata"].get("namespace", "")
        out: dict[str, Path] = {}
        for vol in pod.get("spec", {}).get("volumes") or ():
            name = str(vol.get("name"))
            base = pod_dir / "volumes"
            if vol.get("persistentVolumeClaim") is not None:
                claim = str(vol["persistentVolumeClaim"].get("claimName", ""))
                path = await self.claim_path(ns, claim)
                if path is None:
                    raise VolumeError(
                        f'MountVolume.SetUp failed for volume "{name}" : persistentvolumeclaim '
                        f'"{claim}" is not bound'
                    )
                if write:
                    path.mkdir(parents=True, exist_ok=True)
                out[name] = path
            elif vol.get("hostPath") is not None:
                hp = vol["hostPath"]
                path = Path(str(hp.get("path", "")))
                htype = hp.get("type") or ""
                if write:
                    if htype == "DirectoryOrCreate":
                        path.mkdir(parents=True, exist_ok=True)
                    elif htype == "FileOrCreate" and not path.exists():
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.touch()
                    elif htype == "Directory" and not path.is_dir():
                        raise VolumeError(
                            f'MountVolume.SetUp failed for volume "{name}" : hostPath type check '
                            f"failed: {path} is not a directory"
                        )
                    elif htype == "File" and not path.is_file():
                        raise VolumeError(
                            f'MountVolume.SetUp failed for volume "{name}" : hostPath type check '
                            f"failed: {path} is not a file"
                        )
                out[name] = path
            elif any(vol.get(k) is not None for k in ("configMap", "secret", "downwardAPI", "projected")):
                files: dict[str, tuple[bytes, int]] = {}
                kind = next(
                    k for k in ("configMap", "secret", "downwardAPI", "projected") if vol.get(k) is not None
                )
                src = vol[kind]
                mode = int(src.get("defaultMode") or 0o644)
                if kind == "projected":
                    for source in src.get("sources") or ():
                        for sub in ("configMap", "secret", "downwardAPI"):
                            if source.get(sub) is not None:
                                files.update(
                                    await self._source_files(
                                        pod, name, sub, source[sub], mode, pod_ip, host_ip
                                    )
                                )
                        token = source.get("serviceAccountToken")
                        if token is not None and write:
                            content = await self.service_account_token(pod, name, token)
                            files[str(token.get("path") or "token")] = (content, mode)
                else:
                    files = await self._source_files(pod, name, kind, src, mode, pod_ip, host_ip)
                path = base / f"kubernetes.io~{kind.lower()}" / name
                if write:
                    _write_files(path, files)
                out[name] = path
            else:
                path = base / "kubernetes.io~empty-dir" / name
                if write:
                    path.mkdir(parents=True, exist_ok=True)
                    os.chmod(path, 0o777)
                out[name] = path
        return out
