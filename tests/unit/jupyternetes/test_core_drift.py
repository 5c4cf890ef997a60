"""What a template change would change for a running instance (core.drift), and a template's usage."""

from __future__ import annotations

import copy
from typing import Any

from jupyternetes.core.drift import describe_drift, plan_drift, template_usage
from jupyternetes.core.models import parse_template
from jupyternetes.core.rendering import RenderContext, RenderPlan, render_template

POD: dict[str, Any] = {
    "name": "main",
    "spec": {
        "containers": [
            {
                "name": "nb",
                "image": "img:1",
                "resources": {"limits": {"memory": "1024Mi"}},
                "env": [{"name": "A", "value": "1"}],
                "volumeMounts": [{"name": "work", "mountPath": "/w"}],
            }
        ],
        "volumes": [{"name": "work", "emptyDir": {}}],
    },
}


def _plan(pod: dict[str, Any]) -> RenderPlan:
    spec = parse_template({"spec": {"pods": [pod]}}).spec
    ctx = RenderContext(
        instance_name="i", instance_namespace="ns", template_name="t", template_namespace="ns"
    )
    return render_template(spec, ctx)


def _live(plan: RenderPlan) -> dict[str, Any]:
    """The pod as the API server stores it: defaults and the ServiceAccount token's volume added,
    quantities canonical."""
    pod = copy.deepcopy(plan.pods[0].manifest)
    c = pod["spec"]["containers"][0]
    c.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
    c["resources"]["limits"]["memory"] = "1Gi"
    c["volumeMounts"].append({"name": "kube-api-access-x1", "mountPath": "/var/run/secrets"})
    pod["spec"]["volumes"].append({"name": "kube-api-access-x1", "projected": {}})
    pod["spec"]["restartPolicy"] = "Always"
    pod["status"] = {"phase": "Running"}
    return {plan.pods[0].name: pod}


def test_the_same_template_does_not_drift_from_what_the_api_server_stores() -> None:
    plan = _plan(POD)
    assert plan_drift(plan, _live(plan)) == []


def test_changes_are_named_by_aspect() -> None:
    live = _live(_plan(POD))
    new = copy.deepcopy(POD)
    c = new["spec"]["containers"][0]
    c["image"] = "img:2"
    c["resources"] = {"limits": {"memory": "2Gi"}}
    c["env"].append({"name": "B", "value": "2"})
    new["spec"]["nodeSelector"] = {"gpu": "yes"}
    assert plan_drift(_plan(new), live) == ["env", "image", "nodeSelector", "resources"]
    removed = copy.deepcopy(POD)
    removed["spec"]["volumes"] = [{"name": "work", "persistentVolumeClaim": {"claimName": "c"}}]
    assert plan_drift(_plan(removed), live) == ["volumes"]
    extra = copy.deepcopy(POD)
    extra["spec"]["containers"].append({"name": "side", "image": "s:1"})
    assert plan_drift(_plan(extra), live) == ["containers"]


def test_usage_counts_by_generation_and_outdated() -> None:
    def inst(
        gen: int | None, outdated: bool = False, uid: str = "u", deleting: bool = False
    ) -> dict[str, Any]:
        status: dict[str, Any] = {"templateUid": uid}
        if gen is not None:
            status["templateGeneration"] = gen
        status["conditions"] = [{"type": "TemplateOutdated", "status": "True" if outdated else "False"}]
        meta = {"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {}
        return {"metadata": meta, "status": status}

    usage = template_usage(
        [inst(1, True), inst(1, True), inst(2), inst(None), inst(1, uid="old"), inst(2, deleting=True)],
        "u",
        2,
    )
    assert (usage.instances, usage.outdated, usage.instances_by_generation, usage.observed_generation) == (
        5,
        2,
        {"1": 2, "2": 1},
        2,
    )


def test_the_message_names_the_template_generations_and_aspects() -> None:
    msg = describe_drift("ns/t", 1, 3, ["image", "resources"])
    assert msg.startswith(
        "template ns/t changed since this server started (generation 1 -> 3): image, resources"
    )


def test_durations_and_expiry() -> None:
    import datetime as dt

    import pytest

    from jupyternetes.core.lifetime import expires_at, parse_duration

    assert parse_duration("12h") == dt.timedelta(hours=12)
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("1.5s") == dt.timedelta(seconds=1.5)
    for bad in ("", "12", "1d", "h", "1h 2m", "-1h"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)
    assert expires_at("2026-01-01T00:00:00Z", "90m") == dt.datetime(2026, 1, 1, 1, 30, tzinfo=dt.UTC)
