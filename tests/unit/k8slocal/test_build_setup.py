"""Bad set-up gets one clear line: no Go, a Go too old, a full disk, a failing package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from k8slocal import build


def test_missing_go_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(build.SetupError) as info:
        build._go()
    assert str(info.value).startswith("`go` is not on PATH: install Go 1.24 or newer")
    assert "\n" not in str(info.value)


def _fake_go(tmp_path: Path, version: str) -> str:
    go = tmp_path / "go"
    go.write_text(f"#!/bin/sh\necho {version}\n")
    go.chmod(0o755)
    return str(go)


def test_old_go_is_refused_with_the_version_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOTOOLCHAIN", raising=False)
    go = _fake_go(tmp_path, "go1.22.5")
    with pytest.raises(build.SetupError) as info:
        build.check_go(go, "1.24.0")
    message = str(info.value)
    assert message.startswith("go1.22.5 is older than the Go 1.24.0 this release needs")
    assert "GOTOOLCHAIN=go1.24.0" in message
    assert build.check_go(_fake_go(tmp_path, "go1.26.8"), "1.24.0") == "go1.26.8"


def test_a_pinned_toolchain_lets_go_fetch_what_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOTOOLCHAIN", "go1.27.3")
    assert build.check_go(_fake_go(tmp_path, "go1.22.5"), "1.27.0") == "go1.22.5"


def test_full_disk_is_said_before_building(tmp_path: Path) -> None:
    with pytest.raises(build.SetupError) as info:
        build.check_disk([tmp_path / "not" / "yet"], needed=2**62)
    assert "GiB free on the disk holding" in str(info.value)
    assert "needs about" in str(info.value)
    build.check_disk([tmp_path], needed=1)


def test_build_failure_names_the_package_and_shows_the_tail() -> None:
    output = "\n".join(
        [f"k8s.io/pkg{i}" for i in range(40)]
        + [
            "# k8s.io/apiserver/pkg/server",
            "server.go:12:2: undefined: Foo",
            "server.go:13:2: too many errors",
        ]
    )
    error = build._go_failure("building kube-apiserver", output)
    first, *rest = str(error).splitlines()
    assert (
        first
        == "building kube-apiserver failed in package k8s.io/apiserver/pkg/server; the tail of go's output:"
    )
    assert rest[-1] == "server.go:13:2: too many errors"
    assert len(rest) == 20
    full = build._go_failure("building etcd", "write /x: no space left on device")
    assert str(full) == "building etcd: the disk is full (no space left on device); free some space"


def test_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JUPYTERNETES_CACHE", str(tmp_path / "c"))
    assert build.cache_root() == tmp_path / "c"
    monkeypatch.delenv("JUPYTERNETES_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert build.cache_root() == tmp_path / "x" / "jupyternetes"
    assert os.fspath(build.cache_root()).endswith("jupyternetes")


def test_find_never_builds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JUPYTERNETES_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")  # no go: find must not need it
    assert build.find() is None
    assert build.find("v1.99.0") is None
