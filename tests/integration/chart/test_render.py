"""The chart rendered by the real ``helm template``: every manifest valid for the four newest Kubernetes
minors kubernetes-validate bundles (strict), custom resources valid against our CRDs, the RBAC exactly as
designed, ``helm lint`` clean, and the chart's CRDs identical to the repository's."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kv

from jupyternetes.core.crdgen import all_crds, crd_yaml
from jupyternetes.core.webhook_configuration import validating_webhook_configuration
from tests.integration.chart.conftest import (
    CHART,
    NAMESPACE,
    RELEASE,
    ROOT,
    Obj,
    by_kind,
    flag_values,
    helm,
    one,
    operator_args,
    render,
    render_error,
    values_file,
)

KOPF_API = "kopf.dev/v1"
FULLNAME = f"{RELEASE}-jupyternetes"


def newest_minors(count: int = 4) -> list[str]:
    """The ``count`` newest Kubernetes minors whose schemas kubernetes-validate ships."""
    minors = sorted(
        {kv.major_minor(v) for v in kv.all_versions()}, key=lambda m: tuple(map(int, m.split(".")))
    )
    return minors[-count:]


MINORS = newest_minors()

# Non-default configurations an administrator would plausibly use.
CLUSTER_WIDE: dict[str, Any] = {
    "image": {"digest": "sha256:" + "ab" * 32, "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "operator": {
        "replicas": 2,
        "allNamespaces": True,
        "templateNamespaces": ["jupyternetes-templates", NAMESPACE],
        "workers": 8,
        "verbose": True,
        "extraArgs": ["--kubeconfig=/etc/kube/config"],
        "extraEnv": [{"name": "TZ", "value": "UTC"}],
        "otherResources": [
            {"apiGroups": [""], "resources": ["services", "configmaps"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"]},
        ],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "hub", "effect": "NoSchedule"}],
        "priorityClassName": "system-cluster-critical",
        "podAnnotations": {"example.com/owner": "platform"},
    },
    "metrics": {"enabled": False},
    "hub": {"clusterWide": True, "serviceAccount": {"name": "hub", "namespace": "jhub"}},
    "defaultTemplate": {
        "namespace": "jupyternetes-templates",
        "storageClassName": "fast",
        "storage": "10Gi",
        "image": "quay.io/jupyter/scipy-notebook:hub-5.2.1",
    },
}

MULTI_NAMESPACE: dict[str, Any] = {
    "fullnameOverride": FULLNAME,
    "operator": {"watchNamespaces": ["users-a", "users-b"], "templateNamespaces": ["templates"]},
    "serviceAccount": {"create": False, "name": "preexisting-operator"},
    "metrics": {
        "port": 9100,
        "service": {"type": "ClusterIP", "annotations": {"prometheus.io/scrape": "true"}},
    },
    "hub": {
        "namespaces": ["users-a", "users-b"],
        "serviceAccount": {"name": "hub", "namespace": "jhub"},
        "maxInstances": 200,
    },
    "defaultTemplate": {
        "name": "python",
        "spec": {
            "pods": [
                {
                    "name": "notebook",
                    "spec": {
                        "containers": [
                            {
                                "name": "notebook",
                                "image": "quay.io/jupyter/minimal-notebook:hub-5.2.1",
                                "ports": [{"name": "http", "containerPort": 8888}],
                            }
                        ]
                    },
                }
            ]
        },
    },
}

CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "default": ({}, ()),
    "cluster-wide": (CLUSTER_WIDE, (KOPF_API,)),
    "multi-namespace": (MULTI_NAMESPACE, ()),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Obj]]:
    out = {}
    for case, (values, apis) in CASES.items():
        out[case] = render(tmp_path_factory.mktemp(case), values, api_versions=apis)
    return out


@cache
def crd_schemas() -> dict[str, dict[str, Any]]:
    """Each custom kind's openAPIV3Schema from the repository's CRDs."""
    schemas = {}
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        (version,) = crd["spec"]["versions"]
        schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


def _describe(obj: Obj) -> str:
    return f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def test_four_newest_minors_are_recent() -> None:
    assert len(MINORS) == 4
    assert tuple(map(int, MINORS[0].split("."))) >= (1, 34), MINORS


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("minor", MINORS)
def test_every_manifest_is_valid_kubernetes(rendered: dict[str, list[Obj]], case: str, minor: str) -> None:
    objs = rendered[case]
    assert objs
    checked = 0
    for obj in objs:
        if obj["apiVersion"] == "kadense.io/v1":
            continue  # ours: checked against our CRDs below
        if obj["apiVersion"] == KOPF_API:
            # kopf's peering objects: no schema to check beyond their identity.
            assert obj["kind"] in {"KopfPeering", "ClusterKopfPeering"}
            assert obj["metadata"]["name"] == "jupyternetes"
            continue
        try:
            kv.validate(obj, minor, strict=True)
        except kv.ValidationError as exc:
            pytest.fail(f"{_describe(obj)} is invalid for Kubernetes {minor}: {exc.message} at {exc.path}")
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("minor", MINORS)
def test_chart_crds_are_valid_kubernetes(minor: str) -> None:
    for path in sorted((CHART / "crds").glob("*.yaml")):
        kv.validate(yaml.safe_load(path.read_text()), minor, strict=True)


@pytest.mark.parametrize("case", list(CASES))
def test_custom_resources_match_the_crds(rendered: dict[str, list[Obj]], case: str) -> None:
    custom = [o for o in rendered[case] if o["apiVersion"] == "kadense.io/v1"]
    assert custom
    for obj in custom:
        jsonschema.validate(obj, crd_schemas()[obj["kind"]])


def test_chart_crds_are_the_repository_crds() -> None:
    """The chart carries copies (Helm reads crds/ inside the chart only): they must not drift. Fix with
    `python tools/generate_crds.py --dest charts/jupyternetes/crds`."""
    repo = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    chart = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*")}
    assert sorted(chart) == sorted(repo)
    for name, content in repo.items():
        assert chart[name] == content, f"charts/jupyternetes/crds/{name} differs from crds/{name}"
    generated = {name: crd_yaml(crd) for name, crd in all_crds().items()}
    assert {name: data.decode() for name, data in chart.items()} == generated


def test_helm_template_with_crds_renders_the_crds(tmp_path: Path) -> None:
    objs = render(tmp_path, include_crds=True)
    names = {o["metadata"]["name"] for o in by_kind(objs, "CustomResourceDefinition")}
    assert names == {"jupyternotebookinstances.kadense.io", "jupyternotebooktemplates.kadense.io"}


@pytest.mark.parametrize("case", list(CASES))
def test_helm_lint_is_clean(tmp_path: Path, case: str) -> None:
    values, apis = CASES[case]
    if apis:
        # `helm lint` cannot be told about kopf's peering API (no --api-versions): lint with one replica.
        values = {**values, "operator": {**values["operator"], "replicas": 1}}
    args = ["lint", str(CHART), "--strict", "--namespace", NAMESPACE]
    if values:
        args += ["--values", str(values_file(tmp_path, values))]
    out = helm(args, tmp_path / "helm").stdout
    assert "0 chart(s) failed" in out
    assert "[WARNING]" not in out, out
    assert "[ERROR]" not in out, out


# ----------------------------------------------------------------------------------------------- defaults


def _rules(role: Obj) -> list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    return sorted(
        (tuple(r["apiGroups"]), tuple(sorted(r["resources"])), tuple(sorted(r["verbs"])))
        for r in role["rules"]
    )


HUB_RULES = [
    (("",), ("secrets",), ("create", "delete", "patch")),
    (("kadense.io",), ("jupyternotebookinstances",), ("create", "delete", "get", "list", "patch", "watch")),
]


def test_default_hub_role_is_exactly_the_spawners_rights(rendered: dict[str, list[Obj]]) -> None:
    objs = rendered["default"]
    role = one(objs, "Role", f"{FULLNAME}-hub", NAMESPACE)
    assert _rules(role) == HUB_RULES
    binding = one(objs, "RoleBinding", f"{FULLNAME}-hub", NAMESPACE)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": f"{FULLNAME}-hub",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": NAMESPACE}]
    # Nothing else is bound to the hub.
    for b in by_kind(objs, "RoleBinding") + by_kind(objs, "ClusterRoleBinding"):
        if b is not binding:
            assert all(s["name"] != "hub" for s in b["subjects"]), b


def test_default_operator_rbac_is_namespaced_and_least_privilege(rendered: dict[str, list[Obj]]) -> None:
    objs = rendered["default"]
    # Cluster-wide, only what kopf itself observes: CRDs and namespaces (list/watch, no contents).
    (crb,) = by_kind(objs, "ClusterRoleBinding")
    assert crb["roleRef"]["name"] == f"{FULLNAME}-operator-discovery"
    assert _rules(one(objs, "ClusterRole", f"{FULLNAME}-operator-discovery")) == [
        (("",), ("namespaces",), ("list", "watch")),
        (("apiextensions.k8s.io",), ("customresourcedefinitions",), ("list", "watch")),
    ]
    read = one(objs, "ClusterRole", f"{FULLNAME}-operator-read")
    assert _rules(read) == [
        (("",), ("persistentvolumeclaims", "pods"), ("get", "list", "watch")),
        (("kadense.io",), ("jupyternotebookinstances", "jupyternotebooktemplates"), ("get", "list", "watch")),
        (("kadense.io",), ("jupyternotebooktemplates/status",), ("patch",)),
    ]
    provision = one(objs, "ClusterRole", f"{FULLNAME}-operator-provision")
    assert _rules(provision) == [
        (("",), ("persistentvolumeclaims", "pods"), ("create", "delete")),
        (("",), ("secrets",), ("get",)),
        (("", "events.k8s.io"), ("events",), ("create",)),
        (("kadense.io",), ("jupyternotebookinstances", "jupyternotebookinstances/status"), ("patch",)),
        (("kadense.io",), ("jupyternotebookinstances/finalizers",), ("update",)),
    ]
    bindings = {(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in by_kind(objs, "RoleBinding")}
    assert bindings == {
        (NAMESPACE, f"{FULLNAME}-hub"),
        (NAMESPACE, f"{FULLNAME}-operator-read"),
        (NAMESPACE, f"{FULLNAME}-operator-provision"),
    }
    for role in by_kind(objs, "ClusterRole") + by_kind(objs, "Role"):
        for rule in role["rules"]:
            for key in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule[key], role


def test_default_deployment(rendered: dict[str, list[Obj]]) -> None:
    objs = rendered["default"]
    deployment = one(objs, "Deployment", f"{FULLNAME}-operator", NAMESPACE)
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}, "one standalone operator: never two at once"
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == f"{FULLNAME}-operator"
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/jupyternetes/jupyternetes-operator:0.1.0"
    assert container["args"] == [
        f"--namespace={NAMESPACE}",
        f"--template-namespace={NAMESPACE}",
        f"--operator-namespace={NAMESPACE}",
        "--liveness-port=8080",
        "--metrics-port=9090",
        "--workers=32",
        "--webhook-port=9443",
        "--webhook-cert=/etc/jupyternetes/webhook/tls.crt",
        "--webhook-key=/etc/jupyternetes/webhook/tls.key",
        "--standalone",
    ]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]
    # The "restricted" Pod Security Standard.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    service = one(objs, "Service", f"{FULLNAME}-operator-metrics", NAMESPACE)
    assert service["spec"]["ports"][0]["port"] == 9090


def test_default_template_renders_for_the_spawner(rendered: dict[str, list[Obj]]) -> None:
    template = one(rendered["default"], "JupyterNotebookTemplate", "default", NAMESPACE)
    (pod,) = template["spec"]["pods"]
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["JUPYTERHUB_API_TOKEN"] == "{jupyterhub.env.JUPYTERHUB_API_TOKEN}"
    assert env["JUPYTERHUB_SERVICE_URL"] == "http://0.0.0.0:8888{jupyterhub.env.JUPYTERHUB_SERVICE_PREFIX}"
    assert container["ports"] == [{"name": "http", "containerPort": 8888, "protocol": "TCP"}]
    (pvc,) = template["spec"]["pvcs"]
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "{jupyternetes.pvcs.workspace}"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"


# ------------------------------------------------------------------------------------------- non-default


def test_cluster_wide(rendered: dict[str, list[Obj]]) -> None:
    objs = rendered["cluster-wide"]
    args = operator_args(objs)
    assert "--all-namespaces" in args
    assert not flag_values(args, "--namespace")
    assert flag_values(args, "--template-namespace") == ["jupyternetes-templates", NAMESPACE]
    assert "--standalone" not in args, "two replicas use peering"
    assert "--verbose" in args
    assert "--workers=8" in args
    assert "--kubeconfig=/etc/kube/config" in args
    assert flag_values(args, "--other-resource") == [
        "services",
        "configmaps",
        "networkpolicies.networking.k8s.io",
    ], "one flag per group and resource of operator.otherResources"
    assert not flag_values(args, "--metrics-port")
    assert [s["metadata"]["name"] for s in by_kind(objs, "Service")] == [f"{FULLNAME}-operator-webhook"], (
        "metrics disabled"
    )
    deployment = one(objs, "Deployment", f"{FULLNAME}-operator", NAMESPACE)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "ghcr.io/jupyternetes/jupyternetes-operator@sha256:" + "ab" * 32
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["priorityClassName"] == "system-cluster-critical"
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["TZ"]["value"] == "UTC"
    assert env["POD_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    crbs = {b["metadata"]["name"]: b for b in by_kind(objs, "ClusterRoleBinding")}
    assert set(crbs) == {
        f"{FULLNAME}-operator-read",
        f"{FULLNAME}-operator-provision",
        f"{FULLNAME}-operator-peering",
        f"{FULLNAME}-operator-discovery",
        f"{FULLNAME}-hub",
    }
    provision = one(objs, "ClusterRole", f"{FULLNAME}-operator-provision")
    assert (("",), ("configmaps", "services"), ("create", "get")) in _rules(provision)
    assert (("networking.k8s.io",), ("networkpolicies",), ("create", "get")) in _rules(provision)
    # Watched (restored when deleted): listed and watched wherever the operator watches.
    read = one(objs, "ClusterRole", f"{FULLNAME}-operator-read")
    assert (("",), ("configmaps", "services"), ("get", "list", "watch")) in _rules(read)
    assert (("networking.k8s.io",), ("networkpolicies",), ("get", "list", "watch")) in _rules(read)
    hub = one(objs, "ClusterRole", f"{FULLNAME}-hub")
    assert _rules(hub) == HUB_RULES
    assert crbs[f"{FULLNAME}-hub"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "hub", "namespace": "jhub"}
    ]
    assert not by_kind(objs, "Role")
    assert not by_kind(objs, "RoleBinding")
    peering = one(objs, "ClusterKopfPeering", "jupyternetes")
    assert "namespace" not in peering["metadata"]
    template = one(objs, "JupyterNotebookTemplate", "default", "jupyternetes-templates")
    pvc_spec = template["spec"]["pvcs"][0]["spec"]
    assert pvc_spec["storageClassName"] == "fast"
    assert pvc_spec["resources"]["requests"]["storage"] == "10Gi"


def test_multi_namespace(rendered: dict[str, list[Obj]]) -> None:
    objs = rendered["multi-namespace"]
    args = operator_args(objs)
    assert flag_values(args, "--namespace") == ["users-a", "users-b"]
    assert flag_values(args, "--template-namespace") == ["templates"]
    assert "--metrics-port=9100" in args
    assert not by_kind(objs, "ServiceAccount"), "serviceAccount.create is false"
    deployment = one(objs, "Deployment", f"{FULLNAME}-operator", NAMESPACE)
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "preexisting-operator"
    bindings = {(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in by_kind(objs, "RoleBinding")}
    assert bindings == {
        # Templates are only read in their namespace; instances are served (written) in the user namespaces.
        ("templates", f"{FULLNAME}-operator-read"),
        ("users-a", f"{FULLNAME}-operator-read"),
        ("users-a", f"{FULLNAME}-operator-provision"),
        ("users-b", f"{FULLNAME}-operator-read"),
        ("users-b", f"{FULLNAME}-operator-provision"),
        ("users-a", f"{FULLNAME}-hub"),
        ("users-b", f"{FULLNAME}-hub"),
    }
    for b in by_kind(objs, "RoleBinding"):
        if "operator" in b["metadata"]["name"]:
            assert b["subjects"] == [
                {"kind": "ServiceAccount", "name": "preexisting-operator", "namespace": NAMESPACE}
            ]
    template = one(objs, "JupyterNotebookTemplate", "python", "templates")
    assert template["spec"] == MULTI_NAMESPACE["defaultTemplate"]["spec"]
    quotas = {q["metadata"]["namespace"]: q["spec"] for q in by_kind(objs, "ResourceQuota")}
    assert quotas == {
        ns: {"hard": {"count/jupyternotebookinstances.kadense.io": "200"}} for ns in ("users-a", "users-b")
    }


def test_no_instance_quota_unless_asked(rendered: dict[str, list[Obj]]) -> None:
    assert not by_kind(rendered["default"], "ResourceQuota")


@pytest.mark.parametrize(
    ("values", "apis", "message"),
    [
        ({"hub": {"clusterWide": True}}, (), "needs operator.allNamespaces"),
        ({"hub": {"namespaces": ["elsewhere"]}}, (), 'hub.namespaces contains "elsewhere"'),
        ({"operator": {"replicas": 2}}, (), "needs kopf's peering CRDs"),
        ({"operator": {"replicas": -1}}, (), "replicas"),
        ({"defaultTemplate": {"namespace": "nowhere"}}, (), 'defaultTemplate.namespace "nowhere"'),
        (
            {"hub": {"clusterWide": True, "maxInstances": 5}, "operator": {"allNamespaces": True}},
            (),
            "hub.maxInstances needs hub namespaces",
        ),
        ({"hub": {"maxInstances": -1}}, (), "maxInstances"),
        # values.schema.json: typos and wrong types are refused, not silently ignored.
        ({"operator": {"watchNamspaces": ["a"]}}, (), "additional properties 'watchNamspaces' not allowed"),
        ({"hub": {"clusterwide": True}}, (), "additional properties 'clusterwide' not allowed"),
        ({"operator": {"allNamespaces": "yes"}}, (), "allNamespaces"),
        ({"image": {"digest": "latest"}}, (), "digest"),
        # otherResources become --other-resource flags (resource[.group]): no wildcards or subresources.
        ({"operator": {"otherResources": [{"apiGroups": [""], "resources": ["*"]}]}}, (), "otherResources"),
        (
            {"operator": {"otherResources": [{"apiGroups": ["*"], "resources": ["services"]}]}},
            (),
            "otherResources",
        ),
        (
            {"operator": {"otherResources": [{"apiGroups": [""], "resources": ["services/status"]}]}},
            (),
            "otherResources",
        ),
        (
            {"operator": {"otherResources": [{"apiGroups": [""], "resources": ["configmaps", "pods"]}]}},
            (),
            "must not list pods or persistentvolumeclaims",
        ),
    ],
)
def test_inconsistent_values_fail_clearly(
    tmp_path: Path, values: dict[str, Any], apis: tuple[str, ...], message: str
) -> None:
    assert message in render_error(tmp_path, values, api_versions=apis)


def test_peering_objects_per_namespace(tmp_path: Path) -> None:
    values = {"operator": {"replicas": 3, "watchNamespaces": ["a", "b"], "templateNamespaces": ["t"]}}
    objs = render(
        tmp_path,
        {**values, "hub": {"rbac": {"enabled": False}}, "defaultTemplate": {"enabled": False}},
        api_versions=[KOPF_API],
    )
    peerings = {o["metadata"]["namespace"] for o in by_kind(objs, "KopfPeering")}
    assert peerings == {"a", "b", "t"}
    read = one(objs, "ClusterRole", f"{FULLNAME}-operator-read")
    assert (("kopf.dev",), ("kopfpeerings",), ("get", "list", "patch", "watch")) in _rules(read)
    assert not [
        o for o in by_kind(objs, "ClusterRole") if o["metadata"]["name"] == f"{FULLNAME}-operator-peering"
    ], "the cluster-wide peering role only where it is bound (operator.allNamespaces)"
    for minor in MINORS:
        for obj in objs:
            if obj["apiVersion"] != KOPF_API:
                kv.validate(obj, minor, strict=True)


def test_the_admission_webhook(rendered: dict[str, list[Obj]]) -> None:
    """The chart's ValidatingWebhookConfiguration: the operator's two paths behind its Service, the CA of
    the certificate it made in the Secret the operator mounts, failurePolicy Ignore (docs/operator.md)."""
    objs = rendered["default"]
    secret = one(objs, "Secret", f"{FULLNAME}-webhook-tls", NAMESPACE)
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    service = one(objs, "Service", f"{FULLNAME}-operator-webhook", NAMESPACE)
    assert service["spec"]["ports"] == [
        {"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"}
    ]
    (config,) = by_kind(objs, "ValidatingWebhookConfiguration")
    hooks = {h["clientConfig"]["service"]["path"]: h for h in config["webhooks"]}
    assert set(hooks) == {"/validate-instance", "/validate-template"}
    for hook in hooks.values():
        assert hook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
        assert hook["clientConfig"]["service"]["name"] == f"{FULLNAME}-operator-webhook"
        assert (hook["failurePolicy"], hook["sideEffects"], hook["timeoutSeconds"]) == ("Ignore", "None", 10)
        assert hook["namespaceSelector"]["matchExpressions"][0]["values"] == [NAMESPACE]
    assert hooks["/validate-template"]["rules"][0]["operations"] == ["CREATE", "UPDATE", "DELETE"]
    assert hooks["/validate-instance"]["rules"][0]["resources"] == ["jupyternotebookinstances"]
    pod = one(objs, "Deployment", f"{FULLNAME}-operator", NAMESPACE)["spec"]["template"]["spec"]
    assert {"name": "webhook-tls", "secret": {"secretName": f"{FULLNAME}-webhook-tls"}} in pod["volumes"]


def test_the_webhook_configuration_the_demo_and_tests_install_is_the_charts(
    rendered: dict[str, list[Obj]],
) -> None:
    """The demo and the admission tests reach the operator's webhook by URL, with a configuration built in
    Python: apart from how the operator is reached and the hooks' names, it is the chart's."""
    (chart,) = by_kind(rendered["default"], "ValidatingWebhookConfiguration")
    ours = validating_webhook_configuration(
        chart["metadata"]["name"],
        base_url="https://127.0.0.1:8443",
        ca_bundle="",
        instance_namespaces=[NAMESPACE],
        template_namespaces=[NAMESPACE],
    )

    def comparable(config: Obj) -> list[Obj]:
        hooks = []
        for hook in config["webhooks"]:
            hook = {k: v for k, v in hook.items() if k not in {"name", "clientConfig"}}
            hooks.append(hook)
        return sorted(hooks, key=lambda h: str(h["rules"][0]["resources"]))

    assert comparable(ours) == comparable(chart)
    paths = sorted(h["clientConfig"]["service"]["path"] for h in chart["webhooks"])
    assert (
        sorted(h["clientConfig"]["url"].removeprefix("https://127.0.0.1:8443") for h in ours["webhooks"])
        == paths
    )


def test_the_hub_reads_templates_only_when_asked(tmp_path: Path) -> None:
    """hub.rbac.readTemplates (for the spawner's profile_options_from_template): `get` on templates in the
    template namespaces, bound to the hub's ServiceAccount; nothing more, and nothing by default."""
    values = {**MULTI_NAMESPACE, "hub": {**MULTI_NAMESPACE["hub"], "rbac": {"readTemplates": True}}}
    objs = render(tmp_path, values)
    role = one(objs, "Role", f"{FULLNAME}-hub-templates", "templates")
    assert _rules(role) == [(("kadense.io",), ("jupyternotebooktemplates",), ("get",))]
    binding = one(objs, "RoleBinding", f"{FULLNAME}-hub-templates", "templates")
    assert binding["roleRef"]["name"] == f"{FULLNAME}-hub-templates"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": "jhub"}]
    assert [
        r["metadata"]["namespace"]
        for r in by_kind(objs, "Role")
        if r["metadata"]["name"].endswith("-hub-templates")
    ] == ["templates"]
    (tmp_path / "without").mkdir()
    without = render(tmp_path / "without", MULTI_NAMESPACE)
    assert not [r for r in by_kind(without, "Role") if r["metadata"]["name"].endswith("-hub-templates")]
