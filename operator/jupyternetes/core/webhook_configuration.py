"""The ValidatingWebhookConfiguration that routes the operator's admission webhook, for clients that reach it
by URL (the demo and the tests: no Service). Pure. The chart writes the same configuration with a Service
reference (charts/jupyternetes/templates/webhook.yaml): keep the two alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

__all__ = ["INSTANCE_PATH", "TEMPLATE_PATH", "validating_webhook_configuration"]

# The paths kopf's WebhookServer gives the handlers: their ids.
INSTANCE_PATH: Final = "validate-instance"
TEMPLATE_PATH: Final = "validate-template"


def validating_webhook_configuration(
    name: str,
    *,
    base_url: str,
    ca_bundle: str,
    instance_namespaces: Iterable[str],
    template_namespaces: Iterable[str],
    hook_domain: str = "jupyternetes.kadense.io",
    failure_policy: str = "Ignore",
) -> dict[str, Any]:
    """Instances are checked at CREATE and UPDATE in `instance_namespaces`, templates also at DELETE (a
    template in use) in `template_namespaces`. `ca_bundle` is the base64 PEM of the serving CA."""

    def hook(
        kind: str, path: str, plural: str, operations: list[str], namespaces: Iterable[str]
    ) -> dict[str, Any]:
        return {
            "name": f"{kind}.{hook_domain}",
            "clientConfig": {"url": f"{base_url.rstrip('/')}/{path}", "caBundle": ca_bundle},
            "rules": [
                {
                    "apiGroups": ["kadense.io"],
                    "apiVersions": ["v1"],
                    "resources": [plural],
                    "operations": operations,
                    "scope": "Namespaced",
                }
            ],
            "namespaceSelector": {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "In",
                        "values": sorted(set(namespaces)),
                    }
                ]
            },
            "failurePolicy": failure_policy,
            "sideEffects": "None",
            # The dry-runs of an instance's objects take a few API requests.
            "timeoutSeconds": 10,
            "admissionReviewVersions": ["v1"],
        }

    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            hook(
                "instances",
                INSTANCE_PATH,
                "jupyternotebookinstances",
                ["CREATE", "UPDATE"],
                instance_namespaces,
            ),
            hook(
                "templates",
                TEMPLATE_PATH,
                "jupyternotebooktemplates",
                ["CREATE", "UPDATE", "DELETE"],
                template_namespaces,
            ),
        ],
    }
