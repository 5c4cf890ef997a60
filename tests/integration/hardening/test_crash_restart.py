"""Crash-restart: instances created at once, the operator process SIGKILLed at three random moments and
restarted; nothing lost, nothing duplicated, nothing left behind (issue 7, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.hardening.harness import Env, size
from tests.integration.hardening.scenarios import crash_restart


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_three_times_while_provisioning(henv: Env, tmp_path: Path, seed: int) -> None:
    n = size(40, 300)
    r = crash_restart(henv, tmp_path, instances=n, kills=3, seed=seed)
    print(r.figures())
    context = f"seed {seed}; kills after {r.kill_after_s} s with {r.ready_at_kill} Ready"
    assert r.child_problems == [], context
    assert r.failures_seen == [], f"a spawner would have failed these spawns ({context})"
    assert r.status_problems == [], context
    assert r.leftovers == [], context
    assert r.retained_pvcs == n, context
