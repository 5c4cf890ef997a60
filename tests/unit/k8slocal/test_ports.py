"""Listening ports for the control plane's components are chosen outside the ephemeral range."""

from __future__ import annotations

import socket

import pytest

from k8slocal import components
from k8slocal.components import _LISTEN_RANGE_FLOOR, _ephemeral_floor, free_port


def test_ports_are_below_the_ephemeral_range_and_free() -> None:
    """An outgoing connection never takes such a port as its local one between choice and bind."""
    floor = _ephemeral_floor()
    ports = {free_port() for _ in range(50)}
    assert all(_LISTEN_RANGE_FLOOR <= p < floor for p in ports), sorted(ports)
    assert len(ports) > 40  # chosen at random, not one after the other
    for port in list(ports)[:5]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_not_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first candidate is a port something listens on: the next one is taken instead."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        busy = held.getsockname()[1]
        other = free_port()
        candidates = iter([busy, other])

        class Scripted:
            def randrange(self, start: int, stop: int) -> int:
                return next(candidates)

        monkeypatch.setattr(components.random, "SystemRandom", Scripted)
        assert free_port() == other
