"""Pod IP allocation.

In ``process`` mode each pod gets its own loopback address (127.X.y.z, X picked per cluster, see
:class:`LoopbackRange`): on Linux the whole 127.0.0.0/8 block is routed to ``lo``, so a process can bind
127.X.0.5:8888 without root while another pod binds 127.X.0.6:8888. In ``fake`` mode nothing listens,
and the addresses look like a kind cluster's (10.244.0.0/16).
"""

from __future__ import annotations

import ipaddress
import os
import threading


class IPAllocator:
    def __init__(self, cidr: str) -> None:
        network = ipaddress.ip_network(cidr, strict=False)
        if not isinstance(network, ipaddress.IPv4Network):
            raise ValueError(f"pod_cidr must be an IPv4 network, got {cidr}")
        self.network: ipaddress.IPv4Network = network
        self._size = self.network.num_addresses
        if self._size < 8:
            raise ValueError(f"pod_cidr {cidr} is too small")
        self._next = 2  # .0 is the network, .1 the gateway by convention
        self._used: dict[str, str] = {}  # ip -> owner (pod uid)
        self._lock = threading.Lock()

    def allocate(self, owner: str, prefer: str | None = None) -> str:
        """A free address, cycling through the range so a released address is not reused at once;
        ``prefer`` (the address a pod had before the kubelet restarted) when it is in range and free."""
        with self._lock:
            for ip, who in self._used.items():
                if who == owner:
                    return ip
            if prefer and prefer not in self._used:
                try:
                    if ipaddress.ip_address(prefer) in self.network:
                        self._used[prefer] = owner
                        return prefer
                except ValueError:
                    pass
            for _ in range(self._size):
                offset = self._next
                self._next += 1
                if self._next >= self._size - 1:
                    self._next = 2
                if offset % 256 in (0, 255):
                    continue
                ip = str(self.network.network_address + offset)
                if ip not in self._used:
                    self._used[ip] = owner
                    return ip
            raise RuntimeError(f"pod CIDR {self.network} is exhausted")

    def release(self, ip: str | None) -> None:
        if ip:
            with self._lock:
                self._used.pop(ip, None)

    def in_use(self) -> int:
        return len(self._used)


class LoopbackRange:
    """A /16 of 127.0.0.0/8 that no other kubesim on this host uses (``127.X.0.0/16``).

    Each range is claimed with an ``flock`` on ``<tmp>/kubesim-netlocks/127.X.lock``, held for the life of
    the cluster and released by the kernel when the process exits, so two clusters (parallel test runs, a
    demo next to a test suite) never give two pods the same address.
    """

    FIRST, LAST = 100, 254

    def __init__(self, prefer: str = "") -> None:
        """``prefer``: a range to claim first if it is free (the one a restarted kubelet had before)."""
        import fcntl
        import random
        import tempfile
        from pathlib import Path

        lock_dir = Path(tempfile.gettempdir()) / "kubesim-netlocks"
        lock_dir.mkdir(mode=0o1777, exist_ok=True)
        span = self.LAST - self.FIRST + 1
        start = random.randrange(span)
        self.fd: int | None = None
        self.cidr = ""
        order = [self.FIRST + (start + i) % span for i in range(span)]
        parts = prefer.split(".")
        if len(parts) == 4 and parts[0] == "127" and parts[1].isdigit() and int(parts[1]) in order:
            order.remove(int(parts[1]))
            order.insert(0, int(parts[1]))
        for second in order:
            path = lock_dir / f"127.{second}.lock"
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.fd = fd
            self.cidr = f"127.{second}.0.0/16"
            return
        raise RuntimeError("every loopback range 127.100-254.0.0/16 is in use by another kubesim")

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
