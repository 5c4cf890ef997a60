"""``helm install`` of the chart onto the test's cluster (kubesim, or upstream Kubernetes in namespaces of
the test's own), then the RBAC exactly as installed: what each ServiceAccount may do, listed by
``kubectl auth can-i --list``, is what docs/install.md says and nothing more; the operator, running
in-process under KopfRunner with its ServiceAccount's token, provisions an instance the hub's ServiceAccount
asked for; the hub's ServiceAccount is refused everything else."""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kopf.testing import KopfRunner
from kubernetes import client, config

from jupyternetes.handlers import CONFIG_ENV, registry
from tests.clusters import ClusterUnderTest
from tests.conftest import wait_until
from tests.integration.chart.conftest import (
    CHART,
    RELEASE,
    Obj,
    helm,
    kubectl_binary,
    one,
    operator_args,
    serve_webhook_locally,
    values_file,
)
from tests.integration.crds import install_crds, project_crds

GROUP, VERSION = "kadense.io", "v1"
OPERATOR_SA = f"{RELEASE}-jupyternetes-operator"

# What the chart's default template reads: JupyterHub's get_env(), passed by the spawner as jupyterhub.env.*
HUB_ENV = {
    "JUPYTERHUB_API_TOKEN": "secret-token",
    "JPY_API_TOKEN": "secret-token",
    "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-jovyan",
    "JUPYTERHUB_HOST": "",
    "JUPYTERHUB_OAUTH_CALLBACK_URL": "/user/jovyan/oauth_callback",
    "JUPYTERHUB_OAUTH_SCOPES": '["access:servers!server=jovyan/"]',
    "JUPYTERHUB_OAUTH_ACCESS_SCOPES": '["access:servers!server=jovyan/"]',
    "JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES": "[]",
    "JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED": "0",
    "JUPYTERHUB_USER": "jovyan",
    "JUPYTERHUB_SERVER_NAME": "",
    "JUPYTERHUB_API_URL": "http://hub:8081/hub/api",
    "JUPYTERHUB_ACTIVITY_URL": "http://hub:8081/hub/api/users/jovyan/activity",
    "JUPYTERHUB_BASE_URL": "/",
    "JUPYTERHUB_SERVICE_PREFIX": "/user/jovyan/",
    "JUPYTERHUB_PUBLIC_URL": "",
    "JUPYTERHUB_PUBLIC_HUB_URL": "",
    "JUPYTERHUB_ADMIN_ACCESS": "",
    "JUPYTERHUB_DEFAULT_URL": "",
}
SECRET_ENV = {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"}


@dataclass
class Layout:
    """A way to install the chart, and where the hub puts instances and finds templates."""

    values: dict[str, Any]
    hub_namespace: str
    instance_namespace: str
    template_namespace: str
    template_name: str = "default"

    @property
    def namespaces(self) -> list[str]:
        return sorted({self.hub_namespace, self.instance_namespace, self.template_namespace})


def layout(kind: str, cluster: ClusterUnderTest) -> Layout:
    """The chart's layouts in the test's namespaces: the release (and the hub) in the test's namespace."""
    hub = cluster.namespace
    if kind == "default":  # everything in the hub's namespace: the chart's defaults
        return Layout({}, hub, hub, hub)
    if kind == "cluster-wide":  # a namespace per user: the rights in every namespace
        return Layout({"operator": {"allNamespaces": True}, "hub": {"clusterWide": True}}, hub, hub, hub)
    # Users' servers in their own namespace, templates in a third one; the hub elsewhere.
    users, templates = cluster.add_namespace("users"), cluster.add_namespace("templates")
    values = {
        "operator": {"watchNamespaces": [users], "templateNamespaces": [templates]},
        "hub": {"namespaces": [users], "serviceAccount": {"name": "hub", "namespace": hub}},
    }
    return Layout(values, hub, users, templates)


# The layouts the operator runs in. "cluster-wide" (operator.allNamespaces, hub.clusterWide) is only looked at
# through its RBAC: an operator serving every namespace of the session's shared upstream cluster would serve
# other tests' instances.
LAYOUTS = ("default", "multi-namespace")


class Api:
    """Typed-enough wrappers around the official client for one identity (a kubeconfig)."""

    def __init__(self, kubeconfig: str) -> None:
        # Any: the tests pass plain dicts, which the client accepts but its annotations do not.
        self.client: Any = config.new_client_from_config(kubeconfig)  # type: ignore[no-untyped-call]
        self.core: Any = client.CoreV1Api(self.client)
        self.custom: Any = client.CustomObjectsApi(self.client)

    def close(self) -> None:
        self.client.close()


def status_of(call: Callable[[], object]) -> int:
    """The HTTP status of an API call: 200 when it succeeded."""
    try:
        call()
    except client.ApiException as exc:
        return int(exc.status)
    return 200


def kopf_args(deployment_args: list[str]) -> tuple[list[str], dict[str, Any]]:
    """The operator as the chart's Deployment starts it (`jupyternetes operator ARGS`), turned into the
    equivalent `kopf run` arguments and $JUPYTERNETES_OPERATOR_CONFIG (the mapping of jupyternetes.cli)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespace", action="append", default=[])
    parser.add_argument("--all-namespaces", action="store_true")
    parser.add_argument("--template-namespace", action="append", default=[])
    parser.add_argument("--operator-namespace")
    parser.add_argument("--liveness-port", type=int)
    parser.add_argument("--metrics-port", type=int)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--standalone", action="store_true")
    parser.add_argument("--other-resource", action="append", default=[])
    # The admission webhook's certificate is mounted from a Secret in the pod: served by the command test
    # (test_operator_command_as_the_deployment_runs_it), not configured here.
    for flag in ("--webhook-port", "--webhook-cert", "--webhook-key"):
        parser.add_argument(flag)
    args = parser.parse_args(deployment_args)
    assert args.standalone, "the default chart runs one standalone replica"
    settings: dict[str, Any] = {
        "operatorNamespace": args.operator_namespace,
        "templateNamespaces": args.template_namespace,
        "workers": args.workers,
        "otherResources": args.other_resource,
    }
    run = ["run", "--standalone", "-m", "jupyternetes.handlers"]
    if args.all_namespaces:
        run.append("--all-namespaces")
    else:
        settings["watchedNamespaces"] = args.namespace
        for ns in sorted(set(args.namespace) | set(args.template_namespace)):
            run += ["--namespace", ns]
    return run, settings


@dataclass
class Installed:
    cluster: ClusterUnderTest
    layout: Layout
    admin: Api
    hub: Api
    operator: Api
    operator_kubeconfig: str
    manifests: list[Obj]
    helm_home: Path


@pytest.fixture(params=LAYOUTS)
def installed(
    request: pytest.FixtureRequest, cluster: ClusterUnderTest, tmp_path: Path
) -> Iterator[Installed]:
    """The chart installed as release ``jn`` in the test's namespace, with the project's CRDs already
    there on upstream (the session's, kept across tests; helm leaves existing CRDs alone)."""
    install_crds(cluster, request, kubesim=False)
    lay = layout(request.param, cluster)
    hub_ns = lay.hub_namespace
    admin = Api(cluster.kubeconfig)
    # Zero to JupyterHub's hub ServiceAccount.
    admin.core.create_namespaced_service_account(hub_ns, {"metadata": {"name": "hub"}})
    args = ["install", RELEASE, str(CHART), "--namespace", hub_ns]
    if lay.values:
        args += ["--values", str(values_file(tmp_path, lay.values))]
    home = tmp_path / "helm"
    out = helm(args, home, kubeconfig=cluster.kubeconfig)
    assert "STATUS: deployed" in out.stdout, out.stdout
    manifest = helm(["get", "manifest", RELEASE, "--namespace", hub_ns], home, kubeconfig=cluster.kubeconfig)
    operator_kubeconfig = cluster.kubeconfig_for(OPERATOR_SA, hub_ns)
    hub = Api(cluster.kubeconfig_for("hub", hub_ns))
    operator = Api(operator_kubeconfig)
    try:
        yield Installed(
            cluster,
            lay,
            admin,
            hub,
            operator,
            operator_kubeconfig,
            [d for d in yaml.safe_load_all(manifest.stdout) if d],
            home,
        )
    finally:
        for api in (admin, hub, operator):
            api.close()


def test_helm_install_creates_everything(installed: Installed) -> None:
    admin, layout = installed.admin, installed.layout
    ext: Any = client.ApiextensionsV1Api(admin.client)
    for crd in project_crds():  # the chart's crds/ (a test holds them equal to the repository's)
        live = ext.read_custom_resource_definition(crd["metadata"]["name"])
        assert [v.name for v in live.spec.versions] == [v["name"] for v in crd["spec"]["versions"]]
    apps: Any = client.AppsV1Api(admin.client)
    deployment = apps.read_namespaced_deployment(f"{RELEASE}-jupyternetes-operator", layout.hub_namespace)
    assert deployment.spec.template.spec.service_account_name == OPERATOR_SA
    template = admin.custom.get_namespaced_custom_object(
        GROUP, VERSION, layout.template_namespace, "jupyternotebooktemplates", layout.template_name
    )
    assert template["spec"]["pods"][0]["name"] == "notebook"
    status = helm(
        ["status", RELEASE, "--namespace", layout.hub_namespace, "-o", "json"],
        installed.helm_home,
        kubeconfig=installed.cluster.kubeconfig,
    ).stdout
    assert json.loads(status)["info"]["status"] == "deployed"


# What docs/install.md ("RBAC") says each ServiceAccount may do, as `kubectl auth can-i --list` names it
# ("resource[.group][/subresource] verb"), on top of what every ServiceAccount may do.
INSTANCES = "jupyternotebookinstances.kadense.io"
TEMPLATES = "jupyternotebooktemplates.kadense.io"


HUB_RULES = {f"{INSTANCES} {v}" for v in ["create", "get", "list", "watch", "patch", "delete"]} | {
    f"secrets {v}" for v in ["create", "patch", "delete"]
}
OPERATOR_READ = {
    f"{r} {v}"
    for r in (INSTANCES, TEMPLATES, "pods", "persistentvolumeclaims")
    for v in ("get", "list", "watch")
} | {f"{TEMPLATES}/status patch"}  # the template's count of its instances
OPERATOR_PROVISION = {
    f"{INSTANCES} patch",
    f"{INSTANCES}/status patch",
    f"{INSTANCES}/finalizers update",
    "pods create",
    "pods delete",
    "persistentvolumeclaims create",
    "persistentvolumeclaims delete",
    "secrets get",
    "events create",
    "events.events.k8s.io create",
}
OPERATOR_DISCOVERY = {
    "customresourcedefinitions.apiextensions.k8s.io list",
    "customresourcedefinitions.apiextensions.k8s.io watch",
    "namespaces list",
    "namespaces watch",
}
# What any ServiceAccount may do (upstream's bootstrap roles system:basic-user, system:discovery,
# system:public-info-viewer and system:service-account-issuer-discovery).
ANY_SERVICE_ACCOUNT = {
    "selfsubjectreviews.authentication.k8s.io create",
    "selfsubjectaccessreviews.authorization.k8s.io create",
    "selfsubjectrulesreviews.authorization.k8s.io create",
} | {
    f"{url} get"
    for url in [
        "/.well-known/openid-configuration",
        "/.well-known/openid-configuration/",
        "/openid/v1/jwks",
        "/openid/v1/jwks/",
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/openapi",
        "/openapi/*",
        "/healthz",
        "/livez",
        "/readyz",
        "/version",
        "/version/",
    ]
}
CAN_I_LINE = re.compile(r"^(\S*)\s*\[([^\]]*)\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$")


def can_i_list(installed: Installed, account: str, namespace: str) -> set[str]:
    """What ``kubectl auth can-i --list`` shows the ServiceAccount ``account`` of the hub's namespace may do
    in ``namespace`` (a SelfSubjectRulesReview, impersonating it): "resource verb" and "url verb"."""
    proc = subprocess.run(
        [
            kubectl_binary(),
            "auth",
            "can-i",
            "--list",
            f"--as=system:serviceaccount:{installed.layout.hub_namespace}:{account}",
            f"--namespace={namespace}",
        ],
        env={**os.environ, "KUBECONFIG": installed.cluster.kubeconfig},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found: set[str] = set()
    lines = proc.stdout.splitlines()
    assert lines
    assert lines[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    for line in lines[1:]:
        if not line.strip():
            continue
        match = CAN_I_LINE.match(line)
        assert match, f"unparsed line of kubectl auth can-i --list: {line!r}"
        resource, urls, names, verbs = match.groups()
        assert not names, f"no rule is limited to resource names here: {line!r}"
        for verb in verbs.split():
            if resource:
                found.add(f"{resource} {verb}")
            for url in urls.split():
                found.add(f"{url} {verb}")
    return found


@pytest.mark.parametrize("installed", [*LAYOUTS, "cluster-wide"], indirect=True)
def test_each_serviceaccount_may_do_what_the_docs_say_and_nothing_more(installed: Installed) -> None:
    """docs/install.md's RBAC section, checked on the installed chart: in each namespace, what the hub's and
    the operator's ServiceAccounts may do beyond any ServiceAccount (the namespace's ``default``, which has
    no binding: discovery, self reviews) is exactly what the docs list."""
    layout, cluster = installed.layout, installed.cluster
    cluster_wide = bool(layout.values.get("operator", {}).get("allNamespaces"))
    other = cluster.add_namespace("other")
    for namespace in [*layout.namespaces, other]:
        anyone = can_i_list(installed, "default", namespace)
        assert anyone == ANY_SERVICE_ACCOUNT, sorted(anyone ^ ANY_SERVICE_ACCOUNT)
        hub = can_i_list(installed, "hub", namespace)
        operator = can_i_list(installed, OPERATOR_SA, namespace)
        assert anyone <= hub
        assert anyone <= operator
        serves = cluster_wide or namespace == layout.instance_namespace
        reads = serves or namespace == layout.template_namespace
        expected_hub = HUB_RULES if serves else set()
        expected_operator = (
            (OPERATOR_READ if reads else set())
            | (OPERATOR_PROVISION if serves else set())
            | OPERATOR_DISCOVERY
        )
        assert hub - anyone == expected_hub, (namespace, sorted(hub - anyone))
        assert operator - anyone == expected_operator, (namespace, sorted(operator - anyone))


def _instance(layout: Layout, name: str) -> Obj:
    plain = {f"jupyterhub.env.{k}": v for k, v in HUB_ENV.items() if k not in SECRET_ENV}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JupyterNotebookInstance",
        "metadata": {"name": name, "namespace": layout.instance_namespace},
        "spec": {
            "template": {"name": layout.template_name, "namespace": layout.template_namespace},
            "variables": {"jupyterhub.user.id": "1", "jupyterhub.user.name": "jovyan", **plain},
            "variablesFrom": [{"secretRef": {"name": f"{name}-hub-vars"}}],
        },
    }


def _secret(layout: Layout, name: str) -> Obj:
    data = {f"jupyterhub.env.{k}": base64.b64encode(HUB_ENV[k].encode()).decode() for k in sorted(SECRET_ENV)}
    return {"metadata": {"name": f"{name}-hub-vars", "namespace": layout.instance_namespace}, "data": data}


def _ready(inst: Obj | None) -> bool:
    conditions = ((inst or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_operator_serviceaccount_provisions_what_the_hub_asks_for(
    installed: Installed, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, hub, admin = installed.layout, installed.hub, installed.admin
    run, settings = kopf_args(operator_args(installed.manifests))
    monkeypatch.setenv("KUBECONFIG", installed.operator_kubeconfig)
    monkeypatch.setenv(CONFIG_ENV, json.dumps({**settings, "kubeconfig": installed.operator_kubeconfig}))
    name = "jupyter-jovyan"
    ns = layout.instance_namespace
    with KopfRunner(run, timeout=60, registry=registry) as runner:
        # The hub, with its own token, writes the Secret and the instance (its whole job).
        hub.core.create_namespaced_secret(ns, _secret(layout, name))
        hub.custom.create_namespaced_custom_object(
            GROUP, VERSION, ns, "jupyternotebookinstances", _instance(layout, name)
        )

        def get() -> Obj | None:
            out: Obj = hub.custom.get_namespaced_custom_object(
                GROUP, VERSION, ns, "jupyternotebookinstances", name
            )
            return out

        def describe() -> str:
            status = json.dumps((get() or {}).get("status"))
            return f"instance Ready; status: {status}\n{runner.output[-3000:]}"

        inst = wait_until(lambda: get() if _ready(get()) else None, 60, message=describe)
        assert inst["status"]["podsProvisioned"] == "Completed"
        assert inst["status"]["pvcsProvisioned"] == "Completed"
        pod_name = inst["status"]["pods"]["notebook"]["resourceName"]
        pod = admin.core.read_namespaced_pod(pod_name, ns)
        env = {e.name: e.value for e in pod.spec.containers[0].env}
        assert env["JUPYTERHUB_API_TOKEN"] == "secret-token", "read from the Secret by the operator"
        assert env["JUPYTERHUB_SERVICE_URL"] == "http://0.0.0.0:8888/user/jovyan/"
        assert inst["status"]["address"] == f"{pod.status.pod_ip}:8888"
        pvc_name = inst["status"]["pvcs"]["workspace"]["resourceName"]
        assert admin.core.read_namespaced_persistent_volume_claim(pvc_name, ns).status.phase == "Bound"
        wait_until(
            lambda: (
                "Created"
                in {
                    e.reason
                    for e in admin.core.list_namespaced_event(ns).items
                    if e.involved_object.name == name
                }
            ),
            30,
            message="a Created event: the operator may post Events",
        )

        # Stop: the hub deletes the instance; the pod goes with it, the claim stays.
        hub.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, "jupyternotebookinstances", name)
        hub.core.delete_namespaced_secret(f"{name}-hub-vars", ns)
        wait_until(
            lambda: status_of(lambda: admin.core.read_namespaced_pod(pod_name, ns)) == 404,
            60,
            message="the pod deleted with its instance (by the garbage collector)",
        )
        assert status_of(lambda: admin.core.read_namespaced_persistent_volume_claim(pvc_name, ns)) == 200
    output: str = runner.output
    failure: BaseException | None = runner.exception
    assert failure is None, output
    # Every request the operator made was allowed by the chart's RBAC.
    assert "Forbidden" not in output, output
    assert " 403" not in output, output


def test_hub_serviceaccount_is_refused_everything_else(installed: Installed) -> None:
    layout, hub = installed.layout, installed.hub
    ns = layout.instance_namespace
    hub.core.create_namespaced_secret(ns, _secret(layout, "x"))
    pod = {"metadata": {"name": "evil"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    pvc = {
        "metadata": {"name": "evil"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    tns, tname = layout.template_namespace, layout.template_name
    template_patch: Obj = {"spec": {"pods": []}}
    refused: dict[str, Callable[[], object]] = {
        "create a pod": lambda: hub.core.create_namespaced_pod(ns, pod),
        "list pods": lambda: hub.core.list_namespaced_pod(ns),
        "create a PVC": lambda: hub.core.create_namespaced_persistent_volume_claim(ns, pvc),
        "read a secret": lambda: hub.core.read_namespaced_secret("x-hub-vars", ns),
        "list secrets": lambda: hub.core.list_namespaced_secret(ns),
        "read a template": lambda: hub.custom.get_namespaced_custom_object(
            GROUP, VERSION, tns, "jupyternotebooktemplates", tname
        ),
        "change a template": lambda: hub.custom.patch_namespaced_custom_object(
            GROUP, VERSION, tns, "jupyternotebooktemplates", tname, template_patch
        ),
        "create a template": lambda: hub.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            tns,
            "jupyternotebooktemplates",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "JupyterNotebookTemplate",
                "metadata": {"name": "evil"},
                "spec": {"pods": []},
            },
        ),
        "write an instance's status": lambda: hub.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, ns, "jupyternotebookinstances", "x", {"status": {}}
        ),
        "create an instance in another namespace": lambda: hub.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            "jupyternotebookinstances",
            {**_instance(layout, "y"), "metadata": {"name": "y"}},
        ),
    }
    statuses = {what: status_of(call) for what, call in refused.items()}
    assert statuses == dict.fromkeys(refused, 403)
    # ... while what the spawner needs is allowed.
    assert (
        status_of(
            lambda: hub.custom.list_namespaced_custom_object(GROUP, VERSION, ns, "jupyternotebookinstances")
        )
        == 200
    )
    assert (
        status_of(
            lambda: hub.core.patch_namespaced_secret("x-hub-vars", ns, {"metadata": {"labels": {"a": "b"}}})
        )
        == 200
    )
    assert status_of(lambda: hub.core.delete_namespaced_secret("x-hub-vars", ns)) == 200


def test_operator_serviceaccount_is_confined(installed: Installed) -> None:
    layout, operator = installed.layout, installed.operator
    tns, tname = layout.template_namespace, layout.template_name
    pod = {"metadata": {"name": "stray"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    assert (
        status_of(
            lambda: operator.custom.patch_namespaced_custom_object(
                GROUP, VERSION, tns, "jupyternotebooktemplates", tname, {"metadata": {"labels": {"a": "b"}}}
            )
        )
        == 403
    ), "templates are read-only for the operator"
    assert status_of(lambda: operator.core.create_namespaced_pod("default", pod)) == 403
    assert status_of(lambda: operator.core.list_secret_for_all_namespaces()) == 403
    assert (
        status_of(
            lambda: operator.core.create_namespaced_config_map(
                layout.instance_namespace, {"metadata": {"name": "c"}}
            )
        )
        == 403
    ), "otherResources kinds are only those listed in values"
    if layout.template_namespace != layout.instance_namespace:
        assert status_of(lambda: operator.core.create_namespaced_pod(layout.template_namespace, pod)) == 403


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except (urllib.error.URLError, OSError):
        return 0


def test_operator_command_as_the_deployment_runs_it(installed: Installed, tmp_path: Path) -> None:
    """`jupyternetes operator` with exactly the Deployment's arguments (ports moved to free ones, and the
    ServiceAccount's kubeconfig instead of the in-cluster one): probes and metrics answer where the chart
    points them, and it provisions an instance."""
    args = operator_args(installed.manifests)
    health, metrics = _free_port(), _free_port()
    args = [
        f"--liveness-port={health}" if a.startswith("--liveness-port=") else a
        for a in args
        if not a.startswith("--metrics-port=")
    ] + [f"--metrics-port={metrics}", f"--kubeconfig={installed.operator_kubeconfig}"]
    if any(a.startswith("--webhook-port=") for a in args):
        # The webhook's certificate as the chart made it (its Secret, mounted in the pod), on a free port.
        secret = installed.admin.core.read_namespaced_secret(
            f"{RELEASE}-jupyternetes-webhook-tls", installed.layout.hub_namespace
        )
        args = serve_webhook_locally(args, secret.data, tmp_path, _free_port())
    deployment = one(installed.manifests, "Deployment", f"{RELEASE}-jupyternetes-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    log = (tmp_path / "operator.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyternetes.cli", "operator", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k not in {"KUBECONFIG", CONFIG_ENV}},
    )
    try:
        wait_until(lambda: _http_status(f"http://127.0.0.1:{health}/healthz") == 200, 30, message="/healthz")
        wait_until(lambda: _http_status(f"http://127.0.0.1:{metrics}/metrics") == 200, 10, message="/metrics")
        layout, hub, ns = installed.layout, installed.hub, installed.layout.instance_namespace
        hub.core.create_namespaced_secret(ns, _secret(layout, "jupyter-cli"))
        hub.custom.create_namespaced_custom_object(
            GROUP, VERSION, ns, "jupyternotebookinstances", _instance(layout, "jupyter-cli")
        )
        wait_until(
            lambda: _ready(
                hub.custom.get_namespaced_custom_object(
                    GROUP, VERSION, ns, "jupyternotebookinstances", "jupyter-cli"
                )
            ),
            60,
            message=lambda: "instance Ready\n" + (tmp_path / "operator.log").read_text()[-3000:],
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
    output = (tmp_path / "operator.log").read_text()
    assert "Forbidden" not in output, output
