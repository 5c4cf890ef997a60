"""The Zero to JupyterHub example (examples/z2jh/config.yaml) turned into a hub configuration the way z2jh's
own jupyterhub_config.py does it (``hub.config`` sections merged into ``c``, then every ``hub.extraConfig``
snippet executed in key order), without the z2jh chart: it selects JupyternetesSpawner with the intended
traits, and the spawner accepts them."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from traitlets.config import Config

from tests.integration.chart.conftest import ROOT

EXAMPLE = ROOT / "examples" / "z2jh" / "config.yaml"
SPAWNER = "jupyternetes.spawner.JupyternetesSpawner"


def z2jh_hub_config(values: dict[str, Any], environ: dict[str, str]) -> Config:
    """What z2jh's jupyterhub_config.py makes of ``hub.config`` and ``hub.extraConfig``."""
    c = Config()
    hub = values.get("hub") or {}
    for section, settings in (hub.get("config") or {}).items():
        c[section].update(settings)
    for key, snippet in sorted((hub.get("extraConfig") or {}).items()):
        code = compile(snippet, f"<hub.extraConfig.{key}>", "exec")
        exec(code, {"c": c, "get_config": lambda: c, "__name__": "jupyterhub_config"})
    return c


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("POD_NAMESPACE", "jhub-prod")  # z2jh gives the hub pod its namespace
    values = yaml.safe_load(EXAMPLE.read_text())
    return z2jh_hub_config(values, {})


def test_example_selects_the_jupyternetes_spawner(config: Config) -> None:
    assert config.JupyterHub.spawner_class == SPAWNER
    spawner = config.JupyternetesSpawner
    assert spawner.template_name == "default"
    assert spawner.template_namespace == "jhub-prod", "set by hub.extraConfig from $POD_NAMESPACE"
    assert spawner.start_timeout == 300
    assert spawner.extra_variables == {"cpu.limit": "1"}
    assert [p["slug"] for p in spawner.profile_list] == ["minimal", "datascience"]
    assert spawner.profile_list[1]["template"] == "datascience"


def test_the_spawner_accepts_the_example(config: Config) -> None:
    module, _, name = SPAWNER.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    from jupyterhub.spawner import Spawner

    assert issubclass(cls, Spawner)
    spawner = cls(config=config)
    assert spawner.template_name == "default"
    assert spawner.template_namespace == "jhub-prod"
    assert spawner.namespace == "jhub-prod", "instances default to the hub's namespace"
    assert spawner.start_timeout == 300
    assert dict(spawner.extra_variables) == {"cpu.limit": "1"}
    assert [p["display_name"] for p in spawner.profile_list] == ["Minimal environment", "Data science"]
    configured = set(config.JupyternetesSpawner)
    assert configured <= set(cls.class_trait_names(config=True)), configured - set(cls.class_trait_names())


def test_example_leaves_the_hub_without_kubespawner_rights() -> None:
    values = yaml.safe_load(EXAMPLE.read_text())
    assert values["rbac"]["create"] is False, "z2jh's Role would give the hub pods, PVCs and secrets"
    assert values["scheduling"]["userScheduler"]["enabled"] is False
    assert values["prePuller"]["hook"]["enabled"] is False


def test_chart_default_template_admits_pods_through_z2jh_network_policy(tmp_path: Path) -> None:
    from tests.integration.chart.conftest import one, render

    template = one(render(tmp_path), "JupyterNotebookTemplate", "default")
    assert template["spec"]["pods"][0]["labels"]["hub.jupyter.org/network-access-hub"] == "true"


def test_hub_image_and_z2jh_chart_versions_agree() -> None:
    """The hub image is z2jh's k8s-hub of one release; CI and the docs deploy that same z2jh chart."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    hub_tag = re.search(r"ARG HUB_IMAGE=quay\.io/jupyterhub/k8s-hub:(\S+)", dockerfile)
    assert hub_tag is not None
    workflow = (ROOT / ".github" / "workflows" / "e2e-kind.yml").read_text()
    z2jh = re.search(r"Z2JH_VERSION: (\S+)", workflow)
    assert z2jh is not None
    assert z2jh.group(1) == hub_tag.group(1)
    for doc in (EXAMPLE, ROOT / "docs" / "z2jh.md"):
        assert f"--version {hub_tag.group(1)}" in doc.read_text(), doc


def helm_merge(base: Any, override: Any) -> Any:
    """Values files combined as helm does: maps merged key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {k: helm_merge(base.get(k), v) if k in base else v for k, v in override.items()} | {
            k: v for k, v in base.items() if k not in override
        }
    return override


def test_the_kind_e2e_values_keep_the_example_and_add_the_suites_profiles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kind job installs z2jh with the example's values and tests/e2e/kind-values.yaml over them."""
    monkeypatch.setenv("POD_NAMESPACE", "jhub")
    kind_values = yaml.safe_load((ROOT / "tests" / "e2e" / "kind-values.yaml").read_text())
    values = helm_merge(yaml.safe_load(EXAMPLE.read_text()), kind_values)
    c = z2jh_hub_config(values, {})
    assert c.JupyterHub.spawner_class == SPAWNER
    assert c.JupyternetesSpawner.template_name == "default"
    assert c.JupyternetesSpawner.template_namespace == "jhub"
    assert c.Spawner.poll_interval == 2
    slugs = ["default", "announcement", "broken", "oversized", "brief", "changing", "data"]
    assert [p["slug"] for p in c.JupyternetesSpawner.profile_list] == slugs
    assert values["rbac"]["create"] is False, "still without kubespawner's rights"
    assert values["hub"]["allowNamedServers"] is True
    assert values["hub"]["image"] == {"name": "jupyternetes-hub", "tag": "ci", "pullPolicy": "Never"}
    assert values["hub"]["loadRoles"]["e2e"]["services"] == ["e2e"]
    module, _, name = SPAWNER.rpartition(".")
    spawner = getattr(importlib.import_module(module), name)(config=c)
    assert [p["slug"] for p in spawner.profile_list] == slugs
