"""The go.mod files that build upstream binaries: staging modules replaced with the release's own."""

from __future__ import annotations

import pytest

from k8slocal import gomod
from k8slocal.versions import DEFAULT_VERSION, Release

UPSTREAM = """// This is a generated file. Do not edit directly.
module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
	github.com/blang/semver/v4 v4.0.0
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/kms => ./staging/src/k8s.io/kms
)
"""


def test_release_parses_and_names_its_staging_version() -> None:
    release = Release.parse("v1.34.4")
    assert (release.tag, release.staging, release.minor) == ("v1.34.4", "v0.34.4", 34)
    assert Release.parse("1.37.0").tag == "v1.37.0"
    with pytest.raises(ValueError, match="not a Kubernetes release version: 'latest'"):
        Release.parse("latest")


def test_staging_modules_are_every_local_replacement() -> None:
    assert gomod.staging_modules(UPSTREAM) == ["k8s.io/api", "k8s.io/client-go", "k8s.io/kms"]


def test_kubernetes_gomod_replaces_each_staging_module_with_the_release() -> None:
    text = gomod.kubernetes_gomod(Release.parse("v1.34.4"), UPSTREAM)
    assert gomod.requirement(text, "k8s.io/kubernetes") == "v1.34.4"
    assert gomod.replacements(text) == {
        "k8s.io/api": "k8s.io/api v0.34.4",
        "k8s.io/client-go": "k8s.io/client-go v0.34.4",
        "k8s.io/kms": "k8s.io/kms v0.34.4",
    }
    assert gomod.go_directive(text) == "1.24.0"
    assert "godebug default=go1.24" in text
    for command in gomod.KUBERNETES_COMMANDS:
        assert f"\t{command}\n" in text  # a tool directive: go mod tidy keeps what it needs


def test_a_go_mod_without_staging_modules_is_refused() -> None:
    with pytest.raises(ValueError, match="names no staging modules"):
        gomod.kubernetes_gomod(Release.parse("v1.34.4"), "module k8s.io/kubernetes\n\ngo 1.24.0\n")


def test_etcd_version_comes_from_the_release_dependencies() -> None:
    deps = 'dependencies:\n  - name: "etcd"\n    version: 3.6.5\n    refPaths:\n  - name: "etcd-image"\n'
    assert gomod.etcd_version_of(deps) == "v3.6.5"
    assert "require go.etcd.io/etcd/server/v3 v3.6.5" in gomod.etcd_gomod("v3.6.5", "1.24.0")
    with pytest.raises(ValueError, match='no "etcd" dependency'):
        gomod.etcd_version_of("dependencies: []\n")


def test_the_committed_modules_build_the_default_release() -> None:
    """tools/k8s is what builds the default release: it must name it, with every staging module replaced
    by the same release (the full check against upstream's go.mod runs in tests/integration/k8slocal)."""
    from k8slocal.build import REPO_MODULES

    text = (REPO_MODULES / "kubernetes" / "go.mod").read_text()
    release = Release.parse(DEFAULT_VERSION)
    assert gomod.requirement(text, "k8s.io/kubernetes") == release.tag
    replaced = gomod.replacements(text)
    assert len(replaced) >= 25
    assert set(replaced.values()) == {f"{module} {release.staging}" for module in replaced}
    etcd = (REPO_MODULES / "etcd" / "go.mod").read_text()
    assert gomod.requirement(etcd, gomod.ETCD_SERVER) == "v3.6.5"
