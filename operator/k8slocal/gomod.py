"""go.mod files of the modules that build upstream binaries (pure: text in, text out).

``k8s.io/kubernetes`` requires its ~30 staging modules (k8s.io/api, k8s.io/client-go, ...) at ``v0.0.0``
and replaces them with ``./staging/src/...`` directories, which only resolve inside its own repository.
A module that builds its commands must replace every one of them with the published ``v0.MINOR.PATCH``
(kubernetes/kubernetes#79384). No library writes these files for us; ``go mod tidy`` completes them.
"""

from __future__ import annotations

import re

from k8slocal.versions import Release

KUBERNETES = "k8s.io/kubernetes"
KUBERNETES_COMMANDS = (
    "k8s.io/kubernetes/cmd/kube-apiserver",
    "k8s.io/kubernetes/cmd/kube-controller-manager",
    "k8s.io/kubernetes/cmd/kube-scheduler",
)
ETCD_SERVER = "go.etcd.io/etcd/server/v3"

_STAGING_REPLACE = re.compile(r"^\s*(?:replace\s+)?(k8s\.io/[\w.-]+)\s+=>\s+\./staging/src/\S+\s*$", re.M)
_GO_DIRECTIVE = re.compile(r"^go\s+(\d+\.\d+(?:\.\d+)?)\s*$", re.M)
_GODEBUG = re.compile(r"^godebug\s+\S.*$", re.M)


def staging_modules(upstream_gomod: str) -> list[str]:
    """The staging modules k8s.io/kubernetes replaces with directories of its own repository."""
    return sorted(set(_STAGING_REPLACE.findall(upstream_gomod)))


def go_directive(gomod: str) -> str:
    """The ``go`` line of a go.mod: the oldest Go that builds the module."""
    match = _GO_DIRECTIVE.search(gomod)
    if match is None:
        raise ValueError("go.mod has no go directive")
    return match.group(1)


def kubernetes_gomod(release: Release, upstream_gomod: str) -> str:
    """A module that builds kube-apiserver, kube-controller-manager and kube-scheduler at ``release``,
    given the go.mod of k8s.io/kubernetes at that release (``go mod tidy`` then fills in the rest)."""
    staging = staging_modules(upstream_gomod)
    if not staging:
        raise ValueError(f"the go.mod of {KUBERNETES} {release} names no staging modules")
    lines = [
        "module jupyternetes/tools/k8s/kubernetes",
        "",
        f"go {go_directive(upstream_gomod)}",
        "",
    ]
    godebug = _GODEBUG.search(upstream_gomod)
    if godebug:
        lines += [godebug.group(0), ""]
    lines += [f"require {KUBERNETES} {release.tag}", "", "tool ("]
    lines += [f"\t{cmd}" for cmd in KUBERNETES_COMMANDS]
    lines += [")", "", "replace ("]
    lines += [f"\t{module} => {module} {release.staging}" for module in staging]
    lines += [")", ""]
    return "\n".join(lines)


def etcd_gomod(etcd_version: str, go_version: str) -> str:
    """A module of its own for etcd, so etcd's dependencies do not move the apiserver's."""
    return "\n".join(
        [
            "module jupyternetes/tools/k8s/etcd",
            "",
            f"go {go_version}",
            "",
            f"require {ETCD_SERVER} {etcd_version}",
            "",
            f"tool {ETCD_SERVER}",
            "",
        ]
    )


_ETCD_DEPENDENCY = re.compile(r'-\s+name:\s+"etcd"\s*\n\s+version:\s*"?v?([\d.]+)"?')


def etcd_version_of(dependencies_yaml: str) -> str:
    """The etcd a Kubernetes release is tested with, from its ``build/dependencies.yaml``."""
    match = _ETCD_DEPENDENCY.search(dependencies_yaml)
    if match is None:
        raise ValueError('build/dependencies.yaml names no "etcd" dependency')
    return f"v{match.group(1)}"


def requirement(gomod: str, module: str) -> str | None:
    """The version a go.mod requires of ``module``, or None."""
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", gomod, re.M)
    return match.group(1) if match else None


def replacements(gomod: str) -> dict[str, str]:
    """``module => module version`` replacements of a go.mod."""
    found = re.findall(r"^\s*(?:replace\s+)?(\S+)\s+=>\s+(\S+)\s+(v\S+)\s*$", gomod, re.M)
    return {old: f"{new} {version}" for old, new, version in found}
