"""OperatorConfig: which namespaces the operator serves, and where a template's objects are checked."""

from __future__ import annotations

import pytest

from jupyternetes.adapters.reconciler import OperatorConfig


@pytest.mark.parametrize(
    ("config", "template_namespace", "expected"),
    [
        # Templates beside the servers: checked where they are.
        (OperatorConfig(watched_namespaces=frozenset({"jhub"})), "jhub", "jhub"),
        # A namespace holding only templates: the first served namespace that may use them.
        (
            OperatorConfig(
                watched_namespaces=frozenset({"users-b", "users-a"}),
                template_namespaces=frozenset({"templates"}),
            ),
            "templates",
            "users-a",
        ),
        # Without --template-namespace, instances may use the operator's namespace and their own.
        (
            OperatorConfig(operator_namespace="jupyternetes", watched_namespaces=frozenset({"jhub"})),
            "jupyternetes",
            "jhub",
        ),
        # No served namespace may use it: its own (a dry-run there checks what the operator may check).
        (
            OperatorConfig(
                watched_namespaces=frozenset({"jhub"}), template_namespaces=frozenset({"kadense"})
            ),
            "elsewhere",
            "elsewhere",
        ),
        # Every namespace served.
        (OperatorConfig(watched_namespaces=None), "templates", "templates"),
    ],
)
def test_a_templates_objects_are_checked_where_its_instances_are_served(
    config: OperatorConfig, template_namespace: str, expected: str
) -> None:
    assert config.instance_namespace_for(template_namespace) == expected
