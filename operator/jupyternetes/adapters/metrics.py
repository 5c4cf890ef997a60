"""Prometheus metrics of the operator."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.instances = Gauge(
            "jupyternetes_instances", "Instances by state", ["state"], registry=self.registry
        )
        self.provisioning_seconds = Histogram(
            "jupyternetes_provisioning_seconds",
            "Time from instance creation to Ready",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.errors = Counter(
            "jupyternetes_errors_total", "Failures by reason", ["reason"], registry=self.registry
        )
        self.reconciles = Counter("jupyternetes_reconciles_total", "Reconciles run", registry=self.registry)
        self.api_writes = Counter(
            "jupyternetes_api_writes_total",
            "Writes to the API by verb and kind",
            ["verb", "kind"],
            registry=self.registry,
        )
