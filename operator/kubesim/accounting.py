"""Request accounting: counts per verb, resource and user, so benchmarks can say what each request was for."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def add(self, verb: str, resource: str, user: str) -> None:
        with self._lock:
            self._counts[(verb, resource, user)] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def total(self, *, user: str | None = None, exclude_verbs: tuple[str, ...] = ()) -> int:
        with self._lock:
            return sum(
                n
                for (v, _, u), n in self._counts.items()
                if (user is None or u == user) and v not in exclude_verbs
            )

    def by(self, *fields: str, user: str | None = None) -> dict[str, int]:
        """Counts grouped by some of ("verb", "resource", "user"), keys joined with a space."""
        idx = {"verb": 0, "resource": 1, "user": 2}
        out: Counter[str] = Counter()
        with self._lock:
            for key, n in self._counts.items():
                if user is not None and key[2] != user:
                    continue
                out[" ".join(key[idx[f]] for f in fields)] += n
        return dict(out)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"verb": v, "resource": r, "user": u, "count": n}
                for (v, r, u), n in sorted(self._counts.items())
            ]
