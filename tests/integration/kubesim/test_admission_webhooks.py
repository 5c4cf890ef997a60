"""Admission webhooks as kube-apiserver calls them: Validating/MutatingWebhookConfigurations, rules,
selectors, failurePolicy, timeouts, dry runs, the AdmissionReview sent and the Status a refusal becomes.

Every test runs on kubesim and on upstream. The webhooks are served by a small HTTPS server on 127.0.0.1
(a certificate of a test CA, given to the API server as ``caBundle``); upstream's API server runs on this
machine and reaches it by ``clientConfig.url``. Each webhook is limited to the test's namespace by a
namespaceSelector, so the session's other tests and upstream's controllers never meet it.

Upstream's API server sees a new configuration a moment after it is created (its informer): each
configuration carries a probe webhook first, and :func:`install` waits until the probe is called.
"""

from __future__ import annotations

import base64
import copy
import json
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import kubesim
from kubesim.tls import CertificateAuthority
from tests.clusters import ClusterUnderTest
from tests.integration.kubesim.conformance_support import (
    GROUP,
    WIDGETS,
    create_crd_over_http,
    http,
    widget_crd,
)

Review = dict[str, Any]
Answer = dict[str, Any]
WaitFor = Callable[..., Any]

ADMISSION = "/apis/admissionregistration.k8s.io/v1"


class WebhookServer:
    """An HTTPS admission webhook server: ``handlers[path]`` answers the AdmissionReview posted to ``path``
    (the ``response`` without its uid); every review is kept in ``reviews[path]`` (probes excepted), each
    request's query string in ``queries[path]``."""

    def __init__(self, directory: Path, dns_names: tuple[str, ...] = ()) -> None:
        ca = CertificateAuthority("webhook-test-ca")
        leaf = ca.issue("webhook", dns_names=dns_names, ip_addresses=["127.0.0.1"], server=True)
        (directory / "tls.crt").write_bytes(leaf.cert_pem)
        (directory / "tls.key").write_bytes(leaf.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
        self.ca_bundle = base64.b64encode(ca.cert_pem).decode()
        self.handlers: dict[str, Callable[[Review], Answer]] = {}
        self.reviews: dict[str, list[Review]] = defaultdict(list)
        self.queries: dict[str, list[str]] = defaultdict(list)
        self.release = threading.Event()  # lets a handler that hangs finish
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                path, _, query = self.path.partition("?")
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                request = review["request"]
                probe = _labels(request.get("object")).get("probe") == "true"
                if probe:
                    answer: Answer = {"allowed": True}
                else:
                    with server._lock:
                        server.reviews[path].append(review)
                        server.queries[path].append(query)
                    handler = server.handlers.get(path)
                    answer = handler(review) if handler is not None else {"allowed": True}
                if path.startswith("/probe/"):
                    with server._lock:
                        server.reviews[path].append(review)
                body = json.dumps(
                    {
                        "apiVersion": "admission.k8s.io/v1",
                        "kind": "AdmissionReview",
                        "response": {"uid": request["uid"], **answer},
                    }
                ).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the API server gave up on a webhook that hung

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def seen(self, path: str) -> list[Review]:
        with self._lock:
            return list(self.reviews[path])

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def _labels(obj: Any) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebhookServer]:
    srv = WebhookServer(tmp_path)
    yield srv
    srv.stop()


@pytest.fixture
def configs(cluster: ClusterUnderTest, server: WebhookServer) -> Iterator[list[str]]:
    """Paths of the configurations a test installed, deleted after it while its webhook server still
    answers."""
    paths: list[str] = []
    yield paths
    for path in paths:
        cluster.request("DELETE", path)


def webhook(
    server: WebhookServer,
    name: str,
    path: str,
    namespace: str,
    *,
    resources: tuple[str, ...] = ("configmaps",),
    groups: tuple[str, ...] = ("",),
    operations: tuple[str, ...] = ("CREATE",),
    **extra: Any,
) -> dict[str, Any]:
    """A webhook of ``server`` limited to ``namespace``; ``extra`` overrides any field."""
    hook: dict[str, Any] = {
        "name": name,
        "clientConfig": {"url": server.url(path), "caBundle": server.ca_bundle},
        "rules": [
            {
                "operations": list(operations),
                "apiGroups": list(groups),
                "apiVersions": ["*"],
                "resources": list(resources),
            }
        ],
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 5,
    }
    hook.update(extra)
    return hook


def install(
    cluster: ClusterUnderTest,
    server: WebhookServer,
    configs: list[str],
    wait_for: WaitFor,
    kind: str,
    name: str,
    hooks: list[dict[str, Any]],
    *,
    probe_namespace: str | None = None,
) -> dict[str, Any]:
    """Create a configuration (its probe webhook first) and wait until the API server calls it."""
    ns = probe_namespace or cluster.namespace
    # A probe path of the configuration's own: another configuration's probe may answer first.
    probe_path = f"/probe/{name}"
    probe = webhook(
        server,
        "probe.webhooks.test",
        probe_path,
        ns,
        objectSelector={"matchLabels": {"probe": "true"}},
    )
    plural = (
        "mutatingwebhookconfigurations" if kind.startswith("Mutating") else "validatingwebhookconfigurations"
    )
    body = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [probe, *hooks],
    }
    status, created = cluster.request("POST", f"{ADMISSION}/{plural}", body)
    assert status == 201, created
    configs.append(f"{ADMISSION}/{plural}/{name}")
    counter = iter(range(1_000_000))

    def called() -> bool:
        before = len(server.seen(probe_path))
        probe_cm = {"metadata": {"name": f"probe-{next(counter)}", "labels": {"probe": "true"}}}
        cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps?dryRun=All", probe_cm)
        return len(server.seen(probe_path)) > before

    wait_for(called, timeout=30, interval=0.1, what=f"webhook configuration {name} in effect")
    return dict(created)


def configmap(
    name: str, labels: dict[str, str] | None = None, data: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"a": "1"}}


def raw_request(cluster: ClusterUnderTest, method: str, path: str, body: Any) -> tuple[int, Any, list[str]]:
    """(status, body, Warning headers) of one admin request."""
    req = urllib.request.Request(
        cluster.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {cluster.admin_token}",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30, context=cluster.ssl_context()) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get_all("Warning") or []
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get_all("Warning") or []


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------------------ configuration


def test_configuration_defaults(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """What the API server fills in: failurePolicy Fail, matchPolicy Equivalent, empty selectors, a 10 s
    timeout, rules of any scope; a mutating webhook is not reinvoked."""
    hook = webhook(server, "defaults.webhooks.test", "/allow", ns)
    for field in ("timeoutSeconds", "namespaceSelector"):
        del hook[field]
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        plural = kind.lower() + "s"
        status, body = cluster.request(
            "POST",
            f"{ADMISSION}/{plural}",
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": kind,
                "metadata": {"name": f"{ns}-d"},
                "webhooks": [hook],
            },
        )
        assert status == 201, body
        configs.append(f"{ADMISSION}/{plural}/{ns}-d")
        got = body["webhooks"][0]
        assert got["failurePolicy"] == "Fail"
        assert got["matchPolicy"] == "Equivalent"
        assert got["namespaceSelector"] == {}
        assert got["objectSelector"] == {}
        assert got["timeoutSeconds"] == 10
        assert got["rules"][0]["scope"] == "*"
        assert got.get("reinvocationPolicy") == ("Never" if kind.startswith("Mutating") else None)
        # kubectl get's columns.
        table = http(
            cluster,
            "GET",
            f"{ADMISSION}/{plural}/{ns}-d",
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        ).json()
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Webhooks", "Age"]
        assert table["rows"][0]["cells"][:2] == [f"{ns}-d", 1]


def test_configuration_validation(cluster: ClusterUnderTest, server: WebhookServer, ns: str) -> None:
    """A configuration is validated as upstream validates it: a fully qualified name, sideEffects None or
    NoneOnDryRun, admissionReviewVersions naming v1 or v1beta1, a timeout of 1 to 30 s, one of url or
    service, an https URL, complete rules."""
    bad = webhook(server, "nodots", "/allow", ns, sideEffects="Some", timeoutSeconds=31)
    bad["admissionReviewVersions"] = ["v2"]
    bad["rules"][0]["apiVersions"] = []
    bad["clientConfig"] = {"url": "http://127.0.0.1:1/x?y=1"}
    missing = webhook(server, "missing.webhooks.test", "/allow", ns)
    del missing["sideEffects"]
    del missing["admissionReviewVersions"]
    missing["clientConfig"] = {}
    status, body = cluster.request(
        "POST",
        f"{ADMISSION}/validatingwebhookconfigurations",
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": f"{ns}-bad"},
            "webhooks": [bad, missing],
        },
    )
    assert status == 422, body
    assert body["reason"] == "Invalid"
    causes = {(c["field"], c["message"]) for c in body["details"]["causes"]}
    assert causes == {
        (
            "webhooks[0].name",
            'Invalid value: "nodots": should be a domain with at least three segments separated by dots',
        ),
        ("webhooks[0].rules[0].apiVersions", "Required value"),
        ("webhooks[0].sideEffects", 'Unsupported value: "Some": supported values: "None", "NoneOnDryRun"'),
        (
            "webhooks[0].timeoutSeconds",
            "Invalid value: 31: the timeout value must be between 1 and 30 seconds",
        ),
        (
            "webhooks[0].clientConfig.url",
            "Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
        ),
        (
            "webhooks[0].clientConfig.url",
            'Invalid value: "y=1": query parameters are not permitted in the URL',
        ),
        (
            "webhooks[0].admissionReviewVersions",
            'Invalid value: ["v2"]: must include at least one of v1, v1beta1',
        ),
        ("webhooks[1].sideEffects", "Required value: must specify one of None, NoneOnDryRun"),
        ("webhooks[1].clientConfig", "Required value: exactly one of url or service is required"),
        ("webhooks[1].admissionReviewVersions", "Required value: must specify one of v1, v1beta1"),
    }


# ------------------------------------------------------------------------------------------ calls


def test_deny_with_message(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A refusal is the webhook's Status, its message prefixed with the webhook's name; without a code it
    is a 400."""
    server.handlers["/deny"] = lambda review: {
        "allowed": False,
        "status": {"message": "no configmaps named " + review["request"]["name"]},
    }
    server.handlers["/deny-coded"] = lambda review: {
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden", "message": "not on Sundays"},
    }
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-deny",
        [
            webhook(
                server, "deny.webhooks.test", "/deny", ns, objectSelector={"matchLabels": {"deny": "plain"}}
            ),
            webhook(
                server,
                "coded.webhooks.test",
                "/deny-coded",
                ns,
                objectSelector={"matchLabels": {"deny": "coded"}},
            ),
        ],
    )
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("a", {"deny": "plain"})
    )
    assert (status, body) == (
        400,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'admission webhook "deny.webhooks.test" denied the request: no configmaps named a',
            "code": 400,
        },
    )
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("b", {"deny": "coded"})
    )
    assert status == 403, body
    assert body["message"] == 'admission webhook "coded.webhooks.test" denied the request: not on Sundays'
    assert body["reason"] == "Forbidden"
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/a")[0] == 404


def test_allow_sends_the_admission_review(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """An allowed create and update, and the AdmissionReview the webhook got for each, with the timeout
    it was given as a query parameter; its warnings reach the client."""
    server.handlers["/allow"] = lambda review: {"allowed": True, "warnings": ["seen by the webhook"]}
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-allow",
        [
            webhook(
                server, "allow.webhooks.test", "/allow", ns, operations=("CREATE", "UPDATE"), timeoutSeconds=7
            )
        ],
    )
    status, created, warnings = raw_request(
        cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps?fieldManager=tester", configmap("c")
    )
    assert status == 201, created
    assert warnings == ['299 - "seen by the webhook"']
    [review] = server.seen("/allow")
    assert server.queries["/allow"] == ["timeout=7s"]
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert review["kind"] == "AdmissionReview"
    request = review["request"]
    assert request["uid"]
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert request["requestKind"] == request["kind"]
    assert request["requestResource"] == request["resource"]
    assert "subResource" not in request
    assert request["name"] == "c"
    assert request["namespace"] == ns
    assert request["operation"] == "CREATE"
    assert request["userInfo"]["username"] in ("kubernetes-admin", "admin")
    assert "system:masters" in request["userInfo"]["groups"]
    assert request["object"]["metadata"]["name"] == "c"
    assert request["object"]["metadata"]["uid"] == created["metadata"]["uid"]
    assert request["object"]["data"] == {"a": "1"}
    assert request["oldObject"] is None
    assert request["dryRun"] is False
    assert request["options"] == {
        "kind": "CreateOptions",
        "apiVersion": "meta.k8s.io/v1",
        "fieldManager": "tester",
    }
    updated = {**created, "data": {"a": "2"}}
    status, body = cluster.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/c", updated)
    assert status == 200, body
    update = server.seen("/allow")[1]["request"]
    assert update["operation"] == "UPDATE"
    assert update["object"]["data"] == {"a": "2"}
    assert update["oldObject"]["data"] == {"a": "1"}
    assert update["options"] == {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"}


def test_mutate_by_json_patch(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """Mutating webhooks run one after the other, each on what the previous one made, before the
    validating ones, which see the object as it will be stored."""

    def add(key: str, value: str) -> Callable[[Review], Answer]:
        def handler(review: Review) -> Answer:
            ops: list[dict[str, Any]] = []
            if not review["request"]["object"]["metadata"].get("labels"):
                ops.append({"op": "add", "path": "/metadata/labels", "value": {}})
            ops.append({"op": "add", "path": f"/metadata/labels/{key}", "value": value})
            patch = base64.b64encode(json.dumps(ops).encode()).decode()
            return {"allowed": True, "patchType": "JSONPatch", "patch": patch}

        return handler

    server.handlers["/first"] = add("first", "1")
    server.handlers["/second"] = add("second", "2")
    install(
        cluster,
        server,
        configs,
        wait_for,
        "MutatingWebhookConfiguration",
        f"{ns}-mutate",
        [
            webhook(server, "first.webhooks.test", "/first", ns),
            webhook(server, "second.webhooks.test", "/second", ns),
        ],
    )
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-check",
        [webhook(server, "check.webhooks.test", "/check", ns)],
    )
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("m"))
    assert status == 201, body
    assert body["metadata"]["labels"] == {"first": "1", "second": "2"}
    assert server.seen("/second")[0]["request"]["object"]["metadata"]["labels"] == {"first": "1"}
    assert server.seen("/check")[0]["request"]["object"]["metadata"]["labels"] == {
        "first": "1",
        "second": "2",
    }
    first = server.seen("/first")[0]["request"]["object"]["metadata"]
    # Not yet given by the registry when the mutating webhooks are called.
    assert "uid" not in first
    assert "creationTimestamp" not in first
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/m")[1]["metadata"]["labels"] == {
        "first": "1",
        "second": "2",
    }


def test_namespace_and_object_selectors(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """namespaceSelector is matched against the namespace's labels, objectSelector against the object's
    (new or old) labels."""
    other = cluster.add_namespace("other")
    namespace = cluster.request("GET", f"/api/v1/namespaces/{other}")[1]
    namespace["metadata"]["labels"]["webhooks-test"] = ns
    status, body = cluster.request("PUT", f"/api/v1/namespaces/{other}", namespace)
    assert status == 200, body
    server.handlers["/by-namespace"] = lambda review: {"allowed": False, "status": {"message": "namespace"}}
    server.handlers["/by-object"] = lambda review: {"allowed": False, "status": {"message": "object"}}
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-selectors",
        [
            webhook(
                server,
                "by-namespace.webhooks.test",
                "/by-namespace",
                ns,
                namespaceSelector={"matchLabels": {"webhooks-test": ns}},
            ),
            webhook(
                server,
                "by-object.webhooks.test",
                "/by-object",
                ns,
                operations=("CREATE", "UPDATE"),
                objectSelector={"matchExpressions": [{"key": "guarded", "operator": "Exists"}]},
            ),
        ],
    )
    status, body = cluster.request("POST", f"/api/v1/namespaces/{other}/configmaps", configmap("x"))
    assert (status, body["message"]) == (
        400,
        'admission webhook "by-namespace.webhooks.test" denied the request: namespace',
    )
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("x"))
    assert status == 201, body
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("y", {"guarded": "yes"})
    )
    assert (status, body["message"]) == (
        400,
        'admission webhook "by-object.webhooks.test" denied the request: object',
    )
    # An update taking the label away still matches: the old object has it.
    server.handlers["/by-object"] = lambda review: {"allowed": True}
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("z", {"guarded": "yes"})
    )
    assert status == 201, body
    server.handlers["/by-object"] = lambda review: {"allowed": False, "status": {"message": "object"}}
    status, body = cluster.request(
        "PUT",
        f"/api/v1/namespaces/{ns}/configmaps/z",
        {**body, "metadata": {**body["metadata"], "labels": {}}},
    )
    assert (status, body["message"]) == (
        400,
        'admission webhook "by-object.webhooks.test" denied the request: object',
    )
    assert [r["request"]["name"] for r in server.seen("/by-object")] == ["y", "z", "z"]
    assert [r["request"]["namespace"] for r in server.seen("/by-namespace")] == [other]


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_failure_policy_unreachable(
    cluster: ClusterUnderTest,
    server: WebhookServer,
    configs: list[str],
    wait_for: WaitFor,
    ns: str,
    policy: str,
) -> None:
    """A webhook nobody answers: Fail refuses the request with an InternalError naming the call, Ignore
    lets it through."""
    port = free_port()
    down = webhook(server, "down.webhooks.test", "/down", ns, failurePolicy=policy, timeoutSeconds=3)
    down["clientConfig"]["url"] = f"https://127.0.0.1:{port}/down"
    install(cluster, server, configs, wait_for, "ValidatingWebhookConfiguration", f"{ns}-down", [down])
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("u"))
    if policy == "Ignore":
        assert status == 201, body
        return
    assert (status, body) == (
        500,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'Internal error occurred: failed calling webhook "down.webhooks.test": failed to call '
            f'webhook: Post "https://127.0.0.1:{port}/down?timeout=3s": dial tcp 127.0.0.1:{port}: connect: '
            "connection refused",
            "reason": "InternalError",
            "details": {
                "causes": [
                    {
                        "message": 'failed calling webhook "down.webhooks.test": failed to call webhook: '
                        f'Post "https://127.0.0.1:{port}/down?timeout=3s": dial tcp 127.0.0.1:{port}: '
                        "connect: connection refused"
                    }
                ]
            },
            "code": 500,
        },
    )


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_failure_policy_timeout(
    cluster: ClusterUnderTest,
    server: WebhookServer,
    configs: list[str],
    wait_for: WaitFor,
    ns: str,
    policy: str,
) -> None:
    """A webhook that does not answer within timeoutSeconds: Fail refuses, Ignore lets the request
    through (after the timeout)."""

    def hang(review: Review) -> Answer:
        server.release.wait(timeout=60)
        return {"allowed": False, "status": {"message": "too late"}}

    server.handlers["/hang"] = hang
    install(
        cluster,
        server,
        configs,
        wait_for,
        "MutatingWebhookConfiguration",
        f"{ns}-slow",
        [webhook(server, "slow.webhooks.test", "/hang", ns, failurePolicy=policy, timeoutSeconds=1)],
    )
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("t"))
    assert server.queries["/hang"] == ["timeout=1s"]
    if policy == "Ignore":
        assert status == 201, body
        return
    assert status == 500, body
    assert body["reason"] == "InternalError"
    url = server.url("/hang?timeout=1s")
    assert body["message"] == (
        'Internal error occurred: failed calling webhook "slow.webhooks.test": failed to call webhook: '
        f'Post "{url}": context deadline exceeded'
    )


def test_dry_run(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A dry run calls webhooks declaring no side effects (None, NoneOnDryRun) with dryRun set; nothing
    is stored. Webhooks with side effects cannot be configured in v1 at all."""
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-dry",
        [
            webhook(server, "none.webhooks.test", "/none", ns),
            webhook(server, "on-dry-run.webhooks.test", "/on-dry-run", ns, sideEffects="NoneOnDryRun"),
        ],
    )
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps?dryRun=All", configmap("d"))
    assert status == 201, body
    for path in ("/none", "/on-dry-run"):
        [review] = server.seen(path)
        assert review["request"]["dryRun"] is True
        assert review["request"]["options"]["dryRun"] == ["All"]
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/d")[0] == 404
    status, body = cluster.request(
        "POST",
        f"{ADMISSION}/validatingwebhookconfigurations",
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": f"{ns}-side-effects"},
            "webhooks": [webhook(server, "some.webhooks.test", "/some", ns, sideEffects="Unknown")],
        },
    )
    assert status == 422, body


def test_custom_resource_and_status_subresource(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """Custom resources are admitted like built-in ones; a rule naming ``widgets/status`` matches writes
    of the status subresource only, with the subresource in the review."""
    create_crd_over_http(cluster, widget_crd())

    def size_limit(review: Review) -> Answer:
        size = review["request"]["object"]["spec"]["size"]
        return {"allowed": size <= 5, "status": {"code": 422, "message": f"spec.size {size} is over 5"}}

    server.handlers["/widgets"] = size_limit
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-widgets",
        [
            webhook(server, "widgets.webhooks.test", "/widgets", ns, groups=(GROUP,), resources=(WIDGETS,)),
            webhook(
                server,
                "status.webhooks.test",
                "/status",
                ns,
                groups=(GROUP,),
                resources=(f"{WIDGETS}/status",),
                operations=("UPDATE",),
            ),
        ],
    )
    base = f"/apis/{GROUP}/v1/namespaces/{ns}/{WIDGETS}"
    widget = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "spec": {"size": 7}}
    status, body = cluster.request("POST", base, {**widget, "metadata": {"name": "big"}})
    assert (status, body["message"]) == (
        422,
        'admission webhook "widgets.webhooks.test" denied the request: spec.size 7 is over 5',
    )
    status, body = cluster.request("POST", base, {**widget, "metadata": {"name": "w"}, "spec": {"size": 2}})
    assert status == 201, body
    review = server.seen("/widgets")[-1]["request"]
    assert review["kind"] == {"group": GROUP, "version": "v1", "kind": "Widget"}
    assert review["resource"] == {"group": GROUP, "version": "v1", "resource": WIDGETS}
    assert review["object"]["spec"] == {"size": 2, "color": "blue", "replicas": 1}  # defaulted before
    status, body = cluster.request("PUT", f"{base}/w/status", {**body, "status": {"phase": "Ready"}})
    assert status == 200, body
    [status_review] = server.seen("/status")
    assert status_review["request"]["subResource"] == "status"
    assert status_review["request"]["requestSubResource"] == "status"
    assert status_review["request"]["object"]["status"] == {"phase": "Ready"}
    assert status_review["request"]["oldObject"].get("status") is None


def test_delete_sends_the_old_object(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A DELETE is admitted with the stored object as oldObject and no object; a refusal keeps it."""
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("keep", {"k": "v"})
    )
    assert status == 201, body
    server.handlers["/delete"] = lambda review: {"allowed": False, "status": {"message": "keep it"}}
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-delete",
        [webhook(server, "delete.webhooks.test", "/delete", ns, operations=("DELETE",))],
    )
    status, body = cluster.request(
        "DELETE", f"/api/v1/namespaces/{ns}/configmaps/keep", {"propagationPolicy": "Background"}
    )
    assert (status, body["message"]) == (
        400,
        'admission webhook "delete.webhooks.test" denied the request: keep it',
    )
    [review] = server.seen("/delete")
    request = review["request"]
    assert request["operation"] == "DELETE"
    assert request["name"] == "keep"
    assert request["object"] is None
    assert request["oldObject"]["metadata"]["labels"] == {"k": "v"}
    assert request["options"] == {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "propagationPolicy": "Background",
    }
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/keep")[0] == 200
    server.handlers["/delete"] = lambda review: {"allowed": True}
    status, body = cluster.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/keep")
    assert status == 200, body
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/keep")[0] == 404
    # A deletecollection admits the deletion of each object it deletes.
    for name in ("one", "two"):
        status, body = cluster.request(
            "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap(name, {"set": "s"})
        )
        assert status == 201, body
    status, body = cluster.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps?labelSelector=set%3Ds")
    assert status == 200, body
    collection = [r["request"] for r in server.seen("/delete")[2:]]
    assert sorted(r["oldObject"]["metadata"]["name"] for r in collection) == ["one", "two"]
    assert [r.get("name", "") for r in collection] == ["", ""]


def _json_patch(ops: list[dict[str, Any]]) -> Answer:
    return {
        "allowed": True,
        "patchType": "JSONPatch",
        "patch": base64.b64encode(json.dumps(ops).encode()).decode(),
    }


def test_generated_names_patches_and_apply(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A generated name is not known to the mutating webhooks (the registry makes it after them), the
    validating ones see it; a patch is an UPDATE with UpdateOptions, a server-side apply that creates is a
    CREATE; a mutating webhook's warnings reach the client too."""
    server.handlers["/mutate"] = lambda review: {**_json_patch([]), "warnings": ["mutated"]}
    install(
        cluster,
        server,
        configs,
        wait_for,
        "MutatingWebhookConfiguration",
        f"{ns}-m",
        [webhook(server, "m.webhooks.test", "/mutate", ns, operations=("CREATE", "UPDATE"))],
    )
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-v",
        [webhook(server, "v.webhooks.test", "/validate", ns, operations=("CREATE", "UPDATE"))],
    )
    generated = configmap("")
    generated["metadata"] = {"generateName": "gen-"}
    status, body, warnings = raw_request(cluster, "POST", f"/api/v1/namespaces/{ns}/configmaps", generated)
    assert status == 201, body
    assert warnings == ['299 - "mutated"']
    name = body["metadata"]["name"]
    [mutating] = server.seen("/mutate")
    assert "name" not in mutating["request"]
    assert "name" not in mutating["request"]["object"]["metadata"]
    [validating] = server.seen("/validate")
    assert validating["request"]["name"] == name
    assert validating["request"]["object"]["metadata"]["name"] == name
    patch = raw_patch(cluster, f"/api/v1/namespaces/{ns}/configmaps/{name}", {"data": {"b": "2"}})
    assert patch == 200
    update = server.seen("/validate")[1]["request"]
    assert update["operation"] == "UPDATE"
    assert update["options"] == {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"}
    assert update["object"]["data"] == {"a": "1", "b": "2"}
    assert update["oldObject"]["data"] == {"a": "1"}
    applied = raw_patch(
        cluster,
        f"/api/v1/namespaces/{ns}/configmaps/applied?fieldManager=tester",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"x": "y"}},
        content_type="application/apply-patch+yaml",
    )
    assert applied == 201
    create = server.seen("/validate")[2]["request"]
    assert create["operation"] == "CREATE"
    assert create["name"] == "applied"
    assert create["options"] == {
        "kind": "CreateOptions",
        "apiVersion": "meta.k8s.io/v1",
        "fieldManager": "tester",
    }


def raw_patch(
    cluster: ClusterUnderTest, path: str, body: Any, content_type: str = "application/merge-patch+json"
) -> int:
    return http(cluster, "PATCH", path, body, content_type=content_type).status


def test_mutating_webhooks_on_delete(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """Mutating webhooks are called on DELETE too, with the stored object as oldObject; one that answers
    a patch there fails the request."""
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("gone"))
    assert status == 201, body
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("patched", {"p": "1"})
    )
    assert status == 201, body
    server.handlers["/on-delete"] = lambda review: (
        _json_patch([{"op": "add", "path": "/metadata/labels/x", "value": "y"}])
        if _labels(review["request"]["oldObject"]).get("p")
        else {"allowed": True}
    )
    install(
        cluster,
        server,
        configs,
        wait_for,
        "MutatingWebhookConfiguration",
        f"{ns}-on-delete",
        [webhook(server, "on-delete.webhooks.test", "/on-delete", ns, operations=("DELETE",))],
    )
    status, body = cluster.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/gone")
    assert status == 200, body
    [review] = server.seen("/on-delete")
    assert review["request"]["object"] is None
    assert review["request"]["oldObject"]["metadata"]["name"] == "gone"
    status, body = cluster.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/patched")
    assert status == 500, body
    assert body["message"] == (
        'Internal error occurred: admission webhook "on-delete.webhooks.test" attempted to modify the '
        "object, which is not supported for this operation"
    )
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/patched")[0] == 200


def test_namespace_objects_are_matched_by_their_own_labels(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A Namespace being created is matched against the namespaceSelector with its own labels."""
    server.handlers["/namespaces"] = lambda review: {"allowed": False, "status": {"message": "no namespaces"}}
    hook = webhook(server, "namespaces.webhooks.test", "/namespaces", ns, resources=("namespaces",))
    hook["namespaceSelector"] = {"matchLabels": {"webhooks-test": ns}}
    install(cluster, server, configs, wait_for, "ValidatingWebhookConfiguration", f"{ns}-ns", [hook])
    status, body = cluster.request(
        "POST", "/api/v1/namespaces", {"metadata": {"name": f"{ns}-refused", "labels": {"webhooks-test": ns}}}
    )
    assert (status, body["message"]) == (
        400,
        'admission webhook "namespaces.webhooks.test" denied the request: no namespaces',
    )
    [review] = server.seen("/namespaces")
    assert review["request"]["name"] == f"{ns}-refused"
    # Upstream's request info gives a Namespace's own name as the request's namespace.
    assert review["request"]["namespace"] == f"{ns}-refused"
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}-refused")[0] == 404


def test_service_reference_resolves_through_endpoints(sim: kubesim.Cluster, tmp_path: Path) -> None:
    """kubesim only: ``clientConfig.service`` is resolved through the Service's endpoints, as upstream's
    API server resolves it with --enable-aggregator-routing (k8s-local's control plane routes to the
    cluster IP, which nothing serves there: no kube-proxy), and the certificate is verified for
    ``<service>.<namespace>.svc``."""
    server = WebhookServer(tmp_path, dns_names=("hooks.default.svc",))
    try:
        server.handlers["/svc"] = lambda review: {"allowed": False, "status": {"message": "via the service"}}
        service = {
            "metadata": {"name": "hooks"},
            "spec": {"ports": [{"port": 443, "targetPort": server.port}]},
        }
        assert http(sim, "POST", "/api/v1/namespaces/default/services", service).status == 201
        endpoints = {
            "metadata": {"name": "hooks"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": server.port}]}],
        }
        assert http(sim, "POST", "/api/v1/namespaces/default/endpoints", endpoints).status == 201
        hook = webhook(server, "svc.webhooks.test", "/svc", "default")
        hook["clientConfig"] = {
            "service": {"namespace": "default", "name": "hooks", "path": "/svc"},
            "caBundle": server.ca_bundle,
        }
        config = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "svc"},
            "webhooks": [hook],
        }
        assert http(sim, "POST", f"{ADMISSION}/validatingwebhookconfigurations", config).status == 201
        resp = http(sim, "POST", "/api/v1/namespaces/default/configmaps", configmap("s"))
        assert (resp.status, resp.json()["message"]) == (
            400,
            'admission webhook "svc.webhooks.test" denied the request: via the service',
        )
        # A name the certificate does not carry fails the TLS verification.
        hook["clientConfig"]["service"]["name"] = "other"
        for kind in ("services", "endpoints"):
            body = {**(service if kind == "services" else endpoints), "metadata": {"name": "other"}}
            assert http(sim, "POST", f"/api/v1/namespaces/default/{kind}", body).status == 201
        put = http(sim, "GET", f"{ADMISSION}/validatingwebhookconfigurations/svc").json()
        put["webhooks"] = [hook]
        assert http(sim, "PUT", f"{ADMISSION}/validatingwebhookconfigurations/svc", put).status == 200
        resp = http(sim, "POST", "/api/v1/namespaces/default/configmaps", configmap("t"))
        assert resp.status == 500
        assert resp.json()["message"] == (
            'Internal error occurred: failed calling webhook "svc.webhooks.test": failed to call webhook: '
            'Post "https://other.default.svc:443/svc?timeout=5s": tls: failed to verify certificate: '
            "x509: certificate is not valid for other.default.svc"
        )
    finally:
        server.stop()


def test_match_policy_equivalent_calls_at_the_rule_version(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A rule naming v1 of a resource served at v1 and v2 is called for a v2 request under matchPolicy
    Equivalent (the default), at v1: kind, resource and objects at v1, requestKind and requestResource at
    v2; under Exact it is not called."""
    crd = copy.deepcopy(widget_crd())
    v2 = {**copy.deepcopy(crd["spec"]["versions"][0]), "name": "v2", "storage": False}
    crd["spec"]["versions"].append(v2)
    create_crd_over_http(cluster, crd)
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-versions",
        [
            webhook(
                server, "equivalent.webhooks.test", "/equivalent", ns, groups=(GROUP,), resources=(WIDGETS,)
            )
            | {
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [GROUP],
                        "apiVersions": ["v1"],
                        "resources": [WIDGETS],
                    }
                ]
            },
            webhook(server, "exact.webhooks.test", "/exact", ns, matchPolicy="Exact")
            | {
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [GROUP],
                        "apiVersions": ["v1"],
                        "resources": [WIDGETS],
                    }
                ]
            },
        ],
    )
    widget = {"apiVersion": f"{GROUP}/v2", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {"size": 1}}
    status, body = cluster.request("POST", f"/apis/{GROUP}/v2/namespaces/{ns}/{WIDGETS}", widget)
    assert status == 201, body
    assert server.seen("/exact") == []
    [review] = server.seen("/equivalent")
    request = review["request"]
    assert request["kind"] == {"group": GROUP, "version": "v1", "kind": "Widget"}
    assert request["resource"] == {"group": GROUP, "version": "v1", "resource": WIDGETS}
    assert request["requestKind"] == {"group": GROUP, "version": "v2", "kind": "Widget"}
    assert request["requestResource"] == {"group": GROUP, "version": "v2", "resource": WIDGETS}
    assert request["object"]["apiVersion"] == f"{GROUP}/v1"


@pytest.mark.kubesim_diverges(reason="matchConditions (CEL) are not evaluated: the webhook is always called")
def test_match_conditions(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A webhook whose matchConditions do not hold for a request is not called."""
    server.handlers["/conditional"] = lambda review: {"allowed": False, "status": {"message": "refused"}}
    conditions = [{"name": "not-skipped", "expression": "object.metadata.name != 'skip'"}]
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-conditions",
        [webhook(server, "conditional.webhooks.test", "/conditional", ns, matchConditions=conditions)],
    )
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("skip"))
    assert status == 201, body
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("other"))
    assert status == 400, body


def test_webhook_may_call_the_api_server(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A webhook may call the API server while it admits a request (here a dry-run create of what the
    object describes, as a webhook checking rendered objects does): nothing is held meanwhile."""

    def dry_run_secret(review: Review) -> Answer:
        name = review["request"]["object"]["data"]["secret"]
        status, body = cluster.request(
            "POST", f"/api/v1/namespaces/{ns}/secrets?dryRun=All", {"metadata": {"name": name}}
        )
        if status == 201:
            return {"allowed": True}
        return {"allowed": False, "status": {"code": 422, "message": f"secret {name}: {body['message']}"}}

    server.handlers["/dry-run"] = dry_run_secret
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-dry-run",
        [
            webhook(
                server,
                "dry-run.webhooks.test",
                "/dry-run",
                ns,
                objectSelector={"matchLabels": {"checked": "yes"}},
            )
        ],
    )
    status, body = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("ok", {"checked": "yes"}, {"secret": "fine"})
    )
    assert status == 201, body
    status, body = cluster.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        configmap("bad", {"checked": "yes"}, {"secret": "Not_Valid"}),
    )
    assert status == 422, body
    assert body["message"].startswith(
        'admission webhook "dry-run.webhooks.test" denied the request: '
        'secret Not_Valid: Secret "Not_Valid" is invalid'
    )
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets/fine")[0] == 404


def test_patch_of_an_object_changed_during_admission_is_tried_again(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A patch whose object changes while its webhooks are called is applied again to the new object, and
    admitted again (upstream's GuaranteedUpdate); one naming a resourceVersion is a 409 instead."""
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("raced"))
    assert status == 201, body

    def meddle(review: Review) -> Answer:
        data = review["request"]["object"]["data"]
        if "b" in data and "c" not in data:
            # The object changes under the request being admitted.
            c = "3" if data["b"] == "2" else "5"
            assert raw_patch(cluster, f"/api/v1/namespaces/{ns}/configmaps/raced", {"data": {"c": c}}) == 200
        return {"allowed": True}

    server.handlers["/meddle"] = meddle
    install(
        cluster,
        server,
        configs,
        wait_for,
        "ValidatingWebhookConfiguration",
        f"{ns}-meddle",
        [webhook(server, "meddle.webhooks.test", "/meddle", ns, operations=("UPDATE",))],
    )
    assert raw_patch(cluster, f"/api/v1/namespaces/{ns}/configmaps/raced", {"data": {"b": "2"}}) == 200
    stored = cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/raced")[1]
    assert stored["data"] == {"a": "1", "b": "2", "c": "3"}
    objects = [r["request"]["object"]["data"] for r in server.seen("/meddle")]
    assert objects == [{"a": "1", "b": "2"}, {"a": "1", "c": "3"}, {"a": "1", "b": "2", "c": "3"}]
    # With a resourceVersion the change is a conflict (the webhook changes c while c is taken away).
    rv = stored["metadata"]["resourceVersion"]
    patch = {"metadata": {"resourceVersion": rv}, "data": {"b": "4", "c": None}}
    resp = http(
        cluster,
        "PATCH",
        f"/api/v1/namespaces/{ns}/configmaps/raced",
        patch,
        content_type="application/merge-patch+json",
    )
    assert resp.status == 409, resp.body
    assert resp.json()["message"] == (
        'Operation cannot be fulfilled on configmaps "raced": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/raced")[1]["data"] == {
        "a": "1",
        "b": "2",
        "c": "5",
    }


def test_reinvocation_if_needed(
    cluster: ClusterUnderTest, server: WebhookServer, configs: list[str], wait_for: WaitFor, ns: str
) -> None:
    """A mutating webhook with reinvocationPolicy IfNeeded is called once more when a later one changed
    the object; one with Never is not."""

    def label(key: str) -> Callable[[Review], Answer]:
        def handler(review: Review) -> Answer:
            labels = _labels(review["request"]["object"])
            if key in labels:
                return {"allowed": True}
            ops: list[dict[str, Any]] = (
                [] if labels else [{"op": "add", "path": "/metadata/labels", "value": {}}]
            )
            return _json_patch(
                [*ops, {"op": "add", "path": f"/metadata/labels/{key}", "value": str(len(labels))}]
            )

        return handler

    server.handlers["/early"] = label("early")
    server.handlers["/never"] = label("never")
    server.handlers["/late"] = label("late")
    install(
        cluster,
        server,
        configs,
        wait_for,
        "MutatingWebhookConfiguration",
        f"{ns}-reinvoke",
        [
            webhook(server, "early.webhooks.test", "/early", ns, reinvocationPolicy="IfNeeded"),
            webhook(server, "never.webhooks.test", "/never", ns),
            webhook(server, "late.webhooks.test", "/late", ns, reinvocationPolicy="IfNeeded"),
        ],
    )
    status, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("r"))
    assert status == 201, body
    assert body["metadata"]["labels"] == {"early": "0", "never": "1", "late": "2"}
    assert [_labels(r["request"]["object"]) for r in server.seen("/early")] == [
        {},
        {"early": "0", "never": "1", "late": "2"},
    ]
    assert len(server.seen("/never")) == 1
    assert len(server.seen("/late")) == 1
