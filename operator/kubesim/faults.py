"""Fault injection: latency, error responses, cut watch streams and forced 410 Expired.

Tests and benchmarks use it to show that clients (the operator, the spawner) survive what a real API
server does under load or during upgrades. Rules are matched by verb and resource (plural, optionally
``plural.group``); ``None`` matches everything.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from kubesim import errors
from kubesim.errors import ApiError


def _matches(rule_values: frozenset[str] | None, value: str) -> bool:
    """A rule's verbs/resources match ``value``; a resource matches as ``plural.group`` or ``plural``."""
    return rule_values is None or value in rule_values or value.split(".", 1)[0] in rule_values


def _set(value: str | list[str] | tuple[str, ...] | None) -> frozenset[str] | None:
    if value is None or value == "*":
        return None
    if isinstance(value, str):
        return frozenset(v.strip() for v in value.split(",") if v.strip())
    return frozenset(value)


@dataclass
class ErrorRule:
    code: int
    verbs: frozenset[str] | None = None
    resources: frozenset[str] | None = None
    probability: float = 1.0
    remaining: int | None = None  # None: unlimited
    hits: int = 0


@dataclass
class LatencyRule:
    seconds: float
    verbs: frozenset[str] | None = None
    resources: frozenset[str] | None = None


@dataclass
class WatchCutRule:
    after_events: int | None = None
    after_seconds: float | None = None
    resources: frozenset[str] | None = None


@dataclass
class Faults:
    errors_: list[ErrorRule] = field(default_factory=list)
    latencies: list[LatencyRule] = field(default_factory=list)
    watch_cuts: list[WatchCutRule] = field(default_factory=list)
    # resource -> number of watches (with a resourceVersion) still to answer with 410 Expired
    expirations: dict[str, int] = field(default_factory=dict)
    seed: int | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)

    # ------------------------------------------------------------ configuration

    def add_error(
        self,
        code: int,
        verb: str | list[str] | None = None,
        resource: str | list[str] | None = None,
        probability: float = 1.0,
        count: int | None = None,
    ) -> ErrorRule:
        rule = ErrorRule(code, _set(verb), _set(resource), probability, count)
        with self._lock:
            self.errors_.append(rule)
        return rule

    def add_latency(
        self, seconds: float, verb: str | list[str] | None = None, resource: str | list[str] | None = None
    ) -> LatencyRule:
        rule = LatencyRule(seconds, _set(verb), _set(resource))
        with self._lock:
            self.latencies.append(rule)
        return rule

    def cut_watches(
        self,
        after_events: int | None = None,
        after_seconds: float | None = None,
        resource: str | list[str] | None = None,
    ) -> WatchCutRule:
        rule = WatchCutRule(after_events, after_seconds, _set(resource))
        with self._lock:
            self.watch_cuts.append(rule)
        return rule

    def expire_watches(self, resource: str = "*", count: int = 1) -> None:
        """The next ``count`` watches of ``resource`` that resume from a resourceVersion get 410 Expired."""
        with self._lock:
            self.expirations[resource] = self.expirations.get(resource, 0) + count

    def clear(self) -> None:
        with self._lock:
            self.errors_.clear()
            self.latencies.clear()
            self.watch_cuts.clear()
            self.expirations.clear()

    def configure(self, spec: dict[str, Any]) -> None:
        """Configure from a JSON document (the ``/kubesim/faults`` endpoint and the CLI use this)."""
        if spec.get("clear"):
            self.clear()
        for e in spec.get("errors", ()):
            self.add_error(
                int(e["code"]),
                e.get("verb"),
                e.get("resource"),
                float(e.get("probability", 1.0)),
                e.get("count"),
            )
        for lat in spec.get("latency", ()):
            self.add_latency(float(lat["seconds"]), lat.get("verb"), lat.get("resource"))
        for cut in spec.get("watchCuts", ()):
            self.cut_watches(cut.get("afterEvents"), cut.get("afterSeconds"), cut.get("resource"))
        for exp in spec.get("expire", ()):
            self.expire_watches(exp.get("resource", "*"), int(exp.get("count", 1)))

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "errors": [
                    {
                        "code": r.code,
                        "verb": _describe(r.verbs),
                        "resource": _describe(r.resources),
                        "probability": r.probability,
                        "remaining": r.remaining,
                        "hits": r.hits,
                    }
                    for r in self.errors_
                ],
                "latency": [
                    {"seconds": r.seconds, "verb": _describe(r.verbs), "resource": _describe(r.resources)}
                    for r in self.latencies
                ],
                "watchCuts": [
                    {
                        "afterEvents": r.after_events,
                        "afterSeconds": r.after_seconds,
                        "resource": _describe(r.resources),
                    }
                    for r in self.watch_cuts
                ],
                "expire": dict(self.expirations),
            }

    # ------------------------------------------------------------ evaluation

    @property
    def active(self) -> bool:
        return bool(self.errors_ or self.latencies or self.watch_cuts or self.expirations)

    def error_for(self, verb: str, resource: str) -> ApiError | None:
        with self._lock:
            for rule in self.errors_:
                if rule.remaining == 0:
                    continue
                if not (_matches(rule.verbs, verb) and _matches(rule.resources, resource)):
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.hits += 1
                return _error(rule.code, resource)
        return None

    def latency_for(self, verb: str, resource: str) -> float:
        total = 0.0
        for rule in self.latencies:
            if _matches(rule.verbs, verb) and _matches(rule.resources, resource):
                total += rule.seconds
        return total

    def watch_cut_for(self, resource: str) -> WatchCutRule | None:
        for rule in self.watch_cuts:
            if _matches(rule.resources, resource):
                return rule
        return None

    def take_expiration(self, resource: str) -> bool:
        with self._lock:
            for key in (resource, resource.split(".")[0], "*"):
                if self.expirations.get(key, 0) > 0:
                    self.expirations[key] -= 1
                    return True
        return False


def _describe(values: frozenset[str] | None) -> str | list[str]:
    return sorted(values) if values else "*"


def _error(code: int, resource: str) -> ApiError:
    if code == 429:
        return errors.too_many_requests()
    if code == 409:
        return errors.conflict(resource, "injected", why="injected conflict (kubesim fault injection)")
    if code == 503:
        return ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
    if code == 504:
        return ApiError(504, "Timeout", "the server was unable to return a response in the time allotted")
    if code == 500:
        return errors.internal_error("injected fault (kubesim fault injection)")
    return ApiError(code, "InternalError", f"injected fault {code} (kubesim fault injection)")
