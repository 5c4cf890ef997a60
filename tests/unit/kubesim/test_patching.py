"""Patch semantics: JSON merge patch, JSON patch, strategic merge patch, server-side apply, managedFields."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubesim import patching as P
from kubesim.errors import ApiError

T0, T1, T2 = "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "nb",
            "namespace": "users",
            "labels": {"app": "jupyter"},
            "finalizers": ["a.io/x", "b.io/y"],
            "ownerReferences": [{"apiVersion": "x.io/v1", "kind": "Notebook", "name": "nb", "uid": "u1"}],
        },
        "spec": {
            "containers": [
                {
                    "name": "notebook",
                    "image": "jupyter:1",
                    "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 8888, "name": "http"}],
                    "volumeMounts": [{"name": "home", "mountPath": "/home"}],
                },
                {"name": "sidecar", "image": "proxy:1", "env": [{"name": "Z", "value": "z"}]},
            ],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "volumes": [{"name": "home", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}],
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
            "imagePullSecrets": [{"name": "reg1"}],
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "Scheduled", "status": "True"}]
        },
    }


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in items]


# ----------------------------------------------------------------------------------------------------------
# JSON merge patch


def test_merge_patch_merges_maps_deletes_nulls_and_replaces_lists() -> None:
    original = pod()
    before = copy.deepcopy(original)
    out = P.apply_merge_patch(
        original,
        {
            "metadata": {"labels": {"app": None, "team": "a"}, "annotations": {"n": "1", "gone": None}},
            "spec": {"tolerations": [{"key": "new"}]},
            "status": None,
        },
    )
    assert out["metadata"]["labels"] == {"team": "a"}
    assert out["metadata"]["annotations"] == {"n": "1"}  # nulls inside a new subtree are pruned
    assert out["spec"]["tolerations"] == [{"key": "new"}]
    assert "status" not in out
    assert original == before  # pure


def test_merge_patch_bad_documents() -> None:
    with pytest.raises(ApiError) as exc:
        P.apply_merge_patch(pod(), None)
    assert (exc.value.code, exc.value.reason, exc.value.message) == (400, "BadRequest", "Invalid JSON Patch")
    with pytest.raises(ApiError) as exc:
        P.apply_merge_patch(pod(), [1])
    assert (exc.value.code, exc.value.reason) == (422, "Invalid")


# ----------------------------------------------------------------------------------------------------------
# JSON patch


def test_json_patch_applies_operations_in_order() -> None:
    original = pod()
    out = P.apply_json_patch(
        original,
        [
            {"op": "add", "path": "/metadata/labels/tier", "value": "web"},
            {"op": "test", "path": "/metadata/labels/tier", "value": "web"},
            {"op": "replace", "path": "/spec/containers/0/image", "value": "jupyter:2"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "c.io/z"},
            {"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/application"},
        ],
    )
    assert out["metadata"]["labels"] == {"tier": "web", "application": "jupyter"}
    assert out["spec"]["containers"][0]["image"] == "jupyter:2"
    assert out["metadata"]["finalizers"] == ["b.io/y", "c.io/z"]
    assert original["metadata"]["labels"] == {"app": "jupyter"}


def test_json_patch_failing_test_op_is_422() -> None:
    """Upstream answers a failed operation with a fixed message and empty details (its
    NewGenericServerResponse without the patcher's words)."""
    with pytest.raises(ApiError) as exc:
        P.apply_json_patch(pod(), [{"op": "test", "path": "/metadata/name", "value": "other"}])
    err = exc.value
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == "the server rejected our request due to an error in our request"
    assert err.details == {}
    # A test against a number is not satisfied by a boolean (Go's JSON equality, not Python's).
    with pytest.raises(ApiError):
        P.apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": True}])


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "remove", "path": "/metadata/labels/nope"}],
        [{"op": "replace", "path": "/spec/nope/x", "value": 1}],
        [{"op": "add", "path": "/spec/nope/x", "value": 1}],
        [{"op": "frobnicate", "path": "/a"}],
    ],
)
def test_json_patch_bad_paths_are_422(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(ApiError) as exc:
        P.apply_json_patch(pod(), ops)
    assert (exc.value.code, exc.value.details) == (422, {})


def test_json_patch_replace_of_a_missing_key_sets_it() -> None:
    """json-patch v4 reads a missing key of an object as null, so a replace there succeeds."""
    out = P.apply_json_patch(pod(), [{"op": "replace", "path": "/metadata/labels/new", "value": "x"}])
    assert out["metadata"]["labels"] == {"app": "jupyter", "new": "x"}


def test_json_patch_malformed_document_is_400_and_too_many_ops_413() -> None:
    with pytest.raises(ApiError) as exc:
        P.apply_json_patch(pod(), {"op": "add"})
    assert (exc.value.code, exc.value.message) == (
        400,
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    )
    with pytest.raises(ApiError) as exc:
        P.apply_json_patch(pod(), ["x"])
    assert exc.value.code == 400
    with pytest.raises(ApiError) as exc:
        P.apply_json_patch(pod(), [{"op": "test", "path": "/kind", "value": "Pod"}] * 10001)
    assert (exc.value.code, exc.value.reason) == (413, "RequestEntityTooLarge")


# ----------------------------------------------------------------------------------------------------------
# Strategic merge patch


def smp(obj: dict[str, Any], patch: Any, kind: str = "Pod", group: str = "", version: str = "v1") -> Any:
    return P.apply_strategic_merge_patch(obj, patch, group, version, kind)


def test_smp_env_added_to_one_container_leaves_the_others_untouched() -> None:
    original = pod()
    out = smp(
        original, {"spec": {"containers": [{"name": "notebook", "env": [{"name": "B", "value": "2"}]}]}}
    )
    notebook, sidecar = out["spec"]["containers"]
    assert names(out["spec"]["containers"]) == ["notebook", "sidecar"]
    assert {e["name"]: e["value"] for e in notebook["env"]} == {"A": "1", "B": "2"}
    assert notebook["image"] == "jupyter:1"
    assert notebook["ports"] == original["spec"]["containers"][0]["ports"]
    assert sidecar == original["spec"]["containers"][1]
    assert original == pod()  # pure


def test_smp_new_list_items_come_before_server_only_items_as_upstream() -> None:
    out = smp(pod(), {"spec": {"containers": [{"name": "notebook", "env": [{"name": "B", "value": "2"}]}]}})
    assert names(out["spec"]["containers"][0]["env"]) == ["B", "A"]
    out = smp(pod(), {"spec": {"containers": [{"name": "sidecar", "image": "proxy:2"}]}})
    assert names(out["spec"]["containers"]) == ["notebook", "sidecar"]  # live order kept for existing items


def test_smp_patch_delete_removes_one_element_by_key() -> None:
    out = smp(pod(), {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}})
    assert names(out["spec"]["containers"]) == ["notebook"]
    out = smp(pod(), {"metadata": {"ownerReferences": [{"uid": "u1", "$patch": "delete"}]}})
    assert out["metadata"]["ownerReferences"] == []


def test_smp_patch_replace_on_list_and_map() -> None:
    out = smp(pod(), {"spec": {"volumes": [{"name": "only", "emptyDir": {}}, {"$patch": "replace"}]}})
    assert out["spec"]["volumes"] == [{"name": "only", "emptyDir": {}}]
    out = smp(pod(), {"metadata": {"labels": {"$patch": "replace", "new": "1"}}})
    assert out["metadata"]["labels"] == {"new": "1"}
    # Inside a merging list, "$patch: replace" on any element replaces the whole list with the other
    # (non-directive) elements, as upstream's mergeSliceWithSpecialElements does.
    out = smp(pod(), {"spec": {"containers": [{"name": "notebook", "$patch": "replace", "image": "x"}]}})
    assert out["spec"]["containers"] == []
    out = smp(pod(), {"spec": {"containers": [{"$patch": "replace"}, {"name": "solo", "image": "x"}]}})
    assert out["spec"]["containers"] == [{"name": "solo", "image": "x"}]


def test_smp_merge_keys_of_the_lists_users_touch() -> None:
    out = smp(
        pod(),
        {
            "metadata": {"ownerReferences": [{"uid": "u2", "apiVersion": "v1", "kind": "X", "name": "x"}]},
            "spec": {
                "initContainers": [{"name": "init", "image": "busybox:2"}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "pvc"}}],
                "imagePullSecrets": [{"name": "reg2"}],
                "containers": [
                    {
                        "name": "notebook",
                        "ports": [{"containerPort": 8888, "name": "web"}, {"containerPort": 9000}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ],
            },
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
    )
    assert [o["uid"] for o in out["metadata"]["ownerReferences"]] == ["u2", "u1"]
    assert out["spec"]["initContainers"] == [{"name": "init", "image": "busybox:2"}]
    assert sorted(names(out["spec"]["volumes"])) == ["cfg", "data", "home"]
    assert sorted(names(out["spec"]["imagePullSecrets"])) == ["reg1", "reg2"]
    notebook = out["spec"]["containers"][0]
    assert sorted((p["containerPort"], p.get("name", "")) for p in notebook["ports"]) == [
        (8888, "web"),
        (9000, ""),
    ]
    assert sorted(names(notebook["volumeMounts"])) == ["data", "home"]
    conditions = {c["type"]: c["status"] for c in out["status"]["conditions"]}
    assert conditions == {"Ready": "True", "Scheduled": "True"}


def test_smp_tolerations_have_no_merge_key_and_are_replaced() -> None:
    out = smp(pod(), {"spec": {"tolerations": [{"key": "other", "operator": "Exists"}]}})
    assert out["spec"]["tolerations"] == [{"key": "other", "operator": "Exists"}]


def test_smp_finalizers_union_delete_and_order() -> None:
    assert smp(pod(), {"metadata": {"finalizers": ["b.io/y", "c.io/z"]}})["metadata"]["finalizers"] == [
        "a.io/x",
        "b.io/y",
        "c.io/z",
    ]
    out = smp(pod(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/x"]}})
    assert out["metadata"]["finalizers"] == ["b.io/y"]
    out = smp(
        pod(),
        {
            "metadata": {
                "$setElementOrder/finalizers": ["c.io/z", "b.io/y", "a.io/x"],
                "finalizers": ["c.io/z"],
            }
        },
    )
    assert out["metadata"]["finalizers"] == ["c.io/z", "b.io/y", "a.io/x"]


def test_smp_set_element_order_for_containers() -> None:
    out = smp(
        pod(),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "notebook"}],
                "containers": [{"name": "notebook", "image": "jupyter:2"}],
            }
        },
    )
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [
        ("sidecar", "proxy:1"),
        ("notebook", "jupyter:2"),
    ]


def test_smp_retain_keys_switches_a_volume_source() -> None:
    out = smp(
        pod(),
        {
            "spec": {
                "volumes": [{"name": "cfg", "$retainKeys": ["name", "secret"], "secret": {"secretName": "s"}}]
            }
        },
    )
    assert out["spec"]["volumes"][1] == {"name": "cfg", "secret": {"secretName": "s"}}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
    }
    out = smp(
        deployment,
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        kind="Deployment",
        group="apps",
    )
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_smp_null_deletes_and_scalars_replace() -> None:
    out = smp(
        pod(),
        {"metadata": {"labels": {"app": None}}, "spec": {"containers": [{"name": "sidecar", "env": None}]}},
    )
    assert out["metadata"]["labels"] == {}
    assert "env" not in out["spec"]["containers"][1]


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    [
        ([1], 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (
            {"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}},
            400,
            "invalid patch format of primitive list",
        ),
        ({"metadata": {"$retainKeys": "name"}}, 400, "invalid patch format of retainKeys"),
        (
            {"metadata": {"$retainKeys": ["name"], "labels": {"a": "b"}}},
            400,
            "invalid patch format of retainKeys",
        ),
        (
            {"spec": {"containers": [{"image": "x"}]}},
            500,
            "map: map[image:x] does not contain declared merge key: name",
        ),
        (
            {"spec": {"containers": [{"name": "x", "$patch": "frob"}]}},
            500,
            "unknown patch type: frob in map: map[$patch:frob name:x]",
        ),
    ],
)
def test_smp_errors(patch: Any, code: int, message: str) -> None:
    with pytest.raises(ApiError) as exc:
        smp(pod(), patch)
    assert (exc.value.code, exc.value.message) == (code, message)


def test_smp_list_of_lists_is_422() -> None:
    obj = pod()
    obj["metadata"]["finalizers"] = []
    with pytest.raises(ApiError) as exc:
        smp(obj, {"metadata": {"finalizers": [["x"]]}})
    assert (exc.value.code, exc.value.details) == (422, {})


def test_has_strategic_schema() -> None:
    assert P.has_strategic_schema("", "v1", "Pod")
    assert P.has_strategic_schema("apps", "v1", "StatefulSet")
    assert not P.has_strategic_schema("jupyternetes.io", "v1alpha1", "Notebook")


# ----------------------------------------------------------------------------------------------------------
# Server-side apply


def deployment(replicas: int = 2, image: str = "nginx:1", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels or {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def ssa(
    existing: Any, applied: dict[str, Any], manager: str, force: bool = False, now: str = T0, **kw: Any
) -> Any:
    group, _, version = applied.get("apiVersion", "apps/v1").rpartition("/")
    kind = kw.pop("kind", applied.get("kind", "Deployment"))
    return P.apply_server_side(existing, applied, manager, force, group, version, kind, now, **kw)


def managers(obj: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(manager, operation) -> owned field paths, printed as upstream prints them."""
    out = {}
    for e in obj["metadata"]["managedFields"]:
        paths = P.decode_fields_v1(e["fieldsV1"])
        out[(e["manager"], e["operation"])] = {P._path_string(p) for p in paths}
    return out


def test_ssa_create_records_the_applied_fields() -> None:
    obj = ssa(None, deployment(), "kubectl")
    assert obj["spec"] == deployment()["spec"]
    (entry,) = obj["metadata"]["managedFields"]
    assert {k: entry[k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType")} == {
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": T0,
        "fieldsType": "FieldsV1",
    }
    container = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert container == {
        ".": {},
        "f:image": {},
        "f:name": {},
        "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
    }
    assert entry["fieldsV1"]["f:spec"]["f:selector"] == {}  # an atomic map is owned as a whole
    assert entry["fieldsV1"]["f:metadata"] == {"f:labels": {"f:app": {}}}


def test_ssa_two_managers_conflict_naming_the_field_and_the_manager() -> None:
    obj = ssa(None, deployment(), "kubectl")
    change = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 5},
    }
    with pytest.raises(ApiError) as exc:
        ssa(obj, change, "autoscaler")
    err = exc.value
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.message == 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
    assert err.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl"',
                "field": ".spec.replicas",
            }
        ]
    }


def test_ssa_several_conflicts_are_listed_per_manager() -> None:
    obj = ssa(None, deployment(), "kubectl")
    with pytest.raises(ApiError) as exc:
        ssa(obj, deployment(replicas=3, image="nginx:2"), "other")
    assert exc.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="nginx"].image'
    )
    assert len(exc.value.details["causes"]) == 2  # type: ignore[index]


def test_ssa_force_moves_ownership() -> None:
    obj = ssa(None, deployment(), "kubectl")
    change = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 5},
    }
    obj = ssa(obj, change, "autoscaler", force=True, now=T1)
    assert obj["spec"]["replicas"] == 5
    owned = managers(obj)
    assert owned[("autoscaler", "Apply")] == {".spec.replicas"}
    assert ".spec.replicas" not in owned[("kubectl", "Apply")]
    # kubectl no longer owns replicas: applying its old config without replicas does not remove them.
    config = deployment()
    del config["spec"]["replicas"]
    obj = ssa(obj, config, "kubectl", now=T2)
    assert obj["spec"]["replicas"] == 5


def test_ssa_same_value_is_shared_not_a_conflict() -> None:
    obj = ssa(None, deployment(), "kubectl")
    same = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
    }
    obj = ssa(obj, same, "other")
    owned = managers(obj)
    assert ".spec.replicas" in owned[("kubectl", "Apply")]
    assert owned[("other", "Apply")] == {".spec.replicas"}


def test_ssa_removing_a_field_the_manager_set_removes_it() -> None:
    obj = ssa(None, deployment(app="web", tier="front"), "kubectl")
    config = deployment(app="web")
    config["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "proxy"})
    obj = ssa(obj, config, "kubectl", now=T1)
    assert obj["metadata"]["labels"] == {"app": "web"}
    assert names(obj["spec"]["template"]["spec"]["containers"]) == ["nginx", "sidecar"]
    obj = ssa(obj, deployment(app="web"), "kubectl", now=T2)
    assert names(obj["spec"]["template"]["spec"]["containers"]) == ["nginx"]
    assert '.spec.template.spec.containers[name="sidecar"]' not in managers(obj)[("kubectl", "Apply")]


def test_ssa_does_not_remove_what_another_manager_owns() -> None:
    obj = ssa(None, deployment(app="web", tier="front"), "kubectl")
    obj = ssa(
        obj, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"labels": {"tier": "front"}}}, "b"
    )
    obj = ssa(obj, deployment(app="web"), "kubectl", now=T1)
    assert obj["metadata"]["labels"] == {"app": "web", "tier": "front"}


def test_ssa_merges_lists_by_key_and_keeps_other_managers_items() -> None:
    obj = ssa(None, deployment(), "kubectl")
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "proxy"}]}}},
    }
    obj = ssa(obj, sidecar, "injector")
    assert names(obj["spec"]["template"]["spec"]["containers"]) == ["nginx", "sidecar"]
    obj = ssa(obj, deployment(image="nginx:2"), "kubectl", now=T1)
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx:2"), ("sidecar", "proxy")]


def test_ssa_conflicts_with_an_update_manager_name_its_api_version() -> None:
    obj = ssa(None, deployment(), "kubectl")
    edited = copy.deepcopy(obj)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:edited"
    P.record_update_manager(obj, edited, "kubectl-edit", "Update", T1)
    assert managers(edited)[("kubectl-edit", "Update")] == {
        '.spec.template.spec.containers[name="nginx"].image'
    }
    assert '.spec.template.spec.containers[name="nginx"].image' not in managers(edited)[("kubectl", "Apply")]
    with pytest.raises(ApiError) as exc:
        ssa(edited, deployment(image="nginx:3"), "kubectl", now=T2)
    assert exc.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: '
        '.spec.template.spec.containers[name="nginx"].image'
    )


def test_ssa_before_first_apply_owns_fields_of_untracked_objects() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    with pytest.raises(ApiError) as exc:
        ssa(
            cm,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "9"}},
            "kubectl",
        )
    assert (
        exc.value.message
        == 'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a'
    )


def test_ssa_custom_resource_uses_the_crd_schema_list_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                        },
                    },
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "args": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
    }

    def nb(**spec: Any) -> dict[str, Any]:
        return {"apiVersion": "x.io/v1", "kind": "Notebook", "metadata": {"name": "n"}, "spec": spec}

    obj = ssa(None, nb(ports=[{"name": "http", "port": 80}], tags=["a"], args=["x"]), "op", schema=schema)
    obj = ssa(obj, nb(ports=[{"name": "https", "port": 443}], tags=["b"]), "other", schema=schema)
    assert obj["spec"]["ports"] == [{"name": "http", "port": 80}, {"name": "https", "port": 443}]
    assert obj["spec"]["tags"] == ["a", "b"]
    with pytest.raises(ApiError, match=r'conflict with "op": \.spec\.args'):
        ssa(obj, nb(args=["y"]), "other", schema=schema)  # atomic list: changing it conflicts
    # Without a schema, lists are atomic.
    plain = ssa(None, nb(tags=["a"]), "op", kind="Notebook")
    plain = ssa(plain, nb(tags=["b"]), "op", kind="Notebook")
    assert plain["spec"]["tags"] == ["b"]
    # ...and maps are "deduced": every entry, .spec included, is a member of the set.
    assert managers(plain)[("op", "Apply")] == {".spec", ".spec.tags"}


def test_ssa_request_errors() -> None:
    with pytest.raises(ApiError) as exc:
        ssa(None, deployment(), "")
    assert (exc.value.code, exc.value.message) == (
        422,
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    )
    wrong = deployment()
    wrong["apiVersion"] = "apps/v1beta1"
    with pytest.raises(ApiError) as exc:
        P.apply_server_side(None, wrong, "m", False, "apps", "v1", "Deployment", T0)
    assert (exc.value.code, exc.value.message) == (
        400,
        "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, "
        "expected: apps/v1",
    )
    with_managed = deployment()
    with_managed["metadata"]["managedFields"] = [{"manager": "x"}]
    with pytest.raises(ApiError) as exc:
        ssa(None, with_managed, "m")
    assert (exc.value.code, exc.value.message) == (400, "metadata.managedFields must be nil")
    dup = deployment()
    dup["spec"]["template"]["spec"]["containers"].append({"name": "nginx", "image": "x"})
    with pytest.raises(ApiError) as exc:
        ssa(None, dup, "m")
    assert exc.value.code == 500
    assert 'duplicate entries for key [name="nginx"]' in exc.value.message


def test_ssa_noop_apply_keeps_the_time_and_kubectl_syncs_last_applied() -> None:
    obj = ssa(None, deployment(), "m")
    again = ssa(obj, deployment(), "m", now=T1)
    assert again == obj
    config = deployment()
    config["metadata"]["annotations"] = {P.LAST_APPLIED_ANNOTATION: "{}"}
    obj = ssa(None, config, "kubectl")
    last = json.loads(obj["metadata"]["annotations"][P.LAST_APPLIED_ANNOTATION])
    assert last["spec"]["replicas"] == 2
    assert P.LAST_APPLIED_ANNOTATION not in last["metadata"].get("annotations", {})


# ----------------------------------------------------------------------------------------------------------
# managedFields for ordinary writes


def test_update_manager_on_create_owns_everything_it_wrote() -> None:
    obj = pod()
    P.record_update_manager(None, obj, "kubectl-create", "Update", T0)
    (entry,) = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["time"]) == (
        "kubectl-create",
        "Update",
        "v1",
        T0,
    )
    fields = entry["fieldsV1"]
    assert fields["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert fields["f:metadata"]["f:finalizers"] == {".": {}, 'v:"a.io/x"': {}, 'v:"b.io/y"': {}}
    assert "." not in fields["f:spec"]["f:containers"]  # a required field is not a member itself
    assert "f:name" not in fields["f:metadata"]  # server-owned metadata is never tracked


def test_update_takes_changed_fields_and_everyone_loses_removed_ones() -> None:
    obj = ssa(None, deployment(app="web", tier="front"), "kubectl")
    scaled = copy.deepcopy(obj)
    scaled["spec"]["replicas"] = 7
    del scaled["metadata"]["labels"]["tier"]
    P.record_update_manager(obj, scaled, "kubectl-scale", "Update", T1)
    owned = managers(scaled)
    assert owned[("kubectl-scale", "Update")] == {".spec.replicas"}
    assert ".spec.replicas" not in owned[("kubectl", "Apply")]
    assert ".metadata.labels.tier" not in owned[("kubectl", "Apply")]
    # Apply entries sort before Update entries, as upstream.
    assert [e["operation"] for e in scaled["metadata"]["managedFields"]] == ["Apply", "Update"]


def test_update_without_changes_keeps_the_entry_time() -> None:
    obj = pod()
    P.record_update_manager(None, obj, "m", "Update", T0)
    same = copy.deepcopy(obj)
    P.record_update_manager(obj, same, "m", "Update", T1)
    assert same["metadata"]["managedFields"][0]["time"] == T0


def test_untracked_objects_and_reset() -> None:
    old: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1"},
    }
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    P.record_update_manager(old, new, "m", "Update", T0)
    assert "managedFields" not in new["metadata"]
    tracked = copy.deepcopy(old)
    P.record_update_manager(None, tracked, "m", "Update", T0)
    reset = copy.deepcopy(tracked)
    reset["metadata"]["managedFields"] = [{}]
    P.record_update_manager(tracked, reset, "m", "Update", T1)
    assert "managedFields" not in reset["metadata"]


def test_apply_operation_is_left_to_apply_server_side() -> None:
    obj = ssa(None, deployment(), "kubectl")
    before = copy.deepcopy(obj)
    assert P.record_update_manager(before, obj, "kubectl", "Apply", T1) == before


def test_update_managers_are_capped() -> None:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    P.record_update_manager(None, obj, "m0", "Update", "2025-01-01T00:00:00Z")
    for i in range(1, 12):
        new = copy.deepcopy(obj)
        new["data"][f"k{i}"] = "v"
        P.record_update_manager(obj, new, f"m{i}", "Update", f"2025-01-01T00:00:{i:02d}Z")
        obj = new
    entries = obj["metadata"]["managedFields"]
    assert len(entries) == 10
    assert "ancient-changes" in {e["manager"] for e in entries}


def test_fields_v1_round_trip_and_manager_from_user_agent() -> None:
    fields = {
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {"f:x": {'k:{"n":1}': {".": {}, "f:n": {}}}},
    }
    assert P.encode_fields_v1(P.decode_fields_v1(fields)) == fields
    assert P.manager_from_user_agent("kubectl/v1.34.0 (linux/amd64) kubernetes/abc") == "kubectl"
    assert P.manager_from_user_agent("OpenAPI-Generator/33.1.0/python") == "OpenAPI-Generator"
