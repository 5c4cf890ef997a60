"""Pod IP allocation.

In ``process`` mode each pod gets its own loopback address (127.244.x.y by default): on Linux the whole
127.0.0.0/8 block is routed to ``lo``, so a process can bind 127.244.0.5:8888 without root while another
pod binds 127.244.0.6:8888. In ``fake`` mode nothing listens, and the addresses look like a kind cluster's
(10.244.0.0/16).
"""

from __future__ import annotations

import ipaddress
import threading


class IPAllocator:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        if self.network.version != 4:
            raise ValueError(f"pod_cidr must be an IPv4 network, got {cidr}")
        self._size = self.network.num_addresses
        if self._size < 8:
            raise ValueError(f"pod_cidr {cidr} is too small")
        self._next = 2  # .0 is the network, .1 the gateway by convention
        self._used: dict[str, str] = {}  # ip -> owner (pod uid)
        self._lock = threading.Lock()

    def allocate(self, owner: str) -> str:
        """A free address, cycling through the range so a released address is not reused at once."""
        with self._lock:
            for ip, who in self._used.items():
                if who == owner:
                    return ip
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
