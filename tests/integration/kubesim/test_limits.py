"""What kube-apiserver refuses that is easy to get past a lenient fake: volume sub-paths leaving their volume
(422 Invalid from pod validation), request bodies over ``MaxRequestBodyBytes`` (413 before decoding) and
objects over etcd's request limit (a 500 carrying etcd's message)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiException

import kubesim

from .conformance_support import GROUP, WIDGETS, api_exception_body, ssl_context, widget, widget_crd
from .conformance_support import http as request

NS = "default"
MiB = 1024 * 1024
# Lowered limits for most tests, above what kubesim itself stores (its largest bootstrap object is ~4.5 kB).
BODY_LIMIT = 32 * 1024
OBJECT_LIMIT = 16 * 1024


def _pod(name: str, mount: dict[str, Any], *, init: bool = False) -> dict[str, Any]:
    container = {
        "name": "c",
        "image": "busybox:1.36",
        "volumeMounts": [{"name": "home", "mountPath": "/home/x", **mount}],
    }
    spec: dict[str, Any] = {"volumes": [{"name": "home", "emptyDir": {}}], "containers": [container]}
    if init:
        spec["containers"] = [{"name": "main", "image": "busybox:1.36"}]
        spec["initContainers"] = [container]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _invalid(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    assert exc.value.status == 422, exc.value.body
    status = api_exception_body(exc.value)
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Invalid", 422), status
    return status


# ------------------------------------------------------------------------------------------ subPath


@pytest.mark.parametrize(
    ("sub_path", "detail"),
    [
        ("../../etc", "must not contain '..'"),
        ("ana/../../bob", "must not contain '..'"),
        ("..", "must not contain '..'"),
        ("/etc", "must be a relative path"),
    ],
)
def test_sub_path_leaving_the_volume_is_invalid(
    sim_client: kubernetes.client.ApiClient, sim: kubesim.Cluster, sub_path: str, detail: str
) -> None:
    core = kubernetes.client.CoreV1Api(sim_client)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(NS, _pod("escape", {"subPath": sub_path}))
    status = _invalid(exc)
    # Upstream names the field without the mount's index (ValidateVolumeMounts hands the list's path to
    # validateLocalDescendingPath); kubectl prints exactly this line.
    line = f'spec.containers[0].volumeMounts.subPath: Invalid value: "{sub_path}": {detail}'
    assert status["message"] == f'Pod "escape" is invalid: {line}'
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "{sub_path}": {detail}',
            "field": "spec.containers[0].volumeMounts.subPath",
        }
    ]
    assert sim.get("pods", "escape", NS) is None


def test_sub_path_inside_the_volume_is_accepted(sim_client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(sim_client)
    for i, sub_path in enumerate(("ana", "users/ana/./work", "..ana", "ana..", "a..b/c")):
        pod = core.create_namespaced_pod(NS, _pod(f"ok-{i}", {"subPath": sub_path}))
        assert pod.spec.containers[0].volume_mounts[0].sub_path == sub_path


def test_sub_path_expr_of_an_init_container(sim_client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(sim_client)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(NS, _pod("init", {"subPathExpr": "$(POD_NAME)/../x"}, init=True))
    causes = _invalid(exc)["details"]["causes"]
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: \"$(POD_NAME)/../x\": must not contain '..'",
            "field": "spec.initContainers[0].volumeMounts.subPathExpr",
        }
    ]
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(NS, _pod("both", {"subPath": "a", "subPathExpr": "$(POD_NAME)"}))
    assert _invalid(exc)["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "$(POD_NAME)": subPathExpr and subPath are mutually exclusive',
            "field": "spec.containers[0].volumeMounts[0].subPathExpr",
        }
    ]


def test_ephemeral_containers_may_not_use_sub_paths(sim_client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(sim_client)
    core.create_namespaced_pod(NS, _pod("debugged", {}))
    debug = {"name": "debug", "image": "busybox:1.36", "volumeMounts": [{"name": "home", "mountPath": "/d"}]}
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_pod_ephemeralcontainers(
            "debugged",
            NS,
            {
                "spec": {
                    "ephemeralContainers": [
                        {**debug, "volumeMounts": [{"name": "home", "mountPath": "/d", "subPath": "../x"}]}
                    ]
                }
            },
        )
    assert [(c["field"], c["message"]) for c in _invalid(exc)["details"]["causes"]] == [
        (
            "spec.ephemeralContainers[0].volumeMounts.subPath",
            "Invalid value: \"../x\": must not contain '..'",
        ),
        (
            "spec.ephemeralContainers[0].volumeMounts[0].subPath",
            "Forbidden: cannot be set for an Ephemeral Container",
        ),
    ]
    pod = core.patch_namespaced_pod_ephemeralcontainers(
        "debugged", NS, {"spec": {"ephemeralContainers": [debug]}}
    )
    assert [c.name for c in pod.spec.ephemeral_containers] == ["debug"]


def test_workload_pod_templates_are_checked_on_create_and_patch(
    sim_client: kubernetes.client.ApiClient,
) -> None:
    apps = kubernetes.client.AppsV1Api(sim_client)
    template = _pod("ignored", {"subPath": "ana"})
    del template["apiVersion"], template["kind"]
    template["metadata"] = {"labels": {"app": "nb"}}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nb"},
        "spec": {"selector": {"matchLabels": {"app": "nb"}}, "template": template},
    }
    apps.create_namespaced_deployment(NS, deployment)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "c", "volumeMounts": [{"mountPath": "/home/x", "subPath": "../bob"}]}
                    ]
                }
            }
        }
    }
    with pytest.raises(ApiException) as exc:
        apps.patch_namespaced_deployment("nb", NS, patch)
    status = _invalid(exc)
    assert status["message"].startswith('Deployment.apps "nb" is invalid: ')
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: \"../bob\": must not contain '..'",
            "field": "spec.template.spec.containers[0].volumeMounts.subPath",
        }
    ]
    stored = apps.read_namespaced_deployment("nb", NS)
    assert stored.spec.template.spec.containers[0].volume_mounts[0].sub_path == "ana"


# ------------------------------------------------------------------------------------------ body size


@pytest.fixture
def small_cluster() -> Iterator[kubesim.Cluster]:
    """Limits lowered so that tests need not send megabytes."""
    with kubesim.Cluster(max_request_body_bytes=BODY_LIMIT, max_object_bytes=OBJECT_LIMIT) as c:
        yield c


@pytest.fixture
def small_client(small_cluster: kubesim.Cluster) -> Iterator[kubernetes.client.ApiClient]:
    api_client = kubernetes.config.new_client_from_config(config_file=small_cluster.kubeconfig)  # type: ignore[no-untyped-call]
    try:
        yield api_client
    finally:
        api_client.close()


def _config_map(name: str, size: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"blob": "x" * size}}


def _too_large(exc: pytest.ExceptionInfo[ApiException], limit: int) -> None:
    assert exc.value.status == 413, exc.value.body
    assert api_exception_body(exc.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"Request entity too large: limit is {limit}",
        "reason": "RequestEntityTooLarge",
        "code": 413,
    }


def test_body_over_the_limit_is_413_on_every_write(
    small_client: kubernetes.client.ApiClient, small_cluster: kubesim.Cluster
) -> None:
    core = kubernetes.client.CoreV1Api(small_client)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(NS, _config_map("big", BODY_LIMIT))
    _too_large(exc, BODY_LIMIT)
    assert small_cluster.get("configmaps", "big", NS) is None
    core.create_namespaced_config_map(NS, _config_map("small", 10))
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("small", NS, _config_map("small", BODY_LIMIT))
    _too_large(exc, BODY_LIMIT)
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map("small", NS, {"data": {"blob": "y" * BODY_LIMIT}})
    _too_large(exc, BODY_LIMIT)
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_config_map("small", NS, body={"preconditions": {"uid": "u" * BODY_LIMIT}})
    _too_large(exc, BODY_LIMIT)
    assert small_cluster.get("configmaps", "small", NS)["data"] == {"blob": "x" * 10}


def test_413_comes_before_decoding(small_cluster: kubesim.Cluster) -> None:
    """The body is not even JSON: upstream reads at most limit+1 bytes and answers 413 without decoding."""
    resp = request(small_cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps", b"{" * (BODY_LIMIT + 1))
    assert resp.status == 413
    assert resp.json()["reason"] == "RequestEntityTooLarge"


def _chunked_post(sim: kubesim.Cluster, path: str, chunks: list[bytes]) -> tuple[int, dict[str, Any]]:
    """A POST with ``Transfer-Encoding: chunked`` (no Content-Length), as streaming clients send."""
    host, port = sim.url.split("://")[1].rsplit(":", 1)
    conn: http.client.HTTPConnection
    if sim.url.startswith("https"):
        conn = http.client.HTTPSConnection(host, int(port), context=ssl_context(sim), timeout=10)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {
            "Authorization": f"Bearer {sim.admin_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        conn.request("POST", path, body=iter(chunks), headers=headers, encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_chunked_body_over_the_limit_is_413(small_cluster: kubesim.Cluster) -> None:
    path = f"/api/v1/namespaces/{NS}/configmaps"
    body = json.dumps(_config_map("streamed", BODY_LIMIT)).encode()
    status, answer = _chunked_post(
        small_cluster, path, [body[i : i + 1000] for i in range(0, len(body), 1000)]
    )
    assert status == 413
    assert (answer["kind"], answer["reason"], answer["code"]) == ("Status", "RequestEntityTooLarge", 413)
    assert answer["message"] == f"Request entity too large: limit is {BODY_LIMIT}"
    assert small_cluster.get("configmaps", "streamed", NS) is None
    body = json.dumps(_config_map("streamed", 1000)).encode()
    status, answer = _chunked_post(small_cluster, path, [body[:500], body[500:]])
    assert status == 201, answer
    assert answer["metadata"]["name"] == "streamed"


def test_default_body_limit_is_three_mebibytes(sim: kubesim.Cluster) -> None:
    """Exactly 3145728 bytes pass (padding JSON with whitespace keeps the object small), one more is 413."""
    assert sim.max_request_body_bytes == 3 * MiB == 3145728
    path = f"/api/v1/namespaces/{NS}/configmaps"
    doc = json.dumps(_config_map("padded", 10)).encode()
    at_limit = doc + b" " * (3 * MiB - len(doc))
    assert request(sim, "POST", path, at_limit).status == 201
    doc = json.dumps(_config_map("padded-2", 10)).encode()
    resp = request(sim, "POST", path, doc + b" " * (3 * MiB + 1 - len(doc)))
    assert resp.status == 413
    assert resp.json()["message"] == "Request entity too large: limit is 3145728"


# ------------------------------------------------------------------------------------------ object size


def _etcd_too_large(exc: pytest.ExceptionInfo[ApiException]) -> None:
    # etcd's error is not a Status: the API server answers 500 with reason Unknown (""), left out of the JSON.
    assert exc.value.status == 500, exc.value.body
    assert api_exception_body(exc.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "etcdserver: request is too large",
        "code": 500,
    }


def test_object_over_the_storage_limit_fails_like_etcd(
    small_client: kubernetes.client.ApiClient, small_cluster: kubesim.Cluster
) -> None:
    core = kubernetes.client.CoreV1Api(small_client)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(NS, _config_map("big", OBJECT_LIMIT))  # body under, object over
    _etcd_too_large(exc)
    assert small_cluster.get("configmaps", "big", NS) is None
    # A dry run never reaches etcd.
    dry = core.create_namespaced_config_map(NS, _config_map("big", OBJECT_LIMIT), dry_run="All")
    assert dry.metadata.name == "big"
    assert small_cluster.get("configmaps", "big", NS) is None

    stored = core.create_namespaced_config_map(NS, _config_map("grows", 10))
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("grows", NS, _config_map("grows", OBJECT_LIMIT))
    _etcd_too_large(exc)
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map("grows", NS, {"data": {"more": "y" * OBJECT_LIMIT}})
    _etcd_too_large(exc)
    after = core.read_namespaced_config_map("grows", NS)
    assert after.data == {"blob": "x" * 10}
    assert after.metadata.resource_version == stored.metadata.resource_version


def test_default_object_limit_is_etcds(sim_client: kubernetes.client.ApiClient, sim: kubesim.Cluster) -> None:
    """A custom resource (stored as JSON upstream too) of 1.4 MiB is stored, one of 1.6 MiB is not; both
    bodies are under the 3 MiB request limit."""
    assert sim.max_object_bytes == 1536 * 1024 == 1572864
    kubernetes.client.ApiextensionsV1Api(sim_client).create_custom_resource_definition(widget_crd())
    custom = kubernetes.client.CustomObjectsApi(sim_client)
    fits = custom.create_namespaced_custom_object(
        GROUP, "v1", NS, WIDGETS, widget("fits", extra={"blob": "x" * int(1.4 * MiB)})
    )
    assert len(fits["spec"]["extra"]["blob"]) == int(1.4 * MiB)
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(
            GROUP, "v1", NS, WIDGETS, widget("too-big", extra={"blob": "x" * int(1.6 * MiB)})
        )
    _etcd_too_large(exc)
