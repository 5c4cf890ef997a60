"""The spawner's pure parts: object builders, status reading, profiles."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from jupyternetes.spawner import objects, profiles, status


def _req(**kw: Any) -> objects.SpawnRequest:
    base: dict[str, Any] = dict(
        instance="jupyter-alice",
        namespace="hub",
        template="t",
        template_namespace="kadense",
        username="alice",
        user_id=7,
        server_name="",
        hub_namespace="hub",
        oauth_client_id="jupyterhub-user-alice",
        api_token="tok",
        env={
            "JUPYTERHUB_API_TOKEN": "tok",
            "JPY_API_TOKEN": "tok",
            "JUPYTERHUB_USER": "alice",
            "AWS_SECRET_ACCESS_KEY": "s3",
            "MY_SETTING": "x",
        },
    )
    base.update(kw)
    return objects.SpawnRequest(**base)


def test_sensitive_values_go_to_the_secret_only() -> None:
    plain, secret = objects.split_variables(_req(secret_variable_names=["db"], extra_variables={"db": "pw"}))
    assert set(secret) == {
        "jupyterhub.api_token",
        "jupyterhub.env.JUPYTERHUB_API_TOKEN",
        "jupyterhub.env.JPY_API_TOKEN",
        "jupyterhub.env.AWS_SECRET_ACCESS_KEY",
        "db",
    }
    assert "tok" not in plain.values()
    assert "s3" not in plain.values()
    assert "pw" not in plain.values()
    assert plain["jupyterhub.env.MY_SETTING"] == "x"
    assert plain["jupyterhub.user.id"] == "7"
    # Optional env names are always defined, so templates may reference them.
    assert plain["jupyterhub.env.JUPYTERHUB_DEFAULT_URL"] == ""


def test_profiles_cannot_override_the_hub_variables() -> None:
    plain, secret = objects.split_variables(
        _req(
            extra_variables={
                "jupyterhub.user.name": "mallory",
                "jupyterhub.api_token": "forged",
                "color": "blue",
            }
        )
    )
    assert plain["jupyterhub.user.name"] == "alice"
    assert secret["jupyterhub.api_token"] == "tok"
    assert plain["color"] == "blue"


def test_manifests() -> None:
    req = _req(server_name="Big Box", labels={"team": "a"})
    inst = objects.instance_manifest(req, {"a": "b"})
    assert inst["spec"] == {
        "template": {"name": "t", "namespace": "kadense"},
        "variables": {"a": "b"},
        "variablesFrom": [{"secretRef": {"name": "jupyter-alice-hub-vars"}}],
    }
    labels = inst["metadata"]["labels"]
    assert labels["hub.jupyter.org/servername"].startswith("Big-Box")  # made label-safe
    assert labels["team"] == "a"
    assert inst["metadata"]["annotations"]["hub.jupyter.org/servername"] == "Big Box"
    secret = objects.secret_manifest(req, {"jupyterhub.api_token": "tok"})
    assert base64.b64decode(secret["data"]["jupyterhub.api_token"]) == b"tok"
    purge = objects.instance_manifest(req, {}, purge=True)
    assert purge["metadata"]["annotations"]["jupyternetes.kadense.io/purge"] == "true"
    assert purge["metadata"]["finalizers"] == ["jupyternetes.kadense.io/purge"]
    owner = objects.owner_patch(
        {
            "apiVersion": "kadense.io/v1",
            "kind": "JupyterNotebookInstance",
            "metadata": {"name": "jupyter-alice", "uid": "u1"},
        }
    )
    assert owner["metadata"]["ownerReferences"][0]["uid"] == "u1"


@pytest.mark.parametrize(("name", "slug"), [("alice", "alice"), ("Alice", "alice-"), ("a.b@c", "a-b-c-")])
def test_dns_slug(name: str, slug: str) -> None:
    out = objects.dns_slug(name)
    assert out.startswith(slug)
    assert len(out) <= 63
    assert objects.dns_slug("A") != objects.dns_slug("a")


def _inst(conditions: list[dict[str, str]], **st: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "i", "namespace": "n"},
        "spec": {"template": {"name": "t"}},
        "status": {"conditions": conditions, **st},
    }


def test_poll_status() -> None:
    assert status.poll_status(None) == 0
    assert status.poll_status(_inst([])) is None
    assert status.poll_status({"metadata": {"deletionTimestamp": "x"}}) == 0
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": "PodFailed",
        "message": "pod x failed: container c exited with code 137",
    }
    assert status.poll_status(_inst([failed])) == 137
    assert status.poll_status(_inst([{**failed, "message": "no code"}])) == 1
    assert status.poll_status(_inst([{**failed, "reason": "PodCompleted"}])) == 0
    assert status.poll_status(_inst([{**failed, "reason": "PodDeleted"}])) == 0
    # A template error does not stop a running server.
    assert status.poll_status(_inst([{**failed, "reason": "TemplateNotFound"}])) is None


def test_failure_and_ready() -> None:
    fail = {"type": "Failed", "status": "True", "reason": "SecretNotFound", "message": "m"}
    assert status.failure(_inst([fail])) is None
    assert status.failure(_inst([{**fail, "reason": "RenderFailed"}])) == status.Failure("RenderFailed", "m")
    ready = {"type": "Ready", "status": "True", "reason": "PodsReady", "message": ""}
    assert status.ready_url(_inst([ready], address="1.2.3.4:8888")) == "http://1.2.3.4:8888"
    assert status.ready_url(_inst([ready])) is None
    assert status.ready_url(_inst([{**ready, "status": "False"}], address="1.2.3.4:8888")) is None


def test_progress_steps_rise() -> None:
    inst = _inst(
        [{"type": "Ready", "status": "True", "reason": "PodsReady", "message": ""}],
        pvcs={"w": {"resourceName": "i-w", "state": "Processed", "phase": "Bound"}},
        pods={"nb": {"resourceName": "i-nb", "state": "Running", "podAddress": "1.2.3.4", "ready": True}},
        podsProvisioned="Completed",
        address="1.2.3.4:8888",
    )
    steps = status.progress_steps(inst)
    assert [s.progress for s in steps] == sorted(s.progress for s in steps)
    assert [s.key for s in steps] == [
        "rendered",
        "pvc-created/w",
        "pvc-bound/w",
        "pods-created",
        "pod-scheduled/nb",
        "pod-running/nb",
        "pod-ready/nb",
        "ready",
    ]


def test_progress_names_the_node_and_the_image() -> None:
    starting = {
        "resourceName": "i-nb",
        "state": "Pending",
        "nodeName": "node-1",
        "podAddress": "1.2.3.4",
        "message": "pulling image quay.io/jupyter/base-notebook:x and starting container notebook",
    }
    inst = _inst([], pods={"nb": starting}, podsProvisioned="Completed")
    messages = [s.message for s in status.progress_steps(inst)]
    assert "Pod i-nb scheduled to node node-1, address 1.2.3.4" in messages
    assert (
        "Pod i-nb: pulling image quay.io/jupyter/base-notebook:x and starting container notebook" in messages
    )
    running = {**starting, "state": "Running", "message": "running, waiting for readiness"}
    inst = _inst([], pods={"nb": running}, podsProvisioned="Completed")
    messages = [s.message for s in status.progress_steps(inst)]
    assert "Pod i-nb running: image pulled, container started" in messages
    assert not any("waiting for readiness" in m for m in messages), "the running step says it"


def test_profile_parsing() -> None:
    parsed = profiles.parse_profiles([{"display_name": "A b"}, {"display_name": "C", "default": True}])
    assert [p.slug for p in parsed] == ["a-b", "c"]
    assert profiles.select_profile(parsed, {}) == parsed[1]
    assert profiles.select_profile(parsed, {"profile": "a-b"}) == parsed[0]
    assert profiles.select_profile([], {}) is None
    with pytest.raises(profiles.ProfileError, match="unknown key"):
        profiles.parse_profiles([{"display_name": "x", "kubespawner_override": {}}])
    with pytest.raises(profiles.ProfileError, match="duplicate"):
        profiles.parse_profiles([{"display_name": "x"}, {"display_name": "X"}])
    with pytest.raises(profiles.ProfileError, match="no profile"):
        profiles.select_profile(parsed, {"profile": "zzz"})
    assert profiles.options_form(parsed[:1]) == ""
    form = profiles.options_form(parsed)
    assert 'type="radio" name="profile"' in form
    assert 'value="c" checked' in form
    assert (
        profiles.options_form([profiles.Profile("<b>", "s"), profiles.Profile("y", "t")]).count("&lt;b&gt;")
        == 1
    )


DATA_PROFILE = {
    "display_name": "Data",
    "slug": "data",
    "variables": {"cpu": "1", "site": "lab"},
    "profile_options": {
        "size": {
            "display_name": "Size",
            "choices": {
                "small": {"display_name": "1 CPU", "variables": {"cpu": "1"}},
                "large": {"display_name": "2 CPUs", "default": True, "variables": {"cpu": "2"}},
            },
        },
        "image": {"choices": {"scipy": {}, "r": {"display_name": "R", "variables": {"image": "r"}}}},
    },
}


def test_profile_options() -> None:
    parsed = profiles.parse_profiles([{"display_name": "Small", "slug": "small"}, DATA_PROFILE])
    data = parsed[1]
    assert [o.key for o in data.options] == ["size", "image"]
    assert data.options[0].default_choice().slug == "large"
    assert data.options[1].default_choice().slug == "scipy"  # no default: the first
    assert data.options[1].choices[0].display_name == "scipy"  # no display_name: the name

    chosen = profiles.select(parsed, {"profile": "data"})
    assert chosen.variables() == {"cpu": "2", "site": "lab"}
    assert chosen.summary() == "size=large,image=scipy"
    chosen = profiles.select(parsed, {"profile": "data", "size": "small", "image": "r", "other": "x"})
    assert chosen.variables() == {"cpu": "1", "site": "lab", "image": "r"}
    assert chosen.summary() == "size=small,image=r"
    assert profiles.select(parsed, {"size": "small"}).summary() == ""  # the default profile has none
    with pytest.raises(profiles.ProfileError, match="no choice 'huge' for option 'size' of profile 'data'"):
        profiles.select(parsed, {"profile": "data", "size": "huge"})

    form = profiles.options_form(parsed, "data", {"size": "small"})
    assert '<select class="form-select" name="profile-option-data--size"' in form
    assert '<option value="small" selected>1 CPU</option>' in form
    assert '<option value="r">R</option>' in form
    # One profile with options still has a form: the options are choices.
    assert "profile-option-data--image" in profiles.options_form(parsed[1:])
    submitted = {
        "profile": ["data"],
        "profile-option-data--size": ["small"],
        "profile-option-small--size": ["ignored"],
    }
    assert profiles.options_from_form(submitted) == {"profile": "data", "size": "small"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": {"choices": {}}}, "choices must map choice names"),
        ({"size": {"choices": {"a": {"kubespawner_override": {}}}}}, "unknown key"),
        ({"size": {"choices": {"a": {}}, "unlisted_choice": {}}}, "unlisted_choice"),
        ({"profile": {"choices": {"a": {}}}}, "not 'profile'"),
        ({"size": {"choices": {"a": {"variables": {"cpu": 2}}}}}, "variables must map names to strings"),
        ([], "must map option names"),
    ],
)
def test_bad_profile_options_are_refused(options: object, message: str) -> None:
    with pytest.raises(profiles.ProfileError, match=message):
        profiles.parse_profiles([{"display_name": "x", "profile_options": options}])


def test_declared_enums_become_profile_options_unless_the_profile_decides() -> None:
    from jupyternetes.core.models import parse_template

    decls = parse_template(
        {
            "spec": {
                "variables": [
                    {"name": "size", "type": "enum", "enum": ["s", "l"], "default": "l"},
                    {"name": "image", "type": "enum", "enum": ["a", "b"], "description": "Image"},
                    {"name": "cpu", "type": "enum", "enum": ["1", "2"]},
                    {"name": "gpu", "type": "boolean"},
                ]
            }
        }
    ).spec.variables
    (profile,) = profiles.parse_profiles(
        [
            {
                "display_name": "P",
                "variables": {"CPU": "2"},
                "profile_options": {"image": {"choices": {"x": {"variables": {"image": "a"}}}}},
            }
        ]
    )
    out = profiles.with_declared_options(profile, decls)
    assert [o.key for o in out.options] == ["image", "size"]
    size = out.options[1]
    assert [(c.slug, c.default, dict(c.variables)) for c in size.choices] == [
        ("s", False, {"size": "s"}),
        ("l", True, {"size": "l"}),
    ]
    assert size.default_choice().slug == "l"
    assert profiles.with_declared_options(profile, []) is profile
