"""What kube-apiserver refuses that is easy to get past a lenient fake: volume sub-paths leaving their volume
(422 Invalid from pod validation), request bodies over ``MaxRequestBodyBytes`` (3 MiB: 413 before decoding),
ConfigMaps over 1 MiB (422), and objects over etcd's request limit (1.5 MiB: a 500 carrying etcd's message;
over 2 MiB the API server's etcd client refuses to send the request). Tests with lowered limits use
kubesim's options (``max_request_body_bytes``, ``max_object_bytes``), kubesim only."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from typing import Any, Protocol

import kubernetes
import pytest
from kubernetes.client import ApiException

import kubesim
from tests.clusters import ClusterUnderTest
from tests.conftest import wait_until

from .conformance_support import GROUP, WIDGETS, api_exception_body, ssl_context, widget, widget_crd
from .conformance_support import http as request

NS = "default"  # of the kubesim-only tests
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
    client: kubernetes.client.ApiClient, ns: str, sub_path: str, detail: str
) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(ns, _pod("escape", {"subPath": sub_path}))
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
    assert not core.list_namespaced_pod(ns, field_selector="metadata.name=escape").items


def test_sub_path_inside_the_volume_is_accepted(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    for i, sub_path in enumerate(("ana", "users/ana/./work", "..ana", "ana..", "a..b/c")):
        pod = core.create_namespaced_pod(ns, _pod(f"ok-{i}", {"subPath": sub_path}))
        assert pod.spec.containers[0].volume_mounts[0].sub_path == sub_path


def test_sub_path_expr_of_an_init_container(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(ns, _pod("init", {"subPathExpr": "$(POD_NAME)/../x"}, init=True))
    causes = _invalid(exc)["details"]["causes"]
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: \"$(POD_NAME)/../x\": must not contain '..'",
            "field": "spec.initContainers[0].volumeMounts.subPathExpr",
        }
    ]
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(ns, _pod("both", {"subPath": "a", "subPathExpr": "$(POD_NAME)"}))
    assert _invalid(exc)["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "$(POD_NAME)": subPathExpr and subPath are mutually exclusive',
            "field": "spec.containers[0].volumeMounts[0].subPathExpr",
        }
    ]


def test_ephemeral_containers_may_not_use_sub_paths(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_pod(ns, _pod("debugged", {}))
    debug = {"name": "debug", "image": "busybox:1.36", "volumeMounts": [{"name": "home", "mountPath": "/d"}]}
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_pod_ephemeralcontainers(
            "debugged",
            ns,
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
        "debugged", ns, {"spec": {"ephemeralContainers": [debug]}}
    )
    assert [c.name for c in pod.spec.ephemeral_containers] == ["debug"]


def test_workload_pod_templates_are_checked_on_create_and_patch(
    client: kubernetes.client.ApiClient, ns: str
) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    template = _pod("ignored", {"subPath": "ana"})
    del template["apiVersion"], template["kind"]
    template["metadata"] = {"labels": {"app": "nb"}}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nb"},
        "spec": {"selector": {"matchLabels": {"app": "nb"}}, "template": template},
    }
    apps.create_namespaced_deployment(ns, deployment)
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
        apps.patch_namespaced_deployment("nb", ns, patch)
    status = _invalid(exc)
    assert status["message"].startswith('Deployment.apps "nb" is invalid: ')
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: \"../bob\": must not contain '..'",
            "field": "spec.template.spec.containers[0].volumeMounts.subPath",
        }
    ]
    stored = apps.read_namespaced_deployment("nb", ns)
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


class _Server(Protocol):
    url: str
    admin_token: str
    ca_file: str


def _chunked_post(server: _Server, path: str, chunks: list[bytes]) -> tuple[int, dict[str, Any]]:
    """A POST with ``Transfer-Encoding: chunked`` (no Content-Length), as streaming clients send."""
    host, port = server.url.split("://")[1].rsplit(":", 1)
    conn: http.client.HTTPConnection
    if server.url.startswith("https"):
        conn = http.client.HTTPSConnection(host, int(port), context=ssl_context(server), timeout=30)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        headers = {
            "Authorization": f"Bearer {server.admin_token}",
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


def _padded(doc: dict[str, Any], size: int) -> bytes:
    """The JSON of ``doc`` padded with whitespace to ``size`` bytes: a big body holding a small object."""
    raw = json.dumps(doc).encode()
    return raw + b" " * (size - len(raw))


def test_default_body_limit_is_three_mebibytes(cluster: ClusterUnderTest, ns: str) -> None:
    """Exactly 3145728 bytes pass, one more is 413, on every write and whatever the body holds."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    too_large = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Request entity too large: limit is 3145728",
        "reason": "RequestEntityTooLarge",
        "code": 413,
    }
    assert (
        request(cluster, "POST", path, _padded(_config_map("padded", 10), 3 * MiB), timeout=60).status == 201
    )
    over = 3 * MiB + 1
    writes: list[tuple[str, str, bytes, str]] = [
        ("POST", path, _padded(_config_map("padded-2", 10), over), "application/json"),
        ("POST", path, b"{" * over, "application/json"),  # not even JSON: refused before decoding
        ("PUT", f"{path}/padded", _padded(_config_map("padded", 20), over), "application/json"),
        ("PATCH", f"{path}/padded", _padded({"data": {"more": "y"}}, over), "application/merge-patch+json"),
        ("DELETE", f"{path}/padded", _padded({"preconditions": {"uid": "u"}}, over), "application/json"),
    ]
    for method, target, body, content_type in writes:
        resp = request(cluster, method, target, body, content_type=content_type, timeout=60)
        assert (resp.status, resp.json()) == (413, too_large), (method, target)
    chunks = _padded(_config_map("streamed", 10), over)
    status, answer = _chunked_post(cluster, path, [chunks[i : i + MiB] for i in range(0, len(chunks), MiB)])
    assert (status, answer) == (413, too_large)
    assert request(cluster, "GET", f"{path}/padded").json()["data"] == {"blob": "x" * 10}
    assert request(cluster, "GET", f"{path}/padded-2").status == 404


def test_config_map_over_one_mebibyte_is_invalid(client: kubernetes.client.ApiClient, ns: str) -> None:
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, _config_map("big", MiB + 1))
    status = _invalid(exc)
    assert status["message"] == 'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes'
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 1048576 bytes",
            "field": "[]",
        }
    ]
    core.create_namespaced_config_map(ns, _config_map("fits", MiB - 100))


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


def _establish(client: kubernetes.client.ApiClient, crd: dict[str, Any]) -> None:
    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.create_custom_resource_definition(crd)

    def established() -> bool:
        conditions = ext.read_custom_resource_definition(crd["metadata"]["name"]).status.conditions
        return any(c.type == "Established" and c.status == "True" for c in conditions or ())

    wait_until(established, 30, message=f"{crd['metadata']['name']} established")


def test_default_object_limit_is_etcds(client: kubernetes.client.ApiClient, ns: str) -> None:
    """A custom resource (stored as JSON upstream too) of 1.4 MiB is stored, one of 1.6 MiB is not; over
    2 MiB the etcd client refuses to send the request. All bodies are under the 3 MiB request limit."""
    _establish(client, widget_crd())
    custom = kubernetes.client.CustomObjectsApi(client)

    def create(name: str, size: float, **options: Any) -> Any:
        body = widget(name, extra={"blob": "x" * int(size * MiB)})
        return custom.create_namespaced_custom_object(GROUP, "v1", ns, WIDGETS, body, **options)

    fits = create("fits", 1.4)
    assert len(fits["spec"]["extra"]["blob"]) == int(1.4 * MiB)
    with pytest.raises(ApiException) as exc:
        create("too-big", 1.6)
    _etcd_too_large(exc)
    assert create("too-big", 1.6, dry_run="All")["metadata"]["name"] == "too-big"  # never reaches etcd
    with pytest.raises(ApiException) as exc:
        create("far-too-big", 2.1)
    assert exc.value.status == 500, exc.value.body
    status = api_exception_body(exc.value)
    assert set(status) == {"kind", "apiVersion", "metadata", "status", "message", "code"}
    # The size is the etcd request's (the object's encoding, its key, framing): kubesim estimates it.
    assert re.fullmatch(
        r"rpc error: code = ResourceExhausted desc = trying to send message larger than max "
        r"\(22\d{5} vs\. 2097152\)",
        status["message"],
    ), status["message"]
