"""ControlPlane.wait_for_garbage_collector: once it returns, the dependents of a deleted custom resource of
a kind installed a moment earlier are collected at once (the collector learns new kinds only at its 30-s
discovery resync)."""

from __future__ import annotations

from typing import Any

import k8slocal
from tests.conftest import wait_until

GROUP = "probe.k8slocal.test"
CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


def test_dependents_of_a_new_kind_are_collected_once_it_returns(binaries: k8slocal.Binaries) -> None:
    with k8slocal.ControlPlane(binaries=binaries) as plane:
        status, body = plane.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
        assert status == 201, body
        waited = plane.wait_for_garbage_collector(f"{GROUP}/v1", "Widget", "widgets")
        assert 0 <= waited <= 90
        widgets = f"/apis/{GROUP}/v1/namespaces/default/widgets"
        status, owner = plane.request(
            "POST", widgets, {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"}}
        )
        assert status == 201, owner
        ref = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "name": "w", "uid": owner["metadata"]["uid"]}
        status, body = plane.request(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"metadata": {"name": "dep", "ownerReferences": [ref]}},
        )
        assert status == 201, body
        assert plane.request("DELETE", f"{widgets}/w")[0] == 200
        wait_until(
            lambda: plane.request("GET", "/api/v1/namespaces/default/configmaps/dep")[0] == 404,
            timeout=10,
            message="the dependent collected within seconds",
        )
        # The probes are gone too: nothing of the wait is left in the namespace.
        status, listing = plane.request("GET", "/api/v1/namespaces/default/configmaps")
        assert [c["metadata"]["name"] for c in listing["items"] if "gc-probe" in c["metadata"]["name"]] == []
